//! Build script of the voxgate binaries:
//! - records the git commit they are built from, for `voxgate_build_info` and the
//!   start-up log line (`VOXGATE_GIT_COMMIT` from the environment when set, else git's
//!   HEAD; `unknown` outside a git checkout or without git, as when built from a source
//!   package);
//! - writes the man pages of voxgate and voxgatectl (and of each of their subcommands)
//!   from their clap definitions (src/cli.rs, src/bin/voxgatectl/cli.rs) into `man/`
//!   beside the binaries (`target/release/man/` for `cargo deb`, which packages them from
//!   there): generated with every build, so they cannot drift from `--help`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)] // only `Cli::command()` is used here
#[path = "src/cli.rs"]
mod voxgate_cli;

#[allow(dead_code)]
#[path = "src/bin/voxgatectl/cli.rs"]
mod voxgatectl_cli;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    git_commit();
    println!("cargo:rerun-if-changed=src/cli.rs");
    println!("cargo:rerun-if-changed=src/bin/voxgatectl/cli.rs");
    if let Err(e) = man_pages() {
        // A man page is documentation: a build without it still runs; `cargo deb` then
        // names the missing file.
        println!("cargo:warning=man pages not written: {e}");
    }
}

fn git_commit() {
    // A build without the repository (a container build, whose context leaves .git out)
    // is told the commit: `--build-arg VOXGATE_GIT_COMMIT=$(git rev-parse --short=12 HEAD)`.
    println!("cargo:rerun-if-env-changed=VOXGATE_GIT_COMMIT");
    let given = std::env::var("VOXGATE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    let commit = given.or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    if commit.is_some() {
        // A new commit or checkout moves HEAD or the branch it names (loose or packed).
        for path in [
            git(&["rev-parse", "--git-path", "HEAD"]),
            git(&["symbolic-ref", "-q", "HEAD"])
                .and_then(|branch| git(&["rev-parse", "--git-path", &branch])),
            git(&["rev-parse", "--git-path", "packed-refs"]),
        ]
        .into_iter()
        .flatten()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!(
        "cargo:rustc-env=VOXGATE_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}

/// The profile's output folder (`target/<profile>/`, or `target/<triple>/<profile>/`):
/// OUT_DIR is `<that>/build/voxgate-<hash>/out`. Cargo gives a build script no other
/// handle on it, and cargo-deb takes packaged files from `target/release/` only.
fn profile_dir() -> Result<PathBuf, String> {
    let out = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?;
    Path::new(&out)
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no profile folder above {}", Path::new(&out).display()))
}

fn man_pages() -> Result<(), String> {
    use clap::CommandFactory as _;
    let dir = profile_dir()?.join("man");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut pages = Vec::new();
    for mut cmd in [voxgate_cli::Cli::command(), voxgatectl_cli::Cli::command()] {
        // Copies global options (voxgatectl's --admin, --token, ...) into each subcommand.
        cmd.build();
        let bin = cmd.get_name().to_owned();
        // One page a subcommand too (`man voxgatectl-block`), as the main page's
        // SUBCOMMANDS section names them; clap's own `help` subcommand needs none.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("{bin}-{}", sub.get_name());
            // clap takes `&'static str` names without its `string` feature; a build
            // script runs once, so leaking a few short strings costs nothing.
            let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
            let page = sub
                .clone()
                .name(leak(name.clone()))
                .bin_name(leak(format!("{bin} {}", sub.get_name())))
                .version(env!("CARGO_PKG_VERSION"));
            pages.push((name, page));
        }
        pages.push((bin, cmd));
    }
    for (name, cmd) in pages {
        let mut roff = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut roff)
            .map_err(|e| format!("{name}: {e}"))?;
        let path = dir.join(format!("{name}.1"));
        // Unchanged pages keep their mtime.
        if std::fs::read(&path).ok().as_deref() != Some(&roff[..]) {
            std::fs::write(&path, roff).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}
