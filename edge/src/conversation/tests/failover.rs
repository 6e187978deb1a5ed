//! Failures before the answer: failover to the next destination, redirects,
//! the call ended from outside before answer, attempts given up on, broken
//! answers.

use super::*;

// ---- failures and failover ----

#[test]
fn busy_from_b_reaches_the_caller_and_ends_the_call() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    let out = h.feed(b.response(486, "", None));
    assert_eq!(invite_status(&h, &out), vec![486]);
    assert_eq!(out.response(486).1.reason(), Some("Busy Here"));
    assert!(
        out.sends().is_empty(),
        "486 is not retried, and nothing to cancel"
    );
    assert!(leg_failed(&out.events(), 1, LegFailure::Status(486)));
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Rejected(486))));
}

#[test]
fn busy_after_ringing_sends_no_cancel() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let out = h.feed(b.response(486, "", None));
    assert_eq!(invite_status(&h, &out), vec![486]);
    assert!(out.sends().is_empty(), "the INVITE is complete: {out:#?}");
    assert!(out.end().is_some());
}

#[test]
fn service_unavailable_tries_the_next_destination() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    h.feed(b.response(100, "", None));
    let out = h.feed(b.response(503, "", None));
    assert!(invite_status(&h, &out).is_empty(), "A waits");
    assert!(leg_failed(&out.events(), 1, LegFailure::Status(503)));
    let second = out.sent(Method::Invite);
    assert_eq!(second.to, udp("203.0.113.8:5060"));
    assert_eq!(second.msg.request_uri(), Some(B2));
    assert_ne!(
        second.msg.call_id().unwrap(),
        b.invite.msg.call_id().unwrap()
    );
    // Each attempt has an endpoint of its own; the failed one's ports went back.
    assert!(body(&second.msg).contains("m=audio 42000 "));
    assert!(!h.call.media.is_open(EndpointId(1)));
    assert_eq!(h.call.media.open_count(), 2);

    let b2 = BSide::new(second);
    let out = h.feed(b2.response(200, "", Some(SDP_B)));
    assert!(out.events().contains(&Event::LegAnswered {
        early: false,
        leg: LegId(3)
    }));
    assert_eq!(invite_status(&h, &out), vec![200]);
}

#[test]
fn service_unavailable_from_the_last_destination_is_500() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(503, "Retry-After: 30\r\n", None));
    assert_eq!(invite_status(&h, &out), vec![500]);
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Rejected(500))));
}

#[test]
fn service_unavailable_then_an_unusable_destination_is_500_without_retry_after() {
    // A 503 toward the caller means this node is unavailable (and says when
    // to come back); a downstream 503 must not surface as one.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, "sip:pbx.example"]);
    let out = h.feed(b.response(503, "", None));
    assert_eq!(out.resolves().len(), 1, "{out:#?}");
    let out = h.feed(Input::Resolved {
        dial: DialId(1),
        targets: Vec::new(),
    });
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 500
    }));
    assert_eq!(invite_status(&h, &out), vec![500]);
    let (_, response) = out.response(500);
    assert_eq!(response.header(HeaderName::RetryAfter), None);
}

// ---- destinations found down, trunks out of service ----

#[test]
fn a_destination_found_down_is_skipped_and_the_next_tried_at_once() {
    let (mut h, _) = Harness::new(CALLS);
    let down = crate::keepalive::DestinationKey {
        uri: B1.into(),
        transport: TransportKind::Udp,
        trunk: TrunkName::new("pbx"),
    };
    h.call
        .ctx
        .health
        .publish(vec![(down, crate::keepalive::State::Down)]);
    let out = h.feed(connect(&[B1, B2]));
    let invite = out.sent(Method::Invite);
    assert_eq!(invite.to, udp("203.0.113.8:5060"));
    assert_eq!(invite.msg.request_uri(), Some(B2));
}

#[test]
fn a_trunk_out_of_service_gets_no_call_and_the_caller_480() {
    let (mut h, _) = Harness::new(CALLS);
    let pbx = TrunkName::new("pbx").unwrap();
    h.call.ctx.health.set_in_service(&pbx, false);
    let out = h.feed(connect(&[B1, B2]));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(invite_status(&h, &out), vec![480]);
}

// ---- destinations by name (RFC 3263) ----

const BY_NAME: &str = "sip:+15550100@carrier.example";

#[test]
fn a_destination_name_waits_for_its_next_hops_and_tries_them_in_turn() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(connect(&[BY_NAME, B2]));
    assert!(
        out.sends().is_empty(),
        "nothing sent before the name resolves"
    );
    assert_eq!(
        out.resolves(),
        [(
            DialId(1),
            crate::dns::cache::Query::new("carrier.example", None, TransportKind::Udp)
        )]
    );
    // Two next hops: the first answers 503, the second gets the same URI.
    let out = h.feed(Input::Resolved {
        dial: DialId(1),
        targets: vec![
            "198.51.100.20:5070".parse().unwrap(),
            "198.51.100.21:5080".parse().unwrap(),
        ],
    });
    let first = out.sent(Method::Invite);
    assert_eq!(first.to, udp("198.51.100.20:5070"));
    assert_eq!(first.msg.request_uri(), Some(BY_NAME));
    let out = h.feed(BSide::new(first).response(503, "", None));
    assert!(invite_status(&h, &out).is_empty(), "A waits");
    let second = out.sent(Method::Invite);
    assert_eq!(second.to, udp("198.51.100.21:5080"));
    assert_eq!(second.msg.request_uri(), Some(BY_NAME));
    // A timeout there moves on to the dial's next destination.
    let out = h.advance(Duration::from_millis(1000));
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
}

#[test]
fn a_name_that_resolves_to_nothing_fails_the_destination() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(connect(&[BY_NAME]));
    assert_eq!(out.resolves().len(), 1);
    // The caller's CANCEL or a late answer cannot start anything meanwhile.
    let out = h.feed(Input::Resolved {
        dial: DialId(2),
        targets: vec!["198.51.100.20:5060".parse().unwrap()],
    });
    assert!(out.sends().is_empty());
    let out = h.feed(Input::Resolved {
        dial: DialId(1),
        targets: Vec::new(),
    });
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 480
    }));
    assert_eq!(invite_status(&h, &out), vec![480]);
    // A second answer for the same dial changes nothing.
    let out = h.feed(Input::Resolved {
        dial: DialId(1),
        targets: vec!["198.51.100.20:5060".parse().unwrap()],
    });
    assert!(out.sends().is_empty());
}

#[test]
fn a_name_with_a_port_asks_for_addresses_only_and_tls_checks_the_name() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(connect(&["sip:+15550100@PBX.Example.:5062", B1]));
    assert_eq!(
        out.resolves()[0].1,
        crate::dns::cache::Query::new("pbx.example", Some(5062), TransportKind::Udp)
    );
    // An IP address, or localhost, is no name.
    assert_eq!(crate::dns::name_query(B1, TransportKind::Udp), None);
    assert_eq!(
        crate::dns::name_query("sip:a@localhost:5060", TransportKind::Udp),
        None
    );
    assert_eq!(
        crate::dns::name_query("sips:[2001:db8::1]", TransportKind::Tls),
        None
    );
}

#[test]
fn timeout_of_the_b_invite_tries_the_next_destination() {
    let (mut h, _) = Harness::new(&calls("trying_timeout_ms = 0"));
    let (b, _) = h.connected(&[B1, B2]);
    let out = h.feed(Input::TxFailed {
        tx: b.invite.tx,
        failure: TxFailure::Timeout,
    });
    assert!(leg_failed(&out.events(), 1, LegFailure::Timeout));
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
}

#[test]
fn transport_failure_of_the_last_destination_is_480() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(Input::TxFailed {
        tx: b.invite.tx,
        failure: TxFailure::Transport,
    });
    assert!(leg_failed(&out.events(), 1, LegFailure::Transport));
    assert_eq!(invite_status(&h, &out), vec![480]);
    assert!(out.end().is_some());
}

#[test]
fn trying_timeout_moves_to_the_next_destination() {
    let (mut h, _) = Harness::new(CALLS);
    let (first, _) = h.connected(&[B1, B2]);
    assert!(h.advance(Duration::from_millis(999)).is_empty());
    let out = h.advance(Duration::from_millis(1));
    assert!(leg_failed(&out.events(), 1, LegFailure::Timeout));
    let second = out.sent(Method::Invite);
    assert_eq!(second.to, udp("203.0.113.8:5060"));

    // The first destination answers after all: it is confirmed and hung up.
    let late = BSide::new(first.invite.clone());
    let out = h.feed(late.response(200, "", Some(SDP_B)));
    assert!(out.responses().is_empty());
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.to, udp("203.0.113.7:5060"));
    assert_eq!(
        bye.msg.call_id().unwrap(),
        first.invite.msg.call_id().unwrap()
    );
    assert_eq!(
        h.call.state_name(),
        "connecting",
        "the second attempt goes on"
    );
}

#[test]
fn trying_timeout_of_the_last_destination_is_408() {
    let (mut h, _) = Harness::new(CALLS);
    h.connected(&[B1]);
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(invite_status(&h, &out), vec![408]);
    assert_eq!(out.end(), Some((Side::Callee, EndCause::Rejected(408))));
}

#[test]
fn ring_timeout_cancels_then_tries_the_next() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::Command(Command::Dial({
        let mut d = Dial::new(vec![dest(B1), dest(B2)]).connect(LegId(1));
        d.ring_timeout = Some(Duration::from_secs(20));
        d.follow_redirects = false;
        d
    })));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(180, "", None));
    assert!(h.advance(Duration::from_millis(19_999)).is_empty());
    let out = h.advance(Duration::from_millis(1));
    let c = out.sent(Method::Cancel);
    assert!(out.responses().is_empty(), "A keeps ringing");
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert!(leg_failed(&out.events(), 1, LegFailure::Timeout));
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
    assert!(out.responses().is_empty());
}

#[test]
fn ring_timeout_of_the_last_destination_is_480() {
    let (mut h, _) = Harness::new(&calls("ring_timeout_s = 5"));
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let c = h.advance(Duration::from_secs(5)).sent(Method::Cancel);
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert_eq!(invite_status(&h, &out), vec![480]);
    assert!(out.end().is_some());
}

#[test]
fn ring_timeout_cancel_unanswered_moves_on() {
    // §9.1: with no final response 64*T1 after the CANCEL, the INVITE is
    // considered cancelled; the call must not ring forever.
    let (mut h, _) = Harness::new(&calls("ring_timeout_s = 5"));
    let (b, _) = h.connected(&[B1, B2]);
    h.feed(b.response(180, "", None));
    let c = h.advance(Duration::from_secs(5)).sent(Method::Cancel);
    h.b_answers(&c, 200, "", None);
    let out = h.advance(Duration::from_secs(32));
    assert!(leg_failed(&out.events(), 1, LegFailure::Timeout));
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
}

#[test]
fn cancel_from_a_after_a_ring_timeout_cancel_tries_nothing_more() {
    let (mut h, _) = Harness::new(&calls("ring_timeout_s = 5"));
    let (b, _) = h.connected(&[B1, B2]);
    h.feed(b.response(180, "", None));
    let c = h.advance(Duration::from_secs(5)).sent(Method::Cancel);
    let (_, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    assert_eq!(out.statuses(), vec![200, 487]);
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert!(
        out.sends().is_empty(),
        "no next attempt for a cancelled call: {out:#?}"
    );
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
}

#[test]
fn ring_timeout_after_the_caller_cancelled_tries_nothing_more() {
    // A cancels before B's first provisional; the ring timeout passes before
    // B finally rings: the attempt is still cancelled for the call, not retried.
    let (mut h, _) = Harness::new(&calls("ring_timeout_s = 5\ntrying_timeout_ms = 0"));
    let (b, _) = h.connected(&[B1, B2]);
    let (_, cancel) = h.a_cancel();
    h.feed(cancel);
    h.advance(Duration::from_secs(6));
    let c = h.feed(b.response(180, "", None)).sent(Method::Cancel);
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
}

#[test]
fn redirect_is_not_followed_by_default() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    let out = h.feed(b.response(302, "Contact: <sip:200@203.0.113.9>\r\n", None));
    assert_eq!(invite_status(&h, &out), vec![480]);
    let (_, r) = out.response(480);
    assert_eq!(r.header(HeaderName::Contact), None);
    assert_hidden(r, B_SECRETS);
    assert!(out.sends().is_empty());
    assert!(out.end().is_some());
}

#[test]
fn redirect_is_followed_when_the_route_says_so() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::Command(Command::Dial({
        let mut d = Dial::new(vec![dest(B1), dest(B2)]).connect(LegId(1));
        d.ring_timeout = None;
        d.follow_redirects = true;
        d
    })));
    let b = BSide::new(out.sent(Method::Invite));
    let out = h.feed(b.response(302, "Contact: <sip:200@203.0.113.9>\r\n", None));
    assert!(leg_failed(&out.events(), 1, LegFailure::Status(302)));
    let next = out.sent(Method::Invite);
    assert_eq!(next.msg.request_uri(), Some("sip:200@203.0.113.9"));
    assert_eq!(next.to, udp("203.0.113.9:5060"));
    // The original list follows the redirection target.
    let b = BSide::new(next);
    let out = h.feed(b.response(503, "", None));
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
}

fn following_dial(uris: &[&str]) -> Input {
    Input::Command(Command::Dial(
        Dial::new(uris.iter().map(|u| dest(u)).collect())
            .connect(LegId(1))
            .follow_redirects(true),
    ))
}

#[test]
fn a_redirect_outside_every_trunk_is_not_followed() {
    // 192.0.2.99 is in no trunk's allow-list: voxgate must not call it.
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(following_dial(&[B1]));
    let b = BSide::new(out.sent(Method::Invite));
    let out = h.feed(b.response(302, "Contact: <sip:200@192.0.2.99>\r\n", None));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(invite_status(&h, &out), vec![480]);
}

#[test]
fn a_redirect_loop_is_not_followed() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(following_dial(&[B1]));
    let b = BSide::new(out.sent(Method::Invite));
    // Redirected to itself.
    let out = h.feed(b.response(302, &format!("Contact: <{B1}>\r\n"), None));
    assert!(out.sends().is_empty());
    assert_eq!(invite_status(&h, &out), vec![480]);
}

#[test]
fn redirections_stop_after_five_hops() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(following_dial(&[B1]));
    let mut b = BSide::new(out.sent(Method::Invite));
    for hop in 1..=5 {
        let out = h.feed(b.response(
            302,
            &format!("Contact: <sip:{hop}@203.0.113.{}>\r\n", 20 + hop),
            None,
        ));
        b = BSide::new(out.sent(Method::Invite));
    }
    let out = h.feed(b.response(302, "Contact: <sip:6@203.0.113.26>\r\n", None));
    assert!(out.sends().is_empty(), "a sixth hop is not taken");
    assert_eq!(invite_status(&h, &out), vec![480]);
}

// ---- the call ended from outside before answer ----

#[test]
fn shutdown_while_routing_is_503_with_retry_after() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::Shutdown);
    assert_eq!(invite_status(&h, &out), vec![503]);
    let (_, response) = out.response(503);
    assert_eq!(response.header(HeaderName::RetryAfter), Some("5"));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Shutdown)));
}

#[test]
fn shutdown_while_ringing_cancels_b() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let out = h.feed(Input::Shutdown);
    assert_eq!(invite_status(&h, &out), vec![503]);
    let c = out.sent(Method::Cancel);
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Shutdown)));
}

#[test]
fn hangup_while_ringing_is_480_and_cancels_b() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let out = h.feed(Input::Command(Command::Hangup {
        leg: None,
        status: None,
    }));
    assert_eq!(invite_status(&h, &out), vec![480]);
    out.sent(Method::Cancel);
}

#[test]
fn unanswered_cancel_ends_the_call_after_64_t1() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    h.feed(Input::Shutdown);
    assert!(h.advance(Duration::from_millis(31_999)).end().is_none());
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Shutdown)));
}

// ---- attempts given up on, and broken answers ----

#[test]
fn late_ringing_of_an_abandoned_attempt_is_cancelled() {
    // The first destination missed the trying timeout, then rang after all:
    // its phone must not ring alongside the second destination's.
    let (mut h, _) = Harness::new(CALLS);
    let (first, _) = h.connected(&[B1, B2]);
    h.advance(Duration::from_secs(1)).sent(Method::Invite);
    let out = h.feed(first.response(180, "", None));
    assert!(out.responses().is_empty(), "A hears nothing of it");
    let c = out.sent(Method::Cancel);
    assert_eq!(c.to, udp("203.0.113.7:5060"));
    assert_eq!(
        c.msg.top_via().unwrap().branch(),
        first.invite.msg.top_via().unwrap().branch()
    );
    // One CANCEL is enough.
    assert!(h.feed(first.response(183, "", None)).sends().is_empty());
}

#[test]
fn retransmitted_late_answer_of_an_abandoned_attempt_is_byed_once() {
    let (mut h, _) = Harness::new(CALLS);
    let (first, _) = h.connected(&[B1, B2]);
    h.advance(Duration::from_secs(1));
    let out = h.feed(first.response(200, "", Some(SDP_B)));
    let ack = out.transmits()[0].1.raw().clone();
    out.sent(Method::Bye);
    let again = h.feed(first.response(200, "", Some(SDP_B)));
    assert!(again.sends().is_empty(), "one BYE: {again:#?}");
    assert_eq!(again.transmits().len(), 1, "the ACK again");
    assert_eq!(again.transmits()[0].1.raw(), &ack);
}

#[test]
fn answer_without_contact_fails_the_call() {
    // A 2xx we cannot build a dialog from must not leave A ringing forever.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let ok = text(&respond(&b.invite.msg, 200, "btag1", "", Some(SDP_B)))
        .replace("Contact: <sip:pbx@203.0.113.7:5060>\r\n", "");
    let out = h.feed(Input::Response {
        tx: b.invite.tx,
        response: parse(&ok),
    });
    assert_eq!(invite_status(&h, &out), vec![502]);
    assert!(out.end().is_some());
}

#[test]
fn update_in_the_early_dialog_is_relayed() {
    let invite = a_invite(Some(SDP_A), "Supported: 100rel\r\n");
    let (mut h, _) = Harness::with_invite(CALLS, invite);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(183, "", Some(SDP_B)));
    let update = h.a_request("UPDATE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (tx, out) = h.a_sends(update);
    let to_b = out.sent(Method::Update);
    assert_eq!(to_b.msg.to_header().unwrap().tag(), Some("btag1"));
    assert!(body(&to_b.msg).contains("a=sendonly"));
    let out = h.b_answers(&to_b, 200, "", Some(SDP_B_RECVONLY));
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("m=audio 40000 "));
    // RFC 3311 §5.2: UPDATE is a target refresh; its 2xx carries our Contact.
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    assert_hidden(ok, B_SECRETS);
}

#[test]
fn shutdown_before_any_provisional_cancels_on_the_first() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(Input::Shutdown);
    assert_eq!(invite_status(&h, &out), vec![503]);
    assert!(out.sends().is_empty());
    let c = h.feed(b.response(100, "", None)).sent(Method::Cancel);
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Shutdown)));
}

#[test]
fn max_forwards_exhausted_is_483_without_trying_every_destination() {
    let invite = {
        let t = text(&a_invite(Some(SDP_A), "")).replace("Max-Forwards: 69", "Max-Forwards: 1");
        parse(&t)
    };
    let (mut h, _) = Harness::with_invite(CALLS, invite);
    let out = h.feed(connect(&[B1, B2]));
    assert!(out.sends().is_empty());
    assert_eq!(invite_status(&h, &out), vec![483]);
    // No leg was started, and the dial failed with the caller's hop limit.
    assert!(
        !out.events()
            .iter()
            .any(|e| matches!(e, Event::LegCreated { .. }))
    );
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 483
    }));
}

#[test]
fn dtls_srtp_offered_end_to_end_passes_the_relay() {
    let dtls = SDP_A.replace(
        "a=sendrecv\r\n",
        "a=sendrecv\r\na=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n",
    );
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(Some(&dtls), ""));
    let (b, out) = h.connected(&[B1]);
    // The fingerprint and setup go to B untouched (keys stay end to end).
    let offer = body(&out.sent(Method::Invite).msg).to_string();
    assert!(offer.contains("a=fingerprint:sha-256 AB:CD:EF"), "{offer}");
    let answer = SDP_B.replace(
        "a=sendrecv\r\n",
        "a=sendrecv\r\na=fingerprint:sha-256 12:34\r\na=setup:active\r\n",
    );
    h.feed(b.response(200, "", Some(&answer)));
    assert_eq!(
        h.call.media.dtls,
        vec![true, true],
        "both endpoints let DTLS through"
    );
    // Without a fingerprint, DTLS is not let through.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(h.call.media.dtls, vec![false, false]);
}
