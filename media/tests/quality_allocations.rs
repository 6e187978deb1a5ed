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

/// The quality wired into the relay: 10,000 packets from a leg's peer
/// through `SessionRelay::on_packet` (loss, reordering, duplicates; an RR
/// every 250 packets parsed), with voxgate's own reports on the leg out of
/// `poll_transmit`, and the figures published as the relay task does.
#[test]
fn the_relay_measures_and_reports_without_allocating() {
    use std::net::SocketAddr;
    use voxgate_media::anchor::RemoteMedia;
    use voxgate_media::codec::CodecKind;
    use voxgate_media::endpoint::{MAX_GENERATED, VoiceFormat};
    use voxgate_media::latch::{EndpointId, SessionRelay, SocketKind};
    use voxgate_media::quality::rtcp::{ReportBlock, write_receiver_report};
    use voxgate_media::sdp::Direction;
    use voxgate_media::srtp::MAX_OVERHEAD;
    use voxgate_media::{EndpointOp, MediaFormat};

    const A: EndpointId = EndpointId(0);
    let peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let t0 = Instant::now();
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, Vec::new());
    r.set_remote(
        A,
        &[RemoteMedia {
            rtp: Some(peer),
            rtcp: Some(peer),
            rtcp_mux: true,
            direction: Direction::SendRecv,
        }],
    );
    let format = MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(8),
            codec: CodecKind::Pcma,
        }),
        telephone_event: None,
        ptime: None,
        clock_rate: 8000,
    };
    r.handle_op(t0, A, EndpointOp::Format(Some(format)));
    let mut rr = [0u8; 64];
    let block = ReportBlock {
        ssrc: Ssrc(1),
        fraction_lost: 0,
        cumulative_lost: 0,
        highest_seq: 0,
        jitter: 0,
        last_sr: 0,
        delay_since_last_sr: 0,
    };
    let rr_len = write_receiver_report(&mut rr, Ssrc(0x5eed), &[block]).unwrap();
    let mut buf = [0u8; 172 + MAX_OVERHEAD];
    let mut out = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    let mut reports = 0;
    let mut step = |r: &mut SessionRelay, i: u32| {
        let now = t0 + Duration::from_micros(u64::from(i) * 20_000 + u64::from(i % 5) * 700);
        if i % 10 != 9 {
            let h = header(i);
            buf[..12].copy_from_slice(&[0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x5e, 0xed]);
            buf[2..4].copy_from_slice(&h.seq.to_be_bytes());
            buf[4..8].copy_from_slice(&h.timestamp.to_be_bytes());
            let copies = if i.is_multiple_of(13) { 2 } else { 1 };
            for _ in 0..copies {
                r.on_packet(A, 0, SocketKind::Rtp, peer, &mut buf, 172, now);
            }
        }
        if i.is_multiple_of(250) {
            let mut p = rr;
            r.on_packet(A, 0, SocketKind::Rtp, peer, &mut p, rr_len, now);
        }
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut out) {
            r.on_transmitted(&t, true);
            reports += 1;
        }
        // What the relay task publishes once per batch.
        let figures = r.endpoint(A).unwrap().lines()[0].quality().figures();
        std::hint::black_box(figures);
    };
    for i in 0..100 {
        step(&mut r, i);
    }
    let info = allocation_counter::measure(|| {
        for i in 100..100 + PACKETS {
            step(&mut r, i);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    let f = r.endpoint(A).unwrap().lines()[0].quality().figures();
    assert!(f.totals.lost > 900 && f.totals.duplicates > 0 && f.totals.out_of_order > 0);
    assert!(f.remote.is_some());
    assert!(reports >= 30, "{reports} reports in 200 s");
}
