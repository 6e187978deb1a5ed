//! The edge's handle for control planes and operators: originate a
//! conversation, list and inspect conversations, hang one up, and follow
//! every conversation's events.

use crate::control_plane::{ConversationId, Event, Session};
use crate::driver;
use crate::registry::Registry;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Events kept for a follower of [`EdgeHandle::subscribe`] that reads slower
/// than conversations produce; past it the follower gets `Lagged` (and should
/// resynchronise from [`EdgeHandle::conversations`]).
pub const FOLLOW_QUEUE: usize = 4096;

/// One event of one conversation, as followers of every conversation see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampedEvent {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its event (in the conversation's order).
    pub event: Event,
}

/// A cheap, cloneable handle on a running edge.
#[derive(Clone)]
pub struct EdgeHandle {
    inner: Arc<Inner>,
}

struct Inner {
    core: mpsc::Sender<driver::Command>,
    registry: Arc<Registry>,
    follow: broadcast::Sender<StampedEvent>,
}

impl std::fmt::Debug for EdgeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeHandle").finish_non_exhaustive()
    }
}

/// Why a conversation could not be originated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginateError {
    /// The node is draining or stopping.
    #[error("the node is not taking new conversations")]
    NotAccepting,
}

/// One conversation as `/calls` and the API show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The id (`c17`).
    pub id: String,
    /// The inbound trunk, if the conversation has an inbound leg.
    pub trunk: Option<String>,
    /// Media region of the inbound leg (or of the node).
    pub region: String,
    /// Caller number (redacted unless logging asks otherwise).
    pub from: Option<String>,
    /// Dialled number (redacted likewise).
    pub to: Option<String>,
    /// routing, connecting, ringing, answered, ending.
    pub state: &'static str,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it was first answered.
    pub answered: Option<String>,
    /// Its legs, live and ended, in order.
    pub legs: Vec<LegSummary>,
}

/// One leg as `/calls` and the API show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LegSummary {
    /// The leg id within its conversation.
    pub id: u32,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// trying, ringing, early, answered, held, ended, failed.
    pub state: &'static str,
    /// The trunk of the leg, if any.
    pub trunk: Option<String>,
    /// The leg it is bridged with, if any.
    pub bridged_with: Option<u32>,
    /// The conference it is in, if any.
    pub conference: Option<u32>,
    /// Held by its peer or by voxgate.
    pub held: bool,
    /// voxgate's RTP port for the leg (first media line), once anchored.
    pub rtp_port: Option<u16>,
}

impl EdgeHandle {
    pub(crate) fn new(
        core: mpsc::Sender<driver::Command>,
        registry: Arc<Registry>,
        follow: broadcast::Sender<StampedEvent>,
    ) -> EdgeHandle {
        EdgeHandle {
            inner: Arc::new(Inner {
                core,
                registry,
                follow,
            }),
        }
    }

    /// A new conversation with no leg, controlled by the caller of this
    /// function through the returned session (send it a `Dial`). A
    /// conversation that gets no dial within 32 s ends ([`crate::control_plane::EndCause::Idle`]).
    pub async fn originate(&self) -> Result<Session, OriginateError> {
        let (reply, session) = oneshot::channel();
        self.inner
            .core
            .send(driver::Command::Originate(reply))
            .await
            .map_err(|_| OriginateError::NotAccepting)?;
        session.await.map_err(|_| OriginateError::NotAccepting)?
    }

    /// Every live conversation, oldest first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.inner.registry.list()
    }

    /// One live conversation.
    pub fn conversation(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.inner.registry.get(id)
    }

    /// Hangs up every leg of a conversation, whoever controls it (an
    /// operator's last resort). False when there is no such conversation.
    pub fn hangup(&self, id: ConversationId) -> bool {
        self.inner.registry.hangup(id)
    }

    /// Every event of every conversation from now on, in each
    /// conversation's order.
    pub fn subscribe(&self) -> broadcast::Receiver<StampedEvent> {
        self.inner.follow.subscribe()
    }
}
