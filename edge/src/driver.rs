//! The tokio side of the core: one task that feeds transport events, call
//! actions and time into `Core`, hands its transmits to the transports and
//! spawns call actors. Nothing here decides anything about SIP.

use crate::control_plane::{ConversationId, Session};
use crate::conversation::Action;
use crate::conversation::task::{self, ConversationDeps};
use crate::core::Core;
use crate::handle::OriginateError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::debug;
use voxgate_config::Config;
use voxgate_sip::TransportKind;
use voxgate_sip::transport::{TransportEvent, TransportHandle};

/// Instructions to the core task.
#[derive(Debug)]
pub enum Command {
    /// A new config snapshot was installed.
    Reconfigure(Arc<Config>),
    /// Refuse new requests from now on.
    Drain,
    /// Hang up every call, then leave the loop.
    Stop,
    /// Start a conversation with no leg; the session goes back on the channel.
    Originate(tokio::sync::oneshot::Sender<Result<Session, OriginateError>>),
}

/// Events handled per wake-up before transmits are flushed; bounds latency
/// while letting a burst share one pass.
const BATCH: usize = 64;

/// How long calls get to send their BYEs when the node stops.
const HANGUP_GRACE: Duration = Duration::from_secs(2);

/// The core task's channels.
pub struct Channels {
    /// From the transports.
    pub events: mpsc::Receiver<TransportEvent>,
    /// From the edge (reload, drain, stop).
    pub commands: mpsc::Receiver<Command>,
    /// From call actors.
    pub calls: mpsc::Receiver<(ConversationId, Action)>,
    /// Unsettled work (transactions owing something, and calls), published once draining.
    pub unsettled: watch::Sender<Option<usize>>,
}

/// Runs the core until told to stop.
pub async fn run(
    mut core: Core,
    mut ch: Channels,
    transports: TransportHandle,
    deps: ConversationDeps,
) {
    let mut draining = false;
    let mut stop_at: Option<Instant> = None;
    loop {
        let timer = match (core.poll_timeout(), stop_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            biased;
            cmd = ch.commands.recv() => match cmd {
                Some(Command::Reconfigure(config)) => core.apply_config(config),
                Some(Command::Drain) => {
                    core.start_draining();
                    draining = true;
                }
                // The transport handle we hold keeps the event channel open,
                // so the loop ends on an explicit command, not on channel close.
                Some(Command::Originate(reply)) => core.originate(reply),
                Some(Command::Stop) | None => {
                    core.shutdown_calls();
                    stop_at = Some(Instant::now() + HANGUP_GRACE);
                }
            },
            action = ch.calls.recv() => {
                if let Some((call, action)) = action {
                    core.handle_call_action(Instant::now(), call, action);
                    for _ in 1..BATCH {
                        match ch.calls.try_recv() {
                            Ok((call, action)) => core.handle_call_action(Instant::now(), call, action),
                            Err(_) => break,
                        }
                    }
                }
            }
            event = ch.events.recv() => {
                let Some(event) = event else { break };
                core.handle_transport(Instant::now(), event);
                for _ in 1..BATCH {
                    match ch.events.try_recv() {
                        Ok(event) => core.handle_transport(Instant::now(), event),
                        Err(_) => break,
                    }
                }
            }
            () = sleep_until(timer) => core.handle_timeout(Instant::now()),
        }
        while let Some(new) = core.poll_spawn() {
            tokio::spawn(task::run(
                new.ctx,
                new.input,
                new.operator,
                deps.clone(),
                new.birth,
            ));
        }
        while let Some(t) = core.poll_transmit() {
            let sent = match (t.to.transport, t.to.conn, core.tls_name(t.to.addr)) {
                (TransportKind::Tls, None, Some(name)) => {
                    transports.send_tls_named(&t.to, name, t.bytes)
                }
                _ => transports.send(&t.to, t.bytes),
            };
            if let Err(e) = sent {
                debug!(to = %t.to, error = %e, "send failed");
            }
        }
        // Counting costs O(transactions), so only while draining.
        if draining {
            ch.unsettled
                .send_replace(Some(core.unsettled_transactions() + core.active_calls()));
        }
        if let Some(at) = stop_at
            && (core.active_calls() == 0 || Instant::now() >= at)
        {
            break;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
