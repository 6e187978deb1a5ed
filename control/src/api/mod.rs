//! The third-party call-control API (3PCC, in the spirit of Asterisk's ARI): JSON over
//! HTTP on its own listener (`[api] listen`), usable from any language.
//!
//! - `GET /v1/conversations`, `GET /v1/conversations/{id}`: list and inspect.
//! - `POST /v1/conversations`: originate (with a dial); `POST .../{id}/dial`: add legs.
//! - `POST .../legs/{leg}/answer|hold|resume|unbridge`, `DELETE .../legs/{leg}`,
//!   `POST .../bridge`, `POST .../reject`, `POST .../legs/{leg}/transfer/accept|refuse`.
//! - `POST .../legs/{leg}/play|stop|digits`: prompts, tones and music on hold to a leg,
//!   stopping them, DTMF to a leg; the stream carries `digits` and `playback_done`.
//! - `POST .../legs/{leg}/record`, `POST .../recordings/{rec}/pause|resume|stop`: a leg
//!   recorded to a WAV file (mono, or both directions in stereo); the stream carries
//!   `recording_started` and `recording_done`.
//! - `POST .../conference` (`{"legs": [1, 2, 3]}`), `POST
//!   .../legs/{leg}/join|leave|mute|unmute|listen_only|speak`: conferences; the stream
//!   carries `conference_joined`, `conference_left`, `conference_updated`.
//! - `DELETE /v1/conversations/{id}`: the operator's hang-up of any conversation.
//! - `GET /v1/events`: a WebSocket of every event of every conversation, in order.
//! - `GET /v1/agents`, `POST /v1/agents/{name}/login|logout|state|wrap_up`: agents and
//!   their states; `GET /v1/queues`, `GET /v1/queues/{name}`: waiting contacts, agents
//!   available and staffed, the estimated wait.
//! - `GET /openapi.json`: the OpenAPI description, generated from these types.
//!
//! Conversations reach the API through the [`crate::Dispatcher`]: a route or trunk with
//! `control = "api"` hands its calls to the API while a client follows the events, and to
//! the fallback (the route's destinations, or `[api] no_client_status`) while none does.
//! Commands are asynchronous: 202 means queued; the outcome arrives as events. Requests
//! carry `Authorization: Bearer TOKEN`; the config holds only the tokens' SHA-256
//! ([`auth`]).
//!
//! What it is not: a digit-collection API (the contract has no such command yet: a
//! client collects digits from `digits` events itself), a way to fetch recordings (they
//! are files in `[media] recordings_dir`), nor a second way to route (static routes stay
//! in the config).
//!
//! ```no_run
//! # async fn demo(edge: voxgate_edge::Edge, dispatcher: &voxgate_control::Dispatcher)
//! # -> Result<(), voxgate_control::ControlError> {
//! let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 9070));
//! let api = voxgate_control::api::ApiServer::start(listen, dispatcher.api(), edge.metrics()).await?;
//! // ... serve calls ...
//! edge.stop(std::time::Duration::from_secs(32)).await;
//! api.stop().await;
//! # Ok(()) }
//! ```

mod agents;
pub mod auth;
mod conference;
mod conversations;
pub mod events;
mod http;
mod legs;
mod metrics;
pub mod openapi;
mod plane;
mod recordings;
mod stream;
pub mod views;
pub mod wire;

pub use auth::{hash_token, hex};
pub use http::app;
pub use metrics::ApiMetrics;
pub use plane::{ANNOUNCE_QUEUE, ApiPlane, Controller};
pub use stream::LAGGED_CLOSE;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::ControlError;

/// How long a stopping API waits for its connections to finish.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The API's running listener.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    plane: Arc<ApiPlane>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Registers the API's metrics in the edge's registry (one `/metrics`), binds
    /// `listen` and serves the API of `plane`.
    pub async fn start(
        listen: SocketAddr,
        plane: Arc<ApiPlane>,
        metrics: &voxgate_edge::metrics::Metrics,
    ) -> Result<ApiServer, ControlError> {
        plane.metrics().register(metrics)?;
        let bind_error = |source| ControlError::Bind {
            address: listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let app = http::app(plane.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                warn!(error = %e, "API listener failed");
            }
        });
        info!(%addr, "API listener up");
        Ok(ApiServer {
            addr,
            plane,
            stop,
            task,
        })
    }

    /// The bound address (port 0 in the config is resolved here).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the event followers' streams and the listener; requests in flight get
    /// [`STOP_GRACE`] to finish.
    pub async fn stop(self) {
        self.plane.stop_followers();
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            warn!("API connections still open after the grace period; closing them");
            task.abort();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
