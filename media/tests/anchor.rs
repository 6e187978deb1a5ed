//! Offer/answer anchoring: what the other leg sees, and where the relay sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use voxgate_media::anchor::{
    LocalMedia, OriginState, remote_targets, remote_targets_answered, rewrite,
};
use voxgate_media::sdp::{Direction, SessionDescription};

fn fixture(name: &str) -> SessionDescription {
    let path = format!("{}/tests/sdp/{name}.sdp", env!("CARGO_MANIFEST_DIR"));
    SessionDescription::parse(&std::fs::read(&path).unwrap()).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn local(n: usize) -> Vec<LocalMedia> {
    (0..n as u16)
        .map(|i| LocalMedia {
            addr: ip("203.0.113.1"),
            rtp_port: 20000 + 2 * i,
            rtcp_port: 20001 + 2 * i,
        })
        .collect()
}

fn text(sdp: &SessionDescription) -> String {
    String::from_utf8(sdp.to_bytes()).unwrap()
}

/// Rewrites and checks what must hold for every SDP: it parses again, and
/// none of the peer's addresses (`hidden`) appears.
fn anchored(name: &str, lines: usize, hidden: &[&str]) -> (SessionDescription, SessionDescription) {
    let sdp = fixture(name);
    let out = rewrite(&sdp, &local(lines), &mut OriginState::new());
    let printed = text(&out);
    assert_eq!(SessionDescription::parse(printed.as_bytes()).unwrap(), out);
    for h in hidden {
        assert!(!printed.contains(h), "{name}: {h} leaked into\n{printed}");
    }
    (sdp, out)
}

#[test]
fn sipp_offer_points_at_the_relay_with_codecs_unchanged() {
    let (sdp, out) = anchored("sipp-pcma", 1, &["127.0.0.1", "user1", "53655765"]);
    let o = out.origin();
    assert_eq!(
        (o.username.as_str(), o.addr.as_str(), o.addr_type.as_str()),
        ("voxgate", "203.0.113.1", "IP4")
    );
    assert_eq!(out.connection(), Some(ip("203.0.113.1")));
    let (m, orig) = (&out.media()[0], &sdp.media()[0]);
    assert_eq!(m.port(), 20000);
    assert_eq!(m.formats(), orig.formats());
    assert_eq!(
        m.attributes().collect::<Vec<_>>(),
        orig.attributes().collect::<Vec<_>>()
    );
    assert!(!m.has_own_connection(), "session-level c= suffices");
}

#[test]
fn baresip_offer_loses_ice_and_keeps_rtcp_mux() {
    let (_, out) = anchored(
        "baresip-offer",
        1,
        &["192.168.1.34", "203.0.113.9", "10054", "10055"],
    );
    let t = text(&out);
    for ice in [
        "candidate",
        "ice-ufrag",
        "ice-pwd",
        "ice-options",
        "end-of-candidates",
    ] {
        assert!(!t.contains(ice), "{ice} kept");
    }
    let m = &out.media()[0];
    assert!(m.rtcp_mux());
    assert_eq!(
        m.rtcp(),
        None,
        "a=rtcp dropped under rtcp-mux (our RTCP port is RTP+1 anyway)"
    );
    assert_eq!(m.attribute("ptime"), Some(Some("20")));
    assert_eq!(
        m.attribute("fmtp"),
        Some(Some("111 stereo=1;sprop-stereo=1"))
    );
    assert_eq!(m.attribute("sendrecv"), Some(None));
    assert_eq!(
        out.attributes().collect::<Vec<_>>(),
        [("tool", Some("baresip 3.10.1"))]
    );
}

#[test]
fn session_and_media_level_connections_are_both_rewritten() {
    let (_, carrier) = anchored("carrier-session-c", 1, &["198.51.100.21"]);
    assert_eq!(carrier.connection(), Some(ip("203.0.113.1")));
    assert!(!carrier.media()[0].has_own_connection());
    assert!(text(&carrier).contains("b=AS:80\r\n"), "bandwidth passes");

    let (_, cisco) = anchored("cisco-media-c", 1, &["198.51.100.7"]);
    assert_eq!(cisco.connection(), Some(ip("203.0.113.1")));
    assert!(cisco.media()[0].has_own_connection());
    assert_eq!(cisco.media()[0].connection(), Some(ip("203.0.113.1")));
}

#[test]
fn rtcp_attribute_gets_our_port_in_the_same_form() {
    // IPv6 peer, IPv4 relay: a=rtcp keeps its address form, with our family.
    let (_, out) = anchored("ipv6", 1, &["2001:db8::5", "54400", "54401"]);
    assert_eq!(
        out.media()[0].rtcp(),
        Some((20001, Some(ip("203.0.113.1"))))
    );
    assert!(text(&out).contains("c=IN IP4 203.0.113.1\r\n"));
    assert_eq!(out.origin().addr_type, "IP4");

    let mut bare = fixture("sipp-pcma");
    bare.media_mut()[0].set_attribute("rtcp", Some("6001"));
    let out = rewrite(&bare, &local(1), &mut OriginState::new());
    assert_eq!(out.media()[0].rtcp(), Some((20001, None)));
}

#[test]
fn ipv6_relay_address() {
    let sdp = fixture("sipp-pcma");
    let v6 = [LocalMedia {
        addr: ip("2001:db8::1"),
        rtp_port: 30000,
        rtcp_port: 30001,
    }];
    let out = rewrite(&sdp, &v6, &mut OriginState::new());
    let t = text(&out);
    assert!(
        t.contains("o=voxgate ") && t.contains(" IN IP6 2001:db8::1\r\n"),
        "{t}"
    );
    assert!(t.contains("c=IN IP6 2001:db8::1\r\n"), "{t}");
}

#[test]
fn hold_passes_through() {
    let (_, out) = anchored("hold-sendonly", 1, &["198.51.100.21"]);
    assert_eq!(out.media()[0].direction(), Direction::SendOnly);

    let (_, out) = anchored("hold-inactive-session", 1, &["198.51.100.21"]);
    assert_eq!(out.direction(), Some(Direction::Inactive));
    assert!(out.media()[0].is_held());

    // RFC 2543 hold: c=0.0.0.0 is kept (it is the hold), the port is ours.
    let (_, out) = anchored("hold-rfc2543", 1, &["198.51.100.21"]);
    assert_eq!(out.connection(), Some(ip("0.0.0.0")));
    assert!(out.media()[0].is_held());
    assert_eq!(out.media()[0].port(), 20000);
    assert_eq!(out.origin().addr, "203.0.113.1");
}

#[test]
fn rejected_and_unanchored_lines_get_port_zero() {
    let (_, out) = anchored("video-rejected", 2, &["192.0.2.41"]);
    assert_eq!(out.media()[0].port(), 20000);
    assert_eq!(out.media()[1].port(), 0, "port 0 stays 0");
    assert_eq!(out.media()[1].connection(), Some(ip("203.0.113.1")));

    // Two lines offered, one anchor: the second line is rejected.
    let (_, out) = anchored("audio-video", 1, &["192.0.2.40"]);
    assert_eq!(out.media()[0].port(), 20000);
    assert_eq!(out.media()[1].port(), 0);
    let (_, out) = anchored("audio-video", 2, &["192.0.2.40"]);
    assert_eq!(
        (out.media()[0].port(), out.media()[1].port()),
        (20000, 20002)
    );
    assert_eq!(
        out.media()[1]
            .attributes()
            .filter(|(n, _)| *n == "rtcp-fb")
            .count(),
        3
    );
}

#[test]
fn keys_never_pass_to_the_other_leg() {
    let mut sdp = fixture("sipp-pcma");
    let key = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    sdp.media_mut()[0].push_attribute("crypto", Some(key));
    sdp.media_mut()[0].push_attribute("key-mgmt", Some("mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyO"));
    sdp.media_mut()[0].push_attribute("fingerprint", Some("sha-256 AB:CD"));
    let out = rewrite(&sdp, &local(1), &mut OriginState::new());
    let text = String::from_utf8(out.to_bytes()).unwrap();
    assert!(
        !text.contains("crypto") && !text.contains("key-mgmt"),
        "{text}"
    );
    assert!(
        !text.contains("WVNfX19zZW1jdGwg") && !text.contains("AQAFgM0"),
        "{text}"
    );
    // DTLS-SRTP stays end to end.
    assert_eq!(
        out.media()[0].attribute("fingerprint"),
        Some(Some("sha-256 AB:CD"))
    );
}

#[test]
fn origin_version_moves_only_when_the_sdp_changes() {
    let mut origin = OriginState::new();
    let first = rewrite(&fixture("sipp-pcma"), &local(1), &mut origin);
    let id = first.origin().sess_id.clone();
    assert_eq!(id, origin.sess_id().to_string());
    let v = first.origin().sess_version;

    // A re-INVITE with the same media (even a new peer o= version): same SDP, same version.
    let mut refresh = fixture("sipp-pcma");
    let mut o = refresh.origin().clone();
    o.sess_version += 1;
    refresh.set_origin(o);
    let again = rewrite(&refresh, &local(1), &mut origin);
    assert_eq!(again, first);

    // Hold: content differs, version + 1, same session id.
    let mut hold = fixture("sipp-pcma");
    hold.media_mut()[0].set_direction(Direction::SendOnly);
    let held = rewrite(&hold, &local(1), &mut origin);
    assert_eq!(held.origin().sess_version, v + 1);
    assert_eq!(held.origin().sess_id, id);

    // Resume: differs again.
    let resumed = rewrite(&fixture("sipp-pcma"), &local(1), &mut origin);
    assert_eq!(resumed.origin().sess_version, v + 2);
    assert_eq!(origin.version(), v + 2);
}

#[test]
fn remote_targets_follow_c_m_and_rtcp() {
    let t = remote_targets(&fixture("sipp-pcma"));
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].rtp, t[0].rtcp),
        (Some(sa("127.0.0.1:6000")), Some(sa("127.0.0.1:6001")))
    );
    assert!(!t[0].rtcp_mux);
    assert_eq!(t[0].direction, Direction::SendRecv);

    let t = remote_targets(&fixture("baresip-offer"));
    assert!(t[0].rtcp_mux);
    assert_eq!(t[0].rtcp, t[0].rtp, "RTCP on the RTP port under rtcp-mux");

    let t = remote_targets(&fixture("ipv6"));
    assert_eq!(t[0].rtcp, Some(sa("[2001:db8::5]:54401")));

    let t = remote_targets(&fixture("hold-rfc2543"));
    assert_eq!(
        (t[0].rtp, t[0].rtcp),
        (None, None),
        "c=0.0.0.0: nowhere to send"
    );

    let t = remote_targets(&fixture("hold-sendonly"));
    assert_eq!(t[0].direction, Direction::SendOnly);
    assert!(t[0].rtp.is_some());

    let t = remote_targets(&fixture("video-rejected"));
    assert_eq!(t.len(), 2);
    assert_eq!((t[1].rtp, t[1].rtcp), (None, None));

    let t = remote_targets(&fixture("audio-video"));
    assert_eq!(t[1].rtp, Some(sa("192.0.2.40:40002")));
    assert_eq!(t[1].rtcp, Some(sa("192.0.2.40:40003")));

    // a=rtcp with a port only: the c= address.
    let mut sdp = fixture("sipp-pcma");
    sdp.media_mut()[0].set_attribute("rtcp", Some("7777"));
    assert_eq!(remote_targets(&sdp)[0].rtcp, Some(sa("127.0.0.1:7777")));
}

#[test]
fn rtcp_mux_holds_for_the_offerer_only_if_answered() {
    let offer = fixture("baresip-offer");
    let declined = fixture("sipp-pcma");
    let t = remote_targets_answered(&offer, &declined);
    assert!(!t[0].rtcp_mux);
    assert_eq!(
        t[0].rtcp,
        Some(sa("192.168.1.34:10055")),
        "a=rtcp of the offer"
    );

    let mut accepted = fixture("sipp-pcma");
    accepted.media_mut()[0].push_attribute("rtcp-mux", None);
    let t = remote_targets_answered(&offer, &accepted);
    assert!(t[0].rtcp_mux);
    assert_eq!(t[0].rtcp, Some(sa("192.168.1.34:10054")));
}

#[test]
fn rewrite_output_stays_within_the_printed_limits() {
    // Found by the fuzzer: no c= anywhere, 16 m-lines, 256 lines in all. The
    // rewrite adds a c= per media line: more than the input limit allows,
    // within SdpLimits::PRINTED.
    let mut text = "v=0\no=- 1 2 IN IP4 a\n".to_owned();
    for _ in 0..16 {
        text.push_str("m=audio 4000 RTP/AVP 0\na=rtcp:4001 IN IP4 10.0.0.1\n");
    }
    while text.lines().count() < 256 {
        text.push_str("a=x\n");
    }
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
    let local: Vec<LocalMedia> = (0..16u16)
        .map(|i| LocalMedia {
            addr: ip("2001:db8:ffff:ffff:ffff:ffff:ffff:1"),
            rtp_port: 60000 + 2 * i,
            rtcp_port: 60001 + 2 * i,
        })
        .collect();
    let out = rewrite(&sdp, &local, &mut OriginState::new());
    let bytes = out.to_bytes();
    assert!(
        SessionDescription::parse(&bytes).is_err(),
        "beyond the input limits"
    );
    let limits = voxgate_media::sdp::SdpLimits::PRINTED;
    assert_eq!(
        SessionDescription::parse_with_limits(&bytes, &limits).unwrap(),
        out
    );
    // One a=rtcp per media line, with our port and address.
    for m in out.media() {
        assert_eq!(m.attributes().filter(|(n, _)| *n == "rtcp").count(), 1);
        assert_eq!(m.rtcp(), Some((m.port() + 1, Some(local[0].addr))));
        assert!(m.has_own_connection());
    }
}
