//! OPTIONS keep-alive of route destinations, sans-IO: which destination to
//! probe when, and what the answers (or their absence) make of its state.
//! The core sends the OPTIONS and feeds the outcomes back; time is passed
//! in, so the thresholds are tested on a virtual clock.
//!
//! A probe not answered by the time the next one is due counts as failed:
//! `down_after` failures in a row mark a destination down, `up_after`
//! answers in a row mark it up again. A destination starts `Unknown` (it is
//! dialled) and goes up at its first answer.

use std::time::Instant;

use voxgate_config::{Config, Keepalive, TrunkName};
use voxgate_sip::TransportKind;

/// A destination as routes name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DestinationKey {
    /// Its URI.
    pub uri: String,
    /// Its transport.
    pub transport: TransportKind,
    /// The trunk it belongs to.
    pub trunk: Option<TrunkName>,
}

/// What the probes say of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not probed, or no verdict yet: dialled.
    Unknown,
    /// Answers its OPTIONS.
    Up,
    /// Stopped answering: dials skip it.
    Down,
}

impl State {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
        }
    }
}

/// One probe sent, by its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeId(pub u64);

#[derive(Debug)]
struct Target {
    key: DestinationKey,
    params: Keepalive,
    state: State,
    answered_run: u32,
    failed_run: u32,
    next_probe: Instant,
    /// The probe in flight and when it counts as failed.
    probing: Option<(ProbeId, Instant)>,
}

/// The keep-alive of every probed destination.
#[derive(Debug, Default)]
pub struct KeepAlive {
    targets: Vec<Target>,
    probes: u64,
    changed: Vec<(DestinationKey, State)>,
}

/// The destinations of `config`'s routes that ask for keep-alive (their own
/// `keepalive`, else their trunk's), each once.
pub fn probed(config: &Config) -> Vec<(DestinationKey, Keepalive)> {
    let mut out: Vec<(DestinationKey, Keepalive)> = Vec::new();
    for route in &config.routes {
        for d in &route.destinations {
            let trunk_ka = d
                .trunk
                .as_ref()
                .and_then(|t| config.trunk(t))
                .and_then(|t| t.keepalive);
            let Some(params) = d.keepalive.or(trunk_ka) else {
                continue;
            };
            let key = DestinationKey {
                uri: d.uri.clone(),
                transport: crate::admission::transport_kind(d.transport),
                trunk: d.trunk.clone(),
            };
            if !out.iter().any(|(k, _)| *k == key) {
                out.push((key, params));
            }
        }
    }
    out
}

impl KeepAlive {
    /// Probes `targets` from now on: a destination probed before keeps its
    /// state; a new one is probed at once; one no longer listed is dropped.
    pub fn configure(&mut self, now: Instant, targets: Vec<(DestinationKey, Keepalive)>) {
        let mut old = std::mem::take(&mut self.targets);
        for (key, params) in targets {
            let target = match old.iter().position(|t| t.key == key) {
                Some(i) => {
                    let mut t = old.swap_remove(i);
                    t.params = params;
                    t
                }
                None => Target {
                    key,
                    params,
                    state: State::Unknown,
                    answered_run: 0,
                    failed_run: 0,
                    next_probe: now,
                    probing: None,
                },
            };
            self.targets.push(target);
        }
    }

    /// The next destination to probe now, if any is due; the probe is in
    /// flight from then on and the next one is due an interval later.
    pub fn poll_probe(&mut self, now: Instant) -> Option<(ProbeId, DestinationKey)> {
        self.expire(now);
        let t = self
            .targets
            .iter_mut()
            .find(|t| t.probing.is_none() && t.next_probe <= now)?;
        self.probes += 1;
        let id = ProbeId(self.probes);
        t.probing = Some((id, now + t.params.interval));
        t.next_probe = now + t.params.interval;
        Some((id, t.key.clone()))
    }

    /// The outcome of probe `id`: answered or not. A probe already counted
    /// as failed (it took too long) changes nothing.
    pub fn on_outcome(&mut self, id: ProbeId, answered: bool) {
        let Some(t) = self
            .targets
            .iter_mut()
            .find(|t| t.probing.is_some_and(|(p, _)| p == id))
        else {
            return;
        };
        t.probing = None;
        if let Some(state) = t.record(answered) {
            self.changed.push((t.key.clone(), state));
        }
    }

    /// Probes in flight past their deadline count as failed.
    fn expire(&mut self, now: Instant) {
        for t in &mut self.targets {
            if t.probing.is_some_and(|(_, deadline)| deadline <= now) {
                t.probing = None;
                if let Some(state) = t.record(false) {
                    self.changed.push((t.key.clone(), state));
                }
            }
        }
    }

    /// Fires what is due: overdue probes count as failed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    /// A destination whose state changed since the last call, with its new state.
    pub fn poll_change(&mut self) -> Option<(DestinationKey, State)> {
        if self.changed.is_empty() {
            None
        } else {
            Some(self.changed.remove(0))
        }
    }

    /// When the next probe is due or the next one in flight runs out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.targets
            .iter()
            .map(|t| match t.probing {
                Some((_, deadline)) => deadline,
                None => t.next_probe,
            })
            .min()
    }

    /// Every probed destination and its state.
    pub fn states(&self) -> Vec<(DestinationKey, State)> {
        self.targets
            .iter()
            .map(|t| (t.key.clone(), t.state))
            .collect()
    }
}

impl Target {
    /// Counts an outcome; the new state when it changed.
    fn record(&mut self, answered: bool) -> Option<State> {
        let before = self.state;
        if answered {
            self.failed_run = 0;
            self.answered_run = self.answered_run.saturating_add(1);
            let up = match self.state {
                State::Unknown => true,
                State::Down => self.answered_run >= self.params.up_after,
                State::Up => false,
            };
            if up {
                self.state = State::Up;
            }
        } else {
            self.answered_run = 0;
            self.failed_run = self.failed_run.saturating_add(1);
            if self.failed_run >= self.params.down_after {
                self.state = State::Down;
            }
        }
        (self.state != before).then_some(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: Duration = Duration::from_secs(1);

    fn key(uri: &str) -> DestinationKey {
        DestinationKey {
            uri: uri.into(),
            transport: TransportKind::Udp,
            trunk: TrunkName::new("carrier"),
        }
    }

    fn params(down_after: u32, up_after: u32) -> Keepalive {
        Keepalive {
            interval: 10 * S,
            down_after,
            up_after,
        }
    }

    /// Probes due at `now`, answered or not.
    fn round(ka: &mut KeepAlive, now: Instant, answered: bool) -> Vec<DestinationKey> {
        let mut sent = Vec::new();
        while let Some((id, k)) = ka.poll_probe(now) {
            sent.push(k);
            if answered {
                ka.on_outcome(id, true);
            }
        }
        sent
    }

    fn changes(ka: &mut KeepAlive) -> Vec<(String, State)> {
        std::iter::from_fn(|| ka.poll_change())
            .map(|(k, s)| (k.uri, s))
            .collect()
    }

    #[test]
    fn a_destination_that_stops_answering_goes_down_and_comes_back() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::default();
        ka.configure(t0, vec![(key("sip:192.0.2.1"), params(3, 2))]);
        // Probed at once; its first answer makes it up.
        assert_eq!(round(&mut ka, t0, true), [key("sip:192.0.2.1")]);
        assert_eq!(changes(&mut ka), [("sip:192.0.2.1".into(), State::Up)]);
        // Nothing more until the interval has passed.
        assert_eq!(ka.poll_timeout(), Some(t0 + 10 * S));
        assert!(round(&mut ka, t0 + 9 * S, true).is_empty());
        // Silence: each probe fails when the next is due; the third failure marks it down.
        let mut now = t0 + 10 * S;
        for _ in 0..3 {
            assert_eq!(round(&mut ka, now, false).len(), 1);
            assert!(changes(&mut ka).is_empty());
            now += 10 * S;
        }
        ka.handle_timeout(now);
        assert_eq!(changes(&mut ka), [("sip:192.0.2.1".into(), State::Down)]);
        assert_eq!(ka.states()[0].1, State::Down);
        // One answer is not enough to come back; two in a row are.
        round(&mut ka, now, true);
        assert!(changes(&mut ka).is_empty());
        round(&mut ka, now + 10 * S, true);
        assert_eq!(changes(&mut ka), [("sip:192.0.2.1".into(), State::Up)]);
    }

    #[test]
    fn failures_must_be_in_a_row_and_a_late_answer_counts_for_nothing() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::default();
        ka.configure(t0, vec![(key("sip:192.0.2.1"), params(2, 1))]);
        let (late, _) = ka.poll_probe(t0).unwrap();
        // Its deadline passes: failed; the answer after that is ignored.
        ka.handle_timeout(t0 + 10 * S);
        ka.on_outcome(late, true);
        assert_eq!(ka.states()[0].1, State::Unknown);
        // An answer in between resets the count.
        let (id, _) = ka.poll_probe(t0 + 10 * S).unwrap();
        ka.on_outcome(id, true);
        let (id, _) = ka.poll_probe(t0 + 20 * S).unwrap();
        ka.on_outcome(id, false);
        assert_eq!(changes(&mut ka), [("sip:192.0.2.1".into(), State::Up)]);
        let (id, _) = ka.poll_probe(t0 + 30 * S).unwrap();
        ka.on_outcome(id, false);
        assert_eq!(changes(&mut ka), [("sip:192.0.2.1".into(), State::Down)]);
    }

    #[test]
    fn a_reload_keeps_the_state_of_destinations_it_keeps() {
        let t0 = Instant::now();
        let mut ka = KeepAlive::default();
        ka.configure(t0, vec![(key("sip:192.0.2.1"), params(1, 1))]);
        let (id, _) = ka.poll_probe(t0).unwrap();
        ka.on_outcome(id, false);
        ka.configure(
            t0 + S,
            vec![
                (key("sip:192.0.2.2"), params(1, 1)),
                (key("sip:192.0.2.1"), params(1, 1)),
            ],
        );
        let states: Vec<(String, State)> =
            ka.states().into_iter().map(|(k, s)| (k.uri, s)).collect();
        assert_eq!(
            states,
            [
                ("sip:192.0.2.2".into(), State::Unknown),
                ("sip:192.0.2.1".into(), State::Down)
            ]
        );
        // The new one is probed at once, the kept one when its interval says.
        assert_eq!(round(&mut ka, t0 + S, false), [key("sip:192.0.2.2")]);
        ka.configure(t0 + 2 * S, Vec::new());
        assert!(ka.states().is_empty());
        assert_eq!(ka.poll_timeout(), None);
    }
}
