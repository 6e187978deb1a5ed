//! A conversation: what one actor owns — any number of legs (each one SIP
//! dialog, inbound where we are the UAS or outbound where we are the UAC,
//! with its own media endpoint), the bridges between their media, and one
//! control-plane session.
//!
//! The conversation is a sans-IO state machine, like the transaction layer:
//! it is fed `(now, Input)` and returns `Action`s, with `poll_timeout` for its
//! timers (2xx retransmission, trying and ring timeouts, session timers, the
//! media inactivity timer, re-offers after 491, pending transfer decisions).
//! Media is reached through the [`MediaControl`] trait so that tests run
//! without sockets. `task.rs` is the thin tokio actor around it.
//!
//! Two ways a leg's offer/answer can run:
//! - **linked** (the classic B2BUA connection of an inbound leg to the leg a
//!   dial answered with): offers pass between the two legs with their SDP
//!   rewritten to voxgate's ports, so the endpoints negotiate codecs end to
//!   end; one's end ends the other;
//! - **local**: voxgate is the leg's user agent, offers and answers with its
//!   own SDP from the trunk's codecs, and bridges media as commanded.
//!
//! A command that rearranges a linked leg's media (hold, unbridge, a bridge
//! with another leg, a conference, a transfer) turns both legs local.
//!
//! A leg's media is in at most one bridge (two legs, relayed) or one
//! conference (mixed: `conference.rs`).
//!
//! Topology hiding: every message sent on a leg is built here from that
//! leg's own dialog; nothing of one leg's Via, Record-Route, Contact, Call-ID
//! or SDP addresses is copied to another. The other headers that cross are
//! chosen by trust and the trunks' rules (`crossing.rs`).

mod auth;
mod bridge;
mod codecs;
mod commands;
mod conference;
mod crossing;
mod dial;
mod header_rules;
mod identity;
mod in_dialog;
mod inbound;
mod leg;
mod leg_media;
mod media;
mod offer;
mod progress;
mod q850;
pub mod record;
mod recording;
mod relay;
mod srtp;
pub mod task;
mod teardown;
mod timers;
mod transfer;

pub(crate) use dial::Target;
pub use dial::uri_host_port;
pub use media::{EndpointId, EndpointSpec, MediaControl, NoMedia};
pub use record::{ConversationRecord, RefusedAttempt};

use crate::control_plane::{
    CallerId, Command, CommandError, ConversationId, ConversationInfo, Destination, DialId,
    EndCause, Event, Inbound, LegFailure, LegId, Party, Side,
};
use bytes::Bytes;
use leg::{Dir, Leg, SentInvites, Signalling};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_config::{Config, TrunkName};
use voxgate_media::anchor::OriginState;
use voxgate_media::sdp::SessionDescription;
use voxgate_sip::dialog::{Dialog, DialogKey, LocalAddr, Retransmit, SessionTimer};
use voxgate_sip::message::{Message, Method};
use voxgate_sip::transaction::{TimerConfig, TxId};
use voxgate_sip::{Peer, TransportKind};

/// Our advertised address per transport, for Via and Contact: the first
/// listener of each transport, and the first of the other address family
/// where there is one (a node on IPv4 and IPv6 names the address a peer
/// can reach: an IPv6 caller's ACK and BYE must come back over IPv6).
#[derive(Clone, Debug, Default)]
pub struct Locals {
    /// UDP, if we listen on it.
    pub udp: Option<LocalAddr>,
    /// TCP.
    pub tcp: Option<LocalAddr>,
    /// TLS.
    pub tls: Option<LocalAddr>,
    /// UDP, TCP and TLS in the address family the fields above are not in.
    pub other_family: [Option<LocalAddr>; 3],
    /// Every listener, for a trunk that names its own and for replies on the
    /// UDP listener a request came in on (shared: cloned per call).
    pub listeners: Arc<Vec<ListenerLocal>>,
}

/// One listener as the conversations see it.
#[derive(Clone, Debug)]
pub struct ListenerLocal {
    /// Its address as configured (what a trunk's `listener` names).
    pub configured: std::net::SocketAddr,
    /// Our advertised address on it.
    pub local: LocalAddr,
    /// UDP: the socket's id, to send from it (`Peer::conn`).
    pub udp: Option<voxgate_sip::ConnId>,
}

impl Locals {
    /// Our address for `transport` towards `peer`: one of the peer's
    /// address family where we listen on one, else the transport's first.
    pub fn get(&self, transport: TransportKind, peer: IpAddr) -> Option<&LocalAddr> {
        let (first, other) = match transport {
            TransportKind::Udp => (&self.udp, &self.other_family[0]),
            TransportKind::Tcp => (&self.tcp, &self.other_family[1]),
            TransportKind::Tls => (&self.tls, &self.other_family[2]),
        };
        let same = |l: &&LocalAddr| l.addr.is_ipv4() == peer.is_ipv4();
        first
            .as_ref()
            .filter(same)
            .or(other.as_ref().filter(same))
            .or(first.as_ref())
    }

    /// Our address towards `peer` as it reached us: for UDP, the listener
    /// the request came in on (its id is in `peer.conn`); else as [`Locals::get`].
    pub fn for_peer(&self, peer: &Peer) -> Option<&LocalAddr> {
        let on = |l: &&ListenerLocal| l.udp.is_some() && l.udp == peer.conn;
        match peer.transport {
            TransportKind::Udp => self.listeners.iter().find(on).map(|l| &l.local),
            _ => None,
        }
        .or_else(|| self.get(peer.transport, peer.addr.ip()))
    }

    /// Our address and (UDP) socket for a request to `peer` of `trunk`: the
    /// listener the trunk names, if it has one of this transport and the
    /// peer's family; else the transport's first listener of the family, as
    /// [`Locals::get`] (socket `None`: the transports pick that one too).
    pub fn for_trunk(
        &self,
        trunk: Option<&voxgate_config::Trunk>,
        transport: TransportKind,
        peer: IpAddr,
    ) -> Option<(LocalAddr, Option<voxgate_sip::ConnId>)> {
        let pinned = trunk.and_then(|t| t.listener).and_then(|at| {
            self.listeners.iter().find(|l| {
                l.configured == at
                    && l.local.transport == transport
                    && l.local.addr.is_ipv4() == peer.is_ipv4()
            })
        });
        let advertise = trunk.and_then(|t| t.advertise);
        match pinned {
            Some(l) => Some((l.local.clone().advertising(advertise), l.udp)),
            None => self
                .get(transport, peer)
                .map(|l| (l.clone().advertising(advertise), None)),
        }
    }

    /// Adds a listener's address: the first of its transport, or the first
    /// of its transport in the other family; later ones are not used.
    pub fn add(&mut self, local: LocalAddr) {
        let (first, other) = match local.transport {
            TransportKind::Udp => (&mut self.udp, &mut self.other_family[0]),
            TransportKind::Tcp => (&mut self.tcp, &mut self.other_family[1]),
            TransportKind::Tls => (&mut self.tls, &mut self.other_family[2]),
        };
        match first {
            None => *first = Some(local),
            Some(f) if f.addr.is_ipv4() != local.addr.is_ipv4() && other.is_none() => {
                *other = Some(local);
            }
            Some(_) => {}
        }
    }
}

/// What a conversation is given at birth.
#[derive(Clone, Debug)]
pub struct ConversationContext {
    /// The conversation's id.
    pub id: ConversationId,
    /// The config snapshot at its start (trunks, timers, limits).
    pub config: Arc<Config>,
    /// Our addresses.
    pub locals: Locals,
    /// RFC 3261 timer bases, for 2xx retransmission.
    pub timers: TimerConfig,
    /// The wall-clock time it started (its recordings' file names begin
    /// with it, so that names stay unique across restarts, which number
    /// conversations from 1 again).
    pub started: std::time::SystemTime,
    /// Destinations found down and trunks out of service: dials skip them.
    pub health: Arc<crate::health::Health>,
}

/// Why a transaction of ours failed without a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxFailure {
    /// Timer B or F.
    Timeout,
    /// The transport could not deliver.
    Transport,
}

/// What the core and the control plane feed into a conversation.
#[derive(Debug)]
pub enum Input {
    /// The INVITE that created the conversation (exactly once, first).
    Invite {
        /// Its server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
        /// The trunk it came from.
        trunk: TrunkName,
    },
    /// A new INVITE whose Replaces header (RFC 3891) names one of the
    /// conversation's dialogs.
    Replacing {
        /// Its server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
        /// The trunk it came from.
        trunk: TrunkName,
        /// The dialog it replaces (our tag, as the core matched it).
        replaces: DialogKey,
    },
    /// A request inside one of the conversation's dialogs (not ACK or CANCEL).
    Request {
        /// Its server transaction.
        tx: TxId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// A CANCEL for an INVITE of ours to answer.
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
    /// 2xx retransmission, another fork's 2xx).
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
    /// A command from the control plane (or an operator).
    Command(Command),
    /// An event of a leg's media endpoint (a digit, a playback's end).
    Media {
        /// The endpoint.
        ep: EndpointId,
        /// What happened.
        event: voxgate_media::MediaEvent,
    },
    /// The control plane dropped its end.
    ControlGone,
    /// The control plane or the core fell too far behind: end now.
    Overflow,
    /// The node stops.
    Shutdown,
    /// The next hops of a dial's destination name ([`Action::Resolve`]), in
    /// the order to try them; empty when the name resolved to nothing.
    Resolved {
        /// The dial that asked.
        dial: DialId,
        /// The addresses, best first.
        targets: Vec<std::net::SocketAddr>,
    },
}

/// What a conversation asks the outside world to do.
#[derive(Debug)]
pub enum Action {
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
    /// Route requests of this dialog (and responses to requests in it) to the conversation.
    BindDialog(DialogKey),
    /// Resolve a destination name (RFC 3263); the answer comes back as
    /// [`Input::Resolved`]. The dial waits meanwhile.
    Resolve {
        /// The dial that asks.
        dial: DialId,
        /// What to resolve.
        query: crate::dns::cache::Query,
    },
    /// Tell the control plane.
    Event(Event),
    /// The conversation is over; the record is final. No more actions follow.
    Ended(Box<ConversationRecord>),
}

/// An in-dialog request we forwarded to the linked leg, awaiting its answer.
#[derive(Debug)]
pub(crate) struct Relay {
    pub from: LegId,
    pub to: LegId,
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
    /// A relayed INVITE, where it went and its TLS name: to CANCEL it.
    pub invite_out: Option<(Message, Peer, Option<String>)>,
    /// A provisional came back (a CANCEL may be sent, §9.1).
    pub provisional: bool,
    /// The conversation ended first: the incoming request was answered 487
    /// and the relayed one CANCELled; a late 2xx is only ACKed.
    pub abandoned: bool,
}

/// A request we originated ourselves.
#[derive(Debug)]
pub(crate) enum Own {
    /// BYE on a leg.
    Bye,
    /// CANCEL of an outbound leg.
    Cancel,
    /// A session refresh on a leg.
    Refresh(LegId, Method),
    /// Our own re-INVITE on a leg (hold, resume, codec): the SDP it offered.
    Reoffer(LegId, Bytes),
    /// A NOTIFY of transfer progress on a leg.
    Notify(LegId),
    /// An INFO carrying a digit we send on a leg (`SendDigits` without telephone-event).
    InfoDigit(LegId),
    /// CANCEL or BYE to an attempt we gave up (or a fork we did not take).
    Stray,
}

/// Points in time of a conversation, for the record and the latency metrics.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// The INVITE arrived (or the conversation was originated).
    pub invite: Instant,
    /// The first outbound INVITE went out.
    pub first_b_invite: Option<Instant>,
    /// The caller was first told of progress: an outbound leg's 18x
    /// (relayed or not), or voxgate's own early 183.
    pub ringing: Option<Instant>,
    /// The inbound leg (or, originated, the first leg) was answered.
    pub answer: Option<Instant>,
    /// The outcome was decided.
    pub end: Option<Instant>,
}

/// Where the conversation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Legs come and go.
    Active,
    /// The outcome is decided; waiting for the last transactions (CANCEL's
    /// 487, BYE's 200) before the conversation ends.
    Ending,
    /// Over.
    Ended,
}

/// How the conversation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Who ended it.
    pub side: Side,
    /// Why.
    pub cause: EndCause,
    /// The final status the caller got before answer (None once answered).
    pub status: Option<u16>,
}

/// A destination still to try, and where to send to when its name was
/// resolved (else its URI's address).
#[derive(Debug)]
pub(crate) struct Pending {
    pub dest: Destination,
    pub hop: Option<std::net::SocketAddr>,
}

impl From<Destination> for Pending {
    fn from(dest: Destination) -> Pending {
        Pending { dest, hop: None }
    }
}

/// A dial in progress (or done) of the conversation.
#[derive(Debug)]
pub(crate) struct DialState {
    pub id: DialId,
    pub pending: VecDeque<Pending>,
    /// The destination whose name is being resolved: the dial waits for it.
    pub resolving: Option<Destination>,
    pub parallel: bool,
    pub ring_timeout: Duration,
    pub caller_id: Option<CallerId>,
    pub follow_redirects: bool,
    /// The leg the answering leg connects to.
    pub connect: Option<LegId>,
    /// `connect` was an unanswered inbound leg: linked (pass-through) connection.
    pub link: bool,
    /// Its legs, in order of creation.
    pub legs: Vec<LegId>,
    pub winner: Option<LegId>,
    /// The leg whose early media reaches the linked leg.
    pub early: Option<LegId>,
    /// The status of the last failed attempt, for the caller when none is left.
    pub last_status: Option<u16>,
    /// The dial stopped because voxgate had no media ports (its own failure,
    /// not the callee's).
    pub no_media: bool,
    /// The last status is voxgate's own verdict (an unusable destination, the
    /// trunk's codec policy), not a callee's answer: the CDR blames the edge.
    pub edge_fault: bool,
    /// The `Warning` that goes with it (voxgate's own 488 for want of a codec).
    pub last_warning: Option<&'static str>,
    /// The headers the last failed attempt's response carries to a linked
    /// caller (see `crossing.rs`), should its status be the last word.
    pub last_headers: Vec<crossing::Carried>,
    /// Redirections followed, and every URI tried (loop detection).
    pub redirects: u8,
    pub tried: Vec<String>,
    /// The REFER leg to NOTIFY of the outcome.
    pub notify: Option<LegId>,
    pub done: bool,
}

/// The B2BUA state machine of one conversation.
pub struct Conversation<M: MediaControl> {
    pub(crate) ctx: ConversationContext,
    pub(crate) media: M,
    pub(crate) phase: Phase,
    pub(crate) legs: Vec<Leg>,
    pub(crate) dials: Vec<DialState>,
    /// Dial ids handed out so far.
    pub(crate) dial_ids: u32,
    /// Playback ids handed out so far (every `Play` takes one).
    pub(crate) play_ids: u32,
    /// Recording ids handed out so far (every `Record` takes one).
    pub(crate) record_ids: u32,
    /// Every recording carried out, in progress or over (the CDR lists them).
    pub(crate) recordings: Vec<recording::Recording>,
    /// An ending conversation waits for its recordings' files until then.
    pub(crate) recordings_deadline: Option<Instant>,
    /// Conference ids handed out so far (every `Conference` takes one).
    pub(crate) conference_ids: u32,
    /// Every initial INVITE we sent, for responses that arrive after we gave up.
    pub(crate) invites: SentInvites,
    pub(crate) relays: HashMap<TxId, Relay>,
    pub(crate) own: HashMap<TxId, Own>,
    pub(crate) actions: VecDeque<Action>,
    pub(crate) timeline: Timeline,
    /// The end of the conversation, once decided.
    pub(crate) outcome: Option<Outcome>,
    /// The last leg end (or dial failure): the outcome when nothing is left.
    pub(crate) last_end: Option<Outcome>,
    /// The Q.850 cause a peer gave (RFC 3326 `Reason`) in the message that
    /// decided `last_end`; `pending_q850` holds it until `note_end`.
    pub(crate) end_q850: Option<u8>,
    pub(crate) pending_q850: Option<u8>,
    /// What the failure being handled carries to a linked caller; taken by
    /// `attempt_refused` into its dial's `last_headers`.
    pub(crate) pending_headers: Vec<crossing::Carried>,
    /// A BYE arrived on a linked leg: what it carries to the BYE of this leg.
    pub(crate) bye_headers: Option<(LegId, Vec<crossing::Carried>)>,
    pub(crate) ending_deadline: Option<Instant>,
    pub(crate) info: Option<ConversationInfo>,
    /// The control plane is gone: nobody will command unbridged legs.
    pub(crate) control_gone: bool,
    /// An originated conversation that got no leg yet ends at this instant.
    pub(crate) idle_deadline: Option<Instant>,
    /// The media inactivity timer's next check (armed while media is expected).
    pub(crate) media_check: Option<Instant>,
    /// State of the conversation's own random choices (SplitMix64): from
    /// the thread's RNG, or from [`Conversation::seed`] so that a
    /// simulation replays exactly.
    pub(crate) random: u64,
    /// Some trunk has digest credentials: requests sent are kept while they
    /// may be challenged (`auth.rs`). Off, nothing is kept.
    pub(crate) answers_challenges: bool,
    pub(crate) challengeable: Vec<auth::Challengeable>,
}

/// How long an originated conversation waits for its first dial.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(32);

/// How long a REFER waits for the control plane's decision.
pub const TRANSFER_DECISION: Duration = Duration::from_secs(10);

impl<M: MediaControl> Conversation<M> {
    /// A conversation waiting for its INVITE.
    pub fn new(now: Instant, ctx: ConversationContext, media: M) -> Conversation<M> {
        let ctx_has_credentials = ctx.config.trunks.iter().any(|t| t.credentials.is_some());
        Conversation {
            ctx,
            media,
            phase: Phase::Active,
            legs: Vec::new(),
            dials: Vec::new(),
            dial_ids: 0,
            play_ids: 0,
            record_ids: 0,
            recordings: Vec::new(),
            recordings_deadline: None,
            conference_ids: 0,
            invites: SentInvites::default(),
            relays: HashMap::new(),
            own: HashMap::new(),
            actions: VecDeque::new(),
            timeline: Timeline {
                invite: now,
                first_b_invite: None,
                ringing: None,
                answer: None,
                end: None,
            },
            outcome: None,
            last_end: None,
            end_q850: None,
            pending_q850: None,
            pending_headers: Vec::new(),
            bye_headers: None,
            ending_deadline: None,
            info: None,
            control_gone: false,
            idle_deadline: None,
            media_check: None,
            random: rand::random(),
            answers_challenges: ctx_has_credentials,
            challengeable: Vec::new(),
        }
    }

    /// Seeds the conversation's random choices (the wait before a re-INVITE
    /// refused with 491 is retried): a seeded simulation then replays exactly.
    pub fn seed(&mut self, seed: u64) {
        self.random = seed;
    }

    /// A random number below `n` (SplitMix64: one u64 of state, enough for
    /// timer jitter, which needs no cryptographic quality).
    pub(crate) fn random_below(&mut self, n: u64) -> u64 {
        self.random = self.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }

    /// A conversation that no INVITE started: it waits for a dial.
    pub fn originated(now: Instant, ctx: ConversationContext, media: M) -> Conversation<M> {
        let mut c = Conversation::new(now, ctx, media);
        c.info = Some(ConversationInfo::new(c.ctx.id, None));
        c.idle_deadline = Some(now + IDLE_TIMEOUT);
        c
    }

    /// The conversation's id.
    pub fn id(&self) -> ConversationId {
        self.ctx.id
    }

    /// What the control plane is told about the conversation, once its
    /// INVITE was accepted (None if it was refused at once).
    pub fn info(&self) -> Option<&ConversationInfo> {
        self.info.as_ref()
    }

    /// True once the conversation emitted `Ended`.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// A short state name for `/calls`.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            Phase::Ending => return "ending",
            Phase::Ended => return "ended",
            Phase::Active => {}
        }
        if self.legs.iter().any(|l| l.is_answered()) {
            return "answered";
        }
        let ringing = self
            .legs
            .iter()
            .any(|l| l.is_live() && l.outbound().is_some_and(|o| o.provisional && o.pending()));
        if ringing {
            "ringing"
        } else if self.dials.iter().any(|d| !d.done) {
            "connecting"
        } else {
            "routing"
        }
    }

    /// The conversation's times.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The legs as `/calls` shows them.
    pub fn leg_summaries(&self) -> Vec<crate::handle::LegSummary> {
        let mut out = Vec::new();
        self.update_leg_summaries(&mut out);
        out
    }

    /// [`leg_summaries`](Self::leg_summaries) written over `out`, the
    /// summaries as last shown: entries are updated in place, so that a
    /// step that changes a leg's state does not allocate every leg's
    /// strings again.
    pub fn update_leg_summaries(&self, out: &mut Vec<crate::handle::LegSummary>) {
        out.truncate(self.legs.len());
        for (i, l) in self.legs.iter().enumerate() {
            let trunk = l.trunk.as_ref().map(|t| t.as_str());
            let summary = crate::handle::LegSummary {
                id: l.id.0,
                direction: if l.is_inbound() {
                    "inbound"
                } else {
                    "outbound"
                },
                state: l.state_name(),
                trunk: None,
                bridged_with: l.bridge.map(|b| b.0),
                conference: l.conference.map(|m| m.id.0),
                held: l.held_by_us || l.sig.held,
                rtp_port: l.endpoint.and_then(|ep| self.media.rtp_port(ep)),
                // A live leg's figures are read when `/calls` is (the registry's).
                media: l
                    .media_stats
                    .as_ref()
                    .map(crate::handle::MediaFigures::from),
            };
            match out.get_mut(i) {
                Some(old) => {
                    let kept = old.trunk.take().filter(|t| Some(t.as_str()) == trunk);
                    *old = crate::handle::LegSummary {
                        trunk: kept.or_else(|| trunk.map(str::to_owned)),
                        ..summary
                    };
                }
                None => out.push(crate::handle::LegSummary {
                    trunk: trunk.map(str::to_owned),
                    ..summary
                }),
            }
        }
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.phase == Phase::Ended {
            return;
        }
        match input {
            Input::Invite {
                tx,
                request,
                from,
                trunk,
            } => self.on_invite(now, tx, request, from, trunk),
            Input::Replacing {
                tx,
                request,
                from,
                trunk,
                replaces,
            } => self.on_replacing(now, tx, request, from, trunk, &replaces),
            Input::Request { tx, request, from } => self.on_request(now, tx, request, from),
            Input::Cancel { tx, request } => self.on_cancel(now, tx, &request),
            Input::Ack { request } => self.on_ack(now, &request),
            Input::Response { tx, response } => self.on_response(now, tx, response),
            Input::StrayResponse { response } => self.on_stray_response(&response),
            Input::TxFailed { tx, failure } => self.on_tx_failed(now, tx, failure),
            Input::Command(cmd) => self.on_command(now, cmd),
            Input::Media { ep, event } => self.on_media(now, ep, event),
            Input::ControlGone => self.on_control_gone(now),
            Input::Overflow => self.hang_up_all(now, Side::Edge, EndCause::ControlOverflow, None),
            Input::Shutdown => self.hang_up_all(now, Side::Edge, EndCause::Shutdown, Some(503)),
            Input::Resolved { dial, targets } => self.on_resolved(now, dial, targets),
        }
        self.settle(now);
    }

    /// The next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() {
            // Drained: a conversation waits far longer than it acts, and the
            // queue's slots are ~1 KiB.
            self.actions = VecDeque::new();
        }
        action
    }

    pub(crate) fn push(&mut self, action: Action) {
        if self.answers_challenges {
            self.keep_challengeable(&action);
        }
        self.actions.push_back(action);
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.push(Action::Event(event));
    }

    pub(crate) fn leg(&self, id: LegId) -> Option<&Leg> {
        // Leg ids are allocated in order from 1: the index is the id - 1.
        self.legs.get((id.0 as usize).wrapping_sub(1))
    }

    pub(crate) fn leg_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        self.legs.get_mut((id.0 as usize).wrapping_sub(1))
    }

    pub(crate) fn sig(&mut self, id: LegId) -> Option<&mut Signalling> {
        self.leg_mut(id).map(|l| &mut l.sig)
    }

    pub(crate) fn next_leg_id(&self) -> LegId {
        LegId(u32::try_from(self.legs.len() + 1).unwrap_or(u32::MAX))
    }

    /// The inbound leg that created the conversation, if any.
    pub(crate) fn first_inbound(&self) -> Option<&Leg> {
        self.legs.first().filter(|l| l.is_inbound())
    }

    /// Which leg a message belongs to, by Call-ID (each leg has its own).
    pub(crate) fn leg_of(&self, msg: &Message) -> Option<LegId> {
        let call_id = msg.call_id().ok()?;
        self.legs
            .iter()
            .find(|l| l.invite().call_id().ok() == Some(call_id))
            .map(|l| l.id)
    }

    pub(crate) fn dial(&self, id: DialId) -> Option<&DialState> {
        // A few dials per conversation, and refused ones have no state: a scan.
        self.dials.iter().find(|d| d.id == id)
    }

    pub(crate) fn dial_mut(&mut self, id: DialId) -> Option<&mut DialState> {
        self.dials.iter_mut().find(|d| d.id == id)
    }

    /// The id of the next dial: every `Dial` and `AcceptTransfer` takes one,
    /// refused or not, so a control plane can count them.
    pub(crate) fn take_dial_id(&mut self) -> DialId {
        self.dial_ids += 1;
        DialId(self.dial_ids)
    }

    /// The media region of a trunk, or the node's.
    pub(crate) fn trunk_region(&self, trunk: Option<&TrunkName>) -> String {
        trunk
            .and_then(|t| self.ctx.config.trunk(t))
            .map(|t| t.media_region.clone())
            .unwrap_or_else(|| self.ctx.config.node.region.clone())
    }

    /// Records a leg's end as the conversation's outcome-to-be.
    pub(crate) fn note_end(&mut self, side: Side, cause: EndCause, status: Option<u16>) {
        let reason = self.pending_q850.take();
        // A partner's end that follows from the same cause keeps its reason.
        let same = self
            .last_end
            .is_some_and(|e| e.side == side && e.cause == cause);
        if reason.is_some() || !same {
            self.end_q850 = reason;
        }
        self.last_end = Some(Outcome {
            side,
            cause,
            status,
        });
    }

    /// After every input: the end of the conversation when nothing is left
    /// in it, and the end once nothing is owed any more.
    pub(crate) fn settle(&mut self, now: Instant) {
        if self.phase == Phase::Active {
            self.reconcile(now);
            self.sync_media_formats();
            self.sync_comfort_silence();
            let live = self.legs.iter().any(|l| l.is_live());
            let dialing = self.dials.iter().any(|d| !d.done);
            let started = !self.legs.is_empty() || !self.dials.is_empty();
            if !live && !dialing && started {
                let outcome = self.last_end.unwrap_or(Outcome {
                    side: Side::Edge,
                    cause: EndCause::Normal,
                    status: None,
                });
                self.decide(now, outcome);
            }
        }
        self.maybe_finish();
    }

    /// Decides the outcome once (the first decision wins).
    pub(crate) fn decide(&mut self, now: Instant, outcome: Outcome) {
        if self.outcome.is_some() {
            return;
        }
        self.outcome = Some(outcome);
        self.timeline.end = Some(now);
        self.phase = Phase::Ending;
        self.terminate_transfers();
        self.abandon_relays();
        self.idle_deadline = None;
        self.media_check = None;
        // Nothing relays any more: the ports go back now, not when the last
        // BYE or CANCEL settles.
        self.close_media();
        self.wait_for_recordings(now);
        // The last transactions get 64*T1 at most to settle.
        self.ending_deadline = Some(now + self.ctx.timers.t1 * 64);
    }

    /// The conversation is over: a request relayed from one leg to another
    /// will not be answered through it any more. The requester gets 487
    /// (§15.1.2) and a relayed INVITE that rang is CANCELled (§9.1); one
    /// still without a provisional ends by Timer B. Otherwise both
    /// transactions would wait for ever: neither has a timer in Proceeding.
    fn abandon_relays(&mut self) {
        let mut pending: Vec<TxId> = self
            .relays
            .iter()
            .filter(|(_, r)| !r.abandoned)
            .map(|(tx, _)| *tx)
            .collect();
        pending.sort_unstable();
        for out_tx in pending {
            let Some(relay) = self.relays.get_mut(&out_tx) else {
                continue;
            };
            relay.abandoned = true;
            let (tx_in, request_in, from) = (relay.tx_in, relay.request_in.clone(), relay.from);
            let cancel = relay.provisional.then(|| relay.invite_out.take()).flatten();
            self.respond_to(tx_in, &request_in, 487, Some(from));
            if let Some(invite_out) = cancel {
                self.cancel_relayed(invite_out);
            }
        }
    }

    /// CANCELs a relayed INVITE (after its first provisional, §9.1).
    pub(crate) fn cancel_relayed(
        &mut self,
        (invite, to, tls_name): (Message, Peer, Option<String>),
    ) {
        let Ok(bytes) = voxgate_sip::message::cancel_for(&invite) else {
            return;
        };
        let Ok(request) = Message::parse(bytes, &voxgate_sip::message::Limits::default()) else {
            return;
        };
        let tx = TxId::next();
        self.own.insert(tx, Own::Cancel);
        self.push(Action::Send {
            tx,
            request,
            to,
            tls_name,
        });
    }

    /// Closes every endpoint, keeping each leg's counters and quality for the record.
    fn close_media(&mut self) {
        for i in 0..self.legs.len() {
            let leg = self.legs[i].id;
            self.media_closing(leg);
            if let Some(ep) = self.legs[i].endpoint.take() {
                self.legs[i].media_stats = self.media.media_stats(ep);
                self.legs[i].bridge = None;
            }
        }
        if self.recordings_pending() {
            // Their writers still report through the media events.
            self.media.close();
        } else {
            self.media.close_quietly();
        }
    }

    /// Ends the conversation when its outcome is decided and nothing is owed any more.
    pub(crate) fn maybe_finish(&mut self) {
        if self.phase != Phase::Ending {
            return;
        }
        let cancel_pending = self.legs.iter().any(|l| {
            l.outbound().is_some_and(|o| {
                o.pending()
                    && matches!(
                        o.cancel,
                        leg::CancelState::Sent(_) | leg::CancelState::Pending(_)
                    )
            })
        });
        let own_pending = self
            .own
            .values()
            .any(|o| matches!(o, Own::Bye | Own::Cancel));
        let bye_owed = self.legs.iter().any(|l| l.sig.bye_deferred);
        let ok_unacked = self.legs.iter().any(|l| l.sig.pending_ok.is_some());
        // A recording's file is being completed (bounded by recordings_deadline).
        let recording = self.recordings_pending();
        if !cancel_pending && !own_pending && !bye_owed && !ok_unacked && !recording {
            self.finish();
        }
    }

    pub(crate) fn finish(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        let outcome = self.outcome.or(self.last_end).unwrap_or(Outcome {
            side: Side::Edge,
            cause: EndCause::Shutdown,
            status: None,
        });
        if self.timeline.end.is_none() {
            self.timeline.end = self.timeline.answer.max(Some(self.timeline.invite));
        }
        self.close_media();
        self.give_up_on_recordings();
        let record = record::ConversationRecord::build(self, outcome);
        self.phase = Phase::Ended;
        self.event(Event::Ended {
            side: outcome.side,
            cause: outcome.cause,
        });
        self.push(Action::Ended(Box::new(record)));
    }
}

/// The standard reason phrase of a status code.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirection",
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
            display: na.display_lossy().map(|d| d.trim_matches('"').to_string()),
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
