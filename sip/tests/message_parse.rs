//! Framing and indexing: start line, header lines, folding, compact forms,
//! comma splitting, Content-Length and limits.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use voxgate_sip::message::{HeaderName, Limits, Message, ParseError, StartLine};

fn parse(s: &str) -> Result<Message, ParseError> {
    Message::parse(Bytes::copy_from_slice(s.as_bytes()), &Limits::default())
}

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

const OPTIONS: &str = "OPTIONS sip:edge.example.net SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport
Max-Forwards: 70
From: \"Alice\" <sip:alice@example.com>;tag=a1
To: <sip:edge.example.net>
Call-ID: c1@192.0.2.1
CSeq: 7 OPTIONS
Content-Length: 0

";

#[test]
fn request_line_and_headers() {
    let m = parse(&crlf(OPTIONS)).unwrap();
    assert!(m.is_request());
    assert_eq!(m.method().unwrap().as_str(), "OPTIONS");
    assert_eq!(m.request_uri(), Some("sip:edge.example.net"));
    assert_eq!((m.status(), m.reason()), (None, None));
    assert_eq!(m.header_count(), 7);
    let names: Vec<_> = m.headers().map(|h| h.name).collect();
    assert_eq!(names[0], "Via");
    assert_eq!(m.header(HeaderName::CallId), Some("c1@192.0.2.1"));
    assert!(matches!(m.start_line(), StartLine::Request { .. }));
    m.validate().unwrap();
}

#[test]
fn status_line() {
    let m = parse(&crlf(
        "SIP/2.0 486 Busy Here\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\n",
    ))
    .unwrap();
    assert!(!m.is_request());
    assert_eq!((m.status(), m.reason()), (Some(486), Some("Busy Here")));
    assert_eq!((m.method(), m.request_uri()), (None, None));
    // Lower-case "sip" literal is the same version (RFC 3261 §7.1).
    assert_eq!(
        parse(&crlf("sip/2.0 200 OK\n\n")).unwrap().status(),
        Some(200)
    );
}

#[test]
fn status_code_range_and_shape() {
    for bad in [
        "SIP/2.0 99 x",
        "SIP/2.0 700 x",
        "SIP/2.0 2000 x",
        "SIP/2.0 20x OK",
        "SIP/2.0 200OK",
    ] {
        assert_eq!(
            parse(&format!("{bad}\r\n\r\n")).unwrap_err(),
            ParseError::BadStatusCode,
            "{bad}"
        );
    }
    for ok in [100, 699] {
        assert_eq!(
            parse(&format!("SIP/2.0 {ok} x\r\n\r\n")).unwrap().status(),
            Some(ok)
        );
    }
}

#[test]
fn versions() {
    let e = |s: &str| parse(&format!("{s}\r\n\r\n")).unwrap_err();
    assert_eq!(e("OPTIONS sip:a@b SIP/3.0"), ParseError::UnsupportedVersion);
    assert_eq!(e("SIP/1.0 200 OK"), ParseError::UnsupportedVersion);
    assert_eq!(e("OPTIONS sip:a@b HTTP/1.1"), ParseError::BadVersion);
    assert_eq!(e("OPTIONS sip:a@b SIP/2"), ParseError::BadVersion);
    assert_eq!(e("OPTIONS sip:a@b SIP/x.0"), ParseError::BadVersion);
    assert_eq!(ParseError::UnsupportedVersion.status_code(), 505);
    assert_eq!(ParseError::BadVersion.status_code(), 400);
}

#[test]
fn methods_are_case_sensitive_tokens() {
    let m = parse("invite sip:a@b SIP/2.0\r\n\r\n").unwrap();
    assert_eq!(m.method().unwrap().as_str(), "invite");
    assert_ne!(m.method().unwrap().as_str(), "INVITE");
    assert_eq!(
        parse("INV(ITE sip:a@b SIP/2.0\r\n\r\n").unwrap_err(),
        ParseError::BadMethod
    );
}

#[test]
fn request_uri_checks() {
    let e = |s: &str| parse(&format!("{s}\r\n\r\n")).unwrap_err();
    assert_eq!(e("INVITE nocolon SIP/2.0"), ParseError::BadRequestUri);
    assert_eq!(
        e("INVITE sip:a@b?Subject=x SIP/2.0"),
        ParseError::BadRequestUri
    );
    assert_eq!(e("INVITE sip:a@b\tc SIP/2.0"), ParseError::BadStartLine);
    assert_eq!(e("INVITE SIP/2.0"), ParseError::BadStartLine);
    // `?` in the user part is not a header marker; tel: may carry `?`-free params.
    assert!(parse("INVITE sip:a?b@host SIP/2.0\r\n\r\n").is_ok());
    assert!(parse("INVITE tel:+15551234;phone-context=x SIP/2.0\r\n\r\n").is_ok());
}

#[test]
fn compact_forms_are_normalised() {
    let raw = crlf(
        "INVITE sip:b@example.com SIP/2.0
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
f: <sip:a@example.com>;tag=1
t: <sip:b@example.com>
i: call-1
m: <sip:a@192.0.2.1>
l: 0
c: application/sdp
k: timer, 100rel
x: 1800;refresher=uac
e: gzip
s: hello
o: dialog
r: <sip:c@example.com>
b: <sip:d@example.com>
u: talk
a: *;audio
j: *;video
d: proxy
y: sig
n: <https://cert>
CSeq: 1 INVITE
Max-Forwards: 70

",
    );
    let m = parse(&raw).unwrap();
    let known: Vec<_> = m.headers().map(|h| h.known.unwrap()).collect();
    use HeaderName::*;
    assert_eq!(
        known,
        [
            Via,
            From,
            To,
            CallId,
            Contact,
            ContentLength,
            ContentType,
            Supported,
            SessionExpires,
            ContentEncoding,
            Subject,
            Event,
            ReferTo,
            ReferredBy,
            AllowEvents,
            AcceptContact,
            RejectContact,
            RequestDisposition,
            Identity,
            IdentityInfo,
            CSeq,
            MaxForwards
        ]
    );
    // Names are kept as received; lookups by either form agree.
    assert_eq!(m.headers().next().unwrap().name, "v");
    assert_eq!(m.header_by_name("Call-ID"), Some("call-1"));
    assert_eq!(m.header_by_name("I"), Some("call-1"));
    assert_eq!(m.header_by_name("call-id"), Some("call-1"));
    m.validate().unwrap();
}

#[test]
fn whitespace_before_colon_and_case_insensitive_names() {
    let m = parse(&crlf(
        "OPTIONS sip:a@b SIP/2.0\nVia  :  SIP/2.0/UDP h\nCALL-id\t: x1\nX-Thing :  v \n\n",
    ))
    .unwrap();
    assert_eq!(m.header(HeaderName::Via), Some("SIP/2.0/UDP h"));
    assert_eq!(m.call_id(), Ok("x1"));
    assert_eq!(m.header_by_name("x-thing"), Some("v"));
    assert_eq!(m.headers().nth(1).unwrap().name, "CALL-id");
}

#[test]
fn folded_lines_are_joined() {
    let m = parse(&crlf(
        "OPTIONS sip:a@b SIP/2.0\nSubject: one\n two  \n\t three\nTo:\n <sip:b@c>\nX-Empty:\nX-Plain: p\n\n",
    ))
    .unwrap();
    assert_eq!(m.header(HeaderName::Subject), Some("one two three"));
    assert_eq!(m.header(HeaderName::To), Some("<sip:b@c>"));
    assert_eq!(m.header_by_name("X-Empty"), Some(""));
    assert_eq!(m.header_by_name("X-Plain"), Some("p"));
    assert_eq!(m.header_count(), 4);
}

#[test]
fn continuation_before_any_header_is_an_error() {
    assert_eq!(
        parse(&crlf("OPTIONS sip:a@b SIP/2.0\n folded\n\n")).unwrap_err(),
        ParseError::BadHeaderLine { line: 2 }
    );
}

#[test]
fn bad_header_lines() {
    for (line, raw) in [
        (3, "OPTIONS sip:a@b SIP/2.0\nA: 1\nno colon here\n\n"),
        (2, "OPTIONS sip:a@b SIP/2.0\n: empty name\n\n"),
        (2, "OPTIONS sip:a@b SIP/2.0\nBad Name: x\n\n"),
        (2, "OPTIONS sip:a@b SIP/2.0\nB@d: x\n\n"),
    ] {
        assert_eq!(
            parse(&crlf(raw)).unwrap_err(),
            ParseError::BadHeaderLine { line },
            "{raw:?}"
        );
    }
}

#[test]
fn unknown_headers_are_kept_byte_exact() {
    let value = "  odd;;,,value \"with, quotes\"  <x,y>";
    let raw = crlf(&format!("OPTIONS sip:a@b SIP/2.0\nX-Odd:{value}\n\n"));
    let m = parse(&raw).unwrap();
    let h = m.headers().next().unwrap();
    assert_eq!((h.name, h.known, h.value), ("X-Odd", None, value.trim()));
    // The raw bytes are the input, untouched.
    assert_eq!(&m.raw()[..], raw.as_bytes());
}

#[test]
fn comma_separated_values_split_on_demand() {
    let m = parse(&crlf(
        "INVITE sip:a@b SIP/2.0
Contact: \"Doe, John\" <sip:j@h;x=1,2>;q=0.5, <sip:k@h>
Contact: *
Supported: timer , 100rel,,path
Supported: replaces
Require: 100rel
Proxy-Require: sec-agree
Via: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/TCP h2;branch=z9hG4bK2
Via: SIP/2.0/UDP h3;branch=z9hG4bK3

",
    ))
    .unwrap();
    let contacts: Vec<_> = m.header_values(HeaderName::Contact).collect();
    assert_eq!(
        contacts,
        ["\"Doe, John\" <sip:j@h;x=1,2>;q=0.5", "<sip:k@h>", "*"]
    );
    assert_eq!(m.header_lines(HeaderName::Contact).count(), 2);
    assert_eq!(
        m.supported().collect::<Vec<_>>(),
        ["timer", "100rel", "path", "replaces"]
    );
    assert_eq!(m.require().collect::<Vec<_>>(), ["100rel"]);
    assert_eq!(m.proxy_require().collect::<Vec<_>>(), ["sec-agree"]);
    let hosts: Vec<_> = m.vias().map(|v| v.unwrap().host).collect();
    assert_eq!(hosts, ["h1", "h2", "h3"]);
    assert_eq!(m.top_via().unwrap().host, "h1");
}

#[test]
fn content_length_frames_the_body() {
    let base = "MESSAGE sip:a@b SIP/2.0\nContent-Type: text/plain\n";
    // Longer datagram: truncated to Content-Length, raw cut too.
    let m = parse(&format!(
        "{}Content-Length: 5\r\n\r\nhello world",
        crlf(base)
    ))
    .unwrap();
    assert_eq!(m.body(), b"hello");
    assert_eq!(m.content_length(), Some(5));
    assert!(m.raw().ends_with(b"hello"));
    // Shorter: error with both numbers.
    assert_eq!(
        parse(&format!("{}Content-Length: 50\r\n\r\nhello", crlf(base))).unwrap_err(),
        ParseError::BodyTruncated {
            declared: 50,
            available: 5
        }
    );
    // Absent: the rest of the datagram.
    let m = parse(&format!("{}\r\nhello world", crlf(base))).unwrap();
    assert_eq!(m.body(), b"hello world");
    assert_eq!(m.content_length(), None);
    assert_eq!(m.content_type(), Some("text/plain"));
    // Negative, non-numeric, empty, overflowing, duplicated.
    for bad in ["-1", "12a", "", "+5", "99999999999999999999999999"] {
        let raw = format!("{}Content-Length: {bad}\r\n\r\n", crlf(base));
        assert_eq!(
            parse(&raw).unwrap_err(),
            ParseError::BadContentLength,
            "{bad:?}"
        );
    }
    let dup = format!("{}Content-Length: 0\r\nl: 0\r\n\r\n", crlf(base));
    assert_eq!(parse(&dup).unwrap_err(), ParseError::DuplicateContentLength);
}

#[test]
fn bare_lf_line_ends_are_tolerated() {
    let m = parse("OPTIONS sip:a@b SIP/2.0\nCall-ID: x\n\nbody").unwrap();
    assert_eq!(m.call_id(), Ok("x"));
    assert_eq!(m.body(), b"body");
}

#[test]
fn leading_crlfs_are_skipped_and_keepalives_are_empty() {
    let m = parse(&format!("\r\n\r\n{}", crlf(OPTIONS))).unwrap();
    assert_eq!(m.request_uri(), Some("sip:edge.example.net"));
    assert!(m.raw().starts_with(b"OPTIONS"));
    assert_eq!(parse("\r\n\r\n").unwrap_err(), ParseError::Empty);
    assert_eq!(parse("").unwrap_err(), ParseError::Empty);
}

#[test]
fn unterminated_headers() {
    assert_eq!(
        parse("OPTIONS sip:a@b SIP/2.0").unwrap_err(),
        ParseError::HeadersUnterminated
    );
    assert_eq!(
        parse("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n").unwrap_err(),
        ParseError::HeadersUnterminated
    );
}

#[test]
fn non_utf8_header_values_parse_and_binary_body_is_fine() {
    // A Latin-1 byte in a header value no longer costs the message (it
    // used to fail with NotUtf8); see message_latin1.rs for what reads it.
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: \xff\r\n\r\n".to_vec();
    let m = Message::parse(Bytes::from(raw), &Limits::default()).unwrap();
    assert_eq!(m.header_bytes(HeaderName::Subject), Some(&b"\xff"[..]));
    assert_eq!(m.header(HeaderName::Subject), None);
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\n\r\n\xff\x00\xfe".to_vec();
    let m = Message::parse(Bytes::from(raw), &Limits::default()).unwrap();
    assert_eq!(m.body(), b"\xff\x00\xfe");
}

#[test]
fn limits() {
    let raw = crlf(OPTIONS);
    let tight = Limits {
        max_message_size: raw.len() - 1,
        max_headers: 256,
    };
    assert_eq!(
        Message::parse(Bytes::from(raw.clone()), &tight).unwrap_err(),
        ParseError::TooLarge {
            size: raw.len(),
            limit: raw.len() - 1
        }
    );
    let few = Limits {
        max_message_size: 65_535,
        max_headers: 6,
    };
    assert_eq!(
        Message::parse(Bytes::from(raw.clone()), &few).unwrap_err(),
        ParseError::TooManyHeaders { limit: 6 }
    );
    let exact = Limits {
        max_message_size: raw.len(),
        max_headers: 7,
    };
    assert!(Message::parse(Bytes::from(raw), &exact).is_ok());
    assert_eq!(
        Limits::default(),
        Limits {
            max_message_size: 65_535,
            max_headers: 256
        }
    );
    assert_eq!(
        ParseError::TooLarge { size: 2, limit: 1 }.status_code(),
        513
    );
}

#[test]
fn body_lines_are_not_header_lines() {
    // 10k bare line ends after the header section are body, not headers.
    let body = "\n".repeat(10_000);
    let raw = format!(
        "{}{body}",
        crlf(OPTIONS).replace("Content-Length: 0", "Content-Length: 10000")
    );
    let m = parse(&raw).unwrap();
    assert_eq!(m.body().len(), 10_000);
    assert_eq!(m.header_count(), 7);
}

#[test]
fn debug_shows_neither_numbers_nor_bodies() {
    // A message in a debug log must not carry a caller's number or an SDP key.
    let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    let body = format!("v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n");
    let msg = parse(&format!(
        "INVITE sip:+4915112345678@edge.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
From: <sip:+4930987654@example.com>;tag=a1\r\nTo: <sip:+4915112345678@edge.example.net>\r\n\
Call-ID: c1@192.0.2.1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .unwrap();
    let shown = format!("{msg:?}");
    for secret in [key, "4915112345678", "4930987654"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        shown.contains("Invite") || shown.contains("INVITE"),
        "{shown}"
    );
}
