#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn sdp(text: &str) -> SessionDescription {
    SessionDescription::parse(text.as_bytes()).unwrap()
}

fn local(port: u16) -> LocalMedia {
    LocalMedia {
        addr: "203.0.113.1".parse().unwrap(),
        rtp_port: port,
        rtcp_port: port + 1,
    }
}

const OFFER: &str = "v=0\r\no=carrier 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:30\r\na=sendrecv\r\n\
m=video 30002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n";

#[test]
fn the_answer_takes_the_first_common_codec_keeps_the_offers_event_type_and_rejects_video() {
    let offer = sdp(OFFER);
    let mut origin = OriginState::new();
    let ans = answer(
        &offer,
        &Capabilities::voice_default(),
        &[local(20000), local(20002)],
        false,
        None,
        &mut origin,
    )
    .unwrap();
    let text = String::from_utf8(ans.to_bytes()).unwrap();
    assert_eq!(ans.media()[0].formats(), ["0", "96"], "{text}");
    assert_eq!(ans.media()[0].port(), 20000);
    assert!(text.contains("a=fmtp:96 0-15\r\n"), "{text}");
    assert!(text.contains("a=ptime:30\r\n"), "{text}");
    assert_eq!(ans.media()[0].direction(), Direction::SendRecv);
    assert_eq!(ans.media()[1].port(), 0, "video is rejected");
    assert_eq!(ans.media()[1].formats(), ["97"]);
    assert_eq!(ans.connection(), Some("203.0.113.1".parse().unwrap()));
    assert!(!text.contains("10.1.1.1"), "{text}");
    assert_eq!(ans.origin().username, "voxgate");
}

#[test]
fn the_answer_follows_the_trunks_order_not_the_offers() {
    let offer = sdp(OFFER); // 0 8 96
    let caps = Capabilities::from_names(&["PCMA", "PCMU", "telephone-event"]).unwrap();
    let ans = answer(
        &offer,
        &caps,
        &[local(20000)],
        false,
        None,
        &mut OriginState::new(),
    )
    .unwrap();
    assert_eq!(ans.media()[0].formats(), ["8", "96"]);
}

#[test]
fn a_preferred_codec_wins_when_offered() {
    let offer = sdp(OFFER);
    let prefer = Selected {
        name: "PCMA".into(),
        clock: 8000,
        pt: 8,
    };
    let ans = answer(
        &offer,
        &Capabilities::voice_default(),
        &[local(20000)],
        false,
        Some(&prefer),
        &mut OriginState::new(),
    )
    .unwrap();
    assert_eq!(ans.media()[0].formats(), ["8", "96"]);
    assert_eq!(selected(&ans).unwrap().name, "PCMA");
}

#[test]
fn nothing_in_common_is_an_error() {
    let offer = sdp(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
    );
    let r = answer(
        &offer,
        &Capabilities::voice_default(),
        &[local(20000)],
        false,
        None,
        &mut OriginState::new(),
    );
    assert_eq!(r, Err(NoCommonCodec));
    // SDES-SRTP lines are answered in their profile (the leg's SdesLeg adds
    // the a=crypto); DTLS-SRTP ones are not ours to answer.
    let srtp = sdp(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n",
    );
    let r = answer(
        &srtp,
        &Capabilities::voice_default(),
        &[local(20000)],
        false,
        None,
        &mut OriginState::new(),
    )
    .unwrap();
    assert_eq!(r.media()[0].proto(), "RTP/SAVP");
    assert_eq!(r.media()[0].port(), 20000);
    for dtls in [
        "m=audio 4000 RTP/SAVP 0\r\na=fingerprint:sha-256 AB:CD\r\n",
        "a=fingerprint:sha-256 AB:CD\r\nm=audio 4000 RTP/AVP 0\r\n",
        "m=audio 4000 UDP/TLS/RTP/SAVPF 0\r\n",
    ] {
        let offer = sdp(&format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{dtls}"
        ));
        let r = answer(
            &offer,
            &Capabilities::voice_default(),
            &[local(20000)],
            false,
            None,
            &mut OriginState::new(),
        );
        assert_eq!(r, Err(NoCommonCodec), "{dtls}");
    }
}

#[test]
fn answer_directions_follow_rfc_3264_and_our_hold() {
    use Direction::*;
    assert_eq!(answer_direction(SendRecv, false), SendRecv);
    assert_eq!(answer_direction(SendOnly, false), RecvOnly);
    assert_eq!(answer_direction(RecvOnly, false), SendOnly);
    assert_eq!(answer_direction(Inactive, false), Inactive);
    assert_eq!(answer_direction(SendRecv, true), SendOnly);
    assert_eq!(answer_direction(SendOnly, true), Inactive);
    let held = sdp(&OFFER.replace("a=sendrecv", "a=sendonly"));
    let ans = answer(
        &held,
        &Capabilities::voice_default(),
        &[local(20000)],
        false,
        None,
        &mut OriginState::new(),
    )
    .unwrap();
    assert_eq!(ans.media()[0].direction(), RecvOnly);
}

#[test]
fn our_offer_lists_every_codec_and_parses() {
    let mut origin = OriginState::new();
    let o = offer(
        &Capabilities::voice_default(),
        &local(20004),
        Direction::SendRecv,
        &mut origin,
    );
    assert_eq!(o.media()[0].formats(), ["0", "8", "101"]);
    assert_eq!(o.media()[0].port(), 20004);
    let text = String::from_utf8(o.to_bytes()).unwrap();
    assert!(
        text.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"),
        "{text}"
    );
    assert_eq!(SessionDescription::parse(text.as_bytes()).unwrap(), o);
    assert_eq!(selected(&o).unwrap().name, "PCMU");
}

#[test]
fn a_reoffer_changes_direction_and_bumps_the_version_once() {
    let mut origin = OriginState::new();
    let first = offer(
        &Capabilities::voice_default(),
        &local(20004),
        Direction::SendRecv,
        &mut origin,
    );
    let v1 = first.origin().sess_version;
    let hold = reoffer(&first, Direction::SendOnly, &mut origin);
    assert_eq!(hold.media()[0].direction(), Direction::SendOnly);
    assert_eq!(hold.origin().sess_version, v1 + 1);
    assert_eq!(hold.origin().sess_id, first.origin().sess_id);
    let again = reoffer(&hold, Direction::SendOnly, &mut origin);
    assert_eq!(
        again.origin().sess_version,
        v1 + 1,
        "unchanged SDP keeps its version"
    );
}

#[test]
fn capabilities_by_name() {
    let caps = Capabilities::from_names(&["pcma", "telephone-event"]).unwrap();
    assert_eq!(caps.codecs().count(), 2);
    assert_eq!(caps.codecs().next().unwrap().name, "PCMA");
    assert_eq!(
        Capabilities::from_names(&["G7299"]),
        Err(UnknownCodec {
            name: "G7299".into()
        })
    );
    // Codecs that only pass through are known by name, but never ours to offer.
    let passing = Capabilities::from_names(&["opus", "PCMA"]).unwrap();
    assert_eq!(passing.codecs().next().unwrap().name, "opus");
    let o = offer(
        &passing,
        &local(20000),
        Direction::SendRecv,
        &mut OriginState::new(),
    );
    assert_eq!(o.media()[0].formats(), ["8"]);
    let only = Capabilities::voice_default().restricted_to(&Selected {
        name: "pcma".into(),
        clock: 8000,
        pt: 8,
    });
    assert_eq!(
        only.codecs().map(|c| c.name).collect::<Vec<_>>(),
        ["PCMA", "telephone-event"]
    );
}

#[test]
fn fingerprints_are_found_at_either_level() {
    assert!(!has_fingerprint(&sdp(OFFER)));
    let dtls = OFFER.replace(
        "a=sendrecv\r\n",
        "a=sendrecv\r\na=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n",
    );
    assert!(has_fingerprint(&sdp(&dtls)));
}

mod formats {
    use super::*;
    use crate::codec::{CodecKind, Ptime};
    use crate::endpoint::{EventFormat, VoiceFormat};
    use crate::rtp::PayloadType;

    #[test]
    fn the_format_of_a_leg_from_both_sdps() {
        let remote = sdp(OFFER);
        // Our answer chose PCMA and kept the peer's 96: voxgate sends PCMA.
        let ours = b"v=0\r\no=voxgate 1 1 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\n\
t=0 0\r\nm=audio 20000 RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        let f = media_format(&remote, Some(ours)).unwrap();
        assert_eq!(f.line, 0);
        assert_eq!(
            f.voice,
            Some(VoiceFormat {
                payload_type: PayloadType(8),
                codec: CodecKind::Pcma
            })
        );
        assert_eq!(
            f.telephone_event,
            Some(EventFormat {
                receive: PayloadType(96),
                send: PayloadType(96),
                clock_rate: 8000
            })
        );
        assert_eq!(f.ptime, Some(Ptime(30)));
        assert_eq!(f.clock_rate, 8000);
        // Without our SDP: the peer's first codec we can encode.
        let f = media_format(&remote, None).unwrap();
        assert_eq!(f.voice.unwrap().codec, CodecKind::Pcmu);
    }

    #[test]
    fn jitter_clock_is_the_first_voice_payload_types() {
        let opus = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 101 111 0\r\na=rtpmap:101 telephone-event/8000\r\n\
a=rtpmap:111 opus/48000/2\r\n",
        );
        let f = media_format(&opus, None).unwrap();
        // voxgate speaks PCMU; the peer sends Opus first, at 48 kHz.
        assert_eq!(f.voice.unwrap().codec, CodecKind::Pcmu);
        assert_eq!(f.clock_rate, 48_000);
        let g722 = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 9\r\n",
        );
        // RFC 3551's static table: G722/8000 (its RTP clock, by the RFC's own quirk).
        assert_eq!(media_format(&g722, None).unwrap().clock_rate, 8000);
    }

    #[test]
    fn event_payload_types_per_direction_and_none_unless_both_have_it() {
        let remote = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=video 0 RTP/AVP 97\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let ours_96 = b"m=audio 20000 RTP/AVP 0 96\r\na=rtpmap:96 TELEPHONE-EVENT/8000\r\n";
        let f = media_format(&remote, Some(ours_96)).unwrap();
        assert_eq!(f.line, 1, "the first audio line with a port");
        let te = f.telephone_event.unwrap();
        assert_eq!((te.send, te.receive), (PayloadType(101), PayloadType(96)));
        let ours_none = b"m=audio 20000 RTP/AVP 0\r\n";
        assert_eq!(
            media_format(&remote, Some(ours_none))
                .unwrap()
                .telephone_event,
            None
        );
    }

    #[test]
    fn dtls_srtp_or_unknown_codecs_give_no_voice() {
        // DTLS-SRTP passes end to end: voxgate cannot hear or speak on it.
        let dtls = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 UDP/TLS/RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fingerprint:sha-256 AB:CD\r\n",
        );
        let f = media_format(&dtls, None).unwrap();
        assert_eq!((f.voice, f.telephone_event), (None, None));
        let fingerprinted = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
a=fingerprint:sha-256 AB:CD\r\nm=audio 4000 RTP/SAVP 0\r\n",
        );
        assert_eq!(media_format(&fingerprinted, None).unwrap().voice, None);
        let g729 = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 18\r\n",
        );
        assert_eq!(media_format(&g729, None).unwrap().voice, None);
        let none = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 0 RTP/AVP 0\r\n",
        );
        assert_eq!(media_format(&none, None), None);
    }

    #[test]
    fn sdes_srtp_is_terminated_so_its_format_is_heard() {
        // The relay unprotects SDES-SRTP: the endpoint sees plain RTP.
        let srtp = sdp(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/SAVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
        );
        let f = media_format(&srtp, None).unwrap();
        assert_eq!(f.voice.map(|v| v.codec), Some(CodecKind::Pcma));
        assert_eq!(f.telephone_event.map(|t| t.send), Some(PayloadType(101)));
    }
}
