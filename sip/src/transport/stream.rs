//! SIP over TCP and TLS: accept loops, outbound connects and the per-connection
//! task that frames, writes, answers keep-alives and watches for idleness.
//!
//! One task per connection runs its reader, its writer and its idle timer as
//! branches of one `select!`, so the first to finish decides the close reason
//! and the others are dropped with it. The writer drains a bounded queue fed by
//! [`send`]; the reader's keep-alive pongs go through the same queue so writes
//! never interleave.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::framing::{Frame, PONG, StreamFramer};
use super::table::TableFull;
use super::{
    CONN_QUEUE_LEN, CloseReason, Incoming, Shared, TransportError, TransportEvent, Verdict,
    until_true,
};
use crate::{Peer, TransportKind};

/// TCP connect limit for outbound connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection may take to flush its FIN / close_notify.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Queue `bytes` on the connection for `to`, opening one if there is none.
pub(crate) fn send(
    shared: &Arc<Shared>,
    to: &Peer,
    server_name: Option<&str>,
    bytes: Bytes,
) -> Result<(), TransportError> {
    let mut table = shared.table();
    if let Some((id, entry)) = table.lookup(to) {
        let peer = Peer {
            conn: Some(id),
            ..*to
        };
        return entry.queue.try_send(bytes).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => TransportError::QueueFull(peer),
            mpsc::error::TrySendError::Closed(_) => TransportError::ConnectionClosed(peer),
        });
    }
    let server_name = match to.transport {
        TransportKind::Tls => Some(tls_server_name(server_name, to.addr.ip())?),
        _ => None,
    };
    let id = shared.next_conn_id();
    let (queue, rx) = mpsc::channel(CONN_QUEUE_LEN);
    // A fresh queue has room: the message waits there until the connection is up.
    let _ = queue.try_send(bytes);
    table
        .insert(id, to.transport, to.addr, queue.clone())
        .map_err(|TableFull(limit)| TransportError::TooManyConnections { limit })?;
    drop(table);
    let peer = Peer {
        conn: Some(id),
        ..*to
    };
    shared.spawn(outbound(shared.clone(), peer, server_name, queue, rx));
    Ok(())
}

fn tls_server_name(name: Option<&str>, ip: IpAddr) -> Result<ServerName<'static>, TransportError> {
    match name {
        Some(name) => {
            ServerName::try_from(name.to_owned()).map_err(|_| TransportError::InvalidServerName {
                name: name.to_owned(),
            })
        }
        None => Ok(ServerName::IpAddress(ip.into())),
    }
}

/// Accept connections until `stop_accepting` or shutdown; dropping the listener closes it.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    kind: TransportKind,
    local: SocketAddr,
    acceptor: Option<TlsAcceptor>,
) {
    let mut stop = shared.stop_accepting.subscribe();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = until_true(&mut stop) => return,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Checked before reading a byte or starting a TLS handshake.
        match shared.admission.check(remote, kind) {
            Verdict::Admit => {}
            Verdict::Refuse => {
                drop(tcp);
                let _ = shared.events.try_send(TransportEvent::Rejected {
                    source: remote,
                    transport: kind,
                });
                continue;
            }
            Verdict::Silence => {
                drop(tcp);
                continue;
            }
        }
        let id = shared.next_conn_id();
        let (queue, rx) = mpsc::channel(CONN_QUEUE_LEN);
        let taken =
            shared
                .table()
                .insert_inbound(id, kind, remote, queue.clone(), &shared.connections);
        if let Err(limit) = taken {
            // Reported, not logged here: the edge logs refusals once per source and interval.
            drop(tcp);
            let _ = shared.events.try_send(TransportEvent::ConnectionRefused {
                source: remote,
                transport: kind,
                limit,
            });
            continue;
        }
        let peer = Peer {
            transport: kind,
            addr: remote,
            conn: Some(id),
        };
        shared.spawn(inbound(
            shared.clone(),
            peer,
            tcp,
            acceptor.clone(),
            queue,
            rx,
        ));
    }
}

async fn inbound(
    shared: Arc<Shared>,
    peer: Peer,
    tcp: TcpStream,
    acceptor: Option<TlsAcceptor>,
    queue: mpsc::Sender<Bytes>,
    rx: mpsc::Receiver<Bytes>,
) {
    let reason = match prepare(&tcp) {
        Err(_) => CloseReason::Io,
        Ok(local) => match acceptor {
            None => {
                let (rd, wr) = tcp.into_split();
                serve(&shared, peer, local, true, rd, wr, queue, rx).await
            }
            Some(acceptor) => match handshake(&shared, acceptor.accept(tcp)).await {
                Ok(tls) => {
                    let (rd, wr) = tokio::io::split(tls);
                    serve(&shared, peer, local, true, rd, wr, queue, rx).await
                }
                Err(reason) => reason,
            },
        },
    };
    closed(&shared, peer, reason).await;
}

async fn outbound(
    shared: Arc<Shared>,
    peer: Peer,
    server_name: Option<ServerName<'static>>,
    queue: mpsc::Sender<Bytes>,
    rx: mpsc::Receiver<Bytes>,
) {
    let reason = match connect(&shared, peer.addr).await {
        Err(reason) => reason,
        Ok(tcp) => match prepare(&tcp) {
            Err(_) => CloseReason::Io,
            Ok(local) => match server_name {
                None => {
                    let (rd, wr) = tcp.into_split();
                    serve(&shared, peer, local, false, rd, wr, queue, rx).await
                }
                Some(name) => {
                    let connector = TlsConnector::from(shared.tls_client.clone());
                    match handshake(&shared, connector.connect(name, tcp)).await {
                        Ok(tls) => {
                            let (rd, wr) = tokio::io::split(tls);
                            serve(&shared, peer, local, false, rd, wr, queue, rx).await
                        }
                        Err(reason) => reason,
                    }
                }
            },
        },
    };
    closed(&shared, peer, reason).await;
}

/// TCP connect with a timeout, from the IP of our listener of that family if it has a specific one.
async fn connect(shared: &Shared, remote: SocketAddr) -> Result<TcpStream, CloseReason> {
    let socket = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|_| CloseReason::Io)?;
    let source_ip = shared
        .stream_locals
        .iter()
        .map(|(_, a)| a.ip())
        .find(|ip| ip.is_ipv4() == remote.is_ipv4() && !ip.is_unspecified());
    if let Some(ip) = source_ip {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|_| CloseReason::Io)?;
    }
    let mut shutdown = shared.shutdown.subscribe();
    tokio::select! {
        r = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(remote)) => match r {
            Ok(Ok(tcp)) => Ok(tcp),
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "connect failed");
                Err(CloseReason::Io)
            }
            Err(_) => {
                tracing::debug!(%remote, "connect timed out");
                Err(CloseReason::Io)
            }
        },
        _ = until_true(&mut shutdown) => Err(CloseReason::Shutdown),
    }
}

/// Run a TLS handshake (either side) with a timeout, aborted by shutdown.
async fn handshake<S>(
    shared: &Shared,
    handshake: impl Future<Output = io::Result<S>>,
) -> Result<S, CloseReason> {
    let mut shutdown = shared.shutdown.subscribe();
    tokio::select! {
        r = tokio::time::timeout(shared.connections.handshake_timeout, handshake) => match r {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                Err(CloseReason::Tls)
            }
            Err(_) => Err(CloseReason::Tls),
        },
        _ = until_true(&mut shutdown) => Err(CloseReason::Shutdown),
    }
}

/// Socket options for a connected stream; returns its local address.
fn prepare(tcp: &TcpStream) -> io::Result<SocketAddr> {
    // SIP messages are small and latency-bound: no Nagle delay.
    tcp.set_nodelay(true)?;
    tcp.local_addr()
}

async fn closed(shared: &Shared, peer: Peer, reason: CloseReason) {
    if let Some(id) = peer.conn {
        shared.table().remove(id);
    }
    tracing::debug!(%peer, ?reason, "connection closed");
    shared
        .emit(TransportEvent::ConnectionClosed { peer, reason })
        .await;
}

/// Last time a connection read or wrote, for the idle timeout.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Serve an established connection until it closes; returns why.
#[allow(clippy::too_many_arguments)] // one call site per stream type; a struct would only rename them
async fn serve<R, W>(
    shared: &Shared,
    peer: Peer,
    local: SocketAddr,
    inbound: bool,
    mut rd: R,
    mut wr: W,
    queue: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) -> CloseReason
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    shared
        .emit(TransportEvent::ConnectionOpened { peer, inbound })
        .await;
    let activity = Activity::new();
    let partial = Partial::new();
    let mut framer = StreamFramer::new(shared.max_message_size);
    let mut shutdown = shared.shutdown.subscribe();
    let reading = Reading {
        framer: &mut framer,
        queue: &queue,
        activity: &activity,
        partial: &partial,
    };
    let reason = tokio::select! {
        r = read_loop(shared, peer, local, &mut rd, reading) => r,
        r = write_loop(&mut wr, &mut rx, &activity) => r,
        r = idle(&activity, shared.idle_timeout) => r,
        r = slow(&partial, shared.connections.message_timeout) => r,
        _ = until_true(&mut shutdown) => CloseReason::Shutdown,
    };
    // Orderly close (FIN, and close_notify on TLS), bounded so a stuck peer cannot hold us.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, wr.shutdown()).await;
    reason
}

/// What the reader works with besides the socket.
struct Reading<'a> {
    framer: &'a mut StreamFramer,
    queue: &'a mpsc::Sender<Bytes>,
    activity: &'a Activity,
    partial: &'a Partial,
}

async fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    peer: Peer,
    local: SocketAddr,
    rd: &mut R,
    reading: Reading<'_>,
) -> CloseReason {
    let Reading {
        framer,
        queue,
        activity,
        partial,
    } = reading;
    loop {
        loop {
            match framer.poll() {
                Ok(Some(Frame::Message(bytes))) => {
                    // What is left (if anything) starts the next message now.
                    partial.clear();
                    let incoming = Incoming {
                        bytes,
                        peer,
                        local,
                        oversized: false,
                    };
                    if shared
                        .events
                        .send(TransportEvent::Message(incoming))
                        .await
                        .is_err()
                    {
                        return CloseReason::Shutdown; // nobody listens any more
                    }
                }
                Ok(Some(Frame::Ping)) => {
                    // A full queue already carries traffic, which keeps the flow alive anyway.
                    let _ = queue.try_send(Bytes::from_static(PONG));
                }
                Ok(None) => {
                    if framer.buffered() > 0 {
                        partial.begin();
                    } else {
                        partial.clear();
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "closing unframeable stream");
                    return if e.is_oversized() {
                        CloseReason::Oversized
                    } else {
                        CloseReason::Framing
                    };
                }
            }
        }
        match rd.read_buf(framer.buffer()).await {
            Ok(0) => return CloseReason::PeerClosed,
            Ok(_) => activity.touch(),
            Err(e) => return io_reason(&e),
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    wr: &mut W,
    rx: &mut mpsc::Receiver<Bytes>,
    activity: &Activity,
) -> CloseReason {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = wr.write_all(&bytes).await {
            return io_reason(&e);
        }
        // Write what else is queued before one flush (one TLS record flush, fewer syscalls).
        while let Ok(bytes) = rx.try_recv() {
            if let Err(e) = wr.write_all(&bytes).await {
                return io_reason(&e);
            }
        }
        if let Err(e) = wr.flush().await {
            return io_reason(&e);
        }
        activity.touch();
    }
    // Unreachable while the reader holds a sender; treat as shutdown.
    CloseReason::Shutdown
}

async fn idle(activity: &Activity, timeout: Option<Duration>) -> CloseReason {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        let deadline = activity.last() + timeout;
        if Instant::now() >= deadline {
            return CloseReason::Idle;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// When the message being received began, for the message timeout (slow-loris).
struct Partial {
    start: Instant,
    /// Milliseconds since `start` at which the pending message's first byte came;
    /// `u64::MAX` when nothing is pending.
    since_ms: AtomicU64,
}

impl Partial {
    fn new() -> Self {
        Partial {
            start: Instant::now(),
            since_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Bytes of a message are pending: note when, unless already noted.
    fn begin(&self) {
        if self.since_ms.load(Ordering::Relaxed) == u64::MAX {
            let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
            self.since_ms.store(ms, Ordering::Relaxed);
        }
    }

    /// Nothing pending.
    fn clear(&self) {
        self.since_ms.store(u64::MAX, Ordering::Relaxed);
    }

    fn since(&self) -> Option<Instant> {
        match self.since_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(self.start + Duration::from_millis(ms)),
        }
    }
}

/// Closes a connection whose pending message is older than `timeout`. It looks every
/// half `timeout` while nothing is pending, so a trickling peer is closed between
/// `timeout` and 1.5 × `timeout` after its message's first byte.
async fn slow(partial: &Partial, timeout: Duration) -> CloseReason {
    loop {
        let wake = match partial.since() {
            Some(since) if Instant::now() >= since + timeout => return CloseReason::Slow,
            Some(since) => since + timeout,
            None => Instant::now() + timeout / 2,
        };
        tokio::time::sleep_until(wake).await;
    }
}

/// Classify a read/write error. rustls errors surface as InvalidData wrapping a `rustls::Error`.
fn io_reason(e: &io::Error) -> CloseReason {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CloseReason::PeerClosed,
        _ if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => CloseReason::Tls,
        _ => CloseReason::Io,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rustls_errors_are_tls() {
        let e = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(io_reason(&e), CloseReason::Tls);
        assert_eq!(
            io_reason(&io::ErrorKind::ConnectionReset.into()),
            CloseReason::PeerClosed
        );
        assert_eq!(io_reason(&io::ErrorKind::TimedOut.into()), CloseReason::Io);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_fires_after_the_last_activity() {
        let timeout = Duration::from_secs(30);
        let activity = Activity::new();
        let start = Instant::now();
        let idle_close = idle(&activity, Some(timeout));
        tokio::pin!(idle_close);
        // Activity at 20 s moves the deadline to 50 s.
        tokio::select! {
            _ = &mut idle_close => panic!("closed before any deadline"),
            _ = tokio::time::sleep(Duration::from_secs(20)) => activity.touch(),
        }
        assert_eq!(idle_close.await, CloseReason::Idle);
        assert_eq!(start.elapsed(), Duration::from_secs(50));
    }

    #[tokio::test(start_paused = true)]
    async fn no_idle_timeout_never_fires() {
        let activity = Activity::new();
        let never = idle(&activity, None);
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), never)
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_trickled_past_the_timeout_is_closed() {
        let timeout = Duration::from_secs(10);
        let partial = Partial::new();
        let start = Instant::now();
        let close = slow(&partial, timeout);
        tokio::pin!(close);
        // Whole messages (nothing pending) for a minute: never closed.
        tokio::select! {
            _ = &mut close => panic!("closed with nothing pending"),
            _ = tokio::time::sleep(Duration::from_secs(60)) => partial.begin(),
        }
        // A message starts at 60 s and keeps trickling (begin again is a no-op).
        tokio::select! {
            _ = &mut close => panic!("closed before the timeout"),
            _ = tokio::time::sleep(Duration::from_secs(9)) => partial.begin(),
        }
        assert_eq!(close.await, CloseReason::Slow);
        let closed_at = start.elapsed();
        assert!(
            closed_at >= Duration::from_secs(70) && closed_at <= Duration::from_secs(75),
            "{closed_at:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_that_completes_in_time_is_not_closed() {
        let partial = Partial::new();
        partial.begin();
        let close = slow(&partial, Duration::from_secs(10));
        tokio::pin!(close);
        tokio::select! {
            _ = &mut close => panic!("closed in time"),
            _ = tokio::time::sleep(Duration::from_secs(9)) => partial.clear(),
        }
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), close)
                .await
                .is_err()
        );
    }

    #[test]
    fn server_name_defaults_to_ip() {
        let ip: IpAddr = [192, 0, 2, 7].into();
        assert_eq!(
            tls_server_name(None, ip).unwrap(),
            ServerName::IpAddress(ip.into())
        );
        assert!(tls_server_name(Some("sip.example.com"), ip).is_ok());
        assert!(matches!(
            tls_server_name(Some("not a name"), ip),
            Err(TransportError::InvalidServerName { .. })
        ));
    }
}
