//! Counters the session task publishes and the session and engine read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::counters::LegCounters;
use crate::latch::{LegState, MixTotals};

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
    /// Packets, bytes, gaps, drops.
    pub counters: LegCounters,
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
}

impl EndpointStats {
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
}

impl EndpointShared {
    pub(crate) fn new(lines: usize) -> EndpointShared {
        EndpointShared {
            lines: (0..lines).map(|_| LineShared::default()).collect(),
        }
    }

    /// Publishes one line's counters; the latched addresses only when they changed.
    pub(crate) fn publish(&self, line: usize, leg: &LegState, latch_changed: bool) {
        if let Some(l) = self.lines.get(line) {
            l.publish(leg, latch_changed);
        }
    }

    pub(crate) fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            lines: self.lines.iter().map(LineShared::load).collect(),
        }
    }
}

#[derive(Debug, Default)]
struct LineShared {
    counters: AtomicCounters,
    /// Written only when a latch changes (rare), read by `stats()`.
    latched: Mutex<(Option<SocketAddr>, Option<SocketAddr>)>,
}

impl LineShared {
    fn publish(&self, leg: &LegState, latch_changed: bool) {
        self.counters.store(leg.counters());
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
            c.seq_gaps,
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
            seq_gaps,
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
            seq_gaps,
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
