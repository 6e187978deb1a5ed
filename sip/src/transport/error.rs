//! The transport error type.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Peer, TransportKind};

/// Errors from starting transports, building TLS configs and queueing sends.
///
/// Failures of an established or connecting stream are not errors of `send`:
/// they arrive as [`TransportEvent::ConnectionClosed`](super::TransportEvent::ConnectionClosed).
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum TransportError {
    /// A listener socket could not be created or bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A TLS listener was configured without a server config.
    #[error("TLS listener {addr} has no TLS server config")]
    MissingTlsConfig {
        /// The listener's address.
        addr: SocketAddr,
    },
    /// rustls refused a configuration (bad key, unsupported versions, ...).
    #[error("TLS configuration: {source}")]
    Tls {
        /// The rustls error.
        #[from]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built (e.g. an empty CA bundle).
    #[error("TLS client certificate verifier: {source}")]
    ClientVerifier {
        /// The rustls error.
        #[from]
        source: rustls::server::VerifierBuilderError,
    },
    /// A PEM file could not be read or parsed.
    #[error("cannot read PEM file {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The read or parse error.
        source: io::Error,
    },
    /// A PEM file that should hold certificates holds none.
    #[error("no certificate in {path}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file that should hold a private key holds none.
    #[error("no private key in {path}")]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {source}")]
    SelfSigned {
        /// The rcgen error.
        #[from]
        source: rcgen::Error,
    },
    /// The TLS server name is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {name:?}")]
    InvalidServerName {
        /// The name given.
        name: String,
    },
    /// No listener of this transport (and address family) to send from.
    #[error("no {0} listener for this address family")]
    NoListener(TransportKind),
    /// The per-connection (or per-socket) send queue is full.
    #[error("send queue to {0} is full")]
    QueueFull(Peer),
    /// The connection closed while the message was being queued.
    #[error("connection to {0} is closed")]
    ConnectionClosed(Peer),
    /// The open-connection limit is reached.
    #[error("connection limit of {limit} reached")]
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// A UDP send failed at once (e.g. network unreachable).
    #[error("cannot send to {peer}: {source}")]
    Send {
        /// The destination.
        peer: Peer,
        /// The OS error.
        source: io::Error,
    },
    /// The transports are shut down.
    #[error("transports are shut down")]
    Shutdown,
}
