//! voxgate-edge: the session border controller.
//!
//! What it is: trunk admission by source address (before parsing), message
//! hygiene, answers to requests that start no call, Prometheus metrics, the
//! admin HTTP listener and config reload. It wires the SIP stack
//! (`voxgate-sip`) to the running configuration (`voxgate-config`).
//!
//! What it is not (yet): B2BUA calls and the control-plane trait arrive with
//! the call-path issue.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = voxgate_config::default_config()?;
//! let edge = voxgate_edge::Edge::start(config, voxgate_edge::ConfigSource::Embedded, None).await?;
//! edge.stop(std::time::Duration::from_secs(32)).await;
//! # Ok(()) }
//! ```

mod admin;
pub mod admission;
pub mod control_plane;
pub mod core;
mod driver;
mod error;
pub mod metrics;
pub mod out_of_dialog;
mod reload;

pub use admission::SharedConfig;
pub use error::{EdgeError, ReloadError};
pub use reload::{ConfigSource, ReloadHook, ReloadOutcome, Reloader};

use crate::admission::{AllowLists, transport_kind};
use crate::driver::Command;
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};
use voxgate_config::{Config, Listener, ListenerTransport};
use voxgate_sip::TransportKind;
use voxgate_sip::transport::{ListenerSpec, TransportConfig, Transports, tls};

/// Depth of the transport → core channel; beyond it the receive loops wait,
/// which pushes back into the kernel's socket buffers.
const EVENT_QUEUE: usize = 16_384;

/// A running edge: SIP listeners, the core task and the admin listener.
pub struct Edge {
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
    admin_addr: SocketAddr,
    admin_stop: tokio::sync::oneshot::Sender<()>,
}

impl Edge {
    /// Binds every listener of `config` and starts serving.
    pub async fn start(
        config: Config,
        source: ConfigSource,
        hook: Option<ReloadHook>,
    ) -> Result<Edge, EdgeError> {
        let metrics = Metrics::new(env!("CARGO_PKG_VERSION"))?;
        let shared: SharedConfig = Arc::new(ArcSwap::from_pointee(config.clone()));

        let mut listeners = Vec::with_capacity(config.listeners.len());
        for l in &config.listeners {
            listeners.push(listener_spec(&config, l)?);
        }
        let tls_client = tls::client_config(None).map_err(EdgeError::Transport)?;
        let transport_config = TransportConfig {
            listeners,
            max_message_size: config.limits.max_message_size,
            idle_timeout: config.limits.connection_idle_timeout,
            tls_client,
        };
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let admission = Arc::new(AllowLists::new(shared.clone(), metrics.clone()));
        let (transports, handle) = Transports::start(transport_config, admission, event_tx).await?;
        for (kind, addr) in transports.local_addrs() {
            info!(transport = %kind, %addr, "SIP listener up");
        }

        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (unsettled_tx, unsettled_rx) = watch::channel(None);
        let core = core::Core::new(&config, metrics.clone());
        let core_task = tokio::spawn(driver::run(core, event_rx, cmd_rx, handle, unsettled_tx));

        let reloader = Arc::new(Reloader::new(
            source,
            shared.clone(),
            cmd_tx.clone(),
            metrics.clone(),
            hook,
        ));
        let ready = Arc::new(AtomicBool::new(false));
        let state = admin::AdminState {
            metrics: metrics.clone(),
            reloader: reloader.clone(),
            ready: ready.clone(),
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
            shared,
            metrics,
            transports,
            reloader,
            commands: cmd_tx,
            unsettled: unsettled_rx,
            ready,
            core_task,
            admin_task,
            admin_addr,
            admin_stop,
        })
    }

    /// The bound SIP addresses (port 0 in the config is resolved here).
    pub fn sip_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.transports.local_addrs()
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
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
        self.ready.store(false, Ordering::Relaxed);
        self.transports.stop_accepting();
        let _ = self.commands.send(Command::Drain).await;
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
        self.transports.shutdown().await;
        let _ = self.admin_stop.send(());
        let _ = self.admin_task.await;
    }
}

/// Turns a configured listener into a transport spec, building its TLS
/// server config (self-signed when no certificate is configured).
fn listener_spec(config: &Config, l: &Listener) -> Result<ListenerSpec, EdgeError> {
    let tls = match (l.transport, &l.tls) {
        (ListenerTransport::Tls, files) => {
            let cert = files.as_ref().and_then(|f| f.certificate.as_ref());
            let client_ca = files.as_ref().and_then(|f| f.client_ca.as_deref());
            let names = vec![
                "localhost".to_string(),
                config.node.name.clone(),
                l.address.ip().to_string(),
            ];
            let server = tls::server_config(
                cert.map(|(c, k)| (c.as_path(), k.as_path())),
                client_ca,
                &names,
            )
            .map_err(|source| EdgeError::Tls {
                address: l.address,
                source,
            })?;
            Some(server)
        }
        _ => None,
    };
    Ok(ListenerSpec {
        transport: transport_kind(l.transport),
        address: l.address,
        recv_buffer: l.recv_buffer,
        send_buffer: l.send_buffer,
        tls,
    })
}
