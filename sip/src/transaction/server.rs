//! Server transactions: INVITE (RFC 3261 §17.2.1 with RFC 6026) and
//! non-INVITE (§17.2.2).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::key::to_tag;
use super::{Flow, Io, Timer, TimerConfig, TxError, TxEvent};
use crate::message::{Message, Method, Via, response_to};
use crate::{Peer, TransportKind};

/// The default SIP port (§19.1.2) for a sent-by without one.
const DEFAULT_PORT: u16 = 5060;
/// The default SIPS port.
const DEFAULT_TLS_PORT: u16 = 5061;

/// Where the responses of a server transaction go (§18.2.2, RFC 3581).
///
/// Stream transports answer on the connection the request came on. On UDP
/// the response goes to the source IP (which `received` records) and, with
/// `rport`, the source port; otherwise to the sent-by port.
pub(super) fn response_peer(from: Peer, via: &Via<'_>) -> Peer {
    if from.transport.is_reliable() || via.rport().is_some() {
        return from;
    }
    let default = match from.transport {
        TransportKind::Tls => DEFAULT_TLS_PORT,
        TransportKind::Udp | TransportKind::Tcp => DEFAULT_PORT,
    };
    Peer {
        addr: SocketAddr::new(from.addr.ip(), via.port.unwrap_or(default)),
        ..from
    }
}

/// INVITE server transaction states (Figure 7 of RFC 3261 as fixed by RFC 6026).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

/// §17.2.1: an INVITE we received.
#[derive(Debug)]
pub(super) struct InviteServer {
    state: InviteState,
    to: Peer,
    config: TimerConfig,
    /// The most recent response, resent on request retransmissions.
    last_response: Bytes,
    /// The To tag of our final response: an RFC 2543 ACK must carry it.
    final_to_tag: Option<Bytes>,
    /// Next timer G interval (doubles up to T2).
    interval: Duration,
}

impl InviteServer {
    /// The final response went out and, if non-2xx, was ACKed: only
    /// retransmissions are left to absorb.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self.state, InviteState::Confirmed | InviteState::Accepted)
    }

    /// Sends `100 Trying` at once (§17.2.1, §8.2.6.1).
    pub(super) fn start(
        io: &mut Io<'_>,
        request: &Message,
        from: Peer,
        to: Peer,
        config: TimerConfig,
    ) -> Self {
        let trying = response_to(request, 100, "Trying", None, Some(from.addr)).build();
        io.send(to, trying.clone());
        InviteServer {
            state: InviteState::Proceeding,
            to,
            config,
            last_response: trying,
            final_to_tag: None,
            interval: config.t1,
        }
    }

    /// Whether an RFC 2543 ACK carrying `tag` acknowledges our final response.
    pub(super) fn acks_final_tag(&self, tag: Option<&[u8]>) -> bool {
        self.final_to_tag.as_deref() == tag
    }

    /// A request that matched this transaction: a retransmitted INVITE or an ACK.
    pub(super) fn on_request(&mut self, io: &mut Io<'_>, request: Message, from: Peer) -> Flow {
        let is_ack = request.method() == Some(&Method::Ack);
        match (self.state, is_ack) {
            (InviteState::Proceeding | InviteState::Completed, false) => {
                io.send(self.to, self.last_response.clone());
                Flow::Continue
            }
            (InviteState::Completed, true) => {
                io.stop(Timer::G);
                io.stop(Timer::H);
                self.state = InviteState::Confirmed;
                if self.to.transport.is_reliable() {
                    return Flow::Terminate;
                }
                io.arm(Timer::I, self.config.t4);
                Flow::Continue
            }
            (InviteState::Accepted, true) => {
                // The ACK for a 2xx belongs to the dialog (RFC 6026 §7.1).
                io.event(TxEvent::Ack { request, from });
                Flow::Continue
            }
            // Accepted and Confirmed absorb INVITE retransmissions; Confirmed
            // absorbs ACK retransmissions; an ACK before any final is noise.
            _ => Flow::Continue,
        }
    }

    /// The TU's response.
    pub(super) fn respond(&mut self, io: &mut Io<'_>, response: Message) -> Result<Flow, TxError> {
        let status = response.status().ok_or(TxError::NotAResponse)?;
        match (self.state, status) {
            (InviteState::Proceeding, 100..=199) => {
                self.send(io, response.raw().clone());
                Ok(Flow::Continue)
            }
            (InviteState::Proceeding, 200..=299) => {
                self.final_to_tag = to_tag(&response);
                io.send(self.to, response.raw().clone());
                // Accepted absorbs retransmitted INVITEs without answering
                // them: nothing to keep for the 64*T1 the state lasts.
                self.last_response = Bytes::new();
                self.state = InviteState::Accepted;
                io.arm(Timer::L, self.config.timeout());
                Ok(Flow::Continue)
            }
            (InviteState::Accepted, 200..=299) => {
                // The TU retransmits its 2xx itself (§13.3.1.4, RFC 6026 §7.1).
                io.send(self.to, response.raw().clone());
                Ok(Flow::Continue)
            }
            (InviteState::Proceeding, 300..) => {
                self.final_to_tag = to_tag(&response);
                self.send(io, response.raw().clone());
                self.state = InviteState::Completed;
                if !self.to.transport.is_reliable() {
                    io.arm(Timer::G, self.interval);
                }
                io.arm(Timer::H, self.config.timeout());
                Ok(Flow::Continue)
            }
            _ => Err(TxError::AlreadyFinal(io.id)),
        }
    }

    fn send(&mut self, io: &mut Io<'_>, bytes: Bytes) {
        io.send(self.to, bytes.clone());
        self.last_response = bytes;
    }

    pub(super) fn on_timer(&mut self, io: &mut Io<'_>, timer: Timer) -> Flow {
        match (timer, self.state) {
            (Timer::G, InviteState::Completed) => {
                io.send(self.to, self.last_response.clone());
                self.interval = self.interval.saturating_mul(2).min(self.config.t2);
                io.arm(Timer::G, self.interval);
                Flow::Continue
            }
            (Timer::H, InviteState::Completed) => {
                io.event(TxEvent::Timeout { tx: io.id });
                Flow::Terminate
            }
            (Timer::I, InviteState::Confirmed) | (Timer::L, InviteState::Accepted) => {
                Flow::Terminate
            }
            _ => Flow::Continue,
        }
    }

    /// RFC 6026 §8.8: inform the TU, keep the state; timers end it.
    pub(super) fn on_transport_error(&mut self, io: &mut Io<'_>) -> Flow {
        io.event(TxEvent::TransportError { tx: io.id });
        Flow::Continue
    }
}

/// Non-INVITE server transaction states (Figure 8 of RFC 3261).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
}

/// §17.2.2: a non-INVITE request (including CANCEL) we received.
#[derive(Debug)]
pub(super) struct NonInviteServer {
    state: NonInviteState,
    to: Peer,
    config: TimerConfig,
    last_response: Option<Bytes>,
}

impl NonInviteServer {
    /// The final response went out: only retransmissions are left to absorb.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self.state, NonInviteState::Completed)
    }

    pub(super) fn start(to: Peer, config: TimerConfig) -> Self {
        NonInviteServer {
            state: NonInviteState::Trying,
            to,
            config,
            last_response: None,
        }
    }

    /// A retransmission of the request: resend the last response, if any
    /// (in Trying it is discarded).
    pub(super) fn on_request(&mut self, io: &mut Io<'_>) -> Flow {
        if let Some(last) = &self.last_response {
            io.send(self.to, last.clone());
        }
        Flow::Continue
    }

    pub(super) fn respond(&mut self, io: &mut Io<'_>, response: Message) -> Result<Flow, TxError> {
        let status = response.status().ok_or(TxError::NotAResponse)?;
        if self.state == NonInviteState::Completed {
            return Err(TxError::AlreadyFinal(io.id));
        }
        let bytes = response.raw().clone();
        io.send(self.to, bytes.clone());
        self.last_response = Some(bytes);
        if status < 200 {
            self.state = NonInviteState::Proceeding;
            return Ok(Flow::Continue);
        }
        self.state = NonInviteState::Completed;
        if self.to.transport.is_reliable() {
            return Ok(Flow::Terminate);
        }
        io.arm(Timer::J, self.config.timeout());
        Ok(Flow::Continue)
    }

    pub(super) fn on_timer(&mut self, timer: Timer) -> Flow {
        match (timer, self.state) {
            (Timer::J, NonInviteState::Completed) => Flow::Terminate,
            _ => Flow::Continue,
        }
    }

    /// RFC 6026 §8.8: inform the TU, keep the state; timers end it.
    pub(super) fn on_transport_error(&mut self, io: &mut Io<'_>) -> Flow {
        io.event(TxEvent::TransportError { tx: io.id });
        Flow::Continue
    }
}
