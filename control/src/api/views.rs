//! What the API answers: conversations and legs as listed and inspected, what a command
//! was accepted as, and refusals. Its own types rather than the edge's summaries, so the
//! API's JSON (and its OpenAPI schema) changes only when the API does.

use serde::Serialize;
use utoipa::ToSchema;
use voxgate_edge::control_plane::{ConversationSummary, LegSummary};

use crate::ControlError;

/// A live conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConversationView {
    /// Its id, such as `c17`.
    pub id: String,
    /// Who decides it: `api` (commands are taken) or `other` (the static router, a
    /// fallback: only the operator's DELETE is taken).
    pub control: &'static str,
    /// The inbound trunk, if it has an inbound leg.
    pub trunk: Option<String>,
    /// The media region of the inbound leg.
    pub region: String,
    /// The caller's number (redacted unless `[logging] redact_numbers = false`).
    pub from: Option<String>,
    /// The dialled number (redacted likewise).
    pub to: Option<String>,
    /// `routing`, `connecting`, `ringing`, `answered` or `ending`.
    pub state: &'static str,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it was first answered.
    pub answered: Option<String>,
    /// Its legs, live and ended, in order.
    pub legs: Vec<LegView>,
}

impl ConversationView {
    /// The view of `summary`; `api` when the API controls it.
    pub fn new(summary: ConversationSummary, api: bool) -> ConversationView {
        ConversationView {
            id: summary.id,
            control: if api { "api" } else { "other" },
            trunk: summary.trunk,
            region: summary.region,
            from: summary.from,
            to: summary.to,
            state: summary.state,
            started: summary.started,
            answered: summary.answered,
            legs: summary.legs.into_iter().map(LegView::from).collect(),
        }
    }
}

/// One leg of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LegView {
    /// Its id within the conversation.
    pub id: u32,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// `trying`, `ringing`, `early`, `answered`, `held`, `ended` or `failed`.
    pub state: &'static str,
    /// Its trunk, if any.
    pub trunk: Option<String>,
    /// The leg it is bridged with.
    pub bridged_with: Option<u32>,
    /// The conference it is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference: Option<u32>,
    /// Held by its peer or by voxgate.
    pub held: bool,
    /// voxgate's RTP port for it, once anchored.
    pub rtp_port: Option<u16>,
}

impl From<LegSummary> for LegView {
    fn from(l: LegSummary) -> LegView {
        LegView {
            id: l.id,
            direction: l.direction,
            state: l.state,
            trunk: l.trunk,
            bridged_with: l.bridged_with,
            conference: l.conference,
            held: l.held,
            rtp_port: l.rtp_port,
        }
    }
}

/// A new conversation (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Originated {
    /// Its id, such as `c17`.
    pub conversation: String,
    /// Its first dial (1).
    pub dial: u32,
}

/// A command queued on a conversation (202): its outcome follows as events on
/// `GET /v1/events` (an `error` event when the conversation refuses it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Accepted {
    /// The conversation.
    pub conversation: String,
    /// The command: `answer`, `dial`, `bridge`, `hold`, `hangup`, ...
    pub command: &'static str,
    /// The leg it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leg: Option<u32>,
    /// For a dial or an accepted transfer: its id, as `leg_created` and `dial_failed`
    /// events name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial: Option<u32>,
    /// For a play: its id, as `playback_done` names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<u32>,
    /// For a record: its id, as `recording_started` and `recording_done` name it, and
    /// as `.../recordings/{rec}/pause|resume|stop` take it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<u32>,
    /// For a conference: its id, as `conference_joined` names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference: Option<u32>,
}

/// A refused request (4xx, 503).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `unauthorized`, `bad_request`, `not_found`, `conflict`, `unavailable`, ...
    pub error: &'static str,
    /// What was wrong and what is allowed.
    pub message: String,
}

impl From<&ControlError> for Problem {
    fn from(e: &ControlError) -> Problem {
        Problem {
            error: e.reason(),
            message: e.to_string(),
        }
    }
}
