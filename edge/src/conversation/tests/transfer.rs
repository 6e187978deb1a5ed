//! Transfers on the virtual clock: REFER accepted through the control
//! plane (202, NOTIFY sipfrag 100 then the final status, the transferee
//! bridged to the new leg) and an INVITE with Replaces taking over a leg.

use super::*;

fn cmd(h: &mut Harness, command: Command) -> Out {
    h.feed(Input::Command(command))
}

const C: &str = "sip:2002@203.0.113.8:5060";

/// The NOTIFY's sipfrag status line and Subscription-State.
fn notify(sent: &Sent) -> (String, String) {
    assert_eq!(sent.msg.header_by_name("Event"), Some("refer"));
    assert_eq!(sent.msg.content_type(), Some("message/sipfrag;version=2.0"));
    (
        body(&sent.msg).trim_end().to_string(),
        sent.msg
            .header_by_name("Subscription-State")
            .unwrap()
            .to_string(),
    )
}

#[test]
fn a_blind_transfer_from_the_callee_is_carried_out_and_notified() {
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request("REFER", &format!("Refer-To: <{C}>\r\n"), None);
    let (refer_tx, out) = h.b_sends(refer);
    assert_eq!(
        out.events(),
        vec![Event::TransferRequested {
            leg: LegId(2),
            target: C.into(),
            replaces: None
        }]
    );
    let out = cmd(
        &mut h,
        Command::AcceptTransfer {
            leg: LegId(2),
            dial: Dial::new(vec![dest(C)]),
        },
    );
    assert_eq!(out.response(202).0, refer_tx);
    let first = out.sent(Method::Notify);
    assert_eq!(first.to, udp("203.0.113.7:5060"));
    assert_eq!(
        notify(&first),
        ("SIP/2.0 100 Trying".into(), "active;expires=60".into())
    );
    let inv = out.sent(Method::Invite);
    assert_eq!(inv.to, udp("203.0.113.8:5060"));
    // The caller (linked to B until now) is the one moved: its codec is PCMU.
    assert_hidden(&inv.msg, &A_SECRETS[..1]);
    assert_hidden(&inv.msg, &["10.2.2.", "btag", "o=pbx"]);
    // It presents the transferee's identity (the caller), not an empty From.
    assert!(
        inv.msg
            .from_header()
            .unwrap()
            .uri
            .starts_with("sip:+15551234@"),
        "{}",
        text(&inv.msg)
    );
    h.b_answers(&first, 200, "", None);

    let mut c = BSide::new(inv);
    c.tag = "ctag".into();
    let out = h.feed(c.response(200, "", Some(SDP_B)));
    assert!(out.events().contains(&Event::Bridged {
        a: LegId(1),
        b: LegId(3)
    }));
    let last = out.sent(Method::Notify);
    assert_eq!(
        notify(&last),
        (
            "SIP/2.0 200 OK".into(),
            "terminated;reason=noresource".into()
        )
    );
    h.b_answers(&last, 200, "", None);
    // The referrer hangs up; the caller stays with C.
    let bye = b.request("BYE", "", None);
    let (_, out) = h.b_sends(bye);
    assert!(out.events().contains(&Event::LegEnded {
        leg: LegId(2),
        side: Side::Callee,
        cause: EndCause::Transferred
    }));
    assert!(out.sends().is_empty(), "nobody else is hung up: {out:#?}");
    assert_eq!(h.call.state_name(), "answered");
    assert_eq!(h.call.leg(LegId(1)).unwrap().bridge, Some(LegId(3)));
}

#[test]
fn a_transfer_whose_dial_fails_is_notified_with_the_status() {
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request("REFER", &format!("Refer-To: <{C}>\r\n"), None);
    h.b_sends(refer);
    let out = cmd(
        &mut h,
        Command::AcceptTransfer {
            leg: LegId(2),
            dial: Dial::new(vec![dest(C)]),
        },
    );
    let c = BSide::new(out.sent(Method::Invite));
    let out = h.feed(c.response(486, "", None));
    let last = out.sent(Method::Notify);
    assert_eq!(
        notify(&last),
        (
            "SIP/2.0 486 Busy Here".into(),
            "terminated;reason=noresource".into()
        )
    );
    // The caller is not hung up by a failed transfer.
    assert!(
        !out.events()
            .iter()
            .any(|e| matches!(e, Event::LegEnded { leg: LegId(1), .. }))
    );
}

#[test]
fn a_transfer_pending_when_the_call_ends_is_answered_487() {
    // Found by the whole-node simulation (transfer_undecided): the caller
    // hung up while the plane decided; the REFER was never answered, so its
    // server transaction (no timer before its answer) stayed in the core
    // for ever and the referrer timed out. RFC 3261 §15.1.2: 487.
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request("REFER", &format!("Refer-To: <{C}>\r\n"), None);
    let (refer_tx, _) = h.b_sends(refer);
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    let (tx, response) = out.response(487);
    assert_eq!(tx, refer_tx);
    assert_eq!(response.cseq().unwrap().method, Method::Refer);
    // The plane's late answer changes nothing.
    let out = cmd(&mut h, Command::RefuseTransfer { leg: LegId(2) });
    assert!(out.responses().is_empty());
}

#[test]
fn a_refused_transfer_is_603_and_changes_nothing() {
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request("REFER", &format!("Refer-To: <{C}>\r\n"), None);
    let (tx, _) = h.b_sends(refer);
    let out = cmd(&mut h, Command::RefuseTransfer { leg: LegId(2) });
    assert_eq!(out.response(603).0, tx);
    assert!(out.sends().is_empty());
    let out = cmd(&mut h, Command::RefuseTransfer { leg: LegId(2) });
    assert_eq!(
        out.events(),
        vec![Event::Error {
            command: "refuse_transfer",
            error: CommandError::NoTransfer { leg: LegId(2) }
        }]
    );
}

#[test]
fn an_attended_transfers_replaces_is_reported() {
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request(
        "REFER",
        "Refer-To: <sip:2003@203.0.113.8?Replaces=x1%40h%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>\r\n",
        None,
    );
    let (_, out) = h.b_sends(refer);
    assert_eq!(
        out.events(),
        vec![Event::TransferRequested {
            leg: LegId(2),
            target: "sip:2003@203.0.113.8".into(),
            replaces: Some("x1@h;to-tag=t1;from-tag=f1".into()),
        }]
    );
}

#[test]
fn a_refer_without_refer_to_is_400() {
    let (mut h, mut b) = Harness::established(CALLS);
    let refer = b.request("REFER", "", None);
    let (tx, out) = h.b_sends(refer);
    assert_eq!(out.response(400).0, tx);
    assert!(out.events().is_empty());
}

/// An INVITE from the carrier's other device replacing the caller's dialog.
fn replacing_invite(h: &Harness) -> Message {
    let head = format!(
        "INVITE sip:+15550100@192.0.2.10:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.6:5060;branch=z9hG4bK-r-inv\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15551234@carrier.example>;tag=rtag\r\n\
         To: <sip:+15550100@192.0.2.10>\r\n\
         Call-ID: r-call-1@10.1.1.9\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice2@198.51.100.6:5060>\r\n\
         Replaces: a-call-1@10.1.1.9;to-tag={};from-tag=atag\r\n",
        h.our_a_tag()
    );
    parse(&format!(
        "{head}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    ))
}

#[test]
fn an_invite_with_replaces_takes_the_legs_place() {
    let (mut h, _) = Harness::established(CALLS);
    let invite = replacing_invite(&h);
    let key = DialogKey {
        call_id: "a-call-1@10.1.1.9".into(),
        local_tag: h.our_a_tag().as_str().into(),
    };
    let tx = TxId::next();
    let out = h.feed(Input::Replacing {
        tx,
        request: invite,
        from: udp("198.51.100.6:5060"),
        trunk: TrunkName::new("carrier").unwrap(),
        replaces: key,
    });
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("m=audio "));
    let bye = out.sent(Method::Bye);
    assert_eq!(bye.to, udp(A_ADDR), "the replaced caller is hung up");
    let events = out.events();
    assert!(events.contains(&Event::LegReplaced {
        old: LegId(1),
        new: LegId(3)
    }));
    assert!(events.contains(&Event::Bridged {
        a: LegId(3),
        b: LegId(2)
    }));
    assert!(events.contains(&Event::LegEnded {
        leg: LegId(1),
        side: Side::Edge,
        cause: EndCause::Replaced
    }));
    assert_eq!(
        out.sends().len(),
        1,
        "the callee is not touched: same codec, no re-INVITE"
    );
    assert_eq!(h.call.leg(LegId(2)).unwrap().state_name(), "answered");
}

#[test]
fn without_a_control_plane_the_newcomers_bye_ends_the_call_normally() {
    // The static router's case: nobody rebridges, so the bridge behaves as the link did.
    let (mut h, b) = Harness::established(CALLS);
    h.feed(Input::ControlGone);
    let invite = replacing_invite(&h);
    let key = DialogKey {
        call_id: "a-call-1@10.1.1.9".into(),
        local_tag: h.our_a_tag().as_str().into(),
    };
    let out = h.feed(Input::Replacing {
        tx: TxId::next(),
        request: invite,
        from: udp("198.51.100.6:5060"),
        trunk: TrunkName::new("carrier").unwrap(),
        replaces: key,
    });
    let ok = out.response(200).1;
    let ours = ok.to_header().unwrap().tag().unwrap().to_string();
    let old_bye = out.sent(Method::Bye);
    h.feed(Input::Response {
        tx: old_bye.tx,
        response: respond(&old_bye.msg, 200, "atag", "", None),
    });
    let ack = format!(
        "ACK sip:192.0.2.10:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.6:5060;branch=z9hG4bK-r-ack\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15551234@carrier.example>;tag=rtag\r\n\
         To: <sip:+15550100@192.0.2.10>;tag={ours}\r\n\
         Call-ID: r-call-1@10.1.1.9\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let out = h.feed(Input::Request {
        tx: TxId::next(),
        request: parse(&ack),
        from: udp("198.51.100.6:5060"),
    });
    assert!(
        out.end().is_none(),
        "the replaced call goes on: {:?}",
        out.0
    );
    let bye = parse(
        &ack.replace("ACK sip", "BYE sip")
            .replace("1 ACK", "2 BYE")
            .replace("r-ack", "r-bye"),
    );
    let tx = TxId::next();
    let out = h.feed(Input::Request {
        tx,
        request: bye,
        from: udp("198.51.100.6:5060"),
    });
    assert_eq!(out.response(200).0, tx);
    let to_b = out.sent(Method::Bye);
    assert_eq!(to_b.to, b.invite.to, "the callee is hung up");
    let out = h.feed(Input::Response {
        tx: to_b.tx,
        response: respond(&to_b.msg, 200, "btag", "", None),
    });
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Normal)));
}

#[test]
fn an_invite_replacing_no_live_dialog_is_481() {
    let (mut h, _) = Harness::established(CALLS);
    let invite = replacing_invite(&h);
    let tx = TxId::next();
    let out = h.feed(Input::Replacing {
        tx,
        request: invite,
        from: udp("198.51.100.6:5060"),
        trunk: TrunkName::new("carrier").unwrap(),
        replaces: DialogKey {
            call_id: "nope".into(),
            local_tag: "x".into(),
        },
    });
    assert_eq!(out.response(481).0, tx);
    assert!(out.events().is_empty());
}
