//! The edge core on a simulated clock: messages in, transmits out, no sockets.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_edge::core::Core;
use voxgate_edge::metrics::Metrics;
use voxgate_sip::message::{HeaderName, Limits, Message};
use voxgate_sip::transport::{Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind};

const CONF: &str = r#"
[node]
name = "t"
region = "r"
[sip.limits]
max_message_size = 2048
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
    now: Instant,
    peer: Peer,
}

impl Harness {
    fn new() -> Harness {
        let config = voxgate_config::load_str(CONF, "test.toml").unwrap();
        let metrics = Metrics::new("test").unwrap();
        let peer = Peer {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5080".parse::<SocketAddr>().unwrap(),
            conn: None,
        };
        Harness {
            core: Core::new(&config, metrics.clone()),
            metrics,
            now: Instant::now(),
            peer,
        }
    }

    fn feed(&mut self, text: &str) {
        self.feed_bytes(Bytes::from(text.to_string()), false);
    }

    fn feed_bytes(&mut self, bytes: Bytes, oversized: bool) {
        let incoming = Incoming {
            bytes,
            peer: self.peer,
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        while let Some(t) = self.core.poll_timeout() {
            if t > self.now {
                break;
            }
            self.core.handle_timeout(t);
        }
    }

    /// Every message the core wants sent now, parsed.
    fn sent(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            assert_eq!(t.to, self.peer, "responses go back to the source");
            out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
        }
        out
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.sent().iter().map(|m| m.status().unwrap()).collect()
    }

    fn metric(&self, needle: &str) -> bool {
        self.metrics.render().lines().any(|l| l == needle)
    }
}

fn request(method: &str, branch: &str, extra: &str) -> String {
    format!(
        "{method} sip:svc@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@127.0.0.1>;tag=f1\r\n\
         To: <sip:svc@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn options_gets_200_with_capabilities_and_a_to_tag() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKo1", ""));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.status(), Some(200));
    assert!(r.header(HeaderName::Allow).unwrap().contains("OPTIONS"));
    assert_eq!(r.header(HeaderName::Accept), Some("application/sdp"));
    assert!(r.header(HeaderName::Supported).is_some());
    assert!(r.to_header().unwrap().tag().is_some());
    assert_eq!(r.call_id().unwrap(), "z9hG4bKo1@test");
    assert!(h.metric(r#"voxgate_sip_responses_total{direction="out",method="OPTIONS",status_class="2xx",transport="udp"} 1"#));
    assert!(h.metric(
        r#"voxgate_sip_requests_total{direction="in",method="OPTIONS",transport="udp"} 1"#
    ));
}

#[test]
fn a_missing_mandatory_header_gets_400_naming_it() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKm1", "").replace("Max-Forwards: 70\r\n", ""));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(400));
    assert!(
        sent[0].reason().unwrap().contains("Max-Forwards"),
        "{:?}",
        sent[0].reason()
    );
    assert!(
        h.metric(r#"voxgate_sip_parse_errors_total{reason="invalid_header",transport="udp"} 1"#)
    );
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut h = Harness::new();
    h.feed("HELLO WORLD\r\n\r\n");
    assert!(h.sent().is_empty());
    assert!(
        h.metrics
            .render()
            .contains("voxgate_sip_parse_errors_total")
    );
}

#[test]
fn invite_gets_100_then_480_and_a_retransmission_is_absorbed() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKi1", "");
    h.feed(&invite);
    assert_eq!(h.statuses(), [100, 480]);
    h.feed(&invite);
    assert_eq!(
        h.statuses(),
        [480],
        "the final response is resent, nothing new starts"
    );
    assert!(h.metric(r#"voxgate_sip_transactions_total{kind="invite_server"} 1"#));
}

#[test]
fn the_480_is_retransmitted_by_timer_g_until_the_ack() {
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKg1", ""));
    assert_eq!(h.statuses(), [100, 480]);
    h.advance(Duration::from_millis(499));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.statuses(), [480], "timer G at T1");
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.statuses(), [480], "timer G doubled");
    // The ACK for a non-2xx carries the To tag of the response.
    h.feed(
        &request("ACK", "z9hG4bKg1", "")
            .replace("To: <sip:svc@127.0.0.1>", "To: <sip:svc@127.0.0.1>;tag=any"),
    );
    assert!(h.sent().is_empty(), "ACK gets no response");
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty(), "no retransmission after the ACK");
    assert_eq!(
        h.core.active_transactions(),
        0,
        "timer I ended the transaction"
    );
}

#[test]
fn out_of_dialog_bye_is_481_and_register_405() {
    let mut h = Harness::new();
    h.feed(&request("BYE", "z9hG4bKb1", ""));
    assert_eq!(h.statuses(), [481]);
    h.feed(&request("REGISTER", "z9hG4bKr1", ""));
    let sent = h.sent();
    assert_eq!(sent[0].status(), Some(405));
    assert!(sent[0].header(HeaderName::Allow).is_some());
}

#[test]
fn an_oversized_datagram_gets_513() {
    let mut h = Harness::new();
    let padding = format!("X-Pad: {}\r\n", "a".repeat(3000));
    let big = request("OPTIONS", "z9hG4bKbig", &padding);
    h.feed_bytes(Bytes::from(big.clone()), true);
    assert_eq!(h.statuses(), [513]);
    // Above the limit but not flagged by the transport (a stream would be):
    // the parser's own limit catches it too.
    h.feed_bytes(Bytes::from(big), false);
    assert_eq!(h.statuses(), [513]);
}

#[test]
fn cancel_for_an_answered_invite_gets_200_and_unknown_cancel_481() {
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKc1", ""));
    assert_eq!(h.statuses(), [100, 480]);
    h.feed(&request("CANCEL", "z9hG4bKc1", ""));
    assert_eq!(h.statuses(), [200]);
    h.feed(&request("CANCEL", "z9hG4bKnone", ""));
    assert_eq!(h.statuses(), [481]);
}

#[test]
fn draining_refuses_new_requests_with_503() {
    let mut h = Harness::new();
    h.core.start_draining();
    h.feed(&request("OPTIONS", "z9hG4bKd1", ""));
    let sent = h.sent();
    assert_eq!(sent[0].status(), Some(503));
    assert!(sent[0].header(HeaderName::RetryAfter).is_some());
    assert!(h.metric("voxgate_draining 1"));
}

#[test]
fn transactions_end_on_the_simulated_clock() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKt1", ""));
    h.sent();
    assert_eq!(h.core.active_transactions(), 1);
    // Timer J: 64*T1 on UDP.
    h.advance(Duration::from_millis(64 * 500));
    assert_eq!(h.core.active_transactions(), 0);
    assert!(h.metric(r#"voxgate_sip_transactions_active{kind="non_invite_server"} 0"#));
}
