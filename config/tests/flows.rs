//! `[[entry_point]]` and `[[flow]]`: the sample loads as written, and each kind of
//! mistake is an error at its file:line:column and key, saying what is allowed.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::path::Path;

use std::time::Duration;
use support::TempDir;

use support::MINIMAL;
use voxgate_config::flow::{GotoTarget, NodeKind, VariableKind};
use voxgate_config::{ConfigError, load_file, load_str};

fn prompts_dir() -> String {
    format!("{}/prompts", env!("CARGO_MANIFEST_DIR"))
}

/// MINIMAL with the sample prompts, then `extra`.
fn with(extra: &str) -> String {
    format!(
        "{MINIMAL}\n[media]\nprompts_dir = \"{}\"\n{extra}",
        prompts_dir()
    )
}

/// Sites, teams, agents and the queues the sample flows name.
const ROUTING: &str = r#"
[[site]]
name = "s"

[[team]]
name = "t1"
site = "s"

[[team]]
name = "t2"
site = "s"

[[agent]]
name = "alice"
teams = ["t1"]
skills = { english = 8 }
dial = { uri = "sip:alice@127.0.0.1:5090" }

[[queue]]
name = "sales"
groups = [{ teams = ["t1"], after_s = 0 }, { teams = ["t2"], after_s = 30 }]

[[queue]]
name = "support"
groups = [{ teams = ["t1"] }]
"#;

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
}

fn errors(text: &str) -> Vec<ConfigError> {
    match load_str(text, "x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// The one error of `text`: on the line holding `needle`, under `key`, saying `says`.
fn one_error(text: &str, needle: &str, key: &str, says: &str) {
    let all = errors(text);
    let rendered: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 1, "expected one error:\n{}", rendered.join("\n"));
    let e = &all[0];
    assert_eq!(e.line, Some(line_of(text, needle)), "{e}");
    assert_eq!(e.key, key, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("x.toml:{}:", line_of(text, needle))),
        "{shown}"
    );
    assert!(shown.contains(says), "{shown}\nshould say: {says}");
}

const FLOW: &str = r#"
[[entry_point]]
name = "line"
numbers = ["+15550100"]
flow = "main"

[[flow]]
name = "main"
start = "hello"

[[flow.variable]]
name = "pin"
type = "number"
sensitive = true

[[flow.node]]
id = "hello"
kind = "play_message"
prompts = ["welcome"]
outputs = { next = "ask" }

[[flow.node]]
id = "ask"
kind = "collect_digits"
variable = "pin"
max = 4
outputs = { next = "bye", timeout = "bye" }

[[flow.node]]
id = "bye"
kind = "disconnect"
"#;

#[test]
fn the_sample_loads_with_every_node_kind_as_written() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contact-center.toml");
    let config = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let entry = &config.entry_points[0];
    assert_eq!(entry.numbers, ["+15550100"]);
    assert_eq!(entry.flow, "main-ivr");
    let flow = config.flow("main-ivr").unwrap();
    assert_eq!(flow.start, "hours");
    assert_eq!(entry.time_zone, "America/New_York");
    assert_eq!(flow.on_error.as_deref(), Some("sorry"));
    // The flows are in the file contact-center.toml includes.
    let text = std::fs::read_to_string(path.with_file_name("flows.toml")).unwrap();
    let line = text.lines().position(|l| l == "[[flow]]").unwrap() + 1;
    assert!(
        flow.origin.ends_with(&format!("flows.toml:{line}")),
        "{}",
        flow.origin
    );
    let account = flow.variable("account").unwrap();
    assert_eq!(account.kind, VariableKind::Number);
    assert!(account.sensitive);
    let mut kinds: Vec<&str> = flow.nodes.iter().map(|n| n.kind.name()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut all = NodeKind::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(kinds, all, "the sample shows every kind");
    let menu = flow.node("menu").unwrap();
    assert_eq!(
        menu.kind,
        NodeKind::Menu {
            prompt: "menu".into(),
            timeout: Duration::from_secs(5),
            retries: 2,
            invalid_prompt: Some("invalid".into()),
        }
    );
    assert_eq!(menu.output("0"), Some("named-agent"));
    assert_eq!(
        flow.node("ask-account").unwrap().kind,
        NodeKind::CollectDigits {
            prompt: Some("account".into()),
            variable: "account".into(),
            min: 4,
            max: 8,
            terminator: Some('#'),
            first_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
        }
    );
    assert_eq!(
        flow.node("to-menu").unwrap().kind,
        NodeKind::Goto {
            target: GotoTarget::Node("menu".into())
        }
    );
    // The entry point takes its number; another number or trunk does not enter.
    let trunk = &config.trunks[0].name;
    assert!(config.entry_point(trunk, Some("+15550100")).is_some());
    assert!(config.entry_point(trunk, Some("+15550101")).is_none());
}

#[test]
fn a_small_flow_loads_with_defaults_filled() {
    let config = load_str(&with(FLOW), "x.toml").unwrap_or_else(|e| panic!("{e}"));
    let flow = &config.flows[0];
    assert_eq!(
        flow.nodes[1].kind,
        NodeKind::CollectDigits {
            prompt: None,
            variable: "pin".into(),
            min: 1,
            max: 4,
            terminator: None,
            first_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
        }
    );
    assert_eq!(flow.nodes[1].line, line_of(&with(FLOW), "id = \"ask\"") - 1);
    assert_eq!(flow.variables[0].default, None);
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let text = with(&FLOW.replace("kind = \"disconnect\"", "kind = \"hangup\""));
    one_error(
        &text,
        "kind = \"hangup\"",
        "flow[0].node[2].kind",
        "\"play_message\", \"menu\"",
    );
}

#[test]
fn a_parameter_of_another_kind_names_the_allowed_ones() {
    let text = with(&FLOW.replace(
        "prompts = [\"welcome\"]",
        "prompts = [\"welcome\"]\nretries = 3",
    ));
    one_error(
        &text,
        "retries = 3",
        "flow[0].node[0].retries",
        "the parameters of kind play_message: prompts",
    );
}

#[test]
fn a_missing_output_is_an_error_at_the_outputs() {
    let text = with(&FLOW.replace(
        "outputs = { next = \"bye\", timeout = \"bye\" }",
        "outputs = { next = \"bye\" }",
    ));
    one_error(
        &text,
        "outputs = { next = \"bye\" }",
        "flow[0].node[1].outputs.timeout",
        "the outputs of kind collect_digits: next, timeout",
    );
}

#[test]
fn an_output_the_kind_has_not_is_an_error() {
    let text = with(&FLOW.replace(
        "outputs = { next = \"ask\" }",
        "outputs = { next = \"ask\", later = \"bye\" }",
    ));
    one_error(
        &text,
        "later = \"bye\"",
        "flow[0].node[0].outputs.later",
        "output \"later\"",
    );
}

#[test]
fn a_dangling_output_names_the_nodes() {
    let text = with(&FLOW.replace(
        "outputs = { next = \"ask\" }",
        "outputs = { next = \"asq\" }",
    ));
    // "ask" is then unreachable as well: two errors, the dangling one first.
    let all = errors(&text);
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].contains("flow[0].node[0].outputs.next: \"asq\" is not valid; allowed: the id of a node of flow \"main\": hello, ask, bye"),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.contains("flow[0].node[1].id") && s.contains("nothing leads to this one")),
        "{shown:#?}"
    );
}

#[test]
fn an_undeclared_variable_is_an_error_where_it_is_written_and_read() {
    let text = with(&FLOW.replace("variable = \"pin\"", "variable = \"pn\""));
    one_error(
        &text,
        "variable = \"pn\"",
        "flow[0].node[1].variable",
        "declared in a [[flow.variable]] of this flow: pin",
    );
    let node = r#"
[[flow.node]]
id = "check"
kind = "condition"
expression = "pin > limit"
outputs = { "true" = "bye", "false" = "bye" }
"#;
    let text = with(&format!(
        "{}{node}",
        FLOW.replace(
            "outputs = { next = \"bye\", timeout = \"bye\" }",
            "outputs = { next = \"check\", timeout = \"bye\" }"
        )
    ));
    one_error(
        &text,
        "pin > limit",
        "flow[0].node[3].expression",
        "the variable \"limit\", which is not declared",
    );
}

#[test]
fn a_template_that_does_not_compile_is_an_error() {
    let node = r#"
[[flow.node]]
id = "set"
kind = "set_variable"
variable = "pin"
value = "{{ pin + }}"
outputs = { next = "bye" }
"#;
    let text = with(&format!(
        "{}{node}",
        FLOW.replace(
            "outputs = { next = \"bye\", timeout = \"bye\" }",
            "outputs = { next = \"set\", timeout = \"bye\" }"
        )
    ));
    one_error(
        &text,
        "{{ pin + }}",
        "flow[0].node[3].value",
        "a minijinja template",
    );
}

#[test]
fn a_cycle_that_never_waits_is_an_error() {
    let nodes = r#"
[[flow.node]]
id = "a"
kind = "set_variable"
variable = "pin"
value = "1"
outputs = { next = "b" }

[[flow.node]]
id = "b"
kind = "goto"
node = "a"
"#;
    let text = with(&format!(
        "{}{nodes}",
        FLOW.replace(
            "outputs = { next = \"bye\", timeout = \"bye\" }",
            "outputs = { next = \"a\", timeout = \"bye\" }"
        )
    ));
    let all = errors(&text);
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 1, "{shown:#?}");
    assert!(shown[0].contains("the cycle a → b → a"), "{shown:#?}");
    assert!(
        shown[0].contains("at least one node that waits"),
        "{shown:#?}"
    );
    // Through a node that waits, the same loop is fine.
    let ok = text.replace("node = \"a\"", "node = \"hello\"");
    load_str(&ok, "x.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_cycle_across_flows_is_found() {
    let flows = r#"
[[flow]]
name = "one"
start = "go"

[[flow.node]]
id = "go"
kind = "goto"
flow = "two"

[[flow]]
name = "two"
start = "back"

[[flow.node]]
id = "back"
kind = "goto"
flow = "one"
"#;
    let all = errors(&with(flows));
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 1, "{shown:#?}");
    assert!(shown[0].contains("the cycle"), "{shown:#?}");
}

#[test]
fn references_name_what_exists() {
    let text = with(&FLOW.replace("flow = \"main\"", "flow = \"mian\""));
    one_error(
        &text,
        "flow = \"mian\"",
        "entry_point[0].flow",
        "names no [[flow]]",
    );
    let text = with(&FLOW.replace("prompts = [\"welcome\"]", "prompts = [\"welcom\"]"));
    one_error(
        &text,
        "\"welcom\"",
        "flow[0].node[0].prompts[0]",
        "names no [[prompt]]",
    );
    let text = with(&FLOW.replace("start = \"hello\"", "start = \"helo\""));
    let all = errors(&text);
    assert!(
        all[0]
            .to_string()
            .contains("flow[0].start: \"helo\" is not valid"),
        "{}",
        all[0]
    );
}

#[test]
fn entry_points_take_e164_numbers_once() {
    let text = with(&FLOW.replace("numbers = [\"+15550100\"]", "numbers = [\"15550100\"]"));
    one_error(
        &text,
        "numbers = [\"15550100\"]",
        "entry_point[0].numbers[0]",
        "E.164",
    );
    let second =
        "\n[[entry_point]]\nname = \"other\"\nnumbers = [\"+15550100\"]\nflow = \"main\"\n";
    let text = with(&format!("{FLOW}{second}"));
    // The second [[entry_point]] table's number line is the last one holding it.
    let all = errors(&text);
    assert_eq!(all.len(), 1, "{}", all[0]);
    assert_eq!(all[0].key, "entry_point[1].numbers[0]");
    assert!(
        all[0]
            .to_string()
            .contains("a number no other [[entry_point]] lists")
    );
    let text = with(&FLOW.replace("numbers = [\"+15550100\"]\n", ""));
    one_error(
        &text,
        "[[entry_point]]",
        "entry_point[0].numbers",
        "at least one of numbers",
    );
}

#[test]
fn variables_are_checked() {
    let text = with(&FLOW.replace("name = \"pin\"", "name = \"ani\""));
    let all = errors(&text);
    assert!(
        all[0]
            .to_string()
            .contains("flow[0].variable[0].name: \"ani\" is not valid"),
        "{}",
        all[0]
    );
    let text = with(&FLOW.replace(
        "type = \"number\"",
        "type = \"number\"\ndefault = \"twelve\"",
    ));
    one_error(
        &text,
        "default = \"twelve\"",
        "flow[0].variable[0].default",
        "a number value",
    );
    let text = with(&FLOW.replace("type = \"number\"", "type = \"integer\""));
    one_error(
        &text,
        "type = \"integer\"",
        "flow[0].variable[0].type",
        "\"string\", \"number\", \"boolean\"",
    );
}

#[test]
fn business_hours_and_time_zones_are_parsed_and_checked() {
    use voxgate_config::flow::OpeningHours;
    let node = r#"
[[flow.node]]
id = "hours"
kind = "business_hours"
hours = ["mon-fri 09:00-17:30", "fri-mon 22:00-06:00", "daily 12:00-24:00"]
holidays = ["2026-12-25"]
force = "closed"
outputs = { open = "hello", closed = "bye", holiday = "bye" }
"#;
    let flow = FLOW.replace("start = \"hello\"", "start = \"hours\"");
    let text = with(&format!("{flow}{node}"));
    let config = load_str(&text, "x.toml").unwrap_or_else(|e| panic!("{e}"));
    let NodeKind::BusinessHours {
        hours,
        holidays,
        force,
    } = &config.flows[0].nodes[3].kind
    else {
        panic!("{:?}", config.flows[0].nodes[3].kind)
    };
    assert_eq!(
        hours[0],
        OpeningHours {
            days: [true, true, true, true, true, false, false],
            open: 540,
            close: 1050
        }
    );
    // fri-mon wraps over the weekend.
    assert_eq!(hours[1].days, [true, false, false, false, true, true, true]);
    assert_eq!(
        hours[2],
        OpeningHours {
            days: [true; 7],
            open: 720,
            close: 1440
        }
    );
    assert_eq!(holidays.len(), 1);
    assert_eq!(*force, Some(false));
    assert_eq!(config.entry_points[0].time_zone, "UTC");

    let bad = text.replace("\"daily 12:00-24:00\"", "\"weekdays 9-5\"");
    one_error(
        &bad,
        "weekdays 9-5",
        "flow[0].node[3].hours[2]",
        "mon-fri 09:00-17:30",
    );
    let bad = text.replace("\"2026-12-25\"", "\"25/12/2026\"");
    one_error(
        &bad,
        "25/12/2026",
        "flow[0].node[3].holidays[0]",
        "2026-12-25",
    );
    let bad = text.replace(
        "flow = \"main\"\n",
        "flow = \"main\"\ntime_zone = \"Mars/Olympus\"\n",
    );
    one_error(
        &bad,
        "Mars/Olympus",
        "entry_point[0].time_zone",
        "IANA time zone",
    );
}

/// MINIMAL with `include`, before its first table.
fn main_with_include(include: &str) -> String {
    format!(
        "include = {include}\n{MINIMAL}\n[media]\nprompts_dir = \"{}\"\n",
        prompts_dir()
    )
}

#[test]
fn included_files_bring_entry_points_and_flows_and_their_errors_name_them() {
    let dir = TempDir::new();
    let main = dir.write(
        "voxgate.toml",
        main_with_include(r#"["flows.toml", "ivr/*.toml"]"#).as_bytes(),
    );
    dir.write("flows.toml", FLOW.as_bytes());
    let other = r#"
[[flow]]
name = "other"
start = "x"

[[flow.node]]
id = "x"
kind = "disconnect"
"#;
    dir.write("ivr/b.toml", other.replace("other", "second").as_bytes());
    dir.write("ivr/a.toml", other.as_bytes());
    dir.write("ivr/notes.txt", b"not toml");
    let config = load_file(&main).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.flows.iter().map(|f| f.name.as_str()).collect();
    // The list's order, then a folder's files in name order.
    assert_eq!(names, ["main", "other", "second"]);
    assert_eq!(config.entry_points[0].flow, "main");
    assert!(
        config.flows[0].origin.contains("flows.toml:"),
        "{}",
        config.flows[0].origin
    );

    // An error in an included file names that file and its line.
    let broken = FLOW.replace("kind = \"disconnect\"", "kind = \"hangup\"");
    dir.write("flows.toml", broken.as_bytes());
    let errors = load_file(&main).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].file.ends_with("flows.toml"), "{}", errors[0]);
    assert_eq!(errors[0].line, Some(line_of(&broken, "kind = \"hangup\"")));
    assert_eq!(errors[0].key, "flow[0].node[2].kind");

    // The same flow name in two files: reported in the later one, naming the first.
    dir.write("flows.toml", FLOW.as_bytes());
    dir.write("ivr/b.toml", other.as_bytes());
    let errors = load_file(&main).unwrap_err().0;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{shown:#?}");
    assert!(errors[0].file.ends_with("b.toml"), "{}", shown[0]);
    assert!(
        shown[0].contains("is also used by flow[0].name of"),
        "{}",
        shown[0]
    );
    assert!(shown[0].contains("a.toml"), "{}", shown[0]);
}

#[test]
fn an_included_file_holds_entry_points_and_flows_only_and_must_exist() {
    let dir = TempDir::new();
    let main = dir.write(
        "voxgate.toml",
        main_with_include(r#"["flows.toml"]"#).as_bytes(),
    );
    dir.write(
        "flows.toml",
        format!("include = [\"more.toml\"]\n[node]\nname = \"x\"\n{FLOW}").as_bytes(),
    );
    let errors = load_file(&main).unwrap_err().0;
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{shown:#?}");
    for e in &shown {
        assert!(e.contains("flows.toml:"), "{e}");
        assert!(e.contains("unknown key; allowed: entry_point, flow"), "{e}");
    }
    let missing = dir.write(
        "voxgate.toml",
        main_with_include(r#"["nowhere.toml"]"#).as_bytes(),
    );
    let errors = load_file(&missing).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].line, errors[0].key.as_str()),
        (Some(1), "include[0]")
    );
    assert!(
        errors[0].to_string().contains("nowhere.toml"),
        "{}",
        errors[0]
    );
}

/// Seeded mutations of the sample flows (bytes replaced, lines dropped or doubled):
/// the loader refuses or accepts each, and never panics. `config/fuzz`'s `load` target
/// searches further.
#[test]
fn mutated_flows_never_panic_the_loader() {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows.toml")).unwrap();
    let base = with(&format!("{sample}\n{ROUTING}"));
    assert!(load_str(&base, "x.toml").is_ok(), "the base must load");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    const NOISE: &[u8] = b"{}[]\"=,.#\n -_0123456789abz*";
    let mut accepted = 0;
    for _ in 0..1500 {
        let mut bytes = base.clone().into_bytes();
        match next(3) {
            0 => {
                for _ in 0..1 + next(4) {
                    let at = next(bytes.len());
                    bytes[at] = NOISE[next(NOISE.len())];
                }
            }
            _ => {
                let mut lines: Vec<&str> = base.lines().collect();
                let at = next(lines.len());
                if next(2) == 0 {
                    lines.remove(at);
                } else {
                    lines.insert(at, lines[at]);
                }
                bytes = lines.join("\n").into_bytes();
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if load_str(&text, "x.toml").is_ok() {
            accepted += 1;
        }
    }
    // Some mutations (in comments, say) keep the file valid; most do not.
    assert!(accepted > 0 && accepted < 1500, "{accepted}");
}

#[test]
fn routing_tables_load_typed() {
    let text = with(&format!(
        "{ROUTING}\n[[agent]]\nname = \"bob\"\nteams = [\"t1\", \"t2\"]\ndial = {{ uri = \"sip:bob@127.0.0.1:5091\", transport = \"tcp\" }}\nring_timeout_s = 20\nwrap_up_s = 30\n\n[[queue]]\nname = \"best\"\nstrategy = \"best_available\"\ngroups = [{{ teams = [\"t2\"] }}]\nskills = {{ english = 3 }}\nmusic = \"menu\"\nmax_wait_s = 60\nageing_s = 10\n"
    ));
    let config = load_str(&text, "x.toml").unwrap();
    assert_eq!(config.sites.len(), 1);
    assert_eq!(config.teams[1].site, "s");
    let bob = config.agent("bob").unwrap();
    assert_eq!(bob.teams, ["t1", "t2"]);
    assert_eq!(bob.ring_timeout, Duration::from_secs(20));
    assert_eq!(bob.wrap_up, Duration::from_secs(30));
    assert_eq!(bob.dial.uri, "sip:bob@127.0.0.1:5091");
    let alice = config.agent("alice").unwrap();
    assert_eq!(alice.skills.get("english"), Some(&8));
    assert_eq!(alice.ring_timeout, Duration::from_secs(15));
    let sales = config.queue("sales").unwrap();
    assert_eq!(
        sales.strategy,
        voxgate_config::routing::Strategy::LongestAvailable
    );
    assert_eq!(sales.groups[1].after, Duration::from_secs(30));
    assert_eq!(sales.max_wait, Duration::from_secs(900));
    let teams: Vec<&str> = sales.teams_after(Duration::from_secs(29)).collect();
    assert_eq!(teams, ["t1"]);
    let teams: Vec<&str> = sales.teams_after(Duration::from_secs(30)).collect();
    assert_eq!(teams, ["t1", "t2"]);
    let best = config.queue("best").unwrap();
    assert_eq!(
        best.strategy,
        voxgate_config::routing::Strategy::BestAvailable
    );
    assert_eq!(best.music.as_deref(), Some("menu"));
    assert_eq!(best.ageing, Some(Duration::from_secs(10)));
    assert_eq!(best.skills.get("english"), Some(&3));
}

#[test]
fn routing_errors_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        // An unknown site.
        (
            "[[team]]\nname = \"t\"\nsite = \"nowhere\"\n",
            "team[0].site",
            "nowhere",
        ),
        // An agent in an unknown team.
        (
            "[[site]]\nname = \"s\"\n[[agent]]\nname = \"a\"\nteams = [\"ghosts\"]\ndial = { uri = \"sip:a@127.0.0.1\" }\n",
            "agent[0].teams[0]",
            "ghosts",
        ),
        // A skill level out of 1..=10.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[agent]]\nname = \"a\"\nteams = [\"t\"]\nskills = { english = 11 }\ndial = { uri = \"sip:a@127.0.0.1\" }\n",
            "agent[0].skills.english",
            "1..=10",
        ),
        // No dial.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[agent]]\nname = \"a\"\nteams = [\"t\"]\n",
            "agent[0].dial",
            "uri",
        ),
        // Groups out of order.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[queue]]\nname = \"q\"\ngroups = [{ teams = [\"t\"] }, { teams = [\"t\"], after_s = 30 }, { teams = [\"t\"], after_s = 20 }]\n",
            "queue[0].groups[2].after_s",
            "greater than queue[0].groups[1].after_s",
        ),
        // A first group that waits.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[queue]]\nname = \"q\"\ngroups = [{ teams = [\"t\"], after_s = 5 }]\n",
            "queue[0].groups[0].after_s",
            "0..=0",
        ),
        // An unknown strategy.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[queue]]\nname = \"q\"\nstrategy = \"random\"\ngroups = [{ teams = [\"t\"] }]\n",
            "queue[0].strategy",
            "best_available",
        ),
        // Music that is no prompt.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[queue]]\nname = \"q\"\nmusic = \"jazz\"\ngroups = [{ teams = [\"t\"] }]\n",
            "queue[0].music",
            "jazz",
        ),
        // Two queues of one name.
        (
            "[[site]]\nname = \"s\"\n[[team]]\nname = \"t\"\nsite = \"s\"\n[[queue]]\nname = \"q\"\ngroups = [{ teams = [\"t\"] }]\n[[queue]]\nname = \"q\"\ngroups = [{ teams = [\"t\"] }]\n",
            "queue[1].name",
            "queue[0].name",
        ),
        // A queue node naming an unknown queue, and an entry point too.
        (
            "[[entry_point]]\nname = \"e\"\nnumbers = [\"+15550100\"]\nflow = \"f\"\nqueue = \"nope\"\n[[flow]]\nname = \"f\"\nstart = \"q\"\n[[flow.node]]\nid = \"q\"\nkind = \"queue\"\nqueue = \"missing\"\noutputs = { timeout = \"bye\" }\n[[flow.node]]\nid = \"bye\"\nkind = \"disconnect\"\n",
            "flow[0].node[0].queue",
            "missing",
        ),
        (
            "[[entry_point]]\nname = \"e\"\nnumbers = [\"+15550100\"]\nflow = \"f\"\nqueue = \"nope\"\n[[flow]]\nname = \"f\"\nstart = \"bye\"\n[[flow.node]]\nid = \"bye\"\nkind = \"disconnect\"\n",
            "entry_point[0].queue",
            "nope",
        ),
        // A queue node's priority out of range.
        (
            "[[flow]]\nname = \"f\"\nstart = \"q\"\n[[flow.node]]\nid = \"q\"\nkind = \"queue\"\npriority = 0\noutputs = { timeout = \"bye\" }\n[[flow.node]]\nid = \"bye\"\nkind = \"disconnect\"\n",
            "flow[0].node[0].priority",
            "1..=10",
        ),
    ];
    for (extra, key, words) in cases {
        let text = with(extra);
        let all = errors(&text);
        let e = all
            .iter()
            .find(|e| e.key == *key)
            .unwrap_or_else(|| panic!("no error at {key}: {all:?}"));
        let shown = e.to_string();
        assert!(shown.contains(words), "{key}: {shown}");
        assert!(shown.starts_with("x.toml:"), "{shown}");
    }
}

#[test]
fn get_queue_info_writes_number_variables_only() {
    let text = with(&format!(
        "{ROUTING}\n[[flow]]\nname = \"f\"\nstart = \"i\"\n[[flow.variable]]\nname = \"pos\"\ntype = \"string\"\n[[flow.node]]\nid = \"i\"\nkind = \"get_queue_info\"\nqueue = \"sales\"\nposition = \"pos\"\navailable_agents = \"nope\"\noutputs = {{ next = \"bye\", insufficient_information = \"bye\" }}\n[[flow.node]]\nid = \"bye\"\nkind = \"disconnect\"\n"
    ));
    let all = errors(&text);
    let keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"flow[0].node[0].position"), "{all:?}");
    assert!(
        keys.contains(&"flow[0].node[0].available_agents"),
        "{all:?}"
    );
    let e = all
        .iter()
        .find(|e| e.key == "flow[0].node[0].position")
        .unwrap();
    assert!(e.to_string().contains("type number"), "{e}");
}

#[test]
fn queue_to_agent_names_an_agent() {
    let text = with(&format!(
        "{ROUTING}\n[[flow]]\nname = \"f\"\nstart = \"a\"\n[[flow.node]]\nid = \"a\"\nkind = \"queue_to_agent\"\nagent = \"zed\"\nmusic = \"jazz\"\noutputs = {{ timeout = \"bye\" }}\n[[flow.node]]\nid = \"bye\"\nkind = \"disconnect\"\n"
    ));
    let all = errors(&text);
    let e = all
        .iter()
        .find(|e| e.key == "flow[0].node[0].agent")
        .unwrap();
    assert!(e.to_string().contains("alice"), "{e}");
    assert!(
        all.iter().any(|e| e.key == "flow[0].node[0].music"),
        "{all:?}"
    );
}
