//! Active calls, for `GET /calls`. Call tasks update it on state changes
//! (a few times per call, never per packet), the admin listener reads it.

use crate::call::record::WallClock;
use crate::control_plane::{CallInfo, CallRef};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// One active call as `/calls` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallSummary {
    /// The call id.
    pub id: String,
    /// Inbound trunk.
    pub trunk: String,
    /// Media region of the A-leg.
    pub region: String,
    /// Caller number (redacted unless logging asks otherwise).
    pub from: Option<String>,
    /// Dialled number (redacted likewise).
    pub to: Option<String>,
    /// routing, connecting, ringing, answered, ending.
    pub state: &'static str,
    /// When the INVITE arrived (RFC 3339).
    pub started: String,
    /// When it was answered.
    pub answered: Option<String>,
    #[serde(skip)]
    key: CallRef,
}

impl CallSummary {
    /// A new call's summary.
    pub fn new(info: &CallInfo, redact: bool, clock: &WallClock) -> CallSummary {
        let number = |n: &Option<String>| {
            n.as_ref().map(|n| {
                if redact {
                    voxgate_config::redact_number(n)
                } else {
                    n.clone()
                }
            })
        };
        CallSummary {
            id: info.id.to_string(),
            trunk: info.trunk.to_string(),
            region: info.region.clone(),
            from: number(&info.from.user),
            to: number(&info.request_user),
            state: "routing",
            started: clock.rfc3339(Instant::now()),
            answered: None,
            key: info.id,
        }
    }
}

/// The active calls.
#[derive(Debug, Default)]
pub struct CallRegistry {
    calls: Mutex<BTreeMap<CallRef, CallSummary>>,
}

impl CallRegistry {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<CallRef, CallSummary>) -> R) -> R {
        // A panic while holding the lock leaves a consistent map: keep going.
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut calls)
    }

    /// Adds a call.
    pub fn insert(&self, summary: CallSummary) {
        self.with(|c| c.insert(summary.key, summary));
    }

    /// Updates a call's state.
    pub fn set_state(&self, id: CallRef, state: &'static str, answered: Option<String>) {
        self.with(|c| {
            if let Some(s) = c.get_mut(&id) {
                s.state = state;
                if answered.is_some() {
                    s.answered = answered;
                }
            }
        });
    }

    /// Removes an ended call.
    pub fn remove(&self, id: CallRef) {
        self.with(|c| c.remove(&id));
    }

    /// Every active call, oldest first.
    pub fn list(&self) -> Vec<CallSummary> {
        self.with(|c| c.values().cloned().collect())
    }

    /// How many calls are active.
    pub fn len(&self) -> usize {
        self.with(|c| c.len())
    }

    /// Whether no call is active.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
