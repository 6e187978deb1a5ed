//! Micro-benchmarks of the transaction layer handling requests end to end,
//! with no sockets and a simulated clock: wire bytes in (parse, validate) →
//! `TransactionLayer` → the transaction user's answer built as voxgate's core
//! builds it (`response_to` … `build_message`) → wire bytes out, until the
//! transaction's timers have ended it. One iteration is one whole
//! transaction, so its state is created and dropped every time.
//!
//! Run: `cargo bench --bench sip_transaction` (add `-- --quick` for a smoke run).

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_sip::message::{HeaderName, Limits, Message, ack_for_non_2xx, response_to};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxId};
use voxgate_sip::{Peer, TransportKind};

/// A carrier-style INVITE with SDP, as a trunk sends it.
const INVITE: &str = "INVITE sip:+4930901820@voice.example.net:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-524287-1---7d3f9c2a1b5e4f60;rport\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:198.51.100.20;lr;ftag=as5e3a1f07>\r\n\
Contact: <sip:+4989123456@198.51.100.20:5060;transport=udp>\r\n\
To: <sip:+4930901820@voice.example.net;user=phone>\r\n\
From: \"+4989123456\" <sip:+4989123456@carrier.example.com;user=phone>;tag=as5e3a1f07\r\n\
Call-ID: 3c26f9a8-5b1d-4e7f-9a0c-2d8e6b4f1a93@198.51.100.20\r\n\
CSeq: 102 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 229\r\n\
\r\n\
v=0\r\n\
o=- 1712345678 1712345678 IN IP4 198.51.100.21\r\n\
s=-\r\n\
c=IN IP4 198.51.100.21\r\n\
t=0 0\r\n\
m=audio 31000 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// The caller's ACK for our 200 (RFC 3261 §13.2.2.4): its own branch, our To tag.
const ACK_2XX: &str = "ACK sip:edge@203.0.113.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-524287-1---ack2xx0001;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:198.51.100.20;lr;ftag=as5e3a1f07>\r\n\
To: <sip:+4930901820@voice.example.net;user=phone>;tag=vg-8f3a2c\r\n\
From: \"+4989123456\" <sip:+4989123456@carrier.example.com;user=phone>;tag=as5e3a1f07\r\n\
Call-ID: 3c26f9a8-5b1d-4e7f-9a0c-2d8e6b4f1a93@198.51.100.20\r\n\
CSeq: 102 ACK\r\n\
Content-Length: 0\r\n\
\r\n";

const OPTIONS: &str = "OPTIONS sip:voice.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-ping-8841;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:ping@carrier.example.com>;tag=ping8841\r\n\
To: <sip:voice.example.net>\r\n\
Call-ID: ping-8841@198.51.100.20\r\n\
CSeq: 8841 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

/// The answer's SDP (the anchored media address).
const ANSWER_SDP: &[u8] = b"v=0\r\no=voxgate 1 1 IN IP4 203.0.113.10\r\ns=-\r\n\
c=IN IP4 203.0.113.10\r\nt=0 0\r\nm=audio 20000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

const TAG: &str = "vg-8f3a2c";

/// Past every timer of a finished UDP transaction (64*T1 = 32 s with the RFC defaults).
const STEP: Duration = Duration::from_secs(40);

/// What one transaction put on the wire.
#[derive(Debug, Default, PartialEq, Eq)]
struct Out {
    transmits: usize,
    bytes: usize,
    acks_to_tu: usize,
}

struct Bench {
    layer: TransactionLayer,
    limits: Limits,
    peer: Peer,
    now: Instant,
}

impl Bench {
    fn new() -> Bench {
        Bench {
            layer: TransactionLayer::new(TimerConfig::default()),
            limits: Limits::default(),
            peer: Peer {
                transport: TransportKind::Udp,
                addr: SocketAddr::from(([198, 51, 100, 20], 5060)),
                conn: None,
            },
            // The simulated clock's origin; it only moves by STEP.
            now: Instant::now(),
        }
    }

    /// Bytes from the wire into the layer, as voxgate's core does (parse, validate, handle).
    fn receive(&mut self, bytes: &Bytes, at: Instant) {
        let Ok(msg) = Message::parse(bytes.clone(), &self.limits) else {
            panic!("fixture does not parse");
        };
        assert!(msg.validate().is_ok(), "fixture is not valid");
        self.layer.handle_message(at, msg, self.peer);
    }

    /// Sends what the layer queued; returns the new server transaction, if one was created.
    fn drain(&mut self, out: &mut Out) -> Option<(TxId, Message)> {
        while let Some(t) = self.layer.poll_transmit() {
            out.transmits += 1;
            out.bytes += black_box(t.bytes).len();
        }
        let mut new = None;
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TxEvent::Request { tx, request, .. } => new = Some((tx, request)),
                TxEvent::Ack { request, .. } => {
                    out.acks_to_tu += 1;
                    black_box(request);
                }
                other => {
                    black_box(other);
                }
            }
        }
        new
    }

    /// The transaction user's answer, built as voxgate's core builds it.
    fn respond(&mut self, tx: TxId, request: &Message, status: u16, reason: &str, sdp: bool) {
        let mut b = response_to(request, status, reason, Some(TAG), Some(self.peer.addr));
        if status == 200 {
            b = b.header(HeaderName::Contact, "<sip:edge@203.0.113.10:5060>");
        }
        if sdp {
            b = b.body("application/sdp", ANSWER_SDP);
        }
        let Ok(response) = b.build_message() else {
            panic!("built response does not parse");
        };
        assert!(self.layer.respond(self.now, tx, response).is_ok());
    }

    /// Moves the clock past every timer of the previous transaction and fires them.
    fn next_transaction(&mut self, out: &mut Out) {
        self.now += STEP;
        self.layer.handle_timeout(self.now);
        self.drain(out);
    }

    /// INVITE in → 100 Trying (the layer's own) → 486 → ACK absorbed in
    /// Completed → timer I ends it.
    fn invite_non_2xx(&mut self, invite: &Bytes, ack: &Bytes) -> Out {
        let mut out = Out::default();
        self.next_transaction(&mut out);
        self.receive(invite, self.now);
        let Some((tx, request)) = self.drain(&mut out) else {
            panic!("the INVITE made no transaction");
        };
        self.respond(tx, &request, 486, "Busy Here", false);
        self.drain(&mut out);
        self.receive(ack, self.now + Duration::from_millis(1));
        self.drain(&mut out);
        out
    }

    /// INVITE in → 100 → 200 with SDP (Accepted, RFC 6026) → the ACK for the
    /// 2xx passes to the transaction user → timer L ends it.
    fn invite_2xx(&mut self, invite: &Bytes, ack: &Bytes) -> Out {
        let mut out = Out::default();
        self.next_transaction(&mut out);
        self.receive(invite, self.now);
        let Some((tx, request)) = self.drain(&mut out) else {
            panic!("the INVITE made no transaction");
        };
        self.respond(tx, &request, 200, "OK", true);
        self.drain(&mut out);
        self.receive(ack, self.now + Duration::from_millis(1));
        self.drain(&mut out);
        out
    }

    /// OPTIONS in → 200 → timer J ends it.
    fn non_invite(&mut self, options: &Bytes) -> Out {
        let mut out = Out::default();
        self.next_transaction(&mut out);
        self.receive(options, self.now);
        let Some((tx, request)) = self.drain(&mut out) else {
            panic!("the OPTIONS made no transaction");
        };
        self.respond(tx, &request, 200, "OK", false);
        self.drain(&mut out);
        out
    }
}

/// The ACK a caller sends for our 486, built from the fixtures.
fn ack_for_486(invite: &Bytes) -> Bytes {
    let Ok(invite) = Message::parse(invite.clone(), &Limits::default()) else {
        panic!("INVITE fixture does not parse");
    };
    let Ok(busy) = response_to(&invite, 486, "Busy Here", Some(TAG), None).build_message() else {
        panic!("486 does not parse");
    };
    ack_for_non_2xx(&invite, &busy).unwrap_or_else(|e| panic!("ACK for the 486: {e}"))
}

fn benches(c: &mut Criterion) {
    let invite = Bytes::from_static(INVITE.as_bytes());
    let ack_2xx = Bytes::from_static(ACK_2XX.as_bytes());
    let options = Bytes::from_static(OPTIONS.as_bytes());
    let ack_486 = ack_for_486(&invite);

    // Guards: each path does what its name says, and leaves nothing behind.
    let mut g = Bench::new();
    let o = g.invite_non_2xx(&invite, &ack_486);
    assert_eq!(
        (o.transmits, o.acks_to_tu),
        (2, 0),
        "100 + 486, ACK absorbed"
    );
    let o = g.invite_2xx(&invite, &ack_2xx);
    assert_eq!(
        (o.transmits, o.acks_to_tu),
        (2, 1),
        "100 + 200, ACK to the TU"
    );
    let o = g.non_invite(&options);
    assert_eq!((o.transmits, o.acks_to_tu), (1, 0), "200 only");
    let mut o = Out::default();
    g.next_transaction(&mut o);
    assert!(g.layer.is_empty(), "every transaction ended by its timers");

    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    let mut b = Bench::new();
    group.bench_function("invite_486_ack_absorbed", |it| {
        it.iter(|| b.invite_non_2xx(black_box(&invite), black_box(&ack_486)))
    });
    let mut b = Bench::new();
    group.bench_function("invite_200_sdp_ack_to_tu", |it| {
        it.iter(|| b.invite_2xx(black_box(&invite), black_box(&ack_2xx)))
    });
    let mut b = Bench::new();
    group.bench_function("options_200", |it| {
        it.iter(|| b.non_invite(black_box(&options)))
    });
    group.finish();
}

criterion_group!(sip_transaction, benches);
criterion_main!(sip_transaction);
