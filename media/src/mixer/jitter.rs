//! A participant's jitter buffer: a few 20 ms frames held in fixed slots,
//! ordered by RTP timestamp, played out one frame per mixer tick.
//!
//! Fixed depth (no adaptation yet): playout starts `depth` frames behind the
//! first packet, so up to `depth × 20 ms` of jitter is absorbed. A packet
//! older than the frame being played is late: dropped and counted. Three late
//! packets in a row mean the sender's clock runs slow against ours (or its
//! timestamps jumped back): playout is re-anchored on the newest one. A packet
//! further ahead than the buffer holds means the sender's clock runs fast, or
//! a talk spurt resumed after silence suppression: re-anchored too.
//!
//! Payloads are kept encoded and decoded at playout, in order, so a stateful
//! codec (Opus, later) sees its frames in sequence and knows of each loss.
//!
//! Hand-written: the jitter buffers on crates.io take a heap buffer per
//! packet (rtp-engine's `JitterBuffer::push(seq, ts, Vec<u8>)`) or keep
//! packets in a binary heap released by their own futures timers (jittr),
//! which a sans-IO core fed `(now, input)` cannot use; this one is a fixed
//! array, allocated once at join.

/// Samples in one 20 ms frame at 8 kHz: the mixer's unit of time.
pub use crate::frame::FRAME_SAMPLES;
/// RTP timestamp units per frame (8 kHz clock).
const FRAME_TS: u32 = FRAME_SAMPLES as u32;
/// Frames a jitter buffer holds: 160 ms.
pub const JITTER_CAPACITY: usize = 8;
/// Largest payload kept: 20 ms of 16-bit linear PCM; G.711 needs 160.
pub const MAX_PAYLOAD: usize = 2 * FRAME_SAMPLES;
/// Late packets in a row that re-anchor playout.
const LATE_RUN_RESYNC: u8 = 3;
/// A packet this many frames behind playout is a new timeline (a timestamp
/// jump back, a new SSRC), not a late one: re-anchor at once.
const FAR_BEHIND_FRAMES: i64 = 50;

/// What became of a pushed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Stored for playout.
    Buffered,
    /// Stored, after playout was re-anchored on it.
    Resynced,
    /// Older than the frame being played: dropped.
    Late,
    /// That frame is already held: dropped.
    Duplicate,
    /// Empty, or larger than [`MAX_PAYLOAD`]: dropped.
    Malformed,
}

/// Per-participant counters of the jitter buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets stored for playout.
    pub buffered: u64,
    /// Packets dropped for arriving after their frame was played.
    pub late: u64,
    /// Packets dropped as duplicates.
    pub duplicate: u64,
    /// Packets dropped as empty or too large.
    pub malformed: u64,
    /// Times playout was re-anchored (clock skew, timestamp jumps).
    pub resyncs: u64,
    /// Frames played out from a packet.
    pub played: u64,
    /// Frames due while playing whose packet never came.
    pub missing: u64,
}

#[derive(Clone, Copy)]
struct Slot {
    filled: bool,
    len: u16,
    payload: [u8; MAX_PAYLOAD],
}

const EMPTY: Slot = Slot {
    filled: false,
    len: 0,
    payload: [0; MAX_PAYLOAD],
};

/// A fixed-capacity jitter buffer of 20 ms frames.
#[derive(Clone)]
pub struct JitterBuffer {
    slots: [Slot; JITTER_CAPACITY],
    /// The slot of the frame played next.
    head: usize,
    /// RTP timestamp of the frame played next; `None` until the first packet.
    play_ts: Option<u32>,
    depth: u32,
    late_run: u8,
    stats: JitterStats,
}

/// What playout yields for one tick.
#[derive(Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// Nothing received yet (or since [`JitterBuffer::reset`]).
    Idle,
    /// The frame's packet is missing (lost, or not here yet).
    Missing,
    /// The frame's payload, still encoded.
    Frame(&'a [u8]),
}

impl JitterBuffer {
    /// An empty buffer playing `depth` frames behind the first packet
    /// (clamped to `1..JITTER_CAPACITY`).
    pub fn new(depth: usize) -> Self {
        JitterBuffer {
            slots: [EMPTY; JITTER_CAPACITY],
            head: 0,
            play_ts: None,
            depth: depth.clamp(1, JITTER_CAPACITY - 1) as u32,
            late_run: 0,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Forgets every frame and the timeline; the next packet starts afresh.
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.filled = false;
        }
        self.head = 0;
        self.play_ts = None;
        self.late_run = 0;
    }

    /// Stores one received packet's payload by its RTP timestamp.
    pub fn push(&mut self, timestamp: u32, payload: &[u8]) -> Arrival {
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            self.stats.malformed += 1;
            return Arrival::Malformed;
        }
        let Some(play_ts) = self.play_ts else {
            self.anchor(timestamp);
            return self.store(timestamp, payload, Arrival::Resynced);
        };
        // Signed distance on the wrapping 32-bit timeline.
        let ahead = i64::from(timestamp.wrapping_sub(play_ts) as i32);
        let frames = ahead.div_euclid(i64::from(FRAME_TS));
        if frames < 0 {
            self.late_run += 1;
            if frames > -FAR_BEHIND_FRAMES && self.late_run < LATE_RUN_RESYNC {
                self.stats.late += 1;
                return Arrival::Late;
            }
            self.anchor(timestamp);
            return self.store(timestamp, payload, Arrival::Resynced);
        }
        self.late_run = 0;
        if frames >= JITTER_CAPACITY as i64 {
            self.anchor(timestamp);
            return self.store(timestamp, payload, Arrival::Resynced);
        }
        self.store(timestamp, payload, Arrival::Buffered)
    }

    /// Plays out the next frame and moves on by one.
    pub fn pop(&mut self) -> Playout<'_> {
        let Some(play_ts) = self.play_ts else {
            return Playout::Idle;
        };
        let index = self.head;
        self.head = (self.head + 1) % JITTER_CAPACITY;
        self.play_ts = Some(play_ts.wrapping_add(FRAME_TS));
        let slot = &mut self.slots[index];
        if !slot.filled {
            self.stats.missing += 1;
            return Playout::Missing;
        }
        slot.filled = false;
        self.stats.played += 1;
        Playout::Frame(&slot.payload[..usize::from(slot.len)])
    }

    /// Playout restarts `depth` frames behind `timestamp`.
    fn anchor(&mut self, timestamp: u32) {
        let first = self.play_ts.is_none();
        self.reset();
        if !first {
            self.stats.resyncs += 1;
        }
        self.play_ts = Some(timestamp.wrapping_sub(self.depth * FRAME_TS));
    }

    fn store(&mut self, timestamp: u32, payload: &[u8], ok: Arrival) -> Arrival {
        let Some(play_ts) = self.play_ts else {
            return Arrival::Malformed;
        };
        // In 0..JITTER_CAPACITY: checked by `push` or set by `anchor`.
        let frames = (timestamp.wrapping_sub(play_ts) / FRAME_TS) as usize % JITTER_CAPACITY;
        let slot = &mut self.slots[(self.head + frames) % JITTER_CAPACITY];
        // Every slot the head passed was emptied: a filled one holds this frame.
        if slot.filled {
            self.stats.duplicate += 1;
            return Arrival::Duplicate;
        }
        slot.filled = true;
        slot.len = payload.len() as u16;
        slot.payload[..payload.len()].copy_from_slice(payload);
        self.stats.buffered += 1;
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(byte: u8) -> [u8; 160] {
        [byte; 160]
    }

    fn played(jb: &mut JitterBuffer) -> Option<u8> {
        match jb.pop() {
            Playout::Frame(p) => Some(p[0]),
            _ => None,
        }
    }

    #[test]
    fn plays_in_timestamp_order_after_the_depth() {
        let mut jb = JitterBuffer::new(2);
        assert_eq!(jb.pop(), Playout::Idle);
        assert_eq!(jb.push(1000, &frame(1)), Arrival::Resynced);
        assert_eq!(jb.push(1320, &frame(3)), Arrival::Buffered);
        assert_eq!(jb.push(1160, &frame(2)), Arrival::Buffered);
        assert_eq!(jb.pop(), Playout::Missing);
        assert_eq!(jb.pop(), Playout::Missing);
        assert_eq!(played(&mut jb), Some(1));
        assert_eq!(played(&mut jb), Some(2));
        assert_eq!(played(&mut jb), Some(3));
        assert_eq!(jb.pop(), Playout::Missing);
        assert_eq!(jb.stats().played, 3);
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped_and_counted() {
        let mut jb = JitterBuffer::new(1);
        jb.push(0, &frame(1));
        assert_eq!(jb.push(0, &frame(9)), Arrival::Duplicate);
        jb.pop();
        assert_eq!(played(&mut jb), Some(1));
        assert_eq!(jb.push(0, &frame(1)), Arrival::Late);
        let s = jb.stats();
        assert_eq!((s.late, s.duplicate, s.resyncs), (1, 1, 0));
    }

    #[test]
    fn a_slow_sender_re_anchors_after_three_late_packets() {
        let mut jb = JitterBuffer::new(1);
        jb.push(0, &frame(0));
        for _ in 0..5 {
            jb.pop();
        }
        // Playout is at ts 640; packets keep arriving behind it.
        assert_eq!(jb.push(160, &frame(1)), Arrival::Late);
        assert_eq!(jb.push(320, &frame(2)), Arrival::Late);
        assert_eq!(jb.push(480, &frame(3)), Arrival::Resynced);
        jb.pop();
        assert_eq!(played(&mut jb), Some(3));
        assert_eq!(jb.stats().resyncs, 1);
    }

    #[test]
    fn a_jump_ahead_or_far_behind_re_anchors() {
        let mut jb = JitterBuffer::new(1);
        jb.push(0, &frame(0));
        assert_eq!(jb.push(160 * 100, &frame(1)), Arrival::Resynced);
        assert_eq!(jb.push(0, &frame(2)), Arrival::Resynced);
        jb.pop();
        assert_eq!(played(&mut jb), Some(2));
    }

    #[test]
    fn timestamps_wrap() {
        let mut jb = JitterBuffer::new(1);
        let start = u32::MAX - 159;
        jb.push(start, &frame(1));
        jb.push(start.wrapping_add(160), &frame(2));
        jb.pop();
        assert_eq!(played(&mut jb), Some(1));
        assert_eq!(played(&mut jb), Some(2));
    }

    #[test]
    fn empty_and_oversized_payloads_are_malformed() {
        let mut jb = JitterBuffer::new(1);
        assert_eq!(jb.push(0, &[]), Arrival::Malformed);
        assert_eq!(jb.push(0, &[0; MAX_PAYLOAD + 1]), Arrival::Malformed);
        assert_eq!(jb.pop(), Playout::Idle);
    }
}
