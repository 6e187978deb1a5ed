//! Loads every `*.toml` file in the repository as a voxgate configuration: each must be
//! valid unless its file name contains "invalid", and then it must fail to load.
//!
//! Not voxgate configs, and skipped: Cargo and tool files (Cargo.toml, rustfmt.toml, ...),
//! anything in a target dir or a hidden dir, and files whose first line is
//! `# voxgate-config: skip`.
//!
//! An invalid file may list the exact errors it must produce, one per line, as
//! `# expect: FILE:LINE:COL: key: message` (FILE stands for the file's path, DIR for its
//! folder); then the errors must be exactly those, in that order. Put them at the end of
//! the file, so that they do not move the lines they talk about.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

const TOOL_FILES: &[&str] = &[
    "Cargo.toml",
    "rust-toolchain.toml",
    "rustfmt.toml",
    ".rustfmt.toml",
    "clippy.toml",
    ".clippy.toml",
    "deny.toml",
    "typos.toml",
    "_typos.toml",
    ".typos.toml",
    "taplo.toml",
    ".taplo.toml",
    "Cross.toml",
    "release.toml",
    "cliff.toml",
    "dist-workspace.toml",
];

const SKIP_MARKER: &str = "# voxgate-config: skip";

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            let skip = name.starts_with('.')
                || name == "target"
                || name.starts_with("target-")
                || name == "node_modules"
                // Scratch output of the SIPp runner and fuzzers (gitignored).
                || (name == "out" && path.parent().is_some_and(|p| p.ends_with("tests/sipp")))
                || name == "corpus"
                || name == "artifacts";
            if !skip {
                collect(&path, out);
            }
        } else if file_type.is_file()
            && name.ends_with(".toml")
            && !TOOL_FILES.contains(&name.as_str())
        {
            let first_line = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.lines().next().map(str::to_owned));
            if first_line.as_deref() != Some(SKIP_MARKER) {
                out.push(path);
            }
        }
    }
}

/// The `# expect:` lines of a file, with FILE replaced by `shown` (the path errors carry)
/// and DIR by its folder.
fn expected_errors(path: &Path, shown: &str) -> Vec<String> {
    let dir = path.parent().unwrap().display().to_string();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|l| l.replacen("FILE", shown, 1).replace("DIR", &dir))
        .collect()
}

#[test]
fn every_toml_in_the_repo_loads_unless_named_invalid() {
    let mut files = Vec::new();
    collect(&repo_root(), &mut files);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    // Guards against a walk that silently finds nothing.
    assert!(
        names.iter().any(|n| n.ends_with("config/voxgate.toml")),
        "the sample was not found among {names:#?}"
    );
    assert!(
        names.iter().any(|n| n.contains("invalid")),
        "no invalid example found among {names:#?}"
    );

    // A file another one includes holds only entry points and flows: it is checked as
    // part of the file that includes it, not on its own.
    let included: Vec<PathBuf> = files
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let table: toml::Table = text.parse().unwrap_or_default();
            let dir = path.parent().unwrap().to_path_buf();
            table
                .get("include")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .map(move |f| dir.join(f))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        included.iter().any(|p| p.ends_with("config/flows.toml")),
        "the included sample was not found"
    );

    let mut failures = Vec::new();
    for path in files.iter().filter(|p| !included.contains(p)) {
        let shown = path.display().to_string();
        let invalid = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("invalid"));
        match (voxgate_config::load_file(path), invalid) {
            (Ok(_), false) => {}
            (Err(e), false) => failures.push(format!("{shown} should be valid:\n{e}")),
            (Ok(_), true) => failures.push(format!("{shown} is named invalid but loads")),
            (Err(e), true) => {
                let expected = expected_errors(path, &shown);
                let got: Vec<String> = e.iter().map(ToString::to_string).collect();
                if !expected.is_empty() && got != expected {
                    failures.push(format!(
                        "{shown}: errors differ\n  expected:\n    {}\n  got:\n    {}",
                        expected.join("\n    "),
                        got.join("\n    ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
