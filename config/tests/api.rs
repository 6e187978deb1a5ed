//! `[api]` and the routes and trunks that hand their calls to it (`control = "api"`).
//! Each error with its exact file:line:column, key path and what is allowed.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use voxgate_config::{ConfigError, ConfigErrorKind, Control, load_str};

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

fn only_error(text: &str) -> ConfigError {
    let mut errors = errors(text);
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    errors.remove(0)
}

/// Asserts position and key, and returns the rendered message.
fn at(e: &ConfigError, line: usize, column: usize, key: &str) -> String {
    assert_eq!(
        (e.line, e.column, e.key.as_str()),
        (Some(line), Some(column), key),
        "{e}"
    );
    e.to_string()
}

fn api(tokens: &str) -> String {
    format!("[api]\ntokens = [{tokens}]\n")
}

#[test]
fn an_api_section_with_defaults() {
    let c = load_str(
        &with(&api(&format!("{{ name = \"ops\", sha256 = \"{ABC}\" }}"))),
        "x.toml",
    )
    .unwrap();
    let api = c.api.unwrap();
    assert_eq!(api.listen, "127.0.0.1:9070".parse().unwrap());
    assert_eq!(api.no_client_status, 480);
    assert_eq!(api.tokens.len(), 1);
    assert_eq!(api.tokens[0].name, "ops");
    assert_eq!(api.tokens[0].sha256[..3], [0xba, 0x78, 0x16]);
}

#[test]
fn no_api_section_no_api() {
    assert_eq!(load_str(MINIMAL, "x.toml").unwrap().api, None);
}

#[test]
fn uppercase_hex_is_the_same_hash() {
    let text = with(&format!(
        "[api]\nlisten = \"[::1]:9071\"\nno_client_status = 603\ntokens = [{{ name = \"a\", sha256 = \"{}\" }}]\n",
        ABC.to_uppercase()
    ));
    let api = load_str(&text, "x.toml").unwrap().api.unwrap();
    assert_eq!(api.listen, "[::1]:9071".parse().unwrap());
    assert_eq!(api.no_client_status, 603);
    assert_eq!(api.tokens[0].sha256[31], 0xad);
}

#[test]
fn routes_and_trunks_may_be_api_controlled_and_api_routes_need_no_destinations() {
    let text = with(&format!(
        "{}[[trunk]]\nname = \"t1\"\nallow = [\"192.0.2.0/24\"]\ncontrol = \"api\"\n\
         [[route]]\nname = \"ivr\"\nmatch_user = {{ prefix = \"7\" }}\ncontrol = \"api\"\n\
         [[route]]\nname = \"rest\"\nmatch_user = {{ prefix = \"\" }}\ncontrol = \"static\"\n\
         destinations = [{{ uri = \"sip:192.0.2.9\" }}]\n",
        api(&format!("{{ name = \"ops\", sha256 = \"{ABC}\" }}"))
    ));
    let c = load_str(&text, "x.toml").unwrap();
    assert_eq!(c.trunks[0].control, Control::Api);
    assert_eq!(c.routes[0].control, Control::Api);
    assert!(c.routes[0].destinations.is_empty());
    assert_eq!(c.routes[1].control, Control::Static);
    assert_eq!(Control::Api.as_str(), "api");
}

#[test]
fn control_api_without_an_api_section() {
    let e = only_error(&with(
        "[[route]]\nname = \"ivr\"\nmatch_user = { prefix = \"7\" }\ncontrol = \"api\"\n",
    ));
    assert_eq!(e.kind, ConfigErrorKind::ApiWithoutSection);
    let text = at(&e, 17, 11, "route[0].control");
    assert!(
        text.ends_with("allowed: \"static\", or add an [api] section (listen, tokens)"),
        "{text}"
    );
    let e = only_error(&with(
        "[[trunk]]\nname = \"t\"\nallow = [\"192.0.2.0/24\"]\ncontrol = \"api\"\n",
    ));
    at(&e, 17, 11, "trunk[0].control");
}

#[test]
fn a_static_route_still_needs_destinations() {
    let e = only_error(&with(
        "[[route]]\nname = \"r\"\nmatch_user = { prefix = \"7\" }\n",
    ));
    at(&e, 14, 1, "route[0].destinations");
}

#[test]
fn an_unknown_control_value() {
    let e = only_error(&with(
        "[[route]]\nname = \"r\"\nmatch_user = { prefix = \"7\" }\ncontrol = \"ari\"\n",
    ));
    let text = at(&e, 17, 11, "route[0].control");
    assert!(
        text.contains("\"static\" (the route's destinations) or \"api\""),
        "{text}"
    );
}

#[test]
fn tokens_are_required_and_not_empty() {
    let e = only_error(&with("[api]\nlisten = \"127.0.0.1:9070\"\n"));
    let text = at(&e, 14, 1, "api.tokens");
    assert!(text.contains("required, but missing"), "{text}");
    assert!(text.contains("voxgate hash-token TOKEN"), "{text}");
    let e = only_error(&with("[api]\ntokens = []\n"));
    at(&e, 15, 10, "api.tokens");
}

#[test]
fn a_token_that_is_not_a_sha256() {
    // The token itself written where its hash belongs.
    let e = only_error(&with(&api("{ name = \"ops\", sha256 = \"s3cret\" }")));
    let text = at(&e, 15, 36, "api.tokens[0].sha256");
    assert_eq!(
        text,
        "x.toml:15:36: api.tokens[0].sha256: \"s3cret\" is not valid; allowed: 64 hexadecimal \
         digits: the SHA-256 of the token, as `voxgate hash-token TOKEN` prints it"
    );
}

#[test]
fn duplicate_token_names_and_hashes() {
    let other = "0".repeat(64);
    let text = with(&format!(
        "[api]\ntokens = [\n  {{ name = \"ops\", sha256 = \"{ABC}\" }},\n  {{ name = \"ops\", sha256 = \"{other}\" }},\n  {{ name = \"b\", sha256 = \"{}\" }},\n]\n",
        ABC.to_uppercase()
    ));
    let errors = errors(&text);
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{rendered:#?}");
    let name = at(&errors[0], 17, 12, "api.tokens[1].name");
    assert!(
        name.contains("is also used by api.tokens[0].name (line 16)"),
        "{name}"
    );
    let hash = at(&errors[1], 18, 26, "api.tokens[2].sha256");
    assert!(
        hash.contains("is also used by api.tokens[0].sha256"),
        "{hash}"
    );
}

#[test]
fn no_client_status_range() {
    let text = with(&format!(
        "[api]\nno_client_status = 200\ntokens = [{{ name = \"ops\", sha256 = \"{ABC}\" }}]\n"
    ));
    let e = only_error(&text);
    let text = at(&e, 15, 20, "api.no_client_status");
    assert!(
        text.ends_with("200 is out of range; allowed: 400..=699"),
        "{text}"
    );
}

#[test]
fn the_api_port_is_not_the_admin_port_nor_a_tcp_listener_port() {
    let tokens = format!("tokens = [{{ name = \"ops\", sha256 = \"{ABC}\" }}]\n");
    let e = only_error(&with(&format!(
        "[api]\nlisten = \"127.0.0.1:9060\"\n{tokens}"
    )));
    let text = at(&e, 15, 10, "api.listen");
    assert!(
        text.contains("is also used by admin.listen (its default)"),
        "{text}"
    );
    let e = only_error(&with(&format!(
        "[admin]\nlisten = \"127.0.0.1:9100\"\n[api]\nlisten = \"0.0.0.0:9100\"\n{tokens}"
    )));
    let text = at(&e, 17, 10, "api.listen");
    assert!(
        text.contains("is also used by admin.listen (line 15)"),
        "{text}"
    );
    let e = only_error(&with(&format!(
        "[api]\nlisten = \"127.0.0.1:5060\"\n{tokens}"
    )));
    let text = at(&e, 15, 10, "api.listen");
    assert!(
        text.contains("is also used by listener[0].address (line 7)"),
        "{text}"
    );
    let e = only_error(&with(&format!(
        "[api]\nlisten = \"localhost:9070\"\n{tokens}"
    )));
    at(&e, 15, 10, "api.listen");
}
