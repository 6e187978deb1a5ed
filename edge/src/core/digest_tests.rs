//! A trunk with `auth = "digest"`: its INVITEs without valid credentials get 401 with
//! our challenges (SHA-256, then MD5; stateless nonces), an INVITE answering one with
//! the trunk's credentials starts a call, a wrong password is challenged again, and a
//! nonce older than its lifetime is challenged with `stale=true`: on a virtual clock.

use super::*;
use bytes::Bytes;
use std::time::Duration;
use voxgate_sip::auth::{self, Credentials};
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{HeaderName, Method};
use voxgate_sip::transport::Incoming;

fn config(dir: &std::path::Path) -> String {
    let pass = dir.join("pbx.pass");
    std::fs::write(&pass, "pbx-secret\n").unwrap();
    format!(
        r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
[[trunk]]
name = "pbx"
allow = ["127.0.0.1/32"]
auth = "digest"
credentials = {{ username = "pbx", password_file = "{}", realm = "voxgate.test" }}
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#,
        pass.display()
    )
}

struct Node {
    core: Core,
    now: Instant,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn node() -> Node {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "voxgate-digest-core-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = voxgate_config::load_str(&config(&dir), "test.toml").unwrap();
    let metrics = Metrics::new("test").unwrap();
    let locals = Locals {
        udp: Some(LocalAddr::new(
            TransportKind::Udp,
            "127.0.0.1:5060".parse().unwrap(),
        )),
        ..Locals::default()
    };
    Node {
        core: Core::new(Arc::new(config), metrics, locals),
        now: Instant::now(),
        _dir: TempDir(dir),
    }
}

fn invite(cseq: u32, authorization: Option<&str>) -> Message {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let raw = format!(
        "INVITE sip:1001@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKd{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:pbx@127.0.0.1>;tag=f1\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: d1@test\r\n\
         CSeq: {cseq} INVITE\r\n{auth}Content-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
}

impl Node {
    /// Feeds `msg` from the PBX; returns the responses sent back.
    fn feed(&mut self, msg: &Message) -> Vec<Message> {
        let incoming = Incoming {
            bytes: msg.raw().clone(),
            peer: Peer {
                transport: TransportKind::Udp,
                addr: "127.0.0.1:5080".parse().unwrap(),
                conn: None,
            },
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
        }
        out
    }

    /// The one final response to `msg`.
    fn final_to(&mut self, msg: &Message) -> Option<Message> {
        self.feed(msg)
            .into_iter()
            .find(|r| r.status().is_some_and(|s| s >= 200))
    }

    fn started_call(&mut self) -> bool {
        self.core.poll_spawn().is_some()
    }
}

fn answer(challenge: &Message, password: &str) -> String {
    let c = auth::strongest(challenge, None).unwrap();
    let creds = Credentials {
        username: "pbx",
        password,
    };
    c.authorize(
        Method::Invite,
        "sip:1001@127.0.0.1:5060",
        b"",
        &creds,
        "c0ffee",
    )
    .unwrap()
    .1
}

#[test]
fn an_invite_without_credentials_is_challenged_then_admitted_with_them() {
    let mut n = node();
    let challenge = n.final_to(&invite(1, None)).unwrap();
    assert_eq!(challenge.status(), Some(401));
    assert!(!n.started_call());
    let values: Vec<&str> = challenge
        .header_lines(HeaderName::WwwAuthenticate)
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values[0].contains("algorithm=SHA-256") && values[1].contains("algorithm=MD5"));
    assert!(
        values
            .iter()
            .all(|v| v.contains("realm=\"voxgate.test\"") && v.contains("qop=\"auth\""))
    );

    // A wrong password: challenged again, no call.
    n.now += Duration::from_secs(1);
    let again = n
        .final_to(&invite(2, Some(&answer(&challenge, "wrong"))))
        .unwrap();
    assert_eq!(again.status(), Some(401));
    assert!(!n.started_call());

    // The right one: a call starts (no final response from the core itself).
    n.now += Duration::from_secs(1);
    let ok = invite(3, Some(&answer(&challenge, "pbx-secret")));
    assert!(n.final_to(&ok).is_none());
    assert!(n.started_call());
}

#[test]
fn an_answer_to_an_expired_nonce_is_challenged_as_stale() {
    let mut n = node();
    let challenge = n.final_to(&invite(1, None)).unwrap();
    n.now += Duration::from_secs(NONCE_LIFETIME_S + 1);
    let late = n
        .final_to(&invite(2, Some(&answer(&challenge, "pbx-secret"))))
        .unwrap();
    assert_eq!(late.status(), Some(401));
    assert!(
        late.header_lines(HeaderName::WwwAuthenticate)
            .all(|v| v.contains("stale=true"))
    );
    assert!(!n.started_call());
    // Its fresh nonce is good.
    let ok = invite(3, Some(&answer(&late, "pbx-secret")));
    assert!(n.final_to(&ok).is_none());
    assert!(n.started_call());
}
