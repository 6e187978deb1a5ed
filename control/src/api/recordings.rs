//! `/v1/conversations/{id}/recordings/{rec}/...`: pause, resume and stop a recording by
//! the id its record's 202 gave (`POST .../legs/{leg}/record` starts one).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use voxgate_edge::control_plane::{Command, RecordingId};

use super::conversations::queue;
use super::plane::ApiPlane;
use super::views::{Accepted, Problem};
use super::wire::{conversation_id, recording_id};
use crate::ControlError;

type Accept = Result<(StatusCode, Json<Accepted>), ControlError>;

/// Queues the command `make` builds for the recording of the path.
async fn recording_command(
    plane: &ApiPlane,
    (id, rec): (String, String),
    make: impl FnOnce(RecordingId) -> Command,
) -> Accept {
    let id = conversation_id(&id)?;
    let rec = recording_id(&rec)?;
    queue(plane, id, make(rec), None).await
}

/// Pause a recording: silence is written instead of the leg's audio (a card number being
/// given) until it is resumed; the file keeps the call's timeline.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/recordings/{rec}/pause",
    tag = "recordings",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("rec" = u32, Path, description = "The recording (the `recording` of the record's 202)"),
    ),
    responses(
        (status = 202, description = "Queued (an `error` with `unknown_recording` follows if none is in progress)", body = Accepted),
        (status = 400, description = "A value out of what is allowed", body = Problem),
        (status = 401, description = "No valid bearer token", body = Problem),
        (status = 404, description = "No live conversation has this id", body = Problem),
        (status = 409, description = "The API does not control this conversation", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn pause(
    State(plane): State<Arc<ApiPlane>>,
    Path(path): Path<(String, String)>,
) -> Accept {
    recording_command(&plane, path, |id| Command::PauseRecording { id }).await
}

/// Resume a paused recording: the leg's audio is written again.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/recordings/{rec}/resume",
    tag = "recordings",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("rec" = u32, Path, description = "The recording"),
    ),
    responses(
        (status = 202, description = "Queued (an `error` with `unknown_recording` follows if none is in progress)", body = Accepted),
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
    recording_command(&plane, path, |id| Command::ResumeRecording { id }).await
}

/// Stop a recording: its file is completed, then `recording_done` (`stopped`).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/recordings/{rec}/stop",
    tag = "recordings",
    params(
        ("id" = String, Path, description = "The conversation, such as c17"),
        ("rec" = u32, Path, description = "The recording"),
    ),
    responses(
        (status = 202, description = "Queued; `recording_done` (or `error`) follows", body = Accepted),
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
    recording_command(&plane, path, |id| Command::StopRecording { id }).await
}
