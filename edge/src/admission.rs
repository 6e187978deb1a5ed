//! Trunk admission: a packet's source address is checked against the trunks'
//! allow-lists before anything parses it (cheap reject, counted), and a source in none
//! of them against its rate limits ([`crate::protection::limiter`]): a banned source's
//! packets are dropped without even an event.

use crate::metrics::{DropReason, Metrics};
use crate::protection::blocks::Blocks;
use crate::protection::limiter::{Limiter, Limits, Verdict as Limit};
use crate::registry::Registry;
use arc_swap::ArcSwap;
use ipnet::IpNet;
use prometheus::IntCounter;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tracing::warn;
use voxgate_config::{Config, ListenerTransport, Trunk};
use voxgate_sip::TransportKind;
use voxgate_sip::transport::{Admission, Verdict};

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
    /// Swapped for an empty one when a reload changes `max_sources` (the only
    /// allocation, once per such reload).
    limiter: ArcSwap<Limiter>,
    /// The limiter's clock starts here.
    epoch: Instant,
    /// Per transport (UDP, TCP, TLS): drops of unlisted sources and of banned ones,
    /// resolved once so that a flood's packets do not look up labels each.
    not_allowed: [IntCounter; 3],
    banned: [IntCounter; 3],
    /// Allow-lists a reload removed or changed, kept while their trunk has calls in
    /// progress so that those calls' BYEs, re-INVITEs and responses still get in.
    retired: ArcSwap<Vec<Retired>>,
    registry: Arc<Registry>,
    /// Operator blocks, and the list of the limiter's bans.
    blocks: Blocks,
}

/// A trunk's allow-list as it was before a reload took it away.
#[derive(Debug, Clone)]
struct Retired {
    trunk: String,
    allow: Vec<IpNet>,
    transports: Vec<ListenerTransport>,
    /// The trunk registered: until this instant (the limiter's clock, ms) its
    /// addresses are admitted whatever its calls, so that the registrar's answers
    /// to the removal of the binding (RFC 3261 §10.2.2) and to its challenge get in.
    removal_until: Option<u64>,
}

/// Non-INVITE transactions a binding's removal may take: the removal and its
/// answers to a challenge (at most two, see `core::register`), each up to
/// timer F (64 × T1).
const REMOVAL_TRANSACTIONS: u32 = 3;

const TRANSPORTS: [TransportKind; 3] = [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls];

fn transport_index(t: TransportKind) -> usize {
    match t {
        TransportKind::Udp => 0,
        TransportKind::Tcp => 1,
        TransportKind::Tls => 2,
    }
}

impl AllowLists {
    /// Admission over the shared, reloadable config; `registry` tells which trunks
    /// still have calls in progress.
    pub fn new(config: SharedConfig, metrics: Metrics, registry: Arc<Registry>) -> AllowLists {
        let size = config.load().protection.max_sources;
        let not_allowed =
            TRANSPORTS.map(|t| metrics.allowlist_drops_counter(t, DropReason::NotAllowed));
        let banned = TRANSPORTS.map(|t| metrics.banned_drops_counter(t));
        AllowLists {
            config,
            metrics,
            limiter: ArcSwap::from_pointee(Limiter::new(table_size(size))),
            epoch: Instant::now(),
            not_allowed,
            banned,
            retired: ArcSwap::from_pointee(Vec::new()),
            registry,
            blocks: Blocks::default(),
        }
    }

    /// The limiter's clock at `now`, in ms.
    pub fn clock_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Operator blocks and the bans the limiter started (for the admin API).
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// Lifts an operator's block of `net` and the limiter's ban of it (an address, or a
    /// /24 or /64 prefix); true when either was in force.
    pub fn unblock(&self, now: Instant, net: IpNet) -> bool {
        let now_ms = self.clock_ms(now);
        let blocked = self.blocks.unblock(now_ms, net);
        let banned = crate::protection::blocks::scope_of(&net)
            .is_some_and(|scope| self.limiter.load().lift(now_ms, net.addr(), scope));
        blocked || banned
    }

    /// Called by a reload before `new` is installed: every trunk of `old` whose
    /// allow-list or transports `new` does not keep as they were is remembered, and
    /// admitted from its old addresses while it has calls in progress, and, if it
    /// registered, for as long as the removal of its binding may take (the registrar
    /// answers from those addresses). Entries with neither are dropped here.
    pub fn retire(&self, now: Instant, old: &Config, new: &Config) {
        let now_ms = self.clock_ms(now);
        let removal_ms = u64::try_from((new.timers.t1 * 64 * REMOVAL_TRANSACTIONS).as_millis())
            .unwrap_or(u64::MAX);
        let mut kept: Vec<Retired> = self
            .retired
            .load()
            .iter()
            .filter(|r| self.live(r, now_ms))
            .cloned()
            .collect();
        for t in &old.trunks {
            let unchanged = new
                .trunks
                .iter()
                .any(|n| n.name == t.name && n.allow == t.allow && n.transports == t.transports);
            // A binding the new config no longer asks for is removed.
            let removes_binding = t.register.is_some()
                && new.trunk(&t.name).and_then(|n| n.register.as_ref()) != t.register.as_ref();
            let removal_until = removes_binding.then(|| now_ms.saturating_add(removal_ms));
            if !unchanged && (removal_until.is_some() || self.registry.has_trunk(t.name.as_str())) {
                kept.push(Retired {
                    trunk: t.name.to_string(),
                    allow: t.allow.clone(),
                    transports: t.transports.clone(),
                    removal_until,
                });
            }
        }
        self.retired.store(Arc::new(kept));
    }

    /// Whether a retired allow-list still admits: its trunk has a call in progress,
    /// or the removal of its binding may still be under way at `now_ms`.
    fn live(&self, r: &Retired, now_ms: u64) -> bool {
        r.removal_until.is_some_and(|until| now_ms < until) || self.registry.has_trunk(&r.trunk)
    }

    /// Whether `source` is an address of a retired allow-list that still admits (as
    /// [`AllowLists::live`], reading the clock only for an entry with a removal
    /// grace). Cold path: only for packets the current lists refused.
    fn in_progress(
        &self,
        now: impl Fn() -> Instant,
        source: IpAddr,
        transport: TransportKind,
    ) -> bool {
        let retired = self.retired.load();
        if retired.is_empty() {
            return false;
        }
        let ip = source.to_canonical();
        retired.iter().any(|r| {
            r.allow.iter().any(|net| net.contains(&ip))
                && r.transports.iter().any(|t| transport_kind(*t) == transport)
                && (r
                    .removal_until
                    .is_some_and(|until| self.clock_ms(now()) < until)
                    || self.registry.has_trunk(&r.trunk))
        })
    }

    /// The verdict on a source in no allow-list, at `now` (the caller's clock).
    fn unlisted(&self, config: &Config, now: Instant, source: SocketAddr) -> Limit {
        let wanted = table_size(config.protection.max_sources);
        let mut limiter = self.limiter.load();
        if limiter.capacity() != Limiter::capacity_for(wanted) {
            self.limiter.store(Arc::new(Limiter::new(wanted)));
            limiter = self.limiter.load();
        }
        let now_ms = self.clock_ms(now);
        let limits = Limits::from_config(&config.protection);
        let verdict = limiter.check(now_ms, source.ip(), &limits);
        if let Limit::NewBan { scope, ms, level } = verdict {
            self.metrics.ban(scope.label());
            self.blocks.banned(now_ms, source.ip(), scope, ms, level);
            // Once per ban: the packets it drops are only counted.
            warn!(
                source = %source.ip(),
                scope = scope.label(),
                seconds = ms / 1000,
                repeat = level,
                "banned: over the rate limit for sources in no allow-list"
            );
        }
        verdict
    }

    /// The decision at `now`; `now` is asked for only for sources in no allow-list,
    /// so trunk traffic pays no clock read.
    pub fn check_at(
        &self,
        now: impl Fn() -> Instant,
        source: SocketAddr,
        transport: TransportKind,
    ) -> Verdict {
        // An operator's block holds whatever the source (one atomic load while none).
        if self.blocks.blocked_fast() && self.blocks.blocked(self.clock_ms(now()), source.ip()) {
            self.banned[transport_index(transport)].inc();
            return Verdict::Silence;
        }
        let config = self.config.load();
        match classify(&config, source.ip(), transport) {
            Ok(_) => Verdict::Admit,
            // A removed trunk's calls in progress keep their in-dialog traffic, and
            // its registrar can answer the removal of its binding (cold path: only
            // packets the current lists refused).
            Err(_) if self.in_progress(&now, source.ip(), transport) => Verdict::Admit,
            Err(DropReason::NotAllowed) => match self.unlisted(&config, now(), source) {
                Limit::Pass => {
                    self.not_allowed[transport_index(transport)].inc();
                    Verdict::Refuse
                }
                Limit::Banned | Limit::NewBan { .. } => {
                    self.banned[transport_index(transport)].inc();
                    Verdict::Silence
                }
            },
            // A trunk's own address on the wrong transport: a configuration matter,
            // never banned.
            Err(reason) => {
                self.metrics.allowlist_drop(transport, reason);
                Verdict::Refuse
            }
        }
    }
}

/// `max_sources` as a table size.
fn table_size(max_sources: u32) -> usize {
    usize::try_from(max_sources).unwrap_or(usize::MAX)
}

impl Admission for AllowLists {
    fn admit(&self, source: SocketAddr, transport: TransportKind) -> bool {
        self.check(source, transport) == Verdict::Admit
    }

    fn check(&self, source: SocketAddr, transport: TransportKind) -> Verdict {
        self.check_at(Instant::now, source, transport)
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

    #[test]
    fn an_operator_block_silences_any_source_and_unblock_lifts_bans_too() {
        let metrics = Metrics::new("t").unwrap();
        let conf = format!("{CONF}[protection]\nsource_rate = 10\nsource_burst = 20\nban_s = 5\n");
        let lists = AllowLists::new(shared(&conf), metrics.clone(), Arc::default());
        let t0 = Instant::now();
        let at = |ms: u64| move || t0 + std::time::Duration::from_millis(ms);
        let trunk: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        // A trunk's own address, blocked by the operator: silence, counted as banned.
        lists
            .blocks()
            .block(lists.clock_ms(t0), "127.0.0.1/32".parse().unwrap(), None)
            .unwrap();
        assert_eq!(
            lists.check_at(at(1), trunk, TransportKind::Udp),
            Verdict::Silence
        );
        assert_eq!(metrics.banned_drops_value(TransportKind::Udp), 1);
        assert!(lists.unblock(at(2)(), "127.0.0.1/32".parse().unwrap()));
        assert_eq!(
            lists.check_at(at(3), trunk, TransportKind::Udp),
            Verdict::Admit
        );
        // A stranger's ban is listed, and lifted by an unblock of its address.
        let stranger: SocketAddr = "127.0.0.9:5060".parse().unwrap();
        for i in 0..21 {
            lists.check_at(at(10 + i), stranger, TransportKind::Udp);
        }
        let now = lists.clock_ms(at(40)());
        let bans = lists.blocks().list(now);
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].net, "127.0.0.9/32".parse().unwrap());
        assert_eq!(
            lists.check_at(at(40), stranger, TransportKind::Udp),
            Verdict::Silence
        );
        assert!(lists.unblock(at(41)(), "127.0.0.9/32".parse().unwrap()));
        assert!(lists.blocks().list(now).is_empty());
        // Unbanned: refused as an unlisted source, no longer silenced.
        assert_eq!(
            lists.check_at(at(42), stranger, TransportKind::Udp),
            Verdict::Refuse
        );
    }

    #[test]
    fn an_unlisted_flood_is_banned_once_and_then_silenced_but_a_trunk_never() {
        let metrics = Metrics::new("t").unwrap();
        let conf = format!("{CONF}[protection]\nsource_rate = 10\nsource_burst = 20\nban_s = 5\n");
        let lists = AllowLists::new(shared(&conf), metrics.clone(), Arc::default());
        let t0 = Instant::now();
        let at = |ms: u64| move || t0 + std::time::Duration::from_millis(ms);
        let stranger: SocketAddr = "127.0.0.9:5060".parse().unwrap();
        let trunk: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        // 1,000 packets in one second from each.
        let mut verdicts = Vec::new();
        for i in 0..1000 {
            verdicts.push(lists.check_at(at(i), stranger, TransportKind::Udp));
            assert_eq!(
                lists.check_at(at(i), trunk, TransportKind::Udp),
                Verdict::Admit
            );
        }
        // The burst is refused (and reported), everything after it silenced.
        assert!(verdicts[..20].iter().all(|v| *v == Verdict::Refuse));
        assert!(verdicts[20..].iter().all(|v| *v == Verdict::Silence));
        assert_eq!(metrics.bans_value("address"), 1);
        assert_eq!(metrics.banned_drops_value(TransportKind::Udp), 980);
        assert_eq!(
            metrics.allowlist_drops_value(TransportKind::Udp, DropReason::NotAllowed),
            20
        );
        // Banned on every transport; the ban ends after ban_s.
        assert_eq!(
            lists.check_at(at(1500), stranger, TransportKind::Tcp),
            Verdict::Silence
        );
        assert_eq!(
            lists.check_at(at(5020), stranger, TransportKind::Udp),
            Verdict::Refuse
        );
        // A trunk's address on a transport it may not use is refused, never banned.
        for i in 0..1000 {
            assert_eq!(
                lists.check_at(at(i), trunk, TransportKind::Tcp),
                Verdict::Refuse
            );
        }
        assert_eq!(metrics.bans_value("address"), 1);
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
        lists.retire(Instant::now(), &old, &new);
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
        lists.retire(Instant::now(), &config.load_full(), &config.load_full());
        call_on(&registry, 2, "a");
        assert!(!lists.admit(addr("127.0.0.1:5060"), TransportKind::Udp));
    }

    #[test]
    fn a_registering_trunk_a_reload_removes_keeps_its_addresses_while_the_removal_may_run() {
        use std::time::Duration;
        let registering = CONF.replace(
            "transports = [\"udp\"]\n",
            "transports = [\"udp\"]\nregister = { registrar = \"sip:127.0.0.1:5070\", user = \"u\" }\n",
        );
        let metrics = Metrics::new("t").unwrap();
        let config = shared(&registering);
        let lists = AllowLists::new(config.clone(), metrics, Arc::default());
        let old = config.load_full();
        assert!(old.trunks[0].register.is_some());
        // Trunk "a" (registering, no call in progress) removed; "b" narrowed (neither).
        let without_a = CONF
            .replace(
                "name = \"a\"\nallow = [\"127.0.0.1/32\", \"::1/128\"]\ntransports = [\"udp\"]\n[[trunk]]\n",
                "",
            )
            .replace("10.1.0.0/16", "10.1.0.0/24");
        let new = Arc::new(voxgate_config::load_str(&without_a, "test.toml").unwrap());
        let t0 = Instant::now();
        lists.retire(t0, &old, &new);
        config.store(new);

        let registrar: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let at = |after: Duration, source: SocketAddr, transport| {
            lists.check_at(|| t0 + after, source, transport)
        };
        // The registrar's answer to the removal, and to its challenge: timer F (32 s
        // with T1 500 ms) three times over.
        assert_eq!(
            at(Duration::ZERO, registrar, TransportKind::Udp),
            Verdict::Admit
        );
        assert_eq!(
            at(Duration::from_secs(95), registrar, TransportKind::Udp),
            Verdict::Admit
        );
        // Only on the trunk's transports; b's dropped range had no binding: refused.
        assert_eq!(
            at(Duration::ZERO, registrar, TransportKind::Tcp),
            Verdict::Refuse
        );
        let b_dropped: SocketAddr = "10.1.200.3:5060".parse().unwrap();
        assert_eq!(
            at(Duration::ZERO, b_dropped, TransportKind::Udp),
            Verdict::Refuse
        );
        // A reload within the grace keeps it; past it, refused, and the next reload forgets it.
        let current = config.load_full();
        lists.retire(t0 + Duration::from_secs(10), &current, &current);
        assert_eq!(
            at(Duration::from_secs(95), registrar, TransportKind::Udp),
            Verdict::Admit
        );
        assert_eq!(
            at(Duration::from_secs(97), registrar, TransportKind::Udp),
            Verdict::Refuse
        );
        lists.retire(t0 + Duration::from_secs(97), &current, &current);
        assert!(lists.retired.load().is_empty());
    }
}
