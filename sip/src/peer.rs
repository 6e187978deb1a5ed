//! Where a message came from or goes to: the transport and the remote address.

use std::fmt;
use std::net::SocketAddr;

/// The transport protocol of a SIP hop (RFC 3261 §18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// SIP over UDP: unreliable, so transactions retransmit.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS over TCP.
    Tls,
}

impl TransportKind {
    /// Reliable transports need no retransmission (RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The Via transport token (RFC 3261 §20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// Lower-case name, used in metric labels and config.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one TCP or TLS connection for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The far end of a hop: transport, remote address and, on stream transports,
/// the connection the message arrived on (responses go back over it, §18.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport protocol.
    pub transport: TransportKind,
    /// Remote socket address (the packet's source for received messages).
    pub addr: SocketAddr,
    /// TCP/TLS: the connection; `None` = "open one if needed". UDP: the
    /// listener socket it arrived on or is to leave from (each UDP listener
    /// has an id of its own, never a connection's); `None` = the first UDP
    /// listener of the address family.
    pub conn: Option<ConnId>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}
