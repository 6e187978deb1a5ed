//! Overload control: the signalling loop watches its own load and, past a ceiling,
//! new calls are refused with 503 and `Retry-After` before anything is spent on them,
//! so that calls in progress do not suffer.
//!
//! Two signals, each with its own hysteresis (a ceiling to enter, a lower floor to
//! leave), and the node is overloaded while either is up:
//! - **busy**: the share of wall time the loop spent working (a turn: timers, a batch
//!   of conversation actions, a batch of transport events, spawns and transmits)
//!   rather than waiting for input, over a window (`overload_window_ms`). Judged when a
//!   window closes, so one slow turn does not trip it.
//! - **queue**: what waits for the loop (received messages plus conversations'
//!   actions), sampled at the start of each turn, so a burst trips it at once.
//!
//! Sans-IO: the driver passes the time and the depth; a turn costs a few arithmetic
//! operations and no allocation. The core asks [`Overload::is_overloaded`] for each new
//! INVITE (a load of one bool).
//!
//! Where the work that must not load the signalling loop runs (issue 12). The loop is
//! one tokio task (`crate::driver::run`); the work below runs in other tasks, which
//! the loop never awaits and whose locks it never takes, so none of it is inside a turn
//! (tokio's worker threads are shared: such a task may run on the same thread between
//! two turns, never during one):
//! - TLS handshakes: in the transport tasks (`voxgate_sip::transport::tls`, one tokio
//!   task per connection, spawned by the listener's accept loop); the core sees a
//!   connection only once it is open.
//! - `/metrics` rendering: in the admin HTTP server's task (`src/admin.rs`), which
//!   encodes the shared prometheus registry; the core only bumps atomics.
//! - `/calls` (and `/trunks`): in the admin server's task too, from the shared call
//!   registry (`crate::registry`) that conversations update; nothing is asked of the
//!   core.

use std::time::{Duration, Instant};

/// Thresholds, from `[protection]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Enter overload when a window's busy share reaches this (per cent).
    pub busy_enter_percent: u32,
    /// Leave it (as far as busy goes) when a window's share is at most this.
    pub busy_leave_percent: u32,
    /// Enter overload when this many inputs wait for the loop.
    pub queue_enter: usize,
    /// Leave it (as far as the queue goes) when at most this many wait.
    pub queue_leave: usize,
    /// The window over which the busy share is measured.
    pub window: Duration,
}

impl Limits {
    /// The thresholds of a config's `[protection]`.
    pub fn from_config(p: &voxgate_config::Protection) -> Limits {
        Limits {
            busy_enter_percent: p.overload_busy_percent,
            busy_leave_percent: p.overload_busy_clear_percent,
            queue_enter: p.overload_queue,
            queue_leave: p.overload_queue_clear,
            window: p.overload_window,
        }
    }
}

/// A change of state, for the log line and the gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Overload began; what tripped it.
    Entered {
        /// The busy share of the last window (per cent).
        busy_percent: u32,
        /// Inputs waiting at the last turn.
        queued: usize,
    },
    /// Overload ended.
    Left {
        /// The busy share of the last window (per cent).
        busy_percent: u32,
        /// Inputs waiting at the last turn.
        queued: usize,
    },
}

/// The overload state machine. See the module docs.
#[derive(Debug)]
pub struct Overload {
    limits: Limits,
    window_start: Option<Instant>,
    /// Busy time in the current window.
    busy: Duration,
    /// The busy share of the last closed window.
    busy_percent: u32,
    queued: usize,
    busy_over: bool,
    queue_over: bool,
    overloaded: bool,
}

impl Overload {
    /// Not overloaded, with `limits`.
    pub fn new(limits: Limits) -> Overload {
        Overload {
            limits,
            window_start: None,
            busy: Duration::ZERO,
            busy_percent: 0,
            queued: 0,
            busy_over: false,
            queue_over: false,
            overloaded: false,
        }
    }

    /// New thresholds (a reload); the state is judged again at the next turn.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether new calls are refused now.
    pub fn is_overloaded(&self) -> bool {
        self.overloaded
    }

    /// A turn starts at `now` with `queued` inputs waiting: closes the busy window
    /// if it is over, looks at the queue. Returns the change of state, if any.
    pub fn turn_started(&mut self, now: Instant, queued: usize) -> Option<Change> {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= self.limits.window {
            // Integer share; a window that ran long (the loop slept) dilutes its busy time.
            let percent = self.busy.as_micros().saturating_mul(100) / elapsed.as_micros().max(1);
            self.busy_percent = u32::try_from(percent).unwrap_or(u32::MAX);
            self.busy = Duration::ZERO;
            self.window_start = Some(now);
            if self.busy_percent >= self.limits.busy_enter_percent {
                self.busy_over = true;
            } else if self.busy_percent <= self.limits.busy_leave_percent {
                self.busy_over = false;
            }
        }
        self.queued = queued;
        if queued >= self.limits.queue_enter {
            self.queue_over = true;
        } else if queued <= self.limits.queue_leave {
            self.queue_over = false;
        }
        let overloaded = self.busy_over || self.queue_over;
        if overloaded == self.overloaded {
            return None;
        }
        self.overloaded = overloaded;
        let (busy_percent, queued) = (self.busy_percent, self.queued);
        Some(if overloaded {
            Change::Entered {
                busy_percent,
                queued,
            }
        } else {
            Change::Left {
                busy_percent,
                queued,
            }
        })
    }

    /// The turn that started at `started` ended at `now`: its time was busy.
    pub fn turn_ended(&mut self, started: Instant, now: Instant) {
        self.busy += now.saturating_duration_since(started);
    }
}

/// New calls per trunk over the current and the previous window, so that overload sheds
/// the heaviest senders first: a listed trunk that floods is refused while a trunk
/// calling at a fraction of its rate goes on being served (issue 12, item 3).
///
/// While overloaded, a new call is refused when its trunk sent at least half as many new
/// calls as the heaviest trunk over the two windows: the heaviest is always refused (with
/// one trunk, that is every call, as before), trunks of similar weight share its fate,
/// and a trunk far below it is admitted. Trunks are counted by their position in the
/// config (reset on reload); a count is one add, no allocation.
#[derive(Debug)]
pub struct Shares {
    window: Duration,
    window_start: Option<Instant>,
    current: Vec<u32>,
    previous: Vec<u32>,
}

impl Shares {
    /// Counting over windows of `window`.
    pub fn new(window: Duration) -> Shares {
        Shares {
            window,
            window_start: None,
            current: Vec::new(),
            previous: Vec::new(),
        }
    }

    /// Forgets every count (the trunks changed: a reload), with windows of `window`.
    pub fn reset(&mut self, window: Duration) {
        *self = Shares::new(window);
    }

    /// A new call from trunk number `trunk` at `now`. While `overloaded` the windows do
    /// not turn: the counts that made a trunk the heaviest are kept until the overload
    /// ends, so that a trunk calling lightly does not become the heaviest just because
    /// the flood's window aged out while its queue was still being worked off.
    pub fn note(&mut self, now: Instant, trunk: usize, overloaded: bool) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= self.window && !overloaded {
            // A window with no call at all in between leaves nothing to remember.
            let idle = elapsed >= self.window.saturating_mul(2);
            self.previous = std::mem::take(&mut self.current);
            if idle {
                self.previous.clear();
            }
            self.window_start = Some(now);
        }
        if self.current.len() <= trunk {
            self.current.resize(trunk + 1, 0);
        }
        if let Some(c) = self.current.get_mut(trunk) {
            *c = c.saturating_add(1);
        }
    }

    fn count(&self, trunk: usize) -> u64 {
        let at = |v: &Vec<u32>| u64::from(v.get(trunk).copied().unwrap_or(0));
        at(&self.current) + at(&self.previous)
    }

    /// Whether a new call from trunk number `trunk` is refused while overloaded.
    pub fn sheds(&self, trunk: usize) -> bool {
        let trunks = self.current.len().max(self.previous.len());
        let heaviest = (0..trunks).map(|t| self.count(t)).max().unwrap_or(0);
        self.count(trunk).saturating_mul(2) >= heaviest
    }
}

#[cfg(test)]
mod shares_tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_heaviest_trunk_is_shed_and_a_light_one_served() {
        let t0 = Instant::now();
        let mut s = Shares::new(100 * MS);
        // Trunk 1 floods at 20 calls per ms-step, trunk 0 calls once per 10 steps.
        for i in 0..150u32 {
            let now = t0 + MS * i;
            for _ in 0..20 {
                s.note(now, 1, false);
            }
            if i % 10 == 0 {
                s.note(now, 0, false);
            }
        }
        assert!(s.sheds(1), "the flooding trunk");
        assert!(!s.sheds(0), "the trunk far below it");
        // A third trunk at a similar weight to the heaviest is shed with it.
        for _ in 0..2000 {
            s.note(t0 + 150 * MS, 2, true);
        }
        assert!(s.sheds(2));
    }

    #[test]
    fn one_trunk_alone_is_shed_and_counts_age_out() {
        let t0 = Instant::now();
        let mut s = Shares::new(100 * MS);
        s.note(t0, 0, false);
        assert!(
            s.sheds(0),
            "alone, it is the heaviest: overload sheds it as before"
        );
        for _ in 0..1000 {
            s.note(t0, 3, false);
        }
        assert!(!s.sheds(0));
        // Two windows later trunk 3's burst is forgotten.
        s.note(t0 + 150 * MS, 0, false);
        assert!(!s.sheds(0), "the previous window still holds the burst");
        // While overloaded the windows stay: the burst is still remembered.
        s.note(t0 + 260 * MS, 0, true);
        assert!(!s.sheds(0), "kept while overloaded");
        s.note(t0 + 400 * MS, 0, false);
        assert!(s.sheds(0), "the burst is two windows old");
        assert!(!s.sheds(7), "a trunk never counted is no one's weight");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn limits() -> Limits {
        Limits {
            busy_enter_percent: 90,
            busy_leave_percent: 70,
            queue_enter: 100,
            queue_leave: 20,
            window: 100 * MS,
        }
    }

    /// Runs the loop for `windows` windows of 100 ms, busy `busy_ms` of every 10 ms
    /// (turns of `busy_ms`, then idle), with `queued` waiting; returns the changes.
    fn run(o: &mut Overload, now: &mut Instant, windows: u32, busy_ms: u32) -> Vec<Change> {
        let mut changes = Vec::new();
        for _ in 0..windows * 10 {
            changes.extend(o.turn_started(*now, 0));
            o.turn_ended(*now, *now + busy_ms * MS);
            *now += 10 * MS;
        }
        changes
    }

    #[test]
    fn a_busy_loop_enters_overload_after_a_window_and_leaves_below_the_floor() {
        let mut o = Overload::new(limits());
        let mut now = Instant::now();
        assert!(
            run(&mut o, &mut now, 3, 5).is_empty(),
            "50 % is no overload"
        );
        let changes = run(&mut o, &mut now, 2, 10);
        assert!(o.is_overloaded());
        assert_eq!(
            changes,
            [Change::Entered {
                busy_percent: 100,
                queued: 0
            }]
        );
        // Hysteresis: 80 % is below the ceiling but above the floor: still overloaded.
        assert!(run(&mut o, &mut now, 5, 8).is_empty());
        assert!(o.is_overloaded());
        // 60 % is below the floor: left once, logged once.
        let changes = run(&mut o, &mut now, 5, 6);
        assert_eq!(
            changes,
            [Change::Left {
                busy_percent: 60,
                queued: 0
            }]
        );
        assert!(!o.is_overloaded());
    }

    #[test]
    fn one_slow_turn_does_not_trip_it() {
        let mut o = Overload::new(limits());
        let mut now = Instant::now();
        run(&mut o, &mut now, 1, 1);
        // One 50 ms turn in a window that is otherwise idle.
        assert_eq!(o.turn_started(now, 0), None);
        o.turn_ended(now, now + 50 * MS);
        now += 100 * MS;
        assert_eq!(o.turn_started(now, 0), None);
        assert!(!o.is_overloaded());
    }

    #[test]
    fn a_deep_queue_trips_at_once_and_clears_below_its_floor() {
        let mut o = Overload::new(limits());
        let now = Instant::now();
        assert_eq!(o.turn_started(now, 99), None);
        assert_eq!(
            o.turn_started(now + MS, 100),
            Some(Change::Entered {
                busy_percent: 0,
                queued: 100
            })
        );
        // Between floor and ceiling: no change.
        assert_eq!(o.turn_started(now + 2 * MS, 50), None);
        assert!(o.is_overloaded());
        assert_eq!(
            o.turn_started(now + 3 * MS, 20),
            Some(Change::Left {
                busy_percent: 0,
                queued: 20
            })
        );
    }

    #[test]
    fn either_signal_keeps_it_overloaded() {
        let mut o = Overload::new(limits());
        let mut now = Instant::now();
        run(&mut o, &mut now, 2, 10);
        assert!(o.is_overloaded());
        // The queue comes and goes; busy still holds it.
        assert_eq!(o.turn_started(now, 500), None);
        assert_eq!(o.turn_started(now, 0), None);
        assert!(o.is_overloaded());
    }

    #[test]
    fn an_idle_loop_leaves_overload_at_its_next_turn() {
        let mut o = Overload::new(limits());
        let mut now = Instant::now();
        run(&mut o, &mut now, 2, 10);
        assert!(o.is_overloaded());
        // Asleep for a second (no input): the window that closes is mostly idle.
        now += 1000 * MS;
        assert!(matches!(o.turn_started(now, 0), Some(Change::Left { .. })));
    }

    #[test]
    fn new_limits_apply_at_the_next_turn() {
        let mut o = Overload::new(limits());
        let now = Instant::now();
        o.turn_started(now, 50);
        assert!(!o.is_overloaded());
        o.set_limits(Limits {
            queue_enter: 40,
            queue_leave: 10,
            ..limits()
        });
        assert!(o.turn_started(now, 50).is_some());
        assert!(o.is_overloaded());
    }
}
