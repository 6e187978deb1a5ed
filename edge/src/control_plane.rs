//! The control-plane contract: per conversation, events flow in and commands
//! flow out, over channels. The edge executes commands; a control plane never
//! touches sockets. `voxgate-control` is the bundled implementation; another
//! control plane is another crate implementing [`ControlPlane`].
//!
//! A **conversation** is what one edge actor owns: any number of **legs** (each
//! one SIP dialog plus one media endpoint) and the **bridges** between them.
//! An INVITE from a trunk starts one with its inbound leg ([`ControlPlane::incoming`]);
//! [`EdgeHandle::originate`] starts one with no leg at all (callbacks,
//! click-to-dial). Leg ids are stable and never reused within a conversation.
//!
//! A **conference** (`Conference`) mixes up to [`MAX_CONFERENCE`] legs: each
//! hears the others and not itself; legs join, leave, are muted or listen
//! only on command (`ConferenceJoined`, `ConferenceLeft`, `ConferenceUpdated`).
//! A leg is in at most one bridge or conference.
//!
//! Events come in the order things happened: a leg's `LegEnded` before the
//! `Unbridged` of its bridge (or its `ConferenceLeft`); `Unbridged` at once on `Hold` and `Bridged` at
//! once on `Resume` or `Bridge` (media moves now), `Held`/`Resumed` once the
//! leg's peer accepted the re-INVITE; a recording's `RecordingDone` once its
//! file is complete (after its leg's `LegEnded` when the leg ended first);
//! `Ended` last, once the conversation's last transactions settled (at most
//! 64×T1 after its last leg ended, when a peer does not answer our BYE) and
//! its recordings' files are complete (at most [`RECORDING_WAIT`] after).
//!
//! Delivery is lossless and ordered both ways. Commands: `commands.send(..).await`
//! waits while the conversation's queue ([`COMMAND_QUEUE`]) is full. Events: the
//! edge never waits for a control plane; a conversation whose control plane
//! leaves more than [`EVENT_QUEUE`] events unread is ended with
//! [`EndCause::ControlOverflow`] (counted in `voxgate_control_overflows_total`),
//! and its final [`Event::Ended`] is still delivered.
//!
//! ```
//! use voxgate_edge::control_plane::{Command, ControlPlane, Event, Session};
//!
//! /// Answers every call itself, then hangs up when the caller does.
//! struct AnswerAll;
//!
//! impl ControlPlane for AnswerAll {
//!     fn incoming(&self, session: Session) {
//!         let Session { info, mut events, commands } = session;
//!         let Some(inbound) = info.inbound else { return };
//!         tokio::spawn(async move {
//!             let answer = Command::Answer { leg: inbound.leg, early: false };
//!             if commands.send(answer).await.is_err() {
//!                 return; // the conversation is over
//!             }
//!             while let Some(event) = events.recv().await {
//!                 if let Event::Ended { .. } = event {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```

use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;
use voxgate_config::TrunkName;
use voxgate_sip::TransportKind;

pub use crate::handle::{ConversationSummary, EdgeHandle, LegSummary, OriginateError};
pub use error::CommandError;
pub use recording::{RecordLayout, RecordingEnd, RecordingFailure, RecordingId};
pub use voxgate_media::dtmf::{Digit, DigitSource};

mod error;
mod recording;

/// Commands a conversation queues before `commands.send` waits.
pub const COMMAND_QUEUE: usize = 64;

/// Events a control plane may leave unread before its conversation is ended
/// with [`EndCause::ControlOverflow`].
pub const EVENT_QUEUE: usize = 256;

/// Destinations one dial may name.
pub const MAX_DESTINATIONS: usize = 16;

/// The longest ring timeout a dial may ask for.
pub const MAX_RING_TIMEOUT: Duration = Duration::from_secs(3600);

/// Digits one `SendDigits` may name (the RFC 4733 generator's queue).
pub const MAX_DIGITS: usize = voxgate_media::dtmf::generator::QUEUE_LEN;

/// How long each sent digit lasts unless `SendDigits` says.
pub const DEFAULT_DIGIT_DURATION: Duration = Duration::from_millis(100);

/// The shortest and longest digit `SendDigits` may ask for.
pub const DIGIT_DURATION: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(40)..=Duration::from_millis(5000);

/// How long an ending conversation waits for its recordings' files to be
/// complete before its `Ended` (their `RecordingDone` then has no duration).
pub const RECORDING_WAIT: Duration = Duration::from_secs(2);

/// Prompts one `Play` of a sequence may name.
pub const MAX_SEQUENCE: usize = 32;

/// Legs one conference may hold.
pub const MAX_CONFERENCE: usize = voxgate_media::mixer::MAX_PARTICIPANTS;

/// Decides what happens to conversations. One `incoming` per inbound
/// conversation; the plane may spawn a task per conversation (one isolated
/// flow instance per call) that reads `events` and writes `commands` until
/// [`Event::Ended`].
pub trait ControlPlane: Send + Sync + 'static {
    /// A new inbound conversation (an INVITE from a trunk). Called on the
    /// edge's core task: must not block or await; spawn a task for anything
    /// that takes time.
    fn incoming(&self, session: Session);

    /// The edge is up: `edge` originates conversations, lists them and hangs
    /// them up. Called once, before any `incoming`.
    fn started(&self, edge: EdgeHandle) {
        let _ = edge;
    }
}

/// Identifies a conversation for the life of the process (logs, `/calls`,
/// CDRs, the API). Shown as `c17`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId(pub u64);

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// As shown: `"c17"`, the id the API and the logs use.
impl serde::Serialize for ConversationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A leg of a conversation, numbered from 1 in order of creation; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A dial of a conversation: its `Dial` commands (and accepted transfers) are
/// numbered from 1 in the order the conversation receives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialId(pub u32);

impl fmt::Display for DialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A playback of a conversation: its `Play` commands are numbered from 1 in
/// the order the conversation receives them (refused ones too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaybackId(pub u32);

impl fmt::Display for PlaybackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A conference of a conversation: its `Conference` commands are numbered
/// from 1 in the order the conversation receives them (refused ones too).
/// It lasts while a leg is in it; its id is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceId(pub u32);

impl fmt::Display for ConferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a leg does in a conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConferenceRole {
    /// Heard by the others (unless muted), hears them all.
    Speaker,
    /// Listen-only (a supervisor monitoring): hears everyone, heard by nobody.
    Listener,
}

impl ConferenceRole {
    /// Its name in JSON: `speaker`, `listener`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConferenceRole::Speaker => "speaker",
            ConferenceRole::Listener => "listener",
        }
    }
}

/// What `Play` plays. Prompts are named by `[[prompt]]` (or `[media]
/// prompts_dir`); tones by name from the `[media] tone_profile` country:
/// `ringback`, `busy` (until stopped), `beep`, `sit` (once).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaySource {
    /// One prompt, once.
    Prompt(String),
    /// Prompts one after the other without a gap (1 to [`MAX_SEQUENCE`]).
    Prompts(Vec<String>),
    /// A call-progress tone of the country profile.
    Tone(String),
    /// Music on hold: a prompt looped until stopped or replaced.
    Music(String),
}

/// Why a playback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaybackEnd {
    /// It played to its end.
    Finished,
    /// `StopMedia`, or its leg left the conversation.
    Stopped,
    /// A digit arrived on the leg and it was started with `barge_in`.
    BargeIn,
    /// Another `Play` on the leg took its place.
    Replaced,
}

impl PlaybackEnd {
    /// Its name in JSON and metrics: `finished`, `stopped`, `barge_in`, `replaced`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlaybackEnd::Finished => "finished",
            PlaybackEnd::Stopped => "stopped",
            PlaybackEnd::BargeIn => "barge_in",
            PlaybackEnd::Replaced => "replaced",
        }
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

/// The inbound leg of a conversation and what its INVITE said.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Inbound {
    /// The leg.
    pub leg: LegId,
    /// The trunk it came in on.
    pub trunk: TrunkName,
    /// The media region it is anchored in.
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

impl Inbound {
    /// An inbound leg's info with no selected headers (for control planes' tests).
    pub fn new(
        leg: LegId,
        trunk: TrunkName,
        region: String,
        from: Party,
        to: Party,
        request_user: Option<String>,
    ) -> Inbound {
        Inbound {
            leg,
            trunk,
            region,
            from,
            to,
            request_user,
            headers: Vec::new(),
        }
    }
}

/// What the control plane learns about a new conversation.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConversationInfo {
    /// The conversation's id.
    pub id: ConversationId,
    /// The inbound leg; `None` for an originated conversation.
    pub inbound: Option<Inbound>,
}

impl ConversationInfo {
    /// The info of a conversation (for control planes' tests).
    pub fn new(id: ConversationId, inbound: Option<Inbound>) -> ConversationInfo {
        ConversationInfo { id, inbound }
    }
}

/// The control plane's end of one conversation.
#[derive(Debug)]
pub struct Session {
    /// About the conversation.
    pub info: ConversationInfo,
    /// Events from the edge, in order, ending with [`Event::Ended`].
    pub events: mpsc::Receiver<Event>,
    /// Commands to the edge, executed in order. Closing it while legs are
    /// up that no bridge carries hangs those up ([`EndCause::ControlLost`]).
    pub commands: mpsc::Sender<Command>,
}

/// Why an outbound leg did not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegFailure {
    /// A final non-2xx response with this status.
    Status(u16),
    /// No final response in time (timer B, the trying timeout or the ring timeout).
    Timeout,
    /// The transport could not reach the destination.
    Transport,
    /// The destination could not be used (bad URI, unknown trunk, no address,
    /// a redirection to a place no trunk allows).
    BadDestination,
    /// voxgate cancelled it: another leg of the dial answered, or the dial
    /// was hung up. A destination whose 2xx crossed the CANCEL is ACKed and
    /// hung up at once (RFC 3261 §13.2.2.4) and reported so too: it lost the
    /// race and never joined the conversation.
    Cancelled,
    /// No media ports were left in its region.
    NoMedia,
}

/// Which side ended a leg or a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The peer of an inbound leg (the calling party).
    Caller,
    /// The peer of an outbound leg (a called party).
    Callee,
    /// voxgate itself (media timeout, session timer, shutdown, error).
    Edge,
    /// The control plane (Reject or Hangup).
    Control,
}

/// Why a leg or a conversation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// A BYE after answer.
    Normal,
    /// The caller cancelled before answer.
    Cancelled,
    /// Rejected with this status (by the control plane, or every destination failed with it).
    Rejected(u16),
    /// No media for the configured time while no leg was on hold.
    MediaTimeout,
    /// A session timer (RFC 4028) expired without a refresh, or an
    /// in-dialog request timed out.
    SessionExpired,
    /// No ACK for our 2xx (RFC 3261 §13.3.1.4).
    NoAck,
    /// The node is stopping.
    Shutdown,
    /// The control plane went away while legs needed it.
    ControlLost,
    /// The control plane left more than [`EVENT_QUEUE`] events unread, or the
    /// conversation's input queue overflowed.
    ControlOverflow,
    /// An INVITE with Replaces (RFC 3891) took the leg's place.
    Replaced,
    /// The leg was transferred away (REFER, RFC 3515) and hung up.
    Transferred,
    /// An originated conversation got no dial in time.
    Idle,
}

/// What the edge tells the control plane about a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A dial started an outbound leg (one per destination tried), or an
    /// INVITE with Replaces brought a new inbound leg (`dial` `None`).
    LegCreated {
        /// The new leg.
        leg: LegId,
        /// The dial it belongs to.
        dial: Option<DialId>,
        /// Where it goes (outbound) or the Request-URI (inbound).
        uri: String,
    },
    /// An outbound leg rings; `early_media` when it sent SDP (183).
    LegRinging {
        /// Which leg.
        leg: LegId,
        /// Early media flows.
        early_media: bool,
    },
    /// A leg is answered: an outbound leg's 2xx, or our own answer on an
    /// inbound leg (also the early one of `Answer { early: true }`, then
    /// `early` is true).
    LegAnswered {
        /// Which leg.
        leg: LegId,
        /// voxgate answered early (183 with SDP), the final answer is to come.
        early: bool,
    },
    /// An outbound leg ended without an answer.
    LegFailed {
        /// Which leg.
        leg: LegId,
        /// Why.
        failure: LegFailure,
    },
    /// An answered leg (or an unanswered inbound one) ended.
    LegEnded {
        /// Which leg.
        leg: LegId,
        /// Who ended it.
        side: Side,
        /// Why.
        cause: EndCause,
    },
    /// Every destination of a dial failed; `status` is what a caller would be
    /// told (a downstream 503 is 500: a 503 from us means this node).
    DialFailed {
        /// The dial.
        dial: DialId,
        /// The status.
        status: u16,
    },
    /// Two legs' media are joined.
    Bridged {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// A bridge was split (by command, hold, or a leg's end).
    Unbridged {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// A leg is on hold: its peer held it (`by` Caller or Callee), or voxgate did
    /// on command (`by` Control).
    Held {
        /// Which leg.
        leg: LegId,
        /// Who.
        by: Side,
    },
    /// A leg is off hold.
    Resumed {
        /// Which leg.
        leg: LegId,
        /// Who.
        by: Side,
    },
    /// A leg's peer asks, by REFER (RFC 3515), to transfer its counterpart to
    /// `target`. Answer with `AcceptTransfer` or `RefuseTransfer`; with no
    /// answer in 10 s it is refused.
    TransferRequested {
        /// The leg the REFER came on.
        leg: LegId,
        /// The Refer-To URI, without its embedded headers.
        target: String,
        /// The Replaces of the Refer-To (attended transfer), if any.
        replaces: Option<String>,
    },
    /// An INVITE with Replaces (RFC 3891) took over a leg: `new` was
    /// answered, put in `old`'s bridge, and `old` hung up.
    LegReplaced {
        /// The replaced leg.
        old: LegId,
        /// The new inbound leg.
        new: LegId,
    },
    /// A DTMF digit from a leg's peer, reported once when it ended, in the
    /// order the leg sent them: RFC 4733 events (the three end packets count
    /// once; an event whose end never comes ends 500 ms after its last
    /// packet), in-band tones on a leg that negotiated no telephone-event,
    /// or a SIP INFO (`application/dtmf-relay`, `application/dtmf`; answered
    /// 200). A digit that starts while a `barge_in` playback plays on the leg
    /// stops it first (its `PlaybackDone` comes before the digit).
    Digits {
        /// The leg.
        leg: LegId,
        /// The key.
        digit: Digit,
        /// How long it was pressed (as the sender says; an INFO without
        /// `Duration` says zero).
        duration: Duration,
        /// How it was heard.
        source: DigitSource,
    },
    /// A playback on a leg ended (once per `Play` that was carried out).
    PlaybackDone {
        /// The leg.
        leg: LegId,
        /// The playback.
        id: PlaybackId,
        /// Why.
        reason: PlaybackEnd,
    },
    /// A recording's file was created; audio is being written to it.
    RecordingStarted {
        /// The leg recorded.
        leg: LegId,
        /// The recording.
        id: RecordingId,
        /// The file (in `[media] recordings_dir`).
        file: String,
    },
    /// A recording is over (once per `Record` that was carried out, after
    /// its `RecordingStarted` unless its file could not even be created):
    /// stopped, its leg ended (it then follows the leg's `LegEnded`), or
    /// its file failed (disk full, unwritable folder: the call goes on).
    /// It always comes before `Ended`.
    RecordingDone {
        /// The leg recorded.
        leg: LegId,
        /// The recording.
        id: RecordingId,
        /// Why it ended.
        reason: RecordingEnd,
        /// The file (complete up to the end, or to the failure).
        file: String,
        /// The audio in the file (pauses included, as silence); `None` when
        /// its writer did not report in time (the node is stopping, a disk
        /// stalled) or the file was never created.
        duration: Option<Duration>,
    },
    /// A leg joined a conference (`Conference`, `JoinConference`, or an
    /// INVITE with Replaces taking a member's place).
    ConferenceJoined {
        /// The conference.
        conference: ConferenceId,
        /// The leg.
        leg: LegId,
        /// Its role.
        role: ConferenceRole,
        /// Whether it is muted.
        muted: bool,
    },
    /// A leg left its conference (`LeaveConference`, `Unbridge`, `Bridge`,
    /// `Hold`, another conference, or its end: then after its `LegEnded`).
    /// A conference whose last leg left is over.
    ConferenceLeft {
        /// The conference.
        conference: ConferenceId,
        /// The leg.
        leg: LegId,
    },
    /// A member's role or mute changed (`Mute`, `SetRole`, `JoinConference`
    /// of a member).
    ConferenceUpdated {
        /// The conference.
        conference: ConferenceId,
        /// The leg.
        leg: LegId,
        /// Its role.
        role: ConferenceRole,
        /// Whether it is muted.
        muted: bool,
    },
    /// A command could not be carried out; nothing else changed.
    Error {
        /// The command's name (`answer`, `dial`, `bridge`, ...).
        command: &'static str,
        /// Why.
        error: CommandError,
    },
    /// The conversation is over; no more events follow.
    Ended {
        /// Who ended it.
        side: Side,
        /// Why.
        cause: EndCause,
    },
}

/// Where to send a dial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// A `sip:` or `sips:` URI; its host is an IP address or a name.
    pub uri: String,
    /// The transport to use.
    pub transport: TransportKind,
    /// The trunk this destination belongs to (its TLS peer name, media region
    /// and allow-list), if any.
    pub trunk: Option<TrunkName>,
}

/// The identity an outbound leg presents (its From).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerId {
    /// The display name.
    pub display: Option<String>,
    /// The user part (a number).
    pub user: Option<String>,
}

/// An outbound dial: one leg per destination tried.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dial {
    /// The destinations, tried in order (or all at once when `parallel`).
    /// Sequentially, the next one is tried on 408, 5xx, no answer in time or a
    /// transport failure; any other final status ends the dial.
    pub destinations: Vec<Destination>,
    /// Ring every destination at once: the first 2xx wins, the others are
    /// cancelled, and a later 2xx is ACKed and BYEd.
    pub parallel: bool,
    /// How long a leg may ring before it is cancelled (default `[calls]
    /// ring_timeout_s`); 1 s..=3600 s.
    pub ring_timeout: Option<Duration>,
    /// The From presented; default: the inbound leg's caller for a connect,
    /// else none.
    pub caller_id: Option<CallerId>,
    /// Follow 3xx redirections to destinations of configured trunks (at most
    /// 5 hops, never twice the same URI); off by default.
    pub follow_redirects: bool,
    /// Connect the answering leg to this leg. For an inbound leg not yet
    /// answered, the classic B2BUA connection: its SDP is offered to the
    /// destinations, progress and early media are passed back to it, the
    /// answer answers it, and in-dialog offers pass through between the two
    /// until a command rearranges their media (a link); when every destination
    /// fails it is rejected with the dial's status; when one of two linked legs
    /// ends, so does the other. For an answered leg: voxgate offers its own SDP
    /// and bridges the two on answer.
    pub connect: Option<LegId>,
}

impl Dial {
    /// A sequential dial of `destinations` with the defaults.
    pub fn new(destinations: Vec<Destination>) -> Dial {
        Dial {
            destinations,
            parallel: false,
            ring_timeout: None,
            caller_id: None,
            follow_redirects: false,
            connect: None,
        }
    }

    /// Connects the answering leg to `leg` (see [`Dial::connect`]).
    pub fn connect(mut self, leg: LegId) -> Dial {
        self.connect = Some(leg);
        self
    }

    /// Rings every destination at once.
    pub fn parallel(mut self) -> Dial {
        self.parallel = true;
        self
    }

    /// Rings every destination at once when `parallel`.
    pub fn parallel_if(mut self, parallel: bool) -> Dial {
        self.parallel = parallel;
        self
    }

    /// Sets the ring timeout.
    pub fn ring_timeout(mut self, timeout: Duration) -> Dial {
        self.ring_timeout = Some(timeout);
        self
    }

    /// Sets the identity presented.
    pub fn caller_id(mut self, caller_id: CallerId) -> Dial {
        self.caller_id = Some(caller_id);
        self
    }

    /// Follows 3xx redirections.
    pub fn follow_redirects(mut self, follow: bool) -> Dial {
        self.follow_redirects = follow;
        self
    }
}

/// What the control plane asks the edge to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Refuse the inbound leg before answer with a final status (4xx–6xx).
    Reject {
        /// The status code.
        status: u16,
        /// The reason phrase; the standard one when `None`.
        reason: Option<String>,
    },
    /// voxgate answers an inbound leg itself, with its own SDP (offer/answer
    /// from the trunk's codecs; 488 when nothing is common): `early` sends
    /// 183 with SDP (announcements before answer), else 200.
    Answer {
        /// The inbound leg.
        leg: LegId,
        /// 183 with SDP instead of 200.
        early: bool,
    },
    /// Start outbound legs; see [`Dial`]. Its id is the count of dials so far.
    Dial(Dial),
    /// Join two answered legs' media (each leaves any bridge it was in; a leg
    /// voxgate holds is resumed). A re-INVITE is sent only when a leg's codec
    /// or direction must change.
    Bridge {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// Take a leg out of its bridge (or conference): voxgate terminates its media.
    Unbridge {
        /// The leg.
        leg: LegId,
    },
    /// Put a leg on hold: out of its bridge or conference, re-INVITE with
    /// `sendonly` (or `inactive` when its peer holds too).
    Hold {
        /// The leg.
        leg: LegId,
    },
    /// Take a leg off hold (re-INVITE `sendrecv`) and back into the bridge it
    /// left, if its partner is still free, or the conference it left, if it
    /// still lasts and has room.
    Resume {
        /// The leg.
        leg: LegId,
    },
    /// End one leg (`leg`) or every leg (`None`): BYE once answered, CANCEL
    /// (outbound) or a final response (inbound, `status`, default 480) before.
    Hangup {
        /// The leg; all when `None`.
        leg: Option<LegId>,
        /// The status for an inbound leg not yet answered (4xx–6xx).
        status: Option<u16>,
    },
    /// Accept the REFER pending on `leg`: 202, a NOTIFY with `100 Trying`,
    /// then `dial` (its `connect` defaults to the leg bridged with `leg`), and
    /// a NOTIFY with the final status of the dial.
    AcceptTransfer {
        /// The leg the REFER came on.
        leg: LegId,
        /// Where to.
        dial: Dial,
    },
    /// Refuse the REFER pending on `leg` (603 Decline).
    RefuseTransfer {
        /// The leg the REFER came on.
        leg: LegId,
    },
    /// Play to an answered (or early-answered) leg, replacing what plays on
    /// it. To a leg in no bridge voxgate sends its own RTP in the leg's
    /// negotiated G.711 codec, 20 ms frames; to a bridged leg the media of
    /// its partner is held back while it plays (the partner still hears the
    /// leg). Its id is the count of `Play` commands so far; its end comes as
    /// [`Event::PlaybackDone`].
    Play {
        /// The leg.
        leg: LegId,
        /// What to play.
        source: PlaySource,
        /// A digit from the leg stops it.
        barge_in: bool,
    },
    /// Stop what plays on a leg (its `PlaybackDone` says `stopped`) and drop
    /// the digits not yet sent.
    StopMedia {
        /// The leg.
        leg: LegId,
    },
    /// Record an answered (or early-answered) leg to a WAV file in `[media]
    /// recordings_dir` (8 kHz, 16-bit PCM), named by the conversation's
    /// start, its id, the leg and the recording's id
    /// (`20261204T104126Z-c17-leg1-2.wav`). `Mono`: what the leg's peer
    /// sends; `Stereo`: that on channel 0 and what is sent to the leg on
    /// channel 1 (its bridge partner, or voxgate's prompts), time-aligned,
    /// silence where a side is quiet. The leg must speak PCMU or PCMA in
    /// plain RTP or SDES-SRTP voxgate terminates (else `NoCodec`), and have
    /// no recording in progress. Its id is the count of `Record` commands so
    /// far; [`Event::RecordingStarted`] comes once the file exists,
    /// [`Event::RecordingDone`] at the end. The file is written off the
    /// media path and made whole every second: a crash loses at most about
    /// a second.
    Record {
        /// The leg.
        leg: LegId,
        /// One channel or both directions.
        layout: RecordLayout,
    },
    /// Write silence instead of the leg's audio (a card number being given)
    /// until `ResumeRecording`: the file keeps the call's timeline, not
    /// what was said or keyed.
    PauseRecording {
        /// The recording.
        id: RecordingId,
    },
    /// Write the leg's audio again after `PauseRecording`.
    ResumeRecording {
        /// The recording.
        id: RecordingId,
    },
    /// Stop a recording: its file is completed, then `RecordingDone` (`stopped`).
    StopRecording {
        /// The recording.
        id: RecordingId,
    },
    /// Mix legs in a new conference: each hears all the others and not
    /// itself, whichever G.711 law each negotiated (decoded, summed, encoded
    /// per leg; no re-INVITE). 1 to [`MAX_CONFERENCE`] answered legs with
    /// PCMU or PCMA on plain RTP or SDES-SRTP, all speakers, not muted; each
    /// leaves the bridge or conference it was in, and a leg voxgate holds is
    /// resumed. The conference is paced by a clock of its own: a leg whose
    /// packets are late or lost does not delay the others. Its id is the
    /// count of `Conference` commands so far. (`Bridge` of two legs stays the
    /// zero-copy relay; a conference stays a conference whatever its size.)
    Conference {
        /// The legs.
        legs: Vec<LegId>,
    },
    /// Add a leg to a conference (out of its bridge or other conference);
    /// for a member, a change of role.
    JoinConference {
        /// The conference.
        conference: ConferenceId,
        /// The leg (answered, PCMU or PCMA).
        leg: LegId,
        /// Speaker, or listener (listen-only).
        role: ConferenceRole,
    },
    /// Take a leg out of its conference: voxgate terminates its media (as
    /// `Unbridge` does).
    LeaveConference {
        /// The leg.
        leg: LegId,
    },
    /// Mute or unmute a leg in its conference: muted, nobody hears it; it
    /// still hears everyone.
    Mute {
        /// The leg.
        leg: LegId,
        /// Muted or not.
        muted: bool,
    },
    /// Change a leg's role in its conference: listener (listen-only, a
    /// supervisor monitoring) or speaker (a supervisor barging in).
    SetRole {
        /// The leg.
        leg: LegId,
        /// The new role.
        role: ConferenceRole,
    },
    /// Send DTMF digits to a leg: RFC 4733 telephone-events in its RTP when
    /// it negotiated telephone-event (a bridged leg's partner media is held
    /// back meanwhile), else one SIP INFO `application/dtmf-relay` per digit,
    /// each sent once the previous one was answered.
    SendDigits {
        /// The leg.
        leg: LegId,
        /// 1 to [`MAX_DIGITS`] digits.
        digits: Vec<Digit>,
        /// How long each lasts (default [`DEFAULT_DIGIT_DURATION`]; 40..=5000 ms).
        duration: Option<Duration>,
    },
}

impl Command {
    /// The command's name, as in [`Event::Error`] and the API.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Reject { .. } => "reject",
            Command::Answer { .. } => "answer",
            Command::Dial(_) => "dial",
            Command::Bridge { .. } => "bridge",
            Command::Unbridge { .. } => "unbridge",
            Command::Hold { .. } => "hold",
            Command::Resume { .. } => "resume",
            Command::Hangup { .. } => "hangup",
            Command::AcceptTransfer { .. } => "accept_transfer",
            Command::RefuseTransfer { .. } => "refuse_transfer",
            Command::Play { .. } => "play",
            Command::StopMedia { .. } => "stop_media",
            Command::SendDigits { .. } => "send_digits",
            Command::Record { .. } => "record",
            Command::PauseRecording { .. } => "pause_recording",
            Command::ResumeRecording { .. } => "resume_recording",
            Command::StopRecording { .. } => "stop_recording",
            Command::Conference { .. } => "conference",
            Command::JoinConference { .. } => "join_conference",
            Command::LeaveConference { .. } => "leave_conference",
            Command::Mute { .. } => "mute",
            Command::SetRole { .. } => "set_role",
        }
    }
}
