//! Retransmission of a response by the UAS core: the 2xx to an INVITE
//! until its ACK (RFC 3261 §13.3.1.4), and a reliable provisional until its
//! PRACK (RFC 3262 §3). Timers as data: the caller sleeps until
//! [`Retransmit::next_deadline`] and calls [`Retransmit::on_timeout`].

use std::time::{Duration, Instant};

/// What to do at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetransmitAction {
    /// Send the response again; the next deadline is armed.
    Resend,
    /// 64*T1 passed without ACK/PRACK: stop. For a 2xx the dialog is
    /// confirmed but the session SHOULD be ended with BYE (§13.3.1.4); for a
    /// reliable provisional the request SHOULD be rejected with 5xx
    /// (RFC 3262 §3).
    GiveUp,
    /// No deadline has passed (an early or spurious wake-up), or stopped.
    NotYet,
}

/// One response's retransmission schedule: first after T1, the interval
/// doubling (capped at T2 for a 2xx, uncapped for a reliable provisional),
/// giving up 64*T1 after the first transmission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retransmit {
    interval: Duration,
    cap: Duration,
    resend_at: Instant,
    give_up_at: Instant,
    done: bool,
}

impl Retransmit {
    /// Schedule for a 2xx to INVITE sent at `now` (§13.3.1.4): T1, doubling
    /// up to T2. Over a reliable transport the 2xx is still retransmitted
    /// (the hop may be reliable while the path to the UAC is not).
    pub fn start(now: Instant, t1: Duration, t2: Duration) -> Retransmit {
        // A zero T1 would make every deadline `now`: a busy loop.
        let t1 = t1.max(Duration::from_millis(1));
        Retransmit {
            interval: t1,
            cap: t2.max(t1),
            resend_at: now + t1,
            give_up_at: now + t1.saturating_mul(64),
            done: false,
        }
    }

    /// Schedule for a reliable provisional sent at `now` (RFC 3262 §3):
    /// T1, doubling with no T2 cap, until 64*T1.
    pub fn start_provisional(now: Instant, t1: Duration) -> Retransmit {
        Retransmit::start(now, t1, t1.saturating_mul(64))
    }

    /// When `on_timeout` must next be called; `None` once stopped or given up.
    pub fn next_deadline(&self) -> Option<Instant> {
        (!self.done).then(|| self.resend_at.min(self.give_up_at))
    }

    /// At a deadline: `GiveUp` once 64*T1 has passed, `Resend` when the
    /// retransmission interval has (and the next one is armed, doubled),
    /// else `NotYet`.
    pub fn on_timeout(&mut self, now: Instant) -> RetransmitAction {
        if self.done {
            return RetransmitAction::NotYet;
        }
        if now >= self.give_up_at {
            self.done = true;
            return RetransmitAction::GiveUp;
        }
        if now < self.resend_at {
            return RetransmitAction::NotYet;
        }
        self.interval = self.interval.saturating_mul(2).min(self.cap);
        // From the planned instant, not `now`: a late wake-up does not
        // stretch the schedule.
        self.resend_at += self.interval;
        if self.resend_at <= now {
            self.resend_at = now + self.interval;
        }
        RetransmitAction::Resend
    }

    /// The ACK (or PRACK) arrived: no more retransmissions.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// True once stopped or given up.
    pub fn is_done(&self) -> bool {
        self.done
    }
}
