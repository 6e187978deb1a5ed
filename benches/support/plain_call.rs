//! One whole plain call through a conversation, without sockets and on a
//! simulated clock: shared by the `conversation` bench and the allocation
//! test (edge/tests/conversation_allocations.rs), which include this file.

#![allow(dead_code)]

use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_edge::control_plane::{Command, ConversationId, Destination, Dial, LegId};
use voxgate_edge::conversation::{
    Action, Conversation, ConversationContext, Input, Locals, NoMedia,
};
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{HeaderName, Limits, Message, response_to};
use voxgate_sip::transaction::{TimerConfig, TxId};
use voxgate_sip::{Peer, TransportKind};

const CONFIG: &str = r#"
[node]
name = "bench"
region = "r1"
[[listener]]
transport = "udp"
address = "203.0.113.10:5060"
[[media_region]]
name = "r1"
addresses = ["203.0.113.10"]
port_min = 20000
port_max = 29999
[[trunk]]
name = "carrier"
allow = ["198.51.100.0/24"]
[[trunk]]
name = "pbx"
allow = ["192.0.2.0/24"]
"#;

const INVITE_HEAD: &str = "INVITE sip:+4930901820@203.0.113.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-524287-1---7d3f9c2a1b5e4f60;rport\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:198.51.100.20;lr;ftag=as5e3a1f07>\r\n\
Contact: <sip:+4989123456@198.51.100.20:5060;transport=udp>\r\n\
To: <sip:+4930901820@voice.example.net;user=phone>\r\n\
From: \"+4989123456\" <sip:+4989123456@carrier.example.com;user=phone>;tag=as5e3a1f07\r\n\
Call-ID: 3c26f9a8-5b1d-4e7f-9a0c-2d8e6b4f1a93@198.51.100.20\r\n\
CSeq: 102 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
Supported: replaces, timer\r\n\
Content-Type: application/sdp\r\n";

const CALLER_SDP: &str = "v=0\r\n\
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

const CALLEE_SDP: &[u8] = b"v=0\r\no=pbx 9 9 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn parse(text: String) -> Message {
    match Message::parse(Bytes::from(text), &Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!("bench message does not parse: {e}"),
    }
}

fn udp(addr: &str) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr: addr.parse().unwrap_or_else(|_| panic!("{addr}")),
        conn: None,
    }
}

/// The next request the conversation sent, and its transaction.
fn take_send(c: &mut Conversation<NoMedia>) -> Option<(TxId, Message)> {
    let mut found = None;
    while let Some(a) = c.poll_action() {
        if let Action::Send { tx, request, .. } = a
            && found.is_none()
        {
            found = Some((tx, request));
        }
    }
    found
}

/// The caller's in-dialog request (ACK or BYE) with our To tag.
fn caller_request(method: &str, seq: u32, our_tag: &str) -> Message {
    parse(format!(
        "{method} sip:203.0.113.10:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-{method}-{seq};rport\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:198.51.100.20;lr;ftag=as5e3a1f07>\r\n\
         To: <sip:+4930901820@voice.example.net;user=phone>;tag={our_tag}\r\n\
         From: \"+4989123456\" <sip:+4989123456@carrier.example.com;user=phone>;tag=as5e3a1f07\r\n\
         Call-ID: 3c26f9a8-5b1d-4e7f-9a0c-2d8e6b4f1a93@198.51.100.20\r\n\
         CSeq: {seq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// The bench's configuration, parsed.
pub fn config() -> Arc<voxgate_config::Config> {
    Arc::new(voxgate_config::load_str(CONFIG, "bench.toml").unwrap_or_else(|e| panic!("{e}")))
}

/// The caller's INVITE with SDP.
pub fn invite() -> Message {
    parse(format!(
        "{INVITE_HEAD}Content-Length: {}\r\n\r\n{CALLER_SDP}",
        CALLER_SDP.len()
    ))
}

/// One whole call; returns how many actions the conversation produced.
/// Each step of the conversation's own work runs inside `phase(name, step)`
/// (the harness builds its messages outside), so that a caller can measure
/// steps; the bench passes `|_, step| step()`.
pub fn call(
    config: &Arc<voxgate_config::Config>,
    invite: &Message,
    phase: &mut dyn FnMut(&'static str, &mut dyn FnMut()),
) -> usize {
    let start = Instant::now();
    let local = LocalAddr::new(
        TransportKind::Udp,
        "203.0.113.10:5060".parse().unwrap_or_else(|_| panic!()),
    );
    let ctx = ConversationContext {
        id: ConversationId(1),
        config: config.clone(),
        locals: Locals {
            udp: Some(local),
            tcp: None,
            tls: None,
            ..Locals::default()
        },
        timers: TimerConfig::default(),
        started: std::time::SystemTime::UNIX_EPOCH,
        health: Default::default(),
    };
    let trunk = voxgate_config::TrunkName::new("carrier").unwrap_or_else(|| panic!());
    let invite = Input::Invite {
        tx: TxId::next(),
        request: invite.clone(),
        from: udp("198.51.100.20:5060"),
        trunk,
    };
    let mut conv = None;
    let mut input = Some((ctx, invite));
    phase("invite", &mut || {
        if let Some((ctx, invite)) = input.take() {
            let mut c = Conversation::new(start, ctx, NoMedia::default());
            c.handle(start, invite);
            conv = Some(c);
        }
    });
    let Some(mut c) = conv else {
        panic!("the invite step did not run")
    };
    let dial = Dial::new(vec![Destination {
        uri: "sip:+4930901820@192.0.2.30:5060".into(),
        transport: TransportKind::Udp,
        trunk: voxgate_config::TrunkName::new("pbx"),
    }])
    .connect(LegId(1));
    let mut sent = None;
    let mut dial = Some(dial);
    phase("dial", &mut || {
        if let Some(dial) = dial.take() {
            c.handle(start, Input::Command(Command::Dial(dial)));
            sent = take_send(&mut c);
        }
    });
    let Some((b_tx, b_invite)) = sent else {
        panic!("no INVITE to the callee")
    };
    let respond = |status: u16, reason: &str, sdp: Option<&[u8]>| {
        let mut b = response_to(&b_invite, status, reason, Some("pbx-tag-1"), None);
        if status >= 180 {
            b = b.header(HeaderName::Contact, "<sip:pbx@192.0.2.30:5060>");
        }
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp);
        }
        b.build_message().unwrap_or_else(|e| panic!("{e}"))
    };
    let mut actions = 0;
    for (status, reason, sdp, name) in [
        (100, "Trying", None, "100"),
        (180, "Ringing", None, "180"),
        (200, "OK", Some(CALLEE_SDP), "200"),
    ] {
        let mut response = Some(respond(status, reason, sdp));
        phase(name, &mut || {
            if let Some(response) = response.take() {
                c.handle(start, Input::Response { tx: b_tx, response });
            }
        });
    }
    // Our 200 to the caller carries the tag its ACK and BYE use.
    let mut our_tag = String::new();
    while let Some(a) = c.poll_action() {
        actions += 1;
        if let Action::Respond { response, .. } = &a
            && response.status() == Some(200)
        {
            our_tag = response
                .to_header()
                .ok()
                .and_then(|t| t.tag().map(str::to_string))
                .unwrap_or_default();
        }
    }
    let ack = Input::Ack {
        request: caller_request("ACK", 102, &our_tag),
    };
    let mut ack = Some(ack);
    phase("ack", &mut || {
        if let Some(ack) = ack.take() {
            c.handle(start, ack);
        }
    });
    let t = start + Duration::from_secs(60);
    let bye = Input::Request {
        tx: TxId::next(),
        request: caller_request("BYE", 103, &our_tag),
        from: udp("198.51.100.20:5060"),
    };
    let mut sent = None;
    let mut bye = Some(bye);
    phase("bye", &mut || {
        if let Some(bye) = bye.take() {
            c.handle(t, bye);
            sent = take_send(&mut c);
        }
    });
    let Some((bye_tx, bye)) = sent else {
        panic!("no BYE to the callee")
    };
    let ok = response_to(&bye, 200, "OK", None, None)
        .build_message()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ok = Some(ok);
    phase("bye_200", &mut || {
        if let Some(response) = ok.take() {
            c.handle(
                t,
                Input::Response {
                    tx: bye_tx,
                    response,
                },
            );
            while c.poll_action().is_some() {
                actions += 1;
            }
        }
    });
    assert!(c.is_ended(), "the call did not end");
    actions
}
