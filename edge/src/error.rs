//! Errors of the edge crate.

use std::net::SocketAddr;
use voxgate_config::ConfigErrors;
use voxgate_sip::transport::TransportError;

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// A SIP listener could not be set up.
    #[error("SIP transport: {0}")]
    Transport(#[from] TransportError),
    /// The TLS settings of a listener are unusable.
    #[error("TLS listener {address}: {source}")]
    Tls {
        /// The listener's address.
        address: SocketAddr,
        /// What went wrong.
        source: TransportError,
    },
    /// The admin HTTP listener could not bind.
    #[error("admin listener {address}: {source}")]
    AdminBind {
        /// The configured address.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CDR file could not be opened.
    #[error("CDR file {}: {source}", path.display())]
    Records {
        /// The configured path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The DNS resolver of destination names could not be built.
    #[error("DNS resolver: {0}")]
    Dns(hickory_resolver::net::NetError),
    /// Metric registration failed (a programming error).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Why a reload was refused; the running config stays in place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The new config has errors; each names file, line and key.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// The new config is valid but changes what cannot change while running.
    #[error(
        "reload refused: {} changed, which cannot be applied while voxgate runs; the running config stays. Restart voxgate to apply the file, or undo that change and reload",
        .parts.join(", ")
    )]
    NeedsRestart {
        /// The sections that changed.
        parts: Vec<&'static str>,
    },
    /// The reload task was interrupted before it finished.
    #[error("reload interrupted")]
    Interrupted,
}
