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
        // Digits go only for the conversations the API controls: those of a flow (a PIN,
        // a card number) or of a routed call are not the API client's to see.
        let reveal = move |id| plane.controls(id);
        let end = follow(socket, announcements, events, stopping, reveal).await;
        info!(holder = %who, end, "event follower gone");
        drop(guard);
    }))
}

type Announcements = tokio::sync::broadcast::Receiver<Arc<str>>;
type Events = tokio::sync::broadcast::Receiver<voxgate_edge::handle::StampedEvent>;

/// The follower's end, as [`follow`] uses it (a WebSocket; a fake in tests).
pub(crate) trait Socket: Send {
    /// Sends a message; false when the connection is gone.
    fn send(&mut self, message: Message) -> impl Future<Output = bool> + Send;
    /// The next message from the client; `None` once it closed or failed.
    fn recv(&mut self) -> impl Future<Output = Option<Message>> + Send;
}

impl Socket for WebSocket {
    async fn send(&mut self, message: Message) -> bool {
        WebSocket::send(self, message).await.is_ok()
    }

    async fn recv(&mut self) -> Option<Message> {
        WebSocket::recv(self).await.and_then(Result::ok)
    }
}

/// Forwards messages until the follower leaves, lags, or the node stops; says which.
pub(crate) async fn follow(
    mut socket: impl Socket,
    mut announcements: Announcements,
    mut events: Events,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    reveal: impl Fn(voxgate_edge::control_plane::ConversationId) -> bool + Send,
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
                Some(Message::Close(_)) | None => return "closed by the client",
                Some(_) => {}
            },
            own = announcements.recv() => match own {
                Ok(text) => {
                    if !socket.send(Message::Text((&*text).into())).await {
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
                                if !socket.send(Message::Text((&*text).into())).await {
                                    return "send failed";
                                }
                            }
                            Err(TryRecvError::Lagged(missed)) => {
                                return lagged(&mut socket, missed).await;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    if matches!(stamped.event, voxgate_edge::control_plane::Event::Digits { .. })
                        && !reveal(stamped.conversation)
                    {
                        continue;
                    }
                    let message = EventMessage::from(&stamped);
                    // Our types always serialise; were one not to, the stream ends
                    // rather than skip an event.
                    let Ok(text) = serde_json::to_string(&message) else {
                        return "an event could not be serialised";
                    };
                    if !socket.send(Message::Text(text.into())).await {
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
async fn lagged(socket: &mut impl Socket, missed: u64) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tokio::sync::{broadcast, watch};
    use voxgate_edge::control_plane::{ConversationId, Event, LegId};
    use voxgate_edge::handle::StampedEvent;

    /// Records what is sent; the client never says anything.
    #[derive(Default)]
    struct Fake {
        sent: Vec<Message>,
    }

    impl Socket for &mut Fake {
        async fn send(&mut self, message: Message) -> bool {
            self.sent.push(message);
            true
        }

        async fn recv(&mut self) -> Option<Message> {
            std::future::pending().await
        }
    }

    impl Fake {
        fn texts(&self) -> Vec<Value> {
            self.sent
                .iter()
                .filter_map(|m| match m {
                    Message::Text(t) => serde_json::from_str(t.as_str()).ok(),
                    _ => None,
                })
                .collect()
        }

        fn close_code(&self) -> Option<u16> {
            self.sent.iter().find_map(|m| match m {
                Message::Close(Some(c)) => Some(c.code),
                _ => None,
            })
        }
    }

    fn answered(c: u64, leg: u32) -> StampedEvent {
        StampedEvent {
            conversation: ConversationId(c),
            event: Event::LegAnswered {
                leg: LegId(leg),
                early: false,
            },
        }
    }

    #[tokio::test]
    async fn a_follower_that_lags_is_told_and_closed_never_skipped_forward() {
        let (announce, announcements) = broadcast::channel::<Arc<str>>(4);
        let (events_tx, events) = broadcast::channel(4);
        let (stop, stopping) = watch::channel(false);
        // Six events into a buffer of four before the follower reads one.
        for leg in 1..=6 {
            let _ = events_tx.send(answered(1, leg));
        }
        let mut fake = Fake::default();
        let end = follow(&mut fake, announcements, events, stopping, |_| true).await;
        assert_eq!(end, "lagged");
        assert_eq!(fake.texts(), [json!({"type": "lagged", "missed": 2})]);
        assert_eq!(fake.close_code(), Some(LAGGED_CLOSE));
        drop((announce, stop));
    }

    #[tokio::test]
    async fn announcements_come_before_the_events_and_stopping_closes() {
        let (announce, announcements) = broadcast::channel::<Arc<str>>(4);
        let (events_tx, events) = broadcast::channel(4);
        let (stop, stopping) = watch::channel(false);
        let _ = events_tx.send(answered(2, 1));
        let _ = announce
            .send(r#"{"conversation":"c2","type":"conversation_started","control":"api"}"#.into());
        let _ = events_tx.send(answered(2, 2));
        let mut fake = Fake::default();
        let follower = async { follow(&mut fake, announcements, events, stopping, |_| true).await };
        let stopper = async {
            tokio::task::yield_now().await;
            stop.send_replace(true);
        };
        let (end, ()) = tokio::join!(follower, stopper);
        assert_eq!(end, "node stopped");
        let types: Vec<Value> = fake.texts().iter().map(|v| v["type"].clone()).collect();
        assert_eq!(
            types,
            ["conversation_started", "leg_answered", "leg_answered"]
        );
        assert_eq!(fake.texts()[1]["leg"], 1);
        assert_eq!(fake.close_code(), Some(axum::extract::ws::close_code::AWAY));
        drop(events_tx);
    }

    #[tokio::test]
    async fn digits_go_only_for_conversations_the_api_controls() {
        let (_announce, announcements) = broadcast::channel::<Arc<str>>(8);
        let (events_tx, events) = broadcast::channel(8);
        let (_stop, stopping) = watch::channel(false);
        let digit = |c: u64, d: char| StampedEvent {
            conversation: ConversationId(c),
            event: Event::Digits {
                leg: LegId(1),
                digit: voxgate_edge::control_plane::Digit::from_char(d).unwrap(),
                duration: std::time::Duration::from_millis(100),
                source: voxgate_edge::control_plane::DigitSource::Rfc4733,
            },
        };
        // Conversation 4 is the API's; 5 runs a flow collecting a PIN.
        let _ = events_tx.send(digit(5, '7'));
        let _ = events_tx.send(digit(4, '1'));
        let _ = events_tx.send(answered(5, 1));
        let _ = events_tx.send(digit(5, '3'));
        drop(events_tx);
        let mut fake = Fake::default();
        follow(&mut fake, announcements, events, stopping, |id| {
            id == ConversationId(4)
        })
        .await;
        let sent = fake.texts();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0]["type"], "digits");
        assert_eq!(sent[0]["conversation"], "c4");
        assert_eq!(sent[0]["digit"], "1");
        assert_eq!(sent[1]["type"], "leg_answered");
    }

    #[tokio::test]
    async fn the_end_of_the_edge_stream_ends_the_follower() {
        let (_announce, announcements) = broadcast::channel::<Arc<str>>(4);
        let (events_tx, events) = broadcast::channel(4);
        let (_stop, stopping) = watch::channel(false);
        let _ = events_tx.send(answered(3, 1));
        drop(events_tx);
        let mut fake = Fake::default();
        assert_eq!(
            follow(&mut fake, announcements, events, stopping, |_| true).await,
            "node stopped"
        );
        assert_eq!(fake.texts().len(), 1);
    }
}
