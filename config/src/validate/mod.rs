//! From the raw serde structs to the typed [`Config`], collecting every error.
//!
//! Each section is checked on its own and yields a value even when it is wrong (a
//! placeholder), so that the later cross-section checks still run and the user sees every
//! problem in one go; a `Config` is only returned when no error was found.

mod api;
mod calls;
mod flows;
mod headers;
mod listeners;
mod media;
mod prompts;
mod protection;
mod routes;
mod routing;
mod trunks;

pub use trunks::KNOWN_CODECS;

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind, Relation};
use crate::model::{
    Admin, Config, ListenerTransport, LogFormat, Logging, Node, SipLimits, SipTimers, is_valid_name,
};
use crate::raw::{RawConfig, RawLogFormat, RawSip, RawTransport, S};
use crate::schema;
use crate::source::Source;

/// Where the admin endpoint listens when `[admin] listen` is not given: loopback only.
const DEFAULT_ADMIN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9060);

/// Validates the whole file; `base_dir` is where relative paths are resolved from.
pub(crate) fn validate<'a>(
    raw: RawConfig,
    source: &'a Source<'a>,
    base_dir: &Path,
    includes: &'a [(Source<'a>, crate::raw::RawInclude)],
) -> Result<Config, Vec<ConfigError>> {
    let mut v = Validator {
        source,
        base_dir,
        errors: Vec::new(),
        api_configured: raw.api.is_some(),
    };
    let node = v.node(&raw);
    let admin = v.admin(&raw);
    let logging = v.logging(&raw);
    let (timers, limits) = v.sip(raw.sip.as_ref().map(|s| s.get_ref()));
    let listeners = v.listeners(&raw.listener);
    v.admin_collisions(&raw, &admin, &listeners);
    let api = v.api(&raw, &admin, &listeners);
    let regions = v.media_regions(&raw.media_region);
    v.media_port_collisions(&listeners, &regions, &raw.media_region);
    let region_names: Vec<String> = regions.iter().map(|r| r.name.clone()).collect();
    if let Some(region) = raw.node.as_ref().and_then(|n| n.get_ref().region.as_ref()) {
        v.reference(region, "node.region", "media_region", &region_names);
    }
    let listener_addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.listener.address.to_string())
        .collect();
    let trunks = v.trunks(&raw.trunk, &node.region, &region_names, &listener_addrs);
    let trunk_names: Vec<String> = trunks.iter().map(|t| t.name.to_string()).collect();
    let routes = v.routes(&raw.route, &trunk_names);
    let calls = v.calls(raw.calls.as_ref());
    let cdr = v.cdr(raw.cdr.as_ref());
    let hep = v.hep(raw.hep.as_ref());
    let media = v.media(raw.media.as_ref(), &raw.prompt);
    let protection = v.protection(raw.protection.as_ref());
    let dns = v.dns(raw.dns.as_ref());
    let kill_switch = v.kill_switch(raw.kill_switch.as_ref());
    let prompt_names: Vec<String> = media.prompts.iter().map(|p| p.name.clone()).collect();
    let flow_files: Vec<_> = std::iter::once((source, raw.flow.as_ref()))
        .chain(includes.iter().map(|(s, inc)| (s, inc.flow.as_ref())))
        .collect();
    let routing = v.routing(
        &raw.site,
        &raw.team,
        &raw.agent,
        &raw.queue,
        &trunk_names,
        &prompt_names,
    );
    let queue_names: Vec<String> = routing.queues.iter().map(|q| q.name.clone()).collect();
    let agent_names: Vec<String> = routing.agents.iter().map(|a| a.name.clone()).collect();
    let flows = v.flows(&flow_files, &prompt_names, &queue_names, &agent_names);
    let flow_names: Vec<String> = flows.iter().map(|f| f.name.clone()).collect();
    let entry_files: Vec<_> = std::iter::once((source, raw.entry_point.as_ref()))
        .chain(
            includes
                .iter()
                .map(|(s, inc)| (s, inc.entry_point.as_ref())),
        )
        .collect();
    let entry_points = v.entry_points(&entry_files, &trunk_names, &flow_names, &queue_names);

    if !v.errors.is_empty() {
        return Err(v.errors);
    }
    Ok(Config {
        source: source.name().to_owned(),
        node,
        admin,
        logging,
        timers,
        limits,
        listeners: listeners.into_iter().map(|l| l.listener).collect(),
        trunks,
        media_regions: regions,
        routes,
        calls,
        cdr,
        hep,
        api,
        media,
        protection,
        dns,
        kill_switch,
        entry_points,
        flows,
        sites: routing.sites,
        teams: routing.teams,
        agents: routing.agents,
        queues: routing.queues,
    })
}

/// The error collector and the checks shared by the sections.
pub(crate) struct Validator<'a> {
    source: &'a Source<'a>,
    base_dir: &'a Path,
    errors: Vec<ConfigError>,
    /// Whether the file has an `[api]` section (`control = "api"` needs one).
    api_configured: bool,
}

impl Validator<'_> {
    /// A `keepalive = { ... }` table of a trunk or a destination, at `key`.
    fn keepalive(
        &mut self,
        raw: &S<crate::raw::RawKeepalive>,
        key: &str,
    ) -> crate::model::Keepalive {
        let raw = raw.get_ref();
        let interval = self.int_or(
            raw.interval_s.as_ref(),
            &format!("{key}.interval_s"),
            (1, 3600),
            30,
        );
        let down_after = self.int_or(
            raw.down_after.as_ref(),
            &format!("{key}.down_after"),
            (1, 100),
            3,
        );
        let up_after = self.int_or(
            raw.up_after.as_ref(),
            &format!("{key}.up_after"),
            (1, 100),
            2,
        );
        crate::model::Keepalive {
            interval: Duration::from_secs(u64::try_from(interval).unwrap_or(30)),
            down_after: u32::try_from(down_after).unwrap_or(3),
            up_after: u32::try_from(up_after).unwrap_or(2),
        }
    }

    /// `[dns]`: name servers as `ip` or `ip:port`.
    fn dns(&mut self, raw: Option<&S<crate::raw::RawDns>>) -> crate::model::Dns {
        let mut dns = crate::model::Dns::default();
        let Some(list) = raw.and_then(|r| r.get_ref().name_servers.as_ref()) else {
            return dns;
        };
        for (i, server) in list.get_ref().iter().enumerate() {
            let text = server.get_ref().trim();
            let addr = text
                .parse::<SocketAddr>()
                .ok()
                .or_else(|| Some(SocketAddr::new(text.parse().ok()?, 53)));
            match addr {
                Some(a) => dns.name_servers.push(a),
                None => {
                    let key = format!("dns.name_servers[{i}]");
                    self.bad_value(server.span(), &key, schema::describe(&key));
                }
            }
        }
        dns
    }

    fn push(&mut self, span: Range<usize>, key: impl Into<String>, kind: ConfigErrorKind) {
        self.errors.push(self.source.error(span, key, kind));
    }

    fn line(&self, span: &Range<usize>) -> usize {
        self.source.line(span.start)
    }

    /// `value`, or a `Missing` error at `parent` (the enclosing table's header) if absent.
    fn require<'v, T>(
        &mut self,
        value: &'v Option<S<T>>,
        parent: &Range<usize>,
        key: &str,
    ) -> Option<&'v S<T>> {
        if value.is_none() {
            let expected = schema::describe(key).to_owned();
            self.push(parent.clone(), key, ConfigErrorKind::Missing { expected });
        }
        value.as_ref()
    }

    /// A list that must hold at least one element.
    fn non_empty<'v, T>(&mut self, list: &'v S<Vec<S<T>>>, key: &str) -> &'v [S<T>] {
        if list.get_ref().is_empty() {
            let expected = format!("at least one element: {}", schema::describe(key));
            self.push(list.span(), key, ConfigErrorKind::Empty { expected });
        }
        list.get_ref()
    }

    /// An integer in `min..=max`.
    fn int(&mut self, value: &S<i64>, key: &str, min: i64, max: i64) -> Option<i64> {
        let n = *value.get_ref();
        if (min..=max).contains(&n) {
            Some(n)
        } else {
            let kind = ConfigErrorKind::OutOfRange { found: n, min, max };
            self.push(value.span(), key, kind);
            None
        }
    }

    /// An optional integer in `min..=max`, or `default`.
    fn int_or(
        &mut self,
        value: Option<&S<i64>>,
        key: &str,
        (min, max): (i64, i64),
        default: i64,
    ) -> i64 {
        value.map_or(default, |v| self.int(v, key, min, max).unwrap_or(default))
    }

    fn bad_value(&mut self, span: Range<usize>, key: &str, expected: impl Into<String>) {
        let found = self.source.snippet(span.clone());
        let expected = expected.into();
        self.push(span, key, ConfigErrorKind::BadValue { found, expected });
    }

    /// A node, trunk, region or route name.
    fn name(&mut self, value: &S<String>, key: &str) -> Option<String> {
        if is_valid_name(value.get_ref()) {
            Some(value.get_ref().clone())
        } else {
            self.bad_value(value.span(), key, schema::NAME);
            None
        }
    }

    fn socket_addr(&mut self, value: &S<String>, key: &str) -> Option<SocketAddr> {
        match value.get_ref().parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.bad_value(value.span(), key, schema::SOCKET_ADDR);
                None
            }
        }
    }

    /// Reports the second and later uses of each value in `seen`: (value, key, span).
    fn unique(&mut self, seen: &[(String, String, Range<usize>)], rule: &'static str) {
        for (i, (value, key, span)) in seen.iter().enumerate() {
            if let Some((_, first_key, first_span)) = seen[..i].iter().find(|(v, _, _)| v == value)
            {
                let kind = ConfigErrorKind::Duplicate {
                    found: format!("\"{value}\""),
                    first_key: first_key.clone(),
                    first_line: self.line(first_span),
                    rule,
                };
                self.push(span.clone(), key.clone(), kind);
            }
        }
    }

    /// A name that must be one of `known` (the names defined in `[[section]]`).
    fn reference(&mut self, value: &S<String>, key: &str, section: &'static str, known: &[String]) {
        if !known.iter().any(|k| k == value.get_ref()) {
            let mut names: Vec<String> = Vec::with_capacity(known.len());
            for k in known {
                // A duplicated or invalid name is reported on its own already.
                if !k.is_empty() && !names.contains(k) {
                    names.push(k.clone());
                }
            }
            let kind = ConfigErrorKind::UnknownReference {
                found: value.get_ref().clone(),
                section,
                known: names,
            };
            self.push(value.span(), key, kind);
        }
    }

    fn node(&mut self, raw: &RawConfig) -> Node {
        let mut node = Node {
            name: String::new(),
            region: String::new(),
        };
        let Some(raw_node) = self.require(&raw.node, &(0..0), "node") else {
            return node;
        };
        let span = raw_node.span();
        let raw_node = raw_node.get_ref();
        if let Some(name) = self.require(&raw_node.name, &span, "node.name") {
            node.name = self.name(name, "node.name").unwrap_or_default();
        }
        // Whether it names a region is checked once the regions are known.
        if let Some(region) = self.require(&raw_node.region, &span, "node.region") {
            node.region = region.get_ref().clone();
        }
        node
    }

    fn admin(&mut self, raw: &RawConfig) -> Admin {
        let section = raw.admin.as_ref().map(|a| a.get_ref());
        let listen = section
            .and_then(|a| a.listen.as_ref())
            .map_or(Some(DEFAULT_ADMIN), |l| self.socket_addr(l, "admin.listen"));
        let public_listen = section
            .and_then(|a| a.public_listen.as_ref())
            .and_then(|l| self.socket_addr(l, "admin.public_listen"));
        let tokens = match section.and_then(|a| a.tokens.as_ref()) {
            Some(list) => self.tokens(list, "admin.tokens"),
            None => Vec::new(),
        };
        Admin {
            listen: listen.unwrap_or(DEFAULT_ADMIN),
            public_listen,
            tokens,
        }
    }

    fn logging(&mut self, raw: &RawConfig) -> Logging {
        let raw = raw.logging.as_ref().map(|l| l.get_ref());
        let format = match raw.and_then(|l| l.format.as_ref()).map(|f| *f.get_ref()) {
            Some(RawLogFormat::Json) => LogFormat::Json,
            Some(RawLogFormat::Pretty) | None => LogFormat::Pretty,
        };
        let mut level = "info".to_owned();
        if let Some(l) = raw.and_then(|l| l.level.as_ref()) {
            let text = l.get_ref();
            if is_log_filter(text) {
                level = text.clone();
            } else {
                self.bad_value(l.span(), "logging.level", schema::describe("logging.level"));
            }
        }
        let redact_numbers = raw
            .and_then(|l| l.redact_numbers.as_ref())
            .is_none_or(|r| *r.get_ref());
        Logging {
            format,
            level,
            redact_numbers,
        }
    }

    fn sip(&mut self, raw: Option<&RawSip>) -> (SipTimers, SipLimits) {
        let timers = raw.and_then(|s| s.timers.as_ref()).map(|t| t.get_ref());
        let t1 = self.int_or(
            timers.and_then(|t| t.t1_ms.as_ref()),
            "sip.timers.t1_ms",
            (50, 10_000),
            500,
        );
        let t2_raw = timers.and_then(|t| t.t2_ms.as_ref());
        let t2 = self.int_or(t2_raw, "sip.timers.t2_ms", (50, 60_000), 4000);
        if let Some(t2_raw) = t2_raw
            && t2 == *t2_raw.get_ref()
            && t2 < t1
        {
            let kind = ConfigErrorKind::Order {
                found: t2,
                relation: Relation::AtLeast,
                other_key: "sip.timers.t1_ms".to_owned(),
                other_value: t1,
            };
            self.push(t2_raw.span(), "sip.timers.t2_ms", kind);
        }
        let t4 = self.int_or(
            timers.and_then(|t| t.t4_ms.as_ref()),
            "sip.timers.t4_ms",
            (50, 60_000),
            5000,
        );

        let limits = raw.and_then(|s| s.limits.as_ref()).map(|l| l.get_ref());
        let max_message_size = self.int_or(
            limits.and_then(|l| l.max_message_size.as_ref()),
            "sip.limits.max_message_size",
            (512, 65_535),
            65_535,
        );
        let max_headers = self.int_or(
            limits.and_then(|l| l.max_headers.as_ref()),
            "sip.limits.max_headers",
            (16, 1024),
            256,
        );
        let idle_key = "sip.limits.connection_idle_timeout_s";
        let idle = match limits.and_then(|l| l.connection_idle_timeout_s.as_ref()) {
            None => 300,
            Some(v) => {
                let n = *v.get_ref();
                if n == 0 || (10..=86_400).contains(&n) {
                    n
                } else {
                    self.bad_value(v.span(), idle_key, schema::describe(idle_key));
                    300
                }
            }
        };
        let max_connections = self.int_or(
            limits.and_then(|l| l.max_connections.as_ref()),
            "sip.limits.max_connections",
            (1, 16_000),
            10_000,
        );
        let per_source_raw = limits.and_then(|l| l.max_connections_per_source.as_ref());
        let per_source_key = "sip.limits.max_connections_per_source";
        let per_source = self.int_or(per_source_raw, per_source_key, (1, 16_000), 64);
        if let Some(v) = per_source_raw
            && *v.get_ref() == per_source
            && per_source > max_connections
        {
            let kind = ConfigErrorKind::Order {
                found: per_source,
                relation: Relation::AtMost,
                other_key: "sip.limits.max_connections".to_owned(),
                other_value: max_connections,
            };
            self.push(v.span(), per_source_key, kind);
        }
        let handshake = self.int_or(
            limits.and_then(|l| l.tls_handshake_timeout_s.as_ref()),
            "sip.limits.tls_handshake_timeout_s",
            (1, 60),
            5,
        );
        let message_timeout = self.int_or(
            limits.and_then(|l| l.message_timeout_s.as_ref()),
            "sip.limits.message_timeout_s",
            (1, 300),
            10,
        );
        let count = |n: i64, d: usize| usize::try_from(n).unwrap_or(d);
        (
            SipTimers {
                t1: millis(t1),
                t2: millis(t2),
                t4: millis(t4),
            },
            SipLimits {
                max_message_size: usize::try_from(max_message_size).unwrap_or(65_535),
                max_headers: usize::try_from(max_headers).unwrap_or(256),
                connection_idle_timeout: (idle > 0)
                    .then(|| Duration::from_secs(idle.unsigned_abs())),
                max_connections: count(max_connections, 10_000),
                max_connections_per_source: count(per_source, 64),
                tls_handshake_timeout: Duration::from_secs(handshake.unsigned_abs()),
                message_timeout: Duration::from_secs(message_timeout.unsigned_abs()),
            },
        )
    }
}

/// The levels a log filter directive may end in.
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Whether `text` is a tracing filter in which every directive sets a level: `info`, or
/// `target=debug`. tracing itself also takes a bare word as a target at level trace, so
/// a misspelt level (`inf`, `warning`) would enable one unknown target and silence every
/// log line; that form is refused here, and the rest of the syntax is tracing's own.
fn is_log_filter(text: &str) -> bool {
    let level_ok = |l: &str| LOG_LEVELS.iter().any(|k| k.eq_ignore_ascii_case(l));
    !text.is_empty()
        && !text.chars().any(char::is_whitespace)
        && text
            .split(',')
            .all(|directive| match directive.rsplit_once('=') {
                Some((target, level)) => !target.is_empty() && level_ok(level),
                None => level_ok(directive),
            })
        && tracing_subscriber::EnvFilter::builder().parse(text).is_ok()
}

/// Milliseconds from an already range-checked (non-negative) integer.
fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.unsigned_abs())
}

/// The runtime transport of a transport name from the file.
fn transport(t: RawTransport) -> ListenerTransport {
    match t {
        RawTransport::Udp => ListenerTransport::Udp,
        RawTransport::Tcp => ListenerTransport::Tcp,
        RawTransport::Tls => ListenerTransport::Tls,
    }
}

/// A DNS name (RFC 1123 host name syntax) as used for certificate verification and in
/// destination URIs: labels of letters, digits and `-`,
/// separated by dots, at most 253 characters.
pub(super) fn is_dns_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
