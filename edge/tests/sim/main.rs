//! Deterministic whole-node simulation (in the spirit of FoundationDB's and
//! TigerBeetle's simulation testing): voxgate's core, transaction layer,
//! conversations and a control plane, with simulated user agents, over a
//! simulated network that loses, delays, duplicates and reorders datagrams,
//! on a virtual clock, all driven by one seed per run.
//!
//! Each scenario runs over many seeds; a failure prints the seed, the
//! command that replays exactly that run, and the run's trace.
//!
//! - `VOXGATE_SIM_SEEDS=10000` runs that many seeds per scenario (200 by
//!   default), from `VOXGATE_SIM_FIRST_SEED` (0 by default);
//! - `VOXGATE_SIM_SEED=1234` runs that one seed;
//! - `VOXGATE_SIM_SCENARIO=transfer` runs that scenario only;
//! - `VOXGATE_SIM_TRACE=1` prints every run's trace, passed or not;
//! - `VOXGATE_SIM_NETWORK=harsh` draws far worse links, for hunting.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod control;
mod network;
mod node;
mod scenarios;
mod ua;
mod wire;
mod world;

use network::{Ctx, Link};
use node::Node;
use scenarios::{ALL, Scenario, VOXGATE};
use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;
use world::Sim;

/// Virtual time a run may take before it counts as stuck.
const LIMIT: Duration = Duration::from_secs(300);

/// Seeds per scenario by default: well under a minute for all in a debug build.
const DEFAULT_SEEDS: u64 = 200;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v}: not a number ({e})")),
    )
}

/// The seeds to run.
fn seeds() -> Range<u64> {
    if let Some(seed) = env_u64("VOXGATE_SIM_SEED") {
        return seed..seed + 1;
    }
    let first = env_u64("VOXGATE_SIM_FIRST_SEED").unwrap_or(0);
    first..first + env_u64("VOXGATE_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)
}

/// Whether `name` is to run (`VOXGATE_SIM_SCENARIO` unset or naming it).
fn selected(name: &str) -> bool {
    std::env::var("VOXGATE_SIM_SCENARIO").map_or(true, |only| only == name)
}

/// `VOXGATE_SIM_NETWORK=harsh`.
fn harsh() -> bool {
    std::env::var("VOXGATE_SIM_NETWORK").is_ok_and(|v| v == "harsh")
}

/// The network of a run: every eighth seed a perfect one (the baseline),
/// else a moderately bad one drawn from the seed (a harsh one with
/// `VOXGATE_SIM_NETWORK=harsh`).
fn link(ctx: &mut Ctx, seed: u64) -> Link {
    if seed.is_multiple_of(8) {
        Link::perfect(Duration::from_millis(10))
    } else if harsh() {
        Link::harsh(&mut ctx.rng)
    } else {
        Link::moderate(&mut ctx.rng)
    }
}

/// What one run left behind.
struct Run {
    result: Result<Vec<&'static str>, String>,
    link: Link,
    net: network::NetStats,
    trace: String,
}

/// Runs `scenario` with `seed`: build, run to quiescence, check.
fn run(scenario: &Scenario, seed: u64) -> Run {
    let mut ctx = Ctx::new(seed);
    let link = link(&mut ctx, seed);
    ctx.note(
        "sim",
        format!("{} seed {seed}: {}", scenario.name, link.describe()),
    );
    let (peers, planes) = (scenario.build)(&mut ctx);
    let node = Node::new(VOXGATE.parse().unwrap(), scenarios::config(), planes);
    let mut sim = Sim::new(ctx, link, node, peers);
    let result = catch_unwind(AssertUnwindSafe(|| {
        sim.run(LIMIT)?;
        sim.check_common()?;
        (scenario.check)(&sim)
    }));
    let result = result.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        Err(format!("panicked: {msg}"))
    });
    Run {
        result,
        link,
        net: sim.net.stats,
        trace: sim.ctx.trace.render(),
    }
}

/// Runs `name` over the seeds; on failure prints the first failing run's
/// trace and how to replay it, and fails.
fn check_scenario(name: &str) {
    if !selected(name) {
        return;
    }
    let scenario = ALL
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"));
    let seeds = seeds();
    let print_all = std::env::var("VOXGATE_SIM_TRACE").is_ok_and(|v| v != "0");
    let mut failed: Vec<(u64, Run)> = Vec::new();
    let mut notes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut net = network::NetStats::default();
    let started = std::time::Instant::now();
    for seed in seeds.clone() {
        let r = run(scenario, seed);
        if print_all {
            println!("{}", r.trace);
        }
        net.sent += r.net.sent;
        net.lost += r.net.lost;
        net.duplicated += r.net.duplicated;
        net.reordered += r.net.reordered;
        match &r.result {
            Ok(n) => n.iter().for_each(|n| *notes.entry(n).or_default() += 1),
            Err(_) => failed.push((seed, r)),
        }
    }
    if let Some((seed, r)) = failed.first() {
        let others: Vec<u64> = failed.iter().skip(1).take(20).map(|f| f.0).collect();
        let harsh = if harsh() {
            "VOXGATE_SIM_NETWORK=harsh "
        } else {
            ""
        };
        panic!(
            "\nsimulation: scenario `{name}` failed with seed {seed}: {}\n\
             network: {}\n\
             replay: {harsh}VOXGATE_SIM_SEED={seed} VOXGATE_SIM_SCENARIO={name} \
             cargo test -p voxgate-edge --test sim -- --nocapture --include-ignored\n\
             {} of {} seeds failed{}\n\
             trace of seed {seed}:\n{}",
            r.result.as_ref().err().map_or("", String::as_str),
            r.link.describe(),
            failed.len(),
            seeds.end - seeds.start,
            if others.is_empty() {
                String::new()
            } else {
                format!(" (also {others:?})")
            },
            r.trace
        );
    }
    // Shown with --nocapture: what the seeds covered.
    let runs = seeds.end - seeds.start;
    println!(
        "{name}: {runs} seeds in {:.1} s (wall); {} datagrams, {} lost, {} duplicated, \
         {} held back; outcomes {notes:?}",
        started.elapsed().as_secs_f64(),
        net.sent,
        net.lost,
        net.duplicated,
        net.reordered
    );
    // A scenario must reach its point, not pass by avoiding it.
    if runs >= 20 {
        for (what, share) in scenario.expect {
            let seen = notes.get(what).copied().unwrap_or(0);
            assert!(
                seen as f64 >= share * runs as f64,
                "scenario `{name}`: `{what}` happened in {seen} of {runs} runs, \
                 expected at least {:.0} %",
                share * 100.0
            );
        }
    }
}

#[test]
fn plain_call_caller_hangs_up() {
    check_scenario("caller_hangs_up");
}

#[test]
fn plain_call_callee_hangs_up() {
    check_scenario("callee_hangs_up");
}

#[test]
fn busy_callee() {
    check_scenario("busy");
}

#[test]
fn failover_to_the_next_destination() {
    check_scenario("failover");
}

#[test]
fn failover_from_a_dead_destination() {
    check_scenario("dead_destination");
}

#[test]
fn ring_timeout() {
    check_scenario("no_answer");
}

#[test]
fn cancel_race() {
    check_scenario("cancel_race");
}

#[test]
fn cancel_at_once() {
    check_scenario("early_cancel");
}

#[test]
fn forked_2xx() {
    check_scenario("forked_2xx");
}

#[test]
fn forked_2xx_after_the_call_ended() {
    check_scenario("late_fork");
}

#[test]
fn transfer() {
    check_scenario("transfer");
}

#[test]
fn parallel_ringing_one_answers() {
    check_scenario("parallel_one_answers");
}

#[test]
fn parallel_ringing_two_answer() {
    check_scenario("parallel_two_answer");
}

#[test]
fn transfer_abandoned_by_the_caller() {
    check_scenario("transfer_abandoned");
}

#[test]
fn the_caller_leaves_while_the_plane_decides_a_transfer() {
    check_scenario("transfer_undecided");
}

#[test]
fn a_reinvite_meets_a_bye() {
    check_scenario("reinvite_meets_bye");
}

#[test]
fn parallel_ringing_all_busy() {
    check_scenario("parallel_all_busy");
}

#[test]
fn glare() {
    check_scenario("glare");
}

#[test]
fn glare_through_the_relay() {
    check_scenario("glare_relayed");
}

#[test]
fn byes_cross() {
    check_scenario("byes_cross");
}

#[test]
fn a_seed_replays_exactly() {
    // Two runs of one seed must agree to the last datagram; anything the
    // harness or the product leaves to a process's hashing shows up here.
    for scenario in ALL {
        for seed in [1, 2, 3] {
            let first = run(scenario, seed);
            let second = run(scenario, seed);
            assert_eq!(
                first.trace, second.trace,
                "scenario `{}` seed {seed} did not replay",
                scenario.name
            );
        }
    }
}

#[test]
fn the_network_loses_duplicates_and_reorders_as_configured() {
    use network::Network;
    let mut ctx = Ctx::new(7);
    let link = Link {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        delay_min: Duration::from_millis(10),
        delay_max: Duration::from_millis(50),
    };
    let mut net = Network::new(link);
    let (a, b) = (
        "192.0.2.1:5060".parse().unwrap(),
        "192.0.2.2:5060".parse().unwrap(),
    );
    for i in 0..10_000u32 {
        net.send(
            &mut ctx,
            a,
            b,
            bytes::Bytes::from(format!("OPTIONS sip:{i}@x SIP/2.0\r\n\r\n")),
        );
    }
    let s = net.stats;
    assert!((800..1200).contains(&s.lost), "lost {}", s.lost);
    assert!(
        (300..700).contains(&s.duplicated),
        "duplicated {}",
        s.duplicated
    );
    assert!(
        (700..1300).contains(&s.reordered),
        "reordered {}",
        s.reordered
    );
    // Everything arrives within its delay bounds, and some out of order.
    let mut arrived = Vec::new();
    ctx.now += Duration::from_secs(1);
    while let Some(d) = net.poll_delivery(ctx.now) {
        arrived.push(d.bytes);
    }
    assert_eq!(arrived.len() as u64, s.sent - s.lost + s.duplicated);
    assert!(net.poll_timeout().is_none(), "all delivered within 1 s");
    let order: Vec<u32> = arrived
        .iter()
        .map(|b| {
            let t = String::from_utf8_lossy(b);
            t["OPTIONS sip:".len()..t.find('@').unwrap()]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "nothing was reordered"
    );
}

#[test]
fn a_link_of_its_own_overrides_the_default() {
    use network::Network;
    let mut ctx = Ctx::new(7);
    let mut net = Network::new(Link::perfect(Duration::from_millis(10)));
    let (a, b, c) = (
        "192.0.2.1:5060".parse().unwrap(),
        "192.0.2.2:5060".parse().unwrap(),
        "192.0.2.3:5060".parse().unwrap(),
    );
    let cut = Link {
        loss: 1.0,
        ..Link::perfect(Duration::from_millis(10))
    };
    net.links.insert((a, c), cut);
    let msg = bytes::Bytes::from_static(b"OPTIONS sip:x@y SIP/2.0\r\n\r\n");
    for _ in 0..10 {
        net.send(&mut ctx, a, b, msg.clone());
        net.send(&mut ctx, a, c, msg.clone());
        net.send(&mut ctx, c, a, msg.clone());
    }
    ctx.now += Duration::from_millis(10);
    let mut to = Vec::new();
    while let Some(d) = net.poll_delivery(ctx.now) {
        to.push(d.to);
    }
    // a -> c is cut, in that direction only.
    assert_eq!(to.iter().filter(|t| **t == b).count(), 10);
    assert_eq!(to.iter().filter(|t| **t == a).count(), 10);
    assert!(!to.contains(&c));
}
