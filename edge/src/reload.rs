//! Config reload (SIGHUP or `POST /reload`): the new file is validated as a
//! whole; a bad file is refused with its errors and the old snapshot keeps
//! running; a good one is swapped in atomically and applies to new traffic.

use crate::admission::SharedConfig;
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
}

/// Called with each newly installed config (the binary adjusts logging).
pub type ReloadHook = Box<dyn Fn(&Config) + Send + Sync>;

/// What a successful reload changed and what it could not apply.
#[derive(Debug, Default)]
pub struct ReloadOutcome {
    /// Parts of the new file that need a restart to take effect.
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
    lock: Mutex<()>,
    /// The CDR writer, told to reopen its file on every reload.
    records: Option<crate::records::CdrSink>,
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
    ) -> Reloader {
        Reloader {
            source,
            shared,
            commands,
            metrics,
            hook,
            dns,
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

    /// Reads the source again and installs it if valid.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _one_at_a_time = self.lock.lock().await;
        if let Some(records) = &self.records {
            records.reopen().await;
        }
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|_| ReloadError::Interrupted)
            .and_then(|r| r.map_err(ReloadError::Invalid));
        let new = match loaded {
            Ok(config) => Arc::new(config),
            Err(e) => {
                self.metrics.config_reload(false);
                warn!(errors = %e, "config reload refused; the running config stays");
                return Err(e);
            }
        };
        let old = self.shared.load_full();
        let outcome = ReloadOutcome {
            needs_restart: restart_only_changes(&old, &new),
        };
        self.shared.store(new.clone());
        // The core applies timers and limits; allow-lists are read per packet.
        let _ = self.commands.send(Command::Reconfigure(new.clone())).await;
        self.dns.watch_config(&new);
        if let Some(hook) = &self.hook {
            hook(&new);
        }
        self.metrics.config_reload(true);
        info!(source = %new.source, "config reloaded");
        Ok(outcome)
    }
}

/// Sections whose change needs a restart (sockets are bound once).
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
    if old.media_regions != new.media_regions {
        parts.push("[[media_region]]");
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
}
