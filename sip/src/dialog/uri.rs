//! Small URI and name-addr helpers the dialog needs: URI parameters (for
//! `lr`), the Request-URI form of a Route URI, and name-addrs without tag.

use crate::message::{NameAddr, Params};
use std::borrow::Cow;

/// The URI parameters of a SIP/SIPS URI: after the host part, before any
/// `?headers`. The user part may itself contain `;` (RFC 3261 §25.1
/// `user-unreserved`), so parameters are looked for after the `@`.
pub(crate) fn uri_params(uri: &str) -> Params<'_> {
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    let host_start = rest.find('@').map_or(0, |i| i + 1);
    let host_part = &rest[host_start..];
    let end = host_part.find('?').unwrap_or(host_part.len());
    let host_part = &host_part[..end];
    match host_part.find(';') {
        Some(i) => Params::new(&host_part[i..]),
        None => Params::new(""),
    }
}

/// True when the URI carries the loose-routing flag `lr` (RFC 3261 §19.1.1).
pub(crate) fn has_lr(uri: &str) -> bool {
    uri_params(uri).get("lr").is_some()
}

/// True for a `sips:` URI (scheme compared case-insensitively).
pub(crate) fn is_sips(uri: &str) -> bool {
    uri.get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
}

/// A URI as a Request-URI: `?headers` and the `method` parameter are not
/// allowed there (RFC 3261 §19.1.1 table 1), so they are stripped
/// (§12.2.1.1 strict routing).
pub(crate) fn as_request_uri(uri: &str) -> Cow<'_, str> {
    let rest_start = uri.find(':').map_or(0, |i| i + 1);
    let host_start = uri[rest_start..]
        .find('@')
        .map_or(rest_start, |i| rest_start + i + 1);
    let uri = match uri[host_start..].find('?') {
        Some(q) => &uri[..host_start + q],
        None => uri,
    };
    let params = uri_params(uri);
    if params.get("method").is_none() {
        return Cow::Borrowed(uri);
    }
    let base = &uri[..uri.len() - params.as_str().len()];
    let mut out = String::with_capacity(uri.len());
    out.push_str(base);
    for (name, value) in params.iter() {
        if name.eq_ignore_ascii_case("method") {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    Cow::Owned(out)
}

/// A From/To value without its `tag`, always in `name-addr` form
/// (`"display" <uri>;params`) so that appending `;tag=` stays unambiguous.
pub(crate) fn name_addr_without_tag(na: &NameAddr<'_>) -> String {
    let mut out = String::with_capacity(na.uri.len() + 16);
    // Lossy: a Latin-1 name is sent on as UTF-8 (RFC 3261 wants UTF-8).
    if let Some(d) = na.display_lossy() {
        out.push('"');
        out.push_str(&d);
        out.push_str("\" ");
    }
    out.push('<');
    out.push_str(na.uri);
    out.push('>');
    for (name, value) in na.params.iter() {
        if name.eq_ignore_ascii_case("tag") {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// `value` in name-addr form: a bare URI gets angle brackets, so a
/// parameter appended later is a header parameter, not a URI parameter.
pub(crate) fn as_name_addr(value: &str) -> Cow<'_, str> {
    let v = value.trim();
    if v.contains('<') {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(format!("<{v}>"))
    }
}

/// The URI inside a name-addr value (`<uri>;params` or a bare URI).
pub(crate) fn uri_of(value: &str) -> &str {
    match NameAddr::parse(value) {
        Some(na) => na.uri,
        None => value.trim().trim_start_matches('<').trim_end_matches('>'),
    }
}

/// Appends `user` percent-escaping what RFC 3261 §25.1 does not allow
/// unescaped in the user part.
pub(crate) fn push_escaped_user(out: &mut String, user: &str) {
    for b in user.bytes() {
        let ok = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'&'
                    | b'='
                    | b'+'
                    | b'$'
                    | b','
                    | b';'
                    | b'?'
                    | b'/'
            );
        if ok {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_params_skip_user_part_and_headers() {
        assert_eq!(uri_params("sip:p1.example.net;lr").get("lr"), Some(None));
        assert_eq!(uri_params("sip:a;b=c@host;transport=tcp").get("b"), None);
        assert_eq!(
            uri_params("sip:a;b=c@host;transport=tcp").get("transport"),
            Some(Some("tcp"))
        );
        assert_eq!(uri_params("sip:host?x=1;lr").get("lr"), None);
        assert!(has_lr("sip:[2001:db8::1]:5060;lr"));
        assert!(!has_lr("sip:p2.example.net"));
    }

    #[test]
    fn request_uri_strips_headers_and_method() {
        assert_eq!(as_request_uri("sip:p1;lr"), "sip:p1;lr");
        assert_eq!(
            as_request_uri("sip:u@p1;method=INVITE;maddr=x?Subject=hi"),
            "sip:u@p1;maddr=x"
        );
    }

    #[test]
    fn name_addr_loses_only_the_tag() {
        let na = NameAddr::parse("Alice <sip:a@x;user=phone>;tag=1;foo=bar").unwrap();
        assert_eq!(
            name_addr_without_tag(&na),
            "\"Alice\" <sip:a@x;user=phone>;foo=bar"
        );
        let na = NameAddr::parse("sip:a@x;tag=9").unwrap();
        assert_eq!(name_addr_without_tag(&na), "<sip:a@x>");
    }

    #[test]
    fn user_escaping() {
        let mut s = String::new();
        push_escaped_user(&mut s, "+1 555@x");
        assert_eq!(s, "+1%20555%40x");
        assert!(is_sips("SIPS:a@b"));
        assert!(!is_sips("sip:a@b"));
        assert_eq!(as_name_addr("sip:a@b"), "<sip:a@b>");
        assert_eq!(as_name_addr("\"A\" <sip:a@b>"), "\"A\" <sip:a@b>");
        assert_eq!(uri_of("<sip:p;lr>"), "sip:p;lr");
    }
}
