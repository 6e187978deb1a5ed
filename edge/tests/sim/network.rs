//! The simulated network and what every party shares: the virtual clock, the
//! run's one seeded RNG, and the trace.
//!
//! Datagrams wait in a queue ordered by (delivery time, sequence number), so
//! that two datagrams due at the same instant are delivered in the order they
//! were sent, whatever the hashing of the process. Every random choice of a
//! run (a loss, a delay, a duplicate, a peer's 491 back-off, the control
//! plane's reaction time) is drawn from `Ctx::rng` in the order the run makes
//! it, so a seed replays exactly.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The origin of virtual time. `Instant` has no constructor but `now()`, so it
/// is read once per process and never again: every instant of a run is
/// `epoch() + offset`, and nothing in a run depends on the origin's value.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// What every party of a run shares while it handles an input.
pub struct Ctx {
    /// The virtual time.
    pub now: Instant,
    /// The run's only source of randomness.
    pub rng: StdRng,
    /// What happened, for a failure report.
    pub trace: Trace,
}

impl Ctx {
    /// A run at virtual time zero.
    pub fn new(seed: u64) -> Ctx {
        Ctx {
            now: epoch(),
            rng: StdRng::seed_from_u64(seed),
            trace: Trace::default(),
        }
    }

    /// Virtual time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        self.now - epoch()
    }

    /// An instant `offset` after the start of the run.
    pub fn at(offset: Duration) -> Instant {
        epoch() + offset
    }

    /// A uniformly drawn duration in `lo..=hi`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        if hi <= lo {
            return lo;
        }
        let us = self
            .rng
            .random_range(lo.as_micros() as u64..=hi.as_micros() as u64);
        Duration::from_micros(us)
    }

    /// Adds a line to the trace, stamped with the virtual time.
    pub fn note(&mut self, who: &str, what: impl AsRef<str>) {
        let line = format!("{:>9.3} {who:<8} {}", secs(self.elapsed()), what.as_ref());
        self.trace.lines.push(line);
    }
}

/// Seconds with milliseconds, for the trace.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The compact record of a run: one line per datagram sent (with its fate),
/// per control-plane event and command, and per scripted step of a peer.
#[derive(Debug, Default)]
pub struct Trace {
    /// The lines, in order.
    pub lines: Vec<String>,
}

impl Trace {
    /// The whole trace, one line each.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// How one direction of a link treats datagrams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice (independent delays).
    pub duplicate: f64,
    /// Probability that a datagram is held back behind later ones.
    pub reorder: f64,
    /// Shortest one-way delay.
    pub delay_min: Duration,
    /// Longest one-way delay (before a reordering hold-back).
    pub delay_max: Duration,
}

impl Link {
    /// A link that loses, duplicates and reorders nothing, with a fixed delay.
    pub fn perfect(delay: Duration) -> Link {
        Link {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            delay_min: delay,
            delay_max: delay,
        }
    }

    /// A moderately bad link drawn from `rng`: loss up to 10 %, duplicates
    /// up to 5 %, reordering up to 10 %, 1–150 ms of delay.
    pub fn moderate(rng: &mut StdRng) -> Link {
        let delay_min = Duration::from_millis(rng.random_range(1..=20));
        let spread = Duration::from_millis(rng.random_range(0..=130));
        Link {
            loss: rng.random_range(0.0..=0.10),
            duplicate: rng.random_range(0.0..=0.05),
            reorder: rng.random_range(0.0..=0.10),
            delay_min,
            delay_max: delay_min + spread,
        }
    }

    /// A bad link for hunting (`VOXGATE_SIM_NETWORK=harsh`): loss up to
    /// 25 %, duplicates up to 10 %, reordering up to 20 %, 1–400 ms. At
    /// this loss a transaction can legitimately time out now and then
    /// (all eleven transmissions of a request, or their answers, lost).
    pub fn harsh(rng: &mut StdRng) -> Link {
        let delay_min = Duration::from_millis(rng.random_range(1..=50));
        let spread = Duration::from_millis(rng.random_range(0..=350));
        Link {
            loss: rng.random_range(0.0..=0.25),
            duplicate: rng.random_range(0.0..=0.10),
            reorder: rng.random_range(0.0..=0.20),
            delay_min,
            delay_max: delay_min + spread,
        }
    }

    /// One line for the failure report.
    pub fn describe(&self) -> String {
        format!(
            "loss {:.1}%, duplicates {:.1}%, reordering {:.1}%, delay {}..{} ms",
            self.loss * 100.0,
            self.duplicate * 100.0,
            self.reorder * 100.0,
            self.delay_min.as_millis(),
            self.delay_max.as_millis()
        )
    }
}

/// A datagram on its way.
#[derive(Clone, Debug)]
pub struct Datagram {
    /// The sender.
    pub from: SocketAddr,
    /// The receiver.
    pub to: SocketAddr,
    /// One SIP message.
    pub bytes: Bytes,
}

/// Datagrams between addresses, delivered by the virtual clock.
pub struct Network {
    /// Every link not named in `links`.
    pub default: Link,
    /// Per-direction overrides, by (from, to).
    pub links: BTreeMap<(SocketAddr, SocketAddr), Link>,
    /// Names for the trace.
    names: BTreeMap<SocketAddr, &'static str>,
    in_flight: BTreeMap<(Instant, u64), Datagram>,
    seq: u64,
    /// Counters: sent, lost, duplicated, held back.
    pub stats: NetStats,
}

/// What the network did to a run's datagrams.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetStats {
    /// Datagrams handed to the network.
    pub sent: u64,
    /// Lost.
    pub lost: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Held back behind later datagrams.
    pub reordered: u64,
}

impl Network {
    /// A network whose links are all `default`.
    pub fn new(default: Link) -> Network {
        Network {
            default,
            links: BTreeMap::new(),
            names: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    /// Names `addr` in the trace.
    pub fn name(&mut self, addr: SocketAddr, name: &'static str) {
        self.names.insert(addr, name);
    }

    /// The trace name of `addr`.
    pub fn name_of(&self, addr: SocketAddr) -> String {
        self.names
            .get(&addr)
            .map_or_else(|| addr.to_string(), |n| (*n).to_string())
    }

    /// Sends `bytes` from `from` to `to` over the link between them.
    pub fn send(&mut self, ctx: &mut Ctx, from: SocketAddr, to: SocketAddr, bytes: Bytes) {
        let link = self.links.get(&(from, to)).copied().unwrap_or(self.default);
        self.stats.sent += 1;
        let lost = ctx.rng.random_bool(link.loss);
        let copies = if !lost && ctx.rng.random_bool(link.duplicate) {
            2
        } else {
            1
        };
        let mut fate = String::new();
        if lost {
            self.stats.lost += 1;
            fate.push_str("  [lost]");
        } else {
            for copy in 0..copies {
                let mut delay = ctx.between(link.delay_min, link.delay_max);
                if ctx.rng.random_bool(link.reorder) {
                    // Held back long enough to be overtaken by what follows.
                    delay += ctx.between(link.delay_max, 3 * link.delay_max.max(link.delay_min));
                    self.stats.reordered += 1;
                    fate.push_str("  [held back]");
                }
                if copy == 1 {
                    self.stats.duplicated += 1;
                    fate.push_str("  [duplicated]");
                }
                self.seq += 1;
                self.in_flight.insert(
                    (ctx.now + delay, self.seq),
                    Datagram {
                        from,
                        to,
                        bytes: bytes.clone(),
                    },
                );
            }
        }
        let line = format!(
            "{} -> {:<8} {}{fate}",
            self.name_of(from),
            self.name_of(to),
            first_line(&bytes)
        );
        ctx.note("net", line);
    }

    /// When the next datagram arrives.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// The next datagram due at or before `now`.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<Datagram> {
        let (&key, _) = self.in_flight.iter().next()?;
        if key.0 > now {
            return None;
        }
        self.in_flight.remove(&key)
    }
}

/// A message's start line, with the CSeq method for a response.
pub fn first_line(bytes: &Bytes) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or("").to_string();
    let start = match start.strip_suffix(" SIP/2.0") {
        Some(request) => request.to_string(),
        None => start,
    };
    if !start.starts_with("SIP/2.0 ") {
        return start;
    }
    let cseq = lines
        .find_map(|l| l.strip_prefix("CSeq: "))
        .unwrap_or("?")
        .to_string();
    format!("{} ({cseq})", start.trim_start_matches("SIP/2.0 "))
}
