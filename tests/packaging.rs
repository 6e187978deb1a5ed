//! The packaging recipes point at files that exist: `cargo deb`'s assets
//! (`[package.metadata.deb]` in Cargo.toml) and the Dockerfile's. cargo-deb itself is
//! not needed (CI does not install it); this catches a renamed or moved file, a man page
//! that build.rs stopped writing, and a unit whose binaries the package does not install.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The profile folder this test's binaries were built into (`target/debug/`): build.rs
/// wrote the man pages into its `man/`, as it does into `target/release/man/` for cargo deb.
fn profile_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_voxgate"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn deb_metadata() -> toml::Table {
    let text = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// (source, destination, mode) of each asset.
fn assets() -> Vec<(String, String, String)> {
    deb_metadata()["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a
                .as_array()
                .expect("an asset is [source, destination, mode]");
            let s = |i: usize| a[i].as_str().unwrap().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

/// The files an asset source names: `target/release/` is cargo-deb's placeholder for the
/// real target folder, here the test's own profile folder.
fn sources(source: &str) -> Vec<PathBuf> {
    let path = match source.strip_prefix("target/release/") {
        Some(rest) => profile_dir().join(rest),
        None => repo(source),
    };
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    match name.split_once('*') {
        None => vec![path],
        Some((prefix, suffix)) => {
            let dir = path.parent().unwrap();
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_str().unwrap();
                    n.starts_with(prefix) && n.ends_with(suffix)
                })
                .collect();
            found.sort();
            found
        }
    }
}

#[test]
fn every_deb_asset_exists() {
    for (source, dest, mode) in assets() {
        let files = sources(&source);
        assert!(!files.is_empty(), "asset {source} matches no file");
        for f in files {
            assert!(f.is_file(), "asset {source}: {} is missing", f.display());
        }
        assert!(
            !dest.starts_with('/'),
            "{dest}: cargo-deb wants a relative path"
        );
        assert!(
            u32::from_str_radix(&mode, 8).is_ok_and(|m| m <= 0o777),
            "{source}: mode {mode}"
        );
    }
}

#[test]
fn the_package_installs_what_the_unit_runs_and_what_it_reads() {
    let assets = assets();
    let installed = |dest: &str| {
        assets.iter().any(|(source, d, _)| {
            let file = Path::new(source).file_name().unwrap().to_str().unwrap();
            d == dest || (d.ends_with('/') && format!("{d}{file}") == dest)
        })
    };
    for dest in [
        "usr/bin/voxgate",
        "usr/bin/voxgatectl",
        "etc/voxgate/voxgate.toml",
        "etc/voxgate/voxgatectl.toml",
        "etc/logrotate.d/voxgate",
    ] {
        assert!(installed(dest), "no asset installs /{dest}");
    }
    // The unit starts and reloads with what the package installs.
    let unit = std::fs::read_to_string(repo("systemd/voxgate.service")).unwrap();
    for line in unit.lines().filter(|l| l.starts_with("Exec")) {
        let (_, command) = line.split_once('=').unwrap();
        let binary = command.split_whitespace().next().unwrap();
        assert!(
            installed(binary.trim_start_matches('/')),
            "{line}: the package does not install {binary}"
        );
        for arg in command
            .split_whitespace()
            .filter(|a| a.starts_with("/etc/"))
        {
            assert!(installed(arg.trim_start_matches('/')), "{line}: {arg}");
        }
    }
    // The token file is root's only.
    let ctl = assets
        .iter()
        .find(|(_, d, _)| d == "etc/voxgate/voxgatectl.toml")
        .unwrap();
    assert_eq!(ctl.2, "600");
    // cargo-deb finds the unit as <unit-scripts>/<unit-name>.service.
    let deb = deb_metadata();
    let units = deb["systemd-units"].as_table().unwrap();
    let dir = units["unit-scripts"].as_str().unwrap();
    let name = units["unit-name"].as_str().unwrap();
    assert!(repo(dir).join(format!("{name}.service")).is_file());
    assert!(repo(deb["maintainer-scripts"].as_str().unwrap()).is_dir());
}

#[test]
fn build_rs_writes_a_man_page_for_each_binary_and_subcommand() {
    let man = profile_dir().join("man");
    for page in [
        "voxgate",
        "voxgatectl",
        "voxgate-check-config",
        "voxgatectl-drain",
    ] {
        let text = std::fs::read_to_string(man.join(format!("{page}.1")))
            .unwrap_or_else(|e| panic!("{page}.1: {e}"));
        assert!(text.contains(".TH"), "{page}.1 is not a man page");
    }
    // Written from the same clap definitions as --help.
    let ctl = std::fs::read_to_string(man.join("voxgatectl.1")).unwrap();
    assert!(
        ctl.contains("VOXGATE_TOKEN"),
        "voxgatectl.1 lacks its options"
    );
}

#[test]
fn the_dockerfile_copies_files_that_exist_and_runs_as_no_root_with_a_health_check() {
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for line in lines.iter().filter(|l| l.starts_with("COPY ")) {
        if line.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            if *source != "." {
                assert!(repo(source).exists(), "{line}: {source} is missing");
            }
        }
    }
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(!["root", "0"].contains(&user.trim()), "runs as {user}");
    assert!(text.contains("HEALTHCHECK") && text.contains("/healthz"));
    // The builder uses the pinned toolchain.
    let pinned = std::fs::read_to_string(repo("rust-toolchain.toml")).unwrap();
    let channel = pinned
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        text.contains(&format!("FROM rust:{channel}-")),
        "the Dockerfile's builder is not rust:{channel}"
    );
}
