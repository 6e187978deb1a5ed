//! `Salvage`: reading what the strict parser or `validate` refused, only to
//! answer it. Which RFC 4475 invalid messages can be answered, what the
//! answers carry, what is never answered, and a seeded mutation run (the
//! fuzz target's properties, without cargo-fuzz) that nothing panics and
//! every salvaged answer parses.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::path::Path;
use voxgate_sip::message::{HeaderName, Limits, Message, Method, ParseError, Salvage};

fn torture(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/torture")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// What the edge answers (status, reason) for `raw`, or None: the same
/// decision as `voxgate_edge::core` (parse, then validate, then salvage).
fn answer(raw: &[u8]) -> Option<(u16, String, Message)> {
    let (status, reason) = match Message::parse(Bytes::copy_from_slice(raw), &Limits::default()) {
        Err(e) => (e.status_code(), e.reason_phrase().into_owned()),
        Ok(msg) => match msg.validate() {
            Ok(()) => return None,
            Err(invalid) => (400, invalid.to_string()),
        },
    };
    let salvaged = Salvage::read(raw)?;
    let source = "192.0.2.200:5070".parse().ok();
    let wire = salvaged
        .response(status, &reason, Some("tg"), source)
        .build();
    let response = Message::parse(wire, &Limits::default()).expect("a salvaged answer parses");
    Some((status, reason, response))
}

#[test]
fn rfc4475_invalid_requests_are_answered_and_responses_dropped() {
    let expected: &[(&str, Option<(u16, &str)>)] = &[
        ("badaspec", Some((400, "Malformed To header"))),
        ("baddate", Some((400, "Malformed Date header"))),
        ("baddn", Some((400, "Header section not terminated"))),
        ("badinv01", Some((400, "Malformed Via header"))),
        ("badvers", Some((505, "Version Not Supported"))),
        ("bigcode", None), // a response: never answered
        ("clerr", Some((400, "Body shorter than Content-Length"))),
        ("escruri", Some((400, "Malformed Request-URI"))),
        ("insuf", Some((400, "Missing From header"))),
        ("inv2543", Some((400, "Missing Max-Forwards header"))),
        ("ltgtruri", Some((400, "Malformed Request-URI"))),
        ("lwsruri", Some((400, "Malformed Request-Line"))),
        ("lwsstart", Some((400, "Malformed Request-Line"))),
        ("mcl01", Some((400, "More than one Content-Length header"))),
        (
            "mismatch01",
            Some((400, "CSeq method does not match request method")),
        ),
        (
            "mismatch02",
            Some((400, "CSeq method does not match request method")),
        ),
        ("multi01", Some((400, "Malformed From header"))),
        ("ncl", Some((400, "Malformed Content-Length header"))),
        ("quotbal", Some((400, "Malformed To header"))),
        ("regbadct", Some((400, "Malformed Contact header"))),
        ("scalar02", Some((400, "Malformed CSeq header"))),
        ("scalarlg", None), // a response
        ("trws", Some((400, "Malformed Request-Line"))),
    ];
    let files = torture("invalid");
    assert_eq!(files.len(), expected.len());
    for ((name, raw), (want_name, want)) in files.iter().zip(expected) {
        assert_eq!(name, want_name);
        let got = answer(raw);
        match (want, got) {
            (None, None) => {}
            (Some((status, reason)), Some((s, r, response))) => {
                assert_eq!((s, r.as_str()), (*status, *reason), "{name}");
                assert_eq!(response.status(), Some(*status), "{name}");
                assert_eq!(response.reason(), Some(*reason), "{name}");
                // The answer echoes what the sender matches it by.
                assert!(response.header(HeaderName::Via).is_some(), "{name}");
                let cseq = raw
                    .split(|&b| b == b'\n')
                    .find_map(|l| l.strip_prefix(b"CSeq:"))
                    .map(|v| v.trim_ascii());
                assert_eq!(response.header_bytes(HeaderName::CSeq), cseq, "{name}");
            }
            (want, got) => panic!(
                "{name}: expected {want:?}, got {:?}",
                got.map(|(s, r, _)| (s, r))
            ),
        }
    }
}

#[test]
fn the_answer_echoes_the_request_with_our_tag_and_received() {
    let raw = b"INVITE  sip:1001@192.0.2.1 SIP/2.0\r\n\
        v: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKs1;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKs0\r\n\
        Via: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKsm\r\n\
        f: \"Jos\xe9\" <sip:a@192.0.2.9>;tag=fa\r\n\
        t: <sip:1001@192.0.2.1>\r\n\
        i: salv-1@192.0.2.9\r\n\
        CSeq: 4 INVITE\r\n\
        Content-Length: -1\r\n\r\n";
    let (status, reason, r) = answer(raw).unwrap();
    assert_eq!((status, reason.as_str()), (400, "Malformed Request-Line"));
    let vias: Vec<_> = r.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("z9hG4bKs1"));
    assert_eq!(
        vias[0].rport(),
        Some(Some(5070)),
        "rport filled for the source"
    );
    assert_eq!(vias[0].received(), Some("192.0.2.200"));
    assert_eq!(vias[2].branch(), Some("z9hG4bKsm"));
    let from = r.from_header().unwrap();
    assert_eq!(
        (from.tag(), from.display_lossy().as_deref()),
        (Some("fa"), Some("José"))
    );
    assert_eq!(r.to_header().unwrap().tag(), Some("tg"));
    assert_eq!(r.call_id().unwrap(), "salv-1@192.0.2.9");
    let cseq = r.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (4, Method::Invite));
    assert_eq!(Salvage::read(raw).unwrap().method(), Method::Invite);
}

#[test]
fn folded_values_are_echoed_unfolded_and_an_existing_to_tag_kept() {
    let raw = b"OPTIONS sip:a@b SIP/2.0 \r\n\
        Via: SIP/2.0/UDP\r\n 192.0.2.9;branch=z9hG4bKf1\r\n\
        From: <sip:x@y>\r\n  ;tag=1\r\n\
        To: <sip:a@b>;tag=theirs\r\nCall-ID: f1\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let (status, _, r) = answer(raw).unwrap();
    assert_eq!(status, 400);
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKf1"));
    assert_eq!(r.from_header().unwrap().tag(), Some("1"));
    assert_eq!(r.to_header().unwrap().tag(), Some("theirs"));
}

#[test]
fn what_is_never_answered() {
    let good_headers = "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKn1\r\n\
        From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: n1\r\nCSeq: 1 ACK\r\n\r\n";
    for first in [
        "ACK  sip:a@b SIP/2.0",     // an ACK, even a broken one
        "SIP/2.0 2000 Bad",         // a response
        "sip/2.0 200",              // a response, lower case
        "GET / HTTP/1.1",           // not SIP
        "OPTIONS sip:a@b",          // no version
        "OPTIONS SIP/2.0",          // no Request-URI
        "OPT/IONS sip:a@b SIP/2.0", // method not a token
        "",                         // nothing
    ] {
        let raw = format!("{first}\r\n{good_headers}");
        assert!(Salvage::read(raw.as_bytes()).is_none(), "{first:?}");
    }
    // A request line but no usable top Via.
    let vias: [&[u8]; 5] = [
        b"",
        b"Via: \r\n",
        b"Via: garbage\r\n",
        b"Via SIP/2.0/UDP 192.0.2.9\r\n",
        b"Via: SIP/2.0/UDP 192.0.2.9\xe9;branch=z9hG4bK1\r\n",
    ];
    for via in vias {
        let mut raw = b"OPTIONS  sip:a@b SIP/2.0\r\n".to_vec();
        raw.extend_from_slice(via);
        raw.extend_from_slice(b"From: <sip:a@b>;tag=1\r\nCSeq: 1 OPTIONS\r\n\r\n");
        assert!(Salvage::read(&raw).is_none(), "{via:?}");
    }
    assert!(Salvage::read(b"").is_none());
    assert!(Salvage::read(b"\r\n\r\n").is_none());
}

#[test]
fn a_strictly_valid_request_is_always_salvageable() {
    // Salvage is a superset of the strict reading, so a request that parses
    // and validates (but is refused later, say) can always be answered.
    for (name, raw) in torture("valid") {
        let msg = Message::parse(Bytes::from(raw.clone()), &Limits::default()).unwrap();
        let salvaged = Salvage::read(&raw);
        if msg.is_request() && msg.method() != Some(&Method::Ack) {
            let s = salvaged.unwrap_or_else(|| panic!("{name}: not salvageable"));
            assert_eq!(Some(&s.method()), msg.method(), "{name}");
        } else {
            assert!(salvaged.is_none(), "{name}");
        }
    }
}

#[test]
fn reason_phrases_name_the_fault() {
    assert_eq!(
        ParseError::BadHeaderLine { line: 7 }.reason_phrase(),
        "Malformed header line 7"
    );
    assert_eq!(ParseError::TooManyHeaders { limit: 1 }.status_code(), 513);
    assert_eq!(
        ParseError::UnsupportedVersion.reason_phrase(),
        "Version Not Supported"
    );
}

/// xorshift64*: a seeded generator, so a failing case replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

/// Bytes a mutation inserts: delimiters the parsers care about.
const INTERESTING: &[u8] = b" \t\r\n:;,<>\"\\@/=?*\x00\xe9\xff0123456789SIPsip";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            3 if !out.is_empty() => {
                // Duplicate a slice (a repeated header line, say).
                let from = rng.below(out.len());
                let end = (from + rng.below(64)).min(out.len());
                let piece = out[from..end].to_vec();
                let at = at.min(out.len());
                out.splice(at..at, piece);
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// The fuzz target's properties on one input; whether strict parsing
/// refused it and whether it was salvaged.
fn check(input: &[u8]) -> (bool, bool) {
    let parsed = Message::parse(Bytes::copy_from_slice(input), &Limits::default());
    let salvaged = Salvage::read(input);
    if let Ok(msg) = &parsed
        && msg.validate().is_ok()
        && msg.is_request()
        && msg.method() != Some(&Method::Ack)
    {
        assert!(
            salvaged.is_some(),
            "valid request not salvageable: {input:?}"
        );
    }
    let outcome = (parsed.is_err(), salvaged.is_some());
    if let Some(s) = salvaged {
        let _ = s.method();
        let wire = s
            .response(
                400,
                "Bad Request",
                Some("fz"),
                "192.0.2.1:5060".parse().ok(),
            )
            .build();
        match Message::parse(wire, &Limits::default()) {
            Ok(r) => assert_eq!(r.status(), Some(400)),
            // Echoing hundreds of Via lines can exceed our own limits.
            Err(ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. }) => {}
            Err(e) => panic!("salvaged answer does not parse ({e}): {input:?}"),
        }
    }
    outcome
}

#[test]
fn seeded_mutations_of_the_torture_messages_never_panic_and_answers_parse() {
    let corpus: Vec<Vec<u8>> = torture("valid")
        .into_iter()
        .chain(torture("invalid"))
        .map(|(_, raw)| raw)
        .collect();
    let seed = std::env::var("SALVAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f5a1_7a9e_0001_u64);
    let mut rng = Rng(seed | 1);
    for input in &corpus {
        let _ = check(input);
    }
    let mut refused_and_answered = 0;
    for _ in 0..20_000 {
        let base = &corpus[rng.below(corpus.len())];
        if check(&mutate(&mut rng, base)) == (true, true) {
            refused_and_answered += 1;
        }
    }
    // The run must reach the new code, not just the strict parser.
    assert!(refused_and_answered > 2_000, "{refused_and_answered}");
}
