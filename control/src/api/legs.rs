//! `/v1/conversations/{id}/legs/{leg}/...`: the commands about one leg.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use voxgate_edge::control_plane::{Command, LegId};

use super::conversations::queue;
use super::http::{Body, OptionalBody};
use super::plane::ApiPlane;
use super::views::{Accepted, Problem};
use super::wire::{
    AnswerBody, DigitsBody, HangupQuery, PlayBody, RecordBody, TransferBody, conversation_id,
    leg_id,
};
use crate::ControlError;

type Accept = Result<(StatusCode, Json<Accepted>), ControlError>;

/// Queues the command `make` builds for the leg of the path.
pub(super) async fn leg_command(
    plane: &ApiPlane,
    (id, leg): (String, String),
    make: impl FnOnce(LegId) -> Result<Command, ControlError>,
) -> Accept {
    let id = conversation_id(&id)?;
    let leg = leg_id(&leg)?;
    queue(plane, id, make(leg)?, Some(leg.0)).await
}

/// voxgate answers an inbound leg itself (200 with its own SDP, or 183 when `early`).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/answer",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The inbound leg"),
    ),
    request_body(content = Option<AnswerBody>, description = "May be left out: a 200 answer"),
    responses(
        (status = 202, description = "Queued; `leg_answered` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn answer(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    OptionalBody(body): OptionalBody<AnswerBody>,
) -> Accept {
    leg_command(&plane, path, |leg| {
        Ok(Command::Answer {
            leg,
            early: body.early,
        })
    })
    .await
}

/// Put a leg on hold (out of its bridge, re-INVITE sendonly).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/hold",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg"),
    ),
    responses(
        (status = 202, description = "Queued; `held` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn hold(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::Hold { leg })).await
}

/// Take a leg off hold and back into the bridge it left.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/resume",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg"),
    ),
    responses(
        (status = 202, description = "Queued; `resumed` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn resume(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::Resume { leg })).await
}

/// Take a leg out of its bridge or conference (voxgate terminates its media).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/unbridge",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg"),
    ),
    responses(
        (status = 202, description = "Queued; `unbridged` or `conference_left` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn unbridge(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::Unbridge { leg })).await
}

/// Hang up one leg: BYE once answered, CANCEL (outbound) or a final status (inbound)
/// before.
#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/legs/{leg}",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg"),
        HangupQuery,
    ),
    responses(
        (status = 202, description = "Queued; `leg_ended` (or `error`) follows", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn hangup(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    uri: Uri,
) -> Accept {
    // Parsed here rather than by the extractor, for a refusal in the API's words.
    let query = match uri.query() {
        None => HangupQuery::default(),
        Some(_) => Query::<HangupQuery>::try_from_uri(&uri)
            .map(|q| q.0)
            .map_err(|e| ControlError::BadBody {
                detail: e.body_text(),
            })?,
    };
    leg_command(&plane, path, |leg| query.into_command(leg)).await
}

/// Accept the transfer (REFER) pending on a leg: the transferee is dialled to `dial`.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/transfer/accept",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg the REFER came on"),
    ),
    request_body = TransferBody,
    responses(
        (status = 202, description = "Queued; `dial` is its id in `leg_created` and `dial_failed`", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn accept_transfer(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    Body(body): Body<TransferBody>,
) -> Accept {
    let config = plane.config();
    leg_command(&plane, path, |leg| body.into_command(&config, leg)).await
}

/// Refuse the transfer (REFER) pending on a leg (603 Decline).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/transfer/refuse",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg the REFER came on"),
    ),
    responses(
        (status = 202, description = "Queued", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn refuse_transfer(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::RefuseTransfer { leg })).await
}

/// Play a prompt, a sequence of prompts, a tone or music on hold to a leg, replacing what
/// plays on it. To a leg in no bridge voxgate sends its own RTP (the leg's G.711 codec, 20
/// ms frames); to a bridged leg its partner's media is held back while it plays.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/play",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "An answered (or early-answered) leg"),
    ),
    request_body = PlayBody,
    responses(
        (status = 202, description = "Queued; `playback` is its id in `playback_done` (or `error`)", body = Accepted),
        (status = 400, description = "A value out of what is allowed (an unknown prompt or tone)", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn play(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    Body(body): Body<PlayBody>,
) -> Accept {
    let config = plane.config();
    leg_command(&plane, path, |leg| body.into_command(&config, leg)).await
}

/// Stop what plays on a leg (`playback_done` with `stopped`) and drop digits not yet sent.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/stop",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "The leg"),
    ),
    responses(
        (status = 202, description = "Queued", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn stop(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(Command::StopMedia { leg })).await
}

/// Send DTMF digits to a leg: RFC 4733 events where it negotiated telephone-event, else
/// one SIP INFO (`application/dtmf-relay`) per digit.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/digits",
    tag = "legs",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "An answered leg"),
    ),
    request_body = DigitsBody,
    responses(
        (status = 202, description = "Queued (an `error` event follows if they cannot be sent)", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn digits(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    Body(body): Body<DigitsBody>,
) -> Accept {
    leg_command(&plane, path, |leg| body.into_command(leg)).await
}

/// Record a leg to a WAV file in `[media] recordings_dir` (8 kHz, 16-bit PCM): mono, what
/// the leg's peer sends, or stereo, that on channel 0 and what is sent to the leg on
/// channel 1. The file is named by the conversation's start (UTC), its id, the leg and
/// the recording (`20261204T104126Z-c17-leg1-2.wav`) and written off the media path,
/// made whole every second. One recording per leg at a time.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/legs/{leg}/record",
    tag = "recordings",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("leg" = u32, Path, description = "An answered (or early-answered) leg in PCMU or PCMA"),
    ),
    request_body(content = Option<RecordBody>, description = "May be left out: mono"),
    responses(
        (status = 202, description = "Queued; `recording` is its id in `recording_started` and `recording_done` (or `error`: `recording_off`, `already_recording`, `no_codec`, ...)", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn record(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
    OptionalBody(body): OptionalBody<RecordBody>,
) -> Accept {
    leg_command(&plane, path, |leg| Ok(body.into_command(leg))).await
}
