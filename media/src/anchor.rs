//! Media anchoring (RFC 3264 offer/answer through the relay), sans-IO.
//!
//! An SDP received on one leg is rewritten for the other leg so that media
//! flows through voxgate's ports: `o=` becomes ours, `c=` and `m=` ports point
//! at the relay, ICE is removed (the relay is the only path, and candidates
//! would reveal the peer's internal addresses). Codecs and direction pass
//! through; the endpoints negotiate them with each other.
//!
//! Keys never pass: `a=crypto`, `a=key-mgmt` and `k=` are removed
//! ([`strip_keys`]); SDES-SRTP is terminated per leg, and what each leg gets
//! is written by its own [`SdesLeg`](crate::srtp::SdesLeg). DTLS attributes
//! (`a=fingerprint`, `a=setup`) are kept: DTLS-SRTP passes end to end.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::sdp::{Direction, MediaDescription, Origin, SessionDescription, Text};
use crate::srtp::strip_keys;
use compact_str::ToCompactString as _;

/// What one leg's side of the relay looks like to that leg's peer, per media line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address to put in `c=`.
    pub addr: IpAddr,
    /// The RTP port (even) to put in `m=`.
    pub rtp_port: u16,
    /// The RTCP port (`rtp_port + 1`).
    pub rtcp_port: u16,
}

/// The peer's signalled media targets for one media line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteMedia {
    /// Where to send RTP; `None` for port 0, no `c=` or the hold address `0.0.0.0`.
    pub rtp: Option<SocketAddr>,
    /// Where to send RTCP: `a=rtcp`, else RTP port + 1; the RTP address under rtcp-mux.
    pub rtcp: Option<SocketAddr>,
    /// RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The direction the peer signalled.
    pub direction: Direction,
}

/// Per leg: our `o=` line state, so that the version increments only when the
/// SDP we send on that leg changes (RFC 3264 §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginState {
    sess_id: u64,
    version: u64,
    /// The last SDP rewritten for this leg, as sent.
    last: Option<Vec<u8>>,
}

impl Default for OriginState {
    fn default() -> Self {
        Self::new()
    }
}

impl OriginState {
    /// A new origin: username `voxgate`, a random session id, version 1.
    pub fn new() -> OriginState {
        // Below 2^62 so that agents parsing it as a signed 64-bit number cope.
        OriginState {
            sess_id: rand::random::<u64>() >> 2,
            version: 1,
            last: None,
        }
    }

    /// The session id put in `o=`.
    pub fn sess_id(&self) -> u64 {
        self.sess_id
    }

    /// The version of the last SDP rewritten with this state.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets `sdp`'s `o=` to ours at `addr`; the version goes up only when the
    /// result differs from the last SDP stamped with this state (RFC 3264 §8).
    pub fn stamp(&mut self, sdp: &mut SessionDescription, addr: IpAddr) {
        sdp.set_origin(self.origin_for(addr));
        let bytes = sdp.to_bytes();
        match &self.last {
            Some(last) if *last != bytes => {
                self.version += 1;
                sdp.set_origin(self.origin_for(addr));
                self.last = Some(sdp.to_bytes());
            }
            Some(_) => {}
            None => self.last = Some(bytes),
        }
    }

    /// Our `o=` line at `addr` with the current version.
    pub fn origin_for(&self, addr: IpAddr) -> Origin {
        // Inline strings: building an origin allocates nothing (IPv4).
        Origin {
            username: Text::const_new("voxgate"),
            sess_id: self.sess_id.to_compact_string(),
            sess_version: self.version,
            net_type: Text::const_new("IN"),
            addr_type: Text::const_new(if addr.is_ipv4() { "IP4" } else { "IP6" }),
            addr: addr.to_compact_string(),
        }
    }
}

/// ICE attributes (RFC 8839): removed, since the relay is the only media path.
const ICE_ATTRIBUTES: &[&str] = &[
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "ice-pacing",
];

fn is_ice(name: &str) -> bool {
    ICE_ATTRIBUTES.contains(&name)
}

/// Rewrites `sdp` (received from one leg) for sending to the other leg.
///
/// - `o=` becomes ours; its version goes up only when the result differs from
///   the last SDP rewritten with `origin`.
/// - `c=` (session and media level) points at `local[i].addr`, except the hold
///   address `0.0.0.0`, which is kept (RFC 2543 hold passes through).
/// - `m=` ports become `local[i].rtp_port`; port 0 stays 0, and m-lines beyond
///   `local` get port 0 (no anchor for them: rejected).
/// - `a=rtcp` becomes our RTCP port, or is removed when `a=rtcp-mux` is present
///   (our RTCP port is always RTP + 1, the default without `a=rtcp`).
/// - ICE attributes are removed, and every key (`a=crypto`, `a=key-mgmt`,
///   `k=`): a key sent to one leg never reaches another. Codecs (formats,
///   rtpmap, fmtp, ptime, telephone-event), direction and DTLS attributes
///   pass unchanged.
pub fn rewrite(
    sdp: &SessionDescription,
    local: &[LocalMedia],
    origin: &mut OriginState,
) -> SessionDescription {
    rewrite_then(sdp, local, origin, |_| ()).0
}

/// [`rewrite`], with `edit` applied to the result before our `o=` is
/// stamped, so that the version counts what `edit` adds (a leg's own
/// `a=crypto` lines: sending the same SDP again keeps the version).
pub fn rewrite_then<R>(
    sdp: &SessionDescription,
    local: &[LocalMedia],
    origin: &mut OriginState,
    edit: impl FnOnce(&mut SessionDescription) -> R,
) -> (SessionDescription, R) {
    rewrite_owned_then(sdp.clone(), local, origin, edit)
}

/// [`rewrite_then`] of an SDP the caller owns (a copy it already edited,
/// such as one restricted to a trunk's codecs): rewritten in place, not
/// copied again.
pub fn rewrite_owned_then<R>(
    mut out: SessionDescription,
    local: &[LocalMedia],
    origin: &mut OriginState,
    edit: impl FnOnce(&mut SessionDescription) -> R,
) -> (SessionDescription, R) {
    let session_addr = local
        .first()
        .map(|l| l.addr)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    // Effective addresses before rewriting decide which lines are held by c=0.0.0.0.
    let held_by_address: Vec<bool> = out
        .media()
        .iter()
        .map(|m| m.connection().is_some_and(|a| a.is_unspecified()))
        .collect();
    let session_connection = out.connection();

    out.remove_attributes(is_ice);
    strip_keys(&mut out);
    if let Some(c) = session_connection
        && !c.is_unspecified()
    {
        out.set_connection(Some(session_addr));
    }
    let session_c = out.connection();

    for (i, m) in out.media_mut().iter_mut().enumerate() {
        m.remove_attributes(is_ice);
        let held = held_by_address.get(i).copied().unwrap_or(false);
        match local.get(i) {
            Some(l) if m.port() != 0 => anchor_line(m, l, held, session_c),
            _ => {
                // Rejected (or not anchored): port 0, and no peer address may leak.
                m.set_port(0);
                m.remove_attributes(|n| n == "rtcp");
                if m.has_own_connection() && !held {
                    m.set_connection(Some(local.get(i).map_or(session_addr, |l| l.addr)));
                }
            }
        }
    }

    let r = edit(&mut out);
    origin.stamp(&mut out, session_addr);
    (out, r)
}

fn anchor_line(m: &mut MediaDescription, l: &LocalMedia, held: bool, session_c: Option<IpAddr>) {
    m.set_port(l.rtp_port);
    if !held && (m.has_own_connection() || session_c != Some(l.addr)) {
        m.set_connection(Some(l.addr));
    }
    if m.rtcp_mux() {
        m.remove_attributes(|n| n == "rtcp");
    } else if let Some(rtcp) = m.attribute("rtcp") {
        // Keep the form: with an address when the peer gave one.
        let with_addr = rtcp.is_some_and(|v| v.split_ascii_whitespace().nth(1).is_some());
        let value = if with_addr {
            let family = if l.addr.is_ipv4() { "IP4" } else { "IP6" };
            format!("{} IN {family} {}", l.rtcp_port, l.addr)
        } else {
            l.rtcp_port.to_string()
        };
        m.set_attribute("rtcp", Some(&value));
    }
}

/// The peer's signalled media targets per m-line (`c=` + port; RTCP per
/// `a=rtcp` or port + 1, or the RTP address under rtcp-mux). The relay sends
/// there until latching learns the real source.
pub fn remote_targets(sdp: &SessionDescription) -> Vec<RemoteMedia> {
    sdp.media()
        .iter()
        .map(|m| target(m, m.rtcp_mux()))
        .collect()
}

/// The offerer's targets once the answer is known: rtcp-mux holds only where
/// the answer accepted it (RFC 5761 §5.1.1). Use this for the offering leg
/// after the answer; [`remote_targets`] of the answer is right for the answerer.
pub fn remote_targets_answered(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Vec<RemoteMedia> {
    offer
        .media()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let accepted = answer.media().get(i).is_some_and(|a| a.rtcp_mux());
            target(m, m.rtcp_mux() && accepted)
        })
        .collect()
}

fn target(m: &MediaDescription, mux: bool) -> RemoteMedia {
    let addr = m.connection().filter(|a| !a.is_unspecified());
    let rtp = match addr {
        Some(a) if m.port() != 0 => Some(SocketAddr::new(a, m.port())),
        _ => None,
    };
    let rtcp = match (rtp, mux) {
        (None, _) => None,
        (Some(rtp), true) => Some(rtp),
        (Some(rtp), false) => match m.rtcp() {
            Some((port, a)) => Some(SocketAddr::new(a.unwrap_or(rtp.ip()), port)),
            None => rtp
                .port()
                .checked_add(1)
                .map(|p| SocketAddr::new(rtp.ip(), p)),
        },
    };
    RemoteMedia {
        rtp,
        rtcp,
        rtcp_mux: mux,
        direction: m.direction(),
    }
}
