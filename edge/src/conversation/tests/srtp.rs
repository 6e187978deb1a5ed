//! SDES-SRTP per leg: what SDP each leg gets under its trunk's `srtp`, the
//! 488s, keys installed on the endpoints (NoMedia records them), and that a
//! key one leg sent reaches no other leg in any message voxgate sends.

use super::*;
use voxgate_media::srtp::{CryptoAttribute, CryptoSuite, SdesKeys};

/// The caller's key (30 octets: AES-CM), planted in its offer.
const KEY_A: &str = "Y2FsbGVyLXBsYW50ZWQta2V5LWEtYWJjZGVmZ2hp";
/// The caller's second key (a re-INVITE that rekeys).
const KEY_A2: &str = "Y2FsbGVyLXNlY29uZC1rZXktYTItamtsbW5vcHFy";
/// The callee's key.
const KEY_B: &str = "dm94Z2F0ZS10ZXN0LWtleS1iLTAxMjM0NTY3ODkh";

/// The test config with the carrier's and the PBX's `srtp` (and extra keys).
fn config(carrier: &str, pbx: &str) -> String {
    BASE_CONFIG
        .replace(
            "name = \"carrier\"\n",
            &format!("name = \"carrier\"\nsrtp = \"{carrier}\"\n"),
        )
        .replace(
            "name = \"pbx\"\n",
            &format!("name = \"pbx\"\nsrtp = \"{pbx}\"\n"),
        )
        + CALLS
}

fn call(config: &str, sdp: Option<&str>) -> (Harness, Out) {
    Harness::with_config(config, a_invite(sdp, ""), udp(A_ADDR))
}

/// `sdp` in `proto` with one `a=crypto` line (AES-CM-80, tag `tag`) of `key`.
fn with_key(sdp: &str, proto: &str, tag: u32, key: &str) -> String {
    sdp.replace("RTP/AVP", proto)
        + &format!("a=crypto:{tag} AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n")
}

fn master_key(suite: &str, key: &str) -> voxgate_media::srtp::MasterKey {
    CryptoAttribute::parse(&format!("1 {suite} inline:{key}"))
        .unwrap()
        .keys
        .remove(0)
        .key
}

/// The profile and the `a=crypto` lines of the first m-line of `msg`'s SDP.
fn media(msg: &Message) -> (String, Vec<CryptoAttribute>) {
    let sdp = SessionDescription::parse(msg.body()).unwrap();
    let m = &sdp.media()[0];
    let lines = m
        .attributes()
        .filter(|(n, _)| *n == "crypto")
        .map(|(_, v)| CryptoAttribute::parse(v.unwrap()).unwrap())
        .collect();
    (m.proto().to_string(), lines)
}

/// Every message a step sent, as text.
fn wire(out: &Out) -> Vec<String> {
    out.0
        .iter()
        .filter_map(|a| match a {
            Action::Respond { response, .. } => Some(text(response).to_string()),
            Action::Send { request, .. } => Some(text(request).to_string()),
            Action::Transmit { bytes, .. } => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        })
        .collect()
}

/// No message of `outs` carries any of `keys`.
fn assert_never_sent(outs: &[&Out], keys: &[&str]) {
    for out in outs {
        for msg in wire(out) {
            for key in keys {
                assert!(!msg.contains(key), "{key} sent in:\n{msg}");
            }
        }
    }
}

/// The keys NoMedia holds for endpoint `ep`, line 0.
fn keys(h: &Harness, ep: usize) -> Option<SdesKeys> {
    h.call.media.srtp.get(ep)?.first()?.clone()
}

#[test]
fn a_callers_key_reaches_no_other_leg_and_each_leg_gets_its_own() {
    // Carrier optional, PBX off: the caller's SRTP is terminated, the PBX
    // gets plain RTP.
    let planted = with_key(SDP_A, "RTP/SAVP", 1, KEY_A) + "a=key-mgmt:mikey AQAFgM0XflAB\r\n";
    let (mut h, out0) = call(&config("optional", "off"), Some(&planted));
    assert!(out0.responses().is_empty(), "not refused");
    let (b, out1) = h.connected(&[B1]);
    let (proto, lines) = media(&out1.sent(Method::Invite).msg);
    assert_eq!(proto, "RTP/AVP");
    assert!(lines.is_empty());
    assert!(!body(&out1.sent(Method::Invite).msg).contains("key-mgmt"));

    // Early media, then the answer: the caller gets our own key, the same in both.
    let out2 = h.feed(b.response(183, "", Some(SDP_B)));
    let (proto, early) = media(out2.response(183).1);
    assert_eq!(proto, "RTP/SAVP");
    assert_eq!(early.len(), 1);
    assert_eq!(
        (early[0].tag, early[0].suite),
        (1, CryptoSuite::AesCm128HmacSha1_80)
    );
    let a_key = master_key("AES_CM_128_HMAC_SHA1_80", KEY_A);
    assert_ne!(early[0].keys[0].key, a_key, "never the caller's key back");
    let out3 = h.feed(b.response(200, "", Some(SDP_B)));
    let (proto, answered) = media(out3.response(200).1);
    assert_eq!((proto.as_str(), &answered), ("RTP/SAVP", &early));
    // The relay has A's keys (A's endpoint is 0), B's line is plain.
    let k = keys(&h, 0).expect("A's endpoint has keys");
    assert_eq!(k.remote, a_key);
    assert_eq!(k.local, early[0].keys[0].key);
    assert_eq!(keys(&h, 1), None);
    assert_eq!(h.call.media.srtp_sets[0], 1, "set once for 183 and 200");
    let ack = h.a_ack(1, None);
    h.feed(ack);

    // A re-INVITE (hold) keeping the key: relayed without it, answered
    // with our same key, the relay's contexts untouched.
    let hold = with_key(SDP_A_HOLD, "RTP/SAVP", 1, KEY_A);
    let req = h.a_request("INVITE", "", Some(("application/sdp", &hold)));
    let (_, out4) = h.a_sends(req);
    let to_b = out4.sent(Method::Invite);
    assert_eq!(media(&to_b.msg), ("RTP/AVP".to_string(), vec![]));
    let out5 = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    let (_, again) = media(out5.response(200).1);
    assert_eq!(again, early);
    assert_eq!(h.call.media.srtp_sets[0], 1, "same keys: contexts kept");

    // A new key from the caller: only its direction changes.
    let rekey = with_key(SDP_A_RESUME, "RTP/SAVP", 3, KEY_A2);
    let req = h.a_request("INVITE", "", Some(("application/sdp", &rekey)));
    let (_, out6) = h.a_sends(req);
    let to_b = out6.sent(Method::Invite);
    let out7 = h.b_answers(&to_b, 200, "", Some(SDP_B));
    let (_, third) = media(out7.response(200).1);
    assert_eq!(third[0].tag, 3);
    assert_eq!(third[0].keys[0].key, early[0].keys[0].key, "our key stays");
    let k = keys(&h, 0).unwrap();
    assert_eq!(k.remote, master_key("AES_CM_128_HMAC_SHA1_80", KEY_A2));
    assert_eq!(h.call.media.srtp_sets[0], 2);

    assert_never_sent(
        &[&out0, &out1, &out2, &out3, &out4, &out5, &out6, &out7],
        &[KEY_A, KEY_A2, "AQAFgM0XflAB"],
    );
}

#[test]
fn an_srtp_callee_gets_our_offer_in_the_configured_order_and_its_key_stays_there() {
    let text = config("off", "required").replace(
        "srtp = \"required\"\n",
        "srtp = \"required\"\nsrtp_suites = [\"AES_CM_128_HMAC_SHA1_32\", \"AEAD_AES_128_GCM\"]\n",
    );
    let (mut h, out0) = call(&text, Some(SDP_A));
    let (b, out1) = h.connected(&[B1]);
    let (proto, offered) = media(&out1.sent(Method::Invite).msg);
    assert_eq!(proto, "RTP/SAVP");
    assert_eq!(
        offered.iter().map(|l| (l.tag, l.suite)).collect::<Vec<_>>(),
        [
            (1, CryptoSuite::AesCm128HmacSha1_32),
            (2, CryptoSuite::AeadAes128Gcm)
        ]
    );
    assert_ne!(offered[0].keys[0].key, offered[1].keys[0].key);
    // The callee takes tag 1 with its key; the caller hears nothing of it.
    let answer = SDP_B.replace("RTP/AVP", "RTP/SAVP")
        + &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY_B}\r\n");
    let out2 = h.feed(b.response(200, "", Some(&answer)));
    let ok = out2.response(200).1;
    assert_eq!(media(ok), ("RTP/AVP".to_string(), vec![]));
    let k = keys(&h, 1).expect("B's endpoint has keys");
    assert_eq!(k.suite, CryptoSuite::AesCm128HmacSha1_32);
    assert_eq!(k.remote, master_key("AES_CM_128_HMAC_SHA1_32", KEY_B));
    assert_eq!(k.local, offered[0].keys[0].key);
    assert_eq!(keys(&h, 0), None, "the caller's line is plain");
    assert_never_sent(&[&out0, &out1, &out2], &[KEY_B]);
}

#[test]
fn an_srtp_callee_answering_in_plain_rtp_fails_like_a_488() {
    let (mut h, _) = call(&config("off", "required"), Some(SDP_A));
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    // The callee's 2xx is ACKed and hung up; the caller gets 488.
    assert!(
        out.transmits()
            .iter()
            .any(|(_, m)| m.method() == Some(&Method::Ack))
    );
    assert_eq!(out.methods(), [Method::Bye]);
    assert_eq!(invite_status(&h, &out), vec![488]);
    assert!(leg_failed(&out.events(), 1, LegFailure::Status(488)));
}

#[test]
fn optional_offers_are_best_effort_and_a_plain_answer_is_taken() {
    let (mut h, _) = call(&config("off", "optional"), Some(SDP_A));
    let (b, out1) = h.connected(&[B1]);
    let (proto, offered) = media(&out1.sent(Method::Invite).msg);
    assert_eq!(proto, "RTP/AVP");
    assert_eq!(
        offered.iter().map(|l| l.suite).collect::<Vec<_>>(),
        [
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AeadAes128Gcm,
            CryptoSuite::AesCm128HmacSha1_32
        ]
    );
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
    assert_eq!(keys(&h, 1), None);
}

#[test]
fn offers_the_trunk_policy_refuses_get_488_with_a_warning() {
    let unknown = SDP_A.replace("RTP/AVP", "RTP/SAVP")
        + &format!("a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY_A}{KEY_A}\r\n");
    for (carrier, sdp, warning) in [
        (
            "off",
            with_key(SDP_A, "RTP/SAVP", 1, KEY_A),
            "SRTP not accepted on this trunk",
        ),
        ("required", SDP_A.to_string(), "SRTP required on this trunk"),
        ("optional", unknown.clone(), "no acceptable a=crypto"),
        ("required", unknown, "no acceptable a=crypto"),
        (
            "required",
            SDP_A.replace("RTP/AVP", "RTP/SAVP"),
            "no acceptable a=crypto",
        ),
    ] {
        let (h, out) = call(&config(carrier, "off"), Some(&sdp));
        assert_eq!(invite_status(&h, &out), vec![488], "{carrier}: {sdp}");
        let (_, r) = out.response(488);
        assert_eq!(
            r.header(HeaderName::Warning),
            Some(format!("305 voxgate \"{warning}\"").as_str()),
            "{carrier}"
        );
        assert_eq!(h.call.media.open_count(), 0);
        assert_never_sent(&[&out], &[KEY_A]);
    }
}

#[test]
fn a_plain_reinvite_on_a_required_trunk_gets_488_and_goes_nowhere() {
    let (mut h, _) = call(
        &config("required", "off"),
        Some(&with_key(SDP_A, "RTP/SAVP", 1, KEY_A)),
    );
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let req = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (_, out) = h.a_sends(req);
    assert!(out.sends().is_empty(), "nothing relayed to B");
    let (_, r) = out.response(488);
    assert_eq!(
        r.header(HeaderName::Warning),
        Some("305 voxgate \"SRTP required on this trunk\"")
    );
    assert!(keys(&h, 0).is_some(), "the keys in force stay");
}

#[test]
fn voxgate_answers_best_effort_srtp_itself() {
    let offer = with_key(SDP_A, "RTP/AVP", 4, KEY_A);
    let (mut h, _) = call(&config("optional", "off"), Some(&offer));
    let out = h.feed(Input::Command(Command::Answer {
        leg: LegId(1),
        early: false,
    }));
    let (proto, ours) = media(out.response(200).1);
    assert_eq!(proto, "RTP/AVP");
    assert_eq!((ours.len(), ours[0].tag), (1, 4));
    let k = keys(&h, 0).unwrap();
    assert_eq!(k.remote, master_key("AES_CM_128_HMAC_SHA1_80", KEY_A));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    // The caller re-offers the same key (hold): our answer keeps ours.
    let hold = with_key(SDP_A_HOLD, "RTP/AVP", 4, KEY_A);
    let req = h.a_request("INVITE", "", Some(("application/sdp", &hold)));
    let (_, out) = h.a_sends(req);
    let (_, again) = media(out.response(200).1);
    assert_eq!(again, ours);
    assert_eq!(h.call.media.srtp_sets[0], 1);
    assert_never_sent(&[&out], &[KEY_A]);
}

#[test]
fn voxgate_holds_an_srtp_leg_with_its_keys_in_force() {
    // Answered by voxgate in RTP/SAVP, then held by the control plane: the
    // re-INVITE offers our key in force, and the caller keeping its key
    // changes nothing in the relay.
    let (mut h, _) = call(
        &config("required", "off"),
        Some(&with_key(SDP_A, "RTP/SAVP", 1, KEY_A)),
    );
    let out = h.feed(Input::Command(Command::Answer {
        leg: LegId(1),
        early: false,
    }));
    let (_, ours) = media(out.response(200).1);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let out = h.feed(Input::Command(Command::Hold { leg: LegId(1) }));
    let reinvite = out.sent(Method::Invite);
    let (proto, offered) = media(&reinvite.msg);
    assert_eq!(proto, "RTP/SAVP");
    assert_eq!(offered, ours, "our last SDP again: the same key");
    let answer = with_key(SDP_A_HOLD, "RTP/SAVP", 1, KEY_A).replace("a=sendonly", "a=recvonly");
    h.a_answers(&reinvite, 200, Some(&answer));
    assert_eq!(h.call.media.srtp_sets[0], 1, "same keys: contexts kept");
    assert!(h.call.leg(LegId(1)).unwrap().held_by_us);
}

#[test]
fn late_offers_are_terminated_per_leg_too() {
    // INVITE without SDP: the callee offers in its 2xx, the caller answers
    // in its ACK; each offer and answer is taken and written per leg.
    let (mut h, _) = call(&config("required", "optional"), None);
    let (b, _) = h.connected(&[B1]);
    let b_offer = with_key(SDP_B, "RTP/SAVP", 7, KEY_B);
    let out1 = h.feed(b.response(200, "", Some(&b_offer)));
    let (proto, ours_to_a) = media(out1.response(200).1);
    assert_eq!(proto, "RTP/SAVP");
    assert_eq!(ours_to_a.len(), 3, "our offer to the caller, every suite");
    let a_answer = with_key(SDP_A, "RTP/SAVP", 1, KEY_A);
    let ack = h.a_ack(1, Some(&a_answer));
    let out2 = h.feed(ack);
    let (_, b_ack) = out2
        .transmits()
        .into_iter()
        .find(|(_, m)| m.method() == Some(&Method::Ack))
        .unwrap();
    let (proto, ours_to_b) = media(&b_ack);
    assert_eq!(
        (proto.as_str(), ours_to_b.len(), ours_to_b[0].tag),
        ("RTP/SAVP", 1, 7)
    );
    let (ka, kb) = (keys(&h, 0).unwrap(), keys(&h, 1).unwrap());
    assert_eq!(ka.remote, master_key("AES_CM_128_HMAC_SHA1_80", KEY_A));
    assert_eq!(ka.local, ours_to_a[0].keys[0].key);
    assert_eq!(kb.remote, master_key("AES_CM_128_HMAC_SHA1_80", KEY_B));
    assert_eq!(kb.local, ours_to_b[0].keys[0].key);
    assert_ne!(ka.local, kb.local, "a key per leg");
    assert_never_sent(&[&out1, &out2], &[KEY_A, KEY_B]);
}
