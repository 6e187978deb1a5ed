//! Per-source token buckets and escalating bans (sans-IO: the caller passes the time).
//!
//! Checked for every datagram and connection attempt from a source in no trunk's
//! allow-list, before anything is parsed, by every transport task at once. So the table
//! is a fixed array of slots made of atomics, allocated once (at start, and when a reload
//! changes `max_sources`): no allocation and no lock per packet, and a flood of spoofed
//! addresses cannot grow it. A slot is found by a keyed hash (random per table, so an
//! attacker cannot aim addresses at one set) in a set of `WAYS` (4) slots; a new source takes
//! an empty slot, else the set's quietest unbanned one.
//!
//! Each slot is updated by a load and a store, not a compare-and-swap: two threads
//! checking one source at the same instant may lose one token or one count. That only
//! makes the limit approximate under contention, never unsafe; all of voxgate's
//! signalling (and so every transport task) runs on one thread anyway.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Slots per set: a new source may evict only one of these.
const WAYS: usize = 4;
/// Token amounts are kept in sixteenths, so that slow rates still refill per millisecond.
const UNIT: u64 = 16;
/// Bucket time: milliseconds in the low 36 bits (wraps after ~795 days; a wrapped
/// difference only refills a bucket early).
const TIME_BITS: u32 = 36;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
/// Bans: the end in the low 48 bits (ms), the level above.
const UNTIL_BITS: u32 = 48;
const UNTIL_MASK: u64 = (1 << UNTIL_BITS) - 1;
/// Doubling stops here (2^16 times the first ban is past any `ban_max`).
const MAX_LEVEL: u64 = 16;

/// A token bucket's rate and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: u32,
    /// Tokens held at most (the burst).
    pub burst: u32,
}

/// The limits the table applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Per IP address.
    pub address: Rate,
    /// Per /24 (IPv4) or /64 (IPv6).
    pub prefix: Rate,
    /// The first ban, in milliseconds.
    pub ban_ms: u64,
    /// The longest ban, in milliseconds; also how long a source must stay quiet after a
    /// ban to be forgiven its earlier ones.
    pub ban_max_ms: u64,
}

impl Limits {
    /// From the `[protection]` section.
    pub fn from_config(p: &voxgate_config::Protection) -> Limits {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Limits {
            address: Rate {
                per_second: p.source_rate,
                burst: p.source_burst,
            },
            prefix: Rate {
                per_second: p.prefix_rate,
                burst: p.prefix_burst,
            },
            ban_ms: ms(p.ban),
            ban_max_ms: ms(p.ban_max),
        }
    }
}

/// What was banned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One IP address.
    Address,
    /// Its /24 or /64.
    Prefix,
}

impl Scope {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Address => "address",
            Scope::Prefix => "prefix",
        }
    }
}

/// The outcome of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within its rates.
    Pass,
    /// The address or its prefix is banned: drop without a word.
    Banned,
    /// This packet emptied a bucket: a ban starts now (log it, once).
    NewBan {
        /// The address or the prefix.
        scope: Scope,
        /// How long, in milliseconds.
        ms: u64,
        /// 0 for a first ban, then 1, 2, … (each doubling it).
        level: u64,
    },
}

/// One tracked address or prefix.
#[derive(Default)]
struct Slot {
    /// The keyed hash of the source; 0 = empty.
    key: AtomicU64,
    /// Tokens (sixteenths, high bits) and the last refill (ms, low 36 bits).
    bucket: AtomicU64,
    /// Ban end (ms, low 48 bits; 0 = never banned) and level (high bits).
    ban: AtomicU64,
}

/// The fixed table of sources.
pub struct Limiter {
    slots: Box<[Slot]>,
    hasher: RandomState,
}

impl Limiter {
    /// The slots a table made for `capacity` has: a power of two, at least one set.
    pub fn capacity_for(capacity: usize) -> usize {
        capacity.max(WAYS).next_power_of_two()
    }

    /// A table of [`Limiter::capacity_for`]`(capacity)` slots.
    pub fn new(capacity: usize) -> Limiter {
        let n = Limiter::capacity_for(capacity);
        Limiter {
            slots: (0..n).map(|_| Slot::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Slots in the table.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// One packet from `ip` (not in any allow-list) at `now_ms`, on the caller's clock.
    pub fn check(&self, now_ms: u64, ip: IpAddr, limits: &Limits) -> Verdict {
        let ip = ip.to_canonical();
        let (address, prefix) = keys(ip);
        let a = self.slot(now_ms, address);
        let p = self.slot(now_ms, prefix);
        if is_banned(a.ban.load(Relaxed), now_ms) || is_banned(p.ban.load(Relaxed), now_ms) {
            return Verdict::Banned;
        }
        if !take(&a.bucket, now_ms, limits.address) {
            return ban(a, now_ms, limits, Scope::Address);
        }
        if !take(&p.bucket, now_ms, limits.prefix) {
            return ban(p, now_ms, limits, Scope::Prefix);
        }
        Verdict::Pass
    }

    /// Lifts the ban of `ip` itself (`Scope::Address`) or of its /24 or /64
    /// (`Scope::Prefix`), and forgets its earlier ones: an operator's unblock. True when
    /// a ban was in force. Cold path (the admin API), never per packet.
    pub fn lift(&self, now_ms: u64, ip: IpAddr, scope: Scope) -> bool {
        let (address, prefix) = keys(ip.to_canonical());
        let key = match scope {
            Scope::Address => address,
            Scope::Prefix => prefix,
        };
        let hash = self.hasher.hash_one(key) | 1;
        let mask = self.slots.len() - 1;
        let base = usize::try_from(hash).unwrap_or(usize::MAX) & mask & !(WAYS - 1);
        let Some(slot) = self.slots[base..base + WAYS]
            .iter()
            .find(|s| s.key.load(Relaxed) == hash)
        else {
            return false;
        };
        let was = is_banned(slot.ban.load(Relaxed), now_ms);
        slot.ban.store(0, Relaxed);
        slot.bucket.store(fresh(now_ms), Relaxed);
        was
    }

    /// The slot of `key`, taking one over for it if it has none.
    fn slot(&self, now_ms: u64, key: (u8, u128)) -> &Slot {
        let hash = self.hasher.hash_one(key) | 1;
        let mask = self.slots.len() - 1;
        let base = usize::try_from(hash).unwrap_or(usize::MAX) & mask & !(WAYS - 1);
        let set = &self.slots[base..base + WAYS];
        if let Some(s) = set.iter().find(|s| s.key.load(Relaxed) == hash) {
            return s;
        }
        // Empty first; else the unbanned slot idle longest; else the ban ending first.
        let victim = set
            .iter()
            .min_by_key(|s| {
                let key = s.key.load(Relaxed);
                let ban = s.ban.load(Relaxed);
                let idle = now_ms.wrapping_sub(s.bucket.load(Relaxed)) & TIME_MASK;
                match (key, is_banned(ban, now_ms)) {
                    (0, _) => (0, 0),
                    (_, false) => (1, u64::MAX - idle),
                    (_, true) => (2, ban & UNTIL_MASK),
                }
            })
            .unwrap_or(&set[0]);
        victim.key.store(hash, Relaxed);
        victim.bucket.store(fresh(now_ms), Relaxed);
        victim.ban.store(0, Relaxed);
        victim
    }
}

/// The token count of a bucket that was never used: [`step`] fills it to its burst
/// (the largest burst, 10^7 tokens, needs fewer than these 28 bits).
const FRESH_TOKENS: u64 = (1 << (64 - TIME_BITS)) - 1;

/// The state of a new source's bucket, stamped with the time it was first seen.
fn fresh(now_ms: u64) -> u64 {
    (FRESH_TOKENS << TIME_BITS) | (now_ms & TIME_MASK)
}

/// The table's two keys for an address: itself, and its /24 or /64.
fn keys(ip: IpAddr) -> ((u8, u128), (u8, u128)) {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u128::from(u32::from(v4));
            ((4, bits), (24, bits & !0xff))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            ((6, bits), (64, bits & !u128::from(u64::MAX)))
        }
    }
}

fn is_banned(ban: u64, now_ms: u64) -> bool {
    now_ms < (ban & UNTIL_MASK)
}

/// Refills the bucket for the time since its last packet and takes one token.
fn take(bucket: &AtomicU64, now_ms: u64, rate: Rate) -> bool {
    let (ok, next) = step(bucket.load(Relaxed), now_ms, rate);
    bucket.store(next, Relaxed);
    ok
}

/// The token bucket as a pure function of its packed state.
fn step(state: u64, now_ms: u64, rate: Rate) -> (bool, u64) {
    let full = u64::from(rate.burst) * UNIT;
    let held = state >> TIME_BITS;
    let tokens = if held == FRESH_TOKENS {
        full
    } else {
        let last = state & TIME_MASK;
        let elapsed = now_ms.wrapping_sub(last) & TIME_MASK;
        let refill = elapsed.saturating_mul(u64::from(rate.per_second) * UNIT) / 1000;
        held.saturating_add(refill).min(full)
    };
    let (ok, left) = match tokens.checked_sub(UNIT) {
        Some(left) => (true, left),
        None => (false, tokens),
    };
    (ok, (left << TIME_BITS) | (now_ms & TIME_MASK))
}

/// Bans the slot's source: twice as long as its last ban if that ended less than
/// `ban_max` ago, else for `ban`.
fn ban(slot: &Slot, now_ms: u64, limits: &Limits, scope: Scope) -> Verdict {
    let last = slot.ban.load(Relaxed);
    let last_until = last & UNTIL_MASK;
    let level = if last_until != 0 && now_ms < last_until.saturating_add(limits.ban_max_ms) {
        ((last >> UNTIL_BITS) + 1).min(MAX_LEVEL)
    } else {
        0
    };
    let ms = limits
        .ban_ms
        .saturating_mul(1 << level)
        .min(limits.ban_max_ms);
    let until = now_ms.saturating_add(ms).min(UNTIL_MASK);
    slot.ban.store((level << UNTIL_BITS) | until, Relaxed);
    Verdict::NewBan { scope, ms, level }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        address: Rate {
            per_second: 10,
            burst: 20,
        },
        prefix: Rate {
            per_second: 50,
            burst: 100,
        },
        ban_ms: 60_000,
        ban_max_ms: 3_600_000,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Sends `n` packets from `src` spread evenly over `span_ms` from `start`; the verdicts.
    fn send(l: &Limiter, start: u64, span_ms: u64, n: u64, src: &str) -> Vec<Verdict> {
        (0..n)
            .map(|i| l.check(start + span_ms * i / n.max(1), ip(src), &LIMITS))
            .collect()
    }

    #[test]
    fn a_lifted_ban_lets_the_source_in_and_starts_it_afresh() {
        let l = Limiter::new(1024);
        let verdicts = send(&l, 0, 0, 21, "192.0.2.7");
        assert!(matches!(
            verdicts[20],
            Verdict::NewBan {
                scope: Scope::Address,
                level: 0,
                ..
            }
        ));
        assert_eq!(l.check(10, ip("192.0.2.7"), &LIMITS), Verdict::Banned);
        // The prefix is not banned: lifting it finds no ban.
        assert!(!l.lift(10, ip("192.0.2.7"), Scope::Prefix));
        assert!(l.lift(10, ip("192.0.2.7"), Scope::Address));
        assert!(!l.lift(10, ip("192.0.2.7"), Scope::Address));
        // A full bucket again, and the next ban is a first one (not doubled).
        let verdicts = send(&l, 20, 0, 21, "192.0.2.7");
        assert!(verdicts[..20].iter().all(|v| *v == Verdict::Pass));
        assert!(matches!(verdicts[20], Verdict::NewBan { level: 0, .. }));
        // An address never seen has nothing to lift.
        assert!(!l.lift(30, ip("198.51.100.1"), Scope::Address));
    }

    #[test]
    fn a_burst_passes_and_the_next_packet_bans() {
        let l = Limiter::new(1024);
        let v = send(&l, 1000, 0, 20, "192.0.2.1");
        assert!(v.iter().all(|v| *v == Verdict::Pass));
        assert_eq!(
            l.check(1000, ip("192.0.2.1"), &LIMITS),
            Verdict::NewBan {
                scope: Scope::Address,
                ms: 60_000,
                level: 0
            }
        );
        // Banned until the ban ends, however slowly it sends.
        assert_eq!(l.check(60_999, ip("192.0.2.1"), &LIMITS), Verdict::Banned);
        // Another address of the prefix is not.
        assert_eq!(l.check(2000, ip("192.0.2.2"), &LIMITS), Verdict::Pass);
        // After the ban the bucket has refilled.
        assert_eq!(l.check(61_000, ip("192.0.2.1"), &LIMITS), Verdict::Pass);
    }

    #[test]
    fn the_sustained_rate_passes_forever() {
        let l = Limiter::new(1024);
        // 10 per second for an hour: exactly the rate.
        let v = send(&l, 0, 3_600_000, 36_000, "2001:db8::1");
        assert!(v.iter().all(|v| *v == Verdict::Pass));
        // Slightly faster than the rate eats the burst and then bans.
        let v = send(&l, 4_000_000, 10_000, 130, "2001:db8::2");
        assert!(v.contains(&Verdict::NewBan {
            scope: Scope::Address,
            ms: 60_000,
            level: 0
        }));
    }

    #[test]
    fn bans_escalate_for_repeat_offenders_and_are_forgiven() {
        let l = Limiter::new(1024);
        let mut now = 0;
        let mut bans = Vec::new();
        for _ in 0..8 {
            // Flood until banned.
            loop {
                if let Verdict::NewBan { ms, level, .. } = l.check(now, ip("198.51.100.7"), &LIMITS)
                {
                    bans.push((ms, level));
                    now += ms;
                    break;
                }
            }
        }
        assert_eq!(
            bans,
            vec![
                (60_000, 0),
                (120_000, 1),
                (240_000, 2),
                (480_000, 3),
                (960_000, 4),
                (1_920_000, 5),
                (3_600_000, 6),
                (3_600_000, 7)
            ]
        );
        // Quiet for ban_max after the last ban: the next one is a first one again.
        now += 3_600_000;
        let first = loop {
            if let v @ Verdict::NewBan { .. } = l.check(now, ip("198.51.100.7"), &LIMITS) {
                break v;
            }
        };
        assert_eq!(
            first,
            Verdict::NewBan {
                scope: Scope::Address,
                ms: 60_000,
                level: 0
            }
        );
    }

    #[test]
    fn a_prefix_is_banned_when_its_addresses_share_the_load() {
        let l = Limiter::new(1024);
        // 200 addresses of one /24, one packet each: no address is over its rate, the
        // prefix is (burst 100).
        let verdicts: Vec<Verdict> = (1..=200)
            .map(|i| l.check(0, ip(&format!("203.0.113.{i}")), &LIMITS))
            .collect();
        let first_ban = verdicts.iter().position(|v| *v != Verdict::Pass).unwrap();
        assert_eq!(first_ban, 100);
        assert_eq!(
            verdicts[100],
            Verdict::NewBan {
                scope: Scope::Prefix,
                ms: 60_000,
                level: 0
            }
        );
        assert!(verdicts[101..].iter().all(|v| *v == Verdict::Banned));
        // Another /24 is untouched; an IPv6 /64 likewise groups its addresses.
        assert_eq!(l.check(0, ip("203.0.114.1"), &LIMITS), Verdict::Pass);
        let v6: Vec<Verdict> = (1..=101)
            .map(|i| l.check(0, ip(&format!("2001:db8:0:1::{i:x}")), &LIMITS))
            .collect();
        assert_eq!(
            v6[100],
            Verdict::NewBan {
                scope: Scope::Prefix,
                ms: 60_000,
                level: 0
            }
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_source() {
        let l = Limiter::new(1024);
        send(&l, 0, 0, 20, "192.0.2.9");
        assert!(matches!(
            l.check(0, ip("::ffff:192.0.2.9"), &LIMITS),
            Verdict::NewBan { .. }
        ));
    }

    #[test]
    fn the_table_stays_bounded_and_keeps_bans_over_quiet_sources() {
        let l = Limiter::new(16);
        assert_eq!(l.capacity(), 16);
        // Ban one address, then spray 10,000 others (a /24 each, so no prefix ban).
        send(&l, 0, 0, 21, "192.0.2.1");
        for i in 0..10_000u32 {
            let a = std::net::Ipv4Addr::from(0x0a00_0001 + (i << 8));
            l.check(1, IpAddr::V4(a), &LIMITS);
        }
        assert_eq!(l.capacity(), 16);
        // The ban survived: every eviction prefers an unbanned slot.
        assert_eq!(l.check(2, ip("192.0.2.1"), &LIMITS), Verdict::Banned);
    }

    #[test]
    fn bucket_state_survives_the_clock_wrapping() {
        let rate = Rate {
            per_second: 1,
            burst: 1,
        };
        let near_wrap = TIME_MASK - 10;
        let (ok, s) = step(fresh(0), near_wrap, rate);
        assert!(ok);
        let (ok, s) = step(s, near_wrap + 5, rate);
        assert!(!ok);
        // 1 s later, across the wrap of the 36-bit time.
        let (ok, _) = step(s, near_wrap + 1005, rate);
        assert!(ok);
    }
}
