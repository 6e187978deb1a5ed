//! The API's metrics. They are registered in the edge's registry, so the one `/metrics`
//! of the admin listener shows them (README "Metrics" lists them; keep the two in step).

use prometheus::{IntCounterVec, IntGauge, Opts};

/// Counters and gauges of the API; cheap to clone (shared series).
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    requests: IntCounterVec,
    refusals: IntCounterVec,
    followers: IntGauge,
    controlled: IntGauge,
    fallbacks: IntCounterVec,
}

impl ApiMetrics {
    /// The API's series, not registered anywhere yet (counts made before
    /// [`ApiMetrics::register`] are kept).
    pub fn new() -> Result<ApiMetrics, prometheus::Error> {
        Ok(ApiMetrics {
            requests: IntCounterVec::new(
                Opts::new(
                    "voxgate_api_requests_total",
                    "API requests answered, by route (the path template) and HTTP status.",
                ),
                &["route", "status"],
            )?,
            refusals: IntCounterVec::new(
                Opts::new(
                    "voxgate_api_refusals_total",
                    "API requests refused, by reason (unauthorized, bad_request, too_large, not_found, conflict, unavailable, method_not_allowed, other).",
                ),
                &["reason"],
            )?,
            followers: IntGauge::new(
                "voxgate_api_followers",
                "WebSocket followers of the event stream (GET /v1/events) connected now.",
            )?,
            controlled: IntGauge::new(
                "voxgate_api_conversations",
                "Conversations controlled by the API now.",
            )?,
            fallbacks: IntCounterVec::new(
                Opts::new(
                    "voxgate_api_fallbacks_total",
                    "API-controlled calls that arrived with no API client connected, by what they got (dial: the route's destinations; reject: [api] no_client_status).",
                ),
                &["action"],
            )?,
        })
    }

    /// Registers every series in `edge`'s registry.
    pub fn register(&self, edge: &voxgate_edge::metrics::Metrics) -> Result<(), prometheus::Error> {
        edge.register(Box::new(self.requests.clone()))?;
        edge.register(Box::new(self.refusals.clone()))?;
        edge.register(Box::new(self.followers.clone()))?;
        edge.register(Box::new(self.controlled.clone()))?;
        edge.register(Box::new(self.fallbacks.clone()))?;
        Ok(())
    }

    /// Counts an answered request. `route` is a path template of the API (or
    /// `unmatched`), so the label set stays bounded whatever clients ask for.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
    }

    /// Counts a refusal.
    pub fn refusal(&self, reason: &'static str) {
        self.refusals.with_label_values(&[reason]).inc();
    }

    /// A follower connected (`+1`) or left (`-1`).
    pub fn followers(&self, delta: i64) {
        self.followers.add(delta);
    }

    /// Sets how many conversations the API controls.
    pub fn controlled(&self, n: usize) {
        self.controlled.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a call that got the fallback (`dial` or `reject`).
    pub fn fallback(&self, action: &'static str) {
        self.fallbacks.with_label_values(&[action]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_in_the_edge_registry_and_rendered_there() {
        let api = ApiMetrics::new().unwrap_or_else(|e| panic!("{e}"));
        // Counted before registration: kept.
        api.refusal("unauthorized");
        let edge = voxgate_edge::metrics::Metrics::new("t").unwrap_or_else(|e| panic!("{e}"));
        api.register(&edge).unwrap_or_else(|e| panic!("{e}"));
        api.request("/v1/conversations", 401);
        api.followers(1);
        api.controlled(2);
        api.fallback("reject");
        let text = edge.render();
        for needle in [
            r#"voxgate_api_requests_total{route="/v1/conversations",status="401"} 1"#,
            r#"voxgate_api_refusals_total{reason="unauthorized"} 1"#,
            "voxgate_api_followers 1",
            "voxgate_api_conversations 2",
            r#"voxgate_api_fallbacks_total{action="reject"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == needle),
                "missing {needle} in\n{text}"
            );
        }
        // Twice is a programming error, reported.
        assert!(api.register(&edge).is_err());
    }
}
