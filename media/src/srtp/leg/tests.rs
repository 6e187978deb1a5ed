use super::*;

const KEY30: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
const KEY30_B: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn sdp(proto: &str, extra: &str) -> SessionDescription {
    SessionDescription::parse(
        format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
             m=audio 4000 {proto} 8\r\na=rtpmap:8 PCMA/8000\r\n{extra}"
        )
        .as_bytes(),
    )
    .unwrap()
}

fn crypto(tag: u32, suite: &str, key: &str) -> String {
    format!("a=crypto:{tag} {suite} inline:{key}\r\n")
}

fn leg(mode: SrtpMode) -> SdesLeg {
    SdesLeg::new(SrtpPolicy {
        mode,
        suites: SrtpPolicy::DEFAULT_SUITES.to_vec(),
    })
}

fn text(sdp: &SessionDescription) -> String {
    String::from_utf8(sdp.to_bytes()).unwrap()
}

fn refusal(e: MediaError) -> SrtpRefusal {
    match e {
        MediaError::SrtpRefused { line: 0, refusal } => refusal,
        other => panic!("{other:?}"),
    }
}

/// Our answer to `offer` on a leg of `mode`: its text and keys. The dry
/// run (`check_offer`) agrees with the real one.
fn answer(mode: SrtpMode, offer: &SessionDescription) -> Result<(String, SdesLeg), SrtpRefusal> {
    let mut l = leg(mode);
    let checked = l.check_offer(offer).map_err(refusal);
    let taken = l.take_offer(offer).map_err(refusal);
    assert_eq!(checked, taken, "check_offer and take_offer disagree");
    taken?;
    // The answer as the other leg (plain RTP) gave it.
    let mut ans = sdp("RTP/AVP", "");
    l.write_answer(&mut ans);
    Ok((text(&ans), l))
}

#[test]
fn offers_are_answered_as_the_table_says() {
    use SrtpMode::*;
    let savp = sdp("RTP/SAVP", &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30));
    let avp_crypto = sdp("RTP/AVP", &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30));
    let avp = sdp("RTP/AVP", "");
    let savp_bare = sdp("RTP/SAVP", "");
    let savp_unknown = sdp("RTP/SAVP", &crypto(1, "AES_256_CM_HMAC_SHA1_80", KEY30));
    let avp_unknown = sdp("RTP/AVP", &crypto(1, "AES_256_CM_HMAC_SHA1_80", KEY30));

    assert_eq!(answer(Off, &savp).unwrap_err(), SrtpRefusal::SrtpOff);
    for mode in [Optional, Required] {
        let (text, l) = answer(mode, &savp).unwrap();
        assert!(text.contains("m=audio 4000 RTP/SAVP 8\r\n"), "{text}");
        assert!(text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert!(!text.contains(KEY30), "never their key back");
        assert!(l.is_secure());
        assert_eq!(
            answer(mode, &savp_bare).unwrap_err(),
            SrtpRefusal::NoAcceptableCrypto
        );
        assert_eq!(
            answer(mode, &savp_unknown).unwrap_err(),
            SrtpRefusal::NoAcceptableCrypto
        );
        // Best effort: RTP/AVP with a=crypto is answered in RTP/AVP with ours.
        let (text, l) = answer(mode, &avp_crypto).unwrap();
        assert!(text.contains("m=audio 4000 RTP/AVP 8\r\n"), "{text}");
        assert!(text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert!(l.is_secure());
    }
    // Off: best effort is declined (plain, no a=crypto in the answer).
    let (text, l) = answer(Off, &avp_crypto).unwrap();
    assert!(
        !text.contains("a=crypto") && text.contains("RTP/AVP 8"),
        "{text}"
    );
    assert!(!l.is_secure());
    for mode in [Off, Optional] {
        let (text, l) = answer(mode, &avp).unwrap();
        assert!(!text.contains("a=crypto"), "{text}");
        assert!(!l.is_secure());
    }
    assert_eq!(
        answer(Required, &avp).unwrap_err(),
        SrtpRefusal::SrtpRequired
    );
    // An unacceptable best-effort offer: plain when optional, refused when required.
    assert!(!answer(Optional, &avp_unknown).unwrap().1.is_secure());
    assert_eq!(
        answer(Required, &avp_unknown).unwrap_err(),
        SrtpRefusal::NoAcceptableCrypto
    );
}

#[test]
fn the_answer_takes_the_offers_profile_whatever_the_other_leg_said() {
    // The other leg answered in RTP/SAVP with its own key (an SRTP callee):
    // that key is removed and the caller, who offered plain, gets plain.
    let mut l = leg(SrtpMode::Optional);
    l.take_offer(&sdp("RTP/AVPF", "")).unwrap();
    let mut ans = sdp(
        "RTP/SAVPF",
        &(crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30_B)
            + "k=clear:secret\r\na=key-mgmt:mikey AQ\r\n"),
    );
    assert!(!l.write_answer(&mut ans), "plain before and after");
    let t = text(&ans);
    assert!(t.contains("m=audio 4000 RTP/AVPF 8\r\n"), "{t}");
    for leak in [KEY30_B, "crypto", "k=", "key-mgmt"] {
        assert!(!t.contains(leak), "{leak} in {t}");
    }
}

#[test]
fn dtls_lines_and_rejected_lines_are_left_alone() {
    let dtls = sdp(
        "UDP/TLS/RTP/SAVPF",
        "a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n",
    );
    let fp_on_avp = sdp("RTP/AVP", "a=fingerprint:sha-256 AB:CD\r\n");
    for offer in [&dtls, &fp_on_avp] {
        for mode in [SrtpMode::Off, SrtpMode::Required] {
            let mut l = leg(mode);
            l.take_offer(offer).unwrap();
            let mut ans = offer.clone();
            l.write_answer(&mut ans);
            assert_eq!(ans.media()[0].proto(), offer.media()[0].proto());
            assert!(!l.is_secure());
            let mut ours = offer.clone();
            l.write_offer(&mut ours).unwrap();
            assert_eq!(text(&ours), text(offer), "our offer: DTLS untouched");
        }
    }
    // A rejected line (port 0) needs no crypto.
    let mut l = leg(SrtpMode::Required);
    let rejected = SessionDescription::parse(
        b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 0 RTP/AVP 8\r\n",
    )
    .unwrap();
    l.take_offer(&rejected).unwrap();
}

#[test]
fn our_offers_follow_the_policy_and_answers_give_the_keys() {
    let suites = SrtpPolicy::DEFAULT_SUITES;
    // Required: RTP/SAVP, one line per suite in the configured order.
    let mut l = leg(SrtpMode::Required);
    let mut ours = sdp("RTP/AVP", &crypto(7, "AES_CM_128_HMAC_SHA1_80", KEY30));
    l.write_offer(&mut ours).unwrap();
    let t = text(&ours);
    assert!(t.contains("m=audio 4000 RTP/SAVP 8\r\n"), "{t}");
    assert!(!t.contains(KEY30), "the other leg's key is gone");
    let lines: Vec<CryptoAttribute> = crypto_values(&ours.media()[0])
        .map(|v| CryptoAttribute::parse(v).unwrap())
        .collect();
    assert_eq!(lines.iter().map(|l| l.suite).collect::<Vec<_>>(), suites);
    assert_eq!(lines.iter().map(|l| l.tag).collect::<Vec<_>>(), [1, 2, 3]);
    // The peer answers tag 2 (GCM) with its key.
    let gcm_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
    let answer = sdp("RTP/SAVP", &crypto(2, "AEAD_AES_128_GCM", gcm_key));
    assert!(l.take_answer(&answer).unwrap());
    let keys = l.keys()[0].clone().unwrap();
    assert_eq!(keys.suite, CryptoSuite::AeadAes128Gcm);
    assert_eq!(keys.local, lines[1].keys[0].key);
    // Plain answer to a required offer, or a tag we did not offer: refused,
    // and the keys stay as they were.
    assert_eq!(
        refusal(l.check_answer(&sdp("RTP/AVP", "")).unwrap_err()),
        SrtpRefusal::SrtpRequired
    );
    assert_eq!(
        refusal(l.take_answer(&sdp("RTP/AVP", "")).unwrap_err()),
        SrtpRefusal::SrtpRequired
    );
    let wrong = sdp("RTP/SAVP", &crypto(9, "AEAD_AES_128_GCM", gcm_key));
    assert_eq!(
        refusal(l.take_answer(&wrong).unwrap_err()),
        SrtpRefusal::BadAnswer
    );
    assert_eq!(l.keys()[0].as_ref(), Some(&keys));
    // Optional: RTP/AVP with our lines; a plain answer is plain.
    let mut l = leg(SrtpMode::Optional);
    let mut ours = sdp("RTP/SAVPF", "");
    l.write_offer(&mut ours).unwrap();
    let t = text(&ours);
    assert!(t.contains("m=audio 4000 RTP/AVPF 8\r\n"), "{t}");
    assert_eq!(t.matches("a=crypto:").count(), 3);
    assert!(!l.take_answer(&sdp("RTP/AVPF", "")).unwrap());
    assert!(!l.is_secure());
    // Off: plain, whatever came from the other leg.
    let mut l = leg(SrtpMode::Off);
    let mut ours = sdp("RTP/SAVP", &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30));
    l.write_offer(&mut ours).unwrap();
    assert_eq!(ours.media()[0].proto(), "RTP/AVP");
    assert!(!text(&ours).contains("crypto"));
}

#[test]
fn keys_are_fresh_per_leg_and_per_line() {
    let mut a = leg(SrtpMode::Required);
    let mut b = leg(SrtpMode::Required);
    let (mut x, mut y) = (sdp("RTP/AVP", ""), sdp("RTP/AVP", ""));
    a.write_offer(&mut x).unwrap();
    b.write_offer(&mut y).unwrap();
    let keys = |s: &SessionDescription| -> Vec<String> {
        crypto_values(&s.media()[0])
            .map(|v| v.split("inline:").nth(1).unwrap().to_owned())
            .collect()
    };
    let (kx, ky) = (keys(&x), keys(&y));
    for k in &kx {
        assert!(!ky.contains(k));
        assert_eq!(kx.iter().filter(|o| *o == k).count(), 1);
    }
}

#[test]
fn a_reoffer_that_keeps_its_key_keeps_ours() {
    // The peer offers; we answer; it re-offers the same line (a hold): our
    // key stays, nothing changes. A new key of theirs changes only theirs.
    let mut l = leg(SrtpMode::Optional);
    let offer = sdp("RTP/SAVP", &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30));
    l.take_offer(&offer).unwrap();
    let mut first = sdp("RTP/AVP", "");
    assert!(l.write_answer(&mut first));
    let keys = l.keys()[0].clone().unwrap();
    let hold = sdp(
        "RTP/SAVP",
        &(crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30) + "a=sendonly\r\n"),
    );
    l.take_offer(&hold).unwrap();
    let mut second = sdp("RTP/AVP", "");
    assert!(!l.write_answer(&mut second), "same keys: contexts kept");
    assert_eq!(text(&first), text(&second));
    let rekey = sdp("RTP/SAVP", &crypto(4, "AES_CM_128_HMAC_SHA1_80", KEY30_B));
    l.take_offer(&rekey).unwrap();
    let mut third = sdp("RTP/AVP", "");
    assert!(l.write_answer(&mut third));
    let new = l.keys()[0].clone().unwrap();
    assert_eq!(new.local, keys.local, "our key stays");
    assert_ne!(new.remote, keys.remote);
    assert!(text(&third).contains("a=crypto:4 "));
    // Our own re-offer carries our key in force for that suite, and an
    // answer with their key in force changes nothing.
    let mut reoffer = sdp("RTP/AVP", "");
    l.write_offer(&mut reoffer).unwrap();
    let ours: Vec<CryptoAttribute> = crypto_values(&reoffer.media()[0])
        .map(|v| CryptoAttribute::parse(v).unwrap())
        .collect();
    assert_eq!(ours[0].suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(ours[0].keys[0].key, new.local);
    let same = sdp("RTP/AVP", &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30_B));
    assert!(!l.take_answer(&same).unwrap());
}

#[test]
fn a_resent_sdp_of_ours_is_the_offer_its_answer_matches() {
    // A session refresh re-sends our last answer (one line, the peer's tag).
    let mut l = leg(SrtpMode::Required);
    l.take_offer(&sdp(
        "RTP/SAVP",
        &crypto(5, "AES_CM_128_HMAC_SHA1_32", KEY30),
    ))
    .unwrap();
    let mut ours = sdp("RTP/AVP", "");
    l.write_answer(&mut ours);
    l.note_offer(&ours);
    let again = sdp("RTP/SAVP", &crypto(5, "AES_CM_128_HMAC_SHA1_32", KEY30));
    assert!(!l.take_answer(&again).unwrap());
    l.abandon_offer();
    assert!(
        !l.take_answer(&sdp("RTP/AVP", "")).unwrap(),
        "no offer pending: nothing to match"
    );
}

#[test]
fn strip_keys_removes_every_key_at_both_levels() {
    let mut s = SessionDescription::parse(
        format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nk=prompt\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
             a=key-mgmt:mikey AQAFgM0\r\nm=audio 4000 RTP/SAVP 8\r\nk=base64:c2VjcmV0\r\n{}\
             a=key-mgmt:mikey AQAF\r\na=rtpmap:8 PCMA/8000\r\n",
            crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30)
        )
        .as_bytes(),
    )
    .unwrap();
    strip_keys(&mut s);
    let t = text(&s);
    for leak in ["k=", "key-mgmt", "crypto", KEY30, "c2VjcmV0"] {
        assert!(!t.contains(leak), "{leak} in {t}");
    }
    assert!(t.contains("a=rtpmap:8 PCMA/8000"));
}

#[test]
fn debug_shows_no_key() {
    let mut l = leg(SrtpMode::Required);
    l.take_offer(&sdp(
        "RTP/SAVP",
        &crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY30),
    ))
    .unwrap();
    let mut ans = sdp("RTP/AVP", "");
    l.write_answer(&mut ans);
    let mut offer = sdp("RTP/AVP", "");
    l.write_offer(&mut offer).unwrap();
    let debug = format!("{l:?} {l:#?}");
    assert!(!debug.contains(&KEY30[..8]), "{debug}");
    for s in [&ans, &offer] {
        for v in crypto_values(&s.media()[0]) {
            let inline = v.split("inline:").nth(1).unwrap();
            assert!(!debug.contains(&inline[..8]), "{debug}");
        }
    }
}
