//! The bridge's frame clock: one 20 ms grid per mixer, `start + n × 20 ms`.
//!
//! The grid is [`FramePacer`], the player's and recorder's clock too:
//! deadlines are computed from the start, never by adding to the previous
//! wake-up, so late wakes do not accumulate into drift. After a late wake the
//! clock catches up by at most [`MAX_CATCH_UP`] extra frames back to back;
//! frames further behind are skipped (and counted), so a stalled task does not
//! answer with a long burst. This adapter adds the mixer's view: the first
//! deadline one frame after the bridge starts, and running counts.

use std::time::Instant;

use crate::frame::{FramePacer, MAX_BURST};

/// One mixing period.
pub use crate::frame::FRAME;

/// Frames mixed back to back after a late wake, beyond the one due.
pub const MAX_CATCH_UP: u64 = MAX_BURST - 1;

/// What the clock says at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The next deadline has not come.
    NotYet,
    /// Mix one frame, after skipping `skipped` frames nobody will hear.
    Mix {
        /// Frames dropped from the grid before this one.
        skipped: u64,
    },
}

/// A drift-free 20 ms deadline grid.
#[derive(Clone, Copy, Debug)]
pub struct FrameClock {
    /// Frame 0 of the pacer is the first deadline, `start + 20 ms`.
    pacer: FramePacer,
    skipped: u64,
}

impl FrameClock {
    /// A grid whose first deadline is `start + 20 ms`.
    pub fn new(start: Instant) -> Self {
        FrameClock {
            pacer: FramePacer::new(start + FRAME),
            skipped: 0,
        }
    }

    /// The next deadline.
    pub fn deadline(&self) -> Instant {
        self.pacer.deadline()
    }

    /// Frames mixed so far.
    pub fn mixed(&self) -> u64 {
        self.pacer.frames() - self.skipped
    }

    /// Frames skipped after late wakes.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Takes the next deadline if it has passed at `now`.
    pub fn poll(&mut self, now: Instant) -> Due {
        match self.pacer.poll(now) {
            None => Due::NotYet,
            Some(tick) => {
                self.skipped += tick.skipped;
                Due::Mix {
                    skipped: tick.skipped,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn deadlines_stay_on_the_grid_whatever_the_wake_jitter() {
        let t0 = Instant::now();
        let mut clock = FrameClock::new(t0);
        assert_eq!(clock.poll(t0 + 19 * MS), Due::NotYet);
        for n in 1..=1000u32 {
            // Woken 0..=7 ms late each time: never pushes the grid.
            let late = (n * 7 % 8) * MS;
            assert_eq!(clock.poll(t0 + n * FRAME + late), Due::Mix { skipped: 0 });
            assert_eq!(clock.deadline(), t0 + (n + 1) * FRAME);
        }
        assert_eq!(clock.mixed(), 1000);
    }

    #[test]
    fn a_late_wake_catches_up_a_bounded_number_of_frames() {
        let t0 = Instant::now();
        let mut clock = FrameClock::new(t0);
        // Woken 105 ms after the first deadline: 5 whole frames behind.
        let now = t0 + FRAME + 105 * MS;
        assert_eq!(clock.poll(now), Due::Mix { skipped: 3 });
        assert_eq!(clock.poll(now), Due::Mix { skipped: 0 });
        assert_eq!(clock.poll(now), Due::Mix { skipped: 0 });
        assert_eq!(clock.poll(now), Due::NotYet);
        assert_eq!(clock.deadline(), t0 + 7 * FRAME);
        assert_eq!((clock.mixed(), clock.skipped()), (3, 3));
    }
}
