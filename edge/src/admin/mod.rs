//! The admin HTTP listener: Prometheus metrics, health and readiness probes without a
//! token (also on `[admin] public_listen` when set); with one (`[admin] tokens`), the
//! operator's API that `voxgatectl` drives: reload, config version, calls (list, hang
//! up), drain and undrain, trunks in and out of service, bans and blocks, kill switches.

mod auth;
mod ops;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::reload::Reloader;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use voxgate_config::{Config, Trunk};
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
    /// Destinations' keep-alive state and trunks out of service.
    pub health: Arc<Health>,
    /// The running config (trunks and their destinations).
    pub config: crate::SharedConfig,
    /// Admission: operator blocks and the limiter's bans.
    pub admission: Arc<crate::admission::AllowLists>,
    /// Kill switches (trunks' among them are their out-of-service state).
    pub switches: Arc<crate::kill_switch::KillSwitches>,
    /// To the core: an operator's drain and undrain.
    pub core: tokio::sync::mpsc::Sender<crate::driver::Command>,
    /// True while an operator has the node drained (`POST /drain`).
    pub drained: Arc<AtomicBool>,
    /// True once the node stops (SIGTERM): an undrain is refused then.
    pub stopping: Arc<AtomicBool>,
}

/// The paths that need no token: probes and metrics.
pub fn public_router(state: AdminState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// The admin routes: [`public_router`]'s, and the operator's behind a token.
pub fn router(state: AdminState) -> Router {
    let operator = Router::new()
        .route("/reload", post(reload))
        .route("/config", get(ops::config_version))
        .route("/calls", get(calls))
        .route("/calls/{id}", delete(ops::hang_up))
        .route("/drain", post(ops::drain))
        .route("/undrain", post(ops::undrain))
        .route("/trunks", get(trunks))
        .route("/trunks/{name}/out-of-service", post(out_of_service))
        .route("/trunks/{name}/in-service", post(in_service))
        .route(
            "/bans",
            get(ops::bans).post(ops::block).delete(ops::unblock),
        )
        .route("/switches", get(ops::switches))
        .route("/switches/recording/{state}", post(ops::flip_recording))
        .route("/switches/{capability}/{name}/{state}", post(ops::flip))
        .route_layer(from_fn_with_state(state.clone(), auth::require_token))
        .with_state(state.clone());
    public_router(state).merge(operator)
}

/// One trunk in `GET /trunks`.
#[derive(serde::Serialize)]
struct TrunkView {
    name: String,
    in_service: bool,
    out_of_service_status: u16,
    destinations: Vec<DestinationView>,
    /// `registering`, `registered` or `failed`; absent when the trunk does not register.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration: Option<&'static str>,
}

/// One route destination of a trunk, and what its keep-alive says.
#[derive(serde::Serialize)]
struct DestinationView {
    uri: String,
    transport: &'static str,
    keepalive: bool,
    /// `up`, `down`, or `unknown` (not probed, or no verdict yet).
    state: &'static str,
}

fn trunk_view(s: &AdminState, config: &Config, trunk: &Trunk) -> TrunkView {
    let mut destinations: Vec<DestinationView> = Vec::new();
    for d in config
        .routes
        .iter()
        .flat_map(|r| &r.destinations)
        .filter(|d| d.trunk.as_ref() == Some(&trunk.name))
    {
        let transport = crate::admission::transport_kind(d.transport);
        if destinations
            .iter()
            .any(|v| v.uri == d.uri && v.transport == transport.as_str())
        {
            continue;
        }
        let state = s.health.state(&d.uri, transport);
        destinations.push(DestinationView {
            uri: d.uri.clone(),
            transport: transport.as_str(),
            keepalive: state.is_some(),
            state: state.unwrap_or(crate::keepalive::State::Unknown).as_str(),
        });
    }
    TrunkView {
        name: trunk.name.to_string(),
        in_service: !s.health.is_out_of_service(&trunk.name),
        out_of_service_status: trunk.out_of_service_status,
        destinations,
        registration: s.health.registration(&trunk.name).map(|r| r.as_str()),
    }
}

async fn trunks(State(s): State<AdminState>) -> impl IntoResponse {
    let config = s.config.load_full();
    let list: Vec<TrunkView> = config
        .trunks
        .iter()
        .map(|t| trunk_view(&s, &config, t))
        .collect();
    Json(list)
}

async fn out_of_service(State(s): State<AdminState>, Path(name): Path<String>) -> Response {
    set_service(&s, &name, false)
}

async fn in_service(State(s): State<AdminState>, Path(name): Path<String>) -> Response {
    set_service(&s, &name, true)
}

/// Puts a trunk in or out of service: new calls only; calls in progress go on.
fn set_service(s: &AdminState, name: &str, in_service: bool) -> Response {
    let config = s.config.load_full();
    let Some(trunk) = config.trunks.iter().find(|t| t.name.as_str() == name) else {
        return (StatusCode::NOT_FOUND, "no such trunk\n").into_response();
    };
    // A trunk's kill switch is its service state: one place flips both.
    s.switches.set(
        crate::kill_switch::Capability::Trunk,
        trunk.name.as_str(),
        in_service,
    );
    Json(trunk_view(s, &config, trunk)).into_response()
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
    if s.ready.load(Ordering::Relaxed) && !s.drained.load(Ordering::Relaxed) {
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
