//! Trunk `credentials`: the password from a file or an environment variable, exactly one
//! of them, read at load; errors name file, line and key; the password never shows.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{MINIMAL, TempDir};
use voxgate_config::{ConfigErrorKind, load_file, load_str};

fn trunk(credentials: &str) -> String {
    format!(
        "{MINIMAL}\n[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.0/24\"]\ncredentials = {credentials}\n"
    )
}

#[test]
fn the_password_file_is_read_relative_to_the_config_one_line() {
    let dir = TempDir::new();
    dir.write("etc/secrets/c.pass", b"pa ss\"word\n");
    let config = dir.write(
        "etc/voxgate.toml",
        trunk("{ username = \"acme\", password_file = \"secrets/c.pass\", realm = \"sip.c.example\" }")
            .as_bytes(),
    );
    let c = load_file(&config).unwrap();
    let creds = c.trunks[0].credentials.as_ref().unwrap();
    assert_eq!(creds.username, "acme");
    assert_eq!(
        creds.password.expose(),
        "pa ss\"word",
        "the final newline is not the password's"
    );
    assert_eq!(creds.realm.as_deref(), Some("sip.c.example"));
    let shown = format!("{c:?}");
    assert!(!shown.contains("pa ss"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn the_password_from_the_environment() {
    // PATH is set wherever tests run (setting a variable needs `unsafe` in edition 2024).
    let c = load_str(
        &trunk("{ username = \"acme\", password_env = \"PATH\" }"),
        "x.toml",
    )
    .unwrap();
    let creds = c.trunks[0].credentials.as_ref().unwrap();
    assert_eq!(creds.password.expose(), std::env::var("PATH").unwrap());
    assert_eq!(creds.realm, None);
}

#[test]
fn an_unset_variable_a_missing_file_both_or_neither_are_errors() {
    let cases = [
        (
            "{ username = \"acme\", password_env = \"VOXGATE_TEST_UNSET_9D1F\" }",
            "trunk[0].credentials.password_env",
            "environment variable VOXGATE_TEST_UNSET_9D1F is not set",
        ),
        (
            "{ username = \"acme\", password_file = \"/nonexistent/voxgate/c.pass\" }",
            "trunk[0].credentials.password_file",
            "cannot read \"/nonexistent/voxgate/c.pass\"",
        ),
        (
            "{ username = \"acme\", password_file = \"/etc/hostname\", password_env = \"PATH\" }",
            "trunk[0].credentials",
            "allowed: { username = \"acme\", password_file",
        ),
        (
            "{ username = \"acme\" }",
            "trunk[0].credentials",
            "allowed: { username = \"acme\", password_file",
        ),
        (
            "{ password_env = \"PATH\" }",
            "trunk[0].credentials.username",
            "required, but missing",
        ),
        (
            "{ username = \"a\\\"b\", password_env = \"PATH\" }",
            "trunk[0].credentials.username",
            "is not valid",
        ),
        (
            "{ username = \"acme\", password_env = \"NOT-A-NAME\" }",
            "trunk[0].credentials.password_env",
            "is not valid",
        ),
    ];
    for (credentials, key, message) in cases {
        let errors = load_str(&trunk(credentials), "x.toml").unwrap_err().0;
        assert_eq!(errors.len(), 1, "{credentials}: {errors:?}");
        let e = &errors[0];
        assert_eq!(e.key, key, "{credentials}: {e}");
        assert_eq!(e.line, Some(18), "{credentials}: {e}");
        assert!(e.to_string().contains(message), "{credentials}: {e}");
    }
}

#[test]
fn a_password_written_in_the_file_is_refused_and_not_echoed() {
    let errors = load_str(
        &trunk("{ username = \"acme\", password = \"inline-secret\" }"),
        "x.toml",
    )
    .unwrap_err()
    .0;
    assert!(
        errors
            .iter()
            .any(|e| e.key == "trunk[0].credentials.password"
                && matches!(e.kind, ConfigErrorKind::UnknownKey { .. })),
        "{errors:?}"
    );
    for e in &errors {
        assert!(!e.to_string().contains("inline-secret"), "{e}");
    }
}

#[test]
fn an_empty_password_file_is_an_error() {
    let dir = TempDir::new();
    dir.write("c.pass", b"\n");
    let config = dir.write(
        "voxgate.toml",
        trunk("{ username = \"acme\", password_file = \"c.pass\" }").as_bytes(),
    );
    let errors = load_file(&config).unwrap_err().0;
    assert!(
        matches!(errors[0].kind, ConfigErrorKind::BadValue { .. }),
        "{errors:?}"
    );
    assert_eq!(errors[0].key, "trunk[0].credentials.password_file");
}
