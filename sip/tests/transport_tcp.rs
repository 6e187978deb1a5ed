//! TCP transport on loopback: framing, keep-alive, admission, idle timeout,
//! connection reuse, outbound connects, stop and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use voxgate_sip::transport::{
    Admission, CloseReason, Incoming, ListenerSpec, TransportConfig, TransportError,
    TransportEvent, TransportHandle, Transports, tls,
};
use voxgate_sip::{Peer, TransportKind};

const OPTIONS: &[u8] =
    b"OPTIONS sip:voxgate.test SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n";
const INVITE: &[u8] = b"INVITE sip:bob@voxgate.test SIP/2.0\r\nCall-ID: 2\r\nl: 4\r\n\r\nv=0\n";
const WAIT: Duration = Duration::from_secs(5);

/// Admits or refuses everyone, and records who asked.
struct Gate {
    admit: bool,
    seen: Mutex<Vec<(SocketAddr, TransportKind)>>,
}

impl Gate {
    fn new(admit: bool) -> Arc<Gate> {
        Arc::new(Gate {
            admit,
            seen: Mutex::new(Vec::new()),
        })
    }
}

impl Admission for Gate {
    fn admit(&self, source: SocketAddr, transport: TransportKind) -> bool {
        self.seen.lock().unwrap().push((source, transport));
        self.admit
    }
}

struct Setup {
    transports: Transports,
    handle: TransportHandle,
    events: mpsc::Receiver<TransportEvent>,
    addr: SocketAddr,
}

async fn start_with(ip: &str, max: usize, idle: Option<Duration>, gate: Arc<Gate>) -> Setup {
    let cfg = TransportConfig {
        listeners: vec![ListenerSpec::new(
            TransportKind::Tcp,
            format!("{ip}:0").parse().unwrap(),
        )],
        max_message_size: max,
        idle_timeout: idle,
        tls_client: tls::client_config_from(rustls::RootCertStore::empty()).unwrap(),
        connections: voxgate_sip::transport::ConnectionLimits::default(),
    };
    let (tx, events) = mpsc::channel(64);
    let (transports, handle) = Transports::start(cfg, gate, tx).await.unwrap();
    let addr = transports.local_addrs()[0].1;
    assert_eq!(transports.local_addrs()[0].0, TransportKind::Tcp);
    assert_ne!(addr.port(), 0);
    Setup {
        transports,
        handle,
        events,
        addr,
    }
}

async fn start(max: usize, idle: Option<Duration>) -> Setup {
    start_with("127.0.0.1", max, idle, Gate::new(true)).await
}

async fn next(events: &mut mpsc::Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no event in time")
        .expect("event channel closed")
}

async fn next_message(events: &mut mpsc::Receiver<TransportEvent>) -> Incoming {
    match next(events).await {
        TransportEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn expect_opened(events: &mut mpsc::Receiver<TransportEvent>, inbound: bool) -> Peer {
    match next(events).await {
        TransportEvent::ConnectionOpened { peer, inbound: i } => {
            assert_eq!(i, inbound);
            peer
        }
        other => panic!("expected ConnectionOpened, got {other:?}"),
    }
}

async fn expect_closed(events: &mut mpsc::Receiver<TransportEvent>) -> (Peer, CloseReason) {
    match next(events).await {
        TransportEvent::ConnectionClosed { peer, reason } => (peer, reason),
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

/// Reads until EOF or error; true if the peer closed (no data arrived).
async fn closed_by_peer(client: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(WAIT, client.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test]
async fn split_writes_and_pipelined_messages_are_framed() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    assert_eq!(peer.addr, client.local_addr().unwrap());
    assert_eq!(peer.transport, TransportKind::Tcp);
    assert!(peer.conn.is_some());

    // One message in three writes, cut inside the start line and inside the header terminator.
    for piece in [
        &INVITE[..10],
        &INVITE[10..INVITE.len() - 6],
        &INVITE[INVITE.len() - 6..],
    ] {
        client.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = next_message(&mut s.events).await;
    assert_eq!(&m.bytes[..], INVITE);
    assert_eq!(m.peer, peer);
    assert_eq!(m.local, s.addr);
    assert!(!m.oversized);

    // Two messages in one write.
    let both = [OPTIONS, INVITE].concat();
    client.write_all(&both).await.unwrap();
    assert_eq!(&next_message(&mut s.events).await.bytes[..], OPTIONS);
    assert_eq!(&next_message(&mut s.events).await.bytes[..], INVITE);

    drop(client);
    assert_eq!(
        expect_closed(&mut s.events).await,
        (peer, CloseReason::PeerClosed)
    );
    s.transports.shutdown().await;
}

#[tokio::test]
async fn oversize_message_closes_the_connection_and_delivers_nothing() {
    let mut s = start(200, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    client
        .write_all(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\nxxxx")
        .await
        .unwrap();
    assert_eq!(
        expect_closed(&mut s.events).await,
        (peer, CloseReason::Oversized)
    );
    assert!(closed_by_peer(&mut client).await);
    assert_eq!(s.handle.connection_count(), 0);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn oversize_header_block_closes_the_connection() {
    let mut s = start(200, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    client.write_all(OPTIONS).await.unwrap();
    assert_eq!(&next_message(&mut s.events).await.bytes[..], OPTIONS);
    client.write_all(&[b'a'; 300]).await.unwrap();
    assert_eq!(
        expect_closed(&mut s.events).await,
        (peer, CloseReason::Oversized)
    );
    assert!(closed_by_peer(&mut client).await);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn bad_content_length_is_a_framing_error() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    client
        .write_all(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        expect_closed(&mut s.events).await,
        (peer, CloseReason::Framing)
    );
    s.transports.shutdown().await;
}

#[tokio::test]
async fn refused_source_is_closed_before_anything_is_read() {
    let gate = Gate::new(false);
    let mut s = start_with("127.0.0.1", 4096, None, gate.clone()).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let source = client.local_addr().unwrap();
    // We never write: the server closes on its own, at accept.
    assert!(closed_by_peer(&mut client).await);
    match next(&mut s.events).await {
        TransportEvent::Rejected {
            source: src,
            transport,
        } => {
            assert_eq!((src, transport), (source, TransportKind::Tcp));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(
        gate.seen.lock().unwrap().as_slice(),
        &[(source, TransportKind::Tcp)]
    );
    assert_eq!(s.handle.connection_count(), 0);
    assert!(s.events.try_recv().is_err(), "no other event expected");
    s.transports.shutdown().await;
}

/// Real time, kept short: tokio's paused clock auto-advances while socket I/O
/// is in flight, which makes it race with the reads this test depends on. The
/// timer logic itself is tested on a paused clock in `stream.rs`. Only lower
/// bounds on timing are asserted, so a slow machine cannot fail it.
#[tokio::test]
async fn idle_connection_is_closed() {
    const IDLE: Duration = Duration::from_millis(300);
    let mut s = start(4096, Some(IDLE)).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    // Traffic before the deadline keeps the connection open.
    tokio::time::sleep(IDLE * 2 / 3).await;
    client.write_all(OPTIONS).await.unwrap();
    let written = std::time::Instant::now();
    next_message(&mut s.events).await;
    let (closed_peer, reason) = expect_closed(&mut s.events).await;
    assert_eq!((closed_peer, reason), (peer, CloseReason::Idle));
    assert!(
        written.elapsed() >= IDLE,
        "closed {:?} after traffic",
        written.elapsed()
    );
    assert!(closed_by_peer(&mut client).await);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn reply_goes_back_over_the_inbound_connection() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    client.write_all(INVITE).await.unwrap();
    let m = next_message(&mut s.events).await;
    s.handle.send(&m.peer, Bytes::from_static(OPTIONS)).unwrap();
    let mut buf = vec![0u8; OPTIONS.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, OPTIONS);

    // Without the connection id, the open connection to the address is reused too.
    let by_addr = Peer { conn: None, ..peer };
    s.handle.send(&by_addr, Bytes::from_static(INVITE)).unwrap();
    let mut buf = vec![0u8; INVITE.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, INVITE);
    assert_eq!(s.handle.connection_count(), 1);
    assert!(s.events.try_recv().is_err(), "no new connection expected");
    s.transports.shutdown().await;
}

#[tokio::test]
async fn crlf_ping_gets_a_crlf_pong() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    expect_opened(&mut s.events, true).await;
    client.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(WAIT, client.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // A lone CRLF (pong) is ignored and framing goes on.
    client
        .write_all(&[b"\r\n", OPTIONS].concat())
        .await
        .unwrap();
    assert_eq!(&next_message(&mut s.events).await.bytes[..], OPTIONS);
    let mut more = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(100), client.read(&mut more))
            .await
            .is_err(),
        "a lone CRLF must not be answered"
    );
    s.transports.shutdown().await;
}

#[tokio::test]
async fn outbound_connection_is_opened_once_and_reused() {
    let mut s = start(4096, None).await;
    let remote = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = Peer {
        transport: TransportKind::Tcp,
        addr: remote.local_addr().unwrap(),
        conn: None,
    };
    // Both are queued before the connection is up.
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    s.handle.send(&to, Bytes::from_static(INVITE)).unwrap();
    let (mut conn, _) = remote.accept().await.unwrap();
    let mut buf = vec![0u8; OPTIONS.len() + INVITE.len()];
    tokio::time::timeout(WAIT, conn.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, [OPTIONS, INVITE].concat());
    let peer = expect_opened(&mut s.events, false).await;
    assert_eq!((peer.addr, peer.transport), (to.addr, TransportKind::Tcp));

    // Later sends use the same connection; replies on it come back as messages.
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    let mut buf = vec![0u8; OPTIONS.len()];
    conn.read_exact(&mut buf).await.unwrap();
    conn.write_all(INVITE).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!((m.peer, &m.bytes[..]), (peer, INVITE));
    assert!(
        tokio::time::timeout(Duration::from_millis(100), remote.accept())
            .await
            .is_err(),
        "no second connection expected"
    );
    assert_eq!(s.handle.connection_count(), 1);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn full_queue_is_an_error_not_a_wait() {
    // Single-threaded runtime: the connection task cannot drain the queue
    // while this loop runs, so the 257th message finds the queue full.
    let s = start(4096, None).await;
    let remote = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = Peer {
        transport: TransportKind::Tcp,
        addr: remote.local_addr().unwrap(),
        conn: None,
    };
    for i in 0..256 {
        assert!(
            s.handle.send(&to, Bytes::from_static(OPTIONS)).is_ok(),
            "send {i}"
        );
    }
    match s.handle.send(&to, Bytes::from_static(OPTIONS)) {
        Err(TransportError::QueueFull(peer)) => {
            assert_eq!(peer.addr, to.addr);
            assert!(peer.conn.is_some());
        }
        other => panic!("expected QueueFull, got {other:?}"),
    }
    // Everything queued is delivered once the connection is up.
    let (mut conn, _) = remote.accept().await.unwrap();
    let mut buf = vec![0u8; OPTIONS.len() * 256];
    tokio::time::timeout(WAIT, conn.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, OPTIONS.repeat(256));
    s.transports.shutdown().await;
}

#[tokio::test]
async fn failed_connect_reports_io_close() {
    let mut s = start(4096, None).await;
    let gone = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let to = Peer {
        transport: TransportKind::Tcp,
        addr: gone,
        conn: None,
    };
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    let (peer, reason) = expect_closed(&mut s.events).await;
    assert_eq!(
        (peer.addr, peer.transport, reason),
        (gone, TransportKind::Tcp, CloseReason::Io)
    );
    assert!(peer.conn.is_some());
    assert_eq!(s.handle.connection_count(), 0);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn stop_accepting_keeps_open_connections() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    expect_opened(&mut s.events, true).await;
    s.transports.stop_accepting();
    // The listener goes away (the accept loop notices at once, but give it a moment).
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(s.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "listener still accepting");
    client.write_all(OPTIONS).await.unwrap();
    // Connections that raced the stop may show up as opened/closed first.
    loop {
        match next(&mut s.events).await {
            TransportEvent::Message(m) => {
                assert_eq!(&m.bytes[..], OPTIONS);
                break;
            }
            TransportEvent::ConnectionOpened { .. } | TransportEvent::ConnectionClosed { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    s.transports.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_refuses_sends() {
    let mut s = start(4096, None).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    tokio::time::timeout(WAIT, s.transports.shutdown())
        .await
        .expect("shutdown hangs");
    assert_eq!(
        expect_closed(&mut s.events).await,
        (peer, CloseReason::Shutdown)
    );
    assert!(closed_by_peer(&mut client).await);
    assert!(matches!(
        s.handle.send(&peer, Bytes::from_static(OPTIONS)),
        Err(TransportError::Shutdown)
    ));
}

#[tokio::test]
async fn ipv6_round_trip() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let mut s = start_with("[::1]", 4096, None, Gate::new(true)).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    let peer = expect_opened(&mut s.events, true).await;
    assert!(peer.addr.is_ipv6());
    client.write_all(OPTIONS).await.unwrap();
    let m = next_message(&mut s.events).await;
    s.handle.send(&m.peer, Bytes::from_static(INVITE)).unwrap();
    let mut buf = vec![0u8; INVITE.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, INVITE);
    s.transports.shutdown().await;
}
