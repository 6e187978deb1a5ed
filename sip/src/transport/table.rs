//! Connection bookkeeping (sans-IO): which stream connections exist, where
//! they go, and the queue to each one's writer.
//!
//! `send` finds a connection by id first (a response goes back over the
//! connection its request came in on, RFC 3261 §18.2.2), then by transport and
//! remote address (reuse, including of inbound connections), and only then
//! opens a new one. Generic over the queue type so it is tested without I/O.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::{ConnId, Peer, TransportKind};

/// One open (or connecting) stream connection.
#[derive(Debug)]
pub(crate) struct ConnEntry<Q> {
    /// TCP or TLS.
    pub transport: TransportKind,
    /// The remote address.
    pub remote: SocketAddr,
    /// The queue to the connection's writer.
    pub queue: Q,
    /// Accepted by us (counted against the inbound limits).
    pub inbound: bool,
}

/// Table is full; the limit is reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TableFull(pub usize);

/// Why an inbound connection was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHit {
    /// Its source address already holds `max_per_source` inbound connections.
    PerSource,
    /// `max_inbound` inbound connections are open (or the whole table is full).
    Total,
}

impl LimitHit {
    /// A short label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            LimitHit::PerSource => "per_source",
            LimitHit::Total => "total",
        }
    }
}

/// ConnId → connection, plus a (transport, remote) index for reuse, and the
/// inbound connections counted per source address.
///
/// Inbound connections are capped below the table's own limit, so that peers
/// connecting to us (one of which may be hostile) can never take the room our
/// outbound connections to trunks need, and per source, so that one peer
/// cannot take the room of the others.
#[derive(Debug)]
pub(crate) struct ConnTable<Q> {
    by_id: HashMap<ConnId, ConnEntry<Q>>,
    by_addr: HashMap<(TransportKind, SocketAddr), ConnId>,
    limit: usize,
    inbound: usize,
    by_source: HashMap<IpAddr, usize>,
}

impl<Q> ConnTable<Q> {
    /// An empty table holding at most `limit` connections.
    pub fn new(limit: usize) -> Self {
        ConnTable {
            by_id: HashMap::new(),
            by_addr: HashMap::new(),
            limit,
            inbound: 0,
            by_source: HashMap::new(),
        }
    }

    /// Record an outbound connection. The newest connection to an address is the one reused.
    pub fn insert(
        &mut self,
        id: ConnId,
        transport: TransportKind,
        remote: SocketAddr,
        queue: Q,
    ) -> Result<(), TableFull> {
        if self.by_id.len() >= self.limit {
            return Err(TableFull(self.limit));
        }
        self.add(id, transport, remote, queue, false);
        Ok(())
    }

    /// Record an accepted connection, if the inbound limits allow it.
    pub fn insert_inbound(
        &mut self,
        id: ConnId,
        transport: TransportKind,
        remote: SocketAddr,
        queue: Q,
        limits: &super::ConnectionLimits,
    ) -> Result<(), LimitHit> {
        if self.inbound >= limits.max_inbound || self.by_id.len() >= self.limit {
            return Err(LimitHit::Total);
        }
        let source = remote.ip().to_canonical();
        if self.by_source.get(&source).copied().unwrap_or(0) >= limits.max_per_source {
            return Err(LimitHit::PerSource);
        }
        *self.by_source.entry(source).or_insert(0) += 1;
        self.inbound += 1;
        self.add(id, transport, remote, queue, true);
        Ok(())
    }

    fn add(
        &mut self,
        id: ConnId,
        transport: TransportKind,
        remote: SocketAddr,
        queue: Q,
        inbound: bool,
    ) {
        self.by_id.insert(
            id,
            ConnEntry {
                transport,
                remote,
                queue,
                inbound,
            },
        );
        self.by_addr.insert((transport, remote), id);
    }

    /// The connection to use for `to`: `to.conn` if it is still open and of the
    /// same transport, else the connection to `to.addr`, else none.
    pub fn lookup(&self, to: &Peer) -> Option<(ConnId, &ConnEntry<Q>)> {
        if let Some(id) = to.conn
            && let Some(entry) = self.by_id.get(&id)
            && entry.transport == to.transport
        {
            return Some((id, entry));
        }
        let id = *self.by_addr.get(&(to.transport, to.addr))?;
        self.by_id.get(&id).map(|entry| (id, entry))
    }

    /// Forget a connection (it closed). The address index keeps pointing at a
    /// newer connection to the same address, if there is one.
    pub fn remove(&mut self, id: ConnId) -> Option<ConnEntry<Q>> {
        let entry = self.by_id.remove(&id)?;
        if entry.inbound {
            self.inbound = self.inbound.saturating_sub(1);
            let source = entry.remote.ip().to_canonical();
            if let Some(n) = self.by_source.get_mut(&source) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_source.remove(&source);
                }
            }
        }
        let key = (entry.transport, entry.remote);
        if self.by_addr.get(&key) == Some(&id) {
            self.by_addr.remove(&key);
            // Fall back to another open connection to the same place, if any.
            if let Some((other, _)) = self
                .by_id
                .iter()
                .find(|(_, e)| e.transport == entry.transport && e.remote == entry.remote)
            {
                self.by_addr.insert(key, *other);
            }
        }
        Some(entry)
    }

    /// Number of connections.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn peer(t: TransportKind, port: u16, conn: Option<u64>) -> Peer {
        Peer {
            transport: t,
            addr: addr(port),
            conn: conn.map(ConnId),
        }
    }

    #[test]
    fn lookup_by_id_then_address() {
        let mut t = ConnTable::new(10);
        t.insert(ConnId(1), TransportKind::Tcp, addr(5060), "a")
            .unwrap();
        t.insert(ConnId(2), TransportKind::Tls, addr(5061), "b")
            .unwrap();
        // By id, even when the address differs (e.g. a Via sent-by port).
        let (id, e) = t.lookup(&peer(TransportKind::Tcp, 9999, Some(1))).unwrap();
        assert_eq!((id, e.queue), (ConnId(1), "a"));
        // Unknown id: fall back to the address.
        let (id, _) = t.lookup(&peer(TransportKind::Tls, 5061, Some(7))).unwrap();
        assert_eq!(id, ConnId(2));
        // Id of another transport is not used.
        assert!(t.lookup(&peer(TransportKind::Tls, 9999, Some(1))).is_none());
        // Same address, other transport: no reuse.
        assert!(t.lookup(&peer(TransportKind::Tls, 5060, None)).is_none());
    }

    #[test]
    fn remove_keeps_newer_connection_to_same_address() {
        let mut t = ConnTable::new(10);
        t.insert(ConnId(1), TransportKind::Tcp, addr(5060), "old")
            .unwrap();
        t.insert(ConnId(2), TransportKind::Tcp, addr(5060), "new")
            .unwrap();
        assert_eq!(
            t.lookup(&peer(TransportKind::Tcp, 5060, None)).unwrap().0,
            ConnId(2)
        );
        t.remove(ConnId(1)).unwrap();
        assert_eq!(
            t.lookup(&peer(TransportKind::Tcp, 5060, None)).unwrap().0,
            ConnId(2)
        );
        t.remove(ConnId(2)).unwrap();
        assert!(t.lookup(&peer(TransportKind::Tcp, 5060, None)).is_none());
        assert_eq!(t.len(), 0);
        assert!(t.remove(ConnId(2)).is_none());
    }

    #[test]
    fn remove_newest_falls_back_to_older() {
        let mut t = ConnTable::new(10);
        t.insert(ConnId(1), TransportKind::Tcp, addr(5060), "old")
            .unwrap();
        t.insert(ConnId(2), TransportKind::Tcp, addr(5060), "new")
            .unwrap();
        t.remove(ConnId(2)).unwrap();
        assert_eq!(
            t.lookup(&peer(TransportKind::Tcp, 5060, None)).unwrap().0,
            ConnId(1)
        );
    }

    #[test]
    fn limit() {
        let mut t = ConnTable::new(1);
        t.insert(ConnId(1), TransportKind::Tcp, addr(1), ())
            .unwrap();
        assert_eq!(
            t.insert(ConnId(2), TransportKind::Tcp, addr(2), ()),
            Err(TableFull(1))
        );
        t.remove(ConnId(1));
        t.insert(ConnId(2), TransportKind::Tcp, addr(2), ())
            .unwrap();
    }

    #[test]
    fn inbound_limits_per_source_and_in_total_leave_room_for_outbound() {
        let limits = super::super::ConnectionLimits {
            max_inbound: 3,
            max_per_source: 2,
            ..Default::default()
        };
        let mut t = ConnTable::new(4);
        let from = |ip: [u8; 4], port| SocketAddr::from((ip, port));
        let a = [192, 0, 2, 1];
        let b = [192, 0, 2, 2];
        t.insert_inbound(ConnId(1), TransportKind::Tcp, from(a, 1), (), &limits)
            .unwrap();
        t.insert_inbound(ConnId(2), TransportKind::Tls, from(a, 2), (), &limits)
            .unwrap();
        // A third from the same address (any port, any stream transport) is refused ...
        assert_eq!(
            t.insert_inbound(ConnId(3), TransportKind::Tcp, from(a, 3), (), &limits),
            Err(LimitHit::PerSource)
        );
        // ... also as an IPv4-mapped IPv6 address, but another source gets in.
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:4".parse().unwrap();
        assert_eq!(
            t.insert_inbound(ConnId(3), TransportKind::Tcp, mapped, (), &limits),
            Err(LimitHit::PerSource)
        );
        t.insert_inbound(ConnId(3), TransportKind::Tcp, from(b, 1), (), &limits)
            .unwrap();
        // The inbound total is reached; outbound still has its room.
        assert_eq!(
            t.insert_inbound(
                ConnId(4),
                TransportKind::Tcp,
                from([192, 0, 2, 3], 1),
                (),
                &limits
            ),
            Err(LimitHit::Total)
        );
        t.insert(
            ConnId(5),
            TransportKind::Tcp,
            from([198, 51, 100, 1], 5060),
            (),
        )
        .unwrap();
        // A closed connection gives its source's place back.
        t.remove(ConnId(1));
        t.insert_inbound(ConnId(6), TransportKind::Tcp, from(a, 9), (), &limits)
            .unwrap();
        // Only b's connection is left inbound; the outbound one never counted.
        t.remove(ConnId(2));
        t.remove(ConnId(6));
        assert_eq!(t.by_source.len(), 1);
        assert_eq!(t.inbound, 1);
        t.remove(ConnId(3));
        assert!(t.by_source.is_empty());
        assert_eq!((t.inbound, t.len()), (0, 1));
    }
}
