//! The call actor: one tokio task per call that feeds its `Call` from a
//! channel, runs its timers, talks to the control plane, and hands SIP
//! actions to the core task. Nothing here decides anything about SIP.

use super::record::WallClock;
use super::*;
use crate::control_plane::{CallSession, ControlPlane};
use crate::metrics::Metrics;
use crate::registry::{CallRegistry, CallSummary};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};
use voxgate_media::anchor::{LocalMedia, RemoteMedia};
use voxgate_media::{MediaEngine, MediaError, MediaSession, SessionStats};

/// What every call task needs from the node.
#[derive(Clone)]
pub struct CallDeps {
    /// The control plane.
    pub control: Arc<dyn ControlPlane>,
    /// The media plane.
    pub engine: Arc<MediaEngine>,
    /// Where SIP actions go (the core task).
    pub core: mpsc::Sender<(CallRef, CallAction)>,
    /// Where CDR lines go, if records are kept.
    pub records: Option<mpsc::Sender<String>>,
    /// Active calls, for `GET /calls`.
    pub registry: Arc<CallRegistry>,
    /// Metrics.
    pub metrics: Metrics,
}

/// The relay of a call, opened on demand.
pub struct RealMedia {
    engine: Arc<MediaEngine>,
    session: Option<Arc<MediaSession>>,
}

impl RealMedia {
    /// Media from `engine`, nothing open yet.
    pub fn new(engine: Arc<MediaEngine>) -> RealMedia {
        RealMedia {
            engine,
            session: None,
        }
    }
}

impl MediaControl for RealMedia {
    fn open(&mut self, region_a: &str, region_b: &str, lines: usize) -> Result<(), MediaError> {
        self.session = Some(Arc::new(self.engine.open(region_a, region_b, lines)?));
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.session.is_some()
    }

    fn local(&self, side: voxgate_media::Side) -> Vec<LocalMedia> {
        self.session
            .as_ref()
            .map(|s| s.local(side))
            .unwrap_or_default()
    }

    fn set_remote(&mut self, side: voxgate_media::Side, remote: &[RemoteMedia]) {
        if let Some(s) = &self.session {
            s.set_remote(side, remote);
        }
    }

    fn set_hold(&mut self, side: voxgate_media::Side, held: bool) {
        if let Some(s) = &self.session {
            s.set_hold(side, held);
        }
    }

    fn stats(&self) -> Option<SessionStats> {
        self.session.as_ref().map(|s| s.stats())
    }

    fn close(&mut self) {
        // Dropping the last handle stops the relay and returns the ports.
        self.session = None;
    }
}

/// Depth of a call's input channel; the core drops (and the peer
/// retransmits) what does not fit.
pub const INPUT_QUEUE: usize = 64;
const EVENT_QUEUE: usize = 32;
const COMMAND_QUEUE: usize = 8;

/// Runs one call to its end.
pub async fn run(ctx: CallContext, mut input: mpsc::Receiver<Box<CallInput>>, deps: CallDeps) {
    let id = ctx.id;
    let span = info_span!("call", call = %id);
    async move {
        let clock = WallClock::now();
        let media_timeout = ctx.config.calls.media_timeout;
        let redact = ctx.config.cdr.as_ref().is_none_or(|c| c.redact_numbers);
        let node = ctx.config.node.name.clone();
        let log_redact = ctx.config.logging.redact_numbers;
        let mut call = Call::new(Instant::now(), ctx, RealMedia::new(deps.engine.clone()));
        let Some(first) = input.recv().await else {
            return;
        };
        call.handle(Instant::now(), *first);

        let (events, mut commands) = match call.info().cloned() {
            Some(info) => {
                deps.registry
                    .insert(CallSummary::new(&info, log_redact, &clock));
                let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
                let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
                deps.control.incoming(CallSession {
                    info,
                    events: ev_rx,
                    commands: cmd_tx,
                });
                (Some(ev_tx), Some(cmd_rx))
            }
            None => (None, None),
        };
        let mut state = call.state_name();
        loop {
            if flush(&mut call, &deps, events.as_ref(), &clock, &node, redact).await {
                break;
            }
            if call.state_name() != state {
                state = call.state_name();
                deps.registry.set_state(
                    id,
                    state,
                    call.timeline().answer.map(|a| clock.rfc3339(a)),
                );
            }
            let deadline = call.poll_timeout().map(tokio::time::Instant::from_std);
            let session = call.media.session.clone();
            let watch_since = call.media_watch_since();
            let inactive = async {
                match (&session, media_timeout, watch_since) {
                    // The relay counts from its opening (before the ringing):
                    // no verdict before a full timeout after the answer. Not
                    // armed while ringing or ending, where `inactive` would
                    // resolve at once on every turn of this loop.
                    (Some(s), Some(t), Some(since)) => {
                        tokio::time::sleep_until((since + t).into()).await;
                        s.inactive(t).await;
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = input.recv() => match msg {
                    Some(msg) => call.handle(Instant::now(), *msg),
                    // The core is gone (the node stops): nothing can be sent any more.
                    None => {
                        call.handle(Instant::now(), CallInput::Shutdown);
                        call.finish();
                    }
                },
                cmd = recv_opt(&mut commands) => match cmd {
                    Some(cmd) => call.handle(Instant::now(), CallInput::Command(cmd)),
                    None => {
                        commands = None;
                        call.handle(Instant::now(), CallInput::ControlGone);
                    }
                },
                () = sleep_until(deadline) => call.handle_timeout(Instant::now()),
                () = inactive => call.handle(Instant::now(), CallInput::MediaTimeout),
            }
        }
        deps.registry.remove(id);
    }
    .instrument(span)
    .await;
}

/// Carries out the call's actions; true once it ended.
async fn flush(
    call: &mut Call<RealMedia>,
    deps: &CallDeps,
    events: Option<&mpsc::Sender<CallEvent>>,
    clock: &WallClock,
    node: &str,
    redact: bool,
) -> bool {
    let id = call.id();
    while let Some(action) = call.poll_action() {
        match action {
            CallAction::Event(event) => {
                debug!(?event, "call event");
                if let Some(tx) = events {
                    // A control plane that stopped reading loses events, not the call.
                    let _ = tx.try_send(event);
                }
            }
            CallAction::Ended(record) => {
                deps.metrics.call_ended(&record);
                if let Some(records) = &deps.records {
                    let _ = records.try_send(record.to_json(clock, node, redact));
                }
                let _ = deps.core.send((id, CallAction::Ended(record))).await;
                return true;
            }
            other => {
                if deps.core.send((id, other)).await.is_err() {
                    return true;
                }
            }
        }
    }
    false
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
