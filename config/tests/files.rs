//! Loading from disk: relative TLS paths resolve against the config file's folder, missing
//! and unreadable files are named by their resolved path, and non-UTF-8 is located.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::TempDir;

use std::path::Path;

use voxgate_config::{ConfigErrorKind, load_file, load_str};

const BASE: &str = r#"[node]
name = "n1"
region = "r1"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[listener]]
transport = "tls"
address = "127.0.0.1:5061"
"#;

fn tls_config(cert: &str, key: &str, ca: &str) -> String {
    format!("{BASE}certificate = \"{cert}\"\nprivate_key = \"{key}\"\nclient_ca = \"{ca}\"\n")
}

#[test]
fn relative_tls_paths_resolve_against_the_config_folder() {
    let dir = TempDir::new();
    let cert = dir.write("etc/tls/cert.pem", b"cert");
    let key = dir.write("etc/tls/key.pem", b"key");
    let ca = dir.write("etc/ca.pem", b"ca");
    let config = dir.write(
        "etc/voxgate.toml",
        tls_config("tls/cert.pem", "tls/key.pem", "ca.pem").as_bytes(),
    );
    let c = load_file(&config).unwrap();
    let tls = c.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.certificate, Some((cert, key)));
    assert_eq!(tls.client_ca, Some(ca));
    // The paths are usable whatever the working directory.
    let (cert, _) = tls.certificate.as_ref().unwrap();
    assert!(cert.is_absolute(), "{}", cert.display());
}

#[test]
fn absolute_tls_paths_are_kept() {
    let dir = TempDir::new();
    let cert = dir.write("a/cert.pem", b"cert");
    let key = dir.write("a/key.pem", b"key");
    let ca = dir.write("a/ca.pem", b"ca");
    let config = dir.write(
        "b/voxgate.toml",
        tls_config(
            &cert.display().to_string(),
            &key.display().to_string(),
            &ca.display().to_string(),
        )
        .as_bytes(),
    );
    let c = load_file(&config).unwrap();
    assert_eq!(
        c.listeners[0].tls.as_ref().unwrap().certificate,
        Some((cert, key))
    );
}

#[test]
fn missing_files_are_named_by_their_resolved_path() {
    let dir = TempDir::new();
    dir.write("etc/tls/key.pem", b"key");
    dir.write("etc/tls/ca-dir/.keep", b"");
    let config = dir.write(
        "etc/voxgate.toml",
        tls_config("tls/cert.pem", "tls/key.pem", "tls/ca-dir").as_bytes(),
    );
    let errs = load_file(&config).unwrap_err();
    let shown = config.display().to_string();
    let folder = dir.0.join("etc");
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            format!(
                "{shown}:14:15: listener[0].certificate: cannot read \"{}\": no such file; \
                 allowed: a readable file (relative paths are resolved against the config \
                 file's folder)",
                folder.join("tls/cert.pem").display()
            ),
            format!(
                "{shown}:16:13: listener[0].client_ca: cannot read \"{}\": is a directory; \
                 allowed: a readable file (relative paths are resolved against the config \
                 file's folder)",
                folder.join("tls/ca-dir").display()
            ),
        ]
    );
    assert!(matches!(
        &errs.0[0].kind,
        ConfigErrorKind::FileNotFound { path, reason: std::io::ErrorKind::NotFound }
            if path == &folder.join("tls/cert.pem")
    ));
}

#[test]
fn load_str_resolves_against_the_source_names_folder() {
    let dir = TempDir::new();
    let cert = dir.write("cert.pem", b"cert");
    let key = dir.write("key.pem", b"key");
    let ca = dir.write("ca.pem", b"ca");
    let name = dir.0.join("voxgate.toml").display().to_string();
    let c = load_str(&tls_config("cert.pem", "key.pem", "ca.pem"), &name).unwrap();
    let tls = c.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.certificate, Some((cert, key)));
    assert_eq!(tls.client_ca, Some(ca));
    assert_eq!(c.source, name);
}

#[test]
fn not_utf8_is_located() {
    let dir = TempDir::new();
    let config = dir.write("bad.toml", b"[node]\nname = \"caf\xe9\"\n");
    let errs = load_file(&config).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs.to_string(),
        format!(
            "{}:2:12: the file is not valid UTF-8; allowed: UTF-8 text",
            config.display()
        )
    );
}

#[test]
fn the_sample_loads_from_disk() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("voxgate.toml");
    let c = load_file(&path).unwrap();
    assert_eq!(c.source, path.display().to_string());
}
