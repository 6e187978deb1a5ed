//! Scenarios of call setup: plain calls, a busy callee, failover to the
//! next destination, CANCEL races, forks, parallel ringing.

use super::*;
use crate::network::Ctx;

// ---- plain call ----

pub(super) fn plain(
    caller_bye: Option<Duration>,
    callee_bye: Option<Duration>,
) -> (Vec<Ua>, PlaneFactory) {
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

pub(super) fn plain_check(s: &Sim, caller_ends: By) -> Result<Vec<&'static str>, String> {
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
pub(super) fn cancel_race(ctx: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
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

pub(super) fn cancel_race_check(s: &Sim) -> Result<Vec<&'static str>, String> {
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

/// One INVITE, two 2xx with different To tags, the second `second`
/// after the INVITE (the first after 1 s); the caller hangs up `talk`
/// after the answer. One fork is taken, the other ACKed and BYEd.
pub(super) fn forked(second: Duration, talk: Duration) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(talk),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: Answer::Ring {
                ring: ms(100),
                answers: vec![(ms(1000), "f1"), (second, "f2")],
            },
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

pub(super) fn forked_check(s: &Sim) -> Result<Vec<&'static str>, String> {
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

// ---- parallel ringing ----

/// Three callees ring at once: b1 answers; b2 answers 1 ms later (`two`)
/// or rings for ever; b3 rings for ever.
pub(super) fn parallel(two: bool) -> (Vec<Ua>, PlaneFactory) {
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
pub(super) fn parallel_check(s: &Sim) -> Result<Vec<&'static str>, String> {
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

// ---- failures ----

/// The callee is busy: the caller gets its 486.
pub(super) fn busy(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script::default());
    let b = callee(
        "b1",
        B1,
        Script {
            answer: Answer::Reject {
                after: ms(100),
                status: 486,
            },
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

/// Every callee said 486: so does the caller's final response, and nobody
/// has a dialog.
pub(super) fn busy_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[486])?;
    for p in &s.peers {
        if !p.legs.is_empty() {
            return Err(format!("{} has a dialog", p.name));
        }
    }
    ended(s, Side::Callee, EndCause::Rejected(486))?;
    Ok(Vec::new())
}

/// Three callees ring at once and each is busy, 100 ms apart.
pub(super) fn parallel_busy(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script::default());
    let busy = |name, uri, after| {
        callee(
            name,
            uri,
            Script {
                answer: Answer::Reject { after, status: 486 },
                ..Script::default()
            },
        )
    };
    let peers = vec![
        a,
        busy("b1", B1, ms(100)),
        busy("b2", B2, ms(200)),
        busy("b3", B3, ms(300)),
    ];
    (peers, planes(|| router(vec![B1, B2, B3], true)))
}

/// The first destination answers 503: the dial moves on to the second,
/// which answers; the caller hangs up after 5 s.
pub(super) fn failover(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(5000)),
        ..Script::default()
    });
    let b1 = callee(
        "b1",
        B1,
        Script {
            answer: Answer::Reject {
                after: ms(100),
                status: 503,
            },
            ..Script::default()
        },
    );
    let b2 = callee(
        "b2",
        B2,
        Script {
            answer: rings_then_answers("b2"),
            ..Script::default()
        },
    );
    (vec![a, b1, b2], planes(|| router(vec![B1, B2], false)))
}

pub(super) fn failover_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    if !s.peer("b1").legs.is_empty() {
        return Err("b1 refused the call, yet has a dialog".into());
    }
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b2", &[By::Them])?;
    ended(s, Side::Caller, EndCause::Normal)?;
    Ok(Vec::new())
}

/// The caller cancels as soon as voxgate's 100 arrives, racing the control
/// plane's dial (if the 100 is lost, the 2xx may come first: then the
/// caller hangs up 5 s later).
pub(super) fn early_cancel(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        cancel_at: Some(Duration::ZERO),
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

pub(super) fn early_cancel_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    let a = s.peer("caller");
    if !a.log.cancel_sent || a.log.finals.first().is_some_and(|f| f.0 != 487) {
        // The 100, or the CANCEL, was lost until the 2xx came.
        return cancel_race_check(s);
    }
    caller_finals(s, &[487])?;
    let b = s.peer("b1");
    ended(s, Side::Caller, EndCause::Cancelled)?;
    if b.log.requests.is_empty() {
        return Ok(vec!["never dialled"]);
    }
    // Our CANCEL can be lost until the callee answers: then ACK and BYE.
    if !b.legs.is_empty() {
        want_ends(s, "b1", &[By::Them])?;
        return Ok(vec!["dialled and answered anyway"]);
    }
    Ok(vec!["dialled and cancelled"])
}

/// A fork answering after the conversation ended (the caller hung up at
/// once) must still be ACKed and BYEd: voxgate's INVITE transaction passes
/// 2xx on for 64*T1 (RFC 6026 Timer M) for exactly that.
pub(super) fn late_fork_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b1", &[By::Them, By::Them])?;
    Ok(Vec::new())
}

/// The first destination is dead (no response at all): timer B gives it up
/// after 64*T1 (the trying timeout is off) and the dial moves on.
pub(super) fn dead_destination(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(5000)),
        ..Script::default()
    });
    let b2 = callee(
        "b2",
        B2,
        Script {
            answer: rings_then_answers("b2"),
            ..Script::default()
        },
    );
    // b1 exists only to satisfy the shared check: it is never called.
    let b1 = callee("b1", B1, Script::default());
    (vec![a, b1, b2], planes(|| router(vec![DEAD, B2], false)))
}

/// The callee rings for ever; the dial's ring timeout (5 s) cancels it.
pub(super) fn no_answer(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script::default());
    let b = callee(
        "b1",
        B1,
        Script {
            answer: Answer::RingForever,
            ..Script::default()
        },
    );
    let plane = || Router {
        ring_timeout: Some(ms(5000)),
        ..router(vec![B1], false)
    };
    (vec![a, b], planes(plane))
}

pub(super) fn no_answer_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    let finals = &s.peer("caller").log.finals;
    if finals.len() != 1 || ![408, 480].contains(&finals[0].0) {
        return Err(format!("the caller's final responses: {finals:?}"));
    }
    if s.peer("b1").log.cancelled != 1 {
        return Err("the callee was never cancelled".into());
    }
    Ok(Vec::new())
}
