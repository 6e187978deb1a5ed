//! Errors, limits, leniency and the setters.

use super::*;

const MINIMAL: &str = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn parse(s: &str) -> Result<SessionDescription, SdpError> {
    SessionDescription::parse(s.as_bytes())
}

fn with_media_line(line: &str) -> String {
    format!("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{line}\r\n")
}

#[test]
fn errors_name_the_line() {
    assert_eq!(parse(""), Err(SdpError::MissingLine { kind: 'v' }));
    assert_eq!(parse("\r\n\r\n"), Err(SdpError::MissingLine { kind: 'v' }));
    assert_eq!(
        parse("o=- 1 2 IN IP4 a\r\n"),
        Err(SdpError::MissingLine { kind: 'v' })
    );
    assert_eq!(
        parse("v=0\r\ns=-\r\n"),
        Err(SdpError::MissingLine { kind: 'o' })
    );
    assert_eq!(
        parse("v=1\r\n"),
        Err(SdpError::BadLine { line: 1, kind: 'v' })
    );
    assert_eq!(
        parse("v=0\r\no=- x 2 IN IP4 a\r\n").map(|s| s.origin().sess_id.clone()),
        Ok("x".into()),
        "sess-id is text"
    );
    assert_eq!(
        parse("v=0\r\no=- 1 two IN IP4 a\r\n"),
        Err(SdpError::BadLine { line: 2, kind: 'o' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4\r\n"),
        Err(SdpError::BadLine { line: 2, kind: 'o' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\no=- 1 2 IN IP4 a\r\n"),
        Err(SdpError::BadLine { line: 3, kind: 'o' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\nv=0\r\n"),
        Err(SdpError::BadLine { line: 3, kind: 'v' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\nnot a line\r\n"),
        Err(SdpError::BadLine { line: 3, kind: 'n' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\nX=1\r\n"),
        Err(SdpError::BadLine { line: 3, kind: 'X' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\n=1\r\n"),
        Err(SdpError::BadLine { line: 3, kind: '=' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\n\u{e9}=1\r\n"),
        Err(SdpError::BadLine { line: 3, kind: '?' })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 2 IN IP4 a\r\na=\r\n"),
        Err(SdpError::BadLine { line: 3, kind: 'a' })
    );
    assert_eq!(
        SessionDescription::parse(b"v=0\r\n\xff\r\n"),
        Err(SdpError::NotUtf8)
    );
}

#[test]
fn bad_connection_lines() {
    for c in [
        "c=IN IP4",
        "c=IN IP4 host.example.com",
        "c=IN IP6 192.0.2.1",
        "c=IN IP4 2001:db8::1",
        "c=ATM NSAP 47.0005",
        "c=IN IP4 192.0.2.1 extra",
        "c=IN IP4 224.2.1.1/",
        "c=IN IP4 224.2.1.1/a",
        "c=IN IP4 224.2.1.1/1/2/3",
        "c=IN IP6 fe80::1%eth0",
    ] {
        assert_eq!(
            parse(&with_media_line(c)),
            Err(SdpError::BadConnection { line: 6 }),
            "{c}"
        );
    }
    let multicast = parse(&with_media_line("c=IN IP4 224.2.1.1/127/3")).unwrap();
    assert_eq!(
        multicast.connection(),
        Some("192.0.2.1".parse().unwrap()),
        "first c= wins"
    );
    assert!(
        String::from_utf8(multicast.to_bytes())
            .unwrap()
            .contains("c=IN IP4 224.2.1.1/127/3\r\n")
    );
}

#[test]
fn bad_media_lines() {
    for m in [
        "m=audio",
        "m=audio 4000",
        "m=audio x RTP/AVP 0",
        "m=audio 70000 RTP/AVP 0",
        "m=audio 4000/ RTP/AVP 0",
    ] {
        assert_eq!(
            parse(&with_media_line(m)),
            Err(SdpError::BadMedia { line: 6 }),
            "{m}"
        );
    }
    // Port count and no formats are accepted and printed back.
    let sdp = parse(&with_media_line("m=audio 4000/2 RTP/AVP")).unwrap();
    assert_eq!(sdp.media()[0].port(), 4000);
    assert!(sdp.media()[0].formats().is_empty());
    assert!(
        String::from_utf8(sdp.to_bytes())
            .unwrap()
            .ends_with("m=audio 4000/2 RTP/AVP\r\n")
    );
}

#[test]
fn limits() {
    let big = format!("{MINIMAL}{}", "a=x\r\n".repeat(2000));
    assert_eq!(parse(&big), Err(SdpError::TooLarge { limit: MAX_BYTES }));

    let many = format!("{MINIMAL}{}", "a=x\r\n".repeat(MAX_LINES - 6));
    assert!(parse(&many).is_ok(), "exactly {MAX_LINES} lines");
    let too_many = format!("{many}a=x\r\n");
    assert_eq!(
        parse(&too_many),
        Err(SdpError::TooManyLines { limit: MAX_LINES })
    );

    let media = format!(
        "{MINIMAL}{}",
        "m=audio 0 RTP/AVP 0\r\n".repeat(MAX_MEDIA - 1)
    );
    assert_eq!(parse(&media).unwrap().media().len(), MAX_MEDIA);
    let media = format!("{media}m=audio 0 RTP/AVP 0\r\n");
    assert_eq!(
        parse(&media),
        Err(SdpError::TooManyMedia { limit: MAX_MEDIA })
    );
}

#[test]
fn lenient_where_agents_are_sloppy() {
    // LF only, blank lines, extra spaces, no s=/t=, no final line end, trailing blank after a flag.
    let sdp = parse("v=0\no=-  1   2 IN IP4 192.0.2.1\n\nc=IN  IP4 192.0.2.1\nm=audio  4000 RTP/AVP  0  8\na=sendonly \na=x-custom:  keep  spaces ").unwrap();
    assert_eq!(sdp.origin().sess_version, 2);
    let m = &sdp.media()[0];
    assert_eq!(m.formats(), ["0", "8"]);
    assert_eq!(m.direction(), Direction::SendOnly);
    assert_eq!(m.attribute("x-custom"), Some(Some("  keep  spaces ")));
    let printed = sdp.to_bytes();
    assert_eq!(
        String::from_utf8(printed.clone()).unwrap(),
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0 8\r\na=sendonly\r\na=x-custom:  keep  spaces \r\n"
    );
    assert_eq!(SessionDescription::parse(&printed).unwrap(), sdp);
}

#[test]
fn unknown_lines_are_kept_byte_exact_in_order() {
    let text = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=Some  Session\r\ni=info\u{e9}\r\nu=http://x\r\ne=a@b\r\nc=IN IP4 192.0.2.1\r\nb=CT:64\r\nt=0 0\r\nr=7d 1h 0 25h\r\nz=2882844526 -1h\r\nk=prompt\r\na=group:BUNDLE 0\r\nm=audio 4000 RTP/AVP 0\r\ni=voice\r\nb=AS:64\r\nk=clear:key\r\na=mid:0\r\n";
    let sdp = parse(text).unwrap();
    assert_eq!(String::from_utf8(sdp.to_bytes()).unwrap(), text);
}

#[test]
fn setters_keep_inherited_values_in_step() {
    let mut sdp = parse(&format!("{MINIMAL}a=rtcp:4001\r\n")).unwrap();
    let addr: IpAddr = "203.0.113.1".parse().unwrap();
    sdp.set_connection(Some(addr));
    assert_eq!(sdp.media()[0].connection(), Some(addr));
    sdp.set_connection(None);
    assert_eq!(sdp.media()[0].connection(), None);
    assert_eq!(SessionDescription::parse(&sdp.to_bytes()).unwrap(), sdp);

    // A new session c= goes before t=.
    sdp.set_connection(Some(addr));
    assert!(
        String::from_utf8(sdp.to_bytes())
            .unwrap()
            .contains("s=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n")
    );

    let m = &mut sdp.media_mut()[0];
    m.set_connection(Some("2001:db8::1".parse().unwrap()));
    m.set_port(5000);
    m.set_attribute("rtcp", Some("5001"));
    m.set_attribute("ptime", Some("20"));
    m.set_direction(Direction::Inactive);
    m.set_direction(Direction::RecvOnly);
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert!(
        text.ends_with("m=audio 5000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=rtcp:5001\r\na=ptime:20\r\na=recvonly\r\n"),
        "{text}"
    );
    assert_eq!(SessionDescription::parse(text.as_bytes()).unwrap(), sdp);

    sdp.remove_attributes(|_| true);
    let mut s2 = parse(MINIMAL).unwrap();
    s2.media_mut()[0].set_direction(Direction::SendOnly);
    assert!(s2.media()[0].is_held());
}

#[test]
fn session_direction_is_inherited_and_overridden() {
    let sdp = parse(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\na=sendonly\r\nm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\na=sendrecv\r\n",
    )
    .unwrap();
    assert_eq!(sdp.media()[0].direction(), Direction::SendOnly);
    assert_eq!(sdp.media()[1].direction(), Direction::SendRecv);
}

#[test]
fn rtcp_attribute_forms() {
    let rtcp = |v: &str| {
        parse(&with_media_line(&format!(
            "m=audio 4000 RTP/AVP 0\r\na=rtcp:{v}"
        )))
        .unwrap()
        .media()[0]
            .rtcp()
    };
    assert_eq!(rtcp("4001"), Some((4001, None)));
    assert_eq!(
        rtcp("4001 IN IP4 192.0.2.9"),
        Some((4001, Some("192.0.2.9".parse().unwrap())))
    );
    assert_eq!(rtcp("4001 IN IP4 host.example"), Some((4001, None)));
    assert_eq!(rtcp("x"), None);
    assert_eq!(rtcp("4001 IN"), None);
    assert_eq!(rtcp("99999"), None);
}

#[test]
fn printing_near_the_limit_stays_within_the_printed_limits() {
    // LF-only input just under the byte limit: CRLF makes it larger than the
    // input limit, but never larger than SdpLimits::PRINTED.
    let head = "v=0\no=- 1 2 IN IP4 192.0.2.1\nc=IN IP6 ::ffff:a:a\nm=audio 4000 RTP/AVP 0\n";
    let mut text = head.to_owned();
    while text.len() + 4 <= MAX_BYTES && text.lines().count() < MAX_LINES {
        text.push_str("a=x\n");
    }
    let sdp = parse(&text).unwrap();
    let printed = sdp.to_bytes();
    assert!(printed.len() > text.len());
    assert_eq!(
        SessionDescription::parse_with_limits(&printed, &SdpLimits::PRINTED).unwrap(),
        sdp
    );
    // The IPv4-mapped address prints dotted: longer, same address.
    assert!(
        String::from_utf8(printed)
            .unwrap()
            .contains("c=IN IP6 ::ffff:0.10.0.10\r\n")
    );
}

#[test]
fn limits_can_be_tightened() {
    let strict = SdpLimits {
        max_bytes: 64,
        max_lines: 4,
        max_media: 0,
    };
    assert_eq!(
        SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &strict),
        Err(SdpError::TooLarge { limit: 64 })
    );
    let strict = SdpLimits {
        max_bytes: 4096,
        ..strict
    };
    assert_eq!(
        SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &strict),
        Err(SdpError::TooManyLines { limit: 4 })
    );
    let strict = SdpLimits {
        max_lines: 10,
        ..strict
    };
    assert_eq!(
        SessionDescription::parse_with_limits(MINIMAL.as_bytes(), &strict),
        Err(SdpError::TooManyMedia { limit: 0 })
    );
}

#[test]
fn setters_collapse_repeated_lines() {
    let mut sdp = parse(&format!(
        "{MINIMAL}c=IN IP4 224.2.1.1/127\r\nc=IN IP4 224.2.1.2/127\r\na=rtcp:1\r\na=x\r\na=rtcp:2\r\n"
    ))
    .unwrap();
    let m = &mut sdp.media_mut()[0];
    m.set_connection(Some("203.0.113.1".parse().unwrap()));
    m.set_attribute("rtcp", Some("20001"));
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert!(
        text.ends_with("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 203.0.113.1\r\na=rtcp:20001\r\na=x\r\n"),
        "{text}"
    );
}

#[test]
fn proto_and_other_lines_can_be_replaced_and_removed() {
    let mut sdp = parse(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nk=clear:sessionkey\r\nc=IN IP4 192.0.2.1\r\n\
         t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nb=AS:64\r\nk=base64:bWVkaWFrZXk=\r\na=sendrecv\r\n",
    )
    .unwrap();
    sdp.remove_lines('k');
    let m = &mut sdp.media_mut()[0];
    m.set_proto("RTP/SAVP");
    m.remove_lines('k');
    let text = String::from_utf8(sdp.to_bytes()).unwrap();
    assert_eq!(
        text,
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/SAVP 0\r\nb=AS:64\r\na=sendrecv\r\n"
    );
    assert_eq!(parse(&text).unwrap(), sdp, "round trip");
}

#[test]
fn debug_never_shows_a_key() {
    let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    let sdp = parse(&format!(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nk=clear:{key}\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n\
a=key-mgmt:mikey {key}\r\na=rtpmap:0 PCMU/8000\r\n"
    ))
    .unwrap();
    let shown = format!("{sdp:?} {:?}", sdp.media()[0]);
    assert!(!shown.contains(key), "{shown}");
    assert!(
        shown.contains("crypto") && shown.contains("PCMU/8000"),
        "{shown}"
    );
}
