//! Where the admin API is and the token: flags, then the environment (`VOXGATE_ADMIN`,
//! `VOXGATE_TOKEN`, both read by clap into the flags), then the file
//! (`--config`, else `/etc/voxgate/voxgatectl.toml` if it exists), then the default
//! address 127.0.0.1:9060 with no token.

use anyhow::Context as _;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file read when `--config` is not given (only if it exists).
pub const DEFAULT_FILE: &str = "/etc/voxgate/voxgatectl.toml";

/// The admin address when nothing names one (the embedded default's).
pub const DEFAULT_ADMIN: &str = "127.0.0.1:9060";

/// `voxgatectl.toml`.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The admin API's address, `host:port`.
    pub admin: Option<String>,
    /// The token itself (keep the file readable by its users only).
    pub token: Option<String>,
    /// Or a file holding it (its first line), relative to this file's folder.
    pub token_file: Option<PathBuf>,
}

/// Reads `path` (an explicit `--config` must exist; the default may not).
pub fn read(path: Option<&Path>) -> anyhow::Result<File> {
    let (path, must_exist) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(File::default());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut file: File = toml::from_str(&text)
        .with_context(|| format!("{}: allowed keys: admin, token, token_file", path.display()))?;
    if file.token.is_some() && file.token_file.is_some() {
        anyhow::bail!("{}: token and token_file: give one", path.display());
    }
    if let Some(t) = file.token_file.take() {
        let t = path.parent().unwrap_or(Path::new("")).join(t);
        let text = std::fs::read_to_string(&t)
            .with_context(|| format!("reading token_file {}", t.display()))?;
        file.token = text
            .lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty());
    }
    Ok(file)
}

/// `http://host:port/` or `host:port` as `host:port`.
pub fn address(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_prefix("http://").unwrap_or(text);
    text.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address("http://127.0.0.1:9060/"), "127.0.0.1:9060");
        assert_eq!(address("[::1]:9060"), "[::1]:9060");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("voxgatectl-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("ctl.toml");
        std::fs::write(dir.join("token"), "s3cret\n").unwrap();
        std::fs::write(&f, "admin = \"127.0.0.1:1\"\ntoken_file = \"token\"\n").unwrap();
        let read_back = read(Some(&f)).unwrap();
        assert_eq!(read_back.admin.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(read_back.token.as_deref(), Some("s3cret"));
        std::fs::write(&f, "adminn = \"x\"\n").unwrap();
        assert!(
            read(Some(&f))
                .unwrap_err()
                .to_string()
                .contains("allowed keys")
        );
        assert!(read(Some(&dir.join("missing.toml"))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
