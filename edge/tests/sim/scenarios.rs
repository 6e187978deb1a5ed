//! The conversation scenarios: who calls whom, how the callees answer,
//! what the control plane does, and what each party must have seen at the
//! end, on top of `Sim::check_common`.
//!
//! A check returns the notable things that happened in the run (which side
//! won a race, whether a glare happened): a scenario names how often each
//! must come up over a batch of seeds, so that it cannot pass by never
//! reaching the situation it is about.

use crate::control::{HoldAt, Plane, PlaneFactory, Router, Transfers};
use crate::network::Ctx;
use crate::ua::{Answer, By, Call, Script, Ua, ms};
use crate::world::Sim;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use voxgate_config::Config;
use voxgate_edge::control_plane::{EndCause, Event, LegId, Side};
use voxgate_sip::transaction::TimerConfig;

/// voxgate's address.
pub const VOXGATE: &str = "192.0.2.10:5060";
const CALLER: &str = "198.51.100.5:5060";
const B1: &str = "sip:+15550100@203.0.113.7:5060";
const B2: &str = "sip:+15550100@203.0.113.8:5060";
const B3: &str = "sip:+15550100@203.0.113.9:5060";
const TARGET: &str = "sip:2002@203.0.113.20:5060";

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
        build: |_| plain(Some(ms(5000)), None),
        check: |s| plain_check(s, By::Us),
        expect: &[],
    },
    Scenario {
        name: "callee_hangs_up",
        build: |_| plain(None, Some(ms(5000))),
        check: |s| plain_check(s, By::Them),
        expect: &[],
    },
    Scenario {
        name: "cancel_race",
        build: cancel_race,
        check: cancel_race_check,
        expect: &[("cancel won", 0.2), ("answer won", 0.1)],
    },
    Scenario {
        name: "forked_2xx",
        build: forked,
        check: forked_check,
        expect: &[],
    },
    Scenario {
        name: "transfer",
        build: transfer,
        check: transfer_check,
        expect: &[],
    },
    Scenario {
        name: "parallel_one_answers",
        build: |_| parallel(false),
        check: parallel_check,
        expect: &[],
    },
    Scenario {
        name: "parallel_two_answer",
        build: |_| parallel(true),
        check: parallel_check,
        expect: &[("late 2xx ACKed and BYEd", 0.25)],
    },
    Scenario {
        name: "glare",
        build: glare,
        check: glare_check,
        expect: &[("glare", 0.5)],
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

// ---- plain call ----

fn plain(caller_bye: Option<Duration>, callee_bye: Option<Duration>) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: caller_bye,
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            hangup_after: callee_bye,
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

fn plain_check(s: &Sim, caller_ends: By) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    let (callee_ends, side) = match caller_ends {
        By::Us => (By::Them, Side::Caller),
        By::Them => (By::Us, Side::Callee),
    };
    want_ends(s, "caller", &[caller_ends])?;
    want_ends(s, "b1", &[callee_ends])?;
    ended(s, side, EndCause::Normal)?;
    Ok(Vec::new())
}

// ---- CANCEL race ----

/// The callee answers 900 ms after its 180; the caller cancels 800 to
/// 920 ms after that 180 reaches it, so that the CANCEL mostly meets the
/// 2xx on its way (at voxgate or at the callee): whoever wins, every party
/// must end consistently.
fn cancel_race(ctx: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let cancel = ctx.between(ms(800), ms(920));
    ctx.note(
        "script",
        format!("caller cancels {} ms after the 180", cancel.as_millis()),
    );
    let a = caller(Script {
        cancel_after_ringing: Some(cancel),
        hangup_after: Some(ms(5000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

fn cancel_race_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    let a = s.peer("caller");
    let b = s.peer("b1");
    if !a.log.cancel_sent {
        // The 2xx came before the caller's mind changed: a plain call.
        plain_check(s, By::Us)?;
        return Ok(vec!["answered before the CANCEL"]);
    }
    let status = a.log.finals.first().map(|f| f.0);
    match status {
        Some(487) => {
            caller_finals(s, &[487])?;
            // The callee was cancelled, or answered and was ACKed and BYEd.
            let answered = !b.log.answered.is_empty();
            if answered {
                want_ends(s, "b1", &[By::Them])?;
            } else if b.log.cancelled != 1 {
                return Err("the callee neither answered nor saw the CANCEL".into());
            }
            ended(s, Side::Caller, EndCause::Cancelled)?;
            Ok(vec!["cancel won"])
        }
        Some(200) => {
            caller_finals(s, &[200])?;
            // The caller's CANCEL crossed the 2xx: it hangs up at once.
            want_ends(s, "caller", &[By::Us])?;
            want_ends(s, "b1", &[By::Them])?;
            ended(s, Side::Caller, EndCause::Normal)?;
            Ok(vec!["answer won"])
        }
        other => Err(format!("the caller's INVITE ended with {other:?}")),
    }
}

// ---- forked 2xx ----

/// One INVITE, two 2xx with different To tags 200 ms apart: one fork is
/// taken, the other ACKed and BYEd at once.
fn forked(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(10_000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: Answer::Ring {
                ring: ms(100),
                answers: vec![(ms(1000), "f1"), (ms(1200), "f2")],
            },
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

fn forked_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b1", &[By::Them, By::Them])?;
    let hangup = hangup_sent(s, "caller")?;
    let b = s.peer("b1");
    let early: Vec<&str> = b
        .legs
        .iter()
        .filter(|l| l.ended.is_some_and(|(_, at)| at < hangup))
        .map(|l| l.dialog.local_tag.as_str())
        .collect();
    if early.len() != 1 {
        return Err(format!(
            "one fork must be BYEd before the caller hangs up, not {early:?}"
        ));
    }
    ended(s, Side::Caller, EndCause::Normal)?;
    Ok(Vec::new())
}

/// When `peer` sent the BYE of its first dialog.
fn hangup_sent(s: &Sim, peer: &str) -> Result<std::time::Instant, String> {
    s.peer(peer)
        .legs
        .first()
        .and_then(|l| l.bye_sent)
        .ok_or_else(|| format!("{peer} never hung up"))
}

// ---- transfer ----

/// The callee REFERs the caller to a target 3 s into the call; the plane
/// accepts; the caller ends up with the target and hangs up 30 s in.
fn transfer(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(30_000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            refer: Some((ms(3000), TARGET)),
            ..Script::default()
        },
    );
    let c = callee(
        "target",
        TARGET,
        Script {
            answer: rings_then_answers("c1"),
            ..Script::default()
        },
    );
    (
        vec![a, b, c],
        planes(|| Transfers::new(router(vec![B1], false))),
    )
}

fn transfer_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    let b = s.peer("b1");
    if b.log.refer_statuses != [202] {
        return Err(format!(
            "REFER answered {:?}, not [202]",
            b.log.refer_statuses
        ));
    }
    let last = b.log.notifies.last().cloned().unwrap_or_default();
    if !last.0.starts_with("SIP/2.0 200") || !last.1.starts_with("terminated") {
        return Err(format!("the last NOTIFY the referrer saw: {last:?}"));
    }
    // The referrer hung up after the NOTIFY, the caller after talking to
    // the target, whom voxgate then BYEd.
    want_ends(s, "b1", &[By::Us])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "target", &[By::Them])?;
    let bridged = s.events().iter().any(|e| {
        matches!(e, Event::Bridged { a, b } if (*a, *b) == (LegId(1), LegId(3)) || (*a, *b) == (LegId(3), LegId(1)))
    });
    if !bridged {
        return Err("the caller (leg 1) was never bridged with the target (leg 3)".into());
    }
    let hangup = hangup_sent(s, "caller")?;
    let target_end = s.peer("target").legs.first().and_then(|l| l.ended);
    if !target_end.is_some_and(|(_, at)| at >= hangup) {
        return Err("the target was hung up before the caller hung up".into());
    }
    // Bridged legs do not end each other: the plane hung up the target
    // when the caller left, and the last leg's end is the outcome.
    ended(s, Side::Control, EndCause::Normal)?;
    Ok(Vec::new())
}

// ---- parallel ringing ----

/// Three callees ring at once: b1 answers; b2 answers 1 ms later (`two`)
/// or rings for ever; b3 rings for ever.
fn parallel(two: bool) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(10_000)),
        ..Script::default()
    });
    let b1 = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            ..Script::default()
        },
    );
    let b2_answer = if two {
        Answer::Ring {
            ring: ms(100),
            answers: vec![(ms(1001), "b2")],
        }
    } else {
        Answer::RingForever
    };
    let b2 = callee(
        "b2",
        B2,
        Script {
            answer: b2_answer,
            ..Script::default()
        },
    );
    let b3 = callee(
        "b3",
        B3,
        Script {
            answer: Answer::RingForever,
            ..Script::default()
        },
    );
    (
        vec![a, b1, b2, b3],
        planes(|| router(vec![B1, B2, B3], true)),
    )
}

/// One callee won and was BYEd after the caller hung up; each other one
/// was cancelled (487) or, having answered too, was ACKed and BYEd at once.
fn parallel_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    let hangup = hangup_sent(s, "caller")?;
    let mut winners = Vec::new();
    let mut notes = Vec::new();
    for name in ["b1", "b2", "b3"] {
        let p = s.peer(name);
        match p.legs.first() {
            None if p.log.cancelled == 1 => {}
            None => return Err(format!("{name} neither answered nor was cancelled")),
            Some(l) => {
                want_ends(s, name, &[By::Them])?;
                let (_, at) = l.ended.unwrap_or((By::Them, hangup));
                if at >= hangup {
                    winners.push(name);
                } else {
                    notes.push("late 2xx ACKed and BYEd");
                }
            }
        }
    }
    if winners.len() != 1 {
        return Err(format!("winners: {winners:?}; exactly one callee must win"));
    }
    ended(s, Side::Caller, EndCause::Normal)?;
    Ok(notes)
}

// ---- glare ----

/// 10 s into the run the plane holds the caller's leg (voxgate re-INVITEs
/// it) and the caller re-INVITEs too: each side answers 491 to the other,
/// and both retry (RFC 3261 §14.1) until both succeed.
fn glare(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        reinvite_at: Some(ms(10_000)),
        hangup_after: Some(ms(30_000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            ..Script::default()
        },
    );
    let plane = || HoldAt::new(router(vec![B1], false), ms(10_000));
    (vec![a, b], planes(plane))
}

fn glare_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b1", &[By::Them])?;
    let a = s.peer("caller");
    let statuses = &a.log.reinvite_statuses;
    if statuses.last() != Some(&200) || statuses.iter().any(|s| ![200, 491].contains(s)) {
        return Err(format!("the caller's re-INVITEs got {statuses:?}"));
    }
    let held = s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Held { leg, by } if *leg == LegId(1) && *by == Side::Control));
    if !held {
        return Err("the caller's leg was never held".into());
    }
    // Held, the legs are bridged no more: the plane hung up the callee.
    ended(s, Side::Control, EndCause::Normal)?;
    let glare = a.log.glare_491_sent > 0 || statuses.contains(&491);
    Ok(if glare { vec!["glare"] } else { Vec::new() })
}
