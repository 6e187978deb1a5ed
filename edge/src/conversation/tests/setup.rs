//! Setting a call up: the INVITE, the control plane's first command, the
//! B attempts and how their responses reach the caller.

use super::*;

// ---- the INVITE and the control plane ----

#[test]
fn invite_sets_info_and_sends_nothing_until_a_command() {
    let (h, out) = Harness::new(CALLS);
    let info = h
        .call
        .info()
        .expect("info")
        .inbound
        .as_ref()
        .expect("inbound");
    assert_eq!(info.leg, LegId(1));
    assert_eq!(info.trunk.as_str(), "carrier");
    assert_eq!(info.region, "r1");
    assert_eq!(info.from.user.as_deref(), Some("+15551234"));
    assert_eq!(info.from.display.as_deref(), Some("Alice"));
    assert_eq!(info.to.user.as_deref(), Some("+15550100"));
    assert_eq!(info.request_user.as_deref(), Some("+15550100"));
    assert_eq!(
        info.headers,
        vec![(
            "P-Asserted-Identity".to_string(),
            "<sip:+15551234@carrier.example>".to_string()
        )]
    );
    // Only the binding of A's dialog: no response, no request, no timer.
    assert!(out.responses().is_empty() && out.sends().is_empty());
    assert_eq!(
        out.binds(),
        vec![DialogKey {
            call_id: "a-call-1@10.1.1.9".into(),
            local_tag: h.our_a_tag().into(),
        }]
    );
    assert_eq!(h.call.poll_timeout(), None);
    assert_eq!(h.call.state_name(), "routing");
}

#[test]
fn reject_answers_the_caller_and_ends_the_call() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::Command(Command::Reject {
        status: 404,
        reason: None,
    }));
    assert_eq!(invite_status(&h, &out), vec![404]);
    let (_, r) = out.response(404);
    assert_eq!(r.reason(), Some("Not Found"));
    assert_eq!(r.to_header().unwrap().tag(), Some(h.our_a_tag().as_str()));
    assert_eq!(out.end(), Some((Side::Control, EndCause::Rejected(404))));
    let record = out.ended().expect("record");
    assert_eq!(record.outcome.status, Some(404));
    assert_eq!(record.attempts, 0);
    assert!(h.call.is_ended());
    assert!(h.feed(Input::Shutdown).is_empty(), "nothing after Ended");
}

#[test]
fn reject_with_a_non_error_status_is_an_error_event() {
    // Control-plane values are checked at the boundary: nothing changes.
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::Command(Command::Reject {
        status: 200,
        reason: None,
    }));
    assert!(out.responses().is_empty());
    assert_eq!(
        out.events(),
        vec![Event::Error {
            command: "reject",
            error: CommandError::Status {
                status: 200,
                allowed: "400..=699"
            }
        }]
    );
    let out = h.feed(Input::Command(Command::Reject {
        status: 486,
        reason: None,
    }));
    assert_eq!(invite_status(&h, &out), vec![486]);
}

#[test]
fn control_plane_gone_while_routing_is_500() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(Input::ControlGone);
    assert_eq!(invite_status(&h, &out), vec![500]);
    assert_eq!(out.end(), Some((Side::Edge, EndCause::ControlLost)));
}

#[test]
fn non_sdp_body_is_415_with_accept() {
    let invite = {
        let t = text(&a_invite(None, "")).replace(
            "Content-Length: 0\r\n\r\n",
            "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        );
        parse(&t)
    };
    let (h, out) = Harness::with_invite(CALLS, invite);
    assert_eq!(invite_status(&h, &out), vec![415]);
    assert_eq!(
        out.response(415).1.header(HeaderName::Accept),
        Some("application/sdp")
    );
    assert!(h.call.info().is_none());
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Rejected(415))));
}

#[test]
fn unparsable_sdp_is_488() {
    let (h, out) = Harness::with_invite(CALLS, a_invite(Some("not sdp\r\n"), ""));
    assert_eq!(invite_status(&h, &out), vec![488]);
    assert!(h.call.is_ended());
}

#[test]
fn session_expires_below_min_se_is_422() {
    let calls = calls("session_expires_s = 1800\nmin_se_s = 120");
    let invite = a_invite(Some(SDP_A), "Supported: timer\r\nSession-Expires: 90\r\n");
    let (h, out) = Harness::with_invite(&calls, invite);
    assert_eq!(invite_status(&h, &out), vec![422]);
    assert_eq!(out.response(422).1.header(HeaderName::MinSe), Some("120"));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Rejected(422))));
}

// ---- the B INVITE ----

#[test]
fn connect_sends_a_b_invite_of_our_own() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, out) = h.connected(&[B1]);
    let inv = &b.invite.msg;
    assert_eq!(b.invite.to, udp("203.0.113.7:5060"));
    assert_eq!(inv.request_uri(), Some(B1));
    assert_ne!(inv.call_id().unwrap(), "a-call-1@10.1.1.9");
    let from = inv.from_header().unwrap();
    assert!(from.tag().is_some_and(|t| t != "atag"));
    assert_eq!(from.uri, "sip:+15551234@192.0.2.10:5060");
    assert_eq!(from.display, Some("Alice"));
    assert_eq!(inv.to_header().unwrap().tag(), None);
    assert_eq!(inv.cseq().unwrap().seq, 1);
    assert_eq!(inv.max_forwards().unwrap(), Some(68));
    let via = inv.top_via().unwrap();
    assert_eq!((via.host, via.port), ("192.0.2.10", Some(5060)));
    assert_eq!(inv.vias().count(), 1);
    assert_eq!(
        inv.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    assert_eq!(inv.header(HeaderName::RecordRoute), None);
    // Its dialog is bound to the call before it leaves.
    assert!(out.binds().contains(&DialogKey {
        call_id: inv.call_id().unwrap().into(),
        local_tag: from.tag().unwrap().into(),
    }));
    assert_eq!(h.call.state_name(), "connecting");
    assert!(out.responses().is_empty(), "nothing to A yet");
}

#[test]
fn b_invite_sdp_points_at_our_media() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let sdp = body(&b.invite.msg);
    assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
    assert!(sdp.contains("m=audio 41000 RTP/AVP 0 8 101\r\n"), "{sdp}");
    assert!(sdp.starts_with("v=0\r\no=voxgate "), "{sdp}");
    assert!(sdp.contains("a=rtpmap:101 telephone-event/8000"), "{sdp}");
    assert_eq!(b.invite.msg.content_type(), Some("application/sdp"));
    // The relay learnt where A receives.
    assert_eq!(
        h.call.media.remote[0][0].rtp,
        Some("10.1.1.1:30000".parse().unwrap())
    );
}

#[test]
fn b_invite_hides_the_a_leg() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    assert_hidden(&b.invite.msg, A_SECRETS);
    assert_eq!(b.invite.msg.header_by_name("P-Asserted-Identity"), None);
}

#[test]
fn b_invite_over_tcp_uses_our_tcp_address() {
    let (mut h, _) = Harness::new(CALLS);
    let mut d = dest(B1);
    d.transport = TransportKind::Tcp;
    let out = h.feed(Input::Command(Command::Dial({
        let mut d = Dial::new(vec![d]).connect(LegId(1));
        d.ring_timeout = None;
        d.follow_redirects = false;
        d
    })));
    let inv = out.sent(Method::Invite);
    assert_eq!(inv.to.transport, TransportKind::Tcp);
    assert_eq!(inv.msg.top_via().unwrap().transport, "TCP");
    assert_eq!(
        inv.msg.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060;transport=tcp>")
    );
}

#[test]
fn unusable_destination_is_skipped() {
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(connect(&["tel:+15550100", B2]));
    // A destination that cannot be used gets no leg; the next one is dialled.
    assert_eq!(out.sent(Method::Invite).to, udp("203.0.113.8:5060"));
    assert!(out.events().contains(&Event::LegCreated {
        leg: LegId(2),
        dial: Some(DialId(1)),
        uri: B2.to_string(),
    }));
}

// ---- provisional responses ----

#[test]
fn ringing_is_relayed_without_b_topology() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    assert!(h.feed(b.response(100, "", None)).is_empty());
    let out = h.feed(b.response(
        180,
        "Record-Route: <sip:rr.pbx.example;lr>\r\nP-Asserted-Identity: <sip:100@pbx.example>\r\n",
        None,
    ));
    assert_eq!(invite_status(&h, &out), vec![180]);
    let (_, ringing) = out.response(180);
    assert_hidden(ringing, B_SECRETS);
    assert_eq!(
        ringing.to_header().unwrap().tag(),
        Some(h.our_a_tag().as_str())
    );
    assert_eq!(
        ringing.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    assert_eq!(
        out.events(),
        vec![Event::LegRinging {
            leg: LegId(2),
            early_media: false
        }]
    );
    assert_eq!(h.call.state_name(), "ringing");
}

#[test]
fn provisional_on_a_echoes_its_record_route() {
    // §12.1.1: a response that creates a dialog (an 18x with a To tag) carries
    // the request's Record-Route, or the caller's proxies fall out of the route.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(180, "", None));
    assert_eq!(
        out.response(180).1.header(HeaderName::RecordRoute),
        Some("<sip:rr.carrier.example;lr>")
    );
}

#[test]
fn early_media_is_relayed_with_our_sdp() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(183, "", Some(SDP_B)));
    let (_, progress) = out.response(183);
    let sdp = body(progress);
    assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
    assert!(sdp.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{sdp}");
    assert_hidden(progress, B_SECRETS);
    assert_eq!(
        out.events(),
        vec![
            Event::Bridged {
                a: LegId(1),
                b: LegId(2)
            },
            Event::LegRinging {
                leg: LegId(2),
                early_media: true
            }
        ],
        "the caller hears B's early media"
    );
    // The relay sends B's early media to where B said it receives.
    assert_eq!(
        h.call.media.remote[1][0].rtp,
        Some("10.2.2.2:32000".parse().unwrap())
    );
}

// ---- the answer ----

#[test]
fn answer_acks_b_and_answers_a_with_our_sdp() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let out = h.feed(b.response(200, "", Some(SDP_B)));

    let acks = out.transmits();
    assert_eq!(acks.len(), 1, "{out:#?}");
    let (to, ack) = &acks[0];
    assert_eq!(*to, udp("203.0.113.7:5060"));
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), Some("sip:pbx@203.0.113.7:5060"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.to_header().unwrap().tag(), Some("btag1"));
    assert_eq!(ack.call_id().unwrap(), b.invite.msg.call_id().unwrap());

    let (tx, ok) = out.response(200);
    assert_eq!(tx, h.a_tx);
    let sdp = body(ok);
    assert!(sdp.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{sdp}");
    assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
    assert_hidden(ok, B_SECRETS);
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    assert_eq!(ok.to_header().unwrap().tag(), Some(h.our_a_tag().as_str()));
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
            Event::LegAnswered {
                leg: LegId(1),
                early: false
            },
        ]
    );
    assert_eq!(h.call.timeline().answer, Some(h.now));
    assert_eq!(h.call.state_name(), "answered");
}

#[test]
fn answer_on_a_echoes_its_record_route() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(
        out.response(200).1.header(HeaderName::RecordRoute),
        Some("<sip:rr.carrier.example;lr>")
    );
}

#[test]
fn answer_without_early_dialog_needs_no_provisional() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
    assert_eq!(out.transmits().len(), 1);
}

#[test]
fn retransmitted_answer_from_b_is_acked_again() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let first = h.feed(b.response(200, "", Some(SDP_B)));
    let again = h.feed(b.response(200, "", Some(SDP_B)));
    assert!(again.responses().is_empty(), "A is answered once");
    assert_eq!(
        again.transmits()[0].1.raw(),
        first.transmits()[0].1.raw(),
        "the same ACK"
    );
}

#[test]
fn late_offer_is_answered_in_the_acks() {
    let (mut h, _) = Harness::with_invite(CALLS, a_invite(None, ""));
    let (b, _) = h.connected(&[B1]);
    assert!(b.invite.msg.body().is_empty(), "no offer to B either");
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert!(out.transmits().is_empty(), "B's ACK waits for A's answer");
    let (_, ok) = out.response(200);
    assert!(body(ok).contains("m=audio 40000 "), "{}", body(ok));
    assert_hidden(ok, B_SECRETS);

    let ack = h.a_ack(1, Some(SDP_A));
    let out = h.feed(ack);
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    let (to, ack) = &acks[0];
    assert_eq!(*to, udp("203.0.113.7:5060"));
    assert_eq!(ack.method(), Some(&Method::Ack));
    let sdp = body(ack);
    // A answered with more than B offered: B gets what it offered (PCMU).
    assert!(sdp.contains("m=audio 41000 RTP/AVP 0 101\r\n"), "{sdp}");
    assert_hidden(ack, A_SECRETS);
    assert!(h.confirmed());
}

// ---- CANCEL ----

#[test]
fn cancel_while_routing_ends_the_call() {
    let (mut h, _) = Harness::new(CALLS);
    let (tx, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    assert_eq!(out.statuses(), vec![200, 487]);
    assert_eq!(out.response(200).0, tx);
    assert_eq!(out.response(487).0, h.a_tx);
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
    // A Connect that comes late does nothing.
    assert!(h.feed(connect(&[B1])).is_empty());
}

#[test]
fn cancel_after_a_provisional_cancels_b_at_once() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let (_, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    assert_eq!(out.statuses(), vec![200, 487]);
    let c = out.sent(Method::Cancel);
    assert_eq!(c.to, b.invite.to);
    assert_eq!(c.msg.call_id().unwrap(), b.invite.msg.call_id().unwrap());
    assert_eq!(
        c.msg.top_via().unwrap().branch(),
        b.invite.msg.top_via().unwrap().branch()
    );
    assert_eq!(c.msg.cseq().unwrap().seq, 1);
    assert!(out.end().is_none(), "the call waits for B's 487");

    let out = h.b_answers(&c, 200, "", None);
    assert!(out.end().is_none());
    let out = h.feed(b.response(487, "", None));
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
    assert!(out.responses().is_empty(), "A already has its 487");
}

#[test]
fn cancel_before_a_provisional_waits_for_one() {
    // §9.1: a CANCEL must not be sent before a provisional response.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let (_, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    assert_eq!(out.statuses(), vec![200, 487]);
    assert!(out.sends().is_empty(), "no CANCEL yet");
    // The trying timeout no longer applies: the attempt is being cancelled.
    assert!(h.advance(Duration::from_secs(2)).sends().is_empty());

    let out = h.feed(b.response(100, "", None));
    let c = out.sent(Method::Cancel);
    assert!(out.responses().is_empty());
    h.b_answers(&c, 200, "", None);
    let out = h.feed(b.response(487, "", None));
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
}

#[test]
fn answer_crossing_the_cancel_is_acked_and_byed() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(180, "", None));
    let (_, cancel) = h.a_cancel();
    let c = h.feed(cancel).sent(Method::Cancel);
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    assert!(out.responses().is_empty(), "A has its 487");
    assert!(
        out.events()
            .iter()
            .all(|e| !matches!(e, Event::LegAnswered { early: false, .. }))
    );
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.method(), Some(&Method::Ack));
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.msg.to_header().unwrap().tag(), Some("btag1"));
    h.b_answers(&c, 200, "", None);
    let out = h.b_answers(&bye, 200, "", None);
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Cancelled)));
}

#[test]
fn cancel_after_the_answer_changes_nothing() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let (_, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    assert_eq!(out.statuses(), vec![200]);
    assert!(out.sends().is_empty());
    assert!(h.answered_unacked());
}

/// RFC 5630: TLS alone does not make a leg SIPS. An INVITE over TLS to a
/// `sip:` Request-URI is answered with a `sip:…;transport=tls` Contact (a
/// `sips:` one left baresip unable to send its ACK: the call died at 32 s),
/// a `sips:` one with a `sips:` Contact. Likewise our INVITE over TLS: its
/// Contact and From are `sips:` only for a `sips:` destination.
#[test]
fn contact_scheme_over_tls_follows_the_request_uri() {
    let tls = Peer {
        transport: TransportKind::Tls,
        addr: A_ADDR.parse().unwrap(),
        conn: Some(voxgate_sip::ConnId(1)),
    };
    let default = String::from_utf8_lossy(a_invite(Some(SDP_A), "").raw()).into_owned();
    for (scheme, contact) in [
        ("sip", "<sip:192.0.2.10:5060;transport=tls>"),
        ("sips", "<sips:192.0.2.10:5060>"),
    ] {
        let invite = parse(&default.replacen("INVITE sip:", &format!("INVITE {scheme}:"), 1));
        let (mut h, _) = Harness::with_invite_from(CALLS, invite, tls);
        let out = h.feed(Input::Command(Command::Dial(
            Dial::new(vec![Destination {
                uri: format!("{scheme}:+15550100@203.0.113.20:5061"),
                transport: TransportKind::Tls,
                trunk: Some(TrunkName::new("pbx").unwrap()),
            }])
            .connect(LegId(1)),
        )));
        let to_b = out.sent(Method::Invite);
        assert_eq!(
            to_b.msg.header(HeaderName::Contact),
            Some(contact),
            "{scheme}"
        );
        let from = to_b.msg.from_header().unwrap();
        assert!(
            from.uri.starts_with(&format!("{scheme}:+15551234@")),
            "{}",
            from.uri
        );
        let b = BSide::new(to_b);
        let out = h.feed(b.response(200, "", Some(SDP_B)));
        assert_eq!(
            out.response(200).1.header(HeaderName::Contact),
            Some(contact),
            "{scheme}"
        );
    }
}

#[test]
fn no_media_ports_is_503_with_retry_after_and_voxgates_own_failure() {
    let (mut h, _) = Harness::new(CALLS);
    h.call.media.exhausted = true;
    let out = h.feed(Input::Command(Command::Dial(
        Dial::new(vec![dest(B1), dest(B2)]).connect(LegId(1)),
    )));
    assert!(
        out.sends().is_empty(),
        "no destination is tried without ports"
    );
    assert_eq!(invite_status(&h, &out), vec![503]);
    let (_, response) = out.response(503);
    assert_eq!(response.header(HeaderName::RetryAfter), Some("5"));
    assert_eq!(out.end(), Some((Side::Edge, EndCause::Rejected(503))));
    let record = out.ended().expect("record");
    assert_eq!(record.outcome.side, Side::Edge);
}

/// A node listening on IPv4 and IPv6 names, in Via and Contact, the address
/// of the peer's family: an IPv6 caller's ACK and BYE must come back over
/// IPv6. With one family only, every peer gets it.
#[test]
fn each_peer_gets_our_address_of_its_family() {
    use crate::conversation::Locals;
    use voxgate_sip::dialog::LocalAddr;
    let mut locals = Locals::default();
    for addr in [
        "127.0.0.1:5060",
        "[::1]:5060",
        "127.0.0.2:5060",
        "[::2]:5060",
    ] {
        locals.add(LocalAddr::new(TransportKind::Udp, addr.parse().unwrap()));
    }
    locals.add(LocalAddr::new(
        TransportKind::Tcp,
        "[::1]:5060".parse().unwrap(),
    ));
    let v4: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
    let at = |t, peer| locals.get(t, peer).map(|l| l.addr.to_string());
    assert_eq!(
        at(TransportKind::Udp, v4).as_deref(),
        Some("127.0.0.1:5060")
    );
    assert_eq!(at(TransportKind::Udp, v6).as_deref(), Some("[::1]:5060"));
    // TCP only on IPv6: an IPv4 peer still gets it (the transport decides).
    assert_eq!(at(TransportKind::Tcp, v4).as_deref(), Some("[::1]:5060"));
    assert_eq!(at(TransportKind::Tls, v4), None);
}

/// A trunk with its own `advertise` (its own NAT or interconnect) gets that
/// address in our Via and Contact on its legs, inbound and outbound; a trunk
/// without one gets the listener's; an address of the other family is not used.
#[test]
fn a_trunk_advertises_its_own_via_and_contact_address() {
    let text = BASE_CONFIG
        .replace(
            "name = \"carrier\"\n",
            "name = \"carrier\"\nadvertise = \"198.18.0.1\"\n",
        )
        .replace(
            "name = \"pbx\"\n",
            "name = \"pbx\"\nadvertise = \"10.9.9.9\"\n",
        );
    let (mut h, _) = Harness::with_config(
        &format!("{text}\n{CALLS}"),
        a_invite(Some(SDP_A), ""),
        udp(A_ADDR),
    );
    let (b, _) = h.connected(&[B1]);
    let inv = &b.invite.msg;
    assert_eq!(inv.top_via().unwrap().host, "10.9.9.9");
    assert_eq!(inv.top_via().unwrap().port, Some(5060));
    assert_eq!(inv.header(HeaderName::Contact), Some("<sip:10.9.9.9:5060>"));
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    let (_, ok) = out.response(200);
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some("<sip:198.18.0.1:5060>")
    );

    // Without advertise: the listener's address; an IPv6 advertise on an IPv4 leg: too.
    let text = BASE_CONFIG.replace(
        "name = \"pbx\"\n",
        "name = \"pbx\"\nadvertise = \"2001:db8::9\"\n",
    );
    let (mut h, _) = Harness::with_config(
        &format!("{text}\n{CALLS}"),
        a_invite(Some(SDP_A), ""),
        udp(A_ADDR),
    );
    let (b, _) = h.connected(&[B1]);
    assert_eq!(
        b.invite.msg.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
    let out = h.feed(b.response(200, "", Some(SDP_B)));
    let (_, ok) = out.response(200);
    assert_eq!(
        ok.header(HeaderName::Contact),
        Some("<sip:192.0.2.10:5060>")
    );
}

/// A trunk that names its listener gets requests from it (its UDP socket
/// id, its address in Via and Contact); other trunks get the transport's
/// first. A reply names the UDP listener the request came in on.
#[test]
fn a_trunk_names_its_listener_and_replies_leave_where_requests_came_in() {
    use crate::conversation::{ListenerLocal, Locals};
    use voxgate_sip::dialog::LocalAddr;
    use voxgate_sip::{ConnId, Peer};
    let text = "[node]\nname = \"n\"\nregion = \"r\"\n\
        [[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n\
        [[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5070\"\n\
        [[media_region]]\nname = \"r\"\naddresses = [\"127.0.0.1\"]\nport_min = 20000\nport_max = 20999\n\
        [[trunk]]\nname = \"a\"\nallow = [\"192.0.2.1\"]\n\
        [[trunk]]\nname = \"b\"\nallow = [\"192.0.2.2\"]\nlistener = \"127.0.0.1:5070\"\n";
    let config = voxgate_config::load_str(text, "t.toml").unwrap();
    let mut locals = Locals::default();
    let mut listeners = Vec::new();
    for (i, l) in config.listeners.iter().enumerate() {
        let local = LocalAddr::new(TransportKind::Udp, l.address);
        locals.add(local.clone());
        listeners.push(ListenerLocal {
            configured: l.address,
            local,
            udp: Some(ConnId(i as u64 + 1)),
        });
    }
    locals.listeners = std::sync::Arc::new(listeners);
    let trunk = |n: &str| config.trunks.iter().find(|t| t.name.as_str() == n);
    let v4: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    let (b, socket) = locals
        .for_trunk(trunk("b"), TransportKind::Udp, v4)
        .unwrap();
    assert_eq!(b.addr.to_string(), "127.0.0.1:5070");
    assert_eq!(socket, Some(ConnId(2)));
    let (a, socket) = locals
        .for_trunk(trunk("a"), TransportKind::Udp, v4)
        .unwrap();
    assert_eq!(a.addr.to_string(), "127.0.0.1:5060");
    assert_eq!(socket, None);
    // Trunk b's listener is UDP only: over TCP (none here) it names nothing.
    assert!(
        locals
            .for_trunk(trunk("b"), TransportKind::Tcp, v4)
            .is_none()
    );
    let came_in_on = |conn| Peer {
        transport: TransportKind::Udp,
        addr: "192.0.2.1:5060".parse().unwrap(),
        conn,
    };
    let at = |p: Peer| locals.for_peer(&p).map(|l| l.addr.to_string());
    assert_eq!(
        at(came_in_on(Some(ConnId(2)))).as_deref(),
        Some("127.0.0.1:5070")
    );
    assert_eq!(at(came_in_on(None)).as_deref(), Some("127.0.0.1:5060"));
}
