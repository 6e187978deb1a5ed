//! Micro-benchmarks of call quality, sans-IO: the receive statistics update
//! per RTP packet, building an RR (+ SDES) with 1 and 4 report blocks, and
//! parsing a compound SR + SDES. Nothing in them allocates.
//!
//! Run: `cargo bench --bench quality` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use voxgate_media::quality::rtcp::{
    Compound, NtpTime, ReportBlock, RtcpPacket, SenderInfo, write_sdes_cname, write_sender_report,
};
use voxgate_media::quality::{ReceiveStats, ReportConfig, RtcpReporter};
use voxgate_media::rtp::{PayloadType, RtpHeader, Ssrc};

fn header(ssrc: u32, seq: u16) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: PayloadType(8),
        seq,
        timestamp: u32::from(seq).wrapping_mul(160),
        ssrc: Ssrc(ssrc),
    }
}

fn receive_stats(c: &mut Criterion) {
    let mut group = c.benchmark_group("quality");
    group.throughput(Throughput::Elements(1));
    let t0 = Instant::now();
    let mut stats = ReceiveStats::new(8000);
    let mut seq = 0u16;
    let mut now = t0;
    group.bench_function("receive_stats_per_packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            now += Duration::from_millis(20);
            black_box(stats.on_rtp(now, black_box(&header(1, seq)), 172))
        })
    });
    group.finish();
}

fn build_rr(c: &mut Criterion) {
    let mut group = c.benchmark_group("quality");
    for sources in [1u32, 4] {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        let mut reporter = RtcpReporter::new(
            t0,
            NtpTime(0xe89f_6a00_0000_0000),
            Ssrc(9),
            ReportConfig::default(),
            1,
        );
        let mut buf = [0u8; 512];
        let mut seq = 0u16;
        let mut now = t0;
        group.bench_function(format!("build_rr_{sources}_blocks"), |b| {
            b.iter(|| {
                // One packet per source since the last report, so each gets a block.
                seq = seq.wrapping_add(1);
                now += Duration::from_millis(20);
                for s in 0..sources {
                    stats.on_rtp(now, &header(s, seq), 172);
                }
                black_box(
                    reporter
                        .write_report(now, &mut stats, None, b"voxgate@203.0.113.1", &mut buf)
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn parse_sr_sdes(c: &mut Criterion) {
    let mut buf = [0u8; 256];
    let block = ReportBlock {
        ssrc: Ssrc(2),
        fraction_lost: 3,
        cumulative_lost: 10,
        highest_seq: 70_000,
        jitter: 40,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x8000,
    };
    let info = SenderInfo {
        ntp: NtpTime(0xe89f_6a00_8000_0000),
        rtp_timestamp: 8000,
        packet_count: 50,
        octet_count: 8000,
    };
    let mut n = write_sender_report(&mut buf, Ssrc(1), &info, &[block]).unwrap();
    n += write_sdes_cname(&mut buf[n..], Ssrc(1), b"carrier-gw-7@198.51.100.7").unwrap();
    let compound = &buf[..n];
    let mut group = c.benchmark_group("quality");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_sr_sdes", |b| {
        b.iter(|| {
            let mut jitter = 0;
            for p in Compound::new(black_box(compound)) {
                match p.unwrap() {
                    RtcpPacket::SenderReport(sr) => {
                        jitter += sr.blocks.iter().map(|b| b.jitter).sum::<u32>()
                    }
                    RtcpPacket::Sdes(s) => {
                        jitter += s.chunks().filter_map(|c| c.cname()).count() as u32
                    }
                    _ => {}
                }
            }
            black_box(jitter)
        })
    });
    group.finish();
}

criterion_group!(benches, receive_stats, build_rr, parse_sr_sdes);
criterion_main!(benches);
