//! The contact center's metrics, registered in the edge's registry (one `/metrics`;
//! README "Metrics" lists them: keep the two in step).

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts};

/// The agents' states, every one of them a series (0 when nobody is in it).
const STATES: &[&str] = &[
    "logged_out",
    "idle",
    "available",
    "reserved",
    "offered",
    "engaged",
    "wrap_up",
];

/// Counters and gauges of queues and agents; cheap to clone (shared series).
#[derive(Clone, Debug)]
pub struct AcdMetrics {
    queued: IntCounterVec,
    offers: IntCounter,
    outcomes: IntCounterVec,
    agents: IntGaugeVec,
}

impl AcdMetrics {
    /// The series, not registered yet.
    pub fn new() -> Result<AcdMetrics, prometheus::Error> {
        Ok(AcdMetrics {
            queued: IntCounterVec::new(
                Opts::new(
                    "voxgate_queue_contacts_total",
                    "Contacts that joined a queue, by queue.",
                ),
                &["queue"],
            )?,
            offers: IntCounter::new(
                "voxgate_queue_offers_total",
                "Contacts offered to an agent (its phone dialled).",
            )?,
            outcomes: IntCounterVec::new(
                Opts::new(
                    "voxgate_queue_outcomes_total",
                    "Queued contacts that left their queue, by how (answered, rona, abandoned, timeout).",
                ),
                &["outcome"],
            )?,
            agents: IntGaugeVec::new(
                Opts::new("voxgate_agents", "Agents by state, now."),
                &["state"],
            )?,
        })
    }

    /// Registers every series in `edge`'s registry.
    pub fn register(&self, edge: &voxgate_edge::metrics::Metrics) -> Result<(), prometheus::Error> {
        edge.register(Box::new(self.queued.clone()))?;
        edge.register(Box::new(self.offers.clone()))?;
        edge.register(Box::new(self.outcomes.clone()))?;
        edge.register(Box::new(self.agents.clone()))?;
        Ok(())
    }

    pub(super) fn queued(&self, queue: &str) {
        self.queued.with_label_values(&[queue]).inc();
    }

    pub(super) fn offered(&self) {
        self.offers.inc();
    }

    /// A queued contact's outcome: `answered`, `rona`, `abandoned`, `timeout`.
    pub fn outcome(&self, outcome: &'static str) {
        self.outcomes.with_label_values(&[outcome]).inc();
    }

    pub(super) fn agents<'a>(&self, states: impl Iterator<Item = &'a str>) {
        let mut counts = [0i64; STATES.len()];
        for state in states {
            if let Some(i) = STATES.iter().position(|s| *s == state) {
                counts[i] += 1;
            }
        }
        for (state, count) in STATES.iter().zip(counts) {
            self.agents.with_label_values(&[state]).set(count);
        }
    }
}
