//! Config reload (SIGHUP or `POST /reload`): the new file is validated as a
//! whole; a bad file is refused with its errors and the old snapshot keeps
//! running; a good one is swapped in atomically and applies to new traffic.
//!
//! What is bound at start stays as it runs: a change to a listener, the admin or
//! API address, the node name, the CDR file or the log format is kept out of the
//! installed snapshot (so the snapshot always says what runs) and reported as
//! needing a restart, on every reload until the restart. A change that cannot run
//! beside the rest (the media regions: every call in a region the running media
//! plane lacks would fail) refuses the whole reload.

use crate::admission::{AllowLists, SharedConfig};
use crate::driver::Command;
use crate::error::ReloadError;
use crate::metrics::Metrics;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use tracing::{info, warn};
use voxgate_config::{Config, ConfigErrors};

/// Where the running config came from, so a reload reads the same place.
#[derive(Clone, Debug)]
pub enum ConfigSource {
    /// The default compiled into the binary.
    Embedded,
    /// A file on disk.
    File(PathBuf),
}

impl ConfigSource {
    /// Reads and validates the config from this source.
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        match self {
            ConfigSource::Embedded => voxgate_config::default_config(),
            ConfigSource::File(path) => voxgate_config::load_file(path),
        }
    }

    /// Like [`ConfigSource::load`], with the SHA-256 of the text it read (one read, so
    /// the digest is of the text that was validated).
    pub fn load_with_digest(&self) -> Result<(Config, [u8; 32]), ConfigErrors> {
        match self {
            ConfigSource::Embedded => voxgate_config::default_config()
                .map(|c| (c, crate::auth::hash_token(voxgate_config::DEFAULT_TOML))),
            ConfigSource::File(path) => {
                let text = std::fs::read(path)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                match text {
                    Some(text) => voxgate_config::load_str(&text, &path.display().to_string())
                        .map(|c| (c, crate::auth::hash_token(&text))),
                    // Unreadable or not UTF-8: load_file says which, with the file's name.
                    None => voxgate_config::load_file(path).map(|c| (c, [0; 32])),
                }
            }
        }
    }

    /// The SHA-256 of the source's text now (at start: the binary loaded it already).
    fn digest(&self) -> [u8; 32] {
        match self {
            ConfigSource::Embedded => crate::auth::hash_token(voxgate_config::DEFAULT_TOML),
            ConfigSource::File(path) => std::fs::read(path)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map_or([0; 32], |t| crate::auth::hash_token(&t)),
        }
    }

    fn name(&self) -> String {
        match self {
            ConfigSource::Embedded => voxgate_config::DEFAULT_SOURCE_NAME.to_owned(),
            ConfigSource::File(path) => path.display().to_string(),
        }
    }
}

/// Which config runs (`GET /config`, `voxgatectl config`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConfigVersion {
    /// The file (or `<embedded default>`).
    pub source: String,
    /// The SHA-256 of the text that runs, hex (compare with `sha256sum FILE`).
    pub sha256: String,
    /// 1 for the config loaded at start, then one more per reload applied.
    pub generation: u64,
    /// When it was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// Reloads refused since it was loaded.
    pub refused_since: u64,
    /// Why the last reload was refused, if one was since.
    pub last_refusal: Option<String>,
}

impl ConfigVersion {
    fn new(source: &ConfigSource, digest: &[u8; 32], generation: u64) -> ConfigVersion {
        ConfigVersion {
            source: source.name(),
            sha256: crate::auth::hex(digest),
            generation,
            loaded_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            refused_since: 0,
            last_refusal: None,
        }
    }
}

/// Called with each newly installed config (the binary adjusts logging).
pub type ReloadHook = Box<dyn Fn(&Config) + Send + Sync>;

/// What a successful reload changed and what it could not apply.
#[derive(Debug, Default)]
pub struct ReloadOutcome {
    /// Parts of the new file that differ from what runs and need a restart to take
    /// effect (the running values stay in force until then).
    pub needs_restart: Vec<&'static str>,
}

impl fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "OK: configuration reloaded")?;
        for part in &self.needs_restart {
            writeln!(f, "note: {part} changed; that takes effect after a restart")?;
        }
        Ok(())
    }
}

/// Performs reloads, one at a time.
pub struct Reloader {
    source: ConfigSource,
    shared: SharedConfig,
    commands: mpsc::Sender<Command>,
    metrics: Metrics,
    hook: Option<ReloadHook>,
    dns: Arc<crate::dns::Dns>,
    admission: Arc<AllowLists>,
    lock: Mutex<()>,
    /// The CDR writer, told to reopen its file on every reload.
    records: Option<crate::records::CdrSink>,
    /// Which config runs; written by reloads, read by the admin API.
    version: std::sync::Mutex<ConfigVersion>,
}

impl Reloader {
    /// A reloader for the running config.
    pub fn new(
        source: ConfigSource,
        shared: SharedConfig,
        commands: mpsc::Sender<Command>,
        metrics: Metrics,
        hook: Option<ReloadHook>,
        dns: Arc<crate::dns::Dns>,
        admission: Arc<AllowLists>,
    ) -> Reloader {
        Reloader {
            version: std::sync::Mutex::new(ConfigVersion::new(&source, &source.digest(), 1)),
            source,
            shared,
            commands,
            metrics,
            hook,
            dns,
            admission,
            lock: Mutex::new(()),
            records: None,
        }
    }

    /// Has every reload reopen the CDR file too (logrotate's postrotate
    /// sends SIGHUP), whether or not the new config is accepted.
    pub fn with_records(mut self, records: Option<crate::records::CdrSink>) -> Reloader {
        self.records = records;
        self
    }

    /// Which config runs.
    pub fn version(&self) -> Option<ConfigVersion> {
        self.version.lock().ok().map(|v| v.clone())
    }

    fn refused(&self, e: &ReloadError) {
        if let Ok(mut v) = self.version.lock() {
            v.refused_since += 1;
            v.last_refusal = Some(e.to_string());
        }
    }

    /// Reads the source again and installs it if valid.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _one_at_a_time = self.lock.lock().await;
        if let Some(records) = &self.records {
            records.reopen().await;
        }
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load_with_digest())
            .await
            .map_err(|_| ReloadError::Interrupted)
            .and_then(|r| r.map_err(ReloadError::Invalid));
        let (new, digest) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                self.metrics.config_reload(false);
                self.refused(&e);
                warn!(errors = %e, "config reload refused; the running config stays");
                return Err(e);
            }
        };
        // The snapshot holds what runs: restart-only parts are never swapped in.
        let running = self.shared.load_full();
        let refused = unappliable_changes(&running, &new);
        if !refused.is_empty() {
            self.metrics.config_reload(false);
            let e = ReloadError::NeedsRestart { parts: refused };
            self.refused(&e);
            warn!(reason = %e, "config reload refused; the running config stays");
            return Err(e);
        }
        let outcome = ReloadOutcome {
            needs_restart: restart_only_changes(&running, &new),
        };
        let new = Arc::new(keep_running(new, &running));
        // Before the swap: the calls of a trunk the new file drops keep their
        // in-dialog traffic from the first packet on, and its registrar can answer
        // the removal of its binding.
        self.admission
            .retire(std::time::Instant::now(), &running, &new);
        self.shared.store(new.clone());
        // The core applies timers and limits; allow-lists are read per packet.
        let _ = self.commands.send(Command::Reconfigure(new.clone())).await;
        self.dns.watch_config(&new);
        if let Some(hook) = &self.hook {
            hook(&new);
        }
        self.metrics.config_reload(true);
        if let Ok(mut v) = self.version.lock() {
            let generation = v.generation + 1;
            *v = ConfigVersion::new(&self.source, &digest, generation);
        }
        if outcome.needs_restart.is_empty() {
            info!(source = %new.source, "config reloaded");
        } else {
            warn!(
                source = %new.source,
                needs_restart = ?outcome.needs_restart,
                "config reloaded; these changes wait for a restart"
            );
        }
        Ok(outcome)
    }
}

/// Changes a running node cannot take: the media plane binds its regions' ports at
/// start, and trunks would be sent to regions it does not have (every call 503).
fn unappliable_changes(running: &Config, new: &Config) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if running.media_regions != new.media_regions {
        parts.push("[[media_region]]");
    }
    parts
}

/// `new` with the parts that are bound at start taken from `running`, which is what
/// they still are until a restart.
fn keep_running(mut new: Config, running: &Config) -> Config {
    new.listeners.clone_from(&running.listeners);
    // The admin addresses are bound at start; its tokens apply on reload.
    new.admin.listen = running.admin.listen;
    new.admin.public_listen = running.admin.public_listen;
    new.node.name.clone_from(&running.node.name);
    new.cdr.clone_from(&running.cdr);
    new.logging.format = running.logging.format;
    new.dns.clone_from(&running.dns);
    let (l, r) = (&mut new.limits, &running.limits);
    l.connection_idle_timeout = r.connection_idle_timeout;
    l.max_connections = r.max_connections;
    l.max_connections_per_source = r.max_connections_per_source;
    l.tls_handshake_timeout = r.tls_handshake_timeout;
    l.message_timeout = r.message_timeout;
    if let (Some(new_api), Some(running_api)) = (new.api.as_mut(), running.api.as_ref()) {
        new_api.listen = running_api.listen;
    }
    new
}

/// Sections whose change needs a restart (sockets and files are opened once); `old` is
/// the running snapshot, which holds the running values of these.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if old.listeners != new.listeners {
        parts.push("[[listener]]");
    }
    // The transports take their connection limits when they start (the parser's
    // limits are reloaded).
    let conn = |c: &Config| {
        let l = &c.limits;
        (
            l.connection_idle_timeout,
            l.max_connections,
            l.max_connections_per_source,
            l.tls_handshake_timeout,
            l.message_timeout,
        )
    };
    if conn(old) != conn(new) {
        parts.push("[sip.limits] connection limits and timeouts");
    }
    if old.admin.listen != new.admin.listen {
        parts.push("[admin] listen");
    }
    if old.admin.public_listen != new.admin.public_listen {
        parts.push("[admin] public_listen");
    }
    if old.node.name != new.node.name {
        parts.push("[node] name");
    }
    if old.cdr != new.cdr {
        parts.push("[cdr]");
    }
    // The resolver is built once, with its name servers.
    if old.dns != new.dns {
        parts.push("[dns]");
    }
    if old.logging.format != new.logging.format {
        parts.push("[logging] format");
    }
    // The API's tokens and fallback status are read per request and per call.
    if old.api.as_ref().map(|a| a.listen) != new.api.as_ref().map(|a| a.listen) {
        parts.push("[api] listen");
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::restart_only_changes;

    #[test]
    fn the_api_listener_needs_a_restart_and_its_tokens_do_not() {
        let Ok(old) = voxgate_config::default_config() else {
            panic!("the embedded default loads");
        };
        let mut tokens = old.clone();
        if let Some(api) = tokens.api.as_mut() {
            api.tokens.clear();
            api.no_client_status = 603;
        }
        assert!(restart_only_changes(&old, &tokens).is_empty());
        let mut moved = old.clone();
        if let Some(api) = moved.api.as_mut() {
            api.listen.set_port(9071);
        }
        assert_eq!(restart_only_changes(&old, &moved), ["[api] listen"]);
        let mut gone = old.clone();
        gone.api = None;
        assert_eq!(restart_only_changes(&old, &gone), ["[api] listen"]);
    }

    /// A config file the test rewrites; removed on drop.
    struct File(std::path::PathBuf);
    impl File {
        fn new(name: &str) -> File {
            let path = std::env::temp_dir()
                .join(format!("voxgate-reload-{}-{name}.toml", std::process::id()));
            File(path)
        }
        fn write(&self, text: &str) {
            std::fs::write(&self.0, text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const CONF: &str = r#"
[node]
name = "n"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
[[trunk]]
name = "a"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
[calls]
ring_timeout_s = 60
"#;

    /// A reloader over `file` (loaded first), and what it swaps.
    fn reloader(
        file: &File,
    ) -> (
        super::Reloader,
        crate::SharedConfig,
        crate::metrics::Metrics,
        tokio::sync::mpsc::Receiver<crate::driver::Command>,
    ) {
        let source = super::ConfigSource::File(file.0.clone());
        let config = source.load().unwrap_or_else(|e| panic!("{e}"));
        let shared: crate::SharedConfig =
            std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(config));
        let metrics = crate::metrics::Metrics::new("t").unwrap_or_else(|e| panic!("{e}"));
        let admission = std::sync::Arc::new(crate::admission::AllowLists::new(
            shared.clone(),
            metrics.clone(),
            std::sync::Arc::default(),
        ));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let dns = std::sync::Arc::new(
            crate::dns::Dns::new(&shared.load(), metrics.clone()).unwrap_or_else(|e| panic!("{e}")),
        );
        let r = super::Reloader::new(
            source,
            shared.clone(),
            tx,
            metrics.clone(),
            None,
            dns,
            admission,
        );
        (r, shared, metrics, rx)
    }

    #[tokio::test]
    async fn a_media_region_change_is_refused_as_a_whole_and_the_running_config_stays() {
        let file = File::new("regions");
        file.write(CONF);
        let (reloader, shared, _metrics, _rx) = reloader(&file);
        let before = shared.load_full();
        // A new port range, and a route timer change that would apply on its own.
        file.write(
            &CONF
                .replace("port_max = 20099", "port_max = 20199")
                .replace("ring_timeout_s = 60", "ring_timeout_s = 20"),
        );
        let e = match reloader.reload().await {
            Ok(o) => panic!("accepted: {o}"),
            Err(e) => e,
        };
        assert!(
            matches!(&e, crate::ReloadError::NeedsRestart { parts } if parts == &["[[media_region]]"]),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with("reload refused: [[media_region]] changed, which cannot be applied"),
            "{text}"
        );
        assert!(std::sync::Arc::ptr_eq(&before, &shared.load_full()));
        // A renamed region (the trunks' default) likewise.
        file.write(
            &CONF
                .replace("region = \"r\"", "region = \"s\"")
                .replace("name = \"r\"", "name = \"s\""),
        );
        assert!(reloader.reload().await.is_err());
        assert!(std::sync::Arc::ptr_eq(&before, &shared.load_full()));
        // Put back, the rest of the file applies.
        file.write(&CONF.replace("ring_timeout_s = 60", "ring_timeout_s = 20"));
        let outcome = reloader.reload().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(outcome.needs_restart.is_empty(), "{outcome}");
        assert_eq!(shared.load().calls.ring_timeout.as_secs(), 20);
    }

    #[tokio::test]
    async fn the_restart_note_compares_with_what_runs_not_with_the_last_file() {
        let file = File::new("note");
        file.write(CONF);
        let (reloader, shared, _metrics, _rx) = reloader(&file);
        let moved = CONF
            .replace("127.0.0.1:5060", "127.0.0.1:5070")
            .replace("name = \"n\"", "name = \"m\"")
            .replace("ring_timeout_s = 60", "ring_timeout_s = 20");
        file.write(&moved);
        let first = reloader.reload().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.needs_restart, ["[[listener]]", "[node] name"]);
        // What runs stays in the snapshot; the rest of the file applies.
        let now = shared.load_full();
        assert_eq!(now.listeners[0].address.port(), 5060);
        assert_eq!(now.node.name, "n");
        assert_eq!(now.calls.ring_timeout.as_secs(), 20);
        // The same file again: still not running, still noted.
        let again = reloader.reload().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.needs_restart, ["[[listener]]", "[node] name"]);
        assert!(
            again
                .to_string()
                .contains("note: [[listener]] changed; that takes effect after a restart")
        );
        // Back to what runs: nothing to note.
        file.write(CONF);
        let back = reloader.reload().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(back.needs_restart.is_empty(), "{back}");
    }
}
