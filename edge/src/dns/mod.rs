//! Destinations by DNS name (RFC 3263): NAPTR, then SRV, then A/AAAA.
//!
//! The parts: [`select`] turns records into ordered next hops (sans-IO, the
//! random draw injected); [`cache`] keeps resolutions for their TTL and says
//! which are due for re-resolution (sans-IO, time passed in); [`Dns`] is the
//! thin shell around hickory-resolver that asks DNS and fills the cache. A
//! conversation asks for a name through its task (never the signalling
//! loop), and [`Dns::refresh`] re-resolves the names in use, and those of
//! the config, before their TTL ends, so that calls find them cached.
//!
//! The transport is the destination's (the config names it): NAPTR records
//! are used only to find the SRV owner name for that transport.

pub mod cache;
pub mod select;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use rand::Rng;
use tokio::sync::Notify;
use tracing::{debug, warn};
use voxgate_config::Config;
use voxgate_sip::TransportKind;

use crate::error::EdgeError;
use crate::metrics::Metrics;
use cache::{Cache, Query};
use select::{Naptr, Resolution, Srv};

/// How long one DNS query may take (each name server, each attempt).
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The resolver of destination names, shared by every conversation.
pub struct Dns {
    resolver: TokioResolver,
    cache: Mutex<Cache>,
    /// Wakes the refresher when the config's names change.
    changed: Notify,
    metrics: Metrics,
}

impl Dns {
    /// A resolver asking `[dns] name_servers`, or the system's resolv.conf
    /// servers when none is configured.
    pub fn new(config: &Config, metrics: Metrics) -> Result<Dns, EdgeError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if config.dns.name_servers.is_empty() {
            match TokioResolver::builder(provider.clone()) {
                Ok(b) => b,
                // No usable resolv.conf (a bare container): the node still
                // serves addresses; only names fail, each with a log line.
                Err(e) => {
                    warn!(error = %e, "no system DNS configuration: destination names will not resolve (set [dns] name_servers)");
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_name_servers(Vec::new()),
                        provider,
                    )
                }
            }
        } else {
            let servers = config
                .dns
                .name_servers
                .iter()
                .map(|addr| name_server(*addr))
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = QUERY_TIMEOUT;
        opts.attempts = 1;
        // Our cache is the one cache: it knows which names are in use and
        // refreshes them; a second cache below would hand the refresher
        // the records it is meant to replace.
        opts.cache_size = 0;
        let resolver = builder.build().map_err(EdgeError::Dns)?;
        Ok(Dns {
            resolver,
            cache: Mutex::new(Cache::default()),
            changed: Notify::new(),
            metrics,
        })
    }

    /// The next hops for `query`, in the order to try them: from the cache,
    /// or asked of DNS. Empty when the name resolves to nothing.
    pub async fn targets(&self, query: &Query) -> Vec<SocketAddr> {
        let cached = self
            .lock()
            .get(Instant::now(), query)
            .map(|r| select::order(r, draw));
        if let Some(hops) = cached {
            self.metrics.dns_lookup("cached");
            return hops;
        }
        match self.resolve(query).await {
            Some((resolution, ttl)) => {
                self.metrics.dns_lookup("resolved");
                let hops = select::order(&resolution, draw);
                self.store(query.clone(), resolution, ttl);
                hops
            }
            None => {
                self.metrics.dns_lookup("failed");
                Vec::new()
            }
        }
    }

    /// The next hops of `query` if its resolution is cached (in the order to
    /// try them); empty otherwise. Never waits.
    pub fn cached(&self, query: &Query) -> Vec<SocketAddr> {
        self.lock()
            .get(Instant::now(), query)
            .map(|r| select::order(r, draw))
            .unwrap_or_default()
    }

    /// Keeps the names of `config`'s route destinations resolved (called at
    /// start and on every reload).
    pub fn watch_config(&self, config: &Config) {
        let queries = config_queries(config);
        let missing = self.lock().pin(queries);
        if !missing.is_empty() {
            debug!(names = missing.len(), "new destination names to resolve");
        }
        self.changed.notify_one();
    }

    /// Re-resolves, in the background, the names the cache says are due,
    /// and resolves the config's names not resolved yet. Runs until dropped.
    pub async fn refresh(&self) {
        loop {
            let missing = self.lock().missing();
            let due = self.lock().due(Instant::now());
            let mut retry = None;
            for query in missing.into_iter().chain(due) {
                match self.resolve(&query).await {
                    Some((resolution, ttl)) => {
                        self.metrics.dns_lookup("refreshed");
                        self.store(query, resolution, ttl);
                    }
                    None => {
                        self.metrics.dns_lookup("refresh_failed");
                        self.lock().refresh_failed(Instant::now(), &query);
                        retry = Some(Instant::now() + cache::RETRY);
                    }
                }
            }
            let next = match (self.lock().poll_timeout(), retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = self.changed.notified() => {}
            }
        }
    }

    fn store(&self, query: Query, resolution: Resolution, ttl: Duration) {
        let mut cache = self.lock();
        cache.insert(Instant::now(), query, resolution, ttl);
        self.metrics.dns_cache_entries(cache.len());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// RFC 3263 §4: an explicit port means A/AAAA only; otherwise NAPTR
    /// for the SRV owner (or `_sip._udp.name` and its kin), SRV, then the
    /// targets' addresses; no SRV record means A/AAAA of the name itself.
    /// With the smallest TTL of the records used.
    async fn resolve(&self, query: &Query) -> Option<(Resolution, Duration)> {
        let name = fqdn(&query.name);
        if let Some(port) = query.port {
            let (addrs, ttl) = self.addresses(&name).await?;
            return Some((single(port, addrs), ttl));
        }
        let (naptrs, naptr_ttl) = self.naptrs(&name).await;
        let mut owners = select::srv_names(&naptrs, query.transport);
        let from_naptr = !owners.is_empty();
        if !from_naptr {
            owners.push(format!("{}.{name}", select::srv_prefix(query.transport)));
        }
        for owner in owners {
            if let Some((records, ttl)) = self.srvs(&owner).await {
                let ttl = naptr_ttl.map_or(ttl, |n| n.min(ttl));
                return Some((Resolution { records }, ttl));
            }
        }
        let (addrs, ttl) = self.addresses(&name).await?;
        let port = select::default_port(query.transport);
        Some((single(port, addrs), ttl))
    }

    async fn naptrs(&self, name: &str) -> (Vec<Naptr>, Option<Duration>) {
        let Ok(lookup) = self.resolver.lookup(name, RecordType::NAPTR).await else {
            return (Vec::new(), None);
        };
        let mut ttl = None::<Duration>;
        let mut naptrs = Vec::new();
        for record in lookup.answers() {
            if let RData::NAPTR(n) = &record.data {
                ttl = Some(min_ttl(ttl, record.ttl));
                naptrs.push(Naptr {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: n.replacement.to_ascii(),
                });
            }
        }
        (naptrs, ttl)
    }

    /// The SRV records at `owner` with their targets' addresses; `None`
    /// when there are none, or only the "." target (no service there).
    async fn srvs(&self, owner: &str) -> Option<(Vec<Srv>, Duration)> {
        let lookup = self.resolver.lookup(owner, RecordType::SRV).await.ok()?;
        let mut ttl = None::<Duration>;
        let mut records = Vec::new();
        for record in lookup.answers() {
            let RData::SRV(srv) = &record.data else {
                continue;
            };
            if srv.target.is_root() {
                continue;
            }
            ttl = Some(min_ttl(ttl, record.ttl));
            // A target without addresses is skipped: the others may do.
            let Some((addrs, a_ttl)) = self.addresses(&srv.target.to_ascii()).await else {
                warn!(owner, target = %srv.target, "an SRV target has no address");
                continue;
            };
            ttl = ttl.map(|t| t.min(a_ttl));
            records.push(Srv {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                addrs,
            });
        }
        if records.is_empty() {
            return None;
        }
        Some((records, ttl.unwrap_or(cache::MIN_TTL)))
    }

    async fn addresses(&self, name: &str) -> Option<(Vec<IpAddr>, Duration)> {
        let lookup = match self.resolver.lookup_ip(name).await {
            Ok(l) => l,
            Err(e) => {
                debug!(name, error = %e, "no address");
                return None;
            }
        };
        let addrs: Vec<IpAddr> = lookup.iter().collect();
        if addrs.is_empty() {
            return None;
        }
        let ttl = lookup
            .as_lookup()
            .answers()
            .iter()
            .map(|r| Duration::from_secs(u64::from(r.ttl)))
            .min()
            .unwrap_or(cache::MIN_TTL);
        Some((addrs, ttl))
    }
}

/// The names among the route destinations of `config`.
pub fn config_queries(config: &Config) -> Vec<Query> {
    let mut queries: Vec<Query> = Vec::new();
    for route in &config.routes {
        for d in &route.destinations {
            let transport = crate::admission::transport_kind(d.transport);
            if let Some(q) = name_query(&d.uri, transport)
                && !queries.contains(&q)
            {
                queries.push(q);
            }
        }
    }
    queries
}

/// The query for a `sip:`/`sips:` URI whose host is a name (not an IP
/// address, nor `localhost`); `None` otherwise.
pub fn name_query(uri: &str, transport: TransportKind) -> Option<Query> {
    let (host, port) = crate::conversation::uri_host_port(uri)?;
    if host.parse::<IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost") {
        return None;
    }
    Some(Query::new(host, port, transport))
}

fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

fn single(port: u16, addrs: Vec<IpAddr>) -> Resolution {
    Resolution {
        records: vec![Srv {
            priority: 0,
            weight: 0,
            port,
            addrs,
        }],
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

fn min_ttl(acc: Option<Duration>, ttl: u32) -> Duration {
    let ttl = Duration::from_secs(u64::from(ttl));
    acc.map_or(ttl, |a| a.min(ttl))
}

/// The RFC 2782 draw: a number in `0..=total`.
fn draw(total: u32) -> u32 {
    rand::rng().random_range(0..=total)
}
