//! A call: the back-to-back user agent between the inbound leg (A, where we
//! are the UAS) and one outbound leg at a time (B, where we are the UAC).
//!
//! The call is a sans-IO state machine, like the transaction layer: it is
//! fed `(now, CallInput)` and returns `CallAction`s, with `poll_timeout` for
//! its timers (2xx retransmission, trying and ring timeouts, session timers).
//! Media is reached through the [`MediaControl`] trait so that tests run
//! without sockets. `task.rs` is the thin tokio actor around it: one task per
//! call, fed through a channel.
//!
//! Topology hiding: every message sent on a leg is built here from that
//! leg's own dialog; nothing of one leg's Via, Record-Route, Contact, Call-ID
//! or SDP addresses is copied to the other.

mod attempt;
mod in_dialog;
mod media;
pub mod record;
mod responses;
mod setup;
pub mod task;
mod teardown;
mod timers;

pub use media::{MediaControl, NoMedia};
pub use record::CallRecord;

use crate::control_plane::{
    CallCommand, CallEvent, CallInfo, CallRef, Destination, EndCause, LegId, Party, Side,
};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_config::{Config, TrunkName};
use voxgate_media::anchor::OriginState;
use voxgate_media::sdp::SessionDescription;
use voxgate_sip::dialog::{Dialog, DialogKey, LocalAddr, Retransmit, SessionTimer};
use voxgate_sip::message::{Message, Method};
use voxgate_sip::transaction::{TimerConfig, TxId};
use voxgate_sip::{Peer, TransportKind};

/// Our advertised address per transport, for Via and Contact.
#[derive(Clone, Debug, Default)]
pub struct Locals {
    /// UDP, if we listen on it.
    pub udp: Option<LocalAddr>,
    /// TCP.
    pub tcp: Option<LocalAddr>,
    /// TLS.
    pub tls: Option<LocalAddr>,
}

impl Locals {
    /// Our address for `transport`.
    pub fn get(&self, transport: TransportKind) -> Option<&LocalAddr> {
        match transport {
            TransportKind::Udp => self.udp.as_ref(),
            TransportKind::Tcp => self.tcp.as_ref(),
            TransportKind::Tls => self.tls.as_ref(),
        }
    }
}

/// What a call is given at birth.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The call's id.
    pub id: CallRef,
    /// The config snapshot at the call's arrival (trunks, timers, limits).
    pub config: Arc<Config>,
    /// The trunk the INVITE came from.
    pub trunk: TrunkName,
    /// Our addresses.
    pub locals: Locals,
    /// RFC 3261 timer bases, for 2xx retransmission.
    pub timers: TimerConfig,
}

/// Why a transaction of ours failed without a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxFailure {
    /// Timer B or F.
    Timeout,
    /// The transport could not deliver.
    Transport,
}

/// What the core and the control plane feed into a call.
#[derive(Debug)]
pub enum CallInput {
    /// The INVITE that created the call (exactly once, first).
    Invite {
        /// Its server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// A request inside one of the call's dialogs (not ACK or CANCEL).
    Request {
        /// Its server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// A CANCEL for the call's INVITE.
    Cancel {
        /// The CANCEL's own server transaction.
        tx: TxId,
        /// The CANCEL.
        request: Message,
    },
    /// An ACK for a 2xx we sent.
    Ack {
        /// The ACK.
        request: Message,
    },
    /// A response in one of our client transactions.
    Response {
        /// The transaction.
        tx: TxId,
        /// The response.
        response: Message,
    },
    /// A response for one of our dialogs whose transaction is gone (a late
    /// 2xx retransmission).
    StrayResponse {
        /// The response.
        response: Message,
    },
    /// One of our client transactions ended without a final response.
    TxFailed {
        /// The transaction.
        tx: TxId,
        /// Why.
        failure: TxFailure,
    },
    /// A command from the control plane.
    Command(CallCommand),
    /// The control plane dropped its end of the call.
    ControlGone,
    /// No media for the configured time.
    MediaTimeout,
    /// The node stops.
    Shutdown,
}

/// What a call asks the outside world to do.
#[derive(Debug)]
pub enum CallAction {
    /// Send a response in a server transaction.
    Respond {
        /// The transaction.
        tx: TxId,
        /// The response.
        response: Message,
    },
    /// Start a client transaction with a pre-allocated id.
    Send {
        /// The id ([`TxId::next`]).
        tx: TxId,
        /// The request.
        request: Message,
        /// Where to.
        to: Peer,
        /// The TLS name to verify, for TLS.
        tls_name: Option<String>,
    },
    /// Send bytes outside any transaction (ACK for 2xx, 2xx retransmissions).
    Transmit {
        /// Where to.
        to: Peer,
        /// What.
        bytes: Bytes,
    },
    /// Route requests of this dialog (and responses to requests in it) to the call.
    BindDialog(DialogKey),
    /// Tell the control plane.
    Event(CallEvent),
    /// The call is over; the record is final. No more actions follow.
    Ended(Box<CallRecord>),
}

/// The two legs of a call, from the call's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leg {
    A,
    B,
}

impl Leg {
    pub(crate) fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
        }
    }

    pub(crate) fn media_side(self) -> voxgate_media::Side {
        match self {
            Leg::A => voxgate_media::Side::A,
            Leg::B => voxgate_media::Side::B,
        }
    }
}

/// Our 2xx to an INVITE on a leg, retransmitted until its ACK (§13.3.1.4).
#[derive(Debug)]
pub(crate) struct PendingOk {
    pub bytes: Bytes,
    pub cseq: u32,
    pub retransmit: Retransmit,
    /// Late offer: the ACK carries the answer, to be forwarded in the other leg's ACK.
    pub forward_answer: Option<u32>,
}

/// What the two legs share: a dialog, where its peer is, our SDP origin on
/// it, our pending 2xx, our last ACK, its session timer.
#[derive(Debug)]
pub(crate) struct LegState {
    pub peer: Peer,
    pub tls_name: Option<String>,
    pub local: LocalAddr,
    pub dialog: Option<Dialog>,
    pub origin: OriginState,
    /// The last SDP body we sent on this leg (re-sent in refreshes).
    pub last_sdp: Option<Bytes>,
    pub pending_ok: Option<PendingOk>,
    /// Our ACK for this leg's 2xx, with the INVITE's CSeq: re-sent when the 2xx is.
    pub last_ack: Option<(u32, Bytes)>,
    pub timer: Option<SessionTimer>,
    /// The peer accepts UPDATE (its Allow), so refreshes can use it.
    pub allows_update: bool,
    /// Media is on hold from this leg's side.
    pub held: bool,
    /// Our BYE waits for the ACK of our 2xx (§15), or for its retransmissions
    /// to give up.
    pub bye_deferred: bool,
}

impl LegState {
    fn new(peer: Peer, tls_name: Option<String>, local: LocalAddr) -> LegState {
        LegState {
            peer,
            tls_name,
            local,
            dialog: None,
            origin: OriginState::new(),
            last_sdp: None,
            pending_ok: None,
            last_ack: None,
            timer: None,
            allows_update: false,
            held: false,
            bye_deferred: false,
        }
    }
}

/// The inbound leg.
#[derive(Debug)]
pub(crate) struct ALeg {
    pub state: LegState,
    /// The INVITE server transaction.
    pub tx: TxId,
    pub invite: Message,
    /// The To tag we answer with.
    pub tag: String,
    /// The SDP offer of the INVITE, if any.
    pub offer: Option<SessionDescription>,
    pub final_sent: bool,
    pub supports_100rel: bool,
    /// The session-timer negotiation for our 2xx.
    pub session: Option<voxgate_sip::dialog::Negotiated>,
    /// Our RSeq on A, and which B RSeq each maps to (RFC 3262 pass-through).
    pub rseq: voxgate_sip::dialog::prack::RSeq,
    pub rseq_map: Vec<(u32, u32)>,
}

/// Whether a CANCEL is owed to the current B attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// Send it as soon as a provisional arrives (§9.1).
    Pending(CancelWhy),
    Sent(CancelWhy),
}

/// Why we cancel a B attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelWhy {
    /// The caller cancelled or the call is being torn down.
    CallOver,
    /// The attempt rang too long: try the next destination.
    RingTimeout,
}

/// The current outbound attempt.
#[derive(Debug)]
pub(crate) struct BLeg {
    pub state: LegState,
    pub n: u32,
    pub tx: TxId,
    pub invite: Message,
    pub destination: Destination,
    /// Our INVITE carried an SDP offer (else the 2xx carries one: late offer).
    pub offered: bool,
    pub provisional: bool,
    pub answered: bool,
    /// The INVITE got a final non-2xx response or failed: nothing is left to cancel.
    pub done: bool,
    pub cancel: CancelState,
    pub trying_deadline: Option<Instant>,
    pub ring_deadline: Option<Instant>,
    /// §9.1: 64*T1 after our CANCEL without a final response, the INVITE
    /// counts as cancelled.
    pub cancel_deadline: Option<Instant>,
    pub session: Option<voxgate_sip::dialog::UacOffer>,
}

impl BLeg {
    /// Its INVITE is complete without an answer (final response, failure,
    /// CANCEL given up): no timer of the attempt applies any more.
    pub(crate) fn complete(&mut self) {
        self.done = true;
        self.trying_deadline = None;
        self.ring_deadline = None;
        self.cancel_deadline = None;
    }
}

/// An initial INVITE we sent, kept for the responses of an attempt we gave
/// up on (trying timeout) that rings or answers after all.
#[derive(Debug)]
pub(crate) struct SentInvite {
    pub invite: Message,
    pub to: Peer,
    pub tls_name: Option<String>,
    /// A late provisional got its CANCEL.
    pub cancelled: bool,
    /// Our ACK to its late 2xx, re-sent on a retransmission (it had its BYE).
    pub ack: Option<Bytes>,
}

/// The INVITEs of a call's attempts: a few at most, so a list (a map's
/// smallest table is ~1 KiB per call).
#[derive(Default)]
pub(crate) struct SentInvites(Vec<(TxId, SentInvite)>);

impl SentInvites {
    pub(crate) fn insert(&mut self, tx: TxId, sent: SentInvite) {
        match self.get_mut(&tx) {
            Some(slot) => *slot = sent,
            None => self.0.push((tx, sent)),
        }
    }

    pub(crate) fn get(&self, tx: &TxId) -> Option<&SentInvite> {
        self.0.iter().find(|(t, _)| t == tx).map(|(_, s)| s)
    }

    pub(crate) fn get_mut(&mut self, tx: &TxId) -> Option<&mut SentInvite> {
        self.0.iter_mut().find(|(t, _)| t == tx).map(|(_, s)| s)
    }
}

/// Where the call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the control plane.
    Routing,
    /// A B attempt is under way.
    Connecting,
    /// Answered; our 2xx to A awaits its ACK.
    Answered,
    /// Both legs confirmed.
    Confirmed,
    /// The outcome is decided; waiting for the last transactions (CANCEL's
    /// 487, BYE's 200) before the call ends.
    Ending,
    /// Over.
    Ended,
}

/// An in-dialog request we forwarded to the other leg, awaiting its answer.
#[derive(Debug)]
pub(crate) struct Relay {
    pub from: Leg,
    pub tx_in: TxId,
    pub request_in: Message,
    pub method: Method,
    /// The forwarded request carried an SDP offer.
    pub offered: bool,
    /// Whether that offer puts the call on hold from `from`'s side; applied
    /// once the offer is accepted.
    pub hold: Option<bool>,
    /// The other leg's `last_sdp` before the offer, for when it is refused.
    pub prior_sdp: Option<Bytes>,
}

/// A request we originated ourselves.
#[derive(Debug)]
pub(crate) enum Own {
    /// BYE on a leg while tearing down.
    Bye,
    /// CANCEL of a B attempt.
    Cancel,
    /// A session refresh on a leg.
    Refresh(Leg, Method),
    /// CANCEL or BYE to an attempt we had given up that rang or answered late.
    Stray,
}

/// Points in time of a call, for the record and the latency metrics.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// The INVITE arrived.
    pub invite: Instant,
    /// The first B INVITE went out.
    pub first_b_invite: Option<Instant>,
    /// The call was answered.
    pub answer: Option<Instant>,
    /// The outcome was decided.
    pub end: Option<Instant>,
}

/// The B2BUA state machine of one call.
pub struct Call<M: MediaControl> {
    pub(crate) ctx: CallContext,
    pub(crate) media: M,
    pub(crate) phase: Phase,
    pub(crate) a: Option<ALeg>,
    pub(crate) b: Option<BLeg>,
    pub(crate) destinations: VecDeque<Destination>,
    pub(crate) ring_timeout: Duration,
    pub(crate) follow_redirects: bool,
    pub(crate) attempts: u32,
    /// Every initial INVITE we sent, for responses that arrive after we gave up.
    pub(crate) invites: SentInvites,
    pub(crate) relays: HashMap<TxId, Relay>,
    pub(crate) own: HashMap<TxId, Own>,
    /// An offer/answer exchange through the call is in progress (glare guard, §14).
    pub(crate) offer_in_progress: bool,
    pub(crate) actions: VecDeque<CallAction>,
    pub(crate) timeline: Timeline,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) ending_deadline: Option<Instant>,
    pub(crate) info: Option<CallInfo>,
    /// The status of the last failed attempt, for the caller when none is left.
    pub(crate) last_status: Option<u16>,
}

/// How the call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Who ended it.
    pub side: Side,
    /// Why.
    pub cause: EndCause,
    /// The final status the caller got before answer (None once answered).
    pub status: Option<u16>,
}

impl<M: MediaControl> Call<M> {
    /// A call waiting for its INVITE.
    pub fn new(now: Instant, ctx: CallContext, media: M) -> Call<M> {
        Call {
            ctx,
            media,
            phase: Phase::Routing,
            a: None,
            b: None,
            destinations: VecDeque::new(),
            ring_timeout: Duration::from_secs(60),
            follow_redirects: false,
            attempts: 0,
            invites: SentInvites::default(),
            relays: HashMap::new(),
            own: HashMap::new(),
            offer_in_progress: false,
            actions: VecDeque::new(),
            timeline: Timeline {
                invite: now,
                first_b_invite: None,
                answer: None,
                end: None,
            },
            outcome: None,
            ending_deadline: None,
            info: None,
            last_status: None,
        }
    }

    /// The call's id.
    pub fn id(&self) -> CallRef {
        self.ctx.id
    }

    /// What the control plane is told about the call, once the INVITE was
    /// accepted (None if it was refused at once).
    pub fn info(&self) -> Option<&CallInfo> {
        self.info.as_ref()
    }

    /// True once the call emitted `Ended`.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// A short state name for `/calls`.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            Phase::Routing => "routing",
            Phase::Connecting if self.b.as_ref().is_some_and(|b| b.provisional) => "ringing",
            Phase::Connecting => "connecting",
            Phase::Answered | Phase::Confirmed => "answered",
            Phase::Ending => "ending",
            Phase::Ended => "ended",
        }
    }

    /// Since when the media inactivity timeout applies: the answer, while
    /// the call is up; `None` before the answer (a long ring without early
    /// media is no dead call) and once it is ending.
    pub fn media_watch_since(&self) -> Option<Instant> {
        match self.phase {
            Phase::Answered | Phase::Confirmed => self.timeline.answer,
            _ => None,
        }
    }

    /// When the call was answered, if it was.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: CallInput) {
        if self.phase == Phase::Ended {
            return;
        }
        match input {
            CallInput::Invite { tx, request, from } => self.on_invite(now, tx, request, from),
            CallInput::Request { tx, request, from } => self.on_request(now, tx, request, from),
            CallInput::Cancel { tx, request } => self.on_cancel(now, tx, &request),
            CallInput::Ack { request } => self.on_ack(now, &request),
            CallInput::Response { tx, response } => self.on_response(now, tx, response),
            CallInput::StrayResponse { response } => self.on_stray_response(&response),
            CallInput::TxFailed { tx, failure } => self.on_tx_failed(now, tx, failure),
            CallInput::Command(cmd) => self.on_command(now, cmd),
            CallInput::ControlGone => {
                if self.phase == Phase::Routing {
                    self.fail_call(
                        now,
                        500,
                        "Server Internal Error",
                        Side::Edge,
                        EndCause::ControlLost,
                    );
                }
            }
            // Media is expected only once answered (see `media_watch_since`).
            CallInput::MediaTimeout if self.media_watch_since().is_some() => {
                self.hang_up(now, Side::Edge, EndCause::MediaTimeout)
            }
            CallInput::MediaTimeout => {}
            CallInput::Shutdown => self.hang_up(now, Side::Edge, EndCause::Shutdown),
        }
        self.maybe_finish();
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<CallAction> {
        let action = self.actions.pop_front();
        if action.is_none() {
            // Drained: a call waits far longer than it acts, and the
            // queue's slots are ~1 KiB.
            self.actions = VecDeque::new();
        }
        action
    }

    fn on_command(&mut self, now: Instant, cmd: CallCommand) {
        match cmd {
            CallCommand::Reject { status, reason } if self.phase == Phase::Routing => {
                let status = if (400..=699).contains(&status) {
                    status
                } else {
                    500
                };
                let reason = reason.unwrap_or_else(|| default_reason(status).to_string());
                self.fail_call(
                    now,
                    status,
                    &reason,
                    Side::Control,
                    EndCause::Rejected(status),
                );
            }
            CallCommand::Connect {
                destinations,
                ring_timeout,
                follow_redirects,
            } if self.phase == Phase::Routing => {
                self.destinations = destinations.into();
                self.ring_timeout = ring_timeout.unwrap_or(self.ctx.config.calls.ring_timeout);
                self.follow_redirects = follow_redirects;
                self.phase = Phase::Connecting;
                self.next_attempt(now);
            }
            CallCommand::Hangup => self.hang_up(now, Side::Control, EndCause::Normal),
            // A command that does not fit the call's state is ignored.
            _ => {}
        }
    }

    pub(crate) fn push(&mut self, action: CallAction) {
        self.actions.push_back(action);
    }

    pub(crate) fn event(&mut self, event: CallEvent) {
        self.push(CallAction::Event(event));
    }

    pub(crate) fn leg_id(&self, leg: Leg) -> LegId {
        match leg {
            Leg::A => LegId::A,
            Leg::B => LegId::B(self.b.as_ref().map_or(self.attempts, |b| b.n)),
        }
    }

    pub(crate) fn leg_state(&mut self, leg: Leg) -> Option<&mut LegState> {
        match leg {
            Leg::A => self.a.as_mut().map(|a| &mut a.state),
            Leg::B => self.b.as_mut().map(|b| &mut b.state),
        }
    }

    /// Which leg a message belongs to, by Call-ID.
    pub(crate) fn leg_of(&self, msg: &Message) -> Option<Leg> {
        let call_id = msg.call_id().ok()?;
        if self
            .a
            .as_ref()
            .is_some_and(|a| a.invite.call_id().ok() == Some(call_id))
        {
            return Some(Leg::A);
        }
        if self
            .b
            .as_ref()
            .is_some_and(|b| b.invite.call_id().ok() == Some(call_id))
        {
            return Some(Leg::B);
        }
        None
    }

    /// Decides the outcome once (the first decision wins).
    pub(crate) fn decide(
        &mut self,
        now: Instant,
        side: Side,
        cause: EndCause,
        status: Option<u16>,
    ) {
        if self.outcome.is_none() {
            self.outcome = Some(Outcome {
                side,
                cause,
                status,
            });
            self.timeline.end = Some(now);
            self.phase = Phase::Ending;
            // The last transactions get 64*T1 at most to settle.
            self.ending_deadline = Some(now + self.ctx.timers.t1 * 64);
        }
    }

    /// Ends the call when its outcome is decided and nothing is owed any more.
    pub(crate) fn maybe_finish(&mut self) {
        if self.phase != Phase::Ending {
            return;
        }
        let b_pending = self.b.as_ref().is_some_and(|b| {
            !b.answered
                && !b.done
                && matches!(b.cancel, CancelState::Sent(_) | CancelState::Pending(_))
        });
        let own_pending = self
            .own
            .values()
            .any(|o| matches!(o, Own::Bye | Own::Cancel));
        let bye_owed = [
            self.a.as_ref().map(|a| &a.state),
            self.b.as_ref().map(|b| &b.state),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.bye_deferred);
        if !b_pending && !own_pending && !bye_owed {
            self.finish();
        }
    }

    pub(crate) fn finish(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        let outcome = self.outcome.unwrap_or(Outcome {
            side: Side::Edge,
            cause: EndCause::Shutdown,
            status: None,
        });
        let stats = self.media.stats();
        self.media.close();
        self.phase = Phase::Ended;
        self.event(CallEvent::Ended {
            side: outcome.side,
            cause: outcome.cause,
        });
        let record = record::CallRecord::build(self, outcome, stats);
        self.push(CallAction::Ended(Box::new(record)));
    }
}

/// The standard reason phrase of a status code.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => match status / 100 {
            4 => "Request Failed",
            5 => "Server Error",
            6 => "Global Failure",
            _ => "Unknown",
        },
    }
}

/// The URI and user of a Party from a name-addr header.
pub(crate) fn party(value: Option<voxgate_sip::message::NameAddr<'_>>) -> Party {
    match value {
        Some(na) => Party {
            display: na.display.map(|d| d.trim_matches('"').to_string()),
            user: uri_user(na.uri).map(str::to_string),
            uri: na.uri.to_string(),
        },
        None => Party {
            display: None,
            user: None,
            uri: String::new(),
        },
    }
}

/// The user part of a sip:/sips:/tel: URI.
pub(crate) fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| {
            uri.strip_prefix("tel:")
                .map(|t| t.split(';').next().unwrap_or(t))
        })?;
    if uri.starts_with("tel:") {
        return Some(rest);
    }
    let at = rest.find('@')?;
    let user = &rest[..at];
    // user;params (RFC 3261 §19.1.1 allows parameters in the user part for tel-like users)
    Some(user.split(';').next().unwrap_or(user))
}

#[cfg(test)]
mod tests;
