//! Counters the line tasks publish and the session and engine read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;

use crate::counters::LegCounters;
use crate::latch::{LegState, Side};

/// A region's media plane at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionStats {
    /// RTP/RTCP port pairs allocated now.
    pub ports_in_use: usize,
    /// Port pairs in the region's range.
    pub capacity: usize,
    /// RTP packets relayed that arrived on this region's sockets.
    pub packets_relayed: u64,
    /// RTCP packets relayed that arrived on this region's sockets.
    pub rtcp_relayed: u64,
}

/// Relayed-packet counters of one region, added to once per batch.
#[derive(Debug, Default)]
pub(super) struct RegionCounters {
    pub(super) rtp: AtomicU64,
    pub(super) rtcp: AtomicU64,
}

/// One leg of one media line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets, bytes, gaps, drops.
    pub counters: LegCounters,
    /// The peer's RTP source, once latched.
    pub latched_rtp: Option<SocketAddr>,
    /// The peer's RTCP source, once latched.
    pub latched_rtcp: Option<SocketAddr>,
}

/// A session's counters per side and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStats {
    /// Leg A, per media line.
    pub a: Vec<LegStats>,
    /// Leg B, per media line.
    pub b: Vec<LegStats>,
    /// The last RTP/RTCP from either peer (or the open, or the last hold change).
    pub last_activity: std::time::Instant,
}

impl SessionStats {
    /// One side's lines.
    pub fn side(&self, side: Side) -> &[LegStats] {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// One side's counters summed over its lines.
    pub fn total(&self, side: Side) -> LegCounters {
        let mut sum = LegCounters::default();
        for leg in self.side(side) {
            sum.add(&leg.counters);
        }
        sum
    }
}

/// State shared between a session and its line tasks.
#[derive(Debug)]
pub(super) struct SessionShared {
    pub(super) epoch: Instant,
    /// Milliseconds since `epoch` of the last activity.
    pub(super) last_activity_ms: AtomicU64,
    pub(super) lines: Vec<LineShared>,
}

impl SessionShared {
    pub(super) fn new(epoch: Instant, lines: usize) -> SessionShared {
        SessionShared {
            epoch,
            last_activity_ms: AtomicU64::new(0),
            lines: (0..lines).map(|_| LineShared::default()).collect(),
        }
    }

    pub(super) fn snapshot(&self) -> SessionStats {
        let side = |s: Side| -> Vec<LegStats> { self.lines.iter().map(|l| l.load(s)).collect() };
        SessionStats {
            a: side(Side::A),
            b: side(Side::B),
            last_activity: self.last_activity().into_std(),
        }
    }
}

/// One line's published counters and latched addresses.
#[derive(Debug, Default)]
pub(super) struct LineShared {
    counters: [AtomicCounters; 2],
    /// Written only when a latch changes (rare), read by `stats()`.
    latched: Mutex<[(Option<SocketAddr>, Option<SocketAddr>); 2]>,
}

impl LineShared {
    /// Publishes a leg's counters; the latched addresses only when they changed.
    pub(super) fn publish(&self, side: Side, leg: &LegState, latch_changed: bool) {
        self.counters[side.index()].store(leg.counters());
        if latch_changed {
            let mut latched = self.latched.lock().unwrap_or_else(PoisonError::into_inner);
            latched[side.index()] = (leg.latched_rtp(), leg.latched_rtcp().map(|(_, a)| a));
        }
    }

    fn load(&self, side: Side) -> LegStats {
        let (latched_rtp, latched_rtcp) =
            self.latched.lock().unwrap_or_else(PoisonError::into_inner)[side.index()];
        LegStats {
            counters: self.counters[side.index()].load(),
            latched_rtp,
            latched_rtcp,
        }
    }
}

/// [`LegCounters`] as atomics. Each field is written by one task only.
#[derive(Debug, Default)]
struct AtomicCounters([AtomicU64; 9]);

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
        ] = self.0.each_ref().map(|a| a.load(Ordering::Relaxed));
        LegCounters {
            rtp_packets,
            rtp_bytes,
            seq_gaps,
            rtcp_packets,
            rtcp_bytes,
            invalid,
            foreign,
            sent,
            dropped,
        }
    }
}
