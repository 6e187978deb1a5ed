//! RTP receiver statistics per source (RFC 3550 Appendix A.1, A.3, A.8).
//!
//! Fed one call per received RTP packet, O(1) and without allocation: the
//! sources of a leg live in a fixed array of [`MAX_SOURCES`] slots (a leg
//! has one far-end SSRC, two across an SSRC change or a re-INVITE; the
//! least recently heard slot is reused beyond that).
//!
//! Differences from the RFC's code, on purpose:
//! - duplicates are detected over the last [`WINDOW`] sequence numbers
//!   (a bitmap) and are not counted as received: the RFC counts them, which
//!   hides loss; older duplicates cannot be told apart and count as the RFC does;
//! - packets and bytes are also counted during probation and across
//!   restarts (the CDR's totals); the RFC's `received` is the report's count.

use std::time::{Duration, Instant};

use crate::quality::rtcp::{NtpTime, ReportBlock};
use crate::rtp::{RtpHeader, Ssrc};

/// Most sources tracked per leg.
pub const MAX_SOURCES: usize = 4;
/// Sequence numbers looked back over for duplicates.
pub const WINDOW: u16 = 64;
/// Packets in sequence before a new source is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u32 = 2;
/// Largest forward jump that is loss, not a restart (A.1).
pub const MAX_DROPOUT: u32 = 3000;
/// Largest backward step that is a late packet, not a restart (A.1).
pub const MAX_MISORDER: u32 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// What one source's packet was, as the statistics saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next (or a later) packet of a valid source.
    InOrder,
    /// A packet older than the highest seen, not seen before.
    Late,
    /// A packet seen before.
    Duplicate,
    /// The source is not valid yet (probation) or a jump awaits confirmation.
    Probation,
    /// A big jump was confirmed: the source restarted its sequence (A.1 resync).
    Restarted,
}

/// Statistics of one source (one SSRC) of a leg.
#[derive(Clone, Copy, Debug)]
pub struct SourceStats {
    ssrc: Ssrc,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Bit i set: sequence number `max_seq - i` was received.
    window: u64,
    transit: Option<u32>,
    /// Jitter in timestamp units, scaled by 16 (A.8).
    jitter: u32,
    packets: u64,
    bytes: u64,
    duplicates: u64,
    late: u64,
    restarts: u64,
    /// Expected and lost before the last restart (the CDR's totals keep them).
    prior_expected: u64,
    prior_lost: u64,
    last_arrival: Instant,
    last_sr: Option<(NtpTime, Instant)>,
    heard_since_report: bool,
}

impl SourceStats {
    fn new(ssrc: Ssrc, seq: u16, now: Instant) -> SourceStats {
        let mut s = SourceStats {
            ssrc,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            window: 0,
            transit: None,
            jitter: 0,
            packets: 0,
            bytes: 0,
            duplicates: 0,
            late: 0,
            restarts: 0,
            prior_expected: 0,
            prior_lost: 0,
            last_arrival: now,
            last_sr: None,
            heard_since_report: false,
        };
        s.init_seq(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1; // so seq == bad_seq is false
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.window = 1;
    }

    /// A.1 `update_seq`, with the duplicate window.
    fn update_seq(&mut self, seq: u16) -> Arrival {
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return Arrival::InOrder;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return Arrival::Probation;
        }
        let arrival = if udelta == 0 {
            Arrival::Duplicate
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
            self.window = if udelta < u32::from(WINDOW) {
                (self.window << udelta) | 1
            } else {
                1
            };
            Arrival::InOrder
        } else if udelta <= SEQ_MOD - MAX_MISORDER {
            if u32::from(seq) == self.bad_seq {
                // Two in sequence after a big jump: the source restarted.
                self.prior_expected += u64::from(self.expected());
                self.prior_lost += u64::try_from(self.lost()).unwrap_or(0);
                self.init_seq(seq);
                self.transit = None;
                self.restarts += 1;
                self.received += 1;
                return Arrival::Restarted;
            }
            self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
            return Arrival::Probation;
        } else {
            let back = SEQ_MOD - udelta;
            if back < u32::from(WINDOW) {
                let bit = 1u64 << back;
                if self.window & bit != 0 {
                    Arrival::Duplicate
                } else {
                    self.window |= bit;
                    Arrival::Late
                }
            } else {
                Arrival::Late
            }
        };
        match arrival {
            Arrival::Duplicate => self.duplicates += 1,
            Arrival::Late => {
                self.late += 1;
                self.received += 1;
            }
            _ => self.received += 1,
        }
        arrival
    }

    /// A.8: `arrival` in timestamp units on the same (arbitrary) origin for every packet.
    fn update_jitter(&mut self, arrival: u32, timestamp: u32) {
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // jitter += (|d| - jitter) / 16, with jitter kept scaled by 16.
            self.jitter = self
                .jitter
                .wrapping_add(d)
                .wrapping_sub((self.jitter + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// The source's SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// False while in probation (A.1): not reported on yet.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// Extended highest sequence number received (A.3).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since the (last re)start (A.3).
    pub fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets received since the (last re)start, duplicates excluded.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative packets lost (A.3); negative when more arrived than expected.
    pub fn lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// Interarrival jitter in timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter >> 4
    }

    /// Every packet of this source, probation and duplicates included.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload octets of those packets.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Duplicates detected.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets that arrived after a higher sequence number (reordered).
    pub fn out_of_order(&self) -> u64 {
        self.late
    }

    /// Sequence restarts (A.1 resync after a confirmed big jump).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// When the last packet arrived.
    pub fn last_arrival(&self) -> Instant {
        self.last_arrival
    }

    /// The report block for an RTCP report sent at `now`; starts a new
    /// interval for the fraction lost (A.3).
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        self.heard_since_report = false;
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((ntp, at)) => (ntp.middle(), dlsr_units(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self
                .lost()
                .clamp(ReportBlock::MIN_LOST.into(), ReportBlock::MAX_LOST.into())
                as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// A duration in the 1/65536 s units of DLSR (§6.4.1).
pub fn dlsr_units(d: Duration) -> u32 {
    let units = (d.as_micros() << 16) / 1_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A leg's receive figures summed over its sources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// RTP packets received, probation and duplicates included.
    pub packets: u64,
    /// Their octets.
    pub bytes: u64,
    /// Packets expected (A.3) of the sources past probation.
    pub expected: u64,
    /// Of those, lost (a source with more received than expected counts 0).
    pub lost: u64,
    /// Packets that came after a later one.
    pub out_of_order: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Interarrival jitter of the current source, in timestamp units.
    pub jitter: u32,
}

/// The receive statistics of one leg (one media line): its sources.
#[derive(Clone, Debug)]
pub struct ReceiveStats {
    clock_rate: u32,
    epoch: Option<Instant>,
    sources: [Option<SourceStats>; MAX_SOURCES],
}

impl ReceiveStats {
    /// Statistics for a stream with this RTP clock rate (8000 for G.711).
    pub fn new(clock_rate: u32) -> ReceiveStats {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            epoch: None,
            sources: [None; MAX_SOURCES],
        }
    }

    /// The RTP clock rate jitter is measured in.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Changes the clock rate (a codec change); jitter restarts per source.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
        for s in self.sources.iter_mut().flatten() {
            s.transit = None;
        }
    }

    /// Notes one received RTP packet (`payload_len`: its UDP payload length).
    pub fn on_rtp(&mut self, now: Instant, header: &RtpHeader, payload_len: usize) -> Arrival {
        self.on_rtp_timed(now, header, payload_len, true)
    }

    /// [`on_rtp`](Self::on_rtp) for a packet whose timestamp may not follow
    /// the sampling clock (`timed` false: an RFC 4733 event's packets all
    /// carry the event's start): counted in the sequence, left out of the
    /// jitter, which would otherwise read 20 ms per packet of every digit.
    pub fn on_rtp_timed(
        &mut self,
        now: Instant,
        header: &RtpHeader,
        payload_len: usize,
        timed: bool,
    ) -> Arrival {
        let epoch = *self.epoch.get_or_insert(now);
        let clock_rate = self.clock_rate;
        let source = self.source_mut(header.ssrc, header.seq, now);
        source.packets += 1;
        source.bytes += payload_len as u64;
        source.last_arrival = now;
        let verdict = source.update_seq(header.seq);
        match verdict {
            Arrival::InOrder | Arrival::Late | Arrival::Restarted => {
                source.heard_since_report = true;
                if timed {
                    let arrival = rtp_units(now.saturating_duration_since(epoch), clock_rate);
                    source.update_jitter(arrival, header.timestamp);
                }
            }
            Arrival::Duplicate | Arrival::Probation => {}
        }
        verdict
    }

    /// Notes an SR received from `ssrc` at `now` (for LSR/DLSR in our reports).
    pub fn on_sender_report(&mut self, now: Instant, ssrc: Ssrc, ntp: NtpTime) {
        if let Some(s) = self.sources.iter_mut().flatten().find(|s| s.ssrc == ssrc) {
            s.last_sr = Some((ntp, now));
        }
    }

    /// Forgets a source that said BYE.
    pub fn on_bye(&mut self, ssrc: Ssrc) {
        for slot in &mut self.sources {
            if slot.is_some_and(|s| s.ssrc == ssrc) {
                *slot = None;
            }
        }
    }

    fn source_mut(&mut self, ssrc: Ssrc, seq: u16, now: Instant) -> &mut SourceStats {
        // By reference: a `SourceStats` is ~150 octets, and this runs per packet.
        let index = self
            .sources
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.ssrc == ssrc))
            .or_else(|| self.sources.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                // All slots taken: reuse the one heard from least recently.
                let mut oldest = 0;
                for (i, s) in self.sources.iter().enumerate() {
                    if let (Some(s), Some(o)) = (s, &self.sources[oldest])
                        && s.last_arrival < o.last_arrival
                    {
                        oldest = i;
                    }
                }
                oldest
            });
        let slot = &mut self.sources[index];
        if !slot.as_ref().is_some_and(|s| s.ssrc == ssrc) {
            *slot = Some(SourceStats::new(ssrc, seq, now));
        }
        slot.get_or_insert_with(|| SourceStats::new(ssrc, seq, now))
    }

    /// The sources tracked.
    pub fn sources(&self) -> impl Iterator<Item = &SourceStats> {
        self.sources.iter().flatten()
    }

    /// The source heard from last (the one a summary describes).
    pub fn current(&self) -> Option<&SourceStats> {
        self.sources().max_by_key(|s| s.last_arrival)
    }

    /// Writes report blocks for the valid sources heard since the last report
    /// into `out`; returns how many.
    pub fn report_blocks(&mut self, now: Instant, out: &mut [ReportBlock; MAX_SOURCES]) -> usize {
        let mut n = 0;
        for s in self.sources.iter_mut().flatten() {
            if s.is_valid() && s.heard_since_report {
                out[n] = s.report_block(now);
                n += 1;
            }
        }
        n
    }

    /// The leg's totals over every source tracked (a new SSRC after a
    /// re-INVITE keeps the earlier one's loss in the sum).
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in self.sources() {
            t.packets += s.packets;
            t.bytes += s.bytes;
            t.expected += s.prior_expected;
            t.lost += s.prior_lost;
            if s.is_valid() {
                t.expected += u64::from(s.expected());
                t.lost += u64::try_from(s.lost()).unwrap_or(0);
            }
            t.out_of_order += s.late;
            t.duplicates += s.duplicates;
        }
        t.jitter = self.current().map_or(0, SourceStats::jitter);
        t
    }

    /// Jitter of the current source in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.current().map_or(0.0, |s| {
            f64::from(s.jitter()) * 1000.0 / f64::from(self.clock_rate)
        })
    }
}

/// A time since the epoch in RTP timestamp units (wrapping, as RTP does).
/// Microseconds are precise enough (a unit is 125 µs at 8 kHz, 21 µs at
/// 48 kHz) and keep the product in u64 for millennia: no u128 division per packet.
fn rtp_units(since_epoch: Duration, clock_rate: u32) -> u32 {
    let micros = u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX);
    (micros.saturating_mul(u64::from(clock_rate)) / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::PayloadType;

    const SSRC: Ssrc = Ssrc(0x5eed);

    fn header(ssrc: Ssrc, seq: u16, timestamp: u32) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: PayloadType(8),
            seq,
            timestamp,
            ssrc,
        }
    }

    /// Feeds packets `seqs` of a 20 ms G.711 stream, each sent on time and
    /// delayed by `delay_us(i)`; returns the statistics.
    fn feed(seqs: impl IntoIterator<Item = u16>, delay_us: impl Fn(usize) -> u64) -> ReceiveStats {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        for (i, seq) in seqs.into_iter().enumerate() {
            let sent = u64::from(seq.wrapping_sub(1000)) * 20_000;
            let now = t0 + Duration::from_micros(sent + delay_us(i));
            let ts = u32::from(seq.wrapping_sub(1000)) * 160;
            stats.on_rtp(now, &header(SSRC, seq, ts), 172);
        }
        stats
    }

    #[test]
    fn in_order_stream_loses_nothing() {
        let mut stats = feed(1000..2000, |_| 0);
        let s = stats.current().unwrap();
        assert!(s.is_valid());
        assert_eq!(s.packets(), 1000);
        assert_eq!(s.bytes(), 172_000);
        // Probation took the first packet: the RFC's count starts at the second.
        assert_eq!(s.expected(), 999);
        assert_eq!(s.received(), 999);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.jitter(), 0, "a perfectly paced stream has no jitter");
        let mut out = [block0(); MAX_SOURCES];
        assert_eq!(stats.report_blocks(Instant::now(), &mut out), 1);
        assert_eq!(out[0].fraction_lost, 0);
        assert_eq!(out[0].highest_seq, 1999);
    }

    fn block0() -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(0),
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 0,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    }

    #[test]
    fn every_tenth_lost_is_ten_percent_and_25_of_256() {
        // Packets 1000..=1001 pass probation, then 1002..3002 with every tenth dropped.
        let seqs = (1000..3002u16).filter(|s| *s < 1002 || s % 10 != 5);
        let mut stats = feed(seqs, |_| 0);
        let mut out = [block0(); MAX_SOURCES];
        stats.report_blocks(Instant::now(), &mut out);
        let s = stats.current().unwrap();
        assert_eq!(s.expected(), 2001);
        assert_eq!(s.lost(), 200);
        assert_eq!(out[0].cumulative_lost, 200);
        assert_eq!(out[0].fraction_lost, 25, "10% is 25.6/256, truncated (A.3)");
        // The next interval without loss reports 0.
        let t = Instant::now();
        for seq in 3002..3100u16 {
            stats.on_rtp(t, &header(SSRC, seq, u32::from(seq) * 160), 172);
        }
        stats.report_blocks(t, &mut out);
        assert_eq!(out[0].fraction_lost, 0);
        assert_eq!(out[0].cumulative_lost, 200);
    }

    #[test]
    fn reordering_counts_late_not_lost() {
        let mut seqs: Vec<u16> = (1000..1100).collect();
        seqs.swap(50, 51);
        seqs.swap(70, 73);
        let stats = feed(seqs, |_| 0);
        let s = stats.current().unwrap();
        // 1050 after 1051; 1071, 1072 and 1070 after 1073.
        assert_eq!(s.out_of_order(), 4);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.duplicates(), 0);
    }

    #[test]
    fn duplicates_are_counted_and_not_received() {
        let seqs = (1000..1100u16).flat_map(|s| if s % 10 == 0 { vec![s, s] } else { vec![s] });
        let mut with_late_dup: Vec<u16> = seqs.collect();
        with_late_dup.push(1090); // a duplicate from 9 packets back
        let stats = feed(with_late_dup, |_| 0);
        let s = stats.current().unwrap();
        // 1000's duplicate came in probation; 1010..1090 doubled, 1090 thrice.
        assert_eq!(s.duplicates(), 10);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.out_of_order(), 0);
    }

    #[test]
    fn sequence_wrap_extends_the_highest_sequence() {
        let seqs = (0..200u16).map(|i| 65_500u16.wrapping_add(i));
        let stats = feed(seqs, |_| 0);
        let s = stats.current().unwrap();
        assert_eq!(s.extended_max(), (1 << 16) + 163);
        assert_eq!(s.expected(), 199);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn big_jump_resyncs_after_two_in_sequence() {
        let mut seqs: Vec<u16> = (1000..1010).collect();
        seqs.extend([20_000, 20_001, 20_002]);
        let stats = feed(seqs, |_| 0);
        let s = stats.current().unwrap();
        assert_eq!(s.restarts(), 1);
        assert_eq!(s.expected(), 2);
        assert_eq!(s.received(), 2);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.packets(), 13);
    }

    #[test]
    fn totals_keep_the_loss_before_a_restart_and_of_an_earlier_source() {
        // 1002 and 1005 lost, then a restart at 20000 with 20003 lost.
        let mut seqs: Vec<u16> = vec![1000, 1001, 1003, 1004, 1006];
        seqs.extend([20_000, 20_001, 20_002, 20_004, 20_004]);
        let mut stats = feed(seqs, |_| 0);
        let t = stats.totals();
        assert_eq!((t.expected, t.lost), (6 + 4, 2 + 1));
        assert_eq!((t.packets, t.duplicates), (10, 1));
        // A new SSRC (a re-INVITE): its loss adds to the first one's.
        let later = Instant::now() + Duration::from_secs(600);
        for (i, seq) in [7u16, 8, 10].into_iter().enumerate() {
            let at = later + Duration::from_millis(20 * i as u64);
            stats.on_rtp(at, &header(Ssrc(2), seq, 0), 172);
        }
        let t = stats.totals();
        assert_eq!((t.expected, t.lost, t.packets), (10 + 3, 3 + 1, 13));
    }

    #[test]
    fn ssrc_change_is_a_new_source() {
        let t = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        for seq in 0..10u16 {
            stats.on_rtp(t, &header(Ssrc(1), seq, 0), 172);
        }
        for seq in 500..505u16 {
            stats.on_rtp(t + Duration::from_secs(1), &header(Ssrc(2), seq, 0), 172);
        }
        assert_eq!(stats.sources().count(), 2);
        assert_eq!(stats.current().unwrap().ssrc(), Ssrc(2));
        assert_eq!(stats.current().unwrap().received(), 4);
        // More sources than slots: the oldest slot goes.
        for n in 3..=6u32 {
            stats.on_rtp(t + Duration::from_secs(n.into()), &header(Ssrc(n), 1, 0), 1);
        }
        assert_eq!(stats.sources().count(), MAX_SOURCES);
        assert!(
            stats
                .sources()
                .all(|s| s.ssrc() != Ssrc(1) && s.ssrc() != Ssrc(2))
        );
        stats.on_bye(Ssrc(6));
        assert_eq!(stats.sources().count(), MAX_SOURCES - 1);
    }

    #[test]
    fn jitter_of_alternating_delay_converges() {
        // Delay alternates 0 and 10 ms: |D| is 10 ms = 80 units on every
        // packet, so J converges to 80 units (10 ms).
        let stats = feed(1000..2000, |i| if i % 2 == 0 { 0 } else { 10_000 });
        let s = stats.current().unwrap();
        assert!((79..=80).contains(&s.jitter()), "{}", s.jitter());
        assert!((stats.jitter_ms() - 10.0).abs() < 0.2);
    }

    #[test]
    fn jitter_of_uniform_random_delay_matches_theory() {
        // Delays uniform in [0, x): E|D1 - D2| = x/3.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let delays: Vec<u64> = (0..20_000).map(|_| rng.random_range(0..30_000)).collect();
        let stats = feed(
            (0..20_000u32).map(|i| 1000u16.wrapping_add(i as u16)),
            |i| delays[i],
        );
        let ms = stats.jitter_ms();
        assert!((ms - 10.0).abs() < 2.0, "{ms}");
    }

    #[test]
    fn dlsr_is_in_65536ths() {
        assert_eq!(dlsr_units(Duration::from_millis(1500)), 0x0001_8000);
        assert_eq!(dlsr_units(Duration::from_secs(1 << 20)), u32::MAX);
    }

    #[test]
    fn report_carries_lsr_and_dlsr() {
        let t = Instant::now();
        let mut stats = feed(1000..1010, |_| 0);
        stats.on_sender_report(t, SSRC, NtpTime(0xe89f_6a00_8000_0000));
        let mut out = [block0(); MAX_SOURCES];
        // Nothing new heard since the last block? Blocks need new packets.
        stats.on_rtp(t, &header(SSRC, 1010, 1010 * 160), 172);
        assert_eq!(
            stats.report_blocks(t + Duration::from_millis(250), &mut out),
            1
        );
        assert_eq!(out[0].last_sr, 0x6a00_8000);
        assert_eq!(out[0].delay_since_last_sr, 0x4000);
        assert_eq!(stats.report_blocks(t, &mut out), 0, "nothing heard since");
    }
}
