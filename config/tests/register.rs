//! Trunk `register`: the registrar URI, the user, the lifetime and transport; errors name
//! file, line and key.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::time::Duration;
use support::MINIMAL;
use voxgate_config::{ListenerTransport, load_str};

fn trunk(register: &str) -> String {
    format!(
        "{MINIMAL}\n[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.0/24\"]\nregister = {register}\n"
    )
}

#[test]
fn a_registration_with_defaults() {
    let c = load_str(
        &trunk("{ registrar = \"sip:192.0.2.5:5060\", user = \"+442071234567\" }"),
        "x.toml",
    )
    .unwrap();
    let r = c.trunks[0].register.as_ref().unwrap();
    assert_eq!(r.registrar, "sip:192.0.2.5:5060");
    assert_eq!(r.user, "+442071234567");
    assert_eq!(r.expires, Duration::from_secs(3600));
    assert_eq!(r.transport, ListenerTransport::Udp);
    let c = load_str(
        &trunk("{ registrar = \"sips:192.0.2.5\", user = \"acme\", expires_s = 60, transport = \"tls\" }"),
        "x.toml",
    )
    .unwrap();
    let r = c.trunks[0].register.as_ref().unwrap();
    assert_eq!(
        (r.expires.as_secs(), r.transport),
        (60, ListenerTransport::Tls)
    );
}

#[test]
fn bad_registrations_name_the_key() {
    let cases = [
        (
            "{ user = \"acme\" }",
            "trunk[0].register.registrar",
            "required",
        ),
        (
            "{ registrar = \"sip:192.0.2.5\" }",
            "trunk[0].register.user",
            "required",
        ),
        (
            "{ registrar = \"http://192.0.2.5\", user = \"acme\" }",
            "trunk[0].register.registrar",
            "is not valid",
        ),
        (
            "{ registrar = \"sip:192.0.2.5\", user = \"a b\" }",
            "trunk[0].register.user",
            "is not valid",
        ),
        (
            "{ registrar = \"sip:192.0.2.5\", user = \"acme\", expires_s = 30 }",
            "trunk[0].register.expires_s",
            "out of range",
        ),
        (
            "{ registrar = \"sip:192.0.2.5\", user = \"acme\", expires = 60 }",
            "trunk[0].register.expires",
            "unknown key",
        ),
    ];
    for (register, key, message) in cases {
        let errors = load_str(&trunk(register), "x.toml").unwrap_err().0;
        assert_eq!(errors.len(), 1, "{register}: {errors:?}");
        assert_eq!(errors[0].key, key, "{register}: {}", errors[0]);
        assert_eq!(errors[0].line, Some(18), "{}", errors[0]);
        assert!(errors[0].to_string().contains(message), "{}", errors[0]);
    }
}
