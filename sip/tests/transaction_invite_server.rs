//! INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1, §8.5-8.8) on a simulated clock.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use std::net::SocketAddr;

use transaction_support::*;
use voxgate_sip::Peer;
use voxgate_sip::message::{Message, Method, ack_for_non_2xx};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxError, TxEvent, TxId, TxKind};

const BRANCH: &str = "z9hG4bKserver1";

/// Receives an INVITE from `peer`; returns its server transaction and the request.
fn receive(layer: &mut TransactionLayer, clock: &Clock, peer: Peer) -> (TxId, Message) {
    let invite = Req::invite(BRANCH).build();
    layer.handle_message(clock.now(), invite.clone(), peer);
    let tx = match events(layer).as_slice() {
        [TxEvent::Request { tx, request, from }] => {
            assert_eq!(request.raw(), invite.raw());
            assert_eq!(*from, peer);
            *tx
        }
        other => panic!("expected one Request, got {other:?}"),
    };
    let sent = transmits(layer);
    assert_eq!(sent.len(), 1, "100 Trying at once");
    assert_eq!(first_line(&sent[0]), "SIP/2.0 100 Trying");
    (tx, invite)
}

#[test]
fn sends_100_trying_at_once_and_passes_the_invite_up() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let invite = Req::invite(BRANCH).build();
    layer.handle_message(clock.now(), invite.clone(), udp(5060));
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, udp(5060));
    let trying = parsed(&sent[0]);
    assert_eq!(trying.status(), Some(100));
    assert_eq!(trying.top_via().unwrap().branch(), Some(BRANCH));
    assert_eq!(trying.cseq().unwrap(), invite.cseq().unwrap());
    assert_eq!(trying.call_id().unwrap(), invite.call_id().unwrap());
    assert_eq!(
        trying.to_header().unwrap().tag(),
        None,
        "100 Trying carries no To tag"
    );
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Request { .. }]
    ));
    assert_eq!(layer.count(TxKind::InviteServer), 1);
    assert_eq!(layer.len(), 1);
    assert_eq!(layer.poll_timeout(), None, "Proceeding arms no timer");
}

#[test]
fn retransmitted_invite_in_proceeding_gets_the_last_provisional_again() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));

    clock.advance(ms(500));
    layer.handle_message(clock.now(), invite.clone(), udp(5060));
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(first_line(&sent[0]), "SIP/2.0 100 Trying");
    assert!(
        events(&mut layer).is_empty(),
        "a retransmission is not a new request"
    );

    let ringing = response(&invite, 180, Some("uas"));
    layer.respond(clock.now(), tx, ringing.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *ringing.raw());
    layer.handle_message(clock.now(), invite, udp(5060));
    let sent = transmits(&mut layer);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].bytes, *ringing.raw());
    assert!(events(&mut layer).is_empty());
    assert_eq!(layer.count(TxKind::InviteServer), 1);
    // Two INVITEs received again; the response repeated for each.
    let r = layer.retransmissions();
    assert_eq!((r.received, r.sent), (2, 2));
}

#[test]
fn non_2xx_final_is_retransmitted_by_timer_g_until_ack_then_timer_i_ends_it() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    let busy = response(&invite, 486, Some("uas"));
    layer.respond(clock.now(), tx, busy.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *busy.raw());

    let sent = run_until(&mut layer, &mut clock, ms(11_600));
    assert_eq!(
        times(&sent),
        [500, 1500, 3500, 7500, 11_500].map(ms),
        "G: T1 doubling, capped at T2"
    );
    assert!(
        sent.iter()
            .all(|(_, t)| t.bytes == *busy.raw() && t.to == udp(5060))
    );

    // A retransmitted INVITE in Completed gets the final response again.
    layer.handle_message(clock.now(), invite.clone(), udp(5060));
    assert_eq!(transmits(&mut layer)[0].bytes, *busy.raw());
    assert!(events(&mut layer).is_empty());

    clock.advance(ms(400)); // 12 s
    let ack = parse(&ack_for_non_2xx(&invite, &busy).unwrap());
    layer.handle_message(clock.now(), ack.clone(), udp(5060));
    assert!(
        events(&mut layer).is_empty(),
        "the ACK for a non-2xx is absorbed"
    );
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(5)),
        "only timer I = T4"
    );
    layer.handle_message(clock.now(), ack, udp(5060));
    layer.handle_message(clock.now(), invite, udp(5060));
    assert!(
        transmits(&mut layer).is_empty(),
        "Confirmed absorbs ACK and INVITE"
    );
    assert!(events(&mut layer).is_empty());

    assert!(run_until(&mut layer, &mut clock, ms(16_999)).is_empty());
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, secs(17));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::InviteServer }] if *t == tx
    ));
    assert_eq!(layer.count(TxKind::InviteServer), 0);
}

#[test]
fn timer_h_gives_up_waiting_for_the_ack() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    layer
        .respond(clock.now(), tx, response(&invite, 603, Some("uas")))
        .unwrap();
    transmits(&mut layer);
    let sent = run_until(&mut layer, &mut clock, ms(31_999));
    assert_eq!(
        times(&sent),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, secs(32));
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn over_tcp_no_timer_g_and_the_ack_terminates_at_once() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, tcp(40_000));
    let busy = response(&invite, 486, Some("uas"));
    layer.respond(clock.now(), tx, busy.clone()).unwrap();
    let sent = transmits(&mut layer);
    assert_eq!(
        sent[0].to,
        tcp(40_000),
        "responses go back on the request's connection"
    );
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(32)),
        "only timer H"
    );
    assert!(run_until(&mut layer, &mut clock, secs(10)).is_empty());
    let ack = parse(&ack_for_non_2xx(&invite, &busy).unwrap());
    layer.handle_message(clock.now(), ack, tcp(40_000));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::InviteServer }] if *t == tx
    ));
    assert_eq!(
        layer.poll_timeout(),
        None,
        "timer I is zero on reliable transports"
    );
}

#[test]
fn two_xx_enters_accepted_which_absorbs_invites_passes_acks_up_and_ends_after_timer_l() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    let ok = response(&invite, 200, Some("uas"));
    layer.respond(clock.now(), tx, ok.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *ok.raw());
    assert_eq!(
        layer.poll_timeout(),
        Some(clock.now() + secs(32)),
        "timer L; no 2xx retransmission timer"
    );

    // RFC 6026 §7.1: a retransmitted INVITE is absorbed, not a new request.
    clock.advance(ms(500));
    layer.handle_message(clock.now(), invite.clone(), udp(5060));
    assert!(transmits(&mut layer).is_empty());
    assert!(events(&mut layer).is_empty());
    assert_eq!(layer.count(TxKind::InviteServer), 1);

    // The TU retransmits its 2xx through the transaction.
    layer.respond(clock.now(), tx, ok.clone()).unwrap();
    assert_eq!(transmits(&mut layer)[0].bytes, *ok.raw());
    assert_eq!(
        layer.respond(clock.now(), tx, response(&invite, 486, Some("uas"))),
        Err(TxError::AlreadyFinal(tx))
    );
    assert_eq!(
        layer.respond(clock.now(), tx, response(&invite, 180, Some("uas"))),
        Err(TxError::AlreadyFinal(tx))
    );

    // The ACK for the 2xx (new branch, §13.2.2.4) goes to the TU.
    let ack = Req::new(Method::Ack, "z9hG4bKack2xx")
        .with_to_tag("uas")
        .build();
    layer.handle_message(clock.now(), ack.clone(), udp(5060));
    // So does one that reuses the INVITE's branch and matches the transaction.
    let same_branch_ack = Req::new(Method::Ack, BRANCH).with_to_tag("uas").build();
    layer.handle_message(clock.now(), same_branch_ack.clone(), udp(5060));
    let evs = events(&mut layer);
    assert_eq!(evs.len(), 2);
    assert!(
        matches!(&evs[0], TxEvent::Ack { request, from } if request.raw() == ack.raw() && *from == udp(5060))
    );
    assert!(
        matches!(&evs[1], TxEvent::Ack { request, .. } if request.raw() == same_branch_ack.raw())
    );
    assert!(transmits(&mut layer).is_empty());

    run_until(&mut layer, &mut clock, ms(31_999));
    assert!(events(&mut layer).is_empty());
    run_until(&mut layer, &mut clock, secs(32));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { tx: t, kind: TxKind::InviteServer }] if *t == tx
    ));
    // After Accepted ends, a late retransmission is a new request again.
    layer.handle_message(clock.now(), invite, udp(5060));
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Request { .. }]
    ));
}

#[test]
fn respond_refuses_unknown_client_and_request() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    assert_eq!(
        layer.respond(clock.now(), tx, invite.clone()),
        Err(TxError::NotAResponse)
    );

    let options = Req::new(Method::Options, "z9hG4bKout").build();
    let client = layer
        .send_request(clock.now(), options.clone(), udp(5070))
        .unwrap();
    assert_eq!(
        layer.respond(clock.now(), client, response(&options, 200, None)),
        Err(TxError::NotAServerTransaction(client))
    );

    layer
        .respond(clock.now(), tx, response(&invite, 486, Some("uas")))
        .unwrap();
    layer.transport_error(clock.now(), client); // ends the client transaction
    assert_eq!(
        layer.respond(clock.now(), client, response(&options, 200, None)),
        Err(TxError::UnknownTransaction(client))
    );
}

#[test]
fn transport_error_informs_the_tu_but_keeps_the_server_state() {
    let mut clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    layer
        .respond(clock.now(), tx, response(&invite, 500, Some("uas")))
        .unwrap();
    layer.transport_error(clock.now(), tx);
    assert!(
        matches!(events(&mut layer).as_slice(), [TxEvent::TransportError { tx: t }] if *t == tx)
    );
    assert_eq!(
        layer.count(TxKind::InviteServer),
        1,
        "RFC 6026 §8.8: remain in the current state"
    );
    // Its timers still end it.
    run_until(&mut layer, &mut clock, secs(32));
    assert!(is_timeout_then_terminated(&events(&mut layer), tx));
}

#[test]
fn responses_go_to_source_ip_and_sent_by_port_or_the_source_port_with_rport() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let nat = Peer {
        addr: SocketAddr::from(([203, 0, 113, 7], 40_000)),
        ..udp(0)
    };
    // §18.2.2: no rport → received address (the source IP) and the sent-by port.
    let plain = Req::invite("z9hG4bKplain")
        .via("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKplain")
        .build();
    layer.handle_message(clock.now(), plain, nat);
    let sent = transmits(&mut layer);
    assert_eq!(sent[0].to.addr, SocketAddr::from(([203, 0, 113, 7], 5070)));
    let trying = parsed(&sent[0]);
    assert_eq!(trying.top_via().unwrap().received(), Some("203.0.113.7"));

    // RFC 3581: rport → the source address and port.
    let rport = Req::invite("z9hG4bKrport")
        .via("SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKrport")
        .build();
    layer.handle_message(clock.now(), rport, nat);
    let sent = transmits(&mut layer);
    assert_eq!(sent[0].to, nat);
    assert_eq!(
        parsed(&sent[0]).top_via().unwrap().rport(),
        Some(Some(40_000))
    );

    // No port in sent-by → 5060.
    let bare = Req::invite("z9hG4bKbare")
        .via("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKbare")
        .build();
    layer.handle_message(clock.now(), bare, nat);
    assert_eq!(
        transmits(&mut layer)[0].to.addr,
        SocketAddr::from(([203, 0, 113, 7], 5060))
    );
    assert_eq!(layer.count(TxKind::InviteServer), 3);
}

#[test]
fn unsettled_counts_what_a_draining_node_must_wait_for() {
    let clock = Clock::new();
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let (tx, invite) = receive(&mut layer, &clock, udp(5060));
    assert_eq!(layer.unsettled(), 1, "no final response yet");
    let busy = response(&invite, 486, Some("uas"));
    layer.respond(clock.now(), tx, busy.clone()).unwrap();
    assert_eq!(layer.unsettled(), 1, "a non-2xx waits for its ACK");
    let ack = Message::parse(
        ack_for_non_2xx(&invite, &busy).unwrap(),
        &Default::default(),
    )
    .unwrap();
    layer.handle_message(clock.now(), ack, udp(5060));
    assert_eq!(
        layer.len(),
        1,
        "Confirmed still absorbs ACK retransmissions (timer I)"
    );
    assert_eq!(layer.unsettled(), 0, "but nothing is owed any more");

    let options = Req::new(Method::Options, "z9hG4bKdrain").build();
    layer.handle_message(clock.now(), options.clone(), udp(5060));
    let tx = match events(&mut layer).as_slice() {
        [.., TxEvent::Request { tx, .. }] => *tx,
        other => panic!("expected a Request, got {other:?}"),
    };
    assert_eq!(layer.unsettled(), 1);
    layer
        .respond(clock.now(), tx, response(&options, 200, Some("uas")))
        .unwrap();
    assert_eq!(
        (layer.len(), layer.unsettled()),
        (2, 0),
        "Completed waits out timer J, owing nothing"
    );
}
