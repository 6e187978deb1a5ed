//! The static router: routes from the configuration, decided at once per call.

use std::fmt::Write as _;

use crate::normalise::normalise;
use std::sync::{Arc, OnceLock};
use tracing::{debug, info, info_span, warn};
use voxgate_config::{Config, Route, TrunkName, redact_number};
use voxgate_edge::SharedConfig;
use voxgate_edge::admission::transport_kind;
use voxgate_edge::control_plane::{Command, ControlPlane, Destination, Dial, LegId, Session};
use voxgate_edge::handle::EdgeHandle;
use voxgate_edge::health::Health;

/// Routes calls by the `[[route]]` tables of the running configuration.
///
/// Per call: the Request-URI user is normalised to E.164 per the inbound trunk's
/// `numbering`, the first route that matches it (and whose `trunk`, if any, is the inbound
/// trunk) is taken, and the edge is told to dial its destinations in order, connected to the
/// inbound leg (the classic B2BUA); no route means 404. The configuration is read once per
/// call, so a reload applies to the next call and never changes one in progress.
///
/// The router needs nothing more from a call once it is routed: it drops the session, so
/// the edge ends the linked legs together and refuses transfers (REFER) at once.
#[derive(Clone)]
pub struct StaticRouter {
    config: SharedConfig,
    /// The edge's kill switches: a route switched off refuses its calls with 503. Set
    /// once the edge has started ([`ControlPlane::started`]).
    health: Arc<OnceLock<Arc<Health>>>,
}

impl StaticRouter {
    /// A router over the running configuration (the same handle the edge swaps on reload).
    pub fn new(config: SharedConfig) -> StaticRouter {
        StaticRouter {
            config,
            health: Arc::default(),
        }
    }

    /// The edge's runtime state (route kill switches).
    pub fn set_health(&self, health: Arc<Health>) {
        let _ = self.health.set(health);
    }

    /// [`decide`], unless the route the call takes has its kill switch off: 503.
    pub(crate) fn decide(
        &self,
        config: &Config,
        trunk: &TrunkName,
        leg: LegId,
        user: Option<&str>,
    ) -> Command {
        // One atomic load while no route is switched off.
        if let Some(health) = self.health.get().filter(|h| h.any_route_off()) {
            let number = called_number(config, trunk, user);
            if let Some(r) = route(config, trunk, number.as_deref())
                && health.is_route_off(&r.name)
            {
                info!(route = %r.name, "route's kill switch is off: 503");
                return Command::Reject {
                    status: 503,
                    reason: None,
                };
            }
        }
        decide(config, trunk, leg, user)
    }
}

impl std::fmt::Debug for StaticRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticRouter").finish_non_exhaustive()
    }
}

impl ControlPlane for StaticRouter {
    fn started(&self, edge: EdgeHandle) {
        self.set_health(edge.health());
    }

    fn incoming(&self, session: Session) {
        let Some(inbound) = session.info.inbound.as_ref() else {
            return;
        };
        let _span = info_span!("call", id = %session.info.id).entered();
        // One snapshot per call: a reload during the call does not change its route.
        let config = self.config.load_full();
        let command = self.decide(
            &config,
            &inbound.trunk,
            inbound.leg,
            inbound.request_user.as_deref(),
        );
        // A new session's command queue is empty: this cannot be full.
        if session.commands.try_send(command).is_err() {
            warn!("the call is gone before it was routed");
        }
    }
}

/// The command for a new call from `trunk` to `user` (as dialled) whose inbound leg is
/// `leg`, logged at debug with numbers redacted unless `[logging] redact_numbers = false`.
pub(crate) fn decide(
    config: &Config,
    trunk: &TrunkName,
    leg: LegId,
    user: Option<&str>,
) -> Command {
    let number = called_number(config, trunk, user);
    let shown = |n: &str| {
        if config.logging.redact_numbers {
            redact_number(n)
        } else {
            n.to_owned()
        }
    };
    let shown_number = number.as_deref().map(shown).unwrap_or_default();
    let Some(route) = route(config, trunk, number.as_deref()) else {
        debug!(trunk = %trunk, called = %shown_number, "no route: 404");
        return Command::Reject {
            status: 404,
            reason: None,
        };
    };
    let destinations: Vec<Destination> = route
        .destinations
        .iter()
        .map(|d| Destination {
            uri: destination_uri(&d.uri, number.as_deref()),
            transport: transport_kind(d.transport),
            trunk: d.trunk.clone(),
        })
        .collect();
    if tracing::enabled!(tracing::Level::DEBUG) {
        let mut uris = String::new();
        for d in &destinations {
            // The URI may carry the number: redact it as a whole user part.
            let uri = match number.as_deref() {
                Some(n) if d.uri.contains(n) => d.uri.replacen(n, &shown(n), 1),
                _ => d.uri.clone(),
            };
            let _ = write!(
                uris,
                "{}{uri} ({})",
                if uris.is_empty() { "" } else { ", " },
                d.transport
            );
        }
        debug!(trunk = %trunk, called = %shown_number, route = %route.name, destinations = %uris, "routed");
    }
    Command::Dial(
        Dial::new(destinations)
            .connect(leg)
            .ring_timeout(route.ring_timeout.unwrap_or(config.calls.ring_timeout))
            .follow_redirects(route.follow_redirects)
            .parallel_if(route.parallel),
    )
}

/// The called number as routes see it: the Request-URI user normalised to E.164 when the
/// inbound trunk has a `numbering`, else as dialled.
pub fn called_number(config: &Config, trunk: &TrunkName, user: Option<&str>) -> Option<String> {
    let user = user?;
    let numbering = config.trunk(trunk).and_then(|t| t.numbering.as_ref());
    Some(match numbering {
        Some(numbering) => normalise(user, numbering),
        None => user.to_owned(),
    })
}

/// The first route, in file order, that takes a call from `trunk` to `user`: its `trunk`
/// (if any) is `trunk`, and its `match_user` matches `user` as given (normalise it first,
/// see [`called_number`]). A Request-URI without a user is matched as `""`, so only a
/// catch-all (`prefix = ""`, or a regex that matches the empty string) takes it.
pub fn route<'a>(config: &'a Config, trunk: &TrunkName, user: Option<&str>) -> Option<&'a Route> {
    let user = user.unwrap_or("");
    config
        .routes
        .iter()
        .filter(|r| r.trunk.as_ref().is_none_or(|t| t == trunk))
        .find(|r| r.match_user.matches(user))
}

/// The URI to send to: as configured when it has a user part; otherwise with the called
/// number put in as the user (`sip:192.0.2.1:5060` → `sip:+4420...@192.0.2.1:5060`).
fn destination_uri(configured: &str, number: Option<&str>) -> String {
    let Some(number) = number.filter(|n| !n.is_empty()) else {
        return configured.to_owned();
    };
    let Some((scheme, rest)) = configured.split_once(':') else {
        return configured.to_owned();
    };
    // The user part, if any, is before '@' in the part before any ;params or ?headers.
    let addr = rest.split([';', '?']).next().unwrap_or(rest);
    if addr.contains('@') {
        return configured.to_owned();
    }
    format!("{scheme}:{}@{rest}", escape_user(number))
}

/// Escapes what RFC 3261 §25.1 does not allow unescaped in a user part (`user =
/// 1*( unreserved / escaped / user-unreserved )`); an existing `%XX` escape is kept.
fn escape_user(user: &str) -> String {
    let bytes = user.as_bytes();
    let mut out = String::with_capacity(user.len());
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric()
            || b"-_.!~*'()&=+$,;?/".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if allowed {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests;
