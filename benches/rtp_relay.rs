//! Micro-benchmarks of the RTP relay's per-packet path, sans-IO: classify,
//! counters, RFC 3550 receive statistics (loss, jitter; RTCP from a peer
//! parsed for its report), latch check, forward target, and SRTP where a leg has it
//! (unprotect from an SRTP peer, protect for one, in place): what a session
//! task does between `try_recv_from` and `try_send_to`. Nothing in it
//! allocates (`media/tests/relay_allocations.rs`).
//!
//! Run: `cargo bench --bench rtp_relay` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_media::anchor::RemoteMedia;
use voxgate_media::latch::{EndpointId, SessionRelay, SocketKind};
use voxgate_media::rtp::classify;
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{self, CryptoSuite, MAX_OVERHEAD, SdesKeys};

/// A 172-byte PCMA packet: 12-byte header, 20 ms of 8 kHz samples.
fn pcma(seq: u16) -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&0x5eed_0001u32.to_be_bytes());
    p
}

fn remote(rtp: &str, rtcp: &str, mux: bool) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(rtp.parse().unwrap()),
        rtcp: Some(rtcp.parse().unwrap()),
        rtcp_mux: mux,
        direction: Direction::SendRecv,
    }
}

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

/// Two bridged endpoints in mid-call: both targets signalled, both peers latched.
fn latched_session(a_src: SocketAddr, b_src: SocketAddr) -> SessionRelay {
    let mut relay = SessionRelay::new(Duration::from_secs(2));
    relay.add(A, 1, Vec::new());
    relay.add(B, 1, Vec::new());
    relay.set_remote(
        A,
        &[remote("198.51.100.1:31000", "198.51.100.1:31001", false)],
    );
    relay.set_remote(B, &[remote("192.0.2.2:6000", "192.0.2.2:6000", true)]);
    relay.bridge(A, B);
    let now = Instant::now();
    let mut buf = [0u8; 172 + MAX_OVERHEAD];
    buf[..172].copy_from_slice(&pcma(0));
    relay.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, 172, now);
    buf[..172].copy_from_slice(&pcma(0));
    relay.on_packet(B, 0, SocketKind::Rtp, b_src, &mut buf, 172, now);
    relay
}

/// A's SDES keys as voxgate holds them, and as A's peer holds them.
fn sdes(suite: CryptoSuite) -> (SdesKeys, SdesKeys) {
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    (
        srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap(),
        peer,
    )
}

fn relay(c: &mut Criterion) {
    let a_src: SocketAddr = "198.51.100.1:31000".parse().unwrap();
    let b_src: SocketAddr = "192.0.2.2:6000".parse().unwrap();
    let mut group = c.benchmark_group("rtp_relay");
    group.throughput(Throughput::Elements(1));

    group.bench_function("on_packet_pcma_172B", |bench| {
        let mut relay = latched_session(a_src, b_src);
        let mut buf = [0u8; 172 + MAX_OVERHEAD];
        buf[..172].copy_from_slice(&pcma(1));
        let mut seq = 1u16;
        let now = Instant::now();
        bench.iter(|| {
            seq = seq.wrapping_add(1);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            let forward = relay.on_packet(
                A,
                0,
                SocketKind::Rtp,
                black_box(a_src),
                black_box(&mut buf),
                172,
                now,
            );
            if let Some(f) = &forward {
                relay.on_sent(f, true);
            }
            black_box(forward)
        });
    });

    group.bench_function("on_packet_rtcp_muxed", |bench| {
        let mut relay = latched_session(a_src, b_src);
        let mut rr = [0x80u8, 201, 0, 1, 0x5e, 0xed, 0, 1];
        let now = Instant::now();
        bench.iter(|| {
            black_box(relay.on_packet(
                B,
                0,
                SocketKind::Rtp,
                black_box(b_src),
                black_box(&mut rr),
                8,
                now,
            ))
        });
    });

    group.bench_function("on_packet_foreign_source_dropped", |bench| {
        let mut relay = latched_session(a_src, b_src);
        let mut pkt = pcma(5);
        let intruder: SocketAddr = "203.0.113.66:9".parse().unwrap();
        let now = Instant::now();
        bench.iter(|| {
            black_box(relay.on_packet(
                A,
                0,
                SocketKind::Rtp,
                black_box(intruder),
                black_box(&mut pkt),
                172,
                now,
            ))
        });
    });

    for (suite, name) in [
        (CryptoSuite::AesCm128HmacSha1_80, "aes_cm_80"),
        (CryptoSuite::AeadAes128Gcm, "gcm"),
    ] {
        // A's peer sends SRTP, B's plain RTP gets it: unprotect in place.
        // The peer's protect is the batch setup, outside the measurement.
        group.bench_function(format!("on_packet_srtp_to_rtp_{name}"), |bench| {
            let (ours, peer) = sdes(suite);
            let mut relay = latched_session(a_src, b_src);
            relay.set_srtp(A, &[Some(ours)]);
            let mut tx = peer.outbound().unwrap();
            let mut seq = 1u16;
            let now = Instant::now();
            bench.iter_batched_ref(
                || {
                    seq = seq.wrapping_add(1);
                    let mut buf = [0u8; 172 + MAX_OVERHEAD];
                    buf[..172].copy_from_slice(&pcma(seq));
                    let len = tx.protect_rtp(&mut buf, 172).unwrap();
                    (buf, len)
                },
                |(buf, len)| {
                    let forward =
                        relay.on_packet(A, 0, SocketKind::Rtp, black_box(a_src), buf, *len, now);
                    debug_assert_eq!(forward.map(|f| f.len), Some(172));
                    black_box(forward)
                },
                BatchSize::SmallInput,
            );
        });
        // B's peer sends plain RTP, A's SRTP peer gets it: protect in place.
        group.bench_function(format!("on_packet_rtp_to_srtp_{name}"), |bench| {
            let (ours, _) = sdes(suite);
            let mut relay = latched_session(a_src, b_src);
            relay.set_srtp(A, &[Some(ours)]);
            let mut buf = [0u8; 172 + MAX_OVERHEAD];
            let template = pcma(1);
            let mut seq = 1u16;
            let now = Instant::now();
            bench.iter(|| {
                seq = seq.wrapping_add(1);
                buf[..172].copy_from_slice(&template);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                black_box(relay.on_packet(
                    B,
                    0,
                    SocketKind::Rtp,
                    black_box(b_src),
                    &mut buf,
                    172,
                    now,
                ))
            });
        });
    }

    group.bench_function("classify_pcma", |bench| {
        let pkt = pcma(7);
        bench.iter(|| black_box(classify(black_box(&pkt), true)));
    });
    group.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
