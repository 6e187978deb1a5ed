//! Tests of the conversation state machine on a simulated clock: a harness
//! that plays the caller (A, a carrier, leg 1) and the callees (B, a PBX,
//! legs 2 and on) with SIP text, and the conversation's actions collected per
//! step. The plain-call tests drive the classic B2BUA connection (a dial
//! connected to the inbound leg), as the static router does.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod codecs;
mod commands;
mod conference;
mod failover;
mod headers;
mod in_dialog;
mod media;
mod record;
mod recording;
mod setup;
mod srtp;
mod timers;
mod transfer;

use super::*;
use crate::control_plane::Dial;
use std::net::SocketAddr;
use voxgate_sip::message::{HeaderName, Limits};

/// Nodes, trunks and media; `[calls]` is appended per test.
const BASE_CONFIG: &str = r#"
[node]
name = "n1"
region = "r1"

[[listener]]
transport = "udp"
address = "192.0.2.10:5060"

[[listener]]
transport = "tcp"
address = "192.0.2.10:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[trunk]]
name = "carrier"
allow = ["198.51.100.0/24"]

[[trunk]]
name = "pbx"
allow = ["203.0.113.0/24"]
"#;

/// Default `[calls]` of the tests: a 1 s trying timeout, session timers and
/// the media timeout off (their own tests turn them on).
pub(super) const CALLS: &str =
    "[calls]\ntrying_timeout_ms = 1000\nsession_expires_s = 0\nmedia_timeout_s = 0\n";

/// Our address on both transports.
pub(super) const OURS: &str = "192.0.2.10:5060";

/// When the test conversations started, on the wall clock: 2026-06-01T08:00:00Z.
pub(super) fn started() -> std::time::SystemTime {
    std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_300_800)
}
/// The carrier's signalling address.
pub(super) const A_ADDR: &str = "198.51.100.5:5060";
/// The first and second destinations.
pub(super) const B1: &str = "sip:+15550100@203.0.113.7:5060";
pub(super) const B2: &str = "sip:+15550100@203.0.113.8:5060";

/// The carrier's offer: its internal media address must not reach B.
pub(super) const SDP_A: &str = "v=0\r\n\
o=carrier 1000 1 IN IP4 10.1.1.1\r\n\
s=-\r\n\
c=IN IP4 10.1.1.1\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

/// A's offer putting the call on hold.
pub(super) const SDP_A_HOLD: &str = "v=0\r\n\
o=carrier 1000 2 IN IP4 10.1.1.1\r\n\
s=-\r\n\
c=IN IP4 10.1.1.1\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendonly\r\n";

/// A's offer taking the call off hold.
pub(super) const SDP_A_RESUME: &str = "v=0\r\n\
o=carrier 1000 3 IN IP4 10.1.1.1\r\n\
s=-\r\n\
c=IN IP4 10.1.1.1\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

/// The PBX's answer (or offer): its internal media address must not reach A.
pub(super) const SDP_B: &str = "v=0\r\n\
o=pbx 2000 1 IN IP4 10.2.2.2\r\n\
s=-\r\n\
c=IN IP4 10.2.2.2\r\n\
t=0 0\r\n\
m=audio 32000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

/// The PBX's answer to a hold offer.
pub(super) const SDP_B_RECVONLY: &str = "v=0\r\n\
o=pbx 2000 2 IN IP4 10.2.2.2\r\n\
s=-\r\n\
c=IN IP4 10.2.2.2\r\n\
t=0 0\r\n\
m=audio 32000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=recvonly\r\n";

/// Strings of A's side (addresses, ids, hosts) that must never appear on B.
pub(super) const A_SECRETS: &[&str] = &[
    "10.1.1.",
    "198.51.100.",
    "carrier.example",
    "a-call-1",
    "z9hG4bK-a",
    "atag",
    "o=carrier",
];

/// Strings of B's side that must never appear on A.
pub(super) const B_SECRETS: &[&str] = &["10.2.2.", "203.0.113.", "pbx.example", "btag", "o=pbx"];

pub(super) fn parse(text: &str) -> Message {
    Message::parse(Bytes::from(text.to_string()), &Limits::default())
        .unwrap_or_else(|e| panic!("unparsable test message ({e:?}):\n{text}"))
}

pub(super) fn parse_bytes(bytes: &Bytes) -> Message {
    Message::parse(bytes.clone(), &Limits::default()).unwrap()
}

pub(super) fn text(msg: &Message) -> &str {
    std::str::from_utf8(msg.raw()).unwrap()
}

pub(super) fn body(msg: &Message) -> &str {
    std::str::from_utf8(msg.body()).unwrap()
}

/// Asserts that none of `secrets` is in `msg`.
pub(super) fn assert_hidden(msg: &Message, secrets: &[&str]) {
    let t = text(msg);
    for s in secrets {
        assert!(!t.contains(s), "{s:?} leaked into:\n{t}");
    }
}

fn with_body(mut head: String, content_type: &str, body: Option<&str>) -> String {
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        head.push_str("Content-Length: 0\r\n\r\n");
    }
    head
}

pub(super) fn udp(addr: &str) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr: addr.parse().unwrap(),
        conn: None,
    }
}

pub(super) fn dest(uri: &str) -> Destination {
    Destination {
        uri: uri.to_string(),
        transport: TransportKind::Udp,
        trunk: Some(TrunkName::new("pbx").unwrap()),
    }
}

/// The static router's command: dial `uris` in order, connected to the inbound leg.
pub(super) fn connect(uris: &[&str]) -> Input {
    Input::Command(Command::Dial(
        Dial::new(uris.iter().map(|u| dest(u)).collect()).connect(LegId(1)),
    ))
}

/// The A-leg's INVITE; `extra` header lines end with CRLF.
pub(super) fn a_invite(sdp: Option<&str>, extra: &str) -> Message {
    let head = format!(
        "INVITE sip:+15550100@192.0.2.10:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-a-inv\r\n\
         Via: SIP/2.0/UDP 10.1.1.9:5060;branch=z9hG4bK-a-inner\r\n\
         Record-Route: <sip:rr.carrier.example;lr>\r\n\
         Max-Forwards: 69\r\n\
         From: \"Alice\" <sip:+15551234@carrier.example>;tag=atag\r\n\
         To: <sip:+15550100@192.0.2.10>\r\n\
         Call-ID: a-call-1@10.1.1.9\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@10.1.1.9:5060>\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, PRACK\r\n\
         P-Asserted-Identity: <sip:+15551234@carrier.example>\r\n\
         {extra}"
    );
    parse(&with_body(head, "application/sdp", sdp))
}

/// What the call did in one step.
#[derive(Debug, Default)]
pub(super) struct Out(pub Vec<Action>);

/// A request the call sent in a client transaction.
#[derive(Clone, Debug)]
pub(super) struct Sent {
    pub tx: TxId,
    pub msg: Message,
    pub to: Peer,
}

impl Out {
    pub fn responses(&self) -> Vec<(TxId, &Message)> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::Respond { tx, response } => Some((*tx, response)),
                _ => None,
            })
            .collect()
    }

    /// Statuses of every response, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses()
            .iter()
            .filter_map(|(_, r)| r.status())
            .collect()
    }

    /// The one response with `status` (panics unless exactly one).
    pub fn response(&self, status: u16) -> (TxId, &Message) {
        let mut found: Vec<_> = self
            .responses()
            .into_iter()
            .filter(|(_, r)| r.status() == Some(status))
            .collect();
        assert_eq!(found.len(), 1, "expected one {status} in {:#?}", self.0);
        found.remove(0)
    }

    pub fn sends(&self) -> Vec<Sent> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::Send {
                    tx, request, to, ..
                } => Some(Sent {
                    tx: *tx,
                    msg: request.clone(),
                    to: *to,
                }),
                _ => None,
            })
            .collect()
    }

    /// The names the call asked to resolve, with the dial that asked.
    pub fn resolves(&self) -> Vec<(DialId, crate::dns::cache::Query)> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::Resolve { dial, query } => Some((*dial, query.clone())),
                _ => None,
            })
            .collect()
    }

    /// Methods of every request sent, in order.
    pub fn methods(&self) -> Vec<Method> {
        self.sends()
            .iter()
            .filter_map(|s| s.msg.method().cloned())
            .collect()
    }

    /// The one request sent with `method` (panics unless exactly one).
    pub fn sent(&self, method: Method) -> Sent {
        let mut found: Vec<_> = self
            .sends()
            .into_iter()
            .filter(|s| s.msg.method() == Some(&method))
            .collect();
        assert_eq!(found.len(), 1, "expected one {method} in {:#?}", self.0);
        found.remove(0)
    }

    /// The one request sent with `method` to `addr`.
    pub fn sent_to(&self, method: Method, addr: &str) -> Sent {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut found: Vec<_> = self
            .sends()
            .into_iter()
            .filter(|s| s.msg.method() == Some(&method) && s.to.addr == addr)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {method} to {addr} in {:#?}",
            self.0
        );
        found.remove(0)
    }

    /// Everything sent outside transactions, parsed, with where it went.
    pub fn transmits(&self) -> Vec<(Peer, Message)> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::Transmit { to, bytes } => Some((*to, parse_bytes(bytes))),
                _ => None,
            })
            .collect()
    }

    pub fn events(&self) -> Vec<Event> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn binds(&self) -> Vec<DialogKey> {
        self.0
            .iter()
            .filter_map(|a| match a {
                Action::BindDialog(k) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn ended(&self) -> Option<&ConversationRecord> {
        self.0.iter().find_map(|a| match a {
            Action::Ended(r) => Some(&**r),
            _ => None,
        })
    }

    /// The `Ended` event's side and cause, if the call ended in this step.
    pub fn end(&self) -> Option<(Side, EndCause)> {
        self.events().into_iter().find_map(|e| match e {
            Event::Ended { side, cause } => Some((side, cause)),
            _ => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, other: Out) {
        self.0.extend(other.0);
    }
}

/// The far end of one B attempt: its INVITE and how it answers.
#[derive(Clone, Debug)]
pub(super) struct BSide {
    pub invite: Sent,
    /// The To tag the callee answers with.
    pub tag: String,
    /// The callee's CSeq for its own requests.
    pub cseq: u32,
}

impl BSide {
    pub fn new(invite: Sent) -> BSide {
        BSide {
            invite,
            tag: "btag1".to_string(),
            cseq: 100,
        }
    }

    /// Its answer to the INVITE.
    pub fn response(&self, status: u16, extra: &str, sdp: Option<&str>) -> Input {
        let response = respond(&self.invite.msg, status, &self.tag, extra, sdp);
        Input::Response {
            tx: self.invite.tx,
            response,
        }
    }

    /// A request of the callee inside the B dialog (after a 2xx or 18x).
    pub fn request(&mut self, method: &str, extra: &str, sdp: Option<(&str, &str)>) -> Message {
        self.cseq += 1;
        self.request_with(self.cseq, method, extra, sdp)
    }

    /// The callee's ACK for our 2xx to its re-INVITE with CSeq `seq`.
    pub fn ack(&self, seq: u32) -> Input {
        Input::Ack {
            request: self.request_with(seq, "ACK", "", None),
        }
    }

    fn request_with(
        &self,
        cseq: u32,
        method: &str,
        extra: &str,
        sdp: Option<(&str, &str)>,
    ) -> Message {
        let inv = &self.invite.msg;
        let our_from = inv.header(HeaderName::From).unwrap();
        let their_to = inv.header(HeaderName::To).unwrap();
        let contact = if matches!(method, "INVITE" | "UPDATE") {
            "Contact: <sip:pbx@203.0.113.7:5060>\r\n"
        } else {
            ""
        };
        let head = format!(
            "{method} sip:192.0.2.10:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK-b-{method}-{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: {their_to};tag={tag}\r\n\
             To: {our_from}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             {contact}{extra}",
            tag = self.tag,
            call_id = inv.call_id().unwrap(),
        );
        let (ct, body) = match sdp {
            Some((ct, b)) => (ct, Some(b)),
            None => ("application/sdp", None),
        };
        parse(&with_body(head, ct, body))
    }
}

/// A response of the peer to a request we sent: `tag` is added to To when
/// the request has none; a Contact for dialog-creating and target-refresh answers.
pub(super) fn respond(
    request: &Message,
    status: u16,
    tag: &str,
    extra: &str,
    sdp: Option<&str>,
) -> Message {
    let mut head = format!("SIP/2.0 {status} {}\r\n", default_reason(status));
    for via in request.header_lines(HeaderName::Via) {
        head.push_str(&format!("Via: {via}\r\n"));
    }
    let to = request.header(HeaderName::To).unwrap();
    let to_has_tag = request.to_header().unwrap().tag().is_some();
    let to = if to_has_tag || status == 100 {
        to.to_string()
    } else {
        format!("{to};tag={tag}")
    };
    let method = request.method().unwrap();
    head.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
        request.header(HeaderName::From).unwrap(),
        request.call_id().unwrap(),
        request.header(HeaderName::CSeq).unwrap(),
    ));
    if status > 100
        && status < 300
        && matches!(method, Method::Invite | Method::Update | Method::Subscribe)
    {
        head.push_str("Contact: <sip:pbx@203.0.113.7:5060>\r\n");
    }
    head.push_str(extra);
    parse(&with_body(head, "application/sdp", sdp))
}

/// A `[calls]` section of `lines`, with session timers off and a 1 s
/// trying timeout unless they say otherwise.
pub(super) fn calls(lines: &str) -> String {
    let mut s = format!("[calls]\n{lines}\n");
    if !lines.contains("trying_timeout_ms") {
        s.push_str("trying_timeout_ms = 1000\n");
    }
    if !lines.contains("session_expires_s") {
        s.push_str("session_expires_s = 0\n");
    }
    if !lines.contains("media_timeout_s") {
        s.push_str("media_timeout_s = 0\n");
    }
    s
}

/// The call under test, its clock and the caller's side of the A dialog.
pub(super) struct Harness {
    pub call: Conversation<NoMedia>,
    pub now: Instant,
    pub start: Instant,
    /// The A INVITE's server transaction.
    pub a_tx: TxId,
    /// The caller's CSeq for its requests in the A dialog.
    pub a_cseq: u32,
}

impl Harness {
    /// A call with `calls` as its `[calls]` section, fed `invite` from the carrier.
    pub fn with_invite(calls: &str, invite: Message) -> (Harness, Out) {
        Harness::with_invite_from(calls, invite, udp(A_ADDR))
    }

    /// The same, with the INVITE arriving from `from`.
    pub fn with_invite_from(calls: &str, invite: Message, from: Peer) -> (Harness, Out) {
        Harness::with_config(&format!("{BASE_CONFIG}\n{calls}"), invite, from)
    }

    /// A call on the whole config `text`, fed `invite` from `from` on the
    /// carrier trunk.
    pub fn with_config(text: &str, invite: Message, from: Peer) -> (Harness, Out) {
        let config = voxgate_config::load_str(text, "test.toml")
            .unwrap_or_else(|e| panic!("test config: {e}"));
        let local = |transport| LocalAddr::new(transport, OURS.parse().unwrap());
        let ctx = ConversationContext {
            id: ConversationId(7),
            config: Arc::new(config),
            locals: Locals {
                udp: Some(local(TransportKind::Udp)),
                tcp: Some(local(TransportKind::Tcp)),
                tls: Some(local(TransportKind::Tls)),
                ..Locals::default()
            },
            timers: TimerConfig::default(),
            started: started(),
            health: Default::default(),
        };
        let start = Instant::now();
        let mut h = Harness {
            call: Conversation::new(start, ctx, NoMedia::default()),
            now: start,
            start,
            a_tx: TxId::next(),
            a_cseq: 1,
        };
        let out = h.feed(Input::Invite {
            tx: h.a_tx,
            request: invite,
            from,
            trunk: TrunkName::new("carrier").unwrap(),
        });
        (h, out)
    }

    /// A call from the default INVITE (offer from A, no extra headers).
    /// A caller with `sdp` answered by voxgate itself (its ACK received).
    pub fn answered_by_voxgate(calls: &str, sdp: &str) -> Harness {
        let (mut h, _) = Harness::with_invite(calls, a_invite(Some(sdp), ""));
        h.feed(Input::Command(Command::Answer {
            leg: LegId(1),
            early: false,
        }));
        let ack = h.a_ack(1, None);
        h.feed(ack);
        assert!(h.confirmed());
        h
    }

    pub fn new(calls: &str) -> (Harness, Out) {
        Harness::with_invite(calls, a_invite(Some(SDP_A), ""))
    }

    pub fn feed(&mut self, input: Input) -> Out {
        self.call.handle(self.now, input);
        self.drain()
    }

    pub fn drain(&mut self) -> Out {
        let mut out = Out::default();
        while let Some(a) = self.call.poll_action() {
            out.0.push(a);
        }
        out
    }

    /// Moves the clock `by`, firing every deadline on the way, in order.
    pub fn advance(&mut self, by: Duration) -> Out {
        let end = self.now + by;
        let mut out = Out::default();
        for _ in 0..10_000 {
            match self.call.poll_timeout() {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    self.call.handle_timeout(self.now);
                    out.extend(self.drain());
                }
                _ => {
                    self.now = end;
                    return out;
                }
            }
        }
        panic!(
            "the call's timers do not advance: {:?}",
            self.call.poll_timeout()
        );
    }

    /// Seconds since the INVITE.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Our To tag on A, from the INVITE's dialog binding.
    pub fn our_a_tag(&self) -> String {
        self.call
            .leg(LegId(1))
            .unwrap()
            .inbound()
            .unwrap()
            .tag
            .clone()
    }

    /// A request of the caller inside the A dialog.
    pub fn a_request(&mut self, method: &str, extra: &str, body: Option<(&str, &str)>) -> Message {
        self.a_cseq += 1;
        let contact = if matches!(method, "INVITE" | "UPDATE") {
            "Contact: <sip:alice@10.1.1.9:5060>\r\n"
        } else {
            ""
        };
        let head = format!(
            "{method} sip:192.0.2.10:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-a-{method}-{cseq}\r\n\
             Route: <sip:rr.carrier.example;lr>\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:+15551234@carrier.example>;tag=atag\r\n\
             To: <sip:+15550100@192.0.2.10>;tag={ours}\r\n\
             Call-ID: a-call-1@10.1.1.9\r\n\
             CSeq: {cseq} {method}\r\n\
             {contact}{extra}",
            ours = self.our_a_tag(),
            cseq = self.a_cseq,
        );
        let (ct, b) = match body {
            Some((ct, b)) => (ct, Some(b)),
            None => ("application/sdp", None),
        };
        parse(&with_body(head, ct, b))
    }

    /// Feeds a request of the caller in the A dialog; returns its server tx.
    pub fn a_sends(&mut self, request: Message) -> (TxId, Out) {
        let tx = TxId::next();
        let out = self.feed(Input::Request {
            tx,
            request,
            from: udp(A_ADDR),
        });
        (tx, out)
    }

    /// Feeds a request of the callee in the B dialog; returns its server tx.
    pub fn b_sends(&mut self, request: Message) -> (TxId, Out) {
        let tx = TxId::next();
        let out = self.feed(Input::Request {
            tx,
            request,
            from: udp("203.0.113.7:5060"),
        });
        (tx, out)
    }

    /// The caller's ACK for our 2xx to its INVITE with CSeq `seq`.
    pub fn a_ack(&self, seq: u32, sdp: Option<&str>) -> Input {
        let head = format!(
            "ACK sip:192.0.2.10:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-a-ack-{seq}\r\n\
             Route: <sip:rr.carrier.example;lr>\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:+15551234@carrier.example>;tag=atag\r\n\
             To: <sip:+15550100@192.0.2.10>;tag={ours}\r\n\
             Call-ID: a-call-1@10.1.1.9\r\n\
             CSeq: {seq} ACK\r\n",
            ours = self.our_a_tag(),
        );
        Input::Ack {
            request: parse(&with_body(head, "application/sdp", sdp)),
        }
    }

    /// The caller's CANCEL of its INVITE.
    pub fn a_cancel(&self) -> (TxId, Input) {
        let tx = TxId::next();
        let request = parse(
            "CANCEL sip:+15550100@192.0.2.10:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 198.51.100.5:5060;branch=z9hG4bK-a-inv\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:+15551234@carrier.example>;tag=atag\r\n\
             To: <sip:+15550100@192.0.2.10>\r\n\
             Call-ID: a-call-1@10.1.1.9\r\n\
             CSeq: 1 CANCEL\r\n\
             Content-Length: 0\r\n\r\n",
        );
        (tx, Input::Cancel { tx, request })
    }

    /// INVITE in, Connect to `uris`: the first B attempt.
    pub fn connected(&mut self, uris: &[&str]) -> (BSide, Out) {
        let out = self.feed(connect(uris));
        let invite = out.sent(Method::Invite);
        (BSide::new(invite), out)
    }

    /// A call answered by B1 with SDP and ACKed by A: both legs confirmed.
    pub fn established(calls: &str) -> (Harness, BSide) {
        let (mut h, _) = Harness::new(calls);
        let (b, _) = h.connected(&[B1]);
        h.feed(b.response(180, "", None));
        h.feed(b.response(
            200,
            "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS\r\n",
            Some(SDP_B),
        ));
        let ack = h.a_ack(1, None);
        h.feed(ack);
        assert!(h.confirmed());
        (h, b)
    }

    /// The inbound leg is answered and its 2xx ACKed.
    pub fn confirmed(&self) -> bool {
        let a = self.call.leg(LegId(1)).unwrap();
        a.is_answered() && a.sig.pending_ok.is_none()
    }

    /// The inbound leg is answered, its 2xx not yet ACKed.
    pub fn answered_unacked(&self) -> bool {
        let a = self.call.leg(LegId(1)).unwrap();
        a.is_answered() && a.sig.pending_ok.is_some()
    }

    /// The caller answers our request `sent` on A.
    pub fn a_answers(&mut self, sent: &Sent, status: u16, sdp: Option<&str>) -> Out {
        let response = respond(&sent.msg, status, "atag", "", sdp);
        self.feed(Input::Response {
            tx: sent.tx,
            response,
        })
    }

    /// The callee answers our request `sent` on B.
    pub fn b_answers(&mut self, sent: &Sent, status: u16, extra: &str, sdp: Option<&str>) -> Out {
        let response = respond(&sent.msg, status, "btag1", extra, sdp);
        self.feed(Input::Response {
            tx: sent.tx,
            response,
        })
    }
}

/// The status of a response on A to the INVITE, asserting it answers the INVITE's transaction.
pub(super) fn invite_status(h: &Harness, out: &Out) -> Vec<u16> {
    out.responses()
        .iter()
        .filter(|(tx, _)| *tx == h.a_tx)
        .filter_map(|(_, r)| r.status())
        .collect()
}

/// Whether `events` holds `LegFailed` for attempt `n` with `failure`.
pub(super) fn leg_failed(events: &[Event], n: u32, failure: LegFailure) -> bool {
    events.contains(&Event::LegFailed {
        leg: LegId(n + 1),
        failure,
    })
}
