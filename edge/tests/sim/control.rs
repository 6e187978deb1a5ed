//! Control planes of the scenarios: small deterministic state machines fed
//! a conversation's events, answering with commands, the way a plane's
//! per-conversation task reads `Session::events` and writes
//! `Session::commands`. The node delivers their commands after a drawn
//! reaction time, in order.

use std::time::Duration;
use voxgate_config::TrunkName;
use voxgate_edge::control_plane::{
    Command, ConversationInfo, Destination, Dial, EndCause, Event, LegId,
};
use voxgate_sip::TransportKind;

/// A control plane's session with one conversation.
pub trait Plane {
    /// The conversation was offered (`ControlPlane::incoming`).
    fn incoming(&mut self, info: &ConversationInfo, out: &mut Vec<(Duration, Command)>);
    /// An event of the conversation, at `elapsed` into the run. Commands
    /// go to `out` with the instant of the run before which they must not
    /// arrive (zero: at once).
    fn event(&mut self, elapsed: Duration, event: &Event, out: &mut Vec<(Duration, Command)>);
}

/// Makes one plane per conversation.
pub type PlaneFactory = Box<dyn Fn() -> Box<dyn Plane>>;

/// A destination on the PBX trunk.
pub fn dest(uri: &str) -> Destination {
    Destination {
        uri: uri.to_string(),
        transport: TransportKind::Udp,
        trunk: TrunkName::new("pbx"),
    }
}

/// The static router's behaviour: one dial of `destinations`, connected to
/// the inbound leg (parallel when asked), then nothing but listening.
pub struct Router {
    /// Where calls go.
    pub destinations: Vec<&'static str>,
    /// Ring them all at once.
    pub parallel: bool,
    /// How long each may ring (the node's default when `None`).
    pub ring_timeout: Option<Duration>,
}

impl Plane for Router {
    fn incoming(&mut self, info: &ConversationInfo, out: &mut Vec<(Duration, Command)>) {
        let Some(inbound) = &info.inbound else {
            return;
        };
        let dial = Dial::new(self.destinations.iter().map(|d| dest(d)).collect());
        let dial = if self.parallel { dial.parallel() } else { dial };
        let dial = match self.ring_timeout {
            Some(t) => dial.ring_timeout(t),
            None => dial,
        };
        out.push((Duration::ZERO, Command::Dial(dial.connect(inbound.leg))));
    }

    fn event(&mut self, _: Duration, _: &Event, _: &mut Vec<(Duration, Command)>) {}
}

/// Ends the conversation when a leg ends once the legs are no longer
/// linked: linked legs end each other, bridged ones do not (the plane
/// decides what becomes of the one left, and here it hangs it up).
#[derive(Default)]
struct HangUpTheRest {
    unlinked: bool,
}

impl HangUpTheRest {
    fn event(&mut self, event: &Event, out: &mut Vec<(Duration, Command)>) {
        match event {
            Event::Unbridged { .. } => self.unlinked = true,
            // The referrer leaving after its transfer is the plan.
            Event::LegEnded { cause, .. } if self.unlinked && *cause != EndCause::Transferred => {
                self.unlinked = false;
                let hangup = Command::Hangup {
                    leg: None,
                    status: None,
                };
                out.push((Duration::ZERO, hangup));
            }
            _ => {}
        }
    }
}

/// The router, and every transfer request accepted: a dial of the REFER's
/// target (its `connect` defaulting to the transferee).
pub struct Transfers {
    router: Router,
    rest: HangUpTheRest,
    /// How long the plane thinks before accepting.
    think: Duration,
}

impl Transfers {
    /// Transfers on top of `router`, accepted at once.
    pub fn new(router: Router) -> Transfers {
        Transfers::thinking(router, Duration::ZERO)
    }

    /// Transfers accepted after `think` (a plane asking someone, say).
    pub fn thinking(router: Router, think: Duration) -> Transfers {
        Transfers {
            router,
            rest: HangUpTheRest::default(),
            think,
        }
    }
}

impl Plane for Transfers {
    fn incoming(&mut self, info: &ConversationInfo, out: &mut Vec<(Duration, Command)>) {
        self.router.incoming(info, out);
    }

    fn event(&mut self, elapsed: Duration, event: &Event, out: &mut Vec<(Duration, Command)>) {
        if let Event::TransferRequested { leg, target, .. } = event {
            let dial = Dial::new(vec![dest(target)]);
            let at = elapsed + self.think;
            out.push((at, Command::AcceptTransfer { leg: *leg, dial }));
        }
        self.rest.event(event, out);
    }
}

/// The router, and the caller's leg put on hold at a fixed instant once the
/// callee answered: voxgate re-INVITEs the caller, who re-INVITEs at the
/// same instant (glare).
pub struct HoldAt {
    router: Router,
    at: Duration,
    rest: HangUpTheRest,
}

impl HoldAt {
    /// `router`, and the hold at `at`.
    pub fn new(router: Router, at: Duration) -> HoldAt {
        HoldAt {
            router,
            at,
            rest: HangUpTheRest::default(),
        }
    }
}

impl Plane for HoldAt {
    fn incoming(&mut self, info: &ConversationInfo, out: &mut Vec<(Duration, Command)>) {
        self.router.incoming(info, out);
    }

    fn event(&mut self, _: Duration, event: &Event, out: &mut Vec<(Duration, Command)>) {
        if let Event::LegAnswered { leg, early: false } = event
            && *leg != LegId(1)
        {
            out.push((self.at, Command::Hold { leg: LegId(1) }));
        }
        self.rest.event(event, out);
    }
}
