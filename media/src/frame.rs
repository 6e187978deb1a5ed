//! The 20 ms frame clock shared by the player, the recorder and the
//! conference mixer: one implementation of the deadline grid, so the three
//! agree on what "late" means.
//!
//! Deadlines are computed, not accumulated: frame `n` is due at
//! `start + n × 20 ms`, so a late wake-up shifts no later frame and an hour
//! of frames ends exactly 180 000 frames after the start. A wake-up later
//! than [`MAX_BURST`] frames sends at most that many frames at once and
//! skips the rest (the far end's jitter buffer takes a short burst; a long
//! one would only be dropped there, and its timestamps would be stale).

use std::time::{Duration, Instant};

/// One frame's duration (the RTP ptime voxgate sends).
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples in one frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Frames sent back to back at most after a late wake-up (60 ms).
pub const MAX_BURST: u64 = 3;

/// A frame that is due now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// Frames skipped just before this one (a wake-up later than
    /// [`MAX_BURST`] frames): the stream's timestamp jumps by that many
    /// frames, as if they were lost.
    pub skipped: u64,
    /// This frame's number since the pacer started.
    pub index: u64,
}

/// Frame deadlines from a fixed start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramePacer {
    start: Instant,
    next: u64,
}

impl FramePacer {
    /// Frame 0 is due at `start`.
    pub fn new(start: Instant) -> Self {
        FramePacer { start, next: 0 }
    }

    /// When frame `n` is due.
    fn due_at(&self, n: u64) -> Instant {
        // 20 ms × n in µs: u64 µs overflow after 584 000 years.
        self.start + Duration::from_micros(n.saturating_mul(20_000))
    }

    /// When the next frame is due.
    pub fn deadline(&self) -> Instant {
        self.due_at(self.next)
    }

    /// The next frame if it is due at `now`; call until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Tick> {
        if now < self.deadline() {
            return None;
        }
        // Frames whose deadline has passed: floor(elapsed / 20 ms) + 1 - next.
        let elapsed = now.saturating_duration_since(self.start).as_micros() as u64;
        let due = elapsed / 20_000 + 1 - self.next;
        let skipped = due.saturating_sub(MAX_BURST);
        self.next += skipped;
        let index = self.next;
        self.next += 1;
        Some(Tick { skipped, index })
    }

    /// Frames produced or skipped so far.
    pub fn frames(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_frames_does_not_drift() {
        let t0 = Instant::now();
        let mut p = FramePacer::new(t0);
        let mut now = t0;
        let mut frames = 0u64;
        // Wake up exactly at each deadline, as a timer would (plus jitter below).
        for i in 0..180_000u64 {
            // A wake-up up to 7 ms late, deterministic.
            now = p.deadline() + Duration::from_micros((i * 7919) % 7000);
            while let Some(t) = p.poll(now) {
                assert_eq!(t.skipped, 0);
                frames += 1;
            }
        }
        assert_eq!(frames, 180_000);
        assert_eq!(p.deadline(), t0 + Duration::from_secs(3600));
        assert!(now < t0 + Duration::from_secs(3600));
    }

    #[test]
    fn a_late_wake_up_bursts_at_most_max_burst_frames() {
        let t0 = Instant::now();
        let mut p = FramePacer::new(t0);
        assert_eq!(p.poll(t0).map(|t| t.index), Some(0));
        assert_eq!(p.poll(t0), None);
        // 200 ms late: frames 1..=10 are due; 7 are skipped, 3 sent.
        let late = t0 + Duration::from_millis(200);
        let ticks: Vec<Tick> = std::iter::from_fn(|| p.poll(late)).collect();
        assert_eq!(
            ticks,
            [
                Tick {
                    skipped: 7,
                    index: 8
                },
                Tick {
                    skipped: 0,
                    index: 9
                },
                Tick {
                    skipped: 0,
                    index: 10
                },
            ]
        );
        // The schedule is unchanged: the next frame is at start + 11 × 20 ms.
        assert_eq!(p.deadline(), t0 + Duration::from_millis(220));
    }
}
