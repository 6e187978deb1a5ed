//! The per-packet decision on a simulated clock.

use std::time::Duration;

use super::*;
use crate::sdp::Direction;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn remote(rtp: &str, rtcp: &str, mux: bool) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(sa(rtp)),
        rtcp: Some(sa(rtcp)),
        rtcp_mux: mux,
        direction: Direction::SendRecv,
    }
}

fn rtp(seq: u16) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p
}

fn rtcp() -> [u8; 8] {
    [0x80, 201, 0, 1, 0, 0, 0, 1]
}

/// A line where A's peer signalled 10.0.0.1:4000/4001 and B's 192.0.2.2:6000/6001.
fn line() -> LineRelay {
    let mut l = LineRelay::new();
    l.set_remote(Side::A, remote("10.0.0.1:4000", "10.0.0.1:4001", false));
    l.set_remote(Side::B, remote("192.0.2.2:6000", "192.0.2.2:6001", false));
    l
}

const A_NAT: &str = "198.51.100.1:31000";
const B_PEER: &str = "192.0.2.2:6000";

#[test]
fn rtp_goes_to_the_other_sides_signalled_address_until_latched() {
    let mut l = line();
    let t0 = Instant::now();
    let f = l
        .on_packet(Side::B, SocketKind::Rtp, sa(B_PEER), &rtp(1), t0)
        .unwrap();
    assert_eq!(
        f,
        Forward {
            side: Side::A,
            socket: SocketKind::Rtp,
            addr: sa("10.0.0.1:4000"),
            rtcp: false
        }
    );
    assert_eq!(l.leg(Side::B).latched_rtp(), Some(sa(B_PEER)));
    assert_eq!(l.leg(Side::B).last_activity(), Some(t0));

    // A's peer is behind NAT: it sends from elsewhere; that source wins.
    let t1 = t0 + Duration::from_millis(20);
    let f = l
        .on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(1), t1)
        .unwrap();
    assert_eq!(f.addr, sa(B_PEER));
    assert_eq!(f.side, Side::B);
    let f = l
        .on_packet(Side::B, SocketKind::Rtp, sa(B_PEER), &rtp(2), t1)
        .unwrap();
    assert_eq!(f.addr, sa(A_NAT), "replies go to the latched source");
}

#[test]
fn other_sources_are_dropped_once_latched() {
    let mut l = line();
    let now = Instant::now();
    l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    assert_eq!(
        l.on_packet(Side::A, SocketKind::Rtp, sa("203.0.113.66:9"), &rtp(2), now),
        None
    );
    let c = l.leg(Side::A).counters();
    assert_eq!((c.rtp_packets, c.foreign), (1, 1));
    assert_eq!(l.leg(Side::A).latched_rtp(), Some(sa(A_NAT)));
}

#[test]
fn a_new_sdp_address_resets_latching_the_same_does_not() {
    let mut l = line();
    let now = Instant::now();
    l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    l.on_packet(
        Side::A,
        SocketKind::Rtcp,
        sa("198.51.100.1:31001"),
        &rtcp(),
        now,
    )
    .unwrap();

    // A re-INVITE with the same address: nothing forgotten.
    assert!(!l.set_remote(Side::A, remote("10.0.0.1:4000", "10.0.0.1:4001", false)));
    assert_eq!(l.leg(Side::A).latched_rtp(), Some(sa(A_NAT)));

    // A new address: latching starts over, traffic goes to the new address...
    assert!(l.set_remote(Side::A, remote("10.0.0.9:4100", "10.0.0.9:4101", false)));
    assert_eq!(l.leg(Side::A).latched_rtp(), None);
    assert_eq!(l.leg(Side::A).latched_rtcp(), None);
    let f = l
        .on_packet(Side::B, SocketKind::Rtp, sa(B_PEER), &rtp(1), now)
        .unwrap();
    assert_eq!(f.addr, sa("10.0.0.9:4100"));
    // ...until the peer's first packet from its new source.
    l.on_packet(
        Side::A,
        SocketKind::Rtp,
        sa("198.51.100.1:32000"),
        &rtp(2),
        now,
    )
    .unwrap();
    let f = l
        .on_packet(Side::B, SocketKind::Rtp, sa(B_PEER), &rtp(2), now)
        .unwrap();
    assert_eq!(f.addr, sa("198.51.100.1:32000"));
}

#[test]
fn rtcp_uses_the_rtcp_sockets_and_latches_separately() {
    let mut l = line();
    let now = Instant::now();
    let f = l
        .on_packet(
            Side::A,
            SocketKind::Rtcp,
            sa("198.51.100.1:31001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!(
        f,
        Forward {
            side: Side::B,
            socket: SocketKind::Rtcp,
            addr: sa("192.0.2.2:6001"),
            rtcp: true
        }
    );
    let f = l
        .on_packet(
            Side::B,
            SocketKind::Rtcp,
            sa("192.0.2.2:6001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!(
        (f.socket, f.addr),
        (SocketKind::Rtcp, sa("198.51.100.1:31001"))
    );
    assert_eq!(l.leg(Side::A).counters().rtcp_packets, 1);
    assert_eq!(l.leg(Side::A).counters().rtcp_bytes, 8);
    assert_eq!(l.leg(Side::A).counters().rtp_packets, 0);
    // RTP on the RTCP socket is not RTCP.
    assert_eq!(
        l.on_packet(
            Side::A,
            SocketKind::Rtcp,
            sa("198.51.100.1:31001"),
            &rtp(1),
            now
        ),
        None
    );
    assert_eq!(l.leg(Side::A).counters().invalid, 1);
}

#[test]
fn rtcp_mux_sends_rtcp_from_the_rtp_socket_to_the_rtp_address() {
    let mut l = LineRelay::new();
    l.set_remote(Side::A, remote("10.0.0.1:4000", "10.0.0.1:4000", true));
    l.set_remote(Side::B, remote("192.0.2.2:6000", "192.0.2.2:6001", false));
    let now = Instant::now();
    // B (no mux) sends RTCP on its RTCP socket; A gets it on the RTP port.
    let f = l
        .on_packet(
            Side::B,
            SocketKind::Rtcp,
            sa("192.0.2.2:6001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!(
        (f.side, f.socket, f.addr),
        (Side::A, SocketKind::Rtp, sa("10.0.0.1:4000"))
    );
    // A's RTP latches to its NAT source; muxed RTCP follows it.
    l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    let f = l
        .on_packet(
            Side::B,
            SocketKind::Rtcp,
            sa("192.0.2.2:6001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!((f.socket, f.addr), (SocketKind::Rtp, sa(A_NAT)));
    // A's muxed RTCP arrives on the RTP socket, counts as RTCP, goes to B's RTCP port.
    let f = l
        .on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtcp(), now)
        .unwrap();
    assert_eq!(
        (f.socket, f.addr, f.rtcp),
        (SocketKind::Rtcp, sa("192.0.2.2:6001"), true)
    );
    let c = l.leg(Side::A).counters();
    assert_eq!((c.rtp_packets, c.rtcp_packets), (1, 1));
    assert_eq!(
        l.leg(Side::A).latched_rtcp(),
        Some((SocketKind::Rtp, sa(A_NAT)))
    );
}

#[test]
fn a_peer_that_does_not_mux_after_all_is_learnt_from_its_rtcp() {
    // A's SDP offered rtcp-mux, but its RTCP comes to the RTCP socket.
    let mut l = LineRelay::new();
    l.set_remote(Side::A, remote("10.0.0.1:4000", "10.0.0.1:4000", true));
    l.set_remote(Side::B, remote("192.0.2.2:6000", "192.0.2.2:6001", false));
    let now = Instant::now();
    l.on_packet(
        Side::A,
        SocketKind::Rtcp,
        sa("198.51.100.1:31001"),
        &rtcp(),
        now,
    )
    .unwrap();
    let f = l
        .on_packet(
            Side::B,
            SocketKind::Rtcp,
            sa("192.0.2.2:6001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!(
        (f.socket, f.addr),
        (SocketKind::Rtcp, sa("198.51.100.1:31001"))
    );
}

#[test]
fn no_target_drops_and_counts_on_the_leg_it_was_for() {
    let mut l = LineRelay::new();
    let now = Instant::now();
    // Nothing signalled for B yet: A's packet has nowhere to go.
    assert_eq!(
        l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(1), now),
        None
    );
    assert_eq!(l.leg(Side::B).counters().dropped, 1);
    assert_eq!(
        l.leg(Side::A).counters().rtp_packets,
        1,
        "received all the same"
    );
    // A hold with c=0.0.0.0: no RTP address either.
    l.set_remote(
        Side::B,
        RemoteMedia {
            rtp: None,
            rtcp: None,
            rtcp_mux: false,
            direction: Direction::SendRecv,
        },
    );
    assert_eq!(
        l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(2), now),
        None
    );
    assert_eq!(l.leg(Side::B).counters().dropped, 2);
}

#[test]
fn invalid_packets_neither_latch_nor_count_as_activity() {
    let mut l = line();
    let now = Instant::now();
    let stun = [
        0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(
        l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &stun, now),
        None
    );
    assert_eq!(
        l.on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &[], now),
        None
    );
    assert_eq!(l.leg(Side::A).counters().invalid, 2);
    assert_eq!(l.leg(Side::A).latched_rtp(), None);
    assert_eq!(l.leg(Side::A).last_activity(), None);
}

#[test]
fn counters_bytes_gaps_and_send_outcomes() {
    let mut l = line();
    let t0 = Instant::now();
    for (i, seq) in [65533u16, 65534, 0, 1, 3].into_iter().enumerate() {
        let now = t0 + Duration::from_millis(20 * i as u64);
        let f = l
            .on_packet(Side::A, SocketKind::Rtp, sa(A_NAT), &rtp(seq), now)
            .unwrap();
        l.on_sent(&f, seq != 1);
    }
    let a = l.leg(Side::A).counters();
    assert_eq!((a.rtp_packets, a.rtp_bytes), (5, 5 * 172));
    assert_eq!(a.seq_gaps, 2, "65535 and 2 missing, across the wrap");
    let b = l.leg(Side::B).counters();
    assert_eq!((b.sent, b.dropped), (4, 1));
    assert_eq!(
        l.leg(Side::A).last_activity(),
        Some(t0 + Duration::from_millis(80))
    );
}
