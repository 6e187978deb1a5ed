//! Requests built from a dialog (RFC 3261 §12.2.1.1 loose and strict
//! routing, §13.2.2.4 ACK for 2xx), the first request of a UAC leg
//! (§8.1.1) and its CANCEL, UAS responses (§12.1.1), and a UAC and a UAS
//! dialog from the same exchange accepting each other's requests.

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use voxgate_sip::TransportKind;
use voxgate_sip::dialog::{Dialog, DialogError, DialogKey, LocalAddr, NewRequest};
use voxgate_sip::ids::BRANCH_COOKIE;
use voxgate_sip::message::{
    HeaderName, Limits, Message, MessageBuilder, Method, StartLine, cancel_for,
};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.replace('\n', "\r\n")), &Limits::default()).unwrap()
}

fn built(b: MessageBuilder) -> Message {
    let m = b.build_message().unwrap();
    m.validate().unwrap();
    m
}

fn local(t: TransportKind, addr: &str) -> LocalAddr {
    LocalAddr::new(t, addr.parse().unwrap())
}

const INVITE: &str = "INVITE sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1;rport
Max-Forwards: 68
Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>
From: \"Alice A\" <sip:alice@example.com>;tag=a-tag
To: Bob <sip:bob@example.net>
Call-ID: call-1@198.51.100.7
CSeq: 4711 INVITE
Contact: <sip:alice@198.51.100.7:5062>
Content-Length: 0

";

fn uas() -> Dialog {
    Dialog::uas(
        &parse(INVITE),
        "b-tag",
        local(TransportKind::Udp, "192.0.2.1:5060"),
    )
    .unwrap()
}

fn branch(m: &Message) -> String {
    m.top_via().unwrap().branch().unwrap().to_owned()
}

fn routes(m: &Message) -> Vec<String> {
    m.header_values(HeaderName::Route)
        .map(str::to_owned)
        .collect()
}

#[test]
fn loose_routing_request_12_2_1_1() {
    let mut d = uas();
    let bye = built(d.request(Method::Bye));
    assert_eq!(bye.method(), Some(&Method::Bye));
    assert_eq!(bye.request_uri(), Some("sip:alice@198.51.100.7:5062"));
    assert_eq!(
        routes(&bye),
        ["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr;ftag=x>"]
    );
    let from = bye.from_header().unwrap();
    assert_eq!(from.uri, "sip:bob@example.net");
    assert_eq!(from.tag(), Some("b-tag"));
    let to = bye.to_header().unwrap();
    assert_eq!(to.uri, "sip:alice@example.com");
    assert_eq!(to.display, Some("Alice A"));
    assert_eq!(to.tag(), Some("a-tag"));
    assert_eq!(bye.call_id().unwrap(), "call-1@198.51.100.7");
    // A UAS dialog's first request is CSeq 1; its own space, not the INVITE's.
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert_eq!(bye.cseq().unwrap().method, Method::Bye);
    assert_eq!(bye.max_forwards().unwrap(), Some(70));
    let via = bye.top_via().unwrap();
    assert_eq!(via.transport, "UDP");
    assert_eq!(via.host, "192.0.2.1");
    assert_eq!(via.port, Some(5060));
    assert_eq!(via.rport(), Some(None));
    assert!(via.is_rfc3261_branch());
    // BYE is no target refresh: no Contact.
    assert_eq!(bye.header(HeaderName::Contact), None);
    assert!(bye.body().is_empty());
}

#[test]
fn cseq_increments_and_branches_are_fresh() {
    let mut d = uas();
    let a = built(d.request(Method::Info));
    let b = built(d.request(Method::Options));
    assert_eq!(a.cseq().unwrap().seq, 1);
    assert_eq!(b.cseq().unwrap().seq, 2);
    assert_eq!(d.local_seq, 2);
    assert_ne!(branch(&a), branch(&b));
    assert!(branch(&a).starts_with(BRANCH_COOKIE));
}

#[test]
fn target_refresh_requests_carry_our_contact() {
    let mut d = uas();
    for m in [
        Method::Invite,
        Method::Update,
        Method::Refer,
        Method::Notify,
    ] {
        let r = built(d.request(m.clone()));
        assert_eq!(
            r.contacts().next().unwrap().unwrap().uri,
            "sip:192.0.2.1:5060",
            "{m}"
        );
    }
    for m in [Method::Bye, Method::Info, Method::Prack, Method::Options] {
        assert_eq!(
            built(d.request(m.clone())).header(HeaderName::Contact),
            None,
            "{m}"
        );
    }
}

#[test]
fn ack_for_2xx_13_2_2_4() {
    let request = parse(&INVITE.replace(
        "Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>\n",
        "",
    ));
    let ok = parse(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1;rport=5060
Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr;ftag=x>
From: \"Alice A\" <sip:alice@example.com>;tag=a-tag
To: Bob <sip:bob@example.net>;tag=b-tag
Call-ID: call-1@198.51.100.7
CSeq: 4711 INVITE
Contact: <sip:bob@203.0.113.5:5080>
Content-Length: 0

",
    );
    let mut d = Dialog::uac(
        &request,
        &ok,
        local(TransportKind::Udp, "198.51.100.7:5060"),
    )
    .unwrap();
    let ack = built(d.ack(4711));
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri(), Some("sip:bob@203.0.113.5:5080"));
    assert_eq!(ack.cseq().unwrap().seq, 4711);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    assert_ne!(
        branch(&ack),
        "z9hG4bKa1",
        "a new branch: the ACK is its own transaction"
    );
    assert_eq!(
        routes(&ack),
        ["<sip:p1.example.net;lr;ftag=x>", "<sip:p2.example.net;lr>"]
    );
    assert_eq!(ack.to_header().unwrap().tag(), Some("b-tag"));
    assert_eq!(ack.header(HeaderName::Contact), None);
    assert!(ack.body().is_empty());
    assert_eq!(ack.content_length(), Some(0));
    // A body only when the caller adds one (offer in the ACK).
    let with_sdp = built(d.ack(4711).body("application/sdp", b"v=0\r\n"));
    assert_eq!(with_sdp.body(), b"v=0\r\n");
    // The ACK does not consume a CSeq number; request(Ack) is the same ACK.
    assert_eq!(d.local_seq, 4711);
    let ack2 = built(d.request(Method::Ack));
    assert_eq!(ack2.cseq().unwrap().seq, 4711);
    assert_eq!(d.local_seq, 4711);
    assert_eq!(built(d.request(Method::Bye)).cseq().unwrap().seq, 4712);
}

#[test]
fn strict_routing_12_2_1_1() {
    let mut d = uas();
    d.route_set = vec![
        "<sip:strict.example.net;maddr=192.0.2.50;method=INVITE?Subject=x>".to_owned(),
        "<sip:p1.example.net;lr>".to_owned(),
    ];
    let bye = built(d.request(Method::Bye));
    // The first route's URI, minus what a Request-URI may not carry.
    assert_eq!(
        bye.request_uri(),
        Some("sip:strict.example.net;maddr=192.0.2.50")
    );
    // The rest of the route set, then the remote target.
    assert_eq!(
        routes(&bye),
        ["<sip:p1.example.net;lr>", "<sip:alice@198.51.100.7:5062>"]
    );
    // A single strict route: Route is just the remote target.
    d.route_set = vec!["<sip:strict.example.net>".to_owned()];
    let ack = built(d.ack(d.local_seq));
    assert_eq!(ack.request_uri(), Some("sip:strict.example.net"));
    assert_eq!(routes(&ack), ["<sip:alice@198.51.100.7:5062>"]);
}

#[test]
fn no_route_set_no_route_header() {
    let mut d = uas();
    d.route_set.clear();
    let bye = built(d.request(Method::Bye));
    assert_eq!(bye.header(HeaderName::Route), None);
    assert_eq!(bye.request_uri(), Some("sip:alice@198.51.100.7:5062"));
}

#[test]
fn ipv6_and_tls_in_via_and_contact() {
    let mut d = uas();
    d.local = local(TransportKind::Tls, "[2001:db8::1]:5061");
    let re = built(d.request(Method::Invite));
    let via = re.top_via().unwrap();
    assert_eq!(via.transport, "TLS");
    assert_eq!(via.host, "[2001:db8::1]");
    assert_eq!(via.port, Some(5061));
    // The dialog was made by a `sip:` INVITE: TLS does not make it SIPS.
    assert_eq!(
        re.contacts().next().unwrap().unwrap().uri,
        "sip:[2001:db8::1]:5061;transport=tls"
    );
    d.local = local(TransportKind::Tcp, "[2001:db8::2]:5060");
    let up = built(d.request(Method::Update));
    assert_eq!(up.top_via().unwrap().transport, "TCP");
    assert_eq!(
        up.contacts().next().unwrap().unwrap().uri,
        "sip:[2001:db8::2]:5060;transport=tcp"
    );
}

#[test]
fn cancel_request_keeps_cseq() {
    let mut d = uas();
    let _ = d.request(Method::Invite);
    let cancel = built(d.request(Method::Cancel));
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(d.local_seq, 1);
}

#[test]
fn new_request_8_1_1_and_its_cancel() {
    let me = local(TransportKind::Udp, "192.0.2.1:5060");
    let (b, ids) = NewRequest {
        method: Method::Invite,
        request_uri: "sip:+15551234@203.0.113.5:5080",
        from: "sip:+15550000@voxgate.example.net",
        to: "\"Callee\" <sip:+15551234@carrier.example.com>",
        local: &me,
        max_forwards: 69,
    }
    .build();
    let invite = built(b.body("application/sdp", b"v=0\r\n"));
    assert_eq!(invite.request_uri(), Some("sip:+15551234@203.0.113.5:5080"));
    assert_eq!(invite.call_id().unwrap(), ids.call_id);
    assert!(
        !ids.call_id.contains('@'),
        "nothing of our topology in the Call-ID"
    );
    assert_eq!(
        invite.from_header().unwrap().tag(),
        Some(ids.from_tag.as_str())
    );
    assert_eq!(
        invite.from_header().unwrap().uri,
        "sip:+15550000@voxgate.example.net"
    );
    assert_eq!(invite.to_header().unwrap().tag(), None);
    assert_eq!(invite.to_header().unwrap().display, Some("Callee"));
    assert_eq!(ids.cseq, 1);
    assert_eq!(invite.cseq().unwrap().seq, 1);
    assert_eq!(invite.cseq().unwrap().method, Method::Invite);
    assert_eq!(invite.max_forwards().unwrap(), Some(69));
    assert_eq!(
        invite.contacts().next().unwrap().unwrap().uri,
        "sip:192.0.2.1:5060"
    );
    assert!(invite.top_via().unwrap().is_rfc3261_branch());
    // Each build chooses new identifiers.
    let (_, ids2) = NewRequest {
        method: Method::Options,
        request_uri: "sip:203.0.113.5",
        from: "<sip:voxgate@192.0.2.1>",
        to: "<sip:203.0.113.5>",
        local: &me,
        max_forwards: 70,
    }
    .build();
    assert_ne!(ids.call_id, ids2.call_id);
    assert_ne!(ids.from_tag, ids2.from_tag);

    // The transaction layer's CANCEL fits a dialog-less INVITE of ours.
    let cancel = Message::parse(cancel_for(&invite).unwrap(), &Limits::default()).unwrap();
    cancel.validate().unwrap();
    assert_eq!(cancel.request_uri(), invite.request_uri());
    assert_eq!(branch(&cancel), branch(&invite));
    assert_eq!(cancel.cseq().unwrap().seq, 1);
    assert_eq!(cancel.cseq().unwrap().method, Method::Cancel);
    assert_eq!(
        cancel.header(HeaderName::From),
        invite.header(HeaderName::From)
    );
    assert_eq!(cancel.header(HeaderName::To), invite.header(HeaderName::To));
    assert_eq!(cancel.call_id().unwrap(), ids.call_id);
    assert!(cancel.body().is_empty());
}

#[test]
fn uas_responses_12_1_1() {
    let invite = parse(INVITE);
    let d = uas();
    let src = Some("198.51.100.7:5060".parse().unwrap());
    for (status, reason) in [(180, "Ringing"), (200, "OK")] {
        let r = built(d.response(&invite, status, reason, src));
        assert_eq!(r.status(), Some(status));
        assert_eq!(r.to_header().unwrap().tag(), Some("b-tag"));
        // Record-Route copied, in order, with parameters.
        assert_eq!(
            r.header_values(HeaderName::RecordRoute).collect::<Vec<_>>(),
            ["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr;ftag=x>"]
        );
        assert_eq!(
            r.contacts().next().unwrap().unwrap().uri,
            "sip:192.0.2.1:5060"
        );
        assert_eq!(r.top_via().unwrap().rport(), Some(Some(5060)));
    }
    let busy = built(d.response(&invite, 486, "Busy Here", src));
    assert_eq!(busy.header(HeaderName::Contact), None);
    assert_eq!(busy.header(HeaderName::RecordRoute), None);
    assert_eq!(busy.to_header().unwrap().tag(), Some("b-tag"));
    // In-dialog: no Record-Route; Contact only for target refreshes.
    let bye = parse(
        "BYE sip:bob@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKbye
Max-Forwards: 70
Record-Route: <sip:p2.example.net;lr>
From: <sip:alice@example.com>;tag=a-tag
To: <sip:bob@example.net>;tag=b-tag
Call-ID: call-1@198.51.100.7
CSeq: 4712 BYE
Content-Length: 0

",
    );
    let ok = built(d.response(&bye, 200, "OK", src));
    assert_eq!(ok.header(HeaderName::Contact), None);
    assert_eq!(ok.header(HeaderName::RecordRoute), None);
    assert_eq!(ok.to_header().unwrap().tag(), Some("b-tag"));
}

/// A calls B through two record-routing proxies; every request each side
/// builds is accepted by the other side's dialog.
#[test]
fn uac_and_uas_dialogs_accept_each_other() {
    let a_addr = local(TransportKind::Udp, "198.51.100.7:5060");
    let b_addr = local(TransportKind::Tcp, "[2001:db8::5]:5080");
    let (inv, _) = NewRequest {
        method: Method::Invite,
        request_uri: "sip:bob@example.net",
        from: "\"Alice\" <sip:alice@example.com>",
        to: "<sip:bob@example.net>",
        local: &a_addr,
        max_forwards: 70,
    }
    .build();
    let sent = built(inv.clone());
    // What B receives: the proxies added Record-Route (p1 first in path,
    // so p2's value is on top).
    let received = built(
        inv.header(HeaderName::RecordRoute, "<sip:p2.example.net;lr>")
            .header(HeaderName::RecordRoute, "<sip:p1.example.net;lr>"),
    );
    let b_tag = voxgate_sip::ids::new_tag();
    let mut b = Dialog::uas(&received, &b_tag, b_addr).unwrap();
    let ok = built(b.response(&received, 200, "OK", None));
    let mut a = Dialog::uac(&sent, &ok, a_addr).unwrap();

    // Each side's route set leads to the other through the same proxies.
    let mut reversed = b.route_set.clone();
    reversed.reverse();
    assert_eq!(a.route_set, reversed);
    assert_eq!(a.remote_target, "sip:[2001:db8::5]:5080;transport=tcp");
    assert_eq!(b.remote_target, "sip:198.51.100.7:5060");
    assert_eq!(a.call_id, b.call_id);
    assert_eq!((&a.local_tag, &a.remote_tag), (&b.remote_tag, &b.local_tag));

    // ACK from A: B finds and accepts it.
    let ack = built(a.ack(1));
    assert_eq!(DialogKey::of_incoming_request(&ack), Some(b.key()));
    b.check_request(&ack).unwrap();

    // re-INVITE from A (target refresh), then B's INFO, then A's BYE.
    let reinvite = built(a.request(Method::Invite));
    assert_eq!(reinvite.cseq().unwrap().seq, 2);
    assert_eq!(DialogKey::of_incoming_request(&reinvite), Some(b.key()));
    b.check_request(&reinvite).unwrap();
    b.refresh_target(&reinvite);
    assert_eq!(b.remote_target, "sip:198.51.100.7:5060");
    assert_eq!(b.remote_seq, Some(2));

    let info1 = built(b.request(Method::Info));
    let info2 = built(b.request(Method::Info));
    assert_eq!(DialogKey::of_incoming_request(&info2), Some(a.key()));
    assert_eq!(info2.request_uri(), Some("sip:198.51.100.7:5060"));
    a.check_request(&info2).unwrap();
    // The earlier one overtaken in the network: out of order for A.
    assert_eq!(
        a.check_request(&info1),
        Err(DialogError::OutOfOrder { cseq: 1, last: 2 })
    );

    let bye = built(a.request(Method::Bye));
    assert_eq!(bye.cseq().unwrap().seq, 3);
    assert_eq!(
        bye.request_uri(),
        Some("sip:[2001:db8::5]:5080;transport=tcp")
    );
    assert_eq!(
        routes(&bye),
        ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    b.check_request(&bye).unwrap();
    // B's response to the BYE is one A's client transaction would match.
    let bye_ok = built(b.response(&bye, 200, "OK", None));
    assert_eq!(bye_ok.cseq().unwrap(), bye.cseq().unwrap());
    assert_eq!(branch(&bye_ok), branch(&bye));
    assert_eq!(DialogKey::of_incoming_response(&bye_ok), Some(a.key()));
}

#[test]
fn built_requests_round_trip_the_dialog_values() {
    let mut d = uas();
    let r = built(d.request(Method::Update));
    let StartLine::Request { method, .. } = r.start_line() else {
        panic!("a request");
    };
    assert_eq!(*method, Method::Update);
    // From/To parse back to exactly the dialog's values plus the tags.
    assert_eq!(
        r.header(HeaderName::From).unwrap(),
        format!("{};tag={}", d.local_uri, d.local_tag)
    );
    assert_eq!(
        r.header(HeaderName::To).unwrap(),
        format!("{};tag={}", d.remote_uri, d.remote_tag)
    );
    // A dialog rebuilt (UAS view) from our request mirrors ours.
    let mirror = Dialog::uas(&r, "x", d.local.clone()).unwrap();
    assert_eq!(mirror.remote_uri, d.local_uri);
    assert_eq!(mirror.local_uri, d.remote_uri);
    assert_eq!(mirror.remote_tag, d.local_tag);
    assert_eq!(mirror.remote_seq, Some(d.local_seq));
    assert_eq!(mirror.remote_target, d.local.uri(None));
}

/// The INVITE of a caller over TLS (as baresip sends it) to Request-URI `uri`.
fn tls_invite(uri: &str) -> Message {
    parse(&format!(
        "INVITE {uri} SIP/2.0
Via: SIP/2.0/TLS 198.51.100.7:5063;branch=z9hG4bKt1;rport
Max-Forwards: 70
From: <sip:caller@198.51.100.7:5062>;tag=a-tag
To: <{uri}>
Call-ID: tls-1
CSeq: 20057 INVITE
Contact: <sip:caller@198.51.100.7:5063;transport=tls>
Content-Length: 0

"
    ))
}

fn contact_uri(m: &Message) -> String {
    m.contacts().next().unwrap().unwrap().uri.to_owned()
}

/// RFC 5630 §3.1.3, §5.1.2: a `sip:` INVITE over TLS gets a `sip:` Contact
/// (with transport=tls, where the caller's ACK and BYE go) in our 18x/2xx
/// and in our target refreshes; a `sips:` one gets `sips:` (RFC 3261
/// §12.1.1), for the dialog's lifetime.
#[test]
fn uas_over_tls_contact_scheme_follows_the_invite() {
    let me = local(TransportKind::Tls, "192.0.2.1:5061");
    for (uri, secure, contact) in [
        (
            "sip:1000@192.0.2.1:5061;transport=tls",
            false,
            "sip:192.0.2.1:5061;transport=tls",
        ),
        ("sips:1000@192.0.2.1:5061", true, "sips:192.0.2.1:5061"),
    ] {
        let invite = tls_invite(uri);
        // What the caller passes does not matter: the INVITE decides.
        for given in [
            me.clone(),
            LocalAddr {
                sips: !secure,
                ..me.clone()
            },
        ] {
            let mut d = Dialog::uas(&invite, "b-tag", given).unwrap();
            assert_eq!(d.secure, secure, "{uri}");
            assert_eq!(d.local.sips, secure, "{uri}");
            for status in [180, 200] {
                let r = built(d.response(&invite, status, "x", None));
                assert_eq!(contact_uri(&r), contact, "{uri} {status}");
            }
            let reinvite = built(d.request(Method::Invite));
            assert_eq!(contact_uri(&reinvite), contact, "{uri} re-INVITE");
            assert_eq!(reinvite.top_via().unwrap().transport, "TLS");
            // The caller's own Contact is where our requests go, unchanged.
            assert_eq!(
                reinvite.request_uri(),
                Some("sip:caller@198.51.100.7:5063;transport=tls")
            );
        }
    }
}

/// Our INVITE over TLS (RFC 3261 §8.1.1.8, RFC 5630 §5.1.1.2): Contact
/// `sips:` for a `sips:` Request-URI, `sip:...;transport=tls` for a `sip:`
/// one; the UAC dialog from its 2xx keeps that scheme in target refreshes.
/// Over TCP and UDP a `sips:` destination changes nothing.
#[test]
fn uac_contact_scheme_follows_the_request_uri() {
    let cases = [
        (
            TransportKind::Tls,
            "sip:agent@203.0.113.5:5061;transport=tls",
            false,
            "sip:192.0.2.1:5061;transport=tls",
        ),
        (
            TransportKind::Tls,
            "sips:agent@203.0.113.5:5061",
            true,
            "sips:192.0.2.1:5061",
        ),
        (
            TransportKind::Tcp,
            "sips:agent@203.0.113.5:5061",
            false,
            "sip:192.0.2.1:5061;transport=tcp",
        ),
        (
            TransportKind::Udp,
            "sips:agent@203.0.113.5:5061",
            false,
            "sip:192.0.2.1:5061",
        ),
    ];
    for (t, uri, secure, contact) in cases {
        let me = local(t, "192.0.2.1:5061");
        let (b, _) = NewRequest {
            method: Method::Invite,
            request_uri: uri,
            from: "<sip:alice@192.0.2.1>",
            to: uri,
            local: &me,
            max_forwards: 70,
        }
        .build();
        let invite = built(b);
        assert_eq!(contact_uri(&invite), contact, "{t:?} {uri}");
        let ok = parse(&format!(
            "SIP/2.0 200 OK
Via: {}
From: {}
To: <{uri}>;tag=b-tag
Call-ID: {}
CSeq: 1 INVITE
Contact: <{uri}>
Content-Length: 0

",
            invite.header(HeaderName::Via).unwrap(),
            invite.header(HeaderName::From).unwrap(),
            invite.call_id().unwrap(),
        ));
        let mut d = Dialog::uac(&invite, &ok, me.clone()).unwrap();
        assert_eq!(d.secure, secure, "{t:?} {uri}");
        let reinvite = built(d.request(Method::Invite));
        assert_eq!(contact_uri(&reinvite), contact, "{t:?} {uri} re-INVITE");
    }
}

/// RFC 3261 §8.1.1.8: a `sips:` top Route makes a UAC dialog SIPS even with
/// a `sip:` Request-URI.
#[test]
fn uac_sips_top_route_makes_the_dialog_secure() {
    let me = local(TransportKind::Tls, "192.0.2.1:5061");
    let invite = parse(
        "INVITE sip:agent@203.0.113.5 SIP/2.0
Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKr1;rport
Max-Forwards: 70
Route: <sips:edge.example.net;lr>
From: <sip:alice@192.0.2.1>;tag=a-tag
To: <sip:agent@203.0.113.5>
Call-ID: route-1
CSeq: 1 INVITE
Contact: <sips:192.0.2.1:5061>
Content-Length: 0

",
    );
    let ok = parse(
        "SIP/2.0 200 OK
Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKr1;rport
From: <sip:alice@192.0.2.1>;tag=a-tag
To: <sip:agent@203.0.113.5>;tag=b-tag
Call-ID: route-1
CSeq: 1 INVITE
Contact: <sips:agent@203.0.113.5>
Content-Length: 0

",
    );
    let mut d = Dialog::uac(&invite, &ok, me).unwrap();
    assert!(d.secure);
    assert_eq!(
        contact_uri(&built(d.request(Method::Update))),
        "sips:192.0.2.1:5061"
    );
}
