//! The HTTP side: the router (every path registered with its OpenAPI description), the
//! refusal responses, the JSON body extractors, and the middleware that counts every
//! request and refusal.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::plane::ApiPlane;
use super::views::Problem;
use super::{agents, auth, conference, conversations, legs, openapi, recordings, stream};
use crate::ControlError;

/// The largest request body taken (a dial of 16 destinations is about 2 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The refusal a response carries, for the request counter.
#[derive(Clone, Copy, Debug)]
struct Refused(&'static str);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            ControlError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ControlError::BadBody { .. } | ControlError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ControlError::NoConversation { .. } | ControlError::NoPath => StatusCode::NOT_FOUND,
            ControlError::NotControlled { .. } => StatusCode::CONFLICT,
            ControlError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ControlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ControlError::Acd(crate::acd::AcdError::UnknownAgent(_))
            | ControlError::Acd(crate::acd::AcdError::UnknownQueue(_)) => StatusCode::NOT_FOUND,
            ControlError::Acd(_) => StatusCode::CONFLICT,
            ControlError::Bind { .. } | ControlError::Metrics(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (status, Json(Problem::from(&self))).into_response();
        if let ControlError::Unauthorized { presented } = self {
            // RFC 6750 §3: the scheme, and what was wrong with a token presented.
            let challenge = if presented {
                "Bearer realm=\"voxgate\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"voxgate\""
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response.extensions_mut().insert(Refused(self.reason()));
        response
    }
}

/// A JSON request body (the Content-Type is not checked: `curl -d` works as it is).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ControlError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes(request, state).await?;
        parse(&bytes).map(Body)
    }
}

/// A JSON request body that may be left out (then `T::default()`).
#[derive(Debug)]
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ControlError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        parse(&bytes).map(OptionalBody)
    }
}

async fn bytes<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<axum::body::Bytes, ControlError> {
    axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ControlError::TooLarge { limit: MAX_BODY }
            } else {
                ControlError::BadBody {
                    detail: e.body_text(),
                }
            }
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ControlError> {
    // axum's parser names the offending field's path (`dial.destinations[0].transport`).
    Json::<T>::from_bytes(bytes)
        .map(|Json(v)| v)
        .map_err(|e| ControlError::BadBody {
            detail: e.body_text(),
        })
}

/// Counts every request by route template and status, and every refusal by reason.
async fn count(State(plane): State<Arc<ApiPlane>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    plane.metrics().request(&route, status.as_u16());
    let refused = response.extensions().get::<Refused>().map(|r| r.0);
    let reason = match (refused, status) {
        (Some(reason), _) => Some(reason),
        // Refusals of axum's own (a wrong method, a body too large, a WebSocket request
        // that is not one).
        (None, StatusCode::METHOD_NOT_ALLOWED) => Some("method_not_allowed"),
        (None, StatusCode::PAYLOAD_TOO_LARGE) => Some("too_large"),
        (None, s) if s.is_client_error() || s.is_server_error() => Some("other"),
        (None, _) => None,
    };
    if let Some(reason) = reason {
        plane.metrics().refusal(reason);
    }
    response
}

async fn no_path() -> ControlError {
    ControlError::NoPath
}

/// Every path of the API, each with its OpenAPI description; the `/v1` ones need a token.
pub fn routes() -> OpenApiRouter<Arc<ApiPlane>> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(conversations::list, conversations::originate))
        .routes(routes!(
            conversations::inspect,
            conversations::operator_hangup
        ))
        .routes(routes!(conversations::dial))
        .routes(routes!(conversations::bridge))
        .routes(routes!(conversations::reject))
        .routes(routes!(legs::answer))
        .routes(routes!(legs::hold))
        .routes(routes!(legs::resume))
        .routes(routes!(legs::unbridge))
        .routes(routes!(legs::hangup))
        .routes(routes!(legs::accept_transfer))
        .routes(routes!(legs::refuse_transfer))
        .routes(routes!(legs::play))
        .routes(routes!(legs::stop))
        .routes(routes!(legs::digits))
        .routes(routes!(legs::record))
        .routes(routes!(recordings::pause))
        .routes(routes!(recordings::resume))
        .routes(routes!(recordings::stop))
        .routes(routes!(conference::conference))
        .routes(routes!(conference::join))
        .routes(routes!(conference::leave))
        .routes(routes!(conference::mute))
        .routes(routes!(conference::unmute))
        .routes(routes!(conference::listen_only))
        .routes(routes!(conference::speak))
        .routes(routes!(stream::events))
        .routes(routes!(agents::list))
        .routes(routes!(agents::login))
        .routes(routes!(agents::logout))
        .routes(routes!(agents::state))
        .routes(routes!(agents::wrap_up))
        .routes(routes!(agents::queues))
        .routes(routes!(agents::queue))
}

/// The paths that need no token: the description of the API itself.
pub fn public_routes() -> OpenApiRouter<Arc<ApiPlane>> {
    OpenApiRouter::new().routes(routes!(openapi::document))
}

/// The whole HTTP service of the API.
pub fn app(plane: Arc<ApiPlane>) -> Router {
    let (v1, _) = routes().split_for_parts();
    let v1 = v1.route_layer(from_fn_with_state(plane.clone(), auth::require_token));
    let (public, _) = public_routes().split_for_parts();
    v1.merge(public)
        .fallback(no_path)
        .layer(Extension(openapi::Document::new()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(from_fn_with_state(plane.clone(), count))
        .with_state(plane)
}
