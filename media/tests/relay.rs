//! The relay over real loopback sockets: both directions, NAT latching, RTCP,
//! rtcp-mux, counters, inactivity and hold, ports back to the pool.
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
    EngineOptions, LocalMedia, MediaEngine, MediaError, MediaSession, RemoteMedia, Side,
};

const WAIT: Duration = Duration::from_secs(2);

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::new(
        &[
            (
                "r1".to_owned(),
                "127.0.0.1".parse().unwrap(),
                port_min,
                port_min + 99,
            ),
            (
                "r2".to_owned(),
                "127.0.0.1".parse().unwrap(),
                port_min + 100,
                port_min + 199,
            ),
        ],
        EngineOptions::default(),
    )
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
async fn stats_until(s: &MediaSession, done: impl Fn(&voxgate_media::SessionStats) -> bool) {
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
    let s = engine.open("r1", "r2", 1).unwrap();
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
    let s = engine.open("r1", "r1", 1).unwrap();
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
    let s = engine.open("r1", "r1", 1).unwrap();
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
    let s = engine.open("r1", "r1", 1).unwrap();
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
    let s = engine.open("r1", "r1", 1).unwrap();
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
    assert_eq!((c.rtp_bytes, c.seq_gaps, c.invalid), (172 * n, 2, 0));
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
    let s = engine.open("r1", "r1", 2).unwrap();
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
async fn inactivity_resolves_after_the_timeout_without_media() {
    let engine = engine(25200);
    let s = engine.open("r1", "r1", 1).unwrap();
    let started = Instant::now();
    timeout(WAIT, s.inactive(Duration::from_millis(300)))
        .await
        .expect("inactive");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(290), "too early: {took:?}");
    assert!(took < Duration::from_millis(1000), "too late: {took:?}");
}

#[tokio::test]
async fn media_keeps_the_call_alive_and_select_can_poll_inactive_repeatedly() {
    let engine = engine(25400);
    let s = engine.open("r1", "r1", 1).unwrap();
    let (a, b) = (Peer::new().await, Peer::new().await);
    s.set_remote(Side::A, &[a.remote(false)]);
    s.set_remote(Side::B, &[b.remote(false)]);
    let la = s.local(Side::A)[0];

    // 800 ms of media every 50 ms against a 500 ms timeout, with `inactive`
    // re-created on every tick (as a call actor's select! loop does).
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let start = Instant::now();
    let mut seq = 0;
    while start.elapsed() < Duration::from_millis(800) {
        tokio::select! {
            () = s.inactive(Duration::from_millis(500)) => panic!("inactive while media flows"),
            _ = tick.tick() => {
                seq += 1;
                a.rtp.send_to(&rtp(seq), rtp_to(&la)).await.unwrap();
            }
        }
    }
    // Then silence: resolves about 300 ms after the last packet.
    let silent = Instant::now();
    timeout(WAIT, s.inactive(Duration::from_millis(300)))
        .await
        .expect("inactive");
    let took = silent.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    let last = s.stats().last_activity;
    assert!(last.elapsed() >= Duration::from_millis(300));
    drop(b);
}

#[tokio::test]
async fn hold_pauses_the_inactivity_timer() {
    let engine = engine(25600);
    let s = engine.open("r1", "r1", 1).unwrap();
    s.set_hold(Side::B, true);
    assert!(
        timeout(
            Duration::from_millis(600),
            s.inactive(Duration::from_millis(200))
        )
        .await
        .is_err(),
        "resolved while on hold"
    );
    // Resume restarts the timer: about 200 ms from now, not at once.
    let resumed = Instant::now();
    s.set_hold(Side::B, false);
    timeout(WAIT, s.inactive(Duration::from_millis(200)))
        .await
        .expect("inactive after resume");
    let took = resumed.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_millis(1000),
        "{took:?}"
    );

    // A hold that starts while `inactive` is pending pauses it too.
    let s = engine.open("r1", "r1", 1).unwrap();
    let inactive = s.inactive(Duration::from_millis(250));
    tokio::pin!(inactive);
    assert!(
        timeout(Duration::from_millis(100), &mut inactive)
            .await
            .is_err()
    );
    s.set_hold(Side::A, true);
    assert!(
        timeout(Duration::from_millis(400), &mut inactive)
            .await
            .is_err(),
        "held"
    );
    s.set_hold(Side::A, false);
    timeout(WAIT, &mut inactive)
        .await
        .expect("resolves after resume");
}

#[tokio::test]
async fn ports_go_back_to_the_pool_on_close_and_drop() {
    let engine = engine(25800);
    let s1 = engine.open("r1", "r2", 2).unwrap();
    let s2 = engine.open("r1", "r1", 1).unwrap();
    assert_eq!(engine.pool("r1").unwrap().in_use(), 4);
    assert_eq!(engine.pool("r2").unwrap().in_use(), 2);
    let ports: Vec<u16> = s1.local(Side::A).iter().map(|l| l.rtp_port).collect();

    s1.close();
    drop(s2);
    in_use_until(&engine, "r1", 0).await;
    in_use_until(&engine, "r2", 0).await;
    assert_eq!(engine.region_stats()[0].1.ports_in_use, 0);

    // The sockets are closed: the ports can be bound again.
    for p in ports {
        std::net::UdpSocket::bind(("127.0.0.1", p)).unwrap();
        std::net::UdpSocket::bind(("127.0.0.1", p + 1)).unwrap();
    }
}

#[tokio::test]
async fn open_errors() {
    let engine = engine(26000);
    assert!(matches!(
        engine.open("nowhere", "r1", 1),
        Err(MediaError::UnknownRegion { region }) if region == "nowhere"
    ));
    assert!(matches!(
        engine.open("r1", "r1", 17),
        Err(MediaError::TooManyLines {
            lines: 17,
            limit: 16
        })
    ));
    // 5 pairs: a 3-line session on both legs (6 pairs) cannot be had...
    let small = MediaEngine::new(
        &[("s".to_owned(), "127.0.0.1".parse().unwrap(), 26400, 26409)],
        EngineOptions::default(),
    );
    assert!(matches!(
        small.open("s", "s", 3),
        Err(MediaError::PortsExhausted {
            port_min: 26400,
            port_max: 26409,
            ..
        })
    ));
    // ...and the pairs it took on the way are back.
    assert_eq!(small.pool("s").unwrap().in_use(), 0);
    let two = small.open("s", "s", 2).unwrap();
    assert_eq!(small.pool("s").unwrap().in_use(), 4);
    drop(two);
}

#[test]
fn open_outside_a_runtime_is_an_error() {
    let engine = engine(26200);
    assert!(matches!(
        engine.open("r1", "r1", 1),
        Err(MediaError::NoRuntime)
    ));
    assert_eq!(engine.pool("r1").unwrap().in_use(), 0);
}
