//! The control-plane contract: per call, events flow in and commands flow
//! out, over channels. The edge executes commands; a control plane never
//! touches sockets. `voxgate-control` is the bundled implementation; another
//! control plane is another crate implementing [`ControlPlane`].
//!
//! ```
//! use voxgate_edge::control_plane::{CallCommand, CallEvent, CallSession, ControlPlane};
//!
//! /// Refuses every call with 403.
//! struct Deny;
//!
//! impl ControlPlane for Deny {
//!     fn incoming(&self, session: CallSession) {
//!         // Never blocks: a full channel means the call is gone or busy.
//!         let _ = session.commands.try_send(CallCommand::Reject { status: 403, reason: None });
//!     }
//! }
//! ```

use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;
use voxgate_config::TrunkName;
use voxgate_sip::TransportKind;

/// Decides what happens to calls. One `incoming` per new call; the plane may
/// spawn a task per call (one isolated flow instance per call) that reads
/// `events` and writes `commands` until `CallEvent::Ended`.
pub trait ControlPlane: Send + Sync + 'static {
    /// A new call arrived. Called on the edge's core task: must not block or
    /// await; spawn a task for anything that takes time.
    fn incoming(&self, session: CallSession);
}

/// Identifies a call for the life of the process (in logs, `/calls`, CDRs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// One party of a call as the carrier presented it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The display name, unquoted, if any.
    pub display: Option<String>,
    /// The user part of the URI (a number, for PSTN calls), if any.
    pub user: Option<String>,
    /// The whole URI.
    pub uri: String,
}

/// What the control plane learns about a new call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CallInfo {
    /// The call's id.
    pub id: CallRef,
    /// The trunk the call came in on.
    pub trunk: TrunkName,
    /// The media region the A-leg is anchored in.
    pub region: String,
    /// From.
    pub from: Party,
    /// To.
    pub to: Party,
    /// The Request-URI's user part (the dialled number), if any.
    pub request_user: Option<String>,
    /// Selected headers of the INVITE (P-Asserted-Identity, Privacy,
    /// Diversion, X-*), name and value as received.
    pub headers: Vec<(String, String)>,
}

impl CallInfo {
    /// A call's info with no selected headers (for control planes' tests).
    pub fn new(
        id: CallRef,
        trunk: TrunkName,
        region: String,
        from: Party,
        to: Party,
        request_user: Option<String>,
    ) -> CallInfo {
        CallInfo {
            id,
            trunk,
            region,
            from,
            to,
            request_user,
            headers: Vec::new(),
        }
    }
}

/// The control plane's end of one call.
#[derive(Debug)]
pub struct CallSession {
    /// About the call.
    pub info: CallInfo,
    /// Events from the edge, ending with `CallEvent::Ended`.
    pub events: mpsc::Receiver<CallEvent>,
    /// Commands to the edge.
    pub commands: mpsc::Sender<CallCommand>,
}

/// A leg of a call: the inbound leg, or an outbound attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The leg the call came in on.
    A,
    /// The n-th outbound leg (attempts are numbered from 1).
    B(u32),
}

/// Why an outbound leg did not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegFailure {
    /// A final non-2xx response with this status.
    Status(u16),
    /// No final response in time (timer B, or the ring timeout).
    Timeout,
    /// The transport could not reach the destination.
    Transport,
    /// The destination URI could not be used (bad URI, unknown trunk, no address).
    BadDestination,
}

/// Which side ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The calling party (A-leg).
    Caller,
    /// The called party (B-leg).
    Callee,
    /// voxgate itself (media timeout, session timer, shutdown, error).
    Edge,
    /// The control plane (Reject or Hangup).
    Control,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// A BYE after answer.
    Normal,
    /// The caller cancelled before answer.
    Cancelled,
    /// Rejected with this status (by the control plane, or every destination failed with it).
    Rejected(u16),
    /// No media for the configured time while not on hold.
    MediaTimeout,
    /// A session timer (RFC 4028) expired without a refresh.
    SessionExpired,
    /// No ACK for our 2xx (RFC 3261 §13.3.1.4).
    NoAck,
    /// The node is stopping.
    Shutdown,
    /// The control plane went away without deciding.
    ControlLost,
}

/// What the edge tells the control plane about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEvent {
    /// An outbound leg rings; `early_media` when it sent SDP (183).
    Ringing {
        /// Which leg.
        leg: LegId,
        /// Early media flows.
        early_media: bool,
    },
    /// An outbound leg answered; the legs are bridged.
    Answered {
        /// Which leg.
        leg: LegId,
    },
    /// An outbound attempt failed; the edge goes on with the next destination if any.
    LegFailed {
        /// Which leg.
        leg: LegId,
        /// Why.
        failure: LegFailure,
    },
    /// A leg put the call on hold.
    Held {
        /// Which leg.
        leg: LegId,
    },
    /// A leg resumed the call.
    Resumed {
        /// Which leg.
        leg: LegId,
    },
    /// The call is over; no more events follow.
    Ended {
        /// Who ended it.
        side: Side,
        /// Why.
        cause: EndCause,
    },
}

/// Where to send the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// A `sip:` or `sips:` URI; its host is an IP address or a name.
    pub uri: String,
    /// The transport to use.
    pub transport: TransportKind,
    /// The trunk this destination belongs to (its TLS peer name and media region), if any.
    pub trunk: Option<TrunkName>,
}

/// What the control plane asks the edge to do with a call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallCommand {
    /// Refuse the call before answer with a final status (4xx–6xx).
    Reject {
        /// The status code.
        status: u16,
        /// The reason phrase; the standard one when `None`.
        reason: Option<String>,
    },
    /// Try the destinations in order: the next one is tried on 408, 5xx,
    /// timeout or transport failure; any other final status ends the call.
    Connect {
        /// Ordered destinations.
        destinations: Vec<Destination>,
        /// How long an attempt may ring before it is cancelled (default 60 s).
        ring_timeout: Option<Duration>,
        /// Follow 3xx redirections (Contact of the 3xx tried next); off by default.
        follow_redirects: bool,
    },
    /// End the call (before answer: 480 to the caller; after: BYE both legs).
    Hangup,
}
