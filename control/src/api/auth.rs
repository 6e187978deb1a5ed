//! Bearer tokens on the API's requests: the scheme (SHA-256 in the config, constant-time
//! compare) is [`voxgate_edge::auth`], shared with the admin API.

use axum::extract::{Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

use super::plane::ApiPlane;
use crate::ControlError;

pub use voxgate_edge::auth::{bearer, hash_token, hex, verify};

/// The name of the token holder a request authenticated as (a request extension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder(pub String);

/// The one path that also takes `?token=`: browsers cannot set a WebSocket's headers.
/// Elsewhere a token in the URL would end up in proxies' logs, so it is not looked at.
pub const QUERY_TOKEN_PATH: &str = "/v1/events";

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Lets a request through when it carries a valid token (its holder goes into the
/// request's extensions), else answers 401.
pub async fn require_token(
    State(plane): State<Arc<ApiPlane>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ControlError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().ok().and_then(bearer));
    let from_query = if request.uri().path() == QUERY_TOKEN_PATH {
        Query::<TokenQuery>::try_from_uri(request.uri())
            .ok()
            .and_then(|q| q.0.token)
    } else {
        None
    };
    let presented: Option<String> = match (header, from_query) {
        (Some(Some(token)), _) => Some(token.to_owned()),
        // A malformed Authorization header is a presented (and bad) credential.
        (Some(None), _) => Some(String::new()),
        (None, query) => query,
    };
    let Some(presented) = presented else {
        return Err(ControlError::Unauthorized { presented: false });
    };
    let config = plane.config();
    let tokens = config.api.as_ref().map_or(&[][..], |a| &a.tokens[..]);
    match verify(tokens, &presented) {
        Some(holder) => {
            request.extensions_mut().insert(Holder(holder.to_owned()));
            Ok(next.run(request).await)
        }
        None => Err(ControlError::Unauthorized { presented: true }),
    }
}
