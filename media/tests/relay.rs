//! The relay over real loopback sockets: endpoints and bridges, both
//! directions, NAT latching and hijack, RTCP, rtcp-mux, counters, activity
//! and hold, ports back to the pool.
//!
//! Each test has its own port range (below the ephemeral range, away from the
//! ranges of the sample config and the SIPp suite) so tests can run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};
use voxgate_media::sdp::Direction;
use voxgate_media::{
    EndpointId, EndpointSpec, EngineOptions, LegStats, LocalMedia, MediaEngine, MediaError,
    MediaSession, RegionAddress, RegionSpec, RemoteMedia,
};

const WAIT: Duration = Duration::from_secs(2);

fn region(name: &str, min: u16, max: u16) -> RegionSpec {
    RegionSpec {
        name: name.to_owned(),
        addresses: vec![RegionAddress {
            bind: "127.0.0.1".parse().unwrap(),
            advertise: None,
        }],
        port_min: min,
        port_max: max,
    }
}

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::new(
        &[
            region("r1", port_min, port_min + 99),
            region("r2", port_min + 100, port_min + 199),
        ],
        EngineOptions::default(),
    )
}

fn spec(region: &str, lines: usize) -> EndpointSpec<'_> {
    EndpointSpec {
        region,
        lines,
        peer: Some("127.0.0.1".parse().unwrap()),
        allowed_sources: Vec::new(),
    }
}

/// The two legs of a plain call: endpoint A (caller) and B (callee).
#[derive(Clone, Copy, Debug)]
enum Side {
    A,
    B,
}

/// A session with two endpoints bridged, as a plain call has.
struct Pair {
    s: MediaSession,
    a: EndpointId,
    b: EndpointId,
}

/// Both legs' counters.
#[derive(Debug)]
struct PairStats {
    a: Vec<LegStats>,
    b: Vec<LegStats>,
    last_activity: std::time::Instant,
}

impl PairStats {
    fn total(&self, side: Side) -> voxgate_media::counters::LegCounters {
        let mut sum = voxgate_media::counters::LegCounters::default();
        let lines = match side {
            Side::A => &self.a,
            Side::B => &self.b,
        };
        for l in lines {
            sum.add(&l.counters);
        }
        sum
    }
}

fn open(engine: &MediaEngine, ra: &str, rb: &str, lines: usize) -> Result<Pair, MediaError> {
    let s = engine.session()?;
    let a = s.add_endpoint(spec(ra, lines))?;
    let b = s.add_endpoint(spec(rb, lines))?;
    s.bridge(a, b);
    Ok(Pair { s, a, b })
}

impl Pair {
    fn ep(&self, side: Side) -> EndpointId {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    fn local(&self, side: Side) -> Vec<LocalMedia> {
        self.s.local(self.ep(side))
    }

    fn set_remote(&self, side: Side, remote: &[RemoteMedia]) {
        self.s.set_remote(self.ep(side), remote);
    }

    fn set_hold(&self, side: Side, held: bool) {
        self.s.set_hold(self.ep(side), held);
    }

    fn stats(&self) -> PairStats {
        PairStats {
            a: self.s.stats(self.a).unwrap().lines,
            b: self.s.stats(self.b).unwrap().lines,
            last_activity: self.s.last_activity(),
        }
    }
}

async fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// A leg's peer: an RTP and an RTCP socket.
struct Peer {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Peer {
    async fn new() -> Peer {
        Peer {
            rtp: socket().await,
            rtcp: socket().await,
        }
    }

    fn remote(&self, mux: bool) -> RemoteMedia {
        let rtp = self.rtp.local_addr().unwrap();
        RemoteMedia {
            rtp: Some(rtp),
            rtcp: Some(if mux {
                rtp
            } else {
                self.rtcp.local_addr().unwrap()
            }),
            rtcp_mux: mux,
            direction: Direction::SendRecv,
        }
    }
}

fn rtp_to(l: &LocalMedia) -> SocketAddr {
    SocketAddr::new(l.addr, l.rtp_port)
}

fn rtcp_to(l: &LocalMedia) -> SocketAddr {
    SocketAddr::new(l.addr, l.rtcp_port)
}

/// A 172-byte PCMA packet (12-byte header + 160 samples).
fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0xd5; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&0x5eed_0001u32.to_be_bytes());
    p
}

/// An RTCP receiver report (PT 201) with no report blocks.
fn rtcp_rr() -> Vec<u8> {
    vec![0x80, 201, 0, 1, 0x5e, 0xed, 0, 1]
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 2048];
    let (n, from) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("packet relayed")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

async fn nothing_arrives(sock: &UdpSocket, within: Duration) {
    let mut buf = [0; 2048];
    if let Ok(r) = timeout(within, sock.recv_from(&mut buf)).await {
        panic!("unexpected packet: {r:?}");
    }
}

/// Polls the session's stats until `done` holds (counters are published per batch).
async fn stats_until(s: &Pair, done: impl Fn(&PairStats) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let st = s.stats();
        if done(&st) {
            return;
        }
        assert!(Instant::now() < deadline, "stats never got there: {st:#?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn in_use_until(engine: &MediaEngine, region: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while engine.pool(region).unwrap().in_use() != n {
        assert!(
            Instant::now() < deadline,
            "in_use stuck at {}",
            engine.pool(region).unwrap().in_use()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn relays_rtp_both_ways_unchanged() {
    let engine = engine(24000);
    let s = open(&engine, "r1", "r2", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let (la, lb) = (s.local(Side::A)[0], s.local(Side::B)[0]);
    assert!((24000..24100).contains(&la.rtp_port) && la.rtp_port % 2 == 0);
    assert!((24100..24200).contains(&lb.rtp_port));
    assert_eq!(la.rtcp_port, la.rtp_port + 1);

    a.rtp.send_to(&rtp(1), rtp_to(&la)).await.unwrap();
    let (pkt, from) = recv(&b.rtp).await;
    assert_eq!(pkt, rtp(1), "payload type and bytes pass unchanged");
    assert_eq!(from, rtp_to(&lb), "sent from B's side of the relay");

    b.rtp.send_to(&rtp(7), rtp_to(&lb)).await.unwrap();
    let (pkt, from) = recv(&a.rtp).await;
    assert_eq!((pkt, from), (rtp(7), rtp_to(&la)));

    stats_until(&s, |st| {
        st.a[0].counters.sent == 1 && st.b[0].counters.sent == 1
    })
    .await;
    let st = s.stats();
    assert_eq!(st.a[0].counters.rtp_packets, 1);
    assert_eq!(st.a[0].counters.rtp_bytes, 172);
    assert_eq!(st.a[0].latched_rtp, Some(a.rtp.local_addr().unwrap()));
    let regions = engine.region_stats();
    assert_eq!(regions[0].0, "r1");
    assert_eq!(regions[0].1.packets_relayed, 1, "A→B counted in A's region");
    assert_eq!(regions[1].1.packets_relayed, 1);
    assert_eq!(
        (regions[0].1.ports_in_use, regions[1].1.ports_in_use),
        (1, 1)
    );
}

#[tokio::test]
async fn latches_to_the_real_source_behind_nat() {
    let engine = engine(24200);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    // A signals port X (a socket that should hear nothing once latched) but sends from Y.
    let signalled = Peer::new().await;
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[signalled.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let (la, lb) = (s.local(Side::A)[0], s.local(Side::B)[0]);

    // Before A sent anything, B's media goes to the signalled address.
    b.rtp.send_to(&rtp(1), rtp_to(&lb)).await.unwrap();
    assert_eq!(recv(&signalled.rtp).await.0, rtp(1));

    a.rtp.send_to(&rtp(1), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    b.rtp.send_to(&rtp(2), rtp_to(&lb)).await.unwrap();
    assert_eq!(
        recv(&a.rtp).await,
        (rtp(2), rtp_to(&la)),
        "replies go to the latched source"
    );
    nothing_arrives(&signalled.rtp, Duration::from_millis(100)).await;

    // A third party cannot take the stream over.
    let intruder = socket().await;
    intruder.send_to(&rtp(99), rtp_to(&la)).await.unwrap();
    nothing_arrives(&b.rtp, Duration::from_millis(100)).await;
    stats_until(&s, |st| st.a[0].counters.foreign == 1).await;

    // A re-INVITE with a new address resets latching: the next source wins.
    let moved = Peer::new().await;
    s.set_remote(Side::A, &[moved.remote(false)]);
    b.rtp.send_to(&rtp(3), rtp_to(&lb)).await.unwrap();
    assert_eq!(recv(&moved.rtp).await.0, rtp(3));
}

#[tokio::test]
async fn rtcp_is_relayed_between_the_rtcp_ports() {
    let engine = engine(24400);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let (la, lb) = (s.local(Side::A)[0], s.local(Side::B)[0]);

    a.rtcp.send_to(&rtcp_rr(), rtcp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtcp).await, (rtcp_rr(), rtcp_to(&lb)));
    b.rtcp.send_to(&rtcp_rr(), rtcp_to(&lb)).await.unwrap();
    assert_eq!(recv(&a.rtcp).await, (rtcp_rr(), rtcp_to(&la)));
    nothing_arrives(&a.rtp, Duration::from_millis(50)).await;

    stats_until(&s, |st| {
        st.b[0].counters.sent == 1 && st.a[0].counters.sent == 1
    })
    .await;
    let st = s.stats();
    assert_eq!(
        (st.a[0].counters.rtcp_packets, st.a[0].counters.rtp_packets),
        (1, 0)
    );
    assert_eq!(st.a[0].latched_rtcp, Some(a.rtcp.local_addr().unwrap()));
    assert_eq!(engine.region_stats()[0].1.rtcp_relayed, 2);
    assert_eq!(engine.region_stats()[0].1.packets_relayed, 0, "RTP only");
}

#[tokio::test]
async fn rtcp_mux_on_one_leg() {
    let engine = engine(24600);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(true)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let (la, lb) = (s.local(Side::A)[0], s.local(Side::B)[0]);

    // A muxes: RTCP (SR, PT 200) on its RTP port reaches B's RTCP port.
    let mut sr = vec![0u8; 28];
    sr[0] = 0x80;
    sr[1] = 200;
    sr[3] = 6;
    a.rtp.send_to(&sr, rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtcp).await, (sr.clone(), rtcp_to(&lb)));
    // B's RTCP reaches A on A's RTP port, from A's RTP port.
    b.rtcp.send_to(&rtcp_rr(), rtcp_to(&lb)).await.unwrap();
    assert_eq!(recv(&a.rtp).await, (rtcp_rr(), rtp_to(&la)));
    // RTP still flows on the same port.
    a.rtp.send_to(&rtp(5), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(5));

    stats_until(&s, |st| st.a[0].counters.rtp_packets == 1).await;
    let st = s.stats();
    assert_eq!(st.a[0].counters.rtcp_packets, 1);
    assert_eq!(st.a[0].counters.rtcp_bytes, 28);
    assert_eq!(st.b[0].counters.rtcp_packets, 1);
}

#[tokio::test]
async fn counts_packets_bytes_and_sequence_gaps() {
    let engine = engine(24800);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let la = s.local(Side::A)[0];

    // The numbers wrap 65535 → 0 without a gap; 1 and 4 are skipped (2 gaps);
    // the jump 5 → 20000 is a restart, not a gap.
    let seqs = [65533u16, 65534, 65535, 0, 2, 3, 5, 20000, 20001];
    for seq in seqs {
        a.rtp.send_to(&rtp(seq), rtp_to(&la)).await.unwrap();
        assert_eq!(recv(&b.rtp).await.0, rtp(seq));
    }
    let n = seqs.len() as u64;
    stats_until(&s, |st| st.a[0].counters.rtp_packets == n).await;
    let st = s.stats();
    let c = st.a[0].counters;
    assert_eq!((c.rtp_bytes, c.invalid), (172 * n, 0));
    let q = st.a[0].quality.totals;
    assert_eq!(
        q.lost, 2,
        "1 and 4 missing; the restart at 20000 is no loss"
    );
    assert_eq!(q.packets, n);
    assert_eq!(st.b[0].counters.sent, n);
    assert_eq!(st.total(Side::A).rtp_packets, n);

    // Junk is counted, not relayed.
    a.rtp.send_to(b"not rtp", rtp_to(&la)).await.unwrap();
    stats_until(&s, |st| st.a[0].counters.invalid == 1).await;
    nothing_arrives(&b.rtp, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn media_lines_are_relayed_independently() {
    let engine = engine(25000);
    let s = open(&engine, "r1", "r1", 2).unwrap();
    let (a0, b0, a1, b1) = (
        Peer::new().await,
        Peer::new().await,
        Peer::new().await,
        Peer::new().await,
    );
    s.set_remote(Side::A, &[a0.remote(false), a1.remote(false)]);
    s.set_remote(Side::B, &[b0.remote(false), b1.remote(false)]);
    let (la, lb) = (s.local(Side::A), s.local(Side::B));
    assert_eq!((la.len(), lb.len()), (2, 2));
    a1.rtp.send_to(&rtp(1), rtp_to(&la[1])).await.unwrap();
    assert_eq!(recv(&b1.rtp).await, (rtp(1), rtp_to(&lb[1])));
    b0.rtp.send_to(&rtp(2), rtp_to(&lb[0])).await.unwrap();
    assert_eq!(recv(&a0.rtp).await, (rtp(2), rtp_to(&la[0])));
    nothing_arrives(&b0.rtp, Duration::from_millis(50)).await;
    // A line the SDP does not cover has no target.
    s.set_remote(Side::B, &[b0.remote(false)]);
    a1.rtp.send_to(&rtp(2), rtp_to(&la[1])).await.unwrap();
    stats_until(&s, |st| st.b[1].counters.dropped == 1).await;
}

#[tokio::test]
async fn activity_is_the_last_media_or_hold_change() {
    let engine = engine(25200);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let la = s.local(Side::A)[0];
    let opened = s.stats().last_activity;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Media moves the activity forward.
    a.rtp.send_to(&rtp(1), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    stats_until(&s, |st| st.last_activity > opened).await;
    let after_media = s.stats().last_activity;
    // Junk and foreign packets do not.
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.rtp.send_to(b"junk", rtp_to(&la)).await.unwrap();
    stats_until(&s, |st| st.a[0].counters.invalid == 1).await;
    assert_eq!(s.stats().last_activity, after_media);
    // A hold change does (the conversation's inactivity timer starts over).
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.set_hold(Side::B, true);
    let held = s.stats().last_activity;
    assert!(held > after_media);
    // Setting the same hold again is no change.
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.set_hold(Side::B, true);
    assert_eq!(s.stats().last_activity, held);
}

#[tokio::test]
async fn ports_go_back_to_the_pool_on_removal_and_drop() {
    let engine = engine(25800);
    let s1 = open(&engine, "r1", "r2", 2).unwrap();
    let s2 = open(&engine, "r1", "r1", 1).unwrap();
    assert_eq!(engine.pool("r1").unwrap().in_use(), 4);
    assert_eq!(engine.pool("r2").unwrap().in_use(), 2);
    let ports: Vec<u16> = s1.local(Side::A).iter().map(|l| l.rtp_port).collect();

    // One endpoint removed: its ports go back, the other's stay.
    s1.s.remove_endpoint(s1.b);
    in_use_until(&engine, "r2", 0).await;
    assert_eq!(engine.pool("r1").unwrap().in_use(), 4);
    assert!(s1.s.local(s1.b).is_empty());
    drop(s1);
    drop(s2);
    in_use_until(&engine, "r1", 0).await;
    assert_eq!(engine.region_stats()[0].1.ports_in_use, 0);

    // The sockets are closed: the ports can be bound again.
    for p in ports {
        std::net::UdpSocket::bind(("127.0.0.1", p)).unwrap();
        std::net::UdpSocket::bind(("127.0.0.1", p + 1)).unwrap();
    }
}

#[tokio::test]
async fn endpoint_errors() {
    let engine = engine(26000);
    let s = engine.session().unwrap();
    assert!(matches!(
        s.add_endpoint(spec("nowhere", 1)),
        Err(MediaError::UnknownRegion { region }) if region == "nowhere"
    ));
    assert!(matches!(
        s.add_endpoint(spec("r1", 17)),
        Err(MediaError::TooManyLines {
            lines: 17,
            limit: 16
        })
    ));
    // 5 pairs: a 3-line endpoint fits, a second one cannot...
    let small = MediaEngine::new(&[region("s", 26400, 26409)], EngineOptions::default());
    let s = small.session().unwrap();
    s.add_endpoint(spec("s", 3)).unwrap();
    assert!(matches!(
        s.add_endpoint(spec("s", 3)),
        Err(MediaError::PortsExhausted {
            port_min: 26400,
            port_max: 26409,
            ..
        })
    ));
    // ...and the pairs it took on the way are back; the refusal is counted.
    assert_eq!(small.pool("s").unwrap().in_use(), 3);
    assert_eq!(small.region_stats()[0].1.ports_exhausted, 1);
    drop(s);
    in_use_until(&small, "s", 0).await;
}

#[test]
fn a_session_outside_a_runtime_is_an_error() {
    let engine = engine(26200);
    assert!(matches!(engine.session(), Err(MediaError::NoRuntime)));
    assert_eq!(engine.pool("r1").unwrap().in_use(), 0);
}

// ---- more than two endpoints, terminated endpoints, hijack ----

#[tokio::test]
async fn a_leg_moves_between_bridges_without_touching_its_ports() {
    // Caller A talks to agent B; then B is unbridged (A terminated by voxgate:
    // counted, nothing relayed); then A is bridged with a consult leg C.
    let engine = engine(26600);
    let s = engine.session().unwrap();
    let a = s.add_endpoint(spec("r1", 1)).unwrap();
    let b = s.add_endpoint(spec("r1", 1)).unwrap();
    let c = s.add_endpoint(spec("r1", 1)).unwrap();
    let (pa, pb, pc) = (Peer::new().await, Peer::new().await, Peer::new().await);
    s.set_remote(a, &[pa.remote(false)]);
    s.set_remote(b, &[pb.remote(false)]);
    s.set_remote(c, &[pc.remote(false)]);
    let (la, lb, lc) = (s.local(a)[0], s.local(b)[0], s.local(c)[0]);
    s.bridge(a, b);
    pa.rtp.send_to(&rtp(1), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&pb.rtp).await, (rtp(1), rtp_to(&lb)));

    s.unbridge(a);
    pa.rtp.send_to(&rtp(2), rtp_to(&la)).await.unwrap();
    nothing_arrives(&pb.rtp, Duration::from_millis(100)).await;
    nothing_arrives(&pc.rtp, Duration::from_millis(10)).await;
    let counted = |s: &MediaSession| s.stats(a).unwrap().lines[0].counters.rtp_packets;
    let deadline = Instant::now() + WAIT;
    while counted(&s) < 2 {
        assert!(
            Instant::now() < deadline,
            "A's media not counted while alone"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    s.bridge(a, c);
    pa.rtp.send_to(&rtp(3), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&pc.rtp).await, (rtp(3), rtp_to(&lc)));
    pc.rtp.send_to(&rtp(9), rtp_to(&lc)).await.unwrap();
    assert_eq!(
        recv(&pa.rtp).await,
        (rtp(9), rtp_to(&la)),
        "same ports for A"
    );
    // B is alone now: what it sends goes nowhere.
    pb.rtp.send_to(&rtp(4), rtp_to(&lb)).await.unwrap();
    nothing_arrives(&pa.rtp, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn rtp_sprayed_from_a_foreign_source_changes_nothing() {
    // The attacker sits on 127.0.0.2, in no allowed network and not the
    // signalled address; it sprays the caller's anchored port before and
    // during the call.
    let engine = engine(26800);
    let s = open(&engine, "r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let (la, lb) = (s.local(Side::A)[0], s.local(Side::B)[0]);
    let attacker = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    for seq in 0..20 {
        attacker
            .send_to(&rtp(1000 + seq), rtp_to(&la))
            .await
            .unwrap();
    }
    nothing_arrives(&b.rtp, Duration::from_millis(100)).await;
    // The real caller's media flows, and replies still reach the real caller.
    a.rtp.send_to(&rtp(1), rtp_to(&la)).await.unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    for seq in 0..20 {
        attacker
            .send_to(&rtp(2000 + seq), rtp_to(&la))
            .await
            .unwrap();
    }
    b.rtp.send_to(&rtp(7), rtp_to(&lb)).await.unwrap();
    assert_eq!(recv(&a.rtp).await.0, rtp(7));
    stats_until(&s, |st| st.a[0].counters.foreign == 40).await;
    let st = s.stats();
    assert_eq!(st.a[0].counters.rtp_packets, 1);
    assert_eq!(st.a[0].latched_rtp, Some(a.rtp.local_addr().unwrap()));
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(50), attacker.recv_from(&mut buf))
            .await
            .is_err(),
        "the attacker got nothing"
    );
}
