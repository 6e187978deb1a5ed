//! The admin API's bearer tokens (`[admin] tokens`, the scheme of [`crate::auth`]): every
//! path but `/metrics`, `/healthz` and `/readyz` needs one. With no token configured the
//! admin API is closed (403), never open: a missing section must not mean "anyone".

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AdminState;
use crate::auth::{bearer, verify};

/// Lets a request with a valid token through; 401 (or 403 while no token is configured).
pub(super) async fn require_token(
    State(s): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let config = s.config.load();
    let tokens = &config.admin.tokens;
    if tokens.is_empty() {
        s.metrics.admin_refusal("closed");
        return (
            StatusCode::FORBIDDEN,
            "the admin API is closed: no [admin] tokens are configured \
             (voxgate hash-token TOKEN prints the sha256 to add)\n",
        )
            .into_response();
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let Some(holder) = presented.and_then(|token| verify(tokens, token)) else {
        s.metrics.admin_refusal("unauthorized");
        return (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer")],
            "a valid admin token is required: Authorization: Bearer TOKEN\n",
        )
            .into_response();
    };
    // What an operator changed, and who: never the token.
    if request.method() != Method::GET {
        tracing::info!(
            holder,
            method = %request.method(),
            path = request.uri().path(),
            "admin request"
        );
    }
    next.run(request).await
}
