//! The crate's one error type: why the API listener could not start, and why the API
//! refused a request (each refusal is an HTTP status and a JSON body saying what was
//! wrong and what is allowed).

use std::net::SocketAddr;

/// What went wrong in the control plane.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The API's listener could not be bound.
    #[error("cannot listen on {address} for the API: {source}")]
    Bind {
        /// The `[api] listen` address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The API's metrics could not be registered (a name registered twice).
    #[error("cannot register the API's metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// No `Authorization: Bearer` token, or one no `[api] tokens` entry hashes to.
    #[error("{}; allowed: \"Authorization: Bearer TOKEN\" with a token of [api] tokens", if *.presented { "the bearer token is not valid" } else { "no bearer token" })]
    Unauthorized {
        /// A token was presented (and did not match).
        presented: bool,
    },
    /// A request body that is not the JSON the path takes.
    #[error("{detail}")]
    BadBody {
        /// The JSON parser's words, with the path of the offending field.
        detail: String,
    },
    /// A request body larger than the API takes.
    #[error("the body is larger than {limit} bytes; allowed: a JSON body of at most {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// A value out of what the API allows.
    #[error("{field}: {found} is not valid; allowed: {allowed}")]
    Invalid {
        /// Where it is (`destinations[0].trunk`, `ring_timeout_s`, the path's `leg`).
        field: String,
        /// The value as given.
        found: String,
        /// What is allowed.
        allowed: String,
    },
    /// No live conversation has this id.
    #[error("no conversation {id}")]
    NoConversation {
        /// The id (`c17`).
        id: String,
    },
    /// The conversation lives, but the API does not control it (its route or trunk does
    /// not say `control = "api"`, or it fell back because no client was connected).
    #[error(
        "conversation {id} is not controlled by the API; allowed: commands to conversations of routes or trunks with control = \"api\", or DELETE /v1/conversations/{id} (operator hang-up)"
    )]
    NotControlled {
        /// The id (`c17`).
        id: String,
    },
    /// The edge is not running (yet, or any more) or takes no new conversations.
    #[error("the node is not taking new conversations")]
    Unavailable,
    /// No such path.
    #[error("no such path; GET /openapi.json lists them")]
    NoPath,
    /// The contact center refused: no such agent or queue, or not in the agent's state.
    #[error("{0}")]
    Acd(#[from] crate::acd::AcdError),
}

impl ControlError {
    /// The refusal's name, as in the JSON body's `error` and the label of
    /// `voxgate_api_refusals_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            ControlError::Bind { .. } | ControlError::Metrics(_) => "internal",
            ControlError::Unauthorized { .. } => "unauthorized",
            ControlError::BadBody { .. } | ControlError::Invalid { .. } => "bad_request",
            ControlError::NoConversation { .. } | ControlError::NoPath => "not_found",
            ControlError::NotControlled { .. } => "conflict",
            ControlError::TooLarge { .. } => "too_large",
            ControlError::Unavailable => "unavailable",
            ControlError::Acd(crate::acd::AcdError::UnknownAgent(_))
            | ControlError::Acd(crate::acd::AcdError::UnknownQueue(_)) => "not_found",
            ControlError::Acd(_) => "conflict",
        }
    }

    /// Shorthand for [`ControlError::Invalid`].
    pub(crate) fn invalid(
        field: impl Into<String>,
        found: impl Into<String>,
        allowed: impl Into<String>,
    ) -> ControlError {
        ControlError::Invalid {
            field: field.into(),
            found: found.into(),
            allowed: allowed.into(),
        }
    }
}
