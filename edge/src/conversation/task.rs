//! The conversation actor: one tokio task per conversation that feeds its
//! `Conversation` from the core and the control plane, runs its timers,
//! delivers its events, and hands SIP actions to the core task. Nothing here
//! decides anything about SIP.
//!
//! Delivery is lossless with documented bounds: the core's inputs queue up
//! to [`INPUT_QUEUE`] (beyond, the core ends the conversation with
//! `Overflow`), events up to [`EVENT_QUEUE`] unread by the control plane
//! (beyond, the conversation is ended with `ControlOverflow`; its `Ended`
//! still arrives), commands up to [`COMMAND_QUEUE`] (the control plane's
//! `send` waits).

use super::record::{WallClock, cause_label, side_label};
use super::*;
use crate::control_plane::{COMMAND_QUEUE, ControlPlane, EVENT_QUEUE, Session};
use crate::handle::{ConversationSummary, OriginateError, StampedEvent};
use crate::metrics::Metrics;
use crate::registry::Registry;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};
use voxgate_media::anchor::{LocalMedia, RemoteMedia};
use voxgate_media::srtp::SdesKeys;
use voxgate_media::{
    EndpointOp, LegMediaStats, LiveStats, MediaEngine, MediaError, MediaEvent, MediaEventReceiver,
    MediaSession, RecordRequest,
};

/// Inputs the core may queue for one conversation before it ends it.
pub const INPUT_QUEUE: usize = 1024;

/// What every conversation task needs from the node.
#[derive(Clone)]
pub struct ConversationDeps {
    /// The control plane.
    pub control: Arc<dyn ControlPlane>,
    /// The media plane.
    pub engine: Arc<MediaEngine>,
    /// Where SIP actions go (the core task).
    pub core: mpsc::Sender<(ConversationId, Action)>,
    /// Where CDR lines go, if records are kept.
    pub records: Option<crate::records::CdrSink>,
    /// Live conversations, for `GET /calls` and the API.
    pub registry: Arc<Registry>,
    /// Metrics.
    pub metrics: Metrics,
    /// Followers of every conversation's events.
    pub follow: broadcast::Sender<StampedEvent>,
    /// The resolver of destination names.
    pub dns: Arc<crate::dns::Dns>,
    /// Kill switches, fed each ended call's outcomes.
    pub switches: Arc<crate::kill_switch::KillSwitches>,
}

/// How a conversation came to be.
pub enum Birth {
    /// An INVITE from a trunk: the control plane gets `incoming`.
    Inbound,
    /// `EdgeHandle::originate`: the session goes back to the caller.
    Originated(oneshot::Sender<Result<Session, OriginateError>>),
}

/// The core's end of a conversation's inputs: unbounded underneath, with
/// the bound counted here so that nothing is ever dropped silently.
#[derive(Debug)]
pub struct InputSender {
    tx: mpsc::UnboundedSender<Box<Input>>,
    queued: Arc<AtomicUsize>,
    overflowed: bool,
}

/// The conversation's end of its inputs.
#[derive(Debug)]
pub struct InputReceiver {
    rx: mpsc::UnboundedReceiver<Box<Input>>,
    queued: Arc<AtomicUsize>,
}

/// What became of a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued.
    Queued,
    /// The bound was passed: the conversation was told to end (`Overflow`).
    Overflowed,
    /// The conversation is gone.
    Closed,
}

/// A conversation's input channel.
pub fn input_channel() -> (InputSender, InputReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        InputSender {
            tx,
            queued: queued.clone(),
            overflowed: false,
        },
        InputReceiver { rx, queued },
    )
}

impl InputSender {
    /// Queues `input`; past [`INPUT_QUEUE`] the conversation gets `Overflow`
    /// instead, once, and nothing after it.
    pub fn deliver(&mut self, input: Input) -> Delivery {
        if self.overflowed {
            return Delivery::Overflowed;
        }
        let input = if self.queued.load(Ordering::Relaxed) >= INPUT_QUEUE {
            self.overflowed = true;
            Input::Overflow
        } else {
            input
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Box::new(input)).is_err() {
            return Delivery::Closed;
        }
        if self.overflowed {
            Delivery::Overflowed
        } else {
            Delivery::Queued
        }
    }

    /// A sender for operators (hang up any conversation), outside the bound.
    pub fn operator(&self) -> Operator {
        Operator {
            tx: self.tx.clone(),
            queued: self.queued.clone(),
        }
    }
}

/// An operator's way into a conversation (the API's hang-up of any
/// conversation), beside the core's.
#[derive(Clone, Debug)]
pub struct Operator {
    tx: mpsc::UnboundedSender<Box<Input>>,
    queued: Arc<AtomicUsize>,
}

impl Operator {
    /// Sends a command; false when the conversation is gone.
    pub fn command(&self, command: Command) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.tx.send(Box::new(Input::Command(command))).is_ok()
    }
}

impl InputReceiver {
    /// The next input if one is queued (tests and the core's own checks).
    pub fn try_recv(&mut self) -> Result<Box<Input>, mpsc::error::TryRecvError> {
        let input = self.rx.try_recv()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Ok(input)
    }

    async fn recv(&mut self) -> Option<Box<Input>> {
        let input = self.rx.recv().await?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(input)
    }
}

/// The media of one conversation: a media session opened at its first
/// endpoint, dropped (every socket closed, every port returned) on `close`.
pub struct RealMedia {
    engine: Arc<MediaEngine>,
    session: Option<MediaSession>,
    /// The session's events (digits, playback ends), read by the actor with
    /// its other inputs; bounded as `voxgate_media::relay::events` says.
    events: Option<MediaEventReceiver>,
}

impl RealMedia {
    /// Media from `engine`, nothing open yet.
    pub fn new(engine: Arc<MediaEngine>) -> RealMedia {
        RealMedia {
            engine,
            session: None,
            events: None,
        }
    }

    /// The next media event; pending for ever while there is no session,
    /// and once its task has ended and every event was read.
    pub async fn next_event(&mut self) -> (EndpointId, MediaEvent) {
        loop {
            match &mut self.events {
                Some(rx) => match rx.recv().await {
                    Some(ev) => return ev,
                    None => self.events = None,
                },
                None => std::future::pending::<()>().await,
            }
        }
    }
}

impl RealMedia {
    /// Hands the step's media controls to the media thread at once.
    fn flush_controls(&self) {
        if let Some(session) = &self.session {
            session.flush_controls();
        }
    }

    /// Where `ep`'s counters can be read while it lives.
    fn live_stats(&self, ep: EndpointId) -> Option<LiveStats> {
        self.session.as_ref()?.live_stats(ep)
    }
}

impl MediaControl for RealMedia {
    fn add_endpoint(&mut self, spec: &EndpointSpec) -> Result<EndpointId, MediaError> {
        let session = match &mut self.session {
            Some(s) => s,
            None => {
                let session = self.engine.session()?;
                // One hand-off to the media thread per step: see `flush`.
                session.defer_controls();
                self.events = session.take_events();
                self.session.insert(session)
            }
        };
        session.add_endpoint(voxgate_media::EndpointSpec {
            region: &spec.region,
            lines: spec.lines,
            peer: spec.peer,
            allowed_sources: spec.allowed_sources.clone(),
        })
    }

    fn local(&self, ep: EndpointId) -> Vec<LocalMedia> {
        self.session
            .as_ref()
            .map(|s| s.local(ep))
            .unwrap_or_default()
    }

    fn rtp_port(&self, ep: EndpointId) -> Option<u16> {
        self.session.as_ref()?.rtp_port(ep)
    }

    fn set_remote(&mut self, ep: EndpointId, remote: &[RemoteMedia]) {
        if let Some(s) = &self.session {
            s.set_remote(ep, remote);
        }
    }

    fn set_hold(&mut self, ep: EndpointId, held: bool) {
        if let Some(s) = &self.session {
            s.set_hold(ep, held);
        }
    }

    fn set_dtls_passthrough(&mut self, ep: EndpointId, on: bool) {
        if let Some(s) = &self.session {
            s.set_dtls_passthrough(ep, on);
        }
    }

    fn set_srtp(&mut self, ep: EndpointId, keys: &[Option<SdesKeys>]) {
        if let Some(s) = &self.session {
            s.set_srtp(ep, keys);
        }
    }

    fn bridge(&mut self, a: EndpointId, b: EndpointId) {
        if let Some(s) = &self.session {
            s.bridge(a, b);
        }
    }

    fn unbridge(&mut self, ep: EndpointId) {
        if let Some(s) = &self.session {
            s.unbridge(ep);
        }
    }

    fn set_conference(&mut self, ep: EndpointId, member: Option<voxgate_media::Membership>) {
        if let Some(s) = &self.session {
            s.set_conference(ep, member);
        }
    }

    fn media_op(&mut self, ep: EndpointId, op: EndpointOp) {
        if let Some(s) = &self.session {
            s.media_op(ep, op);
        }
    }

    fn record(&mut self, ep: EndpointId, request: RecordRequest) {
        if let Some(s) = &self.session {
            s.record(ep, request);
        }
    }

    fn remove_endpoint(&mut self, ep: EndpointId) {
        if let Some(s) = &self.session {
            s.remove_endpoint(ep);
        }
    }

    fn media_stats(&self, ep: EndpointId) -> Option<LegMediaStats> {
        Some(self.session.as_ref()?.stats(ep)?.media())
    }

    fn last_activity(&self) -> Option<Instant> {
        self.session.as_ref().map(MediaSession::last_activity)
    }

    fn close(&mut self) {
        // Dropping the session ends its task: sockets closed, ports returned
        // (controls still held back are moot then).
        self.session = None;
    }

    fn close_quietly(&mut self) {
        if let Some(events) = self.events.take() {
            events.close_quietly();
        }
        self.session = None;
    }
}

/// The control plane's end of the events, bounded without ever blocking
/// the conversation.
struct Events {
    tx: Option<mpsc::Sender<Event>>,
    overflowed: bool,
}

impl Events {
    /// Delivers `event`; false when the control plane fell behind the bound.
    fn send(&mut self, event: Event) -> bool {
        let Some(tx) = &self.tx else { return true };
        let last = matches!(event, Event::Ended { .. });
        if self.overflowed && !last {
            return true;
        }
        // One slot is kept for `Ended`.
        if !last && tx.capacity() <= 1 {
            self.overflowed = true;
            return false;
        }
        match tx.try_send(event) {
            Ok(()) => true,
            // The control plane dropped its events: it does not want them.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.tx = None;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed = true;
                false
            }
        }
    }
}

/// Runs one conversation to its end.
pub async fn run(
    ctx: ConversationContext,
    mut input: InputReceiver,
    operator: Operator,
    // Shared, not cloned: the metrics alone are some seventy `Arc`s.
    deps: Arc<ConversationDeps>,
    birth: Birth,
) {
    let id = ctx.id;
    let span = info_span!("conversation", id = %id);
    async move {
        let clock = WallClock::now();
        let redact = ctx.config.cdr.as_ref().is_none_or(|c| c.redact_numbers);
        let node = ctx.config.node.name.clone();
        let log_redact = ctx.config.logging.redact_numbers;
        let node_region = ctx.config.node.region.clone();
        let media = RealMedia::new(deps.engine.clone());
        let (mut conv, originated) = match birth {
            Birth::Inbound => (Conversation::new(Instant::now(), ctx, media), None),
            Birth::Originated(reply) => (
                Conversation::originated(Instant::now(), ctx, media),
                Some(reply),
            ),
        };
        if originated.is_none() {
            let Some(first) = input.recv().await else {
                return;
            };
            conv.handle(Instant::now(), *first);
        }
        let (mut events, mut commands) = match conv.info().cloned() {
            Some(info) => {
                let mut summary = ConversationSummary::new(&info, log_redact, &clock);
                if summary.region.is_empty() {
                    // Originated: anchored in the node's region until a leg says otherwise.
                    summary.region = node_region;
                }
                deps.registry.insert(id, summary, operator);
                let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE + 1);
                let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
                let session = Session {
                    info,
                    events: ev_rx,
                    commands: cmd_tx,
                };
                match originated {
                    Some(reply) => {
                        if reply.send(Ok(session)).is_err() {
                            conv.handle(Instant::now(), Input::ControlGone);
                        }
                    }
                    None => deps.control.incoming(session),
                }
                (
                    Events {
                        tx: Some(ev_tx),
                        overflowed: false,
                    },
                    Some(cmd_rx),
                )
            }
            None => (
                Events {
                    tx: None,
                    overflowed: false,
                },
                None,
            ),
        };
        // Names being resolved for dials: off the signalling loop, and
        // without holding up this conversation's other inputs.
        let mut lookups: JoinSet<(DialId, Vec<std::net::SocketAddr>)> = JoinSet::new();
        let mut timer = crate::rearm::Rearm::new();
        loop {
            let changed = match flush(
                &mut conv,
                &deps,
                &mut events,
                &clock,
                &node,
                redact,
                &mut lookups,
            )
            .await
            {
                Flushed::Ended => break,
                Flushed::Overflow => {
                    deps.metrics.control_overflow();
                    warn!("the control plane fell behind; ending the conversation");
                    conv.handle(Instant::now(), Input::Overflow);
                    continue;
                }
                Flushed::Quiet => false,
                Flushed::Changed => true,
            };
            if changed {
                deps.registry.update(id, |s| {
                    s.state = conv.state_name();
                    if s.answered.is_none() {
                        s.answered = conv.timeline().answer.map(|a| clock.rfc3339(a));
                    }
                    conv.update_leg_summaries(&mut s.legs);
                });
                let live = conv
                    .legs
                    .iter()
                    .filter_map(|l| Some((l.id.0, conv.media.live_stats(l.endpoint?)?)))
                    .collect();
                deps.registry.set_live(id, live);
            }
            timer.set(conv.poll_timeout().map(tokio::time::Instant::from_std));
            tokio::select! {
                msg = input.recv() => match msg {
                    Some(msg) => conv.handle(Instant::now(), *msg),
                    // The core is gone (the node stops): nothing can be sent any more.
                    None => {
                        conv.handle(Instant::now(), Input::Shutdown);
                        conv.finish();
                    }
                },
                cmd = recv_opt(&mut commands) => match cmd {
                    Some(cmd) => conv.handle(Instant::now(), Input::Command(cmd)),
                    None => {
                        commands = None;
                        conv.handle(Instant::now(), Input::ControlGone);
                    }
                },
                (ep, event) = conv.media.next_event() => {
                    if event == MediaEvent::Overflow {
                        deps.metrics.conversation_overflow("media");
                        warn!("the conversation fell behind its media events; ending it");
                    }
                    conv.handle(Instant::now(), Input::Media { ep, event });
                }
                () = timer.wait() => conv.handle_timeout(Instant::now()),
                Some(Ok((dial, targets))) = lookups.join_next(), if !lookups.is_empty() => {
                    conv.handle(Instant::now(), Input::Resolved { dial, targets });
                }
            }
        }
        deps.registry.remove(id);
    }
    .instrument(span)
    .await;
}

enum Flushed {
    Quiet,
    Changed,
    Overflow,
    Ended,
}

/// Carries out the conversation's actions.
async fn flush(
    conv: &mut Conversation<RealMedia>,
    deps: &ConversationDeps,
    events: &mut Events,
    clock: &WallClock,
    node: &str,
    redact: bool,
    lookups: &mut JoinSet<(DialId, Vec<std::net::SocketAddr>)>,
) -> Flushed {
    // The step's media controls first, together, before the SIP that
    // signals them goes out.
    conv.media.flush_controls();
    let id = conv.id();
    let mut changed = false;
    while let Some(action) = conv.poll_action() {
        match action {
            Action::Event(event) => {
                match &event {
                    // Digits may be a PIN or a card number: never in the log.
                    Event::Digits { leg, source, .. } => {
                        debug!(%leg, source = source.as_str(), "conversation event: digit");
                    }
                    // An operator must act (free space, fix the folder's permissions).
                    Event::RecordingDone {
                        leg,
                        id,
                        reason: reason @ crate::control_plane::RecordingEnd::Failed(error),
                        file,
                        ..
                    } => warn!(
                        %leg,
                        recording = %id,
                        file,
                        error = error.as_str(),
                        "recording {}: its file could not be written; the call goes on",
                        reason.as_str()
                    ),
                    _ => debug!(?event, "conversation event"),
                }
                deps.metrics.conversation_event(&event);
                changed = true;
                if deps.follow.receiver_count() > 0 {
                    let _ = deps.follow.send(StampedEvent {
                        conversation: id,
                        event: event.clone(),
                    });
                }
                if !events.send(event) {
                    return Flushed::Overflow;
                }
            }
            Action::Resolve { dial, query } => {
                let dns = deps.dns.clone();
                lookups.spawn(async move { (dial, dns.targets(&query).await) });
            }
            Action::Ended(record) => {
                log_ended(&record);
                deps.metrics.call_ended(&record);
                deps.switches.call_ended(std::time::Instant::now(), &record);
                if let Some(records) = &deps.records {
                    records.submit(record.to_json(clock, node, redact));
                }
                let _ = deps.core.send((id, Action::Ended(record))).await;
                return Flushed::Ended;
            }
            other => {
                if deps.core.send((id, other)).await.is_err() {
                    return Flushed::Ended;
                }
            }
        }
    }
    if changed {
        Flushed::Changed
    } else {
        Flushed::Quiet
    }
}

/// The call's one line at `info` (numbers never: they are the CDR's), and
/// one more for a failure with its reason.
fn log_ended(record: &ConversationRecord) {
    let call_id = record.call_id();
    let trunk = record.trunk_label();
    let trunk_out = record.trunk_out.as_ref().map_or("none", |t| t.as_str());
    let status = record.final_status().unwrap_or(0);
    info!(
        call_id,
        trunk,
        trunk_out,
        outcome = record.outcome_label(),
        status,
        q850 = record.q850(),
        side = side_label(record.outcome.side),
        cause = cause_label(record.outcome.cause),
        attempts = record.attempts,
        "call ended"
    );
    if let Some(reason) = record.failure() {
        info!(call_id, trunk, status, reason, "call failed");
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_core_never_drops_an_input_silently() {
        let (mut tx, mut rx) = input_channel();
        for _ in 0..INPUT_QUEUE {
            assert_eq!(tx.deliver(Input::ControlGone), Delivery::Queued);
        }
        // Past the bound: the conversation is told to end instead, once.
        assert_eq!(tx.deliver(Input::ControlGone), Delivery::Overflowed);
        assert_eq!(tx.deliver(Input::ControlGone), Delivery::Overflowed);
        let mut received = Vec::new();
        while let Ok(input) = rx.try_recv() {
            received.push(*input);
        }
        assert_eq!(received.len(), INPUT_QUEUE + 1);
        assert!(matches!(received.last(), Some(Input::Overflow)));
        // The count went back down as the conversation read.
        assert_eq!(rx.queued.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn operators_are_counted_too() {
        let (tx, mut rx) = input_channel();
        let op = tx.operator();
        assert!(op.command(Command::Hangup {
            leg: None,
            status: None
        }));
        assert_eq!(rx.queued.load(Ordering::Relaxed), 1);
        assert!(matches!(
            rx.try_recv().map(|i| *i),
            Ok(Input::Command(Command::Hangup { .. }))
        ));
        assert_eq!(rx.queued.load(Ordering::Relaxed), 0);
        drop(rx);
        assert!(!op.command(Command::Hangup {
            leg: None,
            status: None
        }));
    }

    fn ended() -> Event {
        Event::Ended {
            side: Side::Edge,
            cause: EndCause::ControlOverflow,
        }
    }

    #[test]
    fn events_past_the_bound_overflow_and_ended_still_arrives() {
        let (ev_tx, mut ev_rx) = mpsc::channel(EVENT_QUEUE + 1);
        let mut events = Events {
            tx: Some(ev_tx),
            overflowed: false,
        };
        let leg = Event::LegAnswered {
            leg: LegId(1),
            early: false,
        };
        for _ in 0..EVENT_QUEUE {
            assert!(events.send(leg.clone()));
        }
        assert!(!events.send(leg.clone()), "the bound is reached");
        // Later events are not queued; the final one is.
        assert!(events.send(leg.clone()));
        assert!(events.send(ended()));
        let mut got = Vec::new();
        while let Ok(e) = ev_rx.try_recv() {
            got.push(e);
        }
        assert_eq!(got.len(), EVENT_QUEUE + 1);
        assert_eq!(got.last(), Some(&ended()));
    }

    #[test]
    fn a_control_plane_that_dropped_its_events_is_not_an_overflow() {
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE + 1);
        drop(ev_rx);
        let mut events = Events {
            tx: Some(ev_tx),
            overflowed: false,
        };
        for _ in 0..(2 * EVENT_QUEUE) {
            assert!(events.send(ended()));
        }
    }
}
