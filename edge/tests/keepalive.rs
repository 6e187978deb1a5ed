//! OPTIONS keep-alive through the edge core on a simulated clock: probes
//! out, answers (or silence) in, and what dials and the admin API are told.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_config::TrunkName;
use voxgate_edge::control_plane::Destination;
use voxgate_edge::conversation::Locals;
use voxgate_edge::core::Core;
use voxgate_edge::health::{Health, Skip};
use voxgate_edge::keepalive::State;
use voxgate_edge::metrics::Metrics;
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{Limits, Message, Method, response_to};
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
name = "carrier"
allow = ["127.0.0.1/32"]
keepalive = { interval_s = 10, down_after = 2, up_after = 2 }
out_of_service_status = 480
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
[[route]]
name = "out"
match_user = { prefix = "" }
destinations = [
    { uri = "sip:127.0.0.1:5080", trunk = "carrier" },
    { uri = "sip:127.0.0.1:5090", trunk = "carrier" },
    { uri = "sip:127.0.0.1:6000", trunk = "carrier", keepalive = { interval_s = 60 } },
    { uri = "sip:127.0.0.1:7000" },
]
"#;

const A: &str = "127.0.0.1:5080";
const B: &str = "127.0.0.1:5090";

struct Harness {
    core: Core,
    health: Arc<Health>,
    metrics: Metrics,
    now: Instant,
    /// Call-IDs of the probes seen: retransmissions are not new probes.
    seen: Vec<String>,
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
        let health = Arc::new(Health::default());
        let now = Instant::now();
        let core = Core::new(Arc::new(config), metrics.clone(), locals).with_health(
            now,
            health.clone(),
            None,
        );
        Harness {
            core,
            health,
            metrics,
            now,
            seen: Vec::new(),
        }
    }

    /// Runs the clock to `by` later, firing every timer on the way.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(t) = self.core.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.core.handle_timeout(self.now);
        }
        self.now = end;
    }

    /// The new OPTIONS sent since the last call (not retransmissions), by
    /// destination address.
    fn probes(&mut self) -> Vec<(SocketAddr, Message)> {
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            let m = Message::parse(t.bytes, &Limits::default()).unwrap();
            let call_id = m.call_id().unwrap().to_owned();
            if m.method() == Some(&Method::Options) && !self.seen.contains(&call_id) {
                self.seen.push(call_id);
                out.push((t.to.addr, m));
            }
        }
        out
    }

    fn answer(&mut self, (from, probe): &(SocketAddr, Message), status: u16) {
        let bytes = response_to(probe, status, "Whatever", Some("callee"), None).build();
        let incoming = Incoming {
            bytes,
            peer: Peer {
                transport: TransportKind::Udp,
                addr: *from,
                conn: None,
            },
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
    }

    fn state(&self, addr: &str) -> Option<State> {
        self.health
            .state(&format!("sip:{addr}"), TransportKind::Udp)
    }

    fn gauge(&self, addr: &str) -> Option<String> {
        let prefix =
            format!("voxgate_destination_up{{destination=\"sip:{addr}\",trunk=\"carrier\"}} ");
        self.metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }
}

fn dest(addr: &str) -> Destination {
    Destination {
        uri: format!("sip:{addr}"),
        transport: TransportKind::Udp,
        trunk: TrunkName::new("carrier"),
    }
}

fn to(probes: &[(SocketAddr, Message)], addr: &str) -> (SocketAddr, Message) {
    let addr: SocketAddr = addr.parse().unwrap();
    let found: Vec<_> = probes.iter().filter(|(a, _)| *a == addr).collect();
    assert_eq!(found.len(), 1, "one OPTIONS to {addr} in {probes:#?}");
    found[0].clone()
}

#[test]
fn a_destination_that_stops_answering_is_skipped_until_it_answers_again() {
    let mut h = Harness::new();
    // At start: every destination that asks for keep-alive is probed; the
    // one of no trunk and without keepalive is not.
    h.advance(Duration::ZERO);
    let probes = h.probes();
    assert_eq!(probes.len(), 3, "{probes:#?}");
    let (a, b) = (to(&probes, A), to(&probes, B));
    assert_eq!(a.1.request_uri(), Some("sip:127.0.0.1:5080"));
    assert_eq!(h.state(A), Some(State::Unknown));
    assert_eq!(h.state("127.0.0.1:7000"), None);
    // A answers 200 and is up; B answers 404: it is there, so up too.
    h.answer(&a, 200);
    h.answer(&b, 404);
    assert_eq!(h.state(A), Some(State::Up));
    assert_eq!(h.state(B), Some(State::Up));
    assert_eq!(h.gauge(A).as_deref(), Some("1"));

    // B goes silent: two probes unanswered (each counted when the next is
    // due) and it is down; A keeps answering.
    for round in 0..2 {
        h.advance(Duration::from_secs(10));
        let probes = h.probes();
        h.answer(&to(&probes, A), 200);
        let _unanswered = to(&probes, B);
        assert_eq!(h.state(B), Some(State::Up), "round {round}");
    }
    h.advance(Duration::from_secs(10));
    assert_eq!(h.state(B), Some(State::Down));
    assert_eq!(h.health.skip(&dest(B)), Some(Skip::Down));
    assert_eq!(h.health.skip(&dest(A)), None);
    assert_eq!(h.gauge(B).as_deref(), Some("0"));

    // It answers again: up after two answers in a row (a 503 does not count).
    let probes = h.probes();
    h.answer(&to(&probes, B), 503);
    h.advance(Duration::from_secs(10));
    let probe = to(&h.probes(), B);
    h.answer(&probe, 200);
    assert_eq!(h.state(B), Some(State::Down), "one answer is not enough");
    h.advance(Duration::from_secs(10));
    let probe = to(&h.probes(), B);
    h.answer(&probe, 200);
    assert_eq!(h.state(B), Some(State::Up));
    assert_eq!(h.health.skip(&dest(B)), None);
    assert_eq!(h.gauge(B).as_deref(), Some("1"));
}

#[test]
fn probes_follow_each_destinations_interval() {
    let mut h = Harness::new();
    h.advance(Duration::ZERO);
    assert_eq!(h.probes().len(), 3);
    // The destination with its own keepalive is probed every 60 s, not 10.
    h.advance(Duration::from_secs(50));
    let sent: Vec<SocketAddr> = h.probes().into_iter().map(|(a, _)| a).collect();
    assert!(!sent.contains(&"127.0.0.1:6000".parse().unwrap()));
    assert_eq!(sent.len(), 10, "A and B every 10 s: {sent:?}");
    h.advance(Duration::from_secs(10));
    let sent: Vec<SocketAddr> = h.probes().into_iter().map(|(a, _)| a).collect();
    assert!(sent.contains(&"127.0.0.1:6000".parse().unwrap()));
}

fn invite(branch: &str) -> Incoming {
    let text = format!(
        "INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@127.0.0.1>;tag=f1\r\n\
         To: <sip:1000@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:carrier@127.0.0.1:5070>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Incoming {
        bytes: bytes::Bytes::from(text),
        peer: Peer {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5070".parse().unwrap(),
            conn: None,
        },
        local: "127.0.0.1:5060".parse().unwrap(),
        oversized: false,
    }
}

#[test]
fn a_trunk_out_of_service_refuses_new_calls_with_its_status() {
    let mut h = Harness::new();
    let carrier = TrunkName::new("carrier").unwrap();
    assert!(h.health.set_in_service(&carrier, false));
    h.core
        .handle_transport(h.now, TransportEvent::Message(invite("z9hG4bKoos1")));
    let mut statuses = Vec::new();
    while let Some(t) = h.core.poll_transmit() {
        let m = Message::parse(t.bytes, &Limits::default()).unwrap();
        if let Some(s) = m.status() {
            statuses.push(s);
        }
    }
    assert_eq!(statuses.last(), Some(&480), "{statuses:?}");
    assert_eq!(h.core.active_calls(), 0);
    // Back in service: the next INVITE makes a call.
    h.health.set_in_service(&carrier, true);
    h.core
        .handle_transport(h.now, TransportEvent::Message(invite("z9hG4bKoos2")));
    assert_eq!(h.core.active_calls(), 1);
}
