//! RFC 4475 torture messages: every valid one parses and validates, every
//! invalid one is rejected at the stage noted, none panics.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::path::{Path, PathBuf};
use voxgate_sip::message::{HeaderName, Invalid, Limits, Message, ParseError};

/// Where an invalid message must be rejected.
#[derive(Debug)]
enum Reject {
    Parse(ParseError),
    Validate(Invalid),
}

/// Each invalid message, the stage that rejects it, and why.
fn expected_rejection(name: &str) -> Reject {
    use Reject::{Parse, Validate};
    match name {
        // §3.1.2.1 `Via: ...;;,;,,`: empty parameters and empty Via values.
        "badinv01" => Validate(Invalid::Malformed(HeaderName::Via)),
        // §3.1.2.2 Content-Length 9999 on a 154-byte body.
        "clerr" => Parse(ParseError::BodyTruncated {
            declared: 9999,
            available: 154,
        }),
        // §3.1.2.3 Content-Length: -999.
        "ncl" => Parse(ParseError::BadContentLength),
        // §3.1.2.4 CSeq 36893488147419103232 does not fit 32 bits (checked first).
        "scalar02" => Validate(Invalid::Malformed(HeaderName::CSeq)),
        // §3.1.2.5 the same in a response.
        "scalarlg" => Validate(Invalid::Malformed(HeaderName::CSeq)),
        // §3.1.2.6 unterminated quoted display name in To.
        "quotbal" => Validate(Invalid::Malformed(HeaderName::To)),
        // §3.1.2.7 `INVITE <sip:...> SIP/2.0`.
        "ltgtruri" => Parse(ParseError::BadRequestUri),
        // §3.1.2.8 `sip:user@example.com; lr`: LWS inside the Request-URI.
        "lwsruri" => Parse(ParseError::BadStartLine),
        // §3.1.2.9 two SPs between Request-Line elements.
        "lwsstart" => Parse(ParseError::BadStartLine),
        // §3.1.2.10 SPs after SIP/2.0.
        "trws" => Parse(ParseError::BadStartLine),
        // §3.1.2.11 `?Route=` headers in a SIP Request-URI.
        "escruri" => Parse(ParseError::BadRequestUri),
        // §3.1.2.12 Date in EST; RFC 3261 §20.17 allows GMT only.
        "baddate" => Validate(Invalid::Malformed(HeaderName::Date)),
        // §3.1.2.13 Contact addr-spec with `?` outside <>.
        "regbadct" => Validate(Invalid::Malformed(HeaderName::Contact)),
        // §3.1.2.14 `< sip:t.watson@example.org >`: LWS inside <>.
        "badaspec" => Validate(Invalid::Malformed(HeaderName::To)),
        // §3.1.2.15 the RFC's bytes end without the empty line after the
        // headers; with it, validate rejects the unquoted `Bell, Alexander`
        // display name (see `baddn_display_name_is_rejected_by_validate`).
        "baddn" => Parse(ParseError::HeadersUnterminated),
        // §3.1.2.16 SIP/7.0: the edge answers 505.
        "badvers" => Parse(ParseError::UnsupportedVersion),
        // §3.1.2.17 OPTIONS with CSeq method INVITE.
        "mismatch01" => Validate(Invalid::CSeqMethodMismatch),
        // §3.1.2.18 NEWMETHOD with CSeq method INVITE.
        "mismatch02" => Validate(Invalid::CSeqMethodMismatch),
        // §3.1.2.19 status code 4294967301.
        "bigcode" => Parse(ParseError::BadStatusCode),
        // §3.3.1 no Call-ID, From or To (From is checked first).
        "insuf" => Validate(Invalid::Missing(HeaderName::From)),
        // §3.3.8 two From, To, Call-ID, CSeq and Max-Forwards lines.
        "multi01" => Validate(Invalid::Malformed(HeaderName::From)),
        // §3.3.9 two Content-Length headers: framing is ambiguous.
        "mcl01" => Parse(ParseError::DuplicateContentLength),
        // §3.4.1 RFC 2543 INVITE without Max-Forwards (RFC 3261 §8.1.1 requires it).
        "inv2543" => Validate(Invalid::Missing(HeaderName::MaxForwards)),
        other => panic!("{other}.sip has no expectation in message_torture.rs"),
    }
}

fn torture_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/torture")
        .join(kind)
}

fn load(kind: &str) -> Vec<(String, Bytes)> {
    let mut files: Vec<_> = std::fs::read_dir(torture_dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&p).unwrap()))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn valid_messages_parse_and_validate() {
    let files = load("valid");
    assert_eq!(files.len(), 26, "RFC 4475 valid set is incomplete");
    for (name, raw) in files {
        let msg = Message::parse(raw, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: parse failed: {e:?}"));
        msg.validate()
            .unwrap_or_else(|e| panic!("{name}: validate failed: {e:?}"));
        // Every accessor works on every valid message.
        msg.top_via().unwrap();
        msg.from_header().unwrap();
        msg.to_header().unwrap();
        msg.call_id().unwrap();
        msg.cseq().unwrap();
        assert!(msg.contacts().all(|c| c.is_ok()), "{name}");
        assert!(msg.routes().all(|r| r.is_ok()), "{name}");
        assert!(msg.record_routes().all(|r| r.is_ok()), "{name}");
        assert_eq!(msg.headers().count(), msg.header_count(), "{name}");
        if let Some(cl) = msg.content_length() {
            assert_eq!(msg.body().len(), cl, "{name}");
        }
    }
}

#[test]
fn invalid_messages_are_rejected_at_the_expected_stage() {
    let files = load("invalid");
    assert_eq!(files.len(), 23, "RFC 4475 invalid set is incomplete");
    for (name, raw) in files {
        let parsed = Message::parse(raw, &Limits::default());
        match (expected_rejection(&name), parsed) {
            (Reject::Parse(want), Err(got)) => assert_eq!(got, want, "{name}"),
            (Reject::Parse(want), Ok(_)) => panic!("{name}: parsed, expected {want:?}"),
            (Reject::Validate(want), Ok(msg)) => {
                assert_eq!(msg.validate(), Err(want), "{name}");
            }
            (Reject::Validate(want), Err(e)) => {
                panic!("{name}: parse failed with {e:?}, expected validate to say {want:?}")
            }
        }
    }
}

#[test]
fn baddn_display_name_is_rejected_by_validate() {
    let mut raw = std::fs::read(torture_dir("invalid").join("baddn.sip")).unwrap();
    raw.extend_from_slice(b"\r\n");
    let msg = Message::parse(Bytes::from(raw), &Limits::default()).unwrap();
    assert_eq!(msg.validate(), Err(Invalid::Malformed(HeaderName::From)));
}

#[test]
fn wsinv_reads_as_the_rfc_says() {
    let raw = std::fs::read(torture_dir("valid").join("wsinv.sip")).unwrap();
    let msg = Message::parse(Bytes::from(raw), &Limits::default()).unwrap();
    assert_eq!(msg.to_header().unwrap().tag(), Some("1918181833n"));
    let from = msg.from_header().unwrap();
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(from.display, Some(r#"J Rosenberg \\\""#));
    assert_eq!(msg.max_forwards(), Ok(Some(68)));
    let cseq = msg.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method.as_str()), (9, "INVITE"));
    let vias: Vec<_> = msg.vias().map(|v| v.unwrap()).collect();
    let got: Vec<_> = vias
        .iter()
        .map(|v| (v.transport, v.host, v.branch()))
        .collect();
    assert_eq!(
        got,
        [
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    assert!(vias.iter().all(|v| v.protocol == "SIP/2.0"));
    let contact = msg.contacts().next().unwrap().unwrap();
    assert_eq!(contact.params.get("newparam"), Some(Some("newvalue")));
    assert_eq!(contact.params.get("secondparam"), Some(None));
    assert_eq!(contact.params.get("q"), Some(Some("0.33")));
    assert_eq!(msg.header(HeaderName::Subject), Some(""));
    assert_eq!(
        msg.header_by_name("newfangledheader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        msg.header_by_name("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(msg.body().len(), 150);
}

#[test]
fn dblreq_keeps_only_the_first_message() {
    let raw = std::fs::read(torture_dir("valid").join("dblreq.sip")).unwrap();
    let msg = Message::parse(Bytes::from(raw), &Limits::default()).unwrap();
    assert_eq!(msg.method().unwrap().as_str(), "REGISTER");
    assert!(msg.body().is_empty());
    assert!(!msg.raw().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn intmeth_unreason_noreason_mpart01() {
    let read = |n: &str| {
        let raw = std::fs::read(torture_dir("valid").join(format!("{n}.sip"))).unwrap();
        Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
    };
    let m = read("intmeth");
    let method = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(m.method().unwrap().as_str(), method);
    assert_eq!(m.cseq().unwrap().method.as_str(), method);
    assert_eq!(
        m.header_by_name("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
    assert_eq!(
        m.call_id(),
        Ok(r#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
    );
    let r = read("unreason");
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        r.reason(),
        Some("= 2**3 * 5**2 но сто девяносто девять - простое")
    );
    let n = read("noreason");
    assert_eq!((n.status(), n.reason()), (Some(100), Some("")));
    let mp = read("mpart01");
    assert_eq!(mp.body().len(), 553);
    assert!(mp.raw().ends_with(mp.body()));
    assert_eq!(mp.top_via().unwrap().rport(), Some(None));
}

#[test]
fn no_torture_prefix_panics() {
    // Every prefix of every message, valid or not: parse must return, and
    // accessors on whatever parses must not panic.
    for kind in ["valid", "invalid"] {
        for (_, raw) in load(kind) {
            for end in 0..=raw.len() {
                if let Ok(m) = Message::parse(raw.slice(..end), &Limits::default()) {
                    let _ = m.validate();
                    let _ = m.vias().count();
                    let _ = m.contacts().count();
                    let _ = m.session_expires();
                }
            }
        }
    }
}
