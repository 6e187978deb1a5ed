//! One run: the node and the peers on the simulated network, driven by the
//! virtual clock, which jumps from one event to the next (a delivery, any
//! party's timer). At one instant, deliveries go first (in sending order),
//! then the node's timers, then each peer's in a fixed order; after every
//! step, what each party wants sent goes onto the network.

use crate::network::{Ctx, Link, Network};
use crate::node::Node;
use crate::ua::{By, Ua};
use crate::wire::Wire;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use voxgate_edge::control_plane::{CommandError, EndCause, Event, LegId};

/// Steps at one instant before the run is declared a busy loop.
const SAME_INSTANT: u32 = 10_000;

/// A run in progress.
pub struct Sim {
    /// Clock, RNG, trace.
    pub ctx: Ctx,
    /// The network.
    pub net: Network,
    /// voxgate.
    pub node: Node,
    /// The user agents, in the order their timers fire.
    pub peers: Vec<Ua>,
    /// Checks on the datagrams.
    pub wire: Wire,
}

impl Sim {
    /// A run of `node` and `peers` over links like `link`.
    pub fn new(ctx: Ctx, link: Link, node: Node, peers: Vec<Ua>) -> Sim {
        let mut net = Network::new(link);
        let mut wire = Wire::default();
        net.name(node.addr, "voxgate");
        for p in &peers {
            net.name(p.addr, p.name);
            wire.peer(p.addr);
        }
        Sim {
            ctx,
            net,
            node,
            peers,
            wire,
        }
    }

    /// The peer called `name`.
    pub fn peer(&self, name: &str) -> &Ua {
        self.peers
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no peer {name}"))
    }

    /// Runs until nothing is left to do, or fails past `limit` of virtual time.
    pub fn run(&mut self, limit: Duration) -> Result<(), String> {
        let until = Ctx::at(limit);
        let mut same = 0;
        loop {
            self.flush();
            let next = self
                .peers
                .iter()
                .filter_map(Ua::poll_timeout)
                .chain(self.net.poll_timeout())
                .chain(self.node.poll_timeout())
                .min();
            let Some(next) = next else {
                return Ok(());
            };
            if next > until {
                return Err(format!(
                    "still busy after {} s of virtual time: {}",
                    limit.as_secs(),
                    self.pending(next)
                ));
            }
            if next <= self.ctx.now {
                same += 1;
                if same > SAME_INSTANT {
                    return Err(format!(
                        "busy loop at {:.3} s: {}",
                        self.ctx.elapsed().as_secs_f64(),
                        self.pending(next)
                    ));
                }
            } else {
                same = 0;
                self.ctx.now = next;
            }
            self.step();
        }
    }

    /// Everything due now, in the fixed order.
    fn step(&mut self) {
        let now = self.ctx.now;
        while let Some(d) = self.net.poll_delivery(now) {
            if d.to == self.node.addr {
                self.wire.node_received(d.from, &d.bytes);
                self.node.receive(&mut self.ctx, d.from, d.bytes);
            } else if let Some(p) = self.peers.iter_mut().find(|p| p.addr == d.to) {
                p.receive(&mut self.ctx, d.from, d.bytes);
            } else {
                let to = self.net.name_of(d.to);
                self.ctx.note("net", format!("nobody at {to}: dropped"));
            }
            self.flush();
        }
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(&mut self.ctx);
            self.flush();
        }
        for i in 0..self.peers.len() {
            if self.peers[i].poll_timeout().is_some_and(|t| t <= now) {
                self.peers[i].handle_timeout(&mut self.ctx);
                self.flush();
            }
        }
    }

    /// Puts what every party wants sent onto the network.
    fn flush(&mut self) {
        while let Some((to, bytes)) = self.node.poll_transmit() {
            self.wire.node_sent(to, &bytes);
            self.net.send(&mut self.ctx, self.node.addr, to, bytes);
        }
        for p in &mut self.peers {
            while let Some((to, bytes)) = p.poll_transmit() {
                self.wire.peer_sent(p.addr, &bytes);
                self.net.send(&mut self.ctx, p.addr, to, bytes);
            }
        }
    }

    /// Who has work at `at`, for a report.
    fn pending(&self, at: Instant) -> String {
        let mut who = Vec::new();
        if self.net.poll_timeout() == Some(at) {
            who.push("the network".to_string());
        }
        if self.node.poll_timeout() == Some(at) {
            let convs: Vec<String> = self
                .node
                .convs
                .iter()
                .map(|(id, c)| format!("{id}: {} events", c.events.len()))
                .collect();
            who.push(format!(
                "voxgate ({} transactions, {})",
                self.node.transactions(),
                convs.join(", ")
            ));
        }
        for p in &self.peers {
            if p.poll_timeout() == Some(at) {
                who.push(p.name.to_string());
            }
        }
        who.join(", ")
    }

    /// What must hold after every run, whatever the scenario: each
    /// conversation ended once with `Ended` as its last event and nothing
    /// after, each of its legs ended once, nothing timed out, no command
    /// failed; the core holds no conversation and no transaction; no media
    /// endpoint is open; every 2xx voxgate received was ACKed and no
    /// topology leaked; each peer saw nothing amiss (every 2xx ACKed, no
    /// transaction timed out, no request for a dialog it never had), holds
    /// no transaction and no live dialog.
    pub fn check_common(&self) -> Result<(), String> {
        self.wire.check()?;
        if self.node.convs.is_empty() {
            return Err("no conversation was born".into());
        }
        for (id, c) in &self.node.convs {
            if c.records.len() != 1 {
                return Err(format!("{id} ended {} times", c.records.len()));
            }
            let ends = c
                .events
                .iter()
                .filter(|e| matches!(e, Event::Ended { .. }))
                .count();
            if ends != 1 || !matches!(c.events.last(), Some(Event::Ended { .. })) {
                return Err(format!("{id}: Ended is not its one last event"));
            }
            if c.after_end > 0 {
                return Err(format!("{id}: {} actions after Ended", c.after_end));
            }
            // A command that crossed the conversation's end (a plane's
            // answer to an event while the caller hung up) fails, as the
            // contract says; no other command may.
            let failed = c.events.iter().find(|e| {
                matches!(e, Event::Error { error, .. }
                    if !matches!(error, CommandError::LegState { state: "ending", .. }))
            });
            if let Some(e) = failed {
                return Err(format!("{id}: a command failed: {e:?}"));
            }
            legs_end_once(&c.events).map_err(|e| format!("{id}: {e}"))?;
            let open = c.media.0.borrow().open_count();
            if open > 0 {
                return Err(format!("{id}: {open} media endpoints left open"));
            }
        }
        if self.node.active_calls() != 0 {
            return Err(format!(
                "the core still routes to {} conversations",
                self.node.active_calls()
            ));
        }
        if self.node.transactions() != 0 {
            return Err(format!(
                "the core still holds {} transactions",
                self.node.transactions()
            ));
        }
        for p in &self.peers {
            if let Some(a) = p.log.anomalies.first() {
                return Err(format!("{}: {a}", p.name));
            }
            if !p.log.stray.is_empty() {
                return Err(format!(
                    "{} got requests for no dialog or transaction of its own: {:?}",
                    p.name, p.log.stray
                ));
            }
            if p.transactions() != 0 {
                return Err(format!(
                    "{} holds {} transactions",
                    p.name,
                    p.transactions()
                ));
            }
            if let Some(l) = p.legs.iter().find(|l| l.is_live()) {
                return Err(format!(
                    "{}: dialog {} was never ended",
                    p.name, l.dialog.local_tag
                ));
            }
        }
        Ok(())
    }

    /// The events of the (one) conversation.
    pub fn events(&self) -> &[Event] {
        self.node
            .convs
            .values()
            .next()
            .map_or(&[], |c| c.events.as_slice())
    }

    /// How the dialogs of `peer` ended, in order of creation.
    pub fn ends(&self, peer: &str) -> Vec<By> {
        self.peer(peer)
            .legs
            .iter()
            .filter_map(|l| l.ended.map(|(by, _)| by))
            .collect()
    }
}

/// Each leg (the inbound one, and every one `LegCreated` announced) ends
/// exactly once, by `LegEnded` or `LegFailed`, and never by a timeout in
/// these scenarios (a lost ACK or an in-dialog request that timed out).
fn legs_end_once(events: &[Event]) -> Result<(), String> {
    let mut ends: BTreeMap<LegId, u32> = BTreeMap::new();
    ends.insert(LegId(1), 0);
    for e in events {
        match e {
            Event::LegCreated { leg, .. } => {
                ends.insert(*leg, 0);
            }
            Event::LegEnded { leg, cause, .. } => {
                if matches!(cause, EndCause::NoAck | EndCause::SessionExpired) {
                    return Err(format!("{e:?}"));
                }
                *ends.entry(*leg).or_default() += 1;
            }
            Event::LegFailed { leg, .. } => *ends.entry(*leg).or_default() += 1,
            Event::Ended {
                cause: EndCause::NoAck | EndCause::SessionExpired,
                ..
            } => return Err(format!("{e:?}")),
            _ => {}
        }
    }
    match ends.iter().find(|(_, n)| **n != 1) {
        Some((leg, n)) => Err(format!("leg {leg} ended {n} times")),
        None => Ok(()),
    }
}
