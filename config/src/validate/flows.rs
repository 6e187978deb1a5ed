//! `[[entry_point]]` and `[[flow]]`: names and references, each node's parameters for
//! its kind, its outputs, the variables it writes and the templates it renders, then the
//! graph: every node reachable, no cycle that never waits for the caller.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::time::Duration;

use minijinja::{Environment, UndefinedBehavior};

use super::Validator;
use crate::error::ConfigErrorKind;
use crate::flow::{
    EntryPoint, Flow, FlowNode, FlowVariable, GLOBALS, GotoTarget, NodeKind, OpeningHours,
    VariableKind,
};
use crate::model::TrunkName;
use crate::raw::{List, RawEntryPoint, RawFlow, RawFlowNode, RawFlowVariable, S};
use crate::schema;
use crate::source::Source;

/// The parameters each kind takes (besides `id`, `kind` and `outputs`).
fn parameters(kind: &str) -> &'static [&'static str] {
    match kind {
        "play_message" => &["prompts"],
        "menu" => &["prompt", "timeout_s", "retries", "invalid_prompt"],
        "collect_digits" => &[
            "prompt",
            "variable",
            "min",
            "max",
            "terminator",
            "first_timeout_s",
            "inter_digit_timeout_s",
        ],
        "set_variable" => &["variable", "value"],
        "condition" => &["expression"],
        "case" => &["value"],
        "goto" => &["node", "flow"],
        "blind_transfer" => &["number"],
        "business_hours" => &["hours", "holidays", "force"],
        "disconnect" => &["prompt"],
        "queue" => &["queue", "priority", "skills", "max_wait_s"],
        "get_queue_info" => &["queue", "position", "estimated_wait", "available_agents"],
        "queue_to_agent" => &["agent", "priority", "max_wait_s", "music"],
        "play_music" => &["prompt", "duration_s"],
        _ => &[],
    }
}

/// The parameters a raw node gives, with where.
fn given(n: &RawFlowNode) -> Vec<(&'static str, Range<usize>)> {
    let mut out = Vec::new();
    let mut add = |name: &'static str, span: Option<Range<usize>>| {
        if let Some(span) = span {
            out.push((name, span));
        }
    };
    add("prompts", n.prompts.as_ref().map(|v| v.span()));
    add("prompt", n.prompt.as_ref().map(|v| v.span()));
    add(
        "invalid_prompt",
        n.invalid_prompt.as_ref().map(|v| v.span()),
    );
    add("timeout_s", n.timeout_s.as_ref().map(|v| v.span()));
    add("retries", n.retries.as_ref().map(|v| v.span()));
    add("variable", n.variable.as_ref().map(|v| v.span()));
    add("min", n.min.as_ref().map(|v| v.span()));
    add("max", n.max.as_ref().map(|v| v.span()));
    add("terminator", n.terminator.as_ref().map(|v| v.span()));
    add(
        "first_timeout_s",
        n.first_timeout_s.as_ref().map(|v| v.span()),
    );
    add(
        "inter_digit_timeout_s",
        n.inter_digit_timeout_s.as_ref().map(|v| v.span()),
    );
    add("value", n.value.as_ref().map(|v| v.span()));
    add("expression", n.expression.as_ref().map(|v| v.span()));
    add("node", n.node.as_ref().map(|v| v.span()));
    add("flow", n.flow.as_ref().map(|v| v.span()));
    add("number", n.number.as_ref().map(|v| v.span()));
    add("hours", n.hours.as_ref().map(|v| v.span()));
    add("queue", n.queue.as_ref().map(|v| v.span()));
    add("priority", n.priority.as_ref().map(|v| v.span()));
    add("skills", n.skills.as_ref().map(|v| v.span()));
    add("max_wait_s", n.max_wait_s.as_ref().map(|v| v.span()));
    add("position", n.position.as_ref().map(|v| v.span()));
    add(
        "estimated_wait",
        n.estimated_wait.as_ref().map(|v| v.span()),
    );
    add(
        "available_agents",
        n.available_agents.as_ref().map(|v| v.span()),
    );
    add("agent", n.agent.as_ref().map(|v| v.span()));
    add("music", n.music.as_ref().map(|v| v.span()));
    add("duration_s", n.duration_s.as_ref().map(|v| v.span()));
    add("holidays", n.holidays.as_ref().map(|v| v.span()));
    add("force", n.force.as_ref().map(|v| v.span()));
    out
}

/// A variable name: `[a-z_][a-z0-9_]{0,63}`.
fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// A node id: `[A-Za-z0-9_-]{1,64}`.
fn is_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An E.164 number: `+` and 1 to 15 digits.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Whether `text` is a value of `kind` (the interpreter converts the same way).
fn parses_as(kind: VariableKind, text: &str) -> bool {
    match kind {
        VariableKind::String => true,
        VariableKind::Number => text.trim().parse::<f64>().is_ok_and(f64::is_finite),
        VariableKind::Boolean => matches!(text.trim(), "true" | "false"),
    }
}

/// What one flow's raw nodes left for the graph checks: the file it is in, its index
/// there, and per node its id span.
struct FlowSpans<'a> {
    source: &'a Source<'a>,
    index: usize,
    nodes: Vec<Range<usize>>,
}

/// A file's list of tables: the main file first, then each included one.
pub(super) type Tables<'a, 'r, T> = (&'a Source<'a>, Option<&'r List<T>>);

impl<'a> Validator<'a> {
    /// Every `[[flow]]` of every file; `prompts`: the names of the configured prompts.
    pub(super) fn flows(
        &mut self,
        files: &[Tables<'a, '_, RawFlow>],
        prompts: &[String],
        queues: &[String],
        agents: &[String],
    ) -> Vec<Flow> {
        let env = {
            let mut env = Environment::new();
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            env
        };
        let flow_names: Vec<String> = files
            .iter()
            .flat_map(|(_, list)| list.iter().flat_map(|l| l.get_ref().iter()))
            .filter_map(|f| f.get_ref().name.as_ref().map(|n| n.get_ref().clone()))
            .collect();
        let main = self.source;
        let mut names = Vec::new();
        let mut flows = Vec::new();
        let mut spans = Vec::new();
        for (source, list) in files {
            self.source = source;
            for (i, raw_flow) in list.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
                let key = format!("flow[{i}]");
                if let Some(name) = &raw_flow.get_ref().name {
                    names.push((
                        *source,
                        name.get_ref().clone(),
                        format!("{key}.name"),
                        name.span(),
                    ));
                }
                let known = Known {
                    prompts,
                    queues,
                    agents,
                };
                let (flow, nodes) = self.flow(&key, raw_flow, &known, &flow_names, &env);
                flows.push(flow);
                spans.push(FlowSpans {
                    source,
                    index: i,
                    nodes,
                });
            }
        }
        self.unique_across(&names, "a name no other [[flow]] uses");
        for (flow, s) in flows.iter().zip(&spans) {
            self.source = s.source;
            self.unreachable(s.index, flow, &s.nodes);
        }
        self.cycles_without_wait(&flows, &spans);
        self.source = main;
        flows
    }

    /// `unique` over several files: a later use is reported in its own file, naming the
    /// first's file when it is another.
    fn unique_across(
        &mut self,
        seen: &[(&'a Source<'a>, String, String, Range<usize>)],
        rule: &'static str,
    ) {
        let main = self.source;
        for (i, (source, value, key, span)) in seen.iter().enumerate() {
            let Some((first_source, _, first_key, first_span)) =
                seen[..i].iter().find(|(_, v, _, _)| v == value)
            else {
                continue;
            };
            let first_key = if std::ptr::eq(*first_source, *source) {
                first_key.clone()
            } else {
                format!("{first_key} of {}", first_source.name())
            };
            let kind = ConfigErrorKind::Duplicate {
                found: format!("\"{value}\""),
                first_key,
                first_line: first_source.line(first_span.start),
                rule,
            };
            self.source = source;
            self.push(span.clone(), key.clone(), kind);
        }
        self.source = main;
    }

    fn flow(
        &mut self,
        key: &str,
        raw: &S<RawFlow>,
        names: &Known<'_>,
        flow_names: &[String],
        env: &Environment<'_>,
    ) -> (Flow, Vec<Range<usize>>) {
        let Known {
            prompts,
            queues,
            agents,
        } = *names;
        let span = raw.span();
        let r = raw.get_ref();
        let name = self
            .require(&r.name, &span, &format!("{key}.name"))
            .and_then(|n| self.name(n, &format!("{key}.name")))
            .unwrap_or_default();
        let variables = self.variables(key, &r.variable);
        let declared: Vec<String> = variables.iter().map(|v| v.name.clone()).collect();
        let kinds: Vec<(String, VariableKind)> =
            variables.iter().map(|v| (v.name.clone(), v.kind)).collect();

        // Node ids first: outputs may point forward.
        let raw_nodes: &[S<RawFlowNode>] = r.node.as_ref().map_or(&[], |l| l.get_ref());
        if raw_nodes.is_empty() {
            let expected = "at least one [[flow.node]]".to_owned();
            self.push(
                span.clone(),
                format!("{key}.node"),
                ConfigErrorKind::Missing { expected },
            );
        }
        let ids: Vec<String> = raw_nodes
            .iter()
            .map(|n| {
                n.get_ref()
                    .id
                    .as_ref()
                    .map(|id| id.get_ref().clone())
                    .unwrap_or_default()
            })
            .collect();
        let mut seen = Vec::new();
        let mut nodes = Vec::new();
        let mut node_spans = Vec::new();
        for (j, raw_node) in raw_nodes.iter().enumerate() {
            let node_key = format!("{key}.node[{j}]");
            if let Some(id) = &raw_node.get_ref().id {
                seen.push((id.get_ref().clone(), format!("{node_key}.id"), id.span()));
            }
            let ctx = NodeContext {
                flow: &name,
                ids: &ids,
                declared: &declared,
                kinds: &kinds,
                prompts,
                flow_names,
                queues,
                agents,
                env,
            };
            let (node, id_span) = self.flow_node(&node_key, raw_node, &ctx);
            nodes.push(node);
            node_spans.push(id_span);
        }
        self.unique(&seen, "an id no other node of the flow uses");

        let known_node = |this: &mut Self, value: &S<String>, k: &str| {
            if !ids.iter().any(|id| id == value.get_ref()) {
                this.bad_value(
                    value.span(),
                    k,
                    format!("the id of a node of flow \"{name}\": {}", ids.join(", ")),
                );
            }
        };
        let start = match self.require(&r.start, &span, &format!("{key}.start")) {
            Some(s) => {
                known_node(self, s, &format!("{key}.start"));
                s.get_ref().clone()
            }
            None => String::new(),
        };
        let on_error = r.on_error.as_ref().map(|e| {
            known_node(self, e, &format!("{key}.on_error"));
            e.get_ref().clone()
        });
        let (line, _) = self.source.position(span.start);
        let flow = Flow {
            name,
            origin: format!("{}:{line}", self.source.name()),
            start,
            variables,
            nodes,
            on_error,
        };
        (flow, node_spans)
    }

    fn variables(&mut self, key: &str, raw: &Option<List<RawFlowVariable>>) -> Vec<FlowVariable> {
        let Some(list) = raw else {
            return Vec::new();
        };
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (k, raw_var) in list.get_ref().iter().enumerate() {
            let var_key = format!("{key}.variable[{k}]");
            let span = raw_var.span();
            let r = raw_var.get_ref();
            let name_key = format!("{var_key}.name");
            let name = match self.require(&r.name, &span, &name_key) {
                Some(n)
                    if is_variable_name(n.get_ref())
                        && !GLOBALS.contains(&n.get_ref().as_str()) =>
                {
                    seen.push((n.get_ref().clone(), name_key, n.span()));
                    n.get_ref().clone()
                }
                Some(n) => {
                    self.bad_value(n.span(), &name_key, schema::describe(&name_key));
                    continue;
                }
                None => continue,
            };
            let type_key = format!("{var_key}.type");
            let kind = match self.require(&r.kind, &span, &type_key) {
                Some(t) => match t.get_ref().as_str() {
                    "string" => VariableKind::String,
                    "number" => VariableKind::Number,
                    "boolean" => VariableKind::Boolean,
                    _ => {
                        self.bad_value(t.span(), &type_key, schema::describe(&type_key));
                        VariableKind::String
                    }
                },
                None => VariableKind::String,
            };
            let default = r.default.as_ref().map(|d| {
                if !parses_as(kind, d.get_ref()) {
                    let default_key = format!("{var_key}.default");
                    self.bad_value(d.span(), &default_key, format!("a {} value", kind.as_str()));
                }
                d.get_ref().clone()
            });
            out.push(FlowVariable {
                name,
                kind,
                default,
                sensitive: r.sensitive.as_ref().is_some_and(|s| *s.get_ref()),
            });
        }
        self.unique(&seen, "a name no other variable of the flow uses");
        out
    }

    fn flow_node(
        &mut self,
        key: &str,
        raw: &S<RawFlowNode>,
        ctx: &NodeContext<'_>,
    ) -> (FlowNode, Range<usize>) {
        let span = raw.span();
        let r = raw.get_ref();
        let id_key = format!("{key}.id");
        let (id, id_span) = match self.require(&r.id, &span, &id_key) {
            Some(id) => {
                if !is_node_id(id.get_ref()) {
                    self.bad_value(id.span(), &id_key, schema::describe(&id_key));
                }
                (id.get_ref().clone(), id.span())
            }
            None => (String::new(), span.clone()),
        };
        let line = self.line(&span);
        let placeholder = NodeKind::Disconnect { prompt: None };
        let kind_key = format!("{key}.kind");
        let Some(kind_name) = self.require(&r.kind, &span, &kind_key) else {
            return (node(id, line, placeholder), id_span);
        };
        let Some(outputs_of) = NodeKind::outputs_of(kind_name.get_ref()) else {
            self.bad_value(kind_name.span(), &kind_key, schema::FLOW_NODE_KINDS);
            return (node(id, line, placeholder), id_span);
        };
        let kind_str = kind_name.get_ref().as_str();
        let allowed = parameters(kind_str);
        for (param, param_span) in given(r) {
            if !allowed.contains(&param) {
                let expected = if allowed.is_empty() {
                    format!("no parameter for kind {kind_str} (only id, kind, outputs)")
                } else {
                    format!("the parameters of kind {kind_str}: {}", allowed.join(", "))
                };
                let found = format!("{param} (a parameter of another kind)");
                self.push(
                    param_span,
                    format!("{key}.{param}"),
                    ConfigErrorKind::BadValue { found, expected },
                );
            }
        }
        let kind = self.kind(key, kind_str, r, &span, ctx);

        // Outputs: exactly the required ones, plus the optional ones, to known nodes.
        let mut outputs = BTreeMap::new();
        let outputs_key = format!("{key}.outputs");
        let (raw_outputs, outputs_span) = match &r.outputs {
            Some(o) => (Some(o.get_ref()), o.span()),
            None => (None, span.clone()),
        };
        for required in outputs_of.required {
            if !raw_outputs.is_some_and(|o| o.contains_key(*required)) {
                let expected = format!(
                    "the outputs of kind {kind_str}: {}",
                    outputs_list(outputs_of.required, outputs_of.optional, outputs_of.open)
                );
                self.push(
                    outputs_span.clone(),
                    format!("{outputs_key}.{required}"),
                    ConfigErrorKind::Missing { expected },
                );
            }
        }
        for (name, target) in raw_outputs.into_iter().flatten() {
            let out_key = format!("{outputs_key}.{name}");
            let known = outputs_of.required.contains(&name.as_str())
                || outputs_of.optional.contains(&name.as_str())
                || outputs_of.open;
            if !known {
                let expected = format!(
                    "the outputs of kind {kind_str}: {}",
                    outputs_list(outputs_of.required, outputs_of.optional, false)
                );
                let found = format!("output \"{name}\"");
                self.push(
                    target.span(),
                    out_key,
                    ConfigErrorKind::BadValue { found, expected },
                );
                continue;
            }
            if !ctx.ids.iter().any(|i| i == target.get_ref()) {
                self.bad_value(
                    target.span(),
                    &out_key,
                    format!(
                        "the id of a node of flow \"{}\": {}",
                        ctx.flow,
                        ctx.ids.join(", ")
                    ),
                );
            }
            outputs.insert(name.clone(), target.get_ref().clone());
        }
        (
            FlowNode {
                id,
                line,
                kind,
                outputs,
            },
            id_span,
        )
    }

    /// The kind's parameters, typed and checked.
    fn kind(
        &mut self,
        key: &str,
        kind: &str,
        r: &RawFlowNode,
        span: &Range<usize>,
        ctx: &NodeContext<'_>,
    ) -> NodeKind {
        let k = |p: &str| format!("{key}.{p}");
        let secs = |this: &mut Self, v: &Option<S<i64>>, p: &str, default: i64| {
            Duration::from_secs(
                this.int_or(v.as_ref(), &k(p), (1, 60), default)
                    .unsigned_abs(),
            )
        };
        match kind {
            "play_message" => {
                let mut prompts = Vec::new();
                if let Some(list) = self.require(&r.prompts, span, &k("prompts")) {
                    for (i, p) in self.non_empty(list, &k("prompts")).iter().enumerate() {
                        self.reference(p, &format!("{key}.prompts[{i}]"), "prompt", ctx.prompts);
                        prompts.push(p.get_ref().clone());
                    }
                }
                NodeKind::PlayMessage { prompts }
            }
            "menu" => NodeKind::Menu {
                prompt: self.prompt(&r.prompt, span, &k("prompt"), true, ctx),
                timeout: secs(self, &r.timeout_s, "timeout_s", 5),
                retries: u32::try_from(self.int_or(r.retries.as_ref(), &k("retries"), (0, 9), 2))
                    .unwrap_or(2),
                invalid_prompt: r.invalid_prompt.as_ref().map(|p| {
                    self.reference(p, &k("invalid_prompt"), "prompt", ctx.prompts);
                    p.get_ref().clone()
                }),
            },
            "collect_digits" => {
                let min = self.int_or(r.min.as_ref(), &k("min"), (1, 32), 1);
                let max = match self.require(&r.max, span, &k("max")) {
                    Some(m) => self.int(m, &k("max"), min, 32).unwrap_or(min),
                    None => min,
                };
                let terminator = r.terminator.as_ref().and_then(|t| {
                    let mut chars = t.get_ref().chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                        _ => {
                            self.bad_value(
                                t.span(),
                                &k("terminator"),
                                schema::describe(&k("terminator")),
                            );
                            None
                        }
                    }
                });
                NodeKind::CollectDigits {
                    prompt: r
                        .prompt
                        .as_ref()
                        .map(|_| self.prompt(&r.prompt, span, &k("prompt"), false, ctx)),
                    variable: self.written(&r.variable, span, &k("variable"), ctx),
                    min: u32::try_from(min).unwrap_or(1),
                    max: u32::try_from(max).unwrap_or(1),
                    terminator,
                    first_timeout: secs(self, &r.first_timeout_s, "first_timeout_s", 5),
                    inter_digit_timeout: secs(
                        self,
                        &r.inter_digit_timeout_s,
                        "inter_digit_timeout_s",
                        3,
                    ),
                }
            }
            "set_variable" => NodeKind::SetVariable {
                variable: self.written(&r.variable, span, &k("variable"), ctx),
                value: self.flow_template(&r.value, span, &k("value"), true, ctx),
            },
            "condition" => NodeKind::Condition {
                expression: self.flow_template(&r.expression, span, &k("expression"), false, ctx),
            },
            "case" => NodeKind::Case {
                value: self.flow_template(&r.value, span, &k("value"), true, ctx),
            },
            "goto" => match (&r.node, &r.flow) {
                (Some(n), None) => {
                    if !ctx.ids.iter().any(|i| i == n.get_ref()) {
                        self.bad_value(
                            n.span(),
                            &k("node"),
                            format!(
                                "the id of a node of flow \"{}\": {}",
                                ctx.flow,
                                ctx.ids.join(", ")
                            ),
                        );
                    }
                    NodeKind::Goto {
                        target: GotoTarget::Node(n.get_ref().clone()),
                    }
                }
                (None, Some(f)) => {
                    self.reference(f, &k("flow"), "flow", ctx.flow_names);
                    NodeKind::Goto {
                        target: GotoTarget::Flow(f.get_ref().clone()),
                    }
                }
                _ => {
                    let expected =
                        "exactly one of node (a node of this flow) or flow (a [[flow]])".to_owned();
                    self.push(
                        span.clone(),
                        k("node"),
                        ConfigErrorKind::Missing { expected },
                    );
                    NodeKind::Goto {
                        target: GotoTarget::Node(String::new()),
                    }
                }
            },
            "blind_transfer" => NodeKind::BlindTransfer {
                number: self.flow_template(&r.number, span, &k("number"), true, ctx),
            },
            "business_hours" => {
                let mut hours = Vec::new();
                if let Some(list) = self.require(&r.hours, span, &k("hours")) {
                    for (i, h) in self.non_empty(list, &k("hours")).iter().enumerate() {
                        match opening(h.get_ref()) {
                            Some(o) => hours.push(o),
                            None => self.bad_value(
                                h.span(),
                                &format!("{key}.hours[{i}]"),
                                schema::describe(&k("hours")),
                            ),
                        }
                    }
                }
                let mut holidays = Vec::new();
                for (i, d) in r
                    .holidays
                    .iter()
                    .flat_map(|l| l.get_ref().iter())
                    .enumerate()
                {
                    match d.get_ref().parse::<jiff::civil::Date>() {
                        Ok(date) => holidays.push(date),
                        Err(_) => self.bad_value(
                            d.span(),
                            &format!("{key}.holidays[{i}]"),
                            schema::describe(&k("holidays")),
                        ),
                    }
                }
                let force = r.force.as_ref().and_then(|f| match f.get_ref().as_str() {
                    "open" => Some(true),
                    "closed" => Some(false),
                    _ => {
                        self.bad_value(f.span(), &k("force"), schema::describe(&k("force")));
                        None
                    }
                });
                NodeKind::BusinessHours {
                    hours,
                    holidays,
                    force,
                }
            }
            "queue" => {
                if let Some(q) = &r.queue {
                    self.reference(q, &k("queue"), "queue", ctx.queues);
                }
                let priority = self.int_or(r.priority.as_ref(), &k("priority"), (1, 10), 5);
                NodeKind::Queue {
                    queue: r.queue.as_ref().map(|q| q.get_ref().clone()),
                    priority: u8::try_from(priority).unwrap_or(5),
                    skills: self.skills(r.skills.as_ref(), &k("skills")),
                    max_wait: r
                        .max_wait_s
                        .as_ref()
                        .and_then(|m| self.int(m, &k("max_wait_s"), 1, 86_400))
                        .map(|m| Duration::from_secs(m.unsigned_abs())),
                }
            }
            "play_music" => {
                let prompt = self.prompt(&r.prompt, span, &k("prompt"), true, ctx);
                let duration = match self.require(&r.duration_s, span, &k("duration_s")) {
                    Some(d) => self.int(d, &k("duration_s"), 1, 3600).unwrap_or(1),
                    None => 1,
                };
                NodeKind::PlayMusic {
                    prompt,
                    duration: Duration::from_secs(duration.unsigned_abs()),
                }
            }
            "queue_to_agent" => {
                let agent = match self.require(&r.agent, span, &k("agent")) {
                    Some(a) => {
                        self.reference(a, &k("agent"), "agent", ctx.agents);
                        a.get_ref().clone()
                    }
                    None => String::new(),
                };
                let priority = self.int_or(r.priority.as_ref(), &k("priority"), (1, 10), 5);
                let max_wait =
                    self.int_or(r.max_wait_s.as_ref(), &k("max_wait_s"), (1, 86_400), 60);
                let music = r.music.as_ref().map(|m| {
                    self.reference(m, &k("music"), "prompt", ctx.prompts);
                    m.get_ref().clone()
                });
                NodeKind::QueueToAgent {
                    agent,
                    priority: u8::try_from(priority).unwrap_or(5),
                    max_wait: Duration::from_secs(max_wait.unsigned_abs()),
                    music,
                }
            }
            "get_queue_info" => {
                if let Some(q) = &r.queue {
                    self.reference(q, &k("queue"), "queue", ctx.queues);
                }
                let number = |this: &mut Self, v: &Option<S<String>>, p: &str| {
                    let given = v.as_ref()?;
                    let name = this.written(v, span, &k(p), ctx);
                    let kind = ctx.kinds.iter().find(|(n, _)| *n == name).map(|(_, k)| *k);
                    if kind.is_some_and(|k| k != VariableKind::Number) {
                        this.bad_value(given.span(), &k(p), "a variable of type number");
                    }
                    Some(name)
                };
                NodeKind::GetQueueInfo {
                    queue: r.queue.as_ref().map(|q| q.get_ref().clone()),
                    position: number(self, &r.position, "position"),
                    estimated_wait: number(self, &r.estimated_wait, "estimated_wait"),
                    available_agents: number(self, &r.available_agents, "available_agents"),
                }
            }
            _ => NodeKind::Disconnect {
                prompt: r
                    .prompt
                    .as_ref()
                    .map(|_| self.prompt(&r.prompt, span, &k("prompt"), false, ctx)),
            },
        }
    }

    /// A prompt parameter: `required` or present, and a configured prompt.
    fn prompt(
        &mut self,
        value: &Option<S<String>>,
        span: &Range<usize>,
        key: &str,
        required: bool,
        ctx: &NodeContext<'_>,
    ) -> String {
        let value = if required {
            self.require(value, span, key)
        } else {
            value.as_ref()
        };
        match value {
            Some(p) => {
                self.reference(p, key, "prompt", ctx.prompts);
                p.get_ref().clone()
            }
            None => String::new(),
        }
    }

    /// A variable the node writes: declared in the flow.
    fn written(
        &mut self,
        value: &Option<S<String>>,
        span: &Range<usize>,
        key: &str,
        ctx: &NodeContext<'_>,
    ) -> String {
        let Some(v) = self.require(value, span, key) else {
            return String::new();
        };
        if !ctx.declared.iter().any(|d| d == v.get_ref()) {
            let expected = if ctx.declared.is_empty() {
                "a variable declared in a [[flow.variable]] of this flow (it declares none)"
                    .to_owned()
            } else {
                format!(
                    "a variable declared in a [[flow.variable]] of this flow: {}",
                    ctx.declared.join(", ")
                )
            };
            self.bad_value(v.span(), key, expected);
        }
        v.get_ref().clone()
    }

    /// A template (`true`) or expression that compiles and reads only declared
    /// variables and the globals.
    fn flow_template(
        &mut self,
        value: &Option<S<String>>,
        span: &Range<usize>,
        key: &str,
        is_template: bool,
        ctx: &NodeContext<'_>,
    ) -> String {
        let Some(v) = self.require(value, span, key) else {
            return String::new();
        };
        let text = v.get_ref();
        let undeclared = if is_template {
            ctx.env
                .template_from_str(text)
                .map(|t| t.undeclared_variables(false))
        } else {
            ctx.env
                .compile_expression(text)
                .map(|e| e.undeclared_variables(false))
        };
        match undeclared {
            Err(e) => {
                let what = if is_template {
                    "template"
                } else {
                    "expression"
                };
                self.bad_value(
                    v.span(),
                    key,
                    format!(
                        "a minijinja {what} ({})",
                        e.detail().unwrap_or("syntax error")
                    ),
                );
            }
            Ok(names) => {
                let mut unknown: Vec<&String> = names
                    .iter()
                    .filter(|n| {
                        !GLOBALS.contains(&n.as_str()) && !ctx.declared.iter().any(|d| d == *n)
                    })
                    .collect();
                unknown.sort();
                if let Some(first) = unknown.first() {
                    let mut known: Vec<&str> = GLOBALS.to_vec();
                    known.extend(ctx.declared.iter().map(String::as_str));
                    let found = format!("the variable \"{first}\", which is not declared,");
                    let expected =
                        format!("variables declared in this flow, and {}", known.join(", "));
                    self.push(v.span(), key, ConfigErrorKind::BadValue { found, expected });
                }
            }
        }
        text.clone()
    }

    /// Nodes neither `start` nor `on_error` lead to.
    fn unreachable(&mut self, flow_index: usize, flow: &Flow, spans: &[Range<usize>]) {
        let index: HashMap<&str, usize> = flow
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let mut reached = vec![false; flow.nodes.len()];
        let mut stack: Vec<usize> = std::iter::once(flow.start.as_str())
            .chain(flow.on_error.as_deref())
            .filter_map(|id| index.get(id).copied())
            .collect();
        if stack.is_empty() {
            // No valid start: reported already; nothing more to say here.
            return;
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut reached[i], true) {
                continue;
            }
            for next in local_edges(&flow.nodes[i]) {
                if let Some(&j) = index.get(next) {
                    stack.push(j);
                }
            }
        }
        for (i, node) in flow.nodes.iter().enumerate() {
            if !reached[i] && !node.id.is_empty() {
                let key = format!("flow[{flow_index}].node[{i}].id");
                let found = format!("\"{}\"", node.id);
                let expected = "a node that start or on_error leads to through outputs or goto; nothing leads to this one".to_owned();
                let span = spans.get(i).cloned().unwrap_or(0..0);
                self.push(span, key, ConfigErrorKind::BadValue { found, expected });
            }
        }
    }

    /// Cycles of nodes that never wait for the caller (they would spin for ever),
    /// across flows through `goto` a flow.
    fn cycles_without_wait(&mut self, flows: &[Flow], spans: &[FlowSpans<'a>]) {
        // Vertices: (flow, node) of nodes that do not wait; edges between those only.
        let flow_index: HashMap<&str, usize> = flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.as_str(), i))
            .collect();
        let find = |f: usize, id: &str| flows[f].nodes.iter().position(|n| n.id == id);
        let successors = |(f, n): (usize, usize)| -> Vec<(usize, usize)> {
            let node = &flows[f].nodes[n];
            let mut out: Vec<(usize, usize)> = local_edges(node)
                .filter_map(|id| find(f, id).map(|j| (f, j)))
                .collect();
            if let NodeKind::Goto {
                target: GotoTarget::Flow(name),
            } = &node.kind
                && let Some(&g) = flow_index.get(name.as_str())
                && let Some(s) = find(g, &flows[g].start)
            {
                out.push((g, s));
            }
            out.retain(|&(g, j)| !flows[g].nodes[j].kind.waits());
            out
        };
        // Iterative DFS with colours; each back edge closes a cycle.
        let mut colour: HashMap<(usize, usize), u8> = HashMap::new();
        let mut reported: BTreeSet<Vec<(usize, usize)>> = BTreeSet::new();
        for (f, flow) in flows.iter().enumerate() {
            for (n, node) in flow.nodes.iter().enumerate() {
                if node.kind.waits() || colour.contains_key(&(f, n)) {
                    continue;
                }
                let mut path: Vec<(usize, usize)> = vec![(f, n)];
                let mut stack: Vec<(Vec<(usize, usize)>, usize)> = vec![(successors((f, n)), 0)];
                colour.insert((f, n), 1);
                while let Some((succ, at)) = stack.last_mut() {
                    if let Some(&next) = succ.get(*at) {
                        *at += 1;
                        match colour.get(&next) {
                            None => {
                                colour.insert(next, 1);
                                path.push(next);
                                stack.push((successors(next), 0));
                            }
                            Some(1) => {
                                let from = path.iter().position(|v| *v == next).unwrap_or(0);
                                let mut cycle: Vec<(usize, usize)> = path[from..].to_vec();
                                let shown: Vec<String> = cycle
                                    .iter()
                                    .chain(std::iter::once(&next))
                                    .map(|&(g, j)| {
                                        if g == next.0 {
                                            flows[g].nodes[j].id.clone()
                                        } else {
                                            format!("{}.{}", flows[g].name, flows[g].nodes[j].id)
                                        }
                                    })
                                    .collect();
                                cycle.sort_unstable();
                                if reported.insert(cycle) {
                                    let (g, j) = next;
                                    let key = format!("flow[{}].node[{j}].id", spans[g].index);
                                    let found = format!("the cycle {}", shown.join(" → "));
                                    let expected = "a cycle through at least one node that waits for the caller (play_message, menu, collect_digits, blind_transfer, disconnect)".to_owned();
                                    let span = spans[g].nodes.get(j).cloned().unwrap_or(0..0);
                                    self.push(
                                        span,
                                        key,
                                        ConfigErrorKind::BadValue { found, expected },
                                    );
                                }
                            }
                            Some(_) => {}
                        }
                    } else {
                        if let Some(done) = path.pop() {
                            colour.insert(done, 2);
                        }
                        stack.pop();
                    }
                }
            }
        }
    }

    /// Every `[[entry_point]]`.
    pub(super) fn entry_points(
        &mut self,
        files: &[Tables<'a, '_, RawEntryPoint>],
        trunks: &[String],
        flows: &[String],
        queues: &[String],
    ) -> Vec<EntryPoint> {
        let main = self.source;
        let mut names = Vec::new();
        let mut numbers = Vec::new();
        let mut trunk_uses = Vec::new();
        let mut out = Vec::new();
        for (i, source, raw_entry) in files.iter().flat_map(|(source, list)| {
            list.iter()
                .flat_map(|l| l.get_ref().iter())
                .enumerate()
                .map(move |(i, e)| (i, *source, e))
        }) {
            self.source = source;
            let key = format!("entry_point[{i}]");
            let span = raw_entry.span();
            let r = raw_entry.get_ref();
            let name = match self.require(&r.name, &span, &format!("{key}.name")) {
                Some(n) => {
                    names.push((source, n.get_ref().clone(), format!("{key}.name"), n.span()));
                    self.name(n, &format!("{key}.name")).unwrap_or_default()
                }
                None => String::new(),
            };
            let flow = match self.require(&r.flow, &span, &format!("{key}.flow")) {
                Some(f) => {
                    self.reference(f, &format!("{key}.flow"), "flow", flows);
                    f.get_ref().clone()
                }
                None => String::new(),
            };
            let time_zone = match &r.time_zone {
                Some(tz) if jiff::tz::TimeZone::get(tz.get_ref()).is_ok() => tz.get_ref().clone(),
                Some(tz) => {
                    let k = format!("{key}.time_zone");
                    self.bad_value(tz.span(), &k, schema::describe(&k));
                    "UTC".to_owned()
                }
                None => "UTC".to_owned(),
            };
            if let Some(q) = &r.queue {
                self.reference(q, &format!("{key}.queue"), "queue", queues);
            }
            let mut entry = EntryPoint {
                name,
                numbers: Vec::new(),
                trunks: Vec::new(),
                flow,
                time_zone,
                queue: r.queue.as_ref().map(|q| q.get_ref().clone()),
            };
            for (j, n) in r
                .numbers
                .iter()
                .flat_map(|l| l.get_ref().iter())
                .enumerate()
            {
                let k = format!("{key}.numbers[{j}]");
                if is_e164(n.get_ref()) {
                    numbers.push((source, n.get_ref().clone(), k, n.span()));
                    entry.numbers.push(n.get_ref().clone());
                } else {
                    self.bad_value(n.span(), &k, schema::describe(&format!("{key}.numbers")));
                }
            }
            for (j, t) in r.trunks.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
                let k = format!("{key}.trunks[{j}]");
                self.reference(t, &k, "trunk", trunks);
                trunk_uses.push((source, t.get_ref().clone(), k, t.span()));
                if let Some(name) = TrunkName::new(t.get_ref()) {
                    entry.trunks.push(name);
                }
            }
            let none = |l: &Option<List<String>>| l.as_ref().is_none_or(|l| l.get_ref().is_empty());
            if none(&r.numbers) && none(&r.trunks) {
                let expected = "at least one of numbers (dialled numbers) or trunks".to_owned();
                self.push(
                    span,
                    format!("{key}.numbers"),
                    ConfigErrorKind::Missing { expected },
                );
            }
            out.push(entry);
        }
        self.source = main;
        self.unique_across(&names, "a name no other [[entry_point]] uses");
        self.unique_across(&numbers, "a number no other [[entry_point]] lists");
        self.unique_across(&trunk_uses, "a trunk no other [[entry_point]] lists");
        out
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `mon-fri 09:00-17:30`, `sat,sun 10:00-14:00`, `daily 22:00-06:00`.
fn opening(text: &str) -> Option<OpeningHours> {
    let (days_text, range) = text.trim().split_once(' ')?;
    let mut days = [false; 7];
    if days_text == "daily" {
        days = [true; 7];
    } else {
        for part in days_text.split(',') {
            let day = |d: &str| DAYS.iter().position(|x| *x == d);
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    // mon-fri; fri-mon wraps over the weekend.
                    let mut d = a;
                    loop {
                        days[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day(part)?] = true,
            }
        }
    }
    let (open, close) = range.trim().split_once('-')?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (open, close) = (minute(open)?, minute(close)?);
    (open < 24 * 60).then_some(OpeningHours { days, open, close })
}

/// What a node's checks need to know about its flow.
/// The names flows may refer to, defined elsewhere in the configuration.
#[derive(Clone, Copy)]
struct Known<'a> {
    prompts: &'a [String],
    queues: &'a [String],
    agents: &'a [String],
}

struct NodeContext<'a> {
    flow: &'a str,
    ids: &'a [String],
    declared: &'a [String],
    kinds: &'a [(String, VariableKind)],
    prompts: &'a [String],
    flow_names: &'a [String],
    queues: &'a [String],
    agents: &'a [String],
    env: &'a Environment<'a>,
}

fn node(id: String, line: usize, kind: NodeKind) -> FlowNode {
    FlowNode {
        id,
        line,
        kind,
        outputs: BTreeMap::new(),
    }
}

/// The ids a node leads to within its flow: its outputs and a goto's node.
fn local_edges(node: &FlowNode) -> impl Iterator<Item = &str> {
    let goto = match &node.kind {
        NodeKind::Goto {
            target: GotoTarget::Node(id),
        } => Some(id.as_str()),
        _ => None,
    };
    node.outputs.values().map(String::as_str).chain(goto)
}

fn outputs_list(required: &[&str], optional: &[&str], open: bool) -> String {
    let mut parts: Vec<String> = required.iter().map(|s| (*s).to_owned()).collect();
    if !optional.is_empty() {
        parts.push(format!("and any of {}", optional.join(" ")));
    }
    if open {
        parts.push("and any value the template may render".to_owned());
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}
