//! Client transactions: INVITE (RFC 3261 §17.1.1 with RFC 6026) and
//! non-INVITE (§17.1.2).

use std::time::Duration;

use bytes::Bytes;

use super::{Flow, Io, Timer, TimerConfig, TxEvent};
use crate::Peer;
use crate::message::{Message, ack_for_non_2xx};

/// Timer D's floor on unreliable transports (§17.1.1.2: "at least 32 seconds").
const TIMER_D_MIN: Duration = Duration::from_secs(32);

/// INVITE client transaction states (Figure 5 of RFC 3261 as fixed by RFC 6026).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

/// §17.1.1: an INVITE we sent.
#[derive(Debug)]
pub(super) struct InviteClient {
    state: InviteState,
    /// The INVITE, until a final response: retransmitted by timer A and
    /// needed for the ACK of a non-2xx; then dropped, as the state lingers.
    request: Option<Message>,
    to: Peer,
    config: TimerConfig,
    /// Next timer A interval (doubles, uncapped).
    interval: Duration,
    /// The ACK for a non-2xx final response, resent on each retransmission of it.
    ack: Option<Bytes>,
}

impl InviteClient {
    /// A final response arrived (and was ACKed if non-2xx): only
    /// retransmissions are left to absorb.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self.state, InviteState::Completed | InviteState::Accepted)
    }

    /// Where the INVITE went.
    pub(super) fn peer(&self) -> Peer {
        self.to
    }

    /// The INVITE, while it awaits its final response (Proceeding after a
    /// provisional: a CANCEL may go, §9.1).
    pub(super) fn proceeding_request(&self) -> Option<&Message> {
        if self.state == InviteState::Proceeding {
            self.request.as_ref()
        } else {
            None
        }
    }

    /// Sends the INVITE and arms A (UDP) and B.
    pub(super) fn start(io: &mut Io<'_>, request: Message, to: Peer, config: TimerConfig) -> Self {
        io.send(to, request.raw().clone());
        if !to.transport.is_reliable() {
            io.arm(Timer::A, config.t1);
        }
        io.arm(Timer::B, config.timeout());
        InviteClient {
            state: InviteState::Calling,
            request: Some(request),
            to,
            config,
            interval: config.t1,
            ack: None,
        }
    }

    fn pending(&self) -> bool {
        matches!(self.state, InviteState::Calling | InviteState::Proceeding)
    }

    pub(super) fn on_response(&mut self, io: &mut Io<'_>, response: Message) -> Flow {
        let Some(status) = response.status() else {
            return Flow::Continue;
        };
        match (self.state, status) {
            (InviteState::Calling | InviteState::Proceeding, 100..=199) => {
                // Timer B only guards Calling; in Proceeding the TU decides
                // how long to ring (and CANCELs).
                io.stop(Timer::A);
                io.stop(Timer::B);
                self.state = InviteState::Proceeding;
                io.response(response);
                Flow::Continue
            }
            (InviteState::Calling | InviteState::Proceeding, 200..=299) => {
                self.stop_pending_timers(io);
                self.state = InviteState::Accepted;
                self.request = None;
                io.arm(Timer::M, self.config.timeout());
                io.response(response);
                Flow::Continue
            }
            (InviteState::Accepted, 200..=299) => {
                // Retransmitted or forked 2xx: the TU ACKs them (RFC 6026 §8.4).
                io.response(response);
                Flow::Continue
            }
            (InviteState::Calling | InviteState::Proceeding, 300..) => {
                self.stop_pending_timers(io);
                self.state = InviteState::Completed;
                let ack = match self.request.take() {
                    Some(request) => ack_for_non_2xx(&request, &response),
                    None => Err(crate::message::Invalid::NotRequest),
                };
                match ack {
                    Ok(ack) => {
                        io.send(self.to, ack.clone());
                        self.ack = Some(ack);
                    }
                    Err(error) => {
                        tracing::debug!(tx = %io.id, %error, "cannot build ACK for non-2xx final response");
                    }
                }
                io.response(response);
                if self.to.transport.is_reliable() {
                    return Flow::Terminate;
                }
                io.arm(Timer::D, self.config.timeout().max(TIMER_D_MIN));
                Flow::Continue
            }
            (InviteState::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    io.send(self.to, ack.clone());
                }
                Flow::Continue
            }
            // Provisionals after a final, 2xx after a non-2xx and vice versa:
            // nothing the TU can act on.
            _ => Flow::Continue,
        }
    }

    fn stop_pending_timers(&mut self, io: &mut Io<'_>) {
        io.stop(Timer::A);
        io.stop(Timer::B);
        io.stop(Timer::Cancelled);
    }

    pub(super) fn on_timer(&mut self, io: &mut Io<'_>, timer: Timer) -> Flow {
        match (timer, self.state) {
            (Timer::A, InviteState::Calling) => {
                if let Some(request) = &self.request {
                    io.send(self.to, request.raw().clone());
                }
                self.interval = self.interval.saturating_mul(2);
                io.arm(Timer::A, self.interval);
                Flow::Continue
            }
            (Timer::B, InviteState::Calling) => timeout(io),
            (Timer::Cancelled, InviteState::Calling | InviteState::Proceeding) => timeout(io),
            (Timer::D, InviteState::Completed) | (Timer::M, InviteState::Accepted) => {
                Flow::Terminate
            }
            _ => Flow::Continue,
        }
    }

    /// A CANCEL for this INVITE was sent: if no final response arrives in
    /// 64*T1, give up on it (§9.1).
    pub(super) fn on_cancel_sent(&mut self, io: &mut Io<'_>) {
        if self.pending() && !io.is_armed(Timer::Cancelled) {
            io.arm(Timer::Cancelled, self.config.timeout());
        }
    }

    pub(super) fn on_transport_error(&mut self, io: &mut Io<'_>) -> Flow {
        io.event(TxEvent::TransportError { tx: io.id });
        Flow::Terminate
    }
}

/// Non-INVITE client transaction states (Figure 6 of RFC 3261).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
}

/// §17.1.2: a non-INVITE request we sent.
#[derive(Debug)]
pub(super) struct NonInviteClient {
    state: NonInviteState,
    request: Bytes,
    to: Peer,
    config: TimerConfig,
    /// Next timer E interval (doubles up to T2).
    interval: Duration,
}

impl NonInviteClient {
    /// A final response arrived: only retransmissions are left to absorb.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self.state, NonInviteState::Completed)
    }

    /// Sends the request and arms E (UDP) and F.
    pub(super) fn start(io: &mut Io<'_>, request: &Message, to: Peer, config: TimerConfig) -> Self {
        let request = request.raw().clone();
        io.send(to, request.clone());
        if !to.transport.is_reliable() {
            io.arm(Timer::E, config.t1);
        }
        io.arm(Timer::F, config.timeout());
        NonInviteClient {
            state: NonInviteState::Trying,
            request,
            to,
            config,
            interval: config.t1,
        }
    }

    pub(super) fn on_response(&mut self, io: &mut Io<'_>, response: Message) -> Flow {
        let Some(status) = response.status() else {
            return Flow::Continue;
        };
        match (self.state, status) {
            (NonInviteState::Trying | NonInviteState::Proceeding, 100..=199) => {
                self.state = NonInviteState::Proceeding;
                io.response(response);
                Flow::Continue
            }
            (NonInviteState::Trying | NonInviteState::Proceeding, 200..) => {
                io.stop(Timer::E);
                io.stop(Timer::F);
                self.state = NonInviteState::Completed;
                // Completed only absorbs retransmitted responses.
                self.request = Bytes::new();
                io.response(response);
                if self.to.transport.is_reliable() {
                    return Flow::Terminate;
                }
                io.arm(Timer::K, self.config.t4);
                Flow::Continue
            }
            // Completed absorbs response retransmissions.
            _ => Flow::Continue,
        }
    }

    pub(super) fn on_timer(&mut self, io: &mut Io<'_>, timer: Timer) -> Flow {
        match (timer, self.state) {
            (Timer::E, NonInviteState::Trying) => {
                io.send(self.to, self.request.clone());
                self.interval = self.interval.saturating_mul(2).min(self.config.t2);
                io.arm(Timer::E, self.interval);
                Flow::Continue
            }
            (Timer::E, NonInviteState::Proceeding) => {
                io.send(self.to, self.request.clone());
                self.interval = self.config.t2;
                io.arm(Timer::E, self.interval);
                Flow::Continue
            }
            (Timer::F, NonInviteState::Trying | NonInviteState::Proceeding) => timeout(io),
            (Timer::K, NonInviteState::Completed) => Flow::Terminate,
            _ => Flow::Continue,
        }
    }

    pub(super) fn on_transport_error(&mut self, io: &mut Io<'_>) -> Flow {
        io.event(TxEvent::TransportError { tx: io.id });
        Flow::Terminate
    }
}

fn timeout(io: &mut Io<'_>) -> Flow {
    io.event(TxEvent::Timeout { tx: io.id });
    Flow::Terminate
}
