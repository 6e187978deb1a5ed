//! Counters the session task publishes and the session and engine read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::counters::LegCounters;
use crate::latch::{LegState, MixTotals};
use crate::quality::{LegQuality, QualityFigures, RemoteFigures, Totals, mos};

/// A region's media plane at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionStats {
    /// RTP/RTCP port pairs allocated now.
    pub ports_in_use: usize,
    /// Port pairs in the region's range(s).
    pub capacity: usize,
    /// RTP packets relayed that arrived on this region's sockets.
    pub packets_relayed: u64,
    /// RTCP packets relayed that arrived on this region's sockets.
    pub rtcp_relayed: u64,
    /// Datagrams dropped on arrival from a source that may not latch
    /// (RTP hijack attempts, strays of an earlier call).
    pub dropped_foreign: u64,
    /// Datagrams dropped on arrival as none of RTP, RTCP, DTLS or STUN.
    pub dropped_invalid: u64,
    /// Packets that could not be sent on: no target known yet, the socket's
    /// send buffer full, or a media line the bridged leg does not have.
    pub dropped_unsent: u64,
    /// SRTP/SRTCP packets dropped: failed authentication, replays, or not
    /// protectable for the leg they were meant for.
    pub dropped_srtp: u64,
    /// RTP packets voxgate generated and sent from this region's sockets
    /// (prompts, tones, DTMF, conference mixes).
    pub packets_generated: u64,
    /// Endpoints that could not be anchored: every port pair of the pool
    /// for the peer's address family was taken (the call got 503).
    pub ports_exhausted: u64,
    /// RTP packets relayed with their payload transcoded into the receiving
    /// leg's codec, by the region they arrived in.
    pub packets_transcoded: u64,
}

/// The node's conferences at a glance (every session's mixers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Conferences with at least one participant now.
    pub conferences_active: u64,
    /// 20 ms frames mixed.
    pub frames_mixed: u64,
    /// Frames skipped after a session task woke too late (nobody heard them).
    pub frames_skipped: u64,
    /// Participants' packets dropped for arriving after their frame was mixed.
    pub packets_late: u64,
}

/// The node's mixing counters, added to by each session task when its
/// totals move (at most once per frame).
#[derive(Debug, Default)]
pub(crate) struct MixerCounters {
    pub(crate) conferences: AtomicU64,
    pub(crate) frames: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) late: AtomicU64,
}

impl MixerCounters {
    /// Adds what moved from `old` to `new` (one session's totals).
    pub(crate) fn publish(&self, old: &MixTotals, new: &MixTotals) {
        let up = |c: &AtomicU64, a: u64, b: u64| {
            if b > a {
                c.fetch_add(b - a, Ordering::Relaxed);
            }
        };
        up(&self.frames, old.frames, new.frames);
        up(&self.skipped, old.skipped, new.skipped);
        up(&self.late, old.late, new.late);
        let (a, b) = (old.conferences as u64, new.conferences as u64);
        if b > a {
            self.conferences.fetch_add(b - a, Ordering::Relaxed);
        } else if a > b {
            self.conferences.fetch_sub(a - b, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> MixerStats {
        MixerStats {
            conferences_active: self.conferences.load(Ordering::Relaxed),
            frames_mixed: self.frames.load(Ordering::Relaxed),
            frames_skipped: self.skipped.load(Ordering::Relaxed),
            packets_late: self.late.load(Ordering::Relaxed),
        }
    }
}

/// Relayed-packet counters of one region, added to once per batch.
#[derive(Debug, Default)]
pub(crate) struct RegionCounters {
    pub(crate) rtp: AtomicU64,
    pub(crate) rtcp: AtomicU64,
    pub(crate) foreign: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) unsent: AtomicU64,
    pub(crate) srtp: AtomicU64,
    pub(crate) generated: AtomicU64,
    /// Endpoints refused: no free port pair.
    pub(crate) exhausted: AtomicU64,
    pub(crate) transcoded: AtomicU64,
}

/// One endpoint on one media line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets, bytes, drops.
    pub counters: LegCounters,
    /// Reception quality: loss, jitter, reordering, duplicates, the peer's
    /// RTCP view, RTT.
    pub quality: QualityFigures,
    /// The peer's RTP source, once latched.
    pub latched_rtp: Option<SocketAddr>,
    /// The peer's RTCP source, once latched.
    pub latched_rtcp: Option<SocketAddr>,
}

/// An endpoint's counters per media line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Per media line.
    pub lines: Vec<LegStats>,
    /// The line that carries the voice (the first audio line; 0 until the
    /// leg's format is known).
    pub voice_line: usize,
}

/// A leg's media as the conversation records it: counters summed over its
/// lines and the call quality of its voice line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegMediaStats {
    /// Packets, bytes, drops (all lines).
    pub counters: LegCounters,
    /// Loss, jitter, reordering, duplicates, the peer's view, RTT, MOS.
    pub quality: LegQuality,
}

impl EndpointStats {
    /// The call quality of the voice line. The MOS assumes G.711 with
    /// packet-loss concealment, the only codec voxgate negotiates.
    pub fn quality(&self) -> LegQuality {
        self.lines
            .get(self.voice_line)
            .map(|l| LegQuality::from_figures(&l.quality, mos::G711_PLC))
            .unwrap_or_default()
    }

    /// Counters and quality, as the conversation records them.
    pub fn media(&self) -> LegMediaStats {
        LegMediaStats {
            counters: self.total(),
            quality: self.quality(),
        }
    }

    /// The counters summed over the lines.
    pub fn total(&self) -> LegCounters {
        let mut sum = LegCounters::default();
        for leg in &self.lines {
            sum.add(&leg.counters);
        }
        sum
    }
}

/// The session's clock of activity, shared with its task.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last activity.
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new(epoch: Instant) -> Activity {
        Activity {
            epoch,
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self, now: Instant) {
        let ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub(crate) fn last(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// One endpoint's published counters and latched addresses, per line.
#[derive(Debug)]
pub(crate) struct EndpointShared {
    lines: Vec<LineShared>,
    voice_line: AtomicUsize,
}

impl EndpointShared {
    pub(crate) fn new(lines: usize) -> EndpointShared {
        EndpointShared {
            lines: (0..lines).map(|_| LineShared::default()).collect(),
            voice_line: AtomicUsize::new(0),
        }
    }

    /// Publishes one line's counters and quality; the latched addresses
    /// only when they changed.
    pub(crate) fn publish(
        &self,
        line: usize,
        voice_line: usize,
        leg: &LegState,
        latch_changed: bool,
        quality: bool,
    ) {
        if let Some(l) = self.lines.get(line) {
            l.publish(leg, latch_changed, quality);
        }
        self.voice_line.store(voice_line, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            lines: self.lines.iter().map(LineShared::load).collect(),
            voice_line: self.voice_line.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Default)]
struct LineShared {
    counters: AtomicCounters,
    quality: AtomicQuality,
    /// Written only when a latch changes (rare), read by `stats()`.
    latched: Mutex<(Option<SocketAddr>, Option<SocketAddr>)>,
}

impl LineShared {
    fn publish(&self, leg: &LegState, latch_changed: bool, quality: bool) {
        self.counters.store(leg.counters());
        if quality {
            self.quality.store(&leg.quality().figures());
        }
        if latch_changed {
            let mut latched = self.latched.lock().unwrap_or_else(PoisonError::into_inner);
            *latched = (leg.latched_rtp(), leg.latched_rtcp().map(|(_, a)| a));
        }
    }

    fn load(&self) -> LegStats {
        let (latched_rtp, latched_rtcp) =
            *self.latched.lock().unwrap_or_else(PoisonError::into_inner);
        LegStats {
            counters: self.counters.load(),
            quality: self.quality.load(),
            latched_rtp,
            latched_rtcp,
        }
    }
}

/// [`LegCounters`] as atomics. Each is written by the session's task only.
#[derive(Debug, Default)]
struct AtomicCounters([AtomicU64; 13]);

impl AtomicCounters {
    fn store(&self, c: &LegCounters) {
        let values = [
            c.rtp_packets,
            c.rtp_bytes,
            c.rtcp_sent,
            c.rtcp_packets,
            c.rtcp_bytes,
            c.invalid,
            c.foreign,
            c.sent,
            c.dropped,
            c.dtls,
            c.stun,
            c.srtp,
            c.transcoded,
        ];
        for (a, v) in self.0.iter().zip(values) {
            a.store(v, Ordering::Relaxed);
        }
    }

    fn load(&self) -> LegCounters {
        let [
            rtp_packets,
            rtp_bytes,
            rtcp_sent,
            rtcp_packets,
            rtcp_bytes,
            invalid,
            foreign,
            sent,
            dropped,
            dtls,
            stun,
            srtp,
            transcoded,
        ] = self.0.each_ref().map(|a| a.load(Ordering::Relaxed));
        LegCounters {
            rtp_packets,
            rtp_bytes,
            rtcp_sent,
            rtcp_packets,
            rtcp_bytes,
            invalid,
            dtls,
            stun,
            foreign,
            sent,
            dropped,
            srtp,
            transcoded,
        }
    }
}

/// [`QualityFigures`] as atomics, written by the session's task only.
/// Packed: jitter with the clock rate, the peer's fraction and cumulative
/// loss in one word (bit 0 says a report came), `u64::MAX` for no RTT.
#[derive(Debug, Default)]
struct AtomicQuality([AtomicU64; 10]);

const NONE: u64 = u64::MAX;

impl AtomicQuality {
    fn store(&self, f: &QualityFigures) {
        let t = &f.totals;
        let (remote, remote_jitter) = match f.remote {
            Some(r) => (
                1 | u64::from(r.fraction_lost) << 8 | u64::from(r.cumulative_lost as u32) << 32,
                u64::from(r.jitter),
            ),
            None => (0, 0),
        };
        let values = [
            t.packets,
            t.bytes,
            t.expected,
            t.lost,
            t.out_of_order,
            t.duplicates,
            u64::from(t.jitter) | u64::from(f.clock_rate) << 32,
            remote,
            remote_jitter,
            f.rtt_us.unwrap_or(NONE),
        ];
        for (a, v) in self.0.iter().zip(values) {
            a.store(v, Ordering::Relaxed);
        }
    }

    fn load(&self) -> QualityFigures {
        let [
            packets,
            bytes,
            expected,
            lost,
            out_of_order,
            duplicates,
            jitter,
            remote,
            remote_jitter,
            rtt_us,
        ] = self.0.each_ref().map(|a| a.load(Ordering::Relaxed));
        QualityFigures {
            totals: Totals {
                packets,
                bytes,
                expected,
                lost,
                out_of_order,
                duplicates,
                jitter: jitter as u32,
            },
            clock_rate: (jitter >> 32) as u32,
            remote: (remote & 1 == 1).then_some(RemoteFigures {
                fraction_lost: (remote >> 8) as u8,
                cumulative_lost: (remote >> 32) as u32 as i32,
                jitter: remote_jitter as u32,
            }),
            rtt_us: (rtt_us != NONE).then_some(rtt_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_figures_survive_the_atomics() {
        let figures = QualityFigures {
            totals: Totals {
                packets: 901,
                bytes: 154_972,
                expected: 1000,
                lost: 99,
                out_of_order: 3,
                duplicates: 2,
                jitter: 17,
            },
            clock_rate: 48_000,
            remote: Some(RemoteFigures {
                fraction_lost: 25,
                cumulative_lost: -3,
                jitter: 80,
            }),
            rtt_us: Some(81_000),
        };
        let a = AtomicQuality::default();
        a.store(&figures);
        assert_eq!(a.load(), figures);
        let quiet = QualityFigures {
            clock_rate: 8000,
            ..QualityFigures::default()
        };
        a.store(&quiet);
        assert_eq!(a.load(), quiet);
    }
}
