//! One tokio sleep per loop, re-armed only when its deadline moves.
//!
//! A `tokio::time::sleep_until` made afresh on every turn of a `select!`
//! loop registers a timer entry each time, and when its deadline is the
//! runtime's earliest the time driver wakes the runtime's thread through its
//! eventfd (a `write`, then an extra `epoll_wait`), even when that thread is
//! the one running. A conversation and the signalling loop turn several
//! times per call: keeping one sleep and resetting it only when the deadline
//! changes removes those system calls.

use std::pin::Pin;
use tokio::time::{Instant, Sleep};

/// A sleep kept across the turns of a loop.
pub(crate) struct Rearm {
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Rearm {
    /// Disarmed: [`wait`](Self::wait) never returns until a deadline is set.
    pub(crate) fn new() -> Rearm {
        Rearm {
            // Not registered with the timer until it is reset or polled.
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }

    /// The deadline for the next [`wait`](Self::wait); the timer is touched
    /// only when it differs from the current one.
    pub(crate) fn set(&mut self, at: Option<Instant>) {
        if at != self.armed {
            if let Some(at) = at {
                self.sleep.as_mut().reset(at);
            }
            self.armed = at;
        }
    }

    /// Until the deadline (at once if it passed); for ever without one.
    pub(crate) async fn wait(&mut self) {
        match self.armed {
            Some(_) => self.sleep.as_mut().await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_deadline_set_last() {
        let start = Instant::now();
        let mut timer = Rearm::new();
        timer.set(Some(start + Duration::from_secs(5)));
        timer.set(Some(start + Duration::from_secs(2)));
        timer.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        // The same deadline again: already passed, no wait.
        timer.set(Some(start + Duration::from_secs(2)));
        timer.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        timer.set(Some(start + Duration::from_secs(7)));
        timer.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_it_waits_for_ever() {
        let mut timer = Rearm::new();
        timer.set(Some(Instant::now() + Duration::from_secs(1)));
        timer.set(None);
        let waited = tokio::time::timeout(Duration::from_secs(3600), timer.wait()).await;
        assert!(waited.is_err());
    }
}
