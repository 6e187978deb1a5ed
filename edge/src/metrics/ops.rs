//! The operator's side: admin API refusals and kill switches.

use super::{MetricsError, counter_vec, gauge_vec};
use prometheus::{IntCounterVec, IntGaugeVec, Registry};

pub(super) struct OpsMetrics {
    admin_refusals: IntCounterVec,
    switch_off: IntGaugeVec,
    switch_trips: IntCounterVec,
}

impl OpsMetrics {
    pub(super) fn new(registry: &Registry) -> Result<OpsMetrics, MetricsError> {
        Ok(OpsMetrics {
            admin_refusals: counter_vec(
                registry,
                "voxgate_admin_refusals_total",
                "Admin API requests refused: reason=unauthorized (no token or a wrong one), closed (no [admin] tokens configured).",
                &["reason"],
            )?,
            switch_off: gauge_vec(
                registry,
                "voxgate_kill_switch_off",
                "1 while a capability's kill switch is off (by an operator or tripped by its error rate), 0 once back on; absent if never flipped.",
                &["capability", "name"],
            )?,
            switch_trips: counter_vec(
                registry,
                "voxgate_kill_switch_trips_total",
                "Kill switches that turned off by themselves: the share of failed attempts passed [kill_switch] error_percent over window_s.",
                &["capability", "name"],
            )?,
        })
    }

    pub(super) fn admin_refusal(&self, reason: &'static str) {
        self.admin_refusals.with_label_values(&[reason]).inc();
    }

    pub(super) fn switch(&self, capability: &str, name: &str, on: bool) {
        self.switch_off
            .with_label_values(&[capability, name])
            .set(i64::from(!on));
    }

    pub(super) fn trip(&self, capability: &str, name: &str) {
        self.switch_trips
            .with_label_values(&[capability, name])
            .inc();
    }
}
