//! Live conversations, for `GET /calls` and the API. Conversation tasks
//! update it on visible changes (a few times per call, never per packet), the
//! admin listener and the API read it, operators hang conversations up
//! through it.

use crate::control_plane::{Command, ConversationId, ConversationInfo};
use crate::conversation::record::WallClock;
use crate::conversation::task::Operator;
use crate::handle::ConversationSummary;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

impl ConversationSummary {
    /// A new conversation's summary.
    pub fn new(info: &ConversationInfo, redact: bool, clock: &WallClock) -> ConversationSummary {
        let number = |n: &Option<String>| {
            n.as_ref().map(|n| {
                if redact {
                    voxgate_config::redact_number(n)
                } else {
                    n.clone()
                }
            })
        };
        let inbound = info.inbound.as_ref();
        ConversationSummary {
            id: info.id.to_string(),
            trunk: inbound.map(|i| i.trunk.to_string()),
            region: inbound.map(|i| i.region.clone()).unwrap_or_default(),
            from: inbound.and_then(|i| number(&i.from.user)),
            to: inbound.and_then(|i| number(&i.request_user)),
            state: "routing",
            started: clock.rfc3339(Instant::now()),
            answered: None,
            legs: Vec::new(),
        }
    }
}

struct Entry {
    summary: ConversationSummary,
    operator: Operator,
}

/// The live conversations.
#[derive(Default)]
pub struct Registry {
    conversations: Mutex<BTreeMap<ConversationId, Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .finish()
    }
}

impl Registry {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<ConversationId, Entry>) -> R) -> R {
        // A panic while holding the lock leaves a consistent map: keep going.
        let mut map = self
            .conversations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }

    /// Adds a conversation.
    pub fn insert(&self, id: ConversationId, summary: ConversationSummary, operator: Operator) {
        self.with(|c| c.insert(id, Entry { summary, operator }));
    }

    /// Updates a conversation's summary.
    pub fn update(&self, id: ConversationId, f: impl FnOnce(&mut ConversationSummary)) {
        self.with(|c| {
            if let Some(e) = c.get_mut(&id) {
                f(&mut e.summary);
            }
        });
    }

    /// Removes an ended conversation.
    pub fn remove(&self, id: ConversationId) {
        self.with(|c| c.remove(&id));
    }

    /// Every live conversation, oldest first.
    pub fn list(&self) -> Vec<ConversationSummary> {
        self.with(|c| c.values().map(|e| e.summary.clone()).collect())
    }

    /// One live conversation.
    pub fn get(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.with(|c| c.get(&id).map(|e| e.summary.clone()))
    }

    /// Hangs up every leg of a conversation; false when there is none.
    pub fn hangup(&self, id: ConversationId) -> bool {
        let operator = self.with(|c| c.get(&id).map(|e| e.operator.clone()));
        operator.is_some_and(|o| {
            o.command(Command::Hangup {
                leg: None,
                status: None,
            })
        })
    }

    /// How many conversations are live.
    pub fn len(&self) -> usize {
        self.with(|c| c.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
