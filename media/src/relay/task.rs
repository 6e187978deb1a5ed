//! One media line's relay task: four sockets, one sans-IO core.

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Control;
use super::stats::{RegionCounters, SessionShared};
use crate::MediaError;
use crate::anchor::RemoteMedia;
use crate::latch::{LineRelay, Side, SocketKind};
use crate::ports::{PortLease, PortPair};
use crate::sdp::Direction;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

thread_local! {
    /// The receive buffer, one per runtime worker thread: a line task uses it
    /// only within a synchronous drain, so tasks on a thread can share it, and
    /// a session costs no 64 KiB buffer of its own.
    static BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; MAX_DATAGRAM].into_boxed_slice());
}

/// A line whose peer signalled nothing (yet), or a line past the SDP's m-lines.
const NO_REMOTE: RemoteMedia = RemoteMedia {
    rtp: None,
    rtcp: None,
    rtcp_mux: false,
    direction: Direction::Inactive,
};

type Latched = (Option<SocketAddr>, Option<(SocketKind, SocketAddr)>);

pub(super) struct LineTask {
    /// `[side][kind]`. Declared before the leases: fields drop in order, so the
    /// sockets are closed before their ports go back to the pool.
    sockets: [[UdpSocket; 2]; 2],
    _leases: [PortLease; 2],
    line: usize,
    core: LineRelay,
    shared: Arc<SessionShared>,
    control: watch::Receiver<Control>,
    /// Region counters of side A's and side B's pools.
    regions: [Arc<RegionCounters>; 2],
    max_batch: usize,
    /// Latched addresses as last published.
    published: [Latched; 2],
}

fn kind_index(kind: SocketKind) -> usize {
    match kind {
        SocketKind::Rtp => 0,
        SocketKind::Rtcp => 1,
    }
}

impl LineTask {
    pub(super) fn new(
        line: usize,
        pairs: [PortPair; 2],
        shared: Arc<SessionShared>,
        control: watch::Receiver<Control>,
        regions: [Arc<RegionCounters>; 2],
        max_batch: usize,
    ) -> Result<LineTask, MediaError> {
        let [a, b] = pairs;
        let (a_rtp, a_rtcp, a_lease) = a.into_parts();
        let (b_rtp, b_rtcp, b_lease) = b.into_parts();
        let register = |socket: std::net::UdpSocket, lease: &PortLease, offset: u16| {
            let addr = socket.local_addr().map(|a| a.ip());
            UdpSocket::from_std(socket).map_err(|e| MediaError::Register {
                addr: addr.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
                port: lease.rtp_port() + offset,
                kind: e.kind(),
            })
        };
        let sockets = [
            [
                register(a_rtp, &a_lease, 0)?,
                register(a_rtcp, &a_lease, 1)?,
            ],
            [
                register(b_rtp, &b_lease, 0)?,
                register(b_rtcp, &b_lease, 1)?,
            ],
        ];
        Ok(LineTask {
            sockets,
            _leases: [a_lease, b_lease],
            line,
            core: LineRelay::new(),
            shared,
            control,
            regions,
            max_batch: max_batch.max(1),
            published: [(None, None); 2],
        })
    }

    pub(super) async fn run(mut self) {
        self.apply_control();
        loop {
            let (side, kind) = tokio::select! {
                // Unbiased: a flooded socket must not starve the others. New
                // targets still apply first: `drain` looks for them.
                changed = self.control.changed() => {
                    if changed.is_err() {
                        break; // the session is gone
                    }
                    self.apply_control();
                    continue;
                }
                _ = self.sockets[0][0].readable() => (Side::A, SocketKind::Rtp),
                _ = self.sockets[0][1].readable() => (Side::A, SocketKind::Rtcp),
                _ = self.sockets[1][0].readable() => (Side::B, SocketKind::Rtp),
                _ = self.sockets[1][1].readable() => (Side::B, SocketKind::Rtcp),
            };
            if !self.drain(side, kind) {
                // A socket error other than WouldBlock leaves the socket
                // readable; let other tasks run rather than spin.
                tokio::task::yield_now().await;
            }
        }
        tracing::trace!(line = self.line, "media line relay stopped");
    }

    fn apply_control(&mut self) {
        {
            let control = self.control.borrow_and_update();
            for side in [Side::A, Side::B] {
                let remote = control.remote[side.index()]
                    .get(self.line)
                    .copied()
                    .flatten()
                    .unwrap_or(NO_REMOTE);
                self.core.set_remote(side, remote);
            }
        }
        self.publish();
    }

    /// Relays what `side`'s `kind` socket holds, up to a batch. False after a
    /// socket error.
    fn drain(&mut self, side: Side, kind: SocketKind) -> bool {
        // `set_remote` returned before these packets were read: its targets apply.
        if self.control.has_changed().unwrap_or(false) {
            self.apply_control();
        }
        let now = Instant::now();
        let now_std = now.into_std();
        let mut relayed = [0u64; 2];
        let mut received = false;
        let mut healthy = true;
        BUFFER.with_borrow_mut(|buffer| {
            for _ in 0..self.max_batch {
                let socket = &self.sockets[side.index()][kind_index(kind)];
                let (len, src) = match socket.try_recv_from(buffer) {
                    Ok(r) => r,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::trace!(line = self.line, ?side, ?kind, error = %e, "media recv failed");
                        healthy = false;
                        break;
                    }
                };
                received = true;
                let packet = &buffer[..len];
                let Some(forward) = self.core.on_packet(side, kind, src, packet, now_std) else {
                    continue;
                };
                let out = &self.sockets[forward.side.index()][kind_index(forward.socket)];
                let sent = match out.try_send_to(packet, forward.addr) {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::trace!(line = self.line, to = %forward.addr, error = %e, "media send dropped");
                        false
                    }
                };
                self.core.on_sent(&forward, sent);
                if sent {
                    relayed[usize::from(forward.rtcp)] += 1;
                }
            }
        });
        if received {
            if self.core.leg(side).last_activity() == Some(now_std) {
                self.shared.touch(now);
            }
            self.publish();
            let region = &self.regions[side.index()];
            if relayed[0] > 0 {
                region
                    .rtp
                    .fetch_add(relayed[0], std::sync::atomic::Ordering::Relaxed);
            }
            if relayed[1] > 0 {
                region
                    .rtcp
                    .fetch_add(relayed[1], std::sync::atomic::Ordering::Relaxed);
            }
        }
        healthy
    }

    /// Publishes both legs' counters (and latched addresses when changed).
    fn publish(&mut self) {
        let line = &self.shared.lines[self.line];
        for side in [Side::A, Side::B] {
            let leg = self.core.leg(side);
            let latched = (leg.latched_rtp(), leg.latched_rtcp());
            let changed = latched != self.published[side.index()];
            self.published[side.index()] = latched;
            line.publish(side, leg, changed);
        }
    }
}
