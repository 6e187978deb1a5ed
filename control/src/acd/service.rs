//! The tokio shell around the distributor: one [`Acd`] behind a mutex, fed the clock
//! and the flows' and the API's inputs; its offers go to the flow task of the contact
//! (which dials the agent), its deadlines are kept by one timer task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use tokio::sync::{Notify, broadcast, mpsc};
use tracing::{info, warn};
use voxgate_config::Config;
use voxgate_config::routing::Agent;
use voxgate_edge::SharedConfig;
use voxgate_edge::control_plane::ConversationId;

use super::distributor::{Acd, AcdEvent, AgentState};
use super::metrics::AcdMetrics;
use crate::api::events::{EventBody, EventMessage};

/// What the contact center tells a queued contact's flow.
#[derive(Clone, Debug)]
pub enum Notice {
    /// An agent is reserved for the contact: dial it.
    Offer(Agent),
}

/// The distributor and who to tell about offers.
pub struct ContactCenter {
    config: SharedConfig,
    inner: Mutex<Inner>,
    wake: Notify,
    metrics: AcdMetrics,
    /// The API's event stream, once the API is there: agents' states, contacts queued
    /// and offered.
    stream: OnceLock<broadcast::Sender<Arc<str>>>,
}

struct Inner {
    acd: Acd,
    /// The configuration the distributor was last given (compared by pointer).
    config: Arc<Config>,
    /// Each queued contact's flow.
    flows: HashMap<ConversationId, mpsc::UnboundedSender<Notice>>,
}

impl std::fmt::Debug for ContactCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactCenter").finish_non_exhaustive()
    }
}

/// The distributor, locked, with the time: what [`ContactCenter::with`] hands out.
pub struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    now: Instant,
}

impl Locked<'_> {
    /// The distributor.
    pub fn acd(&mut self) -> &mut Acd {
        &mut self.guard.acd
    }

    /// The time it was locked at.
    pub fn now(&self) -> Instant {
        self.now
    }
}

impl ContactCenter {
    /// A contact center over the running configuration's agents and queues.
    pub fn new(config: SharedConfig) -> Result<ContactCenter, prometheus::Error> {
        let snapshot = config.load_full();
        Ok(ContactCenter {
            inner: Mutex::new(Inner {
                acd: Acd::new(&snapshot),
                config: snapshot,
                flows: HashMap::new(),
            }),
            config,
            wake: Notify::new(),
            metrics: AcdMetrics::new()?,
            stream: OnceLock::new(),
        })
    }

    /// Publishes its events on the API's event stream from now on.
    pub fn set_stream(&self, stream: broadcast::Sender<Arc<str>>) {
        let _ = self.stream.set(stream);
    }

    fn publish(&self, conversation: Option<ConversationId>, body: EventBody) {
        let Some(stream) = self.stream.get().filter(|s| s.receiver_count() > 0) else {
            return;
        };
        let message = EventMessage {
            conversation: conversation.map(|c| c.to_string()),
            body,
        };
        if let Ok(text) = serde_json::to_string(&message) {
            let _ = stream.send(text.into());
        }
    }

    /// Its metrics.
    pub fn metrics(&self) -> &AcdMetrics {
        &self.metrics
    }

    /// Runs `f` on the distributor at the time now (tokio's clock, so that tests can
    /// run it virtually), then delivers what it decided. A reload since the last call
    /// is applied first.
    pub fn with<R>(&self, f: impl FnOnce(&mut Locked<'_>) -> R) -> R {
        let result = self.quietly(f);
        // The timer task's deadline may have changed.
        self.wake.notify_one();
        result
    }

    /// [`with`](Self::with) without waking the timer task: for the timer task itself.
    fn quietly<R>(&self, f: impl FnOnce(&mut Locked<'_>) -> R) -> R {
        let now = tokio::time::Instant::now().into_std();
        let mut locked = Locked {
            guard: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
            now,
        };
        let current = self.config.load_full();
        if !Arc::ptr_eq(&current, &locked.guard.config) {
            locked.guard.acd.reconfigure(&current);
            locked.guard.config = current;
        }
        let result = f(&mut locked);
        self.deliver(&mut locked.guard, now);
        result
    }

    /// Queues `contact`; the offers for it arrive on the returned receiver.
    pub fn enqueue(
        &self,
        contact: ConversationId,
        queue: &str,
        priority: u8,
        skills: &voxgate_config::routing::Skills,
    ) -> Result<mpsc::UnboundedReceiver<Notice>, super::AcdError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.with(|l| {
            l.guard.flows.insert(contact, tx);
            let now = l.now;
            let result = l.guard.acd.enqueue(now, contact, queue, priority, skills);
            if result.is_err() {
                l.guard.flows.remove(&contact);
            } else {
                self.metrics.queued(queue);
                let queue = queue.to_owned();
                self.publish(Some(contact), EventBody::ContactQueued { queue });
            }
            result
        })?;
        Ok(rx)
    }

    /// Parks `contact` for `agent`; the offer arrives on the returned receiver when the
    /// agent is available.
    pub fn enqueue_for_agent(
        &self,
        contact: ConversationId,
        agent: &str,
        priority: u8,
    ) -> Result<mpsc::UnboundedReceiver<Notice>, super::AcdError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.with(|l| {
            l.guard.flows.insert(contact, tx);
            let now = l.now;
            let result = l.guard.acd.enqueue_for_agent(now, contact, agent, priority);
            if result.is_err() {
                l.guard.flows.remove(&contact);
            } else {
                let queue = format!("agent:{agent}");
                self.metrics.queued(&queue);
                self.publish(Some(contact), EventBody::ContactQueued { queue });
            }
            result
        })?;
        Ok(rx)
    }

    /// `contact` leaves its queue (its flow is done with it); `why` (`abandoned`,
    /// `timeout`) is counted when it was queued.
    pub fn leave(&self, contact: ConversationId, why: Option<&'static str>) {
        let queued = self.with(|l| {
            let now = l.now;
            let queued = l.guard.flows.remove(&contact).is_some();
            l.guard.acd.leave(now, contact);
            queued
        });
        if let (true, Some(why)) = (queued, why) {
            self.metrics.outcome(why);
        }
    }

    /// The offered agent's phone rings.
    pub fn ringing(&self, contact: ConversationId) {
        self.with(|l| l.acd().ringing(contact));
    }

    /// The offered agent answered: engaged, and the contact is out of its queue.
    pub fn answered(&self, contact: ConversationId) {
        self.with(|l| {
            l.guard.flows.remove(&contact);
            let now = l.now;
            l.guard.acd.answered(now, contact);
        });
        self.metrics.outcome("answered");
    }

    /// The offered agent did not answer: the agent idles, the contact goes back to the
    /// head of its queue.
    pub fn not_answered(&self, contact: ConversationId) {
        self.with(|l| {
            let now = l.now;
            l.guard.acd.not_answered(now, contact);
        });
        self.metrics.outcome("rona");
    }

    /// The contact connected to an agent ended: the agent's wrap-up starts.
    pub fn ended(&self, contact: ConversationId) {
        self.with(|l| {
            let now = l.now;
            l.guard.acd.ended(now, contact);
        });
    }

    /// Moves the distributor's events to the flows, the log and the metrics.
    fn deliver(&self, inner: &mut Inner, now: Instant) {
        while let Some(event) = inner.acd.poll_event() {
            match event {
                AcdEvent::Offer { contact, agent } => {
                    let sent = match (inner.flows.get(&contact), inner.acd.agent_config(&agent)) {
                        (Some(tx), Some(config)) => tx.send(Notice::Offer(config.clone())).is_ok(),
                        _ => false,
                    };
                    if sent {
                        info!(contact = %contact, agent = %agent, "contact offered to agent");
                        self.metrics.offered();
                        self.publish(Some(contact), EventBody::ContactOffered { agent });
                    } else {
                        // The flow is gone without leaving: take the contact out, the
                        // agent is available again.
                        warn!(contact = %contact, "offer to a contact whose flow is gone");
                        inner.flows.remove(&contact);
                        inner.acd.leave(now, contact);
                    }
                }
                AcdEvent::AgentState { agent, state } => {
                    info!(agent = %agent, state = state.name(), "agent state");
                    let code = match &state {
                        AgentState::Idle { code } | AgentState::WrapUp { code } => code.clone(),
                        _ => None,
                    };
                    let state = state.name();
                    self.publish(None, EventBody::AgentState { agent, state, code });
                }
            }
        }
        self.metrics
            .agents(inner.acd.agents().map(|(_, s)| s.name()));
    }

    /// Keeps the distributor's deadlines (wrap-ups ending, distribution groups
    /// joining) until the process ends. Call once, inside the runtime.
    pub fn spawn_timer(self: &Arc<Self>) {
        let center = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(c) = center.upgrade() else { return };
                let deadline = c.quietly(|l| l.acd().poll_timeout());
                let wake = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                // A wake-up given since the deadline was read is kept as a permit.
                tokio::select! {
                    () = wake => c.quietly(|l| {
                        let now = l.now();
                        l.acd().handle_timeout(now);
                    }),
                    () = c.wake.notified() => {}
                }
            }
        });
    }
}
