//! The API's side of the control plane: the conversations it controls (id → command
//! sender, kept until their `Ended`), the edge handle (originate, list, operator hang-up),
//! the WebSocket followers (whether "an API client is connected"), and the messages the
//! API adds to the event stream (`conversation_started`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, broadcast, mpsc, watch};
use tracing::debug;
use voxgate_config::Config;
use voxgate_edge::SharedConfig;
use voxgate_edge::control_plane::{
    Command, ConferenceId, ConversationId, ConversationInfo, DialId, EdgeHandle, Event, PlaybackId,
    RecordingId, Session,
};

use super::events::{EventBody, EventMessage, InboundView};
use super::metrics::ApiMetrics;
use crate::ControlError;

/// Messages of the API's own (`conversation_started`) kept for a follower that reads
/// slower than conversations start; past it the follower is told it lagged and closed.
pub const ANNOUNCE_QUEUE: usize = 1024;

/// Who decides a conversation, as `conversation_started` and the listing say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    /// The API's clients.
    Api,
    /// The static router (its route or trunk says `control = "static"`).
    Static,
    /// API-controlled by its route or trunk, but no client was connected: it got the
    /// fallback (the route's destinations, or `[api] no_client_status`).
    Fallback,
    /// The flow of the entry point its number or trunk names.
    Flow,
}

impl Controller {
    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Controller::Api => "api",
            Controller::Static => "static",
            Controller::Fallback => "fallback",
            Controller::Flow => "flow",
        }
    }
}

/// One conversation the API controls.
struct Controlled {
    /// Its commands, and (under the lock, so that ids follow the order commands are
    /// queued in) the dials, plays and conferences sent so far: the n-th dial is
    /// `DialId(n)`, the n-th play `PlaybackId(n)`, the n-th conference `ConferenceId(n)`.
    commands: AsyncMutex<(mpsc::Sender<Command>, Counts)>,
}

/// Commands of each numbered kind sent to a conversation so far.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    dials: u32,
    plays: u32,
    records: u32,
    conferences: u32,
}

/// The ids a queued command will have in its conversation's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// A dial's or an accepted transfer's.
    pub dial: Option<DialId>,
    /// A play's.
    pub playback: Option<PlaybackId>,
    /// A record's.
    pub recording: Option<RecordingId>,
    /// A conference's.
    pub conference: Option<ConferenceId>,
}

/// The API's state, shared by the dispatcher (new conversations) and the HTTP handlers.
pub struct ApiPlane {
    config: SharedConfig,
    edge: OnceLock<EdgeHandle>,
    controlled: Mutex<HashMap<ConversationId, Arc<Controlled>>>,
    followers: AtomicUsize,
    announce: broadcast::Sender<Arc<str>>,
    /// True once the API stops: followers close their streams.
    stopping: watch::Sender<bool>,
    metrics: ApiMetrics,
    /// Queues and agents (the agents' endpoints).
    center: Arc<crate::acd::ContactCenter>,
}

impl std::fmt::Debug for ApiPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiPlane")
            .field("followers", &self.followers())
            .finish_non_exhaustive()
    }
}

impl ApiPlane {
    /// The API over the running configuration (tokens and fallback status are read per
    /// request and per call, so a reload applies to them at once).
    pub fn new(config: SharedConfig) -> Result<ApiPlane, ControlError> {
        let center = Arc::new(crate::acd::ContactCenter::new(config.clone())?);
        ApiPlane::with_center(config, center)
    }

    /// The API over the running configuration and the flows' contact center.
    pub fn with_center(
        config: SharedConfig,
        center: Arc<crate::acd::ContactCenter>,
    ) -> Result<ApiPlane, ControlError> {
        let (announce, _) = broadcast::channel(ANNOUNCE_QUEUE);
        center.set_stream(announce.clone());
        Ok(ApiPlane {
            center,
            config,
            edge: OnceLock::new(),
            controlled: Mutex::new(HashMap::new()),
            followers: AtomicUsize::new(0),
            announce,
            stopping: watch::Sender::new(false),
            metrics: ApiMetrics::new()?,
        })
    }

    /// The running configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Queues and agents.
    pub fn center(&self) -> &crate::acd::ContactCenter {
        &self.center
    }

    /// The metrics.
    pub fn metrics(&self) -> &ApiMetrics {
        &self.metrics
    }

    /// Keeps the edge's handle (the edge calls `started` once).
    pub fn set_edge(&self, edge: EdgeHandle) {
        let _ = self.edge.set(edge);
    }

    /// The edge's handle, once it started.
    pub fn edge(&self) -> Result<&EdgeHandle, ControlError> {
        self.edge.get().ok_or(ControlError::Unavailable)
    }

    /// WebSocket followers connected now.
    pub fn followers(&self) -> usize {
        self.followers.load(Ordering::Relaxed)
    }

    /// Counts a follower for as long as the guard lives.
    pub fn follow(self: &Arc<Self>) -> FollowerGuard {
        self.followers.fetch_add(1, Ordering::Relaxed);
        self.metrics.followers(1);
        FollowerGuard {
            plane: self.clone(),
        }
    }

    /// Tells every follower to close its stream (the API stops).
    pub fn stop_followers(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether the API stops, as followers watch it.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// The API's own messages to followers, from now on.
    pub fn announcements(&self) -> broadcast::Receiver<Arc<str>> {
        self.announce.subscribe()
    }

    /// Tells followers a conversation started and who decides it. Sent before any of
    /// its events reach the edge's stream: `incoming` runs before the conversation's
    /// first event, and originate announces before it sends the first dial.
    pub fn announce_started(&self, info: &ConversationInfo, controller: Controller) {
        if self.announce.receiver_count() == 0 {
            return;
        }
        let message = EventMessage {
            conversation: Some(info.id.to_string()),
            body: EventBody::ConversationStarted {
                control: controller.as_str(),
                inbound: info.inbound.as_ref().map(InboundView::from),
            },
        };
        match serde_json::to_string(&message) {
            Ok(text) => {
                let _ = self.announce.send(text.into());
            }
            Err(e) => debug!(error = %e, "conversation_started not serialised"),
        }
    }

    /// Takes control of `session`: keeps its command sender until its `Ended` (read by a
    /// task that drains its events: the API's clients follow them on the WebSocket).
    pub fn take(self: &Arc<Self>, session: Session) {
        let Session {
            info,
            mut events,
            commands,
        } = session;
        let id = info.id;
        let controlled = Arc::new(Controlled {
            commands: AsyncMutex::new((commands, Counts::default())),
        });
        let n = self.with(|c| {
            c.insert(id, controlled);
            c.len()
        });
        self.metrics.controlled(n);
        let plane = self.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if matches!(event, Event::Ended { .. }) {
                    break;
                }
            }
            let n = plane.with(|c| {
                c.remove(&id);
                c.len()
            });
            plane.metrics.controlled(n);
        });
    }

    /// Whether the API controls conversation `id`.
    pub fn controls(&self, id: ConversationId) -> bool {
        self.with(|c| c.contains_key(&id))
    }

    /// Queues `command` on conversation `id` (waiting while its queue is full). A dial or
    /// a transfer acceptance gets the id the conversation gives it, counted here.
    pub async fn command(
        &self,
        id: ConversationId,
        command: Command,
    ) -> Result<Option<DialId>, ControlError> {
        self.queue(id, command).await.map(|q| q.dial)
    }

    /// Queues `command` on conversation `id`, as [`command`](Self::command) does, and
    /// says the ids it will have: a dial's, a play's, a record's, a conference's.
    pub async fn queue(
        &self,
        id: ConversationId,
        command: Command,
    ) -> Result<Queued, ControlError> {
        let Some(controlled) = self.with(|c| c.get(&id).cloned()) else {
            let exists = self.edge().is_ok_and(|e| e.conversation(id).is_some());
            return Err(if exists {
                ControlError::NotControlled { id: id.to_string() }
            } else {
                ControlError::NoConversation { id: id.to_string() }
            });
        };
        let dials = matches!(command, Command::Dial(_) | Command::AcceptTransfer { .. });
        let plays = matches!(command, Command::Play { .. });
        let records = matches!(command, Command::Record { .. });
        let conferences = matches!(command, Command::Conference { .. });
        let mut guard = controlled.commands.lock().await;
        let (sender, counts) = &mut *guard;
        sender
            .send(command)
            .await
            .map_err(|_| ControlError::NoConversation { id: id.to_string() })?;
        let mut queued = Queued::default();
        if dials {
            counts.dials += 1;
            queued.dial = Some(DialId(counts.dials));
        }
        if plays {
            counts.plays += 1;
            queued.playback = Some(PlaybackId(counts.plays));
        }
        if records {
            counts.records += 1;
            queued.recording = Some(RecordingId(counts.records));
        }
        if conferences {
            counts.conferences += 1;
            queued.conference = Some(ConferenceId(counts.conferences));
        }
        Ok(queued)
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<ConversationId, Arc<Controlled>>) -> R) -> R {
        // A panic while holding the lock leaves a consistent map: keep going.
        let mut map = self
            .controlled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }
}

/// A connected follower; dropping it uncounts it.
#[derive(Debug)]
pub struct FollowerGuard {
    plane: Arc<ApiPlane>,
}

impl Drop for FollowerGuard {
    fn drop(&mut self) {
        self.plane.followers.fetch_sub(1, Ordering::Relaxed);
        self.plane.metrics.followers(-1);
    }
}
