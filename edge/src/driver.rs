//! The tokio side of the core: one task that feeds transport events, call
//! actions and time into `Core`, hands its transmits to the transports and
//! spawns call actors. Nothing here decides anything about SIP.

use crate::control_plane::{ConversationId, Session};
use crate::conversation::record::WallClock;
use crate::conversation::task::{self, ConversationDeps};
use crate::conversation::{Action, RefusedAttempt};
use crate::core::Core;
use crate::handle::OriginateError;
use crate::hep::HepTap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::debug;
use voxgate_config::Config;
use voxgate_sip::TransportKind;
use voxgate_sip::transport::{TransportEvent, TransportHandle};

mod turn;
use turn::{Driven, Inputs, turn};

/// Instructions to the core task.
#[derive(Debug)]
pub enum Command {
    /// A new config snapshot was installed.
    Reconfigure(Arc<Config>),
    /// Refuse new requests from now on.
    Drain,
    /// An operator's drain (true) or undrain (false): new calls refused with 503 or
    /// taken again; the node does not stop.
    OperatorDrain(bool),
    /// Hang up every call, then leave the loop.
    Stop,
    /// Start a conversation with no leg; the session goes back on the channel.
    Originate(tokio::sync::oneshot::Sender<Result<Session, OriginateError>>),
}

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

impl Driven for Core {
    type Event = TransportEvent;
    type Action = (ConversationId, Action);

    fn handle_event(&mut self, now: Instant, event: TransportEvent) {
        self.handle_transport(now, event);
    }

    fn handle_action(&mut self, now: Instant, (call, action): (ConversationId, Action)) {
        self.handle_call_action(now, call, action);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Core::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Core::poll_timeout(self)
    }
}

/// The channels as a turn's inputs: read without waiting, time from the clock.
struct Queued<'a> {
    calls: &'a mut mpsc::Receiver<(ConversationId, Action)>,
    events: &'a mut mpsc::Receiver<TransportEvent>,
    hep: &'a mut HepTap,
}

impl Inputs<Core> for Queued<'_> {
    fn try_action(&mut self) -> Option<(ConversationId, Action)> {
        self.calls.try_recv().ok()
    }

    fn try_event(&mut self) -> Option<TransportEvent> {
        let event = self.events.try_recv().ok()?;
        self.hep.received(&event);
        Some(event)
    }

    fn now(&mut self) -> Instant {
        Instant::now()
    }
}

/// What the loop does with a command; the stop deadline when told to stop.
fn on_command(
    core: &mut Core,
    cmd: Option<Command>,
    draining: &mut bool,
    hep: &mut HepTap,
) -> Option<Instant> {
    match cmd {
        Some(Command::Reconfigure(config)) => {
            hep.reconfigure(&config);
            core.apply_config(Instant::now(), config);
        }
        Some(Command::Drain) => {
            core.start_draining();
            *draining = true;
        }
        // Not a stop: `draining` (which publishes unsettled work for the stop) stays.
        Some(Command::OperatorDrain(true)) => core.start_draining(),
        Some(Command::OperatorDrain(false)) => {
            if !*draining {
                core.stop_draining();
            }
        }
        // The transport handle we hold keeps the event channel open,
        // so the loop ends on an explicit command, not on channel close.
        Some(Command::Originate(reply)) => core.originate(reply),
        Some(Command::Stop) | None => {
            core.shutdown_calls();
            core.unregister_all(Instant::now());
            return Some(Instant::now() + HANGUP_GRACE);
        }
    }
    None
}

/// Runs the core until told to stop. Each pass: every queued command, then
/// one [`turn`] (timers, a batch of call actions, a batch of transport
/// events, timers checked between them, so timers fire on time whatever
/// the input rate), then spawns and transmits; it sleeps only when a turn
/// found nothing to do.
pub async fn run(
    mut core: Core,
    mut ch: Channels,
    transports: TransportHandle,
    deps: Arc<ConversationDeps>,
    mut hep: HepTap,
) {
    let mut draining = false;
    let mut stop_at: Option<Instant> = None;
    let mut commands_open = true;
    let mut timer = crate::rearm::Rearm::new();
    loop {
        // Commands are rare and each one matters (stop, drain): all first.
        while let Ok(cmd) = ch.commands.try_recv() {
            if let Some(at) = on_command(&mut core, Some(cmd), &mut draining, &mut hep) {
                stop_at = Some(at);
            }
        }
        // Overload control: two clock reads and two channel lengths (atomic loads, no
        // lock) per turn, which handles up to 2 × BATCH inputs.
        let started = Instant::now();
        core.turn_started(started, ch.events.len() + ch.calls.len());
        let mut queued = Queued {
            calls: &mut ch.calls,
            events: &mut ch.events,
            hep: &mut hep,
        };
        let handled = turn(&mut core, &mut queued);
        // Flushed before any sleep: a turn that only fired timers (a
        // retransmission, say) handled no input but has something to send.
        while let Some(new) = core.poll_spawn() {
            tokio::spawn(task::run(
                new.ctx,
                new.input,
                new.operator,
                deps.clone(),
                new.birth,
            ));
        }
        if let Some(refused) = core.poll_refused() {
            write_refused(&mut core, &deps, refused);
        }
        while let Some(t) = core.poll_transmit() {
            hep.sent(&t);
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
        core.turn_ended(started, Instant::now());
        // O(1) (the count is kept as transactions change), so every turn.
        if draining {
            ch.unsettled
                .send_replace(Some(core.unsettled_transactions() + core.active_calls()));
        }
        if let Some(at) = stop_at
            && (core.active_calls() == 0 || Instant::now() >= at)
        {
            break;
        }
        if handled >= turn::BATCH {
            // A full batch: more is likely queued. Never await it, but let
            // the transports and conversation tasks sharing this worker run.
            tokio::task::yield_now().await;
            continue;
        }
        // The queues were drained (no batch was full): the select below finds
        // them empty and parks, which lets the other tasks run, or hands over
        // what arrived meanwhile. Yielding here instead cost every busy turn
        // an extra zero-timeout epoll_wait (tokio's park_yield). Its channel
        // receives use tokio's coop budget, so a busy loop still gives way.
        // Sleep until input arrives or the next deadline.
        // What the select hands over is handled at once; the next turn
        // fires what fell due and flushes what either produced.
        let deadline = match (core.poll_timeout(), stop_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        timer.set(deadline.map(tokio::time::Instant::from_std));
        tokio::select! {
            biased;
            cmd = ch.commands.recv(), if commands_open => {
                // Closed: the edge is gone, which means stop (once).
                commands_open = cmd.is_some();
                if let Some(at) = on_command(&mut core, cmd, &mut draining, &mut hep) {
                    stop_at = Some(at);
                }
            }
            Some((call, action)) = ch.calls.recv() => {
                core.handle_call_action(Instant::now(), call, action);
            }
            event = ch.events.recv() => {
                let Some(event) = event else { break };
                hep.received(&event);
                core.handle_transport(Instant::now(), event);
            }
            () = timer.wait() => {}
        }
    }
}

/// Hands every refused attempt's CDR to the writer (never waits).
fn write_refused(core: &mut Core, deps: &ConversationDeps, first: RefusedAttempt) {
    let config = core.config();
    let clock = WallClock::now();
    let redact = config.cdr.as_ref().is_none_or(|c| c.redact_numbers);
    let mut next = Some(first);
    while let Some(refused) = next {
        if let Some(records) = &deps.records {
            records.submit(refused.to_json(&clock, &config.node.name, redact));
        }
        next = core.poll_refused();
    }
}
