//! One flow instance: a sans-IO state machine fed the conversation's events and the
//! clock, returning the commands to send and its next deadline. The tokio shell
//! (`super::task`) only moves them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::{Environment, Value};
use tracing::{debug, info, warn};
use voxgate_config::flow::{Flow, FlowNode, GotoTarget, NodeKind, VariableKind};
use voxgate_config::routing::{Agent, Skills};
use voxgate_config::{Config, TrunkName};
use voxgate_edge::control_plane::{
    Command, ConversationId, Destination, Dial, DialId, Event, LegId, PlaySource, PlaybackEnd,
    PlaybackId,
};

/// Nodes that do not wait, run in a row, before the instance gives up: validation
/// refuses cycles without a wait, so this only guards against a defect.
const MAX_STEPS: u32 = 256;

/// The value of a flow variable.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum FlowValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A truth value.
    Boolean(bool),
}

impl FlowValue {
    /// The empty value of a type.
    fn empty(kind: VariableKind) -> FlowValue {
        match kind {
            VariableKind::String => FlowValue::Text(String::new()),
            VariableKind::Number => FlowValue::Number(0.0),
            VariableKind::Boolean => FlowValue::Boolean(false),
        }
    }

    /// `text` as a value of `kind`; `None` when it is not one.
    pub fn parse(kind: VariableKind, text: &str) -> Option<FlowValue> {
        match kind {
            VariableKind::String => Some(FlowValue::Text(text.to_owned())),
            VariableKind::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(FlowValue::Number),
            VariableKind::Boolean => match text.trim() {
                "true" => Some(FlowValue::Boolean(true)),
                "false" => Some(FlowValue::Boolean(false)),
                _ => None,
            },
        }
    }

    fn to_value(&self) -> Value {
        match self {
            FlowValue::Text(s) => Value::from(s.as_str()),
            // Whole numbers stay integers in templates: "{{ n }}" renders 3, not 3.0.
            FlowValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
            FlowValue::Number(n) => Value::from(*n),
            FlowValue::Boolean(b) => Value::from(*b),
        }
    }
}

/// What the instance waits for.
#[derive(Clone, Debug, PartialEq)]
enum Wait {
    /// Nothing: it is between nodes, transferred or over.
    Nothing,
    /// The end of a `play_message`'s playback.
    Play(PlaybackId),
    /// A menu's digit; `playing` while its prompt plays, then until the deadline.
    Menu {
        playing: Option<PlaybackId>,
        tries: u32,
    },
    /// Digits for `collect_digits`.
    Collect {
        playing: Option<PlaybackId>,
        digits: String,
    },
    /// A blind transfer's dial: its answer ends the flow, its failure takes `failed`.
    Transfer(DialId),
    /// A `disconnect`'s prompt, then the hang-up.
    Farewell(PlaybackId),
    /// In a queue: an agent offered is being dialled (`offer`); `timed_out` once the
    /// longest wait passed while an agent's phone rang (that offer decides).
    Queue {
        offer: Option<DialId>,
        timed_out: bool,
    },
    /// A `get_queue_info`'s figures.
    QueueInfo,
    /// A `play_music`'s time.
    Music,
}

/// A queue's figures for `get_queue_info`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueFigures {
    /// The position a contact joining now would take (1 = next).
    pub position: usize,
    /// The estimated wait; `None` when the history is too short.
    pub estimated_wait: Option<Duration>,
    /// Agents of the queue available now.
    pub available_agents: usize,
}

/// What a flow asks of the contact center (the shell carries it out).
#[derive(Clone, Debug, PartialEq)]
pub enum CenterRequest {
    /// Queue the contact.
    Enqueue {
        /// The queue.
        queue: String,
        /// 1..=10.
        priority: u8,
        /// Skills besides the queue's.
        skills: Skills,
    },
    /// Park the contact for one agent (`queue_to_agent`).
    EnqueueForAgent {
        /// The agent.
        agent: String,
        /// 1..=10.
        priority: u8,
    },
    /// The offered agent's phone rings.
    Ringing,
    /// The offered agent answered: the caller is connected.
    Answered,
    /// The offered agent did not answer (RONA).
    NotAnswered,
    /// The contact leaves its queue: `abandoned` (the caller hung up) or `timeout`.
    Leave(&'static str),
    /// The contact connected to an agent ended: the agent's wrap-up starts.
    Ended,
    /// A queue's figures, for [`FlowRun::handle_queue_info`].
    Info {
        /// The queue.
        queue: String,
    },
}

/// Where the instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Running nodes.
    Running,
    /// Handed to a transfer's answering leg: nothing more to do but wait for the end.
    Transferred,
    /// Connected to an agent from a queue: the end starts the agent's wrap-up.
    Connected,
    /// Hung up: waiting for the conversation's end.
    Ending,
    /// The conversation ended.
    Done,
}

/// How a flow instance ended, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A `disconnect` node hung up.
    Disconnected,
    /// A blind transfer was answered.
    Transferred,
    /// An agent answered the contact from a queue.
    Agent,
    /// The caller hung up first.
    CallerHungUp,
    /// An error took the safe ending (a hang-up).
    Failed,
    /// The conversation ended otherwise (the edge: media timeout, shutdown).
    Ended,
}

impl Outcome {
    /// Its label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Disconnected => "disconnected",
            Outcome::Transferred => "transferred",
            Outcome::Agent => "agent",
            Outcome::CallerHungUp => "caller_hung_up",
            Outcome::Failed => "failed",
            Outcome::Ended => "ended",
        }
    }
}

/// What identifies the call to its flow.
#[derive(Clone, Debug)]
pub struct Contact {
    /// The inbound leg.
    pub leg: LegId,
    /// The trunk it came in on.
    pub trunk: TrunkName,
    /// The caller's number, if any.
    pub ani: String,
    /// The dialled number after normalisation, if any.
    pub dnis: String,
    /// The conversation (`c17`).
    pub contact_id: String,
    /// The entry point's name.
    pub entry_point: String,
    /// The entry point's time zone (IANA), for `business_hours`.
    pub time_zone: String,
    /// The conversation: the contact's key in the contact center.
    pub conversation: ConversationId,
    /// The entry point's queue, for `queue` nodes that name none.
    pub queue: Option<String>,
}

/// One flow instance.
pub struct FlowRun {
    /// The configuration the call started with: a reload changes later calls only.
    config: Arc<Config>,
    env: Arc<Environment<'static>>,
    contact: Contact,
    flow: usize,
    node: usize,
    vars: BTreeMap<String, FlowValue>,
    wait: Wait,
    deadline: Option<Instant>,
    plays: u32,
    dials: u32,
    /// Errors so far: the second goes to the safe ending, never `on_error` again.
    errors: u32,
    phase: Phase,
    outcome: Option<Outcome>,
    out: VecDeque<Command>,
    center: VecDeque<CenterRequest>,
    /// The wall clock at an instant of the monotonic one, from `start`: `business_hours`
    /// reads the time of day from it.
    wall: Option<(Instant, jiff::Timestamp)>,
}

impl std::fmt::Debug for FlowRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Variables may be sensitive: never printed.
        f.debug_struct("FlowRun")
            .field("flow", &self.flow().name)
            .field("node", &self.current().id)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// The template environment flows render with: strict about undefined variables, no
/// loader (templates come from the configuration only), no I/O.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

impl FlowRun {
    /// An instance of flow `flow` of `config` for `contact`; `None` when the flow does
    /// not exist or has no nodes (validation makes both impossible).
    pub fn new(
        config: Arc<Config>,
        env: Arc<Environment<'static>>,
        flow: &str,
        contact: Contact,
    ) -> Option<FlowRun> {
        let index = config.flows.iter().position(|f| f.name == flow)?;
        let start = {
            let f = &config.flows[index];
            f.nodes.iter().position(|n| n.id == f.start)?
        };
        let mut run = FlowRun {
            config,
            env,
            contact,
            flow: index,
            node: start,
            vars: BTreeMap::new(),
            wait: Wait::Nothing,
            deadline: None,
            plays: 0,
            dials: 0,
            errors: 0,
            phase: Phase::Running,
            outcome: None,
            out: VecDeque::new(),
            center: VecDeque::new(),
            wall: None,
        };
        run.reset_variables();
        Some(run)
    }

    fn flow(&self) -> &Flow {
        &self.config.flows[self.flow]
    }

    fn current(&self) -> &FlowNode {
        &self.flow().nodes[self.node]
    }

    /// Where it is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// How it ended (once it has).
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Errors so far.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The name of the flow it runs now (a `goto` may change it).
    pub fn flow_name(&self) -> &str {
        &self.flow().name
    }

    /// The current node's id.
    pub fn node_id(&self) -> &str {
        &self.current().id
    }

    /// A variable's value (tests; the API's inspection, sensitive ones excluded there).
    pub fn variable(&self, name: &str) -> Option<&FlowValue> {
        self.vars.get(name)
    }

    /// The next command to send.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// The next request to the contact center.
    pub fn poll_center(&mut self) -> Option<CenterRequest> {
        self.center.pop_front()
    }

    /// The contact center offers the contact to `agent`: its phone is dialled and
    /// connected to the caller on answer, the music going on while it rings.
    pub fn handle_offer(&mut self, _now: Instant, agent: &Agent) {
        let Wait::Queue { offer: None, .. } = self.wait else {
            // Left the queue meanwhile: the center took the contact out already.
            return;
        };
        let destination = Destination {
            uri: agent.dial.uri.clone(),
            transport: voxgate_edge::admission::transport_kind(agent.dial.transport),
            trunk: agent.dial.trunk.clone(),
        };
        let dial = Dial::new(vec![destination])
            .connect(self.contact.leg)
            .ring_timeout(agent.ring_timeout);
        self.dials += 1;
        self.out.push_back(Command::Dial(dial));
        info!(node = %self.current().id, agent = %agent.name, "dialling the agent offered");
        if let Wait::Queue { offer, .. } = &mut self.wait {
            *offer = Some(DialId(self.dials));
        }
        self.center.push_back(CenterRequest::Ringing);
    }

    /// The figures a `get_queue_info` asked for; `None`: the queue is gone.
    pub fn handle_queue_info(&mut self, now: Instant, figures: Option<QueueFigures>) {
        if self.wait != Wait::QueueInfo {
            return;
        }
        self.wait = Wait::Nothing;
        let NodeKind::GetQueueInfo {
            position,
            estimated_wait,
            available_agents,
            ..
        } = self.current().kind.clone()
        else {
            return;
        };
        let Some(figures) = figures else {
            return self.fail(now, "get_queue_info: the queue is gone");
        };
        let mut ok = true;
        if let Some(v) = position {
            ok &= self.assign(&v, &figures.position.to_string());
        }
        if let Some(v) = available_agents {
            ok &= self.assign(&v, &figures.available_agents.to_string());
        }
        if let (Some(v), Some(wait)) = (estimated_wait, figures.estimated_wait) {
            ok &= self.assign(&v, &wait.as_secs().to_string());
        }
        if !ok {
            return self.fail(now, "get_queue_info: a variable is not a number");
        }
        let output = if figures.estimated_wait.is_some() {
            "next"
        } else {
            "insufficient_information"
        };
        self.follow(now, output);
    }

    /// The contact center refused to queue the contact (its queue is gone).
    pub fn handle_center_error(&mut self, now: Instant, what: &str) {
        if matches!(self.wait, Wait::Queue { .. }) {
            self.wait = Wait::Nothing;
            self.fail(now, what);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Answers the call and runs the start node; `wall` is the wall-clock time at `now`.
    pub fn start(&mut self, now: Instant, wall: jiff::Timestamp) {
        self.wall = Some((now, wall));
        info!(flow = %self.flow().name, entry_point = %self.contact.entry_point, "flow started");
        self.out.push_back(Command::Answer {
            leg: self.contact.leg,
            early: false,
        });
        self.enter(now, self.node);
    }

    /// One event of the conversation.
    pub fn handle_event(&mut self, now: Instant, event: &Event) {
        match event {
            Event::Ended { .. } => {
                match (&self.wait, self.phase) {
                    (_, Phase::Connected) => self.center.push_back(CenterRequest::Ended),
                    (Wait::Queue { .. }, _) => {
                        self.center.push_back(CenterRequest::Leave("abandoned"));
                    }
                    _ => {}
                }
                self.outcome.get_or_insert(Outcome::Ended);
                self.phase = Phase::Done;
                self.deadline = None;
                self.wait = Wait::Nothing;
            }
            // Transferred: the caller and the answering leg are bridged; when either
            // ends, so does the call (the conversation would keep the other up).
            Event::LegEnded { .. } if self.phase == Phase::Transferred => {
                self.hang_up();
            }
            // Connected to an agent: either side ending ends the contact (and starts
            // the agent's wrap-up).
            Event::LegEnded { .. } if self.phase == Phase::Connected => {
                self.center.push_back(CenterRequest::Ended);
                self.hang_up();
            }
            _ if self.phase != Phase::Running => {}
            Event::LegEnded { leg, .. } if *leg == self.contact.leg => {
                // The caller hung up: a transfer still ringing is cancelled; the
                // conversation's end follows.
                self.outcome.get_or_insert(Outcome::CallerHungUp);
                if matches!(
                    self.wait,
                    Wait::Transfer(_) | Wait::Queue { offer: Some(_), .. }
                ) {
                    self.hang_up();
                }
                if matches!(self.wait, Wait::Queue { .. }) {
                    self.center.push_back(CenterRequest::Leave("abandoned"));
                }
                self.phase = Phase::Ending;
                self.deadline = None;
                self.wait = Wait::Nothing;
            }
            Event::PlaybackDone { leg, id, reason } if *leg == self.contact.leg => {
                self.playback_done(now, *id, *reason);
            }
            Event::Digits { leg, digit, .. } if *leg == self.contact.leg => {
                self.digit(now, digit.as_char());
            }
            Event::DialFailed { dial, .. } if self.wait == Wait::Transfer(*dial) => {
                self.wait = Wait::Nothing;
                self.follow(now, "failed");
            }
            Event::DialFailed { dial, .. } if matches!(self.wait, Wait::Queue { offer: Some(d), .. } if d == *dial) =>
            {
                // RONA: the center takes the contact back, at the head of its queue.
                info!(node = %self.current().id, "the agent offered did not answer");
                self.center.push_back(CenterRequest::NotAnswered);
                if let Wait::Queue { offer, timed_out } = &mut self.wait {
                    *offer = None;
                    if *timed_out {
                        self.center.push_back(CenterRequest::Leave("timeout"));
                        self.wait = Wait::Nothing;
                        self.follow(now, "timeout");
                    }
                }
            }
            Event::LegAnswered { leg, early: false }
                if *leg != self.contact.leg
                    && matches!(self.wait, Wait::Queue { offer: Some(_), .. }) =>
            {
                info!(node = %self.current().id, "the agent answered: connected");
                // The music stops; the bridge is the dial's.
                self.out.push_back(Command::StopMedia {
                    leg: self.contact.leg,
                });
                self.center.push_back(CenterRequest::Answered);
                self.wait = Wait::Nothing;
                self.deadline = None;
                self.outcome.get_or_insert(Outcome::Agent);
                self.phase = Phase::Connected;
            }
            Event::LegAnswered { leg, .. }
                if *leg != self.contact.leg && matches!(self.wait, Wait::Transfer(_)) =>
            {
                info!(node = %self.current().id, "flow transferred the call");
                self.wait = Wait::Nothing;
                self.outcome.get_or_insert(Outcome::Transferred);
                self.phase = Phase::Transferred;
            }
            Event::Error { .. } => {
                // The edge refused a command of this flow (a prompt it cannot play on
                // this leg, say).
                self.fail(now, "the edge refused a command of the node");
            }
            _ => {}
        }
    }

    /// The deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(due) if due <= now => self.deadline = None,
            _ => return,
        }
        if self.phase != Phase::Running {
            return;
        }
        match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::Menu {
                playing: None,
                tries,
            } => self.menu_retry(now, tries, "timeout", false),
            Wait::Collect {
                playing: None,
                digits,
            } => self.collect_done(now, digits),
            Wait::Music => {
                self.out.push_back(Command::StopMedia {
                    leg: self.contact.leg,
                });
                self.follow(now, "next");
            }
            Wait::Queue { offer: None, .. } => {
                self.center.push_back(CenterRequest::Leave("timeout"));
                self.follow(now, "timeout");
            }
            Wait::Queue { offer, .. } => {
                self.wait = Wait::Queue {
                    offer,
                    timed_out: true,
                }
            }
            other => self.wait = other,
        }
    }

    fn playback_done(&mut self, now: Instant, id: PlaybackId, reason: PlaybackEnd) {
        match &mut self.wait {
            Wait::Play(p) if *p == id => {
                self.wait = Wait::Nothing;
                self.follow(now, "next");
            }
            Wait::Farewell(p) if *p == id => {
                self.wait = Wait::Nothing;
                self.hang_up();
            }
            Wait::Menu { playing, .. } if *playing == Some(id) => {
                *playing = None;
                // Barged in: the digit follows and decides.
                if reason != PlaybackEnd::BargeIn {
                    let timeout = match &self.current().kind {
                        NodeKind::Menu { timeout, .. } => *timeout,
                        _ => Duration::ZERO,
                    };
                    self.deadline = Some(now + timeout);
                }
            }
            Wait::Collect { playing, digits } if *playing == Some(id) => {
                *playing = None;
                if reason != PlaybackEnd::BargeIn && digits.is_empty() {
                    let timeout = match &self.current().kind {
                        NodeKind::CollectDigits { first_timeout, .. } => *first_timeout,
                        _ => Duration::ZERO,
                    };
                    self.deadline = Some(now + timeout);
                }
            }
            _ => {}
        }
    }

    fn digit(&mut self, now: Instant, key: char) {
        match std::mem::replace(&mut self.wait, Wait::Nothing) {
            Wait::Menu { tries, .. } => {
                self.deadline = None;
                let mut name = [0u8; 4];
                let name: &str = key.encode_utf8(&mut name);
                if self.current().output(name).is_some() {
                    debug!(node = %self.current().id, "menu choice");
                    self.follow(now, name);
                } else {
                    self.menu_retry(now, tries, "invalid", true);
                }
            }
            Wait::Collect { mut digits, .. } => {
                let NodeKind::CollectDigits {
                    max,
                    terminator,
                    inter_digit_timeout,
                    ..
                } = self.current().kind.clone()
                else {
                    return;
                };
                if terminator == Some(key) {
                    self.deadline = None;
                    self.collect_done(now, digits);
                    return;
                }
                digits.push(key);
                if digits.len() >= max as usize {
                    self.deadline = None;
                    self.collect_done(now, digits);
                } else {
                    // Any prompt still playing was barged in by this digit.
                    self.deadline = Some(now + inter_digit_timeout);
                    self.wait = Wait::Collect {
                        playing: None,
                        digits,
                    };
                }
            }
            // Digits typed ahead of a menu or while a message plays are not kept.
            other => self.wait = other,
        }
    }

    /// A menu try failed (`why`: `timeout` or `invalid`): play it again while tries
    /// remain, else take the output `why`.
    fn menu_retry(&mut self, now: Instant, tries: u32, why: &str, invalid: bool) {
        let NodeKind::Menu {
            prompt,
            retries,
            invalid_prompt,
            ..
        } = self.current().kind.clone()
        else {
            return;
        };
        if tries >= retries {
            self.follow(now, why);
            return;
        }
        let source = match invalid_prompt.filter(|_| invalid) {
            Some(first) => PlaySource::Prompts(vec![first, prompt]),
            None => PlaySource::Prompt(prompt),
        };
        let id = self.play(source, true);
        self.wait = Wait::Menu {
            playing: Some(id),
            tries: tries + 1,
        };
    }

    fn collect_done(&mut self, now: Instant, digits: String) {
        let NodeKind::CollectDigits { variable, min, .. } = self.current().kind.clone() else {
            return;
        };
        if digits.len() < min as usize {
            self.follow(now, "timeout");
            return;
        }
        if self.assign(&variable, &digits) {
            self.follow(now, "next");
        } else {
            self.fail(now, "the digits collected are not of the variable's type");
        }
    }

    /// Takes the current node's output `name`.
    fn follow(&mut self, now: Instant, name: &str) {
        let next = self
            .current()
            .output(name)
            .and_then(|id| self.flow().nodes.iter().position(|n| n.id == id));
        match next {
            Some(next) => self.enter(now, next),
            None => self.fail(now, "an output leads nowhere"),
        }
    }

    /// Runs nodes from `node` until one waits.
    fn enter(&mut self, now: Instant, mut node: usize) {
        self.deadline = None;
        self.wait = Wait::Nothing;
        for _ in 0..MAX_STEPS {
            if self.phase != Phase::Running {
                return;
            }
            self.node = node;
            debug!(flow = %self.flow().name, node = %self.current().id, kind = self.current().kind.name(), "flow node");
            let kind = self.current().kind.clone();
            let output = match kind {
                NodeKind::PlayMessage { prompts } => {
                    let source = if prompts.len() == 1 {
                        PlaySource::Prompt(prompts.into_iter().next().unwrap_or_default())
                    } else {
                        PlaySource::Prompts(prompts)
                    };
                    let id = self.play(source, false);
                    self.wait = Wait::Play(id);
                    return;
                }
                NodeKind::Menu { prompt, .. } => {
                    let id = self.play(PlaySource::Prompt(prompt), true);
                    self.wait = Wait::Menu {
                        playing: Some(id),
                        tries: 0,
                    };
                    return;
                }
                NodeKind::CollectDigits {
                    prompt,
                    first_timeout,
                    ..
                } => {
                    let playing = prompt.map(|p| self.play(PlaySource::Prompt(p), true));
                    if playing.is_none() {
                        self.deadline = Some(now + first_timeout);
                    }
                    self.wait = Wait::Collect {
                        playing,
                        digits: String::new(),
                    };
                    return;
                }
                NodeKind::SetVariable { variable, value } => match self.render(&value) {
                    Ok(text) if self.assign(&variable, &text) => "next".to_owned(),
                    Ok(_) => {
                        return self.fail(now, "the value is not of the variable's type");
                    }
                    Err(e) => return self.fail(now, &e),
                },
                NodeKind::Condition { expression } => match self.evaluate(&expression) {
                    Ok(true) => "true".to_owned(),
                    Ok(false) => "false".to_owned(),
                    Err(e) => return self.fail(now, &e),
                },
                NodeKind::Case { value } => match self.render(&value) {
                    Ok(text) if self.current().output(&text).is_some() => text,
                    Ok(_) => "default".to_owned(),
                    Err(e) => return self.fail(now, &e),
                },
                NodeKind::Goto {
                    target: GotoTarget::Node(id),
                } => match self.flow().nodes.iter().position(|n| n.id == id) {
                    Some(next) => {
                        node = next;
                        continue;
                    }
                    None => return self.fail(now, "goto names no node"),
                },
                NodeKind::Goto {
                    target: GotoTarget::Flow(name),
                } => {
                    let target = self.config.flows.iter().position(|f| f.name == name);
                    let start = target.and_then(|i| {
                        let f = &self.config.flows[i];
                        f.nodes.iter().position(|n| n.id == f.start)
                    });
                    match (target, start) {
                        (Some(target), Some(start)) => {
                            info!(from = %self.flow().name, to = %name, "flow goes to another flow");
                            self.flow = target;
                            self.reset_variables();
                            node = start;
                            continue;
                        }
                        _ => return self.fail(now, "goto names no flow"),
                    }
                }
                NodeKind::BlindTransfer { number } => match self.render(&number) {
                    Ok(number) => {
                        let command = crate::router::decide(
                            &self.config,
                            &self.contact.trunk,
                            self.contact.leg,
                            Some(&number),
                        );
                        match command {
                            Command::Dial(dial) => {
                                self.dials += 1;
                                self.out.push_back(Command::Dial(dial));
                                self.wait = Wait::Transfer(DialId(self.dials));
                                return;
                            }
                            // No route for the number.
                            _ => "failed".to_owned(),
                        }
                    }
                    Err(e) => return self.fail(now, &e),
                },
                NodeKind::BusinessHours {
                    hours,
                    holidays,
                    force,
                } => {
                    let at = self.wall_at(now);
                    let state = voxgate_config::flow::business_state(
                        &hours,
                        &holidays,
                        force,
                        &self.contact.time_zone,
                        at,
                    );
                    // A holiday with no `holiday` output is closed.
                    if state == "holiday" && self.current().output("holiday").is_none() {
                        "closed".to_owned()
                    } else {
                        state.to_owned()
                    }
                }
                NodeKind::Queue {
                    queue,
                    priority,
                    skills,
                    max_wait,
                } => {
                    let name = queue.or_else(|| self.contact.queue.clone());
                    let Some(q) = name.as_deref().and_then(|n| self.config.queue(n)) else {
                        return self.fail(
                            now,
                            "no queue: the node names none and its entry point has none",
                        );
                    };
                    let music = q.music.clone();
                    let max_wait = max_wait.unwrap_or(q.max_wait);
                    if let Some(music) = music {
                        self.play(PlaySource::Music(music), false);
                    }
                    self.center.push_back(CenterRequest::Enqueue {
                        queue: name.unwrap_or_default(),
                        priority,
                        skills,
                    });
                    self.deadline = Some(now + max_wait);
                    self.wait = Wait::Queue {
                        offer: None,
                        timed_out: false,
                    };
                    return;
                }
                NodeKind::PlayMusic { prompt, duration } => {
                    self.play(PlaySource::Music(prompt), false);
                    self.deadline = Some(now + duration);
                    self.wait = Wait::Music;
                    return;
                }
                NodeKind::QueueToAgent {
                    agent,
                    priority,
                    max_wait,
                    music,
                } => {
                    if let Some(music) = music {
                        self.play(PlaySource::Music(music), false);
                    }
                    self.center
                        .push_back(CenterRequest::EnqueueForAgent { agent, priority });
                    self.deadline = Some(now + max_wait);
                    self.wait = Wait::Queue {
                        offer: None,
                        timed_out: false,
                    };
                    return;
                }
                NodeKind::GetQueueInfo { queue, .. } => {
                    let Some(name) = queue.or_else(|| self.contact.queue.clone()) else {
                        return self.fail(
                            now,
                            "no queue: the node names none and its entry point has none",
                        );
                    };
                    self.center.push_back(CenterRequest::Info { queue: name });
                    self.wait = Wait::QueueInfo;
                    return;
                }
                NodeKind::Disconnect { prompt } => {
                    match prompt {
                        Some(p) => {
                            let id = self.play(PlaySource::Prompt(p), false);
                            self.wait = Wait::Farewell(id);
                        }
                        None => self.hang_up(),
                    }
                    return;
                }
                _ => return self.fail(now, "a node kind this version cannot run"),
            };
            match self
                .current()
                .output(&output)
                .and_then(|id| self.flow().nodes.iter().position(|n| n.id == id))
            {
                Some(next) => node = next,
                None => return self.fail(now, "an output leads nowhere"),
            }
        }
        self.fail(now, "too many nodes in a row without a wait");
    }

    /// The wall-clock time at `now`.
    fn wall_at(&self, now: Instant) -> jiff::Timestamp {
        match self.wall {
            Some((then, wall)) => {
                let elapsed = now.saturating_duration_since(then);
                jiff::SignedDuration::try_from(elapsed)
                    .ok()
                    .and_then(|d| wall.checked_add(d).ok())
                    .unwrap_or(wall)
            }
            None => jiff::Timestamp::now(),
        }
    }

    fn play(&mut self, source: PlaySource, barge_in: bool) -> PlaybackId {
        self.plays += 1;
        self.out.push_back(Command::Play {
            leg: self.contact.leg,
            source,
            barge_in,
        });
        PlaybackId(self.plays)
    }

    fn hang_up(&mut self) {
        self.outcome.get_or_insert(Outcome::Disconnected);
        self.out.push_back(Command::Hangup {
            leg: None,
            status: None,
        });
        self.phase = Phase::Ending;
        self.deadline = None;
    }

    /// An error in the flow: the flow's `on_error` node the first time, else the safe
    /// ending. `what` never holds a variable's value.
    fn fail(&mut self, now: Instant, what: &str) {
        self.errors += 1;
        let flow = self.flow();
        warn!(
            flow = %flow.name,
            origin = %flow.origin,
            node = %self.current().id,
            line = self.current().line,
            error = what,
            "flow error"
        );
        let on_error = flow
            .on_error
            .as_deref()
            .and_then(|id| flow.nodes.iter().position(|n| n.id == id));
        match on_error {
            Some(node) if self.errors == 1 => self.enter(now, node),
            _ => {
                self.outcome.get_or_insert(Outcome::Failed);
                self.hang_up();
            }
        }
    }

    fn reset_variables(&mut self) {
        let flow = &self.config.flows[self.flow];
        self.vars = flow
            .variables
            .iter()
            .map(|v| {
                let value = v
                    .default
                    .as_deref()
                    .and_then(|d| FlowValue::parse(v.kind, d))
                    .unwrap_or_else(|| FlowValue::empty(v.kind));
                (v.name.clone(), value)
            })
            .collect();
    }

    /// Sets a declared variable from text; false when the text is not of its type.
    fn assign(&mut self, name: &str, text: &str) -> bool {
        let Some(kind) = self.flow().variable(name).map(|v| v.kind) else {
            return false;
        };
        match FlowValue::parse(kind, text) {
            Some(value) => {
                self.vars.insert(name.to_owned(), value);
                true
            }
            None => false,
        }
    }

    fn context(&self) -> Value {
        let c = &self.contact;
        let mut map: BTreeMap<&str, Value> = BTreeMap::new();
        map.insert("ani", Value::from(c.ani.as_str()));
        map.insert("dnis", Value::from(c.dnis.as_str()));
        map.insert("trunk", Value::from(c.trunk.as_str()));
        map.insert("contact_id", Value::from(c.contact_id.as_str()));
        map.insert("entry_point", Value::from(c.entry_point.as_str()));
        for (name, value) in &self.vars {
            map.insert(name.as_str(), value.to_value());
        }
        Value::from_iter(map)
    }

    /// A template rendered; the error names what failed, never a value.
    fn render(&self, template: &str) -> Result<String, String> {
        self.env
            .render_str(template, self.context())
            .map_err(|e| format!("template: {}", e.kind()))
    }

    fn evaluate(&self, expression: &str) -> Result<bool, String> {
        let expr = self
            .env
            .compile_expression(expression)
            .map_err(|e| format!("expression: {}", e.kind()))?;
        expr.eval(self.context())
            .map(|v| v.is_true())
            .map_err(|e| format!("expression: {}", e.kind()))
    }
}
