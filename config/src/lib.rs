//! voxgate's configuration: the TOML schema, its defaults, and validation into typed
//! runtime structs, with errors that name file, line, column and key and say what is
//! allowed.
//!
//! What it is not: it opens no sockets, reads no certificates and writes no CDRs (it only
//! checks that the referenced files are readable and the CDR file's folder exists), and it
//! does not watch the file; the binary reloads by
//! calling [`load_file`] again and swapping the result in.
//!
//! The documented sample, `config/voxgate.toml`, is also the embedded default
//! ([`DEFAULT_TOML`]); it is the configuration reference.
//!
//! ```
//! let config = voxgate_config::load_str(
//!     r#"
//!     [node]
//!     name = "edge-1"
//!     region = "local"
//!
//!     [[listener]]
//!     transport = "udp"
//!     address = "127.0.0.1:5060"
//!
//!     [[trunk]]
//!     name = "carrier-a"
//!     allow = ["192.0.2.0/24"]
//!
//!     [[media_region]]
//!     name = "local"
//!     addresses = ["127.0.0.1"]
//!     port_min = 20000
//!     port_max = 20999
//!     "#,
//!     "edge.toml",
//! )?;
//! let trunk = config.trunk_for("192.0.2.7".parse()?).map(|t| t.name.as_str());
//! assert_eq!(trunk, Some("carrier-a"));
//!
//! let errors = voxgate_config::load_str("[node]\nnmae = \"x\"\n", "bad.toml").unwrap_err();
//! // Every error, one per line, each with file:line:column, key and what is allowed.
//! assert!(errors.to_string().contains("bad.toml:2:1: node.nmae: unknown key; allowed: name, region"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod error;
pub mod flow;
mod headers;
mod model;
mod raw;
mod redact;
pub mod routing;
mod schema;
mod source;
mod validate;

use std::path::Path;

pub use error::{ConfigError, ConfigErrorKind, ConfigErrors, Relation};
pub use headers::{
    CallerIdRule, HeaderRules, NEVER_PASSED, PassPattern, RESERVED_HEADERS, TEMPLATE_VARIABLES,
    TRUST_HEADERS, Template, TemplateVars, passable,
};
pub use model::{
    Admin, Api, ApiToken, Calls, Cdr, Config, Control, Credentials, Destination, DigestAlgorithm,
    Dns, Hep, Keepalive, KillSwitch, Listener, ListenerTransport, LogFormat, Logging, Media,
    MediaRegion, NamedPrompt, Node, Numbering, Protection, Register, Route, Secret, SipLimits,
    SipTimers, SrtpMode, SrtpSuite, TlsFiles, Trunk, TrunkAuth, TrunkName, UserMatch,
};
pub use redact::redact_number;
pub use validate::KNOWN_CODECS;

use source::Source;

/// The embedded default configuration: the documented sample `config/voxgate.toml`.
pub const DEFAULT_TOML: &str = include_str!("../voxgate.toml");

/// The name errors in the embedded default are reported under.
pub const DEFAULT_SOURCE_NAME: &str = "<embedded default>";

/// Reads, parses and validates a configuration file.
///
/// Relative paths in it (certificates, keys, CAs) are resolved against the file's folder.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: None,
            column: None,
            key: String::new(),
            kind: ConfigErrorKind::Unreadable { reason: e.kind() },
        }])
    })?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let source = Source::new(&name, valid);
            let at = valid.len();
            return Err(ConfigErrors(vec![source.error(
                at..at,
                "",
                ConfigErrorKind::NotUtf8,
            )]));
        }
    };
    let base_dir = path.parent().unwrap_or(Path::new(""));
    load(text, &name, base_dir)
}

/// Parses and validates configuration text; `source_name` is the name errors carry.
///
/// Relative paths in the text are resolved against the folder of `source_name` (read as
/// a path), so `load_str(text, "/etc/voxgate/voxgate.toml")` behaves like [`load_file`].
pub fn load_str(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
    let base_dir = Path::new(source_name).parent().unwrap_or(Path::new(""));
    load(text, source_name, base_dir)
}

/// The embedded default configuration ([`DEFAULT_TOML`]), validated.
pub fn default_config() -> Result<Config, ConfigErrors> {
    load_str(DEFAULT_TOML, DEFAULT_SOURCE_NAME)
}

fn load(text: &str, name: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let source = Source::new(name, text);
    let result = source::parse(&source).and_then(|(raw, mut unknown_keys)| {
        // The included files' texts first: their sources borrow them.
        let files = read_includes(&source, raw.include.as_ref(), base_dir, &mut unknown_keys);
        let mut includes = Vec::new();
        for (file, text) in &files {
            let included = Source::new(file, text);
            match source::parse_include(&included) {
                Ok((tables, unknown)) => {
                    unknown_keys.extend(unknown);
                    includes.push((included, tables));
                }
                Err(errors) => unknown_keys.extend(errors),
            }
        }
        match validate::validate(raw, &source, base_dir, &includes) {
            Ok(config) if unknown_keys.is_empty() => Ok(config),
            Ok(_) => Err(unknown_keys),
            Err(errors) => {
                unknown_keys.extend(errors);
                Err(unknown_keys)
            }
        }
    });
    result.map_err(|mut errors| {
        // File order reads best; the sort is stable, so errors at one spot keep their order.
        errors.sort_by_key(|e| (e.line, e.column));
        ConfigErrors(errors)
    })
}

/// The files `include` names, as (name errors carry, text), in order: a plain path, or
/// a folder's `*.toml` files in name order. One that cannot be read is an error at its
/// entry.
fn read_includes(
    source: &Source<'_>,
    include: Option<&raw::List<String>>,
    base_dir: &Path,
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (i, entry) in include.iter().flat_map(|l| l.get_ref().iter()).enumerate() {
        let key = format!("include[{i}]");
        let path = base_dir.join(entry.get_ref());
        let unreadable = |path: &Path, reason: std::io::ErrorKind| {
            let kind = ConfigErrorKind::FileNotFound {
                path: path.to_path_buf(),
                reason,
            };
            source.error(entry.span(), key.clone(), kind)
        };
        let paths = match entry.get_ref().strip_suffix("*.toml") {
            Some(_) => {
                let folder = path.parent().unwrap_or(base_dir).to_path_buf();
                match std::fs::read_dir(&folder) {
                    Ok(dir) => {
                        let mut found: Vec<_> = dir
                            .filter_map(Result::ok)
                            .map(|e| e.path())
                            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                            .collect();
                        found.sort();
                        found
                    }
                    Err(e) => {
                        errors.push(unreadable(&folder, e.kind()));
                        continue;
                    }
                }
            }
            None => vec![path],
        };
        for path in paths {
            match std::fs::read(&path).map(String::from_utf8) {
                Ok(Ok(text)) => files.push((path.display().to_string(), text)),
                Ok(Err(_)) => errors.push(unreadable(&path, std::io::ErrorKind::InvalidData)),
                Err(e) => errors.push(unreadable(&path, e.kind())),
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample is the configuration reference: every key of the schema must be set or
    /// documented in it (as `key = ...`, `# key = ...`, `#   key  (...)` or a header).
    #[test]
    fn sample_documents_every_key() {
        for table in schema::TABLES {
            for key in table.keys {
                let documented = DEFAULT_TOML.lines().any(|line| {
                    let rest = line.trim_start_matches(['#', ' ', '[', '{']);
                    // `[sip.timers]` documents both `sip` and `timers`.
                    [Some(rest), rest.strip_prefix("sip.")]
                        .into_iter()
                        .flatten()
                        .any(|r| {
                            r.strip_prefix(key.name)
                                .is_some_and(|after| after.starts_with([' ', ':', '=', ']', '.']))
                        })
                });
                assert!(
                    documented,
                    "{}.{} is not documented in voxgate.toml",
                    table.pattern, key.name
                );
            }
        }
    }

    #[test]
    fn default_is_valid_and_loopback_only() {
        let config = match default_config() {
            Ok(c) => c,
            Err(e) => panic!("embedded default is invalid:\n{e}"),
        };
        assert!(!config.listeners.is_empty());
        for l in &config.listeners {
            assert!(
                l.address.ip().is_loopback(),
                "{} {} is not loopback",
                l.transport,
                l.address
            );
        }
        assert!(
            config.admin.listen.ip().is_loopback(),
            "admin {}",
            config.admin.listen
        );
        for r in &config.media_regions {
            for a in &r.addresses {
                assert!(a.is_loopback(), "media region {} address {a}", r.name);
            }
        }
        for t in &config.trunks {
            for net in &t.allow {
                assert!(net.network().is_loopback(), "trunk {} allows {net}", t.name);
            }
        }
    }
}
