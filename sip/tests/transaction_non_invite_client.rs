//! Non-INVITE client transaction (RFC 3261 §17.1.2) on a simulated clock.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use transaction_support::*;
use voxgate_sip::Peer;
use voxgate_sip::message::{Message, Method};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxId, TxKind};

fn start(layer: &mut TransactionLayer, clock: &Clock, peer: Peer) -> (TxId, Message) {
    let options = Req::new(Method::Options, "z9hG4bKopt1").build();
    let tx = layer
        .send_request(clock.now(), options.clone(), peer)
        .unwrap();
    let sent = transmits(layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].bytes, *options.raw());
    assert_eq!(layer.count(TxKind::NonInviteClient), 1);
    (tx, options)
}

#[test]
fn timer_e_doubles_up_to_t2_and_timer_f_times_out_at_64_t1() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, options) = start(&mut layer, &clock, udp(5060));
    let sent = run_until(&mut layer, &mut clock, ms(31_999));
    assert_eq!(
        times(&sent),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms),
        "timer E: T1, 2T1, 4T1, then every T2 = 4 s"
    );
    assert!(sent.iter().all(|(_, t)| t.bytes == *options.raw()));
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, secs(32));
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
    assert_eq!(layer.count(TxKind::NonInviteClient), 0);
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn in_proceeding_timer_e_retransmits_every_t2() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, options) = start(&mut layer, &clock, udp(5060));
    run_until(&mut layer, &mut clock, secs(1)); // retransmission at 0.5 s; E next at 1.5 s
    layer.handle_message(clock.now(), response(&options, 100, None), udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Response { tx: t, response }] if *t == tx && response.status() == Some(100)
    ));
    let sent = run_until(&mut layer, &mut clock, ms(13_600));
    assert_eq!(times(&sent), [1500, 5500, 9500, 13_500].map(ms));
    // Timer F still runs in Proceeding.
    run_until(&mut layer, &mut clock, secs(32));
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
}

#[test]
fn final_response_completes_absorbs_retransmissions_and_ends_after_t4() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, options) = start(&mut layer, &clock, udp(5060));
    clock.advance(ms(200));
    let ok = response(&options, 200, Some("uas"));
    layer.handle_message(clock.now(), ok.clone(), udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Response { tx: t, response }] if *t == tx && response.status() == Some(200)
    ));
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(5)),
        "only timer K = T4"
    );
    layer.handle_message(clock.now(), ok, udp(5060));
    assert!(
        events(&mut layer).is_empty(),
        "retransmitted final is absorbed"
    );
    assert!(
        run_until(&mut layer, &mut clock, ms(5199)).is_empty(),
        "no retransmission in Completed"
    );
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, ms(5200));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::NonInviteClient }] if *t == tx
    ));
}

#[test]
fn over_tcp_no_timer_e_and_final_terminates_at_once() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, options) = start(&mut layer, &clock, tcp(5060));
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(32)),
        "only timer F"
    );
    assert!(run_until(&mut layer, &mut clock, secs(5)).is_empty());
    layer.handle_message(clock.now(), response(&options, 404, Some("uas")), tcp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Response { .. }, TxEvent::Terminated { tx: t, .. }] if *t == tx
    ));
    assert!(layer.is_empty());
    assert_eq!(
        layer.poll_timeout(),
        None,
        "timer K is zero on reliable transports"
    );
}

#[test]
fn responses_matching_no_client_transaction_are_stray() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (_, options) = start(&mut layer, &clock, udp(5060));

    // Unknown branch.
    let other = Req::new(Method::Options, "z9hG4bKnobody").build();
    layer.handle_message(clock.now(), response(&other, 200, Some("x")), udp(5060));
    // Same branch, other CSeq method (§17.1.3 rule 2).
    let mut bye = Req::new(Method::Bye, "z9hG4bKopt1");
    bye.cseq_method = Some(Method::Bye);
    layer.handle_message(
        clock.now(),
        response(&bye.build(), 200, Some("x")),
        udp(5060),
    );
    let evs = events(&mut layer);
    assert_eq!(evs.len(), 2);
    assert!(
        evs.iter()
            .all(|e| matches!(e, TxEvent::StrayResponse { from, .. } if *from == udp(5060)))
    );
    assert_eq!(
        layer.count(TxKind::NonInviteClient),
        1,
        "the OPTIONS transaction is untouched"
    );

    layer.handle_message(clock.now(), response(&options, 200, Some("x")), udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Response { .. }]
    ));
}

#[test]
fn transport_error_informs_the_tu_and_terminates() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, _) = start(&mut layer, &clock, udp(5060));
    layer.transport_error(clock.now(), tx);
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::TransportError { tx: a }, TxEvent::Terminated { tx: b, kind: TxKind::NonInviteClient }] if *a == tx && *b == tx
    ));
    assert_eq!(layer.count(TxKind::NonInviteClient), 0);
}

#[test]
fn send_request_as_uses_the_given_id_once() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let id = TxId::next();
    let first = Req::new(Method::Options, "z9hG4bKas1").build();
    assert_eq!(
        layer
            .send_request_as(clock.now(), id, first, udp(5060))
            .unwrap(),
        id
    );
    let second = Req::new(Method::Options, "z9hG4bKas2").build();
    assert!(matches!(
        layer.send_request_as(clock.now(), id, second, udp(5060)),
        Err(voxgate_sip::transaction::TxError::IdInUse(i)) if i == id
    ));
    assert_eq!(layer.len(), 1);
}
