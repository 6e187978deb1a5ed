//! Trunk admission: a packet's source address is checked against the trunks'
//! allow-lists before anything parses it (cheap reject, counted).

use crate::metrics::{DropReason, Metrics};
use arc_swap::ArcSwap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use voxgate_config::{Config, ListenerTransport, Trunk};
use voxgate_sip::TransportKind;
use voxgate_sip::transport::Admission;

/// The running configuration, swapped atomically on reload; readers see
/// either the old or the new snapshot, never a mix.
pub type SharedConfig = Arc<ArcSwap<Config>>;

/// Maps the config's transport enum to the SIP stack's.
pub fn transport_kind(t: ListenerTransport) -> TransportKind {
    match t {
        ListenerTransport::Udp => TransportKind::Udp,
        ListenerTransport::Tcp => TransportKind::Tcp,
        ListenerTransport::Tls => TransportKind::Tls,
    }
}

/// Maps the SIP stack's transport enum to the config's.
pub fn listener_transport(t: TransportKind) -> ListenerTransport {
    match t {
        TransportKind::Udp => ListenerTransport::Udp,
        TransportKind::Tcp => ListenerTransport::Tcp,
        TransportKind::Tls => ListenerTransport::Tls,
    }
}

/// Finds the trunk a source belongs to and checks it may use `transport`.
pub fn classify(
    config: &Config,
    source: IpAddr,
    transport: TransportKind,
) -> Result<&Trunk, DropReason> {
    // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
    let ip = source.to_canonical();
    let trunk = config.trunk_for(ip).ok_or(DropReason::NotAllowed)?;
    if trunk
        .transports
        .iter()
        .any(|t| transport_kind(*t) == transport)
    {
        Ok(trunk)
    } else {
        Err(DropReason::TransportNotAllowed)
    }
}

/// The allow-list check the transports call per datagram and per accepted
/// connection. It reads the current config snapshot, so a reload applies to
/// the next packet.
pub struct AllowLists {
    config: SharedConfig,
    metrics: Metrics,
}

impl AllowLists {
    /// Admission over the shared, reloadable config.
    pub fn new(config: SharedConfig, metrics: Metrics) -> AllowLists {
        AllowLists { config, metrics }
    }
}

impl Admission for AllowLists {
    fn admit(&self, source: SocketAddr, transport: TransportKind) -> bool {
        let config = self.config.load();
        match classify(&config, source.ip(), transport) {
            Ok(_) => true,
            Err(reason) => {
                self.metrics.allowlist_drop(transport, reason);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[trunk]]
name = "a"
allow = ["127.0.0.1/32", "::1/128"]
transports = ["udp"]
[[trunk]]
name = "b"
allow = ["10.1.0.0/16"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#;

    fn shared(text: &str) -> SharedConfig {
        Arc::new(ArcSwap::from_pointee(
            voxgate_config::load_str(text, "test.toml").unwrap(),
        ))
    }

    #[test]
    fn admits_listed_sources_and_counts_the_rest() {
        let metrics = Metrics::new("t").unwrap();
        let lists = AllowLists::new(shared(CONF), metrics.clone());
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(lists.admit(addr("127.0.0.1:5060"), TransportKind::Udp));
        assert!(lists.admit(addr("[::1]:5060"), TransportKind::Udp));
        // IPv4-mapped form of an allowed v4 address.
        assert!(lists.admit(addr("[::ffff:127.0.0.1]:5060"), TransportKind::Udp));
        assert!(lists.admit(addr("10.1.200.3:5060"), TransportKind::Tls));
        assert!(!lists.admit(addr("127.0.0.2:5060"), TransportKind::Udp));
        assert!(!lists.admit(addr("127.0.0.1:5060"), TransportKind::Tcp));
        assert_eq!(
            metrics.allowlist_drops_value(TransportKind::Udp, DropReason::NotAllowed),
            1
        );
        assert_eq!(
            metrics.allowlist_drops_value(TransportKind::Tcp, DropReason::TransportNotAllowed),
            1
        );
    }

    #[test]
    fn a_swapped_config_applies_to_the_next_packet() {
        let metrics = Metrics::new("t").unwrap();
        let config = shared(CONF);
        let lists = AllowLists::new(config.clone(), metrics);
        let src: SocketAddr = "127.0.0.2:5060".parse().unwrap();
        assert!(!lists.admit(src, TransportKind::Udp));
        let widened = CONF.replace(r#"["127.0.0.1/32", "::1/128"]"#, r#"["127.0.0.0/24"]"#);
        config.store(Arc::new(
            voxgate_config::load_str(&widened, "test.toml").unwrap(),
        ));
        assert!(lists.admit(src, TransportKind::Udp));
    }
}
