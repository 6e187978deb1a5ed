//! Trunk `credentials`: the password from a file or an environment variable, exactly one
//! of them, read at load; errors name file, line and key; the password never shows.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{MINIMAL, TempDir};
use voxgate_config::{ConfigErrorKind, DigestAlgorithm, TrunkAuth, load_file, load_str};

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

#[test]
fn auth_digest_needs_credentials_with_a_realm_and_takes_known_algorithms() {
    let with = |extra: &str| {
        format!("{MINIMAL}\n[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.0/24\"]\n{extra}\n")
    };
    // No credentials, or credentials without a realm: the error is at `auth`.
    for extra in [
        "auth = \"digest\"",
        "auth = \"digest\"\ncredentials = { username = \"acme\", password_env = \"PATH\" }",
    ] {
        let errors = load_str(&with(extra), "x.toml").unwrap_err().0;
        assert_eq!(errors.len(), 1, "{extra}: {errors:?}");
        assert_eq!(errors[0].key, "trunk[0].auth");
        assert!(
            errors[0]
                .to_string()
                .contains("without credentials naming a realm")
        );
    }
    let ok = with(
        "auth = \"digest\"\ncredentials = { username = \"acme\", password_env = \"PATH\", \
         realm = \"voxgate.example\", algorithms = [\"md5\", \"SHA-512-256\"] }",
    );
    let c = load_str(&ok, "x.toml").unwrap();
    assert_eq!(c.trunks[0].auth, TrunkAuth::Digest);
    let creds = c.trunks[0].credentials.as_ref().unwrap();
    assert_eq!(
        creds.algorithms,
        [DigestAlgorithm::Md5, DigestAlgorithm::Sha512_256]
    );
    // The default: address only; SHA-256 then MD5 when challenging.
    let plain = load_str(
        &with("credentials = { username = \"acme\", password_env = \"PATH\" }"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(plain.trunks[0].auth, TrunkAuth::Address);
    assert_eq!(
        plain.trunks[0].credentials.as_ref().unwrap().algorithms,
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );
    for (algorithms, key) in [
        ("[\"SHA-1\"]", "trunk[0].credentials.algorithms[0]"),
        ("[\"MD5\", \"md5\"]", "trunk[0].credentials.algorithms[1]"),
        ("[]", "trunk[0].credentials.algorithms"),
    ] {
        let text = with(&format!(
            "credentials = {{ username = \"acme\", password_env = \"PATH\", algorithms = {algorithms} }}"
        ));
        let errors = load_str(&text, "x.toml").unwrap_err().0;
        assert_eq!(errors.len(), 1, "{algorithms}: {errors:?}");
        assert_eq!(errors[0].key, key, "{}", errors[0]);
    }
    let errors = load_str(&with("auth = \"password\""), "x.toml")
        .unwrap_err()
        .0;
    assert_eq!(errors[0].key, "trunk[0].auth", "{}", errors[0]);
}
