//! `[[route]]`: names, the user match, destinations and their trunk references.

use std::ops::Range;
use std::time::Duration;

use regex::RegexBuilder;

use super::{Validator, transport};
use crate::error::ConfigErrorKind;
use crate::model::{Control, Destination, ListenerTransport, Route, TrunkName, UserMatch};
use crate::raw::{List, RawDestination, RawRoute, RawUserMatch, S};
use crate::schema;

impl Validator<'_> {
    pub(super) fn routes(&mut self, raw: &Option<List<RawRoute>>, trunks: &[String]) -> Vec<Route> {
        let Some(list) = raw else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut routes = Vec::new();
        let mut match_spans = Vec::new();
        for (i, r) in list.get_ref().iter().enumerate() {
            if let Some(name) = &r.get_ref().name {
                names.push((
                    name.get_ref().clone(),
                    format!("route[{i}].name"),
                    name.span(),
                ));
            }
            let (route, match_span) = self.route(i, r, trunks);
            routes.push(route);
            match_spans.push(match_span);
        }
        self.unique(&names, "a name no other [[route]] uses");
        self.shadowed_routes(&routes, &match_spans);
        routes
    }

    /// A route that an earlier route takes every call of can never be used: that is a
    /// mistake in the order (a catch-all too early) or a forgotten duplicate, and one an
    /// operator only finds when calls go the wrong way. Reported where it can be proven
    /// from the text: an exact number any earlier route matches, a prefix under an earlier
    /// prefix, anything after a catch-all, the same regex twice. (Whether one regex
    /// covers another is not decidable here, so those pass.)
    /// `spans`: where each route's `match_user` is, `None` when it is missing or invalid
    /// (its placeholder shadows nothing and is shadowed by nothing).
    fn shadowed_routes(&mut self, routes: &[Route], spans: &[Option<Range<usize>>]) {
        for (j, later) in routes.iter().enumerate() {
            let Some(Some(span)) = spans.get(j) else {
                continue;
            };
            let shadow = routes[..j].iter().enumerate().find(|(i, earlier)| {
                // An earlier route with a trunk filter takes only that trunk's calls.
                let same_calls = earlier.trunk.is_none() || earlier.trunk == later.trunk;
                let valid = matches!(spans.get(*i), Some(Some(_)));
                same_calls && valid && covers(&earlier.match_user, &later.match_user)
            });
            if let Some((i, earlier)) = shadow {
                let first_line = spans
                    .get(i)
                    .and_then(Option::as_ref)
                    .map_or(0, |s| self.line(s));
                let kind = ConfigErrorKind::ShadowedRoute {
                    other_key: format!("route[{i}].match_user"),
                    other_line: first_line,
                    other_route: earlier.name.clone(),
                };
                self.push(span.clone(), format!("route[{j}].match_user"), kind);
            }
        }
    }

    /// The route, and where its `match_user` is when it is valid.
    fn route(
        &mut self,
        i: usize,
        raw: &S<RawRoute>,
        trunks: &[String],
    ) -> (Route, Option<Range<usize>>) {
        let key = |k: &str| format!("route[{i}].{k}");
        let span = raw.span();
        let raw = raw.get_ref();
        let name = self
            .require(&raw.name, &span, &key("name"))
            .and_then(|n| self.name(n, &key("name")))
            .unwrap_or_default();
        let (match_user, match_span) = self
            .require(&raw.match_user, &span, &key("match_user"))
            .and_then(|m| Some((self.user_match(m, &key("match_user"))?, Some(m.span()))))
            .unwrap_or((UserMatch::Prefix(String::new()), None));
        let control = self.control(raw.control.as_ref(), &key("control"));
        // An API-controlled route may leave its calls entirely to the API.
        let destinations_given = match control {
            Control::Api => raw.destinations.as_ref(),
            Control::Static => self.require(&raw.destinations, &span, &key("destinations")),
        };
        let mut destinations = Vec::new();
        if let Some(list) = destinations_given {
            for (j, d) in self
                .non_empty(list, &key("destinations"))
                .iter()
                .enumerate()
            {
                let d = self.destination(d, &format!("route[{i}].destinations[{j}]"), trunks);
                destinations.extend(d);
            }
        }
        let trunk = raw.trunk.as_ref().map(|t| {
            self.reference(t, &key("trunk"), "trunk", trunks);
            TrunkName(t.get_ref().clone())
        });
        let follow_redirects = raw.follow_redirects.as_ref().is_some_and(|f| *f.get_ref());
        let parallel = raw.parallel.as_ref().is_some_and(|p| *p.get_ref());
        let ring_timeout = raw
            .ring_timeout_s
            .as_ref()
            .and_then(|r| self.int(r, &key("ring_timeout_s"), 1, 3600))
            .map(|s| Duration::from_secs(s.unsigned_abs()));
        let route = Route {
            name,
            match_user,
            destinations,
            trunk,
            follow_redirects,
            parallel,
            ring_timeout,
            control,
        };
        (route, match_span)
    }

    /// Exactly one of exact, prefix, regex.
    fn user_match(&mut self, raw: &S<RawUserMatch>, key: &str) -> Option<UserMatch> {
        let m = raw.get_ref();
        let given = [&m.exact, &m.prefix, &m.regex]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given != 1 {
            self.bad_value(raw.span(), key, schema::describe(key));
            return None;
        }
        if let Some(exact) = &m.exact {
            return Some(UserMatch::Exact(exact.get_ref().clone()));
        }
        if let Some(prefix) = &m.prefix {
            return Some(UserMatch::Prefix(prefix.get_ref().clone()));
        }
        let regex = m.regex.as_ref()?;
        let k = format!("{key}.regex");
        // An empty pattern matches every user: that is `prefix = ""`, and here a mistake.
        if regex.get_ref().is_empty() {
            self.bad_value(regex.span(), &k, schema::describe(&k));
            return None;
        }
        match RegexBuilder::new(regex.get_ref())
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(compiled) => Some(UserMatch::Regex(compiled)),
            Err(e) => {
                let kind = ConfigErrorKind::BadRegex {
                    found: regex.get_ref().clone(),
                    detail: regex_detail(&e),
                };
                self.push(regex.span(), k, kind);
                None
            }
        }
    }

    pub(super) fn destination(
        &mut self,
        raw: &S<RawDestination>,
        key: &str,
        trunks: &[String],
    ) -> Option<Destination> {
        let span = raw.span();
        let raw = raw.get_ref();
        let uri_key = format!("{key}.uri");
        let uri = self.require(&raw.uri, &span, &uri_key);
        let scheme = uri.and_then(|uri| {
            let (scheme, rest) = uri.get_ref().split_once(':')?;
            let scheme = scheme.to_ascii_lowercase();
            (!rest.is_empty()).then_some(scheme)
        });
        // `None` when the URI is missing or wrong: the other keys are still checked.
        // The host is checked here, not when the first call fails: a name that cannot be
        // a DNS name was resolved for every call and every call got 480.
        let host_ok = |uri: &S<String>| uri_host_valid(uri.get_ref());
        let sips = match (uri, scheme.as_deref()) {
            (Some(uri), Some("sip")) if host_ok(uri) => Some(false),
            (Some(uri), Some("sips")) if host_ok(uri) => Some(true),
            (Some(uri), _) => {
                self.bad_value(uri.span(), &uri_key, schema::describe(&uri_key));
                None
            }
            (None, _) => None,
        };
        // RFC 3261 §26.2.2: a sips: URI is reached over TLS only.
        let transport = match &raw.transport {
            None if sips == Some(true) => ListenerTransport::Tls,
            None => ListenerTransport::Udp,
            Some(t) => {
                let t_value = transport(*t.get_ref());
                if sips == Some(true) && t_value != ListenerTransport::Tls {
                    let kind = ConfigErrorKind::SipsNeedsTls { transport: t_value };
                    self.push(t.span(), format!("{key}.transport"), kind);
                }
                t_value
            }
        };
        let trunk = raw.trunk.as_ref().map(|t| {
            self.reference(t, &format!("{key}.trunk"), "trunk", trunks);
            TrunkName(t.get_ref().clone())
        });
        let keepalive = raw
            .keepalive
            .as_ref()
            .map(|k| self.keepalive(k, &format!("{key}.keepalive")));
        sips.is_some().then(|| Destination {
            uri: uri.map(|u| u.get_ref().clone()).unwrap_or_default(),
            transport,
            trunk,
            keepalive,
        })
    }
}

/// Whether the host part of a `sip:`/`sips:` URI (after an optional `user@`, before
/// `;params` or `?headers`) is an IPv4 address, a bracketed IPv6 address or a DNS name,
/// none of them a wildcard, with an optional port 1..=65535.
fn uri_host_valid(uri: &str) -> bool {
    let Some((_, rest)) = uri.split_once(':') else {
        return false;
    };
    // Headers may hold an unescaped `@`: only an `@` before them ends a user part.
    let host_start = match rest.find('@') {
        Some(at) if rest.find('?').is_none_or(|q| at < q) => at + 1,
        _ => 0,
    };
    let after = &rest[host_start..];
    let hostport = &after[..after.find([';', '?']).unwrap_or(after.len())];
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let Some((h, after)) = v6.split_once(']') else {
                return false;
            };
            if after.is_empty() {
                (h, None)
            } else {
                let Some(p) = after.strip_prefix(':') else {
                    return false;
                };
                match h.parse::<std::net::Ipv6Addr>() {
                    Ok(_) => (h, Some(p)),
                    Err(_) => return false,
                }
            }
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p != 0)
    });
    let host_ok = if hostport.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| !a.is_unspecified() && !a.is_multicast())
    } else if let Ok(a) = host.parse::<std::net::Ipv4Addr>() {
        !a.is_unspecified() && !a.is_multicast()
    } else {
        super::is_dns_name(host.strip_suffix('.').unwrap_or(host))
            // RFC 1123 §2.1: a top-level label is never all digits, so `300.1.1.1` is a
            // mistyped address, not a name.
            && !host
                .trim_end_matches('.')
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    };
    port_ok && host_ok
}

/// Whether every user `later` matches is matched by `earlier` too, as far as the patterns
/// show it.
fn covers(earlier: &UserMatch, later: &UserMatch) -> bool {
    match (earlier, later) {
        (_, UserMatch::Exact(user)) => earlier.matches(user),
        (UserMatch::Prefix(p), UserMatch::Prefix(q)) => q.starts_with(p.as_str()),
        (UserMatch::Prefix(p), UserMatch::Regex(_)) => p.is_empty(),
        (UserMatch::Regex(a), UserMatch::Regex(b)) => a.as_str() == b.as_str(),
        _ => false,
    }
}

/// The most memory one compiled route regex may take: generous for number patterns, and
/// a bound on what a pathological `{1000}` repetition can cost every node that loads it.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The regex crate's error in one line: its syntax errors span several lines (the
/// pattern, a line of carets under the bad part, then `error: what`), and a config error
/// is one line. The carets become "at character N" (the last marked span: for a duplicate
/// name that is the second use); a multi-line pattern gets no position.
fn regex_detail(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            let what = text
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .or_else(|| text.lines().last())
                .unwrap_or("syntax error")
                .trim();
            match caret_position(text) {
                Some(at) => format!("{what} (at character {at})"),
                None => what.to_owned(),
            }
        }
        regex::Error::CompiledTooBig(limit) => format!(
            "it compiles to more than {limit} bytes; simplify it (fewer or smaller repetitions)"
        ),
        other => other.to_string(),
    }
}

/// The 1-based character position of the last run of carets in a one-line regex error
/// (`regex parse error:` / `    PATTERN` / `    ^^^`).
fn caret_position(text: &str) -> Option<usize> {
    let mut lines = text.lines().skip(1);
    let pattern_line = lines.next()?;
    let carets = lines.next()?.strip_prefix("    ")?;
    if !pattern_line.starts_with("    ") || carets.contains(|c| c != ' ' && c != '^') {
        return None;
    }
    let last = carets.rfind('^')?;
    let start = carets[..last].rfind(' ').map_or(0, |space| space + 1);
    Some(carets[..start].chars().count() + 1)
}
