//! `GET /v1/events`: a WebSocket of every event of every conversation, in each
//! conversation's order, as JSON text messages ([`EventMessage`]). A conversation that
//! starts while the follower is connected is announced (`conversation_started`) before
//! its first event. A follower that reads slower than the node produces is not skipped
//! forward silently: once the edge's buffer ([`FOLLOW_QUEUE`] events) or the API's
//! ([`ANNOUNCE_QUEUE`]) passes it, it gets a `lagged` message and the stream closes with
//! code 4000.
//!
//! Connected followers are what "an API client is connected" means to the dispatcher:
//! while there are none, API-controlled calls get the fallback.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tracing::{debug, info};
use voxgate_edge::handle::FOLLOW_QUEUE;

use super::auth::Holder;
use super::events::{EventBody, EventMessage};
use super::plane::{ANNOUNCE_QUEUE, ApiPlane};
use super::views::Problem;
use crate::ControlError;

/// The close code of a follower that lagged (RFC 6455 §7.4.2: 4000-4999 are the
/// application's).
pub const LAGGED_CLOSE: u16 = 4000;

/// Follow every event.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(
        ("token" = Option<String>, Query, description = "The bearer token, for clients (browsers) that cannot set the Authorization header of a WebSocket"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; then one JSON text message per event", body = EventMessage),
        (status = 401, description = "No valid bearer token", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(plane): State<Arc<ApiPlane>>,
    holder: Option<axum::Extension<Holder>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ControlError> {
    let edge = plane.edge()?.clone();
    let who = holder.map(|h| h.0.0).unwrap_or_default();
    // Subscribed before the upgrade completes, so nothing from now on is missed.
    let announcements = plane.announcements();
    let events = edge.subscribe();
    let stopping = plane.stopping();
    let guard = plane.follow();
    Ok(upgrade.on_upgrade(move |socket| async move {
        info!(holder = %who, "event follower connected");
        let end = follow(socket, announcements, events, stopping).await;
        info!(holder = %who, end, "event follower gone");
        drop(guard);
    }))
}

type Announcements = tokio::sync::broadcast::Receiver<Arc<str>>;
type Events = tokio::sync::broadcast::Receiver<voxgate_edge::handle::StampedEvent>;

/// Forwards messages until the follower leaves, lags, or the node stops; says which.
async fn follow(
    mut socket: WebSocket,
    mut announcements: Announcements,
    mut events: Events,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> &'static str {
    loop {
        tokio::select! {
            biased;
            () = async {
                // The guard `wait_for` returns is not Send: dropped here.
                let _ = stopping.wait_for(|s| *s).await;
            } => {
                let close = CloseFrame {
                    code: axum::extract::ws::close_code::AWAY,
                    reason: "the node stops".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return "node stopped";
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the protocol layer; text from the client is
                // not part of the protocol and is ignored.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return "closed by the client",
                Some(Ok(_)) => {}
            },
            own = announcements.recv() => match own {
                Ok(text) => {
                    if socket.send(Message::Text((&*text).into())).await.is_err() {
                        return "send failed";
                    }
                }
                Err(RecvError::Lagged(missed)) => return lagged(&mut socket, missed).await,
                Err(RecvError::Closed) => return "node stopped",
            },
            event = events.recv() => match event {
                Ok(stamped) => {
                    // A conversation's announcement was queued before its first event:
                    // pass on whatever is queued first, so that it arrives first.
                    loop {
                        match announcements.try_recv() {
                            Ok(text) => {
                                if socket.send(Message::Text((&*text).into())).await.is_err() {
                                    return "send failed";
                                }
                            }
                            Err(TryRecvError::Lagged(missed)) => {
                                return lagged(&mut socket, missed).await;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    let message = EventMessage::from(&stamped);
                    // Our types always serialise; were one not to, the stream ends
                    // rather than skip an event.
                    let Ok(text) = serde_json::to_string(&message) else {
                        return "an event could not be serialised";
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return "send failed";
                    }
                }
                Err(RecvError::Lagged(missed)) => return lagged(&mut socket, missed).await,
                Err(RecvError::Closed) => return "node stopped",
            },
        }
    }
}

/// Tells the follower it lagged, and closes.
async fn lagged(socket: &mut WebSocket, missed: u64) -> &'static str {
    let message = EventMessage {
        conversation: None,
        body: EventBody::Lagged { missed },
    };
    if let Ok(text) = serde_json::to_string(&message) {
        let _ = socket.send(Message::Text(text.into())).await;
    }
    let close = CloseFrame {
        code: LAGGED_CLOSE,
        reason: "lagged: reconnect and resynchronise with GET /v1/conversations".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
    // The bounds, for the log line's reader.
    debug!(missed, FOLLOW_QUEUE, ANNOUNCE_QUEUE, "follower lagged");
    "lagged"
}
