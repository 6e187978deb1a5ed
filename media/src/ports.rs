//! A region's RTP/RTCP port pairs: RTP even, RTCP = RTP + 1.
//!
//! Allocation takes a free pair at random (uniformly), so the
//! ports of the next call cannot be guessed from those of the last (RTP
//! hijack), and a pair just released is unlikely to be reused at once (stray
//! packets of the previous call do not reach the next one). A pair that
//! cannot be bound (another process holds a port) is skipped.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use socket2::{Domain, Protocol, Socket, Type};

use crate::MediaError;

/// Send and receive buffer asked for on every media socket (the kernel caps
/// it at `net.core.rmem_max`/`wmem_max`): room for bursts without drops.
pub const SOCKET_BUFFER: usize = 256 * 1024;

/// A region's RTP/RTCP port pairs from `port_min..=port_max` on one address.
#[derive(Debug)]
pub struct PortPool {
    addr: IpAddr,
    /// The RTP port of pair 0 (even, never 0).
    first: u16,
    capacity: usize,
    port_max: u16,
    socket_buffer: usize,
    state: Mutex<PoolState>,
}

/// The free slots as a list (a uniform draw is one random index, O(1)) and,
/// per slot, its place in that list (release is O(1) too): a carrier range
/// of 30,000 ports is 15,000 slots, which the draw used to scan per leg.
#[derive(Debug)]
struct PoolState {
    free: Vec<u32>,
    /// Per slot: its index in `free`, or `USED`.
    place: Vec<u32>,
}

const USED: u32 = u32::MAX;

impl PoolState {
    fn new(capacity: usize) -> PoolState {
        // capacity < 2^15 (pairs of 16-bit ports), so slots fit in u32.
        PoolState {
            free: (0..capacity as u32).collect(),
            place: (0..capacity as u32).collect(),
        }
    }

    /// Takes the free slot at `index` of the free list.
    fn take(&mut self, index: usize) -> Option<usize> {
        if index >= self.free.len() {
            return None;
        }
        let slot = self.free.swap_remove(index);
        if let Some(&moved) = self.free.get(index) {
            self.place[moved as usize] = index as u32;
        }
        self.place[slot as usize] = USED;
        Some(slot as usize)
    }

    fn release(&mut self, slot: usize) {
        if self.place.get(slot) == Some(&USED) {
            self.place[slot] = self.free.len() as u32;
            self.free.push(slot as u32);
        }
    }
}

impl PortPool {
    /// The pairs `(p, p + 1)` with `p` even and both within `port_min..=port_max`.
    pub fn new(addr: IpAddr, port_min: u16, port_max: u16) -> PortPool {
        let first = port_min.saturating_add(port_min % 2).max(2);
        let capacity = if u32::from(first) < u32::from(port_max) {
            (u32::from(port_max) - u32::from(first)).div_ceil(2) as usize
        } else {
            0
        };
        PortPool {
            addr,
            first,
            capacity,
            port_max,
            socket_buffer: SOCKET_BUFFER,
            state: Mutex::new(PoolState::new(capacity)),
        }
    }

    /// Asks for `bytes` of send and receive buffer per socket instead of [`SOCKET_BUFFER`].
    pub fn with_socket_buffer(mut self, bytes: usize) -> PortPool {
        self.socket_buffer = bytes;
        self
    }

    /// The address the sockets bind to.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many pairs are allocated now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.lock().free.len()
    }

    /// Takes a free pair and binds both UDP sockets (non-blocking, no
    /// SO_REUSEADDR, larger buffers), skipping pairs whose bind fails.
    pub fn allocate(self: &Arc<Self>) -> Result<PortPair, MediaError> {
        // Pairs another process holds stay leased here until the search
        // ends, so that each slot is tried at most once.
        let mut busy = Vec::new();
        while let Some(slot) = self.take_random() {
            let lease = PortLease {
                pool: Arc::clone(self),
                slot,
            };
            let rtp_port = self.rtp_port(slot);
            // Binding happens outside the lock; on failure the lease's drop frees the slot.
            let bound = (
                bind(self.addr, rtp_port, self.socket_buffer),
                bind(self.addr, rtp_port + 1, self.socket_buffer),
            );
            match bound {
                (Ok(rtp), Ok(rtcp)) => return Ok(PortPair { rtp, rtcp, lease }),
                (rtp, rtcp) => {
                    let error = rtp.err().or(rtcp.err()).map(|e| e.kind());
                    tracing::debug!(addr = %self.addr, rtp_port, ?error, "media port pair busy, skipped");
                    busy.push(lease);
                }
            }
        }
        Err(MediaError::PortsExhausted {
            addr: self.addr,
            port_min: self.first,
            port_max: self.port_max,
        })
    }

    fn rtp_port(&self, slot: usize) -> u16 {
        // slot < capacity, so this stays within port_max.
        self.first.saturating_add((slot * 2) as u16)
    }

    /// Marks used one of the free slots, each as likely as any other (a
    /// random start followed by the next free slot would favour a free slot
    /// after a long run of used ones).
    fn take_random(&self) -> Option<usize> {
        let mut state = self.lock();
        if state.free.is_empty() {
            return None;
        }
        let index = rand::random_range(0..state.free.len());
        state.take(index)
    }

    fn release(&self, slot: usize) {
        self.lock().release(slot);
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state stays consistent across a panic elsewhere: every update is one step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn bind(addr: IpAddr, port: u16, buffer: usize) -> std::io::Result<UdpSocket> {
    let sa = SocketAddr::new(addr, port);
    // Non-blocking from `socket(2)` itself (SOCK_NONBLOCK), and SO_REUSEADDR
    // left at its default (off): every call binds four of these sockets on
    // the signalling thread, and each system call saved there counts.
    let socket = Socket::new(
        Domain::for_address(sa),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer than asked for is not an error.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.bind(&sa.into())?;
    Ok(socket.into())
}

/// A pair's claim on its pool slot; dropping it returns the pair. Keep it
/// until the sockets are closed.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    slot: usize,
}

impl PortLease {
    /// The RTP port of the pair.
    pub fn rtp_port(&self) -> u16 {
        self.pool.rtp_port(self.slot)
    }

    /// The address the pair is bound to.
    pub fn addr(&self) -> IpAddr {
        self.pool.addr
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.release(self.slot);
    }
}

/// Two bound, non-blocking sockets: RTP (even port) and RTCP (RTP + 1). The
/// pair goes back to its pool when dropped.
#[derive(Debug)]
pub struct PortPair {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    lease: PortLease,
}

impl PortPair {
    /// The RTP socket.
    pub fn rtp(&self) -> &UdpSocket {
        &self.rtp
    }

    /// The RTCP socket.
    pub fn rtcp(&self) -> &UdpSocket {
        &self.rtcp
    }

    /// The local address both sockets are bound to.
    pub fn addr(&self) -> IpAddr {
        self.lease.pool.addr
    }

    /// The RTP port (even).
    pub fn rtp_port(&self) -> u16 {
        self.lease.rtp_port()
    }

    /// The RTCP port (RTP + 1).
    pub fn rtcp_port(&self) -> u16 {
        self.lease.rtp_port() + 1
    }

    /// The sockets and the lease; drop the lease after the sockets.
    pub fn into_parts(self) -> (UdpSocket, UdpSocket, PortLease) {
        (self.rtp, self.rtcp, self.lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_start_even_and_fit_the_range() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(PortPool::new(lo, 10000, 10099).capacity(), 50);
        // Odd minimum: first pair is 10002/10003; 10098/10099 is the last.
        assert_eq!(PortPool::new(lo, 10001, 10099).capacity(), 49);
        // An odd port_max leaves the last even port without its RTCP port.
        assert_eq!(PortPool::new(lo, 10000, 10100).capacity(), 50);
        assert_eq!(PortPool::new(lo, 10000, 10000).capacity(), 0);
        assert_eq!(PortPool::new(lo, 65534, 65535).capacity(), 1);
        assert_eq!(PortPool::new(lo, 0, 3).capacity(), 1); // port 0 is never used
    }

    #[test]
    fn sockets_are_bound_non_blocking_and_exclusive() {
        let pool = Arc::new(PortPool::new("127.0.0.1".parse().unwrap(), 42000, 42999));
        let pair = pool.allocate().unwrap();
        let mut buf = [0u8; 16];
        // SOCK_NONBLOCK: nothing queued is WouldBlock, not a wait.
        assert_eq!(
            pair.rtp().recv_from(&mut buf).map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::WouldBlock)
        );
        assert_eq!(
            pair.rtcp().recv_from(&mut buf).map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::WouldBlock)
        );
        // No SO_REUSEADDR: the port cannot be bound a second time.
        let taken = SocketAddr::new(pair.addr(), pair.rtp_port());
        assert!(UdpSocket::bind(taken).is_err());
        assert_eq!(pair.rtp().local_addr().unwrap(), taken);
    }

    #[test]
    fn pairs_are_handed_out_at_random() {
        let pool = Arc::new(PortPool::new("127.0.0.1".parse().unwrap(), 10000, 19999));
        // Reserve slots without binding: consecutive allocations do not follow each other.
        let slots: Vec<usize> = (0..20).filter_map(|_| pool.take_random()).collect();
        assert_eq!(slots.len(), 20);
        let consecutive = slots.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(consecutive < 5, "{slots:?}");
        let mut sorted = slots.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20, "no slot twice");
        assert_eq!(pool.in_use(), 20);
    }

    #[test]
    fn every_free_pair_is_as_likely() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 10000, 10019); // 10 pairs
        let mut counts = [0usize; 10];
        for _ in 0..5000 {
            let Some(slot) = pool.take_random() else {
                panic!("a free pair")
            };
            counts[slot] += 1;
            pool.release(slot);
        }
        assert!(
            counts.iter().all(|&n| (350..=650).contains(&n)),
            "{counts:?}"
        );
        // With slots 0..8 used, 8 and 9 are drawn alike (a random start then
        // the next free slot would pick 8 nine times in ten).
        let mut state = pool.lock();
        for index in (0..8).rev() {
            let slot = state
                .free
                .iter()
                .position(|&s| s as usize == index)
                .unwrap();
            state.take(slot);
        }
        drop(state);
        let eights = (0..2000)
            .filter(|_| {
                let slot = pool.take_random();
                if let Some(s) = slot {
                    pool.release(s);
                }
                slot == Some(8)
            })
            .count();
        assert!(
            (800..=1200).contains(&eights),
            "slot 8 drawn {eights} times of 2000"
        );
    }

    #[test]
    fn take_and_release_keep_the_free_list_exact() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 10000, 10199); // 100 pairs
        let mut held = Vec::new();
        let mut rng = 0x2545_f491_u64;
        for _ in 0..10_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if rng.is_multiple_of(2) && !held.is_empty() {
                let slot = held.swap_remove((rng as usize / 2) % held.len());
                pool.release(slot);
                pool.release(slot); // twice: no effect
            } else if let Some(slot) = pool.take_random() {
                assert!(!held.contains(&slot), "slot {slot} handed out twice");
                held.push(slot);
            }
            assert_eq!(pool.in_use(), held.len());
            let state = pool.lock();
            for (index, &slot) in state.free.iter().enumerate() {
                assert_eq!(state.place[slot as usize] as usize, index);
            }
        }
    }

    #[test]
    fn pairs_held_by_another_process_are_tried_once_and_skipped() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        // Three pairs, 27410..27415; another socket holds an RTP port of two.
        let pool = Arc::new(PortPool::new(lo, 27410, 27415));
        let _a = UdpSocket::bind((lo, 27410)).unwrap();
        let _b = UdpSocket::bind((lo, 27413)).unwrap();
        for _ in 0..10 {
            let pair = pool.allocate().unwrap();
            assert_eq!(pair.rtp_port(), 27414);
            // Busy pairs went back to the pool; the one handed out is in use.
            assert_eq!(pool.in_use(), 1);
            drop(pair);
            assert_eq!(pool.in_use(), 0);
        }
        let held = pool.allocate().unwrap();
        // Nothing left: every slot tried once, then exhausted, nothing leaked.
        assert!(matches!(
            pool.allocate(),
            Err(MediaError::PortsExhausted { .. })
        ));
        assert_eq!(pool.in_use(), 1);
        drop(held);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn empty_pool_is_exhausted() {
        let pool = Arc::new(PortPool::new("127.0.0.1".parse().unwrap(), 10000, 10000));
        assert!(matches!(
            pool.allocate(),
            Err(MediaError::PortsExhausted { .. })
        ));
    }
}
