//! Scenarios in established calls: a transfer by REFER, re-INVITE glare
//! (with voxgate's own re-INVITE, and through the linked relay), BYEs
//! crossing.

use super::*;
use crate::control::{HoldAt, Transfers};
use crate::network::Ctx;
use voxgate_edge::control_plane::LegId;

// ---- transfer ----

/// The callee REFERs the caller to a target 3 s into the call; the plane
/// accepts; the caller ends up with the target and hangs up 30 s in.
pub(super) fn transfer(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
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

pub(super) fn transfer_check(s: &Sim) -> Result<Vec<&'static str>, String> {
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
    if target_end.is_none_or(|(_, at)| at < hangup) {
        return Err("the target was hung up before the caller hung up".into());
    }
    // Bridged legs do not end each other: the plane hung up the target
    // when the caller left, and the last leg's end is the outcome.
    ended(s, Side::Control, EndCause::Normal)?;
    Ok(Vec::new())
}

// ---- glare ----

/// 10 s into the run the plane holds the caller's leg (voxgate re-INVITEs
/// it) and the caller re-INVITEs too: each side answers 491 to the other,
/// and both retry (RFC 3261 §14.1) until both succeed.
pub(super) fn glare(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
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

pub(super) fn glare_check(s: &Sim) -> Result<Vec<&'static str>, String> {
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

/// A linked call (offers pass through): 10 s into the run caller and callee
/// re-INVITE at once; voxgate relays each to the other side, each side
/// answers 491, the 491s are relayed back, both retry until both succeed.
pub(super) fn glare_relayed(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
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
            reinvite_at: Some(ms(10_000)),
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

pub(super) fn glare_relayed_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b1", &[By::Them])?;
    let mut glare = false;
    for name in ["caller", "b1"] {
        let statuses = &s.peer(name).log.reinvite_statuses;
        if statuses.last() != Some(&200) || statuses.iter().any(|s| ![200, 491].contains(s)) {
            return Err(format!("{name}'s re-INVITEs got {statuses:?}"));
        }
        glare |= statuses.contains(&491);
    }
    ended(s, Side::Caller, EndCause::Normal)?;
    Ok(if glare { vec!["glare"] } else { Vec::new() })
}

/// Caller and callee hang up at the same instant, 8 s into the run: the
/// BYEs cross in voxgate.
pub(super) fn byes_cross(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_at: Some(ms(8000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            hangup_at: Some(ms(8000)),
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

pub(super) fn byes_cross_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    for name in ["caller", "b1"] {
        let p = s.peer(name);
        if p.legs.len() != 1 {
            return Err(format!("{name} has {} dialogs", p.legs.len()));
        }
        if p.log.bye_statuses.iter().any(|s| ![200, 481].contains(s)) {
            return Err(format!("{name}'s BYE got {:?}", p.log.bye_statuses));
        }
    }
    match s.events().last() {
        Some(Event::Ended {
            cause: EndCause::Normal,
            ..
        }) => Ok(Vec::new()),
        other => Err(format!("ended with {other:?}")),
    }
}

/// The caller hangs up while the transfer target still rings (the REFER
/// comes 3 s into the call, the target answers 1 s after its INVITE, the
/// caller leaves 3.5 to 4.5 s into the call): everything must still end.
pub(super) fn transfer_abandoned(ctx: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let leave = ctx.between(ms(3500), ms(4500));
    ctx.note(
        "script",
        format!("caller hangs up {} ms after the answer", leave.as_millis()),
    );
    let (mut peers, planes) = transfer(ctx);
    if let Some(a) = peers.iter_mut().find(|p| p.name == "caller") {
        *a = caller(Script {
            hangup_after: Some(leave),
            ..Script::default()
        });
    }
    (peers, planes)
}

pub(super) fn transfer_abandoned_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    let target = s.peer("target");
    let note = match (target.legs.first(), target.log.cancelled) {
        (Some(_), _) => {
            want_ends(s, "target", &[By::Them])?;
            "the target answered"
        }
        (None, 1) => "the target was cancelled",
        (None, _) if target.log.requests.is_empty() => "the target was never called",
        (None, _) => return Err("the target neither answered nor was cancelled".into()),
    };
    Ok(vec![note])
}

/// The referrer's REFER waits for a plane that takes 2 s to decide; the
/// caller hangs up 1 s after the REFER: the REFER must still be answered
/// (RFC 3261 §15.1.2: pending requests of an ending dialog get 487) and no
/// transaction may be left behind.
pub(super) fn transfer_undecided(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        hangup_after: Some(ms(4000)),
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
    let c = callee("target", TARGET, Script::default());
    let plane = || Transfers::thinking(router(vec![B1], false), ms(2000));
    (vec![a, b, c], planes(plane))
}

pub(super) fn transfer_undecided_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Us])?;
    want_ends(s, "b1", &[By::Them])?;
    let b = s.peer("b1");
    if b.log.refers_sent == 0 {
        // Its answer's ACK was late: the call ended before its REFER.
        return Ok(vec!["no REFER"]);
    }
    let refer = &b.log.refer_statuses;
    if refer == &[202] {
        // The caller's BYE was lost long enough for the plane to decide.
        return Ok(vec!["accepted before the BYE arrived"]);
    }
    if !s.peer("target").log.requests.is_empty() {
        return Err("the target was called, yet the REFER was refused".into());
    }
    if refer.len() != 1 || refer[0] < 300 {
        return Err(format!("the REFER was answered {refer:?}"));
    }
    Ok(vec!["REFER pending at the end"])
}

/// The caller re-INVITEs at the instant the callee hangs up: the relayed
/// re-INVITE meets the BYE; the caller's re-INVITE must still be answered
/// and no transaction left behind.
pub(super) fn reinvite_meets_bye(_: &mut Ctx) -> (Vec<Ua>, PlaneFactory) {
    let a = caller(Script {
        reinvite_at: Some(ms(8000)),
        ..Script::default()
    });
    let b = callee(
        "b1",
        B1,
        Script {
            answer: rings_then_answers("b1"),
            hangup_at: Some(ms(8000)),
            ..Script::default()
        },
    );
    (vec![a, b], planes(|| router(vec![B1], false)))
}

pub(super) fn reinvite_meets_bye_check(s: &Sim) -> Result<Vec<&'static str>, String> {
    caller_finals(s, &[200])?;
    want_ends(s, "caller", &[By::Them])?;
    want_ends(s, "b1", &[By::Us])?;
    let statuses = &s.peer("caller").log.reinvite_statuses;
    if statuses.len() != 1 {
        return Err(format!("the caller's re-INVITE got {statuses:?}"));
    }
    Ok(vec![if statuses[0] == 200 {
        "re-INVITE answered before the BYE"
    } else {
        "re-INVITE refused"
    }])
}
