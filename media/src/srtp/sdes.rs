//! SDES offer/answer (RFC 4568 §7): which `a=crypto` lines we offer, which
//! offered line we answer, and the keys both directions then use. Pure
//! functions over [`CryptoAttribute`]s; rewriting the SDP is the caller's.
//!
//! What we accept in a line (anything else makes the line unacceptable, and
//! the answerer moves on to the next offered line):
//! - a suite of our policy;
//! - exactly one key-param, with or without an MKI of at most
//!   [`MAX_MKI_LEN`] octets (RFC 4568 §6.1 allows several keys with MKIs
//!   for rekeying within a session; we rekey by re-INVITE instead). Our own
//!   lines carry no MKI: it would cost octets in every packet for nothing;
//! - a lifetime of any value (honoured: the context refuses packets beyond it);
//! - session parameters `KDR=0` (the only rate we derive at) and `WSH`
//!   (a hint; our window is 128); `UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP`,
//!   `UNAUTHENTICATED_SRTP`, FEC and any other parameter are refused:
//!   RFC 4568 §6.3 has an attribute with a parameter the receiver does not
//!   support be refused; we read a leading `-` as RFC 4568's mark of an
//!   ignorable extension and ignore those.
//!
//! Each leg gets its own fresh key from the OS ([`MasterKey::generate`]):
//! an answer never reuses the offerer's key, and nothing is copied between legs.

use super::context::{MAX_MKI_LEN, SrtpContext};
use super::crypto_attribute::{CryptoAttribute, KeyParams, Mki, SessionParam};
use super::key::MasterKey;
use super::suite::CryptoSuite;
use crate::MediaError;

/// The keys of one leg once offer/answer is done. `Debug` prints suites
/// only; equality compares the keys (the relay keeps a context whose key
/// did not change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesKeys {
    /// The suite both sides use.
    pub suite: CryptoSuite,
    /// Our key: we protect what we send with it.
    pub local: MasterKey,
    /// The lifetime we announced for our key, if any.
    pub local_lifetime: Option<u64>,
    /// The MKI we announced for our key, if any.
    pub local_mki: Option<Mki>,
    /// The peer's key: we unprotect what we receive with it.
    pub remote: MasterKey,
    /// The lifetime the peer announced for its key, if any.
    pub remote_lifetime: Option<u64>,
    /// The MKI the peer announced for its key, if any.
    pub remote_mki: Option<Mki>,
}

impl SdesKeys {
    /// The context that protects what we send.
    pub fn outbound(&self) -> Result<SrtpContext, MediaError> {
        SrtpContext::new(&self.local, self.local_lifetime).with_mki(self.local_mki)
    }

    /// The context that unprotects what we receive.
    pub fn inbound(&self) -> Result<SrtpContext, MediaError> {
        SrtpContext::new(&self.remote, self.remote_lifetime).with_mki(self.remote_mki)
    }
}

/// Our offer: one line per suite, in the order given, tags 1, 2, ..., each
/// with its own fresh key (RFC 4568 §7.1.1: every line is a different key).
pub fn offer(suites: &[CryptoSuite]) -> Result<Vec<CryptoAttribute>, MediaError> {
    suites
        .iter()
        .zip(1u32..)
        .map(|(&suite, tag)| {
            Ok(CryptoAttribute {
                tag,
                suite,
                keys: vec![KeyParams {
                    key: MasterKey::generate(suite)?,
                    lifetime: None,
                    mki: None,
                }],
                session_params: Vec::new(),
            })
        })
        .collect()
}

/// What we take from a line we can honour.
struct Accepted {
    key: MasterKey,
    lifetime: Option<u64>,
    mki: Option<Mki>,
}

/// Whether one of the `offered` values is a line our `policy` accepts
/// ([`answer`] would succeed), without making a key.
pub(crate) fn acceptable_offer<'a>(
    offered: impl IntoIterator<Item = &'a str>,
    policy: &[CryptoSuite],
) -> bool {
    offered.into_iter().any(|value| {
        CryptoAttribute::parse(value).is_ok_and(|line| acceptable(&line, policy).is_some())
    })
}

/// The single key, its lifetime and MKI, if the line is one we can honour.
fn acceptable(line: &CryptoAttribute, policy: &[CryptoSuite]) -> Option<Accepted> {
    if !policy.contains(&line.suite) {
        return None;
    }
    let [key] = line.keys.as_slice() else {
        return None;
    };
    if key.mki.is_some_and(|m| usize::from(m.length) > MAX_MKI_LEN) {
        return None;
    }
    let params_ok = line.session_params.iter().all(|p| match p {
        SessionParam::Kdr(n) => *n == 0,
        SessionParam::Wsh(_) => true,
        SessionParam::Other(v) => v.starts_with('-'),
        _ => false,
    });
    params_ok.then(|| Accepted {
        key: key.key.clone(),
        lifetime: key.lifetime.map(|l| l.packets()),
        mki: key.mki,
    })
}

/// Answers an offer: the first offered line (in the offer's order, RFC 4568
/// §7.1.2) that our `policy` accepts, answered with the same tag and suite
/// and a fresh key of ours. `offered` are the values of the media line's
/// `a=crypto` attributes; lines that do not parse are skipped as RFC 4568
/// asks of unknown suites. [`MediaError::NoAcceptableCrypto`] means
/// answering 488 on a trunk that requires SRTP.
pub fn answer<'a>(
    offered: impl IntoIterator<Item = &'a str>,
    policy: &[CryptoSuite],
) -> Result<(CryptoAttribute, SdesKeys), MediaError> {
    answer_keeping(offered, policy, None)
}

/// [`answer`], but when the line chosen has the suite of `current` (the
/// keys in force on the media line, from an earlier exchange) our key stays
/// `current.local`: a re-offer then changes no context of ours, and the
/// stream we send keeps its rollover counter (RFC 4568 §7.1.4 lets the
/// answerer keep its key).
pub fn answer_keeping<'a>(
    offered: impl IntoIterator<Item = &'a str>,
    policy: &[CryptoSuite],
    current: Option<&SdesKeys>,
) -> Result<(CryptoAttribute, SdesKeys), MediaError> {
    for value in offered {
        let Ok(line) = CryptoAttribute::parse(value) else {
            continue;
        };
        let Some(remote) = acceptable(&line, policy) else {
            continue;
        };
        let local = match current.filter(|c| c.suite == line.suite) {
            Some(c) => c.local.clone(),
            None => MasterKey::generate(line.suite)?,
        };
        let ours = CryptoAttribute {
            tag: line.tag,
            suite: line.suite,
            keys: vec![KeyParams {
                key: local.clone(),
                lifetime: None,
                mki: None,
            }],
            session_params: Vec::new(),
        };
        let keys = SdesKeys {
            suite: line.suite,
            local,
            local_lifetime: None,
            local_mki: None,
            remote: remote.key,
            remote_lifetime: remote.lifetime,
            remote_mki: remote.mki,
        };
        return Ok((ours, keys));
    }
    Err(MediaError::NoAcceptableCrypto)
}

/// Takes the answer to our offer: the answered line must carry one of our
/// tags with the same suite (RFC 4568 §7.1.3), and be acceptable to us.
pub fn accept_answer(
    our_offer: &[CryptoAttribute],
    answered: &str,
) -> Result<SdesKeys, MediaError> {
    let line = CryptoAttribute::parse(answered)?;
    let ours = our_offer
        .iter()
        .find(|o| o.tag == line.tag && o.suite == line.suite)
        .ok_or(MediaError::CryptoAnswerMismatch { tag: line.tag })?;
    let [local] = ours.keys.as_slice() else {
        return Err(MediaError::CryptoAnswerMismatch { tag: line.tag });
    };
    let remote = acceptable(&line, &[line.suite]).ok_or(MediaError::NoAcceptableCrypto)?;
    Ok(SdesKeys {
        suite: line.suite,
        local: local.key.clone(),
        local_lifetime: local.lifetime.map(|l| l.packets()),
        local_mki: local.mki,
        remote: remote.key,
        remote_lifetime: remote.lifetime,
        remote_mki: remote.mki,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY30: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

    #[test]
    fn answers_the_first_offered_line_we_accept_with_a_fresh_key() {
        let offered = [
            "1 AES_256_CM_HMAC_SHA1_80 inline:whatever".to_owned(),
            format!("2 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:5"), // 5-octet MKI: refused
            format!("3 AES_CM_128_HMAC_SHA1_32 inline:{KEY30} UNENCRYPTED_SRTP"),
            format!("4 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}|2^20 KDR=0 WSH=64 -FOO"),
            format!("5 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"),
        ];
        let policy = [
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32,
        ];
        let (ours, keys) = answer(offered.iter().map(String::as_str), &policy).unwrap();
        assert_eq!(ours.tag, 4);
        assert_eq!(ours.suite, CryptoSuite::AesCm128HmacSha1_32);
        assert_eq!(keys.remote_lifetime, Some(1 << 20));
        assert_ne!(keys.local, keys.remote, "never the offerer's key back");
        assert_eq!(ours.keys[0].key, keys.local);
        assert!(!ours.to_sdp_value().contains(KEY30));
        // Our policy decides among suites, the offer's order among lines.
        let only_80 = [CryptoSuite::AesCm128HmacSha1_80];
        let (ours, _) = answer(offered.iter().map(String::as_str), &only_80).unwrap();
        assert_eq!(ours.tag, 5);
        assert_eq!(
            answer(
                offered.iter().map(String::as_str),
                &[CryptoSuite::AeadAes128Gcm]
            )
            .unwrap_err(),
            MediaError::NoAcceptableCrypto
        );
        assert_eq!(
            answer([], &policy).unwrap_err(),
            MediaError::NoAcceptableCrypto
        );
    }

    #[test]
    fn offer_and_answer_agree_and_work_both_ways() {
        let offer_lines = offer(&CryptoSuite::ALL).unwrap();
        assert_eq!(
            offer_lines.iter().map(|l| l.tag).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let printed: Vec<String> = offer_lines.iter().map(|l| l.to_sdp_value()).collect();
        let (their_line, their_keys) = answer(
            printed.iter().map(String::as_str),
            &[CryptoSuite::AesCm128HmacSha1_80],
        )
        .unwrap();
        assert_eq!(their_line.tag, 2);
        let our_keys = accept_answer(&offer_lines, &their_line.to_sdp_value()).unwrap();
        assert_eq!(our_keys.local, their_keys.remote);
        assert_eq!(our_keys.remote, their_keys.local);

        let mut pkt = [0u8; 200];
        pkt[0] = 0x80;
        pkt[8..12].copy_from_slice(&7u32.to_be_bytes());
        let n = our_keys
            .outbound()
            .unwrap()
            .protect_rtp(&mut pkt, 172)
            .unwrap();
        assert_eq!(
            their_keys
                .inbound()
                .unwrap()
                .unprotect_rtp(&mut pkt, n)
                .unwrap(),
            172
        );
        let n = their_keys
            .outbound()
            .unwrap()
            .protect_rtp(&mut pkt, 172)
            .unwrap();
        assert_eq!(
            our_keys
                .inbound()
                .unwrap()
                .unprotect_rtp(&mut pkt, n)
                .unwrap(),
            172
        );
    }

    #[test]
    fn an_offered_mki_is_honoured_on_every_packet() {
        for suite in CryptoSuite::ALL {
            let key = MasterKey::generate(suite).unwrap();
            let mut line = offer(&[suite]).unwrap().remove(0);
            line.keys[0].key = key.clone();
            line.keys[0].mki = Some(Mki {
                value: 0x0102,
                length: 3,
            });
            let (_, keys) = answer([line.to_sdp_value().as_str()], &[suite]).unwrap();
            assert_eq!(keys.remote_mki, line.keys[0].mki);
            // The peer's sender, with the MKI, as the peer would run it.
            let mut tx = SrtpContext::new(&key, None)
                .with_mki(line.keys[0].mki)
                .unwrap();
            let mut rx = keys.inbound().unwrap();
            let mut pkt = [0u8; 220];
            pkt[0] = 0x80;
            for seq in 0..3u16 {
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                let n = tx.protect_rtp(&mut pkt, 172).unwrap();
                assert_eq!(n, 172 + 3 + suite.rtp_tag_len());
                let mki_at = if suite == CryptoSuite::AeadAes128Gcm {
                    n - 3
                } else {
                    172
                };
                assert_eq!(pkt[mki_at..mki_at + 3], [0, 1, 2]);
                assert_eq!(rx.unprotect_rtp(&mut pkt, n).unwrap(), 172);
                pkt[..8].copy_from_slice(&[0x81, 200, 0, 6, 0, 0, 0, 9]);
                let n = tx.protect_rtcp(&mut pkt, 28).unwrap();
                assert_eq!(n, 28 + 3 + suite.rtcp_overhead());
                assert_eq!(rx.unprotect_rtcp(&mut pkt, n).unwrap(), 28);
                pkt[..8].copy_from_slice(&[0x80, 8, 0, 0, 0, 0, 0, 0]);
            }
            // Another MKI is refused before any crypto.
            let mut other = SrtpContext::new(&key, None)
                .with_mki(Some(Mki {
                    value: 7,
                    length: 3,
                }))
                .unwrap();
            pkt[2..4].copy_from_slice(&9u16.to_be_bytes());
            let n = other.protect_rtp(&mut pkt, 172).unwrap();
            assert_eq!(
                rx.unprotect_rtp(&mut pkt, n).unwrap_err(),
                MediaError::SrtpMkiUnknown {
                    ssrc: crate::rtp::Ssrc(0)
                }
            );
        }
        assert_eq!(
            SrtpContext::new(
                &MasterKey::generate(CryptoSuite::AeadAes128Gcm).unwrap(),
                None
            )
            .with_mki(Some(Mki {
                value: 1,
                length: 5
            }))
            .unwrap_err(),
            MediaError::SrtpMkiUnsupported { length: 5 }
        );
    }

    #[test]
    fn an_answer_must_match_an_offered_tag_and_suite() {
        let offer_lines = offer(&[CryptoSuite::AesCm128HmacSha1_80]).unwrap();
        let wrong_tag = format!("9 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}");
        assert_eq!(
            accept_answer(&offer_lines, &wrong_tag).unwrap_err(),
            MediaError::CryptoAnswerMismatch { tag: 9 }
        );
        let wrong_suite = format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}");
        assert_eq!(
            accept_answer(&offer_lines, &wrong_suite).unwrap_err(),
            MediaError::CryptoAnswerMismatch { tag: 1 }
        );
        let unencrypted = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} UNENCRYPTED_SRTCP");
        assert_eq!(
            accept_answer(&offer_lines, &unencrypted).unwrap_err(),
            MediaError::NoAcceptableCrypto
        );
    }
}

#[cfg(test)]
mod secrecy_tests {
    use super::*;
    use base64::Engine;

    /// Nothing a log line could print with `{:?}` holds key material: the
    /// keys of a negotiated leg, its contexts, the attributes.
    #[test]
    fn debug_never_prints_keys() {
        let offer_lines = offer(&CryptoSuite::ALL).unwrap();
        let printed: Vec<String> = offer_lines.iter().map(|l| l.to_sdp_value()).collect();
        let (line, keys) = answer(printed.iter().map(String::as_str), &CryptoSuite::ALL).unwrap();
        let debug = format!(
            "{offer_lines:?} {line:?} {keys:?} {:?} {:?} {keys:#?}",
            keys.outbound().unwrap(),
            keys.inbound().unwrap()
        );
        for key in [&keys.local, &keys.remote] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(key.bytes());
            assert!(!debug.contains(&b64[..8]), "base64 key in {debug}");
            let raw = format!("{:?}", &key.bytes()[..4]);
            assert!(
                !debug.contains(&raw[1..raw.len() - 1]),
                "raw key in {debug}"
            );
        }
        for value in &printed {
            let inline = value.split("inline:").nth(1).unwrap();
            assert!(!debug.contains(&inline[..8]), "offered key in {debug}");
        }
    }
}
