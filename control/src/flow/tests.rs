#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use voxgate_config::flow::{Flow, FlowNode, FlowVariable, GotoTarget, NodeKind, VariableKind};
use voxgate_config::{Config, TrunkName};
use voxgate_edge::control_plane::{
    Command, DialId, Digit, DigitSource, EndCause, Event, LegId, PlaySource, PlaybackEnd,
    PlaybackId, Side,
};

use super::*;

const CALLER: LegId = LegId(1);

fn node(id: &str, kind: NodeKind, outputs: &[(&str, &str)]) -> FlowNode {
    FlowNode {
        id: id.to_owned(),
        line: 1,
        kind,
        outputs: outputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn var(name: &str, kind: VariableKind, default: Option<&str>) -> FlowVariable {
    FlowVariable {
        name: name.to_owned(),
        kind,
        default: default.map(str::to_owned),
        sensitive: false,
    }
}

fn flow(name: &str, start: &str, variables: Vec<FlowVariable>, nodes: Vec<FlowNode>) -> Flow {
    Flow {
        name: name.to_owned(),
        origin: "test.toml:1".to_owned(),
        start: start.to_owned(),
        variables,
        nodes,
        on_error: None,
    }
}

fn play(prompts: &[&str]) -> NodeKind {
    NodeKind::PlayMessage {
        prompts: prompts.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn menu(prompt: &str, retries: u32) -> NodeKind {
    NodeKind::Menu {
        prompt: prompt.to_owned(),
        timeout: Duration::from_secs(5),
        retries,
        invalid_prompt: Some("invalid".to_owned()),
    }
}

fn bye() -> NodeKind {
    NodeKind::Disconnect { prompt: None }
}

fn config(flows: Vec<Flow>) -> Arc<Config> {
    let mut config = voxgate_config::default_config().unwrap();
    config.flows = flows;
    Arc::new(config)
}

fn start(flows: Vec<Flow>, now: Instant) -> FlowRun {
    let contact = Contact {
        leg: CALLER,
        trunk: TrunkName::new("loopback").unwrap(),
        ani: "+15550001".to_owned(),
        dnis: "+15550100".to_owned(),
        contact_id: "c1".to_owned(),
        entry_point: "main-line".to_owned(),
        time_zone: "Europe/London".to_owned(),
        conversation: voxgate_edge::control_plane::ConversationId(1),
        queue: None,
    };
    let mut run = FlowRun::new(config(flows), Arc::new(environment()), "main", contact).unwrap();
    // Friday 4 December 2026, 10:00 in London (UTC+0 in winter).
    run.start(now, "2026-12-04T10:00:00Z".parse().unwrap());
    run
}

fn commands(run: &mut FlowRun) -> Vec<Command> {
    std::iter::from_fn(|| run.poll_command()).collect()
}

fn played(id: u32, reason: PlaybackEnd) -> Event {
    Event::PlaybackDone {
        leg: CALLER,
        id: PlaybackId(id),
        reason,
    }
}

fn digit(c: char) -> Event {
    Event::Digits {
        leg: CALLER,
        digit: Digit::from_char(c).unwrap(),
        duration: Duration::from_millis(100),
        source: DigitSource::Rfc4733,
    }
}

fn hangup_all() -> Command {
    Command::Hangup {
        leg: None,
        status: None,
    }
}

fn prompt(name: &str, barge_in: bool) -> Command {
    Command::Play {
        leg: CALLER,
        source: PlaySource::Prompt(name.to_owned()),
        barge_in,
    }
}

/// welcome → menu (1 → sales, 2 → support) → message → disconnect.
fn ivr() -> Vec<Flow> {
    vec![flow(
        "main",
        "welcome",
        vec![],
        vec![
            node("welcome", play(&["welcome"]), &[("next", "menu")]),
            node(
                "menu",
                menu("menu", 1),
                &[
                    ("1", "sales"),
                    ("2", "support"),
                    ("timeout", "bye"),
                    ("invalid", "bye"),
                ],
            ),
            node("sales", play(&["sales"]), &[("next", "bye")]),
            node("support", play(&["support"]), &[("next", "bye")]),
            node("bye", bye(), &[]),
        ],
    )]
}

#[test]
fn answers_plays_and_takes_the_menu_choice() {
    let t0 = Instant::now();
    let mut run = start(ivr(), t0);
    assert_eq!(
        commands(&mut run),
        vec![
            Command::Answer {
                leg: CALLER,
                early: false
            },
            prompt("welcome", false)
        ]
    );
    // A digit during a message that takes none is not kept.
    run.handle_event(t0, &digit('2'));
    assert!(commands(&mut run).is_empty());
    run.handle_event(t0, &played(1, PlaybackEnd::Finished));
    assert_eq!(commands(&mut run), vec![prompt("menu", true)]);
    // The digit barges in: the playback's end comes first, then the digit.
    run.handle_event(t0, &played(2, PlaybackEnd::BargeIn));
    assert_eq!(
        run.poll_timeout(),
        None,
        "no timeout while the digit is due"
    );
    run.handle_event(t0, &digit('2'));
    assert_eq!(run.node_id(), "support");
    assert_eq!(commands(&mut run), vec![prompt("support", false)]);
    run.handle_event(t0, &played(3, PlaybackEnd::Finished));
    assert_eq!(commands(&mut run), vec![hangup_all()]);
    assert_eq!(run.phase(), Phase::Ending);
    run.handle_event(
        t0,
        &Event::Ended {
            side: Side::Control,
            cause: EndCause::Normal,
        },
    );
    assert_eq!(run.phase(), Phase::Done);
}

#[test]
fn a_menu_replays_on_timeout_and_invalid_then_takes_the_output() {
    let t0 = Instant::now();
    let mut run = start(ivr(), t0);
    commands(&mut run);
    run.handle_event(t0, &played(1, PlaybackEnd::Finished));
    commands(&mut run);
    run.handle_event(t0, &played(2, PlaybackEnd::Finished));
    // The timeout runs from the prompt's end, on the injected clock.
    assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    run.handle_timeout(t0 + Duration::from_secs(4));
    assert!(commands(&mut run).is_empty(), "not due yet");
    let t1 = t0 + Duration::from_secs(5);
    run.handle_timeout(t1);
    assert_eq!(
        commands(&mut run),
        vec![prompt("menu", true)],
        "retry 1 of 1"
    );
    run.handle_event(t1, &played(3, PlaybackEnd::BargeIn));
    run.handle_event(t1, &digit('9'));
    // Retries used up: an invalid digit takes `invalid`.
    assert_eq!(run.node_id(), "bye");
    assert_eq!(commands(&mut run), vec![hangup_all()]);
}

#[test]
fn an_invalid_digit_plays_the_invalid_prompt_before_the_menu_again() {
    let t0 = Instant::now();
    let mut run = start(ivr(), t0);
    commands(&mut run);
    run.handle_event(t0, &played(1, PlaybackEnd::Finished));
    commands(&mut run);
    run.handle_event(t0, &digit('7'));
    assert_eq!(
        commands(&mut run),
        vec![Command::Play {
            leg: CALLER,
            source: PlaySource::Prompts(vec!["invalid".to_owned(), "menu".to_owned()]),
            barge_in: true
        }]
    );
    run.handle_event(t0, &played(3, PlaybackEnd::Finished));
    run.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(run.node_id(), "bye", "no retry left: timeout");
}

fn collector(min: u32, max: u32) -> Vec<Flow> {
    vec![flow(
        "main",
        "ask",
        vec![
            var("account", VariableKind::Number, None),
            var("tier", VariableKind::String, Some("basic")),
        ],
        vec![
            node(
                "ask",
                NodeKind::CollectDigits {
                    prompt: Some("account".to_owned()),
                    variable: "account".to_owned(),
                    min,
                    max,
                    terminator: Some('#'),
                    first_timeout: Duration::from_secs(5),
                    inter_digit_timeout: Duration::from_secs(3),
                },
                &[("next", "rank"), ("timeout", "sorry")],
            ),
            node(
                "rank",
                NodeKind::Condition {
                    expression: "account >= 5000".to_owned(),
                },
                &[("true", "gold"), ("false", "route")],
            ),
            node(
                "gold",
                NodeKind::SetVariable {
                    variable: "tier".to_owned(),
                    value: "gold-{{ account }}".to_owned(),
                },
                &[("next", "route")],
            ),
            node(
                "route",
                NodeKind::Case {
                    value: "{{ tier[:4] }}".to_owned(),
                },
                &[("gold", "vip"), ("default", "bye")],
            ),
            node("vip", play(&["vip"]), &[("next", "bye")]),
            node("sorry", play(&["sorry"]), &[("next", "bye")]),
            node("bye", bye(), &[]),
        ],
    )]
}

#[test]
fn digits_are_collected_to_the_terminator_and_drive_condition_set_and_case() {
    let t0 = Instant::now();
    let mut run = start(collector(1, 8), t0);
    assert_eq!(commands(&mut run)[1], prompt("account", true));
    run.handle_event(t0, &played(1, PlaybackEnd::BargeIn));
    for c in ['7', '0', '0', '1'] {
        run.handle_event(t0, &digit(c));
    }
    assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    run.handle_event(t0, &digit('#'));
    assert_eq!(run.variable("account"), Some(&FlowValue::Number(7001.0)));
    assert_eq!(
        run.variable("tier"),
        Some(&FlowValue::Text("gold-7001".to_owned()))
    );
    assert_eq!(run.node_id(), "vip");
    assert_eq!(commands(&mut run), vec![prompt("vip", false)]);
}

#[test]
fn a_small_number_takes_the_false_branch_and_the_case_default() {
    let t0 = Instant::now();
    let mut run = start(collector(1, 3), t0);
    commands(&mut run);
    run.handle_event(t0, &played(1, PlaybackEnd::BargeIn));
    for c in ['4', '2', '1'] {
        run.handle_event(t0, &digit(c));
    }
    // `max` digits end the input without the terminator.
    assert_eq!(run.variable("account"), Some(&FlowValue::Number(421.0)));
    assert_eq!(
        run.variable("tier"),
        Some(&FlowValue::Text("basic".to_owned()))
    );
    assert_eq!(commands(&mut run), vec![hangup_all()]);
}

#[test]
fn too_few_digits_by_the_timeout_take_the_timeout_output() {
    let t0 = Instant::now();
    let mut run = start(collector(4, 8), t0);
    commands(&mut run);
    run.handle_event(t0, &played(1, PlaybackEnd::Finished));
    assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    run.handle_event(t0 + Duration::from_secs(1), &digit('4'));
    assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(4)));
    run.handle_timeout(t0 + Duration::from_secs(4));
    assert_eq!(run.node_id(), "sorry");
    assert_eq!(run.variable("account"), Some(&FlowValue::Number(0.0)));
}

#[test]
fn goto_another_flow_starts_its_variables_afresh() {
    let flows = vec![
        flow(
            "main",
            "set",
            vec![var("n", VariableKind::Number, Some("1"))],
            vec![
                node(
                    "set",
                    NodeKind::SetVariable {
                        variable: "n".to_owned(),
                        value: "{{ n + 1 }}".to_owned(),
                    },
                    &[("next", "jump")],
                ),
                node(
                    "jump",
                    NodeKind::Goto {
                        target: GotoTarget::Flow("other".to_owned()),
                    },
                    &[],
                ),
            ],
        ),
        flow(
            "other",
            "hello",
            vec![var("m", VariableKind::Boolean, Some("true"))],
            vec![
                node("hello", play(&["a", "b"]), &[("next", "end")]),
                node("end", bye(), &[]),
            ],
        ),
    ];
    let t0 = Instant::now();
    let mut run = start(flows, t0);
    let sent = commands(&mut run);
    assert_eq!(
        sent[1],
        Command::Play {
            leg: CALLER,
            source: PlaySource::Prompts(vec!["a".to_owned(), "b".to_owned()]),
            barge_in: false
        }
    );
    assert_eq!(run.variable("n"), None);
    assert_eq!(run.variable("m"), Some(&FlowValue::Boolean(true)));
}

#[test]
fn an_error_goes_to_on_error_once_then_to_the_safe_ending() {
    let mut flows = vec![flow(
        "main",
        "bad",
        vec![var("n", VariableKind::Number, None)],
        vec![
            node(
                "bad",
                NodeKind::SetVariable {
                    variable: "n".to_owned(),
                    value: "not a number".to_owned(),
                },
                &[("next", "bye")],
            ),
            node("oops", play(&["sorry"]), &[("next", "bad")]),
            node("bye", bye(), &[]),
        ],
    )];
    flows[0].on_error = Some("oops".to_owned());
    let t0 = Instant::now();
    let mut run = start(flows, t0);
    assert_eq!(commands(&mut run)[1], prompt("sorry", false));
    run.handle_event(t0, &played(1, PlaybackEnd::Finished));
    // The same error again: no second on_error, a hang-up (never silence).
    assert_eq!(commands(&mut run), vec![hangup_all()]);
    assert_eq!(run.phase(), Phase::Ending);
}

#[test]
fn an_undefined_variable_is_an_error_not_an_empty_string() {
    let flows = vec![flow(
        "main",
        "bad",
        vec![var("s", VariableKind::String, None)],
        vec![
            node(
                "bad",
                NodeKind::SetVariable {
                    variable: "s".to_owned(),
                    value: "{{ nowhere }}".to_owned(),
                },
                &[("next", "bye")],
            ),
            node("bye", play(&["x"]), &[("next", "bye2")]),
            node("bye2", bye(), &[]),
        ],
    )];
    let mut run = start(flows, Instant::now());
    let sent = commands(&mut run);
    assert_eq!(sent.last(), Some(&hangup_all()));
}

#[test]
fn blind_transfer_dials_by_the_routes_and_failed_takes_its_output() {
    let flows = vec![flow(
        "main",
        "xfer",
        vec![],
        vec![
            node(
                "xfer",
                NodeKind::BlindTransfer {
                    number: "{{ dnis }}9".to_owned(),
                },
                &[("failed", "sorry")],
            ),
            node("sorry", play(&["sorry"]), &[("next", "bye")]),
            node("bye", bye(), &[]),
        ],
    )];
    let t0 = Instant::now();
    let mut run = start(flows, t0);
    let sent = commands(&mut run);
    // The embedded default routes every number to sip:127.0.0.1:5080.
    let Command::Dial(dial) = &sent[1] else {
        panic!("a dial: {sent:?}")
    };
    assert_eq!(dial.connect, Some(CALLER));
    assert!(dial.destinations[0].uri.contains("+155501009@"), "{dial:?}");
    run.handle_event(
        t0,
        &Event::DialFailed {
            dial: DialId(1),
            status: 486,
        },
    );
    assert_eq!(commands(&mut run), vec![prompt("sorry", false)]);
}

/// A blind transfer to 1099 (the embedded default routes it), `failed` → hang up.
fn transfer_to_1099() -> Vec<Flow> {
    vec![flow(
        "main",
        "xfer",
        vec![],
        vec![
            node(
                "xfer",
                NodeKind::BlindTransfer {
                    number: "1099".to_owned(),
                },
                &[("failed", "bye")],
            ),
            node("bye", bye(), &[]),
        ],
    )]
}

#[test]
fn after_a_transfer_either_side_ending_ends_the_call() {
    let flows = transfer_to_1099();
    let t0 = Instant::now();
    for (ended, side) in [(LegId(2), Side::Callee), (CALLER, Side::Caller)] {
        let mut run = start(flows.clone(), t0);
        commands(&mut run);
        run.handle_event(
            t0,
            &Event::LegAnswered {
                leg: LegId(2),
                early: false,
            },
        );
        assert_eq!(run.phase(), Phase::Transferred);
        assert!(commands(&mut run).is_empty());
        run.handle_event(
            t0,
            &Event::LegEnded {
                leg: ended,
                side,
                cause: EndCause::Normal,
            },
        );
        assert_eq!(commands(&mut run), vec![hangup_all()], "{side:?}");
        assert_eq!(run.outcome(), Some(Outcome::Transferred));
    }
}

#[test]
fn the_caller_hanging_up_during_a_transfer_cancels_it() {
    let flows = transfer_to_1099();
    let t0 = Instant::now();
    let mut run = start(flows, t0);
    commands(&mut run);
    run.handle_event(
        t0,
        &Event::LegEnded {
            leg: CALLER,
            side: Side::Caller,
            cause: EndCause::Normal,
        },
    );
    assert_eq!(commands(&mut run), vec![hangup_all()]);
    assert_eq!(run.outcome(), Some(Outcome::CallerHungUp));
}

#[test]
fn the_caller_hanging_up_stops_the_flow() {
    let t0 = Instant::now();
    let mut run = start(ivr(), t0);
    commands(&mut run);
    run.handle_event(
        t0,
        &Event::LegEnded {
            leg: CALLER,
            side: Side::Caller,
            cause: EndCause::Normal,
        },
    );
    run.handle_event(t0, &played(1, PlaybackEnd::Stopped));
    assert!(commands(&mut run).is_empty());
    assert_eq!(run.poll_timeout(), None);
}

mod driven {
    use super::*;
    use tokio::sync::mpsc;
    use voxgate_config::flow::EntryPoint;
    use voxgate_edge::control_plane::{ConversationId, ConversationInfo, Inbound, Party};

    fn party(user: &str) -> Party {
        Party {
            display: None,
            user: Some(user.to_owned()),
            uri: format!("sip:{user}@192.0.2.1"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_moves_commands_and_events_and_runs_timeouts_on_the_clock() {
        let entry = EntryPoint {
            name: "main-line".to_owned(),
            numbers: vec!["+15550100".to_owned()],
            trunks: vec![],
            flow: "main".to_owned(),
            time_zone: "UTC".to_owned(),
            queue: None,
        };
        let mut config = (*config(ivr())).clone();
        config.entry_points = vec![entry.clone()];
        let config = Arc::new(config);
        let (ev_tx, ev_rx) = mpsc::channel(16);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(16);
        let inbound = Inbound::new(
            CALLER,
            TrunkName::new("loopback").unwrap(),
            "local".to_owned(),
            party("+15550001"),
            party("+15550100"),
            Some("+15550100".to_owned()),
        );
        let session = Session {
            info: ConversationInfo::new(ConversationId(7), Some(inbound)),
            events: ev_rx,
            commands: cmd_tx,
        };
        assert_eq!(
            Flows::entry_point(&config, &session).map(|e| e.name.as_str()),
            Some("main-line")
        );
        let shared = Arc::new(arc_swap::ArcSwap::new(config.clone()));
        let center = Arc::new(crate::acd::ContactCenter::new(shared).unwrap());
        let flows = Flows::new(center).unwrap();
        flows.start(config, &entry, session);
        assert!(matches!(cmd_rx.recv().await, Some(Command::Answer { .. })));
        assert_eq!(cmd_rx.recv().await, Some(prompt("welcome", false)));
        ev_tx.send(played(1, PlaybackEnd::Finished)).await.unwrap();
        assert_eq!(cmd_rx.recv().await, Some(prompt("menu", true)));
        ev_tx.send(played(2, PlaybackEnd::Finished)).await.unwrap();
        // No digit: the menu's 5 s pass on the virtual clock, it plays again (retry 1).
        let before = tokio::time::Instant::now();
        assert_eq!(cmd_rx.recv().await, Some(prompt("menu", true)));
        assert!(tokio::time::Instant::now() - before >= Duration::from_secs(5));
        ev_tx.send(played(3, PlaybackEnd::Finished)).await.unwrap();
        // Then `timeout` → bye.
        assert_eq!(cmd_rx.recv().await, Some(hangup_all()));
        ev_tx
            .send(Event::Ended {
                side: Side::Control,
                cause: EndCause::Normal,
            })
            .await
            .unwrap();
        // The task ends with the conversation: its command sender is dropped.
        assert_eq!(cmd_rx.recv().await, None);
        let m = flows.metrics();
        assert_eq!(m.contacts.with_label_values(&["main-line"]).get(), 1);
        assert_eq!(m.active.get(), 0);
        assert_eq!(m.outcomes.with_label_values(&["disconnected"]).get(), 1);
    }
}

fn hours_flow(force: Option<bool>) -> Vec<Flow> {
    use voxgate_config::flow::OpeningHours;
    let weekdays = OpeningHours {
        days: [true, true, true, true, true, false, false],
        open: 9 * 60,
        close: 17 * 60 + 30,
    };
    vec![flow(
        "main",
        "hours",
        vec![],
        vec![
            node(
                "hours",
                NodeKind::BusinessHours {
                    hours: vec![weekdays],
                    holidays: vec!["2026-12-25".parse().unwrap()],
                    force,
                },
                &[
                    ("open", "welcome"),
                    ("closed", "closed"),
                    ("holiday", "holiday"),
                ],
            ),
            node("welcome", play(&["welcome"]), &[("next", "bye")]),
            node("closed", play(&["closed"]), &[("next", "bye")]),
            node("holiday", play(&["holiday"]), &[("next", "bye")]),
            node("bye", bye(), &[]),
        ],
    )]
}

#[test]
fn business_hours_read_the_entry_points_clock() {
    // Friday 10:00 in London: open.
    let mut run = start(hours_flow(None), Instant::now());
    assert_eq!(run.node_id(), "welcome");
    // Forced closed: the switch wins over the hours.
    let mut closed = start(hours_flow(Some(false)), Instant::now());
    assert_eq!(closed.node_id(), "closed");
    commands(&mut run);
    commands(&mut closed);
}

#[test]
fn business_state_covers_weekends_holidays_zones_and_midnight() {
    use voxgate_config::flow::{OpeningHours, business_state};
    let weekdays = [OpeningHours {
        days: [true, true, true, true, true, false, false],
        open: 9 * 60,
        close: 17 * 60 + 30,
    }];
    let holidays = ["2026-12-25".parse().unwrap()];
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    let state = |tz: &str, t: &str| business_state(&weekdays, &holidays, None, tz, at(t));
    assert_eq!(state("Europe/London", "2026-12-04T17:29:00Z"), "open");
    assert_eq!(state("Europe/London", "2026-12-04T17:30:00Z"), "closed");
    // Saturday.
    assert_eq!(state("Europe/London", "2026-12-05T10:00:00Z"), "closed");
    assert_eq!(state("Europe/London", "2026-12-25T10:00:00Z"), "holiday");
    // 10:00 UTC is 05:00 in New York: closed there.
    assert_eq!(state("America/New_York", "2026-12-04T10:00:00Z"), "closed");
    // In summer London is UTC+1: 08:30 UTC is 09:30 local.
    assert_eq!(state("Europe/London", "2026-07-01T08:30:00Z"), "open");
    // A night shift past midnight: Friday 22:00 to Saturday 06:00.
    let night = [OpeningHours {
        days: [false, false, false, false, true, false, false],
        open: 22 * 60,
        close: 6 * 60,
    }];
    let n = |t: &str| business_state(&night, &[], None, "UTC", at(t));
    assert_eq!(n("2026-12-04T23:00:00Z"), "open");
    assert_eq!(n("2026-12-05T05:59:00Z"), "open");
    assert_eq!(n("2026-12-05T06:00:00Z"), "closed");
    assert_eq!(n("2026-12-04T21:59:00Z"), "closed");
    assert_eq!(
        business_state(&night, &[], Some(true), "UTC", at("2026-12-04T12:00:00Z")),
        "open"
    );
}

mod queued {
    use super::*;
    use crate::acd::fixtures;
    use voxgate_config::routing::Strategy;

    /// queue `sales` (music `hold`, max wait 60 s) → timeout: `sorry` → disconnect.
    fn queue_flow() -> Vec<Flow> {
        vec![flow(
            "main",
            "wait",
            vec![],
            vec![
                node(
                    "wait",
                    NodeKind::Queue {
                        queue: Some("sales".to_owned()),
                        priority: 7,
                        skills: [("english".to_owned(), 3)].into_iter().collect(),
                        max_wait: Some(Duration::from_secs(60)),
                    },
                    &[("timeout", "sorry")],
                ),
                node("sorry", play(&["sorry"]), &[("next", "bye")]),
                node("bye", bye(), &[]),
            ],
        )]
    }

    fn queued(now: Instant) -> FlowRun {
        let mut config = (*config(queue_flow())).clone();
        let mut q = fixtures::queue("sales", Strategy::LongestAvailable, &[(&["t1"], 0)], None);
        q.music = Some("hold".to_owned());
        config.queues = vec![q];
        let contact = Contact {
            leg: CALLER,
            trunk: TrunkName::new("loopback").unwrap(),
            ani: "+15550001".to_owned(),
            dnis: "+15550100".to_owned(),
            contact_id: "c1".to_owned(),
            entry_point: "main-line".to_owned(),
            time_zone: "UTC".to_owned(),
            conversation: voxgate_edge::control_plane::ConversationId(1),
            queue: None,
        };
        let mut run =
            FlowRun::new(Arc::new(config), Arc::new(environment()), "main", contact).unwrap();
        run.start(now, "2026-12-04T10:00:00Z".parse().unwrap());
        run
    }

    fn requests(run: &mut FlowRun) -> Vec<CenterRequest> {
        std::iter::from_fn(|| run.poll_center()).collect()
    }

    fn alice() -> voxgate_config::routing::Agent {
        fixtures::agent("alice", &["t1"], &[("english", 5)], Duration::ZERO)
    }

    #[test]
    fn queued_with_music_until_an_agent_answers() {
        let t0 = Instant::now();
        let mut run = queued(t0);
        let sent = commands(&mut run);
        assert_eq!(
            sent[1],
            Command::Play {
                leg: CALLER,
                source: PlaySource::Music("hold".to_owned()),
                barge_in: false,
            }
        );
        assert_eq!(
            requests(&mut run),
            [CenterRequest::Enqueue {
                queue: "sales".to_owned(),
                priority: 7,
                skills: [("english".to_owned(), 3)].into_iter().collect(),
            }]
        );
        assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        // An agent is offered: its phone is dialled, connected to the caller.
        run.handle_offer(t0, &alice());
        let sent = commands(&mut run);
        let [Command::Dial(dial)] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        assert_eq!(dial.destinations[0].uri, "sip:alice@127.0.0.1:5090");
        assert_eq!(dial.connect, Some(CALLER));
        assert_eq!(dial.ring_timeout, Some(Duration::from_secs(15)));
        assert_eq!(requests(&mut run), [CenterRequest::Ringing]);
        // A second offer while one rings is not dialled.
        run.handle_offer(t0, &alice());
        assert!(commands(&mut run).is_empty());
        // The agent answers: the music stops, the contact is connected.
        run.handle_event(
            t0,
            &Event::LegAnswered {
                leg: LegId(2),
                early: false,
            },
        );
        assert_eq!(commands(&mut run), [Command::StopMedia { leg: CALLER }]);
        assert_eq!(requests(&mut run), [CenterRequest::Answered]);
        assert_eq!(run.phase(), Phase::Connected);
        assert_eq!(run.poll_timeout(), None, "no max wait once connected");
        // The agent hangs up: the call ends, the agent's wrap-up starts.
        run.handle_event(
            t0,
            &Event::LegEnded {
                leg: LegId(2),
                side: Side::Callee,
                cause: EndCause::Normal,
            },
        );
        assert_eq!(commands(&mut run), [hangup_all()]);
        assert_eq!(requests(&mut run), [CenterRequest::Ended]);
        assert_eq!(run.outcome(), Some(Outcome::Agent));
    }

    #[test]
    fn rona_keeps_the_caller_queued_and_the_timeout_waits_for_the_ringing_offer() {
        let t0 = Instant::now();
        let mut run = queued(t0);
        commands(&mut run);
        requests(&mut run);
        run.handle_offer(t0, &alice());
        commands(&mut run);
        requests(&mut run);
        // The longest wait passes while alice's phone rings: that offer decides.
        run.handle_timeout(t0 + Duration::from_secs(60));
        assert!(commands(&mut run).is_empty());
        assert!(requests(&mut run).is_empty());
        run.handle_event(
            t0 + Duration::from_secs(61),
            &Event::DialFailed {
                dial: DialId(1),
                status: 408,
            },
        );
        assert_eq!(
            requests(&mut run),
            [CenterRequest::NotAnswered, CenterRequest::Leave("timeout")]
        );
        assert_eq!(commands(&mut run), [prompt("sorry", false)]);
    }

    #[test]
    fn rona_before_the_timeout_waits_for_the_next_offer() {
        let t0 = Instant::now();
        let mut run = queued(t0);
        commands(&mut run);
        requests(&mut run);
        run.handle_offer(t0, &alice());
        commands(&mut run);
        requests(&mut run);
        run.handle_event(
            t0 + Duration::from_secs(15),
            &Event::DialFailed {
                dial: DialId(1),
                status: 408,
            },
        );
        assert_eq!(requests(&mut run), [CenterRequest::NotAnswered]);
        assert!(commands(&mut run).is_empty(), "the music goes on");
        assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(60)));
        // Then the longest wait: timeout output.
        run.handle_timeout(t0 + Duration::from_secs(60));
        assert_eq!(requests(&mut run), [CenterRequest::Leave("timeout")]);
        assert_eq!(commands(&mut run), [prompt("sorry", false)]);
    }

    #[test]
    fn a_caller_hanging_up_leaves_the_queue_and_stops_the_ringing() {
        let t0 = Instant::now();
        let mut run = queued(t0);
        commands(&mut run);
        requests(&mut run);
        run.handle_offer(t0, &alice());
        commands(&mut run);
        requests(&mut run);
        run.handle_event(
            t0,
            &Event::LegEnded {
                leg: CALLER,
                side: Side::Callee,
                cause: EndCause::Normal,
            },
        );
        assert_eq!(requests(&mut run), [CenterRequest::Leave("abandoned")]);
        assert_eq!(commands(&mut run), [hangup_all()]);
        assert_eq!(run.outcome(), Some(Outcome::CallerHungUp));
    }

    #[test]
    fn queue_to_agent_parks_for_the_agent_and_times_out_to_recovery() {
        let t0 = Instant::now();
        let mut flows = queue_flow();
        flows[0].nodes[0].kind = NodeKind::QueueToAgent {
            agent: "alice".to_owned(),
            priority: 5,
            max_wait: Duration::from_secs(30),
            music: Some("hold".to_owned()),
        };
        let mut run = start(flows, t0);
        let sent = commands(&mut run);
        assert!(sent.contains(&Command::Play {
            leg: CALLER,
            source: PlaySource::Music("hold".to_owned()),
            barge_in: false,
        }));
        assert_eq!(
            requests(&mut run),
            [CenterRequest::EnqueueForAgent {
                agent: "alice".to_owned(),
                priority: 5
            }]
        );
        assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(30)));
        run.handle_timeout(t0 + Duration::from_secs(30));
        assert_eq!(requests(&mut run), [CenterRequest::Leave("timeout")]);
        assert_eq!(commands(&mut run), [prompt("sorry", false)]);
    }

    #[test]
    fn a_queue_node_without_a_queue_takes_the_error_path() {
        let t0 = Instant::now();
        let mut flows = queue_flow();
        flows[0].nodes[0].kind = NodeKind::Queue {
            queue: None,
            priority: 5,
            skills: Default::default(),
            max_wait: None,
        };
        let mut run = start(flows, t0);
        assert!(requests(&mut run).is_empty());
        assert_eq!(run.errors(), 1);
        assert!(commands(&mut run).contains(&hangup_all()));
    }

    /// The task with a real contact center on the virtual clock: the flow queues the
    /// caller, an agent made available is dialled, its answer engages it, the end
    /// starts its wrap-up.
    #[tokio::test(start_paused = true)]
    async fn the_task_queues_offers_and_wraps_up() {
        use tokio::sync::mpsc;
        use voxgate_config::flow::EntryPoint;
        use voxgate_edge::control_plane::{ConversationId, ConversationInfo, Inbound, Party};

        let mut config = (*config(queue_flow())).clone();
        config.sites = vec![fixtures::site("s")];
        config.teams = vec![fixtures::team("t1", "s")];
        config.agents = vec![fixtures::agent(
            "alice",
            &["t1"],
            &[("english", 5)],
            Duration::from_secs(10),
        )];
        config.queues = vec![fixtures::queue(
            "sales",
            Strategy::LongestAvailable,
            &[(&["t1"], 0)],
            None,
        )];
        let entry = EntryPoint {
            name: "main-line".to_owned(),
            numbers: vec!["+15550100".to_owned()],
            trunks: vec![],
            flow: "main".to_owned(),
            time_zone: "UTC".to_owned(),
            queue: None,
        };
        config.entry_points = vec![entry.clone()];
        let config = Arc::new(config);
        let shared = Arc::new(arc_swap::ArcSwap::new(config.clone()));
        let center = Arc::new(crate::acd::ContactCenter::new(shared).unwrap());
        center.spawn_timer();
        let flows = Flows::new(center.clone()).unwrap();
        let (ev_tx, ev_rx) = mpsc::channel(16);
        let (cmd_tx, mut cmd_rx) = mpsc::channel(16);
        let party = |user: &str| Party {
            display: None,
            user: Some(user.to_owned()),
            uri: format!("sip:{user}@192.0.2.1"),
        };
        let inbound = Inbound::new(
            CALLER,
            TrunkName::new("loopback").unwrap(),
            "local".to_owned(),
            party("+15550001"),
            party("+15550100"),
            Some("+15550100".to_owned()),
        );
        let session = Session {
            info: ConversationInfo::new(ConversationId(9), Some(inbound)),
            events: ev_rx,
            commands: cmd_tx,
        };
        flows.start(config, &entry, session);
        assert!(matches!(cmd_rx.recv().await, Some(Command::Answer { .. })));
        // No agent available: nothing is dialled.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(cmd_rx.try_recv().is_err());
        center.with(|l| {
            let now = l.now();
            l.acd().login(now, "alice").unwrap();
            l.acd().set_available(now, "alice").unwrap();
        });
        let Some(Command::Dial(dial)) = cmd_rx.recv().await else {
            panic!("the agent is dialled")
        };
        assert_eq!(dial.connect, Some(CALLER));
        tokio::task::yield_now().await;
        let state = center.with(|l| l.acd().agent_state("alice").cloned());
        assert_eq!(
            state,
            Some(crate::acd::AgentState::Offered {
                contact: ConversationId(9)
            })
        );
        ev_tx
            .send(Event::LegAnswered {
                leg: LegId(2),
                early: false,
            })
            .await
            .unwrap();
        assert_eq!(
            cmd_rx.recv().await,
            Some(Command::StopMedia { leg: CALLER })
        );
        ev_tx
            .send(Event::LegEnded {
                leg: LegId(2),
                side: Side::Callee,
                cause: EndCause::Normal,
            })
            .await
            .unwrap();
        assert_eq!(cmd_rx.recv().await, Some(hangup_all()));
        tokio::task::yield_now().await;
        let state = center.with(|l| l.acd().agent_state("alice").cloned());
        assert_eq!(state, Some(crate::acd::AgentState::WrapUp { code: None }));
        // Its 10 s of wrap-up pass on the virtual clock: available again.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let state = center.with(|l| l.acd().agent_state("alice").cloned());
        assert_eq!(state, Some(crate::acd::AgentState::Available));
        ev_tx
            .send(Event::Ended {
                side: Side::Callee,
                cause: EndCause::Normal,
            })
            .await
            .unwrap();
    }
}

#[test]
fn play_music_loops_for_its_time_then_stops() {
    let t0 = Instant::now();
    let flows = vec![flow(
        "main",
        "music",
        vec![],
        vec![
            node(
                "music",
                NodeKind::PlayMusic {
                    prompt: "hold".to_owned(),
                    duration: Duration::from_secs(8),
                },
                &[("next", "bye")],
            ),
            node("bye", bye(), &[]),
        ],
    )];
    let mut run = start(flows, t0);
    let sent = commands(&mut run);
    assert_eq!(
        sent[1],
        Command::Play {
            leg: CALLER,
            source: PlaySource::Music("hold".to_owned()),
            barge_in: false,
        }
    );
    assert_eq!(run.poll_timeout(), Some(t0 + Duration::from_secs(8)));
    // Digits do not cut it short.
    run.handle_event(t0 + Duration::from_secs(1), &digit('5'));
    assert!(commands(&mut run).is_empty());
    run.handle_timeout(t0 + Duration::from_secs(8));
    assert_eq!(
        commands(&mut run),
        [Command::StopMedia { leg: CALLER }, hangup_all()]
    );
}

mod queue_info {
    use super::*;

    fn info_flow() -> Vec<Flow> {
        vec![flow(
            "main",
            "info",
            vec![
                var("pos", VariableKind::Number, None),
                var("wait", VariableKind::Number, Some("-1")),
                var("free", VariableKind::Number, None),
            ],
            vec![
                node(
                    "info",
                    NodeKind::GetQueueInfo {
                        queue: Some("sales".to_owned()),
                        position: Some("pos".to_owned()),
                        estimated_wait: Some("wait".to_owned()),
                        available_agents: Some("free".to_owned()),
                    },
                    &[("next", "known"), ("insufficient_information", "unknown")],
                ),
                node("known", play(&["sales"]), &[("next", "bye")]),
                node("unknown", play(&["support"]), &[("next", "bye")]),
                node("bye", bye(), &[]),
            ],
        )]
    }

    #[test]
    fn figures_go_to_the_variables_and_pick_the_output() {
        let t0 = Instant::now();
        let mut run = start(info_flow(), t0);
        commands(&mut run);
        assert_eq!(
            run.poll_center(),
            Some(CenterRequest::Info {
                queue: "sales".to_owned()
            })
        );
        run.handle_queue_info(
            t0,
            Some(QueueFigures {
                position: 3,
                estimated_wait: Some(Duration::from_secs(95)),
                available_agents: 0,
            }),
        );
        assert_eq!(run.variable("pos"), Some(&FlowValue::Number(3.0)));
        assert_eq!(run.variable("wait"), Some(&FlowValue::Number(95.0)));
        assert_eq!(run.variable("free"), Some(&FlowValue::Number(0.0)));
        assert_eq!(commands(&mut run), [prompt("sales", false)]);
    }

    #[test]
    fn no_estimate_is_insufficient_information_and_a_gone_queue_an_error() {
        let t0 = Instant::now();
        let mut run = start(info_flow(), t0);
        commands(&mut run);
        run.poll_center();
        run.handle_queue_info(
            t0,
            Some(QueueFigures {
                position: 1,
                estimated_wait: None,
                available_agents: 2,
            }),
        );
        assert_eq!(run.variable("pos"), Some(&FlowValue::Number(1.0)));
        assert_eq!(
            run.variable("wait"),
            Some(&FlowValue::Number(-1.0)),
            "left as it was"
        );
        assert_eq!(commands(&mut run), [prompt("support", false)]);

        let mut run = start(info_flow(), t0);
        commands(&mut run);
        run.poll_center();
        run.handle_queue_info(t0, None);
        assert_eq!(run.errors(), 1);
        assert!(commands(&mut run).contains(&hangup_all()));
    }
}
