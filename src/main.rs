//! The voxgate binary: command line, logging, signals, and the wiring of the
//! edge to its configuration.

use anyhow::Context as _;
use arc_swap::ArcSwap;
use clap::Parser as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, fmt, reload};
use voxgate_config::{Config, LogFormat};
use voxgate_edge::{ConfigSource, Edge};

mod allocator;
mod capabilities;
mod cli;
use cli::{Cli, Cmd};
mod systemd;
use sd_notify::NotifyState;

// The signalling path allocates small, short-lived objects per message;
// mimalloc's thread-local free lists take glibc's malloc out of the profile.
// Version 2 (the crate's `v2` feature): v3 held ~40% more memory per call
// for the same CPU (benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::CheckConfig { file }) => check_config(&file),
        Some(Cmd::DefaultConfig) => {
            print!("{}", voxgate_config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Some(Cmd::HashToken { token }) => {
            let hash = voxgate_control::api::hash_token(&token);
            println!("{}", voxgate_control::api::hex(&hash));
            ExitCode::SUCCESS
        }
        None => match serve(cli.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("voxgate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match voxgate_config::load_file(file) {
        Ok(_) => {
            println!("OK");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: Option<PathBuf>) -> anyhow::Result<()> {
    let source = match path {
        Some(p) => ConfigSource::File(p),
        None => ConfigSource::Embedded,
    };
    // Config errors are printed as they are: each names file, line and key.
    let config = source
        .load()
        .map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
    let set_level = init_logging(&config)?;
    // Before the runtimes spawn any thread: see src/capabilities.rs.
    match capabilities::drop_if_unneeded(&config) {
        Ok(capabilities::Outcome::Dropped) => {
            info!("CAP_NET_BIND_SERVICE dropped: no port below 1024 is configured");
        }
        Ok(capabilities::Outcome::Needed(port)) => {
            info!(
                port,
                "CAP_NET_BIND_SERVICE kept: a port below 1024 is configured"
            );
        }
        Ok(capabilities::Outcome::NotHeld) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("dropping CAP_NET_BIND_SERVICE")),
    }
    // Signalling runs on this one thread: a SIP message hops between the
    // transport, the core and a call's task, and on one thread those hops
    // wake no other thread (profiles showed futex wake-ups dominating).
    // Media gets threads of its own for the other cores.
    let signalling = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signalling runtime")?;
    let media_threads =
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    let media = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(media_threads)
        .enable_all()
        .thread_name("voxgate-media")
        .build()
        .context("starting the media runtime")?;
    let result = signalling.block_on(run(config, source, set_level, media.handle().clone()));
    media.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

type LevelSetter = Box<dyn Fn(&str) + Send + Sync>;

/// Installs the tracing subscriber; returns a function that changes the
/// level filter on reload (the format needs a restart).
fn init_logging(config: &Config) -> anyhow::Result<LevelSetter> {
    // RUST_LOG, when set, wins over the config so an operator can debug one run.
    let directive = std::env::var("RUST_LOG").unwrap_or_else(|_| config.logging.level.clone());
    let filter =
        EnvFilter::try_new(&directive).with_context(|| format!("log level {directive:?}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    match config.logging.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        // Colours only on a terminal; journald and files get plain text.
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    }
    .context("installing the logger")?;
    let from_env = std::env::var_os("RUST_LOG").is_some();
    Ok(Box::new(move |level: &str| {
        if from_env {
            return;
        }
        match EnvFilter::try_new(level) {
            Ok(f) => {
                let _ = handle.reload(f);
            }
            Err(e) => error!(level, error = %e, "log level not applied"),
        }
    }))
}

async fn run(
    config: Config,
    source: ConfigSource,
    set_level: LevelSetter,
    media: tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let hook: voxgate_edge::ReloadHook = Box::new(move |c: &Config| set_level(&c.logging.level));
    let api_listen = config.api.as_ref().map(|a| a.listen);
    // One config snapshot, shared by the edge and the control plane; a reload swaps it
    // for both.
    let shared: voxgate_edge::SharedConfig = Arc::new(ArcSwap::from_pointee(config));
    let control = Arc::new(voxgate_control::Dispatcher::new(shared.clone())?);
    let options = voxgate_edge::EdgeOptions {
        reload_hook: Some(hook),
        media_runtime: Some(media),
        build_commit: Some(env!("VOXGATE_GIT_COMMIT")),
    };
    let edge = Edge::start(shared, source, control.clone(), options)
        .await
        .context("starting")?;
    control
        .register_metrics(edge.metrics())
        .context("registering the flows' metrics")?;
    let api = match api_listen {
        Some(listen) => {
            match voxgate_control::api::ApiServer::start(listen, control.api(), edge.metrics())
                .await
            {
                Ok(api) => Some(api),
                Err(e) => {
                    // Nothing was taken yet: close the SIP listeners before saying why.
                    edge.stop(std::time::Duration::ZERO).await;
                    return Err(anyhow::Error::new(e).context("starting the API"));
                }
            }
        }
        None => None,
    };
    info!(
        version = env!("CARGO_PKG_VERSION"),
        commit = env!("VOXGATE_GIT_COMMIT"),
        allocator_purge_delay_ms = allocator::purge_delay(),
        "voxgate running"
    );
    systemd::notify(&[NotifyState::Ready, NotifyState::Status("running")]);
    // Pinged from this (the signalling) thread: a signalling loop that stops turning
    // stops the pings, and systemd restarts the service.
    let mut watchdog = systemd::watchdog();

    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = watchdog.tick() => systemd::notify(&[NotifyState::Watchdog]),
            _ = hup.recv() => {
                systemd::reloading();
                match edge.reload().await {
                    Ok(outcome) => {
                        info!(needs_restart = ?outcome.needs_restart, "SIGHUP: reloaded");
                        systemd::notify(&[NotifyState::Ready, NotifyState::Status("running")]);
                    }
                    Err(e) => {
                        error!(errors = %e, "SIGHUP: reload refused, old config kept");
                        systemd::notify(&[
                            NotifyState::Ready,
                            NotifyState::Status("running; the last reload was refused"),
                        ]);
                    }
                }
            }
        }
    }
    // Read now: a reload may have changed it since the start.
    let limit = edge.config().calls.drain_timeout;
    let calls = edge.handle().conversations().len();
    info!(
        calls,
        limit_s = limit.as_secs(),
        "draining: not ready, new calls refused with 503, calls in progress may finish"
    );
    systemd::notify(&[NotifyState::Stopping, NotifyState::Status("draining")]);
    // The API stays up while calls drain: its clients may still have to end theirs.
    let stop = edge.stop(limit);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = watchdog.tick() => systemd::notify(&[NotifyState::Watchdog]),
        }
    }
    if let Some(api) = api {
        api.stop().await;
    }
    info!("stopped");
    Ok(())
}
