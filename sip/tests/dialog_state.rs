//! RFC 3261 §12.1 dialog creation (UAS from the INVITE, UAC from an 18x or
//! 2xx), the §12.2.2 checks on incoming requests and target refresh.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use voxgate_sip::TransportKind;
use voxgate_sip::dialog::{Dialog, DialogError, DialogKey, LocalAddr};
use voxgate_sip::message::{HeaderName, Invalid, Limits, Message};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.replace('\n', "\r\n")), &Limits::default()).unwrap()
}

fn udp() -> LocalAddr {
    LocalAddr::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap())
}

fn tls() -> LocalAddr {
    LocalAddr::new(TransportKind::Tls, "[2001:db8::1]:5061".parse().unwrap())
}

/// An INVITE as received by the UAS, after two record-routing proxies.
const INVITE: &str = "INVITE sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP p2.example.net;branch=z9hG4bKp2
Via: SIP/2.0/UDP p1.example.net;branch=z9hG4bKp1
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1;rport
Max-Forwards: 68
Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>
Record-Route: <sip:p0.example.net;lr>
From: \"Alice A\" <sip:alice@example.com>;tag=a-tag;x=y
To: Bob <sip:bob@example.net>
Call-ID: call-1@198.51.100.7
CSeq: 4711 INVITE
Contact: <sip:alice@198.51.100.7:5062;transport=udp>;expires=60
Content-Length: 0

";

/// A 200 to the INVITE a UAC sent, as received back through the proxies.
const OK: &str = "SIP/2.0 200 OK
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1;rport=5060
Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>
Record-Route: <sip:p0.example.net;lr>
From: \"Alice A\" <sip:alice@example.com>;tag=a-tag;x=y
To: Bob <sip:bob@example.net>;tag=b-tag
Call-ID: call-1@198.51.100.7
CSeq: 4711 INVITE
Contact: <sip:bob@203.0.113.5:5080>
Content-Length: 0

";

#[test]
fn uas_dialog_follows_12_1_1() {
    let invite = parse(INVITE);
    let d = Dialog::uas(&invite, "b-tag", udp()).unwrap();
    assert_eq!(d.call_id, "call-1@198.51.100.7");
    assert_eq!(d.local_tag, "b-tag");
    assert_eq!(d.remote_tag, "a-tag");
    // From/To without tag, other parameters kept.
    assert_eq!(d.remote_uri, "\"Alice A\" <sip:alice@example.com>;x=y");
    assert_eq!(d.local_uri, "\"Bob\" <sip:bob@example.net>");
    assert_eq!(d.remote_seq, Some(4711));
    assert_eq!(d.local_seq, 0);
    // Remote target is the Contact URI (header params like expires dropped).
    assert_eq!(d.remote_target, "sip:alice@198.51.100.7:5062;transport=udp");
    // Route set = Record-Route in order, across lines, params kept.
    assert_eq!(
        d.route_set,
        [
            "<sip:p2.example.net;lr>",
            "<sip:p1.example.net;lr;ftag=x>",
            "<sip:p0.example.net;lr>"
        ]
    );
    assert!(!d.secure);
    assert_eq!(d.local, udp());
    // Requests go towards the first route, its URI without <>.
    assert_eq!(d.next_hop(), "sip:p2.example.net;lr");
}

#[test]
fn uac_dialog_follows_12_1_2() {
    // The request as we sent it: no Record-Route, no To tag.
    let request = parse(
        &INVITE
            .replace(
                "Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>\n",
                "",
            )
            .replace("Record-Route: <sip:p0.example.net;lr>\n", ""),
    );
    let ok = parse(OK);
    let d = Dialog::uac(&request, &ok, udp()).unwrap();
    assert_eq!(d.call_id, "call-1@198.51.100.7");
    assert_eq!(d.local_tag, "a-tag");
    assert_eq!(d.remote_tag, "b-tag");
    assert_eq!(d.local_uri, "\"Alice A\" <sip:alice@example.com>;x=y");
    assert_eq!(d.remote_uri, "\"Bob\" <sip:bob@example.net>");
    assert_eq!(d.local_seq, 4711);
    assert_eq!(d.remote_seq, None);
    assert_eq!(d.remote_target, "sip:bob@203.0.113.5:5080");
    // Reversed.
    assert_eq!(
        d.route_set,
        [
            "<sip:p0.example.net;lr>",
            "<sip:p1.example.net;lr;ftag=x>",
            "<sip:p2.example.net;lr>"
        ]
    );
    assert_eq!(d.key(), DialogKey::of_incoming_response(&ok).unwrap());
}

#[test]
fn a_2xx_alone_makes_the_same_uac_dialog() {
    // A fork's late 2xx: the INVITE is gone, the response echoes what matters.
    let request = parse(
        &INVITE
            .replace(
                "Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>\n",
                "",
            )
            .replace("Record-Route: <sip:p0.example.net;lr>\n", ""),
    );
    let ok = parse(OK);
    let full = Dialog::uac(&request, &ok, udp()).unwrap();
    let alone = Dialog::uac_from_response(&ok, udp()).unwrap();
    assert_eq!(alone, full);
    // Not for a provisional or a failure: neither needs an ACK of ours.
    let ringing = parse(&OK.replace("200 OK", "180 Ringing"));
    assert_eq!(
        Dialog::uac_from_response(&ringing, udp()),
        Err(DialogError::NotDialogCreating { status: 180 })
    );
}

#[test]
fn early_dialog_from_180_then_confirmed_by_200() {
    let request = parse(INVITE);
    let ringing = parse(
        &OK.replace("200 OK", "180 Ringing")
            .replace("<sip:bob@203.0.113.5:5080>", "<sip:early@203.0.113.5:5080>")
            .replace("Record-Route: <sip:p0.example.net;lr>\n", ""),
    );
    let mut d = Dialog::uac(&request, &ringing, udp()).unwrap();
    assert_eq!(d.remote_target, "sip:early@203.0.113.5:5080");
    assert_eq!(d.route_set.len(), 2);
    assert_eq!(d.next_hop(), "sip:p1.example.net;lr;ftag=x");
    d.route_set.clear();
    assert_eq!(
        d.next_hop(),
        "sip:early@203.0.113.5:5080",
        "no route set: the remote target"
    );
    // §13.2.2.4: the 2xx recomputes the route set; its Contact is the target.
    d.confirm(&parse(OK)).unwrap();
    assert_eq!(d.remote_target, "sip:bob@203.0.113.5:5080");
    assert_eq!(d.route_set[0], "<sip:p0.example.net;lr>");
    assert_eq!(d.route_set.len(), 3);
    assert_eq!(
        d.confirm(&ringing),
        Err(DialogError::NotDialogCreating { status: 180 })
    );
}

#[test]
fn uac_refuses_responses_that_create_no_dialog() {
    let request = parse(INVITE);
    let trying = parse(&OK.replace("200 OK", "100 Trying"));
    assert_eq!(
        Dialog::uac(&request, &trying, udp()),
        Err(DialogError::NotDialogCreating { status: 100 })
    );
    let busy = parse(&OK.replace("200 OK", "486 Busy Here"));
    assert_eq!(
        Dialog::uac(&request, &busy, udp()),
        Err(DialogError::NotDialogCreating { status: 486 })
    );
    let no_tag = parse(&OK.replace(";tag=b-tag", ""));
    assert_eq!(
        Dialog::uac(&request, &no_tag, udp()),
        Err(DialogError::NoToTag)
    );
    let no_contact = parse(&OK.replace("Contact: <sip:bob@203.0.113.5:5080>\n", ""));
    assert_eq!(
        Dialog::uac(&request, &no_contact, udp()),
        Err(DialogError::NoContact)
    );
    let other_call = parse(&OK.replace("Call-ID: call-1", "Call-ID: call-2"));
    assert_eq!(
        Dialog::uac(&request, &other_call, udp()),
        Err(DialogError::ResponseMismatch)
    );
    let other_cseq = parse(&OK.replace("CSeq: 4711", "CSeq: 4712"));
    assert_eq!(
        Dialog::uac(&request, &other_cseq, udp()),
        Err(DialogError::ResponseMismatch)
    );
    assert_eq!(
        Dialog::uac(&parse(OK), &parse(OK), udp()),
        Err(DialogError::WrongKind {
            expected: "request"
        })
    );
    assert_eq!(
        Dialog::uac(&request, &request, udp()),
        Err(DialogError::WrongKind {
            expected: "response"
        })
    );
}

#[test]
fn uas_refuses_what_it_cannot_build_a_dialog_from() {
    let no_contact = parse(&INVITE.replace(
        "Contact: <sip:alice@198.51.100.7:5062;transport=udp>;expires=60\n",
        "",
    ));
    assert_eq!(
        Dialog::uas(&no_contact, "t", udp()),
        Err(DialogError::NoContact)
    );
    let star = parse(&INVITE.replace(
        "<sip:alice@198.51.100.7:5062;transport=udp>;expires=60",
        "*",
    ));
    assert_eq!(
        Dialog::uas(&star, "t", udp()),
        Err(DialogError::Invalid(Invalid::Malformed(
            HeaderName::Contact
        )))
    );
    let no_from_tag = parse(&INVITE.replace(";tag=a-tag", ""));
    assert_eq!(
        Dialog::uas(&no_from_tag, "t", udp()),
        Err(DialogError::NoFromTag)
    );
    let bad_rr = parse(&INVITE.replace("<sip:p0.example.net;lr>", "<sip:p0 broken"));
    assert_eq!(
        Dialog::uas(&bad_rr, "t", udp()),
        Err(DialogError::Invalid(Invalid::Malformed(
            HeaderName::RecordRoute
        )))
    );
    assert_eq!(
        Dialog::uas(&parse(OK), "t", udp()),
        Err(DialogError::WrongKind {
            expected: "request"
        })
    );
}

#[test]
fn secure_only_for_sips_over_tls() {
    let sips = parse(&INVITE.replace("INVITE sip:bob@192.0.2.1", "INVITE sips:bob@example.net"));
    assert!(Dialog::uas(&sips, "t", tls()).unwrap().secure);
    assert!(!Dialog::uas(&sips, "t", udp()).unwrap().secure);
    assert!(!Dialog::uas(&parse(INVITE), "t", tls()).unwrap().secure);
    // §12.1.1: the top Record-Route counts too, a lower one does not.
    let top = parse(&INVITE.replace("<sip:p2.example.net;lr>", "<sips:p2.example.net;lr>"));
    assert!(Dialog::uas(&top, "t", tls()).unwrap().secure);
    let lower = parse(&INVITE.replace("<sip:p0.example.net;lr>", "<sips:p0.example.net;lr>"));
    assert!(!Dialog::uas(&lower, "t", tls()).unwrap().secure);
}

fn in_dialog(method: &str, cseq: u32) -> Message {
    parse(&format!(
        "{method} sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK{method}{cseq}
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a-tag
To: <sip:bob@example.net>;tag=b-tag
Call-ID: call-1@198.51.100.7
CSeq: {cseq} {method}
Contact: <sip:alice@198.51.100.99:5099>
Content-Length: 0

"
    ))
}

#[test]
fn key_of_incoming_request_is_call_id_and_to_tag() {
    let bye = in_dialog("BYE", 4712);
    let d = Dialog::uas(&parse(INVITE), "b-tag", udp()).unwrap();
    assert_eq!(DialogKey::of_incoming_request(&bye), Some(d.key()));
    assert_eq!(DialogKey::of_incoming_request(&parse(INVITE)), None);
    assert_eq!(DialogKey::of_incoming_request(&parse(OK)), None);
    assert_eq!(DialogKey::of_incoming_response(&bye), None);
}

#[test]
fn cseq_ordering_12_2_2() {
    let mut d = Dialog::uas(&parse(INVITE), "b-tag", udp()).unwrap();
    // Higher: accepted and recorded.
    d.check_request(&in_dialog("INFO", 4712)).unwrap();
    assert_eq!(d.remote_seq, Some(4712));
    // Gaps are allowed (requests may be lost or fail upstream).
    d.check_request(&in_dialog("UPDATE", 4720)).unwrap();
    assert_eq!(d.remote_seq, Some(4720));
    // Lower: out of order, 500.
    assert_eq!(
        d.check_request(&in_dialog("BYE", 4713)),
        Err(DialogError::OutOfOrder {
            cseq: 4713,
            last: 4720
        })
    );
    assert_eq!(d.remote_seq, Some(4720));
    // Equal is not "lower" (a retransmission the transaction layer missed).
    d.check_request(&in_dialog("BYE", 4720)).unwrap();
    // ACK and CANCEL reuse an older number: not checked.
    d.check_request(&in_dialog("ACK", 4711)).unwrap();
    d.check_request(&in_dialog("CANCEL", 4711)).unwrap();
    assert_eq!(d.remote_seq, Some(4720));
}

#[test]
fn first_request_sets_remote_seq_on_a_uac_dialog() {
    let mut d = Dialog::uac(&parse(INVITE), &parse(OK), udp()).unwrap();
    // On the UAC side we receive requests with From = b-tag, To = a-tag.
    let bye = parse(
        &in_dialog("BYE", 9)
            .raw()
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .replace("tag=a-tag", "tag=TMP")
            .replace("tag=b-tag", "tag=a-tag")
            .replace("tag=TMP", "tag=b-tag")
            .replace("\r\n", "\n"),
    );
    assert_eq!(d.remote_seq, None);
    d.check_request(&bye).unwrap();
    assert_eq!(d.remote_seq, Some(9));
    assert_eq!(
        d.check_request(&in_dialog("BYE", 10)),
        Err(DialogError::NotThisDialog),
        "tags the wrong way round"
    );
}

#[test]
fn requests_of_other_dialogs_are_refused() {
    let mut d = Dialog::uas(&parse(INVITE), "b-tag", udp()).unwrap();
    let raw = |m: Message| {
        String::from_utf8(m.raw().to_vec())
            .unwrap()
            .replace("\r\n", "\n")
    };
    let other_tag = parse(&raw(in_dialog("BYE", 5000)).replace("tag=b-tag", "tag=zzz"));
    assert_eq!(d.check_request(&other_tag), Err(DialogError::NotThisDialog));
    let other_remote = parse(&raw(in_dialog("BYE", 5000)).replace("tag=a-tag", "tag=zzz"));
    assert_eq!(
        d.check_request(&other_remote),
        Err(DialogError::NotThisDialog)
    );
    let other_call = parse(&raw(in_dialog("BYE", 5000)).replace("call-1@", "call-9@"));
    assert_eq!(
        d.check_request(&other_call),
        Err(DialogError::NotThisDialog)
    );
    assert_eq!(d.remote_seq, Some(4711), "nothing recorded");
}

#[test]
fn target_refresh_replaces_remote_target() {
    let mut d = Dialog::uas(&parse(INVITE), "b-tag", udp()).unwrap();
    let reinvite = in_dialog("INVITE", 4712);
    d.refresh_target(&reinvite);
    assert_eq!(d.remote_target, "sip:alice@198.51.100.99:5099");
    // No Contact (or an unusable one): unchanged.
    let info = parse(
        &String::from_utf8(in_dialog("INFO", 4713).raw().to_vec())
            .unwrap()
            .replace("\r\n", "\n")
            .replace("Contact: <sip:alice@198.51.100.99:5099>\n", ""),
    );
    d.refresh_target(&info);
    assert_eq!(d.remote_target, "sip:alice@198.51.100.99:5099");
    // A 2xx to our re-INVITE refreshes it too (UAC side).
    let mut uac = Dialog::uac(&parse(INVITE), &parse(OK), udp()).unwrap();
    uac.refresh_target(&parse(
        &OK.replace("bob@203.0.113.5:5080", "bob@203.0.113.6:5090"),
    ));
    assert_eq!(uac.remote_target, "sip:bob@203.0.113.6:5090");
}
