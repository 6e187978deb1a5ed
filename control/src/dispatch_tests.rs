//! Which control plane each inbound conversation gets, and the fallback.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use voxgate_config::TrunkName;
use voxgate_edge::control_plane::{
    Command, ControlPlane, ConversationId, ConversationInfo, Event, Inbound, LegId, Party, Session,
};

use super::Dispatcher;
use crate::api::tests::shared;

const ROUTES: &str = r#"
[[trunk]]
name = "crm"
allow = ["198.51.100.0/24"]
control = "api"

[[route]]
name = "ivr"
match_user = { prefix = "7" }
control = "api"

[[route]]
name = "queue"
match_user = { prefix = "8" }
control = "api"
ring_timeout_s = 15
destinations = [{ uri = "sip:192.0.2.80:5060", trunk = "pstn" }]

[[route]]
name = "rest"
match_user = { prefix = "" }
destinations = [{ uri = "sip:192.0.2.99:5060" }]
"#;

struct Call {
    commands: mpsc::Receiver<Command>,
    /// Kept so that the conversation's events have a reader.
    _events: mpsc::Sender<Event>,
}

fn party(user: &str) -> Party {
    Party {
        display: None,
        user: Some(user.into()),
        uri: format!("sip:{user}@192.0.2.1"),
    }
}

/// A new inbound conversation `id` from `trunk` to `user`, handed to `d`.
fn incoming(d: &Dispatcher, id: u64, trunk: &str, user: &str) -> Call {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (ev_tx, ev_rx) = mpsc::channel(8);
    let trunk = TrunkName::new(trunk).unwrap_or_else(|| panic!("{trunk}"));
    let inbound = Inbound::new(
        LegId(1),
        trunk,
        "r1".into(),
        party("alice"),
        party(user),
        Some(user.into()),
    );
    d.incoming(Session {
        info: ConversationInfo::new(ConversationId(id), Some(inbound)),
        events: ev_rx,
        commands: cmd_tx,
    });
    Call {
        commands: cmd_rx,
        _events: ev_tx,
    }
}

fn dispatcher() -> Dispatcher {
    Dispatcher::new(shared(ROUTES)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn with_no_client_api_calls_get_the_fallback() {
    let d = dispatcher();
    // No destinations: rejected with [api] no_client_status.
    let mut c = incoming(&d, 1, "pstn", "7001");
    assert_eq!(
        c.commands.try_recv().ok(),
        Some(Command::Reject {
            status: 486,
            reason: None
        })
    );
    // Destinations: dialled as the static router would, connected to the inbound leg.
    let mut c = incoming(&d, 2, "pstn", "8001");
    match c.commands.try_recv() {
        Ok(Command::Dial(dial)) => {
            assert_eq!(dial.connect, Some(LegId(1)));
            assert_eq!(dial.ring_timeout, Some(Duration::from_secs(15)));
            assert_eq!(dial.destinations[0].uri, "sip:8001@192.0.2.80:5060");
        }
        other => panic!("{other:?}"),
    }
    // An API trunk: its route's destinations (the catch-all's here).
    let mut c = incoming(&d, 3, "crm", "1234");
    assert!(
        matches!(c.commands.try_recv(), Ok(Command::Dial(d)) if d.destinations[0].uri == "sip:1234@192.0.2.99:5060")
    );
    assert!(!d.api().controls(ConversationId(1)));
    let text = {
        let edge = voxgate_edge::metrics::Metrics::new("t").unwrap_or_else(|e| panic!("{e}"));
        d.api()
            .metrics()
            .register(&edge)
            .unwrap_or_else(|e| panic!("{e}"));
        edge.render()
    };
    assert!(
        text.contains("voxgate_api_fallbacks_total{action=\"reject\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("voxgate_api_fallbacks_total{action=\"dial\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn with_a_client_api_calls_are_the_apis_and_the_rest_static() {
    let d = dispatcher();
    let api = d.api();
    let _follower = api.follow();
    let mut announced = api.announcements();
    let mut c = incoming(&d, 1, "pstn", "7001");
    assert!(c.commands.try_recv().is_err(), "the API decides, later");
    assert!(api.controls(ConversationId(1)));
    let mut c2 = incoming(&d, 2, "crm", "1234");
    assert!(c2.commands.try_recv().is_err());
    assert!(api.controls(ConversationId(2)));
    let mut c3 = incoming(&d, 3, "pstn", "1234");
    assert!(matches!(c3.commands.try_recv(), Ok(Command::Dial(_))));
    assert!(!api.controls(ConversationId(3)));
    let mut seen = Vec::new();
    while let Ok(text) = announced.try_recv() {
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        seen.push((
            v["conversation"].as_str().map(str::to_owned),
            v["control"].as_str().map(str::to_owned),
        ));
        assert_eq!(v["type"], "conversation_started");
        assert_eq!(v["inbound"]["leg"], 1);
    }
    let expected = [("c1", "api"), ("c2", "api"), ("c3", "static")]
        .map(|(c, k)| (Some(c.to_owned()), Some(k.to_owned())));
    assert_eq!(seen, expected);
    // The last follower gone: the fallback again, announced as such.
    drop(_follower);
    let mut c4 = incoming(&d, 4, "pstn", "7002");
    assert!(matches!(
        c4.commands.try_recv(),
        Ok(Command::Reject { status: 486, .. })
    ));
    let v: Value = announced
        .try_recv()
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    assert_eq!(v["control"], "fallback");
}

/// An entry point whose flow plays `prompt` twice, then hangs up.
fn flow_playing(prompt: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/prompts");
    format!(
        r#"
[[prompt]]
name = "{prompt}"
file = "{dir}/{prompt}.wav"

[[entry_point]]
name = "line"
numbers = ["+15550100"]
flow = "ivr"

[[flow]]
name = "ivr"
start = "hello"

[[flow.node]]
id = "hello"
kind = "play_message"
prompts = ["{prompt}"]
outputs = {{ next = "again" }}

[[flow.node]]
id = "again"
kind = "play_message"
prompts = ["{prompt}"]
outputs = {{ next = "bye" }}

[[flow.node]]
id = "bye"
kind = "disconnect"
"#
    )
}

fn played(cmd: Option<Command>) -> String {
    match cmd {
        Some(Command::Play {
            source: voxgate_edge::control_plane::PlaySource::Prompt(p),
            ..
        }) => p,
        other => panic!("a Play of one prompt: {other:?}"),
    }
}

#[tokio::test]
async fn an_entry_points_call_runs_its_flow_on_the_configuration_it_started_with() {
    let config = shared(&flow_playing("welcome"));
    let d = Dispatcher::new(config.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mut first = incoming(&d, 1, "pstn", "+15550100");
    assert!(matches!(
        first.commands.recv().await,
        Some(Command::Answer { .. })
    ));
    assert_eq!(played(first.commands.recv().await), "welcome");
    // A reload changes the flow's prompt: the running call keeps its version.
    let text = crate::api::tests::config_text(&flow_playing("goodbye"));
    let reloaded = voxgate_config::load_str(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    config.store(std::sync::Arc::new(reloaded));
    first
        ._events
        .send(Event::PlaybackDone {
            leg: LegId(1),
            id: voxgate_edge::control_plane::PlaybackId(1),
            reason: voxgate_edge::control_plane::PlaybackEnd::Finished,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(played(first.commands.recv().await), "welcome");
    // A new call takes the new version.
    let mut second = incoming(&d, 2, "pstn", "+15550100");
    second.commands.recv().await;
    assert_eq!(played(second.commands.recv().await), "goodbye");
    // Another number follows the routes as before.
    let mut routed = incoming(&d, 3, "pstn", "+15550101");
    assert!(matches!(
        routed.commands.recv().await,
        Some(Command::Reject { status: 404, .. })
    ));
}
