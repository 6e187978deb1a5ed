//! Automatic call distribution, sans-IO: the queues' waiting contacts, the agents'
//! states, and which agent is offered which contact. Fed `(now, input)`, it returns
//! events (offers, agent state changes) and its next deadline; the shell
//! (`super::service`) dials agents and moves the events.
//!
//! The decision, each time something changes (a contact queued, an agent available, a
//! distribution group's wait passed): contacts are taken in order, a contact taken back
//! from an agent that did not answer first, then by priority (plus one level per
//! `ageing` waited), then by arrival; each gets the agent its queue's strategy prefers
//! among the available ones in the teams of the groups it has waited for, with every
//! skill asked for at least at the level asked.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use voxgate_config::Config;
use voxgate_config::routing::{Agent, Queue, Skills, Strategy};
use voxgate_edge::control_plane::ConversationId;

/// Handle times kept per queue for the estimated wait.
const HISTORY: usize = 50;
/// Handle times needed before a queue's wait is estimated at all.
pub const MIN_SAMPLES: usize = 3;

/// Where an agent is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    /// Not working: offered nothing.
    LoggedOut,
    /// Logged in but not taking contacts; `code` says why (`break`, `rona` …).
    Idle {
        /// The idle code.
        code: Option<String>,
    },
    /// Waiting for a contact.
    Available,
    /// Chosen for a contact; its phone is about to ring.
    Reserved {
        /// The contact.
        contact: ConversationId,
    },
    /// Its phone rings with a contact.
    Offered {
        /// The contact.
        contact: ConversationId,
    },
    /// Talking with a contact.
    Engaged {
        /// The contact.
        contact: ConversationId,
    },
    /// After a contact, before available again.
    WrapUp {
        /// The wrap-up code, once given.
        code: Option<String>,
    },
}

impl AgentState {
    /// Its name, as in metrics and the API.
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Idle { .. } => "idle",
            AgentState::Available => "available",
            AgentState::Reserved { .. } => "reserved",
            AgentState::Offered { .. } => "offered",
            AgentState::Engaged { .. } => "engaged",
            AgentState::WrapUp { .. } => "wrap_up",
        }
    }

    /// The contact it is busy with, if any.
    pub fn contact(&self) -> Option<ConversationId> {
        match self {
            AgentState::Reserved { contact }
            | AgentState::Offered { contact }
            | AgentState::Engaged { contact } => Some(*contact),
            _ => None,
        }
    }
}

/// What the distributor tells its shell.
#[derive(Clone, Debug, PartialEq)]
pub enum AcdEvent {
    /// Offer `contact` to `agent`: dial its phone and connect the caller on answer.
    Offer {
        /// The contact.
        contact: ConversationId,
        /// The agent's name.
        agent: String,
    },
    /// An agent's state changed.
    AgentState {
        /// The agent's name.
        agent: String,
        /// Its new state.
        state: AgentState,
    },
}

/// Why an input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// No agent of that name.
    #[error("no agent {0}")]
    UnknownAgent(String),
    /// No queue of that name.
    #[error("no queue {0}")]
    UnknownQueue(String),
    /// The agent's state does not allow it.
    #[error("agent {agent} is {state}: {what} not allowed")]
    State {
        /// The agent.
        agent: String,
        /// Its state's name.
        state: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// The contact is queued already.
    #[error("contact {0} is queued already")]
    Queued(ConversationId),
}

/// A queue's figures now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub queue: String,
    /// Contacts waiting (not yet answered by an agent).
    pub waiting: usize,
    /// The longest wait among them.
    pub longest_wait: Duration,
    /// Agents of its teams available now.
    pub available_agents: usize,
    /// Agents of its teams logged in.
    pub staffed_agents: usize,
    /// Handle times the estimate rests on.
    pub samples: usize,
    /// The mean handle time of the last contacts, if there were any.
    pub mean_handle_time: Option<Duration>,
}

/// An agent's slot: its configuration, state, and since when it is available.
#[derive(Clone, Debug)]
struct Slot {
    agent: Agent,
    state: AgentState,
    /// When it became available (longest-available order); kept across an offer
    /// withdrawn by the caller's hang-up, so that it keeps its place.
    available_since: Option<Instant>,
    wrap_up_until: Option<Instant>,
}

/// A contact waiting, or being offered.
#[derive(Clone, Debug)]
struct Waiting {
    queue: usize,
    priority: u8,
    /// The queue's skills and the node's, the higher level where both name one.
    skills: Skills,
    enqueued: Instant,
    /// Taken back from an agent that did not answer: first in line again.
    head: bool,
    /// The agent it is offered to, if any.
    agent: Option<usize>,
    /// The distribution groups it has joined (the next one's wait is a deadline).
    joined: usize,
    /// Waiting for this agent only (`queue_to_agent`); its `queue` is then [`NO_QUEUE`].
    only: Option<usize>,
}

/// The queue index of a contact waiting for one agent (its agent-specific queue).
const NO_QUEUE: usize = usize::MAX;

/// Queue history for the estimated wait.
#[derive(Clone, Debug, Default)]
struct History {
    handle_times: VecDeque<Duration>,
}

/// The distributor.
#[derive(Debug)]
pub struct Acd {
    agents: Vec<Slot>,
    agent_index: HashMap<String, usize>,
    queues: Vec<Queue>,
    queue_index: HashMap<String, usize>,
    history: Vec<History>,
    contacts: HashMap<ConversationId, Waiting>,
    /// Per queue, per distribution group: its wait and the agents of its teams, so that
    /// a decision looks at those agents only.
    searched: Vec<Vec<(Duration, Vec<usize>)>>,
    /// Each engaged contact's agent, queue and answer time, for the handle time.
    engaged_at: HashMap<ConversationId, (usize, usize, Instant)>,
    events: VecDeque<AcdEvent>,
}

impl Acd {
    /// A distributor over `config`'s agents (all logged out) and queues.
    pub fn new(config: &Config) -> Acd {
        let mut acd = Acd {
            agents: Vec::new(),
            agent_index: HashMap::new(),
            queues: Vec::new(),
            queue_index: HashMap::new(),
            history: Vec::new(),
            contacts: HashMap::new(),
            searched: Vec::new(),
            engaged_at: HashMap::new(),
            events: VecDeque::new(),
        };
        acd.reconfigure(config);
        acd
    }

    /// Takes a new configuration: agents and queues still there keep their state,
    /// contacts and history; new agents start logged out. A removed queue's waiting
    /// contacts stay where they are until they leave (they are offered no one); a
    /// removed agent's contact goes on, and the agent is gone when it ends.
    pub fn reconfigure(&mut self, config: &Config) {
        let mut agents = Vec::with_capacity(config.agents.len());
        let mut remap = HashMap::new();
        for agent in &config.agents {
            let slot = match self.agent_index.get(&agent.name) {
                Some(&i) => {
                    remap.insert(i, agents.len());
                    Slot {
                        agent: agent.clone(),
                        ..self.agents[i].clone()
                    }
                }
                None => Slot {
                    agent: agent.clone(),
                    state: AgentState::LoggedOut,
                    available_since: None,
                    wrap_up_until: None,
                },
            };
            agents.push(slot);
        }
        let mut history = Vec::with_capacity(config.queues.len());
        let mut queue_remap = HashMap::new();
        for (j, queue) in config.queues.iter().enumerate() {
            match self.queue_index.get(&queue.name) {
                Some(&i) => {
                    queue_remap.insert(i, j);
                    history.push(self.history[i].clone());
                }
                None => history.push(History::default()),
            }
        }
        // Contacts of a removed queue point past the end: offered no one.
        let gone = config.queues.len();
        for w in self.contacts.values_mut() {
            if w.queue != NO_QUEUE {
                w.queue = queue_remap.get(&w.queue).copied().unwrap_or(gone);
            }
            // A contact parked for an agent the reload took away waits for nobody
            // (its flow's timeout takes it on).
            w.only = w.only.and_then(|a| remap.get(&a).copied());
            w.agent = w.agent.and_then(|a| remap.get(&a).copied());
        }
        self.engaged_at = std::mem::take(&mut self.engaged_at)
            .into_iter()
            .filter_map(|(c, (a, q, at))| {
                let q = queue_remap.get(&q).copied().unwrap_or(gone);
                remap.get(&a).map(|&a| (c, (a, q, at)))
            })
            .collect();
        self.agent_index = agents
            .iter()
            .enumerate()
            .map(|(i, s)| (s.agent.name.clone(), i))
            .collect();
        self.agents = agents;
        self.queue_index = config
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.clone(), i))
            .collect();
        self.searched = config
            .queues
            .iter()
            .map(|q| {
                q.groups
                    .iter()
                    .map(|g| {
                        let members = self
                            .agents
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.agent.teams.iter().any(|t| g.teams.contains(t)))
                            .map(|(i, _)| i)
                            .collect();
                        (g.after, members)
                    })
                    .collect()
            })
            .collect();
        self.queues = config.queues.clone();
        self.history = history;
    }

    /// The next event for the shell.
    pub fn poll_event(&mut self) -> Option<AcdEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due: the end of a wrap-up, or
    /// a distribution group's wait passing for a waiting contact.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let wrap_ups = self.agents.iter().filter_map(|s| s.wrap_up_until);
        let groups = self
            .contacts
            .values()
            .filter(|w| w.agent.is_none())
            .filter_map(|w| {
                let group = self.queues.get(w.queue)?.groups.get(w.joined)?;
                Some(w.enqueued + group.after)
            });
        wrap_ups.chain(groups).min()
    }

    /// Time passed: wrap-ups end, distribution groups join.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.agents.len() {
            if self.agents[i].wrap_up_until.is_some_and(|t| t <= now) {
                self.agents[i].wrap_up_until = None;
                if matches!(self.agents[i].state, AgentState::WrapUp { .. }) {
                    self.agents[i].available_since = Some(now);
                    self.set_state(i, AgentState::Available);
                }
            }
        }
        // A group joined is no deadline any more.
        for w in self.contacts.values_mut() {
            if let Some(queue) = self.queues.get(w.queue) {
                w.joined = joined(queue, now.saturating_duration_since(w.enqueued));
            }
        }
        self.distribute(now);
    }

    fn agent(&self, name: &str) -> Result<usize, AcdError> {
        self.agent_index
            .get(name)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(name.to_owned()))
    }

    fn refuse(&self, i: usize, what: &'static str) -> AcdError {
        AcdError::State {
            agent: self.agents[i].agent.name.clone(),
            state: self.agents[i].state.name(),
            what,
        }
    }

    fn set_state(&mut self, i: usize, state: AgentState) {
        if self.agents[i].state != state {
            self.agents[i].state = state.clone();
            self.events.push_back(AcdEvent::AgentState {
                agent: self.agents[i].agent.name.clone(),
                state,
            });
        }
    }

    /// An agent logs in: idle until it makes itself available.
    pub fn login(&mut self, _now: Instant, agent: &str) -> Result<(), AcdError> {
        let i = self.agent(agent)?;
        match self.agents[i].state {
            AgentState::LoggedOut => {
                self.set_state(i, AgentState::Idle { code: None });
                Ok(())
            }
            // Logging in twice is harmless.
            _ => Ok(()),
        }
    }

    /// An agent logs out; not while it has a contact.
    pub fn logout(&mut self, _now: Instant, agent: &str) -> Result<(), AcdError> {
        let i = self.agent(agent)?;
        if self.agents[i].state.contact().is_some() {
            return Err(self.refuse(i, "logout"));
        }
        self.agents[i].available_since = None;
        self.agents[i].wrap_up_until = None;
        self.set_state(i, AgentState::LoggedOut);
        Ok(())
    }

    /// An agent makes itself available (from idle or wrap-up).
    pub fn set_available(&mut self, now: Instant, agent: &str) -> Result<(), AcdError> {
        let i = self.agent(agent)?;
        match self.agents[i].state {
            AgentState::Available => return Ok(()),
            AgentState::Idle { .. } | AgentState::WrapUp { .. } => {}
            _ => return Err(self.refuse(i, "available")),
        }
        self.agents[i].available_since = Some(now);
        self.agents[i].wrap_up_until = None;
        self.set_state(i, AgentState::Available);
        self.distribute(now);
        Ok(())
    }

    /// An agent goes idle with a code (from available or wrap-up).
    pub fn set_idle(
        &mut self,
        _now: Instant,
        agent: &str,
        code: Option<String>,
    ) -> Result<(), AcdError> {
        let i = self.agent(agent)?;
        match self.agents[i].state {
            AgentState::Available | AgentState::Idle { .. } | AgentState::WrapUp { .. } => {}
            _ => return Err(self.refuse(i, "idle")),
        }
        self.agents[i].available_since = None;
        self.agents[i].wrap_up_until = None;
        self.set_state(i, AgentState::Idle { code });
        Ok(())
    }

    /// Gives a wrap-up its code; the agent stays in wrap-up until its time is over.
    pub fn wrap_up(&mut self, _now: Instant, agent: &str, code: String) -> Result<(), AcdError> {
        let i = self.agent(agent)?;
        match self.agents[i].state {
            AgentState::WrapUp { .. } => {
                self.set_state(i, AgentState::WrapUp { code: Some(code) });
                Ok(())
            }
            _ => Err(self.refuse(i, "wrap_up")),
        }
    }

    /// A contact joins a queue with its priority (1..=10) and the skills it needs
    /// besides the queue's.
    pub fn enqueue(
        &mut self,
        now: Instant,
        contact: ConversationId,
        queue: &str,
        priority: u8,
        skills: &Skills,
    ) -> Result<(), AcdError> {
        let q = *self
            .queue_index
            .get(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.to_owned()))?;
        if self.contacts.contains_key(&contact) {
            return Err(AcdError::Queued(contact));
        }
        let mut needed = self.queues[q].skills.clone();
        for (skill, &level) in skills {
            let entry = needed.entry(skill.clone()).or_insert(level);
            *entry = (*entry).max(level);
        }
        self.contacts.insert(
            contact,
            Waiting {
                queue: q,
                priority,
                skills: needed,
                enqueued: now,
                head: false,
                agent: None,
                joined: joined(&self.queues[q], Duration::ZERO),
                only: None,
            },
        );
        self.distribute(now);
        Ok(())
    }

    /// A contact waits for one agent (`queue_to_agent`): parked while the agent is busy
    /// or not available, offered when it is available.
    pub fn enqueue_for_agent(
        &mut self,
        now: Instant,
        contact: ConversationId,
        agent: &str,
        priority: u8,
    ) -> Result<(), AcdError> {
        let a = self.agent(agent)?;
        if self.contacts.contains_key(&contact) {
            return Err(AcdError::Queued(contact));
        }
        self.contacts.insert(
            contact,
            Waiting {
                queue: NO_QUEUE,
                priority,
                skills: Skills::new(),
                enqueued: now,
                head: false,
                agent: None,
                joined: 0,
                only: Some(a),
            },
        );
        self.distribute(now);
        Ok(())
    }

    /// A contact leaves its queue (the caller hung up, or waited too long). An agent
    /// reserved or offered it is available again, in its old place; its name is
    /// returned so that the ringing can be stopped.
    pub fn leave(&mut self, now: Instant, contact: ConversationId) -> Option<String> {
        let waiting = self.contacts.remove(&contact)?;
        let agent = waiting.agent?;
        let name = self.agents[agent].agent.name.clone();
        self.set_state(agent, AgentState::Available);
        self.distribute(now);
        Some(name)
    }

    /// The agent's phone rings with the contact.
    pub fn ringing(&mut self, contact: ConversationId) {
        if let Some(agent) = self.contacts.get(&contact).and_then(|w| w.agent)
            && self.agents[agent].state == (AgentState::Reserved { contact })
        {
            self.set_state(agent, AgentState::Offered { contact });
        }
    }

    /// The agent answered: engaged; the contact has left its queue.
    pub fn answered(&mut self, now: Instant, contact: ConversationId) {
        let Some(waiting) = self.contacts.remove(&contact) else {
            return;
        };
        if let Some(agent) = waiting.agent {
            self.agents[agent].available_since = None;
            self.set_state(agent, AgentState::Engaged { contact });
            self.engaged_at.insert(contact, (agent, waiting.queue, now));
        }
    }

    /// The agent's phone did not answer (RONA: ring-no-answer, or it refused): the
    /// agent goes idle with code `rona`, the contact back to the head of its queue.
    pub fn not_answered(&mut self, now: Instant, contact: ConversationId) {
        let Some(waiting) = self.contacts.get_mut(&contact) else {
            return;
        };
        let Some(agent) = waiting.agent.take() else {
            return;
        };
        waiting.head = true;
        self.agents[agent].available_since = None;
        self.set_state(
            agent,
            AgentState::Idle {
                code: Some("rona".to_owned()),
            },
        );
        self.distribute(now);
    }

    /// The engaged contact ended: the agent goes to wrap-up for its configured time
    /// (or straight back to available when that is 0); the handle time is recorded.
    pub fn ended(&mut self, now: Instant, contact: ConversationId) {
        let Some((agent, queue, answered)) = self.engaged_at.remove(&contact) else {
            return;
        };
        if let AgentState::Engaged { contact: c } = self.agents[agent].state
            && c == contact
        {
            let handle = now.saturating_duration_since(answered);
            if let Some(history) = self.history.get_mut(queue) {
                let h = &mut history.handle_times;
                if h.len() == HISTORY {
                    h.pop_front();
                }
                h.push_back(handle);
            }
            let wrap_up = self.agents[agent].agent.wrap_up;
            if wrap_up.is_zero() {
                self.agents[agent].available_since = Some(now);
                self.set_state(agent, AgentState::Available);
            } else {
                self.agents[agent].wrap_up_until = Some(now + wrap_up);
                self.set_state(agent, AgentState::WrapUp { code: None });
            }
            self.distribute(now);
        }
    }

    /// An agent's state.
    pub fn agent_state(&self, agent: &str) -> Option<&AgentState> {
        self.agent_index.get(agent).map(|&i| &self.agents[i].state)
    }

    /// An agent's configuration.
    pub fn agent_config(&self, agent: &str) -> Option<&Agent> {
        self.agent_index.get(agent).map(|&i| &self.agents[i].agent)
    }

    /// Every agent with its state, in configuration order.
    pub fn agents(&self) -> impl Iterator<Item = (&Agent, &AgentState)> {
        self.agents.iter().map(|s| (&s.agent, &s.state))
    }

    /// The contact's place in its queue (1 = next), while it waits.
    pub fn position(&self, now: Instant, contact: ConversationId) -> Option<usize> {
        let w = self.contacts.get(&contact)?;
        let order = self.order(now);
        order
            .iter()
            .filter(|(_, x)| x.queue == w.queue && x.only == w.only && x.agent.is_none())
            .position(|(c, _)| *c == contact)
            .map(|p| p + 1)
    }

    /// The queue's figures now.
    pub fn queue_info(&self, now: Instant, queue: &str) -> Option<QueueInfo> {
        let q = *self.queue_index.get(queue)?;
        let waiting: Vec<&Waiting> = self
            .contacts
            .values()
            .filter(|w| w.queue == q && w.agent.is_none())
            .collect();
        let longest_wait = waiting
            .iter()
            .map(|w| now.saturating_duration_since(w.enqueued))
            .max()
            .unwrap_or_default();
        let teams: Vec<&str> = self.queues[q]
            .groups
            .iter()
            .flat_map(|g| g.teams.iter().map(String::as_str))
            .collect();
        let of_queue = |s: &&Slot| s.agent.teams.iter().any(|t| teams.contains(&t.as_str()));
        let staffed = self
            .agents
            .iter()
            .filter(of_queue)
            .filter(|s| s.state != AgentState::LoggedOut)
            .count();
        let available = self
            .agents
            .iter()
            .filter(of_queue)
            .filter(|s| s.state == AgentState::Available)
            .count();
        let h = &self.history[q].handle_times;
        let mean = (!h.is_empty()).then(|| h.iter().sum::<Duration>() / h.len() as u32);
        Some(QueueInfo {
            queue: queue.to_owned(),
            waiting: waiting.len(),
            longest_wait,
            available_agents: available,
            staffed_agents: staffed,
            samples: h.len(),
            mean_handle_time: mean,
        })
    }

    /// The estimated wait of the contact at `position` (1 = next) in `queue`: the mean
    /// handle time of the queue's last contacts × position ÷ agents staffed, `None` with
    /// fewer than [`MIN_SAMPLES`] handle times or nobody staffed (insufficient
    /// information).
    pub fn estimated_wait(&self, now: Instant, queue: &str, position: usize) -> Option<Duration> {
        let info = self.queue_info(now, queue)?;
        if info.samples < MIN_SAMPLES || info.staffed_agents == 0 {
            return None;
        }
        let mean = info.mean_handle_time?;
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        let staffed = u32::try_from(info.staffed_agents).unwrap_or(u32::MAX);
        Some(mean.saturating_mul(position) / staffed)
    }

    /// Waiting contacts (not offered), in the order they are served.
    fn order(&self, now: Instant) -> Vec<(ConversationId, &Waiting)> {
        let mut order: Vec<(ConversationId, &Waiting)> = self
            .contacts
            .iter()
            .filter(|(_, w)| w.agent.is_none() && (w.queue < self.queues.len() || w.only.is_some()))
            .map(|(c, w)| (*c, w))
            .collect();
        let score = |w: &Waiting| -> f64 {
            let ageing = self
                .queues
                .get(w.queue)
                .and_then(|q| q.ageing)
                .filter(|a| !a.is_zero())
                .map_or(0.0, |a| {
                    now.saturating_duration_since(w.enqueued).as_secs_f64() / a.as_secs_f64()
                });
            f64::from(w.priority) + ageing.floor()
        };
        order.sort_by(|(ca, a), (cb, b)| {
            b.head
                .cmp(&a.head)
                .then_with(|| score(b).total_cmp(&score(a)))
                .then_with(|| a.enqueued.cmp(&b.enqueued))
                .then_with(|| ca.cmp(cb))
        });
        order
    }

    /// Offers waiting contacts to available agents, in order.
    fn distribute(&mut self, now: Instant) {
        if !self.agents.iter().any(|s| s.state == AgentState::Available) {
            return;
        }
        let order: Vec<ConversationId> = self.order(now).into_iter().map(|(c, _)| c).collect();
        for contact in order {
            let Some(w) = self.contacts.get(&contact) else {
                continue;
            };
            let Some(agent) = self.choose(now, w) else {
                continue;
            };
            if let Some(w) = self.contacts.get_mut(&contact) {
                w.agent = Some(agent);
            }
            self.set_state(agent, AgentState::Reserved { contact });
            self.events.push_back(AcdEvent::Offer {
                contact,
                agent: self.agents[agent].agent.name.clone(),
            });
            if !self.agents.iter().any(|s| s.state == AgentState::Available) {
                return;
            }
        }
    }

    /// The agent `w`'s queue prefers among those available that qualify.
    fn choose(&self, now: Instant, w: &Waiting) -> Option<usize> {
        if let Some(a) = w.only {
            return (self.agents[a].state == AgentState::Available).then_some(a);
        }
        let queue = self.queues.get(w.queue)?;
        let waited = now.saturating_duration_since(w.enqueued);
        let mut best: Option<(usize, u32, Instant)> = None;
        // An agent in two groups' teams is looked at twice, to the same effect.
        let candidates = self.searched[w.queue]
            .iter()
            .filter(|(after, _)| *after <= waited)
            .flat_map(|(_, members)| members.iter().copied());
        for i in candidates {
            let slot = &self.agents[i];
            if slot.state != AgentState::Available {
                continue;
            }
            let Some(score) = skill_score(&slot.agent.skills, &w.skills) else {
                continue;
            };
            let since = slot.available_since.unwrap_or(now);
            let better = match (&best, queue.strategy) {
                (None, _) => true,
                (Some((_, _, s)), Strategy::LongestAvailable) => since < *s,
                (Some((_, b, s)), Strategy::BestAvailable) => {
                    score > *b || (score == *b && since < *s)
                }
            };
            if better {
                best = Some((i, score, since));
            }
        }
        best.map(|(i, _, _)| i)
    }
}

/// The agent's match for the skills needed: the sum of its proficiency in them, or
/// `None` when it lacks one or has it below the level asked.
fn skill_score(has: &Skills, needs: &Skills) -> Option<u32> {
    let mut score = 0;
    for (skill, &level) in needs {
        let own = *has.get(skill)?;
        if own < level {
            return None;
        }
        score += u32::from(own);
    }
    Some(score)
}

/// The number of `queue`'s distribution groups a contact that waited `waited` has
/// joined.
fn joined(queue: &Queue, waited: Duration) -> usize {
    queue.groups.iter().filter(|g| g.after <= waited).count()
}
