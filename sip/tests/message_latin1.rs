//! Header values that are not UTF-8 (Latin-1 display names and Subjects from
//! older gear): the message parses, what the stack needs still reads, the
//! display name is carried lossily, and responses echo the bytes exactly.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use voxgate_sip::TransportKind;
use voxgate_sip::dialog::{Dialog, LocalAddr};
use voxgate_sip::message::{HeaderName, Invalid, Limits, Message, response_to};

/// An INVITE whose From display name is "José Müller" in ISO-8859-1 and
/// whose Subject is "Café" in ISO-8859-1; everything else ASCII.
fn latin1_invite() -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(b"INVITE sip:1001@192.0.2.1 SIP/2.0\r\n");
    raw.extend_from_slice(b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKl1\r\n");
    raw.extend_from_slice(b"Max-Forwards: 70\r\n");
    raw.extend_from_slice(b"From: \"Jos\xe9 M\xfcller\" <sip:+3312345@192.0.2.9>;tag=f1\r\n");
    raw.extend_from_slice(b"To: <sip:1001@192.0.2.1>\r\n");
    raw.extend_from_slice(b"Call-ID: l1@192.0.2.9\r\n");
    raw.extend_from_slice(b"CSeq: 1 INVITE\r\n");
    raw.extend_from_slice(b"Contact: \"Jos\xe9\" <sip:+3312345@192.0.2.9:5060>\r\n");
    raw.extend_from_slice(b"Subject: Caf\xe9\r\n");
    raw.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    raw
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn parse(raw: Vec<u8>) -> Message {
    Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
}

#[test]
fn a_latin1_display_name_and_subject_parse_and_validate() {
    let m = parse(latin1_invite());
    m.validate().unwrap();
    let from = m.from_header().unwrap();
    assert_eq!(from.uri, "sip:+3312345@192.0.2.9");
    assert_eq!(from.tag(), Some("f1"));
    assert_eq!(from.display, None, "not UTF-8: no &str display");
    assert_eq!(from.display_bytes(), Some(&b"Jos\xe9 M\xfcller"[..]));
    assert_eq!(from.display_lossy().as_deref(), Some("José Müller"));
    let contact = m.contacts().next().unwrap().unwrap();
    assert_eq!(contact.uri, "sip:+3312345@192.0.2.9:5060");
    assert_eq!(contact.display_lossy().as_deref(), Some("José"));
    // Free text: absent as text, present as bytes.
    assert_eq!(m.header(HeaderName::Subject), None);
    assert_eq!(m.header_bytes(HeaderName::Subject), Some(&b"Caf\xe9"[..]));
    let subject = m
        .headers()
        .find(|h| h.known == Some(HeaderName::Subject))
        .unwrap();
    assert_eq!((subject.value, subject.value_bytes), ("", &b"Caf\xe9"[..]));
    // UTF-8 values read as before.
    assert_eq!(m.header(HeaderName::CallId), Some("l1@192.0.2.9"));
    assert_eq!(m.headers().count(), m.header_count());
}

#[test]
fn an_unquoted_latin1_display_name_reads_too() {
    let raw = latin1_invite();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let from_at = text.find("From: ").unwrap();
    let mut raw2 = raw[..from_at].to_vec();
    raw2.extend_from_slice(b"From: Jos\xe9 <sip:+3312345@192.0.2.9>;tag=f2\r\n");
    let rest = &raw[from_at..];
    let eol = rest.iter().position(|&b| b == b'\n').unwrap();
    raw2.extend_from_slice(&rest[eol + 1..]);
    let m = parse(raw2);
    m.validate().unwrap();
    let from = m.from_header().unwrap();
    assert_eq!(
        (from.uri, from.tag()),
        ("sip:+3312345@192.0.2.9", Some("f2"))
    );
    assert_eq!(from.display_lossy().as_deref(), Some("José"));
}

#[test]
fn c1_bytes_decode_as_replacement_characters() {
    let mut raw = latin1_invite();
    let i = raw.windows(3).position(|w| w == b"Jos").unwrap();
    raw[i + 3] = 0x92; // Windows-1252's right quote: a C1 control in Latin-1
    let m = parse(raw);
    let from = m.from_header().unwrap();
    assert_eq!(from.display_lossy().as_deref(), Some("Jos\u{fffd} Müller"));
}

#[test]
fn responses_echo_the_bytes_exactly() {
    let m = parse(latin1_invite());
    let source = "192.0.2.9:5060".parse().ok();
    let wire = response_to(&m, 486, "Busy Here", Some("t9"), source).build();
    assert!(
        contains(
            &wire,
            b"\r\nFrom: \"Jos\xe9 M\xfcller\" <sip:+3312345@192.0.2.9>;tag=f1\r\n"
        ),
        "the From is copied byte for byte"
    );
    let r = Message::parse(wire, &Limits::default()).unwrap();
    r.validate().unwrap();
    assert_eq!(r.from_header().unwrap().tag(), Some("f1"));
    assert_eq!(r.to_header().unwrap().tag(), Some("t9"));
}

#[test]
fn a_uas_dialog_carries_the_name_as_utf8() {
    let m = parse(latin1_invite());
    let local = LocalAddr::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap());
    let mut dialog = Dialog::uas(&m, "ours", local).unwrap();
    let bye = dialog
        .request(voxgate_sip::message::Method::Bye)
        .build_message()
        .unwrap();
    let to = bye.to_header().unwrap();
    assert_eq!(to.display, Some("José Müller"));
    assert_eq!(to.tag(), Some("f1"));
}

#[test]
fn non_utf8_bytes_elsewhere_in_checked_headers_are_malformed() {
    let cases: [(&[u8], &[u8], Invalid); 5] = [
        (
            b"Call-ID: l1@192.0.2.9",
            b"Call-ID: l\xe91@192.0.2.9",
            Invalid::Malformed(HeaderName::CallId),
        ),
        (
            b"CSeq: 1 INVITE",
            b"CSeq: 1 INVIT\xc9",
            Invalid::Malformed(HeaderName::CSeq),
        ),
        (
            b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKl1",
            b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK\xe9",
            Invalid::Malformed(HeaderName::Via),
        ),
        (
            b"Max-Forwards: 70",
            b"Max-Forwards: 7\xe9",
            Invalid::Malformed(HeaderName::MaxForwards),
        ),
        (
            b"To: <sip:1001@192.0.2.1>",
            b"To: <sip:1001\xe9@192.0.2.1>",
            Invalid::Malformed(HeaderName::To),
        ),
    ];
    for (from, to, want) in cases {
        let raw = latin1_invite();
        let i = raw.windows(from.len()).position(|w| w == from).unwrap();
        let mut bad = raw[..i].to_vec();
        bad.extend_from_slice(to);
        bad.extend_from_slice(&raw[i + from.len()..]);
        let m = parse(bad);
        assert_eq!(m.validate(), Err(want.clone()), "{want:?}");
    }
}

#[test]
fn a_folded_latin1_value_is_joined_as_bytes() {
    let raw = latin1_invite();
    let i = raw.windows(9).position(|w| w == b"Subject: ").unwrap();
    let mut folded = raw[..i].to_vec();
    folded.extend_from_slice(b"Subject: Caf\xe9\r\n  cr\xe8me\r\n");
    let rest = &raw[i..];
    let eol = rest.iter().position(|&b| b == b'\n').unwrap();
    folded.extend_from_slice(&rest[eol + 1..]);
    let m = parse(folded);
    m.validate().unwrap();
    assert_eq!(
        m.header_bytes(HeaderName::Subject),
        Some(&b"Caf\xe9 cr\xe8me"[..])
    );
}

#[test]
fn a_latin1_reason_phrase_keeps_the_response() {
    let raw = b"SIP/2.0 404 Non trouv\xe9\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
        From: <sip:a@192.0.2.1>;tag=a\r\nTo: <sip:b@192.0.2.9>;tag=b\r\n\
        Call-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let m = parse(raw);
    m.validate().unwrap();
    assert_eq!(m.status(), Some(404));
    assert_eq!(
        m.reason(),
        None,
        "not UTF-8: callers use the default phrase"
    );
}
