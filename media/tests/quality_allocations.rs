//! The call-quality per-packet path allocates nothing: 10,000 RTP packets
//! through the receive statistics (with loss, reordering, duplicates and a
//! sequence wrap), and RTCP reports built and parsed, counted by
//! allocation-counter's global allocator (its own test binary, so nothing
//! else disturbs the count).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use voxgate_media::quality::rtcp::{Compound, NtpTime};
use voxgate_media::quality::{
    LegQuality, ReceiveStats, ReportConfig, RtcpReporter, SenderState, mos,
};
use voxgate_media::rtp::{PayloadType, RtpHeader, Ssrc};

const PACKETS: u32 = 10_000;

fn header(i: u32) -> RtpHeader {
    // Every 10th lost, every 7th swapped with its successor, every 13th twice.
    let seq = 60_000u32 + i;
    let seq = if i % 7 == 3 {
        seq + 1
    } else if i % 7 == 4 {
        seq - 1
    } else {
        seq
    };
    RtpHeader {
        marker: false,
        payload_type: PayloadType(8),
        seq: seq as u16,
        timestamp: seq.wrapping_mul(160),
        ssrc: Ssrc(0x5eed),
    }
}

#[test]
fn receive_statistics_allocate_nothing_per_packet() {
    let t0 = Instant::now();
    let mut stats = ReceiveStats::new(8000);
    let feed = |stats: &mut ReceiveStats, range: std::ops::Range<u32>| {
        for i in range {
            if i % 10 == 9 {
                continue;
            }
            let now = t0 + Duration::from_micros(u64::from(i) * 20_000 + u64::from(i % 5) * 700);
            let h = header(i);
            stats.on_rtp(now, &h, 172);
            if i % 13 == 0 {
                stats.on_rtp(now, &h, 172);
            }
        }
    };
    feed(&mut stats, 0..100); // warm-up
    let info = allocation_counter::measure(|| feed(&mut stats, 100..100 + PACKETS));
    assert_eq!(info.count_total, 0, "{info:?}");
    let s = stats.current().unwrap();
    assert!(s.duplicates() > 0 && s.out_of_order() > 0 && s.lost() > 0);
    assert!(s.extended_max() > 1 << 16, "crossed the wrap");
}

#[test]
fn rtcp_reports_allocate_nothing() {
    let t0 = Instant::now();
    let mut stats = ReceiveStats::new(8000);
    let mut reporter = RtcpReporter::new(
        t0,
        NtpTime(0xe89f_6a00_0000_0000),
        Ssrc(7),
        ReportConfig::default(),
        1,
    );
    let mut buf = [0u8; 512];
    let mut run = |n: u32, stats: &mut ReceiveStats, reporter: &mut RtcpReporter| {
        for i in 0..n {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            stats.on_rtp(now, &header(i), 172);
            if i % 50 == 0 {
                let sender = SenderState {
                    packets: i,
                    octets: i * 160,
                    rtp_timestamp: i * 160,
                };
                let len = reporter
                    .write_report(now, stats, Some(&sender), b"voxgate@203.0.113.1", &mut buf)
                    .unwrap();
                assert_eq!(Compound::new(&buf[..len]).count(), 2);
                reporter.on_rtcp(now, &buf[..len], stats).unwrap();
                let q = LegQuality::new(stats, Some(reporter), mos::G711_PLC);
                assert!(q.mos.is_some());
            }
        }
    };
    run(100, &mut stats, &mut reporter);
    let info = allocation_counter::measure(|| run(PACKETS, &mut stats, &mut reporter));
    assert_eq!(info.count_total, 0, "{info:?}");
}
