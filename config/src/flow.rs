//! Entry points and flows (`[[entry_point]]`, `[[flow]]`): the contact-center path of a
//! call. A dialled number or a trunk leads to an entry point, which names the flow that
//! one isolated instance per call runs (voxgate-control's `flow` module).
//!
//! A flow is a declarative state machine: nodes with a `kind`, its parameters and named
//! `outputs`, each naming the next node. Everything here has been validated as a whole
//! (see `validate::flows`): every output names a node of the same flow, every node is
//! reachable from `start`, every variable a node writes or a template reads is declared
//! (or is one of [`GLOBALS`]), every template compiles, and no cycle runs without a node
//! that waits for the caller ([`NodeKind::waits`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::TrunkName;

/// Variables every flow instance has, set by its entry point; templates read them
/// without declaring them.
pub const GLOBALS: &[&str] = &[
    // The caller's number (From user), redacted in logs like every number.
    "ani",
    // The dialled number after normalisation.
    "dnis",
    // The trunk the call came in on.
    "trunk",
    // The conversation's id (`c17`).
    "contact_id",
    // The entry point's name.
    "entry_point",
];

/// Where calls enter a flow: by dialled number, or every call of a trunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// Unique name.
    pub name: String,
    /// Dialled numbers (E.164 after the inbound trunk's `numbering`) that enter here; no
    /// number is in two entry points.
    pub numbers: Vec<String>,
    /// Trunks whose calls enter here when their number is in no entry point; no trunk
    /// is in two entry points.
    pub trunks: Vec<TrunkName>,
    /// The flow that runs, by name.
    pub flow: String,
    /// The IANA time zone its `business_hours` nodes read the clock in (default `UTC`).
    pub time_zone: String,
    /// The queue its flow's `queue` nodes use when they name none.
    pub queue: Option<String>,
}

/// A flow: nodes from `start` on, one isolated instance per call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Unique name.
    pub name: String,
    /// The file and line it was declared at, for runtime messages.
    pub origin: String,
    /// The first node's id.
    pub start: String,
    /// Declared variables, in file order.
    pub variables: Vec<FlowVariable>,
    /// The nodes, in file order; ids unique within the flow.
    pub nodes: Vec<FlowNode>,
    /// The node an error goes to (a failed template, a variable of the wrong type); `None`:
    /// the safe ending, a disconnect.
    pub on_error: Option<String>,
}

impl Flow {
    /// The node `id`.
    pub fn node(&self, id: &str) -> Option<&FlowNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The declared variable `name`.
    pub fn variable(&self, name: &str) -> Option<&FlowVariable> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// A declared variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowVariable {
    /// Its name: `[a-z_][a-z0-9_]{0,63}`, not one of [`GLOBALS`].
    pub name: String,
    /// Its type: values assigned are converted to it (a failure is an error of the flow).
    pub kind: VariableKind,
    /// The value it starts with; `None`: empty (`""`, `0`, `false`).
    pub default: Option<String>,
    /// Never in logs, CDRs, events, webhooks or error messages: a fixed mask instead.
    pub sensitive: bool,
}

/// A variable's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariableKind {
    /// Text.
    String,
    /// A number (64-bit float; digits collected into it must parse).
    Number,
    /// `true` or `false`.
    Boolean,
}

impl VariableKind {
    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            VariableKind::String => "string",
            VariableKind::Number => "number",
            VariableKind::Boolean => "boolean",
        }
    }
}

/// One node of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowNode {
    /// Its id, unique in the flow: `[A-Za-z0-9_-]{1,64}`.
    pub id: String,
    /// The line it starts at in its file.
    pub line: usize,
    /// What it does, with its parameters.
    pub kind: NodeKind,
    /// Output name → the id of the next node. Exactly the outputs its kind requires,
    /// plus those it allows ([`NodeKind::outputs`]).
    pub outputs: BTreeMap<String, String>,
}

impl FlowNode {
    /// The node an output leads to.
    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs.get(name).map(String::as_str)
    }
}

/// The outputs a node kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// Outputs every node of the kind must name.
    pub required: &'static [&'static str],
    /// Outputs it may name besides.
    pub optional: &'static [&'static str],
    /// Whether any other output name is allowed (a `case`'s values).
    pub open: bool,
}

/// What a node does, with its parameters. Templates are minijinja templates over the
/// flow's variables and [`GLOBALS`] (rendered to text); expressions are minijinja
/// expressions (tested for truth).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeKind {
    /// Play prompts (names of `[[prompt]]`s) in order, then `next`.
    PlayMessage {
        /// The prompts (at least one).
        prompts: Vec<String>,
    },
    /// Play a prompt and take one digit: the output named by the digit (`"0"`–`"9"`,
    /// `"*"`, `"#"`); a digit with no output or no digit within `timeout` after the
    /// prompt plays it again, up to `retries` more times, then `invalid` or `timeout`.
    Menu {
        /// The prompt (barged in by the first digit).
        prompt: String,
        /// How long to wait for a digit after the prompt.
        timeout: Duration,
        /// Replays after the first try.
        retries: u32,
        /// Played before a replay after a digit with no output.
        invalid_prompt: Option<String>,
    },
    /// Collect `min..=max` digits into a variable: ends at `max` digits, at the
    /// terminator (not stored) or when a timeout passes with at least `min`; `next`, or
    /// `timeout` with fewer than `min`.
    CollectDigits {
        /// Played first (barged in by the first digit).
        prompt: Option<String>,
        /// The declared variable that gets the digits.
        variable: String,
        /// Fewest digits (≥ 1).
        min: u32,
        /// Most digits (min..=32).
        max: u32,
        /// The key that ends the input early.
        terminator: Option<char>,
        /// Wait for the first digit after the prompt.
        first_timeout: Duration,
        /// Wait between digits.
        inter_digit_timeout: Duration,
    },
    /// Assign a rendered template to a declared variable, then `next`.
    SetVariable {
        /// The variable.
        variable: String,
        /// The template.
        value: String,
    },
    /// `true` or `false` by an expression.
    Condition {
        /// The expression.
        expression: String,
    },
    /// The output named by a rendered template's value, or `default`.
    Case {
        /// The template.
        value: String,
    },
    /// Continue at another node of this flow or at another flow's start (its variables
    /// start afresh; the globals stay).
    Goto {
        /// Where.
        target: GotoTarget,
    },
    /// Dial a number (a rendered template, normalised like a dialled number and routed
    /// by the `[[route]]`s as a call from the inbound trunk) and connect the caller on
    /// answer; the flow ends there. `failed` when no destination answers.
    BlindTransfer {
        /// The number template.
        number: String,
    },
    /// `open`, `closed` or `holiday` (when named; else `closed` on a holiday) by the
    /// clock in the entry point's time zone; `force` overrides the hours (the switch
    /// for an unplanned closure).
    BusinessHours {
        /// When it is open.
        hours: Vec<OpeningHours>,
        /// Whole days it is closed.
        holidays: Vec<jiff::civil::Date>,
        /// `Some(true)`: open whatever the hours; `Some(false)`: closed.
        force: Option<bool>,
    },
    /// End the call, after a prompt if one is named.
    Disconnect {
        /// Played first.
        prompt: Option<String>,
    },
    /// Wait in a queue for an agent, with the queue's music; an agent's answer connects
    /// the caller and ends the flow's part; `timeout` after the longest wait.
    Queue {
        /// The queue's name; `None`: the entry point's queue.
        queue: Option<String>,
        /// 1..=10: a contact of higher priority is offered first.
        priority: u8,
        /// Skills the contact needs besides the queue's.
        skills: crate::routing::Skills,
        /// The longest wait; `None`: the queue's `max_wait`.
        max_wait: Option<Duration>,
    },
    /// Loop a prompt as music for a while (a pause the caller should not hear as
    /// silence), then `next`.
    PlayMusic {
        /// The prompt looped.
        prompt: String,
        /// How long.
        duration: Duration,
    },
    /// Wait for one agent (an agent-specific queue): parked while the agent is busy
    /// or not available, its phone dialled when it is; `timeout` after the longest wait
    /// (the recovery: usually a `queue` node).
    QueueToAgent {
        /// The agent's name.
        agent: String,
        /// 1..=10.
        priority: u8,
        /// The longest wait.
        max_wait: Duration,
        /// A prompt looped while waiting.
        music: Option<String>,
    },
    /// A queue's figures into number variables, for the caller to hear before
    /// queueing: the position a contact joining now would take, the estimated wait in
    /// seconds, the agents available; `insufficient_information` when the queue's
    /// history is too short for an estimate (the other variables are still set).
    GetQueueInfo {
        /// The queue's name; `None`: the entry point's queue.
        queue: Option<String>,
        /// The variable the position goes to.
        position: Option<String>,
        /// The variable the estimated wait (seconds) goes to.
        estimated_wait: Option<String>,
        /// The variable the count of available agents goes to.
        available_agents: Option<String>,
    },
}

/// Where a `goto` goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GotoTarget {
    /// A node of the same flow.
    Node(String),
    /// Another flow's start.
    Flow(String),
}

impl NodeKind {
    /// Every kind's name in the file, for messages.
    pub const NAMES: &'static [&'static str] = &[
        "play_message",
        "menu",
        "collect_digits",
        "set_variable",
        "condition",
        "case",
        "goto",
        "blind_transfer",
        "business_hours",
        "disconnect",
        "queue",
        "get_queue_info",
        "queue_to_agent",
        "play_music",
    ];

    /// The name used in the file.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::PlayMessage { .. } => "play_message",
            NodeKind::Menu { .. } => "menu",
            NodeKind::CollectDigits { .. } => "collect_digits",
            NodeKind::SetVariable { .. } => "set_variable",
            NodeKind::Condition { .. } => "condition",
            NodeKind::Case { .. } => "case",
            NodeKind::Goto { .. } => "goto",
            NodeKind::BlindTransfer { .. } => "blind_transfer",
            NodeKind::BusinessHours { .. } => "business_hours",
            NodeKind::Disconnect { .. } => "disconnect",
            NodeKind::Queue { .. } => "queue",
            NodeKind::GetQueueInfo { .. } => "get_queue_info",
            NodeKind::QueueToAgent { .. } => "queue_to_agent",
            NodeKind::PlayMusic { .. } => "play_music",
        }
    }

    /// The outputs of a kind by its name; `None` for an unknown kind.
    pub fn outputs_of(kind: &str) -> Option<Outputs> {
        const DIGITS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"];
        let (required, optional, open): (&[&str], &[&str], bool) = match kind {
            "play_message" | "set_variable" | "play_music" => (&["next"], &[], false),
            "menu" => (&["timeout", "invalid"], DIGITS, false),
            "collect_digits" => (&["next", "timeout"], &[], false),
            "condition" => (&["true", "false"], &[], false),
            "case" => (&["default"], &[], true),
            "blind_transfer" => (&["failed"], &[], false),
            "business_hours" => (&["open", "closed"], &["holiday"], false),
            "goto" | "disconnect" => (&[], &[], false),
            "queue" | "queue_to_agent" => (&["timeout"], &[], false),
            "get_queue_info" => (&["next", "insufficient_information"], &[], false),
            _ => return None,
        };
        Some(Outputs {
            required,
            optional,
            open,
        })
    }

    /// Its outputs.
    pub fn outputs(&self) -> Outputs {
        // Every name of `name` is known to `outputs_of`.
        NodeKind::outputs_of(self.name()).unwrap_or(Outputs {
            required: &[],
            optional: &[],
            open: false,
        })
    }

    /// Whether the node waits for the caller (a prompt, a digit, a far end): a cycle of
    /// nodes must hold one, else it would spin without end.
    pub fn waits(&self) -> bool {
        match self {
            NodeKind::PlayMessage { .. }
            | NodeKind::Menu { .. }
            | NodeKind::CollectDigits { .. }
            | NodeKind::BlindTransfer { .. }
            | NodeKind::Disconnect { .. }
            | NodeKind::Queue { .. }
            | NodeKind::QueueToAgent { .. }
            | NodeKind::PlayMusic { .. } => true,
            NodeKind::SetVariable { .. }
            | NodeKind::Condition { .. }
            | NodeKind::Case { .. }
            | NodeKind::Goto { .. }
            | NodeKind::BusinessHours { .. }
            | NodeKind::GetQueueInfo { .. } => false,
        }
    }

    /// The templates (`true`) and expressions (`false`) of the node, for validation.
    pub fn templates(&self) -> Vec<(&str, bool)> {
        match self {
            NodeKind::SetVariable { value, .. } => vec![(value.as_str(), true)],
            NodeKind::Case { value } => vec![(value.as_str(), true)],
            NodeKind::BlindTransfer { number } => vec![(number.as_str(), true)],
            NodeKind::Condition { expression } => vec![(expression.as_str(), false)],
            _ => Vec::new(),
        }
    }

    /// The prompts the node plays, for validation against `[[prompt]]`.
    pub fn prompts(&self) -> Vec<&str> {
        match self {
            NodeKind::PlayMessage { prompts } => prompts.iter().map(String::as_str).collect(),
            NodeKind::Menu {
                prompt,
                invalid_prompt,
                ..
            } => std::iter::once(prompt.as_str())
                .chain(invalid_prompt.as_deref())
                .collect(),
            NodeKind::CollectDigits { prompt, .. } | NodeKind::Disconnect { prompt } => {
                prompt.as_deref().into_iter().collect()
            }
            NodeKind::QueueToAgent { music, .. } => music.as_deref().into_iter().collect(),
            NodeKind::PlayMusic { prompt, .. } => vec![prompt.as_str()],
            _ => Vec::new(),
        }
    }

    /// The variable the node writes.
    pub fn writes(&self) -> Option<&str> {
        match self {
            NodeKind::CollectDigits { variable, .. } | NodeKind::SetVariable { variable, .. } => {
                Some(variable)
            }
            _ => None,
        }
    }
}

/// One weekly opening: on `days` from `open` to `close` (minutes after midnight, local
/// time); a `close` at or before `open` runs past midnight into the next day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpeningHours {
    /// Monday first.
    pub days: [bool; 7],
    /// Minute of the day it opens.
    pub open: u16,
    /// Minute of the day it closes.
    pub close: u16,
}

/// What a `business_hours` node says at `at` in time zone `tz` (an IANA name; an unknown
/// one reads UTC, which validation rules out): `open`, `closed` or `holiday`.
pub fn business_state(
    hours: &[OpeningHours],
    holidays: &[jiff::civil::Date],
    force: Option<bool>,
    tz: &str,
    at: jiff::Timestamp,
) -> &'static str {
    match force {
        Some(true) => return "open",
        Some(false) => return "closed",
        None => {}
    }
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = at.to_zoned(zone).datetime();
    if holidays.contains(&local.date()) {
        return "holiday";
    }
    let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
    let minute =
        u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
    let yesterday = (day + 6) % 7;
    let open = hours.iter().any(|h| {
        if h.open < h.close {
            h.days[day] && (h.open..h.close).contains(&minute)
        } else {
            // Past midnight: the evening of its day, and the morning after.
            (h.days[day] && minute >= h.open) || (h.days[yesterday] && minute < h.close)
        }
    });
    if open { "open" } else { "closed" }
}
