//! Header names (RFC 3261 §7.3, §20 and extension RFCs), the per-line index
//! entry and comma splitting of list-valued headers.

use std::fmt;
use std::ops::Range;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $canon:literal, $lower:literal, $compact:expr; )*) => {
        /// A header this crate knows by name; compact forms map to the long form.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
        }

        impl HeaderName {
            /// Every known header, in declaration order.
            pub const ALL: &'static [HeaderName] = &[$(HeaderName::$variant),*];

            /// The canonical long form, e.g. `"Call-ID"`.
            pub fn as_str(self) -> &'static str {
                match self { $(HeaderName::$variant => $canon,)* }
            }

            /// The compact form (RFC 3261 §7.3.3 and extension RFCs), if any.
            pub fn compact(self) -> Option<char> {
                match self { $(HeaderName::$variant => $compact,)* }
            }

            fn from_lower(lower: &[u8]) -> Option<HeaderName> {
                match lower {
                    $( $lower => Some(HeaderName::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

header_names! {
    /// Via (RFC 3261 §20.42)
    Via => "Via", b"via", Some('v');
    /// From (RFC 3261 §20.20)
    From => "From", b"from", Some('f');
    /// To (RFC 3261 §20.39)
    To => "To", b"to", Some('t');
    /// Call-ID (RFC 3261 §20.8)
    CallId => "Call-ID", b"call-id", Some('i');
    /// CSeq (RFC 3261 §20.16)
    CSeq => "CSeq", b"cseq", None;
    /// Contact (RFC 3261 §20.10)
    Contact => "Contact", b"contact", Some('m');
    /// Max-Forwards (RFC 3261 §20.22)
    MaxForwards => "Max-Forwards", b"max-forwards", None;
    /// Route (RFC 3261 §20.34)
    Route => "Route", b"route", None;
    /// Record-Route (RFC 3261 §20.30)
    RecordRoute => "Record-Route", b"record-route", None;
    /// Content-Length (RFC 3261 §20.14)
    ContentLength => "Content-Length", b"content-length", Some('l');
    /// Content-Type (RFC 3261 §20.15)
    ContentType => "Content-Type", b"content-type", Some('c');
    /// Content-Encoding (RFC 3261 §20.12)
    ContentEncoding => "Content-Encoding", b"content-encoding", Some('e');
    /// Content-Disposition (RFC 3261 §20.11)
    ContentDisposition => "Content-Disposition", b"content-disposition", None;
    /// Content-Language (RFC 3261 §20.13)
    ContentLanguage => "Content-Language", b"content-language", None;
    /// Require (RFC 3261 §20.32)
    Require => "Require", b"require", None;
    /// Proxy-Require (RFC 3261 §20.29)
    ProxyRequire => "Proxy-Require", b"proxy-require", None;
    /// Supported (RFC 3261 §20.37)
    Supported => "Supported", b"supported", Some('k');
    /// Unsupported (RFC 3261 §20.40)
    Unsupported => "Unsupported", b"unsupported", None;
    /// Allow (RFC 3261 §20.5)
    Allow => "Allow", b"allow", None;
    /// Accept (RFC 3261 §20.1)
    Accept => "Accept", b"accept", None;
    /// Accept-Encoding (RFC 3261 §20.2)
    AcceptEncoding => "Accept-Encoding", b"accept-encoding", None;
    /// Accept-Language (RFC 3261 §20.3)
    AcceptLanguage => "Accept-Language", b"accept-language", None;
    /// Session-Expires (RFC 4028)
    SessionExpires => "Session-Expires", b"session-expires", Some('x');
    /// Min-SE (RFC 4028)
    MinSe => "Min-SE", b"min-se", None;
    /// Subject (RFC 3261 §20.36)
    Subject => "Subject", b"subject", Some('s');
    /// Event (RFC 6665)
    Event => "Event", b"event", Some('o');
    /// Refer-To (RFC 3515)
    ReferTo => "Refer-To", b"refer-to", Some('r');
    /// Referred-By (RFC 3892)
    ReferredBy => "Referred-By", b"referred-by", Some('b');
    /// Allow-Events (RFC 6665)
    AllowEvents => "Allow-Events", b"allow-events", Some('u');
    /// Accept-Contact (RFC 3841)
    AcceptContact => "Accept-Contact", b"accept-contact", Some('a');
    /// Reject-Contact (RFC 3841)
    RejectContact => "Reject-Contact", b"reject-contact", Some('j');
    /// Request-Disposition (RFC 3841)
    RequestDisposition => "Request-Disposition", b"request-disposition", Some('d');
    /// Identity (RFC 8224)
    Identity => "Identity", b"identity", Some('y');
    /// Identity-Info (RFC 4474, obsolete)
    IdentityInfo => "Identity-Info", b"identity-info", Some('n');
    /// RSeq (RFC 3262)
    RSeq => "RSeq", b"rseq", None;
    /// RAck (RFC 3262)
    RAck => "RAck", b"rack", None;
    /// Retry-After (RFC 3261 §20.33)
    RetryAfter => "Retry-After", b"retry-after", None;
    /// Expires (RFC 3261 §20.19)
    Expires => "Expires", b"expires", None;
    /// Min-Expires (RFC 3261 §20.23)
    MinExpires => "Min-Expires", b"min-expires", None;
    /// User-Agent (RFC 3261 §20.41)
    UserAgent => "User-Agent", b"user-agent", None;
    /// Server (RFC 3261 §20.35)
    Server => "Server", b"server", None;
    /// Timestamp (RFC 3261 §20.38)
    Timestamp => "Timestamp", b"timestamp", None;
    /// Date (RFC 3261 §20.17)
    Date => "Date", b"date", None;
    /// Warning (RFC 3261 §20.43)
    Warning => "Warning", b"warning", None;
    /// Reason (RFC 3326)
    Reason => "Reason", b"reason", None;
    /// Authorization (RFC 3261 §20.7)
    Authorization => "Authorization", b"authorization", None;
    /// Proxy-Authorization (RFC 3261 §20.28)
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization", None;
    /// WWW-Authenticate (RFC 3261 §20.44)
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate", None;
    /// Proxy-Authenticate (RFC 3261 §20.27)
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate", None;
    /// Authentication-Info (RFC 3261 §20.6)
    AuthenticationInfo => "Authentication-Info", b"authentication-info", None;
    /// MIME-Version (RFC 3261 §20.24)
    MimeVersion => "MIME-Version", b"mime-version", None;
    /// Organization (RFC 3261 §20.25)
    Organization => "Organization", b"organization", None;
    /// Priority (RFC 3261 §20.26)
    Priority => "Priority", b"priority", None;
    /// Alert-Info (RFC 3261 §20.4)
    AlertInfo => "Alert-Info", b"alert-info", None;
    /// Call-Info (RFC 3261 §20.9)
    CallInfo => "Call-Info", b"call-info", None;
    /// Error-Info (RFC 3261 §20.18)
    ErrorInfo => "Error-Info", b"error-info", None;
    /// In-Reply-To (RFC 3261 §20.21)
    InReplyTo => "In-Reply-To", b"in-reply-to", None;
    /// Reply-To (RFC 3261 §20.31)
    ReplyTo => "Reply-To", b"reply-to", None;
    /// Path (RFC 3327)
    Path => "Path", b"path", None;
    /// Service-Route (RFC 3608)
    ServiceRoute => "Service-Route", b"service-route", None;
    /// P-Asserted-Identity (RFC 3325)
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity", None;
    /// P-Preferred-Identity (RFC 3325)
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity", None;
    /// Privacy (RFC 3323)
    Privacy => "Privacy", b"privacy", None;
    /// Replaces (RFC 3891)
    Replaces => "Replaces", b"replaces", None;
    /// Diversion (RFC 5806)
    Diversion => "Diversion", b"diversion", None;
    /// History-Info (RFC 7044)
    HistoryInfo => "History-Info", b"history-info", None;
    /// Subscription-State (RFC 6665)
    SubscriptionState => "Subscription-State", b"subscription-state", None;
}

/// Longest known long-form name, so lookups lower-case into a stack buffer.
const MAX_KNOWN_LEN: usize = 24;

impl HeaderName {
    /// Looks up a header name, case-insensitively; compact forms map to
    /// their long form (`"i"` → `CallId`).
    pub fn from_name(name: &str) -> Option<HeaderName> {
        let bytes = name.as_bytes();
        if bytes.len() == 1 {
            return Self::from_compact(bytes[0]);
        }
        if bytes.len() > MAX_KNOWN_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_KNOWN_LEN];
        let lower = &mut buf[..bytes.len()];
        for (dst, src) in lower.iter_mut().zip(bytes) {
            *dst = src.to_ascii_lowercase();
        }
        Self::from_lower(lower)
    }

    fn from_compact(c: u8) -> Option<HeaderName> {
        Some(match c.to_ascii_lowercase() {
            b'i' => HeaderName::CallId,
            b'm' => HeaderName::Contact,
            b'v' => HeaderName::Via,
            b'f' => HeaderName::From,
            b't' => HeaderName::To,
            b'l' => HeaderName::ContentLength,
            b'c' => HeaderName::ContentType,
            b'k' => HeaderName::Supported,
            b'x' => HeaderName::SessionExpires,
            b'e' => HeaderName::ContentEncoding,
            b's' => HeaderName::Subject,
            b'o' => HeaderName::Event,
            b'r' => HeaderName::ReferTo,
            b'b' => HeaderName::ReferredBy,
            b'u' => HeaderName::AllowEvents,
            b'a' => HeaderName::AcceptContact,
            b'j' => HeaderName::RejectContact,
            b'd' => HeaderName::RequestDisposition,
            b'y' => HeaderName::Identity,
            b'n' => HeaderName::IdentityInfo,
            _ => return None,
        })
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line as indexed: the name as received, what it is known as,
/// and its value (folded lines already joined).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// The name exactly as received (may be a compact form).
    pub name: &'a str,
    /// The known header this name denotes, if any.
    pub known: Option<HeaderName>,
    /// The value, trimmed, with folded lines joined by a single space; empty
    /// when the value is not UTF-8 (`value_bytes` has it then).
    pub value: &'a str,
    /// The value as received: peers send Latin-1 in display names and
    /// free-text headers, which is no reason to lose the header.
    pub value_bytes: &'a [u8],
}

/// Index entry of one header line. Ranges point into the raw message, or
/// into the message's side buffer of unfolded values when `folded`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderEntry {
    pub(crate) name: Span32,
    pub(crate) known: Option<HeaderName>,
    pub(crate) value: Span32,
    pub(crate) folded: bool,
    /// For From, To and Call-ID: the value as checked the first time it was
    /// asked for. A message's From, To and Call-ID are read many times on its
    /// way through validation, transactions, dialogs and the conversation.
    /// Kept here, in the index's heap buffer, rather than in `Message`, which
    /// is moved by value through channels.
    pub(crate) checked: std::sync::OnceLock<Checked>,
}

/// A byte range of a message in 32-bit offsets (a message is at most
/// `Limits::max_message_size`, far below 4 GiB). A transaction keeps its
/// message's header index for as long as it lives (32 s on UDP), so each
/// entry is kept small: at 3,000 calls/s that is millions of entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span32 {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span32 {
    /// `r`, or an empty span at the end of the range a 32-bit offset reaches
    /// (never met: the parser refuses longer messages first).
    pub(crate) fn new(r: Range<usize>) -> Span32 {
        match (u32::try_from(r.start), u32::try_from(r.end)) {
            (Ok(start), Ok(end)) => Span32 { start, end },
            _ => Span32 {
                start: u32::MAX,
                end: u32::MAX,
            },
        }
    }

    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

/// What the first look at a header's value found (see `HeaderEntry::checked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checked {
    Malformed,
    /// Well-formed, nothing kept (a Call-ID).
    WellFormed,
    /// A From or To: its parts' spans, `None` when the value is too long for
    /// them (parsed again at every look).
    NameAddr(Option<super::typed::NameAddrSpans>),
}

/// Splits a list-valued header value at top-level commas: commas inside
/// `"quoted strings"` (with `\` escapes) and `<...>` do not split. Elements
/// are trimmed; empty elements (`a,,b`) are skipped. Works on text (`&str`)
/// and on bytes (`&[u8]`, for values that are not UTF-8): it only looks at
/// ASCII delimiters, so text splits at character boundaries.
#[derive(Clone, Debug)]
pub(crate) struct CommaSplit<'a, T: ?Sized> {
    rest: &'a T,
}

impl<'a, T: ?Sized + Splittable> CommaSplit<'a, T> {
    pub(crate) fn new(value: &'a T) -> Self {
        CommaSplit { rest: value }
    }
}

/// What `CommaSplit` splits: text or bytes.
pub(crate) trait Splittable {
    fn bytes_of(&self) -> &[u8];
    /// `self[..i]` and `self[i + 1..]`, `i` being an ASCII comma.
    fn split_at_comma(&self, i: usize) -> (&Self, &Self);
    fn empty(&self) -> &Self;
    fn trim_wsp(&self) -> &Self;
}

impl Splittable for str {
    fn bytes_of(&self) -> &[u8] {
        self.as_bytes()
    }
    fn split_at_comma(&self, i: usize) -> (&str, &str) {
        (&self[..i], &self[i + 1..])
    }
    fn empty(&self) -> &str {
        ""
    }
    fn trim_wsp(&self) -> &str {
        self.trim_matches(is_wsp_char)
    }
}

impl Splittable for [u8] {
    fn bytes_of(&self) -> &[u8] {
        self
    }
    fn split_at_comma(&self, i: usize) -> (&[u8], &[u8]) {
        (&self[..i], &self[i + 1..])
    }
    fn empty(&self) -> &[u8] {
        &[]
    }
    fn trim_wsp(&self) -> &[u8] {
        trim_wsp_bytes(self)
    }
}

/// `bytes` without leading and trailing SP / HTAB.
pub(crate) fn trim_wsp_bytes(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Byte offset of the first top-level comma in `s`, if any.
pub(crate) fn top_level_comma(s: &[u8]) -> Option<usize> {
    // Fast path: no quote or `<` before the first comma (the common case,
    // e.g. Via and option-tag lists) needs no state machine.
    match memchr::memchr3(b',', b'"', b'<', s) {
        None => return None,
        Some(i) if s[i] == b',' => return Some(i),
        Some(_) => {}
    }
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
            continue;
        }
        match b {
            b'"' => in_quotes = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => return Some(i),
            _ => {}
        }
    }
    None
}

impl<'a, T: ?Sized + Splittable> Iterator for CommaSplit<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if self.rest.bytes_of().is_empty() {
                return None;
            }
            let (item, rest) = match top_level_comma(self.rest.bytes_of()) {
                Some(i) => self.rest.split_at_comma(i),
                None => (self.rest, self.rest.empty()),
            };
            self.rest = rest;
            let item = item.trim_wsp();
            if !item.bytes_of().is_empty() {
                return Some(item);
            }
        }
    }
}

/// SP or HTAB (RFC 3261 WSP).
pub(crate) fn is_wsp_char(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 3261 §25.1 `token` characters.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Non-empty and all `token` characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_long_name_round_trips_case_insensitively() {
        for &h in HeaderName::ALL {
            assert_eq!(HeaderName::from_name(h.as_str()), Some(h));
            assert_eq!(HeaderName::from_name(&h.as_str().to_uppercase()), Some(h));
            assert_eq!(HeaderName::from_name(&h.as_str().to_lowercase()), Some(h));
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::from_name(&c.to_string()), Some(h), "{h}");
                let upper = c.to_ascii_uppercase().to_string();
                assert_eq!(HeaderName::from_name(&upper), Some(h), "{h}");
            }
            assert!(h.as_str().len() <= MAX_KNOWN_LEN);
        }
    }

    #[test]
    fn unknown_names() {
        assert_eq!(HeaderName::from_name("X-Custom"), None);
        assert_eq!(HeaderName::from_name("q"), None);
        assert_eq!(HeaderName::from_name(""), None);
        assert_eq!(HeaderName::from_name(&"a".repeat(100)), None);
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v = r#""Doe, John" <sip:a@b;x=1,2>;q=1 , <sip:c@d>,, "a\",b" <sip:e@f>"#;
        let parts: Vec<&str> = CommaSplit::new(v).collect();
        assert_eq!(
            parts,
            [
                r#""Doe, John" <sip:a@b;x=1,2>;q=1"#,
                "<sip:c@d>",
                r#""a\",b" <sip:e@f>"#
            ]
        );
        assert_eq!(CommaSplit::new("  ").count(), 0);
        assert_eq!(CommaSplit::new("\"unterminated, x").count(), 1);
        // The same split on bytes, with a Latin-1 byte in a quoted string.
        let v: &[u8] = b"\"Jos\xe9, J\" <sip:a@b>, <sip:c@d>";
        let parts: Vec<&[u8]> = CommaSplit::new(v).collect();
        assert_eq!(parts, [&b"\"Jos\xe9, J\" <sip:a@b>"[..], b"<sip:c@d>"]);
    }

    #[test]
    fn trim_wsp_bytes_trims_sp_and_htab_only() {
        assert_eq!(trim_wsp_bytes(b" \ta b\t "), b"a b");
        assert_eq!(trim_wsp_bytes(b"  "), b"");
        assert_eq!(trim_wsp_bytes(b""), b"");
        assert_eq!(trim_wsp_bytes(b"\xe9"), b"\xe9");
    }
}

#[cfg(test)]
mod size_tests {
    /// A transaction keeps its message's index for 32 s: at a few thousand
    /// calls a second, each byte of an entry is megabytes of resident memory.
    #[test]
    fn a_header_index_entry_stays_small() {
        assert_eq!(std::mem::size_of::<super::HeaderEntry>(), 36);
    }
}
