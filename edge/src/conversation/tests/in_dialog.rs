//! Requests inside the legs' dialogs: BYE, re-INVITE and UPDATE with their
//! SDP, glare, INFO, OPTIONS, PRACK.

use super::*;

// ---- BYE ----

#[test]
fn bye_from_a_ends_both_legs() {
    let (mut h, b) = Harness::established(CALLS);
    let bye = h.a_request("BYE", "", None);
    let (tx, out) = h.a_sends(bye);
    assert_eq!(out.response(200).0, tx);
    let to_b = out.sent(Method::Bye);
    assert_eq!(to_b.to, udp("203.0.113.7:5060"));
    assert_eq!(to_b.msg.request_uri(), Some("sip:pbx@203.0.113.7:5060"));
    assert_eq!(to_b.msg.call_id().unwrap(), b.invite.msg.call_id().unwrap());
    assert_eq!(to_b.msg.cseq().unwrap().seq, 2);
    assert_hidden(&to_b.msg, A_SECRETS);
    assert!(out.end().is_none(), "until B answers the BYE");
    assert_eq!(h.call.state_name(), "ending");

    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Normal)));
    assert!(out.ended().is_some());
}

#[test]
fn bye_from_b_ends_both_legs() {
    let (mut h, mut b) = Harness::established(CALLS);
    let bye = b.request("BYE", "", None);
    let (tx, out) = h.b_sends(bye);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert_eq!(
        ok.to_header().unwrap().tag(),
        b.invite.msg.from_header().unwrap().tag()
    );
    let to_a = out.sent(Method::Bye);
    assert_eq!(to_a.to, udp(A_ADDR));
    assert_eq!(to_a.msg.request_uri(), Some("sip:alice@10.1.1.9:5060"));
    assert_eq!(
        to_a.msg.header(HeaderName::Route),
        Some("<sip:rr.carrier.example;lr>")
    );
    assert_eq!(to_a.msg.call_id().unwrap(), "a-call-1@10.1.1.9");
    assert_eq!(to_a.msg.to_header().unwrap().tag(), Some("atag"));
    assert_hidden(&to_a.msg, B_SECRETS);

    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Normal)));
}

#[test]
fn unanswered_bye_ends_the_call_when_its_transaction_fails() {
    let (mut h, _) = Harness::established(CALLS);
    let bye = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye).1.sent(Method::Bye);
    let out = h.feed(Input::TxFailed {
        tx: to_b.tx,
        failure: TxFailure::Timeout,
    });
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Normal)));
}

#[test]
fn crossing_byes_send_one_bye_per_leg() {
    let (mut h, mut b) = Harness::established(CALLS);
    let bye_a = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye_a).1.sent(Method::Bye);
    // B hung up at the same moment: its BYE crosses ours.
    let bye_b = b.request("BYE", "", None);
    let out = h.b_sends(bye_b).1;
    assert_eq!(out.statuses(), vec![200]);
    assert!(out.sends().is_empty(), "A already hung up: {out:#?}");
    let out = h.b_answers(&to_b, 481, "", None);
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Normal)));
}

#[test]
fn hangup_command_byes_both_legs() {
    let (mut h, _) = Harness::established(CALLS);
    let out = h.feed(Input::Command(Command::Hangup {
        leg: None,
        status: None,
    }));
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
    let to_a = out.sent_to(Method::Bye, A_ADDR);
    let to_b = out.sent_to(Method::Bye, "203.0.113.7:5060");
    assert!(h.a_answers(&to_a, 200, None).end().is_none());
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.end(), Some((Side::Control, EndCause::Normal)));
}

#[test]
fn requests_after_the_end_is_decided_are_481() {
    let (mut h, mut b) = Harness::established(CALLS);
    let bye = h.a_request("BYE", "", None);
    h.a_sends(bye);
    let info = b.request("INFO", "", Some(("application/dtmf-relay", "Signal=5\r\n")));
    let out = h.b_sends(info).1;
    assert_eq!(out.statuses(), vec![481]);
    assert!(out.sends().is_empty());
}

#[test]
fn out_of_order_request_is_500() {
    let (mut h, _) = Harness::established(CALLS);
    let info = h.a_request("INFO", "", None);
    h.a_sends(info);
    h.a_cseq -= 2;
    let old = h.a_request("INFO", "", None);
    let out = h.a_sends(old).1;
    assert_eq!(out.statuses(), vec![500]);
    assert!(out.sends().is_empty());
}

#[test]
fn refer_goes_to_the_control_plane_and_is_refused_without_a_decision() {
    let (mut h, _) = Harness::established(CALLS);
    let refer = h.a_request("REFER", "Refer-To: <sip:200@10.1.1.50>\r\n", None);
    let (tx, out) = h.a_sends(refer);
    assert!(out.responses().is_empty(), "the control plane decides");
    assert_eq!(
        out.events(),
        vec![Event::TransferRequested {
            leg: LegId(1),
            target: "sip:200@10.1.1.50".into(),
            replaces: None,
        }]
    );
    assert!(h.advance(Duration::from_secs(9)).responses().is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(out.response(603).0, tx, "no decision in 10 s: declined");
    assert!(out.sends().is_empty());
}

#[test]
fn refer_without_a_control_plane_is_refused_at_once() {
    // The static router drops its session once the call is routed.
    let (mut h, _) = Harness::established(CALLS);
    h.feed(Input::ControlGone);
    let refer = h.a_request("REFER", "Refer-To: <sip:200@10.1.1.50>\r\n", None);
    let (tx, out) = h.a_sends(refer);
    assert_eq!(out.response(603).0, tx);
    assert!(out.events().is_empty());
    assert_eq!(h.call.state_name(), "answered", "the linked legs go on");
}

// ---- re-INVITE: hold and resume ----

/// A puts the call on hold; returns the re-INVITE sent to B.
fn a_holds(h: &mut Harness) -> (TxId, Sent, Out) {
    let reinvite = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (tx, out) = h.a_sends(reinvite);
    let to_b = out.sent(Method::Invite);
    (tx, to_b, out)
}

#[test]
fn hold_from_a_is_relayed_with_our_sdp() {
    let (mut h, b) = Harness::established(CALLS);
    let (_, to_b, _) = a_holds(&mut h);
    assert_eq!(to_b.to, udp("203.0.113.7:5060"));
    assert_eq!(to_b.msg.request_uri(), Some("sip:pbx@203.0.113.7:5060"));
    assert_eq!(to_b.msg.call_id().unwrap(), b.invite.msg.call_id().unwrap());
    assert_eq!(to_b.msg.cseq().unwrap().seq, 2);
    let sdp = body(&to_b.msg);
    assert!(sdp.contains("a=sendonly"), "{sdp}");
    assert!(sdp.contains("m=audio 41000 "), "{sdp}");
    // The same session as the first offer on B, one version later (RFC 3264 §8).
    let first = body(&b.invite.msg);
    let origin = |s: &str| s.lines().nth(1).unwrap().to_string();
    let (o1, o2) = (origin(first), origin(sdp));
    let fields = |o: &str| o.split(' ').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(fields(&o1)[1], fields(&o2)[1], "same sess-id");
    assert_eq!(
        fields(&o1)[2].parse::<u64>().unwrap() + 1,
        fields(&o2)[2].parse::<u64>().unwrap()
    );
    assert_hidden(&to_b.msg, A_SECRETS);
}

#[test]
fn hold_answer_is_relayed_to_a_and_both_acks_are_sent() {
    let (mut h, _) = Harness::established(CALLS);
    let (tx, to_b, _) = a_holds(&mut h);
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    // The hold counts once B accepted it.
    assert_eq!(
        out.events(),
        vec![Event::Held {
            leg: LegId(1),
            by: Side::Caller
        }]
    );
    assert!(h.call.media.held[0]);
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].0, udp("203.0.113.7:5060"));
    assert_eq!(acks[0].1.method(), Some(&Method::Ack));
    assert_eq!(acks[0].1.cseq().unwrap().seq, 2);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("a=recvonly"));
    assert!(body(ok).contains("m=audio 40000 "));
    assert_hidden(ok, B_SECRETS);
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );

    // Our 2xx to A's re-INVITE is retransmitted until A's ACK.
    let again = h.advance(Duration::from_millis(500));
    assert_eq!(again.transmits().len(), 1);
    assert_eq!(again.transmits()[0].1.raw(), ok.raw());
    let ack = h.a_ack(2, None);
    assert!(h.feed(ack).is_empty());
    assert!(h.advance(Duration::from_secs(5)).transmits().is_empty());
}

#[test]
fn a_repeated_2xx_to_a_relayed_reinvite_gets_our_ack_again() {
    // Found by the whole-node simulation (glare through the relay): our ACK
    // was lost, and B's repeated 2xx (passed up by its transaction, still in
    // Accepted) went unanswered; after 64*T1 a UA ends the call (§13.3.1.4).
    let (mut h, _) = Harness::established(CALLS);
    let (_, to_b, _) = a_holds(&mut h);
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    let ack = out.transmits()[0].1.raw().clone();
    let again = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    let acks = again.transmits();
    assert_eq!(acks.len(), 1, "{again:#?}");
    assert_eq!(acks[0].0, udp("203.0.113.7:5060"));
    assert_eq!(acks[0].1.raw(), &ack);
    assert!(again.responses().is_empty(), "nothing more to A");
}

#[test]
fn a_repeat_of_the_first_2xx_after_a_reinvite_gets_the_first_ack() {
    // Found by the whole-node simulation (glare_relayed seed 6, harsh
    // network): our ACK to B's answer was lost, a re-INVITE on B completed,
    // and B's repeats of its first 2xx got the re-INVITE's ACK (CSeq 2),
    // which acknowledges nothing: B would end the call after 64*T1.
    let (mut h, b) = Harness::established(CALLS);
    let (_, to_b, _) = a_holds(&mut h);
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    assert_eq!(out.transmits()[0].1.cseq().unwrap().seq, 2);
    let again = h.feed(b.response(200, "", Some(SDP_B)));
    let acks = again.transmits();
    assert_eq!(acks.len(), 1, "{again:#?}");
    assert_eq!(acks[0].1.method(), Some(&Method::Ack));
    assert_eq!(acks[0].1.cseq().unwrap().seq, 1);
}

#[test]
fn resume_from_a_is_reported() {
    let (mut h, _) = Harness::established(CALLS);
    let (_, to_b, _) = a_holds(&mut h);
    h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    let ack = h.a_ack(2, None);
    h.feed(ack);
    let reinvite = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_RESUME)));
    let to_b = h.a_sends(reinvite).1.sent(Method::Invite);
    assert!(body(&to_b.msg).contains("a=sendrecv"));
    assert_eq!(to_b.msg.cseq().unwrap().seq, 3);
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B));
    assert_eq!(
        out.events(),
        vec![Event::Resumed {
            leg: LegId(1),
            by: Side::Caller
        }]
    );
    assert!(!h.call.media.held[0]);
}

#[test]
fn rejected_reinvite_is_relayed_and_the_call_stays() {
    let (mut h, _) = Harness::established(CALLS);
    let (tx, to_b, _) = a_holds(&mut h);
    let out = h.b_answers(&to_b, 488, "", None);
    assert_eq!(out.response(488).0, tx);
    assert!(
        out.transmits().is_empty(),
        "the transaction layer ACKs a non-2xx"
    );
    assert!(h.confirmed());
}

#[test]
fn reinvite_from_b_is_relayed_to_a() {
    let (mut h, mut b) = Harness::established(CALLS);
    let reinvite = b.request("INVITE", "", Some(("application/sdp", SDP_B_RECVONLY)));
    let (tx, out) = h.b_sends(reinvite);
    let to_a = out.sent(Method::Invite);
    assert_eq!(to_a.to, udp(A_ADDR));
    assert_eq!(to_a.msg.request_uri(), Some("sip:alice@10.1.1.9:5060"));
    assert_eq!(to_a.msg.cseq().unwrap().seq, 1, "our first request on A");
    assert!(body(&to_a.msg).contains("m=audio 40000 "));
    assert_hidden(&to_a.msg, B_SECRETS);
    let out = h.a_answers(&to_a, 200, Some(SDP_A_HOLD));
    assert!(
        out.events().is_empty(),
        "recvonly from B is not a hold: {:?}",
        out.events()
    );
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    assert_eq!(out.transmits()[0].0, udp(A_ADDR));
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("m=audio 41000 "));
    assert_hidden(ok, A_SECRETS);
    // B's ACK stops our retransmissions.
    assert!(h.feed(b.ack(101)).is_empty());
    assert!(h.advance(Duration::from_secs(5)).transmits().is_empty());
}

#[test]
fn glare_reinvite_from_b_during_a_reinvite_is_491() {
    let (mut h, mut b) = Harness::established(CALLS);
    let (tx_a, to_b, _) = a_holds(&mut h);
    let reinvite = b.request("INVITE", "", Some(("application/sdp", SDP_B_RECVONLY)));
    let (tx_b, out) = h.b_sends(reinvite);
    assert_eq!(out.response(491).0, tx_b);
    assert!(out.sends().is_empty());
    // A's exchange completes normally; after it B may retry.
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    assert_eq!(out.response(200).0, tx_a);
    let update = b.request("UPDATE", "", Some(("application/sdp", SDP_B)));
    assert_eq!(h.b_sends(update).1.sent(Method::Update).to, udp(A_ADDR));
}

#[test]
fn glare_update_from_a_during_its_own_reinvite_is_491() {
    let (mut h, _) = Harness::established(CALLS);
    a_holds(&mut h);
    let update = h.a_request("UPDATE", "", Some(("application/sdp", SDP_A_RESUME)));
    let out = h.a_sends(update).1;
    assert_eq!(out.statuses(), vec![491]);
}

#[test]
fn update_without_sdp_is_relayed() {
    let (mut h, _) = Harness::established(CALLS);
    let update = h.a_request("UPDATE", "", None);
    let (tx, out) = h.a_sends(update);
    let to_b = out.sent(Method::Update);
    assert!(to_b.msg.body().is_empty());
    assert_eq!(
        to_b.msg.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.response(200).0, tx);
    assert!(out.transmits().is_empty(), "no ACK for UPDATE");
}

#[test]
fn refused_dialog_request_ends_the_call() {
    // §12.2.1.2: 481 to a request in the dialog means B's dialog is gone.
    let (mut h, _) = Harness::established(CALLS);
    let update = h.a_request("UPDATE", "", None);
    let to_b = h.a_sends(update).1.sent(Method::Update);
    let out = h.b_answers(&to_b, 481, "", None);
    assert_eq!(out.statuses(), vec![481]);
    out.sent_to(Method::Bye, A_ADDR);
    assert_eq!(h.call.state_name(), "ending");
}

// ---- INFO and OPTIONS ----

#[test]
fn info_is_relayed_with_its_body_both_ways() {
    let (mut h, mut b) = Harness::established(CALLS);
    let info = h.a_request(
        "INFO",
        "Info-Package: dtmf\r\n",
        Some(("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")),
    );
    let (tx, out) = h.a_sends(info);
    let to_b = out.sent(Method::Info);
    assert_eq!(to_b.msg.content_type(), Some("application/dtmf-relay"));
    assert_eq!(body(&to_b.msg), "Signal=5\r\nDuration=160\r\n");
    assert_eq!(to_b.msg.header_by_name("Info-Package"), Some("dtmf"));
    assert_hidden(&to_b.msg, A_SECRETS);
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.response(200).0, tx);

    let info = b.request(
        "INFO",
        "",
        Some(("application/media_control+xml", "<media_control/>")),
    );
    let (tx, out) = h.b_sends(info);
    let to_a = out.sent(Method::Info);
    assert_eq!(to_a.to, udp(A_ADDR));
    assert_eq!(
        to_a.msg.content_type(),
        Some("application/media_control+xml")
    );
    assert_eq!(body(&to_a.msg), "<media_control/>");
    assert_hidden(&to_a.msg, B_SECRETS);
    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.response(200).0, tx);
}

#[test]
fn info_error_is_relayed() {
    let (mut h, _) = Harness::established(CALLS);
    let info = h.a_request("INFO", "", Some(("application/x-unknown", "x")));
    let (tx, out) = h.a_sends(info);
    let to_b = out.sent(Method::Info);
    let out = h.b_answers(&to_b, 415, "", None);
    assert_eq!(out.response(415).0, tx);
    assert!(h.confirmed());
}

#[test]
fn options_in_the_dialog_is_relayed() {
    let (mut h, mut b) = Harness::established(CALLS);
    let options = b.request("OPTIONS", "", None);
    let (tx, out) = h.b_sends(options);
    let to_a = out.sent(Method::Options);
    assert_eq!(to_a.msg.call_id().unwrap(), "a-call-1@10.1.1.9");
    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.response(200).0, tx);
}

#[test]
fn relayed_request_that_times_out_ends_the_call() {
    let (mut h, _) = Harness::established(CALLS);
    let options = h.a_request("OPTIONS", "", None);
    let (tx, out) = h.a_sends(options);
    let to_b = out.sent(Method::Options);
    let out = h.feed(Input::TxFailed {
        tx: to_b.tx,
        failure: TxFailure::Timeout,
    });
    assert_eq!(out.response(408).0, tx);
    out.sent_to(Method::Bye, A_ADDR);
    assert_eq!(h.call.state_name(), "ending");
}

// ---- 100rel / PRACK ----

/// A call whose caller supports 100rel, with a reliable 183 from B relayed.
fn reliable_183() -> (Harness, BSide, Out) {
    let invite = a_invite(Some(SDP_A), "Supported: 100rel, timer\r\n");
    let (mut h, _) = Harness::with_invite(CALLS, invite);
    let (b, out) = h.connected(&[B1]);
    let supported: Vec<_> = out
        .sent(Method::Invite)
        .msg
        .supported()
        .map(str::to_string)
        .collect();
    assert!(supported.iter().any(|s| s == "100rel"), "{supported:?}");
    let out = h.feed(b.response(183, "Require: 100rel\r\nRSeq: 77\r\n", Some(SDP_B)));
    (h, b, out)
}

#[test]
fn reliable_provisional_is_relayed_reliably_with_our_rseq() {
    let (h, _, out) = reliable_183();
    let (_, p) = out.response(183);
    assert!(p.require().any(|r| r == "100rel"));
    let rseq: u32 = p.header(HeaderName::RSeq).unwrap().parse().unwrap();
    assert_eq!(
        h.call.leg(LegId(1)).unwrap().inbound().unwrap().rseq_map,
        vec![(rseq, LegId(2), 77)]
    );
    assert!(body(p).contains("m=audio 40000 "));
}

#[test]
fn prack_from_a_is_relayed_with_b_rack() {
    let (mut h, b, out) = reliable_183();
    let rseq = out
        .response(183)
        .1
        .header(HeaderName::RSeq)
        .unwrap()
        .to_string();
    let prack = h.a_request("PRACK", &format!("RAck: {rseq} 1 INVITE\r\n"), None);
    let (tx, out) = h.a_sends(prack);
    let to_b = out.sent(Method::Prack);
    assert_eq!(to_b.msg.header(HeaderName::RAck), Some("77 1 INVITE"));
    assert_eq!(to_b.msg.call_id().unwrap(), b.invite.msg.call_id().unwrap());
    assert_eq!(to_b.msg.to_header().unwrap().tag(), Some("btag1"));
    assert_eq!(to_b.msg.cseq().unwrap().seq, 2);
    let out = h.b_answers(&to_b, 200, "", None);
    assert_eq!(out.response(200).0, tx);

    // The call then answers as usual.
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
}

#[test]
fn prack_for_an_unknown_rseq_is_481_and_the_call_goes_on() {
    let (mut h, b, out) = reliable_183();
    let rseq: u32 = out
        .response(183)
        .1
        .header(HeaderName::RSeq)
        .unwrap()
        .parse()
        .unwrap();
    let prack = h.a_request("PRACK", &format!("RAck: {} 1 INVITE\r\n", rseq + 10), None);
    let out = h.a_sends(prack).1;
    assert_eq!(out.statuses(), vec![481]);
    assert!(out.sends().is_empty());
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
}

#[test]
fn retransmitted_reliable_provisional_keeps_its_rseq() {
    // B retransmits its 183 until the PRACK arrives (RFC 3262 §3): A must
    // see a retransmission (same RSeq), not a new provisional it must PRACK again.
    let (mut h, b, out) = reliable_183();
    let first = out
        .response(183)
        .1
        .header(HeaderName::RSeq)
        .unwrap()
        .to_string();
    let out = h.feed(b.response(183, "Require: 100rel\r\nRSeq: 77\r\n", Some(SDP_B)));
    for (_, r) in out.responses() {
        assert_eq!(r.header(HeaderName::RSeq), Some(first.as_str()));
    }
    assert_eq!(
        h.call
            .leg(LegId(1))
            .unwrap()
            .inbound()
            .unwrap()
            .rseq_map
            .len(),
        1
    );
}

#[test]
fn b_prack_rejection_does_not_end_the_call_before_answer() {
    // RFC 3262 §3 uses 481 for a PRACK that matches nothing: the dialog is fine.
    let (mut h, b, out) = reliable_183();
    let rseq = out
        .response(183)
        .1
        .header(HeaderName::RSeq)
        .unwrap()
        .to_string();
    let prack = h.a_request("PRACK", &format!("RAck: {rseq} 1 INVITE\r\n"), None);
    let to_b = h.a_sends(prack).1.sent(Method::Prack);
    let out = h.b_answers(&to_b, 481, "", None);
    assert_eq!(out.statuses(), vec![481]);
    assert!(out.end().is_none() && out.sends().is_empty(), "{out:#?}");
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
}

#[test]
fn unreliable_provisional_to_a_caller_without_100rel() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, out) = h.connected(&[B1]);
    assert!(
        !out.sent(Method::Invite)
            .msg
            .supported()
            .any(|s| s == "100rel")
    );
    let out = h.feed(b.response(180, "", None));
    let (_, r) = out.response(180);
    assert_eq!(r.header(HeaderName::RSeq), None);
    assert!(!r.require().any(|s| s == "100rel"));
}

#[test]
fn late_offer_reinvite_answer_travels_in_the_acks() {
    let (mut h, _) = Harness::established(CALLS);
    let reinvite = h.a_request("INVITE", "", None);
    let (tx, out) = h.a_sends(reinvite);
    let to_b = out.sent(Method::Invite);
    assert!(to_b.msg.body().is_empty());
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B));
    assert!(out.transmits().is_empty(), "B's ACK waits for A's answer");
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("m=audio 40000 "));
    let ack = h.a_ack(2, Some(SDP_A_HOLD));
    let out = h.feed(ack);
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.cseq().unwrap().seq, 2);
    assert!(body(&acks[0].1).contains("a=sendonly"));
    assert!(body(&acks[0].1).contains("m=audio 41000 "));
    assert_hidden(&acks[0].1, A_SECRETS);
}

#[test]
fn bye_from_b_before_a_acked_waits_for_the_ack() {
    // §15: no BYE on A's dialog until A ACKed our 2xx (or gave up on it);
    // the 2xx keeps being retransmitted meanwhile.
    let (mut h, _) = Harness::new(CALLS);
    let (mut b, _) = h.connected(&[B1]);
    let ok = h
        .feed(b.response(200, "", Some(SDP_B)))
        .response(200)
        .1
        .clone();
    let bye = b.request("BYE", "", None);
    let out = h.b_sends(bye).1;
    assert_eq!(out.statuses(), vec![200]);
    assert!(out.sends().is_empty(), "{out:#?}");
    let again = h.advance(Duration::from_millis(500));
    assert_eq!(again.transmits().len(), 1);
    assert_eq!(again.transmits()[0].1.raw(), ok.raw());
    let ack = h.a_ack(1, None);
    let out = h.feed(ack);
    let to_a = out.sent(Method::Bye);
    assert_eq!(to_a.to, udp(A_ADDR));
    assert!(h.advance(Duration::from_secs(5)).transmits().is_empty());
    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Normal)));
}

#[test]
fn bye_from_b_when_a_never_acks_goes_when_the_2xx_gives_up() {
    let (mut h, _) = Harness::new(CALLS);
    let (mut b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    h.advance(Duration::from_millis(100));
    let bye = b.request("BYE", "", None);
    h.b_sends(bye);
    let out = h.advance(Duration::from_millis(31_899));
    assert!(out.sends().is_empty());
    let out = h.advance(Duration::from_millis(1));
    let to_a = out.sent(Method::Bye);
    let out = h.a_answers(&to_a, 200, None);
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Normal)));
}

#[test]
fn rejected_hold_is_no_hold() {
    let (mut h, _) = Harness::established(CALLS);
    let (_, to_b, out) = a_holds(&mut h);
    assert!(out.events().is_empty(), "not before B accepted it");
    let out = h.b_answers(&to_b, 488, "", None);
    assert!(out.events().is_empty(), "{:?}", out.events());
    assert!(!h.call.media.held[0]);
}

#[test]
fn inactive_offer_from_b_is_a_hold_by_b() {
    let (mut h, mut b) = Harness::established(CALLS);
    let inactive = SDP_B.replace("a=sendrecv", "a=inactive");
    let reinvite = b.request("INVITE", "", Some(("application/sdp", &inactive)));
    let to_a = h.b_sends(reinvite).1.sent(Method::Invite);
    let out = h.a_answers(&to_a, 200, Some(&SDP_A.replace("a=sendrecv", "a=inactive")));
    assert_eq!(
        out.events(),
        vec![Event::Held {
            leg: LegId(2),
            by: Side::Callee
        }]
    );
    assert!(h.call.media.held[1]);
}

#[test]
fn retransmitted_2xx_from_a_gets_our_ack_again() {
    let (mut h, mut b) = Harness::established(CALLS);
    let reinvite = b.request("INVITE", "", Some(("application/sdp", SDP_B)));
    let to_a = h.b_sends(reinvite).1.sent(Method::Invite);
    let ok = respond(&to_a.msg, 200, "atag", "", Some(SDP_A));
    let first = h.feed(Input::Response {
        tx: to_a.tx,
        response: ok.clone(),
    });
    let ack = first.transmits()[0].1.raw().clone();
    let again = h.feed(Input::StrayResponse { response: ok });
    assert_eq!(again.transmits().len(), 1);
    assert_eq!(again.transmits()[0].1.raw(), &ack);
    assert!(again.responses().is_empty(), "B's 200 is not sent twice");
}

#[test]
fn a_leg_over_tcp_follows_the_callers_newest_connection() {
    use voxgate_sip::ConnId;
    let tcp = |conn| Peer {
        transport: TransportKind::Tcp,
        addr: A_ADDR.parse().unwrap(),
        conn: Some(ConnId(conn)),
    };
    let (mut h, _) = Harness::with_invite_from(CALLS, a_invite(Some(SDP_A), ""), tcp(1));
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(
        out.response(200).1.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060;transport=tcp>")
    );
    let ack = h.a_ack(1, None);
    h.feed(ack);
    // The carrier reconnected: its next request comes over connection 2.
    let info = h.a_request("INFO", "", None);
    h.feed(Input::Request {
        tx: TxId::next(),
        request: info,
        from: tcp(2),
    });
    let bye = h.feed(Input::Command(Command::Hangup {
        leg: None,
        status: None,
    }));
    assert_eq!(bye.sent_to(Method::Bye, A_ADDR).to, tcp(2));
}

#[test]
fn in_dialog_requests_on_a_closed_client_connection_go_to_the_next_hop() {
    use voxgate_sip::ConnId;
    // The caller connected from an ephemeral port; its Contact is where it listens.
    let from = Peer {
        transport: TransportKind::Tcp,
        addr: "198.51.100.5:45700".parse().unwrap(),
        conn: Some(ConnId(1)),
    };
    let invite = |record_route: &str| {
        let base = a_invite(Some(SDP_A), "");
        parse(
            &text(&base)
                .replace(
                    "Record-Route: <sip:rr.carrier.example;lr>\r\n",
                    record_route,
                )
                .replace(
                    "Contact: <sip:alice@10.1.1.9:5060>",
                    "Contact: <sip:alice@198.51.100.5:5080;transport=tcp>",
                ),
        )
    };
    let bye_to = |invite: Message| {
        let (mut h, _) = Harness::with_invite_from(CALLS, invite, from);
        let (b, _) = h.connected(&[B1]);
        h.feed(b.response(200, "", Some(SDP_B)));
        let ack = h.a_ack(1, None);
        h.feed(ack);
        let out = h.feed(Input::Command(Command::Hangup {
            leg: None,
            status: None,
        }));
        out.sends()
            .into_iter()
            .find(|s| s.msg.method() == Some(&Method::Bye) && s.to.transport == TransportKind::Tcp)
            .map(|s| s.to)
    };
    // No route set: the Contact, over connection 1 while it lasts (found by its id).
    let to = bye_to(invite("")).unwrap();
    assert_eq!(
        (to.addr.to_string(), to.conn),
        ("198.51.100.5:5080".to_string(), Some(ConnId(1)))
    );
    // A route set: its first entry.
    let to = bye_to(invite(
        "Record-Route: <sip:198.51.100.9:5070;transport=tcp;lr>\r\n",
    ))
    .unwrap();
    assert_eq!(to.addr.to_string(), "198.51.100.9:5070");
    // A next hop we cannot resolve (a name): the connection's own address.
    let to = bye_to(invite("Record-Route: <sip:rr.carrier.example;lr>\r\n")).unwrap();
    assert_eq!(to, from);
}

#[test]
fn bye_from_a_while_our_bye_waits_for_its_ack_ends_the_call() {
    let (mut h, _) = Harness::new(CALLS);
    let (mut b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let bye = b.request("BYE", "", None);
    h.b_sends(bye);
    // A's ACK was lost and A hangs up: no BYE is owed to it any more.
    let bye = h.a_request("BYE", "", None);
    let out = h.a_sends(bye).1;
    assert_eq!(out.statuses(), vec![200]);
    assert!(out.sends().is_empty());
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Normal)));
}
