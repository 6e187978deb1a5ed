//! `TransactionLayer::unsettled` is kept incrementally (O(1) per call, so a
//! draining node may ask every loop turn). Here it must equal the O(n) scan
//! `unsettled_where` over a seeded random sequence of everything that moves
//! a transaction: requests and their retransmissions, responses both ways,
//! ACKs, CANCELs, transport errors, timers, and transactions given up on.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod transaction_support;

use std::collections::HashSet;

use transaction_support::*;
use voxgate_sip::Peer;
use voxgate_sip::message::{Message, Method, ack_for_non_2xx};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxId};

/// xorshift64*: seeded, so a failing sequence replays exactly
/// (`UNSETTLED_SEED=<n> cargo test -p voxgate-sip --test transaction_unsettled`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())].clone())
    }
}

struct World {
    rng: Rng,
    clock: Clock,
    layer: TransactionLayer,
    /// Server transactions and their request and peer.
    servers: Vec<(TxId, Message, Peer)>,
    /// Server INVITEs answered with a final response (for ACKs).
    finals: Vec<(Message, Message, Peer)>,
    /// Client transactions and their request.
    clients: Vec<(TxId, Message)>,
    /// Transactions set not awaited.
    orphans: HashSet<TxId>,
    next: u32,
    most_unsettled: usize,
}

impl World {
    fn peer(&mut self) -> Peer {
        if self.rng.below(4) == 0 {
            tcp(5070)
        } else {
            udp(5060)
        }
    }

    fn fresh(&mut self, method: Method) -> Message {
        self.next += 1;
        let n = self.next;
        Req::new(method, &format!("z9hG4bKu{n}"))
            .call_id(&format!("u{n}@192.0.2.10"))
            .build()
    }

    fn step(&mut self) {
        let now = self.clock.now();
        match self.rng.below(11) {
            0 | 1 => {
                let method = if self.rng.below(2) == 0 {
                    Method::Invite
                } else {
                    Method::Options
                };
                let request = self.fresh(method);
                let peer = self.peer();
                self.layer.handle_message(now, request, peer);
            }
            2 | 3 => {
                if let Some((tx, request, peer)) = self.rng.pick(&self.servers) {
                    let status = [100, 180, 200, 486][self.rng.below(4)];
                    let answer = response(&request, status, Some("uas"));
                    if self.layer.respond(now, tx, answer.clone()).is_ok()
                        && status >= 300
                        && request.method() == Some(&Method::Invite)
                    {
                        self.finals.push((request, answer, peer));
                    }
                }
            }
            4 => {
                if let Some((invite, answer, peer)) = self.rng.pick(&self.finals) {
                    let ack = parse(&ack_for_non_2xx(&invite, &answer).unwrap());
                    self.layer.handle_message(now, ack, peer);
                }
            }
            5 => {
                let method = if self.rng.below(2) == 0 {
                    Method::Invite
                } else {
                    Method::Options
                };
                let request = self.fresh(method);
                let peer = self.peer();
                if let Ok(tx) = self.layer.send_request(now, request.clone(), peer) {
                    self.clients.push((tx, request));
                }
            }
            6 => {
                if let Some((_, request)) = self.rng.pick(&self.clients) {
                    let status = [100, 180, 200, 404][self.rng.below(4)];
                    let peer = self.peer();
                    self.layer
                        .handle_message(now, response(&request, status, Some("uac")), peer);
                }
            }
            7 => {
                let all: Vec<TxId> = self
                    .servers
                    .iter()
                    .map(|s| s.0)
                    .chain(self.clients.iter().map(|c| c.0))
                    .collect();
                if let Some(tx) = self.rng.pick(&all) {
                    if self.rng.below(3) == 0 {
                        self.layer.transport_error(now, tx);
                    } else if self.orphans.remove(&tx) {
                        self.layer.set_awaited(tx, true);
                    } else {
                        self.orphans.insert(tx);
                        self.layer.set_awaited(tx, false);
                    }
                }
            }
            8 => {
                // A retransmitted request, or a CANCEL for it.
                if let Some((_, request, peer)) = self.rng.pick(&self.servers) {
                    let again = if self.rng.below(2) == 0 {
                        request
                    } else {
                        let text = String::from_utf8_lossy(request.raw())
                            .replacen(request.method().unwrap().as_str(), "CANCEL", 1)
                            .replace(
                                &format!(" {}\r\n", request.method().unwrap().as_str()),
                                " CANCEL\r\n",
                            );
                        parse(text.as_bytes())
                    };
                    self.layer.handle_message(now, again, peer);
                }
            }
            _ => {
                let until = self.clock.elapsed() + ms(self.rng.below(6000) as u64);
                run_until(&mut self.layer, &mut self.clock, until);
            }
        }
        for event in events(&mut self.layer) {
            match event {
                TxEvent::Request { tx, request, from }
                | TxEvent::Cancel {
                    tx, request, from, ..
                } => {
                    self.servers.push((tx, request, from));
                }
                TxEvent::Terminated { tx, .. } => {
                    self.servers.retain(|s| s.0 != tx);
                    self.clients.retain(|c| c.0 != tx);
                    self.orphans.remove(&tx);
                }
                _ => {}
            }
        }
        transmits(&mut self.layer);
        let scan = self
            .layer
            .unsettled_where(|tx, _| !self.orphans.contains(&tx));
        assert_eq!(self.layer.unsettled(), scan, "after {} steps", self.next);
        self.most_unsettled = self.most_unsettled.max(scan);
    }
}

#[test]
fn the_incremental_count_equals_the_scan() {
    let seed = std::env::var("UNSETTLED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0dd5_eed5_1234_5679_u64);
    let mut world = World {
        rng: Rng(seed | 1),
        clock: Clock::new(),
        layer: TransactionLayer::new(TimerConfig::default()),
        servers: Vec::new(),
        finals: Vec::new(),
        clients: Vec::new(),
        orphans: HashSet::new(),
        next: 0,
        most_unsettled: 0,
    };
    for _ in 0..4_000 {
        world.step();
    }
    // The run was not trivially all zeros.
    assert!(world.most_unsettled >= 10, "{}", world.most_unsettled);
    // Given up on, a transaction still lives out its timers but is not owed.
    let request = world.fresh(Method::Options);
    let now = world.clock.now();
    let tx = world.layer.send_request(now, request, udp(9)).unwrap();
    let before = world.layer.unsettled();
    world.layer.set_awaited(tx, false);
    assert_eq!(world.layer.unsettled(), before - 1);
    assert!(world.layer.kind(tx).is_some());
}
