//! Typed accessors: Via, name-addr, CSeq, Max-Forwards, Call-ID, Contact,
//! Route, Session-Expires and parameters.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use voxgate_sip::message::{
    CSeq, HeaderName, Invalid, Limits, Message, Method, NameAddr, Params, Refresher,
    SessionExpires, Via,
};

fn msg(headers: &str) -> Message {
    let raw = format!(
        "INVITE sip:b@example.com SIP/2.0\r\n{}\r\n",
        headers.replace('\n', "\r\n")
    );
    Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
}

#[test]
fn params() {
    let p = Params::new(";branch=z9hG4bK1; lr ;Received = 10.0.0.1;q=\"a;b\";rport");
    assert_eq!(p.get("branch"), Some(Some("z9hG4bK1")));
    assert_eq!(p.get("LR"), Some(None));
    assert_eq!(p.get("received"), Some(Some("10.0.0.1")));
    assert_eq!(p.get("q"), Some(Some("\"a;b\"")));
    assert_eq!(p.get("rport"), Some(None));
    assert_eq!(p.get("missing"), None);
    let names: Vec<_> = p.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["branch", "lr", "Received", "q", "rport"]);
    assert!(p.as_str().starts_with(";branch"));
    assert!(Params::new("").is_empty());
    // Lenient iteration never panics on junk.
    assert_eq!(Params::new(";;=;\"").iter().count(), 1);
}

#[test]
fn via_fields() {
    let v = Via::parse(
        "SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKab;rport=5070;received=2001:db8::9",
    )
    .unwrap();
    assert_eq!(
        (v.protocol, v.transport, v.host, v.port),
        ("SIP/2.0", "TLS", "[2001:db8::1]", Some(5061))
    );
    assert_eq!(v.branch(), Some("z9hG4bKab"));
    assert_eq!(v.rport(), Some(Some(5070)));
    assert_eq!(v.received(), Some("2001:db8::9"));
    assert!(v.is_rfc3261_branch());

    let v = Via::parse("SIP / 2.0 / UDP host.example.com ; branch = 1234 ; rport").unwrap();
    assert_eq!(
        (v.protocol, v.transport, v.host, v.port),
        ("SIP/2.0", "UDP", "host.example.com", None)
    );
    assert_eq!(v.branch(), Some("1234"));
    assert!(!v.is_rfc3261_branch());
    assert_eq!(v.rport(), Some(None));
    assert_eq!(v.received(), None);

    let v = Via::parse("XSIP/3.1/WSS h").unwrap();
    assert_eq!(v.protocol, "XSIP/3.1");
    assert_eq!(v.transport, "WSS");
    assert_eq!(Via::parse("SIP/2.0/UDP h").unwrap().rport(), None);
}

#[test]
fn malformed_vias() {
    for bad in [
        "",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP h",
        "SIP/2.0/UDPh",
        "SIP/2.0/UDP h:99999",
        "SIP/2.0/UDP h:",
        "SIP/2.0/UDP []",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP h;;",
        "SIP/2.0/UDP h;branch=",
        "SIP/2.0/UDP h junk",
        "SIP/2.0/UDP h;a b=c",
    ] {
        assert_eq!(Via::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn name_addr_forms() {
    let n = NameAddr::parse("\"Doe, John \\\"JD\\\"\" <sip:jd@example.com;transport=tcp>;tag=9x;x")
        .unwrap();
    assert_eq!(n.display, Some("Doe, John \\\"JD\\\""));
    assert_eq!(n.uri, "sip:jd@example.com;transport=tcp");
    assert_eq!(n.tag(), Some("9x"));
    assert_eq!(n.params.get("x"), Some(None));

    let n = NameAddr::parse("Alice Smith <tel:+15551234>").unwrap();
    assert_eq!(
        (n.display, n.uri, n.tag()),
        (Some("Alice Smith"), "tel:+15551234", None)
    );

    let n = NameAddr::parse("sip:bob@example.com;tag=77").unwrap();
    assert_eq!(
        (n.display, n.uri, n.tag()),
        (None, "sip:bob@example.com", Some("77"))
    );

    let n = NameAddr::parse("<sip:bob@example.com>").unwrap();
    assert_eq!((n.display, n.uri), (None, "sip:bob@example.com"));

    // Liberal where carriers are: unquoted UTF-8 display names, base64 in params.
    let n = NameAddr::parse("Müller <sip:m@example.com>;x-token=YWJj==").unwrap();
    assert_eq!(
        (n.display, n.params.get("x-token")),
        (Some("Müller"), Some(Some("YWJj==")))
    );

    for bad in [
        "",
        "<sip:a@b>;x=a b",
        "<sip:a@b>;x=\"open",
        "\"unterminated <sip:a@b>",
        "<sip:a@b",
        "< sip:a@b >",
        "Bell, Alexander <sip:a@b>",
        "<nocolon>",
        "sip:a@b?x=y",
        "<sip:a@b> junk",
        "<sip:a@b>;;",
        "*",
    ] {
        assert_eq!(NameAddr::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn from_to_and_missing_headers() {
    let m = msg("From: <sip:a@x>;tag=f1\nTo: B <sip:b@y>\n");
    assert_eq!(m.from_header().unwrap().tag(), Some("f1"));
    assert_eq!(m.to_header().unwrap().display, Some("B"));
    assert_eq!(m.to_header().unwrap().tag(), None);
    let empty = msg("");
    assert_eq!(empty.from_header(), Err(Invalid::Missing(HeaderName::From)));
    assert_eq!(empty.to_header(), Err(Invalid::Missing(HeaderName::To)));
    assert_eq!(empty.call_id(), Err(Invalid::Missing(HeaderName::CallId)));
    assert_eq!(empty.cseq(), Err(Invalid::Missing(HeaderName::CSeq)));
    assert_eq!(empty.top_via(), Err(Invalid::Missing(HeaderName::Via)));
    assert_eq!(empty.max_forwards(), Ok(None));
    assert_eq!(empty.session_expires(), Ok(None));
    assert_eq!(
        msg("To: \"x <sip:b@y>\n").to_header(),
        Err(Invalid::Malformed(HeaderName::To))
    );
}

#[test]
fn call_id() {
    assert_eq!(
        msg("Call-ID: a84b4c76e66710@pc33.example.com\n").call_id(),
        Ok("a84b4c76e66710@pc33.example.com")
    );
    for bad in ["a b", "a@b@c", "a,b", ""] {
        let m = msg(&format!("Call-ID: {bad}\n"));
        assert_eq!(
            m.call_id(),
            Err(Invalid::Malformed(HeaderName::CallId)),
            "{bad:?}"
        );
    }
}

#[test]
fn cseq() {
    assert_eq!(
        CSeq::parse("4711 INVITE"),
        Some(CSeq {
            seq: 4711,
            method: Method::Invite
        })
    );
    assert_eq!(
        CSeq::parse("0 FOO").unwrap().method,
        Method::Other("FOO".into())
    );
    assert_eq!(CSeq::parse("4294967295 ACK").unwrap().seq, u32::MAX);
    for bad in [
        "",
        "INVITE",
        "1",
        "1INVITE",
        "4294967296 INVITE",
        "-1 INVITE",
        "1 IN VITE",
        "x1 BYE",
    ] {
        assert_eq!(CSeq::parse(bad), None, "{bad:?}");
    }
    assert_eq!(msg("CSeq: 2 BYE\n").cseq().unwrap().method, Method::Bye);
    assert_eq!(
        msg("CSeq: two BYE\n").cseq(),
        Err(Invalid::Malformed(HeaderName::CSeq))
    );
}

#[test]
fn max_forwards() {
    assert_eq!(msg("Max-Forwards: 0070\n").max_forwards(), Ok(Some(70)));
    assert_eq!(msg("Max-Forwards: 0\n").max_forwards(), Ok(Some(0)));
    for bad in ["", "-1", "7 0", "seventy", "99999999999"] {
        assert_eq!(
            msg(&format!("Max-Forwards: {bad}\n")).max_forwards(),
            Err(Invalid::Malformed(HeaderName::MaxForwards)),
            "{bad:?}"
        );
    }
}

#[test]
fn contacts_routes_record_routes() {
    let m = msg(
        "Contact: *\nm: <sip:a@h>;expires=60, \"B\" <sip:b@h>\nRoute: <sip:p1;lr>, <sip:p2;lr>\nRoute: <sip:p3>\nRecord-Route: <sip:rr;lr>\n",
    );
    let c: Vec<_> = m.contacts().map(|c| c.unwrap().uri).collect();
    assert_eq!(c, ["*", "sip:a@h", "sip:b@h"]);
    assert_eq!(
        m.contacts().nth(1).unwrap().unwrap().params.get("expires"),
        Some(Some("60"))
    );
    let r: Vec<_> = m.routes().map(|r| r.unwrap().uri).collect();
    assert_eq!(r, ["sip:p1;lr", "sip:p2;lr", "sip:p3"]);
    let rr: Vec<_> = m.record_routes().map(|r| r.unwrap().uri).collect();
    assert_eq!(rr, ["sip:rr;lr"]);
    let bad = msg("Contact: <sip:a@h\nRoute: nope\n");
    assert_eq!(
        bad.contacts().next(),
        Some(Err(Invalid::Malformed(HeaderName::Contact)))
    );
    assert_eq!(
        bad.routes().next(),
        Some(Err(Invalid::Malformed(HeaderName::Route)))
    );
}

#[test]
fn session_expires() {
    assert_eq!(
        SessionExpires::parse("1800;refresher=uac"),
        Some(SessionExpires {
            delta: 1800,
            refresher: Some(Refresher::Uac)
        })
    );
    assert_eq!(
        SessionExpires::parse("90 ; REFRESHER = UAS ; x=1"),
        Some(SessionExpires {
            delta: 90,
            refresher: Some(Refresher::Uas)
        })
    );
    assert_eq!(
        SessionExpires::parse("600"),
        Some(SessionExpires {
            delta: 600,
            refresher: None
        })
    );
    for bad in [
        "",
        "x",
        "1800;refresher=both",
        "1800;refresher",
        "-5",
        "99999999999",
    ] {
        assert_eq!(SessionExpires::parse(bad), None, "{bad:?}");
    }
    assert_eq!(
        msg("x: 300;refresher=uas\n")
            .session_expires()
            .unwrap()
            .unwrap()
            .delta,
        300
    );
    assert_eq!(
        msg("Session-Expires: soon\n").session_expires(),
        Err(Invalid::Malformed(HeaderName::SessionExpires))
    );
}

#[test]
fn content_type_and_length_accessors() {
    let m = msg("Content-Type: application/sdp\nl: 0\n");
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.content_length(), Some(0));
}

#[test]
fn validate_reports_the_offending_header() {
    let ok = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@y>\nCall-ID: c\nCSeq: 1 INVITE\nMax-Forwards: 70\n";
    msg(ok).validate().unwrap();
    let cases = [
        (
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n",
            "",
            Invalid::Missing(HeaderName::Via),
        ),
        (
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n",
            "Via: junk\n",
            Invalid::Malformed(HeaderName::Via),
        ),
        (
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\n",
            "Via: ,\n",
            Invalid::Malformed(HeaderName::Via),
        ),
        (
            "Call-ID: c\n",
            "Call-ID: c\nCall-ID: d\n",
            Invalid::Malformed(HeaderName::CallId),
        ),
        (
            "CSeq: 1 INVITE\n",
            "CSeq: 1 BYE\n",
            Invalid::CSeqMethodMismatch,
        ),
        (
            "Max-Forwards: 70\n",
            "",
            Invalid::Missing(HeaderName::MaxForwards),
        ),
        (
            "Max-Forwards: 70\n",
            "Max-Forwards: 256\n",
            Invalid::Malformed(HeaderName::MaxForwards),
        ),
        (
            "Max-Forwards: 70\n",
            "Max-Forwards: 70\nMax-Forwards: 69\n",
            Invalid::Malformed(HeaderName::MaxForwards),
        ),
        (
            "To: <sip:b@y>\n",
            "To: <sip:b@y>\nContact: <bad\n",
            Invalid::Malformed(HeaderName::Contact),
        ),
        (
            "To: <sip:b@y>\n",
            "To: <sip:b@y>\nRecord-Route: x\n",
            Invalid::Malformed(HeaderName::RecordRoute),
        ),
        (
            "To: <sip:b@y>\n",
            "To: <sip:b@y>\nx: never\n",
            Invalid::Malformed(HeaderName::SessionExpires),
        ),
        (
            "To: <sip:b@y>\n",
            "To: <sip:b@y>\nDate: yesterday\n",
            Invalid::Malformed(HeaderName::Date),
        ),
    ];
    for (from, to, want) in cases {
        let headers = ok.replacen(from, to, 1);
        assert_eq!(msg(&headers).validate(), Err(want.clone()), "{headers}");
    }
    assert_eq!(
        Invalid::Missing(HeaderName::CallId).to_string(),
        "Missing Call-ID header"
    );
    assert_eq!(
        Invalid::Malformed(HeaderName::CSeq).to_string(),
        "Malformed CSeq header"
    );
}

#[test]
fn responses_need_no_max_forwards_nor_method_match() {
    let raw = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    let m = Message::parse(Bytes::from_static(raw.as_bytes()), &Limits::default()).unwrap();
    m.validate().unwrap();
}
