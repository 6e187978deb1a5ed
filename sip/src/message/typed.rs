//! Typed views of header values, parsed on demand and borrowing from the
//! message: Via (RFC 3261 §20.42), name-addr / addr-spec (§20.10, §20.20,
//! §20.39), CSeq (§20.16), Session-Expires (RFC 4028) and `;params`.

use super::Method;
use super::header::{is_token, is_token_byte, is_wsp_char, trim_wsp_bytes};
use std::borrow::Cow;

/// Raw `;name[=value]` parameter text, e.g. `";branch=z9hG4bK1;rport"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// Wraps parameter text without checking it (iteration is lenient).
    pub fn new(raw: &'a str) -> Params<'a> {
        Params { raw }
    }

    /// Wraps parameter text, checking the syntax: each parameter is a
    /// non-empty token name with an optional non-empty value.
    pub(crate) fn parse(raw: &'a str) -> Option<Params<'a>> {
        let trimmed = raw.trim_matches(is_wsp_char);
        if trimmed.is_empty() {
            return Some(Params { raw: trimmed });
        }
        let body = trimmed.strip_prefix(';')?;
        for item in split_params(body) {
            let (name, value) = split_param(item);
            if !is_token(name) {
                return None;
            }
            if let Some(v) = value
                && !is_param_value(v)
            {
                return None;
            }
        }
        Some(Params { raw: trimmed })
    }

    /// The value of parameter `name` (case-insensitive): `Some(None)` for a
    /// flag such as `;lr`, `Some(Some(v))` for `;name=v`, quotes kept.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every parameter in order, names and values trimmed.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        let body = self.raw.strip_prefix(';').unwrap_or(self.raw);
        split_params(body)
            .map(split_param)
            .filter(|(n, _)| !n.is_empty())
    }

    /// The raw text, starting with `;` unless empty.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Splits `a=1;b;c="x;y"` at semicolons outside quotes.
fn split_params(body: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let s = rest?;
        // Fast path: the next `;` comes before any quote.
        match memchr::memchr2(b';', b'"', s.as_bytes()) {
            None => {
                rest = None;
                return Some(s);
            }
            Some(i) if s.as_bytes()[i] == b';' => {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
            Some(_) => {}
        }
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, b) in s.bytes().enumerate() {
            if in_quotes {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_quotes = false;
                }
            } else if b == b'"' {
                in_quotes = true;
            } else if b == b';' {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
        }
        rest = None;
        Some(s)
    })
}

fn split_param(item: &str) -> (&str, Option<&str>) {
    match item.split_once('=') {
        Some((n, v)) => (
            n.trim_matches(is_wsp_char),
            Some(v.trim_matches(is_wsp_char)),
        ),
        None => (item.trim_matches(is_wsp_char), None),
    }
}

/// A generic-param value: a quoted string, or a run of characters without
/// whitespace or delimiters. Wider than RFC 3261's `token / host` on
/// purpose: peers send base64 (`=`) and bare IPv6 in parameters, and a
/// parameter we only pass through is no reason to refuse a call.
fn is_param_value(v: &str) -> bool {
    if v.starts_with('"') {
        return quoted_string_len(v) == Some(v.len());
    }
    !v.is_empty()
        && v.bytes()
            .all(|b| b > b' ' && !matches!(b, b';' | b',' | b'"' | b'<' | b'>' | 0x7f))
}

/// Length of the quoted string at the start of `s` (with both quotes),
/// honouring `\` escapes; `None` when unterminated.
pub(crate) fn quoted_string_len(s: &str) -> Option<usize> {
    quoted_len(s.as_bytes())
}

/// `quoted_string_len` on bytes: only ASCII `"` and `\` matter, so it
/// works on text that is not UTF-8 as well.
fn quoted_len(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// One Via value: `SIP/2.0/UDP host:port;params`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name and version, `"SIP/2.0"` (normalised when spaced out).
    pub protocol: &'a str,
    /// Transport token as received, e.g. `"UDP"`.
    pub transport: &'a str,
    /// Sent-by host; IPv6 references keep their brackets.
    pub host: &'a str,
    /// Sent-by port, if given.
    pub port: Option<u16>,
    /// The Via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (not a comma list).
    pub fn parse(value: &'a str) -> Option<Via<'a>> {
        let value = value.trim_matches(is_wsp_char);
        let (name, rest) = take_token(value)?;
        let rest = skip_wsp(rest).strip_prefix('/')?;
        let (version, rest) = take_token(skip_wsp(rest))?;
        let rest = skip_wsp(rest).strip_prefix('/')?;
        let (transport, rest) = take_token(skip_wsp(rest))?;
        let after_transport = skip_wsp(rest);
        if after_transport.len() == rest.len() {
            return None; // sent-protocol LWS sent-by: the LWS is mandatory
        }
        let (host, port, params) = parse_host_port(after_transport)?;
        let params = Params::parse(params)?;
        let protocol = if name.eq_ignore_ascii_case("SIP") && version == "2.0" {
            "SIP/2.0"
        } else {
            let end = value.len() - rest.len();
            let start = end - transport.len();
            value[..start].trim_end_matches(|c| c == '/' || is_wsp_char(c))
        };
        Some(Via {
            protocol,
            transport,
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.get("branch").flatten()
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&'a str> {
        self.params.get("received").flatten()
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` for a bare flag,
    /// `Some(Some(port))` once filled in; an unparsable value reads as a flag.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// True when the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

/// Splits `host[:port]rest`, where rest is the parameter text.
fn parse_host_port(s: &str) -> Option<(&str, Option<u16>, &str)> {
    let host_len = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        s.bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            .count()
    };
    if host_len == 0 || (host_len == 2 && s.starts_with('[')) {
        return None;
    }
    let host = &s[..host_len];
    let rest = &s[host_len..];
    let (port, rest) = match rest.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            (Some(p[..digits].parse::<u16>().ok()?), &p[digits..])
        }
        None => (None, rest),
    };
    let rest = skip_wsp(rest);
    if !(rest.is_empty() || rest.starts_with(';')) {
        return None;
    }
    Some((host, port, rest))
}

fn skip_wsp(s: &str) -> &str {
    s.trim_start_matches(is_wsp_char)
}

/// The leading token of `s` and what follows it.
fn take_token(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(|&b| is_token_byte(b)).count();
    if n == 0 {
        return None;
    }
    Some((&s[..n], &s[n..]))
}

/// A name-addr or addr-spec with header parameters (From, To, Contact,
/// Route, Record-Route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name: the inside of a quoted string (escapes kept), or the
    /// unquoted tokens; `None` when absent, and when it is not UTF-8 (see
    /// [`display_lossy`](Self::display_lossy)).
    pub display: Option<&'a str>,
    /// The URI, without `<>`; `"*"` for a wildcard Contact.
    pub uri: &'a str,
    /// Header parameters after the URI.
    pub params: Params<'a>,
    /// A display name that is not UTF-8, as received (then `display` is None).
    display_raw: Option<&'a [u8]>,
}

/// Where the parts of a parsed [`NameAddr`] lie in the value it was parsed
/// from (byte offsets, 8 bits: a header index entry carries this for its
/// From or To, and a transaction keeps its message's index for up to 32 s,
/// so it is kept small; a longer value is parsed at every look): a message
/// keeps these instead of parsing its From and To again at every look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameAddrSpans {
    display: Span,
    uri: Span,
    params: Span,
    display_raw: Span,
}

/// `start..end` in a value; `NONE` for an absent part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span(u8, u8);

impl Span {
    const NONE: Span = Span(u8::MAX, 0);
}

impl<'a> NameAddr<'a> {
    /// The offsets of this name-addr's parts in `value`, which it was
    /// parsed from; `None` when the value is too long for them.
    pub(crate) fn spans(&self, value: &[u8]) -> Option<NameAddrSpans> {
        if value.len() >= usize::from(u8::MAX) {
            return None;
        }
        // Every part is a sub-slice of `value`: its offset is the distance
        // between the two starts (addresses compared, nothing dereferenced).
        let base = value.as_ptr() as usize;
        let span = |part: &[u8]| {
            let start = (part.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(part.len())?;
            Some(Span(u8::try_from(start).ok()?, u8::try_from(end).ok()?))
        };
        let optional = |part: Option<&[u8]>| match part {
            Some(p) => span(p),
            None => Some(Span::NONE),
        };
        Some(NameAddrSpans {
            display: optional(self.display.map(str::as_bytes))?,
            uri: span(self.uri.as_bytes())?,
            params: span(self.params.as_str().as_bytes())?,
            display_raw: optional(self.display_raw)?,
        })
    }

    /// The name-addr `spans` describe in `value` (what [`spans`](Self::spans)
    /// took apart); `None` if they do not fit it.
    pub(crate) fn from_spans(value: &'a [u8], spans: NameAddrSpans) -> Option<NameAddr<'a>> {
        let bytes = |Span(start, end): Span| value.get(usize::from(start)..usize::from(end));
        // Most values are UTF-8 as a whole: checked once, then sliced.
        let whole = std::str::from_utf8(value).ok();
        let text = |span: Span| match whole {
            Some(whole) => whole.get(usize::from(span.0)..usize::from(span.1)),
            None => std::str::from_utf8(bytes(span)?).ok(),
        };
        let optional = |span: Span| (span != Span::NONE).then_some(span);
        Some(NameAddr {
            display: match optional(spans.display) {
                Some(span) => Some(text(span)?),
                None => None,
            },
            uri: text(spans.uri)?,
            params: Params::new(text(spans.params)?),
            display_raw: match optional(spans.display_raw) {
                Some(span) => Some(bytes(span)?),
                None => None,
            },
        })
    }

    /// Parses one value (not a comma list): `name-addr` or `addr-spec`
    /// followed by header parameters. A wildcard `*` is only accepted by
    /// `Message::contacts`.
    pub fn parse(value: &'a str) -> Option<NameAddr<'a>> {
        Self::parse_inner(value, false)
    }

    /// `parse` on bytes. Only the display name may be other than UTF-8:
    /// Latin-1 caller names are common, and the URI and tag, which are
    /// ASCII, are what the stack needs.
    pub(crate) fn parse_bytes(value: &'a [u8], allow_star: bool) -> Option<NameAddr<'a>> {
        if let Ok(text) = std::str::from_utf8(value) {
            return Self::parse_inner(text, allow_star);
        }
        let value = trim_wsp_bytes(value);
        let (display, rest) = if value.first() == Some(&b'"') {
            let n = quoted_len(value)?;
            (&value[1..n - 1], &value[n..])
        } else {
            let lt = memchr::memchr(b'<', value)?;
            let name = trim_wsp_bytes(&value[..lt]);
            let word_ok = |w: &[u8]| w.iter().all(|&b| is_token_byte(b) || b >= 0x80);
            if !name.split(|&b| b == b' ' || b == b'\t').all(word_ok) {
                return None;
            }
            (name, &value[lt..])
        };
        // The rest must be text, so the display name is what was not.
        let rest = skip_wsp(std::str::from_utf8(rest).ok()?);
        if !rest.starts_with('<') {
            return None;
        }
        let na = Self::parse_inner(rest, false)?;
        Some(NameAddr {
            display: None,
            display_raw: Some(display),
            ..na
        })
    }

    /// The display name as received, UTF-8 or not.
    pub fn display_bytes(&self) -> Option<&'a [u8]> {
        self.display.map(str::as_bytes).or(self.display_raw)
    }

    /// The display name as text: as received when UTF-8, otherwise decoded
    /// as ISO-8859-1 (what such names almost always are), with the C1
    /// control bytes 0x80–0x9F, which no Latin-1 name holds, as U+FFFD.
    /// Never fails, so a caller's name is carried rather than lost.
    pub fn display_lossy(&self) -> Option<Cow<'a, str>> {
        if let Some(d) = self.display {
            return Some(Cow::Borrowed(d));
        }
        let raw = self.display_raw?;
        Some(Cow::Owned(
            raw.iter()
                .map(|&b| match b {
                    0x80..=0x9f => char::REPLACEMENT_CHARACTER,
                    _ => char::from(b),
                })
                .collect(),
        ))
    }

    fn parse_inner(value: &'a str, allow_star: bool) -> Option<NameAddr<'a>> {
        let value = value.trim_matches(is_wsp_char);
        if allow_star && value == "*" {
            return Some(NameAddr {
                display: None,
                uri: "*",
                params: Params::new(""),
                display_raw: None,
            });
        }
        let (display, rest) = if value.starts_with('"') {
            let n = quoted_string_len(value)?;
            let rest = skip_wsp(&value[n..]);
            if !rest.starts_with('<') {
                return None;
            }
            (Some(&value[1..n - 1]), rest)
        } else if let Some(lt) = value.find('<') {
            let name = value[..lt].trim_matches(is_wsp_char);
            // Unquoted display names are `*(token LWS)` (RFC 3261 §25.1);
            // we also let UTF-8 through, which some carriers send unquoted.
            let word_ok = |w: &str| w.bytes().all(|b| is_token_byte(b) || b >= 0x80);
            if !name.split(is_wsp_char).all(word_ok) {
                return None;
            }
            let display = (!name.is_empty()).then_some(name);
            (display, &value[lt..])
        } else {
            // addr-spec form: the URI ends at the first `;`; such a URI may
            // not contain `,` `?` or `;` (RFC 3261 §20.10).
            let end = value.find(';').unwrap_or(value.len());
            let uri = value[..end].trim_end_matches(is_wsp_char);
            if !is_uri(uri) || uri.contains(['?', ',']) {
                return None;
            }
            let params = Params::parse(&value[end..])?;
            return Some(NameAddr {
                display: None,
                uri,
                params,
                display_raw: None,
            });
        };
        let inner = rest.strip_prefix('<')?;
        let gt = inner.find('>')?;
        let uri = &inner[..gt];
        if !is_uri(uri) {
            return None;
        }
        let params = Params::parse(&inner[gt + 1..])?;
        Some(NameAddr {
            display,
            uri,
            params,
            display_raw: None,
        })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }
}

/// A plausible absolute URI: `scheme ":" rest` without whitespace or
/// angle brackets (RFC 3986 scheme syntax).
pub(crate) fn is_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !uri
            .bytes()
            .any(|b| b <= b' ' || matches!(b, b'<' | b'>' | b'"' | 0x7f))
}

/// CSeq: sequence number and method (RFC 3261 §20.16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &str) -> Option<CSeq> {
        let value = value.trim_matches(is_wsp_char);
        let digits = value.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let seq = value[..digits].parse::<u32>().ok()?;
        let rest = &value[digits..];
        let method = skip_wsp(rest);
        if method.len() == rest.len() || !is_token(method) {
            return None;
        }
        Some(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

/// Who refreshes the session (RFC 4028 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC refreshes.
    Uac,
    /// The UAS refreshes.
    Uas,
}

/// Session-Expires (RFC 4028 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionExpires {
    /// Session interval in seconds.
    pub delta: u32,
    /// The `refresher` parameter, if present.
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses `delta-seconds *(;se-params)`.
    pub fn parse(value: &str) -> Option<SessionExpires> {
        let value = value.trim_matches(is_wsp_char);
        let end = value.find(';').unwrap_or(value.len());
        let delta = value[..end].trim_end_matches(is_wsp_char);
        if delta.is_empty() || !delta.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let delta = delta.parse().ok()?;
        let params = Params::parse(&value[end..])?;
        let refresher = match params.get("refresher") {
            None => None,
            Some(Some(r)) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(Some(r)) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return None,
        };
        Some(SessionExpires { delta, refresher })
    }
}

#[cfg(test)]
mod spans_tests {
    use super::NameAddr;

    #[test]
    fn a_name_addr_rebuilt_from_its_spans_is_the_one_parsed() {
        let values: [&[u8]; 7] = [
            b"\"Alice A.\" <sip:alice@example.com>;tag=1928301774",
            b"Bob <sips:bob@192.0.2.4:5061;transport=tls> ;tag=a6c85cf",
            b"<sip:+4930123@carrier.example;user=phone>",
            b"sip:carol@chicago.example.com;tag=x;lr",
            b"  \"\\\"quoted\\\"\" <sip:q@h>  ",
            b"Jos\xe9 M\xfcller <sip:jose@example.com>;tag=f1",
            b"\"Jos\xe9\" <sip:jose@example.com>",
        ];
        for v in values {
            let parsed = NameAddr::parse_bytes(v, false);
            assert!(parsed.is_some(), "{:?}", String::from_utf8_lossy(v));
            let parsed = parsed.unwrap();
            let rebuilt = NameAddr::from_spans(v, parsed.spans(v).unwrap());
            assert_eq!(rebuilt, Some(parsed), "{:?}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn a_value_too_long_for_spans_has_none() {
        let long = format!("\"{}\" <sip:alice@example.com>;tag=1", "A".repeat(250));
        let v = long.as_bytes();
        let parsed = NameAddr::parse_bytes(v, false).unwrap();
        assert_eq!(parsed.spans(v), None);
        let short: &[u8] = b"<sip:alice@example.com>;tag=1";
        assert!(
            NameAddr::parse_bytes(short, false)
                .unwrap()
                .spans(short)
                .is_some()
        );
    }

    #[test]
    fn spans_that_do_not_fit_the_value_give_nothing() {
        let v: &[u8] = b"<sip:alice@example.com>;tag=1";
        let spans = NameAddr::parse_bytes(v, false).unwrap().spans(v).unwrap();
        assert_eq!(NameAddr::from_spans(b"<sip:a>", spans), None);
    }
}
