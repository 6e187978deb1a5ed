//! The call detail record: one JSON line per call, written when it ends.

use super::*;
use serde::Serialize;
use std::time::SystemTime;
use voxgate_media::counters::LegCounters;

/// Everything a CDR says about a call, with monotonic times; `to_json`
/// turns them into wall-clock times.
#[derive(Clone, Debug)]
pub struct CallRecord {
    /// The call.
    pub id: CallRef,
    /// Inbound trunk.
    pub trunk_in: TrunkName,
    /// Trunk of the last outbound attempt, if it named one.
    pub trunk_out: Option<TrunkName>,
    /// Caller number (From user), unredacted.
    pub caller: Option<String>,
    /// Dialled number (Request-URI user), unredacted.
    pub callee: Option<String>,
    /// Times.
    pub timeline: Timeline,
    /// Outbound attempts made.
    pub attempts: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// Media counters per leg (summed over media lines), if media was relayed.
    pub media: Option<(LegCounters, LegCounters)>,
}

impl CallRecord {
    pub(crate) fn build<M: MediaControl>(
        call: &Call<M>,
        outcome: Outcome,
        stats: Option<voxgate_media::SessionStats>,
    ) -> CallRecord {
        let info = call.info.as_ref();
        CallRecord {
            id: call.ctx.id,
            trunk_in: call.ctx.trunk.clone(),
            trunk_out: call.b.as_ref().and_then(|b| b.destination.trunk.clone()),
            caller: info.and_then(|i| i.from.user.clone()),
            callee: info.and_then(|i| i.request_user.clone()),
            timeline: call.timeline,
            attempts: call.attempts,
            outcome,
            media: stats.map(|s| {
                (
                    s.total(voxgate_media::Side::A),
                    s.total(voxgate_media::Side::B),
                )
            }),
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

    /// The JSON line. `clock` maps the call's monotonic instants to wall time.
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
        let leg = |c: &LegCounters| LegJson {
            rtp_packets: c.rtp_packets,
            rtp_bytes: c.rtp_bytes,
            rtcp_packets: c.rtcp_packets,
            seq_gaps: c.seq_gaps,
            sent: c.sent,
            dropped: c.dropped,
        };
        let json = RecordJson {
            call: self.id.to_string(),
            node,
            trunk_in: self.trunk_in.as_str(),
            trunk_out: self.trunk_out.as_ref().map(|t| t.as_str()),
            caller: number(&self.caller),
            callee: number(&self.callee),
            setup_time: clock.rfc3339(t.invite),
            answer_time: t.answer.map(|i| clock.rfc3339(i)),
            end_time: t.end.map(|i| clock.rfc3339(i)),
            duration_s,
            invite_out_ms: ms(t.invite, t.first_b_invite),
            answer_ms: ms(t.invite, t.answer),
            attempts: self.attempts,
            disconnect_side: side_label(self.outcome.side),
            cause: cause_label(self.outcome.cause),
            status: self.outcome.status,
            media_a: self.media.as_ref().map(|(a, _)| leg(a)),
            media_b: self.media.as_ref().map(|(_, b)| leg(b)),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
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

    fn system(&self, at: Instant) -> SystemTime {
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
    }
}

#[derive(Serialize)]
struct LegJson {
    rtp_packets: u64,
    rtp_bytes: u64,
    rtcp_packets: u64,
    seq_gaps: u64,
    sent: u64,
    dropped: u64,
}

#[derive(Serialize)]
struct RecordJson<'a> {
    call: String,
    node: &'a str,
    trunk_in: &'a str,
    trunk_out: Option<&'a str>,
    caller: Option<String>,
    callee: Option<String>,
    setup_time: String,
    answer_time: Option<String>,
    end_time: Option<String>,
    duration_s: f64,
    invite_out_ms: Option<f64>,
    answer_ms: Option<f64>,
    attempts: u32,
    disconnect_side: &'static str,
    cause: &'static str,
    status: Option<u16>,
    media_a: Option<LegJson>,
    media_b: Option<LegJson>,
}
