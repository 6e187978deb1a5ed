//! Conferences: `POST /v1/conversations/{id}/conference` mixes legs in a new one, and
//! `POST .../legs/{leg}/join|leave|mute|unmute|listen_only|speak` move a leg in and out
//! and change what it does there.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use voxgate_edge::control_plane::{Command, ConferenceRole};

use super::conversations::queue;
use super::http::Body;
use super::legs::leg_command;
use super::plane::ApiPlane;
use super::views::{Accepted, Problem};
use super::wire::{ConferenceBody, JoinBody, conversation_id};
use crate::ControlError;

type Accept = Result<(StatusCode, Json<Accepted>), ControlError>;

/// Mix 1 to 16 answered legs in a new conference: each hears all the others and not
/// itself, whichever G.711 law each negotiated (no re-INVITE); each leaves the bridge or
/// conference it was in. A two-leg `bridge` stays the relay; a conference stays a
/// conference whatever its size.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/conference",
    tag = "conversations",
    params(("id" = String, Path, description = "The conversation, such as c17")),
    request_body = ConferenceBody,
    responses(
        (status = 202, description = "Queued; `conference` is its id in `conference_joined` (or `error`)", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn conference(
    State(plane): State<Arc<ApiPlane>>,
    Path(id): Path<String>,
    Body(body): Body<ConferenceBody>,
) -> Accept {
    let id = conversation_id(&id)?;
    queue(&plane, id, body.into_command()?, None).await
}

/// Add a leg to a conference (out of its bridge or other conference), as a speaker or a
/// listener; for a member, a change of role.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/join",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "An answered leg (PCMU or PCMA)"),
    ),
    request_body = JoinBody,
    responses(
        (status = 202, description = "Queued; `conference_joined` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn join(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    Body(body): Body<JoinBody>,
) -> Accept {
    leg_command(&plane, path, |leg| body.into_command(leg)).await
}

/// Take a leg out of its conference: voxgate terminates its media.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/leave",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "A leg in a conference"),
    ),
    responses(
        (status = 202, description = "Queued; `conference_left` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn leave(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::LeaveConference { leg })).await
}

/// Mute a leg in its conference: nobody hears it; it still hears everyone.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/mute",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "A leg in a conference"),
    ),
    responses(
        (status = 202, description = "Queued; `conference_updated` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn mute(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::Mute { leg, muted: true })).await
}

/// Unmute a leg in its conference.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/unmute",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "A leg in a conference"),
    ),
    responses(
        (status = 202, description = "Queued; `conference_updated` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn unmute(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::Mute { leg, muted: false })).await
}

/// Make a leg listen only in its conference (a supervisor monitoring): it hears
/// everyone, nobody hears it.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/listen_only",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "A leg in a conference"),
    ),
    responses(
        (status = 202, description = "Queued; `conference_updated` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn listen_only(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| {
        Ok(Command::SetRole {
            leg,
            role: ConferenceRole::Listener,
        })
    })
    .await
}

/// Make a leg a speaker in its conference again (a supervisor barging in).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/speak",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "A leg in a conference"),
    ),
    responses(
        (status = 202, description = "Queued; `conference_updated` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn speak(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| {
        Ok(Command::SetRole {
            leg,
            role: ConferenceRole::Speaker,
        })
    })
    .await
}
