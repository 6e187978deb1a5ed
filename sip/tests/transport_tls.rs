//! TLS transport on loopback: handshake and round trip with the self-signed
//! config, TLS 1.2, mutual TLS, outbound TLS, and plaintext on a TLS port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use voxgate_sip::transport::{
    Admission, CloseReason, Incoming, ListenerSpec, TransportConfig, TransportEvent,
    TransportHandle, Transports, tls,
};
use voxgate_sip::{Peer, TransportKind};

const OPTIONS: &[u8] =
    b"OPTIONS sip:voxgate.test SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n";
const OK: &[u8] = b"SIP/2.0 200 OK\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n";
const WAIT: Duration = Duration::from_secs(5);

struct AllowAll;

impl Admission for AllowAll {
    fn admit(&self, _: SocketAddr, _: TransportKind) -> bool {
        true
    }
}

struct Setup {
    transports: Transports,
    handle: TransportHandle,
    events: mpsc::Receiver<TransportEvent>,
    addr: SocketAddr,
}

async fn start(server: Arc<rustls::ServerConfig>, client: Arc<ClientConfig>) -> Setup {
    let mut spec = ListenerSpec::new(TransportKind::Tls, "127.0.0.1:0".parse().unwrap());
    spec.tls = Some(server);
    let cfg = TransportConfig {
        listeners: vec![spec],
        max_message_size: 4096,
        idle_timeout: None,
        tls_client: client,
        connections: voxgate_sip::transport::ConnectionLimits::default(),
    };
    let (tx, events) = mpsc::channel(64);
    let (transports, handle) = Transports::start(cfg, Arc::new(AllowAll), tx)
        .await
        .unwrap();
    let addr = transports.local_addrs()[0].1;
    Setup {
        transports,
        handle,
        events,
        addr,
    }
}

fn no_trust() -> Arc<ClientConfig> {
    tls::client_config_from(RootCertStore::empty()).unwrap()
}

fn roots(cert: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    roots
}

fn client_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
    roots: RootCertStore,
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> Arc<ClientConfig> {
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    })
}

async fn next(events: &mut mpsc::Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no event in time")
        .expect("event channel closed")
}

async fn next_message(events: &mut mpsc::Receiver<TransportEvent>) -> Incoming {
    loop {
        match next(events).await {
            TransportEvent::Message(m) => return m,
            TransportEvent::ConnectionOpened { .. } => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn expect_closed(events: &mut mpsc::Receiver<TransportEvent>) -> (Peer, CloseReason) {
    match next(events).await {
        TransportEvent::ConnectionClosed { peer, reason } => (peer, reason),
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voxgate-tp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server on the self-signed config answers a client that trusts that cert.
async fn round_trip(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ProtocolVersion {
    let (cert, key) = tls::self_signed(&["127.0.0.1".to_owned()]).unwrap();
    let server = tls::server_config_from(vec![cert.clone()], key, None).unwrap();
    let mut s = start(server, no_trust()).await;
    let connector = TlsConnector::from(client_config(versions, roots(&cert), None));
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let mut client = connector
        .connect(ServerName::IpAddress(s.addr.ip().into()), tcp)
        .await
        .unwrap();
    let version = client.get_ref().1.protocol_version().unwrap();

    match next(&mut s.events).await {
        TransportEvent::ConnectionOpened { peer, inbound } => {
            assert!(inbound);
            assert_eq!(peer.transport, TransportKind::Tls);
        }
        other => panic!("expected ConnectionOpened, got {other:?}"),
    }
    client.write_all(OPTIONS).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!(&m.bytes[..], OPTIONS);
    assert_eq!(m.peer.transport, TransportKind::Tls);
    s.handle.send(&m.peer, Bytes::from_static(OK)).unwrap();
    let mut buf = vec![0u8; OK.len()];
    tokio::time::timeout(WAIT, client.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, OK);

    // A CRLF keep-alive works inside TLS too.
    client.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(WAIT, client.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    s.transports.shutdown().await;
    version
}

#[tokio::test]
async fn tls13_handshake_and_round_trip() {
    let v = round_trip(&[&rustls::version::TLS13, &rustls::version::TLS12]).await;
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
}

#[tokio::test]
async fn tls12_handshake_and_round_trip() {
    let v = round_trip(&[&rustls::version::TLS12]).await;
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_2);
}

#[tokio::test]
async fn plaintext_on_a_tls_port_is_closed_without_delivery() {
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let server = tls::server_config_from(vec![cert], key, None).unwrap();
    let mut s = start(server, no_trust()).await;
    let mut client = TcpStream::connect(s.addr).await.unwrap();
    client.write_all(OPTIONS).await.unwrap();
    let (peer, reason) = expect_closed(&mut s.events).await;
    assert_eq!(reason, CloseReason::Tls);
    assert_eq!(peer.addr, client.local_addr().unwrap());
    s.transports.shutdown().await;
}

/// A CA, a server cert (self-signed) and a client cert signed by the CA, as PEM files.
struct Pki {
    dir: PathBuf,
    server_cert: CertificateDer<'static>,
    client: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

fn make_pki(tag: &str) -> Pki {
    let dir = temp_dir(tag);
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(DnType::CommonName, "voxgate test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(vec!["carrier.example".to_owned()]).unwrap();
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();

    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(dir.join("server.pem"), server.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server.signing_key.serialize_pem()).unwrap();
    Pki {
        dir,
        server_cert: server.cert.der().clone(),
        client: (
            client_cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der())),
        ),
    }
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_certificate() {
    let pki = make_pki("mtls");
    let server = tls::server_config(
        Some((&pki.dir.join("server.pem"), &pki.dir.join("server.key"))),
        Some(&pki.dir.join("ca.pem")),
        &[],
    )
    .unwrap();
    let mut s = start(server, no_trust()).await;
    let ip = ServerName::IpAddress(s.addr.ip().into());

    // Without a certificate: refused.
    let anonymous = TlsConnector::from(client_config(
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        roots(&pki.server_cert),
        None,
    ));
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    // In TLS 1.3 the client may finish its side before the server's verdict
    // arrives, so the refusal shows on the first read at the latest.
    if let Ok(mut client) = anonymous.connect(ip.clone(), tcp).await {
        let _ = client.write_all(OPTIONS).await;
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(WAIT, client.read(&mut buf))
            .await
            .unwrap();
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "anonymous client got {read:?}"
        );
    }
    let (_, reason) = expect_closed(&mut s.events).await;
    assert_eq!(reason, CloseReason::Tls);

    // With a certificate from the CA: accepted.
    let known = TlsConnector::from(client_config(
        &[&rustls::version::TLS13],
        roots(&pki.server_cert),
        Some((pki.client.0.clone(), pki.client.1.clone_key())),
    ));
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let mut client = known.connect(ip, tcp).await.unwrap();
    client.write_all(OPTIONS).await.unwrap();
    assert_eq!(&next_message(&mut s.events).await.bytes[..], OPTIONS);
    s.transports.shutdown().await;
    std::fs::remove_dir_all(pki.dir).unwrap();
}

/// A TLS server outside the transports, for outbound tests.
async fn remote_tls_server(name: &str) -> (TcpListener, TlsAcceptor, CertificateDer<'static>) {
    let (cert, key) = tls::self_signed(&[name.to_owned()]).unwrap();
    let config = tls::server_config_from(vec![cert.clone()], key, None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (listener, TlsAcceptor::from(config), cert)
}

#[tokio::test]
async fn outbound_tls_uses_the_server_name_and_is_reused() {
    let (listener, acceptor, cert) = remote_tls_server("sip.carrier.example").await;
    let (own_cert, own_key) = tls::self_signed(&[]).unwrap();
    let own = tls::server_config_from(vec![own_cert], own_key, None).unwrap();
    let mut s = start(own, tls::client_config_from(roots(&cert)).unwrap()).await;
    let to = Peer {
        transport: TransportKind::Tls,
        addr: listener.local_addr().unwrap(),
        conn: None,
    };
    s.handle
        .send_tls_named(&to, "sip.carrier.example", Bytes::from_static(OPTIONS))
        .unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let mut remote = acceptor.accept(tcp).await.unwrap();
    assert_eq!(
        remote.get_ref().1.server_name(),
        Some("sip.carrier.example")
    );
    let mut buf = vec![0u8; OPTIONS.len()];
    tokio::time::timeout(WAIT, remote.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf, OPTIONS);
    let peer = match next(&mut s.events).await {
        TransportEvent::ConnectionOpened {
            peer,
            inbound: false,
        } => peer,
        other => panic!("expected outbound ConnectionOpened, got {other:?}"),
    };

    // The same connection carries the next request and the response.
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    tokio::time::timeout(WAIT, remote.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    remote.write_all(OK).await.unwrap();
    let m = next_message(&mut s.events).await;
    assert_eq!((m.peer, &m.bytes[..]), (peer, OK));
    assert_eq!(s.handle.connection_count(), 1);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn outbound_tls_to_an_untrusted_server_closes_with_tls() {
    let (listener, acceptor, _) = remote_tls_server("127.0.0.1").await;
    let (own_cert, own_key) = tls::self_signed(&[]).unwrap();
    let own = tls::server_config_from(vec![own_cert], own_key, None).unwrap();
    let mut s = start(own, no_trust()).await;
    let to = Peer {
        transport: TransportKind::Tls,
        addr: listener.local_addr().unwrap(),
        conn: None,
    };
    s.handle.send(&to, Bytes::from_static(OPTIONS)).unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    assert!(acceptor.accept(tcp).await.is_err());
    let (peer, reason) = expect_closed(&mut s.events).await;
    assert_eq!((peer.addr, reason), (to.addr, CloseReason::Tls));
    assert_eq!(s.handle.connection_count(), 0);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn invalid_server_name_fails_at_once() {
    let (own_cert, own_key) = tls::self_signed(&[]).unwrap();
    let own = tls::server_config_from(vec![own_cert], own_key, None).unwrap();
    let s = start(own, no_trust()).await;
    let to = Peer {
        transport: TransportKind::Tls,
        addr: "127.0.0.1:5061".parse().unwrap(),
        conn: None,
    };
    let err = s
        .handle
        .send_tls_named(&to, "not a host name", Bytes::from_static(OPTIONS))
        .unwrap_err();
    assert!(matches!(
        err,
        voxgate_sip::transport::TransportError::InvalidServerName { .. }
    ));
    assert_eq!(s.handle.connection_count(), 0);
    s.transports.shutdown().await;
}

#[tokio::test]
async fn tls_listener_without_config_is_refused() {
    let cfg = TransportConfig {
        listeners: vec![ListenerSpec::new(
            TransportKind::Tls,
            "127.0.0.1:0".parse().unwrap(),
        )],
        max_message_size: 4096,
        idle_timeout: None,
        tls_client: no_trust(),
        connections: voxgate_sip::transport::ConnectionLimits::default(),
    };
    let (tx, _events) = mpsc::channel(1);
    let err = Transports::start(cfg, Arc::new(AllowAll), tx)
        .await
        .err()
        .unwrap();
    assert!(matches!(
        err,
        voxgate_sip::transport::TransportError::MissingTlsConfig { .. }
    ));
}

/// Manual check against OpenSSL: `cargo test --test transport_tls -- --ignored`.
/// Needs the `openssl` binary. TLS 1.1 must be refused, TLS 1.2 accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the openssl binary; the end-to-end check lives with the daemon tests"]
async fn openssl_s_client_tls11_refused_tls12_accepted() {
    let server = tls::server_config(None, None, &["127.0.0.1".to_owned()]).unwrap();
    let s = start(server, no_trust()).await;
    let port = s.addr.port();
    let run = move |version: &'static str| {
        std::process::Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                version,
            ])
            .args(["-cipher", "DEFAULT@SECLEVEL=0"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let old = tokio::task::spawn_blocking(move || run("-tls1_1"))
        .await
        .unwrap();
    let new = tokio::task::spawn_blocking(move || run("-tls1_2"))
        .await
        .unwrap();
    let show = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    eprintln!(
        "--- -tls1_1 (exit {:?}):\n{}",
        old.status.code(),
        show(&old)
    );
    eprintln!(
        "--- -tls1_2 (exit {:?}):\n{}",
        new.status.code(),
        show(&new)
    );
    assert!(!old.status.success());
    assert!(show(&old).contains("Cipher is (NONE)"));
    assert!(show(&new).contains("New, TLSv1.2, Cipher is"));
    s.transports.shutdown().await;
}
