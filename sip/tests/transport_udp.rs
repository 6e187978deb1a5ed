//! UDP transport on loopback: round trip, oversize, keep-alives, admission,
//! address families, stop and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use voxgate_sip::transport::{
    Admission, Incoming, ListenerSpec, TransportConfig, TransportError, TransportEvent,
    TransportHandle, Transports, tls,
};
use voxgate_sip::{Peer, TransportKind};

const OPTIONS: &[u8] =
    b"OPTIONS sip:voxgate.test SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n";
const WAIT: Duration = Duration::from_secs(5);

struct Gate(bool);

impl Admission for Gate {
    fn admit(&self, _: SocketAddr, transport: TransportKind) -> bool {
        assert_eq!(transport, TransportKind::Udp);
        self.0
    }
}

struct Setup {
    transports: Transports,
    handle: TransportHandle,
    events: mpsc::Receiver<TransportEvent>,
}

async fn start(addrs: &[&str], max: usize, admit: bool) -> Setup {
    let cfg = TransportConfig {
        listeners: addrs
            .iter()
            .map(|a| {
                let mut spec = ListenerSpec::new(TransportKind::Udp, a.parse().unwrap());
                spec.recv_buffer = Some(256 * 1024);
                // Small, so bursts need the overflow queue.
                spec.send_buffer = Some(4096);
                spec
            })
            .collect(),
        max_message_size: max,
        idle_timeout: None,
        tls_client: tls::client_config_from(rustls::RootCertStore::empty()).unwrap(),
        connections: voxgate_sip::transport::ConnectionLimits::default(),
    };
    let (tx, events) = mpsc::channel(64);
    let (transports, handle) = Transports::start(cfg, Arc::new(Gate(admit)), tx)
        .await
        .unwrap();
    Setup {
        transports,
        handle,
        events,
    }
}

fn addr(s: &Setup, i: usize) -> SocketAddr {
    let (kind, addr) = s.transports.local_addrs()[i];
    assert_eq!(kind, TransportKind::Udp);
    assert_ne!(addr.port(), 0);
    addr
}

async fn next_message(events: &mut mpsc::Receiver<TransportEvent>) -> Incoming {
    match tokio::time::timeout(WAIT, events.recv()).await {
        Ok(Some(TransportEvent::Message(m))) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 70_000];
    let (n, from) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("no datagram in time")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

async fn round_trip(ip: &str) {
    let mut s = start(&[&format!("{ip}:0")], 4096, true).await;
    let server = addr(&s, 0);
    let client = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
    client.send_to(OPTIONS, server).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!(&m.bytes[..], OPTIONS);
    assert_eq!(
        m.peer,
        Peer {
            transport: TransportKind::Udp,
            addr: client.local_addr().unwrap(),
            conn: Some(s.transports.udp_listeners()[0].0)
        }
    );
    assert_eq!(m.local, server);
    assert!(!m.oversized);

    s.handle
        .send(&m.peer, Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"))
        .unwrap();
    let (reply, from) = recv(&client).await;
    assert_eq!(reply, b"SIP/2.0 200 OK\r\n\r\n");
    assert_eq!(from, server, "replies leave from the listener socket");
    s.transports.shutdown().await;
}

#[tokio::test]
async fn ipv4_round_trip() {
    round_trip("127.0.0.1").await;
}

#[tokio::test]
async fn ipv6_round_trip() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    round_trip("[::1]").await;
}

#[tokio::test]
async fn oversized_datagram_is_flagged_and_delivered_whole() {
    let mut s = start(&["127.0.0.1:0"], 100, true).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let big = [OPTIONS, &[b'x'; 200]].concat();
    client.send_to(&big, addr(&s, 0)).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert!(m.oversized);
    assert_eq!(&m.bytes[..], &big[..]);
    // At the limit is not oversized.
    client.send_to(&big[..100], addr(&s, 0)).await.unwrap();
    assert!(!next_message(&mut s.events).await.oversized);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn largest_datagram_is_received_whole() {
    let mut s = start(&["127.0.0.1:0"], 65_535, true).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let big = vec![b'a'; 65_507]; // the IPv4 UDP payload maximum
    client.send_to(&big, addr(&s, 0)).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!(m.bytes.len(), big.len());
    assert!(!m.oversized);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn keepalives_are_dropped_and_stripped() {
    let mut s = start(&["127.0.0.1:0"], 4096, true).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(b"\r\n\r\n", addr(&s, 0)).await.unwrap();
    client.send_to(b"", addr(&s, 0)).await.unwrap();
    client
        .send_to(&[b"\r\n", OPTIONS].concat(), addr(&s, 0))
        .await
        .unwrap();
    // The first event is the stripped OPTIONS: the keep-alive and the empty datagram vanished.
    assert_eq!(&next_message(&mut s.events).await.bytes[..], OPTIONS);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn refused_source_is_reported_not_delivered() {
    let mut s = start(&["127.0.0.1:0"], 4096, false).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(OPTIONS, addr(&s, 0)).await.unwrap();
    match tokio::time::timeout(WAIT, s.events.recv()).await {
        Ok(Some(TransportEvent::Rejected { source, transport })) => {
            assert_eq!(source, client.local_addr().unwrap());
            assert_eq!(transport, TransportKind::Udp);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    s.transports.shutdown().await;
}

#[tokio::test]
async fn send_picks_the_listener_of_the_address_family() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let s = start(&["127.0.0.1:0", "[::1]:0"], 4096, true).await;
    let v6 = UdpSocket::bind("[::1]:0").await.unwrap();
    let to = Peer {
        transport: TransportKind::Udp,
        addr: v6.local_addr().unwrap(),
        conn: None,
    };
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    let (_, from) = recv(&v6).await;
    assert_eq!(from, addr(&s, 1));
    s.transports.shutdown().await;
}

/// Two listeners of one family: a reply leaves from the one the request came
/// in on, a request from the one its peer names, else from the first.
#[tokio::test]
async fn send_leaves_from_the_listener_the_peer_names() {
    let mut s = start(&["127.0.0.1:0", "127.0.0.1:0"], 4096, true).await;
    let (first, second) = (addr(&s, 0), addr(&s, 1));
    let ids = s.transports.udp_listeners();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].1, second);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(OPTIONS, second).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!(m.peer.conn, Some(ids[1].0));
    s.handle.send(&m.peer, Bytes::from_static(OPTIONS)).unwrap();
    assert_eq!(
        recv(&client).await.1,
        second,
        "the reply leaves where the request came in"
    );
    let to = |conn| Peer {
        transport: TransportKind::Udp,
        addr: client.local_addr().unwrap(),
        conn,
    };
    s.handle
        .send(&to(Some(ids[1].0)), Bytes::from_static(OPTIONS))
        .unwrap();
    assert_eq!(recv(&client).await.1, second);
    s.handle
        .send(&to(None), Bytes::from_static(OPTIONS))
        .unwrap();
    assert_eq!(recv(&client).await.1, first);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn send_without_a_listener_of_the_family_fails() {
    let s = start(&["127.0.0.1:0"], 4096, true).await;
    let to = Peer {
        transport: TransportKind::Udp,
        addr: "[::1]:5060".parse().unwrap(),
        conn: None,
    };
    assert!(matches!(
        s.handle.send(&to, Bytes::from_static(OPTIONS)),
        Err(TransportError::NoListener(TransportKind::Udp))
    ));
    s.transports.shutdown().await;
}

#[tokio::test]
async fn burst_of_sends_is_not_lost() {
    // The first send after start already finds the socket "not yet writable"
    // (tokio has not seen its readiness), and 200 KB exceed the 4 KB send buffer:
    // both go through the overflow queue rather than being dropped.
    let s = start(&["127.0.0.1:0"], 4096, true).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = Peer {
        transport: TransportKind::Udp,
        addr: client.local_addr().unwrap(),
        conn: None,
    };
    for _ in 0..200 {
        s.handle.send(&to, Bytes::from(vec![b'x'; 1000])).unwrap();
    }
    for _ in 0..200 {
        assert_eq!(recv(&client).await.0.len(), 1000);
    }
    s.transports.shutdown().await;
}

#[tokio::test]
async fn stop_accepting_keeps_udp_working_and_shutdown_stops_it() {
    let mut s = start(&["127.0.0.1:0"], 4096, true).await;
    let server = addr(&s, 0);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.transports.stop_accepting();
    client.send_to(OPTIONS, server).await.unwrap();
    let m = next_message(&mut s.events).await;
    s.handle.send(&m.peer, Bytes::from_static(OPTIONS)).unwrap();
    assert_eq!(recv(&client).await.0, OPTIONS);

    tokio::time::timeout(WAIT, s.transports.shutdown())
        .await
        .expect("shutdown hangs");
    assert!(matches!(
        s.handle.send(&m.peer, Bytes::from_static(OPTIONS)),
        Err(TransportError::Shutdown)
    ));
    // The socket is closed: the port can be bound again.
    UdpSocket::bind(server)
        .await
        .expect("socket still open after shutdown");
}
