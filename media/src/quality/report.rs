//! RTCP reports for a leg voxgate terminates (RFC 3550 §6.2, §6.3, §6.4):
//! when the next one is due, building SR or RR (+ SDES CNAME) into a
//! caller's buffer, and reading the far end's reports of our stream
//! (round-trip time from LSR/DLSR, their loss and jitter).
//!
//! Sans-IO: the caller passes `now`; wall-clock (NTP) time is derived from
//! one `(Instant, NtpTime)` pair given at creation, so the reporter never
//! reads a clock. The randomisation comes from a seeded RNG.

use std::time::{Duration, Instant};

// A small, fast generator: the interval's randomisation (RFC 3550 §6.3.1)
// only has to keep reports apart, and a ChaCha one's seeding and first
// block showed per call in call-setup profiles.
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::MediaError;
use crate::quality::rtcp::{
    self, Compound, NtpTime, ReportBlock, RtcpPacket, SenderInfo, write_receiver_report,
    write_sdes_cname, write_sender_report,
};
use crate::quality::stats::{MAX_SOURCES, ReceiveStats};
use crate::rtp::Ssrc;

/// Minimum report interval (§6.2); half of it before the first report (§6.2, A.7 `initial`).
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// `e - 3/2`: compensates the timer reconsideration's bias (§6.3.1, A.7).
const COMPENSATION: f64 = std::f64::consts::E - 1.5;
/// IPv4 + UDP header octets counted in the average RTCP size (§6.2).
const UDP_IP_OVERHEAD: usize = 28;

/// How much bandwidth RTCP may use (§6.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportConfig {
    /// The RTCP bandwidth in octets per second: 5% of the session bandwidth
    /// (G.711 at 20 ms is about 80 kbit/s with headers: 500 octets/s).
    pub rtcp_bandwidth: f64,
    /// The minimum interval before randomisation (§6.2: 5 s).
    pub min_interval: Duration,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            rtcp_bandwidth: 500.0,
            min_interval: MIN_INTERVAL,
        }
    }
}

/// Our sending stream as the report needs it (owned by the player or generator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderState {
    /// RTP packets sent since the stream started.
    pub packets: u32,
    /// Payload octets sent since the stream started.
    pub octets: u32,
    /// The RTP timestamp that corresponds to `now` (the stream's clock read at `now`).
    pub rtp_timestamp: u32,
}

/// The far end's view of our stream, from its last report block about us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteView {
    /// Who reported.
    pub reporter: Ssrc,
    /// Fraction of our packets lost in their last interval, in 1/256.
    pub fraction_lost: u8,
    /// Our packets they lost in all.
    pub cumulative_lost: i32,
    /// Their interarrival jitter of our stream, in timestamp units.
    pub jitter: u32,
    /// Their extended highest sequence number of ours.
    pub highest_seq: u32,
    /// When the report arrived.
    pub at: Instant,
}

/// The RTCP reporting state of one leg.
#[derive(Clone, Debug)]
pub struct RtcpReporter {
    ssrc: Ssrc,
    config: ReportConfig,
    rng: SmallRng,
    clock: (Instant, NtpTime),
    next_due: Instant,
    avg_rtcp_size: f64,
    sent_packets_at_last_report: Option<u32>,
    remote: Option<RemoteView>,
    rtt: Option<Duration>,
    reports_sent: u64,
}

impl RtcpReporter {
    /// Reporting as `ssrc`, starting at `now` when the wall clock read
    /// `ntp_now`; `seed` drives the interval's randomisation (random in
    /// production, fixed in tests).
    pub fn new(
        now: Instant,
        ntp_now: NtpTime,
        ssrc: Ssrc,
        config: ReportConfig,
        seed: u64,
    ) -> Self {
        let mut r = RtcpReporter {
            ssrc,
            config,
            rng: SmallRng::seed_from_u64(seed),
            clock: (now, ntp_now),
            next_due: now,
            // A guess until the first packet: an RR with one block and an SDES.
            avg_rtcp_size: (52 + 24 + UDP_IP_OVERHEAD) as f64,
            sent_packets_at_last_report: None,
            remote: None,
            rtt: None,
            reports_sent: 0,
        };
        r.next_due = now + r.interval(2, 1, false, true);
        r
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// When the next report is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_due
    }

    /// The wall-clock time at `now`.
    pub fn ntp(&self, now: Instant) -> NtpTime {
        self.clock
            .1
            .plus(now.saturating_duration_since(self.clock.0))
    }

    /// The round-trip time from the last report block about us that had an LSR.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The far end's last report of our stream.
    pub fn remote(&self) -> Option<&RemoteView> {
        self.remote.as_ref()
    }

    /// Reports sent so far.
    pub fn reports_sent(&self) -> u64 {
        self.reports_sent
    }

    /// The deterministic interval of RFC 3550 A.7 `rtcp_interval`, randomised.
    fn interval(
        &mut self,
        members: usize,
        senders: usize,
        we_sent: bool,
        initial: bool,
    ) -> Duration {
        let min = if initial {
            self.config.min_interval.as_secs_f64() / 2.0
        } else {
            self.config.min_interval.as_secs_f64()
        };
        let mut bandwidth = self.config.rtcp_bandwidth.max(1.0);
        let mut n = members as f64;
        // Senders get a quarter of the bandwidth when they are few (§6.2).
        if (senders as f64) <= members as f64 * 0.25 {
            if we_sent {
                bandwidth *= 0.25;
                n = senders as f64;
            } else {
                bandwidth *= 0.75;
                n -= senders as f64;
            }
        }
        let deterministic = (self.avg_rtcp_size * n / bandwidth).max(min);
        let factor = self.rng.random::<f64>() + 0.5; // uniform in [0.5, 1.5)
        Duration::from_secs_f64(deterministic * factor / COMPENSATION)
    }

    fn note_size(&mut self, len: usize) {
        self.avg_rtcp_size += ((len + UDP_IP_OVERHEAD) as f64 - self.avg_rtcp_size) / 16.0;
    }

    /// Builds the compound report due at `now` into `buf`: an SR when we
    /// sent since the last report (`sender` given and its count moved), else
    /// an RR; one block per source heard since the last report; an SDES
    /// CNAME. Schedules the next report. Returns the length written.
    pub fn write_report(
        &mut self,
        now: Instant,
        stats: &mut ReceiveStats,
        sender: Option<&SenderState>,
        cname: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, MediaError> {
        let mut blocks = [EMPTY_BLOCK; MAX_SOURCES];
        let count = stats.report_blocks(now, &mut blocks);
        let sending = sender.filter(|s| Some(s.packets) != self.sent_packets_at_last_report);
        let mut len = match sending {
            Some(s) => {
                let info = SenderInfo {
                    ntp: self.ntp(now),
                    rtp_timestamp: s.rtp_timestamp,
                    packet_count: s.packets,
                    octet_count: s.octets,
                };
                write_sender_report(buf, self.ssrc, &info, &blocks[..count])?
            }
            None => write_receiver_report(buf, self.ssrc, &blocks[..count])?,
        };
        let rest = buf.get_mut(len..).unwrap_or_default();
        len += write_sdes_cname(rest, self.ssrc, cname)?;
        if let Some(s) = sender {
            self.sent_packets_at_last_report = Some(s.packets);
        }
        self.note_size(len);
        self.reports_sent += 1;
        let members = 1 + stats.sources().count().max(1);
        let senders =
            stats.sources().filter(|s| s.is_valid()).count() + usize::from(sending.is_some());
        self.next_due = now + self.interval(members, senders, sending.is_some(), false);
        Ok(len)
    }

    /// Skips the report due at `now` (it could not be sent): the next one
    /// is scheduled as if it had been.
    pub fn defer(&mut self, now: Instant) {
        self.next_due = now + self.interval(2, 1, false, false);
    }

    /// Builds the last report of a leg, with a BYE for our SSRC (§6.6).
    pub fn write_bye(
        &mut self,
        now: Instant,
        stats: &mut ReceiveStats,
        sender: Option<&SenderState>,
        cname: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, MediaError> {
        let len = self.write_report(now, stats, sender, cname, buf)?;
        let rest = buf.get_mut(len..).unwrap_or_default();
        Ok(len + rtcp::write_bye(rest, &[self.ssrc], None)?)
    }

    /// Reads a compound RTCP packet received at `now`: SRs give LSR/DLSR for
    /// our blocks, blocks about our SSRC give RTT and the far end's view, a
    /// BYE drops the source. Packets before a malformed one are applied.
    pub fn on_rtcp(
        &mut self,
        now: Instant,
        data: &[u8],
        stats: &mut ReceiveStats,
    ) -> Result<(), MediaError> {
        self.note_size(data.len());
        for packet in Compound::new(data) {
            match packet? {
                RtcpPacket::SenderReport(sr) => {
                    stats.on_sender_report(now, sr.ssrc, sr.info.ntp);
                    sr.blocks
                        .iter()
                        .for_each(|b| self.on_block(now, sr.ssrc, &b));
                }
                RtcpPacket::ReceiverReport(rr) => {
                    rr.blocks
                        .iter()
                        .for_each(|b| self.on_block(now, rr.ssrc, &b));
                }
                RtcpPacket::Bye(bye) => bye.sources().for_each(|s| stats.on_bye(s)),
                RtcpPacket::Sdes(_) | RtcpPacket::Unknown { .. } => {}
            }
        }
        Ok(())
    }

    fn on_block(&mut self, now: Instant, reporter: Ssrc, block: &ReportBlock) {
        if block.ssrc != self.ssrc {
            return;
        }
        self.remote = Some(RemoteView {
            reporter,
            fraction_lost: block.fraction_lost,
            cumulative_lost: block.cumulative_lost,
            jitter: block.jitter,
            highest_seq: block.highest_seq,
            at: now,
        });
        if block.last_sr != 0 {
            // §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
            let a = self.ntp(now).middle();
            let units = a
                .wrapping_sub(block.last_sr)
                .wrapping_sub(block.delay_since_last_sr);
            // A negative result is a clock or report glitch: keep the last RTT.
            if let Ok(units) = i32::try_from(units) {
                self.rtt = Some(Duration::from_micros(
                    (u64::from(units.unsigned_abs()) * 1_000_000) >> 16,
                ));
            }
        }
    }
}

const EMPTY_BLOCK: ReportBlock = ReportBlock {
    ssrc: Ssrc(0),
    fraction_lost: 0,
    cumulative_lost: 0,
    highest_seq: 0,
    jitter: 0,
    last_sr: 0,
    delay_since_last_sr: 0,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::rtcp::{PT_BYE, PT_RR, PT_SDES, PT_SR};
    use crate::rtp::{PayloadType, RtpHeader};

    const OURS: Ssrc = Ssrc(0x0a0a);
    const THEIRS: Ssrc = Ssrc(0x0b0b);
    const NTP0: NtpTime = NtpTime(0xe89f_6a00_0000_0000);

    fn rtp(stats: &mut ReceiveStats, now: Instant, seq: u16) {
        let h = RtpHeader {
            marker: false,
            payload_type: PayloadType(0),
            seq,
            timestamp: u32::from(seq) * 160,
            ssrc: THEIRS,
        };
        stats.on_rtp(now, &h, 172);
    }

    fn types(buf: &[u8]) -> Vec<u8> {
        Compound::new(buf)
            .map(|p| match p.unwrap() {
                RtcpPacket::SenderReport(_) => PT_SR,
                RtcpPacket::ReceiverReport(_) => PT_RR,
                RtcpPacket::Sdes(_) => PT_SDES,
                RtcpPacket::Bye(_) => PT_BYE,
                RtcpPacket::Unknown { packet_type, .. } => packet_type,
            })
            .collect()
    }

    #[test]
    fn intervals_are_randomised_around_the_minimum_on_a_virtual_clock() {
        let t0 = Instant::now();
        let mut r = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 1);
        let first = r.poll_timeout() - t0;
        // Initial: half the minimum, times [0.5, 1.5), over e - 3/2.
        assert!(
            first >= Duration::from_secs_f64(1.25 / COMPENSATION),
            "{first:?}"
        );
        assert!(
            first < Duration::from_secs_f64(3.75 / COMPENSATION),
            "{first:?}"
        );
        let mut stats = ReceiveStats::new(8000);
        let mut now = t0;
        let mut buf = [0u8; 256];
        let mut gaps = Vec::new();
        for _ in 0..2000 {
            now = r.poll_timeout(); // the virtual clock jumps to the deadline
            r.write_report(now, &mut stats, None, b"vg", &mut buf)
                .unwrap();
            gaps.push((r.poll_timeout() - now).as_secs_f64());
        }
        let (lo, hi) = (2.5 / COMPENSATION, 7.5 / COMPENSATION);
        assert!(
            gaps.iter().all(|g| (lo..hi).contains(g)),
            "within 0.5–1.5 × 5 s / (e − 3/2)"
        );
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 5.0 / COMPENSATION).abs() < 0.1, "{mean}");
        // Same seed, same schedule.
        let again = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 1);
        assert_eq!(again.poll_timeout() - t0, first);
        let _ = now;
    }

    #[test]
    fn low_bandwidth_stretches_the_interval() {
        let t0 = Instant::now();
        let config = ReportConfig {
            rtcp_bandwidth: 10.0,
            ..ReportConfig::default()
        };
        let mut r = RtcpReporter::new(t0, NTP0, OURS, config, 3);
        let mut stats = ReceiveStats::new(8000);
        let mut buf = [0u8; 256];
        let now = r.poll_timeout();
        r.write_report(now, &mut stats, None, b"vg", &mut buf)
            .unwrap();
        // ~100 octets × 2 members / 10 octets/s = ~20 s before randomisation.
        assert!(r.poll_timeout() - now > Duration::from_secs(6));
    }

    #[test]
    fn rr_when_only_receiving_sr_when_sending() {
        let t0 = Instant::now();
        let mut r = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 2);
        let mut stats = ReceiveStats::new(8000);
        for seq in 0..100 {
            rtp(
                &mut stats,
                t0 + Duration::from_millis(20 * u64::from(seq)),
                seq,
            );
        }
        let mut buf = [0u8; 256];
        let now = t0 + Duration::from_secs(3);
        let n = r
            .write_report(now, &mut stats, None, b"voxgate", &mut buf)
            .unwrap();
        assert_eq!(types(&buf[..n]), [PT_RR, PT_SDES]);
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = Compound::new(&buf[..n]).next() else {
            panic!()
        };
        let block = rr.blocks.iter().next().unwrap();
        assert_eq!(
            (block.ssrc, block.highest_seq, block.cumulative_lost),
            (THEIRS, 99, 0)
        );

        let sender = SenderState {
            packets: 150,
            octets: 24_000,
            rtp_timestamp: 24_000,
        };
        let now = now + Duration::from_secs(5);
        let n = r
            .write_report(now, &mut stats, Some(&sender), b"voxgate", &mut buf)
            .unwrap();
        assert_eq!(types(&buf[..n]), [PT_SR, PT_SDES]);
        let Some(Ok(RtcpPacket::SenderReport(sr))) = Compound::new(&buf[..n]).next() else {
            panic!()
        };
        assert_eq!(sr.info.ntp, NTP0.plus(Duration::from_secs(8)));
        assert_eq!((sr.info.packet_count, sr.info.octet_count), (150, 24_000));
        assert!(sr.blocks.is_empty(), "nothing heard since the last report");
        // Nothing sent since: back to RR. And a BYE at the end.
        let n = r
            .write_bye(now, &mut stats, Some(&sender), b"voxgate", &mut buf)
            .unwrap();
        assert_eq!(types(&buf[..n]), [PT_RR, PT_SDES, PT_BYE]);
    }

    #[test]
    fn rtt_and_remote_view_from_their_report() {
        let t0 = Instant::now();
        let mut r = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 4);
        let mut stats = ReceiveStats::new(8000);
        let sender = SenderState {
            packets: 10,
            octets: 1600,
            rtp_timestamp: 1600,
        };
        let mut buf = [0u8; 256];
        let n = r
            .write_report(t0, &mut stats, Some(&sender), b"vg", &mut buf)
            .unwrap();
        let Some(Ok(RtcpPacket::SenderReport(ours))) = Compound::new(&buf[..n]).next() else {
            panic!()
        };
        // They receive our SR 40 ms later, hold it 1 s, their RR arrives 40 ms after.
        let block = ReportBlock {
            ssrc: OURS,
            fraction_lost: 12,
            cumulative_lost: 3,
            highest_seq: 9,
            jitter: 80,
            last_sr: ours.info.ntp.middle(),
            delay_since_last_sr: 0x1_0000,
        };
        let mut theirs = [0u8; 64];
        let m = write_receiver_report(&mut theirs, THEIRS, &[block]).unwrap();
        let arrival = t0 + Duration::from_millis(1080);
        r.on_rtcp(arrival, &theirs[..m], &mut stats).unwrap();
        let rtt = r.rtt().unwrap();
        assert!(
            rtt.abs_diff(Duration::from_millis(80)) < Duration::from_micros(100),
            "{rtt:?}"
        );
        let remote = r.remote().unwrap();
        assert_eq!(
            (
                remote.reporter,
                remote.fraction_lost,
                remote.cumulative_lost
            ),
            (THEIRS, 12, 3)
        );
        assert_eq!(remote.jitter, 80);
        // A block about someone else changes nothing.
        let other = ReportBlock {
            ssrc: Ssrc(99),
            ..block
        };
        let m = write_receiver_report(&mut theirs, THEIRS, &[other]).unwrap();
        r.on_rtcp(arrival, &theirs[..m], &mut stats).unwrap();
        assert_eq!(r.remote().unwrap().reporter, THEIRS);
        assert_eq!(r.remote().unwrap().fraction_lost, 12);
    }

    #[test]
    fn their_sr_feeds_our_lsr_and_their_bye_drops_them() {
        let t0 = Instant::now();
        let mut r = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 5);
        let mut stats = ReceiveStats::new(8000);
        for seq in 0..10 {
            rtp(&mut stats, t0, seq);
        }
        let info = SenderInfo {
            ntp: NtpTime(0x1111_2222_3333_4444),
            rtp_timestamp: 0,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut theirs = [0u8; 64];
        let m = write_sender_report(&mut theirs, THEIRS, &info, &[]).unwrap();
        r.on_rtcp(t0, &theirs[..m], &mut stats).unwrap();
        let mut buf = [0u8; 256];
        let n = r
            .write_report(
                t0 + Duration::from_secs(2),
                &mut stats,
                None,
                b"vg",
                &mut buf,
            )
            .unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = Compound::new(&buf[..n]).next() else {
            panic!()
        };
        let block = rr.blocks.iter().next().unwrap();
        assert_eq!(block.last_sr, 0x2222_3333);
        assert_eq!(block.delay_since_last_sr, 2 << 16);
        let m = rtcp::write_bye(&mut theirs, &[THEIRS], Some(b"bye")).unwrap();
        r.on_rtcp(t0, &theirs[..m], &mut stats).unwrap();
        assert_eq!(stats.sources().count(), 0);
        assert!(r.on_rtcp(t0, &[0x80, 201], &mut stats).is_err());
    }

    /// Two reporters, each the other's far end, over a 30 ms one-way link
    /// with 10% of the RTP lost, on a virtual clock jumping to the next event.
    #[test]
    fn two_ends_on_a_virtual_clock_measure_rtt_and_loss() {
        let t0 = Instant::now();
        let one_way = Duration::from_millis(30);
        let mut a = RtcpReporter::new(t0, NTP0, OURS, ReportConfig::default(), 10);
        let mut b = RtcpReporter::new(t0, NTP0, THEIRS, ReportConfig::default(), 11);
        let (mut a_stats, mut b_stats) = (ReceiveStats::new(8000), ReceiveStats::new(8000));
        let mut a_sent = SenderState::default();
        let mut buf = [0u8; 256];
        let mut next_rtp = t0;
        let mut seq = 0u16;
        let end = t0 + Duration::from_secs(60);
        loop {
            let now = next_rtp.min(a.poll_timeout()).min(b.poll_timeout());
            if now >= end {
                break;
            }
            if now == next_rtp {
                // A sends 20 ms packets to B; every tenth is lost on the way.
                a_sent.packets += 1;
                a_sent.octets += 160;
                a_sent.rtp_timestamp = u32::from(seq) * 160;
                if seq % 10 != 5 {
                    let h = RtpHeader {
                        marker: false,
                        payload_type: PayloadType(0),
                        seq,
                        timestamp: u32::from(seq) * 160,
                        ssrc: OURS,
                    };
                    b_stats.on_rtp(now + one_way, &h, 172);
                }
                seq += 1;
                next_rtp += Duration::from_millis(20);
            } else if now == a.poll_timeout() {
                let n = a
                    .write_report(now, &mut a_stats, Some(&a_sent), b"a", &mut buf)
                    .unwrap();
                b.on_rtcp(now + one_way, &buf[..n], &mut b_stats).unwrap();
            } else {
                let n = b
                    .write_report(now, &mut b_stats, None, b"b", &mut buf)
                    .unwrap();
                a.on_rtcp(now + one_way, &buf[..n], &mut a_stats).unwrap();
            }
        }
        let rtt = a
            .rtt()
            .expect("A measured the RTT from B's report of its SR");
        assert!(
            rtt.abs_diff(2 * one_way) < Duration::from_millis(1),
            "{rtt:?}"
        );
        let remote = a.remote().unwrap();
        assert!(
            (24..=26).contains(&remote.fraction_lost),
            "{}",
            remote.fraction_lost
        );
        assert!(remote.cumulative_lost > 250, "{}", remote.cumulative_lost);
        assert_eq!(remote.jitter, 0, "a constant delay is no jitter");
        assert!(a.reports_sent() >= 9 && b.reports_sent() >= 9);
    }
}
