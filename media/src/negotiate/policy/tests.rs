#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn sdp(media: &str) -> SessionDescription {
    let text =
        format!("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{media}");
    SessionDescription::parse(text.as_bytes()).unwrap()
}

fn caps(names: &[&str]) -> Capabilities {
    Capabilities::from_names(names).unwrap()
}

fn text(sdp: &SessionDescription) -> String {
    String::from_utf8(sdp.to_bytes()).unwrap()
}

fn formats(sdp: &SessionDescription, line: usize) -> Vec<&str> {
    sdp.media()[line]
        .formats()
        .iter()
        .map(|f| f.as_str())
        .collect()
}

const PCMU_TE: &str = "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

#[test]
fn an_offer_needs_a_voice_codec_its_trunk_allows() {
    let offer = sdp(PCMU_TE);
    assert!(admits(&offer, &Capabilities::voice_default()));
    assert!(!admits(&offer, &caps(&["PCMA", "telephone-event"])));
    assert!(
        !admits(&offer, &caps(&["PCMA", "telephone-event", "PCMA"])),
        "telephone-event is no voice"
    );
    let g729 = sdp("m=audio 4000 RTP/AVP 18\r\n");
    assert!(!admits(&g729, &Capabilities::voice_default()));
    assert!(admits(&g729, &caps(&["g729", "PCMA"])), "names, any case");
    let video = sdp("m=video 4000 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n");
    assert!(
        admits(&video, &caps(&["PCMA"])),
        "no audio: not ours to refuse"
    );
}

#[test]
fn a_mu_law_caller_is_offered_as_a_law_to_an_a_law_trunk() {
    let mut offer = sdp(PCMU_TE);
    restrict_offer(
        &mut offer,
        &Capabilities::voice_default(),
        &caps(&["PCMA", "telephone-event"]),
    )
    .unwrap();
    assert_eq!(formats(&offer, 0), ["8", "101"]);
    let t = text(&offer);
    assert!(t.contains("a=rtpmap:8 PCMA/8000\r\n"), "{t}");
    assert!(!t.contains("PCMU"), "{t}");
    assert!(t.contains("a=fmtp:101 0-16\r\n"), "{t}");
    assert!(t.contains("a=ptime:20\r\n"), "{t}");
    // The rtpmap stands with the others, before the direction.
    assert!(
        t.find("a=rtpmap:8").unwrap() < t.find("a=sendrecv").unwrap(),
        "{t}"
    );
    assert_eq!(SessionDescription::parse(&offer.to_bytes()).unwrap(), offer);
}

#[test]
fn the_callers_codec_comes_first_where_the_other_trunk_allows_it() {
    // The other trunk prefers A-law, but µ-law needs no transcoding.
    let mut offer = sdp(PCMU_TE);
    restrict_offer(
        &mut offer,
        &Capabilities::voice_default(),
        &caps(&["PCMA", "PCMU", "telephone-event"]),
    )
    .unwrap();
    assert_eq!(formats(&offer, 0), ["0", "8", "101"]);
    // Both passed through: in the other trunk's order.
    let mut offer = sdp("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    restrict_offer(
        &mut offer,
        &Capabilities::voice_default(),
        &caps(&["PCMA", "PCMU", "telephone-event"]),
    )
    .unwrap();
    assert_eq!(formats(&offer, 0), ["8", "0", "101"]);
}

#[test]
fn codecs_either_trunk_refuses_are_removed() {
    let mut offer = sdp(
        "m=audio 4000 RTP/AVP 18 0 8 13 101\r\na=rtpmap:18 G729/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n",
    );
    // The caller's trunk does not allow G.729; the callee's no events.
    restrict_offer(
        &mut offer,
        &Capabilities::voice_default(),
        &caps(&["G729", "PCMA", "PCMU", "CN"]),
    )
    .unwrap();
    assert_eq!(formats(&offer, 0), ["8", "0"]);
    let t = text(&offer);
    assert!(!t.contains("G729") && !t.contains("telephone-event"), "{t}");
}

#[test]
fn codecs_voxgate_cannot_transcode_pass_only_where_both_trunks_allow_them() {
    let g729 = "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    let both = caps(&["G729", "PCMA"]);
    let mut offer = sdp(g729);
    restrict_offer(&mut offer, &both, &both).unwrap();
    assert_eq!(formats(&offer, 0), ["18"]);
    let mut offer = sdp(g729);
    assert_eq!(
        restrict_offer(&mut offer, &both, &caps(&["PCMA", "PCMU"])),
        Err(NoCommonCodec),
        "nothing to transcode G.729 from"
    );
    // Opus by name, whatever its clock and channels.
    let mut offer = sdp("m=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n");
    let opus = caps(&["opus"]);
    restrict_offer(&mut offer, &opus, &opus).unwrap();
    assert_eq!(formats(&offer, 0), ["111"]);
}

#[test]
fn nothing_is_added_to_a_dtls_line_or_to_a_second_audio_line() {
    let dtls = "m=audio 4000 UDP/TLS/RTP/SAVPF 0\r\na=fingerprint:sha-256 AB:CD\r\n";
    let mut offer = sdp(dtls);
    assert_eq!(
        restrict_offer(&mut offer, &Capabilities::voice_default(), &caps(&["PCMA"])),
        Err(NoCommonCodec)
    );
    let mut offer = sdp(dtls);
    restrict_offer(
        &mut offer,
        &Capabilities::voice_default(),
        &Capabilities::voice_default(),
    )
    .unwrap();
    assert_eq!(formats(&offer, 0), ["0"], "passed through");
    let mut offer =
        sdp("m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\nm=video 4004 RTP/AVP 97\r\n");
    restrict_offer(&mut offer, &Capabilities::voice_default(), &caps(&["PCMA"])).unwrap();
    assert_eq!(formats(&offer, 0), ["8"]);
    assert_eq!(
        offer.media()[1].port(),
        0,
        "no second voice line to transcode"
    );
    assert_eq!(
        offer.media()[2].port(),
        4004,
        "video is not the trunk's business"
    );
    assert_eq!(formats(&offer, 2), ["97"]);
}

#[test]
fn a_payload_type_the_offer_uses_otherwise_is_not_taken() {
    // A (broken) offer using 8 for something dynamic: PCMA cannot be added as 8.
    let mut offer = sdp("m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:8 telephone-event/8000\r\n");
    assert_eq!(
        restrict_offer(&mut offer, &Capabilities::voice_default(), &caps(&["PCMA"])),
        Err(NoCommonCodec)
    );
}

#[test]
fn an_answer_in_another_law_is_answered_in_the_offerers() {
    let offer = sdp(PCMU_TE);
    let mut answer = sdp("m=audio 5000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:96 telephone-event/8000\r\na=ptime:20\r\n");
    assert!(restrict_answer(
        &mut answer,
        &offer,
        &Capabilities::voice_default()
    ));
    assert_eq!(formats(&answer, 0), ["0", "96"]);
    let t = text(&answer);
    assert!(t.contains("a=rtpmap:0 PCMU/8000\r\n"), "{t}");
    assert!(!t.contains("PCMA"), "{t}");
    assert!(t.contains("a=rtpmap:96 telephone-event/8000\r\n"), "{t}");
}

#[test]
fn an_answer_the_offerer_can_take_passes_restricted_to_what_it_offered() {
    let offer = sdp("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    let mut answer = sdp("m=audio 5000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    let before = answer.clone();
    assert!(!restrict_answer(
        &mut answer,
        &offer,
        &Capabilities::voice_default()
    ));
    assert_eq!(answer, before);
    // voxgate added PCMA to the offer it passed on; the answerer kept both.
    let offer = sdp(PCMU_TE);
    let mut answer = sdp("m=audio 5000 RTP/AVP 0 8 101\r\na=rtpmap:8 PCMA/8000\r\n");
    assert!(!restrict_answer(
        &mut answer,
        &offer,
        &Capabilities::voice_default()
    ));
    assert_eq!(formats(&answer, 0), ["0", "101"]);
    assert!(!text(&answer).contains("PCMA"));
}

#[test]
fn the_offerers_trunk_decides_what_it_may_be_answered() {
    // The caller offered both laws but its trunk allows A-law only: a µ-law
    // answer is transcoded into A-law, not passed.
    let offer = sdp("m=audio 4000 RTP/AVP 0 8\r\n");
    let mut answer = sdp("m=audio 5000 RTP/AVP 0\r\n");
    assert!(restrict_answer(&mut answer, &offer, &caps(&["PCMA"])));
    assert_eq!(formats(&answer, 0), ["8"]);
    // An answer nobody can mend (a codec that was not offered) is left be.
    let mut answer = sdp("m=audio 5000 RTP/AVP 18\r\n");
    let before = answer.clone();
    assert!(!restrict_answer(&mut answer, &offer, &caps(&["PCMA"])));
    assert_eq!(answer, before);
}

#[test]
fn which_codecs_voxgate_bridges() {
    let sel = |name: &str| Selected {
        name: name.into(),
        clock: 8000,
        pt: 0,
    };
    assert!(transcodable(&sel("PCMU"), &sel("pcma")));
    assert!(transcodable(&sel("PCMA"), &sel("PCMU")));
    assert!(transcodable(&sel("G729"), &sel("G729")));
    assert!(!transcodable(&sel("G722"), &sel("PCMU")));
    assert!(!transcodable(&sel("G729"), &sel("PCMA")));
}
