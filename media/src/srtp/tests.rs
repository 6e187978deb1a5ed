//! Behaviour of the contexts across suites: round trips, rollover, replay,
//! forgery, SRTCP, limits; and seeded property tests mirroring the fuzz target.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::MediaError;
use crate::rtp::Ssrc;

fn pair(suite: CryptoSuite) -> (SrtpContext, SrtpContext) {
    let key = MasterKey::generate(suite).unwrap();
    (SrtpContext::new(&key, None), SrtpContext::new(&key, None))
}

/// An RTP packet with `csrcs` CSRCs, an extension of `ext_words` words when
/// given, `payload` random octets and `padding` octets of RTP padding.
fn rtp_packet(
    rng: &mut StdRng,
    seq: u16,
    ssrc: u32,
    csrcs: usize,
    ext_words: Option<usize>,
    payload: usize,
    padding: usize,
) -> Vec<u8> {
    let mut p = vec![
        0x80 | csrcs as u8
            | if ext_words.is_some() { 0x10 } else { 0 }
            | if padding > 0 { 0x20 } else { 0 },
        8,
    ];
    p.extend(seq.to_be_bytes());
    p.extend(rng.random::<u32>().to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    for _ in 0..csrcs {
        p.extend(rng.random::<u32>().to_be_bytes());
    }
    if let Some(words) = ext_words {
        p.extend([0xbe, 0xde]);
        p.extend((words as u16).to_be_bytes());
        p.extend((0..4 * words).map(|_| rng.random::<u8>()));
    }
    p.extend((0..payload).map(|_| rng.random::<u8>()));
    if padding > 0 {
        p.extend(std::iter::repeat_n(0, padding - 1));
        p.push(padding as u8);
    }
    p
}

fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Result<Vec<u8>, MediaError> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + MAX_OVERHEAD, 0);
    let n = tx.protect_rtp(&mut buf, plain.len())?;
    buf.truncate(n);
    Ok(buf)
}

fn unprotect(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, MediaError> {
    let mut buf = wire.to_vec();
    let n = rx.unprotect_rtp(&mut buf, wire.len())?;
    buf.truncate(n);
    Ok(buf)
}

fn simple(seq: u16, ssrc: u32) -> Vec<u8> {
    rtp_packet(
        &mut StdRng::seed_from_u64(u64::from(seq)),
        seq,
        ssrc,
        0,
        None,
        160,
        0,
    )
}

#[test]
fn round_trip_random_packets_every_suite() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let mut seq: u16 = rng.random();
        for _ in 0..2000 {
            let csrcs = rng.random_range(0..4);
            let ext = rng.random_bool(0.3).then(|| rng.random_range(0..4));
            let padding = if rng.random_bool(0.2) {
                rng.random_range(1..8)
            } else {
                0
            };
            let payload = rng.random_range(0..300);
            let ssrc = [0x1111_1111, 0x2222_2222][rng.random_range(0..2)];
            let plain = rtp_packet(&mut rng, seq, ssrc, csrcs, ext, payload, padding);
            let wire = protect(&mut tx, &plain).unwrap();
            assert_eq!(wire.len(), plain.len() + suite.rtp_tag_len());
            let header = plain.len() - payload - padding;
            assert_eq!(wire[..header], plain[..header], "header stays clear");
            if payload >= 16 {
                assert_ne!(
                    wire[header..header + payload],
                    plain[header..header + payload]
                );
            }
            assert_eq!(unprotect(&mut rx, &wire).unwrap(), plain, "{suite:?}");
            seq = seq.wrapping_add(1);
        }
        assert_eq!(rx.rtp_packets(), 2000);
    }
}

#[test]
fn rollover_counter_follows_the_wrap_with_reordering() {
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let ssrc = 0xabcd;
        // Sender order around the wrap; the network reorders across it.
        let sent: Vec<(u16, Vec<u8>)> = (65530u16..=65535)
            .chain(0..6)
            .map(|s| (s, protect(&mut tx, &simple(s, ssrc)).unwrap()))
            .collect();
        assert_eq!(tx.roc(Ssrc(ssrc)), Some(1));
        let order = [0usize, 1, 2, 6, 3, 7, 4, 5, 9, 8, 11, 10];
        for &i in &order {
            let (s, wire) = &sent[i];
            assert_eq!(
                unprotect(&mut rx, wire).unwrap(),
                simple(*s, ssrc),
                "{suite:?} seq {s}"
            );
        }
        assert_eq!(rx.roc(Ssrc(ssrc)), Some(1));
        // The receiver's ROC moved once, and back-in-time packets did not move it back.
        let late = protect(&mut tx, &simple(6, ssrc)).unwrap();
        assert_eq!(unprotect(&mut rx, &late).unwrap(), simple(6, ssrc));
        assert_eq!(rx.roc(Ssrc(ssrc)), Some(1));
    }
}

#[test]
fn rollover_over_many_wraps() {
    let (mut tx, mut rx) = pair(CryptoSuite::AesCm128HmacSha1_32);
    // Steps of 1000 sequence numbers (loss on the sender's side of the relay):
    // less than half the space, so each step is read forward.
    let mut index: u64 = 65_000;
    for _ in 0..250 {
        let seq = (index & 0xffff) as u16;
        let wire = protect(&mut tx, &simple(seq, 5)).unwrap();
        assert_eq!(unprotect(&mut rx, &wire).unwrap(), simple(seq, 5));
        index += 1000;
    }
    let roc = ((index - 1000) >> 16) as u32;
    assert_eq!(roc, 4);
    assert_eq!(tx.roc(Ssrc(5)), Some(roc));
    assert_eq!(rx.roc(Ssrc(5)), Some(roc));
}

#[test]
fn replay_window() {
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let wires: Vec<Vec<u8>> = (0..300u16)
            .map(|s| protect(&mut tx, &simple(s, 9)).unwrap())
            .collect();
        for s in [0usize, 1, 2, 5, 4] {
            unprotect(&mut rx, &wires[s]).unwrap();
        }
        // Duplicate refused.
        assert_eq!(
            unprotect(&mut rx, &wires[4]).unwrap_err(),
            MediaError::SrtpReplayed {
                ssrc: Ssrc(9),
                index: 4
            }
        );
        unprotect(&mut rx, &wires[200]).unwrap();
        // Reordered within the window accepted (200 - 100 < 128), once.
        unprotect(&mut rx, &wires[100]).unwrap();
        assert!(matches!(
            unprotect(&mut rx, &wires[100]),
            Err(MediaError::SrtpReplayed { .. })
        ));
        // Behind the window refused.
        assert_eq!(
            unprotect(&mut rx, &wires[3]).unwrap_err(),
            MediaError::SrtpTooOld {
                ssrc: Ssrc(9),
                index: 3
            }
        );
        // The sender refuses to protect an index twice.
        assert_eq!(
            protect(&mut tx, &simple(299, 9)).unwrap_err(),
            MediaError::SrtpReplayed {
                ssrc: Ssrc(9),
                index: 299
            }
        );
    }
}

#[test]
fn forged_or_foreign_packets_are_refused_and_change_nothing() {
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let (_, mut other) = pair(suite);
        let wire = protect(&mut tx, &simple(10, 3)).unwrap();
        // Wrong key.
        assert_eq!(
            unprotect(&mut other, &wire).unwrap_err(),
            MediaError::SrtpAuthentication { ssrc: Ssrc(3) }
        );
        // A flipped bit in header, payload or tag.
        for byte in [1, 3, 5, 13, wire.len() / 2, wire.len() - 1] {
            let mut bad = wire.clone();
            bad[byte] ^= 0x04;
            assert!(unprotect(&mut rx, &bad).is_err(), "{suite:?} byte {byte}");
        }
        // A forged packet with a far sequence number must not move the ROC.
        let mut far = wire.clone();
        far[2..4].copy_from_slice(&40_000u16.to_be_bytes());
        assert!(unprotect(&mut rx, &far).is_err());
        assert_eq!(rx.roc(Ssrc(3)), None, "no state from forgeries");
        assert_eq!(unprotect(&mut rx, &wire).unwrap(), simple(10, 3));
        // Truncated below header + tag.
        assert!(matches!(
            unprotect(&mut rx, &wire[..12 + suite.rtp_tag_len() - 1]),
            Err(MediaError::SrtpNotRtp { .. })
        ));
    }
}

#[test]
fn protect_needs_room_for_the_tag() {
    let (mut tx, _) = pair(CryptoSuite::AesCm128HmacSha1_80);
    let mut buf = simple(1, 1);
    let len = buf.len();
    assert_eq!(
        tx.protect_rtp(&mut buf, len).unwrap_err(),
        MediaError::SrtpBufferTooSmall {
            needed: len + 10,
            capacity: len
        }
    );
    assert!(matches!(
        tx.protect_rtp(&mut buf, len + 1),
        Err(MediaError::SrtpBufferTooSmall { .. })
    ));
    let mut rtcp = [0x80u8, 200, 0, 1, 0, 0, 0, 1];
    assert!(matches!(
        tx.protect_rtcp(&mut rtcp, 8),
        Err(MediaError::SrtpBufferTooSmall { .. })
    ));
}

#[test]
fn ssrc_table_is_bounded() {
    let (mut tx, mut rx) = pair(CryptoSuite::AeadAes128Gcm);
    for ssrc in 0..MAX_SSRCS as u32 {
        let wire = protect(&mut tx, &simple(1, ssrc)).unwrap();
        unprotect(&mut rx, &wire).unwrap();
    }
    let extra = MAX_SSRCS as u32;
    assert_eq!(
        protect(&mut tx, &simple(1, extra)).unwrap_err(),
        MediaError::SrtpTooManySsrcs {
            ssrc: Ssrc(extra),
            limit: MAX_SSRCS
        }
    );
    // Known SSRCs go on.
    let wire = protect(&mut tx, &simple(2, 0)).unwrap();
    unprotect(&mut rx, &wire).unwrap();
}

#[test]
fn key_lifetime_is_enforced() {
    let key = MasterKey::generate(CryptoSuite::AesCm128HmacSha1_80).unwrap();
    let mut tx = SrtpContext::new(&key, Some(3));
    let mut rx = SrtpContext::new(&key, Some(3));
    for s in 0..3 {
        let wire = protect(&mut tx, &simple(s, 1)).unwrap();
        unprotect(&mut rx, &wire).unwrap();
    }
    assert_eq!(
        protect(&mut tx, &simple(3, 1)).unwrap_err(),
        MediaError::SrtpKeyExhausted { packets: 3 }
    );
    let mut rtcp = rtcp_packet(1);
    let n = rtcp.len();
    rtcp.resize(n + MAX_OVERHEAD, 0);
    for _ in 0..3 {
        let mut b = rtcp.clone();
        tx.protect_rtcp(&mut b, n).unwrap();
    }
    assert_eq!(
        tx.protect_rtcp(&mut rtcp, n).unwrap_err(),
        MediaError::SrtpKeyExhausted { packets: 3 }
    );
    assert_eq!(MAX_SRTCP_PACKETS, 1 << 31);
    assert_eq!(MAX_SRTP_PACKETS, 1 << 48);
}

/// A receiver report with one report block, then an SDES chunk.
fn rtcp_packet(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend(ssrc.to_be_bytes());
    p.extend([0x55; 24]);
    p.extend([0x81, 202, 0, 2]);
    p.extend(ssrc.to_be_bytes());
    p.extend([1, 2, b'v', b'g']);
    p
}

#[test]
fn srtcp_round_trip_and_replay() {
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let plain = rtcp_packet(0x77);
        let mut wires = Vec::new();
        for i in 0..200u32 {
            let mut buf = plain.clone();
            buf.resize(plain.len() + MAX_OVERHEAD, 0);
            let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            assert_eq!(n, plain.len() + suite.rtcp_overhead());
            buf.truncate(n);
            assert_eq!(buf[..8], plain[..8], "first header stays clear");
            assert_ne!(buf[8..plain.len()], plain[8..]);
            let at = match suite {
                CryptoSuite::AeadAes128Gcm => n - 4,
                _ => plain.len(),
            };
            assert_eq!(
                buf[at..at + 4],
                (0x8000_0000 | i).to_be_bytes(),
                "E flag and index"
            );
            wires.push(buf);
        }
        let unprotect_rtcp = |rx: &mut SrtpContext, w: &[u8]| {
            let mut b = w.to_vec();
            rx.unprotect_rtcp(&mut b, w.len()).map(|n| b[..n].to_vec())
        };
        for i in [0usize, 2, 1] {
            assert_eq!(
                unprotect_rtcp(&mut rx, &wires[i]).unwrap(),
                plain,
                "{suite:?}"
            );
        }
        assert_eq!(
            unprotect_rtcp(&mut rx, &wires[2]).unwrap_err(),
            MediaError::SrtpReplayed {
                ssrc: Ssrc(0x77),
                index: 2
            }
        );
        for i in [199usize, 100] {
            assert_eq!(
                unprotect_rtcp(&mut rx, &wires[i]).unwrap(),
                plain,
                "{suite:?}"
            );
        }
        assert_eq!(
            unprotect_rtcp(&mut rx, &wires[50]).unwrap_err(),
            MediaError::SrtpTooOld {
                ssrc: Ssrc(0x77),
                index: 50
            }
        );
        let mut bad = wires[150].clone();
        bad[10] ^= 1;
        assert_eq!(
            unprotect_rtcp(&mut rx, &bad).unwrap_err(),
            MediaError::SrtpAuthentication { ssrc: Ssrc(0x77) }
        );
        let (_, mut other) = pair(suite);
        assert!(unprotect_rtcp(&mut other, &wires[150]).is_err());
        // E = 0 is refused (we never negotiate UNENCRYPTED_SRTCP).
        let mut clear = wires[151].clone();
        let at = match suite {
            CryptoSuite::AeadAes128Gcm => clear.len() - 4,
            _ => plain.len(),
        };
        clear[at] &= 0x7f;
        assert_eq!(
            unprotect_rtcp(&mut rx, &clear).unwrap_err(),
            MediaError::SrtcpUnencrypted { ssrc: Ssrc(0x77) }
        );
        assert_eq!(unprotect_rtcp(&mut rx, &wires[151]).unwrap(), plain);
    }
}

/// The properties the fuzz target checks, on seeded random input so CI
/// covers them: unprotecting arbitrary or mutated bytes never panics and
/// never returns a length beyond the input; protecting them never panics.
#[test]
fn property_arbitrary_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0xf022);
    for suite in CryptoSuite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let valid = protect(&mut tx, &simple(1, 1)).unwrap();
        for _ in 0..20_000 {
            let mut buf = if rng.random_bool(0.5) {
                let len = rng.random_range(0..64);
                (0..len).map(|_| rng.random::<u8>()).collect::<Vec<_>>()
            } else {
                let mut v = valid.clone();
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..v.len());
                    v[i] = rng.random();
                }
                v.truncate(rng.random_range(0..=v.len()));
                v
            };
            let len = buf.len();
            if let Ok(n) = rx.unprotect_rtp(&mut buf, len) {
                assert!(n <= len);
            }
            if let Ok(n) = rx.unprotect_rtcp(&mut buf, len) {
                assert!(n <= len);
            }
            // A length beyond the buffer is an error, not a panic.
            assert!(rx.unprotect_rtp(&mut buf, len + 1).is_err());
            assert!(rx.unprotect_rtcp(&mut buf, len + 1).is_err());
            // Protecting whatever the other leg sent never panics either.
            buf.resize(len + rng.random_range(0..=MAX_OVERHEAD), 0);
            if let Ok(n) = tx.protect_rtp(&mut buf, len) {
                assert_eq!(n, len + suite.rtp_tag_len());
            }
            if let Ok(n) = tx.protect_rtcp(&mut buf, len) {
                assert_eq!(n, len + suite.rtcp_overhead());
            }
        }
    }
}

/// `a=crypto` parse → print → parse is the identity, on seeded random
/// concatenations of grammar pieces (the fuzz target's property).
#[test]
fn property_crypto_attribute_round_trip() {
    let mut rng = StdRng::seed_from_u64(0xc0de);
    let pieces = [
        "1",
        "22",
        "999999999",
        " ",
        "  ",
        "AES_CM_128_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_32",
        "AEAD_AES_128_GCM",
        "inline:",
        "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==",
        "|",
        "2^20",
        "2^64",
        "1048576",
        "1:4",
        "255:1",
        ";",
        "KDR=0",
        "WSH=64",
        "UNENCRYPTED_SRTP",
        "FEC_ORDER=SRTP_FEC",
        "FEC_KEY=inline:x",
        "-ext",
        "=",
        ":",
        "\t",
        "é",
        "\u{0}",
    ];
    let pick = |rng: &mut StdRng, from: &[&'static str]| from[rng.random_range(0..from.len())];
    let mut parsed = 0;
    for _ in 0..20_000 {
        // A line built from the grammar, then mutated with random pieces.
        let mut parts: Vec<&str> = vec![
            pick(&mut rng, &["1", "22", "999999999"]),
            " ",
            pick(&mut rng, &pieces[5..8]),
            " inline:",
            pick(&mut rng, &pieces[9..11]),
        ];
        for _ in 0..rng.random_range(0..4) {
            let extra = pick(
                &mut rng,
                &[
                    "|2^20",
                    "|1048576",
                    "|1:4",
                    "|255:1",
                    " KDR=0",
                    " WSH=64",
                    " -ext",
                    " UNENCRYPTED_SRTP",
                    " FEC_ORDER=SRTP_FEC",
                ],
            );
            parts.push(extra);
        }
        for _ in 0..rng.random_range(0..3) {
            let at = rng.random_range(0..=parts.len());
            if rng.random_bool(0.5) && at < parts.len() {
                parts.remove(at);
            } else {
                parts.insert(at, pick(&mut rng, &pieces));
            }
        }
        let s: String = parts.concat();
        if let Ok(a) = CryptoAttribute::parse(&s) {
            parsed += 1;
            let printed = a.to_sdp_value();
            assert_eq!(
                CryptoAttribute::parse(&printed).as_ref(),
                Ok(&a),
                "{s:?} -> {printed:?}"
            );
        }
    }
    assert!(parsed > 100, "the generator reaches valid lines ({parsed})");
}
