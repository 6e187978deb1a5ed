//! Each trunk's codec list on a plain routed call (the caller's offer, the
//! offer to the callee, the answers and re-offers between them), the 488
//! with its Warning when no codec is possible, and bridges across G.711
//! laws, on the virtual clock.

use super::*;
use voxgate_media::EndpointOp;
use voxgate_media::codec::CodecKind;

/// The test config with the trunks' `codecs` set (`None`: the default).
fn config(carrier: Option<&str>, pbx: Option<&str>) -> String {
    let mut text = format!("{BASE_CONFIG}\n{CALLS}");
    for (name, codecs) in [("carrier", carrier), ("pbx", pbx)] {
        if let Some(list) = codecs {
            text = text.replace(
                &format!("name = \"{name}\"\n"),
                &format!("name = \"{name}\"\ncodecs = [{list}]\n"),
            );
        }
    }
    text
}

fn sdp(media: &str, owner: &str, addr: &str, port: u16) -> String {
    format!(
        "v=0\r\no={owner} 1000 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {media}a=sendrecv\r\n"
    )
}

/// The caller's offer: `formats` then their rtpmap lines.
fn a_sdp(media: &str) -> String {
    sdp(media, "carrier", "10.1.1.1", 30000)
}

fn b_sdp(media: &str) -> String {
    sdp(media, "pbx", "10.2.2.2", 32000)
}

const PCMU_TE: &str = "0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const PCMA_TE: &str = "8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn formats(msg: &Message) -> Vec<String> {
    let sdp = SessionDescription::parse(msg.body()).unwrap();
    sdp.media()[0]
        .formats()
        .iter()
        .map(|f| f.to_string())
        .collect()
}

fn warning(msg: &Message) -> Option<&str> {
    msg.header_by_name("Warning")
}

/// The voice codec each endpoint was last told.
fn voice(h: &Harness, ep: u32) -> Option<CodecKind> {
    h.call
        .media
        .ops
        .iter()
        .rev()
        .find_map(|(e, op)| match op {
            EndpointOp::Format(f) if *e == EndpointId(ep) => Some(*f),
            _ => None,
        })
        .flatten()
        .and_then(|f| f.voice)
        .map(|v| v.codec)
}

/// A µ-law-only caller connected to B1 on a trunk allowing `pbx`.
fn mu_law_call(pbx: &str) -> (Harness, BSide, Out) {
    mu_law_call_from_trunk(None, pbx)
}

/// As `mu_law_call`, with the caller's trunk held to `carrier`'s codecs too.
fn mu_law_call_from(carrier: &str, pbx: &str) -> (Harness, BSide, Out) {
    mu_law_call_from_trunk(Some(carrier), pbx)
}

fn mu_law_call_from_trunk(carrier: Option<&str>, pbx: &str) -> (Harness, BSide, Out) {
    let (mut h, out) = Harness::with_config(
        &config(carrier, Some(pbx)),
        a_invite(Some(&a_sdp(PCMU_TE)), ""),
        udp(A_ADDR),
    );
    assert!(out.responses().is_empty(), "{:?}", out.statuses());
    let (b, out) = h.connected(&[B1]);
    (h, b, out)
}

#[test]
fn a_mu_law_caller_reaches_an_a_law_trunk_through_transcoding() {
    let (mut h, b, out) = mu_law_call("\"PCMA\", \"telephone-event\"");
    let invite = &out.sent(Method::Invite).msg;
    assert_eq!(formats(invite), ["8", "101"], "{}", body(invite));
    assert!(body(invite).contains("a=rtpmap:8 PCMA/8000\r\n"));
    assert!(!body(invite).contains("PCMU"), "{}", body(invite));
    let out = h.feed(b.response(200, "", Some(&b_sdp(PCMA_TE))));
    let (_, ok) = out.response(200);
    assert_eq!(formats(ok), ["0", "101"], "{}", body(ok));
    assert!(
        body(ok).contains("a=rtpmap:0 PCMU/8000\r\n"),
        "{}",
        body(ok)
    );
    assert!(!body(ok).contains("PCMA"), "{}", body(ok));
    // Bridged as they are: the caller's endpoint on µ-law, the callee's on
    // A-law, the relay converting between them.
    assert_eq!(
        h.call.media.bridged_with(EndpointId(0)),
        Some(EndpointId(1))
    );
    assert_eq!(voice(&h, 0), Some(CodecKind::Pcmu));
    assert_eq!(voice(&h, 1), Some(CodecKind::Pcma));
    assert!(out.sends().is_empty(), "no re-INVITE to agree");
}

#[test]
fn the_callers_codec_passes_untouched_where_the_other_trunk_allows_it() {
    let (mut h, b, out) = mu_law_call("\"PCMA\", \"PCMU\", \"telephone-event\"");
    assert_eq!(formats(&out.sent(Method::Invite).msg), ["0", "8", "101"]);
    let out = h.feed(b.response(200, "", Some(&b_sdp(PCMU_TE))));
    let (_, ok) = out.response(200);
    assert_eq!(formats(ok), ["0", "101"]);
    assert_eq!(voice(&h, 0), Some(CodecKind::Pcmu));
    assert_eq!(voice(&h, 1), Some(CodecKind::Pcmu));
}

#[test]
fn an_offer_without_a_codec_of_the_callers_trunk_is_488_with_a_warning() {
    let (h, out) = Harness::with_config(
        &config(Some("\"PCMA\""), None),
        a_invite(Some(&a_sdp(PCMU_TE)), ""),
        udp(A_ADDR),
    );
    assert_eq!(invite_status(&h, &out), vec![488]);
    let (_, r) = out.response(488);
    assert_eq!(
        warning(r),
        Some("305 voxgate \"Incompatible media format\"")
    );
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Rejected(488))));
    assert_eq!(h.call.media.open_count(), 0);
}

#[test]
fn a_destination_that_can_take_none_of_the_callers_codecs_is_not_dialled() {
    // G.729 is allowed on the caller's trunk, not on the callee's: nothing
    // to transcode it from.
    let g729 = a_sdp("18\r\na=rtpmap:18 G729/8000\r\n");
    let (mut h, _) = Harness::with_config(
        &config(Some("\"G729\", \"PCMA\""), Some("\"PCMA\"")),
        a_invite(Some(&g729), ""),
        udp(A_ADDR),
    );
    let out = h.feed(connect(&[B1]));
    assert!(out.sends().is_empty(), "not dialled");
    assert_eq!(invite_status(&h, &out), vec![488]);
    let (_, r) = out.response(488);
    assert_eq!(
        warning(r),
        Some("305 voxgate \"Incompatible media format\"")
    );
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 488
    }));
}

#[test]
fn a_codec_voxgate_cannot_transcode_passes_where_both_trunks_allow_it() {
    let g729 = "18\r\na=rtpmap:18 G729/8000\r\n";
    let (mut h, _) = Harness::with_config(
        &config(Some("\"G729\", \"PCMA\""), Some("\"G729\"")),
        a_invite(Some(&a_sdp(g729)), ""),
        udp(A_ADDR),
    );
    let (b, out) = h.connected(&[B1]);
    assert_eq!(formats(&out.sent(Method::Invite).msg), ["18"]);
    let out = h.feed(b.response(200, "", Some(&b_sdp(g729))));
    let (_, ok) = out.response(200);
    assert_eq!(formats(ok), ["18"]);
    assert_eq!(
        h.call.media.bridged_with(EndpointId(0)),
        Some(EndpointId(1))
    );
    assert_eq!(
        (voice(&h, 0), voice(&h, 1)),
        (None, None),
        "nothing to transcode"
    );
}

#[test]
fn a_late_offer_the_callers_trunk_cannot_take_fails_the_attempt() {
    let (mut h, _) = Harness::with_config(
        &config(Some("\"PCMU\""), Some("\"G729\", \"PCMA\"")),
        a_invite(None, ""),
        udp(A_ADDR),
    );
    let (b, _) = h.connected(&[B1]);
    // The callee offers G.729 only in its 2xx: the caller's trunk cannot
    // have it, and voxgate cannot transcode it.
    let out = h.feed(b.response(200, "", Some(&b_sdp("18\r\n"))));
    assert_eq!(out.methods(), vec![Method::Bye]);
    assert_eq!(invite_status(&h, &out), vec![488]);
    let (_, r) = out.response(488);
    assert!(warning(r).is_some_and(|w| w.starts_with("305 ")));
}

#[test]
fn offers_and_answers_across_a_transcoded_call_are_policed_both_ways() {
    let (mut h, mut b, _) = mu_law_call("\"PCMA\", \"telephone-event\"");
    h.feed(b.response(200, "", Some(&b_sdp(PCMA_TE))));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.confirmed());
    // The callee re-offers A-law: the caller is offered A-law (it may take
    // it as it is) and µ-law (which voxgate can transcode it into).
    let reinvite = b.request("INVITE", "", Some(("application/sdp", &b_sdp(PCMA_TE))));
    let (tx, out) = h.b_sends(reinvite);
    let to_a = out.sent(Method::Invite);
    assert_eq!(formats(&to_a.msg), ["8", "0", "101"], "{}", body(&to_a.msg));
    // The caller keeps µ-law: the callee is answered in A-law, as it offered.
    let out = h.a_answers(&to_a, 200, Some(&a_sdp(PCMU_TE)));
    let ok = out
        .responses()
        .into_iter()
        .find(|(t, _)| *t == tx)
        .map(|(_, r)| r)
        .unwrap();
    assert_eq!(formats(ok), ["8", "101"], "{}", body(ok));
    assert!(!body(ok).contains("PCMU"), "{}", body(ok));
    assert_eq!(voice(&h, 0), Some(CodecKind::Pcmu));
    assert_eq!(voice(&h, 1), Some(CodecKind::Pcma));
}

#[test]
fn a_reoffer_with_no_codec_for_the_other_trunk_is_488_with_a_warning() {
    let (mut h, mut b, _) = mu_law_call_from(
        "\"PCMU\", \"telephone-event\"",
        "\"PCMA\", \"G729\", \"telephone-event\"",
    );
    h.feed(b.response(200, "", Some(&b_sdp(PCMA_TE))));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let reinvite = b.request(
        "INVITE",
        "",
        Some(("application/sdp", &b_sdp("18\r\na=rtpmap:18 G729/8000\r\n"))),
    );
    let (tx, out) = h.b_sends(reinvite);
    assert!(out.sends().is_empty(), "not passed on");
    let (rtx, r) = out.response(488);
    assert_eq!(rtx, tx);
    assert_eq!(
        warning(r),
        Some("305 voxgate \"Incompatible media format\"")
    );
}

#[test]
fn the_record_names_each_legs_codec_and_whether_it_was_transcoded() {
    use crate::conversation::record::WallClock;
    let (mut h, b, _) = mu_law_call("\"PCMA\", \"telephone-event\"");
    h.feed(b.response(200, "", Some(&b_sdp(PCMA_TE))));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    // What the relay counted: both directions converted.
    for (ep, n) in [(0, 240), (1, 250)] {
        let counters = voxgate_media::counters::LegCounters {
            transcoded: n,
            ..Default::default()
        };
        set_stats(&mut h.call.media, EndpointId(ep), counters);
    }
    let bye = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye).1.sent(Method::Bye);
    let record = h.b_answers(&to_b, 200, "", None).ended().unwrap().clone();
    assert!(record.transcoded());
    let clock = WallClock::at(h.start, std::time::SystemTime::UNIX_EPOCH);
    let j: serde_json::Value = serde_json::from_str(&record.to_json(&clock, "n1", true)).unwrap();
    assert_eq!(j["transcoded"], true);
    assert_eq!(j["legs"][0]["codec"], "PCMU");
    assert_eq!(j["legs"][1]["codec"], "PCMA");
    assert_eq!(j["legs"][1]["media"]["transcoded"], 250);
    assert_eq!(j["media_a"]["transcoded"], 240);
}

#[test]
fn a_call_whose_legs_agree_is_not_transcoded() {
    let (mut h, b, _) = mu_law_call("\"PCMU\", \"telephone-event\"");
    h.feed(b.response(200, "", Some(&b_sdp(PCMU_TE))));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    for ep in [0, 1] {
        let counters = voxgate_media::counters::LegCounters {
            rtp_packets: 100,
            ..Default::default()
        };
        set_stats(&mut h.call.media, EndpointId(ep), counters);
    }
    let bye = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye).1.sent(Method::Bye);
    let record = h.b_answers(&to_b, 200, "", None).ended().unwrap().clone();
    assert!(!record.transcoded());
    assert_eq!(record.legs[1].codec.as_deref(), Some("PCMU"));
}

#[test]
fn a_dtls_leg_is_never_bridged_to_another_law_it_must_be_reinvited() {
    // The caller's DTLS-SRTP (µ-law) passes end to end to B1: voxgate cannot
    // read it, so bridging it with an A-law leg takes a re-INVITE to µ-law,
    // not transcoding.
    let dtls = |owner: &str, addr: &str, port: u16, setup: &str| {
        format!(
            "v=0\r\no={owner} 1000 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
             m=audio {port} UDP/TLS/RTP/SAVPF 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fingerprint:sha-256 AB:CD\r\n\
             a=setup:{setup}\r\na=sendrecv\r\n"
        )
    };
    let (mut h, out) = Harness::with_config(
        &config(None, None),
        a_invite(Some(&dtls("carrier", "10.1.1.1", 30000, "actpass")), ""),
        udp(A_ADDR),
    );
    assert!(out.responses().is_empty());
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(&dtls("pbx", "10.2.2.2", 32000, "active"))));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let out = h.feed(Input::Command(Command::Dial(Dial::new(vec![dest(B2)]))));
    let c = BSide::new(out.sent(Method::Invite));
    h.feed(c.response(200, "", Some(&b_sdp(PCMA_TE))));
    let out = h.feed(Input::Command(Command::Bridge {
        a: LegId(1),
        b: LegId(3),
    }));
    let reinvite = out.sent(Method::Invite);
    assert_eq!(reinvite.to, udp("203.0.113.8:5060"));
    assert_eq!(
        formats(&reinvite.msg),
        ["0", "101"],
        "µ-law, the DTLS leg's"
    );
    assert!(
        !out.events()
            .iter()
            .any(|e| matches!(e, Event::Bridged { .. })),
        "not bridged before it agreed"
    );
}

/// Makes the fake media engine report `counters` for `ep`.
fn set_stats(
    media: &mut crate::conversation::media::NoMedia,
    ep: EndpointId,
    counters: voxgate_media::counters::LegCounters,
) {
    let i = ep.0 as usize;
    if media.stats.len() <= i {
        media.stats.resize(i + 1, None);
    }
    media.stats[i] = Some(voxgate_media::LegMediaStats {
        counters,
        ..Default::default()
    });
}
