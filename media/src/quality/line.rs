//! One media line's call quality as the relay keeps it: the RFC 3550
//! statistics of what the line's peer sends, what the peer's RTCP reports
//! say about what it receives, and the round-trip time.
//!
//! The relay feeds it every admitted plain RTP packet (one call, O(1), no
//! allocation) and every plain RTCP compound the peer sends (parsed in place;
//! a malformed one is applied up to the fault and otherwise ignored: it is
//! still relayed as it is). The round-trip time needs an SR that went *to*
//! the peer: voxgate's own, or one the bridged peer sent that was relayed
//! (RFC 3550 §6.4.1: `A − LSR − DLSR`, with `A − LSR` measured here as the
//! time since that SR left, so no two clocks need to agree).

use std::time::{Duration, Instant};

use crate::quality::report::RemoteView;
use crate::quality::rtcp::{Compound, ReportBlocks, RtcpPacket};
use crate::quality::stats::ReceiveStats;
use crate::rtp::{PayloadType, RtpHeader, Ssrc};

/// SRs to the peer remembered for matching the LSR of its reports: a report
/// answers one of the last few, reports and SRs going at similar intervals.
const SRS_KEPT: usize = 4;

/// The figures of one line, plain integers (published per batch by the
/// relay task, turned into a [`LegQuality`](super::LegQuality) when read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QualityFigures {
    /// What the peer sent, summed over its sources.
    pub totals: super::stats::Totals,
    /// The RTP clock jitter is counted in.
    pub clock_rate: u32,
    /// The peer's last report block about the stream it receives from us.
    pub remote: Option<RemoteFigures>,
    /// Round-trip time in microseconds, once measured.
    pub rtt_us: Option<u64>,
}

/// The numbers of a report block from the peer about our stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoteFigures {
    /// Fraction lost in its last interval, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost.
    pub cumulative_lost: i32,
    /// Its interarrival jitter of our stream, in timestamp units.
    pub jitter: u32,
}

/// One line's reception quality and its peer's view (see the module docs).
#[derive(Clone, Debug)]
pub struct LineQuality {
    stats: ReceiveStats,
    /// The payload type of the peer's RFC 4733 events: not in the jitter.
    event_pt: Option<PayloadType>,
    remote: Option<RemoteView>,
    rtt: Option<Duration>,
    /// The LSR value (middle 32 bits of the NTP time) of SRs sent to the
    /// peer, and when they left.
    srs: [Option<(u32, Instant)>; SRS_KEPT],
    next_sr: usize,
}

impl Default for LineQuality {
    fn default() -> Self {
        LineQuality::new(8000)
    }
}

impl LineQuality {
    /// Nothing heard yet; jitter in units of `clock_rate`.
    pub fn new(clock_rate: u32) -> LineQuality {
        LineQuality {
            stats: ReceiveStats::new(clock_rate),
            event_pt: None,
            remote: None,
            rtt: None,
            srs: [None; SRS_KEPT],
            next_sr: 0,
        }
    }

    /// The receive statistics (a report of ours writes its blocks from them).
    pub fn stats(&self) -> &ReceiveStats {
        &self.stats
    }

    /// The receive statistics, to write report blocks (which starts a new
    /// interval for the fraction lost).
    pub fn stats_mut(&mut self) -> &mut ReceiveStats {
        &mut self.stats
    }

    /// What the leg negotiated: the clock the jitter is counted in (a
    /// change restarts it) and the payload type of the peer's RFC 4733
    /// events, whose timestamps stand still for a whole digit.
    pub fn set_format(&mut self, clock_rate: u32, event_pt: Option<PayloadType>) {
        if self.stats.clock_rate() != clock_rate.max(1) {
            self.stats.set_clock_rate(clock_rate);
        }
        self.event_pt = event_pt;
    }

    /// Notes an admitted plain RTP packet of `len` octets from the peer.
    #[inline]
    pub fn on_rtp(&mut self, now: Instant, header: &RtpHeader, len: usize) {
        let timed = Some(header.payload_type) != self.event_pt;
        self.stats.on_rtp_timed(now, header, len, timed);
    }

    /// Reads a plain compound RTCP packet from the peer: its SRs (for the
    /// LSR/DLSR of our reports) and its report block about our stream (the
    /// far end's loss and jitter; the RTT when it answers an SR we noted).
    /// Returns the LSR value of an SR in it, for the line it is relayed to.
    pub fn on_rtcp(&mut self, now: Instant, data: &[u8]) -> Option<u32> {
        let mut sr = None;
        for packet in Compound::new(data) {
            // What came before a malformed packet counts; nothing after can be framed.
            let Ok(packet) = packet else { break };
            match packet {
                RtcpPacket::SenderReport(r) => {
                    self.stats.on_sender_report(now, r.ssrc, r.info.ntp);
                    sr = Some(r.info.ntp.middle());
                    self.on_blocks(now, r.ssrc, r.blocks);
                }
                RtcpPacket::ReceiverReport(r) => self.on_blocks(now, r.ssrc, r.blocks),
                // A BYE does not drop the source's statistics: they are the
                // leg's record until it ends.
                RtcpPacket::Sdes(_) | RtcpPacket::Bye(_) | RtcpPacket::Unknown { .. } => {}
            }
        }
        sr
    }

    /// The peer's block about what it receives: the first about a source
    /// other than its own (a two-party peer receives one stream: ours,
    /// voxgate's own or relayed through it).
    fn on_blocks(&mut self, now: Instant, reporter: Ssrc, blocks: ReportBlocks<'_>) {
        let Some(block) = blocks.iter().find(|b| b.ssrc != reporter) else {
            return;
        };
        self.remote = Some(RemoteView {
            reporter,
            fraction_lost: block.fraction_lost,
            cumulative_lost: block.cumulative_lost,
            jitter: block.jitter,
            highest_seq: block.highest_seq,
            at: now,
        });
        if block.last_sr == 0 {
            return;
        }
        let Some(sent) = self
            .srs
            .iter()
            .flatten()
            .find(|(lsr, _)| *lsr == block.last_sr)
            .map(|(_, at)| *at)
        else {
            return;
        };
        // §6.4.1: the time since the SR left, less the time the peer held it.
        let held = Duration::from_micros((u64::from(block.delay_since_last_sr) * 1_000_000) >> 16);
        // Held longer than it has been away: a glitch; keep the last figure.
        if let Some(rtt) = now.saturating_duration_since(sent).checked_sub(held) {
            self.rtt = Some(rtt);
        }
    }

    /// An SR with this LSR value went to the peer at `at`.
    pub fn sr_sent(&mut self, lsr: u32, at: Instant) {
        self.srs[self.next_sr] = Some((lsr, at));
        self.next_sr = (self.next_sr + 1) % SRS_KEPT;
    }

    /// The round-trip time to the peer, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The peer's last report about our stream.
    pub fn remote(&self) -> Option<&RemoteView> {
        self.remote.as_ref()
    }

    /// RTP packets received from the peer.
    pub fn packets(&self) -> u64 {
        self.stats.sources().map(|s| s.packets()).sum()
    }

    /// The line's figures now.
    pub fn figures(&self) -> QualityFigures {
        QualityFigures {
            totals: self.stats.totals(),
            clock_rate: self.stats.clock_rate(),
            remote: self.remote.map(|r| RemoteFigures {
                fraction_lost: r.fraction_lost,
                cumulative_lost: r.cumulative_lost,
                jitter: r.jitter,
            }),
            rtt_us: self
                .rtt
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        }
    }
}

#[cfg(test)]
mod tests;
