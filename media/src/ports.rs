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

#[derive(Debug)]
struct PoolState {
    used: Vec<bool>,
    in_use: usize,
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
            state: Mutex::new(PoolState {
                used: vec![false; capacity],
                in_use: 0,
            }),
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
        self.lock().in_use
    }

    /// Takes a free pair and binds both UDP sockets (non-blocking, no
    /// SO_REUSEADDR, larger buffers), skipping pairs whose bind fails.
    pub fn allocate(self: &Arc<Self>) -> Result<PortPair, MediaError> {
        if let Some(start) = self.random_free_slot() {
            // A free pair drawn uniformly, then every slot once in order from
            // it: a pair another process holds is skipped, never drawn again
            // in the same search.
            let mut offset = 0;
            while let Some(found) = self.reserve(start, offset) {
                offset = found + 1;
                let slot = (start + found) % self.capacity;
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
                    }
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

    /// One of the free slots, each as likely as any other (a random start
    /// followed by the next free slot would favour a free slot after a long
    /// run of used ones).
    fn random_free_slot(&self) -> Option<usize> {
        let state = self.lock();
        let free = self.capacity - state.in_use;
        if free == 0 {
            return None;
        }
        let nth = rand::random_range(0..free);
        state
            .used
            .iter()
            .enumerate()
            .filter(|(_, used)| !**used)
            .nth(nth)
            .map(|(slot, _)| slot)
    }

    /// Marks used the first free slot at or after `offset` steps from
    /// `start` (wrapping round, never past `start` again); returns its offset.
    fn reserve(&self, start: usize, offset: usize) -> Option<usize> {
        let mut state = self.lock();
        let found = (offset..self.capacity).find(|&o| !state.used[(start + o) % self.capacity])?;
        state.used[(start + found) % self.capacity] = true;
        state.in_use += 1;
        Some(found)
    }

    fn release(&self, slot: usize) {
        let mut state = self.lock();
        if let Some(used) = state.used.get_mut(slot)
            && *used
        {
            *used = false;
            state.in_use -= 1;
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state stays consistent across a panic elsewhere: every update is one step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn bind(addr: IpAddr, port: u16, buffer: usize) -> std::io::Result<UdpSocket> {
    let sa = SocketAddr::new(addr, port);
    let socket = Socket::new(Domain::for_address(sa), Type::DGRAM, Some(Protocol::UDP))?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(false)?;
    socket.set_nonblocking(true)?;
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

    /// What `allocate` reserves before binding: a slot from a random start.
    fn reserve_random(pool: &PortPool) -> Option<usize> {
        let start = rand::random_range(0..pool.capacity);
        pool.reserve(start, 0).map(|o| (start + o) % pool.capacity)
    }

    #[test]
    fn pairs_are_handed_out_at_random() {
        let pool = Arc::new(PortPool::new("127.0.0.1".parse().unwrap(), 10000, 19999));
        // Reserve slots without binding: consecutive allocations do not follow each other.
        let slots: Vec<usize> = (0..20).filter_map(|_| reserve_random(&pool)).collect();
        assert_eq!(slots.len(), 20);
        let consecutive = slots.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(consecutive < 5, "{slots:?}");
        let mut sorted = slots.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20, "no slot twice");
    }

    #[test]
    fn every_free_pair_is_as_likely() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 10000, 10019); // 10 pairs
        {
            let mut state = pool.lock();
            state.used[..8].fill(true);
            state.in_use = 8;
        }
        // A random start then the next free slot would pick slot 8 nine times in ten.
        let eights = (0..2000)
            .filter(|_| pool.random_free_slot() == Some(8))
            .count();
        assert!(
            (800..=1200).contains(&eights),
            "slot 8 drawn {eights} times of 2000"
        );
        {
            let mut state = pool.lock();
            state.used.fill(true);
            state.in_use = 10;
        }
        assert_eq!(pool.random_free_slot(), None);
    }

    #[test]
    fn a_search_walks_every_slot_once_from_its_start() {
        let small = Arc::new(PortPool::new("127.0.0.1".parse().unwrap(), 10000, 10005));
        assert_eq!(small.capacity(), 3);
        // From slot 2: offsets 0, 1, 2 are slots 2, 0, 1.
        assert_eq!(small.reserve(2, 0), Some(0));
        assert_eq!(small.reserve(2, 1), Some(1));
        // Slot 0 is taken: the search from offset 1 skips to offset 2 (slot 1).
        assert_eq!(small.reserve(2, 1), Some(2));
        assert_eq!(small.in_use(), 3);
        // Full: nothing from any start.
        assert_eq!(small.reserve(0, 0), None);
        small.release(0);
        // Never past the start again: from slot 1, offset 2 is slot 0.
        assert_eq!(small.reserve(1, 3), None);
        assert_eq!(small.reserve(1, 2), Some(2));
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
