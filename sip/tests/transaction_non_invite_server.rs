//! Non-INVITE server transaction (RFC 3261 §17.2.2) on a simulated clock.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use transaction_support::*;
use voxgate_sip::message::Method;
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxError, TxEvent, TxKind};

#[test]
fn trying_proceeding_completed_with_retransmissions_answered_and_timer_j() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let bye = Req::new(Method::Bye, "z9hG4bKbye1")
        .with_to_tag("uas")
        .build();
    layer.handle_message(clock.now(), bye.clone(), udp(5060));
    let tx = match events(&mut layer).as_slice() {
        [TxEvent::Request { tx, request, from }] => {
            assert_eq!(request.raw(), bye.raw());
            assert_eq!(*from, udp(5060));
            *tx
        }
        other => panic!("expected one Request, got {other:?}"),
    };
    assert!(
        transmits(&mut layer).is_empty(),
        "no automatic 100 for non-INVITE"
    );
    assert_eq!(layer.count(TxKind::NonInviteServer), 1);
    assert_eq!(layer.count(TxKind::InviteServer), 0);

    // Trying: a retransmission is discarded.
    layer.handle_message(clock.now(), bye.clone(), udp(5060));
    assert!(transmits(&mut layer).is_empty());
    assert!(events(&mut layer).is_empty());

    // Proceeding: a retransmission gets the provisional again.
    let trying = response(&bye, 100, None);
    layer.respond(clock.now(), tx, trying.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *trying.raw());
    layer.handle_message(clock.now(), bye.clone(), udp(5060));
    assert_eq!(transmits(&mut layer)[0].bytes, *trying.raw());

    // Completed: a retransmission gets the final again; no second final.
    clock.advance(secs(1));
    let ok = response(&bye, 200, None);
    layer.respond(clock.now(), tx, ok.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *ok.raw());
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(32)),
        "timer J = 64*T1 on UDP"
    );
    assert!(
        run_until(&mut layer, &mut clock, secs(5)).is_empty(),
        "the server never retransmits on its own"
    );
    layer.handle_message(clock.now(), bye.clone(), udp(5060));
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].bytes, *ok.raw());
    assert!(events(&mut layer).is_empty());
    assert_eq!(
        layer.respond(clock.now(), tx, response(&bye, 500, None)),
        Err(TxError::AlreadyFinal(tx))
    );

    run_until(&mut layer, &mut clock, ms(32_999));
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, secs(33));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::NonInviteServer }] if *t == tx
    ));
    assert_eq!(layer.count(TxKind::NonInviteServer), 0);
    assert!(layer.is_empty());
}

#[test]
fn over_tcp_the_final_response_terminates_at_once() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let options = Req::new(Method::Options, "z9hG4bKopt").build();
    layer.handle_message(clock.now(), options.clone(), tcp(40_000));
    let tx = match events(&mut layer).as_slice() {
        [TxEvent::Request { tx, .. }] => *tx,
        other => panic!("expected one Request, got {other:?}"),
    };
    layer
        .respond(clock.now(), tx, response(&options, 200, Some("t")))
        .unwrap();
    let sent = transmits(&mut layer);
    assert_eq!(sent[0].to, tcp(40_000));
    assert!(
        matches!(events(&mut layer).as_slice(), [TxEvent::Terminated { tx: t, .. }] if *t == tx)
    );
    assert_eq!(
        layer.poll_timeout(),
        None,
        "timer J is zero on reliable transports"
    );
}

#[test]
fn transport_error_informs_the_tu_and_timer_j_still_ends_it() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let options = Req::new(Method::Options, "z9hG4bKopt").build();
    layer.handle_message(clock.now(), options.clone(), udp(5060));
    let tx = match events(&mut layer).as_slice() {
        [TxEvent::Request { tx, .. }] => *tx,
        other => panic!("expected one Request, got {other:?}"),
    };
    layer
        .respond(clock.now(), tx, response(&options, 200, Some("t")))
        .unwrap();
    layer.transport_error(clock.now(), tx);
    assert!(
        matches!(events(&mut layer).as_slice(), [TxEvent::TransportError { tx: t }] if *t == tx)
    );
    assert_eq!(layer.count(TxKind::NonInviteServer), 1);
    run_until(&mut layer, &mut clock, secs(32));
    assert!(
        matches!(events(&mut layer).as_slice(), [TxEvent::Terminated { tx: t, .. }] if *t == tx)
    );
}
