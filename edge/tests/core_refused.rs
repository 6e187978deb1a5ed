//! The edge core and requests it refuses before any transaction: what the
//! strict parser or `validate` rejects is answered (400 naming the fault,
//! 505 for another SIP version) when it is an answerable request, dropped
//! otherwise, and always counted; and header values that are not UTF-8 no
//! longer make a request vanish.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;
use voxgate_edge::conversation::{Input as CallInput, Locals};
use voxgate_edge::core::Core;
use voxgate_edge::metrics::Metrics;
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{HeaderName, Limits, Message};
use voxgate_sip::transport::{Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind};

const CONF: &str = r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[trunk]]
name = "a"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#;

struct Harness {
    core: Core,
    metrics: Metrics,
    peer: Peer,
}

impl Harness {
    fn new() -> Harness {
        let config = voxgate_config::load_str(CONF, "test.toml").unwrap();
        let metrics = Metrics::new("test").unwrap();
        let locals = Locals {
            udp: Some(LocalAddr::new(
                TransportKind::Udp,
                "127.0.0.1:5060".parse().unwrap(),
            )),
            ..Locals::default()
        };
        Harness {
            core: Core::new(std::sync::Arc::new(config), metrics.clone(), locals),
            metrics,
            peer: Peer {
                transport: TransportKind::Udp,
                addr: "127.0.0.1:5080".parse::<SocketAddr>().unwrap(),
                conn: None,
            },
        }
    }

    fn feed(&mut self, raw: &[u8]) {
        let incoming = Incoming {
            bytes: Bytes::copy_from_slice(raw),
            peer: self.peer,
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        };
        self.core
            .handle_transport(Instant::now(), TransportEvent::Message(incoming));
    }

    fn sent(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            assert_eq!(t.to, self.peer, "answers go back to the source");
            out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
        }
        out
    }

    /// The sum of `voxgate_sip_parse_errors_total` over its series.
    fn parse_errors(&self) -> u64 {
        self.metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("voxgate_sip_parse_errors_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

fn torture_invalid() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/torture/invalid");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn rfc4475_invalid_messages_get_400_or_505_unless_they_are_responses() {
    let mut h = Harness::new();
    for (name, raw) in torture_invalid() {
        let errors = h.parse_errors();
        h.feed(&raw);
        assert_eq!(h.parse_errors(), errors + 1, "{name}: counted");
        let sent = h.sent();
        match name.as_str() {
            // Responses are never answered.
            "bigcode" | "scalarlg" => assert!(sent.is_empty(), "{name}: {sent:?}"),
            _ => {
                assert_eq!(sent.len(), 1, "{name}");
                let want = if name == "badvers" { 505 } else { 400 };
                assert_eq!(sent[0].status(), Some(want), "{name}");
                assert!(!sent[0].reason().unwrap_or("").is_empty(), "{name}");
                // Our tag, where the To reads (badaspec's and quotbal's do not).
                if let Ok(to) = sent[0].to_header() {
                    assert!(to.tag().is_some(), "{name}");
                }
            }
        }
    }
}

fn options(first_line: &str, extra: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "{first_line}\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKr1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:svc@127.0.0.1>\r\n\
         Call-ID: refused@test\r\n\
         CSeq: 1 OPTIONS\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(extra);
    raw.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    raw
}

#[test]
fn another_sip_version_gets_505() {
    let mut h = Harness::new();
    h.feed(&options(
        "OPTIONS sip:svc@127.0.0.1 SIP/3.0",
        b"From: <sip:c@127.0.0.1>;tag=1\r\n",
    ));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].status(), sent[0].reason()),
        (Some(505), Some("Version Not Supported"))
    );
    assert_eq!(sent[0].top_via().unwrap().branch(), Some("z9hG4bKr1"));
    assert!(h.metrics.render().contains(
        r#"voxgate_sip_parse_errors_total{reason="unsupported_version",transport="udp"} 1"#
    ));
}

#[test]
fn a_malformed_request_line_gets_400_naming_it() {
    let mut h = Harness::new();
    h.feed(&options(
        "OPTIONS  sip:svc@127.0.0.1 SIP/2.0",
        b"From: <sip:c@127.0.0.1>;tag=1\r\n",
    ));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].status(), sent[0].reason()),
        (Some(400), Some("Malformed Request-Line"))
    );
    assert_eq!(sent[0].call_id().unwrap(), "refused@test");
}

#[test]
fn a_broken_ack_or_response_is_dropped_but_counted() {
    let mut h = Harness::new();
    h.feed(&options(
        "ACK  sip:svc@127.0.0.1 SIP/2.0",
        b"From: <sip:c@127.0.0.1>;tag=1\r\n",
    ));
    h.feed(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
          Content-Length: -5\r\n\r\n",
    );
    h.feed(&options("OPTIONS sip:svc@127.0.0.1 SIP/2.0", b"Via: nonsense\r\n").replace_via());
    assert!(h.sent().is_empty());
    assert_eq!(h.parse_errors(), 3);
}

/// Test helper: drop the good Via so only an unreadable one is left.
trait ReplaceVia {
    fn replace_via(self) -> Vec<u8>;
}

impl ReplaceVia for Vec<u8> {
    fn replace_via(self) -> Vec<u8> {
        let text = String::from_utf8(self).unwrap();
        text.replace("Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKr1\r\n", "")
            .replace(
                "Max-Forwards: 70\r\n",
                "Max-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=1\r\n",
            )
            .into_bytes()
    }
}

/// Before the message model took header values as bytes, both of these
/// failed to parse (`NotUtf8`) and were dropped unanswered.
#[test]
fn a_latin1_display_name_gets_its_normal_answers() {
    let mut h = Harness::new();
    let from =
        b"From: \"Jos\xe9 M\xfcller\" <sip:+3312345@127.0.0.1>;tag=l1\r\nSubject: caf\xe9\r\n";
    h.feed(&options("OPTIONS sip:svc@127.0.0.1 SIP/2.0", from));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(
        sent[0].header_bytes(HeaderName::From),
        Some(&b"\"Jos\xe9 M\xfcller\" <sip:+3312345@127.0.0.1>;tag=l1"[..]),
        "the From is echoed as received"
    );
    assert_eq!(h.parse_errors(), 0);

    let invite = String::from_utf8_lossy(&options("INVITE sip:1001@127.0.0.1 SIP/2.0", b""))
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE")
        .replace("branch=z9hG4bKr1", "branch=z9hG4bKr2")
        .replace("Call-ID: refused@test", "Call-ID: latin1-invite@test");
    let mut raw = invite.into_bytes();
    let at = raw.windows(4).position(|w| w == b"To: ").unwrap();
    raw.splice(at..at, from.iter().copied());
    h.feed(&raw);
    assert_eq!(
        h.sent()
            .iter()
            .map(|m| m.status().unwrap())
            .collect::<Vec<_>>(),
        [100]
    );
    let mut call = h.core.poll_spawn().expect("a call is spawned");
    match call.input.try_recv().map(|input| *input) {
        Ok(CallInput::Invite { request, .. }) => {
            let from = request.from_header().unwrap();
            assert_eq!(from.display_lossy().as_deref(), Some("José Müller"));
            assert_eq!(from.tag(), Some("l1"));
        }
        other => panic!("expected the INVITE, got {other:?}"),
    }
}
