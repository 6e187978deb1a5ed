//! Header rules and trust on everything a call carries across (issue 12
//! item 2): `pass` on the INVITE, the callee's responses back to the caller
//! (18x, 2xx, the final error), in-dialog requests both ways with their
//! responses, and BYE.

use super::*;

/// The test config with `carrier` lines after the carrier trunk's allow-list
/// and `pbx` lines after the PBX's (keys, then `[trunk.inbound]` or
/// `[trunk.outbound]` tables).
fn config(carrier: &str, pbx: &str) -> String {
    let base = BASE_CONFIG
        .replace(
            "allow = [\"198.51.100.0/24\"]\n",
            &format!("allow = [\"198.51.100.0/24\"]\n{carrier}\n"),
        )
        .replace(
            "allow = [\"203.0.113.0/24\"]\n",
            &format!("allow = [\"203.0.113.0/24\"]\n{pbx}\n"),
        );
    format!("{base}\n{CALLS}")
}

/// The carrier's INVITE with `extra` headers, connected to B1.
fn call(carrier: &str, pbx: &str, extra: &str) -> (Harness, BSide) {
    call_to(carrier, pbx, extra, &[B1])
}

/// The same, connected to `uris` in turn.
fn call_to(carrier: &str, pbx: &str, extra: &str, uris: &[&str]) -> (Harness, BSide) {
    let (mut h, _) = Harness::with_config(
        &config(carrier, pbx),
        a_invite(Some(SDP_A), extra),
        udp(A_ADDR),
    );
    let (b, _) = h.connected(uris);
    (h, b)
}

/// The same call, answered by B and ACKed by A.
fn established(carrier: &str, pbx: &str) -> (Harness, BSide) {
    let (mut h, b) = call(carrier, pbx, "");
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.confirmed());
    (h, b)
}

/// Every value of header `name` in `msg`.
fn values<'m>(msg: &'m Message, name: &str) -> Vec<&'m str> {
    msg.headers()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
        .collect()
}

const PBX_PAI: &str = "P-Asserted-Identity: <sip:+15550100@pbx.example>\r\n";

// ---- pass on the INVITE ----

#[test]
fn extension_headers_stay_behind_unless_passed() {
    let extra = "X-Account: 42\r\nUser-to-User: 04fa;encoding=hex\r\nSubject: hi\r\n";
    let (_, b) = call("", "", extra);
    for name in ["X-Account", "User-to-User", "Subject"] {
        assert!(values(&b.invite.msg, name).is_empty(), "{name} passed");
    }
    let (_, b) = call(
        "[trunk.inbound]\npass = [\"X-*\", \"User-to-User\"]",
        "",
        extra,
    );
    let m = &b.invite.msg;
    assert_eq!(values(m, "X-Account"), ["42"]);
    assert_eq!(values(m, "User-to-User"), ["04fa;encoding=hex"]);
    assert!(values(m, "Subject").is_empty());
}

#[test]
fn the_callees_trunk_may_ask_for_them_too() {
    let (_, b) = call(
        "",
        "[trunk.outbound]\npass = [\"Subject\"]",
        "s: hi\r\nX-A: 1\r\n",
    );
    // A compact name is carried in its long form.
    assert_eq!(values(&b.invite.msg, "Subject"), ["hi"]);
    assert!(values(&b.invite.msg, "X-A").is_empty());
}

#[test]
fn a_prefix_passes_neither_leg_headers_nor_identity_past_trust() {
    let extra = "Supported: 100rel, timer, x-secret\r\nSubscription-State: active\r\n\
                 P-Charging-Vector: icid-value=1\r\n";
    // The carrier is untrusted: its P-Asserted-Identity stays behind however
    // `pass` is written; voxgate's own Supported and no Subscription-State.
    let (_, b) = call("[trunk.inbound]\npass = [\"Su*\", \"P-*\"]", "", extra);
    let m = &b.invite.msg;
    assert_eq!(values(m, "P-Charging-Vector"), ["icid-value=1"]);
    assert!(values(m, "P-Asserted-Identity").is_empty());
    assert!(values(m, "Subscription-State").is_empty());
    assert!(!text(m).contains("x-secret"), "{}", text(m));
}

// ---- responses to the INVITE ----

#[test]
fn a_trusted_callees_connected_identity_reaches_the_caller() {
    let (mut h, b) = call("", "trusted = true", "");
    let out = h.feed(b.response(180, PBX_PAI, None));
    let (_, ringing) = out.response(180);
    assert_eq!(
        values(ringing, "P-Asserted-Identity"),
        ["<sip:+15550100@pbx.example>"]
    );
    // RFC 3325 §5: the callee asks not to be identified; the caller's trunk
    // is not trusted, so it learns of the privacy but not the identity.
    let out = h.feed(b.response(200, &format!("{PBX_PAI}Privacy: id\r\n"), Some(SDP_B)));
    let (_, ok) = out.response(200);
    assert!(values(ok, "P-Asserted-Identity").is_empty(), "{}", text(ok));
    assert_eq!(values(ok, "Privacy"), ["id"]);
}

#[test]
fn an_untrusted_callees_identity_stays_behind() {
    let (mut h, b) = call("trusted = true", "", "");
    let out = h.feed(b.response(200, PBX_PAI, Some(SDP_B)));
    let (_, ok) = out.response(200);
    assert!(values(ok, "P-Asserted-Identity").is_empty());
    assert_hidden(ok, B_SECRETS);
}

#[test]
fn rules_act_on_responses_but_not_the_callers_identity_rules() {
    let (mut h, b) = call(
        "[trunk.outbound]\nadd = { X-Side = \"{{ trunk }}:{{ from_trunk }}>{{ to_trunk }}:{{ callee }}\" }\n\
         pai = \"<sip:{{ caller }}@asserted.example>\"\nprivacy = \"none\"",
        "trusted = true\n[trunk.inbound]\nrewrite = { P-Asserted-Identity = \"{{ value }};x=1\" }\n\
         pass = [\"X-*\"]",
        "",
    );
    let out = h.feed(b.response(183, &format!("{PBX_PAI}X-Progress: early\r\n"), Some(SDP_B)));
    let (_, early) = out.response(183);
    assert_eq!(values(early, "X-Progress"), ["early"]);
    let out = h.feed(b.response(200, PBX_PAI, Some(SDP_B)));
    let (_, ok) = out.response(200);
    // The callee's identity, rewritten by its trunk's inbound rules; the
    // carrier's `pai` and `privacy` speak for the caller, not on responses.
    assert_eq!(
        values(ok, "P-Asserted-Identity"),
        ["<sip:+15550100@pbx.example>;x=1"]
    );
    assert!(values(ok, "Privacy").is_empty());
    assert_eq!(values(ok, "X-Side"), ["carrier:carrier>pbx:+15550100"]);
}

#[test]
fn the_final_error_carries_the_callees_headers() {
    let (mut h, b) = call(
        "",
        "trusted = true\n[trunk.inbound]\npass = [\"X-*\"]\nremove = [\"X-Internal\"]",
        "",
    );
    let out = h.feed(b.response(
        486,
        &format!("{PBX_PAI}X-Cause: busy-here\r\nX-Internal: 10.2.2.2\r\n"),
        None,
    ));
    let (tx, busy) = out.response(486);
    assert_eq!(tx, h.a_tx);
    assert_eq!(values(busy, "X-Cause"), ["busy-here"]);
    assert_eq!(
        values(busy, "P-Asserted-Identity"),
        ["<sip:+15550100@pbx.example>"]
    );
    assert_hidden(busy, &["10.2.2."]);
}

#[test]
fn a_failover_carries_only_the_last_answer() {
    let (mut h, b) = call_to("", "[trunk.inbound]\npass = [\"X-*\"]", "", &[B1, B2]);
    let out = h.feed(b.response(503, "X-First: 1\r\n", None));
    let second = BSide::new(out.sent(Method::Invite));
    let out = h.feed(second.response(404, "X-Second: 2\r\n", None));
    let (_, refused) = out.response(404);
    assert!(values(refused, "X-First").is_empty());
    assert_eq!(values(refused, "X-Second"), ["2"]);
}

// ---- in-dialog requests ----

#[test]
fn in_dialog_requests_pass_the_rules_of_their_direction() {
    let (mut h, mut b) = established(
        "[trunk.inbound]\npass = [\"X-*\"]\npai = \"<sip:{{ caller }}@asserted.example>\"",
        "[trunk.outbound]\nadd = { X-To = \"{{ trunk }}\" }",
    );
    // Caller to callee: the carrier's inbound, then the PBX's outbound rules.
    let info = h.a_request("INFO", "X-Foo: 1\r\n", Some(("application/x-a", "a")));
    let (tx, out) = h.a_sends(info);
    let to_b = out.sent(Method::Info);
    assert_eq!(values(&to_b.msg, "X-Foo"), ["1"]);
    assert_eq!(values(&to_b.msg, "X-To"), ["pbx"]);
    assert_eq!(
        values(&to_b.msg, "P-Asserted-Identity"),
        ["<sip:+15551234@asserted.example>"]
    );
    // Its answer comes from the callee: none of that trunk's rules pass X-.
    let out = h.b_answers(&to_b, 200, "X-Resp: 1\r\n", None);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(values(ok, "X-Resp").is_empty());
    assert!(values(ok, "P-Asserted-Identity").is_empty());

    // Callee to caller: nothing passes X- that way.
    let info = b.request("INFO", "X-Bar: 2\r\n", Some(("application/x-b", "b")));
    let (_, out) = h.b_sends(info);
    let to_a = out.sent(Method::Info);
    assert!(values(&to_a.msg, "X-Bar").is_empty());
    assert!(values(&to_a.msg, "P-Asserted-Identity").is_empty());
    // ... but the caller's answer to it goes the caller's way.
    let response = respond(&to_a.msg, 200, "atag", "X-Back: 3\r\n", None);
    let out = h.feed(Input::Response {
        tx: to_a.tx,
        response,
    });
    let (_, ok) = out.response(200);
    assert_eq!(values(ok, "X-Back"), ["3"]);
    assert_eq!(values(ok, "X-To"), ["pbx"]);
}

#[test]
fn a_reinvite_and_its_answer_carry_headers_both_ways() {
    let (mut h, _) = established(
        "[trunk.inbound]\npass = [\"X-*\"]",
        "trusted = true\n[trunk.inbound]\npass = [\"X-*\"]",
    );
    let reinvite = h.a_request(
        "INVITE",
        "X-Hold: yes\r\n",
        Some(("application/sdp", SDP_A_HOLD)),
    );
    let (tx, out) = h.a_sends(reinvite);
    let to_b = out.sent(Method::Invite);
    assert_eq!(values(&to_b.msg, "X-Hold"), ["yes"]);
    let out = h.b_answers(
        &to_b,
        200,
        &format!("{PBX_PAI}X-Held: ok\r\n"),
        Some(SDP_B_RECVONLY),
    );
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert_eq!(values(ok, "X-Held"), ["ok"]);
    assert_eq!(
        values(ok, "P-Asserted-Identity"),
        ["<sip:+15550100@pbx.example>"]
    );
}

#[test]
fn a_bye_carries_what_its_direction_allows() {
    let (mut h, _) = established("[trunk.inbound]\npass = [\"X-*\", \"Reason\"]", "");
    let bye = h.a_request(
        "BYE",
        "X-Why: done\r\nReason: Q.850;cause=16\r\nUser-Agent: carrier-sbc\r\n",
        None,
    );
    let (_, out) = h.a_sends(bye);
    let to_b = out.sent(Method::Bye);
    assert_eq!(values(&to_b.msg, "X-Why"), ["done"]);
    assert_eq!(values(&to_b.msg, "Reason"), ["Q.850;cause=16"]);
    assert!(values(&to_b.msg, "User-Agent").is_empty());
}

#[test]
fn a_bye_between_trunks_without_rules_carries_nothing() {
    let (mut h, _) = established("", "");
    let bye = h.a_request("BYE", "X-Why: done\r\n", None);
    let (_, out) = h.a_sends(bye);
    let to_b = out.sent(Method::Bye);
    assert!(values(&to_b.msg, "X-Why").is_empty());
    assert_hidden(&to_b.msg, A_SECRETS);
}
