//! A line's quality from crafted packet sequences on a virtual clock: loss,
//! jitter, reordering and duplicates; the peer's RTCP read for its view of
//! our stream and the round-trip time.

use super::*;
use crate::quality::rtcp::{
    NtpTime, ReportBlock, SenderInfo, write_bye, write_receiver_report, write_sdes_cname,
    write_sender_report,
};
use crate::quality::{LegQuality, mos};
use crate::rtp::PayloadType;

const PEER: Ssrc = Ssrc(0x0b0b);
const OURS: Ssrc = Ssrc(0x0a0a);

fn header(seq: u16) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: PayloadType(8),
        seq,
        timestamp: u32::from(seq) * 160,
        ssrc: PEER,
    }
}

/// A 20 ms stream from `t0`: packet `seq` sent at `seq × 20 ms` and
/// delayed by `delay_us(seq)`; `seqs` in arrival order.
fn feed(q: &mut LineQuality, t0: Instant, seqs: &[u16], delay_us: impl Fn(u16) -> u64) -> Instant {
    let mut last = t0;
    for &seq in seqs {
        let at = t0 + Duration::from_micros(u64::from(seq) * 20_000 + delay_us(seq));
        q.on_rtp(at, &header(seq), 172);
        last = last.max(at);
    }
    last
}

fn block(ssrc: Ssrc, last_sr: u32, dlsr: u32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost: 30,
        highest_seq: 300,
        jitter: 40,
        last_sr,
        delay_since_last_sr: dlsr,
    }
}

fn rr(reporter: Ssrc, blocks: &[ReportBlock]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = write_receiver_report(&mut buf, reporter, blocks).unwrap();
    let m = write_sdes_cname(&mut buf[n..], reporter, b"peer").unwrap();
    buf[..n + m].to_vec()
}

#[test]
fn loss_jitter_reordering_and_duplicates_of_a_crafted_stream() {
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    // 1000 packets: every tenth lost (from 10 on), 500 and 501 swapped,
    // 701 three times; odd packets 4 ms late: |D| = 4 ms on every packet.
    let mut seqs: Vec<u16> = (0..1000u16).filter(|s| *s < 10 || s % 10 != 0).collect();
    let at = seqs.iter().position(|s| *s == 501).unwrap();
    seqs.swap(at - 1, at);
    let at = seqs.iter().position(|s| *s == 702).unwrap();
    seqs.insert(at, 701);
    seqs.insert(at, 701);
    feed(&mut q, t0, &seqs, |s| if s % 2 == 1 { 4000 } else { 0 });

    let f = q.figures();
    assert_eq!(f.totals.packets, seqs.len() as u64);
    assert_eq!(f.totals.duplicates, 2);
    assert_eq!(f.totals.out_of_order, 1, "500 after 501");
    // The first packet went into probation: 999 expected, 99 of them lost.
    assert_eq!((f.totals.expected, f.totals.lost), (999, 99));
    // A.8: J converges to the mean |D|: 4 ms = 32 units at 8 kHz, but for
    // one pair in ten (9 and 11 are both late, 10 is lost): 0.9 × 32 ≈ 29.
    assert!((28..=30).contains(&f.totals.jitter), "{}", f.totals.jitter);
    assert_eq!(f.clock_rate, 8000);
    assert_eq!((f.remote, f.rtt_us), (None, None));

    let leg = LegQuality::from_figures(&f, mos::G711_PLC);
    assert!((leg.loss_fraction - 0.099).abs() < 0.001);
    assert!((leg.jitter_ms - 3.6).abs() < 0.2, "{}", leg.jitter_ms);
    // 10% random loss with PLC: R ≈ 66, MOS ≈ 3.4; a clean stream ≈ 4.4.
    let mos = leg.mos.unwrap();
    assert!((3.3..3.5).contains(&mos), "{mos}");
    let mut clean = LineQuality::new(8000);
    let all: Vec<u16> = (0..1000).collect();
    feed(&mut clean, t0, &all, |_| 0);
    let clean = LegQuality::from_figures(&clean.figures(), mos::G711_PLC);
    assert_eq!((clean.lost, clean.jitter_ms), (0, 0.0));
    assert!(clean.mos.unwrap() > 4.4);
}

#[test]
fn jitter_is_counted_in_the_negotiated_clock() {
    // The same 4 ms of alternating delay on a 48 kHz stream: 192 units, still 4 ms.
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    q.set_format(48_000, None);
    for seq in 0..1000u16 {
        let delay = if seq % 2 == 1 { 4000 } else { 0 };
        let at = t0 + Duration::from_micros(u64::from(seq) * 20_000 + delay);
        let h = RtpHeader {
            timestamp: u32::from(seq) * 960,
            ..header(seq)
        };
        q.on_rtp(at, &h, 100);
    }
    let f = q.figures();
    assert!(
        (190..=192).contains(&f.totals.jitter),
        "{}",
        f.totals.jitter
    );
    let leg = LegQuality::from_figures(&f, mos::G711_PLC);
    assert!((leg.jitter_ms - 4.0).abs() < 0.1, "{}", leg.jitter_ms);
}

#[test]
fn the_peers_report_gives_its_view_and_the_rtt_of_an_sr_sent_to_it() {
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    // Our SR left at t0; the peer held it 1 s; its RR arrives 1.08 s after: RTT 80 ms.
    q.sr_sent(0x1234_5678, t0);
    q.sr_sent(0x1234_9999, t0 + Duration::from_millis(500));
    let report = rr(
        PEER,
        &[
            // A block about the peer's own SSRC is not about our stream.
            block(PEER, 0, 0),
            block(OURS, 0x1234_5678, 0x1_0000),
        ],
    );
    assert_eq!(q.on_rtcp(t0 + Duration::from_millis(1080), &report), None);
    let rtt = q.rtt().unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(80)) < Duration::from_micros(20),
        "{rtt:?}"
    );
    let f = q.figures();
    assert_eq!(
        f.remote,
        Some(RemoteFigures {
            fraction_lost: 25,
            cumulative_lost: 30,
            jitter: 40
        })
    );
    let leg = LegQuality::from_figures(&f, mos::G711_PLC);
    assert_eq!(leg.remote_loss_fraction, Some(25.0 / 256.0));
    assert_eq!(leg.remote_lost, Some(30));
    assert_eq!(leg.remote_jitter_ms, Some(5.0));
    assert!((leg.rtt_ms.unwrap() - 80.0).abs() < 0.05);
    assert_eq!(leg.mos, None, "no RTP from the peer: nothing to rate");

    // An LSR we never sent (the peer answers someone else's SR): no new RTT.
    let report = rr(PEER, &[block(OURS, 0x0bad_0bad, 0x1_0000)]);
    q.on_rtcp(t0 + Duration::from_secs(9), &report);
    assert_eq!(q.rtt(), Some(rtt));
    // Held longer than it has been away (a broken DLSR): no new RTT either.
    let report = rr(PEER, &[block(OURS, 0x1234_9999, 0x10_0000)]);
    q.on_rtcp(t0 + Duration::from_secs(2), &report);
    assert_eq!(q.rtt(), Some(rtt));
}

#[test]
fn the_peers_sr_is_returned_and_feeds_our_report_blocks() {
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    let seqs: Vec<u16> = (0..50).collect();
    let last = feed(&mut q, t0, &seqs, |_| 0);
    let info = SenderInfo {
        ntp: NtpTime(0xe89f_6a00_8000_0000),
        rtp_timestamp: 8000,
        packet_count: 50,
        octet_count: 8000,
    };
    let mut buf = [0u8; 256];
    let n = write_sender_report(&mut buf, PEER, &info, &[]).unwrap();
    let n = n + write_bye(&mut buf[n..], &[PEER], None).unwrap();
    assert_eq!(q.on_rtcp(last, &buf[..n]), Some(0x6a00_8000));
    // The BYE keeps the statistics: they are the leg's record.
    assert_eq!(q.figures().totals.packets, 50);
    // Our next block about the peer carries its SR's LSR and the DLSR.
    q.on_rtp(last + Duration::from_millis(20), &header(50), 172);
    let mut blocks = [block(OURS, 0, 0); crate::quality::stats::MAX_SOURCES];
    let later = last + Duration::from_millis(500);
    assert_eq!(q.stats_mut().report_blocks(later, &mut blocks), 1);
    assert_eq!(blocks[0].last_sr, 0x6a00_8000);
    assert_eq!(blocks[0].delay_since_last_sr, 0x8000);
}

#[test]
fn malformed_rtcp_is_applied_up_to_the_fault() {
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    q.sr_sent(0x1111_2222, t0);
    let mut report = rr(PEER, &[block(OURS, 0x1111_2222, 0)]);
    // A second packet whose length runs past the datagram.
    report.extend_from_slice(&[0x80, 202, 0, 9, 0, 0]);
    q.on_rtcp(t0 + Duration::from_millis(30), &report);
    assert_eq!(q.rtt(), Some(Duration::from_millis(30)));
    assert!(q.remote().is_some());
    // Garbage alone changes nothing.
    let mut fresh = LineQuality::new(8000);
    assert_eq!(fresh.on_rtcp(t0, &[0x80, 201, 0xff]), None);
    assert_eq!(fresh.on_rtcp(t0, &[0x40, 200, 0, 0]), None);
    assert_eq!(fresh.figures(), LineQuality::new(8000).figures());
}

#[test]
fn digits_are_in_the_sequence_but_not_in_the_jitter() {
    // A stream on time, but for a 0.5 s digit (RFC 4733, payload type 101)
    // whose 25 packets all carry the event's start timestamp.
    let t0 = Instant::now();
    let mut q = LineQuality::new(8000);
    q.set_format(8000, Some(PayloadType(101)));
    for seq in 0..500u16 {
        let at = t0 + Duration::from_millis(20 * u64::from(seq));
        let h = if (200..225).contains(&seq) {
            RtpHeader {
                payload_type: PayloadType(101),
                timestamp: 200 * 160,
                ..header(seq)
            }
        } else {
            header(seq)
        };
        q.on_rtp(at, &h, 172);
    }
    let f = q.figures();
    assert_eq!(
        (f.totals.expected, f.totals.lost, f.totals.jitter),
        (499, 0, 0)
    );
    // Counted as voice, the digit's standing timestamp reads as jitter.
    let mut naive = LineQuality::new(8000);
    for seq in 0..226u16 {
        let at = t0 + Duration::from_millis(20 * u64::from(seq));
        let ts = if (200..225).contains(&seq) {
            200 * 160
        } else {
            u32::from(seq) * 160
        };
        naive.on_rtp(
            at,
            &RtpHeader {
                payload_type: PayloadType(101),
                timestamp: ts,
                ..header(seq)
            },
            16,
        );
    }
    assert!(
        naive.figures().totals.jitter > 100,
        "{}",
        naive.figures().totals.jitter
    );
}
