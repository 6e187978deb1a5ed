//! The validated runtime configuration that the other crates use. Nothing here is serde:
//! every value has been checked, defaults are filled in and paths are resolved.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// A whole, validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where it came from: the file path, or `<embedded default>`.
    pub source: String,
    /// This node's identity.
    pub node: Node,
    /// The admin HTTP endpoint (metrics, health, reload).
    pub admin: Admin,
    /// Log output.
    pub logging: Logging,
    /// RFC 3261 §17 timer bases.
    pub timers: SipTimers,
    /// Hard limits on SIP input.
    pub limits: SipLimits,
    /// SIP listeners (at least one; no two collide).
    pub listeners: Vec<Listener>,
    /// Trunks; allow-lists of two trunks never overlap.
    pub trunks: Vec<Trunk>,
    /// Media regions (RTP address and port pools).
    pub media_regions: Vec<MediaRegion>,
    /// Call routes, in file order.
    pub routes: Vec<Route>,
}

impl Config {
    /// The trunk whose allow-list holds `ip` (allow-lists never overlap, so at most one).
    ///
    /// A linear scan over every CIDR of every trunk: fine for tens of trunks. Because
    /// validation guarantees that no address matches two trunks, this can become a
    /// longest-prefix trie (or a sorted vector of disjoint ranges, binary-searched) built
    /// once at load, without changing the answer or this signature.
    pub fn trunk_for(&self, ip: IpAddr) -> Option<&Trunk> {
        let find = |ip: IpAddr| {
            self.trunks
                .iter()
                .find(|t| t.allow.iter().any(|net| net.contains(&ip)))
        };
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 (::ffff:a.b.c.d);
        // those match the IPv4 allow-lists unless a v6 CIDR names them explicitly.
        find(ip).or_else(|| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().and_then(|v4| find(IpAddr::V4(v4))),
            IpAddr::V4(_) => None,
        })
    }

    /// The trunk called `name`.
    pub fn trunk(&self, name: &TrunkName) -> Option<&Trunk> {
        self.trunks.iter().find(|t| &t.name == name)
    }

    /// The media region called `name`.
    pub fn media_region(&self, name: &str) -> Option<&MediaRegion> {
        self.media_regions.iter().find(|r| r.name == name)
    }
}

/// This node's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Node name, `[A-Za-z0-9._-]{1,64}`; appears in logs, metrics and CDRs.
    pub name: String,
    /// The media region this node anchors RTP in; names a [`MediaRegion`].
    pub region: String,
}

/// The admin HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    /// Address to serve `/metrics`, `/healthz`, `/readyz` and `POST /reload` on.
    pub listen: SocketAddr,
}

/// Log output settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// Human-readable or JSON lines.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,voxgate_sip=debug`.
    pub level: String,
    /// Whether caller and callee numbers are redacted in logs.
    pub redact_numbers: bool,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for a log pipeline.
    Json,
}

/// RFC 3261 §17 timer bases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipTimers {
    /// T1, the RTT estimate (default 500 ms).
    pub t1: Duration,
    /// T2, the maximum retransmit interval for non-INVITE requests and INVITE responses (>= T1).
    pub t2: Duration,
    /// T4, the maximum time a message stays in the network.
    pub t4: Duration,
}

/// Hard limits on SIP input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipLimits {
    /// Largest SIP message accepted, in bytes.
    pub max_message_size: usize,
    /// Most header fields accepted in one message.
    pub max_headers: usize,
    /// Close idle TCP/TLS connections after this long; `None` = never.
    pub connection_idle_timeout: Option<Duration>,
}

/// A SIP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerTransport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (over TCP).
    Tls,
}

impl ListenerTransport {
    /// The lowercase name used in the file (`udp`, `tcp`, `tls`).
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerTransport::Udp => "udp",
            ListenerTransport::Tcp => "tcp",
            ListenerTransport::Tls => "tls",
        }
    }

    /// True for transports that run over a TCP socket (tcp and tls share the port space).
    pub fn is_stream(self) -> bool {
        !matches!(self, ListenerTransport::Udp)
    }
}

impl fmt::Display for ListenerTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Transport protocol.
    pub transport: ListenerTransport,
    /// Address and port to bind.
    pub address: SocketAddr,
    /// SO_RCVBUF in bytes; `None` = OS default.
    pub recv_buffer: Option<usize>,
    /// SO_SNDBUF in bytes; `None` = OS default.
    pub send_buffer: Option<usize>,
    /// TLS settings; `Some` exactly when `transport` is TLS.
    pub tls: Option<TlsFiles>,
}

/// Certificate files of a TLS listener, resolved against the config file's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// (certificate chain PEM, private key PEM); `None` = generate a self-signed one at start.
    pub certificate: Option<(PathBuf, PathBuf)>,
    /// CA bundle PEM; when set, clients must present a certificate it verifies (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// A trunk's name, `[A-Za-z0-9._-]{1,64}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrunkName(pub(crate) String);

impl TrunkName {
    /// A trunk name, if `name` has the allowed form `[A-Za-z0-9._-]{1,64}`.
    pub fn new(name: impl Into<String>) -> Option<Self> {
        let name = name.into();
        is_valid_name(&name).then_some(TrunkName(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrunkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TrunkName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// True if `name` is 1 to 64 of `[A-Za-z0-9._-]` (node, trunk, region and route names).
pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A trunk: a set of peers identified by source address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trunk {
    /// Unique name.
    pub name: TrunkName,
    /// Source networks that belong to this trunk (v4 and v6, host bits clear).
    pub allow: Vec<IpNet>,
    /// Transports this trunk may use (no duplicates).
    pub transports: Vec<ListenerTransport>,
    /// Name to verify in the peer's certificate on outbound TLS to this trunk.
    pub tls_peer_name: Option<String>,
}

/// A media region: the addresses and port range RTP is anchored on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRegion {
    /// Unique name.
    pub name: String,
    /// Addresses to bind RTP sockets on.
    pub addresses: Vec<IpAddr>,
    /// First port (even).
    pub port_min: u16,
    /// Last port (> `port_min`).
    pub port_max: u16,
}

/// A call route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Unique name.
    pub name: String,
    /// Which request-URI users this route takes.
    pub match_user: UserMatch,
    /// Where to send the call, tried in order.
    pub destinations: Vec<Destination>,
}

/// How a route matches the called user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMatch {
    /// The user equals this string.
    Exact(String),
    /// The user starts with this string (`""` matches every call).
    Prefix(String),
    /// The user matches this regular expression (syntax not checked yet; never empty).
    Regex(String),
}

/// One place to send a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// A `sip:` or `sips:` URI.
    pub uri: String,
    /// Transport to use (default udp for `sip:`, tls for `sips:`).
    pub transport: ListenerTransport,
    /// Trunk whose policy applies to this leg, if any.
    pub trunk: Option<TrunkName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(TrunkName::new("carrier-a.eu_1").is_some());
        assert!(TrunkName::new("").is_none());
        assert!(TrunkName::new("a b").is_none());
        assert!(TrunkName::new("x".repeat(65)).is_none());
        assert!(TrunkName::new("x".repeat(64)).is_some());
    }
}
