//! UDP, TCP and TLS transports (RFC 3261 §18) on tokio.
//!
//! Thin by design: no SIP semantics beyond finding where a message ends on a
//! stream ([`framing`]). Sources are checked by [`Admission`] before anything
//! is parsed; received messages and connection changes arrive as
//! [`TransportEvent`]s on one channel; [`TransportHandle::send`] queues bytes
//! without waiting.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use voxgate_sip::transport::*;
//! # use voxgate_sip::TransportKind;
//! struct AllowAll;
//! impl Admission for AllowAll {
//!     fn admit(&self, _: std::net::SocketAddr, _: TransportKind) -> bool { true }
//! }
//! # async fn run() -> Result<(), TransportError> {
//! let cfg = TransportConfig {
//!     listeners: vec![ListenerSpec::new(TransportKind::Udp, "0.0.0.0:5060".parse().unwrap())],
//!     max_message_size: 65_535,
//!     idle_timeout: None,
//!     tls_client: tls::client_config(None)?,
//!     connections: ConnectionLimits::default(),
//! };
//! let (tx, mut events) = tokio::sync::mpsc::channel(1024);
//! let (transports, handle) = Transports::start(cfg, Arc::new(AllowAll), tx).await?;
//! while let Some(TransportEvent::Message(m)) = events.recv().await {
//!     handle.send(&m.peer, m.bytes)?; // echo
//! }
//! transports.shutdown().await;
//! # Ok(()) }
//! ```

mod error;
pub mod framing;
mod socket;
mod stream;
mod table;
pub mod tls;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};

pub use error::TransportError;
pub use table::LimitHit;

use crate::{ConnId, Peer, TransportKind};

/// Decides, before any parsing, whether a source may talk to us. Implemented by the edge
/// (checks the trunks' allow-lists and counts drops). Must be cheap: called per datagram.
pub trait Admission: Send + Sync + 'static {
    /// True if `source` may send us SIP over `transport`.
    fn admit(&self, source: SocketAddr, transport: TransportKind) -> bool;

    /// What the transports call: like [`Admission::admit`], and says whether a refusal is
    /// reported as [`TransportEvent::Rejected`]. The default reports every refusal.
    fn check(&self, source: SocketAddr, transport: TransportKind) -> Verdict {
        if self.admit(source, transport) {
            Verdict::Admit
        } else {
            Verdict::Refuse
        }
    }
}

/// What [`Admission::check`] decided about a datagram or a connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it in.
    Admit,
    /// Drop it (close the connection) and report a [`TransportEvent::Rejected`].
    Refuse,
    /// Drop it (close the connection) without a word: a banned source, already counted,
    /// whose every packet would otherwise cost an event.
    Silence,
}

/// One socket to listen on.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    /// UDP, TCP or TLS.
    pub transport: TransportKind,
    /// Address to bind (port 0 picks a free port; see [`Transports::local_addrs`]).
    pub address: SocketAddr,
    /// SO_RCVBUF, if set.
    pub recv_buffer: Option<usize>,
    /// SO_SNDBUF, if set.
    pub send_buffer: Option<usize>,
    /// Server config; required for TLS listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl ListenerSpec {
    /// A listener with default buffers and no TLS config.
    pub fn new(transport: TransportKind, address: SocketAddr) -> Self {
        ListenerSpec {
            transport,
            address,
            recv_buffer: None,
            send_buffer: None,
            tls: None,
        }
    }
}

/// Everything the transports need to start.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Sockets to listen on.
    pub listeners: Vec<ListenerSpec>,
    /// UDP datagram / framed TCP message limit, in bytes (header block plus body).
    pub max_message_size: usize,
    /// TCP/TLS connections with no reads or writes for this long are closed.
    pub idle_timeout: Option<Duration>,
    /// Config for outbound TLS connections.
    pub tls_client: Arc<rustls::ClientConfig>,
    /// Caps and timeouts of accepted TCP/TLS connections.
    pub connections: ConnectionLimits,
}

/// What a peer may hold of our TCP/TLS capacity, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Accepted connections open at once; kept below the table's 16,384 so that our own
    /// outbound connections always find room.
    pub max_inbound: usize,
    /// Accepted connections open at once from one IP address.
    pub max_per_source: usize,
    /// TLS handshake limit, both directions.
    pub handshake_timeout: Duration,
    /// A message must arrive whole within this time of its first byte (slow-loris: a
    /// peer trickling a byte every few seconds is closed).
    pub message_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_inbound: 10_000,
            max_per_source: 64,
            handshake_timeout: Duration::from_secs(5),
            message_timeout: Duration::from_secs(10),
        }
    }
}

/// A received message.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// The whole message (datagram or framed stream message).
    pub bytes: Bytes,
    /// Where it came from; `conn` is set for TCP/TLS.
    pub peer: Peer,
    /// The local address it arrived on (a UDP listener's bound address, which
    /// may be a wildcard; a stream's actual local address).
    pub local: SocketAddr,
    /// UDP only: the datagram is above the limit; it is delivered so the core can answer 513.
    pub oversized: bool,
}

/// Why a TCP/TLS connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// No traffic for the idle timeout.
    Idle,
    /// The peer closed (or reset) the connection.
    PeerClosed,
    /// The peer sent a message above the size limit.
    Oversized,
    /// The stream could not be framed (e.g. an invalid Content-Length).
    Framing,
    /// Connect failed or timed out, or a read or write failed.
    Io,
    /// The transports are shutting down.
    Shutdown,
    /// The TLS handshake or a TLS record failed.
    Tls,
    /// A message did not arrive whole within the message timeout (slow-loris).
    Slow,
}

/// What the transports report.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum TransportEvent {
    /// A message arrived.
    Message(Incoming),
    /// A TCP/TLS connection is established (after the TLS handshake).
    ConnectionOpened {
        /// The remote end, with the connection id.
        peer: Peer,
        /// Accepted by us (true) or opened by us (false).
        inbound: bool,
    },
    /// A TCP/TLS connection ended. Sent for every connection that got an id,
    /// also when it never opened (connect or handshake failure).
    ConnectionClosed {
        /// The remote end, with the connection id.
        peer: Peer,
        /// Why.
        reason: CloseReason,
    },
    /// An accepted TCP/TLS connection closed at once because a [`ConnectionLimits`] cap
    /// was reached (best effort, dropped if the channel is full).
    ConnectionRefused {
        /// The remote address.
        source: SocketAddr,
        /// TCP or TLS.
        transport: TransportKind,
        /// Which cap.
        limit: LimitHit,
    },
    /// A source that [`Admission`] refused (for logs; best effort, dropped if the channel is full).
    Rejected {
        /// The refused source address.
        source: SocketAddr,
        /// The transport it used.
        transport: TransportKind,
    },
}

/// Messages queued per TCP/TLS connection before `send` reports [`TransportError::QueueFull`].
const CONN_QUEUE_LEN: usize = 256;
/// Open TCP/TLS connections at most; beyond it new ones are refused.
const MAX_CONNECTIONS: usize = 16_384;

/// The state shared by the handle and all transport tasks.
struct Shared {
    admission: Arc<dyn Admission>,
    events: mpsc::Sender<TransportEvent>,
    max_message_size: usize,
    idle_timeout: Option<Duration>,
    tls_client: Arc<rustls::ClientConfig>,
    connections: ConnectionLimits,
    /// Emptied at shutdown so the sockets close even while handles live on.
    udp: RwLock<Vec<udp::UdpEndpoint>>,
    /// Bound stream listener addresses, to pick the source IP of outbound connections.
    stream_locals: Vec<(TransportKind, SocketAddr)>,
    table: Mutex<table::ConnTable<mpsc::Sender<Bytes>>>,
    next_conn: AtomicU64,
    /// true once `stop_accepting` (or shutdown) was called.
    stop_accepting: watch::Sender<bool>,
    /// true once `shutdown` was called.
    shutdown: watch::Sender<bool>,
    tasks: TaskTracker,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, table::ConnTable<mpsc::Sender<Bytes>>> {
        // No code path panics while holding the lock; recover rather than propagate.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Spawn a task that `shutdown` waits for.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let guard = self.tasks.guard();
        self.runtime.spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Report an event, waiting for room unless shutting down (then best effort).
    async fn emit(&self, event: TransportEvent) {
        let mut shutdown = self.shutdown.subscribe();
        if *shutdown.borrow_and_update() {
            let _ = self.events.try_send(event);
            return;
        }
        tokio::select! {
            _ = self.events.send(event) => {}
            _ = until_true(&mut shutdown) => {}
        }
    }
}

/// Resolves once the watched flag is true (or its sender is gone).
async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// Counts live tasks so `shutdown` can wait for all of them.
#[derive(Default)]
struct TaskTracker {
    inner: Arc<TrackerInner>,
}

#[derive(Default)]
struct TrackerInner {
    live: AtomicUsize,
    idle: Notify,
}

struct TaskGuard(Arc<TrackerInner>);

impl TaskTracker {
    fn guard(&self) -> TaskGuard {
        self.inner.live.fetch_add(1, Ordering::SeqCst);
        TaskGuard(self.inner.clone())
    }

    async fn wait(&self) {
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inner.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The running transports: owns the listener tasks.
pub struct Transports {
    shared: Arc<Shared>,
    local_addrs: Vec<(TransportKind, SocketAddr)>,
    udp_listeners: Vec<(ConnId, SocketAddr)>,
}

impl Transports {
    /// Bind every listener, then start receiving. Fails without starting
    /// anything if a listener cannot be bound.
    pub async fn start(
        cfg: TransportConfig,
        admission: Arc<dyn Admission>,
        events: mpsc::Sender<TransportEvent>,
    ) -> Result<(Transports, TransportHandle), TransportError> {
        let mut local_addrs = Vec::new();
        let mut udp_sockets = Vec::new();
        let mut stream_listeners = Vec::new();
        for spec in &cfg.listeners {
            match spec.transport {
                TransportKind::Udp => {
                    let socket = socket::bind_udp(spec)?;
                    let local = socket.local_addr().map_err(|source| TransportError::Bind {
                        addr: spec.address,
                        source,
                    })?;
                    local_addrs.push((TransportKind::Udp, local));
                    udp_sockets.push((socket, local));
                }
                kind @ (TransportKind::Tcp | TransportKind::Tls) => {
                    let acceptor = match (kind, &spec.tls) {
                        (TransportKind::Tls, Some(cfg)) => {
                            Some(tokio_rustls::TlsAcceptor::from(cfg.clone()))
                        }
                        (TransportKind::Tls, None) => {
                            return Err(TransportError::MissingTlsConfig { addr: spec.address });
                        }
                        _ => None,
                    };
                    let listener = socket::bind_tcp(spec)?;
                    let local = listener
                        .local_addr()
                        .map_err(|source| TransportError::Bind {
                            addr: spec.address,
                            source,
                        })?;
                    local_addrs.push((kind, local));
                    stream_listeners.push((listener, kind, local, acceptor));
                }
            }
        }

        // UDP listeners take the first ids; connections count on from there.
        let mut udp_endpoints = Vec::new();
        let mut udp_tasks = Vec::new();
        let mut udp_listeners = Vec::new();
        for (i, (socket, local)) in (1u64..).zip(udp_sockets) {
            let id = ConnId(i);
            udp_listeners.push((id, local));
            let (endpoint, overflow_rx) = udp::UdpEndpoint::new(id, socket, local);
            udp_tasks.push((endpoint.clone(), overflow_rx));
            udp_endpoints.push(endpoint);
        }
        let shared = Arc::new(Shared {
            admission,
            events,
            max_message_size: cfg.max_message_size,
            idle_timeout: cfg.idle_timeout,
            tls_client: cfg.tls_client,
            connections: cfg.connections,
            udp: RwLock::new(udp_endpoints),
            stream_locals: local_addrs
                .iter()
                .copied()
                .filter(|(kind, _)| kind.is_reliable())
                .collect(),
            table: Mutex::new(table::ConnTable::new(MAX_CONNECTIONS)),
            next_conn: AtomicU64::new(udp_listeners.len() as u64 + 1),
            stop_accepting: watch::Sender::new(false),
            shutdown: watch::Sender::new(false),
            tasks: TaskTracker::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        for (endpoint, overflow_rx) in udp_tasks {
            shared.spawn(udp::receive_loop(shared.clone(), endpoint.clone()));
            shared.spawn(udp::overflow_loop(shared.clone(), endpoint, overflow_rx));
        }
        for (listener, kind, local, acceptor) in stream_listeners {
            shared.spawn(stream::accept_loop(
                shared.clone(),
                listener,
                kind,
                local,
                acceptor,
            ));
        }
        let handle = TransportHandle {
            shared: shared.clone(),
        };
        Ok((
            Transports {
                shared,
                local_addrs,
                udp_listeners,
            },
            handle,
        ))
    }

    /// Actual bound addresses (port 0 resolved), in listener order.
    pub fn local_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.local_addrs.clone()
    }

    /// Each UDP listener's id (to put in [`Peer::conn`] to send from it) and
    /// bound address, in listener order.
    pub fn udp_listeners(&self) -> Vec<(ConnId, SocketAddr)> {
        self.udp_listeners.clone()
    }

    /// Graceful stop step 1: close the TCP/TLS listeners; open connections and
    /// UDP sockets keep working (UDP has no accept: it keeps receiving, and the
    /// edge refuses new requests itself).
    pub fn stop_accepting(&self) {
        self.shared.stop_accepting.send_replace(true);
    }

    /// Close every socket and connection (reason [`CloseReason::Shutdown`]) and
    /// wait for all transport tasks to end.
    pub async fn shutdown(self) {
        self.shared.stop_accepting.send_replace(true);
        self.shared.shutdown.send_replace(true);
        self.shared.tasks.wait().await;
        self.shared
            .udp
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for Transports {
    /// Dropping without `shutdown` still stops the tasks (without waiting).
    fn drop(&mut self) {
        self.shared.stop_accepting.send_replace(true);
        self.shared.shutdown.send_replace(true);
        self.shared
            .udp
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// Sends messages; cheap to clone.
#[derive(Clone)]
pub struct TransportHandle {
    shared: Arc<Shared>,
}

impl TransportHandle {
    /// Queue `bytes` to `to`. UDP: send from the listener socket matching the address family (the first
    /// UDP listener). TCP/TLS: over `to.conn` if still open, else over an open connection to `to.addr`,
    /// else connect (TLS client with SNI = the IP). Never blocks the caller
    /// (bounded queues; a full queue is an error, not a wait). Callable from any
    /// thread: new connections are spawned on the runtime that started the transports.
    pub fn send(&self, to: &Peer, bytes: Bytes) -> Result<(), TransportError> {
        self.send_inner(to, None, bytes)
    }

    /// Like [`TransportHandle::send`], with the TLS server name (SNI and
    /// certificate check) for a new TLS connection. Ignored for UDP and TCP.
    pub fn send_tls_named(
        &self,
        to: &Peer,
        server_name: &str,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        self.send_inner(to, Some(server_name), bytes)
    }

    fn send_inner(
        &self,
        to: &Peer,
        server_name: Option<&str>,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        if self.shared.is_shut_down() {
            return Err(TransportError::Shutdown);
        }
        match to.transport {
            TransportKind::Udp => udp::send(&self.shared, to, bytes),
            TransportKind::Tcp | TransportKind::Tls => {
                stream::send(&self.shared, to, server_name, bytes)
            }
        }
    }

    /// Number of open (or connecting) TCP/TLS connections.
    pub fn connection_count(&self) -> usize {
        self.shared.table().len()
    }
}
