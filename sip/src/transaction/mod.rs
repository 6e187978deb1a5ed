//! RFC 3261 §17 transactions with the RFC 6026 corrections, as a sans-IO
//! state machine in the style of quinn-proto.
//!
//! The [`TransactionLayer`] never reads a clock and owns no socket: the
//! driver feeds it received messages and the current time, then drains
//! [`TransactionLayer::poll_transmit`] (bytes to send),
//! [`TransactionLayer::poll_event`] (what the transaction user must hear)
//! and sleeps until [`TransactionLayer::poll_timeout`], when it calls
//! [`TransactionLayer::handle_timeout`].
//!
//! Deviations from the letter of RFC 3261, on purpose:
//! * INVITE transactions follow RFC 6026 (Accepted states, timers L and M;
//!   2xx retransmissions and ACKs for 2xx belong to the TU).
//! * A server transaction that hits a transport error informs the TU and
//!   stays in its state (RFC 6026 §8.8); its own timers end it. A client
//!   transaction informs the TU and terminates (§17.1.1.2, §17.1.2.2).
//! * An INVITE client transaction for which a CANCEL was sent gives up
//!   (Timeout) 64*T1 later if no final response arrived (§9.1).
//! * `100 Trying` is sent as soon as an INVITE server transaction exists,
//!   instead of after 200 ms of TU silence (§17.2.1 allows both).

mod client;
mod key;
mod layer;
mod server;
mod timer;

pub use layer::{Retransmissions, TransactionLayer};

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::Peer;
use crate::message::{Invalid, Message};

use timer::{Timer, TimerQueue, TimerTable};

/// The RFC 3261 timer base values (Table 4). Read when a transaction is
/// created; later changes apply to new transactions only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; retransmission base and 64*T1 timeouts.
    pub t1: Duration,
    /// Cap on non-INVITE and final-response retransmission intervals.
    pub t2: Duration,
    /// How long a message may stay in the network.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// Smallest retransmission base accepted: a zero T1/T2 would make
    /// retransmission timers fire in a busy loop.
    const MIN_INTERVAL: Duration = Duration::from_millis(1);

    /// This configuration with T1 and T2 raised to at least 1 ms.
    fn sanitized(self) -> TimerConfig {
        TimerConfig {
            t1: self.t1.max(Self::MIN_INTERVAL),
            t2: self.t2.max(Self::MIN_INTERVAL),
            t4: self.t4,
        }
    }

    /// 64*T1: timers B, F, H, J, L, M.
    fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Identifies one transaction; never reused within a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(u64);

impl TxId {
    /// A fresh id, unique across every layer in the process.
    pub fn next() -> TxId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TxId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number, for logs and metrics.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// The four transaction state machines of RFC 3261 §17.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// §17.1.1 (+ RFC 6026).
    InviteClient,
    /// §17.2.1 (+ RFC 6026).
    InviteServer,
    /// §17.1.2.
    NonInviteClient,
    /// §17.2.2.
    NonInviteServer,
}

impl TxKind {
    /// Every kind, for metrics.
    pub const ALL: [TxKind; 4] = [
        TxKind::InviteClient,
        TxKind::InviteServer,
        TxKind::NonInviteClient,
        TxKind::NonInviteServer,
    ];

    /// Lower-case name for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::InviteClient => "invite_client",
            TxKind::InviteServer => "invite_server",
            TxKind::NonInviteClient => "non_invite_client",
            TxKind::NonInviteServer => "non_invite_server",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Bytes to hand to the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send them.
    pub to: Peer,
    /// One complete SIP message.
    pub bytes: Bytes,
}

/// What the transaction user must hear about.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum TxEvent {
    /// A new request created a server transaction (not ACK, not CANCEL). The
    /// TU must answer via `respond`.
    Request {
        /// The new server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// CANCEL (it has its own non-INVITE server tx `tx`); `invite` is the
    /// matching INVITE server transaction per §9.2, if any. The TU answers the
    /// CANCEL (200, or 481 if `invite` is None) and, if still pending, the
    /// INVITE with 487.
    Cancel {
        /// The CANCEL's own server transaction.
        tx: TxId,
        /// The INVITE server transaction it cancels.
        invite: Option<TxId>,
        /// The CANCEL request.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// An ACK that matched no transaction in Completed state (ACK for a 2xx):
    /// for the dialog layer.
    Ack {
        /// The ACK.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// A response for a client transaction (provisional, final, and — in
    /// Accepted — 2xx retransmissions).
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response.
        response: Message,
    },
    /// A response that matched no client transaction (§18.1.2: pass to the core).
    StrayResponse {
        /// The response.
        response: Message,
        /// Where it came from.
        from: Peer,
    },
    /// Timer B, F or H fired (or a cancelled INVITE got no final response):
    /// the transaction gave up.
    Timeout {
        /// The transaction.
        tx: TxId,
    },
    /// The transport reported a failure for this transaction's peer.
    TransportError {
        /// The transaction.
        tx: TxId,
    },
    /// The transaction ended and its state is gone.
    Terminated {
        /// The transaction.
        tx: TxId,
        /// Its kind, for gauges.
        kind: TxKind,
    },
}

/// Why a call into the layer was refused.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    /// No live transaction has this id (it may have terminated).
    #[error("no live transaction {0}")]
    UnknownTransaction(TxId),
    /// ACK is never sent in a transaction of its own (§17.1.1.3, §13.2.2.4).
    #[error("an ACK is not sent in a client transaction")]
    AckNotATransaction,
    /// `send_request` was given a response.
    #[error("not a request")]
    NotARequest,
    /// `respond` was given a request.
    #[error("not a response")]
    NotAResponse,
    /// A header the transaction layer needs is missing or malformed.
    #[error("invalid headers: {0}")]
    InvalidHeaders(#[from] Invalid),
    /// The transaction already sent its final response (only further 2xx
    /// may be sent in an INVITE server transaction in Accepted).
    #[error("{0} already sent a final response")]
    AlreadyFinal(TxId),
    /// The request's top Via has no branch parameter.
    #[error("the top Via has no branch parameter")]
    MissingBranch,
    /// A live client transaction already uses this branch and method.
    #[error("branch already used by client transaction {0}")]
    BranchInUse(TxId),
    /// `send_request_as` was given an id a live transaction already has.
    #[error("transaction id {0} is already in use")]
    IdInUse(TxId),
    /// `respond` was called for a client transaction.
    #[error("{0} is not a server transaction")]
    NotAServerTransaction(TxId),
}

/// What a state machine asks of the layer after handling an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
enum Flow {
    /// The transaction lives on.
    Continue,
    /// The transaction reached Terminated: drop its state.
    Terminate,
}

/// The outputs a state machine writes to while handling one input: the
/// layer's transmit and event queues, and its own timers.
struct Io<'a> {
    id: TxId,
    now: Instant,
    timers: &'a mut TimerTable,
    queue: &'a mut TimerQueue,
    transmits: &'a mut VecDeque<Transmit>,
    events: &'a mut VecDeque<TxEvent>,
}

impl Io<'_> {
    /// Arms `timer` to fire `after` from now.
    fn arm(&mut self, timer: Timer, after: Duration) {
        let at = self.now + after;
        self.timers.set(timer, at);
        self.queue.push(at, self.id, timer);
    }

    /// Disarms `timer` (its queue entry goes stale).
    fn stop(&mut self, timer: Timer) {
        self.timers.stop(timer);
    }

    /// Whether `timer` is armed.
    fn is_armed(&self, timer: Timer) -> bool {
        self.timers.get(timer).is_some()
    }

    fn send(&mut self, to: Peer, bytes: Bytes) {
        self.transmits.push_back(Transmit { to, bytes });
    }

    fn event(&mut self, event: TxEvent) {
        self.events.push_back(event);
    }

    /// Passes a response of this client transaction to the TU.
    fn response(&mut self, response: Message) {
        let tx = self.id;
        self.events.push_back(TxEvent::Response { tx, response });
    }
}
