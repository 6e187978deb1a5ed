//! The edge's sans-IO core: transport events in, transmits out. It owns the
//! transaction layer, routes what belongs to a call to that call's actor,
//! admits new calls (trunk limits), and answers requests that start no call.
//! The tokio driver in `driver.rs` only moves bytes, time and channels.

use crate::admission::classify;
use crate::calls::{CallTable, NewCall};
use crate::control_plane::ConversationId as CallRef;
use crate::conversation::task::Birth;
use crate::conversation::{
    Action as CallAction, Input as CallInput, Locals, RefusedAttempt, TxFailure,
};
use crate::handle::OriginateError;
use crate::health::Health;
use crate::keepalive::{self, KeepAlive, ProbeId};
use crate::metrics::{Direction, Metrics, TX_KINDS};
use crate::out_of_dialog::{self, Admission, Answer};
use crate::protection::overload::{self, Overload};
use crate::protection::refusals::{Line, Refusal, RefusalLog};
use crate::protection::scanner;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::{debug, debug_span, info, warn};
use voxgate_config::{Config, Trunk};
use voxgate_sip::dialog::{Dialog, DialogKey};
use voxgate_sip::hashing::IdMap;
use voxgate_sip::message::{Limits, Message, Method, ParseError, Salvage, response_to};
use voxgate_sip::transaction::{
    Retransmissions, TimerConfig, TransactionLayer, Transmit, TxEvent, TxId, TxKind,
};
use voxgate_sip::transport::{CloseReason, Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind, ids};

/// The edge core. Feed it with `handle_transport` and `handle_timeout`; take
/// what it wants sent with `poll_transmit` and when to wake it with `poll_timeout`.
pub struct Core {
    layer: TransactionLayer,
    config: Arc<Config>,
    limits: Limits,
    metrics: Metrics,
    admission: Admission,
    locals: Locals,
    /// Transmits produced outside the transaction layer (stateless answers,
    /// ACKs for 2xx, 2xx retransmissions).
    out: VecDeque<Transmit>,
    /// Kind of each live transaction, for metrics on timeouts.
    kinds: IdMap<TxId, TxKind>,
    calls: CallTable,
    spawns: VecDeque<NewCall>,
    /// Call attempts refused before they became conversations, for the CDR
    /// (kept only when `[cdr]` is configured).
    refused: VecDeque<RefusedAttempt>,
    /// The layer's retransmission totals last published.
    retransmissions_seen: Retransmissions,
    /// The name to verify on outbound TLS connections, by peer address.
    tls_names: HashMap<SocketAddr, String>,
    /// Client transactions sent over TCP/TLS, by the peer they went to: a
    /// connection that fails (refused, reset, TLS) fails them at once
    /// (RFC 3261 §17.1.1.2 transport error) instead of at timer B or F.
    stream_txs: IdMap<TxId, (TransportKind, SocketAddr)>,
    /// Connections that were reported open (for the gauge).
    open_conns: std::collections::HashSet<voxgate_sip::ConnId>,
    /// ACKs the core sent for the 2xx of forks that answered after their
    /// conversation ended, by INVITE transaction and To tag: re-sent on the
    /// 2xx's retransmissions until the transaction ends (Timer M).
    late_acks: IdMap<TxId, Vec<(String, Bytes)>>,
    /// Live INVITE client transactions that are re-INVITEs (their To has a
    /// tag): a late 2xx to one is only ACKed, its dialog is not ours to end.
    reinvites: IdMap<TxId, ()>,
    /// Refusals logged once per source and interval.
    refusals: RefusalLog,
    /// OPTIONS keep-alive of route destinations, and its probes in flight.
    keepalive: KeepAlive,
    probes: IdMap<TxId, ProbeId>,
    /// Where the keep-alive's verdicts and the trunks out of service live.
    health: Arc<Health>,
    /// Resolved destination names, for probing a name destination.
    dns: Option<Arc<crate::dns::Dns>>,
    /// The key of our digest nonces (random per process), and the instant
    /// their clock counts seconds from.
    nonce_key: voxgate_sip::auth::server::NonceKey,
    nonce_epoch: Option<Instant>,
    /// Outbound registrations of the trunks that ask for one, and their REGISTERs in flight.
    regs: crate::registration::Registrations,
    reg_txs: IdMap<TxId, register::RegTx>,
    /// The signalling loop's load: past its ceiling, new calls get 503.
    overload: Overload,
    /// New calls per trunk: while overloaded, the heaviest senders are refused first.
    shares: overload::Shares,
}

/// Seconds a nonce of our digest challenges is accepted (then `stale=true`).
pub const NONCE_LIFETIME_S: u64 = 300;

/// Timer bases from the config.
pub fn timer_config(config: &Config) -> TimerConfig {
    TimerConfig {
        t1: config.timers.t1,
        t2: config.timers.t2,
        t4: config.timers.t4,
    }
}

/// Message limits from the config.
pub fn limits(config: &Config) -> Limits {
    Limits {
        max_message_size: config.limits.max_message_size,
        max_headers: config.limits.max_headers,
    }
}

impl Core {
    /// A core for `config`; `locals` are our advertised addresses.
    pub fn new(config: Arc<Config>, metrics: Metrics, locals: Locals) -> Core {
        let refusals = RefusalLog::new(config.protection.log_interval);
        let overload = Overload::new(overload::Limits::from_config(&config.protection));
        let shares = overload::Shares::new(config.protection.overload_window);
        Core {
            layer: TransactionLayer::new(timer_config(&config)),
            limits: limits(&config),
            config,
            metrics,
            admission: Admission::Open,
            locals,
            out: VecDeque::new(),
            kinds: IdMap::default(),
            calls: CallTable::default(),
            spawns: VecDeque::new(),
            refused: VecDeque::new(),
            retransmissions_seen: Retransmissions::default(),
            tls_names: HashMap::new(),
            stream_txs: IdMap::default(),
            open_conns: std::collections::HashSet::new(),
            late_acks: IdMap::default(),
            reinvites: IdMap::default(),
            refusals,
            keepalive: KeepAlive::default(),
            probes: IdMap::default(),
            health: Arc::default(),
            dns: None,
            nonce_key: voxgate_sip::auth::server::NonceKey::new(rand::random()),
            nonce_epoch: None,
            regs: crate::registration::Registrations::default(),
            reg_txs: IdMap::default(),
            overload,
            shares,
        }
    }

    /// Shares `health` with the conversations and the admin API, resolves
    /// name destinations through `dns`, and starts the keep-alive of the
    /// config's destinations.
    pub fn with_health(
        mut self,
        now: Instant,
        health: Arc<Health>,
        dns: Option<Arc<crate::dns::Dns>>,
    ) -> Core {
        self.calls.health = health.clone();
        self.health = health;
        self.dns = dns;
        self.keepalive
            .configure(now, keepalive::probed(&self.config));
        self.health.publish(self.keepalive.states());
        self.configure_registrations(now);
        self
    }

    /// Applies a reloaded config: new timers apply to new transactions,
    /// the new snapshot to new calls.
    pub fn apply_config(&mut self, now: Instant, config: Arc<Config>) {
        self.layer.set_timers(timer_config(&config));
        self.limits = limits(&config);
        self.refusals.set_interval(config.protection.log_interval);
        self.overload
            .set_limits(overload::Limits::from_config(&config.protection));
        // Counted by position in the config's trunk list, which a reload may change.
        self.shares.reset(config.protection.overload_window);
        self.keepalive.configure(now, keepalive::probed(&config));
        self.health.publish(self.keepalive.states());
        let previous = std::mem::replace(&mut self.config, config);
        self.configure_registrations(now);
        // The removals the reload asks for go now, from the trunks as they were.
        self.send_registers_after(now, Some(&previous));
    }

    /// Active calls.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// A call to spawn (its INVITE is queued on its channel).
    pub fn poll_spawn(&mut self) -> Option<NewCall> {
        self.spawns.pop_front()
    }

    /// The config snapshot the core runs on.
    pub fn config(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// A call attempt refused before it became a conversation, for the CDR.
    pub fn poll_refused(&mut self) -> Option<RefusedAttempt> {
        self.refused.pop_front()
    }

    /// Notes a new INVITE refused with `status` for `reason` (a CDR of its own).
    fn note_refused(
        &mut self,
        now: Instant,
        request: &Message,
        from: Peer,
        trunk: Option<&Trunk>,
        status: u16,
        reason: &'static str,
    ) {
        info!(
            call_id = request.call_id().unwrap_or(""),
            trunk = trunk.map_or("none", |t| t.name.as_str()),
            source = %from.addr,
            status,
            reason,
            "call attempt refused"
        );
        self.record_refused(now, request, from, trunk, status, reason);
    }

    /// Keeps a refused attempt for its CDR, when `[cdr]` is configured.
    fn record_refused(
        &mut self,
        now: Instant,
        request: &Message,
        from: Peer,
        trunk: Option<&Trunk>,
        status: u16,
        reason: &'static str,
    ) {
        if self.config.cdr.is_none() {
            return;
        }
        self.refused.push_back(RefusedAttempt {
            at: now,
            trunk: trunk.map(|t| t.name.clone()),
            call_id: request.call_id().unwrap_or_default().to_owned(),
            caller: request
                .from_header()
                .ok()
                .and_then(|f| crate::conversation::uri_user(f.uri).map(str::to_owned)),
            callee: request
                .request_uri()
                .and_then(crate::conversation::uri_user)
                .map(str::to_owned),
            remote: from.addr,
            status,
            reason,
        });
    }

    /// The TLS name to verify for an outbound connection to `addr`.
    pub fn tls_name(&self, addr: SocketAddr) -> Option<&str> {
        self.tls_names.get(&addr).map(String::as_str)
    }

    /// Tells every call the node stops: they hang up.
    pub fn shutdown_calls(&mut self) {
        self.calls.broadcast(|| CallInput::Shutdown);
        // A call whose task is gone was removed by the broadcast.
        self.release_unbound();
    }

    /// Hands an input to a conversation; one that overflowed is counted.
    fn deliver(&mut self, call: CallRef, input: CallInput) {
        if self.calls.deliver(call, input) {
            self.metrics.conversation_overflow("input");
        }
    }

    /// A conversation that no INVITE started (`EdgeHandle::originate`).
    pub fn originate(
        &mut self,
        reply: tokio::sync::oneshot::Sender<Result<crate::control_plane::Session, OriginateError>>,
    ) {
        if self.admission != Admission::Open {
            let _ = reply.send(Err(OriginateError::NotAccepting));
            return;
        }
        let config = self.config.clone();
        let timers = timer_config(&config);
        let new = self.calls.originate(
            config,
            self.locals.clone(),
            timers,
            Birth::Originated(reply),
        );
        self.metrics.set_calls_active(self.calls.len());
        self.spawns.push_back(new);
    }

    /// An action from a call's actor.
    pub fn handle_call_action(&mut self, now: Instant, call: CallRef, action: CallAction) {
        match action {
            CallAction::Respond { tx, response } => {
                if let Err(e) = self.layer.respond(now, tx, response) {
                    debug!(%call, ?tx, error = %e, "call response not sent");
                }
            }
            CallAction::Send {
                tx,
                request,
                to,
                tls_name,
            } => {
                if let Some(name) = tls_name {
                    self.tls_names.insert(to.addr, name);
                }
                let reinvite = request.method() == Some(&Method::Invite)
                    && request.to_header().is_ok_and(|t| t.tag().is_some());
                if reinvite {
                    self.reinvites.insert(tx, ());
                }
                match self.layer.send_request_as(now, tx, request, to) {
                    Ok(_) => {
                        self.calls.bind_tx(call, tx);
                        if self.calls.by_tx(tx).is_none() {
                            // The call ended meanwhile: nobody waits for it.
                            self.layer.set_awaited(tx, false);
                        }
                        if to.transport.is_reliable() {
                            self.stream_txs.insert(tx, (to.transport, to.addr));
                        }
                        if let Some(kind) = self.layer.kind(tx) {
                            self.kinds.insert(tx, kind);
                            self.metrics.transaction_created(kind);
                        }
                    }
                    Err(e) => {
                        warn!(%call, error = %e, "call request not sent");
                        self.deliver(
                            call,
                            CallInput::TxFailed {
                                tx,
                                failure: TxFailure::Transport,
                            },
                        );
                    }
                }
            }
            CallAction::Transmit { to, bytes } => self.out.push_back(Transmit { to, bytes }),
            CallAction::BindDialog(key) => self.calls.bind_dialog(call, key),
            CallAction::Ended(record) => {
                self.calls.remove(call);
                self.metrics.set_calls_active(self.calls.len());
                debug!(%call, outcome = record.outcome_label(), "call ended");
            }
            // Carried out by the conversation's task, never sent here.
            CallAction::Event(_) | CallAction::Resolve { .. } => {}
        }
        self.process_events(now);
    }

    /// A response for a client transaction whose conversation has ended. A
    /// provisional to an INVITE gets a CANCEL. A 2xx to an INVITE is a
    /// fork that answered too late (§13.2.2.4): it is
    /// ACKed and hung up with BYE here, or the callee would keep resending
    /// its 2xx and then hang up after 64·T1 (§13.3.1.4). A 2xx to a
    /// re-INVITE is only ACKed.
    fn late_answer(&mut self, now: Instant, tx: TxId, response: &Message) {
        if response.status().is_some_and(|s| s < 200) {
            // It rings for nobody: CANCEL it, or it would wait for ever.
            if let Some(cancel) = self.layer.cancel_invite(now, tx)
                && let Some(kind) = self.layer.kind(cancel)
            {
                debug!(?tx, "an INVITE of an ended conversation rang: CANCELled");
                self.kinds.insert(cancel, kind);
                self.metrics.transaction_created(kind);
            }
            return;
        }
        let late_2xx = response.status().is_some_and(|s| (200..300).contains(&s))
            && response.cseq().is_ok_and(|c| c.method == Method::Invite);
        let peer = self.layer.invite_peer(tx);
        let (true, Some(peer)) = (late_2xx, peer) else {
            debug!(?tx, status = response.status(), "response for no call");
            return;
        };
        let tag = response
            .to_header()
            .ok()
            .and_then(|t| t.tag().map(str::to_owned))
            .unwrap_or_default();
        if let Some((_, ack)) = self
            .late_acks
            .get(&tx)
            .and_then(|acks| acks.iter().find(|(t, _)| *t == tag))
        {
            let bytes = ack.clone();
            self.out.push_back(Transmit { to: peer, bytes });
            return;
        }
        let Some(local) = self.locals.for_peer(&peer).cloned() else {
            return;
        };
        let Ok(mut dialog) = Dialog::uac_from_response(response, local) else {
            debug!(?tx, "late 2xx without what a dialog needs, dropped");
            return;
        };
        let ack = dialog.ack(dialog.local_seq).build();
        self.out.push_back(Transmit {
            to: peer,
            bytes: ack.clone(),
        });
        self.late_acks.entry(tx).or_default().push((tag, ack));
        if self.reinvites.contains_key(&tx) {
            // A re-INVITE's 2xx: the dialog was ended (or is being ended) by its BYE.
            debug!(?tx, %peer, "a re-INVITE answered after its conversation ended: ACKed");
            return;
        }
        info!(?tx, %peer, "a destination answered after its conversation ended: ACKed and hung up");
        let Ok(bye) = dialog.request(Method::Bye).build_message() else {
            return;
        };
        let bye_tx = TxId::next();
        if self.layer.send_request_as(now, bye_tx, bye, peer).is_ok()
            && let Some(kind) = self.layer.kind(bye_tx)
        {
            self.kinds.insert(bye_tx, kind);
            self.metrics.transaction_created(kind);
        }
    }

    /// From now on new requests get 503 so carriers move to the other node.
    pub fn start_draining(&mut self) {
        self.admission = Admission::Draining;
        self.metrics.set_draining(true);
    }

    /// Takes new requests again (an operator's undrain).
    pub fn stop_draining(&mut self) {
        self.admission = Admission::Open;
        self.metrics.set_draining(false);
    }

    /// A turn of the signalling loop starts at `now` with `queued` inputs waiting
    /// (overload control; a change of state is logged once and published).
    pub fn turn_started(&mut self, now: Instant, queued: usize) {
        match self.overload.turn_started(now, queued) {
            None => {}
            Some(overload::Change::Entered {
                busy_percent,
                queued,
            }) => {
                warn!(
                    busy_percent,
                    queued, "overloaded: new calls get 503 until the load falls"
                );
                self.metrics.set_overloaded(true);
            }
            Some(overload::Change::Left {
                busy_percent,
                queued,
            }) => {
                info!(
                    busy_percent,
                    queued, "no longer overloaded: new calls taken"
                );
                self.metrics.set_overloaded(false);
            }
        }
    }

    /// The turn that started at `started` ended at `now`.
    pub fn turn_ended(&mut self, started: Instant, now: Instant) {
        self.overload.turn_ended(started, now);
    }

    /// Whether new calls are refused for overload now.
    pub fn is_overloaded(&self) -> bool {
        self.overload.is_overloaded()
    }

    /// Live transactions.
    pub fn active_transactions(&self) -> usize {
        self.layer.len()
    }

    /// Transactions still owing a final response or waiting for the ACK of
    /// one; a draining node may stop when this reaches zero (the others only
    /// absorb retransmissions). The core's own CANCEL or BYE of a late
    /// answer counts, so that a draining node does not leave a destination
    /// ringing or in a dialog. O(1): the layer keeps the count as
    /// transactions change, so the driver may ask every loop turn.
    pub fn unsettled_transactions(&self) -> usize {
        self.layer.unsettled()
    }

    /// A client transaction whose call is over (an attempt given up at the
    /// trying timeout, say) owes nobody anything: a draining node does not
    /// wait for its timer B. Server transactions still count: the peer
    /// waits for their final response or ACK.
    fn release_unbound(&mut self) {
        for tx in self.calls.drain_unbound() {
            if matches!(
                self.layer.kind(tx),
                Some(TxKind::InviteClient | TxKind::NonInviteClient)
            ) {
                self.layer.set_awaited(tx, false);
            }
        }
    }

    /// One event from the transports.
    pub fn handle_transport(&mut self, now: Instant, event: TransportEvent) {
        match event {
            TransportEvent::Message(incoming) => self.on_message(now, incoming),
            TransportEvent::ConnectionOpened { peer, inbound } => {
                debug!(%peer, inbound, "connection opened");
                if let Some(conn) = peer.conn {
                    self.open_conns.insert(conn);
                }
                self.metrics.connection_opened(peer.transport, inbound);
            }
            TransportEvent::ConnectionClosed { peer, reason } => {
                debug!(%peer, ?reason, "connection closed");
                self.metrics
                    .connection_ended(peer.transport, close_label(reason));
                // A connect or handshake that failed never opened.
                if peer.conn.is_some_and(|c| self.open_conns.remove(&c)) {
                    self.metrics.connection_closed(peer.transport);
                } else if reason == CloseReason::Tls {
                    self.metrics.tls_handshake_failed();
                }
                self.stream_failed(now, peer);
            }
            TransportEvent::ConnectionRefused {
                source,
                transport,
                limit,
            } => {
                self.metrics.connection_refused(transport, limit.label());
                self.refused(now, source, transport, Refusal::ConnectionLimit);
            }
            TransportEvent::Rejected { source, transport } => {
                let reason = match classify(&self.config, source.ip(), transport) {
                    Err(crate::metrics::DropReason::TransportNotAllowed) => {
                        Refusal::TransportNotAllowed
                    }
                    _ => Refusal::NotAllowed,
                };
                self.refused(now, source, transport, reason);
            }
            _ => {}
        }
        self.process_events(now);
    }

    /// A TCP/TLS connection to `peer` closed: the client transactions sent
    /// to that peer get a transport error. Connections close rarely, so a
    /// scan is fine.
    fn stream_failed(&mut self, now: Instant, peer: Peer) {
        if self.stream_txs.is_empty() || !peer.transport.is_reliable() {
            return;
        }
        let failed: Vec<TxId> = self
            .stream_txs
            .iter()
            .filter(|(_, (t, a))| *t == peer.transport && *a == peer.addr)
            .map(|(tx, _)| *tx)
            .collect();
        for tx in failed {
            self.stream_txs.remove(&tx);
            self.layer.transport_error(now, tx);
        }
    }

    /// Fires due timers, and sends the keep-alive probes that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.keepalive.handle_timeout(now);
        self.send_probes(now);
        self.regs.handle_timeout(now);
        self.send_registers(now);
        self.process_events(now);
        self.log_refusals(now);
    }

    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.refusals.poll_timeout(),
            self.keepalive.poll_timeout(),
            self.regs.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A refusal: logged if it is the source's first in the interval (the rest are
    /// summed, see [`RefusalLog`]).
    fn refused(
        &mut self,
        now: Instant,
        source: SocketAddr,
        transport: TransportKind,
        reason: Refusal,
    ) {
        self.log_refusals(now);
        if let Some(Line::First { source: ip, reason }) =
            self.refusals.note(now, source.ip(), reason)
        {
            info!(
                source = %ip,
                port = source.port(),
                %transport,
                reason = reason.label(),
                "refused (more from this source are counted and logged once per interval)"
            );
        }
    }

    /// Logs the refusal summaries that are due.
    fn log_refusals(&mut self, now: Instant) {
        while let Some(line) = self.refusals.poll_summary(now) {
            match line {
                Line::Repeated {
                    source,
                    reason,
                    count,
                } => info!(%source, reason = reason.label(), count, "refused again"),
                Line::Others { count } => {
                    info!(
                        count,
                        "refused from sources beyond those followed in the log"
                    );
                }
                Line::First { .. } => {}
            }
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self
            .out
            .pop_front()
            .or_else(|| self.layer.poll_transmit())?;
        self.count_out(&t);
        Some(t)
    }

    fn on_message(&mut self, now: Instant, incoming: Incoming) {
        let Incoming {
            bytes,
            peer,
            oversized,
            ..
        } = incoming;
        let transport = peer.transport;
        if oversized {
            self.metrics.parse_error(transport, "too_large");
            // §21.5.14 (UDP only: a stream transport closes the connection).
            self.refuse(&bytes, 513, "Message Too Large", peer);
            return;
        }
        let msg = match Message::parse(bytes.clone(), &self.limits) {
            Ok(msg) => msg,
            Err(e) => {
                self.metrics.parse_error(transport, parse_error_label(&e));
                debug!(%peer, error = %e, "unparsable message");
                self.refuse(&bytes, e.status_code(), &e.reason_phrase(), peer);
                return;
            }
        };
        if self.is_scanner(&msg) {
            // Silence: no response, no transaction; counted and logged once per interval.
            self.metrics.scanner_request(transport);
            self.refused(now, peer.addr, transport, Refusal::Scanner);
            return;
        }
        match (msg.method(), msg.status()) {
            (Some(method), _) => self.metrics.request(Direction::In, transport, method),
            (None, Some(status)) => {
                if let Ok(cseq) = msg.cseq() {
                    self.metrics
                        .response(Direction::In, transport, &cseq.method, status);
                }
            }
            (None, None) => {}
        }
        if let Err(invalid) = msg.validate() {
            self.metrics.parse_error(transport, "invalid_header");
            debug!(%peer, error = %invalid, "invalid mandatory header");
            self.refuse(msg.raw(), 400, &invalid.to_string(), peer);
            return;
        }
        self.layer.handle_message(now, msg, peer);
    }

    /// A request outside a dialog (scanners send no To tag) whose User-Agent names a
    /// scanner. In-dialog requests and responses are never looked at: a trunk's calls in
    /// progress do not pay for this.
    fn is_scanner(&self, msg: &Message) -> bool {
        // Cheapest first: most messages carry no scanner's User-Agent, and only those
        // that do pay for reading the To tag.
        let patterns = &self.config.protection.scanner_user_agents;
        !patterns.is_empty()
            && msg.method().is_some()
            && msg
                .header_bytes(voxgate_sip::message::HeaderName::UserAgent)
                .is_some_and(|ua| scanner::is_scanner(ua, patterns))
            && !msg.to_header().is_ok_and(|t| t.tag().is_some())
    }

    /// Answers a message refused before any transaction, without one
    /// (RFC 3261 §8.2, §21.4: 400 naming the fault, 505 for another SIP
    /// version, 513 when too large), when it is a request that can be
    /// answered; responses, ACKs and requests without a readable Via are
    /// dropped (`Salvage` decides, from the bytes, so that what the strict
    /// parser refused is answered too).
    fn refuse(&mut self, raw: &[u8], status: u16, reason: &str, peer: Peer) {
        let Some(request) = Salvage::read(raw) else {
            debug!(%peer, status, "refused message dropped: nothing to answer");
            return;
        };
        let tag = ids::new_tag();
        let bytes = request
            .response(status, reason, Some(&tag), Some(peer.addr))
            .build();
        self.out.push_back(Transmit { to: peer, bytes });
    }

    fn process_events(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TxEvent::Request { tx, request, from } => {
                    let kind = if request.method() == Some(&Method::Invite) {
                        TxKind::InviteServer
                    } else {
                        TxKind::NonInviteServer
                    };
                    self.kinds.insert(tx, kind);
                    self.metrics.transaction_created(kind);
                    self.on_request(now, tx, request, from);
                }
                TxEvent::Cancel {
                    tx,
                    invite,
                    request,
                    from,
                } => {
                    self.kinds.insert(tx, TxKind::NonInviteServer);
                    self.metrics.transaction_created(TxKind::NonInviteServer);
                    match invite.and_then(|i| self.calls.by_tx(i)) {
                        Some(call) => {
                            self.calls.bind_tx(call, tx);
                            self.deliver(call, CallInput::Cancel { tx, request });
                        }
                        None => {
                            // §9.2: a CANCEL for an INVITE already answered has no
                            // effect (200); for no INVITE at all, 481.
                            let answer = match invite {
                                Some(_) => Answer {
                                    status: 200,
                                    reason: "OK",
                                    headers: Vec::new(),
                                },
                                None => Answer {
                                    status: 481,
                                    reason: "Call/Transaction Does Not Exist",
                                    headers: Vec::new(),
                                },
                            };
                            self.respond(now, tx, &request, from, &answer);
                        }
                    }
                }
                TxEvent::Ack { request, from } => {
                    match DialogKey::of_incoming_request(&request)
                        .and_then(|k| self.calls.by_dialog(&k))
                    {
                        Some(call) => self.deliver(call, CallInput::Ack { request }),
                        None => debug!(%from, "ACK without a dialog absorbed"),
                    }
                }
                TxEvent::Response { tx, response }
                    if !self.reg_txs.is_empty() && self.reg_txs.contains_key(&tx) =>
                {
                    self.register_response(now, tx, &response);
                }
                TxEvent::Response { tx, response }
                    if !self.probes.is_empty() && self.probes.contains_key(&tx) =>
                {
                    if let Some(status) = response.status().filter(|s| *s >= 200) {
                        self.probe_outcome(tx, status != 408 && status != 503);
                    }
                }
                TxEvent::Response { tx, response } => match self.calls.by_tx(tx) {
                    Some(call) => self.deliver(call, CallInput::Response { tx, response }),
                    None => self.late_answer(now, tx, &response),
                },
                TxEvent::StrayResponse { response, from } => {
                    match DialogKey::of_incoming_response(&response)
                        .and_then(|k| self.calls.by_dialog(&k))
                    {
                        Some(call) => self.deliver(call, CallInput::StrayResponse { response }),
                        None => debug!(%from, status = response.status(), "stray response dropped"),
                    }
                }
                TxEvent::Timeout { tx } => {
                    let kind = self.kinds.get(&tx).copied();
                    if let Some(kind) = kind {
                        self.metrics.transaction_failed(kind, "timeout");
                    }
                    info!(?tx, ?kind, "transaction timed out");
                    self.probe_outcome(tx, false);
                    self.register_failed(now, tx);
                    if let Some(call) = self.calls.by_tx(tx) {
                        self.deliver(
                            call,
                            CallInput::TxFailed {
                                tx,
                                failure: TxFailure::Timeout,
                            },
                        );
                    }
                }
                TxEvent::TransportError { tx } => {
                    if let Some(kind) = self.kinds.get(&tx).copied() {
                        self.metrics.transaction_failed(kind, "transport");
                    }
                    info!(?tx, "transport error on transaction");
                    self.probe_outcome(tx, false);
                    self.register_failed(now, tx);
                    if let Some(call) = self.calls.by_tx(tx) {
                        self.deliver(
                            call,
                            CallInput::TxFailed {
                                tx,
                                failure: TxFailure::Transport,
                            },
                        );
                    }
                }
                TxEvent::Terminated { tx, .. } => {
                    self.late_acks.remove(&tx);
                    self.reinvites.remove(&tx);
                    self.kinds.remove(&tx);
                    self.calls.tx_ended(tx);
                    self.stream_txs.remove(&tx);
                    self.probe_outcome(tx, false);
                    self.register_failed(now, tx);
                }
                _ => {}
            }
        }
        self.release_unbound();
        self.keepalive_changes();
        self.registration_changes();
        for kind in TX_KINDS {
            self.metrics
                .set_transactions_active(kind, self.layer.count(kind));
        }
        let r = self.layer.retransmissions();
        if r != self.retransmissions_seen {
            let seen = std::mem::replace(&mut self.retransmissions_seen, r);
            self.metrics
                .retransmissions(Direction::Out, r.sent - seen.sent);
            self.metrics
                .retransmissions(Direction::In, r.received - seen.received);
        }
    }

    /// A request that created a server transaction.
    fn on_request(&mut self, now: Instant, tx: TxId, request: Message, from: Peer) {
        let call_id = request.call_id().unwrap_or("");
        let method = request.method().map(Method::as_str).unwrap_or("");
        let span = debug_span!("tx", tx = %tx, method, call_id);
        let _entered = span.enter();
        // Inside a dialog: the call that owns it.
        if let Some(call) =
            DialogKey::of_incoming_request(&request).and_then(|k| self.calls.by_dialog(&k))
        {
            self.calls.bind_tx(call, tx);
            self.calls
                .deliver(call, CallInput::Request { tx, request, from });
            return;
        }
        let new_call = request.method() == Some(&Method::Invite)
            && request.to_header().is_ok_and(|t| t.tag().is_none())
            && self.admission == Admission::Open;
        if new_call && self.overload.is_overloaded() && self.sheds(now, from) {
            self.refuse_overloaded(now, tx, &request, from);
            return;
        }
        if new_call && let Some(answer) = out_of_dialog::hygiene(&request) {
            let config = self.config.clone();
            let trunk = classify(&config, from.addr.ip(), from.transport).ok();
            self.note_refused(now, &request, from, trunk, answer.status, "malformed");
            self.respond(now, tx, &request, from, &answer);
            return;
        }
        if new_call
            && let Some(keys) = replaces_key(&request)
            && let Some((call, key)) = self.replaced(keys)
        {
            // RFC 3891: the INVITE takes over a leg of a live conversation.
            let Ok(trunk) = classify(&self.config, from.addr.ip(), from.transport) else {
                return;
            };
            let trunk = trunk.name.clone();
            self.calls.bind_tx(call, tx);
            self.deliver(
                call,
                CallInput::Replacing {
                    tx,
                    request,
                    from,
                    trunk,
                    replaces: key,
                },
            );
            return;
        }
        if new_call {
            self.new_call(now, tx, request, from);
            return;
        }
        if let Some(answer) = out_of_dialog::answer(&request, self.admission) {
            debug!(status = answer.status, "answering out of dialog");
            if request.method() == Some(&Method::Invite)
                && request.to_header().is_ok_and(|t| t.tag().is_none())
            {
                // A new call while draining.
                let config = self.config.clone();
                let trunk = classify(&config, from.addr.ip(), from.transport).ok();
                self.note_refused(now, &request, from, trunk, answer.status, "draining");
            }
            self.respond(now, tx, &request, from, &answer);
        }
    }

    /// Whether a new call from `from` is refused while overloaded: always from a source
    /// in no trunk, else by its trunk's share of the new calls ([`overload::Shares`]).
    /// Counts the call (a call not refused here is not counted again in `new_call`).
    fn sheds(&mut self, now: Instant, from: Peer) -> bool {
        let config = self.config.clone();
        match trunk_number(&config, from) {
            Some(n) => {
                self.shares.note(now, n, true);
                self.shares.sheds(n)
            }
            None => true,
        }
    }

    /// A new call while overloaded: 503 with `Retry-After`, before anything else is
    /// spent on it (no conversation, no media, no CDR or log line of its own: it is
    /// counted by trunk).
    fn refuse_overloaded(&mut self, now: Instant, tx: TxId, request: &Message, from: Peer) {
        let trunk = classify(&self.config, from.addr.ip(), from.transport)
            .map_or("none", |t| t.name.as_str());
        self.metrics.overload_rejection(trunk);
        let answer = Answer {
            status: 503,
            reason: "Service Unavailable",
            headers: vec![(
                voxgate_sip::message::HeaderName::RetryAfter,
                self.config.protection.overload_retry_after.to_string(),
            )],
        };
        self.respond(now, tx, request, from, &answer);
    }

    /// An INVITE from a trunk: admit it against the trunk's limits and
    /// start a call actor.
    fn new_call(&mut self, now: Instant, tx: TxId, request: Message, from: Peer) {
        let config = self.config.clone();
        let Ok(trunk) = classify(&config, from.addr.ip(), from.transport) else {
            // Admitted by the transport moments ago, refused now: a reload
            // narrowed the allow-list in between.
            let answer = Answer {
                status: 403,
                reason: "Forbidden",
                headers: Vec::new(),
            };
            self.note_refused(now, &request, from, None, 403, "not_allowed");
            self.respond(now, tx, &request, from, &answer);
            return;
        };
        // Counted here unless overload counted it already (`sheds`).
        if !self.overload.is_overloaded()
            && let Some(n) = trunk_position(&config, trunk)
        {
            self.shares.note(now, n, false);
        }
        if self.health.is_out_of_service(&trunk.name) {
            // Put out of service by an operator: calls in progress go on.
            let status = trunk.out_of_service_status;
            debug!(trunk = %trunk.name, status, "new call refused: trunk out of service");
            let answer = Answer {
                status,
                reason: crate::conversation::default_reason(status),
                headers: Vec::new(),
            };
            self.respond(now, tx, &request, from, &answer);
            return;
        }
        if trunk.auth == voxgate_config::TrunkAuth::Digest
            && let Some(answer) = self.digest_refusal(now, trunk, &request)
        {
            self.respond(now, tx, &request, from, &answer);
            return;
        }
        if let Err(hit) = self.calls.admit(trunk, now) {
            self.metrics.trunk_limit(trunk.name.as_str(), hit.label());
            // A listed source that floods chooses how many of these come: the first
            // of a source's interval is logged, the rest summed once per interval
            // (`refused again`); each one still has its CDR.
            self.log_refusals(now);
            let first = self
                .refusals
                .note(now, from.addr.ip(), Refusal::TrunkLimit)
                .is_some();
            if first {
                self.note_refused(now, &request, from, Some(trunk), 503, hit.label());
            } else {
                self.record_refused(now, &request, from, Some(trunk), 503, hit.label());
            }
            let answer = Answer {
                status: 503,
                reason: "Service Unavailable",
                headers: vec![(
                    voxgate_sip::message::HeaderName::RetryAfter,
                    hit.retry_after().to_string(),
                )],
            };
            self.respond(now, tx, &request, from, &answer);
            return;
        }
        let name = trunk.name.clone();
        let first = CallInput::Invite {
            tx,
            request,
            from,
            trunk: name.clone(),
        };
        let timers = timer_config(&config);
        let call = self
            .calls
            .create(config, name, self.locals.clone(), timers, tx, first);
        self.metrics.set_calls_active(self.calls.len());
        self.spawns.push_back(call);
    }

    /// The 401 for an INVITE of a digest trunk without valid credentials
    /// (RFC 3261 §22.1: our challenges, SHA-256 then MD5, with a nonce that
    /// proves itself, so nothing is kept per challenge); `None` to admit it.
    fn digest_refusal(
        &mut self,
        now: Instant,
        trunk: &voxgate_config::Trunk,
        request: &Message,
    ) -> Option<Answer> {
        use voxgate_sip::auth::Algorithm;
        use voxgate_sip::auth::server::{Expected, Verdict, challenge_values, verify};
        let epoch = *self.nonce_epoch.get_or_insert(now);
        let clock = now.duration_since(epoch).as_secs();
        // Validation makes a digest trunk name credentials with a realm.
        let creds = trunk.credentials.as_ref()?;
        let realm = creds.realm.as_deref()?;
        let algorithms: Vec<Algorithm> = creds
            .algorithms
            .iter()
            .map(|a| match a {
                voxgate_config::DigestAlgorithm::Sha512_256 => Algorithm::Sha512_256,
                voxgate_config::DigestAlgorithm::Sha256 => Algorithm::Sha256,
                voxgate_config::DigestAlgorithm::Md5 => Algorithm::Md5,
            })
            .collect();
        let expected = Expected {
            realm,
            username: &creds.username,
            password: creds.password.expose(),
            lifetime: NONCE_LIFETIME_S,
            algorithms: &algorithms,
        };
        let verdict = verify(request, &self.nonce_key, &expected, clock);
        let result = match verdict {
            Verdict::Valid => {
                self.metrics.digest_check(trunk.name.as_str(), "accepted");
                return None;
            }
            Verdict::Missing => "missing",
            Verdict::Invalid => "invalid",
            Verdict::Stale => "stale",
        };
        self.metrics.digest_check(trunk.name.as_str(), result);
        debug!(trunk = %trunk.name, result, "INVITE challenged");
        let stale = verdict == Verdict::Stale;
        let headers = challenge_values(&self.nonce_key, realm, clock, stale, &algorithms)
            .into_iter()
            .map(|v| (voxgate_sip::message::HeaderName::WwwAuthenticate, v))
            .collect();
        Some(Answer {
            status: 401,
            reason: "Unauthorized",
            headers,
        })
    }

    fn respond(&mut self, now: Instant, tx: TxId, request: &Message, from: Peer, answer: &Answer) {
        let tag = ids::new_tag();
        let mut builder = response_to(
            request,
            answer.status,
            answer.reason,
            Some(&tag),
            Some(from.addr),
        );
        for (name, value) in &answer.headers {
            builder = builder.header(*name, value);
        }
        match builder.build_message() {
            Ok(response) => {
                if let Err(e) = self.layer.respond(now, tx, response) {
                    warn!(?tx, error = %e, "could not send response");
                }
            }
            // Our own builder's output always parses; if not, it is a bug to log.
            Err(e) => warn!(?tx, error = %e, "built an unparsable response"),
        }
    }

    /// Counts an outgoing message from its start line and CSeq. We built it,
    /// so the canonical `CSeq: ` form is present.
    fn count_out(&self, t: &Transmit) {
        let b = &t.bytes[..];
        if let Some(rest) = b.strip_prefix(b"SIP/2.0 ") {
            let status = rest
                .get(..3)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u16>().ok());
            let method = memchr::memmem::find(b, b"\r\nCSeq: ").and_then(|i| {
                let line = &b[i + 8..];
                let end = memchr::memchr(b'\r', line)?;
                let text = std::str::from_utf8(&line[..end]).ok()?;
                text.split_whitespace().nth(1).map(Method::from_token)
            });
            if let (Some(status), Some(method)) = (status, method) {
                self.metrics
                    .response(Direction::Out, t.to.transport, &method, status);
            }
        } else if let Some(sp) = memchr::memchr(b' ', b)
            && let Ok(token) = std::str::from_utf8(&b[..sp])
        {
            self.metrics
                .request(Direction::Out, t.to.transport, &Method::from_token(token));
        }
    }
}

impl Core {
    /// The conversation owning the dialog a Replaces names: its to-tag is our
    /// tag (RFC 3891 §3); the from-tag is tried too, for peers that swap them.
    fn replaced(&self, key: (DialogKey, DialogKey)) -> Option<(CallRef, DialogKey)> {
        let (to, from) = key;
        match self.calls.by_dialog(&to) {
            Some(call) => Some((call, to)),
            None => self.calls.by_dialog(&from).map(|call| (call, from)),
        }
    }
}

/// The dialog keys a Replaces header names (to-tag as ours, from-tag as ours).
fn replaces_key(request: &Message) -> Option<(DialogKey, DialogKey)> {
    let value = request.header(voxgate_sip::message::HeaderName::Replaces)?;
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim();
    let mut to_tag = None;
    let mut from_tag = None;
    for p in parts {
        let (k, v) = p.split_once('=')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "to-tag" => to_tag = Some(v.trim()),
            "from-tag" => from_tag = Some(v.trim()),
            _ => {}
        }
    }
    let key = |tag: &str| DialogKey {
        call_id: call_id.into(),
        local_tag: tag.into(),
    };
    Some((key(to_tag?), key(from_tag?)))
}

/// The metric label of why a connection ended.
fn close_label(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Idle => "idle",
        CloseReason::PeerClosed => "peer_closed",
        CloseReason::Oversized => "oversized",
        CloseReason::Framing => "framing",
        CloseReason::Io => "io",
        CloseReason::Shutdown => "shutdown",
        CloseReason::Tls => "tls",
        CloseReason::Slow => "slow",
    }
}

/// A short, bounded label per parse failure for the metrics.
fn parse_error_label(e: &ParseError) -> &'static str {
    match e {
        ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. } => "too_large",
        ParseError::Empty
        | ParseError::BadStartLine
        | ParseError::BadMethod
        | ParseError::BadRequestUri
        | ParseError::BadVersion
        | ParseError::BadStatusCode => "bad_start_line",
        ParseError::UnsupportedVersion => "unsupported_version",
        ParseError::BadHeaderLine { .. } | ParseError::HeadersUnterminated => "bad_header",
        ParseError::BadContentLength
        | ParseError::DuplicateContentLength
        | ParseError::BodyTruncated { .. } => "bad_content_length",
        _ => "malformed",
    }
}

#[cfg(test)]
mod digest_tests;
mod probes;
mod register;
#[cfg(test)]
mod register_tests;
#[cfg(test)]
mod unsettled_tests;

/// The position in `config`'s trunk list of the trunk `from` belongs to.
fn trunk_number(config: &Config, from: Peer) -> Option<usize> {
    trunk_position(
        config,
        classify(config, from.addr.ip(), from.transport).ok()?,
    )
}

/// The position of `trunk` (one of `config`'s) in its trunk list: what
/// [`overload::Shares`] counts by.
fn trunk_position(config: &Config, trunk: &voxgate_config::Trunk) -> Option<usize> {
    config.trunks.iter().position(|t| std::ptr::eq(t, trunk))
}
