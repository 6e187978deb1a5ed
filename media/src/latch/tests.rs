//! The per-packet decision on a simulated clock.

use std::time::Duration;

use super::*;
use crate::sdp::Direction;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
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

/// `on_packet` on a copy of `pkt` in a receive buffer with room for SRTP.
trait Feed {
    fn feed(
        &mut self,
        ep: EndpointId,
        line: usize,
        socket: SocketKind,
        src: SocketAddr,
        pkt: &[u8],
        now: Instant,
    ) -> Option<Forward>;
}

impl Feed for SessionRelay {
    fn feed(
        &mut self,
        ep: EndpointId,
        line: usize,
        socket: SocketKind,
        src: SocketAddr,
        pkt: &[u8],
        now: Instant,
    ) -> Option<Forward> {
        let mut buf = [0u8; 1500];
        buf[..pkt.len()].copy_from_slice(pkt);
        self.on_packet(ep, line, socket, src, &mut buf, pkt.len(), now)
    }
}

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

/// A's peer sits behind NAT in its trunk's network 198.51.100.0/24; B's
/// peer sends from where it signalled.
fn relay_with(a: RemoteMedia, b: RemoteMedia) -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, vec![net("198.51.100.0/24")]);
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[a]);
    r.set_remote(B, &[b]);
    r.bridge(A, B);
    r
}

/// A bridged pair where A's peer signalled 10.0.0.1:4000/4001 and B's 192.0.2.2:6000/6001.
fn line() -> SessionRelay {
    relay_with(
        remote("10.0.0.1:4000", "10.0.0.1:4001", false),
        remote("192.0.2.2:6000", "192.0.2.2:6001", false),
    )
}

fn leg(r: &SessionRelay, ep: EndpointId) -> &LegState {
    &r.endpoint(ep).unwrap().lines()[0]
}

const A_NAT: &str = "198.51.100.1:31000";
const B_PEER: &str = "192.0.2.2:6000";

#[test]
fn rtp_goes_to_the_other_sides_signalled_address_until_latched() {
    let mut l = line();
    let t0 = Instant::now();
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa(B_PEER), &rtp(1), t0)
        .unwrap();
    assert_eq!(
        f,
        Forward {
            ep: A,
            line: 0,
            socket: SocketKind::Rtp,
            addr: sa("10.0.0.1:4000"),
            what: Relayed::Rtp,
            len: 172,
            transcoded: false,
        }
    );
    assert_eq!(leg(&l, B).latched_rtp(), Some(sa(B_PEER)));
    assert_eq!(leg(&l, B).last_activity(), Some(t0));

    // A's peer is behind NAT: it sends from elsewhere; that source wins.
    let t1 = t0 + Duration::from_millis(20);
    let f = l
        .feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), t1)
        .unwrap();
    assert_eq!(f.addr, sa(B_PEER));
    assert_eq!(f.ep, B);
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa(B_PEER), &rtp(2), t1)
        .unwrap();
    assert_eq!(f.addr, sa(A_NAT), "replies go to the latched source");
}

#[test]
fn other_sources_are_dropped_once_latched() {
    let mut l = line();
    let now = Instant::now();
    l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    assert_eq!(
        l.feed(A, 0, SocketKind::Rtp, sa("203.0.113.66:9"), &rtp(2), now),
        None
    );
    let c = leg(&l, A).counters();
    assert_eq!((c.rtp_packets, c.foreign), (1, 1));
    assert_eq!(leg(&l, A).latched_rtp(), Some(sa(A_NAT)));
}

#[test]
fn a_new_sdp_address_resets_latching_the_same_does_not() {
    let mut l = line();
    let now = Instant::now();
    l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    l.feed(
        A,
        0,
        SocketKind::Rtcp,
        sa("198.51.100.1:31001"),
        &rtcp(),
        now,
    )
    .unwrap();

    // A re-INVITE with the same address: nothing forgotten.
    l.set_remote(A, &[remote("10.0.0.1:4000", "10.0.0.1:4001", false)]);
    assert_eq!(leg(&l, A).latched_rtp(), Some(sa(A_NAT)));

    // A new address: latching starts over, traffic goes to the new address...
    l.set_remote(A, &[remote("10.0.0.9:4100", "10.0.0.9:4101", false)]);
    assert_eq!(leg(&l, A).latched_rtp(), None);
    assert_eq!(leg(&l, A).latched_rtcp(), None);
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa(B_PEER), &rtp(1), now)
        .unwrap();
    assert_eq!(f.addr, sa("10.0.0.9:4100"));
    // ...until the peer's first packet from its new source.
    l.feed(
        A,
        0,
        SocketKind::Rtp,
        sa("198.51.100.1:32000"),
        &rtp(2),
        now,
    )
    .unwrap();
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa(B_PEER), &rtp(2), now)
        .unwrap();
    assert_eq!(f.addr, sa("198.51.100.1:32000"));
}

#[test]
fn rtcp_uses_the_rtcp_sockets_and_latches_separately() {
    let mut l = line();
    let now = Instant::now();
    let f = l
        .feed(
            A,
            0,
            SocketKind::Rtcp,
            sa("198.51.100.1:31001"),
            &rtcp(),
            now,
        )
        .unwrap();
    assert_eq!(
        f,
        Forward {
            ep: B,
            line: 0,
            socket: SocketKind::Rtcp,
            addr: sa("192.0.2.2:6001"),
            what: Relayed::Rtcp,
            len: 8,
            transcoded: false,
        }
    );
    let f = l
        .feed(B, 0, SocketKind::Rtcp, sa("192.0.2.2:6001"), &rtcp(), now)
        .unwrap();
    assert_eq!(
        (f.socket, f.addr),
        (SocketKind::Rtcp, sa("198.51.100.1:31001"))
    );
    assert_eq!(leg(&l, A).counters().rtcp_packets, 1);
    assert_eq!(leg(&l, A).counters().rtcp_bytes, 8);
    assert_eq!(leg(&l, A).counters().rtp_packets, 0);
    // RTP on the RTCP socket is not RTCP.
    assert_eq!(
        l.feed(
            A,
            0,
            SocketKind::Rtcp,
            sa("198.51.100.1:31001"),
            &rtp(1),
            now
        ),
        None
    );
    assert_eq!(leg(&l, A).counters().invalid, 1);
}

#[test]
fn rtcp_mux_sends_rtcp_from_the_rtp_socket_to_the_rtp_address() {
    let mut l = relay_with(
        remote("10.0.0.1:4000", "10.0.0.1:4000", true),
        remote("192.0.2.2:6000", "192.0.2.2:6001", false),
    );
    let now = Instant::now();
    // B (no mux) sends RTCP on its RTCP socket; A gets it on the RTP port.
    let f = l
        .feed(B, 0, SocketKind::Rtcp, sa("192.0.2.2:6001"), &rtcp(), now)
        .unwrap();
    assert_eq!(
        (f.ep, f.socket, f.addr),
        (A, SocketKind::Rtp, sa("10.0.0.1:4000"))
    );
    // A's RTP latches to its NAT source; muxed RTCP follows it.
    l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    let f = l
        .feed(B, 0, SocketKind::Rtcp, sa("192.0.2.2:6001"), &rtcp(), now)
        .unwrap();
    assert_eq!((f.socket, f.addr), (SocketKind::Rtp, sa(A_NAT)));
    // A's muxed RTCP arrives on the RTP socket, counts as RTCP, goes to B's RTCP port.
    let f = l
        .feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtcp(), now)
        .unwrap();
    assert_eq!(
        (f.socket, f.addr, f.what),
        (SocketKind::Rtcp, sa("192.0.2.2:6001"), Relayed::Rtcp)
    );
    let c = leg(&l, A).counters();
    assert_eq!((c.rtp_packets, c.rtcp_packets), (1, 1));
    assert_eq!(
        leg(&l, A).latched_rtcp(),
        Some((SocketKind::Rtp, sa(A_NAT)))
    );
}

#[test]
fn a_peer_that_does_not_mux_after_all_is_learnt_from_its_rtcp() {
    // A's SDP offered rtcp-mux, but its RTCP comes to the RTCP socket.
    let mut l = relay_with(
        remote("10.0.0.1:4000", "10.0.0.1:4000", true),
        remote("192.0.2.2:6000", "192.0.2.2:6001", false),
    );
    let now = Instant::now();
    l.feed(
        A,
        0,
        SocketKind::Rtcp,
        sa("198.51.100.1:31001"),
        &rtcp(),
        now,
    )
    .unwrap();
    let f = l
        .feed(B, 0, SocketKind::Rtcp, sa("192.0.2.2:6001"), &rtcp(), now)
        .unwrap();
    assert_eq!(
        (f.socket, f.addr),
        (SocketKind::Rtcp, sa("198.51.100.1:31001"))
    );
}

#[test]
fn no_target_drops_and_counts_on_the_leg_it_was_for() {
    let mut l = SessionRelay::new(Duration::from_secs(2));
    l.add(A, 1, vec![net("198.51.100.0/24")]);
    l.add(B, 1, Vec::new());
    l.bridge(A, B);
    let now = Instant::now();
    // Nothing signalled for B yet: A's packet has nowhere to go.
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now), None);
    assert_eq!(leg(&l, B).counters().dropped, 1);
    assert_eq!(
        leg(&l, A).counters().rtp_packets,
        1,
        "received all the same"
    );
    // A hold with c=0.0.0.0: no RTP address either.
    l.set_remote(
        B,
        &[RemoteMedia {
            rtp: None,
            rtcp: None,
            rtcp_mux: false,
            direction: Direction::SendRecv,
        }],
    );
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(2), now), None);
    assert_eq!(leg(&l, B).counters().dropped, 2);
}

#[test]
fn invalid_packets_neither_latch_nor_count_as_activity() {
    let mut l = line();
    let now = Instant::now();
    let zrtp = [0x10u8; 28];
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &zrtp, now), None);
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &[], now), None);
    assert_eq!(leg(&l, A).counters().invalid, 2);
    assert_eq!(leg(&l, A).latched_rtp(), None);
    assert_eq!(leg(&l, A).last_activity(), None);
}

#[test]
fn counters_bytes_gaps_and_send_outcomes() {
    let mut l = line();
    let t0 = Instant::now();
    for (i, seq) in [65533u16, 65534, 0, 1, 3].into_iter().enumerate() {
        let now = t0 + Duration::from_millis(20 * i as u64);
        let f = l
            .feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(seq), now)
            .unwrap();
        l.on_sent(&f, seq != 1);
    }
    let a = leg(&l, A).counters();
    assert_eq!((a.rtp_packets, a.rtp_bytes), (5, 5 * 172));
    let lost = leg(&l, A).quality().figures().totals.lost;
    assert_eq!(lost, 2, "65535 and 2 missing, across the wrap");
    let b = leg(&l, B).counters();
    assert_eq!((b.sent, b.dropped), (4, 1));
    assert_eq!(
        leg(&l, A).last_activity(),
        Some(t0 + Duration::from_millis(80))
    );
}

// ---- hijack: who may latch ----

#[test]
fn a_source_outside_the_signalled_address_and_the_allowed_networks_never_latches() {
    let mut l = line();
    let now = Instant::now();
    // An attacker sprays B's anchored port before B's peer speaks.
    for seq in 0..10 {
        assert_eq!(
            l.feed(
                B,
                0,
                SocketKind::Rtp,
                sa("203.0.113.66:9999"),
                &rtp(seq),
                now
            ),
            None
        );
    }
    assert_eq!(leg(&l, B).latched_rtp(), None);
    assert_eq!(leg(&l, B).counters().foreign, 10);
    assert_eq!(leg(&l, B).counters().rtp_packets, 0);
    assert_eq!(leg(&l, B).last_activity(), None, "no activity either");
    // The real peer (its signalled address, any port: NAT may change it) latches.
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa("192.0.2.2:6100"), &rtp(1), now)
        .unwrap();
    assert_eq!(f.addr, sa("10.0.0.1:4000"));
    assert_eq!(leg(&l, B).latched_rtp(), Some(sa("192.0.2.2:6100")));
}

#[test]
fn another_allowed_source_takes_over_only_after_silence() {
    let mut l = line();
    let t0 = Instant::now();
    l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), t0)
        .unwrap();
    // Another address of A's trunk, while A's peer is talking: foreign.
    let other = sa("198.51.100.77:40000");
    let t1 = t0 + Duration::from_millis(1999);
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, other, &rtp(2), t1), None);
    assert_eq!(leg(&l, A).latched_rtp(), Some(sa(A_NAT)));
    // After 2 s of silence from the latched source it may take over (a
    // carrier's media server that failed over).
    let t2 = t0 + Duration::from_secs(2);
    l.feed(A, 0, SocketKind::Rtp, other, &rtp(3), t2).unwrap();
    assert_eq!(leg(&l, A).latched_rtp(), Some(other));
    // An address outside the allow-list never does, silence or not.
    let t3 = t2 + Duration::from_secs(60);
    assert_eq!(
        l.feed(A, 0, SocketKind::Rtp, sa("203.0.113.66:9"), &rtp(4), t3),
        None
    );
    assert_eq!(leg(&l, A).latched_rtp(), Some(other));
}

#[test]
fn an_endpoint_in_no_bridge_receives_and_counts_but_sends_nowhere() {
    let mut l = line();
    l.unbridge(A);
    let now = Instant::now();
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now), None);
    assert_eq!(leg(&l, A).counters().rtp_packets, 1);
    assert_eq!(leg(&l, A).latched_rtp(), Some(sa(A_NAT)));
    assert_eq!(leg(&l, B).counters().dropped, 0, "nothing was meant for B");
    assert_eq!(l.endpoint(B).unwrap().bridge(), None);
}

#[test]
fn rebridging_moves_media_to_the_new_partner() {
    let mut l = line();
    let c = EndpointId(2);
    l.add(c, 1, Vec::new());
    l.set_remote(c, &[remote("192.0.2.3:7000", "192.0.2.3:7001", false)]);
    l.bridge(A, c);
    assert_eq!(l.endpoint(B).unwrap().bridge(), None, "B left alone");
    let now = Instant::now();
    let f = l
        .feed(A, 0, SocketKind::Rtp, sa(A_NAT), &rtp(1), now)
        .unwrap();
    assert_eq!((f.ep, f.addr), (c, sa("192.0.2.3:7000")));
    l.remove(c);
    assert_eq!(l.endpoint(A).unwrap().bridge(), None);
}

#[test]
fn a_line_the_partner_lacks_drops_and_counts() {
    let mut l = SessionRelay::new(Duration::from_secs(2));
    l.add(A, 2, vec![net("198.51.100.0/24")]);
    l.add(B, 1, Vec::new());
    l.bridge(A, B);
    let now = Instant::now();
    assert_eq!(l.feed(A, 1, SocketKind::Rtp, sa(A_NAT), &rtp(1), now), None);
    assert_eq!(l.endpoint(A).unwrap().lines()[1].counters().dropped, 1);
}

/// A STUN Binding Request and a DTLS ClientHello record start.
const STUN: [u8; 20] = [
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
const DTLS: [u8; 25] = [
    22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0x20,
];

#[test]
fn dtls_and_stun_pass_only_when_both_ends_negotiated_dtls() {
    let mut l = line();
    let now = Instant::now();
    assert_eq!(l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &DTLS, now), None);
    l.set_dtls(A, true);
    assert_eq!(
        l.feed(A, 0, SocketKind::Rtp, sa(A_NAT), &DTLS, now),
        None,
        "B did not negotiate it"
    );
    l.set_dtls(B, true);
    let f = l
        .feed(A, 0, SocketKind::Rtp, sa(A_NAT), &DTLS, now)
        .unwrap();
    assert_eq!(
        (f.ep, f.addr, f.what),
        (B, sa("192.0.2.2:6000"), Relayed::Other)
    );
    let f = l
        .feed(B, 0, SocketKind::Rtp, sa(B_PEER), &STUN, now)
        .unwrap();
    assert_eq!(f.addr, sa(A_NAT), "latched by DTLS like RTP");
    let a = leg(&l, A).counters();
    assert_eq!((a.dtls, a.stun, a.invalid), (3, 0, 0));
    assert_eq!(leg(&l, B).counters().stun, 1);
}
