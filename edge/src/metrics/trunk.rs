//! Per-trunk call figures, observed when a conversation ends: the final
//! status of every leg by its trunk (answer-seizure ratio is the share of
//! 2xx among them) and the post-dial delay by the caller's trunk.

use super::{MetricsError, counter_vec, histogram_vec};
use crate::control_plane::EndCause;
use crate::conversation::ConversationRecord;
use crate::conversation::record::LegRecord;
use prometheus::{HistogramVec, IntCounterVec, Registry};

pub(super) struct TrunkCallMetrics {
    final_status: IntCounterVec,
    post_dial_delay: HistogramVec,
}

impl TrunkCallMetrics {
    pub(super) fn new(registry: &Registry) -> Result<TrunkCallMetrics, MetricsError> {
        Ok(TrunkCallMetrics {
            final_status: counter_vec(
                registry,
                "voxgate_trunk_final_status_total",
                "Call legs by trunk, direction (in: voxgate answered the trunk's INVITE; out: the trunk answered voxgate's) and final status (200 answered, 487 cancelled). ASR = 2xx over all.",
                &["trunk", "direction", "status"],
            )?,
            post_dial_delay: histogram_vec(
                registry,
                "voxgate_post_dial_delay_seconds",
                "From a caller's INVITE to the first ringing (else the answer, else the final refusal), by the caller's trunk.",
                &[
                    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0,
                ],
                &["trunk"],
            )?,
        })
    }

    pub(super) fn observe(&self, record: &ConversationRecord) {
        let t = &record.timeline;
        let pdd = t.ringing.or(t.answer).or(record.final_status().and(t.end));
        if let Some(at) = pdd {
            self.post_dial_delay
                .with_label_values(&[record.trunk_label()])
                .observe(at.saturating_duration_since(t.invite).as_secs_f64());
        }
        for leg in &record.legs {
            let Some(status) = leg_status(leg) else {
                continue;
            };
            let trunk = leg.trunk.as_ref().map_or("none", |t| t.as_str());
            let direction = if leg.inbound { "in" } else { "out" };
            self.final_status
                .with_label_values(&[trunk, direction, status_label(status)])
                .inc();
        }
    }
}

/// The final status a leg's INVITE got: 200 once answered; its refusal; 487
/// when cancelled. A leg still unanswered when the call ended otherwise
/// (a shutdown, say) has none.
fn leg_status(leg: &LegRecord) -> Option<u16> {
    if leg.answered.is_some() {
        return Some(200);
    }
    match leg.end?.1 {
        EndCause::Rejected(s) => Some(s),
        EndCause::Cancelled => Some(487),
        _ => None,
    }
}

/// The statuses labelled by number; the rest by class.
const LABELLED: [(u16, &str); 35] = [
    (200, "200"),
    (300, "300"),
    (301, "301"),
    (302, "302"),
    (400, "400"),
    (401, "401"),
    (402, "402"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (406, "406"),
    (407, "407"),
    (408, "408"),
    (410, "410"),
    (415, "415"),
    (420, "420"),
    (480, "480"),
    (481, "481"),
    (482, "482"),
    (483, "483"),
    (484, "484"),
    (485, "485"),
    (486, "486"),
    (487, "487"),
    (488, "488"),
    (491, "491"),
    (500, "500"),
    (501, "501"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
    (600, "600"),
    (603, "603"),
    (604, "604"),
    (606, "606"),
];

/// Status labels without an allocation per call: the codes SIP defines,
/// else the class (`4xx`).
fn status_label(status: u16) -> &'static str {
    if let Ok(i) = LABELLED.binary_search_by_key(&status, |(code, _)| *code) {
        return LABELLED[i].1;
    }
    match status {
        ..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "6xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_bounded() {
        assert_eq!(status_label(486), "486");
        assert_eq!(status_label(499), "4xx");
        assert_eq!(status_label(202), "2xx");
        assert_eq!(status_label(699), "6xx");
        assert_eq!(status_label(606), "606");
        // Sorted, for the binary search.
        assert!(LABELLED.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
