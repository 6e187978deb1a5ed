//! `/v1/agents` and `/v1/queues`: the contact center's agents (log in, log out,
//! available or idle with a code, wrap-up codes) and its queues' figures.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use voxgate_config::routing::Agent;

use super::http::Body;
use super::plane::ApiPlane;
use super::views::Problem;
use crate::ControlError;
use crate::acd::{AgentState, QueueInfo};

/// An agent and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentView {
    /// Its name (its id).
    pub name: String,
    /// Its teams.
    pub teams: Vec<String>,
    /// `logged_out`, `idle`, `available`, `reserved`, `offered`, `engaged`, `wrap_up`.
    pub state: &'static str,
    /// The idle or wrap-up code, if any (`rona` after an offer it did not answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The contact it is reserved for, offered or talking to (`c17`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

impl AgentView {
    fn new(agent: &Agent, state: &AgentState) -> AgentView {
        let code = match state {
            AgentState::Idle { code } | AgentState::WrapUp { code } => code.clone(),
            _ => None,
        };
        AgentView {
            name: agent.name.clone(),
            teams: agent.teams.clone(),
            state: state.name(),
            code,
            contact: state.contact().map(|c| c.to_string()),
        }
    }
}

/// A queue's figures.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct QueueView {
    /// Its name.
    pub name: String,
    /// Contacts waiting for an agent.
    pub waiting: usize,
    /// The longest of their waits, in seconds.
    pub longest_wait_s: f64,
    /// Agents of its teams available now.
    pub available_agents: usize,
    /// Agents of its teams logged in.
    pub staffed_agents: usize,
    /// Handle times the estimate rests on (the last 50 at most).
    pub samples: usize,
    /// Their mean, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_handle_time_s: Option<f64>,
    /// The estimated wait of a contact joining now: mean handle time × (waiting + 1) ÷
    /// agents staffed; absent with fewer than 3 handle times or nobody staffed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_s: Option<f64>,
}

impl QueueView {
    fn new(info: QueueInfo, estimate: Option<Duration>) -> QueueView {
        QueueView {
            name: info.queue,
            waiting: info.waiting,
            longest_wait_s: info.longest_wait.as_secs_f64(),
            available_agents: info.available_agents,
            staffed_agents: info.staffed_agents,
            samples: info.samples,
            mean_handle_time_s: info.mean_handle_time.map(|d| d.as_secs_f64()),
            estimated_wait_s: estimate.map(|d| d.as_secs_f64()),
        }
    }
}

/// The state an agent asks for.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// `available` or `idle`.
    pub state: RequestedState,
    /// With `idle`: why (`break`, `training` …).
    #[serde(default)]
    pub code: Option<String>,
}

/// The states an agent can ask for itself.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestedState {
    /// Ready for contacts.
    Available,
    /// Not taking contacts.
    Idle,
}

/// A wrap-up code.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WrapUpRequest {
    /// The code (`sale`, `no_sale` …), 1 to 64 characters.
    pub code: String,
}

fn view(plane: &ApiPlane, name: &str) -> Result<AgentView, ControlError> {
    plane.center().with(|l| {
        let acd = l.acd();
        match (acd.agent_config(name), acd.agent_state(name)) {
            (Some(agent), Some(state)) => Ok(AgentView::new(agent, state)),
            _ => Err(crate::acd::AcdError::UnknownAgent(name.to_owned()).into()),
        }
    })
}

fn code(code: Option<String>, field: &str) -> Result<Option<String>, ControlError> {
    match code {
        Some(c) if c.is_empty() || c.len() > 64 || c.chars().any(char::is_control) => Err(
            ControlError::invalid(field, c, "1 to 64 printable characters"),
        ),
        other => Ok(other),
    }
}

/// Every agent with its state, in configuration order.
#[utoipa::path(
    get,
    path = "/v1/agents",
    tag = "agents",
    responses(
        (status = 200, description = "The agents", body = Vec<AgentView>),
        (status = 401, description = "No valid bearer token", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(plane): State<Arc<ApiPlane>>) -> Json<Vec<AgentView>> {
    Json(plane.center().with(|l| {
        l.acd()
            .agents()
            .map(|(a, s)| AgentView::new(a, s))
            .collect()
    }))
}

/// Log an agent in: idle until it makes itself available.
#[utoipa::path(
    post,
    path = "/v1/agents/{name}/login",
    tag = "agents",
    params(("name" = String, Path, description = "The agent ([[agent]] name)")),
    responses(
        (status = 200, description = "Logged in", body = AgentView),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No such agent", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn login(
    State(plane): State<Arc<ApiPlane>>,
    Path(name): Path<String>,
) -> Result<Json<AgentView>, ControlError> {
    plane.center().with(|l| {
        let now = l.now();
        l.acd().login(now, &name)
    })?;
    view(&plane, &name).map(Json)
}

/// Log an agent out; not while it is reserved, offered or engaged.
#[utoipa::path(
    post,
    path = "/v1/agents/{name}/logout",
    tag = "agents",
    params(("name" = String, Path, description = "The agent")),
    responses(
        (status = 200, description = "Logged out", body = AgentView),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No such agent", body = Problem),
        (status = 409, description = "The agent has a contact", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn logout(
    State(plane): State<Arc<ApiPlane>>,
    Path(name): Path<String>,
) -> Result<Json<AgentView>, ControlError> {
    plane.center().with(|l| {
        let now = l.now();
        l.acd().logout(now, &name)
    })?;
    view(&plane, &name).map(Json)
}

/// Make an agent available (from idle or wrap-up: contacts are offered to it) or idle
/// with a code (from available or wrap-up).
#[utoipa::path(
    post,
    path = "/v1/agents/{name}/state",
    tag = "agents",
    params(("name" = String, Path, description = "The agent")),
    request_body = StateRequest,
    responses(
        (status = 200, description = "The agent's state now (reserved at once when a contact waits)", body = AgentView),
        (status = 400, description = "Not a state an agent can ask for", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No such agent", body = Problem),
        (status = 409, description = "Not from the agent's state (logged out, or busy with a contact)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn state(
    State(plane): State<Arc<ApiPlane>>,
    Path(name): Path<String>,
    Body(request): Body<StateRequest>,
) -> Result<Json<AgentView>, ControlError> {
    let code = code(request.code, "code")?;
    plane.center().with(|l| {
        let now = l.now();
        match request.state {
            RequestedState::Available => l.acd().set_available(now, &name),
            RequestedState::Idle => l.acd().set_idle(now, &name, code),
        }
    })?;
    view(&plane, &name).map(Json)
}

/// Give the agent's wrap-up its code; it stays in wrap-up until its time is over (or it
/// makes itself available).
#[utoipa::path(
    post,
    path = "/v1/agents/{name}/wrap_up",
    tag = "agents",
    params(("name" = String, Path, description = "The agent")),
    request_body = WrapUpRequest,
    responses(
        (status = 200, description = "The code is recorded", body = AgentView),
        (status = 400, description = "Not a valid code", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No such agent", body = Problem),
        (status = 409, description = "The agent is not in wrap-up", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn wrap_up(
    State(plane): State<Arc<ApiPlane>>,
    Path(name): Path<String>,
    Body(request): Body<WrapUpRequest>,
) -> Result<Json<AgentView>, ControlError> {
    let code = code(Some(request.code), "code")?.unwrap_or_default();
    plane.center().with(|l| {
        let now = l.now();
        l.acd().wrap_up(now, &name, code)
    })?;
    view(&plane, &name).map(Json)
}

fn queue_view(plane: &ApiPlane, name: &str) -> Option<QueueView> {
    plane.center().with(|l| {
        let now = l.now();
        let acd = l.acd();
        let info = acd.queue_info(now, name)?;
        let estimate = acd.estimated_wait(now, name, info.waiting + 1);
        Some(QueueView::new(info, estimate))
    })
}

/// Every queue's figures.
#[utoipa::path(
    get,
    path = "/v1/queues",
    tag = "queues",
    responses(
        (status = 200, description = "The queues, in configuration order", body = Vec<QueueView>),
        (status = 401, description = "No valid bearer token", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn queues(State(plane): State<Arc<ApiPlane>>) -> Json<Vec<QueueView>> {
    let names: Vec<String> = plane
        .config()
        .queues
        .iter()
        .map(|q| q.name.clone())
        .collect();
    Json(names.iter().filter_map(|n| queue_view(&plane, n)).collect())
}

/// One queue's figures.
#[utoipa::path(
    get,
    path = "/v1/queues/{name}",
    tag = "queues",
    params(("name" = String, Path, description = "The queue ([[queue]] name)")),
    responses(
        (status = 200, description = "The queue", body = QueueView),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No such queue", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn queue(
    State(plane): State<Arc<ApiPlane>>,
    Path(name): Path<String>,
) -> Result<Json<QueueView>, ControlError> {
    queue_view(&plane, &name)
        .map(Json)
        .ok_or_else(|| crate::acd::AcdError::UnknownQueue(name).into())
}
