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
//! Nothing here allocates per packet, reads a clock or touches a socket.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::anchor::RemoteMedia;
use crate::counters::{LegCounters, SeqTracker};
use crate::endpoint::{EndpointMedia, Events};
use crate::rtp::{Packet, classify};

mod engine;

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

/// Where to send a packet: from endpoint `ep`'s `line` `socket` to `addr`.
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
}

/// One endpoint on one media line: where its peer is, and what came from it.
#[derive(Clone, Debug, Default)]
pub struct LegState {
    signalled: Option<RemoteMedia>,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<(SocketKind, SocketAddr)>,
    /// When the latched RTP / RTCP source last sent.
    rtp_heard: Option<Instant>,
    rtcp_heard: Option<Instant>,
    seq: SeqTracker,
    counters: LegCounters,
    last_activity: Option<Instant>,
}

impl LegState {
    /// The counters so far.
    pub fn counters(&self) -> &LegCounters {
        &self.counters
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

    /// Admits a packet from `src` on the RTP stream (or, `rtcp`, the RTCP one
    /// on `socket`): the latched source always; another acceptable one once
    /// the latched source was silent for `relatch_after`; otherwise it is
    /// foreign.
    fn admit(
        &mut self,
        rtcp: Option<SocketKind>,
        src: SocketAddr,
        now: Instant,
        policy: &Policy<'_>,
    ) -> bool {
        let (latched, heard) = match rtcp {
            None => (
                self.latched_rtp.map(|a| (SocketKind::Rtp, a)),
                self.rtp_heard,
            ),
            Some(_) => (self.latched_rtcp, self.rtcp_heard),
        };
        let here = (rtcp.unwrap_or(SocketKind::Rtp), src);
        let take = match latched {
            Some(l) if l == here => true,
            Some(_) => {
                let silent =
                    heard.is_none_or(|t| now.saturating_duration_since(t) >= policy.relatch_after);
                silent && self.acceptable(src.ip(), policy.allowed)
            }
            None => self.acceptable(src.ip(), policy.allowed),
        };
        if !take {
            self.counters.foreign += 1;
            return false;
        }
        match rtcp {
            None => {
                if self.latched_rtp != Some(src) {
                    tracing::trace!(%src, "RTP source latched");
                }
                self.latched_rtp = Some(src);
                self.rtp_heard = Some(now);
            }
            Some(socket) => {
                if self.latched_rtcp != Some((socket, src)) {
                    tracing::trace!(?socket, %src, "RTCP source latched");
                }
                self.latched_rtcp = Some((socket, src));
                self.rtcp_heard = Some(now);
            }
        }
        true
    }
}

/// Who may latch.
struct Policy<'a> {
    allowed: &'a [IpNet],
    relatch_after: Duration,
}

/// One endpoint's state in the relay.
#[derive(Clone, Debug, Default)]
pub struct EndpointCore {
    lines: Vec<LegState>,
    allowed: Vec<IpNet>,
    bridge: Option<EndpointId>,
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
}

/// The endpoints of one session and the bridges between them.
#[derive(Clone, Debug, Default)]
pub struct SessionRelay {
    eps: Vec<Option<EndpointCore>>,
    relatch_after: Duration,
    /// The endpoints' media events, drained by `poll_event`.
    events: Events,
}

impl SessionRelay {
    /// No endpoint yet; a latched source gives way to another acceptable one
    /// after `relatch_after` of silence.
    pub fn new(relatch_after: Duration) -> SessionRelay {
        SessionRelay {
            eps: Vec::new(),
            relatch_after,
            events: Events::new(),
        }
    }

    /// Adds endpoint `ep` with `lines` media lines; `allowed` networks may
    /// latch besides the signalled addresses.
    pub fn add(&mut self, ep: EndpointId, lines: usize, allowed: Vec<IpNet>) {
        if self.eps.len() <= ep.index() {
            self.eps.resize_with(ep.index() + 1, || None);
        }
        self.eps[ep.index()] = Some(EndpointCore {
            lines: vec![LegState::default(); lines],
            allowed,
            bridge: None,
            dtls: false,
            media: Box::default(),
        });
    }

    /// Removes an endpoint (and its bridge).
    pub fn remove(&mut self, ep: EndpointId) {
        self.unbridge(ep);
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

    /// Joins `a` and `b`; each leaves the bridge it was in.
    pub fn bridge(&mut self, a: EndpointId, b: EndpointId) {
        if a == b || self.endpoint(a).is_none() || self.endpoint(b).is_none() {
            return;
        }
        self.unbridge(a);
        self.unbridge(b);
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

    /// Handles a datagram from `src` that arrived on `ep`'s `line` `socket`:
    /// classifies it, admits its source, counts it, and returns where to send
    /// it (the bridged endpoint's peer), or `None` to drop it.
    pub fn on_packet(
        &mut self,
        ep: EndpointId,
        line: usize,
        socket: SocketKind,
        src: SocketAddr,
        pkt: &[u8],
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
        let what = match classify(pkt, muxed) {
            Packet::Invalid => {
                leg.counters.invalid += 1;
                return None;
            }
            Packet::Rtp(header) => {
                if !leg.admit(None, src, now, &policy) {
                    return None;
                }
                leg.counters.rtp_packets += 1;
                leg.counters.rtp_bytes += pkt.len() as u64;
                leg.counters.seq_gaps += leg.seq.observe(header.ssrc, header.seq);
                e.media
                    .inspect(ep, line, now, &header, pkt, &mut self.events);
                Relayed::Rtp
            }
            Packet::Rtcp => {
                if !leg.admit(Some(socket), src, now, &policy) {
                    return None;
                }
                leg.counters.rtcp_packets += 1;
                leg.counters.rtcp_bytes += pkt.len() as u64;
                Relayed::Rtcp
            }
            kind @ (Packet::Dtls | Packet::Stun) => {
                if !leg.admit(on_rtcp, src, now, &policy) {
                    return None;
                }
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
        match target {
            Some((socket, addr)) => Some(Forward {
                ep: out_ep,
                line,
                socket,
                addr,
                what,
            }),
            None => {
                out_leg.counters.dropped += 1;
                None
            }
        }
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
mod tests;
