//! Builder round-trips (build → parse → same values), response_to with
//! received/rport (RFC 3261 §8.2.6.2, RFC 3581), ACK (§17.1.1.3) and
//! CANCEL (§9.1) construction.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::net::SocketAddr;
use voxgate_sip::message::{
    HeaderName, Invalid, Limits, Message, MessageBuilder, Method, ack_for_non_2xx, cancel_for,
    response_to,
};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.replace('\n', "\r\n")), &Limits::default()).unwrap()
}

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport, SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1
Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKlast
Max-Forwards: 69
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Timestamp: 54
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Type: application/sdp
Content-Length: 4

v=0
";

fn src(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn build_then_parse_round_trip() {
    let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
    let msg = MessageBuilder::request(&Method::Invite, "sip:bob@example.com")
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc",
        )
        .header(HeaderName::MaxForwards, "70")
        .header(HeaderName::From, "<sip:alice@example.com>;tag=t1")
        .header(HeaderName::To, "<sip:bob@example.com>")
        .header(HeaderName::CallId, "cid-1")
        .header(HeaderName::CSeq, "1 INVITE")
        .header_raw("X-Carrier-Ref", "abc, def")
        .header(HeaderName::ContentLength, "999") // ignored: build writes it
        .header_raw("l", "998") // ignored too
        .body("application/sdp", body)
        .build_message()
        .unwrap();
    msg.validate().unwrap();
    assert_eq!(msg.method(), Some(&Method::Invite));
    assert_eq!(msg.request_uri(), Some("sip:bob@example.com"));
    assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bKabc"));
    assert_eq!(msg.from_header().unwrap().tag(), Some("t1"));
    assert_eq!(msg.call_id(), Ok("cid-1"));
    assert_eq!(msg.cseq().unwrap().seq, 1);
    assert_eq!(msg.header_by_name("x-carrier-ref"), Some("abc, def"));
    assert_eq!(msg.content_type(), Some("application/sdp"));
    assert_eq!(msg.content_length(), Some(body.len()));
    assert_eq!(msg.header_lines(HeaderName::ContentLength).count(), 1);
    assert_eq!(msg.body(), body);
}

#[test]
fn build_without_body_writes_content_length_zero() {
    let raw = MessageBuilder::response(180, "Ringing").build();
    assert_eq!(
        &raw[..],
        b"SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn values_cannot_inject_lines() {
    let m = MessageBuilder::response(200, "OK\r\nX-Evil: 1")
        .header_raw("X-A", "a\r\nVia: forged\r\n\r\nbody")
        .build_message()
        .unwrap();
    assert_eq!(m.header(HeaderName::Via), None);
    assert_eq!(m.header_by_name("X-Evil"), None);
    assert_eq!(m.reason(), Some("OK  X-Evil: 1"));
    assert!(m.body().is_empty());
}

#[test]
fn response_copies_dialog_headers_and_adds_to_tag() {
    let inv = parse(INVITE);
    let r = response_to(&inv, 180, "Ringing", Some("as83kd"), None)
        .build_message()
        .unwrap();
    r.validate().unwrap();
    assert_eq!((r.status(), r.reason()), (Some(180), Some("Ringing")));
    let vias: Vec<_> = r.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(
        vias,
        ["pc33.atlanta.example.com", "proxy.example.com", "192.0.2.9"]
    );
    // Without a source address the top Via is copied unchanged.
    assert_eq!(r.top_via().unwrap().rport(), Some(None));
    assert_eq!(r.from_header().unwrap().tag(), Some("1928301774"));
    assert_eq!(r.to_header().unwrap().tag(), Some("as83kd"));
    assert_eq!(r.to_header().unwrap().display, Some("Bob"));
    assert_eq!(r.call_id(), inv.call_id());
    assert_eq!(r.cseq(), inv.cseq());
    assert_eq!(
        r.header(HeaderName::Timestamp),
        None,
        "Timestamp only echoes in 100"
    );
    assert_eq!(r.header(HeaderName::Contact), None);
    assert!(r.body().is_empty());
}

#[test]
fn response_keeps_an_existing_to_tag() {
    let reinvite = INVITE.replace(
        "To: Bob <sip:bob@biloxi.example.com>",
        "To: <sip:bob@b>;tag=old",
    );
    let r = response_to(&parse(&reinvite), 200, "OK", Some("new"), None)
        .build_message()
        .unwrap();
    assert_eq!(r.to_header().unwrap().tag(), Some("old"));
    assert_eq!(r.header_lines(HeaderName::To).count(), 1);
}

#[test]
fn trying_echoes_timestamp() {
    let r = response_to(&parse(INVITE), 100, "Trying", None, None)
        .build_message()
        .unwrap();
    assert_eq!(r.header(HeaderName::Timestamp), Some("54"));
    assert_eq!(r.to_header().unwrap().tag(), None);
}

#[test]
fn rport_is_filled_and_received_added() {
    // RFC 3581 §4: bare rport → rport=<source port> and received=<source IP>.
    let r = response_to(
        &parse(INVITE),
        200,
        "OK",
        Some("t"),
        src("198.51.100.7:61000"),
    )
    .build_message()
    .unwrap();
    let top = r.top_via().unwrap();
    assert_eq!(top.rport(), Some(Some(61000)));
    assert_eq!(top.received(), Some("198.51.100.7"));
    assert_eq!(top.branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(
        (top.host, top.port),
        ("pc33.atlanta.example.com", Some(5060))
    );
    // Only the top Via changes.
    let second = r.vias().nth(1).unwrap().unwrap();
    assert_eq!(
        (second.host, second.received(), second.rport()),
        ("proxy.example.com", None, None)
    );
}

#[test]
fn received_only_when_sent_by_differs() {
    let req = |via: &str| {
        parse(&format!(
            "OPTIONS sip:a@b SIP/2.0\nVia: {via}\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@y>\nCall-ID: c\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n"
        ))
    };
    let top = |m: &Message, source: &str| {
        let r = response_to(m, 200, "OK", None, src(source))
            .build_message()
            .unwrap();
        let v = r.top_via().unwrap();
        (v.received().map(str::to_owned), v.rport())
    };
    // Same IP, no rport: unchanged.
    let same = req("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
    assert_eq!(top(&same, "192.0.2.1:5060"), (None, None));
    // Different IP (NAT): received, rport not added.
    assert_eq!(
        top(&same, "203.0.113.5:4000"),
        (Some("203.0.113.5".into()), None)
    );
    // Host name in sent-by always differs (RFC 3261 §18.2.1).
    let named = req("SIP/2.0/UDP pc.example.com;branch=z9hG4bK1");
    assert_eq!(
        top(&named, "192.0.2.1:5060"),
        (Some("192.0.2.1".into()), None)
    );
    // A stale received from the request is replaced, not duplicated.
    let stale = req("SIP/2.0/UDP 10.0.0.1;received=10.9.9.9;branch=z9hG4bK1");
    let r = response_to(&stale, 200, "OK", None, src("203.0.113.5:4000"))
        .build_message()
        .unwrap();
    let via = r.header(HeaderName::Via).unwrap();
    assert_eq!(
        via,
        "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=203.0.113.5"
    );
    // rport with a value already is left alone; same IP still gets no received.
    let filled = req("SIP/2.0/UDP 192.0.2.1;rport=7000;branch=z9hG4bK1");
    assert_eq!(top(&filled, "192.0.2.1:5060"), (None, Some(Some(7000))));
    // IPv6: brackets in sent-by, none in received.
    let v6 = req("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport");
    assert_eq!(
        top(&v6, "[2001:db8::1]:5062"),
        (Some("2001:db8::1".into()), Some(Some(5062)))
    );
    assert_eq!(
        top(&v6, "[2001:db8::2]:5062"),
        (Some("2001:db8::2".into()), Some(Some(5062)))
    );
}

#[test]
fn response_to_compact_and_folded_request() {
    let m = parse(
        "OPTIONS sip:a@b SIP/2.0\nv: SIP/2.0/UDP 192.0.2.1\n ;branch=z9hG4bK1;rport\nf: <sip:a@x>;tag=1\nt: <sip:b@y>\ni: c\nCSeq: 1 OPTIONS\nMax-Forwards: 70\n\n",
    );
    let r = response_to(&m, 200, "OK", Some("x"), src("192.0.2.1:5099"))
        .build_message()
        .unwrap();
    r.validate().unwrap();
    // Written with long names.
    assert!(r.raw().windows(5).any(|w| w == b"\nVia:"));
    assert_eq!(r.top_via().unwrap().rport(), Some(Some(5099)));
    assert_eq!(r.top_via().unwrap().received(), Some("192.0.2.1"));
    assert_eq!(r.to_header().unwrap().tag(), Some("x"));
}

const FINAL_486: &str = "SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.4
Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKlast
To: Bob <sip:bob@biloxi.example.com>;tag=busy1
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Content-Length: 0

";

#[test]
fn ack_for_non_2xx_follows_17_1_1_3() {
    let inv = parse(INVITE);
    let ack = ack_for_non_2xx(&inv, &parse(FINAL_486)).unwrap();
    let ack = Message::parse(ack, &Limits::default()).unwrap();
    ack.validate().unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), inv.request_uri());
    // Exactly one Via: the INVITE's top one, as sent.
    assert_eq!(
        ack.header_values(HeaderName::Via).collect::<Vec<_>>(),
        ["SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport"]
    );
    assert_eq!(ack.header(HeaderName::From), inv.header(HeaderName::From));
    assert_eq!(ack.to_header().unwrap().tag(), Some("busy1"));
    assert_eq!(ack.call_id(), inv.call_id());
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Ack));
    let routes: Vec<_> = ack.routes().map(|r| r.unwrap().uri).collect();
    assert_eq!(routes, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
    assert_eq!(ack.max_forwards(), Ok(Some(70)));
    assert_eq!(ack.content_length(), Some(0));
    assert_eq!(ack.header(HeaderName::Contact), None);
    assert_eq!(ack.header(HeaderName::ContentType), None);
}

#[test]
fn cancel_follows_9_1() {
    let inv = parse(INVITE);
    let cancel = Message::parse(cancel_for(&inv).unwrap(), &Limits::default()).unwrap();
    cancel.validate().unwrap();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.request_uri(), inv.request_uri());
    assert_eq!(cancel.header_values(HeaderName::Via).count(), 1);
    assert_eq!(cancel.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(cancel.header(HeaderName::To), inv.header(HeaderName::To));
    assert_eq!(cancel.to_header().unwrap().tag(), None);
    assert_eq!(
        cancel.header(HeaderName::From),
        inv.header(HeaderName::From)
    );
    assert_eq!(cancel.call_id(), inv.call_id());
    let cseq = cancel.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Cancel));
    assert_eq!(cancel.routes().count(), 2);
    assert_eq!(cancel.max_forwards(), Ok(Some(70)));
    assert_eq!(cancel.content_length(), Some(0));
}

#[test]
fn ack_and_cancel_need_a_usable_invite() {
    let resp = parse(FINAL_486);
    assert_eq!(cancel_for(&resp), Err(Invalid::NotRequest));
    assert_eq!(ack_for_non_2xx(&resp, &resp), Err(Invalid::NotRequest));
    let no_cseq = parse(&INVITE.replace("CSeq: 314159 INVITE\n", ""));
    assert_eq!(
        cancel_for(&no_cseq),
        Err(Invalid::Missing(HeaderName::CSeq))
    );
    let no_via = parse(
        &INVITE
            .replace("Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKlast\n", "")
            .replacen("Via: ", "X-Via: ", 1),
    );
    assert_eq!(cancel_for(&no_via), Err(Invalid::Missing(HeaderName::Via)));
    let resp_no_to =
        parse(&FINAL_486.replace("To: Bob <sip:bob@biloxi.example.com>;tag=busy1\n", ""));
    assert_eq!(
        ack_for_non_2xx(&parse(INVITE), &resp_no_to),
        Err(Invalid::Missing(HeaderName::To))
    );
}
