//! RFC 3262 reliable provisionals: RSeq numbering, RAck parsing and
//! matching, the 100rel option tag, and a 183 → PRACK exchange between a
//! UAS and a UAC early dialog.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::time::{Duration, Instant};
use voxgate_sip::TransportKind;
use voxgate_sip::dialog::prack::{
    RAck, RSeq, ReceivedRSeq, ReliableVerdict, parse_rseq, requires_100rel, rseq_of,
    supports_100rel,
};
use voxgate_sip::dialog::{Dialog, DialogKey, LocalAddr, Retransmit, RetransmitAction};
use voxgate_sip::message::{CSeq, HeaderName, Invalid, Limits, Message, Method};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.replace('\n', "\r\n")), &Limits::default()).unwrap()
}

const INVITE: &str = "INVITE sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a
To: <sip:bob@example.net>
Call-ID: c1
CSeq: 12 INVITE
Contact: <sip:alice@198.51.100.7>
Supported: timer, 100rel
Content-Length: 0

";

#[test]
fn rseq_starts_random_in_range_and_increments() {
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..64 {
        let mut r = RSeq::random();
        let first = r.next_value();
        assert!((1..=(1u32 << 31) - 1).contains(&first), "{first}");
        assert_eq!(r.next_value(), first + 1);
        assert_eq!(r.peek(), first + 2);
        firsts.insert(first);
    }
    assert!(firsts.len() > 60, "random starts");
    let mut r = RSeq::starting_at(5);
    assert_eq!([r.next_value(), r.next_value(), r.next_value()], [5, 6, 7]);
    // Never 0, even at the very end of the space.
    let mut r = RSeq::starting_at(u32::MAX);
    assert_eq!(r.next_value(), u32::MAX);
    assert_eq!(r.next_value(), 1);
}

#[test]
fn rseq_values() {
    assert_eq!(parse_rseq(" 42 "), Some(42));
    assert_eq!(parse_rseq("4294967295"), Some(u32::MAX));
    for bad in ["", "x", "-1", "4294967296", "1 2"] {
        assert_eq!(parse_rseq(bad), None, "{bad:?}");
    }
}

#[test]
fn rack_parse_print_round_trip() {
    let r = RAck::parse("776656 1 INVITE").unwrap();
    assert_eq!(
        r,
        RAck {
            rseq: 776656,
            cseq: 1,
            method: Method::Invite
        }
    );
    assert_eq!(r.to_string(), "776656 1 INVITE");
    assert_eq!(RAck::parse(&r.to_string()), Some(r));
    assert_eq!(RAck::parse("  5\t12   INVITE ").unwrap().cseq, 12);
    for bad in [
        "",
        "1 INVITE",
        "a 1 INVITE",
        "1 b INVITE",
        "1 2 INVITE x",
        "1 2 IN\"VITE",
    ] {
        assert_eq!(RAck::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn option_tags() {
    let invite = parse(INVITE);
    assert!(supports_100rel(&invite));
    assert!(!requires_100rel(&invite));
    let req = parse(&INVITE.replace("Supported: timer, 100rel", "Require: 100rel"));
    assert!(supports_100rel(&req));
    assert!(requires_100rel(&req));
    let none = parse(&INVITE.replace("Supported: timer, 100rel", "k: timer"));
    assert!(!supports_100rel(&none));
}

/// UAS answers 183 reliably; the UAC's early dialog PRACKs it; the UAS
/// matches the RAck and stops retransmitting.
#[test]
fn reliable_183_and_its_prack() {
    let t0 = Instant::now();
    let invite = parse(INVITE);
    let uas = Dialog::uas(
        &invite,
        "b",
        LocalAddr::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap()),
    )
    .unwrap();
    let mut counter = RSeq::starting_at(1000);
    let rseq = counter.next_value();
    let p183 = uas
        .response(&invite, 183, "Session Progress", None)
        .header(HeaderName::Require, "100rel")
        .header(HeaderName::RSeq, &rseq.to_string())
        .body("application/sdp", b"v=0\r\n")
        .build_message()
        .unwrap();
    let mut retransmit = Retransmit::start_provisional(t0, Duration::from_millis(500));
    assert!(requires_100rel(&p183));
    assert_eq!(rseq_of(&p183).unwrap(), Some(1000));

    // UAC side: an early dialog from the 183, then PRACK in it.
    let mut uac = Dialog::uac(
        &invite,
        &p183,
        LocalAddr::new(TransportKind::Udp, "198.51.100.7:5060".parse().unwrap()),
    )
    .unwrap();
    let mut seen = ReceivedRSeq::new();
    assert_eq!(
        seen.accept(rseq_of(&p183).unwrap().unwrap()),
        ReliableVerdict::New
    );
    let rack = RAck::for_response(&p183).unwrap();
    assert_eq!(rack.to_string(), "1000 12 INVITE");
    let prack = uac
        .request(Method::Prack)
        .header(HeaderName::RAck, &rack.to_string())
        .build_message()
        .unwrap();
    assert_eq!(prack.cseq().unwrap().seq, 13, "PRACK takes the next CSeq");

    // UAS side: the PRACK belongs to the dialog and acknowledges the 183.
    let mut uas = uas;
    assert_eq!(DialogKey::of_incoming_request(&prack), Some(uas.key()));
    uas.check_request(&prack).unwrap();
    let got = RAck::of(&prack).unwrap();
    let invite_cseq = invite.cseq().unwrap();
    assert!(got.matches(rseq, &invite_cseq));
    assert!(!got.matches(rseq + 1, &invite_cseq));
    assert!(!got.matches(
        rseq,
        &CSeq {
            seq: 12,
            method: Method::Update
        }
    ));
    assert_eq!(
        retransmit.on_timeout(t0 + Duration::from_millis(500)),
        RetransmitAction::Resend
    );
    retransmit.stop();
    assert_eq!(retransmit.next_deadline(), None);
}

#[test]
fn rack_errors() {
    let invite = parse(INVITE);
    assert_eq!(RAck::of(&invite), Err(Invalid::Missing(HeaderName::RAck)));
    let bad = parse(&INVITE.replace("Supported: timer, 100rel", "RAck: one 12 INVITE"));
    assert_eq!(RAck::of(&bad), Err(Invalid::Malformed(HeaderName::RAck)));
    let no_rseq = parse(
        "SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1
From: <sip:alice@example.com>;tag=a
To: <sip:bob@example.net>;tag=b
Call-ID: c1
CSeq: 12 INVITE
Content-Length: 0

",
    );
    assert_eq!(
        RAck::for_response(&no_rseq),
        Err(Invalid::Missing(HeaderName::RSeq))
    );
    assert_eq!(rseq_of(&no_rseq), Ok(None));
}

#[test]
fn uac_accepts_only_the_next_rseq() {
    let mut seen = ReceivedRSeq::new();
    assert_eq!(seen.last(), None);
    assert_eq!(seen.accept(500), ReliableVerdict::New);
    assert_eq!(seen.accept(500), ReliableVerdict::Retransmission);
    assert_eq!(seen.accept(502), ReliableVerdict::OutOfOrder);
    assert_eq!(seen.accept(499), ReliableVerdict::OutOfOrder);
    assert_eq!(seen.last(), Some(500));
    assert_eq!(seen.accept(501), ReliableVerdict::New);
    assert_eq!(seen.last(), Some(501));
    let mut end = ReceivedRSeq::new();
    assert_eq!(end.accept(u32::MAX), ReliableVerdict::New);
    assert_eq!(end.accept(0), ReliableVerdict::OutOfOrder);
}
