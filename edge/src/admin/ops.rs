//! The operator's admin paths beyond trunks and reload: config version, hang-up, drain,
//! bans and blocks, kill switches. Every answer is JSON (errors: `{"error": "..."}`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::AdminState;
use crate::control_plane::ConversationId;
use crate::driver::Command;
use crate::kill_switch::Capability;
use crate::protection::blocks::{Ban, BlockRefused, Origin};

/// The longest block an operator may set with a duration (30 days); longer: none.
const MAX_BLOCK_S: u64 = 30 * 86_400;

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

pub(super) async fn config_version(State(s): State<AdminState>) -> Response {
    match s.reloader.version() {
        Some(v) => Json(v).into_response(),
        None => refuse(StatusCode::INTERNAL_SERVER_ERROR, "version unavailable"),
    }
}

/// `c17` (as listed) or `17`.
fn conversation_id(text: &str) -> Option<ConversationId> {
    text.strip_prefix('c')
        .unwrap_or(text)
        .parse()
        .ok()
        .map(ConversationId)
}

/// Hangs up every leg of a call, whoever controls it.
pub(super) async fn hang_up(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    let Some(id) = conversation_id(&id) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a call id is c followed by digits, as in /calls",
        );
    };
    if s.registry.hangup(id) {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "call": id.to_string(), "hangup": true })),
        )
            .into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, format!("no call {id}"))
    }
}

#[derive(Serialize)]
struct DrainView {
    draining: bool,
    calls: usize,
}

/// Not ready and new calls refused with 503, calls in progress go on; the process stays.
pub(super) async fn drain(State(s): State<AdminState>) -> Response {
    s.drained.store(true, Ordering::Relaxed);
    let _ = s.core.send(Command::OperatorDrain(true)).await;
    tracing::warn!("drained by an operator: not ready, new calls refused with 503");
    Json(DrainView {
        draining: true,
        calls: s.registry.len(),
    })
    .into_response()
}

/// Undoes [`drain`]; refused once the node is stopping.
pub(super) async fn undrain(State(s): State<AdminState>) -> Response {
    if s.stopping.load(Ordering::Relaxed) {
        return refuse(
            StatusCode::CONFLICT,
            "the node is stopping: it cannot take calls again",
        );
    }
    s.drained.store(false, Ordering::Relaxed);
    let _ = s.core.send(Command::OperatorDrain(false)).await;
    tracing::warn!("undrained by an operator: ready, new calls taken");
    Json(DrainView {
        draining: false,
        calls: s.registry.len(),
    })
    .into_response()
}

#[derive(Serialize)]
struct BanView {
    /// The address (`/32`, `/128`) or prefix.
    address: String,
    origin: Origin,
    /// Seconds left; null: until unblocked.
    remaining_s: Option<u64>,
    /// The limiter's escalation level (0: a first ban).
    level: u64,
}

fn ban_view(b: &Ban, now_ms: u64) -> BanView {
    BanView {
        address: b.net.to_string(),
        origin: b.origin,
        remaining_s: b.until_ms.map(|u| u.saturating_sub(now_ms).div_ceil(1000)),
        level: b.level,
    }
}

pub(super) async fn bans(State(s): State<AdminState>) -> Response {
    let now_ms = s.admission.clock_ms(Instant::now());
    let list: Vec<BanView> = s
        .admission
        .blocks()
        .list(now_ms)
        .iter()
        .map(|b| ban_view(b, now_ms))
        .collect();
    Json(list).into_response()
}

/// An address (`192.0.2.7`, `2001:db8::7`) or a prefix (`192.0.2.0/24`).
fn net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlockRequest {
    address: String,
    /// How long; absent: until unblocked (or a restart).
    seconds: Option<u64>,
}

pub(super) async fn block(State(s): State<AdminState>, Json(req): Json<BlockRequest>) -> Response {
    let Some(net) = net(&req.address) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "address: an IPv4 or IPv6 address or prefix, as 192.0.2.7 or 192.0.2.0/24",
        );
    };
    if req.seconds.is_some_and(|n| n == 0 || n > MAX_BLOCK_S) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("seconds: 1..={MAX_BLOCK_S}, or absent for a block until unblocked"),
        );
    }
    let now_ms = s.admission.clock_ms(Instant::now());
    let until = req.seconds.map(|n| {
        now_ms.saturating_add(
            Duration::from_secs(n)
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX),
        )
    });
    match s.admission.blocks().block(now_ms, net, until) {
        Ok(()) => {
            tracing::warn!(address = %net, seconds = ?req.seconds, "blocked by an operator");
            let b = Ban {
                net,
                until_ms: until,
                origin: Origin::Operator,
                level: 0,
            };
            Json(ban_view(&b, now_ms)).into_response()
        }
        Err(BlockRefused::Full) => refuse(
            StatusCode::CONFLICT,
            "too many blocks in force: unblock some, or block a prefix",
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct UnblockQuery {
    address: String,
}

/// Lifts an operator's block of the address or prefix and the limiter's ban of it.
pub(super) async fn unblock(
    State(s): State<AdminState>,
    Query(q): Query<UnblockQuery>,
) -> Response {
    let Some(net) = net(&q.address) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "address: an IPv4 or IPv6 address or prefix, as 192.0.2.7 or 192.0.2.0/24",
        );
    };
    if s.admission.unblock(Instant::now(), net) {
        tracing::warn!(address = %net, "unblocked by an operator");
        Json(serde_json::json!({ "address": net.to_string(), "lifted": true })).into_response()
    } else {
        refuse(
            StatusCode::NOT_FOUND,
            format!("no block or ban of {net} is in force"),
        )
    }
}

#[derive(Serialize)]
struct SwitchView {
    capability: &'static str,
    /// The trunk or route; empty for recording.
    name: String,
    on: bool,
}

/// Every switch: each trunk, each route, recording.
pub(super) async fn switches(State(s): State<AdminState>) -> Response {
    let config = s.config.load();
    let mut list: Vec<SwitchView> = Vec::new();
    for t in &config.trunks {
        list.push(SwitchView {
            capability: "trunk",
            name: t.name.to_string(),
            on: s.switches.is_on(Capability::Trunk, t.name.as_str()),
        });
    }
    for r in &config.routes {
        list.push(SwitchView {
            capability: "route",
            name: r.name.clone(),
            on: s.switches.is_on(Capability::Route, &r.name),
        });
    }
    list.push(SwitchView {
        capability: "recording",
        name: String::new(),
        on: s.switches.is_on(Capability::Recording, ""),
    });
    Json(list).into_response()
}

fn on_off(state: &str) -> Option<bool> {
    match state {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

pub(super) async fn flip(
    State(s): State<AdminState>,
    Path((capability, name, state)): Path<(String, String, String)>,
) -> Response {
    let (Some(capability), Some(on)) = (Capability::parse(&capability), on_off(&state)) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "POST /switches/{trunk|route}/NAME/{on|off} or /switches/recording/{on|off}",
        );
    };
    let config = s.config.load();
    let known = match capability {
        Capability::Trunk => config.trunks.iter().any(|t| t.name.as_str() == name),
        Capability::Route => config.routes.iter().any(|r| r.name == name),
        Capability::Recording => false,
    };
    if !known {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("no {} named {name}", capability.as_str()),
        );
    }
    s.switches.set(capability, &name, on);
    Json(SwitchView {
        capability: capability.as_str(),
        on: s.switches.is_on(capability, &name),
        name,
    })
    .into_response()
}

pub(super) async fn flip_recording(
    State(s): State<AdminState>,
    Path(state): Path<String>,
) -> Response {
    let Some(on) = on_off(&state) else {
        return refuse(StatusCode::NOT_FOUND, "POST /switches/recording/{on|off}");
    };
    s.switches.set(Capability::Recording, "", on);
    Json(SwitchView {
        capability: "recording",
        name: String::new(),
        on: s.switches.is_on(Capability::Recording, ""),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_and_addresses() {
        assert_eq!(conversation_id("c17"), Some(ConversationId(17)));
        assert_eq!(conversation_id("17"), Some(ConversationId(17)));
        assert_eq!(conversation_id("cx"), None);
        assert_eq!(conversation_id(""), None);
        assert_eq!(net("192.0.2.7"), "192.0.2.7/32".parse().ok());
        assert_eq!(net("192.0.2.9/24"), "192.0.2.0/24".parse().ok());
        assert_eq!(net("2001:db8::1"), "2001:db8::1/128".parse().ok());
        assert_eq!(net("example.com"), None);
        assert_eq!(net("192.0.2.0/33"), None);
    }
}
