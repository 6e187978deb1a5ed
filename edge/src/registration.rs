//! Outbound registration (RFC 3261 §10) of the trunks that ask for it
//! (`register = { ... }`), sans-IO: when to send each trunk's REGISTER, and
//! what its outcome makes of the trunk's state. The core builds and sends the
//! REGISTERs (answering digest challenges itself) and feeds the outcomes
//! back; time is passed in, so refresh and backoff are tested on a virtual
//! clock.
//!
//! A binding is refreshed before it expires (halfway, at most a minute
//! early); a failed REGISTER (a final failure, a timeout, refused
//! credentials) is tried again after a backoff that doubles from 30 s to
//! 15 min. A binding whose refresh has not succeeded by its expiry is lost.
//! One Call-ID per trunk for all its REGISTERs, CSeq rising (§10.2.4).
//!
//! A registrar that answers 423 (Interval Too Brief) gets the REGISTER again at
//! once with its Min-Expires (§10.2.8), kept for the trunk's later refreshes. A
//! binding that is no longer wanted (the trunk is removed, or registers elsewhere,
//! on reload; the node stops) is removed with a REGISTER of our Contact with
//! `Expires: 0` (§10.2.2): not `*`, which would remove the bindings the other node
//! of a redundant pair holds for the same address of record.

use std::time::{Duration, Instant};

use voxgate_config::{Register, TrunkName};

/// First wait after a failure; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_secs(30);
/// Longest wait after failures.
pub const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// A refresh goes at most this long before the binding expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The longest Min-Expires a 423 may raise a registration to (a day).
pub const MAX_EXPIRES: Duration = Duration::from_secs(24 * 3600);
/// 423s in a row that may raise the interval; after that, a failure.
const MAX_TOO_BRIEF: u8 = 3;

/// Where a trunk's registration is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegState {
    /// Not registered yet (the first REGISTER is on its way).
    Registering,
    /// The registrar holds our binding.
    Registered,
    /// The last REGISTER failed and the binding (if any) expired: retried after a backoff.
    Failed,
}

impl RegState {
    /// `registering`, `registered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegState::Registering => "registering",
            RegState::Registered => "registered",
            RegState::Failed => "failed",
        }
    }
}

/// One REGISTER sent, by its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegId(pub u64);

/// A REGISTER the core should send now.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Its id, for [`Registrations::on_registered`] and [`Registrations::on_failed`].
    pub id: RegId,
    /// The trunk.
    pub trunk: TrunkName,
    /// What to register.
    pub params: Register,
    /// The trunk's Call-ID.
    pub call_id: String,
    /// The CSeq number to use.
    pub cseq: u32,
    /// A removal (`params.expires` is zero): its outcome changes nothing here.
    pub unregister: bool,
}

#[derive(Debug)]
struct Entry {
    trunk: TrunkName,
    params: Register,
    state: RegState,
    call_id: String,
    cseq: u32,
    /// When the next REGISTER is due (none while one is in flight).
    next_at: Instant,
    in_flight: Option<RegId>,
    /// Failures in a row, for the backoff.
    failures: u32,
    /// When the registrar's binding runs out.
    expires_at: Option<Instant>,
    /// The interval asked for: the config's, or a registrar's Min-Expires.
    expires: Duration,
    /// 423s answered in a row.
    too_brief: u8,
}

impl Entry {
    fn bound(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at > now)
    }

    /// Where it registers: a change of any of these leaves the old binding behind.
    fn same_binding(&self, params: &Register) -> bool {
        self.params.registrar == params.registrar
            && self.params.user == params.user
            && self.params.transport == params.transport
    }
}

/// The registrations of every trunk that asks for one.
#[derive(Debug, Default)]
pub struct Registrations {
    entries: Vec<Entry>,
    sent: u64,
    changed: Vec<(TrunkName, RegState)>,
    /// Removals to send, ahead of any REGISTER, and since when.
    removals: Vec<Attempt>,
    removals_due: Option<Instant>,
}

/// The wait after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_MIN
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_MAX)
}

/// When to refresh a binding granted for `granted`: halfway, but no more
/// than [`REFRESH_MARGIN`] before it expires.
pub fn refresh_after(granted: Duration) -> Duration {
    (granted / 2).max(granted.saturating_sub(REFRESH_MARGIN))
}

impl Registrations {
    /// Registers `targets` (trunk, what to register, a Call-ID for a new
    /// one) from now on: a trunk registered before with the same parameters
    /// keeps its binding; a new or changed one registers at once; one no
    /// longer listed is dropped (its binding expires at the registrar).
    pub fn configure(&mut self, now: Instant, targets: Vec<(TrunkName, Register, String)>) {
        let mut old = std::mem::take(&mut self.entries);
        for (trunk, params, call_id) in targets {
            let kept = old
                .iter()
                .position(|e| e.trunk == trunk && e.params == params);
            let entry = match kept {
                Some(i) => old.swap_remove(i),
                None => {
                    self.changed.push((trunk.clone(), RegState::Registering));
                    let expires = params.expires;
                    Entry {
                        trunk,
                        params,
                        state: RegState::Registering,
                        call_id,
                        cseq: 0,
                        next_at: now,
                        in_flight: None,
                        failures: 0,
                        expires_at: None,
                        expires,
                        too_brief: 0,
                    }
                }
            };
            self.entries.push(entry);
        }
        // What is left of the old ones is no longer wanted where it is bound.
        for e in old {
            let moved = self
                .entries
                .iter()
                .find(|n| n.trunk == e.trunk)
                .is_none_or(|n| !e.same_binding(&n.params));
            if moved {
                self.remove_binding(now, e);
            }
        }
    }

    /// Removes every binding (the node stops): no REGISTER is sent after this.
    pub fn unregister_all(&mut self, now: Instant) {
        for e in std::mem::take(&mut self.entries) {
            self.remove_binding(now, e);
        }
    }

    /// Queues the removal of `e`'s binding, if the registrar still holds one.
    fn remove_binding(&mut self, now: Instant, e: Entry) {
        if !e.bound(now) {
            return;
        }
        self.sent += 1;
        self.removals_due.get_or_insert(now);
        self.removals.push(Attempt {
            id: RegId(self.sent),
            trunk: e.trunk,
            params: Register {
                expires: Duration::ZERO,
                ..e.params
            },
            call_id: e.call_id,
            cseq: e.cseq.wrapping_add(1),
            unregister: true,
        });
    }

    /// The next REGISTER due now, if any; it is in flight from then on.
    pub fn poll_register(&mut self, now: Instant) -> Option<Attempt> {
        if !self.removals.is_empty() {
            let removal = self.removals.remove(0);
            if self.removals.is_empty() {
                self.removals_due = None;
            }
            return Some(removal);
        }
        self.expire(now);
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.in_flight.is_none() && e.next_at <= now)?;
        self.sent += 1;
        let id = RegId(self.sent);
        e.in_flight = Some(id);
        e.cseq = e.cseq.wrapping_add(1);
        Some(Attempt {
            id,
            trunk: e.trunk.clone(),
            params: Register {
                expires: e.expires,
                ..e.params.clone()
            },
            call_id: e.call_id.clone(),
            cseq: e.cseq,
            unregister: false,
        })
    }

    /// The CSeq REGISTER `id` went out with last (sent again with credentials).
    pub fn note_cseq(&mut self, id: RegId, cseq: u32) {
        if let Some(e) = self.entry(id) {
            e.cseq = e.cseq.max(cseq);
        }
    }

    /// REGISTER `id` succeeded: the binding holds for `granted` from `now`.
    pub fn on_registered(&mut self, now: Instant, id: RegId, granted: Duration) {
        let Some(e) = self.entry(id) else { return };
        e.in_flight = None;
        e.failures = 0;
        e.too_brief = 0;
        e.expires_at = Some(now + granted);
        e.next_at = now + refresh_after(granted);
        let change = (e.state != RegState::Registered).then(|| e.trunk.clone());
        e.state = RegState::Registered;
        if let Some(trunk) = change {
            self.changed.push((trunk, RegState::Registered));
        }
    }

    /// REGISTER `id` got 423 (Interval Too Brief) with `min` as its
    /// Min-Expires: sent again at once asking for that (§10.2.8), if it is
    /// longer than what was asked and at most [`MAX_EXPIRES`], up to three
    /// times in a row; otherwise a failure.
    pub fn on_too_brief(&mut self, now: Instant, id: RegId, min: Option<Duration>) {
        let Some(e) = self.entry(id) else { return };
        match min.filter(|m| *m > e.expires && *m <= MAX_EXPIRES && e.too_brief < MAX_TOO_BRIEF) {
            Some(m) => {
                e.expires = m;
                e.too_brief += 1;
                e.in_flight = None;
                e.next_at = now;
            }
            None => self.on_failed(now, id),
        }
    }

    /// REGISTER `id` failed: tried again after the backoff. A binding that
    /// has not expired yet is still held meanwhile.
    pub fn on_failed(&mut self, now: Instant, id: RegId) {
        let Some(e) = self.entry(id) else { return };
        e.in_flight = None;
        e.failures = e.failures.saturating_add(1);
        let mut wait = backoff(e.failures);
        if let Some(expiry) = e.expires_at.filter(|at| *at > now) {
            // Still bound: try again before it runs out, if the backoff would wait past it.
            wait = wait.min(expiry.saturating_duration_since(now) / 2);
        }
        e.next_at = now + wait.max(Duration::from_secs(1));
        if !e.bound(now) && e.state != RegState::Failed {
            e.state = RegState::Failed;
            let trunk = e.trunk.clone();
            self.changed.push((trunk, RegState::Failed));
        }
    }

    /// Bindings past their expiry (their refresh not answered) are lost.
    fn expire(&mut self, now: Instant) {
        for e in &mut self.entries {
            if e.state == RegState::Registered && e.expires_at.is_some_and(|at| at <= now) {
                e.state = RegState::Failed;
                e.expires_at = None;
                self.changed.push((e.trunk.clone(), RegState::Failed));
            }
        }
    }

    /// Fires what is due: expired bindings.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    /// When the next REGISTER is due or a binding expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Asked every turn of the signalling loop; most nodes register nowhere.
        if self.entries.is_empty() && self.removals.is_empty() {
            return None;
        }
        if self.removals_due.is_some() {
            return self.removals_due;
        }
        self.entries
            .iter()
            .flat_map(|e| {
                let next = e.in_flight.is_none().then_some(e.next_at);
                let expiry = e.expires_at.filter(|_| e.state == RegState::Registered);
                [next, expiry]
            })
            .flatten()
            .min()
    }

    /// A trunk whose state changed since the last call, with its new state.
    pub fn poll_change(&mut self) -> Option<(TrunkName, RegState)> {
        if self.changed.is_empty() {
            None
        } else {
            Some(self.changed.remove(0))
        }
    }

    /// Every registering trunk and its state.
    pub fn states(&self) -> Vec<(TrunkName, RegState)> {
        self.entries
            .iter()
            .map(|e| (e.trunk.clone(), e.state))
            .collect()
    }

    fn entry(&mut self, id: RegId) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.in_flight == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn params(expires_s: u32) -> Register {
        Register {
            registrar: "sip:192.0.2.1:5060".into(),
            transport: voxgate_config::ListenerTransport::Udp,
            user: "acme".into(),
            expires: expires_s * S,
        }
    }

    fn trunk() -> TrunkName {
        TrunkName::new("carrier").unwrap()
    }

    fn regs(now: Instant, expires_s: u32) -> Registrations {
        let mut r = Registrations::default();
        r.configure(now, vec![(trunk(), params(expires_s), "cid-1".into())]);
        r
    }

    #[test]
    fn registers_at_once_then_refreshes_before_expiry() {
        let t0 = Instant::now();
        let mut r = regs(t0, 3600);
        assert_eq!(r.poll_change(), Some((trunk(), RegState::Registering)));
        let a = r.poll_register(t0).unwrap();
        assert_eq!((a.cseq, a.call_id.as_str()), (1, "cid-1"));
        assert!(r.poll_register(t0).is_none(), "one in flight at a time");
        r.on_registered(t0, a.id, 3600 * S);
        assert_eq!(r.poll_change(), Some((trunk(), RegState::Registered)));
        // The refresh is due a minute before expiry, not before.
        assert_eq!(r.poll_timeout(), Some(t0 + 3540 * S));
        assert!(r.poll_register(t0 + 3539 * S).is_none());
        let b = r.poll_register(t0 + 3540 * S).unwrap();
        assert_eq!((b.cseq, b.call_id.as_str()), (2, "cid-1"));
        r.on_registered(t0 + 3540 * S, b.id, 3600 * S);
        assert_eq!(r.poll_change(), None, "still registered");
        // A short grant is refreshed halfway.
        let c = r.poll_register(t0 + 7080 * S).unwrap();
        r.on_registered(t0 + 7080 * S, c.id, 60 * S);
        assert_eq!(r.poll_timeout(), Some(t0 + 7110 * S));
    }

    #[test]
    fn failures_back_off_doubling_to_fifteen_minutes() {
        let t0 = Instant::now();
        let mut r = regs(t0, 600);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let a = r.poll_register(now).unwrap();
            r.on_failed(now, a.id);
            let next = r.poll_timeout().unwrap();
            waits.push((next - now).as_secs());
            assert!(r.poll_register(next - S).is_none());
            now = next;
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(r.poll_change(), Some((trunk(), RegState::Registering)));
        assert_eq!(r.poll_change(), Some((trunk(), RegState::Failed)));
        assert_eq!(r.poll_change(), None, "one change, not one per failure");
        // Success resets the backoff.
        let a = r.poll_register(now).unwrap();
        r.on_registered(now, a.id, 600 * S);
        assert_eq!(r.states(), vec![(trunk(), RegState::Registered)]);
        let b = r.poll_register(now + 540 * S).unwrap();
        r.on_failed(now + 540 * S, b.id);
        assert_eq!(
            r.poll_timeout(),
            Some(now + 570 * S),
            "30 s, within the binding"
        );
    }

    #[test]
    fn a_binding_not_refreshed_expires_and_a_failed_refresh_retries_before_expiry() {
        let t0 = Instant::now();
        let mut r = regs(t0, 120);
        let a = r.poll_register(t0).unwrap();
        r.on_registered(t0, a.id, 120 * S);
        r.poll_change();
        r.poll_change();
        // The refresh at 60 s fails: still bound until 120 s, retried within it.
        let b = r.poll_register(t0 + 60 * S).unwrap();
        r.on_failed(t0 + 60 * S, b.id);
        assert_eq!(r.states(), vec![(trunk(), RegState::Registered)]);
        assert_eq!(r.poll_timeout(), Some(t0 + 90 * S));
        // That one is never answered (in flight): at 120 s the binding is lost.
        let _c = r.poll_register(t0 + 90 * S).unwrap();
        assert_eq!(r.poll_timeout(), Some(t0 + 120 * S));
        r.handle_timeout(t0 + 120 * S);
        assert_eq!(r.poll_change(), Some((trunk(), RegState::Failed)));
    }

    #[test]
    fn reconfiguring_keeps_an_unchanged_binding_and_redoes_a_changed_one() {
        let t0 = Instant::now();
        let mut r = regs(t0, 3600);
        let a = r.poll_register(t0).unwrap();
        r.on_registered(t0, a.id, 3600 * S);
        while r.poll_change().is_some() {}
        r.configure(t0 + S, vec![(trunk(), params(3600), "cid-2".into())]);
        assert!(r.poll_register(t0 + S).is_none(), "kept");
        assert_eq!(r.poll_change(), None);
        r.configure(t0 + 2 * S, vec![(trunk(), params(1800), "cid-3".into())]);
        let b = r.poll_register(t0 + 2 * S).unwrap();
        assert_eq!((b.cseq, b.call_id.as_str()), (1, "cid-3"));
        assert_eq!(b.params.expires, 1800 * S);
        r.on_registered(t0 + 2 * S, b.id, 1800 * S);
        r.configure(t0 + 3 * S, Vec::new());
        assert!(r.states().is_empty());
        // The binding that is no longer wanted is removed: our Contact, Expires 0,
        // the Call-ID it was registered with, the next CSeq.
        assert_eq!(r.poll_timeout(), Some(t0 + 3 * S));
        let gone = r.poll_register(t0 + 3 * S).unwrap();
        assert!(gone.unregister);
        assert_eq!(gone.params.expires, Duration::ZERO);
        assert_eq!((gone.call_id.as_str(), gone.cseq), ("cid-3", 2));
        assert_eq!(r.poll_timeout(), None);
        assert!(r.poll_register(t0 + 4 * S).is_none());
    }

    #[test]
    fn a_binding_moved_elsewhere_is_removed_and_one_never_granted_is_not() {
        let t0 = Instant::now();
        let mut r = regs(t0, 3600);
        let a = r.poll_register(t0).unwrap();
        r.on_registered(t0, a.id, 3600 * S);
        let moved = Register {
            registrar: "sip:192.0.2.2:5060".into(),
            ..params(3600)
        };
        r.configure(t0 + S, vec![(trunk(), moved, "cid-2".into())]);
        let gone = r.poll_register(t0 + S).unwrap();
        assert!(gone.unregister);
        assert_eq!(gone.params.registrar, "sip:192.0.2.1:5060");
        assert_eq!((gone.call_id.as_str(), gone.cseq), ("cid-1", 2));
        let new = r.poll_register(t0 + S).unwrap();
        assert!(!new.unregister);
        assert_eq!(new.params.registrar, "sip:192.0.2.2:5060");
        // Never granted (in flight): nothing to remove when the node stops.
        r.unregister_all(t0 + 2 * S);
        assert!(r.poll_register(t0 + 2 * S).is_none());
        assert!(r.states().is_empty());
    }

    #[test]
    fn a_423_raises_the_interval_to_min_expires_and_keeps_it() {
        let t0 = Instant::now();
        let mut r = regs(t0, 60);
        let a = r.poll_register(t0).unwrap();
        assert_eq!(a.params.expires, 60 * S);
        r.on_too_brief(t0, a.id, Some(600 * S));
        // At once, not after a backoff, and no failure reported.
        let b = r.poll_register(t0).unwrap();
        assert_eq!((b.params.expires, b.cseq), (600 * S, 2));
        r.on_registered(t0, b.id, 600 * S);
        let c = r.poll_register(t0 + 540 * S).unwrap();
        assert_eq!(c.params.expires, 600 * S, "refreshes ask for it too");
        r.poll_change();
        r.poll_change();
        assert_eq!(r.poll_change(), None, "registering, registered: no failure");
        // A 423 without a usable Min-Expires (none, not longer, past a day) fails.
        for min in [None, Some(600 * S), Some(2 * MAX_EXPIRES)] {
            let mut r = regs(t0, 600);
            let a = r.poll_register(t0).unwrap();
            r.on_too_brief(t0, a.id, min);
            assert!(r.poll_register(t0).is_none(), "{min:?}");
            assert_eq!(r.poll_timeout(), Some(t0 + BACKOFF_MIN), "{min:?}");
        }
    }

    #[test]
    fn a_registrar_raising_min_expires_forever_is_a_failure_after_three() {
        let t0 = Instant::now();
        let mut r = regs(t0, 60);
        for i in 1..=3u32 {
            let a = r.poll_register(t0).unwrap();
            r.on_too_brief(t0, a.id, Some(S * (60 + 60 * i)));
        }
        let a = r.poll_register(t0).unwrap();
        assert_eq!(a.params.expires, 240 * S);
        r.on_too_brief(t0, a.id, Some(300 * S));
        assert!(r.poll_register(t0).is_none(), "backing off");
    }

    #[test]
    fn the_cseq_of_a_challenged_register_is_skipped() {
        let t0 = Instant::now();
        let mut r = regs(t0, 3600);
        let a = r.poll_register(t0).unwrap();
        r.note_cseq(a.id, 2);
        r.on_registered(t0, a.id, 3600 * S);
        assert_eq!(r.poll_register(t0 + 3540 * S).unwrap().cseq, 3);
    }
}
