//! voxgate-edge: the session border controller and B2BUA.
//!
//! What it is: trunk admission by source address (before parsing), protection
//! under attack (rate limits and bans of unlisted sources, silence for scanners,
//! refusals logged once per source and interval: [`protection`]), message
//! hygiene, per-trunk call limits, conversations (one actor each: any
//! number of legs, each a SIP dialog with its media endpoint anchored
//! through `voxgate-media`, and the bridges and conferences between them; voxgate as a
//! back-to-back user agent or as the user agent of a leg), the
//! control-plane contract that drives them, CDRs (one per call attempt,
//! written off the call path), Prometheus metrics, HEP v3 export of SIP
//! to a Homer collector, the admin HTTP listener and config reload.
//!
//! What it is not: a control plane. Routing, flows and queues live behind
//! [`control_plane::ControlPlane`]; `voxgate-control` is the bundled one.
//!
//! ```no_run
//! use std::sync::Arc;
//! use voxgate_edge::control_plane::{Command, ControlPlane, Session};
//!
//! struct Busy;
//! impl ControlPlane for Busy {
//!     fn incoming(&self, s: Session) {
//!         // A new session's command queue is empty: this cannot fail.
//!         let _ = s.commands.try_send(Command::Reject { status: 486, reason: None });
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = voxgate_config::default_config()?;
//! let shared = Arc::new(arc_swap::ArcSwap::from_pointee(config));
//! let options = voxgate_edge::EdgeOptions::default();
//! let edge = voxgate_edge::Edge::start(shared, voxgate_edge::ConfigSource::Embedded, Arc::new(Busy), options).await?;
//! edge.stop(std::time::Duration::from_secs(32)).await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod admin;
pub mod admission;
pub mod auth;
pub mod calls;
pub mod control_plane;
pub mod conversation;
pub mod core;
pub mod dns;
mod driver;
mod error;
pub mod handle;
pub mod health;
pub mod hep;
pub mod keepalive;
pub mod kill_switch;
pub mod metrics;
pub mod out_of_dialog;
pub mod protection;
mod rearm;
pub mod records;
pub mod registration;
pub mod registry;
mod reload;

pub use admission::SharedConfig;
pub use error::{EdgeError, ReloadError};
pub use reload::{ConfigSource, ReloadHook, ReloadOutcome, Reloader};

use crate::admission::{AllowLists, transport_kind};
use crate::control_plane::ControlPlane;
use crate::conversation::task::ConversationDeps;
use crate::conversation::{ListenerLocal, Locals};
use crate::driver::Command;
use crate::handle::{EdgeHandle, FOLLOW_QUEUE};
use crate::metrics::Metrics;
use crate::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};
use voxgate_config::{Config, Listener, ListenerTransport};
use voxgate_sip::TransportKind;
use voxgate_sip::transport::{ConnectionLimits, ListenerSpec, TransportConfig, Transports, tls};

/// Depth of the transport → core channel; beyond it the receive loops wait,
/// which pushes back into the kernel's socket buffers.
const EVENT_QUEUE: usize = 16_384;

/// Depth of the calls → core channel.
const CALL_ACTION_QUEUE: usize = 16_384;

/// How the edge runs, beside its config.
#[derive(Default)]
pub struct EdgeOptions {
    /// Called with each newly installed config (the binary adjusts logging).
    pub reload_hook: Option<ReloadHook>,
    /// Where the media relay runs; the edge's own runtime when `None`. The
    /// binary gives media threads of their own and runs signalling on one
    /// thread, so that a message's hops between tasks wake no other thread.
    pub media_runtime: Option<tokio::runtime::Handle>,
    /// The git commit the binary was built from (`voxgate_build_info`); `unknown`
    /// when `None`.
    pub build_commit: Option<&'static str>,
}

/// A running edge: SIP listeners, the core task and the admin listener.
pub struct Edge {
    handle: EdgeHandle,
    shared: SharedConfig,
    metrics: Metrics,
    transports: Transports,
    reloader: Arc<Reloader>,
    commands: mpsc::Sender<Command>,
    /// Unsettled transactions, published by the core once it drains.
    unsettled: watch::Receiver<Option<usize>>,
    ready: Arc<AtomicBool>,
    core_task: JoinHandle<()>,
    admin_task: JoinHandle<()>,
    /// The re-resolution of destination names (ends with the edge).
    dns_task: JoinHandle<()>,
    admin_addr: SocketAddr,
    admin_stop: tokio::sync::oneshot::Sender<()>,
    /// `[admin] public_listen`: its address, stop and task.
    public: Option<(SocketAddr, tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>,
    /// Set when the stop begins (an operator's undrain is refused then).
    stopping: Arc<AtomicBool>,
    /// The CDR writer, flushed before the process exits.
    records: Option<records::CdrSink>,
}

/// How long a stopping node waits for its last CDRs to reach the disk.
const RECORDS_FLUSH: Duration = Duration::from_secs(3);

impl Edge {
    /// Binds every listener of the config in `shared` and starts serving;
    /// calls are decided by `control`.
    pub async fn start(
        shared: SharedConfig,
        source: ConfigSource,
        control: Arc<dyn ControlPlane>,
        options: EdgeOptions,
    ) -> Result<Edge, EdgeError> {
        let EdgeOptions {
            reload_hook: hook,
            media_runtime,
            build_commit,
        } = options;
        let metrics =
            Metrics::of_build(env!("CARGO_PKG_VERSION"), build_commit.unwrap_or("unknown"))?;
        let config = shared.load_full();

        let mut listeners = Vec::with_capacity(config.listeners.len());
        for l in &config.listeners {
            let (spec, not_after) = listener_spec(&config, l)?;
            if let Some(at) = not_after {
                metrics.certificate_expiry(&l.address.to_string(), at);
            }
            listeners.push(spec);
        }
        let tls_client = tls::client_config(None).map_err(EdgeError::Transport)?;
        let transport_config = TransportConfig {
            listeners,
            max_message_size: config.limits.max_message_size,
            idle_timeout: config.limits.connection_idle_timeout,
            tls_client,
            connections: ConnectionLimits {
                max_inbound: config.limits.max_connections,
                max_per_source: config.limits.max_connections_per_source,
                handshake_timeout: config.limits.tls_handshake_timeout,
                message_timeout: config.limits.message_timeout,
            },
        };
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let registry = Arc::new(Registry::default());
        let admission = Arc::new(AllowLists::new(
            shared.clone(),
            metrics.clone(),
            registry.clone(),
        ));
        let (transports, transport_handle) =
            Transports::start(transport_config, admission.clone(), event_tx).await?;
        for (kind, addr) in transports.local_addrs() {
            info!(transport = %kind, %addr, "SIP listener up");
        }

        let locals = locals(
            &config,
            &transports.local_addrs(),
            &transports.udp_listeners(),
        );
        let mut engine = media_engine(&config);
        if let Some(runtime) = media_runtime {
            engine = engine.on_runtime(runtime);
        }
        let engine = Arc::new(engine);
        let records = match &config.cdr {
            Some(cdr) => Some(
                records::CdrSink::start(&cdr.path, metrics.clone())
                    .await
                    .map_err(|source| EdgeError::Records {
                        path: cdr.path.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (calls_tx, calls_rx) = mpsc::channel(CALL_ACTION_QUEUE);
        let (unsettled_tx, unsettled_rx) = watch::channel(None);
        let (follow, _) = broadcast::channel(FOLLOW_QUEUE);
        let health = Arc::new(health::Health::default());
        let switches = Arc::new(
            kill_switch::KillSwitches::new(health.clone(), metrics.clone())
                .with_config(shared.clone()),
        );
        let handle = EdgeHandle::new(
            cmd_tx.clone(),
            registry.clone(),
            follow.clone(),
            health.clone(),
        );
        control.started(handle.clone());
        let dns = Arc::new(dns::Dns::new(&config, metrics.clone())?);
        dns.watch_config(&config);
        let refresher = dns.clone();
        let dns_task = tokio::spawn(async move { refresher.refresh().await });
        let deps = ConversationDeps {
            control,
            engine: engine.clone(),
            core: calls_tx,
            records: records.clone(),
            registry: registry.clone(),
            metrics: metrics.clone(),
            follow,
            dns: dns.clone(),
            switches: switches.clone(),
        };
        let core = core::Core::new(config.clone(), metrics.clone(), locals).with_health(
            std::time::Instant::now(),
            health.clone(),
            Some(dns.clone()),
        );
        let channels = driver::Channels {
            events: event_rx,
            commands: cmd_rx,
            calls: calls_rx,
            unsettled: unsettled_tx,
        };
        let hep = hep::HepTap::new(&config, transports.local_addrs(), metrics.clone());
        let core_task = tokio::spawn(driver::run(
            core,
            channels,
            transport_handle,
            Arc::new(deps),
            hep,
        ));

        let reloader = Arc::new(
            Reloader::new(
                source,
                shared.clone(),
                cmd_tx.clone(),
                metrics.clone(),
                hook,
                dns.clone(),
                admission.clone(),
            )
            .with_records(records.clone()),
        );
        let ready = Arc::new(AtomicBool::new(false));
        let stopping = Arc::new(AtomicBool::new(false));
        let state = admin::AdminState {
            metrics: metrics.clone(),
            reloader: reloader.clone(),
            ready: ready.clone(),
            engine,
            registry,
            health,
            config: shared.clone(),
            admission,
            switches,
            core: cmd_tx.clone(),
            drained: Arc::new(AtomicBool::new(false)),
            stopping: stopping.clone(),
        };
        // Probes and metrics on their own address, when configured (bound first: a
        // failure leaves nothing else bound).
        let public = match config.admin.public_listen {
            Some(address) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|source| EdgeError::AdminBind { address, source })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| EdgeError::AdminBind { address, source })?;
                info!(public_addr = %bound, "admin public listener up (metrics, healthz, readyz)");
                let app = admin::public_router(state.clone());
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = serve.await {
                        warn!(error = %e, "admin public listener failed");
                    }
                });
                Some((bound, stop, task))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.admin.listen)
            .await
            .map_err(|source| EdgeError::AdminBind {
                address: config.admin.listen,
                source,
            })?;
        let admin_addr = listener
            .local_addr()
            .map_err(|source| EdgeError::AdminBind {
                address: config.admin.listen,
                source,
            })?;
        let (admin_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = admin::router(state);
        let admin_task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                warn!(error = %e, "admin listener failed");
            }
        });
        info!(%admin_addr, "admin listener up");
        ready.store(true, Ordering::Relaxed);
        Ok(Edge {
            handle,
            shared,
            metrics,
            transports,
            reloader,
            commands: cmd_tx,
            unsettled: unsettled_rx,
            ready,
            core_task,
            admin_task,
            dns_task,
            admin_addr,
            admin_stop,
            public,
            stopping,
            records,
        })
    }

    /// The bound SIP addresses (port 0 in the config is resolved here).
    pub fn sip_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.transports.local_addrs()
    }

    /// A handle for control planes and operators.
    pub fn handle(&self) -> EdgeHandle {
        self.handle.clone()
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The bound `[admin] public_listen` address, if any.
    pub fn public_admin_addr(&self) -> Option<SocketAddr> {
        self.public.as_ref().map(|(a, _, _)| *a)
    }

    /// The running config snapshot.
    pub fn config(&self) -> Arc<Config> {
        self.shared.load_full()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Re-reads the config source; see `Reloader::reload`.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        self.reloader.reload().await
    }

    /// Graceful stop: refuse new work, let the transactions that still owe
    /// a response or an ACK finish (at most `grace`), then close every socket.
    pub async fn stop(mut self, grace: Duration) {
        self.stopping.store(true, Ordering::Relaxed);
        self.ready.store(false, Ordering::Relaxed);
        self.transports.stop_accepting();
        let _ = self.commands.send(Command::Drain).await;
        // Calls in progress count as unsettled: the drain lets them finish.
        let settled = self.unsettled.wait_for(|n| *n == Some(0));
        if tokio::time::timeout(grace, settled).await.is_ok() {
            info!("every transaction settled");
        } else {
            warn!(
                left = ?*self.unsettled.borrow(),
                "grace period over; stopping with unsettled transactions"
            );
        }
        let _ = self.commands.send(Command::Stop).await;
        let _ = self.core_task.await;
        // The last calls' records are queued: on disk before the process exits.
        if let Some(records) = &self.records
            && tokio::time::timeout(RECORDS_FLUSH, records.sync())
                .await
                .is_err()
        {
            warn!("CDR file not flushed in time: the last records may be missing");
        }
        self.transports.shutdown().await;
        let _ = self.admin_stop.send(());
        let _ = self.admin_task.await;
        if let Some((_, stop, task)) = self.public.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        self.dns_task.abort();
    }
}

/// Our advertised address per transport: the listener's `advertise` IP (or
/// its bound IP) with the bound port (port 0 in the config resolves at bind).
/// Listeners are bound in config order, so the n-th UDP listener of the
/// config has the n-th UDP id.
fn locals(
    config: &Config,
    bound: &[(TransportKind, SocketAddr)],
    udp_ids: &[(voxgate_sip::ConnId, SocketAddr)],
) -> Locals {
    let mut locals = Locals::default();
    let mut listeners = Vec::with_capacity(config.listeners.len());
    let mut udp_ids = udp_ids.iter();
    for (i, l) in config.listeners.iter().enumerate() {
        let kind = transport_kind(l.transport);
        // Bound in listener order (two listeners may share an IP).
        let port = bound
            .get(i)
            .filter(|(k, _)| *k == kind)
            .map_or(l.address.port(), |(_, a)| a.port());
        let addr = SocketAddr::new(l.advertised().ip(), port);
        let local = voxgate_sip::dialog::LocalAddr::new(kind, addr);
        locals.add(local.clone());
        let udp = match kind {
            TransportKind::Udp => udp_ids.next().map(|(id, _)| *id),
            _ => None,
        };
        listeners.push(ListenerLocal {
            configured: l.address,
            local,
            udp,
        });
    }
    locals.listeners = Arc::new(listeners);
    locals
}

/// The media plane: per region, a port pool on each address (one per
/// family), each with the address SDP advertises for it.
fn media_engine(config: &Config) -> voxgate_media::MediaEngine {
    let regions: Vec<voxgate_media::RegionSpec> = config
        .media_regions
        .iter()
        .map(|r| voxgate_media::RegionSpec {
            name: r.name.clone(),
            addresses: r
                .addresses
                .iter()
                .map(|&bind| voxgate_media::RegionAddress {
                    bind,
                    advertise: Some(r.advertised(bind)),
                })
                .collect(),
            port_min: r.port_min,
            port_max: r.port_max,
        })
        .collect();
    voxgate_media::MediaEngine::new(&regions, voxgate_media::EngineOptions::default())
}

/// Turns a configured listener into a transport spec, building its TLS
/// server config (self-signed when no certificate is configured), and when
/// its served certificate expires (Unix s).
fn listener_spec(config: &Config, l: &Listener) -> Result<(ListenerSpec, Option<i64>), EdgeError> {
    let mut not_after = None;
    let tls = match (l.transport, &l.tls) {
        (ListenerTransport::Tls, files) => {
            let cert = files.as_ref().and_then(|f| f.certificate.as_ref());
            let client_ca = files.as_ref().and_then(|f| f.client_ca.as_deref());
            let names = vec![
                "localhost".to_string(),
                config.node.name.clone(),
                l.address.ip().to_string(),
            ];
            let (server, expiry) = tls::served_config(
                cert.map(|(c, k)| (c.as_path(), k.as_path())),
                client_ca,
                &names,
            )
            .map_err(|source| EdgeError::Tls {
                address: l.address,
                source,
            })?;
            not_after = expiry;
            Some(server)
        }
        _ => None,
    };
    let spec = ListenerSpec {
        transport: transport_kind(l.transport),
        address: l.address,
        recv_buffer: l.recv_buffer,
        send_buffer: l.send_buffer,
        tls,
    };
    Ok((spec, not_after))
}
