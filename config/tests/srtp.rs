//! A trunk's `srtp` and `srtp_suites`: defaults, values, and errors with their
//! exact file:line:column, key path and what is allowed.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use voxgate_config::{ConfigError, SrtpMode, SrtpSuite, load_str};

/// A valid configuration of 13 lines and a trunk of 3 (lines 14-16); tests
/// append to the trunk at line 17.
const TRUNK: &str = r#"[node]
name = "n1"
region = "r1"

[[listener]]
transport = "tls"
address = "127.0.0.1:5061"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999
[[trunk]]
name = "carrier"
allow = ["192.0.2.0/24"]
"#;

fn with(extra: &str) -> String {
    format!("{TRUNK}{extra}")
}

fn only_error(text: &str) -> ConfigError {
    let mut errors = match load_str(text, "x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    };
    assert_eq!(
        errors.len(),
        1,
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    errors.remove(0)
}

fn at(e: &ConfigError, line: usize, column: usize, key: &str) -> String {
    assert_eq!(
        (e.line, e.column, e.key.as_str()),
        (Some(line), Some(column), key),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("x.toml:{line}:{column}: {key}: ")),
        "{text}"
    );
    text
}

#[test]
fn srtp_is_off_by_default_with_every_suite() {
    let c = load_str(&with(""), "x.toml").unwrap();
    assert_eq!(c.trunks[0].srtp, SrtpMode::Off);
    assert_eq!(
        c.trunks[0].srtp_suites,
        [
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AeadAes128Gcm,
            SrtpSuite::AesCm128HmacSha1_32
        ]
    );
}

#[test]
fn modes_and_suites_in_the_order_given() {
    for (text, mode) in [
        ("off", SrtpMode::Off),
        ("optional", SrtpMode::Optional),
        ("required", SrtpMode::Required),
    ] {
        let c = load_str(
            &with(&format!(
                "srtp = \"{text}\"\nsrtp_suites = [\"AEAD_AES_128_GCM\", \"AES_CM_128_HMAC_SHA1_32\"]\n"
            )),
            "x.toml",
        )
        .unwrap();
        assert_eq!(c.trunks[0].srtp, mode);
        assert_eq!(c.trunks[0].srtp.as_str(), text);
        assert_eq!(
            c.trunks[0].srtp_suites,
            [SrtpSuite::AeadAes128Gcm, SrtpSuite::AesCm128HmacSha1_32]
        );
    }
}

#[test]
fn an_unknown_mode_names_the_allowed_ones() {
    let e = only_error(&with("srtp = \"mandatory\"\n"));
    let text = at(&e, 17, 8, "trunk[0].srtp");
    assert!(
        text.contains("\"off\"") && text.contains("\"optional\"") && text.contains("\"required\""),
        "{text}"
    );
    let e = only_error(&with("srtp = true\n"));
    at(&e, 17, 8, "trunk[0].srtp");
}

#[test]
fn an_unknown_suite_names_the_allowed_ones() {
    let e = only_error(&with(
        "srtp = \"required\"\nsrtp_suites = [\"AES_CM_128_HMAC_SHA1_80\", \"AES_256_CM_HMAC_SHA1_80\"]\n",
    ));
    let text = at(&e, 18, 43, "trunk[0].srtp_suites[1]");
    assert!(text.contains("\"AES_256_CM_HMAC_SHA1_80\""), "{text}");
    for allowed in [
        "\"AES_CM_128_HMAC_SHA1_80\"",
        "\"AEAD_AES_128_GCM\"",
        "\"AES_CM_128_HMAC_SHA1_32\"",
    ] {
        assert!(text.contains(allowed), "{text}");
    }
    // Names are case-sensitive, as in a=crypto (RFC 4568 §9.2).
    let e = only_error(&with("srtp_suites = [\"aes_cm_128_hmac_sha1_80\"]\n"));
    at(&e, 17, 16, "trunk[0].srtp_suites[0]");
}

#[test]
fn suites_are_given_once_and_not_empty() {
    let e = only_error(&with(
        "srtp_suites = [\"AEAD_AES_128_GCM\", \"AEAD_AES_128_GCM\"]\n",
    ));
    let text = at(&e, 17, 36, "trunk[0].srtp_suites[1]");
    assert!(text.contains("trunk[0].srtp_suites[0]"), "{text}");
    let e = only_error(&with("srtp_suites = []\n"));
    let text = at(&e, 17, 15, "trunk[0].srtp_suites");
    assert!(text.contains("AES_CM_128_HMAC_SHA1_80"), "{text}");
}
