//! Kill switches: per capability (a trunk, a route, recording), an operator turns it off
//! and on at runtime (`voxgatectl switch`, the admin API), and it turns itself off when
//! the share of the capability's attempts that failed passes `[kill_switch] error_percent`
//! over `window_s` (with at least `min_attempts`).
//!
//! A trunk's switch is its out-of-service state ([`crate::health::Health`]): new calls
//! from it get its `out_of_service_status`, dials skip it, calls in progress go on. A
//! route's switch off refuses the calls it would route with 503 (they do not fall through
//! to a later route, which would send them where nobody meant). Recording off refuses new
//! `Record` commands (`recording_off`); recordings in progress finish.
//!
//! A tripped switch stays off until an operator turns it on again: the failures that
//! tripped it (a carrier returning 503s, a full disk) do not go away by themselves, and a
//! switch that flapped back on would hand the next calls to the same failure.
//!
//! [`ErrorRate`] is sans-IO: fed `(now, outcome)`, tested on a virtual clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, warn};
use voxgate_config::{KillSwitch as Trip, TrunkName};

use crate::control_plane::{EndCause, RecordingEnd};
use crate::conversation::ConversationRecord;
use crate::health::Health;
use crate::metrics::Metrics;

/// Buckets per window: outcomes are counted per `window / BUCKETS`, so the window slides
/// in steps of a tenth.
const BUCKETS: usize = 10;

/// What a kill switch guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// A trunk: its new calls and dials (its out-of-service state).
    Trunk,
    /// A route: the calls it routes.
    Route,
    /// Recording legs.
    Recording,
}

impl Capability {
    /// Its name in the admin API, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Trunk => "trunk",
            Capability::Route => "route",
            Capability::Recording => "recording",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<Capability> {
        match s {
            "trunk" => Some(Capability::Trunk),
            "route" => Some(Capability::Route),
            "recording" => Some(Capability::Recording),
            _ => None,
        }
    }
}

/// Outcomes over a sliding window, in `BUCKETS` buckets of `window / BUCKETS` each.
#[derive(Debug)]
pub struct ErrorRate {
    bucket: Duration,
    /// Start of the newest bucket.
    head: Option<Instant>,
    /// (attempts, errors) per bucket; `head_index` is the newest.
    counts: [(u32, u32); BUCKETS],
    head_index: usize,
}

impl ErrorRate {
    /// A window of `window` (at least `BUCKETS` ms).
    pub fn new(window: Duration) -> ErrorRate {
        let bucket = (window / u32::try_from(BUCKETS).unwrap_or(10)).max(Duration::from_millis(1));
        ErrorRate {
            bucket,
            head: None,
            counts: [(0, 0); BUCKETS],
            head_index: 0,
        }
    }

    /// Moves the window to `now`: buckets that fell out of it are emptied.
    fn advance(&mut self, now: Instant) {
        let Some(head) = self.head else {
            self.head = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(head);
        let steps = usize::try_from(elapsed.as_nanos() / self.bucket.as_nanos().max(1))
            .unwrap_or(usize::MAX);
        if steps == 0 {
            return;
        }
        for i in 1..=steps.min(BUCKETS) {
            self.counts[(self.head_index + i) % BUCKETS] = (0, 0);
        }
        self.head_index = (self.head_index + steps % BUCKETS) % BUCKETS;
        let step = self
            .bucket
            .saturating_mul(u32::try_from(steps).unwrap_or(u32::MAX));
        self.head = Some(head.checked_add(step).unwrap_or(now));
    }

    /// One outcome at `now`; then the attempts and errors in the window.
    pub fn record(&mut self, now: Instant, error: bool) -> (u32, u32) {
        self.advance(now);
        let c = &mut self.counts[self.head_index];
        c.0 = c.0.saturating_add(1);
        c.1 = c.1.saturating_add(u32::from(error));
        self.totals()
    }

    /// Attempts and errors in the window (as of the last outcome).
    pub fn totals(&self) -> (u32, u32) {
        self.counts.iter().fold((0u32, 0u32), |(a, e), (ca, ce)| {
            (a.saturating_add(*ca), e.saturating_add(*ce))
        })
    }

    /// Forgets every outcome (a switch turned back on starts afresh).
    pub fn clear(&mut self) {
        self.counts = [(0, 0); BUCKETS];
    }
}

/// Whether `attempts` with `errors` trip `trip`.
pub fn trips(trip: &Trip, attempts: u32, errors: u32) -> bool {
    attempts >= trip.min_attempts
        && u64::from(errors) * 100 >= u64::from(trip.error_percent) * u64::from(attempts)
}

/// The kill switches of one node: state in [`Health`] (read on the call path), error rates
/// here (written once per ended call or recording, never per SIP message).
pub struct KillSwitches {
    health: Arc<Health>,
    metrics: Metrics,
    /// For `[kill_switch]` (read per ended call: it applies on reload).
    config: Option<crate::SharedConfig>,
    rates: Mutex<HashMap<(Capability, String), ErrorRate>>,
}

impl KillSwitches {
    /// Switches over `health`.
    pub fn new(health: Arc<Health>, metrics: Metrics) -> KillSwitches {
        KillSwitches {
            health,
            metrics,
            config: None,
            rates: Mutex::new(HashMap::new()),
        }
    }

    /// Trips by the `[kill_switch]` of `config` (else only by an operator).
    pub fn with_config(mut self, config: crate::SharedConfig) -> KillSwitches {
        self.config = Some(config);
        self
    }

    /// The outcomes of an ended conversation: each outbound leg to a trunk (failed: 408
    /// or 5xx, the trunk's or voxgate's own for an unreachable one; a busy or a decline
    /// is the callee's answer, not the trunk failing), each recording (failed: its file
    /// could not be written).
    pub fn call_ended(&self, now: Instant, record: &ConversationRecord) {
        let Some(config) = &self.config else {
            return;
        };
        let config = config.load();
        let Some(trip) = config.kill_switch.as_ref() else {
            return;
        };
        for leg in record.legs.iter().filter(|l| !l.inbound) {
            let Some(trunk) = &leg.trunk else {
                continue;
            };
            let error = leg.answered.is_none()
                && matches!(leg.end.map(|e| e.1), Some(EndCause::Rejected(s)) if s == 408 || (500..600).contains(&s));
            self.outcome(now, Some(trip), Capability::Trunk, trunk.as_str(), error);
        }
        for r in &record.recordings {
            let error = matches!(r.end, Some(RecordingEnd::Failed(_)));
            self.outcome(now, Some(trip), Capability::Recording, "", error);
        }
    }

    /// Whether `capability`'s switch `name` is on (`name` is ignored for recording).
    pub fn is_on(&self, capability: Capability, name: &str) -> bool {
        match capability {
            Capability::Trunk => {
                TrunkName::new(name).is_none_or(|t| !self.health.is_out_of_service(&t))
            }
            Capability::Route => !self.health.is_route_off(name),
            Capability::Recording => !self.health.is_recording_off(),
        }
    }

    /// Turns a switch on or off (the operator); true when that changed something. A
    /// switch turned on forgets the error rate that may have tripped it.
    pub fn set(&self, capability: Capability, name: &str, on: bool) -> bool {
        let changed = self.flip(capability, name, on);
        if capability == Capability::Trunk {
            // The metric the trunk's out-of-service state always had.
            self.metrics.trunk_in_service(name, on);
        }
        self.metrics.kill_switch(capability.as_str(), name, on);
        if on
            && let Ok(mut rates) = self.rates.lock()
            && let Some(r) = rates.get_mut(&(capability, name.to_owned()))
        {
            r.clear();
        }
        if changed {
            let state = if on { "on" } else { "off" };
            warn!(
                capability = capability.as_str(),
                name, "kill switch turned {state} by an operator"
            );
        }
        changed
    }

    /// One outcome of `capability` `name` at `now`: trips its switch when the error rate
    /// over the window passes `trip`'s (none configured: only counted nowhere).
    pub fn outcome(
        &self,
        now: Instant,
        trip: Option<&Trip>,
        capability: Capability,
        name: &str,
        error: bool,
    ) {
        let Some(trip) = trip else {
            return;
        };
        if !self.is_on(capability, name) {
            return;
        }
        let Ok(mut rates) = self.rates.lock() else {
            return;
        };
        let rate = rates
            .entry((capability, name.to_owned()))
            .or_insert_with(|| ErrorRate::new(trip.window));
        let (attempts, errors) = rate.record(now, error);
        if !trips(trip, attempts, errors) {
            return;
        }
        rate.clear();
        drop(rates);
        if self.flip(capability, name, false) {
            if capability == Capability::Trunk {
                self.metrics.trunk_in_service(name, false);
            }
            self.metrics.kill_switch(capability.as_str(), name, false);
            self.metrics.kill_switch_trip(capability.as_str(), name);
            error!(
                capability = capability.as_str(),
                name,
                attempts,
                errors,
                window_s = trip.window.as_secs(),
                "kill switch tripped: failures over [kill_switch] error_percent; off until an operator turns it on"
            );
        }
    }

    fn flip(&self, capability: Capability, name: &str, on: bool) -> bool {
        match capability {
            Capability::Trunk => {
                TrunkName::new(name).is_some_and(|t| self.health.set_in_service(&t, on))
            }
            Capability::Route => self.health.set_route(name, on),
            Capability::Recording => self.health.set_recording(on),
        }
    }

    /// Every switch that is off: (capability, name).
    pub fn off(&self) -> Vec<(Capability, String)> {
        let mut out: Vec<(Capability, String)> = self
            .health
            .trunks_out_of_service()
            .into_iter()
            .map(|t| (Capability::Trunk, t.to_string()))
            .collect();
        out.extend(
            self.health
                .routes_off()
                .into_iter()
                .map(|r| (Capability::Route, r)),
        );
        if self.health.is_recording_off() {
            out.push((Capability::Recording, String::new()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIP: Trip = Trip {
        error_percent: 50,
        window: Duration::from_secs(60),
        min_attempts: 10,
    };

    #[test]
    fn the_window_slides_on_a_virtual_clock() {
        let t0 = Instant::now();
        let mut r = ErrorRate::new(Duration::from_secs(60));
        for i in 0..10 {
            r.record(t0 + Duration::from_secs(i), i % 2 == 0);
        }
        assert_eq!(r.totals(), (10, 5));
        // Buckets of 6 s: at 55 s the first outcomes (0..6 s) are still in the window.
        assert_eq!(r.record(t0 + Duration::from_secs(55), false), (11, 5));
        // At 60 s the bucket of 0..6 s leaves: outcomes 0..5 are gone (3 errors).
        assert_eq!(r.record(t0 + Duration::from_secs(60), false), (6, 2));
        // At 66 s that of 6..12 s (2 errors).
        assert_eq!(r.record(t0 + Duration::from_secs(66), false), (3, 0));
        // Long after, everything has left but the newest.
        assert_eq!(r.record(t0 + Duration::from_secs(1000), true), (1, 1));
        r.clear();
        assert_eq!(r.totals(), (0, 0));
    }

    #[test]
    fn a_trip_needs_enough_attempts_and_the_ratio() {
        assert!(!trips(&TRIP, 9, 9));
        assert!(trips(&TRIP, 10, 5));
        assert!(!trips(&TRIP, 10, 4));
        assert!(trips(&TRIP, 100, 100));
    }

    fn switches() -> (KillSwitches, Metrics) {
        let metrics = Metrics::new("test").unwrap();
        (
            KillSwitches::new(Arc::new(Health::default()), metrics.clone()),
            metrics,
        )
    }

    #[test]
    fn errors_over_the_ratio_trip_the_switch_and_it_stays_off() {
        let (s, metrics) = switches();
        let t0 = Instant::now();
        // 9 failures: not yet enough attempts.
        for i in 0..9 {
            s.outcome(
                t0 + Duration::from_secs(i),
                Some(&TRIP),
                Capability::Trunk,
                "carrier",
                true,
            );
        }
        assert!(s.is_on(Capability::Trunk, "carrier"));
        s.outcome(
            t0 + Duration::from_secs(9),
            Some(&TRIP),
            Capability::Trunk,
            "carrier",
            true,
        );
        assert!(!s.is_on(Capability::Trunk, "carrier"));
        assert_eq!(s.off(), [(Capability::Trunk, "carrier".to_owned())]);
        let text = metrics.render();
        assert!(
            text.contains(
                "voxgate_kill_switch_trips_total{capability=\"trunk\",name=\"carrier\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("voxgate_kill_switch_off{capability=\"trunk\",name=\"carrier\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("voxgate_trunk_out_of_service{trunk=\"carrier\"} 1"),
            "{text}"
        );
        // Successes later do not turn it back on.
        for i in 0..100 {
            s.outcome(
                t0 + Duration::from_secs(100 + i),
                Some(&TRIP),
                Capability::Trunk,
                "carrier",
                false,
            );
        }
        assert!(!s.is_on(Capability::Trunk, "carrier"));
        // The operator does, and the old failures are forgotten.
        assert!(s.set(Capability::Trunk, "carrier", true));
        s.outcome(
            t0 + Duration::from_secs(201),
            Some(&TRIP),
            Capability::Trunk,
            "carrier",
            true,
        );
        assert!(s.is_on(Capability::Trunk, "carrier"));
    }

    #[test]
    fn failures_spread_thinner_than_the_window_never_trip() {
        let (s, _) = switches();
        let t0 = Instant::now();
        // One failure every 10 s among successes: 60 s hold 6 attempts, never 10.
        for i in 0..100 {
            s.outcome(
                t0 + Duration::from_secs(10 * i),
                Some(&TRIP),
                Capability::Recording,
                "",
                true,
            );
        }
        assert!(s.is_on(Capability::Recording, ""));
        // Without [kill_switch], nothing trips.
        for _ in 0..100 {
            s.outcome(t0, None, Capability::Route, "out", true);
        }
        assert!(s.is_on(Capability::Route, "out"));
    }

    #[test]
    fn operator_flips() {
        let (s, metrics) = switches();
        assert!(s.set(Capability::Route, "out", false));
        assert!(!s.set(Capability::Route, "out", false));
        assert!(!s.is_on(Capability::Route, "out"));
        assert!(s.set(Capability::Recording, "", false));
        assert!(!s.is_on(Capability::Recording, ""));
        assert_eq!(s.off().len(), 2);
        assert!(s.set(Capability::Route, "out", true));
        assert!(s.set(Capability::Recording, "", true));
        assert!(s.off().is_empty());
        assert!(
            metrics
                .render()
                .contains("voxgate_kill_switch_off{capability=\"route\",name=\"out\"} 0")
        );
    }
}
