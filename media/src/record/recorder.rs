//! The per-frame half of a recording: PCM in, one interleaved 20 ms frame out
//! per tick. Runs on the endpoint's task, allocates nothing.

use std::time::Instant;

use crate::frame::{FRAME_SAMPLES, FramePacer};

/// What a recording holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One channel: one leg, or a conference's mix.
    Mono,
    /// Two channels: both directions of a bridge, one each.
    Stereo,
}

impl Layout {
    /// Channels in the file.
    pub fn channels(self) -> u16 {
        match self {
            Layout::Mono => 1,
            Layout::Stereo => 2,
        }
    }
}

/// Which channel a direction's audio goes to (a mono recording takes `Left`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// First channel: the recorded leg's own voice (what voxgate receives from it).
    Left,
    /// Second channel: the other side of the bridge.
    Right,
}

/// Samples a side may hold ahead of the frame clock: 3 frames (60 ms). A
/// side that runs further ahead (a burst after jitter) loses its oldest
/// samples, so the channels never drift apart by more than that.
pub const SIDE_CAPACITY: usize = 3 * FRAME_SAMPLES;

/// A fixed ring of samples for one side.
#[derive(Clone, Debug)]
struct SideFifo {
    buf: [i16; SIDE_CAPACITY],
    head: usize,
    len: usize,
}

impl SideFifo {
    const fn new() -> Self {
        SideFifo {
            buf: [0; SIDE_CAPACITY],
            head: 0,
            len: 0,
        }
    }

    /// Appends, dropping the oldest samples past capacity; returns how many were dropped.
    fn push(&mut self, pcm: &[i16]) -> usize {
        // Only the newest SIDE_CAPACITY samples of a long push can survive.
        let skip = pcm.len().saturating_sub(SIDE_CAPACITY);
        let mut dropped = skip;
        for &s in &pcm[skip..] {
            if self.len == SIDE_CAPACITY {
                self.head = (self.head + 1) % SIDE_CAPACITY;
                self.len -= 1;
                dropped += 1;
            }
            self.buf[(self.head + self.len) % SIDE_CAPACITY] = s;
            self.len += 1;
        }
        dropped
    }

    /// Takes the next sample, or silence when the side sent nothing.
    fn pop(&mut self) -> i16 {
        if self.len == 0 {
            return 0;
        }
        let s = self.buf[self.head];
        self.head = (self.head + 1) % SIDE_CAPACITY;
        self.len -= 1;
        s
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// One 20 ms frame of a recording, interleaved (left, right, left, …) for
/// stereo. Plain data: it crosses a bounded channel to the writer thread
/// by value, with no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordFrame {
    samples: [i16; 2 * FRAME_SAMPLES],
    len: usize,
}

impl RecordFrame {
    /// The frame's samples (160 mono, 320 interleaved stereo).
    pub fn samples(&self) -> &[i16] {
        &self.samples[..self.len]
    }

    /// The samples as little-endian bytes, as a WAV file stores them.
    pub fn le_bytes<'a>(&self, out: &'a mut [u8; 4 * FRAME_SAMPLES]) -> &'a [u8] {
        for (b, s) in out.chunks_exact_mut(2).zip(self.samples()) {
            b.copy_from_slice(&s.to_le_bytes());
        }
        &out[..2 * self.len]
    }
}

/// The per-frame half of a recording, sans-IO: the endpoint pushes each
/// decoded frame of each direction as it arrives; the recorder's own 20 ms
/// clock emits one frame per tick with the two directions aligned by time
/// (a side with nothing for a tick gets silence).
///
/// Pause writes silence: while paused the audio pushed is discarded and
/// every tick is a silent frame, so the sensitive part (a card number
/// spoken or keyed) is not in the file, not even the rhythm of the key
/// presses, while the file keeps the call's timeline: a moment of the call
/// is at the same offset in the file whatever was paused before it, so the
/// file lines up with the conversation's events and with the other
/// recordings of the call. Only the pause's length shows.
#[derive(Clone, Debug)]
pub struct Recorder {
    layout: Layout,
    pacer: FramePacer,
    sides: [SideFifo; 2],
    paused: bool,
    dropped: u64,
    /// Silence frames owed for ticks the pacer skipped (a late wake-up):
    /// the file keeps the call's timeline.
    owed_silence: u64,
}

impl Recorder {
    /// A recorder whose first frame is due one frame after `now` (so the
    /// first packets have arrived).
    pub fn new(layout: Layout, now: Instant) -> Self {
        Recorder {
            layout,
            pacer: FramePacer::new(now + crate::frame::FRAME),
            sides: [SideFifo::new(), SideFifo::new()],
            paused: false,
            dropped: 0,
            owed_silence: 0,
        }
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Decoded audio of one direction (any length: 10, 20, 30 ms packets).
    pub fn push(&mut self, channel: Channel, pcm: &[i16]) {
        if self.paused {
            return;
        }
        let side = match (self.layout, channel) {
            (Layout::Stereo, Channel::Right) => 1,
            (Layout::Mono, Channel::Right) => return,
            (_, Channel::Left) => 0,
        };
        self.dropped += self.sides[side].push(pcm) as u64;
    }

    /// Whether audio of `channel` is recorded now (not paused, and a
    /// channel of the layout): the caller can skip decoding it otherwise.
    pub fn wants(&self, channel: Channel) -> bool {
        !self.paused && (channel == Channel::Left || self.layout == Layout::Stereo)
    }

    /// Silence until [`resume`](Recorder::resume); what is queued is discarded.
    pub fn pause(&mut self) {
        self.paused = true;
        for s in &mut self.sides {
            s.clear();
        }
    }

    /// Writes again from the next frame.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Samples dropped because a side ran more than [`SIDE_CAPACITY`] ahead.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Instant {
        self.pacer.deadline()
    }

    fn silent_frame(&self) -> RecordFrame {
        RecordFrame {
            samples: [0; 2 * FRAME_SAMPLES],
            len: FRAME_SAMPLES * usize::from(self.layout.channels()),
        }
    }

    /// The next due frame, or `None` when none is due at `now` (silent
    /// while paused). Call until `None` after each wake-up.
    pub fn poll_frame(&mut self, now: Instant) -> Option<RecordFrame> {
        let mut frame = self.silent_frame();
        if self.owed_silence > 0 {
            self.owed_silence -= 1;
            return Some(frame);
        }
        let tick = self.pacer.poll(now)?;
        // A late wake-up: this tick takes what is queued (older than the
        // gap); the skipped ticks follow as silence.
        self.owed_silence = tick.skipped;
        // Paused, the sides are empty: the frame stays silent.
        self.fill(&mut frame);
        Some(frame)
    }

    /// At the end of a recording, after the due frames: one frame of what
    /// is still queued (ahead of the clock), the rest of it silent, or
    /// `None` once nothing is. So the file ends with the last audio pushed.
    pub fn drain_frame(&mut self) -> Option<RecordFrame> {
        if self.sides.iter().all(|s| s.len == 0) {
            return None;
        }
        let mut frame = self.silent_frame();
        self.fill(&mut frame);
        Some(frame)
    }

    fn fill(&mut self, frame: &mut RecordFrame) {
        match self.layout {
            Layout::Mono => {
                for s in &mut frame.samples[..FRAME_SAMPLES] {
                    *s = self.sides[0].pop();
                }
            }
            Layout::Stereo => {
                for pair in frame.samples.chunks_exact_mut(2) {
                    pair[0] = self.sides[0].pop();
                    pair[1] = self.sides[1].pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME;
    use std::time::Duration;

    fn frame(v: i16) -> [i16; FRAME_SAMPLES] {
        [v; FRAME_SAMPLES]
    }

    #[test]
    fn mono_frames_come_out_on_the_clock() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        assert_eq!(r.poll_timeout(), t0 + FRAME);
        assert_eq!(r.poll_frame(t0), None);
        r.push(Channel::Left, &frame(5));
        r.push(Channel::Right, &frame(9)); // a mono recording has no right side
        let f = r.poll_frame(t0 + FRAME).unwrap();
        assert_eq!(f.samples(), &frame(5)[..]);
        assert_eq!(r.poll_frame(t0 + FRAME), None);
        let mut bytes = [0u8; 4 * FRAME_SAMPLES];
        assert_eq!(f.le_bytes(&mut bytes), &[5, 0].repeat(FRAME_SAMPLES)[..]);
    }

    #[test]
    fn stereo_aligns_sides_by_time_with_silence_for_a_missing_frame() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Stereo, t0);
        let mut out = Vec::new();
        for i in 1..=4u32 {
            r.push(Channel::Left, &frame(i as i16));
            if i != 2 {
                // The right side's second packet was lost.
                r.push(Channel::Right, &frame(-(i as i16)));
            }
            out.extend(r.poll_frame(t0 + FRAME * i));
        }
        assert_eq!(out.len(), 4);
        for (i, f) in out.iter().enumerate() {
            let i = i as i16 + 1;
            let (l, rt): (Vec<i16>, Vec<i16>) =
                f.samples().chunks_exact(2).map(|p| (p[0], p[1])).unzip();
            assert!(l.iter().all(|&s| s == i), "left {i}");
            let want = if i == 2 { 0 } else { -i };
            assert!(rt.iter().all(|&s| s == want), "right {i}");
        }
    }

    #[test]
    fn a_side_running_ahead_is_bounded() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Stereo, t0);
        for i in 0..5 {
            r.push(Channel::Left, &frame(i));
        }
        assert_eq!(r.dropped_samples(), 2 * FRAME_SAMPLES as u64);
        // The newest three frames remain, oldest first.
        let firsts: Vec<i16> = (1..=3)
            .map(|i| r.poll_frame(t0 + FRAME * i).unwrap().samples()[0])
            .collect();
        assert_eq!(firsts, [2, 3, 4]);
        // A 30 ms packet is taken as it comes: no sample lost or duplicated.
        let mut r = Recorder::new(Layout::Mono, t0);
        let ramp: Vec<i16> = (0..240).collect();
        r.push(Channel::Left, &ramp);
        let a = r.poll_frame(t0 + FRAME).unwrap();
        let b = r.poll_frame(t0 + FRAME * 2).unwrap();
        assert_eq!(a.samples(), &ramp[..160]);
        assert_eq!(&b.samples()[..80], &ramp[160..]);
        assert!(b.samples()[80..].iter().all(|&s| s == 0));
    }

    #[test]
    fn a_pause_writes_silence_and_keeps_the_timeline() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Stereo, t0);
        r.push(Channel::Left, &frame(1));
        r.pause();
        assert!(r.is_paused());
        assert!(!r.wants(Channel::Left) && !r.wants(Channel::Right));
        // Card number spoken on both sides: pushed, never written; each
        // tick is a silent frame, so what follows stays at its offset.
        for i in 1..=50 {
            r.push(Channel::Left, &frame(42));
            r.push(Channel::Right, &frame(43));
            let f = r.poll_frame(t0 + FRAME * i).unwrap();
            assert_eq!(f.samples().len(), 2 * FRAME_SAMPLES);
            assert!(f.samples().iter().all(|&s| s == 0), "frame {i}");
            assert_eq!(r.poll_frame(t0 + FRAME * i), None);
        }
        r.resume();
        assert!(r.wants(Channel::Right));
        r.push(Channel::Left, &frame(3));
        r.push(Channel::Right, &frame(-3));
        let f = r.poll_frame(t0 + FRAME * 51).unwrap();
        assert_eq!(&f.samples()[..2], &[3, -3]);
        assert_eq!(r.poll_frame(t0 + FRAME * 51), None);
    }

    #[test]
    fn drain_flushes_what_is_queued_ahead_of_the_clock() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        assert!(
            !r.wants(Channel::Right),
            "a mono recording has no right side"
        );
        let ramp: Vec<i16> = (1..=400).collect();
        r.push(Channel::Left, &ramp);
        let first = r.poll_frame(t0 + FRAME).unwrap();
        assert_eq!(first.samples(), &ramp[..160]);
        // Stopped now: the 240 samples not yet due come out, then nothing.
        let a = r.drain_frame().unwrap();
        let b = r.drain_frame().unwrap();
        assert_eq!(a.samples(), &ramp[160..320]);
        assert_eq!(&b.samples()[..80], &ramp[320..]);
        assert!(b.samples()[80..].iter().all(|&s| s == 0));
        assert_eq!(r.drain_frame(), None);
    }

    #[test]
    fn a_late_wake_up_keeps_the_timeline_with_silence() {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        r.push(Channel::Left, &frame(8));
        // Woken 1 s late: every one of the 51 ticks becomes a frame.
        let late = t0 + Duration::from_millis(1020);
        let frames: Vec<RecordFrame> = std::iter::from_fn(|| r.poll_frame(late)).collect();
        assert_eq!(frames.len(), 51);
        assert_eq!(frames[0].samples()[0], 8);
        assert!(
            frames[1..]
                .iter()
                .all(|f| f.samples().iter().all(|&s| s == 0))
        );
        assert_eq!(r.poll_timeout(), t0 + Duration::from_millis(1040));
    }
}
