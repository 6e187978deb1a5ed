//! INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4) on a simulated clock.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use transaction_support::*;
use voxgate_sip::message::{Method, cancel_for};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxError, TxEvent, TxId, TxKind};

fn layer() -> TransactionLayer {
    TransactionLayer::new(TimerConfig::default())
}

/// Starts an INVITE client transaction over UDP; returns it and the request.
fn start(
    layer: &mut TransactionLayer,
    clock: &Clock,
    peer: voxgate_sip::Peer,
) -> (TxId, voxgate_sip::message::Message) {
    let invite = Req::invite("z9hG4bKclient1").build();
    let tx = layer
        .send_request(clock.now(), invite.clone(), peer)
        .unwrap();
    let sent = transmits(layer);
    assert_eq!(sent.len(), 1, "the INVITE goes out at once");
    assert_eq!(sent[0].bytes, *invite.raw());
    assert_eq!(sent[0].to, peer);
    (tx, invite)
}

#[test]
fn timer_a_doubles_without_cap_and_timer_b_times_out_at_64_t1() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (tx, invite) = start(&mut layer, &clock, udp(5060));
    assert_eq!(layer.count(TxKind::InviteClient), 1);
    assert_eq!(layer.poll_timeout(), Some(clock.now() + ms(500)));

    let sent = run_until(&mut layer, &mut clock, ms(31_999));
    assert_eq!(
        times(&sent),
        vec![
            ms(500),
            ms(1500),
            ms(3500),
            ms(7500),
            ms(15_500),
            ms(31_500)
        ],
        "timer A: T1, 2T1, 4T1, ... (INVITE retransmissions are not capped at T2)"
    );
    assert_eq!(
        layer.retransmissions().sent,
        6,
        "each timer A send counts as a retransmission, the first send not"
    );
    assert!(
        sent.iter()
            .all(|(_, t)| t.bytes == *invite.raw() && t.to == udp(5060))
    );
    assert!(
        events(&mut layer).is_empty(),
        "nothing for the TU before timer B"
    );
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + ms(1)),
        "timer B at 64*T1 = 32 s"
    );

    let sent = run_until(&mut layer, &mut clock, secs(32));
    assert!(sent.is_empty());
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
    assert_eq!(layer.count(TxKind::InviteClient), 0);
    assert!(layer.is_empty());
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn no_retransmission_over_tcp_but_timer_b_still_applies() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (tx, _) = start(&mut layer, &clock, tcp(5060));
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(32)),
        "only timer B is armed"
    );
    let sent = run_until(&mut layer, &mut clock, secs(40));
    assert!(sent.is_empty(), "no timer A over a reliable transport");
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
}

#[test]
fn provisional_stops_retransmissions_and_reaches_the_tu() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (tx, invite) = start(&mut layer, &clock, udp(5060));
    run_until(&mut layer, &mut clock, ms(600)); // one retransmission
    layer.handle_message(clock.now(), response(&invite, 180, Some("uas1")), udp(5060));
    match events(&mut layer).as_slice() {
        [TxEvent::Response { tx: t, response }] => {
            assert_eq!(*t, tx);
            assert_eq!(response.status(), Some(180));
        }
        other => panic!("expected the 180 for the TU, got {other:?}"),
    }
    // Every further provisional is passed up too (§17.1.1.2).
    layer.handle_message(clock.now(), response(&invite, 183, Some("uas1")), udp(5060));
    assert_eq!(events(&mut layer).len(), 1);
    assert_eq!(layer.poll_timeout(), None, "Proceeding: no A, no B");
    assert!(run_until(&mut layer, &mut clock, secs(120)).is_empty());
    assert_eq!(
        layer.count(TxKind::InviteClient),
        1,
        "the TU ends a ringing INVITE (CANCEL)"
    );
}

#[test]
fn non_2xx_final_is_acked_by_the_transaction_and_the_ack_resent_on_retransmission() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (tx, invite) = start(&mut layer, &clock, udp(5060));
    layer.handle_message(clock.now(), response(&invite, 180, Some("uas1")), udp(5060));
    events(&mut layer);

    clock.advance(secs(2));
    let busy = response(&invite, 486, Some("uas1"));
    layer.handle_message(clock.now(), busy.clone(), udp(5060));
    match events(&mut layer).as_slice() {
        [TxEvent::Response { tx: t, response }] => {
            assert_eq!(*t, tx);
            assert_eq!(response.status(), Some(486));
        }
        other => panic!("expected the 486 for the TU, got {other:?}"),
    }
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    let ack = parsed(&sent[0]);
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), invite.request_uri());
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    assert_eq!(
        ack.to_header().unwrap().tag(),
        Some("uas1"),
        "To from the response"
    );
    assert_eq!(
        ack.top_via().unwrap().branch(),
        Some("z9hG4bKclient1"),
        "same branch as the INVITE"
    );
    assert_eq!(sent[0].to, udp(5060));

    // A retransmitted 486: ACK again, nothing for the TU.
    clock.advance(ms(500));
    layer.handle_message(clock.now(), busy, udp(5060));
    assert!(events(&mut layer).is_empty());
    let again = transmits(&mut layer);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].bytes, sent[0].bytes);

    // Timer D: 32 s after the final response.
    assert_eq!(layer.poll_timeout(), Some(clock.now() - ms(500) + secs(32)));
    run_until(&mut layer, &mut clock, secs(2) + secs(32) - ms(1));
    assert!(events(&mut layer).is_empty());
    assert_eq!(layer.count(TxKind::InviteClient), 1);
    run_until(&mut layer, &mut clock, secs(34));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::InviteClient }] if *t == tx
    ));
    assert_eq!(layer.count(TxKind::InviteClient), 0);
}

#[test]
fn non_2xx_final_over_tcp_terminates_at_once() {
    let clock = Clock::new();
    let mut layer = layer();
    let (tx, invite) = start(&mut layer, &clock, tcp(5060));
    layer.handle_message(clock.now(), response(&invite, 503, Some("uas1")), tcp(5060));
    match events(&mut layer).as_slice() {
        [
            TxEvent::Response { response, .. },
            TxEvent::Terminated { tx: t, .. },
        ] => {
            assert_eq!(response.status(), Some(503));
            assert_eq!(*t, tx);
        }
        other => panic!("expected Response then Terminated, got {other:?}"),
    }
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1, "the ACK is still sent");
    assert_eq!(parsed(&sent[0]).method(), Some(&Method::Ack));
    assert!(layer.is_empty());
    assert_eq!(
        layer.poll_timeout(),
        None,
        "timer D is zero on reliable transports"
    );
}

#[test]
fn two_xx_enters_accepted_passes_every_2xx_up_and_ends_after_timer_m() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (tx, invite) = start(&mut layer, &clock, udp(5060));
    clock.advance(secs(1));
    let ok = response(&invite, 200, Some("uas1"));
    layer.handle_message(clock.now(), ok.clone(), udp(5060));
    assert!(
        transmits(&mut layer).is_empty(),
        "the TU, not the transaction, ACKs a 2xx"
    );
    assert_eq!(events(&mut layer).len(), 1);

    // A retransmitted 2xx and a 2xx from another fork both reach the TU.
    layer.handle_message(clock.now(), ok, udp(5060));
    layer.handle_message(clock.now(), response(&invite, 200, Some("uas2")), udp(5060));
    let evs = events(&mut layer);
    assert_eq!(evs.len(), 2);
    assert!(evs.iter().all(|e| matches!(e, TxEvent::Response { tx: t, response } if *t == tx && response.status() == Some(200))));
    // A non-2xx after a 2xx is dropped, and nothing is retransmitted.
    layer.handle_message(clock.now(), response(&invite, 486, Some("uas3")), udp(5060));
    assert!(events(&mut layer).is_empty());
    assert!(transmits(&mut layer).is_empty());

    // Timer M = 64*T1 from the first 2xx.
    assert_eq!(layer.poll_timeout(), Some(clock.now() + secs(32)));
    assert!(run_until(&mut layer, &mut clock, secs(33)).is_empty());
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::InviteClient }] if *t == tx
    ));
}

#[test]
fn cancelled_invite_without_final_response_gives_up_64_t1_after_the_cancel() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (invite_tx, invite) = start(&mut layer, &clock, udp(5060));
    layer.handle_message(clock.now(), response(&invite, 180, Some("uas1")), udp(5060));
    events(&mut layer);

    clock.advance(secs(10));
    let cancel = parse(&cancel_for(&invite).unwrap());
    let cancel_tx = layer
        .send_request(clock.now(), cancel.clone(), udp(5060))
        .unwrap();
    assert_ne!(
        cancel_tx, invite_tx,
        "CANCEL has its own transaction (same branch, other method)"
    );
    assert_eq!(layer.count(TxKind::NonInviteClient), 1);
    transmits(&mut layer);

    // 200 to the CANCEL goes to the CANCEL transaction only.
    layer.handle_message(clock.now(), response(&cancel, 200, Some("uas1")), udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Response { tx, .. }] if *tx == cancel_tx
    ));

    // No 487 ever comes: the INVITE transaction times out 32 s after the CANCEL.
    run_until(&mut layer, &mut clock, secs(10) + secs(32) - ms(1));
    assert!(
        events(&mut layer)
            .iter()
            .all(|e| !matches!(e, TxEvent::Timeout { tx } if *tx == invite_tx))
    );
    run_until(&mut layer, &mut clock, secs(42));
    assert!(is_timeout_then_terminated(&events(&mut layer), invite_tx));
    assert_eq!(layer.count(TxKind::InviteClient), 0);
}

#[test]
fn the_layer_cancels_an_invite_that_rang_once_for_a_user_that_is_gone() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (invite_tx, invite) = start(&mut layer, &clock, udp(5060));
    // Calling: no provisional yet, no CANCEL (§9.1); timer B ends it.
    assert_eq!(layer.cancel_invite(clock.now(), invite_tx), None);
    assert_eq!(layer.invite_peer(invite_tx), Some(udp(5060)));
    layer.handle_message(clock.now(), response(&invite, 180, Some("uas1")), udp(5060));
    events(&mut layer);
    let cancel_tx = layer.cancel_invite(clock.now(), invite_tx).unwrap();
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].bytes,
        cancel_for(&invite).unwrap(),
        "the §9.1 CANCEL"
    );
    assert_eq!(sent[0].to, udp(5060));
    assert_eq!(layer.kind(cancel_tx), Some(TxKind::NonInviteClient));
    assert_eq!(layer.cancel_invite(clock.now(), invite_tx), None, "once");
    // No answer ever comes (to the CANCEL either): it still ends, 64*T1 after the CANCEL.
    run_until(&mut layer, &mut clock, secs(33));
    let ended: Vec<_> = events(&mut layer)
        .into_iter()
        .filter(|e| matches!(e, TxEvent::Timeout { tx } | TxEvent::Terminated { tx, .. } if *tx == invite_tx))
        .collect();
    assert!(is_timeout_then_terminated(&ended, invite_tx), "{ended:?}");
    assert_eq!(layer.count(TxKind::InviteClient), 0);
}

#[test]
fn cancelled_invite_that_gets_487_completes_normally() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let (invite_tx, invite) = start(&mut layer, &clock, udp(5060));
    layer.handle_message(clock.now(), response(&invite, 180, Some("uas1")), udp(5060));
    let cancel = parse(&cancel_for(&invite).unwrap());
    layer.send_request(clock.now(), cancel, udp(5060)).unwrap();
    clock.advance(secs(1));
    layer.handle_message(clock.now(), response(&invite, 487, Some("uas1")), udp(5060));
    let evs = events(&mut layer);
    assert!(evs.iter().any(|e| matches!(e, TxEvent::Response { tx, response } if *tx == invite_tx && response.status() == Some(487))));
    // Timer D (32 s from the 487) ends it, without a Timeout.
    run_until(&mut layer, &mut clock, secs(1) + secs(32));
    let evs = events(&mut layer);
    assert!(
        evs.iter()
            .any(|e| matches!(e, TxEvent::Terminated { tx, .. } if *tx == invite_tx))
    );
    assert!(
        !evs.iter()
            .any(|e| matches!(e, TxEvent::Timeout { tx } if *tx == invite_tx))
    );
}

#[test]
fn transport_error_informs_the_tu_and_terminates() {
    let clock = Clock::new();
    let mut layer = layer();
    let (tx, _) = start(&mut layer, &clock, udp(5060));
    layer.transport_error(clock.now(), tx);
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::TransportError { tx: a }, TxEvent::Terminated { tx: b, kind: TxKind::InviteClient }] if *a == tx && *b == tx
    ));
    assert!(layer.is_empty());
    assert_eq!(layer.poll_timeout(), None);
    // Unknown (already ended) ids are ignored.
    layer.transport_error(clock.now(), tx);
    assert!(events(&mut layer).is_empty());
}

#[test]
fn send_request_refuses_ack_responses_missing_and_reused_branches() {
    let clock = Clock::new();
    let mut layer = layer();
    let ack = Req::new(Method::Ack, "z9hG4bKack").build();
    assert_eq!(
        layer.send_request(clock.now(), ack, udp(5060)),
        Err(TxError::AckNotATransaction)
    );

    let invite = Req::invite("z9hG4bKdup").build();
    let resp = response(&invite, 200, Some("x"));
    assert_eq!(
        layer.send_request(clock.now(), resp, udp(5060)),
        Err(TxError::NotARequest)
    );

    let no_branch = Req::invite("x").via("SIP/2.0/UDP 192.0.2.10:5060").build();
    assert_eq!(
        layer.send_request(clock.now(), no_branch, udp(5060)),
        Err(TxError::MissingBranch)
    );

    let first = layer
        .send_request(clock.now(), invite.clone(), udp(5060))
        .unwrap();
    assert_eq!(
        layer.send_request(clock.now(), invite, udp(5060)),
        Err(TxError::BranchInUse(first))
    );
    assert_eq!(layer.len(), 1);
    assert!(layer.poll_transmit().is_some());
    assert!(
        layer.poll_transmit().is_none(),
        "refused requests are not sent"
    );
}

#[test]
fn set_timers_applies_to_new_transactions_only() {
    let mut clock = Clock::new();
    let mut layer = layer();
    let old = Req::invite("z9hG4bKold").build();
    layer
        .send_request(clock.now(), old.clone(), udp(5060))
        .unwrap();
    layer.set_timers(TimerConfig {
        t1: ms(100),
        ..TimerConfig::default()
    });
    assert_eq!(layer.timers().t1, ms(100));
    let new = Req::invite("z9hG4bKnew").build();
    layer
        .send_request(clock.now(), new.clone(), udp(5060))
        .unwrap();
    transmits(&mut layer);

    let sent = run_until(&mut layer, &mut clock, ms(1600));
    let at = |msg: &voxgate_sip::message::Message| -> Vec<_> {
        sent.iter()
            .filter(|(_, t)| t.bytes == *msg.raw())
            .map(|(d, _)| *d)
            .collect()
    };
    assert_eq!(at(&new), vec![ms(100), ms(300), ms(700), ms(1500)]);
    assert_eq!(at(&old), vec![ms(500), ms(1500)]);
}

#[test]
fn a_zero_t1_is_raised_to_one_millisecond_instead_of_spinning() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig {
        t1: ms(0),
        t2: ms(0),
        ..TimerConfig::default()
    });
    let (tx, _) = start(&mut layer, &clock, udp(5060));
    assert_eq!(layer.poll_timeout(), Some(clock.now() + ms(1)));
    let sent = run_until(&mut layer, &mut clock, ms(64));
    assert_eq!(times(&sent), [1, 3, 7, 15, 31, 63].map(ms));
    assert!(
        is_timeout_then_terminated(&events(&mut layer), tx),
        "timer B = 64 * 1 ms"
    );
}
