//! The call's timers on the simulated clock: 2xx retransmission, the ACK
//! that never comes, RFC 4028 session timers, the media timeout, shutdown.

use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

/// A call answered by B (with `b_extra` headers in its 2xx), not yet ACKed by A.
fn answered(calls: &str, a_extra: &str, b_extra: &str) -> (Harness, BSide, Message) {
    let (mut h, _) = Harness::with_invite(calls, a_invite(Some(SDP_A), a_extra));
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, b_extra, Some(SDP_B)));
    let ok = out.response(200).1.clone();
    (h, b, ok)
}

// ---- our 2xx to A ----

#[test]
fn our_2xx_is_retransmitted_until_the_ack() {
    let (mut h, _, ok) = answered(CALLS, "", "");
    let mut at = Vec::new();
    for _ in 0..8 {
        let out = h.advance(MS(250));
        for (to, msg) in out.transmits() {
            assert_eq!(to, udp(A_ADDR));
            assert_eq!(msg.raw(), ok.raw());
            at.push(h.elapsed());
        }
    }
    // T1, then doubling: 0.5 s, 1.5 s (and 3.5 s, beyond this window).
    assert_eq!(at, vec![MS(500), MS(1500)]);
    let ack = h.a_ack(1, None);
    let out = h.feed(ack);
    assert!(out.is_empty());
    assert!(h.confirmed());
    assert!(h.advance(S(60)).is_empty());
}

#[test]
fn ack_for_another_cseq_does_not_stop_the_retransmissions() {
    let (mut h, _, _) = answered(CALLS, "", "");
    let ack = h.a_ack(7, None);
    h.feed(ack);
    assert_eq!(h.advance(MS(500)).transmits().len(), 1);
    assert!(h.answered_unacked());
}

#[test]
fn no_ack_from_a_hangs_up_both_legs() {
    let (mut h, _, _) = answered(CALLS, "", "");
    let out = h.advance(MS(31_999));
    assert_eq!(out.transmits().len(), 10, "T1 doubling to T2 within 64*T1");
    assert!(out.sends().is_empty());
    let out = h.advance(MS(1));
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
    // The media ports go back now, not when the BYEs settle: a flood of
    // un-ACKed INVITEs cannot hold the pool for another 32 s.
    assert_eq!(h.call.media.open_count(), 0);
    let to_a = out.sent_to(Method::Bye, A_ADDR);
    let to_b = out.sent_to(Method::Bye, "203.0.113.7:5060");
    h.a_answers(&to_a, 200, None);
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.end(), Some((Side::Edge, EndCause::NoAck)));
    let record = out.ended().unwrap();
    assert_eq!(
        record.timeline.end,
        Some(h.start + MS(32_000)),
        "the CDR says 32 s"
    );
}

#[test]
fn an_unanswered_bye_after_no_ack_keeps_no_ports() {
    let (mut h, _, _) = answered(CALLS, "", "");
    h.advance(MS(32_000));
    assert_eq!(h.call.media.open_count(), 0);
    // Nobody answers the BYEs: the conversation still ends within 64*T1.
    let out = h.advance(MS(32_000));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::NoAck)));
}

// ---- session timers (RFC 4028) ----

const TIMER_CALLS: &str =
    "[calls]\ntrying_timeout_ms = 1000\nsession_expires_s = 90\nmedia_timeout_s = 0\n";
const A_ASKS: &str = "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n";
const B_ALLOWS_UPDATE: &str = "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\r\n";

/// A timed call, confirmed on both legs.
fn timed(b_extra: &str) -> (Harness, BSide) {
    let (mut h, b, _) = answered(TIMER_CALLS, A_ASKS, b_extra);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    (h, b)
}

#[test]
fn b_invite_asks_for_our_session_interval() {
    let (mut h, _) = Harness::with_invite(TIMER_CALLS, a_invite(Some(SDP_A), A_ASKS));
    let (b, _) = h.connected(&[B1]);
    assert_eq!(b.invite.msg.header(HeaderName::SessionExpires), Some("90"));
    assert_eq!(b.invite.msg.header(HeaderName::MinSe), Some("90"));
    assert!(b.invite.msg.supported().any(|s| s == "timer"));
}

#[test]
fn our_2xx_to_a_carries_the_negotiated_interval() {
    let (_, _, ok) = answered(TIMER_CALLS, A_ASKS, "");
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert!(ok.require().any(|r| r == "timer"));
}

#[test]
fn we_refresh_b_with_update_at_half_the_interval() {
    let (mut h, b) = timed(B_ALLOWS_UPDATE);
    assert!(h.advance(MS(44_999)).sends().is_empty());
    let out = h.advance(MS(1));
    let update = out.sent(Method::Update);
    assert_eq!(update.to, b.invite.to);
    assert_eq!(
        update.msg.call_id().unwrap(),
        b.invite.msg.call_id().unwrap()
    );
    assert_eq!(
        update.msg.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert!(update.msg.body().is_empty());
    let out = h.b_answers(&update, 200, "Session-Expires: 90;refresher=uac\r\n", None);
    assert!(out.is_empty(), "no ACK for UPDATE: {out:#?}");
}

#[test]
fn we_refresh_b_with_reinvite_when_it_does_not_allow_update() {
    let (mut h, b) = timed("");
    let out = h.advance(S(45));
    let reinvite = out.sent(Method::Invite);
    assert_eq!(reinvite.msg.cseq().unwrap().seq, 2);
    assert_eq!(
        body(&reinvite.msg),
        body(&b.invite.msg),
        "the session unchanged, same o= version"
    );
    let out = h.b_answers(&reinvite, 200, "", Some(SDP_B));
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.method(), Some(&Method::Ack));
    assert_eq!(acks[0].1.cseq().unwrap().seq, 2);
    assert!(out.responses().is_empty(), "A knows nothing of it");
}

#[test]
fn session_expires_when_a_never_refreshes() {
    let (mut h, b) = timed(B_ALLOWS_UPDATE);
    let update = h.advance(S(45)).sent(Method::Update);
    h.b_answers(&update, 200, "", None);
    // A is the refresher: its session is dead at 90 - min(32, 90/3) = 60 s.
    assert!(h.advance(MS(14_999)).sends().is_empty());
    let out = h.advance(MS(1));
    let to_a = out.sent_to(Method::Bye, A_ADDR);
    let to_b = out.sent_to(Method::Bye, "203.0.113.7:5060");
    assert_eq!(to_b.msg.call_id().unwrap(), b.invite.msg.call_id().unwrap());
    h.a_answers(&to_a, 200, None);
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.end(), Some((Side::Edge, EndCause::SessionExpired)));
}

#[test]
fn refresh_from_a_keeps_the_session() {
    let (mut h, _) = timed(B_ALLOWS_UPDATE);
    h.advance(S(30));
    let update = h.a_request(
        "UPDATE",
        "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n",
        None,
    );
    let (tx, out) = h.a_sends(update);
    let to_b = out.sent(Method::Update);
    assert_eq!(
        to_b.msg.header(HeaderName::SessionExpires),
        Some("90;refresher=uac"),
        "B's timer is kept alive"
    );
    let out = h.b_answers(&to_b, 200, "", None);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert!(ok.require().any(|r| r == "timer"));
    // Both timers restarted at 30 s: nothing at 60 s; B's refresh at 75 s.
    let out = h.advance(S(44));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(
        h.advance(S(1)).sent(Method::Update).to,
        udp("203.0.113.7:5060")
    );
}

#[test]
fn we_refresh_a_caller_that_did_not_ask() {
    let (mut h, _, ok) = answered(TIMER_CALLS, "Supported: timer\r\n", B_ALLOWS_UPDATE);
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uas")
    );
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let out = h.advance(S(45));
    let to_a = out.sent_to(Method::Update, A_ADDR);
    assert_eq!(to_a.msg.call_id().unwrap(), "a-call-1@10.1.1.9");
    assert_eq!(
        to_a.msg.header(HeaderName::Route),
        Some("<sip:rr.carrier.example;lr>")
    );
    assert_eq!(
        to_a.msg.header(HeaderName::SessionExpires),
        Some("90;refresher=uac")
    );
    assert_hidden(&to_a.msg, B_SECRETS);
}

#[test]
fn refresh_that_times_out_ends_the_call() {
    let (mut h, _) = timed(B_ALLOWS_UPDATE);
    let update = h.advance(S(45)).sent(Method::Update);
    let out = h.feed(Input::TxFailed {
        tx: update.tx,
        failure: TxFailure::Timeout,
    });
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
}

#[test]
fn reinvite_from_a_during_our_refresh_reinvite_is_491() {
    // §14.1: no INVITE while another is in progress in the same dialog.
    let (mut h, _) = timed("");
    h.advance(S(45)).sent(Method::Invite);
    let reinvite = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let out = h.a_sends(reinvite).1;
    assert_eq!(out.statuses(), vec![491]);
    assert!(out.sends().is_empty(), "{out:#?}");
}

#[test]
fn reinvite_from_b_during_our_refresh_reinvite_is_491() {
    let (mut h, mut b) = timed("");
    h.advance(S(45)).sent(Method::Invite);
    let reinvite = b.request("INVITE", "", Some(("application/sdp", SDP_B_RECVONLY)));
    let out = h.b_sends(reinvite).1;
    assert_eq!(out.statuses(), vec![491]);
}

#[test]
fn session_timers_off_add_nothing_and_expire_nothing() {
    let (mut h, b, ok) = answered(CALLS, "", "");
    assert_eq!(b.invite.msg.header(HeaderName::SessionExpires), None);
    assert_eq!(ok.header(HeaderName::SessionExpires), None);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.advance(S(7200)).is_empty());
}

#[test]
fn session_timers_off_accept_any_interval() {
    // A UAS without session timers ignores Session-Expires (RFC 4028 §9):
    // no 422, whatever the interval.
    let invite = a_invite(Some(SDP_A), "Supported: timer\r\nSession-Expires: 60\r\n");
    let (h, out) = Harness::with_invite(CALLS, invite);
    assert!(out.responses().is_empty(), "{out:#?}");
    assert!(h.call.info().is_some());
}

// ---- media timeout, shutdown, the end of an ending call ----

#[test]
fn media_timeout_hangs_up_both_legs_on_the_virtual_clock() {
    let (mut h, _) = Harness::established(&calls("media_timeout_s = 60"));
    assert!(
        h.advance(S(59)).sends().is_empty(),
        "no verdict before 60 s"
    );
    let out = h.advance(S(1));
    let to_a = out.sent_to(Method::Bye, A_ADDR);
    let to_b = out.sent_to(Method::Bye, "203.0.113.7:5060");
    assert_eq!(h.call.media.open_count(), 0, "ports returned at once");
    h.b_answers(&to_b, 200, "", None);
    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.end(), Some((Side::Edge, EndCause::MediaTimeout)));
}

#[test]
fn media_activity_postpones_the_media_timeout() {
    let (mut h, _) = Harness::established(&calls("media_timeout_s = 60"));
    assert!(h.advance(S(30)).sends().is_empty());
    // RTP arrived 30 s in: the verdict moves to 90 s.
    h.call.media.activity = Some(h.now);
    assert!(h.advance(S(59)).sends().is_empty());
    let out = h.advance(S(1));
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
    assert_eq!(h.elapsed(), S(90));
}

#[test]
fn a_hold_pauses_the_media_timeout() {
    let (mut h, _) = Harness::established(&calls("media_timeout_s = 60"));
    let hold = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (_, out) = h.a_sends(hold);
    let fwd = out.sent(Method::Invite);
    h.b_answers(&fwd, 200, "", Some(SDP_B_RECVONLY));
    let ack = h.a_ack(2, None);
    h.feed(ack);
    let out = h.advance(S(600));
    assert!(
        out.sends()
            .iter()
            .all(|s| s.msg.method() != Some(&Method::Bye)),
        "no media is expected from a held call: {out:#?}"
    );
}

#[test]
fn shutdown_when_answered_hangs_up_both_legs() {
    let (mut h, _) = Harness::established(CALLS);
    let out = h.feed(Input::Shutdown);
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
    assert!(out.responses().is_empty());
    // A second Shutdown while ending sends nothing more.
    assert!(h.feed(Input::Shutdown).is_empty());
}

#[test]
fn shutdown_before_the_ack_byes_a_once_it_acks() {
    let (mut h, _, _) = answered(CALLS, "", "");
    let out = h.feed(Input::Shutdown);
    out.sent_to(Method::Bye, "203.0.113.7:5060");
    assert_eq!(
        out.methods(),
        vec![Method::Bye],
        "§15: A's BYE waits for its ACK"
    );
    let ack = h.a_ack(1, None);
    h.feed(ack).sent_to(Method::Bye, A_ADDR);
    assert!(h.advance(S(5)).transmits().is_empty());
}

#[test]
fn unanswered_byes_end_the_call_after_64_t1() {
    let (mut h, _) = Harness::established(CALLS);
    h.feed(Input::Shutdown);
    assert!(h.advance(MS(31_999)).end().is_none());
    let out = h.advance(MS(1));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Shutdown)));
    assert_eq!(h.call.poll_timeout(), None);
}

#[test]
fn no_ack_for_a_late_offer_acks_b_before_its_bye() {
    // §13.2.2.4: every 2xx gets its ACK, even when we hang up at once.
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(None, ""));
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert!(out.transmits().is_empty());
    let out = h.advance(S(32));
    let acks: Vec<_> = out
        .transmits()
        .into_iter()
        .filter(|(_, m)| m.method() == Some(&Method::Ack))
        .collect();
    assert_eq!(acks.len(), 1, "{out:#?}");
    assert_eq!(acks[0].0, udp("203.0.113.7:5060"));
    assert_eq!(acks[0].1.cseq().unwrap().seq, 1);
    out.sent_to(Method::Bye, "203.0.113.7:5060");
    // A retransmitted 2xx from B gets the same ACK again.
    let again = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(again.transmits()[0].1.raw(), acks[0].1.raw());
}

#[test]
fn refresh_answer_with_a_new_contact_moves_the_target() {
    let (mut h, _) = timed("");
    let reinvite = h.advance(S(45)).sent(Method::Invite);
    let ok = text(&respond(&reinvite.msg, 200, "btag1", "", Some(SDP_B))).replace(
        "Contact: <sip:pbx@203.0.113.7:5060>",
        "Contact: <sip:pbx2@203.0.113.7:5070>",
    );
    let out = h.feed(Input::Response {
        tx: reinvite.tx,
        response: parse(&ok),
    });
    assert_eq!(
        out.transmits()[0].1.request_uri(),
        Some("sip:pbx2@203.0.113.7:5070")
    );
}

#[test]
fn media_is_not_expected_before_the_answer() {
    // A long ring, even with early media, is not a dead call.
    let (mut h, _) = Harness::new(&calls("ring_timeout_s = 600\nmedia_timeout_s = 60"));
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(183, "", Some(SDP_B)));
    assert!(h.advance(S(300)).sends().is_empty());
    assert_eq!(h.call.state_name(), "ringing");
    // From the answer on, 60 s without media end the call.
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.advance(S(59)).sends().is_empty());
    assert_eq!(h.advance(S(1)).methods(), vec![Method::Bye, Method::Bye]);
}

#[test]
fn refresh_after_a_refused_hold_offers_the_session_in_force() {
    // B refused A's hold (488): the session is unchanged, so our next
    // refresh re-INVITE must not offer the refused sendonly SDP.
    let (mut h, _) = timed("");
    h.advance(S(10));
    let reinvite = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let to_b = h.a_sends(reinvite).1.sent(Method::Invite);
    let refused_version = body(&to_b.msg).lines().nth(1).unwrap().to_string();
    h.b_answers(&to_b, 488, "", None);
    let refresh = h.advance(S(35)).sent(Method::Invite);
    let sdp = body(&refresh.msg);
    assert!(sdp.contains("a=sendrecv"), "{sdp}");
    assert!(!sdp.contains("a=sendonly"), "{sdp}");
    let version = |o: &str| o.split(' ').nth(2).unwrap().parse::<u64>().unwrap();
    let now_version = sdp.lines().nth(1).unwrap();
    assert!(
        version(now_version) > version(&refused_version),
        "o= versions only go up (RFC 3264 §8): {refused_version} then {now_version}"
    );
}

#[test]
fn session_timers_off_are_not_advertised() {
    // A peer told we support `timer` may make us the refresher (RFC 4028
    // §9) and end the call when our refreshes do not come.
    let (mut h, b, ok) = answered(CALLS, "", "");
    assert!(!b.invite.msg.supported().any(|s| s == "timer"));
    assert!(!ok.supported().any(|s| s == "timer"));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let reinvite = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let to_b = h.a_sends(reinvite).1.sent(Method::Invite);
    assert!(!to_b.msg.supported().any(|s| s == "timer"));
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    assert!(!out.response(200).1.supported().any(|s| s == "timer"));
}
