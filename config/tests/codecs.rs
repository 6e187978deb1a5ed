//! A trunk's `codecs`: the default, names in any case spelt the known way,
//! and errors with their exact file:line:column, key path and what is allowed.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use voxgate_config::{ConfigError, KNOWN_CODECS, load_str};

/// A valid configuration with one trunk; tests append to it at line 17.
const TRUNK: &str = r#"[node]
name = "n1"
region = "r1"

[[listener]]
transport = "udp"
address = "127.0.0.1:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999
[[trunk]]
name = "carrier"
allow = ["192.0.2.0/24"]
"#;

fn codecs(extra: &str) -> Vec<String> {
    let c = load_str(&format!("{TRUNK}{extra}"), "x.toml").unwrap();
    c.trunks[0].codecs.clone()
}

fn only_error(extra: &str) -> ConfigError {
    let mut errors = match load_str(&format!("{TRUNK}{extra}"), "x.toml") {
        Ok(_) => panic!("accepted: {extra}"),
        Err(e) => e.0,
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

#[test]
fn the_default_is_both_laws_and_events() {
    assert_eq!(codecs(""), ["PCMU", "PCMA", "telephone-event"]);
}

#[test]
fn only_a_trunk_that_names_codecs_holds_linked_calls_to_them() {
    let policy = |extra: &str| {
        load_str(&format!("{TRUNK}{extra}"), "x.toml")
            .unwrap()
            .trunks[0]
            .codec_policy
    };
    assert!(
        !policy(""),
        "absent: linked calls pass any codec, as before"
    );
    assert!(policy(
        "codecs = [\"PCMU\", \"PCMA\", \"telephone-event\"]\n"
    ));
}

#[test]
fn names_are_taken_in_any_case_and_kept_in_order() {
    assert_eq!(
        codecs("codecs = [\"pcma\", \"G729\", \"OPUS\", \"Telephone-Event\", \"cn\"]\n"),
        ["PCMA", "G729", "opus", "telephone-event", "CN"]
    );
    for name in KNOWN_CODECS {
        let voice = if *name == "PCMU" { "PCMA" } else { "PCMU" };
        let extra = format!("codecs = [\"{name}\", \"{voice}\"]\n");
        assert_eq!(codecs(&extra)[0], *name);
    }
}

#[test]
fn an_unknown_codec_names_its_line_and_what_is_allowed() {
    let e = only_error("codecs = [\"PCMA\", \"G7.29\"]\n");
    assert_eq!(
        (e.line, e.column, e.key.as_str()),
        (Some(17), Some(19), "trunk[0].codecs[1]"),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("x.toml:17:19: trunk[0].codecs[1]: "),
        "{text}"
    );
    assert!(
        text.contains("\"G729\"") && text.contains("\"opus\""),
        "{text}"
    );
}

#[test]
fn a_list_needs_a_voice_codec_each_once() {
    let e = only_error("codecs = [\"telephone-event\", \"CN\"]\n");
    assert_eq!(
        (e.line, e.key.as_str()),
        (Some(17), "trunk[0].codecs"),
        "{e}"
    );
    let e = only_error("codecs = [\"PCMA\", \"pcma\"]\n");
    assert_eq!(e.line, Some(17), "{e}");
    assert!(e.to_string().contains("codecs[1]"), "{e}");
}
