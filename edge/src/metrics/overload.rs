//! Overload control: its state and the new calls it refused.

use super::{MetricsError, counter_vec};
use prometheus::{IntCounterVec, IntGauge, Registry};

pub(super) struct OverloadMetrics {
    state: IntGauge,
    rejections: IntCounterVec,
}

impl OverloadMetrics {
    pub(super) fn new(registry: &Registry) -> Result<OverloadMetrics, MetricsError> {
        let state = IntGauge::new(
            "voxgate_overload_state",
            "1 while the signalling loop is overloaded (busy share or queue depth past its [protection] ceiling, until both are at most their floor): new calls get 503.",
        )?;
        registry.register(Box::new(state.clone()))?;
        Ok(OverloadMetrics {
            state,
            rejections: counter_vec(
                registry,
                "voxgate_overload_rejections_total",
                "New calls (INVITEs outside a dialog) refused with 503 and Retry-After because the signalling loop was overloaded, by the trunk they came from (none: no trunk, after a reload).",
                &["trunk"],
            )?,
        })
    }

    pub(super) fn set_state(&self, overloaded: bool) {
        self.state.set(i64::from(overloaded));
    }

    pub(super) fn rejected(&self, trunk: &str) {
        self.rejections.with_label_values(&[trunk]).inc();
    }
}
