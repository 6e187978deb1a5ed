//! The JSON of the event stream: one message per event, `{"conversation": "c17", "type":
//! "leg_answered", "leg": 2, ...}`, snake_case, leg and dial ids as numbers. The edge's
//! types are not serde (the contract stays free of a wire format); this is the API's one
//! representation of them, and of its own messages (`conversation_started`, `lagged`).

use serde::Serialize;
use utoipa::ToSchema;
use voxgate_edge::control_plane::{
    CommandError, EndCause, Event, Inbound, LegFailure, Party, Side,
};
use voxgate_edge::handle::StampedEvent;

/// One message of `GET /v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventMessage {
    /// The conversation (`c17`); absent on messages about the stream itself (`lagged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// The event, tagged by `type`.
    #[serde(flatten)]
    pub body: EventBody,
}

impl From<&StampedEvent> for EventMessage {
    fn from(stamped: &StampedEvent) -> EventMessage {
        EventMessage {
            conversation: Some(stamped.conversation.to_string()),
            body: EventBody::from(&stamped.event),
        }
    }
}

/// What happened, by `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// An agent's state changed (no `conversation`): `logged_out`, `idle`, `available`,
    /// `reserved`, `offered`, `engaged`, `wrap_up`, with the idle or wrap-up code.
    AgentState {
        /// The agent.
        agent: String,
        /// Its state.
        state: &'static str,
        /// The idle or wrap-up code, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// A flow put the conversation in a queue (`agent:NAME` for one agent's).
    ContactQueued {
        /// The queue.
        queue: String,
    },
    /// The conversation is offered to an agent: its phone is about to ring.
    ContactOffered {
        /// The agent.
        agent: String,
    },
    /// A conversation began (sent by the API before any of its events): who decides it
    /// (`api`, `static`, `fallback` for an API route with no client connected, or `flow`
    /// for an entry point's flow) and,
    /// for an inbound call, its inbound leg.
    ConversationStarted {
        /// `api`, `static`, `fallback` or `flow`.
        control: &'static str,
        /// The inbound leg and what its INVITE said; absent for originated ones.
        #[serde(skip_serializing_if = "Option::is_none")]
        inbound: Option<InboundView>,
    },
    /// A dial started an outbound leg, or an INVITE with Replaces brought an inbound one.
    LegCreated {
        /// The new leg.
        leg: u32,
        /// The dial it belongs to (absent for a Replaces leg).
        #[serde(skip_serializing_if = "Option::is_none")]
        dial: Option<u32>,
        /// Where it goes (outbound) or its Request-URI (inbound).
        uri: String,
    },
    /// An outbound leg rings.
    LegRinging {
        /// The leg.
        leg: u32,
        /// It sent SDP (183): early media flows.
        early_media: bool,
    },
    /// A leg is answered (`early`: voxgate answered with 183 and SDP).
    LegAnswered {
        /// The leg.
        leg: u32,
        /// An early answer; the final one is to come.
        early: bool,
    },
    /// An outbound leg ended without an answer.
    LegFailed {
        /// The leg.
        leg: u32,
        /// `status`, `timeout`, `transport`, `bad_destination`, `cancelled`, `no_media`.
        failure: &'static str,
        /// The final status, for `failure` `status`.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// A leg ended.
    LegEnded {
        /// The leg.
        leg: u32,
        /// Who ended it: `caller`, `callee`, `edge`, `control`.
        side: &'static str,
        /// Why: see [`cause`].
        cause: &'static str,
        /// The status, for `cause` `rejected`.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// Every destination of a dial failed.
    DialFailed {
        /// The dial.
        dial: u32,
        /// What a caller would be told.
        status: u16,
    },
    /// Two legs' media are joined.
    Bridged {
        /// One leg.
        a: u32,
        /// The other.
        b: u32,
    },
    /// A bridge was split.
    Unbridged {
        /// One leg.
        a: u32,
        /// The other.
        b: u32,
    },
    /// A leg is on hold.
    Held {
        /// The leg.
        leg: u32,
        /// Who held it: `caller`, `callee` (its peer) or `control`.
        by: &'static str,
    },
    /// A leg is off hold.
    Resumed {
        /// The leg.
        leg: u32,
        /// Who resumed it.
        by: &'static str,
    },
    /// A leg's peer asks (REFER) to transfer its counterpart: accept or refuse it
    /// within 10 s.
    TransferRequested {
        /// The leg the REFER came on.
        leg: u32,
        /// The Refer-To URI.
        target: String,
        /// The Replaces of an attended transfer.
        #[serde(skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    /// An INVITE with Replaces took over a leg.
    LegReplaced {
        /// The replaced leg.
        old: u32,
        /// The new inbound leg.
        new: u32,
    },
    /// A DTMF digit from a leg's peer, once it ended, in the order sent; only for
    /// conversations the API controls (a flow's or a routed call's digits, a PIN or a
    /// card number, are not sent).
    Digits {
        /// The leg.
        leg: u32,
        /// The key: `0`-`9`, `*`, `#`, `A`-`D`.
        digit: String,
        /// How long it was pressed, in milliseconds (0 when an INFO did not say).
        duration_ms: u64,
        /// How it was heard: `rfc4733`, `inband` or `info`.
        source: &'static str,
    },
    /// A playback on a leg ended.
    PlaybackDone {
        /// The leg.
        leg: u32,
        /// The playback (the `playback` of the play's 202).
        id: u32,
        /// `finished`, `stopped`, `barge_in` or `replaced`.
        reason: &'static str,
    },
    /// A recording's file was created; the leg's audio is being written to it.
    RecordingStarted {
        /// The leg recorded.
        leg: u32,
        /// The recording (the `recording` of the record's 202).
        id: u32,
        /// The file, in `[media] recordings_dir`.
        file: String,
    },
    /// A recording is over and its file complete (or failed).
    RecordingDone {
        /// The leg recorded.
        leg: u32,
        /// The recording.
        id: u32,
        /// `stopped`, `leg_ended` or `failed`.
        reason: &'static str,
        /// For `failed`: `disk_full`, `unwritable` or `io` (the call goes on).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'static str>,
        /// The file.
        file: String,
        /// The audio in the file (pauses included, as silence), in milliseconds; null
        /// when the file was never created or its writer did not report in time.
        duration_ms: Option<u64>,
    },
    /// A leg joined a conference.
    ConferenceJoined {
        /// The conference (the `conference` of its 202).
        conference: u32,
        /// The leg.
        leg: u32,
        /// `speaker` or `listener`.
        role: &'static str,
        /// Whether nobody hears it.
        muted: bool,
    },
    /// A leg left its conference (on command, a bridge, hold, or its end); a conference
    /// whose last leg left is over.
    ConferenceLeft {
        /// The conference.
        conference: u32,
        /// The leg.
        leg: u32,
    },
    /// A member's role or mute changed.
    ConferenceUpdated {
        /// The conference.
        conference: u32,
        /// The leg.
        leg: u32,
        /// `speaker` or `listener`.
        role: &'static str,
        /// Whether nobody hears it.
        muted: bool,
    },
    /// A command could not be carried out; nothing else changed.
    Error {
        /// The command (`answer`, `dial`, `bridge`, ...).
        command: &'static str,
        /// Why.
        error: CommandErrorView,
    },
    /// The conversation is over; nothing follows for it.
    Ended {
        /// Who ended it.
        side: &'static str,
        /// Why.
        cause: &'static str,
        /// The status, for `cause` `rejected`.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// An event this version of the API has no JSON for yet (the edge grew one).
    Other {
        /// The event as the edge prints it.
        detail: String,
    },
    /// The follower read too slowly: `missed` messages were lost; the stream closes
    /// (code 4000). Reconnect and resynchronise with `GET /v1/conversations`.
    Lagged {
        /// How many messages it missed.
        missed: u64,
    },
}

/// An inbound leg as `conversation_started` shows it (numbers as received: the stream
/// is for authenticated clients that route on them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct InboundView {
    /// The leg (1).
    pub leg: u32,
    /// The trunk it came in on.
    pub trunk: String,
    /// Its media region.
    pub region: String,
    /// From.
    pub from: PartyView,
    /// To.
    pub to: PartyView,
    /// The Request-URI's user (the dialled number).
    pub request_user: Option<String>,
    /// Selected headers of the INVITE (P-Asserted-Identity, Privacy, Diversion, X-*), as
    /// `[name, value]` pairs.
    pub headers: Vec<(String, String)>,
}

impl From<&Inbound> for InboundView {
    fn from(i: &Inbound) -> InboundView {
        InboundView {
            leg: i.leg.0,
            trunk: i.trunk.to_string(),
            region: i.region.clone(),
            from: PartyView::from(&i.from),
            to: PartyView::from(&i.to),
            request_user: i.request_user.clone(),
            headers: i.headers.clone(),
        }
    }
}

/// One party of a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PartyView {
    /// The display name.
    pub display: Option<String>,
    /// The URI's user part.
    pub user: Option<String>,
    /// The whole URI.
    pub uri: String,
}

impl From<&Party> for PartyView {
    fn from(p: &Party) -> PartyView {
        PartyView {
            display: p.display.clone(),
            user: p.user.clone(),
            uri: p.uri.clone(),
        }
    }
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CommandErrorView {
    /// What was wrong, by `kind`, with its details.
    #[serde(flatten)]
    pub detail: CommandErrorDetail,
    /// The same in words.
    pub message: String,
}

/// A command refusal's kind and details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandErrorDetail {
    /// No such leg (never was, or ended).
    UnknownLeg {
        /// The leg named.
        leg: u32,
    },
    /// The leg's state does not allow the command.
    LegState {
        /// The leg.
        leg: u32,
        /// Its state.
        state: &'static str,
        /// What the command needs.
        wanted: &'static str,
    },
    /// A bridge of a leg with itself.
    SameLeg {
        /// The leg.
        leg: u32,
    },
    /// Too few or too many destinations.
    Destinations {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A ring timeout out of range.
    RingTimeout {
        /// The value, in milliseconds.
        ms: u64,
    },
    /// A status out of range.
    Status {
        /// The value.
        status: u16,
        /// The range allowed.
        allowed: &'static str,
    },
    /// No transfer pending on the leg.
    NoTransfer {
        /// The leg.
        leg: u32,
    },
    /// No codec common to two legs.
    NoCommonCodec {
        /// One leg.
        a: u32,
        /// The other.
        b: u32,
    },
    /// A leg without media.
    NoMedia {
        /// The leg.
        leg: u32,
    },
    /// No media ports left for a leg.
    NoPorts {
        /// The leg.
        leg: u32,
    },
    /// No prompt of that name (in the config as of the conversation's start).
    UnknownPrompt {
        /// The name.
        name: String,
    },
    /// No tone of that name.
    UnknownTone {
        /// The name.
        name: String,
    },
    /// A sequence of no prompts, or too many.
    Sequence {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// No digits, too many, or more than the leg's queue holds.
    Digits {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A digit duration out of range.
    DigitDuration {
        /// The value, in milliseconds.
        ms: u64,
    },
    /// The leg's codec is not one voxgate plays in (PCMU, PCMA on plain RTP).
    NoCodec {
        /// The leg.
        leg: u32,
    },
    /// No `[media] recordings_dir` is configured.
    RecordingOff,
    /// The leg is being recorded already.
    AlreadyRecording {
        /// The leg.
        leg: u32,
        /// The recording in progress.
        id: u32,
    },
    /// No recording in progress has this id.
    UnknownRecording {
        /// The id given.
        id: u32,
    },
    /// A conference of no legs or too many, or a join to a full one.
    ConferenceSize {
        /// How many legs it would hold.
        count: usize,
        /// The limit (16).
        limit: usize,
    },
    /// No such conference (never made, or its last leg left).
    UnknownConference {
        /// The conference.
        conference: u32,
    },
    /// The leg is in no conference.
    NotInConference {
        /// The leg.
        leg: u32,
    },
    /// A refusal this version of the API has no details for.
    Other,
}

impl From<&CommandError> for CommandErrorView {
    fn from(e: &CommandError) -> CommandErrorView {
        let detail = match e {
            CommandError::UnknownLeg { leg } => CommandErrorDetail::UnknownLeg { leg: leg.0 },
            CommandError::LegState { leg, state, wanted } => CommandErrorDetail::LegState {
                leg: leg.0,
                state,
                wanted,
            },
            CommandError::SameLeg { leg } => CommandErrorDetail::SameLeg { leg: leg.0 },
            CommandError::Destinations { count, limit } => CommandErrorDetail::Destinations {
                count: *count,
                limit: *limit,
            },
            CommandError::RingTimeout { ms } => CommandErrorDetail::RingTimeout {
                ms: u64::try_from(*ms).unwrap_or(u64::MAX),
            },
            CommandError::Status { status, allowed } => CommandErrorDetail::Status {
                status: *status,
                allowed,
            },
            CommandError::NoTransfer { leg } => CommandErrorDetail::NoTransfer { leg: leg.0 },
            CommandError::NoCommonCodec { a, b } => {
                CommandErrorDetail::NoCommonCodec { a: a.0, b: b.0 }
            }
            CommandError::NoMedia { leg } => CommandErrorDetail::NoMedia { leg: leg.0 },
            CommandError::NoPorts { leg } => CommandErrorDetail::NoPorts { leg: leg.0 },
            CommandError::UnknownPrompt { name } => {
                CommandErrorDetail::UnknownPrompt { name: name.clone() }
            }
            CommandError::UnknownTone { name } => {
                CommandErrorDetail::UnknownTone { name: name.clone() }
            }
            CommandError::Sequence { count, limit } => CommandErrorDetail::Sequence {
                count: *count,
                limit: *limit,
            },
            CommandError::Digits { count, limit } => CommandErrorDetail::Digits {
                count: *count,
                limit: *limit,
            },
            CommandError::DigitDuration { ms } => CommandErrorDetail::DigitDuration {
                ms: u64::try_from(*ms).unwrap_or(u64::MAX),
            },
            CommandError::NoCodec { leg } => CommandErrorDetail::NoCodec { leg: leg.0 },
            CommandError::RecordingOff => CommandErrorDetail::RecordingOff,
            CommandError::AlreadyRecording { leg, id } => CommandErrorDetail::AlreadyRecording {
                leg: leg.0,
                id: id.0,
            },
            CommandError::UnknownRecording { id } => {
                CommandErrorDetail::UnknownRecording { id: id.0 }
            }
            CommandError::ConferenceSize { count, limit } => CommandErrorDetail::ConferenceSize {
                count: *count,
                limit: *limit,
            },
            CommandError::UnknownConference { conference } => {
                CommandErrorDetail::UnknownConference {
                    conference: conference.0,
                }
            }
            CommandError::NotInConference { leg } => {
                CommandErrorDetail::NotInConference { leg: leg.0 }
            }
            _ => CommandErrorDetail::Other,
        };
        CommandErrorView {
            detail,
            message: e.to_string(),
        }
    }
}

/// Who, in JSON.
pub fn side(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
        Side::Edge => "edge",
        Side::Control => "control",
    }
}

/// Why a leg or a conversation ended, in JSON, and the status of `rejected`.
pub fn cause(cause: EndCause) -> (&'static str, Option<u16>) {
    let name = match cause {
        EndCause::Normal => "normal",
        EndCause::Cancelled => "cancelled",
        EndCause::Rejected(status) => return ("rejected", Some(status)),
        EndCause::MediaTimeout => "media_timeout",
        EndCause::SessionExpired => "session_expired",
        EndCause::NoAck => "no_ack",
        EndCause::Shutdown => "shutdown",
        EndCause::ControlLost => "control_lost",
        EndCause::ControlOverflow => "control_overflow",
        EndCause::Replaced => "replaced",
        EndCause::Transferred => "transferred",
        EndCause::Idle => "idle",
        _ => "other",
    };
    (name, None)
}

/// Why an outbound leg did not answer, in JSON, and the status of `status`.
pub fn failure(failure: LegFailure) -> (&'static str, Option<u16>) {
    let name = match failure {
        LegFailure::Status(status) => return ("status", Some(status)),
        LegFailure::Timeout => "timeout",
        LegFailure::Transport => "transport",
        LegFailure::BadDestination => "bad_destination",
        LegFailure::Cancelled => "cancelled",
        LegFailure::NoMedia => "no_media",
        _ => "other",
    };
    (name, None)
}

impl From<&Event> for EventBody {
    fn from(event: &Event) -> EventBody {
        match event {
            Event::LegCreated { leg, dial, uri } => EventBody::LegCreated {
                leg: leg.0,
                dial: dial.map(|d| d.0),
                uri: uri.clone(),
            },
            Event::LegRinging { leg, early_media } => EventBody::LegRinging {
                leg: leg.0,
                early_media: *early_media,
            },
            Event::LegAnswered { leg, early } => EventBody::LegAnswered {
                leg: leg.0,
                early: *early,
            },
            Event::LegFailed { leg, failure: f } => {
                let (failure, status) = failure(*f);
                EventBody::LegFailed {
                    leg: leg.0,
                    failure,
                    status,
                }
            }
            Event::LegEnded {
                leg,
                side: s,
                cause: c,
            } => {
                let (cause, status) = cause(*c);
                EventBody::LegEnded {
                    leg: leg.0,
                    side: side(*s),
                    cause,
                    status,
                }
            }
            Event::DialFailed { dial, status } => EventBody::DialFailed {
                dial: dial.0,
                status: *status,
            },
            Event::Bridged { a, b } => EventBody::Bridged { a: a.0, b: b.0 },
            Event::Unbridged { a, b } => EventBody::Unbridged { a: a.0, b: b.0 },
            Event::Held { leg, by } => EventBody::Held {
                leg: leg.0,
                by: side(*by),
            },
            Event::Resumed { leg, by } => EventBody::Resumed {
                leg: leg.0,
                by: side(*by),
            },
            Event::TransferRequested {
                leg,
                target,
                replaces,
            } => EventBody::TransferRequested {
                leg: leg.0,
                target: target.clone(),
                replaces: replaces.clone(),
            },
            Event::LegReplaced { old, new } => EventBody::LegReplaced {
                old: old.0,
                new: new.0,
            },
            Event::Digits {
                leg,
                digit,
                duration,
                source,
            } => EventBody::Digits {
                leg: leg.0,
                digit: digit.to_string(),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                source: source.as_str(),
            },
            Event::PlaybackDone { leg, id, reason } => EventBody::PlaybackDone {
                leg: leg.0,
                id: id.0,
                reason: reason.as_str(),
            },
            Event::RecordingStarted { leg, id, file } => EventBody::RecordingStarted {
                leg: leg.0,
                id: id.0,
                file: file.clone(),
            },
            Event::RecordingDone {
                leg,
                id,
                reason,
                file,
                duration,
            } => EventBody::RecordingDone {
                leg: leg.0,
                id: id.0,
                reason: reason.as_str(),
                error: reason.failure().map(|e| e.as_str()),
                file: file.clone(),
                duration_ms: duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
            Event::ConferenceJoined {
                conference,
                leg,
                role,
                muted,
            } => EventBody::ConferenceJoined {
                conference: conference.0,
                leg: leg.0,
                role: role.as_str(),
                muted: *muted,
            },
            Event::ConferenceLeft { conference, leg } => EventBody::ConferenceLeft {
                conference: conference.0,
                leg: leg.0,
            },
            Event::ConferenceUpdated {
                conference,
                leg,
                role,
                muted,
            } => EventBody::ConferenceUpdated {
                conference: conference.0,
                leg: leg.0,
                role: role.as_str(),
                muted: *muted,
            },
            Event::Error { command, error } => EventBody::Error {
                command,
                error: CommandErrorView::from(error),
            },
            Event::Ended { side: s, cause: c } => {
                let (cause, status) = cause(*c);
                EventBody::Ended {
                    side: side(*s),
                    cause,
                    status,
                }
            }
            other => EventBody::Other {
                detail: format!("{other:?}"),
            },
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
