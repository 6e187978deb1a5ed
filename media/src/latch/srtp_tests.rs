//! SDES-SRTP terminated per endpoint line: packets from an SRTP peer are
//! unprotected, packets for one protected; the bytes forwarded are checked
//! with the peers' own contexts.

use std::time::Duration;

use super::*;
use crate::sdp::Direction;
use crate::srtp::{self, CryptoSuite, MAX_OVERHEAD};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "10.0.0.1:4000";
const B_PEER: &str = "192.0.2.2:6000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn remote(rtp: &str, rtcp: &str) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(sa(rtp)),
        rtcp: Some(sa(rtcp)),
        rtcp_mux: false,
        direction: Direction::SendRecv,
    }
}

/// A PCMA packet whose payload tells packets apart.
fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0u8; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
    p
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// One leg's keys as voxgate holds them, and its peer's (the far end's
/// view: what it protects with and unprotects with).
struct Keys {
    ours: SdesKeys,
    peer: SdesKeys,
}

fn keys(suite: CryptoSuite) -> Keys {
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap();
    Keys { ours, peer }
}

fn relay() -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, Vec::new());
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[remote(A_PEER, "10.0.0.1:4001")]);
    r.set_remote(B, &[remote(B_PEER, "192.0.2.2:6001")]);
    r.bridge(A, B);
    r
}

/// Feeds `pkt` from `src` on `ep`'s RTP (or RTCP) socket; the forward and
/// the bytes it sends.
fn feed(
    r: &mut SessionRelay,
    ep: EndpointId,
    socket: SocketKind,
    src: &str,
    pkt: &[u8],
    now: Instant,
) -> Option<(Forward, Vec<u8>)> {
    let mut buf = vec![0u8; pkt.len() + MAX_OVERHEAD];
    buf[..pkt.len()].copy_from_slice(pkt);
    let f = r.on_packet(ep, 0, socket, sa(src), &mut buf, pkt.len(), now)?;
    Some((f, buf[..f.len].to_vec()))
}

fn protect(ctx: &mut SrtpContext, pkt: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = vec![0u8; pkt.len() + MAX_OVERHEAD];
    buf[..pkt.len()].copy_from_slice(pkt);
    let n = if rtcp {
        ctx.protect_rtcp(&mut buf, pkt.len())
    } else {
        ctx.protect_rtp(&mut buf, pkt.len())
    }
    .unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(ctx: &mut SrtpContext, pkt: &[u8], rtcp: bool) -> Result<Vec<u8>, MediaError> {
    let mut buf = pkt.to_vec();
    let n = if rtcp {
        ctx.unprotect_rtcp(&mut buf, pkt.len())
    } else {
        ctx.unprotect_rtp(&mut buf, pkt.len())
    }?;
    buf.truncate(n);
    Ok(buf)
}

fn counters(r: &SessionRelay, ep: EndpointId) -> LegCounters {
    *r.endpoint(ep).unwrap().lines()[0].counters()
}

#[test]
fn srtp_to_rtp_and_back_for_every_suite() {
    for suite in CryptoSuite::ALL {
        let k = keys(suite);
        let mut r = relay();
        r.set_srtp(A, &[Some(k.ours.clone())]);
        assert!(r.endpoint(A).unwrap().lines()[0].is_srtp());
        let (mut a_tx, mut a_rx) = (k.peer.outbound().unwrap(), k.peer.inbound().unwrap());
        let now = Instant::now();
        for seq in 0..5u16 {
            // A's peer sends SRTP: B's peer gets the plain packet.
            let plain = rtp(seq, 0xA);
            let wire = protect(&mut a_tx, &plain, false);
            assert_ne!(wire[12..172], plain[12..172], "encrypted on A's side");
            let (f, out) = feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).unwrap();
            assert_eq!((f.ep, f.addr, f.len), (B, sa(B_PEER), 172), "{suite:?}");
            assert_eq!(out, plain);
            // B's peer sends plain RTP: A's peer gets SRTP under our key.
            let plain = rtp(seq, 0xB);
            let (f, out) = feed(&mut r, B, SocketKind::Rtp, B_PEER, &plain, now).unwrap();
            assert_eq!(f.len, 172 + suite.rtp_tag_len());
            assert_eq!((f.ep, f.addr), (A, sa(A_PEER)));
            assert_eq!(unprotect(&mut a_rx, &out, false).unwrap(), plain);
        }
        // SRTCP both ways, on the RTCP sockets.
        let rr = rtcp_rr(0xA);
        let wire = protect(&mut a_tx, &rr, true);
        let (f, out) = feed(&mut r, A, SocketKind::Rtcp, "10.0.0.1:4001", &wire, now).unwrap();
        assert_eq!(
            (f.what, f.addr, out),
            (Relayed::Rtcp, sa("192.0.2.2:6001"), rr)
        );
        let rr = rtcp_rr(0xB);
        let (f, out) = feed(&mut r, B, SocketKind::Rtcp, "192.0.2.2:6001", &rr, now).unwrap();
        assert_eq!(f.len, rr.len() + suite.rtcp_overhead());
        assert_eq!(unprotect(&mut a_rx, &out, true).unwrap(), rr);
        let a = counters(&r, A);
        assert_eq!((a.rtp_packets, a.rtcp_packets, a.srtp), (5, 1, 0));
        assert_eq!(a.sent, 0, "on_sent was not called");
    }
}

#[test]
fn srtp_to_srtp_with_a_key_per_leg() {
    let (ka, kb) = (
        keys(CryptoSuite::AesCm128HmacSha1_80),
        keys(CryptoSuite::AeadAes128Gcm),
    );
    let mut r = relay();
    r.set_srtp(A, &[Some(ka.ours.clone())]);
    r.set_srtp(B, &[Some(kb.ours.clone())]);
    let mut a_tx = ka.peer.outbound().unwrap();
    let mut b_rx = kb.peer.inbound().unwrap();
    let now = Instant::now();
    let plain = rtp(7, 0xA);
    let wire = protect(&mut a_tx, &plain, false);
    let (f, out) = feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).unwrap();
    assert_eq!(f.len, 172 + 16, "re-protected under B's GCM key");
    assert_ne!(out, wire);
    assert_eq!(unprotect(&mut b_rx, &out, false).unwrap(), plain);
    // A's key does not open what B's peer gets.
    let mut a_rx = ka.peer.inbound().unwrap();
    assert!(unprotect(&mut a_rx, &out, false).is_err());
}

#[test]
fn plain_lines_are_untouched() {
    let mut r = relay();
    let now = Instant::now();
    let plain = rtp(1, 0xA);
    let (f, out) = feed(&mut r, A, SocketKind::Rtp, A_PEER, &plain, now).unwrap();
    assert_eq!((f.len, out), (172, plain));
    // Keys removed: plain again.
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    r.set_srtp(A, &[Some(k.ours)]);
    r.set_srtp(A, &[None]);
    let plain = rtp(2, 0xA);
    let (_, out) = feed(&mut r, A, SocketKind::Rtp, A_PEER, &plain, now).unwrap();
    assert_eq!(out, plain);
}

#[test]
fn forged_replayed_and_clear_packets_are_dropped_and_counted() {
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut r = relay();
    r.set_srtp(A, &[Some(k.ours.clone())]);
    let mut a_tx = k.peer.outbound().unwrap();
    let now = Instant::now();
    let wire = protect(&mut a_tx, &rtp(1, 0xA), false);
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_some());
    // The same packet again: a replay.
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_none());
    // A flipped bit in the payload: authentication fails.
    let mut forged = protect(&mut a_tx, &rtp(2, 0xA), false);
    forged[40] ^= 1;
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &forged, now).is_none());
    // Plain RTP on an SRTP line (no tag that verifies).
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &rtp(3, 0xA), now).is_none());
    // SRTCP that does not verify.
    let mut rr = protect(&mut a_tx, &rtcp_rr(0xA), true);
    rr[9] ^= 1;
    assert!(feed(&mut r, A, SocketKind::Rtcp, "10.0.0.1:4001", &rr, now).is_none());
    let a = counters(&r, A);
    assert_eq!((a.srtp, a.rtp_packets, a.rtcp_packets), (4, 1, 0));
    // The genuine next packet still passes.
    let wire = protect(&mut a_tx, &rtp(4, 0xA), false);
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_some());
}

#[test]
fn only_an_authentic_packet_latches() {
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, vec!["10.0.0.0/8".parse().unwrap()]);
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[remote(A_PEER, "10.0.0.1:4001")]);
    r.set_remote(B, &[remote(B_PEER, "192.0.2.2:6001")]);
    r.bridge(A, B);
    r.set_srtp(A, &[Some(k.ours.clone())]);
    let mut a_tx = k.peer.outbound().unwrap();
    let now = Instant::now();
    // An allowed source with garbage: not latched, B's media still goes to
    // the signalled address.
    assert!(
        feed(
            &mut r,
            A,
            SocketKind::Rtp,
            "10.9.9.9:5000",
            &rtp(1, 0xA),
            now
        )
        .is_none()
    );
    assert_eq!(r.endpoint(A).unwrap().lines()[0].latched_rtp(), None);
    let wire = protect(&mut a_tx, &rtp(1, 0xA), false);
    feed(&mut r, A, SocketKind::Rtp, "10.0.0.1:4100", &wire, now).unwrap();
    assert_eq!(
        r.endpoint(A).unwrap().lines()[0].latched_rtp(),
        Some(sa("10.0.0.1:4100"))
    );
    // After the latched source's silence, a forger still cannot take over.
    let later = now + Duration::from_secs(3);
    let mut forged = protect(&mut a_tx, &rtp(2, 0xA), false);
    forged[20] ^= 0x80;
    assert!(feed(&mut r, A, SocketKind::Rtp, "10.9.9.9:5000", &forged, later).is_none());
    assert_eq!(
        r.endpoint(A).unwrap().lines()[0].latched_rtp(),
        Some(sa("10.0.0.1:4100"))
    );
}

#[test]
fn unchanged_keys_keep_their_contexts_and_new_keys_start_afresh() {
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut r = relay();
    r.set_srtp(A, &[Some(k.ours.clone())]);
    let mut a_tx = k.peer.outbound().unwrap();
    let mut a_rx = k.peer.inbound().unwrap();
    let now = Instant::now();
    // Across the sequence number wrap, with the same keys set again in the
    // middle (a re-INVITE that kept them): the rollover counter goes on.
    let mut last = Vec::new();
    for (i, seq) in [65533u16, 65534, 65535, 0, 1, 2].into_iter().enumerate() {
        if i == 3 {
            r.set_srtp(A, &[Some(k.ours.clone())]);
        }
        let wire = protect(&mut a_tx, &rtp(seq, 0xA), false);
        assert!(
            feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_some(),
            "seq {seq}"
        );
        let (_, out) = feed(&mut r, B, SocketKind::Rtp, B_PEER, &rtp(seq, 0xB), now).unwrap();
        assert_eq!(unprotect(&mut a_rx, &out, false).unwrap(), rtp(seq, 0xB));
        last = wire;
    }
    // The replay window survived too.
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &last, now).is_none());
    assert_eq!(counters(&r, A).srtp, 1);
    // A new key from the peer (ours kept): the inbound context starts over,
    // the outbound one goes on.
    let offer = srtp::offer(&[CryptoSuite::AesCm128HmacSha1_80]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (_, fresh) = srtp::answer(values.iter().map(String::as_str), &CryptoSuite::ALL).unwrap();
    let mut rekeyed = k.ours.clone();
    rekeyed.remote = fresh.local.clone();
    r.set_srtp(A, &[Some(rekeyed)]);
    let mut new_tx = SrtpContext::new(&fresh.local, None);
    let wire = protect(&mut new_tx, &rtp(3, 0xA), false);
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_some());
    let (_, out) = feed(&mut r, B, SocketKind::Rtp, B_PEER, &rtp(3, 0xB), now).unwrap();
    assert_eq!(
        unprotect(&mut a_rx, &out, false).unwrap(),
        rtp(3, 0xB),
        "our outbound context went on"
    );
}

#[test]
fn a_duplicate_for_an_srtp_peer_is_not_protected_twice() {
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut r = relay();
    r.set_srtp(A, &[Some(k.ours)]);
    let now = Instant::now();
    assert!(feed(&mut r, B, SocketKind::Rtp, B_PEER, &rtp(9, 0xB), now).is_some());
    // B's peer repeats a packet: protecting it again would reuse keystream.
    assert!(feed(&mut r, B, SocketKind::Rtp, B_PEER, &rtp(9, 0xB), now).is_none());
    assert_eq!(counters(&r, A).srtp, 1, "counted on the leg it was for");
    assert_eq!(counters(&r, B).rtp_packets, 2);
}

#[test]
fn a_terminated_srtp_endpoint_still_authenticates() {
    let k = keys(CryptoSuite::AeadAes128Gcm);
    let mut r = relay();
    r.unbridge(A);
    r.set_srtp(A, &[Some(k.ours)]);
    let mut a_tx = k.peer.outbound().unwrap();
    let now = Instant::now();
    let wire = protect(&mut a_tx, &rtp(1, 0xA), false);
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_none());
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &wire, now).is_none());
    let a = counters(&r, A);
    assert_eq!((a.rtp_packets, a.srtp), (1, 1));
}

#[test]
fn no_room_for_the_tag_drops_rather_than_sends_in_clear() {
    let k = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut r = relay();
    r.set_srtp(A, &[Some(k.ours)]);
    let plain = rtp(1, 0xB);
    let mut buf = plain.clone();
    let f = r.on_packet(
        B,
        0,
        SocketKind::Rtp,
        sa(B_PEER),
        &mut buf,
        172,
        Instant::now(),
    );
    assert_eq!(f, None);
    assert_eq!(counters(&r, A).srtp, 1);
}
