//! The tokio side of the core: one task that feeds transport events and time
//! into `Core` and hands its transmits to the transports. Nothing here
//! decides anything about SIP.

use crate::core::Core;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use tracing::debug;
use voxgate_config::Config;
use voxgate_sip::transport::{TransportEvent, TransportHandle};

/// Instructions to the core task.
#[derive(Debug)]
pub enum Command {
    /// A new config snapshot was installed.
    Reconfigure(Arc<Config>),
    /// Refuse new requests from now on.
    Drain,
    /// Leave the loop (the transports are shut down).
    Stop,
}

/// Events handled per wake-up before transmits are flushed; bounds latency
/// while letting a burst share one pass.
const BATCH: usize = 64;

/// Runs the core until told to stop.
pub async fn run(
    mut core: Core,
    mut events: mpsc::Receiver<TransportEvent>,
    mut commands: mpsc::Receiver<Command>,
    transports: TransportHandle,
    unsettled: watch::Sender<Option<usize>>,
) {
    let mut draining = false;
    loop {
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(Command::Reconfigure(config)) => core.apply_config(&config),
                Some(Command::Drain) => {
                    core.start_draining();
                    draining = true;
                }
                // The transport handle we hold keeps the event channel open,
                // so the loop ends on an explicit command, not on channel close.
                Some(Command::Stop) | None => break,
            },
            event = events.recv() => {
                let Some(event) = event else { break };
                core.handle_transport(Instant::now(), event);
                for _ in 1..BATCH {
                    match events.try_recv() {
                        Ok(event) => core.handle_transport(Instant::now(), event),
                        Err(_) => break,
                    }
                }
            }
            () = sleep_until(deadline) => core.handle_timeout(Instant::now()),
        }
        while let Some(t) = core.poll_transmit() {
            if let Err(e) = transports.send(&t.to, t.bytes) {
                debug!(to = %t.to, error = %e, "send failed");
            }
        }
        // Counting costs O(transactions), so only while draining.
        if draining {
            unsettled.send_replace(Some(core.unsettled_transactions()));
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
