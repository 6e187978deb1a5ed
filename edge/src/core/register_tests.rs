//! Outbound registration through the core on a virtual clock: the REGISTER goes at
//! start, the registrar's challenge is answered with the trunk's credentials, the
//! binding it grants is refreshed before it runs out, and a refresh that gets no
//! answer ends in `failed` and a retry after the backoff.

use super::*;
use crate::health::Health;
use crate::registration::RegState;
use std::time::Duration;
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{HeaderName, response_to};
use voxgate_sip::transport::Incoming;

const REGISTRAR: &str = "127.0.0.9:5070";

struct Node {
    core: Core,
    health: Arc<Health>,
    now: Instant,
    pass: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pass);
    }
}

/// The node's config, with or without the trunk's registration.
fn config(pass: &std::path::Path, register: bool) -> voxgate_config::Config {
    config_with(pass, register, "")
}

/// The node's config; `extra` is more of the trunk's keys.
fn config_with(pass: &std::path::Path, register: bool, extra: &str) -> voxgate_config::Config {
    let text = format!(
        r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
[[trunk]]
name = "carrier"
allow = ["127.0.0.9/32"]
credentials = {{ username = "acme", password_file = "{}" }}
{}
{extra}
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#,
        pass.display(),
        if register {
            format!(
                r#"register = {{ registrar = "sip:{REGISTRAR}", user = "+4420", expires_s = 600 }}"#
            )
        } else {
            String::new()
        }
    );
    voxgate_config::load_str(&text, "test.toml").unwrap()
}

fn node() -> Node {
    node_with(|pass| config(pass, true))
}

/// A node on the config `make` writes for the password file it is given.
fn node_with(make: impl Fn(&std::path::Path) -> voxgate_config::Config) -> Node {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let pass = std::env::temp_dir().join(format!(
        "voxgate-register-core-{}-{}.pass",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&pass, "reg-secret\n").unwrap();
    let config = make(&pass);
    let locals = Locals {
        udp: Some(LocalAddr::new(
            TransportKind::Udp,
            "127.0.0.1:5060".parse().unwrap(),
        )),
        ..Locals::default()
    };
    let now = Instant::now();
    let health = Arc::new(Health::default());
    let core = Core::new(Arc::new(config), Metrics::new("test").unwrap(), locals).with_health(
        now,
        health.clone(),
        None,
    );
    Node {
        core,
        health,
        now,
        pass,
    }
}

impl Node {
    /// Fires what is due at `now` and returns the REGISTERs sent (retransmissions too).
    fn tick(&mut self) -> Vec<Message> {
        self.core.handle_timeout(self.now);
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            assert_eq!(t.to.addr.to_string(), REGISTRAR);
            out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
        }
        out
    }

    /// The registrar answers `request`.
    fn answer(&mut self, request: &Message, status: u16, extra: &[(HeaderName, &str)]) {
        let mut b = response_to(request, status, "X", Some("regtag"), None);
        for (name, value) in extra {
            b = b.header(*name, value);
        }
        let incoming = Incoming {
            bytes: b.build(),
            peer: Peer {
                transport: TransportKind::Udp,
                addr: REGISTRAR.parse().unwrap(),
                conn: None,
            },
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
    }

    fn state(&self) -> Option<RegState> {
        self.health
            .registration(&voxgate_config::TrunkName::new("carrier").unwrap())
    }

    /// Runs the core's timers up to `end`, returning every REGISTER sent with when.
    fn run_until(&mut self, end: Instant) -> Vec<(Instant, Message)> {
        let mut sent = Vec::new();
        for _ in 0..10_000 {
            match self.core.poll_timeout() {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    for m in self.tick() {
                        sent.push((self.now, m));
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        sent
    }
}

#[test]
fn registers_at_start_answers_the_challenge_and_refreshes() {
    let mut n = node();
    let sent = n.tick();
    assert_eq!(sent.len(), 1, "one REGISTER at start");
    let first = &sent[0];
    assert_eq!(first.method(), Some(&Method::Register));
    assert_eq!(first.request_uri(), Some("sip:127.0.0.9:5070"));
    assert_eq!(
        first.header(HeaderName::To),
        Some("<sip:+4420@127.0.0.9:5070>")
    );
    assert_eq!(first.header(HeaderName::Expires), Some("600"));
    assert_eq!(
        first.header(HeaderName::Contact),
        Some("<sip:+4420@127.0.0.1:5060>")
    );
    assert_eq!(n.state(), Some(RegState::Registering));

    let challenge = "Digest realm=\"reg.example\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256";
    n.answer(first, 401, &[(HeaderName::WwwAuthenticate, challenge)]);
    let mut again = Vec::new();
    while let Some(t) = n.core.poll_transmit() {
        again.push(Message::parse(t.bytes, &Limits::default()).unwrap());
    }
    let second = again
        .iter()
        .find(|m| m.method() == Some(&Method::Register))
        .expect("the REGISTER again");
    assert_eq!(second.cseq().unwrap().seq, 2);
    assert_eq!(second.call_id().unwrap(), first.call_id().unwrap());
    let auth = second.header(HeaderName::Authorization).unwrap();
    assert!(
        auth.contains("username=\"acme\"") && auth.contains("algorithm=SHA-256"),
        "{auth}"
    );
    assert!(!String::from_utf8_lossy(second.raw()).contains("reg-secret"));

    // Granted for 120 s: refreshed at 60 s (halfway), same Call-ID, CSeq 3.
    n.answer(second, 200, &[(HeaderName::Expires, "120")]);
    let granted_at = n.now;
    n.tick();
    assert_eq!(n.state(), Some(RegState::Registered));
    let sent = n.run_until(granted_at + Duration::from_secs(60));
    let (at, refresh) = sent.first().expect("a refresh");
    assert_eq!(*at - granted_at, Duration::from_secs(60));
    assert_eq!(refresh.cseq().unwrap().seq, 3);
    assert_eq!(refresh.call_id().unwrap(), first.call_id().unwrap());
    assert!(refresh.header(HeaderName::Authorization).is_none());

    // Never answered: retransmitted until timer F (32 s with T1 500 ms) fails it at 92 s;
    // the binding holds until 120 s, so the retry comes within it (halfway to expiry:
    // 106 s, CSeq 4); at 120 s the binding is lost.
    let sent = n.run_until(granted_at + Duration::from_secs(119));
    assert!(
        sent.iter()
            .filter(|(_, m)| m.cseq().unwrap().seq == 3)
            .count()
            > 3,
        "retransmitted"
    );
    let retry = sent
        .iter()
        .find(|(_, m)| m.cseq().unwrap().seq == 4)
        .expect("a retry within the binding");
    assert_eq!(retry.0 - granted_at, Duration::from_secs(106));
    assert_eq!(n.state(), Some(RegState::Registered));
    n.run_until(granted_at + Duration::from_secs(120));
    assert_eq!(n.state(), Some(RegState::Failed));
}

/// What the core sent since the last look (no timers fired).
fn sent_now(n: &mut Node) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(t) = n.core.poll_transmit() {
        out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
    }
    out
}

#[test]
fn a_423_is_answered_at_once_with_min_expires() {
    let mut n = node();
    let first = n.tick().remove(0);
    assert_eq!(first.header(HeaderName::Expires), Some("600"));
    n.answer(&first, 423, &[(HeaderName::MinExpires, "1800")]);
    let again = sent_now(&mut n);
    let again = again
        .iter()
        .find(|m| m.method() == Some(&Method::Register))
        .expect("the REGISTER again, at once");
    assert_eq!(again.header(HeaderName::Expires), Some("1800"));
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert_eq!(again.call_id().unwrap(), first.call_id().unwrap());
    n.tick();
    assert_eq!(n.state(), Some(RegState::Registering), "not failed");
    n.answer(again, 200, &[(HeaderName::Expires, "1800")]);
    n.tick();
    assert_eq!(n.state(), Some(RegState::Registered));
}

#[test]
fn a_binding_is_removed_when_its_trunk_stops_registering_and_when_the_node_stops() {
    for on_stop in [false, true] {
        let mut n = node();
        let first = n.tick().remove(0);
        n.answer(&first, 200, &[(HeaderName::Expires, "600")]);
        n.tick();
        assert_eq!(n.state(), Some(RegState::Registered));
        if on_stop {
            n.core.unregister_all(n.now);
        } else {
            let without = config(&n.pass, false);
            n.core.apply_config(n.now, Arc::new(without));
        }
        let sent = n.tick();
        let mut removals = sent
            .iter()
            .filter(|m| m.method() == Some(&Method::Register));
        let gone = removals.next().expect("a removal");
        assert!(removals.next().is_none());
        assert_eq!(gone.header(HeaderName::Expires), Some("0"));
        // Our own Contact, not `*`: the pair's other node keeps its binding.
        assert_eq!(
            gone.header(HeaderName::Contact),
            Some("<sip:+4420@127.0.0.1:5060>")
        );
        assert_eq!(gone.call_id().unwrap(), first.call_id().unwrap());
        assert_eq!(gone.cseq().unwrap().seq, 2);
        // Its answer changes nothing, and nothing registers again.
        n.answer(gone, 200, &[]);
        n.now += Duration::from_secs(3600);
        assert!(
            n.tick()
                .iter()
                .all(|m| m.header(HeaderName::Expires) != Some("600")),
            "no REGISTER after the removal"
        );
    }
}

/// The same config without the trunk (another one, so that it still has one).
fn config_without_the_trunk() -> voxgate_config::Config {
    voxgate_config::load_str(
        r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
[[trunk]]
name = "other"
allow = ["127.0.0.50/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#,
        "test.toml",
    )
    .unwrap()
}

#[test]
fn the_removal_of_a_trunk_taken_out_by_reload_is_built_from_the_trunk_as_it_was() {
    // The binding names the trunk's advertise address; the registrar challenges the
    // removal too. The reload takes the trunk away with its advertise and credentials.
    let mut n = node_with(|pass| config_with(pass, true, r#"advertise = "192.0.2.10""#));
    let first = n.tick().remove(0);
    let contact = "<sip:+4420@192.0.2.10:5060>";
    assert_eq!(first.header(HeaderName::Contact), Some(contact));
    n.answer(&first, 200, &[(HeaderName::Expires, "600")]);
    n.tick();
    assert_eq!(n.state(), Some(RegState::Registered));
    n.core
        .apply_config(n.now, Arc::new(config_without_the_trunk()));
    let sent = sent_now(&mut n);
    let gone = sent
        .iter()
        .find(|m| m.method() == Some(&Method::Register))
        .expect("the removal, with the reload");
    assert_eq!(gone.header(HeaderName::Expires), Some("0"));
    assert_eq!(
        gone.header(HeaderName::Contact),
        Some(contact),
        "the binding's Contact"
    );
    assert!(
        gone.header(HeaderName::Via)
            .unwrap()
            .starts_with("SIP/2.0/UDP 192.0.2.10:5060;"),
        "{:?}",
        gone.header(HeaderName::Via)
    );
    assert_eq!(gone.call_id().unwrap(), first.call_id().unwrap());
    let challenge = "Digest realm=\"reg.example\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256";
    n.answer(gone, 401, &[(HeaderName::WwwAuthenticate, challenge)]);
    let again = sent_now(&mut n);
    let again = again
        .iter()
        .find(|m| m.method() == Some(&Method::Register))
        .expect("the removal again, with the old trunk's credentials");
    assert_eq!(again.cseq().unwrap().seq, 3);
    assert_eq!(again.header(HeaderName::Expires), Some("0"));
    assert_eq!(again.header(HeaderName::Contact), Some(contact));
    let auth = again.header(HeaderName::Authorization).unwrap();
    assert!(auth.contains("username=\"acme\""), "{auth}");
    n.answer(again, 200, &[]);
    n.now += Duration::from_secs(3600);
    assert!(
        n.tick().is_empty(),
        "nothing more once the removal is answered"
    );
}
