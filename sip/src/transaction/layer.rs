//! The transaction layer: matching, dispatch to the state machines, and the
//! shared timer queue and output queues.

use std::collections::VecDeque;
use std::time::Instant;

use super::client::{InviteClient, NonInviteClient};
use super::key::{ClientKey, ServerKey, ToTag, to_tag};
use super::server::{InviteServer, NonInviteServer, response_peer};
use super::timer::{TimerQueue, TimerTable};
use super::{Flow, Io, Timer, TimerConfig, Transmit, TxError, TxEvent, TxId, TxKind};
use crate::Peer;
use crate::hashing::{HashIndex, IdMap, key_hash};
use crate::message::{Message, Method};

/// Stale timer-queue entries tolerated per live timer before compaction.
const STALE_FACTOR: usize = 4;
/// Queue length below which compaction is not worth it.
const COMPACT_MIN: usize = 1024;

/// One transaction's state machine.
#[derive(Debug)]
enum Machine {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Machine {
    fn kind(&self) -> TxKind {
        match self {
            Machine::InviteClient(_) => TxKind::InviteClient,
            Machine::NonInviteClient(_) => TxKind::NonInviteClient,
            Machine::InviteServer(_) => TxKind::InviteServer,
            Machine::NonInviteServer(_) => TxKind::NonInviteServer,
        }
    }

    fn is_settled(&self) -> bool {
        match self {
            Machine::InviteClient(m) => m.is_settled(),
            Machine::NonInviteClient(m) => m.is_settled(),
            Machine::InviteServer(m) => m.is_settled(),
            Machine::NonInviteServer(m) => m.is_settled(),
        }
    }

    fn on_timer(&mut self, io: &mut Io<'_>, timer: Timer) -> Flow {
        match self {
            Machine::InviteClient(m) => m.on_timer(io, timer),
            Machine::NonInviteClient(m) => m.on_timer(io, timer),
            Machine::InviteServer(m) => m.on_timer(io, timer),
            Machine::NonInviteServer(m) => m.on_timer(timer),
        }
    }

    fn on_transport_error(&mut self, io: &mut Io<'_>) -> Flow {
        match self {
            Machine::InviteClient(m) => m.on_transport_error(io),
            Machine::NonInviteClient(m) => m.on_transport_error(io),
            Machine::InviteServer(m) => m.on_transport_error(io),
            Machine::NonInviteServer(m) => m.on_transport_error(io),
        }
    }
}

/// The key a transaction is filed under, to unfile it when it ends.
#[derive(Debug)]
enum Key {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug)]
struct Entry {
    machine: Machine,
    timers: TimerTable,
    key: Key,
    /// `key_hash` of the key.
    hash: u64,
    /// Someone waits for the outcome (see `set_awaited`).
    awaited: bool,
    /// Counted in `TransactionLayer::owing`: awaited and not settled.
    owes: bool,
}

/// RFC 3261 §17 client and server transactions, sans-IO.
///
/// Feed it with [`handle_message`](Self::handle_message),
/// [`send_request`](Self::send_request), [`respond`](Self::respond),
/// [`transport_error`](Self::transport_error) and
/// [`handle_timeout`](Self::handle_timeout); after each, drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event)
/// and re-read [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    /// Boxed: a transaction's state is a few hundred bytes, and with 100k+
    /// transactions alive a table doubling that moves them all stalled the
    /// signalling thread for ~100 ms; moving pointers is cheap. Each key
    /// lives once, in its entry; the indexes hold its hash, for the same
    /// reason (`crate::hashing`).
    txs: IdMap<TxId, Box<Entry>>,
    clients: HashIndex<TxId>,
    servers: HashIndex<TxId>,
    queue: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
    counts: [usize; TxKind::ALL.len()],
    /// Transactions with `owes` set, kept as they change so that a draining
    /// node can ask every loop turn at O(1).
    owing: usize,
    /// Retransmissions sent (timers A, E, G, and responses repeated for a
    /// repeated request) and requests received again, since the start.
    retransmissions: Retransmissions,
}

/// Retransmission totals of a layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retransmissions {
    /// Messages sent again.
    pub sent: u64,
    /// Requests received again (absorbed by their transaction).
    pub received: u64,
}

impl TransactionLayer {
    /// An empty layer using `timers` for the transactions it creates.
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            config: timers.sanitized(),
            txs: IdMap::default(),
            clients: HashIndex::default(),
            servers: HashIndex::default(),
            queue: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counts: [0; TxKind::ALL.len()],
            owing: 0,
            retransmissions: Retransmissions::default(),
        }
    }

    /// Config reload: applies to transactions created from now on.
    pub fn set_timers(&mut self, timers: TimerConfig) {
        self.config = timers.sanitized();
    }

    /// The timer values new transactions get.
    pub fn timers(&self) -> TimerConfig {
        self.config
    }

    /// A received request or response (already parsed and validated by the caller).
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) {
        if msg.is_request() {
            self.handle_request(now, msg, from);
        } else {
            self.handle_response(now, msg, from);
        }
        self.prune();
    }

    fn handle_response(&mut self, now: Instant, response: Message, from: Peer) {
        let id = match ClientKey::for_response(&response) {
            Ok(Some(key)) => self.client(&key),
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%from, %error, "response without a usable Via or CSeq");
                None
            }
        };
        let Some(id) = id else {
            self.events
                .push_back(TxEvent::StrayResponse { response, from });
            return;
        };
        let flow = self.with_machine(now, id, |machine, io| match machine {
            Machine::InviteClient(m) => m.on_response(io, response),
            Machine::NonInviteClient(m) => m.on_response(io, response),
            // Client keys only ever map to client transactions.
            Machine::InviteServer(_) | Machine::NonInviteServer(_) => Flow::Continue,
        });
        self.apply(id, flow);
    }

    fn handle_request(&mut self, now: Instant, request: Message, from: Peer) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        if method == Method::Ack {
            self.handle_ack(now, request, from);
            return;
        }
        let key = match ServerKey::for_request(&request, &method, ToTag::FromRequest) {
            Ok(key) => key,
            Err(error) => {
                tracing::debug!(%from, %error, "request without usable matching headers dropped");
                return;
            }
        };
        if let Some(id) = self.server(&key) {
            // A retransmission.
            self.retransmissions.received += 1;
            let queued = self.transmits.len();
            let flow = self.with_machine(now, id, |machine, io| match machine {
                Machine::InviteServer(m) => m.on_request(io, request, from),
                Machine::NonInviteServer(m) => m.on_request(io),
                Machine::InviteClient(_) | Machine::NonInviteClient(_) => Flow::Continue,
            });
            self.retransmissions.sent += (self.transmits.len() - queued) as u64;
            self.apply(id, flow);
            return;
        }
        let to = match request.top_via() {
            Ok(via) => response_peer(from, &via),
            Err(_) => from,
        };
        let id = TxId::next();
        let config = self.config;
        let mut timers = TimerTable::default();
        let mut io = Io {
            id,
            now,
            timers: &mut timers,
            queue: &mut self.queue,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        let machine = if method == Method::Invite {
            Machine::InviteServer(InviteServer::start(&mut io, &request, from, to, config))
        } else {
            Machine::NonInviteServer(NonInviteServer::start(to, config))
        };
        if method == Method::Cancel {
            // §9.2: the transaction the CANCEL's fields would match were it an INVITE.
            let invite = ServerKey::for_request(&request, &Method::Invite, ToTag::FromRequest)
                .ok()
                .and_then(|k| self.server(&k))
                .filter(|target| {
                    self.txs
                        .get(target)
                        .is_some_and(|e| matches!(e.machine, Machine::InviteServer(_)))
                });
            self.events.push_back(TxEvent::Cancel {
                tx: id,
                invite,
                request,
                from,
            });
        } else {
            self.events.push_back(TxEvent::Request {
                tx: id,
                request,
                from,
            });
        }
        self.insert(id, machine, timers, Key::Server(key));
    }

    /// ACK: for the INVITE server transaction in Completed (non-2xx) or, in
    /// Accepted or unmatched, for the TU (2xx).
    fn handle_ack(&mut self, now: Instant, ack: Message, from: Peer) {
        let Some(id) = self.match_ack(&ack) else {
            self.events.push_back(TxEvent::Ack { request: ack, from });
            return;
        };
        let flow = self.with_machine(now, id, |machine, io| match machine {
            Machine::InviteServer(m) => m.on_request(io, ack, from),
            _ => Flow::Continue,
        });
        self.apply(id, flow);
    }

    fn match_ack(&self, ack: &Message) -> Option<TxId> {
        let key = ServerKey::for_request(ack, &Method::Invite, ToTag::FromRequest).ok()?;
        let rfc2543 = key.is_rfc2543();
        if let Some(id) = self.server(&key) {
            return Some(id);
        }
        if !rfc2543 {
            return None;
        }
        // An RFC 2543 ACK to an initial INVITE carries the To tag of our
        // final response, which the INVITE (and so the key) did not have.
        let key = ServerKey::for_request(ack, &Method::Invite, ToTag::Omit).ok()?;
        let id = self.server(&key)?;
        let tag = to_tag(ack);
        match &self.txs.get(&id)?.machine {
            Machine::InviteServer(m) if m.acks_final_tag(tag.as_deref()) => Some(id),
            _ => None,
        }
    }

    /// Start a client transaction for `request` (INVITE or non-INVITE; not
    /// ACK) towards `to`. The request's top Via must carry the branch.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        to: Peer,
    ) -> Result<TxId, TxError> {
        self.send_request_as(now, TxId::next(), request, to)
    }

    /// `send_request` with an id the caller took from [`TxId::next`] before:
    /// a transaction user on another task can then know its transaction's id
    /// without waiting for the layer.
    pub fn send_request_as(
        &mut self,
        now: Instant,
        id: TxId,
        request: Message,
        to: Peer,
    ) -> Result<TxId, TxError> {
        if self.txs.contains_key(&id) {
            return Err(TxError::IdInUse(id));
        }
        let method = request.method().cloned().ok_or(TxError::NotARequest)?;
        if method == Method::Ack {
            return Err(TxError::AckNotATransaction);
        }
        let key = ClientKey::for_request(&request, &method)?.ok_or(TxError::MissingBranch)?;
        if let Some(existing) = self.client(&key) {
            return Err(TxError::BranchInUse(existing));
        }
        let config = self.config;
        let mut timers = TimerTable::default();
        let mut io = Io {
            id,
            now,
            timers: &mut timers,
            queue: &mut self.queue,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        let cancel_target = (method == Method::Cancel)
            .then(|| {
                ClientKey::for_request(&request, &Method::Invite)
                    .ok()
                    .flatten()
            })
            .flatten();
        let machine = if method == Method::Invite {
            Machine::InviteClient(InviteClient::start(&mut io, request, to, config))
        } else {
            Machine::NonInviteClient(NonInviteClient::start(&mut io, &request, to, config))
        };
        self.insert(id, machine, timers, Key::Client(key));
        if let Some(invite) = cancel_target.and_then(|k| self.client(&k)) {
            let flow = self.with_machine(now, invite, |machine, io| {
                if let Machine::InviteClient(m) = machine {
                    m.on_cancel_sent(io);
                }
                Flow::Continue
            });
            self.apply(invite, flow);
        }
        self.prune();
        Ok(id)
    }

    /// Send a response in server transaction `tx` (1xx..6xx). For INVITE,
    /// a 2xx moves to Accepted (RFC 6026), where further 2xx are sent too.
    pub fn respond(&mut self, now: Instant, tx: TxId, response: Message) -> Result<(), TxError> {
        if response.is_request() {
            return Err(TxError::NotAResponse);
        }
        let entry = self
            .txs
            .get_mut(&tx)
            .ok_or(TxError::UnknownTransaction(tx))?;
        let mut io = Io {
            id: tx,
            now,
            timers: &mut entry.timers,
            queue: &mut self.queue,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        let flow = match &mut entry.machine {
            Machine::InviteServer(m) => m.respond(&mut io, response)?,
            Machine::NonInviteServer(m) => m.respond(&mut io, response)?,
            Machine::InviteClient(_) | Machine::NonInviteClient(_) => {
                return Err(TxError::NotAServerTransaction(tx));
            }
        };
        self.apply(tx, flow);
        self.prune();
        Ok(())
    }

    /// The transport could not deliver to `tx`'s peer (§17.1.1.2, §17.2.4).
    /// Client transactions terminate; server transactions stay (RFC 6026 §8.8).
    /// Unknown ids are ignored.
    pub fn transport_error(&mut self, now: Instant, tx: TxId) {
        let flow = self.with_machine(now, tx, |machine, io| machine.on_transport_error(io));
        self.apply(tx, flow);
        self.prune();
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, id, timer)) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            let Some(entry) = self.txs.get_mut(&id) else {
                continue;
            };
            if entry.timers.get(timer) != Some(at) {
                continue; // stopped or re-armed since
            }
            entry.timers.stop(timer);
            let mut io = Io {
                id,
                now,
                timers: &mut entry.timers,
                queue: &mut self.queue,
                transmits: &mut self.transmits,
                events: &mut self.events,
            };
            let queued = io.transmits.len();
            let flow = entry.machine.on_timer(&mut io, timer);
            // A timer's transmit is always a message sent before (A, E, G).
            self.retransmissions.sent += (self.transmits.len() - queued) as u64;
            self.apply(id, flow);
        }
        self.prune();
    }

    /// Retransmissions since the layer started.
    pub fn retransmissions(&self) -> Retransmissions {
        self.retransmissions
    }

    /// The earliest armed deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|(at, _, _)| at)
    }

    /// Next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Live transactions whose outcome is not settled yet (waiting for a
    /// final response, or for the ACK of a non-2xx) and that someone waits
    /// for (see [`set_awaited`](Self::set_awaited)). A node that drains waits
    /// for these only; the rest merely absorb retransmissions. O(1): kept
    /// up to date as transactions change state.
    pub fn unsettled(&self) -> usize {
        self.owing
    }

    /// Whether anyone waits for transaction `tx`'s outcome (true when it
    /// starts). A transaction user sets false for a transaction it gave up
    /// on (a call that ended with its attempt still ringing, say): the
    /// transaction runs on to its timers but no longer counts in
    /// [`unsettled`](Self::unsettled). Unknown ids are ignored.
    pub fn set_awaited(&mut self, tx: TxId, awaited: bool) {
        if let Some(entry) = self.txs.get_mut(&tx) {
            entry.awaited = awaited;
        }
        self.recount(tx);
    }

    /// The unsettled transactions `keep` selects, by a scan: O(n). For tests
    /// and diagnostics, as a cross-check of [`unsettled`](Self::unsettled)
    /// (which equals the scan keeping the awaited ones).
    pub fn unsettled_where(&self, keep: impl Fn(TxId, TxKind) -> bool) -> usize {
        self.txs
            .iter()
            .filter(|(id, e)| !e.machine.is_settled() && keep(**id, e.machine.kind()))
            .count()
    }

    /// Where a live INVITE client transaction sent its INVITE (where ACK and
    /// BYE for a 2xx nobody waits for any more go).
    pub fn invite_peer(&self, tx: TxId) -> Option<Peer> {
        match &self.txs.get(&tx)?.machine {
            Machine::InviteClient(m) => Some(m.peer()),
            _ => None,
        }
    }

    /// CANCELs INVITE client transaction `tx` when it rang (Proceeding) and
    /// was not cancelled yet (§9.1): for a transaction user that is gone,
    /// whose INVITE would otherwise wait for a final response for ever
    /// (no timer runs in Proceeding). Returns the CANCEL's transaction.
    pub fn cancel_invite(&mut self, now: Instant, tx: TxId) -> Option<TxId> {
        let entry = self.txs.get(&tx)?;
        let Machine::InviteClient(m) = &entry.machine else {
            return None;
        };
        if entry.timers.get(Timer::Cancelled).is_some() {
            return None;
        }
        let to = m.peer();
        let bytes = crate::message::cancel_for(m.proceeding_request()?).ok()?;
        let cancel = Message::parse(bytes, &crate::message::Limits::default()).ok()?;
        self.send_request_as(now, TxId::next(), cancel, to).ok()
    }

    /// The kind of a live transaction.
    pub fn kind(&self, tx: TxId) -> Option<TxKind> {
        self.txs.get(&tx).map(|e| e.machine.kind())
    }

    /// Live transactions of `kind` (a gauge for /metrics).
    pub fn count(&self, kind: TxKind) -> usize {
        self.counts[kind.index()]
    }

    /// Runs `f` on transaction `id`'s machine with an output context;
    /// `Continue` if there is no such transaction.
    fn with_machine(
        &mut self,
        now: Instant,
        id: TxId,
        f: impl FnOnce(&mut Machine, &mut Io<'_>) -> Flow,
    ) -> Flow {
        let Some(entry) = self.txs.get_mut(&id) else {
            return Flow::Continue;
        };
        let mut io = Io {
            id,
            now,
            timers: &mut entry.timers,
            queue: &mut self.queue,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        f(&mut entry.machine, &mut io)
    }

    fn insert(&mut self, id: TxId, machine: Machine, timers: TimerTable, key: Key) {
        // Stored keys get their own bytes: slices of the request would keep
        // the whole datagram alive for as long as the transaction lingers.
        let key = match key {
            Key::Client(k) => Key::Client(k.owned()),
            Key::Server(k) => Key::Server(k.owned()),
        };
        let hash = match &key {
            Key::Client(k) => {
                let hash = key_hash(k);
                self.clients.insert(hash, id);
                hash
            }
            Key::Server(k) => {
                let hash = key_hash(k);
                self.servers.insert(hash, id);
                hash
            }
        };
        self.counts[machine.kind().index()] += 1;
        self.txs.insert(
            id,
            Box::new(Entry {
                machine,
                timers,
                key,
                hash,
                awaited: true,
                owes: false,
            }),
        );
        self.recount(id);
    }

    /// After a transaction's machine ran: ends it, or re-reads whether it
    /// owes an outcome. Every state change passes here (or `insert`).
    fn apply(&mut self, id: TxId, flow: Flow) {
        if flow == Flow::Terminate {
            self.terminate(id);
        } else {
            self.recount(id);
        }
    }

    /// Keeps `owing` exact for transaction `id`: O(1).
    fn recount(&mut self, id: TxId) {
        let Some(entry) = self.txs.get_mut(&id) else {
            return;
        };
        let owes = entry.awaited && !entry.machine.is_settled();
        if owes != entry.owes {
            entry.owes = owes;
            if owes {
                self.owing += 1;
            } else {
                self.owing = self.owing.saturating_sub(1);
            }
        }
    }

    fn terminate(&mut self, id: TxId) {
        let Some(entry) = self.txs.remove(&id) else {
            return;
        };
        if entry.owes {
            self.owing = self.owing.saturating_sub(1);
        }
        match &entry.key {
            Key::Client(_) => self.clients.remove(entry.hash, id),
            Key::Server(_) => self.servers.remove(entry.hash, id),
        }
        let kind = entry.machine.kind();
        let count = &mut self.counts[kind.index()];
        *count = count.saturating_sub(1);
        self.events.push_back(TxEvent::Terminated { tx: id, kind });
    }

    /// Drops stale entries from the head of the timer queue, so that
    /// `poll_timeout` is exact, and compacts it when stale entries pile up.
    fn prune(&mut self) {
        while let Some((at, id, timer)) = self.queue.peek() {
            if self.is_live(at, id, timer) {
                break;
            }
            self.queue.pop();
        }
        let limit = self
            .txs
            .len()
            .saturating_mul(3 * STALE_FACTOR)
            .max(COMPACT_MIN);
        if self.queue.len() > limit {
            let txs = &self.txs;
            self.queue.retain(|at, id, timer| {
                txs.get(&id)
                    .is_some_and(|e| e.timers.get(timer) == Some(at))
            });
        }
    }

    /// The client transaction filed under `key`.
    fn client(&self, key: &ClientKey) -> Option<TxId> {
        let txs = &self.txs;
        self.clients.find(key_hash(key), |id| {
            txs.get(&id)
                .is_some_and(|e| matches!(&e.key, Key::Client(k) if k == key))
        })
    }

    /// The server transaction filed under `key`.
    fn server(&self, key: &ServerKey) -> Option<TxId> {
        let txs = &self.txs;
        self.servers.find(key_hash(key), |id| {
            txs.get(&id)
                .is_some_and(|e| matches!(&e.key, Key::Server(k) if k == key))
        })
    }

    fn is_live(&self, at: Instant, id: TxId, timer: Timer) -> bool {
        self.txs
            .get(&id)
            .is_some_and(|e| e.timers.get(timer) == Some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportKind;
    use crate::message::Limits;
    use bytes::Bytes;
    use std::time::Duration;

    fn request(method: &str, branch: &str) -> Message {
        let raw = format!(
            "{method} sip:bob@192.0.2.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n\
             From: <sip:alice@192.0.2.10>;tag=a\r\n\
             To: <sip:bob@192.0.2.1>\r\n\
             Call-ID: c-{branch}\r\n\
             CSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
    }

    fn peer() -> Peer {
        Peer {
            transport: TransportKind::Udp,
            addr: ([192, 0, 2, 10], 5060).into(),
            conn: None,
        }
    }

    #[test]
    fn ended_transactions_leave_nothing_in_the_key_indexes() {
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let mut now = Instant::now();
        for i in 0..200 {
            let options = request("OPTIONS", &format!("z9hG4bKs{i}"));
            layer.handle_message(now, options.clone(), peer());
            let tx = match layer.poll_event() {
                Some(TxEvent::Request { tx, .. }) => tx,
                other => panic!("expected a request, got {other:?}"),
            };
            let ok = crate::message::response_to(&options, 200, "OK", Some("t"), None)
                .build_message()
                .unwrap();
            layer.respond(now, tx, ok).unwrap();
            layer
                .send_request(now, request("OPTIONS", &format!("z9hG4bKc{i}")), peer())
                .unwrap();
        }
        assert_eq!(layer.servers.len(), 200);
        assert_eq!(layer.clients.len(), 200);
        // Each server transaction is found by its key while it lives.
        let again = request("OPTIONS", "z9hG4bKs7");
        layer.handle_message(now, again, peer());
        while layer.poll_event().is_some() {}
        assert_eq!(
            layer.servers.len(),
            200,
            "a retransmission is no new transaction"
        );

        now += Duration::from_secs(64);
        layer.handle_timeout(now);
        assert!(layer.is_empty());
        assert_eq!(layer.servers.len(), 0);
        assert_eq!(layer.clients.len(), 0);
    }
}
