//! The relay's per-packet path allocates nothing, with SRTP on a leg or not:
//! 10,000 packets each through RTP→RTP, SRTP→RTP and RTP→SRTP (and SRTCP),
//! counted by allocation-counter's global allocator in its own test binary.
//! Keys are installed first: contexts are per call, not per packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_media::anchor::RemoteMedia;
use voxgate_media::latch::{EndpointId, SessionRelay, SocketKind};
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{self, CryptoSuite, MAX_OVERHEAD, SdesKeys};

const PACKETS: u16 = 10_000;
const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn pcma(buf: &mut [u8], seq: u16) -> usize {
    buf[..12].copy_from_slice(&[0x80, 8, 0, 0, 0, 0, 0, 160, 0x5e, 0xed, 0, 1]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[12..172].fill(0xd5);
    172
}

fn relay() -> SessionRelay {
    let remote = |rtp: &str| RemoteMedia {
        rtp: Some(sa(rtp)),
        rtcp: Some(sa(rtp)),
        rtcp_mux: true,
        direction: Direction::SendRecv,
    };
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, Vec::new());
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[remote("10.0.0.1:4000")]);
    r.set_remote(B, &[remote("192.0.2.2:6000")]);
    r.bridge(A, B);
    r
}

/// A's keys as voxgate holds them, and as A's peer does.
fn sdes(suite: CryptoSuite) -> (SdesKeys, SdesKeys) {
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    (
        srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap(),
        peer,
    )
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert_eq!(info.count_total, 1);
}

#[test]
fn relaying_allocates_nothing_per_packet_with_or_without_srtp() {
    let (a_src, b_src) = (sa("10.0.0.1:4000"), sa("192.0.2.2:6000"));
    let now = Instant::now();
    let mut buf = [0u8; 172 + MAX_OVERHEAD];

    // Plain both ways.
    let mut r = relay();
    let info = allocation_counter::measure(|| {
        for seq in 0..PACKETS {
            let len = pcma(&mut buf, seq);
            let f = r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, len, now);
            assert_eq!(f.unwrap().len, 172);
        }
    });
    assert_eq!(info.count_total, 0, "RTP→RTP: {info:?}");

    for suite in CryptoSuite::ALL {
        let (ours, peer) = sdes(suite);
        let mut r = relay();
        r.set_srtp(A, &[Some(ours)]);
        let mut tx = peer.outbound().unwrap();
        let mut rx = peer.inbound().unwrap();
        // Warm-up: first packets create the contexts' per-SSRC entries
        // (inline tables: no allocation either, but out of the count).
        let len = pcma(&mut buf, 0);
        let len = tx.protect_rtp(&mut buf, len).unwrap();
        r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, len, now)
            .unwrap();

        // SRTP → RTP: the peer's protect is in the loop too, and allocates nothing.
        let info = allocation_counter::measure(|| {
            for seq in 1..=PACKETS {
                let len = pcma(&mut buf, seq);
                let len = tx.protect_rtp(&mut buf, len).unwrap();
                let f = r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, len, now);
                assert_eq!(f.unwrap().len, 172);
            }
        });
        assert_eq!(info.count_total, 0, "{suite:?} SRTP→RTP: {info:?}");

        // RTP → SRTP, checked by the peer.
        let info = allocation_counter::measure(|| {
            for seq in 0..PACKETS {
                let len = pcma(&mut buf, seq);
                let f = r
                    .on_packet(B, 0, SocketKind::Rtp, b_src, &mut buf, len, now)
                    .unwrap();
                assert_eq!(rx.unprotect_rtp(&mut buf, f.len).unwrap(), 172);
            }
        });
        assert_eq!(info.count_total, 0, "{suite:?} RTP→SRTP: {info:?}");

        // SRTCP (muxed) both ways, and a flood of forged packets.
        let info = allocation_counter::measure(|| {
            for _ in 0..1000 {
                buf[..8].copy_from_slice(&[0x80, 201, 0, 1, 0x5e, 0xed, 0, 2]);
                let len = tx.protect_rtcp(&mut buf, 8).unwrap();
                let f = r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, len, now);
                assert_eq!(f.unwrap().len, 8);
                buf[..8].copy_from_slice(&[0x80, 201, 0, 1, 0x5e, 0xed, 0, 3]);
                let f = r
                    .on_packet(B, 0, SocketKind::Rtp, b_src, &mut buf, 8, now)
                    .unwrap();
                assert_eq!(rx.unprotect_rtcp(&mut buf, f.len).unwrap(), 8);
            }
            for seq in 0..PACKETS {
                let len = pcma(&mut buf, seq) + suite.rtp_tag_len();
                assert!(
                    r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, len, now)
                        .is_none()
                );
            }
        });
        assert_eq!(info.count_total, 0, "{suite:?} SRTCP, forged: {info:?}");
    }
}
