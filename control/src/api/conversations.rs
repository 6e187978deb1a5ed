//! `/v1/conversations`: list, inspect, originate, and the commands about a whole
//! conversation (dial, bridge, reject), and the operator's hang-up of any conversation.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use tracing::info;
use voxgate_edge::control_plane::{Command, ConversationId};

use super::auth::Holder;
use super::http::Body;
use super::plane::{ApiPlane, Controller};
use super::views::{Accepted, ConversationView, Originated, Problem};
use super::wire::{BridgeBody, DialBody, OriginateBody, RejectBody, conversation_id};
use crate::ControlError;

/// Queues `command` on conversation `id` and says what was accepted.
pub(super) async fn queue(
    plane: &ApiPlane,
    id: ConversationId,
    command: Command,
    leg: Option<u32>,
) -> Result<(StatusCode, Json<Accepted>), ControlError> {
    let name = command.name();
    let queued = plane.queue(id, command).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            conversation: id.to_string(),
            command: name,
            leg,
            dial: queued.dial.map(|d| d.0),
            playback: queued.playback.map(|p| p.0),
            recording: queued.recording.map(|r| r.0),
            conference: queued.conference.map(|c| c.0),
        }),
    ))
}

/// Every live conversation, oldest first.
#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    responses(
        (status = 200, description = "The live conversations, oldest first", body = Vec<ConversationView>),
        (status = 401, description = "No valid bearer token", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(plane): State<Arc<ApiPlane>>,
) -> Result<Json<Vec<ConversationView>>, ControlError> {
    let edge = plane.edge()?;
    let views = edge
        .conversations()
        .into_iter()
        .map(|summary| {
            let api = conversation_id(&summary.id).is_ok_and(|id| plane.controls(id));
            ConversationView::new(summary, api)
        })
        .collect();
    Ok(Json(views))
}

/// One live conversation and its legs.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    responses(
        (status = 200, description = "The conversation", body = ConversationView),
        (status = 400, description = "The id is not one", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn inspect(
    State(plane): State<Arc<ApiPlane>>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ControlError> {
    let id = conversation_id(&id)?;
    let summary = plane
        .edge()?
        .conversation(id)
        .ok_or_else(|| ControlError::NoConversation { id: id.to_string() })?;
    Ok(Json(ConversationView::new(summary, plane.controls(id))))
}

/// A new conversation, controlled by the API, and its first dial (dial 1).
#[utoipa::path(
    post,
    path = "/v1/conversations",
    tag = "conversations",
    request_body = OriginateBody,
    responses(
        (status = 201, description = "Originated; the dial's legs follow as events", body = Originated,
         headers(("location" = String, description = "/v1/conversations/{id}"))),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 503, description = "The node takes no new conversations (stopping)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn originate(
    State(plane): State<Arc<ApiPlane>>,
    holder: Option<Extension<Holder>>,
    Body(body): Body<OriginateBody>,
) -> Result<impl IntoResponse, ControlError> {
    if let Some(leg) = body.dial.connect {
        return Err(ControlError::invalid(
            "dial.connect",
            leg.to_string(),
            "nothing: an originated conversation has no leg to connect to (dial it, then POST /v1/conversations/{id}/dial with connect)",
        ));
    }
    let dial = body.dial.into_dial(&plane.config(), "dial.")?;
    let session = plane
        .edge()?
        .originate()
        .await
        .map_err(|_| ControlError::Unavailable)?;
    let id = session.info.id;
    plane.announce_started(&session.info, Controller::Api);
    plane.take(session);
    let dial = plane.command(id, Command::Dial(dial)).await?;
    info!(holder = %holder.map(|h| h.0.0).unwrap_or_default(), conversation = %id, "originated");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/conversations/{id}"))],
        Json(Originated {
            conversation: id.to_string(),
            dial: dial.map_or(1, |d| d.0),
        }),
    ))
}

/// The operator's hang-up: every leg of any conversation, whoever controls it.
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    responses(
        (status = 202, description = "Hanging up; `leg_ended` and `ended` events follow", body = Accepted),
        (status = 400, description = "The id is not one", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn operator_hangup(
    State(plane): State<Arc<ApiPlane>>,
    holder: Option<Extension<Holder>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ControlError> {
    let id = conversation_id(&id)?;
    if !plane.edge()?.hangup(id) {
        return Err(ControlError::NoConversation { id: id.to_string() });
    }
    info!(holder = %holder.map(|h| h.0.0).unwrap_or_default(), conversation = %id, "operator hang-up");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            conversation: id.to_string(),
            command: "hangup",
            leg: None,
            dial: None,
            playback: None,
            recording: None,
            conference: None,
        }),
    ))
}

/// Add legs by dialling.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/dial",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    request_body = DialBody,
    responses(
        (status = 202, description = "Queued; `dial` is its id in `leg_created` and `dial_failed`", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn dial(
    State(plane): State<Arc<ApiPlane>>,
    Path(id): Path<String>,
    Body(body): Body<DialBody>,
) -> Result<(StatusCode, Json<Accepted>), ControlError> {
    let id = conversation_id(&id)?;
    let dial = body.into_dial(&plane.config(), "")?;
    queue(&plane, id, Command::Dial(dial), None).await
}

/// Join two answered legs' media.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/bridge",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    request_body = BridgeBody,
    responses(
        (status = 202, description = "Queued; `bridged` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn bridge(
    State(plane): State<Arc<ApiPlane>>,
    Path(id): Path<String>,
    Body(body): Body<BridgeBody>,
) -> Result<(StatusCode, Json<Accepted>), ControlError> {
    let id = conversation_id(&id)?;
    queue(&plane, id, body.into_command()?, None).await
}

/// Refuse the inbound leg before answer.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/reject",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    request_body = RejectBody,
    responses(
        (status = 202, description = "Queued; `leg_ended` and `ended` follow", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn reject(
    State(plane): State<Arc<ApiPlane>>,
    Path(id): Path<String>,
    Body(body): Body<RejectBody>,
) -> Result<(StatusCode, Json<Accepted>), ControlError> {
    let id = conversation_id(&id)?;
    queue(&plane, id, body.into_command()?, None).await
}
