//! Parse → print → parse on SDP as real agents send it (media/tests/sdp/*.sdp,
//! also the fuzz seeds), and the accessors the call path relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use voxgate_media::sdp::{Direction, SessionDescription};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/sdp/{name}.sdp", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn crlf(text: &str) -> String {
    text.lines().map(|l| format!("{l}\r\n")).collect()
}

fn parse(name: &str) -> SessionDescription {
    let text = fixture(name);
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
    // Printing is canonical CRLF: byte-exact for these (single-spaced) inputs.
    let printed = sdp.to_bytes();
    assert_eq!(
        String::from_utf8(printed.clone()).unwrap(),
        crlf(&text),
        "{name}"
    );
    assert_eq!(SessionDescription::parse(&printed).unwrap(), sdp, "{name}");
    assert_eq!(
        SessionDescription::parse(crlf(&text).as_bytes()).unwrap(),
        sdp,
        "{name}"
    );
    sdp
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn every_fixture_round_trips() {
    let dir = format!("{}/tests/sdp", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        parse(&name);
        n += 1;
    }
    assert!(n >= 10, "only {n} fixtures");
}

#[test]
fn sipp_pcma_with_telephone_event() {
    let sdp = parse("sipp-pcma");
    assert_eq!(sdp.origin().username, "user1");
    assert_eq!(sdp.origin().sess_id, "53655765");
    assert_eq!(sdp.origin().sess_version, 2353687637);
    assert_eq!(sdp.connection(), Some(ip("127.0.0.1")));
    let [m] = sdp.media() else { panic!() };
    assert_eq!((m.kind(), m.port(), m.proto()), ("audio", 6000, "RTP/AVP"));
    assert_eq!(m.formats(), ["8", "101"]);
    assert_eq!(m.connection(), Some(ip("127.0.0.1")));
    assert_eq!(m.direction(), Direction::SendRecv);
    assert!(!m.rtcp_mux() && m.rtcp().is_none() && !m.is_held());
    let attrs: Vec<_> = m.attributes().collect();
    assert_eq!(
        attrs,
        [
            ("rtpmap", Some("8 PCMA/8000")),
            ("rtpmap", Some("101 telephone-event/8000")),
            ("fmtp", Some("101 0-11,16")),
        ]
    );
}

#[test]
fn baresip_offer_with_ice_and_rtcp_mux() {
    let sdp = parse("baresip-offer");
    assert_eq!(sdp.origin().sess_version, 3203328582);
    assert_eq!(
        sdp.attributes().collect::<Vec<_>>(),
        [
            ("tool", Some("baresip 3.10.1")),
            ("ice-options", Some("trickle"))
        ]
    );
    let m = &sdp.media()[0];
    assert_eq!(m.formats(), ["111", "9", "0", "8", "101"]);
    assert!(m.rtcp_mux());
    assert_eq!(m.rtcp(), Some((10055, Some(ip("192.168.1.34")))));
    assert_eq!(m.attribute("ptime"), Some(Some("20")));
    assert_eq!(m.attributes().filter(|(n, _)| *n == "candidate").count(), 3);
    assert_eq!(m.attribute("end-of-candidates"), Some(None));
    assert_eq!(m.direction(), Direction::SendRecv);
}

#[test]
fn carrier_with_session_level_connection_only() {
    let sdp = parse("carrier-session-c");
    let m = &sdp.media()[0];
    assert!(!m.has_own_connection());
    assert_eq!(m.connection(), Some(ip("198.51.100.21")), "inherited");
    assert_eq!(m.formats(), ["18", "8", "0", "101", "13"]);
    assert_eq!(m.attribute("maxptime"), Some(Some("40")));
}

#[test]
fn cisco_with_media_level_connection() {
    let sdp = parse("cisco-media-c");
    assert_eq!(sdp.origin().username, "CiscoSystemsSIP-GW-UserAgent");
    let m = &sdp.media()[0];
    assert!(m.has_own_connection());
    assert_eq!(m.connection(), Some(ip("198.51.100.7")));
}

#[test]
fn hold_variants() {
    let sendonly = parse("hold-sendonly").media()[0].clone();
    assert_eq!(sendonly.direction(), Direction::SendOnly);
    assert!(sendonly.is_held());

    // Session-level a=inactive is inherited by the media line.
    let inactive = parse("hold-inactive-session");
    assert_eq!(inactive.direction(), Some(Direction::Inactive));
    assert_eq!(inactive.media()[0].direction(), Direction::Inactive);
    assert!(inactive.media()[0].is_held());

    // RFC 2543 hold: c=0.0.0.0 with no direction attribute.
    let old = parse("hold-rfc2543").media()[0].clone();
    assert_eq!(old.direction(), Direction::SendRecv);
    assert_eq!(old.connection(), Some(ip("0.0.0.0")));
    assert!(old.is_held());

    assert!(!parse("sipp-pcma").media()[0].is_held());
    // recvonly is the answer to a hold, not a hold itself.
    assert!(!Direction::RecvOnly.is_hold());
}

#[test]
fn ipv6_connection_and_rtcp() {
    let sdp = parse("ipv6");
    assert_eq!(sdp.origin().addr_type, "IP6");
    assert_eq!(sdp.origin().sess_version, 0);
    assert_eq!(sdp.connection(), Some(ip("2001:db8::5")));
    assert_eq!(
        sdp.media()[0].rtcp(),
        Some((54401, Some(ip("2001:db8::5"))))
    );
}

#[test]
fn audio_and_video() {
    let sdp = parse("audio-video");
    let [audio, video] = sdp.media() else {
        panic!()
    };
    assert_eq!((audio.kind(), audio.port()), ("audio", 40000));
    assert_eq!((video.kind(), video.port()), ("video", 40002));
    assert_eq!(video.formats(), ["96", "97"]);
    assert_eq!(
        video.attributes().filter(|(n, _)| *n == "rtcp-fb").count(),
        3
    );
    assert_eq!(video.connection(), Some(ip("192.0.2.40")));
}

#[test]
fn rejected_stream_has_port_zero() {
    let sdp = parse("video-rejected");
    let [audio, video] = sdp.media() else {
        panic!()
    };
    assert_eq!(audio.port(), 41000);
    assert_eq!(video.port(), 0);
    assert_eq!(video.formats(), ["96"]);
}
