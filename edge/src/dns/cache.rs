//! The resolution cache, sans-IO: entries live as long as their TTL says,
//! and an entry in use is due for re-resolution before it expires, so that
//! a call finds its destination resolved instead of waiting for DNS. Time
//! is passed in; the shell ([`super::Dns`]) does the lookups.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use voxgate_sip::TransportKind;

use super::select::Resolution;

/// Shortest life of an entry: a TTL of 0 would make every call wait for DNS.
pub const MIN_TTL: Duration = Duration::from_secs(5);
/// Longest life of an entry, whatever the TTL says.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// An entry no call used for this long is not refreshed any more (it
/// expires with its TTL); names of the config are always refreshed.
pub const IDLE: Duration = Duration::from_secs(600);
/// A failed refresh is retried after this long (the entry is kept until
/// its TTL ends, so calls go on using it meanwhile).
pub const RETRY: Duration = Duration::from_secs(5);

/// What is resolved: a host name, the URI's port if it has one (then only
/// A/AAAA records count, RFC 3263 §4.2), and the transport (the SRV owner).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// The host name, lower case, without a trailing dot.
    pub name: String,
    /// The URI's explicit port.
    pub port: Option<u16>,
    /// The transport of the destination.
    pub transport: TransportKind,
}

impl Query {
    /// A query for `host` (any case, with or without a trailing dot).
    pub fn new(host: &str, port: Option<u16>, transport: TransportKind) -> Query {
        Query {
            name: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            transport,
        }
    }
}

#[derive(Debug)]
struct Entry {
    resolution: Resolution,
    expires: Instant,
    refresh: Instant,
    used: Instant,
    pinned: bool,
}

/// Resolutions by query.
#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<Query, Entry>,
    /// Queries of the config, refreshed even when unused.
    pinned: Vec<Query>,
}

impl Cache {
    /// The resolution of `query` if it is still within its TTL; marks it used.
    pub fn get(&mut self, now: Instant, query: &Query) -> Option<&Resolution> {
        let entry = self.entries.get_mut(query)?;
        if entry.expires <= now {
            return None;
        }
        entry.used = now;
        Some(&entry.resolution)
    }

    /// Stores what `query` resolved to, valid for `ttl` (clamped to
    /// [`MIN_TTL`]..=[`MAX_TTL`]); it is due for refresh at three quarters of it.
    pub fn insert(&mut self, now: Instant, query: Query, resolution: Resolution, ttl: Duration) {
        let ttl = ttl.clamp(MIN_TTL, MAX_TTL);
        let pinned = self.pinned.contains(&query);
        let used = self.entries.get(&query).map_or(now, |e| e.used);
        self.entries.insert(
            query,
            Entry {
                resolution,
                expires: now + ttl,
                refresh: now + ttl * 3 / 4,
                used,
                pinned,
            },
        );
    }

    /// A refresh of `query` failed: try again after [`RETRY`], keeping the
    /// entry until its TTL ends.
    pub fn refresh_failed(&mut self, now: Instant, query: &Query) {
        if let Some(e) = self.entries.get_mut(query) {
            e.refresh = now + RETRY;
        }
    }

    /// The queries of the config: always kept fresh; the others lose that.
    /// Returns those with no entry yet (to resolve now).
    pub fn pin(&mut self, queries: Vec<Query>) -> Vec<Query> {
        for (q, e) in &mut self.entries {
            e.pinned = queries.contains(q);
        }
        let missing = queries
            .iter()
            .filter(|q| !self.entries.contains_key(q))
            .cloned()
            .collect();
        self.pinned = queries;
        missing
    }

    /// The pinned queries with no entry yet (never resolved, or failed).
    pub fn missing(&self) -> Vec<Query> {
        self.pinned
            .iter()
            .filter(|q| !self.entries.contains_key(q))
            .cloned()
            .collect()
    }

    /// The queries due for re-resolution now (their refresh time passed and
    /// they are pinned or were used within [`IDLE`]); each is pushed back by
    /// [`RETRY`] so that it is handed out once per attempt. Expired entries
    /// that are not due any more are dropped.
    pub fn due(&mut self, now: Instant) -> Vec<Query> {
        self.entries
            .retain(|_, e| e.expires > now || e.pinned || now < e.used + IDLE);
        let mut due = Vec::new();
        for (q, e) in &mut self.entries {
            if e.refresh <= now && (e.pinned || now < e.used + IDLE) {
                e.refresh = now + RETRY;
                due.push(q.clone());
            }
        }
        due
    }

    /// When [`due`](Self::due) next has something to hand out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| e.pinned || e.refresh < e.used + IDLE)
            .map(|e| e.refresh)
            .min()
    }

    /// How many entries are held (a gauge).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::select::Srv;
    use super::*;

    fn res(port: u16) -> Resolution {
        Resolution {
            records: vec![Srv {
                priority: 0,
                weight: 0,
                port,
                addrs: vec!["127.0.0.1".parse().unwrap()],
            }],
        }
    }

    fn q(name: &str) -> Query {
        Query::new(name, None, TransportKind::Udp)
    }

    #[test]
    fn an_entry_lives_as_long_as_its_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.insert(t0, q("Carrier.Example."), res(1), Duration::from_secs(60));
        assert_eq!(c.get(t0, &q("carrier.example")), Some(&res(1)));
        let late = t0 + Duration::from_secs(59);
        assert!(c.get(late, &q("carrier.example")).is_some());
        assert!(
            c.get(t0 + Duration::from_secs(60), &q("carrier.example"))
                .is_none()
        );
        // A TTL of 0 still caches for a moment; a huge one is capped.
        c.insert(t0, q("zero.example"), res(2), Duration::ZERO);
        assert!(
            c.get(t0 + MIN_TTL - Duration::from_millis(1), &q("zero.example"))
                .is_some()
        );
        c.insert(
            t0,
            q("long.example"),
            res(3),
            Duration::from_secs(u64::from(u32::MAX)),
        );
        assert!(c.get(t0 + MAX_TTL, &q("long.example")).is_none());
        // The transport and port are part of the key.
        assert!(
            c.get(t0, &Query::new("carrier.example", None, TransportKind::Tcp))
                .is_none()
        );
        assert!(
            c.get(
                t0,
                &Query::new("carrier.example", Some(5060), TransportKind::Udp)
            )
            .is_none()
        );
    }

    #[test]
    fn a_used_entry_is_refreshed_before_it_expires() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.insert(t0, q("a.example"), res(1), Duration::from_secs(100));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(75)));
        assert!(c.due(t0 + Duration::from_secs(74)).is_empty());
        let t75 = t0 + Duration::from_secs(75);
        assert_eq!(c.due(t75), [q("a.example")]);
        // Handed out once per attempt: again only after RETRY.
        assert!(c.due(t75 + Duration::from_secs(1)).is_empty());
        c.refresh_failed(t75 + Duration::from_secs(1), &q("a.example"));
        assert_eq!(
            c.due(t75 + Duration::from_secs(1) + RETRY),
            [q("a.example")]
        );
        // The refresh answers: a new TTL from then.
        let t80 = t0 + Duration::from_secs(80);
        c.insert(t80, q("a.example"), res(9), Duration::from_secs(100));
        assert_eq!(
            c.get(t0 + Duration::from_secs(179), &q("a.example")),
            Some(&res(9))
        );
    }

    #[test]
    fn an_idle_entry_expires_and_a_pinned_one_does_not() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        assert_eq!(c.pin(vec![q("pinned.example")]), [q("pinned.example")]);
        c.insert(t0, q("pinned.example"), res(1), Duration::from_secs(60));
        c.insert(t0, q("idle.example"), res(2), Duration::from_secs(60));
        let later = t0 + IDLE + Duration::from_secs(1);
        assert_eq!(c.due(later), [q("pinned.example")]);
        assert_eq!(c.len(), 1);
        // Unpinned by a reload: it goes idle like the others.
        assert!(c.pin(Vec::new()).is_empty());
        c.insert(later, q("pinned.example"), res(1), Duration::from_secs(60));
        assert!(c.due(later + IDLE + Duration::from_secs(61)).is_empty());
        assert!(c.is_empty());
    }
}
