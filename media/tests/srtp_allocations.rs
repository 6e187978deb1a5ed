//! SRTP's per-packet path allocates nothing: 10,000 protect + unprotect per
//! suite, RTP and RTCP, counted by allocation-counter's global allocator
//! (its own test binary, so nothing else disturbs the count). Contexts are
//! built and warmed up first: keys and contexts are per call, not per packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use voxgate_media::srtp::{CryptoSuite, MAX_OVERHEAD, MasterKey, Mki, SrtpContext};

const PACKETS: u32 = 10_000;

fn rtp(buf: &mut [u8], seq: u16) -> usize {
    buf[..12].copy_from_slice(&[0x80, 8, 0, 0, 0, 0, 0, 160, 0x5e, 0xed, 0, 1]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[12..172].fill(0xd5);
    172
}

fn rtcp(buf: &mut [u8]) -> usize {
    buf[..8].copy_from_slice(&[0x81, 201, 0, 7, 0x5e, 0xed, 0, 1]);
    buf[8..32].fill(0x55);
    32
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(info.count_total, 1);
}

#[test]
fn protect_and_unprotect_allocate_nothing_per_packet() {
    let mkis = [
        None,
        Some(Mki {
            value: 1,
            length: 2,
        }),
    ];
    for (suite, mki) in CryptoSuite::ALL
        .into_iter()
        .flat_map(|s| mkis.map(|m| (s, m)))
    {
        let key = MasterKey::generate(suite).unwrap();
        let mut tx = SrtpContext::new(&key, None).with_mki(mki).unwrap();
        let mut rx = SrtpContext::new(&key, None).with_mki(mki).unwrap();
        let mut buf = [0u8; 172 + MAX_OVERHEAD];
        let mut seq = 65_000u16; // crosses the wrap: the ROC path is counted too
        let mut run = |n: u32, tx: &mut SrtpContext, rx: &mut SrtpContext, buf: &mut [u8]| {
            for _ in 0..n {
                let len = rtp(buf, seq);
                seq = seq.wrapping_add(1);
                let len = tx.protect_rtp(buf, len).unwrap();
                assert_eq!(rx.unprotect_rtp(buf, len).unwrap(), 172);
                let len = rtcp(buf);
                let len = tx.protect_rtcp(buf, len).unwrap();
                assert_eq!(rx.unprotect_rtcp(buf, len).unwrap(), 32);
            }
        };
        run(100, &mut tx, &mut rx, &mut buf); // warm-up
        let info = allocation_counter::measure(|| run(PACKETS, &mut tx, &mut rx, &mut buf));
        assert_eq!(info.count_total, 0, "{suite:?}: {info:?}");
        assert_eq!(rx.rtp_packets(), u64::from(PACKETS) + 100);

        // Refusals allocate nothing either (a flood of forged packets).
        let info = allocation_counter::measure(|| {
            for i in 0..PACKETS {
                let len = rtp(&mut buf, i as u16);
                let len = len + suite.rtp_tag_len() + rx.mki_len();
                assert!(rx.unprotect_rtp(&mut buf, len).is_err());
            }
        });
        assert_eq!(info.count_total, 0, "{suite:?} refusals: {info:?}");
    }
}
