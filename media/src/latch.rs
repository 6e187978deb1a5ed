//! The relay's per-packet decision, sans-IO: classify, count, latch, pick the target.
//!
//! Symmetric latching: the first valid packet from a leg's peer on a socket
//! fixes that peer's address for the stream (RTP, and RTCP separately), and
//! packets for the peer go there rather than to the signalled address, which
//! may be a private address behind NAT. Packets from any other source are
//! dropped until a new SDP changes the signalled address (`set_remote`).
//!
//! Nothing here allocates, reads a clock or touches a socket.

use std::net::SocketAddr;
use std::time::Instant;

use crate::anchor::RemoteMedia;
use crate::counters::{LegCounters, SeqTracker};
use crate::rtp::{Packet, classify};

/// One of the two legs of a relayed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first leg (normally the caller's).
    A,
    /// The second leg.
    B,
}

impl Side {
    /// The other leg.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// 0 for A, 1 for B.
    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Which of a leg's two sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKind {
    /// The RTP socket (even port); also RTCP under rtcp-mux.
    Rtp,
    /// The RTCP socket (RTP + 1).
    Rtcp,
}

/// Where to send a packet: from `side`'s `socket` to `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The leg whose socket sends.
    pub side: Side,
    /// Which of its sockets.
    pub socket: SocketKind,
    /// The peer's address.
    pub addr: SocketAddr,
    /// RTCP (else RTP).
    pub rtcp: bool,
}

/// One leg of one media line: where its peer is, and what came from it.
#[derive(Clone, Debug, Default)]
pub struct LegState {
    signalled: Option<RemoteMedia>,
    latched_rtp: Option<SocketAddr>,
    latched_rtcp: Option<(SocketKind, SocketAddr)>,
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

    /// Where RTP for this leg's peer goes: latched, else signalled.
    fn rtp_target(&self) -> Option<SocketAddr> {
        self.latched_rtp.or(self.signalled.and_then(|s| s.rtp))
    }

    /// Where RTCP for this leg's peer goes, and from which socket: latched
    /// (the peer showed where it sends RTCP from), else per its SDP.
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
}

/// Both legs of one media line.
#[derive(Clone, Debug, Default)]
pub struct LineRelay {
    legs: [LegState; 2],
}

impl LineRelay {
    /// A line with no targets and nothing latched.
    pub fn new() -> LineRelay {
        LineRelay::default()
    }

    /// One leg's state.
    pub fn leg(&self, side: Side) -> &LegState {
        &self.legs[side.index()]
    }

    /// Sets the targets `side`'s peer signalled. A changed RTP address (or
    /// RTCP address or mux) forgets what was latched for it; returns true then.
    pub fn set_remote(&mut self, side: Side, remote: RemoteMedia) -> bool {
        let leg = &mut self.legs[side.index()];
        let old = leg.signalled.replace(remote);
        let (old_rtp, old_rtcp) = match old {
            Some(o) => (o.rtp, Some((o.rtcp, o.rtcp_mux))),
            None => (None, None),
        };
        let mut reset = false;
        if old.is_none() || old_rtp != remote.rtp {
            reset |= leg.latched_rtp.take().is_some();
        }
        if old_rtcp != Some((remote.rtcp, remote.rtcp_mux)) {
            reset |= leg.latched_rtcp.take().is_some();
        }
        if reset {
            tracing::trace!(?side, ?remote, "new media address, latching reset");
        }
        reset
    }

    /// Handles a datagram from `src` that arrived on `side`'s `socket`:
    /// classifies it, counts it, latches the source, and returns where to send
    /// it (the other leg's peer), or `None` to drop it.
    pub fn on_packet(
        &mut self,
        side: Side,
        socket: SocketKind,
        src: SocketAddr,
        pkt: &[u8],
        now: Instant,
    ) -> Option<Forward> {
        let leg = &mut self.legs[side.index()];
        let rtcp = match classify(pkt, socket == SocketKind::Rtp) {
            Packet::Invalid => {
                leg.counters.invalid += 1;
                return None;
            }
            Packet::Rtp(header) => {
                match leg.latched_rtp {
                    Some(a) if a != src => {
                        leg.counters.foreign += 1;
                        return None;
                    }
                    Some(_) => {}
                    None => {
                        tracing::trace!(?side, %src, "RTP source latched");
                        leg.latched_rtp = Some(src);
                    }
                }
                leg.counters.rtp_packets += 1;
                leg.counters.rtp_bytes += pkt.len() as u64;
                leg.counters.seq_gaps += leg.seq.observe(header.ssrc, header.seq);
                false
            }
            Packet::Rtcp => {
                match leg.latched_rtcp {
                    Some(l) if l != (socket, src) => {
                        leg.counters.foreign += 1;
                        return None;
                    }
                    Some(_) => {}
                    None => {
                        tracing::trace!(?side, ?socket, %src, "RTCP source latched");
                        leg.latched_rtcp = Some((socket, src));
                    }
                }
                leg.counters.rtcp_packets += 1;
                leg.counters.rtcp_bytes += pkt.len() as u64;
                true
            }
        };
        leg.last_activity = Some(now);

        let out_side = side.other();
        let out = &mut self.legs[out_side.index()];
        let target = if rtcp {
            out.rtcp_target()
        } else {
            out.rtp_target().map(|a| (SocketKind::Rtp, a))
        };
        match target {
            Some((socket, addr)) => Some(Forward {
                side: out_side,
                socket,
                addr,
                rtcp,
            }),
            None => {
                out.counters.dropped += 1;
                None
            }
        }
    }

    /// Records the outcome of sending a packet `on_packet` returned.
    pub fn on_sent(&mut self, forward: &Forward, sent: bool) {
        let counters = &mut self.legs[forward.side.index()].counters;
        if sent {
            counters.sent += 1;
        } else {
            counters.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests;
