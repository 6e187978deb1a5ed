//! The conversation scenarios: who calls whom, how the callees answer,
//! what the control plane does, and what each party must have seen at the
//! end, on top of `Sim::check_common`.
//!
//! A check returns the notable things that happened in the run (which side
//! won a race, whether a glare happened): a scenario names how often each
//! must come up over a batch of seeds, so that it cannot pass by never
//! reaching the situation it is about.

mod mid_call;
mod setup;

use crate::control::{Plane, PlaneFactory, Router};
use crate::network::Ctx;
use crate::ua::{Answer, By, Call, Script, Ua, ms};
use crate::world::Sim;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use voxgate_config::Config;
use voxgate_edge::control_plane::{EndCause, Event, Side};
use voxgate_sip::transaction::TimerConfig;

/// voxgate's address.
pub const VOXGATE: &str = "192.0.2.10:5060";
const CALLER: &str = "198.51.100.5:5060";
const B1: &str = "sip:+15550100@203.0.113.7:5060";
const B2: &str = "sip:+15550100@203.0.113.8:5060";
const B3: &str = "sip:+15550100@203.0.113.9:5060";
const TARGET: &str = "sip:2002@203.0.113.20:5060";
/// A destination where nobody answers, not even at the transport.
const DEAD: &str = "sip:+15550100@203.0.113.99:5060";

/// The node's config: a carrier trunk for the caller, a PBX trunk for the
/// callees. The trying timeout is off: at 10 % loss a callee's INVITE and
/// its 100 can both be lost often enough in 4 s that the dial would move on,
/// which is right but not what these scenarios are about; session timers
/// and the media timeout are off (no RTP flows).
const CONFIG: &str = r#"
[node]
name = "sim"
region = "r1"

[[listener]]
transport = "udp"
address = "192.0.2.10:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[trunk]]
name = "carrier"
allow = ["198.51.100.0/24"]

[[trunk]]
name = "pbx"
allow = ["203.0.113.0/24"]

[calls]
trying_timeout_ms = 0
session_expires_s = 0
media_timeout_s = 0
"#;

/// The node's config, parsed once.
pub fn config() -> Arc<Config> {
    static CONFIG_ONCE: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG_ONCE
        .get_or_init(|| {
            Arc::new(
                voxgate_config::load_str(CONFIG, "sim.toml")
                    .unwrap_or_else(|e| panic!("sim config: {e}")),
            )
        })
        .clone()
}

/// A scenario.
pub struct Scenario {
    /// Its name, for `VOXGATE_SIM_SCENARIO`.
    pub name: &'static str,
    /// The peers and the control plane of one run.
    pub build: fn(&mut Ctx) -> (Vec<Ua>, PlaneFactory),
    /// What must hold at the end; the notable things that happened.
    pub check: fn(&Sim) -> Result<Vec<&'static str>, String>,
    /// The least share of runs in which each notable thing must happen.
    pub expect: &'static [(&'static str, f64)],
}

/// Every scenario.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "caller_hangs_up",
        build: |_| setup::plain(Some(ms(5000)), None),
        check: |s| setup::plain_check(s, By::Us),
        expect: &[],
    },
    Scenario {
        name: "callee_hangs_up",
        build: |_| setup::plain(None, Some(ms(5000))),
        check: |s| setup::plain_check(s, By::Them),
        expect: &[],
    },
    Scenario {
        name: "busy",
        build: setup::busy,
        check: setup::busy_check,
        expect: &[],
    },
    Scenario {
        name: "failover",
        build: setup::failover,
        check: setup::failover_check,
        expect: &[],
    },
    Scenario {
        name: "dead_destination",
        build: setup::dead_destination,
        check: setup::failover_check,
        expect: &[],
    },
    Scenario {
        name: "no_answer",
        build: setup::no_answer,
        check: setup::no_answer_check,
        expect: &[],
    },
    Scenario {
        name: "cancel_race",
        build: setup::cancel_race,
        check: setup::cancel_race_check,
        expect: &[("cancel won", 0.2), ("answer won", 0.1)],
    },
    Scenario {
        name: "early_cancel",
        build: setup::early_cancel,
        check: setup::early_cancel_check,
        expect: &[("dialled and cancelled", 0.3)],
    },
    Scenario {
        name: "forked_2xx",
        build: |_| setup::forked(ms(1200), ms(10_000)),
        check: setup::forked_check,
        expect: &[],
    },
    Scenario {
        name: "late_fork",
        build: |_| setup::forked(ms(3000), ms(100)),
        check: setup::late_fork_check,
        expect: &[],
    },
    Scenario {
        name: "parallel_one_answers",
        build: |_| setup::parallel(false),
        check: setup::parallel_check,
        expect: &[],
    },
    Scenario {
        name: "parallel_two_answer",
        build: |_| setup::parallel(true),
        check: setup::parallel_check,
        expect: &[("late 2xx ACKed and BYEd", 0.25)],
    },
    Scenario {
        name: "parallel_all_busy",
        build: setup::parallel_busy,
        check: setup::busy_check,
        expect: &[],
    },
    Scenario {
        name: "transfer",
        build: mid_call::transfer,
        check: mid_call::transfer_check,
        expect: &[],
    },
    Scenario {
        name: "transfer_abandoned",
        build: mid_call::transfer_abandoned,
        check: mid_call::transfer_abandoned_check,
        expect: &[],
    },
    Scenario {
        name: "transfer_undecided",
        build: mid_call::transfer_undecided,
        check: mid_call::transfer_undecided_check,
        expect: &[("REFER pending at the end", 0.8)],
    },
    Scenario {
        name: "reinvite_meets_bye",
        build: mid_call::reinvite_meets_bye,
        check: mid_call::reinvite_meets_bye_check,
        expect: &[],
    },
    Scenario {
        name: "glare",
        build: mid_call::glare,
        check: mid_call::glare_check,
        expect: &[("glare", 0.5)],
    },
    Scenario {
        name: "glare_relayed",
        build: mid_call::glare_relayed,
        check: mid_call::glare_relayed_check,
        expect: &[("glare", 0.5)],
    },
    Scenario {
        name: "byes_cross",
        build: mid_call::byes_cross,
        check: mid_call::byes_cross_check,
        expect: &[],
    },
];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn uri_host(uri: &str) -> SocketAddr {
    addr(uri.rsplit('@').next().unwrap_or(uri))
}

/// The caller: INVITE to voxgate at the start of the run.
fn caller(script: Script) -> Ua {
    let call = Call {
        at: Duration::ZERO,
        to: addr(VOXGATE),
        uri: format!("sip:+15550100@{VOXGATE}"),
    };
    let script = Script {
        call: Some(call),
        ..script
    };
    Ua::new("caller", addr(CALLER), script, TimerConfig::default())
}

fn callee(name: &'static str, uri: &str, script: Script) -> Ua {
    Ua::new(name, uri_host(uri), script, TimerConfig::default())
}

/// Rings 100 ms, answers after a second.
fn rings_then_answers(tag: &'static str) -> Answer {
    Answer::Ring {
        ring: ms(100),
        answers: vec![(ms(1000), tag)],
    }
}

fn planes<P: Plane + 'static>(make: fn() -> P) -> PlaneFactory {
    Box::new(move || Box::new(make()))
}

fn router(destinations: Vec<&'static str>, parallel: bool) -> Router {
    Router {
        destinations,
        parallel,
        ring_timeout: None,
    }
}

/// The conversation ended with `side` and `cause`.
fn ended(s: &Sim, side: Side, cause: EndCause) -> Result<(), String> {
    match s.events().last() {
        Some(Event::Ended {
            side: got_side,
            cause: got_cause,
        }) if *got_side == side && *got_cause == cause => Ok(()),
        other => Err(format!(
            "expected Ended {{ {side:?}, {cause:?} }}, got {other:?}"
        )),
    }
}

/// The caller got exactly these final statuses.
fn caller_finals(s: &Sim, want: &[u16]) -> Result<(), String> {
    let got: Vec<u16> = s.peer("caller").log.finals.iter().map(|f| f.0).collect();
    if got != want {
        return Err(format!(
            "the caller's final responses: {got:?}, not {want:?}"
        ));
    }
    Ok(())
}

fn want_ends(s: &Sim, peer: &str, want: &[By]) -> Result<(), String> {
    let got = s.ends(peer);
    if got != want {
        return Err(format!("{peer}'s dialogs ended {got:?}, not {want:?}"));
    }
    Ok(())
}

/// When `peer` sent the BYE of its first dialog.
fn hangup_sent(s: &Sim, peer: &str) -> Result<Instant, String> {
    s.peer(peer)
        .legs
        .first()
        .and_then(|l| l.bye_sent)
        .ok_or_else(|| format!("{peer} never hung up"))
}
