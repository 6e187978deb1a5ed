//! The edge's sans-IO core: transport events in, transmits out. It owns the
//! transaction layer and acts as its transaction user for requests that
//! start no call. The tokio driver in `driver.rs` only moves bytes and time.

use crate::metrics::{Direction, Metrics, TX_KINDS};
use crate::out_of_dialog::{self, Admission, Answer};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;
use tracing::{debug, debug_span, info, warn};
use voxgate_config::Config;
use voxgate_sip::message::{Limits, Message, Method, ParseError, response_to};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, Transmit, TxEvent, TxId, TxKind};
use voxgate_sip::transport::{Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind, ids};

/// Only used to answer 513 to a datagram above the configured limit: large
/// enough to index its headers, still bounded.
const RELAXED_LIMITS: Limits = Limits {
    max_message_size: 65_535,
    max_headers: 1024,
};

/// The edge core. Feed it with `handle_transport` and `handle_timeout`; take
/// what it wants sent with `poll_transmit` and when to wake it with `poll_timeout`.
pub struct Core {
    layer: TransactionLayer,
    limits: Limits,
    metrics: Metrics,
    admission: Admission,
    /// Transmits produced outside the transaction layer (stateless answers).
    out: VecDeque<Transmit>,
    /// Kind of each live transaction, for metrics on timeouts.
    kinds: HashMap<TxId, TxKind>,
}

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
    /// A core for `config`.
    pub fn new(config: &Config, metrics: Metrics) -> Core {
        Core {
            layer: TransactionLayer::new(timer_config(config)),
            limits: limits(config),
            metrics,
            admission: Admission::Open,
            out: VecDeque::new(),
            kinds: HashMap::new(),
        }
    }

    /// Applies a reloaded config: new timers apply to new transactions.
    pub fn apply_config(&mut self, config: &Config) {
        self.layer.set_timers(timer_config(config));
        self.limits = limits(config);
    }

    /// From now on new requests get 503 so carriers move to the other node.
    pub fn start_draining(&mut self) {
        self.admission = Admission::Draining;
        self.metrics.set_draining(true);
    }

    /// Live transactions.
    pub fn active_transactions(&self) -> usize {
        self.layer.len()
    }

    /// Transactions still owing a final response or waiting for the ACK of
    /// one; a draining node may stop when this reaches zero (the others only
    /// absorb retransmissions).
    pub fn unsettled_transactions(&self) -> usize {
        self.layer.unsettled()
    }

    /// One event from the transports.
    pub fn handle_transport(&mut self, now: Instant, event: TransportEvent) {
        match event {
            TransportEvent::Message(incoming) => self.on_message(now, incoming),
            TransportEvent::ConnectionOpened { peer, inbound } => {
                debug!(%peer, inbound, "connection opened");
                self.metrics.connection_opened(peer.transport, inbound);
            }
            TransportEvent::ConnectionClosed { peer, reason } => {
                debug!(%peer, ?reason, "connection closed");
                self.metrics.connection_closed(peer.transport);
            }
            TransportEvent::Rejected { source, transport } => {
                debug!(%source, %transport, "source not in any trunk's allow-list");
            }
            _ => {}
        }
        self.process_events(now);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.process_events(now);
    }

    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layer.poll_timeout()
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
            self.answer_too_large(bytes, peer);
            return;
        }
        let msg = match Message::parse(bytes.clone(), &self.limits) {
            Ok(msg) => msg,
            Err(e) => {
                let label = parse_error_label(&e);
                self.metrics.parse_error(transport, label);
                debug!(%peer, error = %e, "unparsable message dropped");
                if label == "too_large" && transport == TransportKind::Udp {
                    self.answer_too_large(bytes, peer);
                }
                return;
            }
        };
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
            // §8.2: a malformed request gets 400 naming the header, sent
            // without a transaction; a malformed response or ACK is dropped.
            if msg.is_request() && msg.method() != Some(&Method::Ack) && msg.top_via().is_ok() {
                let reason = invalid.to_string();
                let tag = ids::new_tag();
                let bytes = response_to(&msg, 400, &reason, Some(&tag), Some(peer.addr)).build();
                self.out.push_back(Transmit { to: peer, bytes });
            }
            return;
        }
        self.layer.handle_message(now, msg, peer);
    }

    /// RFC 3261 §21.5.14: 513 for a request above our size limit (UDP only;
    /// a stream transport closes the connection instead).
    fn answer_too_large(&mut self, bytes: Bytes, peer: Peer) {
        let Ok(msg) = Message::parse(bytes, &RELAXED_LIMITS) else {
            return;
        };
        if !msg.is_request() || msg.method() == Some(&Method::Ack) || msg.top_via().is_err() {
            return;
        }
        let tag = ids::new_tag();
        let bytes =
            response_to(&msg, 513, "Message Too Large", Some(&tag), Some(peer.addr)).build();
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
                    let call_id = request.call_id().unwrap_or("");
                    let method = request.method().map(Method::as_str).unwrap_or("");
                    let span = debug_span!("tx", tx = ?tx, method, call_id);
                    let _entered = span.enter();
                    if let Some(answer) = out_of_dialog::answer(&request, self.admission) {
                        debug!(status = answer.status, "answering out of dialog");
                        self.respond(now, tx, &request, from, &answer);
                    }
                }
                TxEvent::Cancel {
                    tx,
                    invite,
                    request,
                    from,
                } => {
                    self.kinds.insert(tx, TxKind::NonInviteServer);
                    self.metrics.transaction_created(TxKind::NonInviteServer);
                    // Every INVITE is answered at once today, so a matched
                    // CANCEL has nothing left to cancel: 200 without effect (§9.2).
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
                TxEvent::Ack { request, from } => {
                    debug!(%from, call_id = request.call_id().unwrap_or(""), "ACK without a dialog absorbed");
                }
                TxEvent::Response { tx, response } => {
                    debug!(
                        ?tx,
                        status = response.status(),
                        "response for a client transaction"
                    );
                }
                TxEvent::StrayResponse { response, from } => {
                    debug!(%from, status = response.status(), "stray response dropped");
                }
                TxEvent::Timeout { tx } => {
                    let kind = self.kinds.get(&tx).copied();
                    if let Some(kind) = kind {
                        self.metrics.transaction_failed(kind, "timeout");
                    }
                    info!(?tx, ?kind, "transaction timed out");
                }
                TxEvent::TransportError { tx } => {
                    if let Some(kind) = self.kinds.get(&tx).copied() {
                        self.metrics.transaction_failed(kind, "transport");
                    }
                    info!(?tx, "transport error on transaction");
                }
                TxEvent::Terminated { tx, .. } => {
                    self.kinds.remove(&tx);
                }
                _ => {}
            }
        }
        for kind in TX_KINDS {
            self.metrics
                .set_transactions_active(kind, self.layer.count(kind));
        }
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
        ParseError::BadHeaderLine { .. }
        | ParseError::HeadersUnterminated
        | ParseError::NotUtf8 { .. } => "bad_header",
        ParseError::BadContentLength
        | ParseError::DuplicateContentLength
        | ParseError::BodyTruncated { .. } => "bad_content_length",
        _ => "malformed",
    }
}
