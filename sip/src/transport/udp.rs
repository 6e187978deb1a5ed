//! SIP over UDP: one receive loop per listener socket, sends straight from
//! the caller with `try_send_to`.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Incoming, Shared, TransportError, TransportEvent, Verdict, until_true};
use crate::{ConnId, Peer, TransportKind};

/// Larger than any UDP payload (65,507 bytes on IPv4, 65,527 on IPv6 without
/// jumbograms), so a datagram is never silently truncated by the receive call.
const RECV_BUFFER: usize = 64 * 1024;

/// Datagrams waiting for a socket whose send buffer was full.
///
/// Why a queue rather than counting a drop: tokio's `try_send_to` also reports
/// WouldBlock when the socket's writability has simply not been seen by the
/// reactor yet (e.g. the first send after start), and a dropped response costs a
/// full retransmission interval (T1, 500 ms) on the peer's side. The queue is
/// bounded, so a really stuck socket still surfaces as `QueueFull`.
const OVERFLOW_QUEUE_LEN: usize = 1024;

/// A UDP listener socket, shared by its receive loop and the senders.
#[derive(Clone)]
pub(crate) struct UdpEndpoint {
    /// Carried in a received datagram's `Peer::conn`, so replies leave from this socket.
    id: ConnId,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    overflow: mpsc::Sender<(Bytes, SocketAddr)>,
}

impl UdpEndpoint {
    pub fn new(
        id: ConnId,
        socket: UdpSocket,
        local: SocketAddr,
    ) -> (Self, mpsc::Receiver<(Bytes, SocketAddr)>) {
        let (overflow, rx) = mpsc::channel(OVERFLOW_QUEUE_LEN);
        let endpoint = UdpEndpoint {
            id,
            socket: Arc::new(socket),
            local,
            overflow,
        };
        (endpoint, rx)
    }
}

/// Send one datagram without waiting: directly if the socket takes it, else
/// through the overflow queue. From the listener `to.conn` names (if it is one
/// of the right family), else from the first listener of the family.
pub(crate) fn send(shared: &Shared, to: &Peer, bytes: Bytes) -> Result<(), TransportError> {
    let endpoints = shared.udp.read().unwrap_or_else(PoisonError::into_inner);
    let family = |e: &&UdpEndpoint| e.local.is_ipv4() == to.addr.is_ipv4();
    let endpoint = to
        .conn
        .and_then(|id| endpoints.iter().filter(family).find(|e| e.id == id))
        .or_else(|| endpoints.iter().find(family))
        .ok_or(TransportError::NoListener(TransportKind::Udp))?;
    // Datagrams already queued go first; skipping ahead of them would reorder
    // a response and its retransmission for no gain.
    if endpoint.overflow.capacity() == endpoint.overflow.max_capacity() {
        match endpoint.socket.try_send_to(&bytes, to.addr) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(source) => return Err(TransportError::Send { peer: *to, source }),
        }
    }
    endpoint
        .overflow
        .try_send((bytes, to.addr))
        .map_err(|_| TransportError::QueueFull(*to))
}

/// Sends what [`send`] could not send at once.
pub(crate) async fn overflow_loop(
    shared: Arc<Shared>,
    endpoint: UdpEndpoint,
    mut queue: mpsc::Receiver<(Bytes, SocketAddr)>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            next = queue.recv() => {
                let Some((bytes, to)) = next else { return };
                if let Err(e) = endpoint.socket.send_to(&bytes, to).await {
                    tracing::debug!(%to, error = %e, "UDP send failed");
                }
            }
            _ = until_true(&mut shutdown) => return,
        }
    }
}

/// Receive datagrams until shutdown. One 64 KiB buffer is reused; the only
/// allocation per datagram is the `Bytes` handed over.
pub(crate) async fn receive_loop(shared: Arc<Shared>, endpoint: UdpEndpoint) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let received = tokio::select! {
            r = endpoint.socket.recv_from(&mut buf) => r,
            _ = until_true(&mut shutdown) => return,
        };
        let (len, source) = match received {
            Ok(r) => r,
            Err(e) => {
                // Per-datagram errors (e.g. ICMP reports on some systems) must not stop the loop.
                tracing::debug!(local = %endpoint.local, error = %e, "UDP receive error");
                continue;
            }
        };
        match shared.admission.check(source, TransportKind::Udp) {
            Verdict::Admit => {}
            Verdict::Refuse => {
                // Best effort: a flood of refused datagrams must not back up the receive path.
                let _ = shared.events.try_send(TransportEvent::Rejected {
                    source,
                    transport: TransportKind::Udp,
                });
                continue;
            }
            Verdict::Silence => continue,
        }
        let Some(datagram) = buf.get(..len).map(strip_keepalive) else {
            continue;
        };
        if datagram.is_empty() {
            continue;
        }
        let incoming = Incoming {
            bytes: Bytes::copy_from_slice(datagram),
            peer: Peer {
                transport: TransportKind::Udp,
                addr: source,
                conn: Some(endpoint.id),
            },
            local: endpoint.local,
            oversized: datagram.len() > shared.max_message_size,
        };
        // Waiting here is the backpressure: the kernel buffer fills and drops, as UDP should.
        tokio::select! {
            r = shared.events.send(TransportEvent::Message(incoming)) => if r.is_err() { return },
            _ = until_true(&mut shutdown) => return,
        }
    }
}

/// Drop leading CR/LF bytes (RFC 5626 keep-alives and stray line ends, RFC 3261 §7.5).
fn strip_keepalive(datagram: &[u8]) -> &[u8] {
    let start = datagram
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(datagram.len());
    &datagram[start..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::strip_keepalive;

    #[test]
    fn keepalives_are_stripped() {
        assert_eq!(strip_keepalive(b"\r\n\r\nOPTIONS"), b"OPTIONS");
        assert_eq!(strip_keepalive(b"\r\n"), b"");
        assert_eq!(strip_keepalive(b""), b"");
        assert_eq!(strip_keepalive(b"INVITE\r\n"), b"INVITE\r\n");
    }
}
