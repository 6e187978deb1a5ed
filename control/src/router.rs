//! The static router: routes from the configuration, one task per call.

use std::fmt::Write as _;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{Instrument as _, debug, info_span, warn};
use voxgate_config::{Config, Route, TrunkName, redact_number};
use voxgate_edge::SharedConfig;
use voxgate_edge::admission::transport_kind;
use voxgate_edge::control_plane::{
    CallCommand, CallEvent, CallRef, CallSession, ControlPlane, Destination,
};

use crate::normalise::normalise;

/// Routes calls by the `[[route]]` tables of the running configuration.
///
/// Per call: the Request-URI user is normalised to E.164 per the inbound trunk's
/// `numbering`, the first route that matches it (and whose `trunk`, if any, is the inbound
/// trunk) is taken, and the edge is told to try its destinations in order; no route means
/// 404. The configuration is read once per call, so a reload applies to the next call and
/// never changes one in progress.
#[derive(Clone)]
pub struct StaticRouter {
    config: SharedConfig,
}

impl StaticRouter {
    /// A router over the running configuration (the same handle the edge swaps on reload).
    pub fn new(config: SharedConfig) -> StaticRouter {
        StaticRouter { config }
    }
}

impl std::fmt::Debug for StaticRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticRouter").finish_non_exhaustive()
    }
}

impl ControlPlane for StaticRouter {
    fn incoming(&self, session: CallSession) {
        let CallSession {
            info,
            events,
            commands,
        } = session;
        let call = Call {
            trunk: info.trunk,
            request_user: info.request_user,
            events,
            commands,
        };
        self.start(info.id, call);
    }
}

impl StaticRouter {
    /// Starts the task of one call; `None` when there is no runtime to run it on (then the
    /// call is routed at once, without a task).
    fn start(&self, id: CallRef, call: Call) -> Option<tokio::task::JoinHandle<()>> {
        // One snapshot per call: a reload during the call does not change its route.
        let config = self.config.load_full();
        let span = info_span!("call", %id);
        match tokio::runtime::Handle::try_current() {
            // Matching (regexes, many routes) runs off the edge's core task.
            Ok(runtime) => Some(runtime.spawn(serve(config, call).instrument(span))),
            Err(_) => {
                // Not inside a runtime (a host calling from a plain thread): decide now;
                // nobody reads the events then, and the channels close with `call`.
                let _guard = span.enter();
                warn!("no async runtime to run the call on; routing without reading events");
                let command = decide(&config, &call.trunk, call.request_user.as_deref());
                if call.commands.try_send(command).is_err() {
                    warn!("the call is gone before it was routed");
                }
                None
            }
        }
    }
}

/// What the router keeps of a call's session.
struct Call {
    trunk: TrunkName,
    request_user: Option<String>,
    events: mpsc::Receiver<CallEvent>,
    commands: mpsc::Sender<CallCommand>,
}

/// One call: route it, then read its events until it ends (or the edge drops it). The
/// command channel stays open until then: the edge may read a closed one as the control
/// plane gone.
async fn serve(config: Arc<Config>, mut call: Call) {
    let command = decide(&config, &call.trunk, call.request_user.as_deref());
    // Only this call's snapshot is needed from here on.
    drop(config);
    if call.commands.send(command).await.is_err() {
        debug!("the call ended before it was routed");
        return;
    }
    while let Some(event) = call.events.recv().await {
        debug!(?event, "call event");
        if matches!(event, CallEvent::Ended { .. }) {
            return;
        }
    }
    debug!("the edge closed the call's events");
}

/// The command for a new call from `trunk` to `user` (as dialled), logged at debug with
/// numbers redacted unless `[logging] redact_numbers = false`.
pub(crate) fn decide(config: &Config, trunk: &TrunkName, user: Option<&str>) -> CallCommand {
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
        return CallCommand::Reject {
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
    CallCommand::Connect {
        destinations,
        ring_timeout: Some(route.ring_timeout.unwrap_or(config.calls.ring_timeout)),
        follow_redirects: route.follow_redirects,
    }
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
