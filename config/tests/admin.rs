//! `[admin]` tokens and public address, and `[kill_switch]`: accepted values and each
//! error with its file:line:column and key.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use voxgate_config::{ConfigError, load_str};

/// A valid configuration of 13 lines; tests append at line 14.
const MINIMAL: &str = r#"[node]
name = "n1"
region = "r1"

[[listener]]
transport = "tcp"
address = "127.0.0.1:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999
"#;

/// SHA-256 of "abc".
const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn errors(text: &str) -> Vec<ConfigError> {
    match load_str(text, "x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

#[test]
fn admin_tokens_and_public_address() {
    let c = load_str(
        &with(&format!(
            "[admin]\nlisten = \"127.0.0.1:9060\"\npublic_listen = \"127.0.0.1:9061\"\n\
             tokens = [{{ name = \"ops\", sha256 = \"{ABC}\" }}]\n"
        )),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        c.admin.public_listen,
        Some("127.0.0.1:9061".parse().unwrap())
    );
    assert_eq!(c.admin.tokens.len(), 1);
    assert_eq!(c.admin.tokens[0].name, "ops");
    assert_eq!(c.admin.tokens[0].sha256[0], 0xba);
    // No [admin]: no token, no public address (the admin API is closed).
    let c = load_str(MINIMAL, "x.toml").unwrap();
    assert!(c.admin.tokens.is_empty());
    assert_eq!(c.admin.public_listen, None);
    assert_eq!(c.kill_switch, None);
}

#[test]
fn admin_token_errors_name_line_and_key() {
    let e = errors(&with(
        "[admin]\ntokens = [{ name = \"ops\", sha256 = \"abc\" }, { name = \"ops\", sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\" }]\n",
    ));
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t.starts_with("x.toml:15:")
            && t.contains("admin.tokens[0].sha256")
            && t.contains("64 hexadecimal digits")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("admin.tokens[1].name")),
        "{text:?}"
    );
    let e = errors(&with("[admin]\ntokens = []\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].key, "admin.tokens");
    assert_eq!(e[0].line, Some(15));
}

#[test]
fn the_public_address_takes_a_port_of_its_own() {
    let e = errors(&with(
        "[admin]\nlisten = \"127.0.0.1:9060\"\npublic_listen = \"127.0.0.1:9060\"\n",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "admin.public_listen");
    assert_eq!(e[0].line, Some(16));
    assert!(e[0].to_string().contains("admin.listen"), "{}", e[0]);
    // Nor a tcp listener's.
    let e = errors(&with("[admin]\npublic_listen = \"127.0.0.1:5060\"\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].key, "admin.public_listen");
    assert!(e[0].to_string().contains("listener[0].address"), "{}", e[0]);
}

#[test]
fn kill_switch_values_and_ranges() {
    let c = load_str(
        &with("[kill_switch]\nerror_percent = 30\nwindow_s = 120\nmin_attempts = 5\n"),
        "x.toml",
    )
    .unwrap();
    let k = c.kill_switch.unwrap();
    assert_eq!(k.error_percent, 30);
    assert_eq!(k.window, Duration::from_secs(120));
    assert_eq!(k.min_attempts, 5);
    let k = load_str(&with("[kill_switch]\n"), "x.toml")
        .unwrap()
        .kill_switch
        .unwrap();
    assert_eq!(
        (k.error_percent, k.window.as_secs(), k.min_attempts),
        (50, 60, 20)
    );
    let e = errors(&with("[kill_switch]\nerror_percent = 0\nwindow_s = 3601\n"));
    let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["kill_switch.error_percent", "kill_switch.window_s"]);
    assert_eq!(e[0].line, Some(15));
    assert!(e[0].to_string().contains("1..=100"), "{}", e[0]);
}
