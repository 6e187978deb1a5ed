//! The control plane's commands on the virtual clock: voxgate answering a
//! leg itself, dials of its own (local offers, parallel ringing, forks),
//! bridges with the codec check, hold and resume by re-INVITE, hang-ups of
//! one leg, originated conversations, and the boundary checks.

use super::*;
use voxgate_media::negotiate;

fn cmd(h: &mut Harness, command: Command) -> Out {
    h.feed(Input::Command(command))
}

fn answer(h: &mut Harness, early: bool) -> Out {
    cmd(
        h,
        Command::Answer {
            leg: LegId(1),
            early,
        },
    )
}

fn dial(uris: &[&str]) -> Dial {
    Dial::new(uris.iter().map(|u| dest(u)).collect())
}

/// The codecs of the first m-line of `msg`'s SDP.
fn formats(msg: &Message) -> Vec<String> {
    let sdp = SessionDescription::parse(msg.body()).unwrap();
    sdp.media()[0]
        .formats()
        .iter()
        .map(|f| f.to_string())
        .collect()
}

fn direction(msg: &Message) -> voxgate_media::Direction {
    let sdp = SessionDescription::parse(msg.body()).unwrap();
    sdp.media()[0].direction()
}

/// The caller answered by voxgate, its ACK received.
fn answered_locally() -> Harness {
    let (mut h, _) = Harness::new(CALLS);
    answer(&mut h, false);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.confirmed());
    h
}

/// A PCMA-only answer from a callee.
const SDP_B_PCMA: &str = "v=0\r\n\
o=pbx 2000 1 IN IP4 10.2.2.2\r\n\
s=-\r\n\
c=IN IP4 10.2.2.2\r\n\
t=0 0\r\n\
m=audio 32000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

// ---- voxgate answers ----

#[test]
fn answer_replies_with_our_sdp_and_one_codec() {
    let (mut h, _) = Harness::new(CALLS);
    let out = answer(&mut h, false);
    let (tx, ok) = out.response(200);
    assert_eq!(tx, h.a_tx);
    // The caller offered 0 8 101: PCMU (its first) and telephone-event.
    assert_eq!(formats(ok), ["0", "101"]);
    let text = body(ok);
    assert!(text.contains("c=IN IP4 127.0.0.1\r\n"), "{text}");
    assert!(text.contains("m=audio 40000 "), "{text}");
    assert!(text.contains("o=voxgate "), "{text}");
    assert!(
        !text.contains("10.1.1."),
        "our own SDP, not an echo: {text}"
    );
    assert_eq!(
        out.events(),
        vec![Event::LegAnswered {
            leg: LegId(1),
            early: false
        }]
    );
    // The caller's media target comes from its offer.
    let remote = &h.call.media.remote[0];
    assert_eq!(remote[0].rtp, Some("10.1.1.1:30000".parse().unwrap()));
    // Retransmitted until the ACK.
    assert_eq!(h.advance(Duration::from_millis(500)).transmits().len(), 1);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.advance(Duration::from_secs(10)).transmits().is_empty());
    assert_eq!(h.call.state_name(), "answered");
}

#[test]
fn early_answer_is_183_then_200_with_the_same_sdp() {
    let (mut h, _) = Harness::new(CALLS);
    let out = answer(&mut h, true);
    let (_, progress) = out.response(183);
    assert_eq!(formats(progress), ["0", "101"]);
    assert_eq!(
        out.events(),
        vec![Event::LegAnswered {
            leg: LegId(1),
            early: true
        }]
    );
    assert_eq!(h.call.leg(LegId(1)).unwrap().state_name(), "early");
    let out = answer(&mut h, false);
    let (_, ok) = out.response(200);
    assert_eq!(body(ok), body(progress), "the answer does not change");
}

#[test]
fn answer_without_a_common_codec_is_488() {
    let g729 = "v=0\r\no=carrier 1000 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n\
                m=audio 30000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    // A trunk whose `codecs` leave G.729 out refuses it at the INVITE.
    let only_g711 = format!("{BASE_CONFIG}\n{CALLS}").replace(
        "name = \"carrier\"\n",
        "name = \"carrier\"\ncodecs = [\"PCMU\", \"PCMA\"]\n",
    );
    let (h, out) = Harness::with_config(&only_g711, a_invite(Some(g729), ""), udp(A_ADDR));
    assert_eq!(invite_status(&h, &out), vec![488]);
    let warning = out.response(488).1.header_by_name("Warning");
    assert_eq!(warning, Some("305 voxgate \"Incompatible media format\""));
    assert_eq!(h.call.media.open_count(), 0, "no ports kept");
    // A trunk without `codecs` lets it through to the control plane (a
    // linked call carries it end to end), but voxgate cannot answer it.
    let (mut h, out) = Harness::with_invite(CALLS, a_invite(Some(g729), ""));
    assert!(out.responses().is_empty());
    let out = answer(&mut h, false);
    assert_eq!(invite_status(&h, &out), vec![488]);
    // One that allows G.729 lets it pass too; voxgate still cannot answer it.
    let text = format!("{BASE_CONFIG}\n{CALLS}").replace(
        "name = \"carrier\"\n",
        "name = \"carrier\"\ncodecs = [\"G729\", \"PCMU\"]\n",
    );
    let (mut h, out) = Harness::with_config(&text, a_invite(Some(g729), ""), udp(A_ADDR));
    assert!(out.responses().is_empty());
    let out = answer(&mut h, false);
    assert_eq!(invite_status(&h, &out), vec![488]);
    let warning = out.response(488).1.header_by_name("Warning");
    assert_eq!(warning, Some("305 voxgate \"Incompatible media format\""));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Rejected(488))));
    assert_eq!(h.call.media.open_count(), 0, "no ports kept");
}

#[test]
fn answer_to_secure_media_voxgate_cannot_take_is_488() {
    // SDES-SRTP on a trunk with srtp off is refused at the INVITE (the SRTP
    // tests have the trunks that take it); DTLS-SRTP voxgate cannot
    // terminate: the control plane's answer gets 488.
    let sdes = SDP_A.replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let (h, out) = Harness::with_invite(CALLS, a_invite(Some(&sdes), ""));
    assert_eq!(invite_status(&h, &out), vec![488], "{sdes}");
    assert_eq!(h.call.media.open_count(), 0, "no ports kept");
    let dtls = SDP_A.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")
        + "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n\
           a=setup:actpass\r\n";
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(Some(&dtls), ""));
    let out = answer(&mut h, false);
    assert_eq!(invite_status(&h, &out), vec![488], "{dtls}");
    assert_eq!(h.call.media.open_count(), 0, "no ports kept");
}

#[test]
fn answer_to_a_late_offer_offers_and_takes_the_answer_from_the_ack() {
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(None, ""));
    let out = answer(&mut h, false);
    let (_, ok) = out.response(200);
    assert_eq!(formats(ok), ["0", "8", "101"], "our offer: every codec");
    let ack = h.a_ack(1, Some(SDP_A));
    h.feed(ack);
    assert_eq!(
        h.call.media.remote[0][0].rtp,
        Some("10.1.1.1:30000".parse().unwrap())
    );
}

#[test]
fn early_answer_needs_an_offer() {
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(None, ""));
    let out = answer(&mut h, true);
    assert!(out.responses().is_empty());
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            command: "answer",
            ..
        }]
    ));
}

// ---- dials of our own, bridges ----

#[test]
fn a_dial_from_an_answered_leg_offers_our_sdp_and_bridges_on_answer() {
    let mut h = answered_locally();
    let out = cmd(&mut h, Command::Dial(dial(&[B1]).connect(LegId(1))));
    let inv = out.sent(Method::Invite);
    assert_eq!(formats(&inv.msg), ["0", "8", "101"]);
    assert!(body(&inv.msg).contains("m=audio 41000 "));
    assert_hidden(&inv.msg, A_SECRETS);
    assert_eq!(
        out.events(),
        vec![Event::LegCreated {
            leg: LegId(2),
            dial: Some(DialId(1)),
            uri: B1.into()
        }]
    );
    let b = BSide::new(inv);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    // Our offer, their answer: ACK at once; same codec (PCMU): bridged, no re-INVITE.
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    assert!(out.sends().is_empty());
    assert_eq!(
        out.events(),
        vec![
            Event::LegAnswered {
                leg: LegId(2),
                early: false
            },
            Event::Bridged {
                a: LegId(1),
                b: LegId(2)
            },
        ]
    );
    assert_eq!(
        h.call.media.bridged_with(EndpointId(0)),
        Some(EndpointId(1))
    );
    assert_eq!(
        h.call.media.remote[1][0].rtp,
        Some("10.2.2.2:32000".parse().unwrap())
    );
}

/// A G.722 answer from a callee (voxgate cannot transcode it).
const SDP_B_G722: &str = "v=0\r\n\
o=pbx 2000 1 IN IP4 10.2.2.2\r\n\
s=-\r\n\
c=IN IP4 10.2.2.2\r\n\
t=0 0\r\n\
m=audio 32000 RTP/AVP 9 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

/// The caller answered by voxgate (PCMU), its ACK received; the callees'
/// trunk prefers G.722.
fn answered_locally_g722() -> Harness {
    let text = format!("{BASE_CONFIG}\n{CALLS}").replace(
        "name = \"pbx\"\n",
        "name = \"pbx\"\ncodecs = [\"G722\", \"PCMU\", \"PCMA\", \"telephone-event\"]\n",
    );
    let (mut h, _) = Harness::with_config(&text, a_invite(Some(SDP_A), ""), udp(A_ADDR));
    answer(&mut h, false);
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.confirmed());
    h
}

#[test]
fn a_bridge_across_g711_laws_transcodes_without_a_reinvite() {
    let mut h = answered_locally(); // PCMU with the caller
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(200, "", Some(SDP_B_PCMA)));
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(2),
        },
    );
    assert!(out.sends().is_empty(), "no re-INVITE: the relay transcodes");
    assert_eq!(
        out.events(),
        vec![Event::Bridged {
            a: LegId(1),
            b: LegId(2)
        }]
    );
    assert_eq!(
        h.call.media.bridged_with(EndpointId(0)),
        Some(EndpointId(1))
    );
}

#[test]
fn a_bridge_across_codecs_voxgate_cannot_transcode_reinvites_one_leg_first() {
    let mut h = answered_locally_g722();
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    let inv = out.sent(Method::Invite);
    assert_eq!(
        formats(&inv.msg),
        ["9", "0", "8", "101"],
        "the trunk's order"
    );
    let b = BSide::new(inv);
    let out = h.feed(b.response(200, "", Some(SDP_B_G722)));
    assert!(
        !out.events()
            .iter()
            .any(|e| matches!(e, Event::Bridged { .. })),
        "not connected: it stays alone"
    );
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(2),
        },
    );
    let reinvite = out.sent(Method::Invite);
    assert_eq!(reinvite.to, udp("203.0.113.7:5060"));
    assert_eq!(
        formats(&reinvite.msg),
        ["0", "101"],
        "only the caller's codec"
    );
    assert!(out.events().is_empty(), "bridged only once agreed");
    let out = h.b_answers(&reinvite, 200, "", Some(SDP_B));
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    assert_eq!(
        out.events(),
        vec![Event::Bridged {
            a: LegId(1),
            b: LegId(2)
        }]
    );
}

#[test]
fn a_bridge_the_peer_refuses_is_an_error_event() {
    let mut h = answered_locally_g722();
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(200, "", Some(SDP_B_G722)));
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(2),
        },
    );
    let reinvite = out.sent(Method::Invite);
    let out = h.b_answers(&reinvite, 488, "", None);
    assert_eq!(
        out.events(),
        vec![Event::Error {
            command: "bridge",
            error: CommandError::NoCommonCodec {
                a: LegId(1),
                b: LegId(2)
            }
        }]
    );
    assert_eq!(h.call.media.bridged_with(EndpointId(0)), None);
}

#[test]
fn bridge_checks_its_legs() {
    let mut h = answered_locally();
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(1),
        },
    );
    assert_eq!(
        out.events(),
        vec![Event::Error {
            command: "bridge",
            error: CommandError::SameLeg { leg: LegId(1) }
        }]
    );
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(9),
        },
    );
    assert_eq!(
        out.events(),
        vec![Event::Error {
            command: "bridge",
            error: CommandError::UnknownLeg { leg: LegId(9) }
        }]
    );
    // A ringing leg cannot be bridged.
    cmd(&mut h, Command::Dial(dial(&[B1])));
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(2),
        },
    );
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            error: CommandError::LegState { leg: LegId(2), .. },
            ..
        }]
    ));
}

#[test]
fn dial_values_are_checked_at_the_boundary() {
    let mut h = answered_locally();
    let out = cmd(&mut h, Command::Dial(dial(&[])));
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            command: "dial",
            error: CommandError::Destinations { count: 0, .. }
        }]
    ));
    let out = cmd(
        &mut h,
        Command::Dial(dial(&[B1]).ring_timeout(Duration::from_secs(86_400))),
    );
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            error: CommandError::RingTimeout { .. },
            ..
        }]
    ));
    let many: Vec<&str> = std::iter::repeat_n(B1, 17).collect();
    let out = cmd(&mut h, Command::Dial(dial(&many)));
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            error: CommandError::Destinations { count: 17, .. },
            ..
        }]
    ));
    let out = cmd(&mut h, Command::Dial(dial(&[B1]).connect(LegId(5))));
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            error: CommandError::UnknownLeg { leg: LegId(5) },
            ..
        }]
    ));
    assert!(out.sends().is_empty());
}

// ---- parallel ringing and forks ----

#[test]
fn parallel_ringing_first_answer_wins_the_others_are_cancelled() {
    let mut h = answered_locally();
    let b3 = "sip:+15550100@203.0.113.9:5060";
    let out = cmd(
        &mut h,
        Command::Dial(dial(&[B1, B2, b3]).parallel().connect(LegId(1))),
    );
    let invites = out.sends();
    assert_eq!(invites.len(), 3, "all three ring at once");
    let sides: Vec<BSide> = invites.into_iter().map(BSide::new).collect();
    for s in &sides {
        h.feed(s.response(180, "", None));
    }
    let out = h.feed(sides[1].response(200, "", Some(SDP_B)));
    let cancels = out.sends();
    assert_eq!(cancels.len(), 2);
    assert!(
        cancels
            .iter()
            .all(|c| c.msg.method() == Some(&Method::Cancel))
    );
    let to: Vec<_> = cancels.iter().map(|c| c.to).collect();
    assert!(to.contains(&sides[0].invite.to) && to.contains(&sides[2].invite.to));
    assert!(out.events().contains(&Event::LegAnswered {
        leg: LegId(3),
        early: false
    }));
    assert!(out.events().contains(&Event::Bridged {
        a: LegId(1),
        b: LegId(3)
    }));
    // The first loser says 487; the other answers anyway (crossing our CANCEL).
    for c in &cancels {
        h.b_answers(c, 200, "", None);
    }
    let out = h.feed(sides[0].response(487, "", None));
    assert!(out.events().contains(&Event::LegFailed {
        leg: LegId(2),
        failure: LegFailure::Cancelled
    }));
    let out = h.feed(sides[2].response(200, "", Some(SDP_B)));
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.to, sides[2].invite.to);
    assert_eq!(h.call.state_name(), "answered");
    assert_eq!(
        h.call.leg(LegId(3)).unwrap().state_name(),
        "answered",
        "the winner is untouched"
    );
}

#[test]
fn a_forked_second_answer_is_acked_and_byed() {
    // RFC 3261 §13.2.2.4: one INVITE, two 2xx with different To tags.
    let mut h = answered_locally();
    let out = cmd(&mut h, Command::Dial(dial(&[B1]).connect(LegId(1))));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(200, "", Some(SDP_B)));
    let mut fork = b.clone();
    fork.tag = "btag2".into();
    let out = h.feed(fork.response(200, "", Some(SDP_B)));
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.to_header().unwrap().tag(), Some("btag2"));
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.msg.to_header().unwrap().tag(), Some("btag2"));
    // The first fork's dialog goes on; a retransmission of the fork's 2xx
    // gets the same ACK and no second BYE.
    let again = h.feed(fork.response(200, "", Some(SDP_B)));
    assert!(again.sends().is_empty());
    assert_eq!(again.transmits()[0].1.raw(), acks[0].1.raw());
    assert_eq!(h.call.leg(LegId(2)).unwrap().state_name(), "answered");
}

// ---- hold, resume, hang up one leg ----

/// Caller answered by voxgate, bridged with B (PCMU both).
fn bridged_pair() -> (Harness, BSide) {
    let mut h = answered_locally();
    let out = cmd(&mut h, Command::Dial(dial(&[B1]).connect(LegId(1))));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(200, "", Some(SDP_B)));
    (h, b)
}

#[test]
fn hold_reinvites_sendonly_unbridges_and_resume_restores() {
    let (mut h, _) = bridged_pair();
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    assert_eq!(direction(&reinvite.msg), voxgate_media::Direction::SendOnly);
    assert_eq!(
        out.events(),
        vec![Event::Unbridged {
            a: LegId(1),
            b: LegId(2)
        }]
    );
    assert_eq!(h.call.media.bridged_with(EndpointId(0)), None);
    // The caller's answer (recvonly) makes it official.
    let recvonly = SDP_A.replace("a=sendrecv", "a=recvonly");
    let out = h.a_answers(&reinvite, 200, Some(&recvonly));
    assert_eq!(out.transmits()[0].1.method(), Some(&Method::Ack));
    assert_eq!(
        out.events(),
        vec![Event::Held {
            leg: LegId(1),
            by: Side::Control
        }]
    );
    assert_eq!(h.call.leg(LegId(1)).unwrap().state_name(), "held");

    let out = cmd(&mut h, Command::Resume { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    assert_eq!(direction(&reinvite.msg), voxgate_media::Direction::SendRecv);
    assert_eq!(
        out.events(),
        vec![Event::Bridged {
            a: LegId(1),
            b: LegId(2)
        }],
        "back into the bridge it left"
    );
    let out = h.a_answers(&reinvite, 200, Some(SDP_A));
    assert_eq!(
        out.events(),
        vec![Event::Resumed {
            leg: LegId(1),
            by: Side::Control
        }]
    );
}

#[test]
fn a_repeated_2xx_to_our_reinvite_gets_our_ack_again() {
    // As for relayed re-INVITEs: a lost ACK must be repeated for every
    // repeated 2xx, or the peer ends the call after 64*T1 (§13.3.1.4).
    let (mut h, _) = bridged_pair();
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    let recvonly = SDP_A.replace("a=sendrecv", "a=recvonly");
    let out = h.a_answers(&reinvite, 200, Some(&recvonly));
    let ack = out.transmits()[0].1.raw().clone();
    let again = h.a_answers(&reinvite, 200, Some(&recvonly));
    let acks = again.transmits();
    assert_eq!(acks.len(), 1, "{again:#?}");
    assert_eq!(acks[0].1.raw(), &ack);
    assert!(again.events().is_empty(), "held once: {again:#?}");
}

#[test]
fn our_reinvite_crossing_theirs_is_retried_after_491() {
    let (mut h, _) = bridged_pair();
    let out = cmd(&mut h, Command::Hold { leg: LegId(2) });
    let reinvite = out.sent(Method::Invite);
    let out = h.b_answers(&reinvite, 491, "", None);
    assert!(out.sends().is_empty());
    // We own the Call-ID of the outbound leg: 2.1 to 4 s (§14.1).
    assert!(h.advance(Duration::from_millis(2099)).sends().is_empty());
    let out = h.advance(Duration::from_millis(1901));
    let again = out.sent(Method::Invite);
    assert_eq!(direction(&again.msg), voxgate_media::Direction::SendOnly);
    assert!(again.msg.cseq().unwrap().seq > reinvite.msg.cseq().unwrap().seq);
}

#[test]
fn the_491_wait_comes_from_the_conversations_seed() {
    // A seeded simulation must replay exactly: the wait is drawn from the
    // conversation's seed, within §14.1's bounds, and differs between seeds.
    let wait = |seed: u64| {
        let (mut h, _) = bridged_pair();
        h.call.seed(seed);
        let out = cmd(&mut h, Command::Hold { leg: LegId(2) });
        let reinvite = out.sent(Method::Invite);
        h.b_answers(&reinvite, 491, "", None);
        h.call.poll_timeout().unwrap() - h.now
    };
    assert_eq!(wait(7), wait(7));
    let waits: Vec<Duration> = (0..20).map(wait).collect();
    assert!(
        waits.iter().all(|w| (2100..4000).contains(&w.as_millis())),
        "{waits:?}"
    );
    assert!(waits.windows(2).any(|w| w[0] != w[1]), "{waits:?}");
}

#[test]
fn a_491_wait_that_ends_while_our_2xx_awaits_its_ack_does_not_spin() {
    // Found by the whole-node simulation (glare, seed 282): our hold is
    // refused with 491, the caller's own re-INVITE is answered meanwhile,
    // and our wait ends before its ACK. Nothing can be sent until the ACK,
    // and no deadline may stay in the past: the actor would spin on it.
    let (mut h, _) = bridged_pair();
    h.call.seed(1);
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    let hold = out.sent_to(Method::Invite, A_ADDR);
    h.a_answers(&hold, 491, None);
    let offer = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_RESUME)));
    let (_, out) = h.a_sends(offer);
    assert_eq!(out.statuses(), [200]);
    // The caller owns the Call-ID: our wait is at most 2 s.
    let out = h.advance(Duration::from_millis(2000));
    assert!(out.sends().is_empty(), "nothing before the ACK: {out:#?}");
    assert!(h.call.poll_timeout().is_none_or(|t| t > h.now));
    // The ACK comes: the hold goes out at once.
    let seq = h.a_cseq;
    let out = h.feed(h.a_ack(seq, None));
    let again = out.sent_to(Method::Invite, A_ADDR);
    assert_eq!(direction(&again.msg), voxgate_media::Direction::SendOnly);
}

#[test]
fn a_peer_offer_on_a_leg_voxgate_answered_is_answered_locally() {
    let (mut h, _) = bridged_pair();
    // The caller holds: voxgate answers recvonly itself, nothing goes to B.
    let hold = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (tx, out) = h.a_sends(hold);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert_eq!(direction(ok), voxgate_media::Direction::RecvOnly);
    assert_eq!(formats(ok), ["0", "101"], "the codec in use is kept");
    assert!(out.sends().is_empty(), "B is not involved");
    assert_eq!(
        out.events(),
        vec![Event::Held {
            leg: LegId(1),
            by: Side::Caller
        }]
    );
}

#[test]
fn hanging_up_one_leg_leaves_the_other() {
    let (mut h, b) = bridged_pair();
    let out = cmd(
        &mut h,
        Command::Hangup {
            leg: Some(LegId(2)),
            status: None,
        },
    );
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.to, b.invite.to);
    assert_eq!(
        out.events(),
        vec![
            Event::LegEnded {
                leg: LegId(2),
                side: Side::Control,
                cause: EndCause::Normal
            },
            Event::Unbridged {
                a: LegId(2),
                b: LegId(1)
            },
        ]
    );
    assert!(out.end().is_none());
    assert!(!h.call.media.is_open(EndpointId(1)), "its ports went back");
    assert!(h.call.media.is_open(EndpointId(0)));
    h.b_answers(&bye, 200, "", None);
    assert_eq!(h.call.state_name(), "answered");
    // The callee hanging up on its own: the same.
    let (mut h, mut b) = bridged_pair();
    let bye = b.request("BYE", "", None);
    let (_, out) = h.b_sends(bye);
    assert_eq!(out.statuses(), vec![200]);
    assert!(out.events().contains(&Event::LegEnded {
        leg: LegId(2),
        side: Side::Callee,
        cause: EndCause::Normal
    }));
    assert!(out.sends().is_empty(), "the caller stays");
}

#[test]
fn hanging_up_a_ringing_leg_cancels_it() {
    let mut h = answered_locally();
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    let b = BSide::new(out.sent(Method::Invite));
    h.feed(b.response(180, "", None));
    let out = cmd(
        &mut h,
        Command::Hangup {
            leg: Some(LegId(2)),
            status: None,
        },
    );
    let c = out.sent(Method::Cancel);
    assert_eq!(
        out.events(),
        vec![Event::LegFailed {
            leg: LegId(2),
            failure: LegFailure::Cancelled
        }]
    );
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert!(out.events().is_empty(), "nothing more to say");
    assert_eq!(h.call.state_name(), "answered");
}

#[test]
fn without_a_control_plane_an_unbridged_leg_is_hung_up() {
    let mut h = answered_locally();
    let out = h.feed(Input::ControlGone);
    assert!(
        out.sent_to(Method::Bye, A_ADDR)
            .msg
            .method()
            .is_some_and(|m| *m == Method::Bye)
    );
    assert!(out.events().contains(&Event::LegEnded {
        leg: LegId(1),
        side: Side::Edge,
        cause: EndCause::ControlLost
    }));
}

// ---- originated conversations ----

fn originated() -> Harness {
    let config = voxgate_config::load_str(&format!("{BASE_CONFIG}\n{CALLS}"), "test.toml").unwrap();
    let local = |transport| voxgate_sip::dialog::LocalAddr::new(transport, OURS.parse().unwrap());
    let ctx = ConversationContext {
        id: ConversationId(8),
        config: Arc::new(config),
        locals: Locals {
            udp: Some(local(TransportKind::Udp)),
            tcp: None,
            tls: None,
            ..Locals::default()
        },
        timers: TimerConfig::default(),
        started: started(),
        health: Default::default(),
    };
    let start = Instant::now();
    Harness {
        call: Conversation::originated(start, ctx, NoMedia::default()),
        now: start,
        start,
        a_tx: TxId::next(),
        a_cseq: 1,
    }
}

#[test]
fn click_to_dial_originate_a_then_b_then_bridge() {
    // RFC 3725 flow 1, as a control plane drives it.
    let mut h = originated();
    assert!(h.call.info().unwrap().inbound.is_none());
    let mut agent = dest(B1);
    agent.uri = "sip:1001@203.0.113.7:5060".into();
    let out = cmd(
        &mut h,
        Command::Dial(Dial::new(vec![agent]).caller_id(CallerId {
            display: Some("Callback".into()),
            user: Some("+15550000".into()),
        })),
    );
    let a = BSide::new(out.sent(Method::Invite));
    let from = a.invite.msg.from_header().unwrap();
    assert_eq!(from.display.map(|d| d.trim_matches('"')), Some("Callback"));
    assert!(from.uri.starts_with("sip:+15550000@"));
    let out = h.feed(a.response(200, "", Some(SDP_B)));
    assert!(out.events().contains(&Event::LegAnswered {
        leg: LegId(1),
        early: false
    }));
    assert_eq!(h.call.state_name(), "answered");
    // Then the customer, connected to the agent's answered leg.
    let out = cmd(&mut h, Command::Dial(dial(&[B2]).connect(LegId(1))));
    let mut b = BSide::new(out.sent(Method::Invite));
    b.tag = "ctag".into();
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert!(out.events().contains(&Event::Bridged {
        a: LegId(1),
        b: LegId(2)
    }));
    // Both hang up: the conversation ends, ports back.
    let out = cmd(
        &mut h,
        Command::Hangup {
            leg: None,
            status: None,
        },
    );
    let byes = out.sends();
    assert_eq!(byes.len(), 2);
    for bye in &byes {
        h.b_answers(bye, 200, "", None);
    }
    assert!(h.call.is_ended());
    assert_eq!(h.call.media.open_count(), 0);
}

#[test]
fn an_originated_conversation_without_a_dial_ends_idle() {
    let mut h = originated();
    assert!(h.advance(Duration::from_secs(31)).is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Idle)));
}

#[test]
fn an_originated_dial_that_fails_ends_the_conversation() {
    let mut h = originated();
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    let b = BSide::new(out.sent(Method::Invite));
    let out = h.feed(b.response(486, "", None));
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 486
    }));
    assert_eq!(
        out.end(),
        Some((Side::Callee, EndCause::Rejected(486))),
        "nothing is left in it"
    );
}

#[test]
fn our_answer_selects_the_codec_negotiate_would() {
    // Guard for `codec()`: the conversation's view of a leg's codec is the
    // one in the SDP it answered with.
    let h = answered_locally();
    let c = h.call.codec(LegId(1)).unwrap();
    assert_eq!(c.name, "PCMU");
    let sdp = SessionDescription::parse(SDP_A.as_bytes()).unwrap();
    assert_eq!(negotiate::selected(&sdp).unwrap().name, "PCMU");
}

#[test]
fn an_overflow_ends_the_conversation_with_its_cause() {
    let (mut h, _) = Harness::established(CALLS);
    let out = h.feed(Input::Overflow);
    assert_eq!(out.methods(), vec![Method::Bye, Method::Bye]);
    assert!(out.events().contains(&Event::LegEnded {
        leg: LegId(1),
        side: Side::Edge,
        cause: EndCause::ControlOverflow
    }));
    for bye in out.sends() {
        h.feed(Input::Response {
            tx: bye.tx,
            response: respond(&bye.msg, 200, "x", "", None),
        });
    }
    assert!(h.call.is_ended());
}

#[test]
fn commands_to_an_ending_conversation_are_errors() {
    let (mut h, _) = Harness::established(CALLS);
    h.feed(Input::Shutdown);
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    assert!(matches!(
        out.events()[..],
        [Event::Error {
            command: "hold",
            ..
        }]
    ));
    assert!(out.sends().is_empty());
}

#[test]
fn an_originated_dial_to_nowhere_ends_the_conversation() {
    let mut h = originated();
    let out = cmd(&mut h, Command::Dial(dial(&["tel:+15550100"])));
    assert!(out.events().contains(&Event::DialFailed {
        dial: DialId(1),
        status: 480
    }));
    assert!(h.call.is_ended(), "no leg, no dial: nothing keeps it");
}

#[test]
fn every_dial_takes_an_id_even_a_refused_one() {
    let mut h = answered_locally();
    // Refused (unknown leg): it still counts as dial 1.
    let out = cmd(&mut h, Command::Dial(dial(&[B1]).connect(LegId(9))));
    assert!(matches!(out.events()[..], [Event::Error { .. }]));
    let out = cmd(&mut h, Command::Dial(dial(&[B1])));
    assert_eq!(
        out.events(),
        vec![Event::LegCreated {
            leg: LegId(2),
            dial: Some(DialId(2)),
            uri: B1.into()
        }]
    );
}
