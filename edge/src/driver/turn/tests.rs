//! The loop's policy on a virtual clock: under a flood of inputs that never
//! runs dry (the event channel always ready, as at saturation), every due
//! timer still fires within one batch of its deadline.

use super::*;
use std::time::Duration;

/// A core that only records: when each deadline fired, how much input it saw.
#[derive(Default)]
struct Recorder {
    deadlines: Vec<Instant>,
    fired: Vec<(Instant, Instant)>,
    events: usize,
    actions: usize,
}

impl Driven for Recorder {
    type Event = ();
    type Action = ();

    fn handle_event(&mut self, _: Instant, (): ()) {
        self.events += 1;
    }

    fn handle_action(&mut self, _: Instant, (): ()) {
        self.actions += 1;
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(&due) = self.deadlines.first()
            && due <= now
        {
            self.fired.push((due, now));
            self.deadlines.remove(0);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().copied()
    }
}

/// Inputs that never run dry; each one handled costs `cost` of virtual time.
struct Flood {
    now: Instant,
    cost: Duration,
    actions: bool,
    events: bool,
}

impl Inputs<Recorder> for Flood {
    fn try_action(&mut self) -> Option<()> {
        self.actions.then(|| self.now += self.cost)
    }

    fn try_event(&mut self) -> Option<()> {
        self.events.then(|| self.now += self.cost)
    }

    fn now(&mut self) -> Instant {
        self.now
    }
}

fn flood_run(actions: bool, events: bool) -> (Recorder, Duration) {
    let start = Instant::now();
    let cost = Duration::from_micros(20);
    let offsets = [1, 5, 17, 40, 41, 100, 333, 500];
    let mut core = Recorder {
        deadlines: offsets
            .iter()
            .map(|&ms| start + Duration::from_millis(ms))
            .collect(),
        ..Recorder::default()
    };
    let mut inputs = Flood {
        now: start,
        cost,
        actions,
        events,
    };
    while inputs.now < start + Duration::from_millis(520) {
        assert!(turn(&mut core, &mut inputs) > 0, "the flood never runs dry");
    }
    assert_eq!(core.fired.len(), offsets.len(), "every deadline fired");
    let worst = core
        .fired
        .iter()
        .map(|(due, at)| at.duration_since(*due))
        .max()
        .unwrap_or_default();
    (core, worst)
}

#[test]
fn a_flood_of_transport_events_delays_a_timer_by_one_batch_at_most() {
    let (core, worst) = flood_run(false, true);
    assert!(
        worst <= Duration::from_micros(20) * BATCH as u32,
        "a timer fired {worst:?} late"
    );
    assert!(core.events > 20_000);
}

#[test]
fn a_flood_of_both_inputs_shares_the_turns_and_timers_stay_on_time() {
    let (core, worst) = flood_run(true, true);
    assert!(
        worst <= Duration::from_micros(20) * BATCH as u32,
        "a timer fired {worst:?} late"
    );
    // Neither source starves the other.
    assert_eq!(core.events, core.actions);
}

#[test]
fn an_idle_turn_handles_nothing_and_fires_what_is_due() {
    let start = Instant::now();
    let mut core = Recorder {
        deadlines: vec![start],
        ..Recorder::default()
    };
    let mut idle = Flood {
        now: start,
        cost: Duration::ZERO,
        actions: false,
        events: false,
    };
    assert_eq!(turn(&mut core, &mut idle), 0);
    assert_eq!(core.fired, [(start, start)]);
}

/// The real core under a flood: a 486 waiting for its ACK is retransmitted
/// by timer G at T1 and 3·T1 (RFC 3261 §17.2.1) while transport events
/// pour in without a pause.
mod core_under_flood {
    use super::*;
    use crate::conversation::{Action, Input as CallInput, Locals};
    use crate::core::Core;
    use crate::metrics::Metrics;
    use bytes::Bytes;
    use std::sync::Arc;
    use voxgate_sip::dialog::LocalAddr;
    use voxgate_sip::message::response_to;
    use voxgate_sip::transport::{Incoming, TransportEvent};
    use voxgate_sip::{Peer, TransportKind};

    const CONF: &str = r#"
[node]
name = "t"
region = "r"
[sip.timers]
t1_ms = 500
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

    fn caller() -> Peer {
        Peer {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5080".parse().unwrap(),
            conn: None,
        }
    }

    fn request(method: &str, n: usize) -> Bytes {
        Bytes::from(format!(
            "{method} sip:1001@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKfl{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=f{n}\r\n\
             To: <sip:1001@127.0.0.1>\r\nCall-ID: fl{n}@test\r\n\
             CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    fn message(bytes: Bytes) -> TransportEvent {
        TransportEvent::Message(Incoming {
            bytes,
            peer: caller(),
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized: false,
        })
    }

    /// The core, with what it sends drained as soon as it is queued, so a
    /// retransmission is stamped with the virtual time it was made.
    struct Stamped {
        core: Core,
        busy: Vec<Instant>,
    }

    impl Stamped {
        fn drain(&mut self, now: Instant) {
            while let Some(t) = self.core.poll_transmit() {
                if t.bytes.starts_with(b"SIP/2.0 486") {
                    self.busy.push(now);
                }
            }
        }
    }

    impl Driven for Stamped {
        type Event = TransportEvent;
        type Action = ();

        fn handle_event(&mut self, now: Instant, event: TransportEvent) {
            self.core.handle_transport(now, event);
            self.drain(now);
        }

        fn handle_action(&mut self, _: Instant, (): ()) {}

        fn handle_timeout(&mut self, now: Instant) {
            self.core.handle_timeout(now);
            self.drain(now);
        }

        fn poll_timeout(&self) -> Option<Instant> {
            self.core.poll_timeout()
        }
    }

    /// Transport events without end: mostly allow-list rejections (cheap),
    /// every eighth an OPTIONS the core answers. Each costs 50 µs.
    struct Events {
        now: Instant,
        n: usize,
    }

    impl Inputs<Stamped> for Events {
        fn try_action(&mut self) -> Option<()> {
            None
        }

        fn try_event(&mut self) -> Option<TransportEvent> {
            self.now += Duration::from_micros(50);
            self.n += 1;
            Some(if self.n.is_multiple_of(8) {
                message(request("OPTIONS", self.n))
            } else {
                TransportEvent::Rejected {
                    source: "192.0.2.66:5060".parse().unwrap(),
                    transport: TransportKind::Udp,
                }
            })
        }

        fn now(&mut self) -> Instant {
            self.now
        }
    }

    #[test]
    fn timer_g_retransmits_on_time_under_a_flood() {
        let config = voxgate_config::load_str(CONF, "test.toml").unwrap();
        let locals = Locals {
            udp: Some(LocalAddr::new(
                TransportKind::Udp,
                "127.0.0.1:5060".parse().unwrap(),
            )),
            ..Locals::default()
        };
        let core = Core::new(Arc::new(config), Metrics::new("test").unwrap(), locals);
        let mut stamped = Stamped {
            core,
            busy: Vec::new(),
        };
        let t0 = Instant::now();
        stamped
            .core
            .handle_transport(t0, message(request("INVITE", 0)));
        let mut call = stamped.core.poll_spawn().expect("the INVITE starts a call");
        let Ok(first) = call.input.try_recv() else {
            panic!("the INVITE is queued for the call");
        };
        let CallInput::Invite { tx, request, .. } = *first else {
            panic!("expected the INVITE");
        };
        let busy = response_to(&request, 486, "Busy Here", Some("b"), None)
            .build_message()
            .unwrap();
        stamped
            .core
            .handle_call_action(t0, call.ctx.id, Action::Respond { tx, response: busy });
        stamped.drain(t0);
        assert_eq!(stamped.busy, [t0]);

        let mut events = Events { now: t0, n: 0 };
        while events.now < t0 + Duration::from_millis(1600) {
            turn(&mut stamped, &mut events);
        }
        let late = Duration::from_micros(50) * BATCH as u32;
        let t1 = Duration::from_millis(500);
        let sent: Vec<Duration> = stamped.busy.iter().map(|at| *at - t0).collect();
        assert_eq!(sent.len(), 3, "the 486 and two retransmissions: {sent:?}");
        // G is re-armed when it fires, at T1 then 2·T1 (§17.2.1): each
        // retransmission is due that long after the one before.
        for (pair, interval) in sent.windows(2).zip([t1, 2 * t1]) {
            let due = pair[0] + interval;
            assert!(
                pair[1] >= due && pair[1] - due <= late,
                "timer G due at {due:?} fired at {:?}",
                pair[1]
            );
        }
        // The flood was real: the core answered thousands of OPTIONS meanwhile.
        assert!(events.n > 30_000);
    }
}
