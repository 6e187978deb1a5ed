//! Trunk admission: a packet's source address is checked against the trunks'
//! allow-lists before anything parses it (cheap reject, counted).

use crate::metrics::{DropReason, Metrics};
use crate::registry::Registry;
use arc_swap::ArcSwap;
use ipnet::IpNet;
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
    /// Allow-lists a reload removed or changed, kept while their trunk has calls in
    /// progress so that those calls' BYEs, re-INVITEs and responses still get in.
    retired: ArcSwap<Vec<Retired>>,
    registry: Arc<Registry>,
}

/// A trunk's allow-list as it was before a reload took it away.
#[derive(Debug)]
struct Retired {
    trunk: String,
    allow: Vec<IpNet>,
    transports: Vec<ListenerTransport>,
}

impl AllowLists {
    /// Admission over the shared, reloadable config; `registry` tells which trunks
    /// still have calls in progress.
    pub fn new(config: SharedConfig, metrics: Metrics, registry: Arc<Registry>) -> AllowLists {
        AllowLists {
            config,
            metrics,
            retired: ArcSwap::from_pointee(Vec::new()),
            registry,
        }
    }

    /// Called by a reload before `new` is installed: every trunk of `old` whose
    /// allow-list or transports `new` does not keep as they were is remembered, and
    /// admitted from its old addresses while it has calls in progress. Entries whose
    /// calls have all ended are dropped here.
    pub fn retire(&self, old: &Config, new: &Config) {
        let mut kept: Vec<Retired> = Vec::new();
        for r in self.retired.load().iter() {
            if self.registry.has_trunk(&r.trunk) {
                kept.push(Retired {
                    trunk: r.trunk.clone(),
                    allow: r.allow.clone(),
                    transports: r.transports.clone(),
                });
            }
        }
        for t in &old.trunks {
            let unchanged = new
                .trunks
                .iter()
                .any(|n| n.name == t.name && n.allow == t.allow && n.transports == t.transports);
            if !unchanged && self.registry.has_trunk(t.name.as_str()) {
                kept.push(Retired {
                    trunk: t.name.to_string(),
                    allow: t.allow.clone(),
                    transports: t.transports.clone(),
                });
            }
        }
        self.retired.store(Arc::new(kept));
    }

    /// Whether `source` is an address of a retired allow-list whose trunk still has a
    /// call in progress. Cold path: only for packets the current lists refused.
    fn in_progress(&self, source: IpAddr, transport: TransportKind) -> bool {
        let retired = self.retired.load();
        if retired.is_empty() {
            return false;
        }
        let ip = source.to_canonical();
        retired.iter().any(|r| {
            r.allow.iter().any(|net| net.contains(&ip))
                && r.transports.iter().any(|t| transport_kind(*t) == transport)
                && self.registry.has_trunk(&r.trunk)
        })
    }
}

impl Admission for AllowLists {
    fn admit(&self, source: SocketAddr, transport: TransportKind) -> bool {
        let config = self.config.load();
        match classify(&config, source.ip(), transport) {
            Ok(_) => true,
            Err(_) if self.in_progress(source.ip(), transport) => true,
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
        let lists = AllowLists::new(shared(CONF), metrics.clone(), Arc::default());
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
        let lists = AllowLists::new(config.clone(), metrics, Arc::default());
        let src: SocketAddr = "127.0.0.2:5060".parse().unwrap();
        assert!(!lists.admit(src, TransportKind::Udp));
        let widened = CONF.replace(r#"["127.0.0.1/32", "::1/128"]"#, r#"["127.0.0.0/24"]"#);
        config.store(Arc::new(
            voxgate_config::load_str(&widened, "test.toml").unwrap(),
        ));
        assert!(lists.admit(src, TransportKind::Udp));
    }

    /// A conversation in the registry with an inbound leg on `trunk`.
    fn call_on(registry: &Registry, id: u64, trunk: &str) {
        use crate::control_plane::ConversationId;
        use crate::conversation::task::input_channel;
        use crate::handle::ConversationSummary;
        let summary = ConversationSummary {
            id: format!("c{id}"),
            trunk: Some(trunk.to_owned()),
            region: "r".to_owned(),
            from: None,
            to: None,
            state: "answered",
            started: String::new(),
            answered: None,
            legs: Vec::new(),
        };
        registry.insert(ConversationId(id), summary, input_channel().0.operator());
    }

    #[test]
    fn a_trunk_a_reload_removes_keeps_its_calls_in_dialog_traffic_until_they_end() {
        use crate::control_plane::ConversationId;
        let metrics = Metrics::new("t").unwrap();
        let config = shared(CONF);
        let registry = Arc::new(Registry::default());
        let lists = AllowLists::new(config.clone(), metrics.clone(), registry.clone());
        call_on(&registry, 1, "a");
        let old = config.load_full();
        // Trunk "a" removed; trunk "b" narrowed, with no call in progress.
        let without_a = CONF
            .replace(
                "name = \"a\"\nallow = [\"127.0.0.1/32\", \"::1/128\"]\ntransports = [\"udp\"]\n[[trunk]]\n",
                "",
            )
            .replace("10.1.0.0/16", "10.1.0.0/24");
        let new = Arc::new(voxgate_config::load_str(&without_a, "test.toml").unwrap());
        assert!(new.trunk_for("127.0.0.1".parse().unwrap()).is_none());
        lists.retire(&old, &new);
        config.store(new);

        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        // The call's BYE or re-INVITE from a's address still gets in, on a's transports.
        assert!(lists.admit(addr("127.0.0.1:5060"), TransportKind::Udp));
        assert!(lists.admit(addr("[::1]:5060"), TransportKind::Udp));
        assert!(!lists.admit(addr("127.0.0.1:5060"), TransportKind::Tcp));
        // b's dropped range had no call: refused at once.
        assert!(!lists.admit(addr("10.1.200.3:5060"), TransportKind::Udp));
        // Once a's last call ends, its addresses are refused like any other.
        registry.remove(ConversationId(1));
        assert!(!lists.admit(addr("127.0.0.1:5060"), TransportKind::Udp));
        assert_eq!(
            metrics.allowlist_drops_value(TransportKind::Udp, DropReason::NotAllowed),
            2
        );
        // And the next reload forgets it: a later conversation naming "a" (an
        // originated one, say) does not bring its addresses back.
        lists.retire(&config.load_full(), &config.load_full());
        call_on(&registry, 2, "a");
        assert!(!lists.admit(addr("127.0.0.1:5060"), TransportKind::Udp));
    }
}
