//! The API's OpenAPI 3.1 description, generated from the handlers' annotations and the
//! request and response types (utoipa), served at `GET /openapi.json`.

use std::sync::Arc;

use axum::Extension;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};

use super::http::{public_routes, routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "voxgate call-control API",
        description = "Third-party call control of voxgate's conversations: list and inspect them, originate, dial, answer, hold, resume, bridge, unbridge, conference (join, leave, mute, listen only), play, send digits, hang up, accept or refuse transfers; and GET /v1/events, a WebSocket of every event. Commands are asynchronous: 202 says the command was queued, its outcome arrives as events (an `error` event when the conversation refuses it). Conversations of routes or trunks with control = \"api\" take commands; any conversation can be hung up by DELETE /v1/conversations/{id}.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&Bearer),
    tags(
        (name = "conversations", description = "Conversations: list, inspect, originate, dial, bridge, reject, hang up"),
        (name = "legs", description = "One leg of a conversation: answer, hold, resume, unbridge, hang up, transfers, play, digits"),
        (name = "recordings", description = "Recording a leg to a WAV file: start, pause, resume, stop"),
        (name = "conversations", description = "Conversations: list, inspect, originate, dial, bridge, conference, reject, hang up"),
        (name = "legs", description = "One leg of a conversation: answer, hold, resume, unbridge, hang up, transfers, media, its conference"),
        (name = "events", description = "The event stream"),
        (name = "agents", description = "Agents of the contact center: log in and out, available or idle, wrap-up"),
        (name = "queues", description = "Queues of the contact center: contacts waiting, agents, estimated wait"),
        (name = "meta", description = "This description"),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme the paths name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A token of [api] tokens (the config holds its SHA-256); on GET /v1/events also ?token=",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The description's head (info, tags, security scheme), before the paths are added.
pub fn base() -> OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The whole description.
pub fn openapi() -> OpenApi {
    let mut doc = routes().into_openapi();
    doc.merge(public_routes().into_openapi());
    doc
}

/// The description as served, serialised once.
#[derive(Clone, Debug)]
pub struct Document(Option<Arc<str>>);

impl Document {
    /// Serialises [`openapi`].
    pub fn new() -> Document {
        Document(openapi().to_json().ok().map(Into::into))
    }
}

impl Default for Document {
    fn default() -> Self {
        Document::new()
    }
}

/// This description (no token needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json")),
)]
pub async fn document(Extension(doc): Extension<Document>) -> Response {
    match doc.0 {
        Some(text) => (
            [(header::CONTENT_TYPE, "application/json")],
            text.to_string(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
