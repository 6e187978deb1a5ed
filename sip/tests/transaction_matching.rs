//! Request matching (RFC 3261 §17.2.3 with the RFC 2543 fallback, CANCEL per
//! §9.2) and the layer's bookkeeping: counts, next deadline, ids.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use transaction_support::*;
use voxgate_sip::message::{Message, Method, ack_for_non_2xx, cancel_for};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxId, TxKind};

fn new_request(layer: &mut TransactionLayer) -> TxId {
    match events(layer).as_slice() {
        [TxEvent::Request { tx, .. }] => *tx,
        other => panic!("expected one Request, got {other:?}"),
    }
}

fn receive(layer: &mut TransactionLayer, clock: &Clock, request: &Message) -> TxId {
    layer.handle_message(clock.now(), request.clone(), udp(5060));
    transmits(layer);
    new_request(layer)
}

#[test]
fn cancel_gets_its_own_transaction_and_names_the_invite_it_cancels() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = Req::invite("z9hG4bKinv").build();
    let invite_tx = receive(&mut layer, &clock, &invite);

    let cancel = parse(&cancel_for(&invite).unwrap());
    layer.handle_message(clock.now(), cancel.clone(), udp(5060));
    let cancel_tx = match events(&mut layer).as_slice() {
        [
            TxEvent::Cancel {
                tx,
                invite,
                request,
                from,
            },
        ] => {
            assert_eq!(*invite, Some(invite_tx));
            assert_eq!(request.method(), Some(&Method::Cancel));
            assert_eq!(*from, udp(5060));
            *tx
        }
        other => panic!("expected one Cancel, got {other:?}"),
    };
    assert_ne!(cancel_tx, invite_tx);
    assert_eq!(layer.count(TxKind::InviteServer), 1);
    assert_eq!(layer.count(TxKind::NonInviteServer), 1);
    assert!(transmits(&mut layer).is_empty(), "no 100 for a CANCEL");

    // The TU answers both; a retransmitted CANCEL gets the 200 again.
    let ok = response(&cancel, 200, Some("uas"));
    layer.respond(clock.now(), cancel_tx, ok.clone()).unwrap();
    layer
        .respond(clock.now(), invite_tx, response(&invite, 487, Some("uas")))
        .unwrap();
    transmits(&mut layer);
    layer.handle_message(clock.now(), cancel, udp(5060));
    assert_eq!(transmits(&mut layer)[0].bytes, *ok.raw());
    assert!(events(&mut layer).is_empty());
}

#[test]
fn cancel_with_an_unknown_branch_matches_no_invite() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = Req::invite("z9hG4bKinv").build();
    receive(&mut layer, &clock, &invite);
    let cancel = Req::new(Method::Cancel, "z9hG4bKother").build();
    layer.handle_message(clock.now(), cancel, udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Cancel { invite: None, .. }]
    ));
    assert_eq!(
        layer.count(TxKind::NonInviteServer),
        1,
        "the CANCEL still has a transaction to answer 481 in"
    );
}

#[test]
fn branch_sent_by_and_method_all_take_part_in_the_key() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let a = Req::invite("z9hG4bKsame").build();
    receive(&mut layer, &clock, &a);
    // Same branch from another sent-by: another transaction (§17.2.3).
    let b = Req::invite("z9hG4bKsame")
        .via("SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKsame")
        .build();
    receive(&mut layer, &clock, &b);
    // Same branch and sent-by, other port: another transaction.
    let c = Req::invite("z9hG4bKsame")
        .via("SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bKsame")
        .build();
    receive(&mut layer, &clock, &c);
    // Same branch and sent-by, other method: another transaction.
    let d = Req::new(Method::Options, "z9hG4bKsame").build();
    receive(&mut layer, &clock, &d);
    assert_eq!(layer.count(TxKind::InviteServer), 3);
    assert_eq!(layer.count(TxKind::NonInviteServer), 1);
    assert_eq!(layer.len(), 4);
}

#[test]
fn an_ack_that_matches_nothing_goes_to_the_tu_and_creates_nothing() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let ack = Req::new(Method::Ack, "z9hG4bKlonely")
        .with_to_tag("uas")
        .build();
    layer.handle_message(clock.now(), ack.clone(), udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Ack { request, from }] if request.raw() == ack.raw() && *from == udp(5060)
    ));
    assert!(layer.is_empty());
    assert!(transmits(&mut layer).is_empty());
}

#[test]
fn rfc2543_requests_match_by_uri_tags_call_id_cseq_and_via() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    // A branch without the magic cookie, and no branch at all.
    let old = Req::invite("1234abcd").build();
    let tx = receive(&mut layer, &clock, &old);
    let none = Req::invite("x").via("SIP/2.0/UDP 192.0.2.20:5060").build();
    let none_tx = receive(&mut layer, &clock, &none);
    assert_ne!(tx, none_tx);

    // Retransmissions are recognised: 100 again, no new request.
    layer.handle_message(clock.now(), old.clone(), udp(5060));
    layer.handle_message(clock.now(), none.clone(), udp(5060));
    assert_eq!(transmits(&mut layer).len(), 2);
    assert!(events(&mut layer).is_empty());

    // Any differing field makes it another transaction.
    for other in [
        Req::invite("1234abcd").call_id("call-2@192.0.2.10"),
        Req::invite("1234abcd").cseq(2),
        Req::invite("1234abcd").with_to_tag("someone"),
        Req::invite("1234abcd").via("SIP/2.0/UDP 192.0.2.10:5060;branch=5678"),
    ] {
        receive(&mut layer, &clock, &other.build());
    }
    let mut other_uri = Req::invite("1234abcd");
    other_uri.uri = "sip:carol@198.51.100.1".into();
    receive(&mut layer, &clock, &other_uri.build());
    let mut other_from = Req::invite("1234abcd");
    other_from.from_tag = "fromtag2".into();
    receive(&mut layer, &clock, &other_from.build());
    assert_eq!(layer.count(TxKind::InviteServer), 8);
}

#[test]
fn rfc2543_ack_matches_by_the_to_tag_of_our_final_response() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let req = Req::invite("oldbranch");
    let invite = req.build();
    let tx = receive(&mut layer, &clock, &invite);
    let busy = response(&invite, 486, Some("uas"));
    layer.respond(clock.now(), tx, busy.clone()).unwrap();
    transmits(&mut layer);

    // An ACK with another To tag is not ours: it goes to the TU.
    let stranger = req.with_method(Method::Ack).with_to_tag("notus").build();
    layer.handle_message(clock.now(), stranger, udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Ack { .. }]
    ));
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + ms(500)),
        "still Completed (timer G)"
    );

    // The ACK for our 486 (To tag of the response) confirms the transaction.
    let ack = parse(&ack_for_non_2xx(&invite, &busy).unwrap());
    layer.handle_message(clock.now(), ack, udp(5060));
    assert!(events(&mut layer).is_empty());
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(5)),
        "Confirmed: timer I only"
    );
}

#[test]
fn rfc2543_ack_for_2xx_and_cancel_are_matched_too() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let req = Req::invite("oldbranch");
    let invite = req.build();
    let tx = receive(&mut layer, &clock, &invite);

    let cancel = req.with_method(Method::Cancel).build();
    layer.handle_message(clock.now(), cancel, udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Cancel { invite: Some(t), .. }] if *t == tx
    ));

    layer
        .respond(clock.now(), tx, response(&invite, 200, Some("uas")))
        .unwrap();
    let ack = req.with_method(Method::Ack).with_to_tag("uas").build();
    layer.handle_message(clock.now(), ack.clone(), udp(5060));
    assert!(
        matches!(events(&mut layer).as_slice(), [TxEvent::Ack { request, .. }] if request.raw() == ack.raw())
    );
    assert_eq!(
        layer.count(TxKind::InviteServer),
        1,
        "Accepted lives on until timer L"
    );
}

#[test]
fn poll_timeout_is_the_earliest_live_deadline_across_transactions() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let t0 = clock.now();
    let invite = Req::invite("z9hG4bKa").build();
    layer.send_request(t0, invite.clone(), udp(5060)).unwrap();
    clock.advance(ms(100));
    let options = Req::new(Method::Options, "z9hG4bKb").build();
    layer.send_request(clock.now(), options, tcp(5060)).unwrap();
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(500)), "INVITE timer A");

    // The 180 stops A and B; the stale queue entries must not be reported.
    layer.handle_message(clock.now(), response(&invite, 180, Some("x")), udp(5060));
    assert_eq!(
        layer.poll_timeout(),
        Some(t0 + ms(100) + secs(32)),
        "OPTIONS timer F over TCP"
    );
    assert_eq!(layer.count(TxKind::InviteClient), 1);
    assert_eq!(layer.count(TxKind::NonInviteClient), 1);
    assert_eq!(layer.len(), 2);
}

#[test]
fn many_transactions_keep_exact_counts_and_all_end() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    for i in 0..2000 {
        let invite = Req::invite(&format!("z9hG4bKmany{i}")).build();
        layer.handle_message(clock.now(), invite.clone(), udp(5060));
        let tx = new_request(&mut layer);
        layer
            .respond(clock.now(), tx, response(&invite, 200, Some("uas")))
            .unwrap();
        let options = Req::new(Method::Options, &format!("z9hG4bKout{i}")).build();
        layer
            .send_request(clock.now(), options.clone(), udp(5070))
            .unwrap();
        layer.handle_message(clock.now(), response(&options, 200, Some("t")), udp(5070));
        transmits(&mut layer);
        events(&mut layer);
        clock.advance(ms(1));
    }
    assert_eq!(layer.count(TxKind::InviteServer), 2000);
    assert_eq!(layer.count(TxKind::NonInviteClient), 2000);
    run_until(&mut layer, &mut clock, secs(40));
    let terminated = events(&mut layer)
        .iter()
        .filter(|e| matches!(e, TxEvent::Terminated { .. }))
        .count();
    assert_eq!(terminated, 4000);
    assert!(layer.is_empty());
    assert!(TxKind::ALL.iter().all(|k| layer.count(*k) == 0));
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn ids_are_unique_across_layers() {
    let clock = Clock::new();
    let mut a = TransactionLayer::new(TimerConfig::default());
    let mut b = TransactionLayer::new(TimerConfig::default());
    let req = Req::new(Method::Options, "z9hG4bKsame").build();
    let x = a.send_request(clock.now(), req.clone(), udp(5060)).unwrap();
    let y = b.send_request(clock.now(), req, udp(5060)).unwrap();
    assert_ne!(x, y);
}
