//! The node under test: voxgate's real `Core`, its conversations on
//! `NoMedia`, and a scenario's control plane, wired the way `driver.rs` and
//! `conversation/task.rs` wire them (a conversation's SIP actions go to the
//! core, the core's spawns become conversations, its inputs go to them,
//! their events to the control plane and its commands back), on the
//! virtual clock and in a fixed order.

use crate::control::{Plane, PlaneFactory};
use crate::network::Ctx;
use bytes::Bytes;
use rand::Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_config::Config;
use voxgate_edge::calls::NewCall;
use voxgate_edge::control_plane::{Command, ConversationId, Event};
use voxgate_edge::conversation::task::{Birth, InputReceiver};
use voxgate_edge::conversation::{
    Action, Conversation, ConversationRecord, EndpointId, EndpointSpec, Locals, MediaControl,
    NoMedia,
};
use voxgate_edge::core::Core;
use voxgate_edge::metrics::Metrics;
use voxgate_media::LegMediaStats;
use voxgate_media::MediaError;
use voxgate_media::anchor::{LocalMedia, RemoteMedia};
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::transport::{Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind};

/// `NoMedia` shared between a conversation and the harness, which checks at
/// the end that nothing was left open.
#[derive(Clone, Debug, Default)]
pub struct SharedMedia(pub Rc<RefCell<NoMedia>>);

impl MediaControl for SharedMedia {
    fn add_endpoint(&mut self, spec: &EndpointSpec) -> Result<EndpointId, MediaError> {
        self.0.borrow_mut().add_endpoint(spec)
    }
    fn local(&self, ep: EndpointId) -> Vec<LocalMedia> {
        self.0.borrow().local(ep)
    }
    fn set_remote(&mut self, ep: EndpointId, remote: &[RemoteMedia]) {
        self.0.borrow_mut().set_remote(ep, remote);
    }
    fn set_hold(&mut self, ep: EndpointId, held: bool) {
        self.0.borrow_mut().set_hold(ep, held);
    }
    fn set_dtls_passthrough(&mut self, ep: EndpointId, on: bool) {
        self.0.borrow_mut().set_dtls_passthrough(ep, on);
    }
    fn set_srtp(&mut self, ep: EndpointId, keys: &[Option<voxgate_media::srtp::SdesKeys>]) {
        self.0.borrow_mut().set_srtp(ep, keys);
    }
    fn bridge(&mut self, a: EndpointId, b: EndpointId) {
        self.0.borrow_mut().bridge(a, b);
    }
    fn unbridge(&mut self, ep: EndpointId) {
        self.0.borrow_mut().unbridge(ep);
    }
    fn set_conference(&mut self, ep: EndpointId, member: Option<voxgate_media::Membership>) {
        self.0.borrow_mut().set_conference(ep, member);
    }
    fn media_op(&mut self, ep: EndpointId, op: voxgate_media::EndpointOp) {
        self.0.borrow_mut().media_op(ep, op);
    }
    fn record(&mut self, ep: EndpointId, request: voxgate_media::RecordRequest) {
        self.0.borrow_mut().record(ep, request);
    }
    fn remove_endpoint(&mut self, ep: EndpointId) {
        self.0.borrow_mut().remove_endpoint(ep);
    }
    fn media_stats(&self, ep: EndpointId) -> Option<LegMediaStats> {
        self.0.borrow().media_stats(ep)
    }
    fn last_activity(&self) -> Option<Instant> {
        self.0.borrow().last_activity()
    }
    fn close(&mut self) {
        self.0.borrow_mut().close();
    }
}

/// One conversation and what the harness saw of it.
pub struct Conv {
    conv: Conversation<SharedMedia>,
    input: InputReceiver,
    /// Its control plane, once the conversation was offered to it.
    plane: Option<Box<dyn Plane>>,
    /// Commands on their way from the control plane, by arrival instant.
    commands: BTreeMap<(Instant, u64), Command>,
    /// Its media.
    pub media: SharedMedia,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// `Action::Ended` records (exactly one is right).
    pub records: Vec<ConversationRecord>,
    /// Actions it emitted after `Ended`.
    pub after_end: usize,
}

/// The node.
pub struct Node {
    /// Its SIP address.
    pub addr: SocketAddr,
    core: Core,
    planes: PlaneFactory,
    /// Longest a control plane takes to react to an event.
    pub plane_latency: Duration,
    /// Every conversation, by id (ordered, so the harness's order is fixed).
    pub convs: BTreeMap<ConversationId, Conv>,
    out: Vec<(SocketAddr, Bytes)>,
    seq: u64,
}

impl Node {
    /// A node at `addr` running `config`, its conversations decided by `planes`.
    pub fn new(addr: SocketAddr, config: Arc<Config>, planes: PlaneFactory) -> Node {
        let locals = Locals {
            udp: Some(LocalAddr::new(TransportKind::Udp, addr)),
            ..Locals::default()
        };
        let metrics = Metrics::new("sim").unwrap_or_else(|e| panic!("metrics: {e}"));
        Node {
            addr,
            core: Core::new(config, metrics, locals),
            planes,
            plane_latency: Duration::from_millis(30),
            convs: BTreeMap::new(),
            out: Vec::new(),
            seq: 0,
        }
    }

    /// Live transactions of the core.
    pub fn transactions(&self) -> usize {
        self.core.active_transactions()
    }

    /// Conversations the core still routes to.
    pub fn active_calls(&self) -> usize {
        self.core.active_calls()
    }

    /// A datagram arrives.
    pub fn receive(&mut self, ctx: &mut Ctx, from: SocketAddr, bytes: Bytes) {
        let incoming = Incoming {
            bytes,
            peer: Peer {
                transport: TransportKind::Udp,
                addr: from,
                conn: None,
            },
            local: self.addr,
            oversized: false,
        };
        self.core
            .handle_transport(ctx.now, TransportEvent::Message(incoming));
        self.pump(ctx);
    }

    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let convs = self.convs.values().flat_map(|c| {
            let cmd = c.commands.keys().next().map(|(at, _)| *at);
            c.conv.poll_timeout().into_iter().chain(cmd)
        });
        convs.chain(self.core.poll_timeout()).min()
    }

    /// Fires what is due: the core's timers, then each conversation's, then
    /// the commands that arrived.
    pub fn handle_timeout(&mut self, ctx: &mut Ctx) {
        let now = ctx.now;
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        let ids: Vec<ConversationId> = self.convs.keys().copied().collect();
        for id in ids {
            let Some(c) = self.convs.get_mut(&id) else {
                continue;
            };
            if c.conv.poll_timeout().is_some_and(|t| t <= now) {
                c.conv.handle_timeout(now);
            }
            self.flush(ctx, id);
            while let Some(c) = self.convs.get_mut(&id)
                && let Some(entry) = c.commands.first_entry()
                && entry.key().0 <= now
            {
                let command = entry.remove();
                ctx.note("cp", format!("{id} -> {command:?}"));
                c.conv
                    .handle(now, voxgate_edge::conversation::Input::Command(command));
                self.flush(ctx, id);
            }
        }
        self.pump(ctx);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        if self.out.is_empty() {
            while let Some(t) = self.core.poll_transmit() {
                self.out.push((t.to.addr, t.bytes));
            }
            self.out.reverse();
        }
        self.out.pop()
    }

    /// Runs everything to quiescence: new conversations are born, queued
    /// inputs are handled, actions carried out, events delivered.
    fn pump(&mut self, ctx: &mut Ctx) {
        loop {
            let mut progress = false;
            while let Some(new) = self.core.poll_spawn() {
                self.spawn(ctx, new);
                progress = true;
            }
            let ids: Vec<ConversationId> = self.convs.keys().copied().collect();
            for id in ids {
                while let Some(c) = self.convs.get_mut(&id)
                    && let Ok(input) = c.input.try_recv()
                {
                    c.conv.handle(ctx.now, *input);
                    progress = true;
                    self.flush(ctx, id);
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn spawn(&mut self, ctx: &mut Ctx, new: NewCall) {
        let NewCall {
            ctx: call_ctx,
            input,
            birth,
            ..
        } = new;
        assert!(
            matches!(birth, Birth::Inbound),
            "the scenarios originate nothing"
        );
        let id = call_ctx.id;
        let media = SharedMedia::default();
        let mut conv = Conversation::new(ctx.now, call_ctx, media.clone());
        // Its random choices (491 back-off) come from the run's seed too.
        conv.seed(ctx.rng.random());
        ctx.note("node", format!("{id} born"));
        self.convs.insert(
            id,
            Conv {
                conv,
                input,
                plane: None,
                commands: BTreeMap::new(),
                media,
                events: Vec::new(),
                records: Vec::new(),
                after_end: 0,
            },
        );
    }

    /// Carries out a conversation's actions, and offers it to the control
    /// plane once it has something to offer (as the actor does after the
    /// first input).
    fn flush(&mut self, ctx: &mut Ctx, id: ConversationId) {
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if c.plane.is_none()
            && let Some(info) = c.conv.info()
        {
            let mut plane = (self.planes)();
            let mut commands = Vec::new();
            plane.incoming(info, &mut commands);
            c.plane = Some(plane);
            self.seq = queue(ctx, c, commands, self.plane_latency, self.seq);
        }
        while let Some(action) = c.conv.poll_action() {
            if !c.records.is_empty() {
                c.after_end += 1;
            }
            match action {
                Action::Event(event) => {
                    ctx.note("cp", format!("{id} <- {event:?}"));
                    let mut commands = Vec::new();
                    if let Some(plane) = c.plane.as_mut() {
                        plane.event(ctx.elapsed(), &event, &mut commands);
                    }
                    c.events.push(event);
                    self.seq = queue(ctx, c, commands, self.plane_latency, self.seq);
                }
                Action::Ended(record) => {
                    ctx.note("node", format!("{id} ended: {:?}", record.outcome));
                    c.records.push((*record).clone());
                    self.core
                        .handle_call_action(ctx.now, id, Action::Ended(record));
                }
                other => self.core.handle_call_action(ctx.now, id, other),
            }
        }
    }
}

/// Queues a control plane's commands: each arrives after the plane's
/// reaction time, never before one queued earlier (the channel is FIFO).
fn queue(
    ctx: &mut Ctx,
    c: &mut Conv,
    commands: Vec<(Duration, Command)>,
    latency: Duration,
    mut seq: u64,
) -> u64 {
    let last = c.commands.keys().next_back().map(|(at, _)| *at);
    let mut floor = last.unwrap_or(ctx.now).max(ctx.now);
    for (not_before, command) in commands {
        let at = (ctx.now + ctx.between(Duration::ZERO, latency)).max(Ctx::at(not_before));
        floor = floor.max(at);
        seq += 1;
        c.commands.insert((floor, seq), command);
    }
    seq
}
