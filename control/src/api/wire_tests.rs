//! The JSON of every command body, into the contract's commands, and the checks at the
//! boundary with their messages.

use std::time::Duration;

use serde::de::DeserializeOwned;
use voxgate_config::{Config, TrunkName, load_str};
use voxgate_edge::control_plane::{CallerId, Command, ConversationId, Destination, Dial, LegId};
use voxgate_sip::TransportKind;

use super::*;

const CONFIG: &str = r#"[node]
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
name = "agents"
allow = ["192.0.2.0/24"]
[[trunk]]
name = "pstn"
allow = ["198.51.100.0/24"]
"#;

fn config() -> Config {
    load_str(CONFIG, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn body<T: DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn dial(json: &str) -> Result<Dial, ControlError> {
    body::<DialBody>(json).into_dial(&config(), "")
}

/// The message of a refusal, which must be `Invalid` at `field`.
fn refused<T: std::fmt::Debug>(result: Result<T, ControlError>, field: &str) -> String {
    match result {
        Err(ControlError::Invalid {
            field: f,
            found,
            allowed,
        }) => {
            assert_eq!(f, field, "{found}; {allowed}");
            ControlError::Invalid {
                field: f,
                found,
                allowed,
            }
            .to_string()
        }
        other => panic!("expected a refusal at {field}, got {other:?}"),
    }
}

fn trunk(name: &str) -> TrunkName {
    TrunkName::new(name).unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn a_whole_dial() {
    let got = dial(
        r#"{
            "destinations": [
                {"uri": "sip:1000@192.0.2.5:5060", "transport": "tcp", "trunk": "agents"},
                {"uri": "sips:1001@192.0.2.6"},
                {"uri": "sip:1002@192.0.2.7"}
            ],
            "parallel": true,
            "ring_timeout_s": 20,
            "caller_id": {"display": "Sales", "user": "+442071234567"},
            "follow_redirects": true,
            "connect": 1
        }"#,
    );
    let expected = Dial::new(vec![
        Destination {
            uri: "sip:1000@192.0.2.5:5060".into(),
            transport: TransportKind::Tcp,
            trunk: Some(trunk("agents")),
        },
        Destination {
            uri: "sips:1001@192.0.2.6".into(),
            transport: TransportKind::Tls,
            trunk: None,
        },
        Destination {
            uri: "sip:1002@192.0.2.7".into(),
            transport: TransportKind::Udp,
            trunk: None,
        },
    ])
    .parallel()
    .ring_timeout(Duration::from_secs(20))
    .caller_id(CallerId {
        display: Some("Sales".into()),
        user: Some("+442071234567".into()),
    })
    .follow_redirects(true)
    .connect(LegId(1));
    assert_eq!(got.ok(), Some(expected));
}

#[test]
fn a_minimal_dial_takes_the_defaults() {
    let got = dial(r#"{"destinations": [{"uri": "sip:1000@192.0.2.5"}]}"#);
    let expected = Dial::new(vec![Destination {
        uri: "sip:1000@192.0.2.5".into(),
        transport: TransportKind::Udp,
        trunk: None,
    }]);
    assert_eq!(got.ok(), Some(expected));
}

#[test]
fn dial_values_out_of_range() {
    let text = refused(dial(r#"{"destinations": []}"#), "destinations");
    assert_eq!(
        text,
        "destinations: a list of 0 is not valid; allowed: 1 to 16 destinations"
    );
    let many = vec![r#"{"uri": "sip:a@192.0.2.1"}"#; 17].join(",");
    refused(
        dial(&format!(r#"{{"destinations": [{many}]}}"#)),
        "destinations",
    );
    let one = r#""destinations": [{"uri": "sip:a@192.0.2.1"}]"#;
    for bad in ["0", "3601"] {
        let text = refused(
            dial(&format!("{{{one}, \"ring_timeout_s\": {bad}}}")),
            "ring_timeout_s",
        );
        assert!(text.ends_with("allowed: seconds 1..=3600"), "{text}");
    }
    assert!(dial(&format!("{{{one}, \"ring_timeout_s\": 3600}}")).is_ok());
    assert!(dial(&format!("{{{one}, \"ring_timeout_s\": 1}}")).is_ok());
    refused(dial(&format!("{{{one}, \"connect\": 0}}")), "connect");
}

#[test]
fn destination_uris_that_could_break_a_sip_message_are_refused() {
    for bad in [
        "tel:+442071234567",
        "sip:",
        "sip:1000@",
        "sip:1000@192.0.2.5\r\nX-Evil: 1",
        "sip:10 00@192.0.2.5",
        "sip:<1000>@192.0.2.5",
        "sip:1000@192.0.2.5\"",
        "sip:1000@;x",
        "http://192.0.2.5/",
        "sip:1000@192.0.2.5\u{e9}",
    ] {
        let json = serde_json::json!({"destinations": [{"uri": bad}]}).to_string();
        let text = refused(dial(&json), "destinations[0].uri");
        assert!(text.contains("a sip: or sips: URI with a host"), "{text}");
    }
    let long = format!("sip:{}@192.0.2.5", "1".repeat(MAX_URI));
    let json = serde_json::json!({"destinations": [{"uri": long}]}).to_string();
    refused(dial(&json), "destinations[0].uri");
    // Parameters and headers, and the scheme in any case, are fine.
    assert!(
        dial(r#"{"destinations": [{"uri": "SIP:1000@192.0.2.5;transport=tcp?X-A=b"}]}"#).is_ok()
    );
}

#[test]
fn transports_and_trunks() {
    let text = refused(
        dial(r#"{"destinations": [{"uri": "sips:1@192.0.2.5", "transport": "udp"}]}"#),
        "destinations[0].transport",
    );
    assert_eq!(
        text,
        "destinations[0].transport: \"udp\" is not valid; allowed: \"tls\" (or leave it out) for a sips: URI"
    );
    let text = refused(
        dial(
            r#"{"destinations": [{"uri": "sip:1@192.0.2.5"}, {"uri": "sip:2@192.0.2.5", "trunk": "nope"}]}"#,
        ),
        "destinations[1].trunk",
    );
    assert_eq!(
        text,
        "destinations[1].trunk: \"nope\" is not valid; allowed: one of \"agents\", \"pstn\""
    );
    // An unknown transport name is the JSON parser's to refuse, naming the field.
    let e = serde_json::from_str::<DialBody>(
        r#"{"destinations": [{"uri": "sip:1@x", "transport": "sctp"}]}"#,
    );
    assert!(e.is_err());
}

#[test]
fn caller_ids() {
    let with = |c: &str| {
        dial(&format!(
            r#"{{"destinations": [{{"uri": "sip:1@192.0.2.5"}}], "caller_id": {c}}}"#
        ))
    };
    assert!(with(r#"{"display": "Zoë's desk", "user": "+44(20)7946-0000"}"#).is_ok());
    assert!(with("{}").is_ok());
    for bad in [
        r#"{"display": "a\"b"}"#,
        r#"{"display": "a\r\nb"}"#,
        r#"{"display": "a\\b"}"#,
    ] {
        refused(with(bad), "caller_id.display");
    }
    let long = format!(r#"{{"display": "{}"}}"#, "x".repeat(MAX_TEXT + 1));
    refused(with(&long), "caller_id.display");
    for bad in [
        r#"{"user": ""}"#,
        r#"{"user": "a b"}"#,
        r#"{"user": "a@b"}"#,
        r#"{"user": "a>"}"#,
    ] {
        refused(with(bad), "caller_id.user");
    }
}

#[test]
fn unknown_fields_are_refused() {
    assert!(serde_json::from_str::<DialBody>(r#"{"destinations": [], "parralel": true}"#).is_err());
    assert!(serde_json::from_str::<BridgeBody>(r#"{"a": 1, "b": 2, "c": 3}"#).is_err());
    assert!(serde_json::from_str::<AnswerBody>(r#"{"earl": true}"#).is_err());
}

#[test]
fn originate_and_transfer_bodies_prefix_their_fields() {
    let o: OriginateBody =
        body(r#"{"dial": {"destinations": [{"uri": "sip:1@192.0.2.5", "trunk": "x"}]}}"#);
    refused(
        o.dial.into_dial(&config(), "dial."),
        "dial.destinations[0].trunk",
    );
    let t: TransferBody = body(r#"{"dial": {"destinations": [{"uri": "sip:2002@192.0.2.7"}]}}"#);
    let got = t.into_command(&config(), LegId(2));
    let expected = Command::AcceptTransfer {
        leg: LegId(2),
        dial: Dial::new(vec![Destination {
            uri: "sip:2002@192.0.2.7".into(),
            transport: TransportKind::Udp,
            trunk: None,
        }]),
    };
    assert_eq!(got.ok(), Some(expected));
    let t: TransferBody = body(r#"{"dial": {"destinations": []}}"#);
    refused(t.into_command(&config(), LegId(2)), "dial.destinations");
}

#[test]
fn reject_bodies() {
    let r: RejectBody = body(r#"{"status": 486}"#);
    assert_eq!(
        r.into_command().ok(),
        Some(Command::Reject {
            status: 486,
            reason: None
        })
    );
    let r: RejectBody = body(r#"{"status": 603, "reason": "Not Today"}"#);
    assert_eq!(
        r.into_command().ok(),
        Some(Command::Reject {
            status: 603,
            reason: Some("Not Today".into())
        })
    );
    for status in [200, 399, 700] {
        let r: RejectBody = body(&format!(r#"{{"status": {status}}}"#));
        let text = refused(r.into_command(), "status");
        assert!(text.ends_with("allowed: 400..=699"), "{text}");
    }
    let r: RejectBody = body(r#"{"status": 486, "reason": "Busy\r\nX-Evil: 1"}"#);
    refused(r.into_command(), "reason");
    let r: RejectBody = body(r#"{"status": 486, "reason": ""}"#);
    refused(r.into_command(), "reason");
    // Not a number at all: the JSON parser's.
    assert!(serde_json::from_str::<RejectBody>(r#"{"status": -1}"#).is_err());
}

#[test]
fn bridge_answer_and_hangup() {
    let b: BridgeBody = body(r#"{"a": 1, "b": 2}"#);
    assert_eq!(
        b.into_command().ok(),
        Some(Command::Bridge {
            a: LegId(1),
            b: LegId(2)
        })
    );
    let b: BridgeBody = body(r#"{"a": 0, "b": 2}"#);
    refused(b.into_command(), "a");
    let a: AnswerBody = body(r#"{"early": true}"#);
    assert!(a.early);
    assert!(!AnswerBody::default().early);
    assert_eq!(
        HangupQuery::default().into_command(LegId(3)).ok(),
        Some(Command::Hangup {
            leg: Some(LegId(3)),
            status: None
        })
    );
    let q = HangupQuery { status: Some(486) };
    assert_eq!(
        q.into_command(LegId(1)).ok(),
        Some(Command::Hangup {
            leg: Some(LegId(1)),
            status: Some(486)
        })
    );
    refused(
        HangupQuery { status: Some(180) }.into_command(LegId(1)),
        "status",
    );
}

#[test]
fn path_ids() {
    assert_eq!(conversation_id("c17").ok(), Some(ConversationId(17)));
    assert_eq!(conversation_id("c0").ok(), Some(ConversationId(0)));
    for bad in [
        "17",
        "c",
        "c-1",
        "c+1",
        "C17",
        "c1x",
        "c99999999999999999999999",
    ] {
        let text = refused(conversation_id(bad), "conversation");
        assert!(text.contains("such as \"c17\""), "{text}");
    }
    assert_eq!(leg_id("2").ok(), Some(LegId(2)));
    for bad in ["0", "-1", "+1", "x", "", "4294967296"] {
        refused(leg_id(bad), "leg");
    }
}
