//! Seeded property test of the RTCP parser, the same properties as the fuzz
//! target `media/fuzz/fuzz_targets/rtcp.rs` so CI covers them: compound
//! packets built from random fields parse back to those fields; random and
//! mutated bytes never panic; whatever parses prints to bytes that parse to
//! the same packets (and print the same again). A failing seed is printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use voxgate_media::quality::rtcp::{
    Compound, NtpTime, ReportBlock, RtcpPacket, SenderInfo, write_bye, write_receiver_report,
    write_sdes_cname, write_sender_report,
};
use voxgate_media::rtp::Ssrc;

/// Parses `data`; for the packets before any error, checks print → parse
/// equality and that printing is stable. The fuzz target's property.
fn check_round_trip(data: &[u8]) -> usize {
    let packets: Vec<RtcpPacket<'_>> = Compound::new(data).map_while(Result::ok).collect();
    let mut printed = vec![0u8; data.len() + 4 * packets.len() + 64];
    let mut n = 0;
    for p in &packets {
        n += p.write(&mut printed[n..]).expect("a parsed packet prints");
    }
    let again: Vec<RtcpPacket<'_>> = Compound::new(&printed[..n])
        .map(|p| p.expect("printed packet parses"))
        .collect();
    assert_eq!(again, packets, "parse(print(x)) == x");
    let mut twice = vec![0u8; n + 64];
    let mut m = 0;
    for p in &again {
        m += p.write(&mut twice[m..]).unwrap();
    }
    assert_eq!(&twice[..m], &printed[..n], "printing is stable");
    packets.len()
}

fn random_block(rng: &mut StdRng) -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(rng.random()),
        fraction_lost: rng.random(),
        cumulative_lost: rng.random_range(ReportBlock::MIN_LOST..=ReportBlock::MAX_LOST),
        highest_seq: rng.random(),
        jitter: rng.random(),
        last_sr: rng.random(),
        delay_since_last_sr: rng.random(),
    }
}

/// A random valid compound: SR or RR, SDES, maybe a BYE; returns its length.
fn random_compound(rng: &mut StdRng, buf: &mut [u8]) -> (usize, Vec<ReportBlock>) {
    let blocks: Vec<ReportBlock> = (0..rng.random_range(0..=4))
        .map(|_| random_block(rng))
        .collect();
    let ssrc = Ssrc(rng.random());
    let mut n = if rng.random() {
        let info = SenderInfo {
            ntp: NtpTime(rng.random()),
            rtp_timestamp: rng.random(),
            packet_count: rng.random(),
            octet_count: rng.random(),
        };
        write_sender_report(buf, ssrc, &info, &blocks).unwrap()
    } else {
        write_receiver_report(buf, ssrc, &blocks).unwrap()
    };
    let cname: Vec<u8> = (0..rng.random_range(0..40))
        .map(|_| rng.random_range(b'a'..=b'z'))
        .collect();
    n += write_sdes_cname(&mut buf[n..], ssrc, &cname).unwrap();
    if rng.random_bool(0.3) {
        let reason: Vec<u8> = (0..rng.random_range(0..20)).map(|_| rng.random()).collect();
        let reason = rng.random_bool(0.5).then_some(&reason[..]);
        n += write_bye(&mut buf[n..], &[ssrc], reason).unwrap();
    }
    (n, blocks)
}

#[test]
fn built_compounds_parse_back_to_their_fields() {
    for seed in 0..2000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut buf = [0u8; 512];
        let (n, blocks) = random_compound(&mut rng, &mut buf);
        let first = Compound::new(&buf[..n]).next().unwrap().unwrap();
        let parsed: Vec<ReportBlock> = match first {
            RtcpPacket::SenderReport(sr) => sr.blocks.iter().collect(),
            RtcpPacket::ReceiverReport(rr) => rr.blocks.iter().collect(),
            other => panic!("seed {seed}: {other:?}"),
        };
        assert_eq!(parsed, blocks, "seed {seed}");
        assert!(Compound::new(&buf[..n]).all(|p| p.is_ok()), "seed {seed}");
        check_round_trip(&buf[..n]);
    }
}

#[test]
fn random_and_mutated_bytes_never_panic_and_round_trip() {
    for seed in 0..5000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut buf = [0u8; 512];
        let (mut n, _) = random_compound(&mut rng, &mut buf);
        match seed % 3 {
            // Flip a few bytes of a valid compound.
            0 => {
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..n);
                    buf[i] = rng.random();
                }
            }
            // Cut it short.
            1 => n = rng.random_range(0..n),
            // Random bytes with an RTCP-looking first header.
            _ => {
                rng.fill(&mut buf[..n]);
                buf[0] = 0x80 | (buf[0] & 0x3f);
                buf[1] = rng.random_range(200..=206);
            }
        }
        check_round_trip(&buf[..n]);
    }
}
