//! `Core::unsettled_transactions` is kept incrementally (the transaction
//! layer counts as transactions change; ended calls' client transactions are
//! released as calls go). It must equal the O(n) scan it replaced, kept here
//! as the cross-check only, over a seeded random run of what the core sees:
//! INVITEs that start calls, calls answering and sending requests, responses,
//! ACKs, CANCELs, calls whose task is gone, connection failures and timers.

use super::*;
use crate::calls::NewCall;
use bytes::Bytes;
use std::collections::HashSet;
use std::time::Duration;
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::ack_for_non_2xx;
use voxgate_sip::transport::{CloseReason, Incoming};

const CONF: &str = r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[trunk]]
name = "a"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#;

/// The scan `unsettled_transactions` used to run every loop turn, plus the
/// rule that came with late answers: the core's own CANCEL or BYE of a late
/// answer (a client transaction no call sent) is waited for, so a draining
/// node does not leave a destination ringing or in a dialog.
fn scan(core: &Core, sent_by_calls: &HashSet<TxId>) -> usize {
    core.layer.unsettled_where(|tx, kind| {
        let client = matches!(kind, TxKind::InviteClient | TxKind::NonInviteClient);
        !client || core.calls.by_tx(tx).is_some() || !sent_by_calls.contains(&tx)
    })
}

/// xorshift64*, seeded: a failing run replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

struct Call {
    id: CallRef,
    /// Dropped to simulate a conversation task that is gone.
    task: Option<NewCall>,
    invite_tx: TxId,
    invite: Message,
    /// The non-2xx final response it answered with, for the ACK.
    rejected: Option<Message>,
}

struct World {
    rng: Rng,
    core: Core,
    now: Instant,
    calls: Vec<Call>,
    clients: Vec<(TxId, Message, Peer)>,
    /// Every client transaction a call sent, live or not.
    sent_by_calls: HashSet<TxId>,
    next: u32,
}

fn peer(transport: TransportKind, port: u16) -> Peer {
    Peer {
        transport,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        conn: None,
    }
}

fn caller() -> Peer {
    peer(TransportKind::Udp, 5080)
}

fn request(method: &str, n: u32, transport: &str) -> Message {
    let raw = format!(
        "{method} sip:1001@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5080;branch=z9hG4bKw{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@127.0.0.1>;tag=f{n}\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: w{n}@test\r\n\
         CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(raw), &Limits::default()).unwrap()
}

impl World {
    fn feed(&mut self, msg: &Message, from: Peer) {
        let incoming = Incoming {
            bytes: msg.raw().clone(),
            peer: from,
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
    }

    fn step(&mut self) {
        self.next += 1;
        let n = self.next;
        match self.rng.below(12) {
            0 | 1 => {
                self.feed(&request("INVITE", n, "UDP"), caller());
                if let Some(mut task) = self.core.poll_spawn()
                    && let Ok(input) = task.input.try_recv()
                    && let CallInput::Invite { tx, request, .. } = *input
                {
                    self.calls.push(Call {
                        id: task.ctx.id,
                        task: Some(task),
                        invite_tx: tx,
                        invite: request,
                        rejected: None,
                    });
                }
            }
            2 => self.feed(&request("OPTIONS", n, "UDP"), caller()),
            3 => {
                let Some(i) = self.pick_call() else { return };
                let status = [180, 200, 486][self.rng.below(3)];
                let c = &self.calls[i];
                let response = response_to(&c.invite, status, "Test", Some("b"), None)
                    .build_message()
                    .unwrap();
                let (id, tx) = (c.id, c.invite_tx);
                if status >= 300 {
                    self.calls[i].rejected = Some(response.clone());
                }
                self.core
                    .handle_call_action(self.now, id, CallAction::Respond { tx, response });
            }
            4 | 5 => {
                let Some(i) = self.pick_call() else { return };
                let tcp = self.rng.below(3) == 0;
                let (transport, to) = if tcp {
                    ("TCP", peer(TransportKind::Tcp, 5090))
                } else {
                    ("UDP", peer(TransportKind::Udp, 5090))
                };
                let method = ["INVITE", "OPTIONS", "BYE"][self.rng.below(3)];
                let out = request(method, n, transport);
                let tx = TxId::next();
                let id = self.calls[i].id;
                self.core.handle_call_action(
                    self.now,
                    id,
                    CallAction::Send {
                        tx,
                        request: out.clone(),
                        to,
                        tls_name: None,
                    },
                );
                self.clients.push((tx, out, to));
                self.sent_by_calls.insert(tx);
            }
            6 => {
                if self.clients.is_empty() {
                    return;
                }
                let (_, out, to) = self.clients[self.rng.below(self.clients.len())].clone();
                let status = [100, 180, 200, 404][self.rng.below(4)];
                let response = response_to(&out, status, "Test", Some("c"), None)
                    .build_message()
                    .unwrap();
                self.feed(&response, to);
            }
            7 => {
                // The conversation task is gone; the next delivery finds out.
                let Some(i) = self.pick_call() else { return };
                self.calls[i].task = None;
                let cancel = Message::parse(
                    Bytes::from(
                        String::from_utf8_lossy(self.calls[i].invite.raw())
                            .replacen("INVITE", "CANCEL", 1)
                            .replace("1 INVITE", "1 CANCEL"),
                    ),
                    &Limits::default(),
                )
                .unwrap();
                self.feed(&cancel, caller());
            }
            8 => {
                let Some(i) = self.pick_call() else { return };
                if let Some(rejected) = &self.calls[i].rejected {
                    let ack = ack_for_non_2xx(&self.calls[i].invite, rejected).unwrap();
                    let ack = Message::parse(ack, &Limits::default()).unwrap();
                    self.feed(&ack, caller());
                }
            }
            9 => {
                let closed = Peer {
                    conn: Some(voxgate_sip::ConnId(u64::from(n))),
                    ..peer(TransportKind::Tcp, 5090)
                };
                self.core.handle_transport(
                    self.now,
                    TransportEvent::ConnectionClosed {
                        peer: closed,
                        reason: CloseReason::Io,
                    },
                );
            }
            10 if self.rng.below(20) == 0 => self.core.shutdown_calls(),
            _ => {
                self.now += Duration::from_millis(self.rng.below(5000) as u64);
                while let Some(at) = self.core.poll_timeout() {
                    if at > self.now {
                        break;
                    }
                    self.core.handle_timeout(at);
                }
            }
        }
        while self.core.poll_transmit().is_some() {}
        self.calls
            .retain(|c| c.task.is_some() || self.core.calls.by_tx(c.invite_tx).is_some());
        let live: Vec<TxId> = self.clients.iter().map(|c| c.0).collect();
        self.clients
            .retain(|c| self.core.layer.kind(c.0).is_some() || !live.contains(&c.0));
    }

    fn pick_call(&mut self) -> Option<usize> {
        (!self.calls.is_empty()).then(|| self.rng.below(self.calls.len()))
    }
}

#[test]
fn the_incremental_count_equals_the_scan_it_replaced() {
    let config = voxgate_config::load_str(CONF, "test.toml").unwrap();
    let metrics = Metrics::new("test").unwrap();
    let locals = Locals {
        udp: Some(LocalAddr::new(
            TransportKind::Udp,
            "127.0.0.1:5060".parse().unwrap(),
        )),
        ..Locals::default()
    };
    let seed = std::env::var("UNSETTLED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_4e5e_ed00_0001_u64);
    let mut world = World {
        rng: Rng(seed | 1),
        core: Core::new(Arc::new(config), metrics, locals),
        now: Instant::now(),
        calls: Vec::new(),
        clients: Vec::new(),
        sent_by_calls: HashSet::new(),
        next: 0,
    };
    let mut most = 0;
    let mut orphans_seen = false;
    for step in 0..3_000 {
        world.step();
        let all = world.core.layer.unsettled_where(|_, _| true);
        let expected = scan(&world.core, &world.sent_by_calls);
        assert_eq!(
            world.core.unsettled_transactions(),
            expected,
            "step {step}, seed {seed}"
        );
        most = most.max(expected);
        orphans_seen |= all > expected;
    }
    // The run exercised both the count and the orphan rule.
    assert!(most >= 5, "{most}");
    assert!(orphans_seen, "no client transaction outlived its call");
}
