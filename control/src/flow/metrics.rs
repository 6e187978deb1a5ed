//! The flows' metrics, registered in the edge's registry (one `/metrics`; README
//! "Metrics" lists them: keep the two in step).

use prometheus::{IntCounterVec, IntGauge, Opts};

/// Counters of flow instances; cheap to clone (shared series).
#[derive(Clone, Debug)]
pub struct FlowMetrics {
    pub(super) contacts: IntCounterVec,
    pub(super) active: IntGauge,
    pub(super) outcomes: IntCounterVec,
    pub(super) errors: IntCounterVec,
}

impl FlowMetrics {
    /// The series, not registered yet.
    pub fn new() -> Result<FlowMetrics, prometheus::Error> {
        Ok(FlowMetrics {
            contacts: IntCounterVec::new(
                Opts::new(
                    "voxgate_flow_contacts_total",
                    "Calls that entered a flow, by entry point.",
                ),
                &["entry_point"],
            )?,
            active: IntGauge::new("voxgate_flow_contacts", "Flow instances running now.")?,
            outcomes: IntCounterVec::new(
                Opts::new(
                    "voxgate_flow_outcomes_total",
                    "Flow instances ended, by how (disconnected, transferred, caller_hung_up, failed, ended).",
                ),
                &["outcome"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "voxgate_flow_errors_total",
                    "Errors in flows (a template that failed, a value of the wrong type, a command the edge refused), by flow.",
                ),
                &["flow"],
            )?,
        })
    }

    /// Registers every series in `edge`'s registry.
    pub fn register(&self, edge: &voxgate_edge::metrics::Metrics) -> Result<(), prometheus::Error> {
        edge.register(Box::new(self.contacts.clone()))?;
        edge.register(Box::new(self.active.clone()))?;
        edge.register(Box::new(self.outcomes.clone()))?;
        edge.register(Box::new(self.errors.clone()))?;
        Ok(())
    }

    pub(super) fn started(&self, entry_point: &str) {
        self.contacts.with_label_values(&[entry_point]).inc();
        self.active.inc();
    }

    pub(super) fn ended(&self, outcome: super::Outcome) {
        self.active.dec();
        self.outcomes.with_label_values(&[outcome.as_str()]).inc();
    }

    pub(super) fn errors(&self, flow: &str, count: u32) {
        self.errors
            .with_label_values(&[flow])
            .inc_by(u64::from(count));
    }
}
