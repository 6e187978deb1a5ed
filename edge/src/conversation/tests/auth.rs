//! Digest challenges (401/407) to the requests voxgate sends on a trunk with
//! credentials: answered once with the next CSeq in a new transaction, a
//! second challenge failing the request.

use super::*;

const PASSWORD: &str = "s3cret-pw";

/// The test config with trunk `pbx` holding credentials (`realm` optional),
/// the password in a file of its own.
fn config_with_credentials(realm: Option<&str>) -> (String, std::path::PathBuf) {
    // One file per call: tests run in parallel, and a file being rewritten reads empty.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "voxgate-auth-test-{}-{}.pass",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    let realm = realm.map_or(String::new(), |r| format!(", realm = \"{r}\""));
    let base = BASE_CONFIG.replace(
        "name = \"pbx\"\nallow = [\"203.0.113.0/24\"]\n",
        &format!(
            "name = \"pbx\"\nallow = [\"203.0.113.0/24\"]\n\
             credentials = {{ username = \"acme\", password_file = \"{}\"{realm} }}\n",
            path.display()
        ),
    );
    assert_ne!(base, BASE_CONFIG);
    (format!("{base}\n{CALLS}"), path)
}

fn with_credentials(realm: Option<&str>) -> Harness {
    let (text, path) = config_with_credentials(realm);
    let (h, _) = Harness::with_config(&text, a_invite(Some(SDP_A), ""), udp(A_ADDR));
    // Read at load: the file is not needed any more.
    let _ = std::fs::remove_file(path);
    h
}

const CHALLENGE: &str = "WWW-Authenticate: Digest realm=\"pbx.example\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5\r\n\
     WWW-Authenticate: Digest realm=\"pbx.example\", nonce=\"n0nce2\", qop=\"auth\", algorithm=SHA-256\r\n";

#[test]
fn a_401_to_the_invite_is_answered_with_the_strongest_challenge() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(100, "", None));
    let out = h.feed(b.response(401, CHALLENGE, None));
    assert!(invite_status(&h, &out).is_empty(), "A waits: {out:#?}");
    assert!(out.events().is_empty(), "no failure: {:?}", out.events());
    let again = out.sent(Method::Invite);
    assert_ne!(again.tx, b.invite.tx, "a new transaction");
    let (first, second) = (&b.invite.msg, &again.msg);
    assert_eq!(second.call_id().unwrap(), first.call_id().unwrap());
    assert_eq!(
        second.from_header().unwrap().tag(),
        first.from_header().unwrap().tag()
    );
    assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
    assert_ne!(
        second.top_via().unwrap().branch(),
        first.top_via().unwrap().branch()
    );
    assert_eq!(body(second), body(first));
    assert_eq!(again.to, b.invite.to);
    let auth = second.header(HeaderName::Authorization).unwrap();
    assert!(
        auth.starts_with("Digest username=\"acme\", realm=\"pbx.example\", nonce=\"n0nce2\""),
        "{auth}"
    );
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    assert!(auth.contains(&format!("uri=\"{B1}\"")), "{auth}");
    assert!(auth.contains("qop=auth, nc=00000001, cnonce=\""), "{auth}");
    assert!(!text(second).contains(PASSWORD));

    // The answered INVITE is followed like the first: its 200 connects the call.
    let b2 = BSide::new(again);
    h.feed(b2.response(180, "", None));
    let out = h.feed(b2.response(200, "", Some(SDP_B)));
    assert_eq!(invite_status(&h, &out), vec![200]);
    assert!(out.events().contains(&Event::LegAnswered {
        leg: LegId(2),
        early: false
    }));
}

#[test]
fn a_second_challenge_fails_the_attempt_and_the_caller_gets_403() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(401, CHALLENGE, None));
    let b2 = BSide::new(out.sent(Method::Invite));
    let out = h.feed(b2.response(401, CHALLENGE, None));
    assert!(out.sends().is_empty(), "no loop: {out:#?}");
    assert_eq!(invite_status(&h, &out), vec![403]);
    assert!(leg_failed(&out.events(), 1, LegFailure::Status(401)));
}

#[test]
fn a_stale_nonce_is_answered_once_more() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(401, CHALLENGE, None));
    let b2 = BSide::new(out.sent(Method::Invite));
    let stale = "WWW-Authenticate: Digest realm=\"pbx.example\", nonce=\"fresh\", stale=true\r\n";
    let out = h.feed(b2.response(401, stale, None));
    let third = out.sent(Method::Invite);
    assert_eq!(third.msg.cseq().unwrap().seq, 3);
    assert!(
        third
            .msg
            .header(HeaderName::Authorization)
            .unwrap()
            .contains("nonce=\"fresh\"")
    );
    let b3 = BSide::new(third);
    let out = h.feed(b3.response(401, stale, None));
    assert!(out.sends().is_empty(), "two answers at most: {out:#?}");
    assert_eq!(invite_status(&h, &out), vec![403]);
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(
        407,
        "Proxy-Authenticate: Digest realm=\"proxy.example\", nonce=\"p\"\r\n",
        None,
    ));
    let again = out.sent(Method::Invite);
    let auth = again.msg.header(HeaderName::ProxyAuthorization).unwrap();
    assert!(auth.contains("realm=\"proxy.example\""), "{auth}");
    assert!(again.msg.header(HeaderName::Authorization).is_none());
}

#[test]
fn a_challenge_of_another_realm_than_the_configured_one_is_refused() {
    let mut h = with_credentials(Some("sip.carrier.example"));
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(401, CHALLENGE, None));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(invite_status(&h, &out), vec![403]);
}

#[test]
fn nothing_is_kept_for_a_trunk_without_credentials() {
    // `pbx` has credentials, `carrier` none: a call to a carrier destination keeps nothing.
    let mut h = with_credentials(None);
    let mut to_carrier = dest("sip:+15550100@198.51.100.9:5060");
    to_carrier.trunk = TrunkName::new("carrier");
    let out = h.feed(Input::Command(Command::Dial(
        Dial::new(vec![to_carrier]).connect(LegId(1)),
    )));
    let invite = out.sent(Method::Invite);
    assert!(h.call.challengeable.is_empty());
    let b = BSide::new(invite);
    let out = h.feed(b.response(401, CHALLENGE, None));
    assert_eq!(invite_status(&h, &out), vec![403]);
    // A call to `pbx` keeps its INVITE while it may be challenged.
    let mut h = with_credentials(None);
    h.connected(&[B1]);
    assert_eq!(h.call.challengeable.len(), 1);
}

#[test]
fn without_credentials_a_challenge_fails_the_attempt() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(401, CHALLENGE, None));
    assert!(out.sends().is_empty(), "{out:#?}");
    assert_eq!(invite_status(&h, &out), vec![403]);
    assert!(
        h.call.challengeable.is_empty(),
        "nothing kept without credentials"
    );
}

#[test]
fn a_challenged_bye_is_sent_again_with_credentials() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    assert!(h.confirmed());
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    let to_b = out.sent(Method::Bye);
    let out = h.b_answers(&to_b, 401, CHALLENGE, None);
    assert!(out.end().is_none(), "the BYE goes again first");
    let again = out.sent(Method::Bye);
    assert_eq!(
        again.msg.cseq().unwrap().seq,
        to_b.msg.cseq().unwrap().seq + 1
    );
    assert!(
        again
            .msg
            .header(HeaderName::Authorization)
            .unwrap()
            .contains("uri=\"sip:pbx@203.0.113.7:5060\"")
    );
    let out = h.b_answers(&again, 200, "", None);
    assert_eq!(out.end(), Some((Side::Caller, EndCause::Normal)));
    assert!(
        h.call.challengeable.is_empty(),
        "every transaction forgotten"
    );
}

#[test]
fn the_password_is_not_in_the_configs_debug_form() {
    let (text, path) = config_with_credentials(None);
    let config = voxgate_config::load_str(&text, "t.toml").unwrap();
    let _ = std::fs::remove_file(path);
    let shown = format!("{config:?}");
    assert!(shown.contains("acme"));
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
fn a_challenged_relayed_reinvite_goes_again_and_its_answer_reaches_the_caller() {
    let mut h = with_credentials(None);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    // A puts the call on hold: the re-INVITE relayed to B (CSeq 2) is challenged.
    let hold = h.a_request("INVITE", "", Some(("application/sdp", SDP_A_HOLD)));
    let (tx, out) = h.a_sends(hold);
    let to_b = out.sent(Method::Invite);
    assert_eq!(to_b.msg.cseq().unwrap().seq, 2);
    let out = h.b_answers(
        &to_b,
        407,
        "Proxy-Authenticate: Digest realm=\"pbx.example\", nonce=\"r\"\r\n",
        None,
    );
    assert!(out.responses().is_empty(), "A waits: {:?}", out.statuses());
    let again = out.sent(Method::Invite);
    assert_eq!(again.msg.cseq().unwrap().seq, 3);
    assert_eq!(body(&again.msg), body(&to_b.msg), "the same offer");
    assert!(again.msg.header(HeaderName::ProxyAuthorization).is_some());
    // B accepts it: ACKed with CSeq 3, and A gets the answer.
    let out = h.b_answers(&again, 200, "", Some(SDP_B_RECVONLY));
    let acks = out.transmits();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.cseq().unwrap().seq, 3);
    let (rtx, ok) = out.response(200);
    assert_eq!(rtx, tx);
    assert!(body(ok).contains("a=recvonly"));
    // The dialog goes on above the answered CSeq: A's BYE reaches B as CSeq 4.
    let ack = h.a_ack(2, None);
    h.feed(ack);
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    assert_eq!(out.sent(Method::Bye).msg.cseq().unwrap().seq, 4);
}
