//! A leg: one SIP dialog (inbound: we are the UAS; outbound: we are the
//! UAC) with its media endpoint, its place in the conversation's bridges, and
//! the offer/answer state voxgate keeps for it.

use super::media::EndpointId;
use std::sync::Arc;

/// A parsed SDP shared, not copied, between the places that keep it (an
/// inbound offer, a leg's remote SDP, a linked leg's dial): a deep copy is
/// one allocation per line.
pub(crate) type SharedSdp = Arc<SessionDescription>;
use super::*;
use voxgate_media::srtp::SdesLeg;
use voxgate_sip::dialog::prack::RSeq;
use voxgate_sip::dialog::{Negotiated, UacOffer};

/// Our 2xx to an INVITE on a leg, retransmitted until its ACK (§13.3.1.4).
#[derive(Debug)]
pub(crate) struct PendingOk {
    pub bytes: Bytes,
    pub cseq: u32,
    pub retransmit: Retransmit,
    /// The ACK carries the answer to an offer in our 2xx: forward it in the
    /// ACK of the linked leg's 2xx (that INVITE's CSeq), or take it ourselves
    /// (`OwnAnswer`).
    pub ack_answer: AckAnswer,
}

/// What the ACK of one of our 2xx must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckAnswer {
    /// Nothing: our 2xx answered an offer.
    None,
    /// Our 2xx relayed the linked leg's offer (late offer): the ACK's answer
    /// goes into that leg's ACK for the INVITE with this CSeq.
    Forward(LegId, u32),
    /// Our 2xx carried our own offer: the ACK's answer is for us.
    Ours,
}

/// Signalling state every leg has: its dialog, where its peer is, our SDP
/// origin on it, our pending 2xx, our last ACK, its session timer.
#[derive(Debug)]
pub(crate) struct Signalling {
    pub peer: Peer,
    pub tls_name: Option<String>,
    pub local: LocalAddr,
    pub dialog: Option<Dialog>,
    pub origin: OriginState,
    /// The last SDP body we sent on this leg (re-sent in refreshes; the base
    /// of our own re-offers).
    pub last_sdp: Option<Bytes>,
    pub pending_ok: Option<PendingOk>,
    /// Our latest ACKs on this leg, by their INVITE's CSeq: re-sent when
    /// that 2xx is. Several, because a 2xx can be repeated (our ACK lost)
    /// after a later re-INVITE completed; a peer repeats for 64*T1 at most.
    pub acks: Acks,
    pub timer: Option<SessionTimer>,
    /// The peer accepts UPDATE (its Allow), so refreshes can use it.
    pub allows_update: bool,
    /// Media is on hold from the peer's side.
    pub held: bool,
    /// Our BYE waits for the ACK of our 2xx (§15), or for its retransmissions
    /// to give up.
    pub bye_deferred: bool,
    /// An offer/answer exchange is in progress on this leg (ours, the peer's
    /// or one relayed through it): a crossing offer gets 491 (§14).
    pub offering: bool,
}

impl Signalling {
    /// Where requests within the dialog (and ACKs of 2xx) go.
    ///
    /// On a connection the peer opened (TCP, TLS): that connection while it
    /// is open (found by its id), and should it have closed, a new one to the
    /// dialog's next hop, its first route or remote target (RFC 3261
    /// §12.2.1.1, §18.1.1): the source port of a closed client connection
    /// reaches nothing. Otherwise the peer's address: over UDP that is
    /// symmetric signalling (RFC 3581, a NATed peer's Contact may be
    /// private), and on an outbound leg it is where we dialled.
    pub(crate) fn in_dialog_peer(&self) -> Peer {
        if self.peer.conn.is_none() || self.peer.transport == TransportKind::Udp {
            return self.peer;
        }
        let hop = self
            .dialog
            .as_ref()
            .and_then(|d| super::dial::Target::parse(d.next_hop(), self.peer.transport));
        match hop {
            Some(t) => Peer {
                addr: t.addr,
                ..self.peer
            },
            None => self.peer,
        }
    }

    pub(crate) fn new(peer: Peer, tls_name: Option<String>, local: LocalAddr) -> Signalling {
        Signalling {
            peer,
            tls_name,
            local,
            dialog: None,
            origin: OriginState::new(),
            last_sdp: None,
            pending_ok: None,
            acks: Acks::default(),
            timer: None,
            allows_update: false,
            held: false,
            bye_deferred: false,
            offering: false,
        }
    }
}

/// An inbound leg: the INVITE we are the UAS of.
#[derive(Debug)]
pub(crate) struct InLeg {
    /// The INVITE server transaction.
    pub tx: TxId,
    pub invite: Message,
    /// The To tag we answer with.
    pub tag: String,
    /// The SDP offer of the INVITE, if any.
    pub offer: Option<SharedSdp>,
    pub final_sent: bool,
    /// voxgate answered it itself (Answer, or as a Replaces), not a linked leg.
    pub answered_locally: bool,
    /// We sent 183 with our SDP (Answer early).
    pub early_sent: bool,
    pub supports_100rel: bool,
    /// The session-timer negotiation for our 2xx.
    pub session: Option<Negotiated>,
    /// Our RSeq, and which linked leg's RSeq each maps to (RFC 3262 pass-through).
    pub rseq: RSeq,
    pub rseq_map: Vec<(u32, LegId, u32)>,
    /// A linked dial is under way for it (the classic B2BUA connect).
    pub connecting: Option<DialId>,
}

/// Whether a CANCEL is owed to an outbound leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// Send it as soon as a provisional arrives (§9.1).
    Pending(CancelWhy),
    Sent(CancelWhy),
}

/// Why we cancel an outbound leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelWhy {
    /// The leg is not wanted any more (caller cancelled, hangup, another leg won).
    Over,
    /// It rang too long: the dial goes on with its next destination.
    RingTimeout,
}

/// An outbound leg: an INVITE we are the UAC of.
#[derive(Debug)]
pub(crate) struct OutLeg {
    pub dial: DialId,
    pub tx: TxId,
    pub invite: Message,
    pub destination: Destination,
    /// Our INVITE carried an SDP offer (else the 2xx carries one: late offer).
    pub offered: bool,
    /// That offer was our own (from the trunk's codecs), not a linked leg's.
    pub own_offer: bool,
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
    pub session: Option<UacOffer>,
}

impl OutLeg {
    /// Its INVITE is complete without an answer (final response, failure,
    /// CANCEL given up): no timer of the attempt applies any more.
    pub(crate) fn complete(&mut self) {
        self.done = true;
        self.trying_deadline = None;
        self.ring_deadline = None;
        self.cancel_deadline = None;
    }

    /// Still waiting for a final response.
    pub(crate) fn pending(&self) -> bool {
        !self.answered && !self.done
    }
}

/// Which way a leg goes.
#[derive(Debug)]
pub(crate) enum Dir {
    In(Box<InLeg>),
    Out(Box<OutLeg>),
}

/// What voxgate wants of a leg's media, reconciled by re-INVITE when it
/// differs from what was last negotiated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Want {
    /// voxgate holds the leg (sendonly/inactive towards it).
    pub hold: bool,
    /// The leg must use this codec (to be bridged without transcoding).
    pub codec: Option<voxgate_media::negotiate::Selected>,
    /// Bridge it with this leg once the codec is agreed.
    pub join: Option<LegId>,
}

/// A leg's place in a conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub id: crate::control_plane::ConferenceId,
    pub role: crate::control_plane::ConferenceRole,
    pub muted: bool,
}

/// One leg of a conversation.
#[derive(Debug)]
pub(crate) struct Leg {
    pub id: LegId,
    pub dir: Dir,
    pub sig: Signalling,
    pub trunk: Option<TrunkName>,
    pub region: String,
    /// Its media endpoint, once it has SDP to anchor.
    pub endpoint: Option<EndpointId>,
    /// Its pass-through partner: in-dialog offers and requests are relayed
    /// between the two, and one's end ends the other.
    pub link: Option<LegId>,
    /// The leg whose media it is bridged with.
    pub bridge: Option<LegId>,
    /// Its conference (then in no bridge).
    pub conference: Option<Member>,
    /// The peer's current SDP (its last offer or answer).
    pub remote_sdp: Option<SharedSdp>,
    /// What voxgate wants of its media; `held_by_us` is what was last agreed.
    pub want: Want,
    pub held_by_us: bool,
    /// The bridge partner it left when voxgate held it (for Resume).
    pub resume_to: Option<LegId>,
    /// The conference it left when voxgate held it (for Resume).
    pub rejoin: Option<Member>,
    /// Our re-INVITE on it was refused with 491: retry at this instant (§14.1).
    pub reoffer_at: Option<Instant>,
    /// A REFER waiting for the control plane: its transaction, request and deadline.
    pub refer: Option<PendingRefer>,
    /// An accepted REFER: the dial whose outcome is NOTIFYed on this leg.
    pub notify_dial: Option<DialId>,
    /// How it ended, once it did.
    pub ended: Option<(Side, EndCause)>,
    /// When it was answered.
    pub answered_at: Option<Instant>,
    /// Its media counters and call quality, taken when its endpoint closed.
    pub media_stats: Option<voxgate_media::LegMediaStats>,
    /// SDES-SRTP on it: its trunk's policy, our pending answer or offer, the
    /// keys in force (its own, never another leg's).
    pub sdes: SdesLeg,
    /// What its endpoint was told it negotiated, and the SDPs that said so
    /// (held, so that a pointer comparison tells a change: `leg_media.rs`).
    pub format: Option<voxgate_media::MediaFormat>,
    pub format_from: Option<(SharedSdp, Option<Bytes>)>,
    /// The playback on it, until its `PlaybackDone`.
    pub playing: Option<crate::control_plane::PlaybackId>,
    /// Its endpoint sends comfort silence (voxgate holds it).
    pub comfort_silence: bool,
    /// Digits waiting to go out by INFO, and whether one INFO is in flight.
    pub info_digits: std::collections::VecDeque<(crate::control_plane::Digit, Duration)>,
    pub info_pending: bool,
}

/// A REFER the control plane has not answered yet.
#[derive(Debug)]
pub(crate) struct PendingRefer {
    pub tx: TxId,
    pub request: Message,
    pub deadline: Instant,
}

impl Leg {
    pub(crate) fn new(
        id: LegId,
        dir: Dir,
        sig: Signalling,
        (trunk, region): (Option<TrunkName>, String),
        sdes: SdesLeg,
    ) -> Leg {
        Leg {
            id,
            dir,
            sig,
            trunk,
            region,
            endpoint: None,
            link: None,
            bridge: None,
            conference: None,
            remote_sdp: None,
            want: Want::default(),
            held_by_us: false,
            resume_to: None,
            rejoin: None,
            reoffer_at: None,
            refer: None,
            notify_dial: None,
            ended: None,
            answered_at: None,
            media_stats: None,
            sdes,
            format: None,
            format_from: None,
            playing: None,
            comfort_silence: false,
            info_digits: std::collections::VecDeque::new(),
            info_pending: false,
        }
    }

    pub(crate) fn inbound(&self) -> Option<&InLeg> {
        match &self.dir {
            Dir::In(i) => Some(i),
            Dir::Out(_) => None,
        }
    }

    pub(crate) fn inbound_mut(&mut self) -> Option<&mut InLeg> {
        match &mut self.dir {
            Dir::In(i) => Some(i),
            Dir::Out(_) => None,
        }
    }

    pub(crate) fn outbound(&self) -> Option<&OutLeg> {
        match &self.dir {
            Dir::Out(o) => Some(o),
            Dir::In(_) => None,
        }
    }

    pub(crate) fn outbound_mut(&mut self) -> Option<&mut OutLeg> {
        match &mut self.dir {
            Dir::Out(o) => Some(o),
            Dir::In(_) => None,
        }
    }

    pub(crate) fn is_inbound(&self) -> bool {
        matches!(self.dir, Dir::In(_))
    }

    /// The INVITE that created the leg.
    pub(crate) fn invite(&self) -> &Message {
        match &self.dir {
            Dir::In(i) => &i.invite,
            Dir::Out(o) => &o.invite,
        }
    }

    /// The side that is this leg's peer.
    pub(crate) fn peer_side(&self) -> Side {
        if self.is_inbound() {
            Side::Caller
        } else {
            Side::Callee
        }
    }

    /// Answered (a 2xx sent or received) and not ended.
    pub(crate) fn is_answered(&self) -> bool {
        self.ended.is_none() && self.answered_at.is_some()
    }

    /// Not ended.
    pub(crate) fn is_live(&self) -> bool {
        self.ended.is_none()
    }

    /// Our tag on the leg: the To tag of requests we receive on it.
    pub(crate) fn local_tag(&self) -> Option<String> {
        match &self.dir {
            Dir::In(i) => Some(i.tag.clone()),
            Dir::Out(_) => self.sig.dialog.as_ref().map(|d| d.local_tag.clone()),
        }
    }

    /// A short state name for `/calls` and the API.
    pub(crate) fn state_name(&self) -> &'static str {
        if let Some((_, cause)) = self.ended {
            return match (self.answered_at, cause) {
                (None, _) if !self.is_inbound() => "failed",
                _ => "ended",
            };
        }
        if self.answered_at.is_some() {
            return if self.held_by_us || self.sig.held {
                "held"
            } else {
                "answered"
            };
        }
        match &self.dir {
            Dir::In(i) if i.early_sent => "early",
            Dir::In(_) => "ringing",
            Dir::Out(o) if o.provisional => "ringing",
            Dir::Out(_) => "trying",
        }
    }
}

/// An initial INVITE we sent, kept for the responses of an attempt we gave
/// up on (trying timeout, lost race) that rings or answers after all, and
/// for the other forks of one we took.
#[derive(Debug)]
pub(crate) struct SentInvite {
    pub leg: LegId,
    pub invite: Message,
    pub to: Peer,
    pub tls_name: Option<String>,
    /// A late provisional got its CANCEL.
    pub cancelled: bool,
    /// Our ACKs to late (or forked) 2xx, by To tag: re-sent on a
    /// retransmission (the dialog had its BYE).
    pub acks: Vec<(String, Bytes)>,
}

/// The INVITEs of a conversation's outbound legs: a few at most, so a list
/// (a map's smallest table is ~1 KiB per conversation).
#[derive(Debug, Default)]
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

    /// Takes the INVITE sent in `tx` out (it is sent again in another).
    pub(crate) fn remove(&mut self, tx: &TxId) -> Option<SentInvite> {
        let i = self.0.iter().position(|(t, _)| t == tx)?;
        Some(self.0.remove(i).1)
    }

    /// The sent INVITE whose Call-ID is `call_id`.
    pub(crate) fn by_call_id(&self, call_id: &str) -> Option<(TxId, &SentInvite)> {
        self.0
            .iter()
            .find(|(_, s)| s.invite.call_id().ok() == Some(call_id))
            .map(|(t, s)| (*t, s))
    }
}

/// Our latest ACKs on a leg, by CSeq.
#[derive(Debug, Default)]
pub(crate) struct Acks(Vec<(u32, Bytes)>);

impl Acks {
    /// ACKs kept: more re-INVITEs than this within one 64*T1 while an ACK
    /// is lost are not worth the memory.
    const KEPT: usize = 4;

    /// Our ACK for the 2xx to the INVITE with CSeq `seq`.
    pub(crate) fn insert(&mut self, seq: u32, bytes: Bytes) {
        self.0.retain(|(s, _)| *s != seq);
        if self.0.len() == Self::KEPT {
            self.0.remove(0);
        }
        self.0.push((seq, bytes));
    }

    /// The ACK for CSeq `seq`, if we sent one.
    pub(crate) fn get(&self, seq: u32) -> Option<&Bytes> {
        self.0.iter().find(|(s, _)| *s == seq).map(|(_, b)| b)
    }
}
