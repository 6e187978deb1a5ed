//! Errors of loading a configuration: each names the file, line, column and dotted key,
//! says what is wrong and what is allowed. Network engineers read these, so the wording
//! matters as much as the structure.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::model::ListenerTransport;

/// Every error found in one configuration file, in file order.
///
/// Displayed as one error per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// How many errors were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no errors (never the case for an `Err` returned by this crate).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// One problem in a configuration file, located by file, line, column and key path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file's path as given, or `<embedded default>`.
    pub file: String,
    /// 1-based line; `None` only when no position exists (the file could not be read).
    pub line: Option<usize>,
    /// 1-based column, counted in characters.
    pub column: Option<usize>,
    /// Dotted key path, e.g. `trunk[1].allow[0]`; empty when the error is about the whole file.
    pub key: String,
    /// What is wrong, with the structured details.
    pub kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ConfigError {}

/// How two numbers must relate (see [`ConfigErrorKind::Order`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Relation {
    /// `>=`
    AtLeast,
    /// `>`
    GreaterThan,
    /// `<=`
    AtMost,
}

impl Relation {
    fn words(self) -> &'static str {
        match self {
            Relation::AtLeast => "at least",
            Relation::GreaterThan => "greater than",
            Relation::AtMost => "at most",
        }
    }
}

/// What is wrong. Each variant's `Display` reads "{what is wrong}; allowed: {what is allowed}".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The configuration file itself could not be read.
    #[error("cannot read the file: {}; allowed: a readable TOML file", io_reason(*.reason))]
    Unreadable {
        /// Why, as the OS said it.
        reason: io::ErrorKind,
    },
    /// The file is not UTF-8 (the position is that of the first bad byte).
    #[error("the file is not valid UTF-8; allowed: UTF-8 text")]
    NotUtf8,
    /// The text is not valid TOML.
    #[error("TOML syntax error: {detail}; allowed: TOML syntax (https://toml.io)")]
    Syntax {
        /// The TOML parser's description.
        detail: String,
    },
    /// A key that the schema does not know (often a typo).
    #[error("unknown key; allowed: {}", .allowed.join(", "))]
    UnknownKey {
        /// The keys allowed in this table.
        allowed: Vec<&'static str>,
    },
    /// A required key or table is absent.
    #[error("required, but missing; allowed: {expected}")]
    Missing {
        /// What to add.
        expected: String,
    },
    /// A list that must hold at least one element is empty.
    #[error("is empty; allowed: {expected}")]
    Empty {
        /// What the list must hold.
        expected: String,
    },
    /// A value of the wrong type or form.
    #[error("{found} is not valid; allowed: {expected}")]
    BadValue {
        /// The value as written in the file.
        found: String,
        /// What is allowed here.
        expected: String,
    },
    /// A number outside its allowed range.
    #[error("{found} is out of range; allowed: {min}..={max}")]
    OutOfRange {
        /// The number as written.
        found: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A number that must be ordered relative to another key, and is not.
    #[error("{found} is not {} {other_key} ({other_value}); allowed: a value {} {other_value}", .relation.words(), .relation.words())]
    Order {
        /// The number as written.
        found: i64,
        /// How it must relate to the other key.
        relation: Relation,
        /// The other key's path.
        other_key: String,
        /// The other key's value.
        other_value: i64,
    },
    /// An RTP port range must start on an even port (RTP even, RTCP the next odd port).
    #[error(
        "{found} is odd; allowed: an even port 1024..=65534 (RTP uses the even port, RTCP the next)"
    )]
    OddPort {
        /// The port as written.
        found: i64,
    },
    /// A CIDR with bits set after the prefix, e.g. `10.0.0.1/8`.
    #[error("\"{found}\" has host bits set; allowed: a CIDR network such as \"{network}\"")]
    HostBitsSet {
        /// The CIDR as written.
        found: String,
        /// The network it probably means.
        network: IpNet,
    },
    /// A value that must be unique, used twice.
    #[error("{found} is also used by {first_key} (line {first_line}); allowed: {rule}")]
    Duplicate {
        /// The repeated value.
        found: String,
        /// Key path of the first use.
        first_key: String,
        /// Line of the first use.
        first_line: usize,
        /// The uniqueness rule, in words.
        rule: &'static str,
    },
    /// Two trunks' allow-lists overlap, so a source address would not name one trunk.
    #[error(
        "{net} overlaps {other_key} {other_net} (line {other_line}) of trunk \"{other_trunk}\"; allow-lists of two trunks must not overlap"
    )]
    Overlap {
        /// This CIDR.
        net: IpNet,
        /// Key path of the other CIDR.
        other_key: String,
        /// The other CIDR.
        other_net: IpNet,
        /// Line of the other CIDR.
        other_line: usize,
        /// Name of the trunk the other CIDR belongs to.
        other_trunk: String,
    },
    /// Two media regions share an address and their RTP port ranges overlap.
    #[error(
        "ports {port_min}..={port_max} on {address} overlap {other_key} {other_min}..={other_max} (line {other_line}) of media region \"{other_region}\"; allowed: disjoint port ranges for regions sharing an address"
    )]
    PortRangeOverlap {
        /// The address both regions use.
        address: IpAddr,
        /// This region's first port.
        port_min: u16,
        /// This region's last port.
        port_max: u16,
        /// Key path of the other region's range.
        other_key: String,
        /// The other region's first port.
        other_min: u16,
        /// The other region's last port.
        other_max: u16,
        /// Line of the other region's range.
        other_line: usize,
        /// The other region's name.
        other_region: String,
    },
    /// An environment variable a key names (a password's) is not set, is empty or
    /// is not UTF-8.
    #[error("environment variable {name} is not set or empty; allowed: {expected}")]
    EnvUnset {
        /// The variable's name.
        name: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// A name that should refer to another section's entry, and refers to none.
    #[error("\"{found}\" names no [[{section}]]; allowed: {}", known_list(.section, .known))]
    UnknownReference {
        /// The name as written.
        found: String,
        /// The section it should name, e.g. `trunk`.
        section: &'static str,
        /// The names defined in that section.
        known: Vec<String>,
    },
    /// A referenced file (certificate, key, CA) does not exist or cannot be read.
    #[error("cannot read \"{}\": {}; allowed: a readable file (relative paths are resolved against the config file's folder)", .path.display(), io_reason(*.reason))]
    FileNotFound {
        /// The resolved path.
        path: PathBuf,
        /// Why, as the OS said it.
        reason: io::ErrorKind,
    },
    /// A file voxgate writes (the CDR file) would land in a folder that does not exist.
    #[error("the folder \"{}\" {}; allowed: a file in an existing folder (relative paths are resolved against the config file's folder)", .folder.display(), folder_reason(*.reason))]
    NoFolder {
        /// The resolved folder.
        folder: PathBuf,
        /// Why, as the OS said it.
        reason: io::ErrorKind,
    },
    /// `recordings_dir` names no folder voxgate can write recordings into.
    #[error("the folder \"{}\" {}; allowed: {}", .path.display(), folder_reason(*.reason), crate::schema::RECORDINGS_DIR)]
    RecordingsDir {
        /// The resolved path.
        path: PathBuf,
        /// Why, as the OS said it (`PermissionDenied`: not writable).
        reason: io::ErrorKind,
    },
    /// A path that must name a file names a folder.
    #[error("\"{}\" is a folder; allowed: a file path such as \"{}\"", .path.display(), .path.join("cdr.jsonl").display())]
    NotAFile {
        /// The resolved path.
        path: PathBuf,
    },
    /// A regular expression that does not compile.
    #[error(
        "\"{}\" is not a valid regular expression: {detail}; allowed: Rust regex syntax (https://docs.rs/regex/#syntax), e.g. \"^49(30|40)[0-9]+$\"", one_line(.found)
    )]
    BadRegex {
        /// The pattern as written.
        found: String,
        /// What the regex parser found wrong.
        detail: String,
    },
    /// A wildcard listener without `advertise`: there is no address to tell peers.
    #[error(
        "required because address {address} binds every address and cannot be put in Via or Contact; allowed: the {} address peers reach this listener on, such as \"{}\"", if .address.is_ipv4() { "IPv4" } else { "IPv6" }, if .address.is_ipv4() { "203.0.113.10" } else { "2001:db8::10" }
    )]
    AdvertiseRequired {
        /// The listener's (wildcard) address.
        address: std::net::SocketAddr,
    },
    /// A TLS-only key on a udp or tcp listener.
    #[error(
        "only allowed on a tls listener, this one is {transport}; allowed: remove it, or set transport = \"tls\""
    )]
    TlsOnly {
        /// The listener's transport.
        transport: ListenerTransport,
    },
    /// `certificate` without `private_key` or the other way round.
    #[error(
        "{missing_key} is missing; allowed: certificate and private_key together, or neither (a self-signed certificate is generated at start)"
    )]
    IncompleteKeyPair {
        /// Key path of the missing half.
        missing_key: String,
    },
    /// `control = "api"` on a route or a trunk of a file without an `[api]` section.
    #[error(
        "\"api\" needs an [api] section, and the file has none; allowed: \"static\", or add an [api] section (listen, tokens)"
    )]
    ApiWithoutSection,
    /// A prompt file that cannot be played.
    #[error("\"{}\" cannot be played: {error}; allowed: {}", .path.display(), crate::schema::PROMPT_FILE)]
    BadPrompt {
        /// The resolved path.
        path: PathBuf,
        /// What is wrong with it.
        error: voxgate_media::MediaError,
    },
    /// `prompts_dir` names no readable folder.
    #[error("cannot read the folder \"{}\": {}; allowed: {}", .path.display(), io_reason(*.reason), crate::schema::PROMPTS_DIR)]
    NoPromptsDir {
        /// The resolved path.
        path: PathBuf,
        /// Why, as the OS said it.
        reason: io::ErrorKind,
    },
    /// A route that an earlier route takes every call of (routes are tried in file order).
    #[error(
        "every number it matches is taken first by {other_key} (line {other_line}) of route \"{other_route}\", so this route is never used; allowed: a route some call can reach: put the narrower route first, or remove one"
    )]
    ShadowedRoute {
        /// Key path of the earlier route's match.
        other_key: String,
        /// Line of the earlier route's match.
        other_line: usize,
        /// The earlier route's name.
        other_route: String,
    },
    /// A `sips:` destination with a transport other than TLS.
    #[error(
        "transport {transport} with a sips: URI; allowed: \"tls\" (or leave transport out) for sips:, any transport for sip:"
    )]
    SipsNeedsTls {
        /// The transport given.
        transport: ListenerTransport,
    },
}

/// The OS's reason in the words of `ls` and `cat`, which operators know.
fn io_reason(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::IsADirectory => "is a directory".to_owned(),
        other => other.to_string(),
    }
}

/// Why a folder cannot hold a file, in words about folders.
fn folder_reason(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::NotFound => "does not exist".to_owned(),
        io::ErrorKind::NotADirectory => "is a file, not a folder".to_owned(),
        other => format!("cannot be used: {}", io_reason(other)),
    }
}

/// `text` with control characters escaped, so that an error stays on one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn known_list(section: &str, known: &[String]) -> String {
    if known.is_empty() {
        return format!("the name of a [[{section}]], but none is defined");
    }
    let names: Vec<String> = known.iter().map(|n| format!("\"{n}\"")).collect();
    format!("one of {}", names.join(", "))
}
