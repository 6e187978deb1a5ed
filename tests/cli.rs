//! The voxgate command line, run as a process.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn voxgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxgate"))
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn version_prints_the_crate_version() {
    let out = voxgate().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("voxgate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_config_accepts_the_sample() {
    let out = voxgate()
        .arg("check-config")
        .arg(repo("config/voxgate.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "OK\n");
}

#[test]
fn check_config_prints_every_error_with_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("voxgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    let sample = std::fs::read_to_string(repo("config/voxgate.toml")).unwrap();
    // Two independent mistakes: a typo'd key and a CIDR with host bits set.
    let bad = sample
        .replacen("[node]\n", "[node]\nnmae = \"x\"\n", 1)
        .replacen("127.0.0.1/32", "127.0.0.1/8", 1);
    assert_ne!(bad, sample, "the sample changed shape; update this test");
    std::fs::write(&file, &bad).unwrap();
    let out = voxgate().arg("check-config").arg(&file).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    let typo_line = bad.lines().position(|l| l.starts_with("nmae")).unwrap() + 1;
    assert!(
        lines.iter().any(
            |l| l.starts_with(&format!("{}:{typo_line}:", file.display()))
                && l.contains("node.nmae")
        ),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("trunk[0].allow[0]") && l.contains("allowed")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_config_prints_the_embedded_sample() {
    let out = voxgate().arg("default-config").output().unwrap();
    assert!(out.status.success());
    let sample = std::fs::read_to_string(repo("config/voxgate.toml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), sample);
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let out = voxgate()
        .args(["--config", "/nonexistent/voxgate.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/voxgate.toml"), "{err}");
}

#[test]
fn hash_token_prints_the_sha256_that_api_tokens_hold() {
    let out = voxgate().args(["hash-token", "abc"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    );
    // The sample's demo token is the one it names.
    let out = voxgate()
        .args(["hash-token", "voxgate-demo-token"])
        .output()
        .unwrap();
    let hash = String::from_utf8(out.stdout).unwrap();
    let sample = std::fs::read_to_string(repo("config/voxgate.toml")).unwrap();
    assert!(
        sample.contains(&format!("sha256 = \"{}\"", hash.trim())),
        "{hash}"
    );
}
