//! Log volume is not the attacker's to choose: a refused source is logged once when its
//! first refusal comes, and then once at the end of the interval with how many followed,
//! not once per packet. At most [`MAX_SOURCES`] sources are followed per interval; the
//! refusals of any others are summed into one line, so an interval logs at most
//! `2 * MAX_SOURCES + 1` lines whatever the attacker sends.
//!
//! Sans-IO: [`RefusalLog::note`] and [`RefusalLog::poll_summary`] take the time and return
//! what to log; the core logs it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources followed at once; the table is allocated at its full size up front.
pub const MAX_SOURCES: usize = 256;

/// Why a source was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// In no trunk's allow-list.
    NotAllowed,
    /// In a trunk that does not allow the transport it used.
    TransportNotAllowed,
    /// Its User-Agent names a scanner.
    Scanner,
    /// It holds as many TCP/TLS connections as one source may (or all are taken).
    ConnectionLimit,
    /// A listed source's new call passed its trunk's `max_cps` or `max_calls`.
    TrunkLimit,
}

impl Refusal {
    /// The word in the log line.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not_allowed",
            Refusal::TransportNotAllowed => "transport_not_allowed",
            Refusal::Scanner => "scanner",
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::TrunkLimit => "trunk_limit",
        }
    }
}

/// What to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// The first refusal of a source in this interval: log it now.
    First {
        /// The source address.
        source: IpAddr,
        /// Why.
        reason: Refusal,
    },
    /// The interval of a source ended: `count` more refusals came after its first.
    Repeated {
        /// The source address.
        source: IpAddr,
        /// Why.
        reason: Refusal,
        /// How many after the first.
        count: u64,
    },
    /// Refusals of sources beyond [`MAX_SOURCES`] in the interval that ended.
    Others {
        /// How many.
        count: u64,
    },
}

/// The followed sources and their counts.
pub struct RefusalLog {
    interval: Duration,
    counts: HashMap<(IpAddr, Refusal), u64>,
    /// Interval ends in the order the sources were first seen (so in time order).
    ends: VecDeque<(Instant, (IpAddr, Refusal))>,
    /// Refusals not followed because the table was full, and when their interval ends.
    others: Option<(Instant, u64)>,
}

impl RefusalLog {
    /// A log that summarises every `interval`.
    pub fn new(interval: Duration) -> RefusalLog {
        RefusalLog {
            interval,
            counts: HashMap::with_capacity(MAX_SOURCES),
            ends: VecDeque::with_capacity(MAX_SOURCES),
            others: None,
        }
    }

    /// A new interval length, for sources first seen from now on.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// One refusal; `Some` when it is to be logged now.
    pub fn note(&mut self, now: Instant, source: IpAddr, reason: Refusal) -> Option<Line> {
        let source = source.to_canonical();
        if let Some(count) = self.counts.get_mut(&(source, reason)) {
            *count += 1;
            return None;
        }
        if self.counts.len() >= MAX_SOURCES {
            let interval = self.interval;
            self.others.get_or_insert((now + interval, 0)).1 += 1;
            return None;
        }
        self.counts.insert((source, reason), 0);
        self.ends.push_back((now + self.interval, (source, reason)));
        Some(Line::First { source, reason })
    }

    /// The next summary due at `now`, if any; call until `None`.
    pub fn poll_summary(&mut self, now: Instant) -> Option<Line> {
        while let Some(&(end, key)) = self.ends.front() {
            if end > now {
                break;
            }
            self.ends.pop_front();
            let count = self.counts.remove(&key).unwrap_or(0);
            if count > 0 {
                let (source, reason) = key;
                return Some(Line::Repeated {
                    source,
                    reason,
                    count,
                });
            }
        }
        match self.others {
            Some((end, count)) if end <= now => {
                self.others = None;
                Some(Line::Others { count })
            }
            _ => None,
        }
    }

    /// When [`RefusalLog::poll_summary`] next has something (or forgets a source).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next = self.ends.front().map(|(end, _)| *end);
        match (next, self.others.map(|(end, _)| end)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(i: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + i))
    }

    fn drain(log: &mut RefusalLog, now: Instant) -> Vec<Line> {
        std::iter::from_fn(|| log.poll_summary(now)).collect()
    }

    #[test]
    fn a_flood_from_one_source_is_two_lines_per_interval() {
        let t0 = Instant::now();
        let mut log = RefusalLog::new(MIN);
        let mut logged = Vec::new();
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i * 10); // 100 s of 100 packets/s
            logged.extend(drain(&mut log, now));
            logged.extend(log.note(now, ip(1), Refusal::NotAllowed));
        }
        logged.extend(drain(&mut log, t0 + Duration::from_secs(200)));
        let first = Line::First {
            source: ip(1),
            reason: Refusal::NotAllowed,
        };
        assert_eq!(
            logged,
            vec![
                first,
                Line::Repeated {
                    source: ip(1),
                    reason: Refusal::NotAllowed,
                    count: 5999
                },
                first,
                Line::Repeated {
                    source: ip(1),
                    reason: Refusal::NotAllowed,
                    count: 3999
                },
            ]
        );
        assert_eq!(log.poll_timeout(), None);
    }

    #[test]
    fn the_timeout_is_the_earliest_interval_end() {
        let t0 = Instant::now();
        let mut log = RefusalLog::new(MIN);
        assert_eq!(log.poll_timeout(), None);
        log.note(t0, ip(1), Refusal::Scanner);
        log.note(t0 + Duration::from_secs(5), ip(2), Refusal::Scanner);
        assert_eq!(log.poll_timeout(), Some(t0 + MIN));
        // A lone refusal has nothing to summarise: it is forgotten silently.
        assert_eq!(drain(&mut log, t0 + MIN), vec![]);
        assert_eq!(log.poll_timeout(), Some(t0 + MIN + Duration::from_secs(5)));
        // One reason does not hide another of the same source.
        assert!(log.note(t0 + MIN, ip(2), Refusal::NotAllowed).is_some());
    }

    #[test]
    fn many_sources_are_bounded_and_summed() {
        let t0 = Instant::now();
        let mut log = RefusalLog::new(MIN);
        let firsts = (0..10_000)
            .filter_map(|i| log.note(t0, ip(i), Refusal::NotAllowed))
            .count();
        assert_eq!(firsts, MAX_SOURCES);
        let lines = drain(&mut log, t0 + MIN);
        assert_eq!(
            lines,
            vec![Line::Others {
                count: 10_000 - MAX_SOURCES as u64
            }]
        );
        assert_eq!(log.poll_timeout(), None);
    }
}
