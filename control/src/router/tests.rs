//! Routing tables, destination URIs, and the router's session handling over fake channels.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use voxgate_config::{Config, ListenerTransport, TrunkName, load_str};
use voxgate_edge::control_plane::{
    Command, ControlPlane, ConversationId, ConversationInfo, Destination, Dial, Event, Inbound,
    LegId, Party, Session,
};

use super::{StaticRouter, called_number, decide, destination_uri, escape_user, route};
use voxgate_edge::admission::transport_kind;

const BASE: &str = r#"[node]
name = "n1"
region = "r1"

[[listener]]
transport = "udp"
address = "127.0.0.1:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[trunk]]
name = "uk"
allow = ["192.0.2.0/28"]
numbering = { country_code = "44", national_prefix = "0", international_prefix = "00" }

[[trunk]]
name = "raw"
allow = ["192.0.2.16/28"]
"#;

const ROUTES: &str = r#"
[[route]]
name = "emergency"
match_user = { exact = "999" }
destinations = [{ uri = "sip:999@198.51.100.1", transport = "tcp", trunk = "raw" }]

[[route]]
name = "london-from-uk"
trunk = "uk"
match_user = { prefix = "+4420" }
ring_timeout_s = 20
follow_redirects = true
destinations = [
    { uri = "sip:198.51.100.2:5060", trunk = "raw" },
    { uri = "sips:[2001:db8::2]:5061;transport=tls" },
]

[[route]]
name = "berlin-hamburg"
match_user = { regex = '^\+49(30|40)[0-9]+$' }
destinations = [{ uri = "sip:198.51.100.3" }]

[[route]]
name = "uk-rest"
match_user = { prefix = "+44" }
destinations = [{ uri = "sip:198.51.100.4" }]
"#;

fn config(extra: &str) -> Config {
    let text = format!("{BASE}{extra}");
    match load_str(&text, "test.toml") {
        Ok(c) => c,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn trunk(name: &str) -> TrunkName {
    TrunkName::new(name).unwrap()
}

fn route_name<'a>(config: &'a Config, from: &str, user: Option<&str>) -> Option<&'a str> {
    route(config, &trunk(from), user).map(|r| r.name.as_str())
}

fn dest(uri: &str, transport: ListenerTransport, trunk_name: Option<&str>) -> Destination {
    Destination {
        uri: uri.to_owned(),
        transport: transport_kind(transport),
        trunk: trunk_name.map(trunk),
    }
}

#[test]
fn routing_table() {
    let c = config(ROUTES);
    let table: &[(&str, Option<&str>, Option<&str>)] = &[
        // exact, first in file order
        ("uk", Some("999"), Some("emergency")),
        ("raw", Some("999"), Some("emergency")),
        ("uk", Some("9999"), None),
        // prefix, with the trunk filter
        ("uk", Some("+442071234567"), Some("london-from-uk")),
        ("raw", Some("+442071234567"), Some("uk-rest")),
        ("uk", Some("+441611234567"), Some("uk-rest")),
        // regex, anchored by its pattern
        ("raw", Some("+49301234567"), Some("berlin-hamburg")),
        ("uk", Some("+49401234567"), Some("berlin-hamburg")),
        ("raw", Some("+4930"), None),
        ("raw", Some("+49891234567"), None),
        ("raw", Some("0049301234567"), None),
        // no user: only a catch-all would take it
        ("uk", None, None),
        // a trunk the config does not know: only routes without a trunk filter
        ("elsewhere", Some("+442071234567"), Some("uk-rest")),
    ];
    for (from, user, expected) in table {
        assert_eq!(route_name(&c, from, *user), *expected, "{from} {user:?}");
    }
}

#[test]
fn first_match_in_file_order_wins() {
    // A broad route before a narrower one takes the calls both match. (A route that an
    // earlier one takes every call of is a config error; a regex is not checked for it.)
    let c = config(
        r#"
[[route]]
name = "uk"
match_user = { prefix = "+44" }
destinations = [{ uri = "sip:198.51.100.9" }]

[[route]]
name = "london-or-999"
match_user = { regex = '^(\+4420|999)' }
destinations = [{ uri = "sip:198.51.100.8" }]

[[route]]
name = "all"
match_user = { prefix = "" }
destinations = [{ uri = "sip:198.51.100.7" }]
"#,
    );
    assert_eq!(route_name(&c, "uk", Some("+442071234567")), Some("uk"));
    assert_eq!(route_name(&c, "uk", Some("999")), Some("london-or-999"));
    // The catch-all takes calls without a user too.
    assert_eq!(route_name(&c, "uk", None), Some("all"));
    assert_eq!(route_name(&c, "uk", Some("")), Some("all"));
    // No routes at all: nothing matches.
    assert_eq!(route_name(&config(""), "uk", Some("1")), None);
}

#[test]
fn called_number_uses_the_inbound_trunks_numbering() {
    let c = config("");
    let n = |from: &str, user: Option<&str>| called_number(&c, &trunk(from), user);
    assert_eq!(
        n("uk", Some("020 7123 4567")).as_deref(),
        Some("+442071234567")
    );
    assert_eq!(
        n("uk", Some("0049301234567")).as_deref(),
        Some("+49301234567")
    );
    // No numbering on this trunk (or an unknown trunk): as dialled.
    assert_eq!(
        n("raw", Some("020 7123 4567")).as_deref(),
        Some("020 7123 4567")
    );
    assert_eq!(
        n("elsewhere", Some("02071234567")).as_deref(),
        Some("02071234567")
    );
    assert_eq!(n("uk", None), None);
}

#[test]
fn connect_with_destinations_in_order() {
    let c = config(ROUTES);
    // Normalised, then routed; URIs without a user get the number.
    assert_eq!(
        decide(&c, &trunk("uk"), LegId(1), Some("020 7123 4567")),
        Command::Dial(
            Dial::new(vec![
                dest(
                    "sip:+442071234567@198.51.100.2:5060",
                    ListenerTransport::Udp,
                    Some("raw")
                ),
                dest(
                    "sips:+442071234567@[2001:db8::2]:5061;transport=tls",
                    ListenerTransport::Tls,
                    None
                ),
            ])
            .connect(LegId(1))
            .ring_timeout(Duration::from_secs(20))
            .follow_redirects(true)
        )
    );
    // A URI with a user is sent as configured; the ring timeout defaults to [calls].
    assert_eq!(
        decide(&c, &trunk("raw"), LegId(1), Some("999")),
        Command::Dial(
            Dial::new(vec![dest(
                "sip:999@198.51.100.1",
                ListenerTransport::Tcp,
                Some("raw")
            )])
            .connect(LegId(1))
            .ring_timeout(Duration::from_secs(60))
        )
    );
    let c = config(&format!("{ROUTES}\n[calls]\nring_timeout_s = 45\n"));
    let Command::Dial(dial) = decide(&c, &trunk("raw"), LegId(1), Some("+4930123")) else {
        panic!("not routed")
    };
    assert_eq!(dial.ring_timeout, Some(Duration::from_secs(45)));
}

#[test]
fn no_route_is_404() {
    let c = config(ROUTES);
    let reject = Command::Reject {
        status: 404,
        reason: None,
    };
    // Not normalised on a trunk without numbering, so "+44" routes do not take it.
    assert_eq!(
        decide(&c, &trunk("raw"), LegId(1), Some("02071234567")),
        reject
    );
    assert_eq!(decide(&c, &trunk("uk"), LegId(1), None), reject);
}

#[test]
fn a_call_without_a_user_keeps_the_configured_uri() {
    let c = config(
        "[[route]]\nname = \"all\"\nmatch_user = { prefix = \"\" }\n\
         destinations = [{ uri = \"sip:198.51.100.9\" }]\n",
    );
    let Command::Dial(dial) = decide(&c, &trunk("uk"), LegId(1), None) else {
        panic!("not routed")
    };
    assert_eq!(dial.destinations[0].uri, "sip:198.51.100.9");
}

#[test]
fn destination_uris() {
    let n = Some("+442071234567");
    let table = [
        ("sip:198.51.100.2", n, "sip:+442071234567@198.51.100.2"),
        (
            "sip:198.51.100.2:5070;transport=tcp",
            n,
            "sip:+442071234567@198.51.100.2:5070;transport=tcp",
        ),
        ("SIP:[2001:db8::2]", n, "SIP:+442071234567@[2001:db8::2]"),
        ("sips:sbc.example", n, "sips:+442071234567@sbc.example"),
        // '@' in a header is not a user part.
        (
            "sip:h.example?x=a@b",
            n,
            "sip:+442071234567@h.example?x=a@b",
        ),
        // A user part is kept as configured.
        ("sip:112@198.51.100.1", n, "sip:112@198.51.100.1"),
        ("sip:gw@h;x=1", n, "sip:gw@h;x=1"),
        // No number: as configured.
        ("sip:198.51.100.2", None, "sip:198.51.100.2"),
        ("sip:198.51.100.2", Some(""), "sip:198.51.100.2"),
    ];
    for (uri, number, expected) in table {
        assert_eq!(destination_uri(uri, number), expected, "{uri} {number:?}");
    }
}

#[test]
fn users_are_escaped() {
    assert_eq!(escape_user("+442071234567"), "+442071234567");
    assert_eq!(escape_user("*21#"), "*21%23");
    assert_eq!(escape_user("a b@c:d"), "a%20b%40c%3Ad");
    assert_eq!(escape_user("%41b"), "%41b");
    assert_eq!(escape_user("100%"), "100%25");
    assert_eq!(escape_user("%4g"), "%254g");
    assert_eq!(escape_user("\u{e9}"), "%C3%A9");
    assert_eq!(escape_user("alice;isub=1"), "alice;isub=1");
}

/// The edge's end of a conversation's channels.
struct FakeEdge {
    events: mpsc::Sender<Event>,
    commands: mpsc::Receiver<Command>,
}

fn fake_session(id: u64, from: &str, user: Option<&str>) -> (Session, FakeEdge) {
    let (event_tx, event_rx) = mpsc::channel(8);
    let (command_tx, command_rx) = mpsc::channel(8);
    let party = |u: &str| Party {
        display: None,
        user: Some(u.to_owned()),
        uri: format!("sip:{u}@192.0.2.1"),
    };
    let inbound = Inbound::new(
        LegId(1),
        trunk(from),
        "r1".into(),
        party("caller"),
        party(user.unwrap_or("")),
        user.map(str::to_owned),
    );
    let session = Session {
        info: ConversationInfo::new(ConversationId(id), Some(inbound)),
        events: event_rx,
        commands: command_tx,
    };
    let edge = FakeEdge {
        events: event_tx,
        commands: command_rx,
    };
    (session, edge)
}

fn shared(c: Config) -> voxgate_edge::SharedConfig {
    Arc::new(ArcSwap::from_pointee(c))
}

#[test]
fn a_call_is_routed_at_once_and_its_session_let_go() {
    let router = StaticRouter::new(shared(config(ROUTES)));
    let (session, mut edge) = fake_session(1, "uk", Some("02071234567"));
    router.incoming(session);
    let Command::Dial(dial) = edge.commands.try_recv().unwrap() else {
        panic!("not routed")
    };
    assert_eq!(dial.destinations.len(), 2);
    assert_eq!(dial.connect, Some(LegId(1)), "connected to the inbound leg");
    assert_eq!(
        dial.destinations[0].uri,
        "sip:+442071234567@198.51.100.2:5060"
    );
    // Nothing more to say: the router let go of the session (the edge sees
    // the commands closed and stops sending events).
    assert!(edge.commands.try_recv().is_err());
    assert!(edge.events.is_closed());
    assert_eq!(
        edge.commands.blocking_recv(),
        None,
        "the command channel is closed"
    );
}

#[test]
fn no_route_rejects_with_404() {
    let router = StaticRouter::new(shared(config(ROUTES)));
    let (session, mut edge) = fake_session(2, "raw", Some("0800123456"));
    router.incoming(session);
    assert_eq!(
        edge.commands.try_recv().ok(),
        Some(Command::Reject {
            status: 404,
            reason: None
        })
    );
}

#[test]
fn an_originated_conversation_is_not_the_routers() {
    let router = StaticRouter::new(shared(config(ROUTES)));
    let (event_tx, event_rx) = mpsc::channel(8);
    let (command_tx, mut command_rx) = mpsc::channel(8);
    router.incoming(Session {
        info: ConversationInfo::new(ConversationId(3), None),
        events: event_rx,
        commands: command_tx,
    });
    assert!(command_rx.try_recv().is_err());
    drop(event_tx);
}

#[test]
fn a_reload_applies_to_the_next_call_only() {
    let shared = shared(config(ROUTES));
    let router = StaticRouter::new(Arc::clone(&shared));
    let (first, mut first_edge) = fake_session(5, "raw", Some("+49301234567"));
    router.incoming(first);
    let Command::Dial(dial) = first_edge.commands.try_recv().unwrap() else {
        panic!("not routed")
    };
    assert_eq!(dial.destinations[0].uri, "sip:+49301234567@198.51.100.3");

    // The new configuration sends Berlin elsewhere.
    shared.store(Arc::new(config(
        "[[route]]\nname = \"moved\"\nmatch_user = { prefix = \"+4930\" }\n\
         destinations = [{ uri = \"sip:203.0.113.30\" }]\n",
    )));
    let (second, mut second_edge) = fake_session(6, "raw", Some("+49301234567"));
    router.incoming(second);
    let Command::Dial(dial) = second_edge.commands.try_recv().unwrap() else {
        panic!("not routed")
    };
    assert_eq!(dial.destinations[0].uri, "sip:+49301234567@203.0.113.30");
}

#[test]
fn a_parallel_route_rings_its_destinations_at_once() {
    let c = config(
        "[[route]]\nname = \"group\"\nmatch_user = { prefix = \"\" }\nparallel = true\n\
         destinations = [{ uri = \"sip:198.51.100.9\" }, { uri = \"sip:198.51.100.10\" }]\n",
    );
    let Command::Dial(dial) = decide(&c, &trunk("raw"), LegId(1), Some("100")) else {
        panic!("not routed")
    };
    assert!(dial.parallel);
    assert_eq!(dial.destinations.len(), 2);
    let Command::Dial(dial) = decide(&config(ROUTES), &trunk("raw"), LegId(1), Some("999")) else {
        panic!("not routed")
    };
    assert!(!dial.parallel, "in order unless the route says so");
}
