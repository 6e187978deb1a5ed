//! The relay's per-packet decision, sans-IO: classify, admit the source,
//! count, pick the target — for the endpoints of one session and the bridges
//! between them.
//!
//! An **endpoint** is one leg's media: per media line, where its peer said it
//! receives, where its peer actually sends from, and what came from it. Two
//! endpoints in a **bridge** have their media relayed line by line; an
//! endpoint in no bridge is terminated here (received, counted, not sent).
//!
//! Symmetric latching, hardened against hijack: the first valid packet from
//! an *acceptable* source fixes that peer's address for the stream (RTP, and
//! RTCP separately), and packets for the peer go there rather than to the
//! signalled address, which may be a private one behind NAT. Acceptable is
//! the signalled address's IP, or a network the endpoint allows (its trunk's
//! allow-list, its SIP peer). Another acceptable source takes over only once
//! the latched one fell silent for `relatch_after`; anything else is counted
//! as foreign and dropped.
//!
//! DTLS and STUN (RFC 7983) pass a bridge only when both endpoints negotiated
//! DTLS-SRTP end to end; otherwise they are counted and dropped.
//!
//! SDES-SRTP is terminated per endpoint line ([`SessionRelay::set_srtp`]):
//! a packet from an SRTP peer is authenticated and decrypted in place in the
//! receive buffer before anything else looks at it (only an authentic packet
//! latches), and one for an SRTP peer is protected in place before it is
//! sent; RTP↔SRTP and SRTP↔SRTP (different keys) both ways. A packet that
//! fails (forged, replayed, too old; or not protectable) is dropped and
//! counted ([`LegCounters::srtp`]).
//!
//! Two bridged endpoints whose legs negotiated different voice codecs
//! (G.711 µ-law on one, A-law on the other) have their voice transcoded on
//! the way, in place in the plain packet (after unprotect, before protect),
//! with the receiving leg's payload type ([`LegCounters::transcoded`]); and
//! where the receiving leg's peer asked for another ptime, it is
//! repacketised (`crate::endpoint`), its frames sent by `poll_transmit`.
//! An endpoint in a **conference** (`conference.rs`) is in no bridge: its
//! peer's voice goes into the conference's mixer, and the mix comes back out
//! of `poll_transmit` on the conference's own clock.
//!
//! Call quality per endpoint line ([`LegState::quality`], `crate::quality`):
//! every admitted RTP packet, plain after SRTP, updates the RFC 3550
//! statistics of what the peer sends (a few arithmetic operations on the
//! `now` passed in); every RTCP compound from the peer is read for its
//! report on what it receives and, answering an SR that went to it, the
//! round-trip time; it is then relayed as before. Voxgate's own reports on
//! the legs it terminates come out of the engine (`poll_transmit`).
//!
//! Nothing here allocates per packet, reads a clock or touches a socket.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::MediaError;
use crate::anchor::RemoteMedia;
use crate::counters::LegCounters;
use crate::endpoint::{Egress, EndpointMedia, Events};
use crate::quality::LineQuality;
use crate::rtp::{Packet, classify};
use crate::srtp::{SdesKeys, SrtpContext};

mod conference;
mod engine;

pub use conference::{ConferenceId, Membership, MixTotals};

/// An endpoint of a session; never reused within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub u32);

impl EndpointId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which of an endpoint line's two sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// The RTP socket (even port); also RTCP under rtcp-mux.
    Rtp,
    /// The RTCP socket (RTP + 1).
    Rtcp,
}

impl SocketKind {
    /// 0 for RTP, 1 for RTCP.
    pub fn index(self) -> usize {
        match self {
            SocketKind::Rtp => 0,
            SocketKind::Rtcp => 1,
        }
    }
}

/// What a forwarded packet is, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relayed {
    /// RTP.
    Rtp,
    /// RTCP.
    Rtcp,
    /// DTLS or STUN passed through.
    Other,
}

/// Where to send a packet: from endpoint `ep`'s `line` `socket` to `addr`,
/// the first `len` octets of the buffer given to
/// [`on_packet`](SessionRelay::on_packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The endpoint whose socket sends.
    pub ep: EndpointId,
    /// The media line.
    pub line: usize,
    /// Which of its sockets.
    pub socket: SocketKind,
    /// The peer's address.
    pub addr: SocketAddr,
    /// What it is.
    pub what: Relayed,
    /// Octets to send: the datagram's length, changed by SRTP (the tag
    /// removed from an SRTP peer's packet, added for an SRTP peer).
    pub len: usize,
    /// Its voice payload was transcoded into the receiving leg's codec.
    pub transcoded: bool,
}

/// One media line's SRTP: the keys in force and their contexts. A context
/// that could not be made is `None`: its direction drops every packet
/// rather than pass it in clear.
struct LineSrtp {
    keys: SdesKeys,
    /// Unprotects what the peer sends (its key).
    inbound: Option<SrtpContext>,
    /// Protects what goes to the peer (our key).
    outbound: Option<SrtpContext>,
}

impl std::fmt::Debug for LineSrtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SdesKeys and SrtpContext print no key material.
        f.debug_struct("LineSrtp")
            .field("suite", &self.keys.suite)
            .field("inbound", &self.inbound)
            .field("outbound", &self.outbound)
            .finish()
    }
}

impl LineSrtp {
    fn new(keys: &SdesKeys) -> LineSrtp {
        LineSrtp {
            keys: keys.clone(),
            inbound: keys.inbound().ok(),
            outbound: keys.outbound().ok(),
        }
    }

    /// Takes `keys` in force: a direction whose key (suite, key, lifetime,
    /// MKI) is unchanged keeps its context, so its rollover counter and
    /// replay window go on; a changed one starts afresh.
    fn update(&mut self, keys: &SdesKeys) {
        let same_suite = self.keys.suite == keys.suite;
        let old = &self.keys;
        if !(same_suite
            && old.remote == keys.remote
            && old.remote_lifetime == keys.remote_lifetime
            && old.remote_mki == keys.remote_mki)
        {
            self.inbound = keys.inbound().ok();
        }
        if !(same_suite
            && old.local == keys.local
            && old.local_lifetime == keys.local_lifetime
            && old.local_mki == keys.local_mki)
        {
            self.outbound = keys.outbound().ok();
        }
        self.keys = keys.clone();
    }
}

/// One endpoint on one media line: where its peer is, what came from it,
/// and its SRTP contexts if it is an SRTP line.
#[derive(Debug, Default)]
pub struct LegState {
    signalled: Option<RemoteMedia>,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<(SocketKind, SocketAddr)>,
    /// When the latched RTP / RTCP source last sent.
    rtp_heard: Option<Instant>,
    rtcp_heard: Option<Instant>,
    /// RFC 3550 statistics of what the peer sends, its RTCP reports, RTT.
    quality: LineQuality,
    counters: LegCounters,
    last_activity: Option<Instant>,
    /// Boxed: a context is ~1 KiB and most lines are plain RTP.
    srtp: Option<Box<LineSrtp>>,
}

impl LegState {
    /// The counters so far.
    pub fn counters(&self) -> &LegCounters {
        &self.counters
    }

    /// Reception quality: what the peer sends, what its reports say.
    pub fn quality(&self) -> &LineQuality {
        &self.quality
    }

    /// The peer's RTP source, once latched.
    pub fn latched_rtp(&self) -> Option<SocketAddr> {
        self.latched_rtp
    }

    /// The peer's RTCP source and the socket it arrived on, once latched.
    pub fn latched_rtcp(&self) -> Option<(SocketKind, SocketAddr)> {
        self.latched_rtcp
    }

    /// When the last valid packet from the peer arrived.
    pub fn last_activity(&self) -> Option<Instant> {
        self.last_activity
    }

    /// Sets the targets the peer signalled. A changed RTP address (or RTCP
    /// address or mux) forgets what was latched for it; returns true then.
    pub fn set_remote(&mut self, remote: Option<RemoteMedia>) -> bool {
        let old = std::mem::replace(&mut self.signalled, remote);
        let rtp = |r: Option<RemoteMedia>| r.and_then(|r| r.rtp);
        let rtcp = |r: Option<RemoteMedia>| r.map(|r| (r.rtcp, r.rtcp_mux));
        let mut reset = false;
        if old.is_none() || rtp(old) != rtp(remote) {
            reset |= self.latched_rtp.take().is_some();
            self.rtp_heard = None;
        }
        if rtcp(old) != rtcp(remote) {
            reset |= self.latched_rtcp.take().is_some();
            self.rtcp_heard = None;
        }
        reset
    }

    /// Where RTP for this peer goes: latched, else signalled.
    fn rtp_target(&self) -> Option<SocketAddr> {
        self.latched_rtp.or(self.signalled.and_then(|s| s.rtp))
    }

    /// Where RTCP for this peer goes, and from which socket: latched (the
    /// peer showed where it sends RTCP from), else per its SDP.
    fn rtcp_target(&self) -> Option<(SocketKind, SocketAddr)> {
        if self.latched_rtcp.is_some() {
            return self.latched_rtcp;
        }
        let s = self.signalled?;
        if s.rtcp_mux {
            self.rtp_target().map(|a| (SocketKind::Rtp, a))
        } else {
            s.rtcp.map(|a| (SocketKind::Rtcp, a))
        }
    }

    /// Whether `ip` may latch: the signalled address, or an allowed network.
    fn acceptable(&self, ip: IpAddr, allowed: &[IpNet]) -> bool {
        let ip = ip.to_canonical();
        let signalled = self.signalled.is_some_and(|s| {
            s.rtp.is_some_and(|a| a.ip().to_canonical() == ip)
                || s.rtcp.is_some_and(|a| a.ip().to_canonical() == ip)
        });
        signalled || allowed.iter().any(|n| n.contains(&ip))
    }

    /// Whether a packet from `src` on the RTP stream (or, `rtcp`, the RTCP
    /// one on `socket`) may be taken: from the latched source always; from
    /// another acceptable one once the latched source was silent for
    /// `relatch_after`; otherwise it is foreign (`None`). Nothing changes
    /// yet: only a packet that also authenticates (on an SRTP line) is taken.
    #[inline]
    fn may_take(
        &self,
        rtcp: Option<SocketKind>,
        src: SocketAddr,
        now: Instant,
        policy: &Policy<'_>,
    ) -> Option<Take> {
        let (latched, heard) = match rtcp {
            None => (
                self.latched_rtp.map(|a| (SocketKind::Rtp, a)),
                self.rtp_heard,
            ),
            Some(_) => (self.latched_rtcp, self.rtcp_heard),
        };
        let here = (rtcp.unwrap_or(SocketKind::Rtp), src);
        let acceptable = match latched {
            Some(l) if l == here => return Some(Take::Latched),
            Some(_) => {
                let silent =
                    heard.is_none_or(|t| now.saturating_duration_since(t) >= policy.relatch_after);
                silent && self.acceptable(src.ip(), policy.allowed)
            }
            None => self.acceptable(src.ip(), policy.allowed),
        };
        acceptable.then_some(Take::Latch)
    }

    /// Takes a packet [`may_take`](LegState::may_take) let through: its
    /// source is heard now, and latched if it was not.
    #[inline]
    fn take(&mut self, take: Take, rtcp: Option<SocketKind>, src: SocketAddr, now: Instant) {
        match (rtcp, take) {
            (None, Take::Latched) => self.rtp_heard = Some(now),
            (Some(_), Take::Latched) => self.rtcp_heard = Some(now),
            (None, Take::Latch) => {
                tracing::trace!(%src, "RTP source latched");
                self.latched_rtp = Some(src);
                self.rtp_heard = Some(now);
            }
            (Some(socket), Take::Latch) => {
                tracing::trace!(?socket, %src, "RTCP source latched");
                self.latched_rtcp = Some((socket, src));
                self.rtcp_heard = Some(now);
            }
        }
    }

    /// Whether this line is SRTP.
    pub fn is_srtp(&self) -> bool {
        self.srtp.is_some()
    }

    /// The peer's SRTP (SRTCP with `rtcp`) packet `buf[..len]` authenticated
    /// and decrypted in place: the plain length, or `None` (dropped, counted).
    /// A plain line passes it as it is: the check is inline, the work not, so
    /// that the plain path stays as short as it was.
    #[inline]
    fn unprotect(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Option<usize> {
        match self.srtp.as_deref_mut() {
            None => Some(len),
            Some(srtp) => srtp_in(srtp, &mut self.counters, buf, len, rtcp),
        }
    }

    /// `buf[..len]` protected in place for the peer: the SRTP length, or
    /// `None` (dropped, counted). A plain line sends it as it is.
    #[inline]
    fn protect(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Option<usize> {
        match self.srtp.as_deref_mut() {
            None => Some(len),
            Some(srtp) => srtp_out(srtp, &mut self.counters, buf, len, rtcp),
        }
    }

    /// Sets (or, `None`, removes) the line's SDES keys; see [`LineSrtp::update`].
    fn set_srtp(&mut self, keys: Option<&SdesKeys>) {
        match (keys, self.srtp.as_deref_mut()) {
            (None, _) => self.srtp = None,
            (Some(k), Some(srtp)) => srtp.update(k),
            (Some(k), None) => self.srtp = Some(Box::new(LineSrtp::new(k))),
        }
    }
}

/// Unprotects for [`LegState::unprotect`]; a failure is counted on the line.
#[inline(never)]
fn srtp_in(
    srtp: &mut LineSrtp,
    counters: &mut LegCounters,
    buf: &mut [u8],
    len: usize,
    rtcp: bool,
) -> Option<usize> {
    let done = match srtp.inbound.as_mut() {
        Some(ctx) if rtcp => ctx.unprotect_rtcp(buf, len),
        Some(ctx) => ctx.unprotect_rtp(buf, len),
        None => Err(MediaError::NoAcceptableCrypto),
    };
    done.inspect_err(|error| {
        tracing::trace!(%error, rtcp, "SRTP packet from the peer dropped");
        counters.srtp += 1;
    })
    .ok()
}

/// Protects for [`LegState::protect`]; a failure is counted on the line.
#[inline(never)]
fn srtp_out(
    srtp: &mut LineSrtp,
    counters: &mut LegCounters,
    buf: &mut [u8],
    len: usize,
    rtcp: bool,
) -> Option<usize> {
    let done = match srtp.outbound.as_mut() {
        Some(ctx) if rtcp => ctx.protect_rtcp(buf, len),
        Some(ctx) => ctx.protect_rtp(buf, len),
        None => Err(MediaError::NoAcceptableCrypto),
    };
    done.inspect_err(|error| {
        tracing::trace!(%error, rtcp, "SRTP packet for the peer dropped");
        counters.srtp += 1;
    })
    .ok()
}

/// How a packet's source is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Take {
    /// It is the latched source.
    Latched,
    /// It takes the latch.
    Latch,
}

/// Who may latch.
struct Policy<'a> {
    allowed: &'a [IpNet],
    relatch_after: Duration,
}

/// One endpoint's state in the relay.
#[derive(Debug, Default)]
pub struct EndpointCore {
    lines: Vec<LegState>,
    allowed: Vec<IpNet>,
    bridge: Option<EndpointId>,
    /// Its conference, if it is in one (then in no bridge): its voice is
    /// mixed, not relayed (`conference.rs`).
    mix: Option<Membership>,
    dtls: bool,
    /// What voxgate hears and says on the leg (`crate::endpoint`); boxed, so
    /// that the relay's per-packet state of an endpoint stays a few cache lines.
    media: Box<EndpointMedia>,
}

impl EndpointCore {
    /// Its lines.
    pub fn lines(&self) -> &[LegState] {
        &self.lines
    }

    /// The endpoint it is bridged with.
    pub fn bridge(&self) -> Option<EndpointId> {
        self.bridge
    }

    /// Its conference, if it is in one.
    pub fn conference(&self) -> Option<Membership> {
        self.mix
    }
}

/// The endpoints of one session and the bridges between them.
#[derive(Debug, Default)]
pub struct SessionRelay {
    eps: Vec<Option<EndpointCore>>,
    relatch_after: Duration,
    /// The endpoints' media events, drained by `poll_event`.
    events: Events,
    /// Conferences of three or more endpoints (or fewer, as they come and go).
    conferences: conference::Conferences,
    /// An instant and the wall-clock (NTP) time then, for RTCP sender reports.
    wall: Option<(Instant, crate::quality::rtcp::NtpTime)>,
}

impl SessionRelay {
    /// No endpoint yet; a latched source gives way to another acceptable one
    /// after `relatch_after` of silence.
    pub fn new(relatch_after: Duration) -> SessionRelay {
        SessionRelay {
            eps: Vec::new(),
            relatch_after,
            events: Events::new(),
            conferences: conference::Conferences::default(),
            wall: None,
        }
    }

    /// Adds endpoint `ep` with `lines` media lines; `allowed` networks may
    /// latch besides the signalled addresses.
    pub fn add(&mut self, ep: EndpointId, lines: usize, allowed: Vec<IpNet>) {
        if self.eps.len() <= ep.index() {
            self.eps.resize_with(ep.index() + 1, || None);
        }
        self.eps[ep.index()] = Some(EndpointCore {
            lines: (0..lines).map(|_| LegState::default()).collect(),
            allowed,
            bridge: None,
            mix: None,
            dtls: false,
            media: Box::default(),
        });
    }

    /// Removes an endpoint (and its bridge or conference).
    pub fn remove(&mut self, ep: EndpointId) {
        self.unbridge(ep);
        self.leave_conference(ep);
        if let Some(slot) = self.eps.get_mut(ep.index()) {
            *slot = None;
        }
    }

    /// One endpoint.
    pub fn endpoint(&self, ep: EndpointId) -> Option<&EndpointCore> {
        self.eps.get(ep.index())?.as_ref()
    }

    fn endpoint_mut(&mut self, ep: EndpointId) -> Option<&mut EndpointCore> {
        self.eps.get_mut(ep.index())?.as_mut()
    }

    /// Sets the targets `ep`'s peer signalled, per line (lines past `remote`
    /// get none). A new address resets latching for that line.
    pub fn set_remote(&mut self, ep: EndpointId, remote: &[RemoteMedia]) {
        if let Some(e) = self.endpoint_mut(ep) {
            for (i, leg) in e.lines.iter_mut().enumerate() {
                leg.set_remote(remote.get(i).copied());
            }
        }
    }

    /// `ep`'s peer negotiated DTLS-SRTP end to end.
    pub fn set_dtls(&mut self, ep: EndpointId, on: bool) {
        if let Some(e) = self.endpoint_mut(ep) {
            e.dtls = on;
        }
    }

    /// Sets the SDES keys in force on `ep`'s media lines (`None`, and lines
    /// past `keys`: plain RTP). A direction whose key did not change keeps
    /// its context (rollover counter, replay window); a new key starts a
    /// new one. Keys arrive here only through this call, never in a log.
    pub fn set_srtp(&mut self, ep: EndpointId, keys: &[Option<SdesKeys>]) {
        if let Some(e) = self.endpoint_mut(ep) {
            for (i, leg) in e.lines.iter_mut().enumerate() {
                leg.set_srtp(keys.get(i).and_then(Option::as_ref));
            }
        }
    }

    /// Joins `a` and `b`; each leaves the bridge or conference it was in.
    pub fn bridge(&mut self, a: EndpointId, b: EndpointId) {
        if a == b || self.endpoint(a).is_none() || self.endpoint(b).is_none() {
            return;
        }
        self.unbridge(a);
        self.unbridge(b);
        self.leave_conference(a);
        self.leave_conference(b);
        if let Some(e) = self.endpoint_mut(a) {
            e.bridge = Some(b);
        }
        if let Some(e) = self.endpoint_mut(b) {
            e.bridge = Some(a);
        }
    }

    /// Takes `ep` out of its bridge.
    pub fn unbridge(&mut self, ep: EndpointId) {
        let Some(other) = self.endpoint_mut(ep).and_then(|e| e.bridge.take()) else {
            return;
        };
        if let Some(o) = self.endpoint_mut(other) {
            o.bridge = None;
        }
    }

    /// Handles the datagram `buf[..len]` from `src` that arrived on `ep`'s
    /// `line` `socket`: classifies it, admits its source, counts it, and
    /// returns where to send it (the bridged endpoint's peer) and how many
    /// octets of `buf`, or `None` to drop it (or to hold it back: voxgate
    /// is playing or sending digits to the receiving leg). RTP it forwards
    /// is heard for digits on the way in and, on the way out, has its
    /// telephone-event payload type mapped and joins voxgate's stream on
    /// the receiving leg (`crate::endpoint`).
    ///
    /// `buf` is the receive buffer, changed in place: an SRTP peer's packet
    /// is authenticated and decrypted before anything looks at its payload,
    /// and a packet for an SRTP peer is protected, which needs
    /// [`MAX_OVERHEAD`](crate::srtp::MAX_OVERHEAD) octets of room after
    /// `len` (without it, the packet is dropped as unprotectable).
    #[allow(clippy::too_many_arguments)]
    pub fn on_packet(
        &mut self,
        ep: EndpointId,
        line: usize,
        socket: SocketKind,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> Option<Forward> {
        let relatch_after = self.relatch_after;
        let e = self.eps.get_mut(ep.index())?.as_mut()?;
        let policy = Policy {
            allowed: &e.allowed,
            relatch_after,
        };
        let leg = e.lines.get_mut(line)?;
        let muxed = socket == SocketKind::Rtp;
        let on_rtcp = (socket == SocketKind::Rtcp).then_some(SocketKind::Rtcp);
        let Some(pkt) = buf.get(..len) else {
            leg.counters.invalid += 1;
            return None;
        };
        let mut len = len;
        // The LSR value of an SR in RTCP from the peer: the receiving peer's
        // reports answering it give the RTT of that leg.
        let mut sr_relayed = None;
        let what = match classify(pkt, muxed) {
            Packet::Invalid => {
                leg.counters.invalid += 1;
                return None;
            }
            Packet::Rtp(header) => {
                let Some(take) = leg.may_take(None, src, now, &policy) else {
                    leg.counters.foreign += 1;
                    return None;
                };
                let wire = len;
                len = leg.unprotect(buf, len, false)?;
                leg.take(take, None, src, now);
                leg.counters.rtp_packets += 1;
                leg.counters.rtp_bytes += wire as u64;
                leg.quality.on_rtp(now, &header, len);
                // Digits are heard in the plain payload, after unprotect.
                let plain = buf.get(..len)?;
                e.media
                    .inspect(ep, line, now, &header, plain, &mut self.events);
                // A conference member's voice is mixed, never relayed.
                if let Some(m) = e.mix {
                    leg.last_activity = Some(now);
                    let format = e.media.format();
                    self.conferences
                        .push(now, ep, m.conference, format, line, &header, plain);
                    return None;
                }
                Relayed::Rtp
            }
            Packet::Rtcp => {
                let Some(take) = leg.may_take(Some(socket), src, now, &policy) else {
                    leg.counters.foreign += 1;
                    return None;
                };
                let wire = len;
                len = leg.unprotect(buf, len, true)?;
                leg.take(take, Some(socket), src, now);
                leg.counters.rtcp_packets += 1;
                leg.counters.rtcp_bytes += wire as u64;
                // DTLS-SRTP passes end to end: its SRTCP is opaque here.
                if !e.dtls {
                    sr_relayed = leg.quality.on_rtcp(now, buf.get(..len)?);
                }
                Relayed::Rtcp
            }
            kind @ (Packet::Dtls | Packet::Stun) => {
                let Some(take) = leg.may_take(on_rtcp, src, now, &policy) else {
                    leg.counters.foreign += 1;
                    return None;
                };
                leg.take(take, on_rtcp, src, now);
                if kind == Packet::Dtls {
                    leg.counters.dtls += 1;
                } else {
                    leg.counters.stun += 1;
                }
                if !e.dtls {
                    return None;
                }
                Relayed::Other
            }
        };
        // Every admitted packet counts, STUN and DTLS too: ICE consent checks
        // (RFC 7675) keep an end-to-end DTLS-SRTP call alive like RTP does.
        leg.last_activity = Some(now);
        let from_format = if what == Relayed::Rtp {
            e.media.format()
        } else {
            None
        };
        // Terminated by voxgate: received and counted, sent nowhere.
        let out_ep = e.bridge?;
        let out = self.eps.get_mut(out_ep.index())?.as_mut()?;
        if what == Relayed::Other && !out.dtls {
            return None;
        }
        let Some(out_leg) = out.lines.get_mut(line) else {
            // The bridged endpoint has no such line: nowhere to go.
            if let Some(leg) = self
                .eps
                .get_mut(ep.index())
                .and_then(Option::as_mut)
                .and_then(|e| e.lines.get_mut(line))
            {
                leg.counters.dropped += 1;
            }
            return None;
        };
        let target = match (what, socket) {
            (Relayed::Rtcp, _) | (Relayed::Other, SocketKind::Rtcp) => out_leg.rtcp_target(),
            _ => out_leg.rtp_target().map(|a| (SocketKind::Rtp, a)),
        };
        let Some((socket, addr)) = target else {
            out_leg.counters.dropped += 1;
            return None;
        };
        // voxgate's own stream on the receiving leg: a playback or digits
        // hold the partner's RTP back, else its voice is transcoded where the
        // legs' codecs differ, its telephone-event payload type is mapped and
        // its header joins that stream (on the plain packet: after
        // unprotect, before protect).
        let mut transcoded = false;
        if what == Relayed::Rtp && out.media.format().map_or(0, |f| f.line) == line {
            match out.media.egress(now, from_format, buf.get_mut(..len)?) {
                Egress::Held => return None,
                // Repacketised: sent through `poll_transmit`, protected there.
                Egress::Queued { transcoded } => {
                    out_leg.counters.transcoded += u64::from(transcoded);
                    return None;
                }
                Egress::Sent { transcoded: t } => transcoded = t,
            }
        }
        if what != Relayed::Other {
            len = out_leg.protect(buf, len, what == Relayed::Rtcp)?;
        }
        if transcoded {
            out_leg.counters.transcoded += 1;
        }
        if let Some(lsr) = sr_relayed {
            out_leg.quality.sr_sent(lsr, now);
        }
        Some(Forward {
            ep: out_ep,
            line,
            socket,
            addr,
            what,
            len,
            transcoded,
        })
    }

    /// Records the outcome of sending a packet `on_packet` returned.
    pub fn on_sent(&mut self, forward: &Forward, sent: bool) {
        let Some(leg) = self
            .eps
            .get_mut(forward.ep.index())
            .and_then(Option::as_mut)
            .and_then(|e| e.lines.get_mut(forward.line))
        else {
            return;
        };
        if sent {
            leg.counters.sent += 1;
        } else {
            leg.counters.dropped += 1;
        }
    }
}

#[cfg(test)]
mod repack_tests;
#[cfg(test)]
mod rtcp_tests;
#[cfg(test)]
mod srtp_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcode_tests;
