//! Micro-benchmarks of SRTP/SRTCP per packet, per suite: protect and
//! unprotect in place of a 172-octet RTP packet (G.711, 20 ms) and of an
//! RTCP receiver report, as an SRTP leg's endpoint does per datagram.
//!
//! Run: `cargo bench --bench srtp` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use voxgate_media::srtp::{CryptoSuite, MAX_OVERHEAD, MasterKey, SrtpContext};

const RTP_LEN: usize = 172;
const BUF: usize = RTP_LEN + MAX_OVERHEAD;

fn rtp(seq: u16) -> [u8; BUF] {
    let mut p = [0xd5u8; BUF];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&0x5eed_0001u32.to_be_bytes());
    p
}

/// A receiver report with one report block (32 octets).
const RTCP_LEN: usize = 32;
fn rtcp() -> [u8; RTCP_LEN + MAX_OVERHEAD] {
    let mut p = [0x55u8; RTCP_LEN + MAX_OVERHEAD];
    p[..8].copy_from_slice(&[0x81, 201, 0, 7, 0x5e, 0xed, 0, 1]);
    p
}

fn contexts(suite: CryptoSuite) -> (SrtpContext, SrtpContext) {
    let key = MasterKey::generate(suite).unwrap();
    (SrtpContext::new(&key, None), SrtpContext::new(&key, None))
}

/// Times unprotect only: protects a chunk untimed, then unprotects it timed.
fn time_unprotect(
    iters: u64,
    tx: &mut SrtpContext,
    rx: &mut SrtpContext,
    seq: &mut u16,
    rtcp_mode: bool,
) -> Duration {
    const CHUNK: usize = 1024;
    let mut chunk = vec![[0u8; BUF]; CHUNK];
    let mut lens = [0usize; CHUNK];
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = (left as usize).min(CHUNK);
        for (buf, len) in chunk.iter_mut().zip(lens.iter_mut()).take(n) {
            if rtcp_mode {
                buf[..RTCP_LEN + MAX_OVERHEAD].copy_from_slice(&rtcp());
                *len = tx.protect_rtcp(buf, RTCP_LEN).unwrap();
            } else {
                *buf = rtp(*seq);
                *seq = seq.wrapping_add(1);
                *len = tx.protect_rtp(buf, RTP_LEN).unwrap();
            }
        }
        let start = Instant::now();
        for (buf, len) in chunk.iter_mut().zip(lens.iter()).take(n) {
            let out = if rtcp_mode {
                rx.unprotect_rtcp(buf, *len)
            } else {
                rx.unprotect_rtp(buf, *len)
            };
            black_box(out.unwrap());
        }
        total += start.elapsed();
        left -= n as u64;
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp");
    group.throughput(Throughput::Elements(1));
    for suite in [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
        CryptoSuite::AeadAes128Gcm,
    ] {
        let name = suite.sdes_name();
        let (mut tx, _) = contexts(suite);
        let mut seq = 0u16;
        group.bench_function(format!("protect_rtp/{name}"), |b| {
            b.iter(|| {
                let mut buf = rtp(seq);
                seq = seq.wrapping_add(1);
                black_box(tx.protect_rtp(black_box(&mut buf), RTP_LEN).unwrap())
            })
        });
        let (mut tx, mut rx) = contexts(suite);
        let mut seq = 0u16;
        group.bench_function(format!("unprotect_rtp/{name}"), |b| {
            b.iter_custom(|iters| time_unprotect(iters, &mut tx, &mut rx, &mut seq, false))
        });
        let (mut tx, _) = contexts(suite);
        group.bench_function(format!("protect_rtcp/{name}"), |b| {
            b.iter(|| {
                let mut buf = rtcp();
                black_box(tx.protect_rtcp(black_box(&mut buf), RTCP_LEN).unwrap())
            })
        });
        let (mut tx, mut rx) = contexts(suite);
        let mut seq = 0u16;
        group.bench_function(format!("unprotect_rtcp/{name}"), |b| {
            b.iter_custom(|iters| time_unprotect(iters, &mut tx, &mut rx, &mut seq, true))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
