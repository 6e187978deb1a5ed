//! The call detail record: one JSON line per conversation, written when it ends.

use super::*;
use crate::control_plane::{RecordLayout, RecordingEnd, RecordingId};
use crate::handle::MediaFigures;
use serde::Serialize;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::SystemTime;
use voxgate_media::LegMediaStats;

/// Everything a CDR says about a conversation, with monotonic times;
/// `to_json` turns them into wall-clock times.
#[derive(Clone, Debug)]
pub struct ConversationRecord {
    /// The conversation.
    pub id: ConversationId,
    /// Inbound trunk; `None` for an originated conversation.
    pub trunk_in: Option<TrunkName>,
    /// Trunk of the outbound leg that answered (else the last one), if it named one.
    pub trunk_out: Option<TrunkName>,
    /// Caller number (From user), unredacted.
    pub caller: Option<String>,
    /// Dialled number (Request-URI user), unredacted.
    pub callee: Option<String>,
    /// Times.
    pub timeline: Timeline,
    /// Outbound legs started.
    pub attempts: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The Q.850 cause the peer that ended it gave (RFC 3326 `Reason`), if any.
    pub peer_q850: Option<u8>,
    /// Media counters and quality of the inbound leg and of the outbound
    /// leg above, if they had media.
    pub media: (Option<LegMediaStats>, Option<LegMediaStats>),
    /// Every leg, in order.
    pub legs: Vec<LegRecord>,
    /// Every recording carried out, in order.
    pub recordings: Vec<RecordingRecord>,
}

/// One recording in a record.
#[derive(Clone, Debug)]
pub struct RecordingRecord {
    /// Its id.
    pub id: RecordingId,
    /// The leg recorded.
    pub leg: LegId,
    /// One channel or both directions.
    pub layout: RecordLayout,
    /// The file.
    pub file: String,
    /// How it ended (`None` only if the conversation ended without saying).
    pub end: Option<RecordingEnd>,
    /// The audio in the file, when its writer reported it.
    pub duration: Option<Duration>,
}

/// One leg in a record.
#[derive(Clone, Debug)]
pub struct LegRecord {
    /// The leg id.
    pub id: LegId,
    /// Inbound (we were its UAS).
    pub inbound: bool,
    /// Its trunk.
    pub trunk: Option<TrunkName>,
    /// Answered at.
    pub answered: Option<Instant>,
    /// How it ended.
    pub end: Option<(Side, EndCause)>,
    /// Its media counters and quality.
    pub media: Option<LegMediaStats>,
    /// The voice codec it settled on (`PCMU`, `G729`, ...), if any.
    pub codec: Option<Cow<'static, str>>,
    /// The SIP Call-ID of its dialog.
    pub call_id: String,
    /// Its peer's address (where its INVITE came from, or went to).
    pub remote: SocketAddr,
    /// voxgate's address on it (advertised).
    pub local: SocketAddr,
    /// Its signalling transport.
    pub transport: TransportKind,
    /// SRTP on any of its media lines.
    pub srtp: bool,
}

impl ConversationRecord {
    pub(crate) fn build<M: MediaControl>(
        c: &Conversation<M>,
        outcome: Outcome,
    ) -> ConversationRecord {
        let inbound = c.first_inbound();
        let info = c.info.as_ref().and_then(|i| i.inbound.as_ref());
        let outs: Vec<&Leg> = c.legs.iter().filter(|l| !l.is_inbound()).collect();
        let b = outs
            .iter()
            .rev()
            .find(|l| l.answered_at.is_some())
            .or(outs.last())
            .copied();
        let media = |l: &Leg| {
            l.media_stats
                .or_else(|| l.endpoint.and_then(|ep| c.media.media_stats(ep)))
        };
        ConversationRecord {
            id: c.ctx.id,
            trunk_in: inbound.and_then(|l| l.trunk.clone()),
            trunk_out: b.and_then(|l| l.trunk.clone()),
            caller: info.and_then(|i| i.from.user.clone()),
            callee: info.and_then(|i| i.request_user.clone()),
            timeline: c.timeline,
            attempts: u32::try_from(outs.len()).unwrap_or(u32::MAX),
            outcome,
            peer_q850: c.end_q850,
            media: (inbound.and_then(media), b.and_then(media)),
            legs: c
                .legs
                .iter()
                .map(|l| LegRecord {
                    id: l.id,
                    inbound: l.is_inbound(),
                    trunk: l.trunk.clone(),
                    answered: l.answered_at,
                    end: l.ended,
                    media: media(l),
                    codec: leg_codec(l),
                    call_id: l.invite().call_id().unwrap_or_default().to_owned(),
                    remote: l.sig.peer.addr,
                    local: l.sig.local.addr,
                    transport: l.sig.peer.transport,
                    srtp: l.sdes.is_secure(),
                })
                .collect(),
            recordings: c
                .recordings
                .iter()
                .map(|r| RecordingRecord {
                    id: r.id,
                    leg: r.leg,
                    layout: r.layout,
                    file: r.file.clone(),
                    end: r.done.map(|(end, _)| end),
                    duration: r.done.and_then(|(_, d)| d),
                })
                .collect(),
        }
    }

    /// The caller-visible outcome as a metric label.
    pub fn outcome_label(&self) -> &'static str {
        match self.outcome.cause {
            _ if self.timeline.answer.is_some() => "answered",
            EndCause::Cancelled => "cancelled",
            EndCause::Rejected(_) => "rejected",
            EndCause::Shutdown => "shutdown",
            _ => "failed",
        }
    }

    /// Whether the relay transcoded any of its media (legs bridged with
    /// different codecs).
    pub fn transcoded(&self) -> bool {
        self.legs
            .iter()
            .any(|l| l.media.is_some_and(|m| m.counters.transcoded > 0))
    }

    /// The final response the caller got: 200 once answered.
    pub fn final_status(&self) -> Option<u16> {
        match self.timeline.answer {
            Some(_) => Some(200),
            None => self.outcome.status,
        }
    }

    /// The Q.850 cause: the peer's own (RFC 3326 `Reason`), else mapped
    /// from the final status and the end cause.
    pub fn q850(&self) -> u8 {
        self.peer_q850
            .unwrap_or_else(|| super::q850::cause(self.outcome.cause, self.final_status()))
    }

    /// The Call-ID of the caller's leg (else of the first leg).
    pub fn call_id(&self) -> &str {
        self.legs
            .iter()
            .find(|l| l.inbound)
            .or(self.legs.first())
            .map_or("", |l| l.call_id.as_str())
    }

    /// Why a call that was neither answered nor abandoned by its caller
    /// failed, in words for the log; `None` otherwise.
    pub fn failure(&self) -> Option<&'static str> {
        if self.timeline.answer.is_some() || self.outcome.cause == EndCause::Cancelled {
            return None;
        }
        Some(match (self.outcome.side, self.outcome.cause) {
            (Side::Control, EndCause::Rejected(404)) => "no route for the number",
            (Side::Control, _) => "refused by the control plane",
            (Side::Callee, _) => "every destination refused or failed",
            (Side::Edge, EndCause::Rejected(503)) => "no media ports left (or a limit)",
            (Side::Edge, EndCause::Rejected(488)) => "no codec in common with the trunk's policy",
            (Side::Edge, EndCause::Rejected(_)) => "no usable destination",
            (Side::Edge, EndCause::Shutdown) => "the node is stopping",
            (Side::Edge, _) => "ended by voxgate before answer",
            (Side::Caller, _) => "the caller went away",
        })
    }

    /// The inbound trunk as a metric label (`originated` when none).
    pub fn trunk_label(&self) -> &str {
        self.trunk_in.as_ref().map_or("originated", |t| t.as_str())
    }

    /// The JSON line. `clock` maps the conversation's monotonic instants to wall time.
    pub fn to_json(&self, clock: &WallClock, node: &str, redact: bool) -> String {
        let number = |n: &Option<String>| {
            n.as_ref().map(|n| {
                if redact {
                    voxgate_config::redact_number(n)
                } else {
                    n.clone()
                }
            })
        };
        let t = &self.timeline;
        let ms = |from: Instant, to: Option<Instant>| {
            to.map(|to| to.saturating_duration_since(from).as_secs_f64() * 1e3)
        };
        let duration_s = match (t.answer, t.end) {
            (Some(a), Some(e)) => e.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        let leg = MediaFigures::from;
        let inbound = self.legs.iter().find(|l| l.inbound);
        // The outbound leg the call went to: the answered one, else the last tried.
        let outbound = self
            .legs
            .iter()
            .rev()
            .filter(|l| !l.inbound)
            .find(|l| l.answered.is_some())
            .or_else(|| self.legs.iter().rev().find(|l| !l.inbound));
        let final_status = self.final_status();
        // Post-dial delay: to the first ringing, else the answer, else the
        // final refusal.
        let pdd = t.ringing.or(t.answer).or(final_status.and(t.end));
        let json = RecordJson {
            id: record_id(clock.system(t.invite)),
            call: Some(self.id.to_string()),
            node,
            call_id_in: inbound.map(|l| l.call_id.as_str()),
            call_id_out: outbound.map(|l| l.call_id.as_str()),
            source: inbound.map(|l| l.remote.to_string()),
            destination: outbound.map(|l| l.remote.to_string()),
            trunk_in: self.trunk_in.as_ref().map(|t| t.as_str()),
            trunk_out: self.trunk_out.as_ref().map(|t| t.as_str()),
            caller: number(&self.caller),
            callee: number(&self.callee),
            setup_time: clock.rfc3339(t.invite),
            ringing_time: t.ringing.map(|i| clock.rfc3339(i)),
            answer_time: t.answer.map(|i| clock.rfc3339(i)),
            end_time: t.end.map(|i| clock.rfc3339(i)),
            duration_s,
            invite_out_ms: ms(t.invite, t.first_b_invite),
            answer_ms: ms(t.invite, t.answer),
            pdd_ms: ms(t.invite, pdd),
            attempts: self.attempts,
            disconnect_side: side_label(self.outcome.side),
            cause: cause_label(self.outcome.cause),
            status: self.outcome.status,
            final_status,
            q850: self.q850(),
            reason: None,
            codec_a: inbound.and_then(|l| l.codec.as_deref()),
            codec_b: outbound.and_then(|l| l.codec.as_deref()),
            srtp: self.legs.iter().any(|l| l.srtp),
            media_a: self.media.0.as_ref().map(leg),
            media_b: self.media.1.as_ref().map(leg),
            transcoded: self.transcoded(),
            legs: self
                .legs
                .iter()
                .map(|l| LegRecordJson {
                    leg: l.id.0,
                    direction: if l.inbound { "inbound" } else { "outbound" },
                    trunk: l.trunk.as_ref().map(|t| t.as_str()),
                    answer_time: l.answered.map(|i| clock.rfc3339(i)),
                    disconnect_side: l.end.map(|(s, _)| side_label(s)),
                    cause: l.end.map(|(_, c)| cause_label(c)),
                    codec: l.codec.as_deref(),
                    call_id: &l.call_id,
                    transport: l.transport.as_str(),
                    remote: l.remote.to_string(),
                    local: l.local.to_string(),
                    srtp: l.srtp,
                    media: l.media.as_ref().map(leg),
                })
                .collect(),
            recordings: self
                .recordings
                .iter()
                .map(|r| RecordingJson {
                    id: r.id.0,
                    leg: r.leg.0,
                    layout: r.layout.as_str(),
                    file: &r.file,
                    reason: r.end.map(RecordingEnd::as_str),
                    error: r.end.and_then(RecordingEnd::failure).map(|e| e.as_str()),
                    duration_ms: r
                        .duration
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                })
                .collect(),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// The voice codec an answered leg settled on: the one its endpoint was
/// told (G.711, no allocation), else the one its peer's SDP selected (a
/// codec voxgate only passes through).
fn leg_codec(l: &Leg) -> Option<Cow<'static, str>> {
    l.answered_at?;
    if let Some(v) = l.format.and_then(|f| f.voice) {
        return Some(Cow::Borrowed(v.codec.encoding_name()));
    }
    let selected = voxgate_media::negotiate::selected(l.remote_sdp.as_deref()?)?;
    Some(Cow::Owned(selected.name))
}

/// Maps monotonic instants to wall-clock time: one reading of both clocks
/// taken together.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    instant: Instant,
    system: SystemTime,
}

impl WallClock {
    /// Reads both clocks now.
    pub fn now() -> WallClock {
        WallClock {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }

    /// A fixed mapping, for tests.
    pub fn at(instant: Instant, system: SystemTime) -> WallClock {
        WallClock { instant, system }
    }

    /// The wall-clock time of `at`.
    pub fn system(&self, at: Instant) -> SystemTime {
        if at >= self.instant {
            self.system + (at - self.instant)
        } else {
            self.system - (self.instant - at)
        }
    }

    /// RFC 3339 UTC with milliseconds.
    pub fn rfc3339(&self, at: Instant) -> String {
        humantime::format_rfc3339_millis(self.system(at)).to_string()
    }
}

/// The label of a disconnecting side.
pub fn side_label(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
        Side::Edge => "edge",
        Side::Control => "control",
    }
}

/// The label of an end cause.
pub fn cause_label(cause: EndCause) -> &'static str {
    match cause {
        EndCause::Normal => "normal",
        EndCause::Cancelled => "cancelled",
        EndCause::Rejected(_) => "rejected",
        EndCause::MediaTimeout => "media_timeout",
        EndCause::SessionExpired => "session_expired",
        EndCause::NoAck => "no_ack",
        EndCause::Shutdown => "shutdown",
        EndCause::ControlLost => "control_lost",
        EndCause::ControlOverflow => "control_overflow",
        EndCause::Replaced => "replaced",
        EndCause::Transferred => "transferred",
        EndCause::Idle => "idle",
    }
}

/// A record id unique across nodes and restarts: a UUIDv7 (RFC 9562),
/// its time the call's setup, the rest random.
pub fn record_id(setup: SystemTime) -> String {
    let since = setup
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    // The random part from the thread RNG (seeded from the OS): uniqueness
    // needs no system call per call, which `new_v7`'s getrandom made.
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(since.as_millis() as u64, &random)
        .into_uuid()
        .to_string()
}

/// A call attempt the core refused before any conversation existed (a
/// trunk limit, a draining node, an allow-list narrowed by a reload, a
/// malformed INVITE): its CDR.
#[derive(Clone, Debug)]
pub struct RefusedAttempt {
    /// When.
    pub at: Instant,
    /// The caller's trunk, if it has one.
    pub trunk: Option<TrunkName>,
    /// The INVITE's Call-ID.
    pub call_id: String,
    /// Caller (From user) and dialled number (Request-URI user), unredacted.
    pub caller: Option<String>,
    /// Dialled number.
    pub callee: Option<String>,
    /// Where it came from.
    pub remote: SocketAddr,
    /// The final status it got.
    pub status: u16,
    /// Why: `max_calls`, `max_cps`, `draining`, `not_allowed`, `malformed`, ...
    pub reason: &'static str,
}

impl RefusedAttempt {
    /// The JSON line: the fields of a conversation's, without legs or media.
    pub fn to_json(&self, clock: &WallClock, node: &str, redact: bool) -> String {
        let number = |n: &Option<String>| {
            n.as_ref().map(|n| {
                if redact {
                    voxgate_config::redact_number(n)
                } else {
                    n.clone()
                }
            })
        };
        let at = clock.rfc3339(self.at);
        let json = RecordJson {
            id: record_id(clock.system(self.at)),
            call: None,
            node,
            call_id_in: Some(&self.call_id),
            call_id_out: None,
            source: Some(self.remote.to_string()),
            destination: None,
            trunk_in: self.trunk.as_ref().map(|t| t.as_str()),
            trunk_out: None,
            caller: number(&self.caller),
            callee: number(&self.callee),
            setup_time: at.clone(),
            ringing_time: None,
            answer_time: None,
            end_time: Some(at),
            duration_s: 0.0,
            invite_out_ms: None,
            answer_ms: None,
            pdd_ms: Some(0.0),
            attempts: 0,
            disconnect_side: side_label(Side::Edge),
            cause: cause_label(EndCause::Rejected(self.status)),
            status: Some(self.status),
            final_status: Some(self.status),
            q850: super::q850::of_status(self.status),
            reason: Some(self.reason),
            codec_a: None,
            codec_b: None,
            srtp: false,
            media_a: None,
            media_b: None,
            transcoded: false,
            legs: Vec::new(),
            recordings: Vec::new(),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct RecordJson<'a> {
    /// Unique across nodes and restarts.
    id: String,
    /// The conversation (`c17`; unique within one run of the node), null
    /// for an attempt refused before it became one.
    call: Option<String>,
    node: &'a str,
    call_id_in: Option<&'a str>,
    call_id_out: Option<&'a str>,
    source: Option<String>,
    destination: Option<String>,
    trunk_in: Option<&'a str>,
    trunk_out: Option<&'a str>,
    caller: Option<String>,
    callee: Option<String>,
    setup_time: String,
    ringing_time: Option<String>,
    answer_time: Option<String>,
    end_time: Option<String>,
    duration_s: f64,
    invite_out_ms: Option<f64>,
    answer_ms: Option<f64>,
    pdd_ms: Option<f64>,
    attempts: u32,
    disconnect_side: &'static str,
    cause: &'static str,
    status: Option<u16>,
    /// The final response the caller got (200 when answered).
    final_status: Option<u16>,
    q850: u8,
    /// Why the core refused it (refused attempts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    codec_a: Option<&'a str>,
    codec_b: Option<&'a str>,
    srtp: bool,
    media_a: Option<MediaFigures>,
    media_b: Option<MediaFigures>,
    /// Any of its media was transcoded.
    transcoded: bool,
    legs: Vec<LegRecordJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recordings: Vec<RecordingJson<'a>>,
}

#[derive(Serialize)]
struct RecordingJson<'a> {
    id: u32,
    leg: u32,
    layout: &'static str,
    file: &'a str,
    /// `stopped`, `leg_ended`, `failed`.
    reason: Option<&'static str>,
    /// For a failed one: `disk_full`, `unwritable`, `io`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    duration_ms: Option<u64>,
}

#[derive(Serialize)]
struct LegRecordJson<'a> {
    leg: u32,
    direction: &'static str,
    trunk: Option<&'a str>,
    answer_time: Option<String>,
    disconnect_side: Option<&'static str>,
    cause: Option<&'static str>,
    /// The voice codec the leg settled on.
    codec: Option<&'a str>,
    call_id: &'a str,
    transport: &'static str,
    remote: String,
    local: String,
    srtp: bool,
    media: Option<MediaFigures>,
}
