//! Test support for the transaction layer: a simulated clock, peers, and
//! request/response builders (MessageBuilder + parse, like the wire).
#![allow(dead_code)] // each test crate uses a different subset
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_sip::message::{HeaderName, Message, MessageBuilder, Method, response_to};
use voxgate_sip::transaction::{TransactionLayer, Transmit, TxEvent};
use voxgate_sip::{ConnId, Peer, TransportKind};

/// A simulated clock: a fixed origin plus whatever the test advanced.
pub struct Clock {
    start: Instant,
    now: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        // The one real clock read: an origin. Time only moves by `advance`.
        let start = Instant::now();
        Clock { start, now: start }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn advance(&mut self, d: Duration) -> Instant {
        self.now += d;
        self.now
    }

    /// Sets the clock to `at` (never backwards).
    pub fn set(&mut self, at: Instant) {
        assert!(at >= self.now, "simulated clock cannot go backwards");
        self.now = at;
    }

    /// Time since the origin.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// `at` as time since the origin.
    pub fn since_start(&self, at: Instant) -> Duration {
        at - self.start
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The far end over UDP, at 192.0.2.10:`port`.
pub fn udp(port: u16) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr: SocketAddr::from(([192, 0, 2, 10], port)),
        conn: None,
    }
}

/// The far end over TCP, at 192.0.2.10:`port`, on connection 7.
pub fn tcp(port: u16) -> Peer {
    Peer {
        transport: TransportKind::Tcp,
        addr: SocketAddr::from(([192, 0, 2, 10], port)),
        conn: Some(ConnId(7)),
    }
}

/// A request, with defaults for everything but the method and the branch.
#[derive(Clone)]
pub struct Req {
    pub method: Method,
    pub uri: String,
    pub via: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    /// The CSeq method; defaults to the request method.
    pub cseq_method: Option<Method>,
}

impl Req {
    /// `method` with top Via `SIP/2.0/UDP 192.0.2.10:5060;branch=<branch>`.
    pub fn new(method: Method, branch: &str) -> Req {
        Req {
            method,
            uri: "sip:bob@198.51.100.1".into(),
            via: format!("SIP/2.0/UDP 192.0.2.10:5060;branch={branch}"),
            from_tag: "fromtag1".into(),
            to_tag: None,
            call_id: "call-1@192.0.2.10".into(),
            cseq: 1,
            cseq_method: None,
        }
    }

    pub fn invite(branch: &str) -> Req {
        Req::new(Method::Invite, branch)
    }

    /// The same request fields with another method (for ACK/CANCEL).
    pub fn with_method(&self, method: Method) -> Req {
        Req {
            method,
            ..self.clone()
        }
    }

    pub fn via(mut self, via: &str) -> Req {
        self.via = via.into();
        self
    }

    pub fn with_to_tag(mut self, tag: &str) -> Req {
        self.to_tag = Some(tag.into());
        self
    }

    pub fn call_id(mut self, id: &str) -> Req {
        self.call_id = id.into();
        self
    }

    pub fn cseq(mut self, seq: u32) -> Req {
        self.cseq = seq;
        self
    }

    pub fn build(&self) -> Message {
        let to = match &self.to_tag {
            Some(tag) => format!("<sip:bob@198.51.100.1>;tag={tag}"),
            None => "<sip:bob@198.51.100.1>".into(),
        };
        let cseq_method = self.cseq_method.as_ref().unwrap_or(&self.method);
        MessageBuilder::request(&self.method, &self.uri)
            .header(HeaderName::Via, &self.via)
            .header(HeaderName::MaxForwards, "70")
            .header(
                HeaderName::From,
                &format!("<sip:alice@192.0.2.10>;tag={}", self.from_tag),
            )
            .header(HeaderName::To, &to)
            .header(HeaderName::CallId, &self.call_id)
            .header(HeaderName::CSeq, &format!("{} {}", self.cseq, cseq_method))
            .build_message()
            .expect("test request parses")
    }
}

/// A response to `request` (as the far end or the TU would build it).
pub fn response(request: &Message, status: u16, to_tag: Option<&str>) -> Message {
    response_to(request, status, "Test", to_tag, None)
        .build_message()
        .expect("test response parses")
}

/// Parses wire bytes.
pub fn parse(bytes: &[u8]) -> Message {
    Message::parse(bytes::Bytes::copy_from_slice(bytes), &Default::default()).expect("parses")
}

pub fn transmits(layer: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| layer.poll_transmit()).collect()
}

pub fn events(layer: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

/// The start line of a transmitted message.
pub fn first_line(t: &Transmit) -> String {
    let text = String::from_utf8_lossy(&t.bytes);
    text.lines().next().unwrap_or_default().to_owned()
}

/// The transmitted bytes, parsed.
pub fn parsed(t: &Transmit) -> Message {
    Message::parse(t.bytes.clone(), &Default::default()).expect("transmit parses")
}

/// Jumps the clock from deadline to deadline up to `until` (since the
/// origin), firing timers; returns each transmit with the time it was sent.
pub fn run_until(
    layer: &mut TransactionLayer,
    clock: &mut Clock,
    until: Duration,
) -> Vec<(Duration, Transmit)> {
    let mut out = Vec::new();
    let limit = clock.start + until;
    while let Some(at) = layer.poll_timeout() {
        if at > limit {
            break;
        }
        // An overdue timer fires now (the test advanced past it by hand).
        let at = at.max(clock.now);
        clock.set(at);
        layer.handle_timeout(at);
        for t in transmits(layer) {
            out.push((clock.elapsed(), t));
        }
    }
    clock.set(limit.max(clock.now));
    out
}

/// The send times of `sent`.
pub fn times(sent: &[(Duration, Transmit)]) -> Vec<Duration> {
    sent.iter().map(|(at, _)| *at).collect()
}

/// Whether `events` is exactly one Timeout for `tx` then its Terminated.
pub fn is_timeout_then_terminated(events: &[TxEvent], tx: voxgate_sip::transaction::TxId) -> bool {
    matches!(events, [TxEvent::Timeout { tx: a }, TxEvent::Terminated { tx: b, .. }] if *a == tx && *b == tx)
}
