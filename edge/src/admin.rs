//! The admin HTTP listener: Prometheus metrics, health and readiness probes,
//! and `POST /reload`.

use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::reload::Reloader;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use voxgate_media::MediaEngine;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// Metrics to expose.
    pub metrics: Metrics,
    /// Reload entry point.
    pub reloader: Arc<Reloader>,
    /// False while starting and once draining.
    pub ready: Arc<AtomicBool>,
    /// The media plane, for its counters.
    pub engine: Arc<MediaEngine>,
    /// Active calls.
    pub registry: Arc<Registry>,
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/reload", post(reload))
        .route("/calls", get(calls))
        .with_state(state)
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    s.metrics.media_regions(&s.engine.region_stats());
    s.metrics.media_recordings(s.engine.recording_stats());
    s.metrics.mixers(&s.engine.mixer_stats());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn calls(State(s): State<AdminState>) -> impl IntoResponse {
    Json(s.registry.list())
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn reload(State(s): State<AdminState>) -> impl IntoResponse {
    match s.reloader.reload().await {
        Ok(outcome) => (StatusCode::OK, outcome.to_string()),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")),
    }
}
