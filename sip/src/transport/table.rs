//! Connection bookkeeping (sans-IO): which stream connections exist, where
//! they go, and the queue to each one's writer.
//!
//! `send` finds a connection by id first (a response goes back over the
//! connection its request came in on, RFC 3261 §18.2.2), then by transport and
//! remote address (reuse, including of inbound connections), and only then
//! opens a new one. Generic over the queue type so it is tested without I/O.

use std::collections::HashMap;
use std::net::SocketAddr;

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
}

/// Table is full; the limit is reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TableFull(pub usize);

/// ConnId → connection, plus a (transport, remote) index for reuse.
#[derive(Debug)]
pub(crate) struct ConnTable<Q> {
    by_id: HashMap<ConnId, ConnEntry<Q>>,
    by_addr: HashMap<(TransportKind, SocketAddr), ConnId>,
    limit: usize,
}

impl<Q> ConnTable<Q> {
    /// An empty table holding at most `limit` connections.
    pub fn new(limit: usize) -> Self {
        ConnTable {
            by_id: HashMap::new(),
            by_addr: HashMap::new(),
            limit,
        }
    }

    /// Record a connection. The newest connection to an address is the one reused.
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
        self.by_id.insert(
            id,
            ConnEntry {
                transport,
                remote,
                queue,
            },
        );
        self.by_addr.insert((transport, remote), id);
        Ok(())
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
}
