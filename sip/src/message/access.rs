//! Accessors on a parsed `Message`: the start line, raw header lines and
//! values, and typed views parsed on demand.

use super::header::{Checked, CommaSplit, HeaderEntry, HeaderName, HeaderRef};
use super::typed::{CSeq, NameAddr, SessionExpires, Via};
use super::{Invalid, Message, Method, StartLine};
use bytes::Bytes;
use std::ops::Range;

impl Message {
    /// The message bytes (leading CRLFs and bytes past Content-Length cut).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The parsed start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method; `None` for responses.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as received; `None` for responses.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(self.raw_str(uri.clone())),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code; `None` for requests.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase (possibly empty); `None` for requests, and for a
    /// phrase that is not UTF-8 (callers fall back to the status's default).
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => self.text(reason.clone()),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header line, in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> {
        self.headers.iter().map(|e| {
            let value_bytes = self.value_bytes(e);
            HeaderRef {
                name: self.raw_str(e.name.range()),
                known: e.known,
                value: std::str::from_utf8(value_bytes).unwrap_or_default(),
                value_bytes,
            }
        })
    }

    /// The value of the first UTF-8 line of header `name` (a line that is
    /// not UTF-8 reads only through [`header_bytes`](Self::header_bytes)).
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.header_lines(name).next()
    }

    /// The value of the first line of header `name`, as received.
    pub fn header_bytes(&self, name: HeaderName) -> Option<&[u8]> {
        self.header_lines_bytes(name).next()
    }

    /// The value of the first UTF-8 line of any header, by name
    /// (case-insensitive; compact and long forms of known headers are
    /// equivalent).
    pub fn header_by_name(&self, name: &str) -> Option<&str> {
        if let Some(known) = HeaderName::from_name(name) {
            return self.header(known);
        }
        self.headers
            .iter()
            .filter(|e| {
                e.known.is_none() && self.raw_str(e.name.range()).eq_ignore_ascii_case(name)
            })
            .find_map(|e| std::str::from_utf8(self.value_bytes(e)).ok())
    }

    /// The value of every UTF-8 line of header `name`, in order.
    pub fn header_lines(&self, name: HeaderName) -> impl Iterator<Item = &str> {
        self.header_lines_bytes(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
    }

    /// The value of every line of header `name`, as received, in order.
    pub fn header_lines_bytes(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
        self.headers
            .iter()
            .filter(move |e| e.known == Some(name))
            .map(|e| self.value_bytes(e))
    }

    /// Every comma-separated value of header `name` across all its UTF-8
    /// lines, trimmed; commas inside quoted strings and `<...>` do not split.
    /// Only meaningful for list-valued headers (not Date, WWW-Authenticate…).
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &str> {
        self.header_lines(name).flat_map(CommaSplit::new)
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The body, framed by Content-Length.
    pub fn body(&self) -> &[u8] {
        self.raw.get(self.body.clone()).unwrap_or_default()
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via<'_>, Invalid> {
        self.vias()
            .next()
            .unwrap_or(Err(Invalid::Missing(HeaderName::Via)))
    }

    /// Every Via value, top first; a Via line that is not UTF-8 reads as
    /// one malformed value.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, Invalid>> {
        self.text_values(HeaderName::Via)
            .map(|v| v.and_then(|v| Via::parse(v).ok_or(Invalid::Malformed(HeaderName::Via))))
    }

    /// The From header.
    pub fn from_header(&self) -> Result<NameAddr<'_>, Invalid> {
        self.single_name_addr(HeaderName::From)
    }

    /// The To header.
    pub fn to_header(&self) -> Result<NameAddr<'_>, Invalid> {
        self.single_name_addr(HeaderName::To)
    }

    fn single_name_addr(&self, name: HeaderName) -> Result<NameAddr<'_>, Invalid> {
        let entry = self
            .headers
            .iter()
            .find(|e| e.known == Some(name))
            .ok_or(Invalid::Missing(name))?;
        let v = self.value_bytes(entry);
        let parse = || NameAddr::parse_bytes(v, false).ok_or(Invalid::Malformed(name));
        let checked = entry.checked.get_or_init(|| match parse() {
            Ok(na) => Checked::NameAddr(na.spans(v)),
            Err(_) => Checked::Malformed,
        });
        match checked {
            Checked::NameAddr(Some(spans)) => {
                NameAddr::from_spans(v, *spans).map_or_else(parse, Ok)
            }
            Checked::NameAddr(None) | Checked::WellFormed => parse(),
            Checked::Malformed => Err(Invalid::Malformed(name)),
        }
    }

    /// The Call-ID: `word ["@" word]`, no whitespace.
    pub fn call_id(&self) -> Result<&str, Invalid> {
        let malformed = Invalid::Malformed(HeaderName::CallId);
        let entry = self
            .headers
            .iter()
            .find(|e| e.known == Some(HeaderName::CallId))
            .ok_or(Invalid::Missing(HeaderName::CallId))?;
        let v = self.value_bytes(entry);
        // Printable ASCII without list/param delimiters, one `@` at most;
        // checked once per message (it asks for its Call-ID dozens of times).
        let checked = entry.checked.get_or_init(|| {
            let ok = !v.is_empty()
                && v.iter()
                    .all(|&b| b.is_ascii_graphic() && b != b',' && b != b';')
                && v.iter().filter(|&&b| b == b'@').count() <= 1;
            if ok {
                Checked::WellFormed
            } else {
                Checked::Malformed
            }
        });
        if *checked == Checked::Malformed {
            return Err(malformed);
        }
        // ASCII by the check: this only re-confirms it (no `unsafe` here).
        std::str::from_utf8(v).map_err(|_| malformed)
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq, Invalid> {
        let v = self
            .header_text(HeaderName::CSeq)?
            .ok_or(Invalid::Missing(HeaderName::CSeq))?;
        CSeq::parse(v).ok_or(Invalid::Malformed(HeaderName::CSeq))
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<u32>, Invalid> {
        let Some(v) = self.header_text(HeaderName::MaxForwards)? else {
            return Ok(None);
        };
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::Malformed(HeaderName::MaxForwards));
        }
        v.parse()
            .map(Some)
            .map_err(|_| Invalid::Malformed(HeaderName::MaxForwards))
    }

    /// Every Contact value; a wildcard reads as uri `"*"`.
    pub fn contacts(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Invalid>> {
        self.name_addrs_as(HeaderName::Contact, true)
    }

    /// Every Route value, in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Invalid>> {
        self.name_addrs_as(HeaderName::Route, false)
    }

    /// Every Record-Route value, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Invalid>> {
        self.name_addrs_as(HeaderName::RecordRoute, false)
    }

    /// Every name-addr of header `name`; split and parsed as bytes, so a
    /// display name that is not UTF-8 costs only the display name.
    fn name_addrs_as(
        &self,
        name: HeaderName,
        allow_star: bool,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, Invalid>> {
        self.header_lines_bytes(name)
            .flat_map(CommaSplit::<[u8]>::new)
            .map(move |v| NameAddr::parse_bytes(v, allow_star).ok_or(Invalid::Malformed(name)))
    }

    /// Every comma-separated value of header `name`; a line that is not
    /// UTF-8 yields one `Malformed` in its place, so a checker cannot
    /// overlook it.
    fn text_values(&self, name: HeaderName) -> impl Iterator<Item = Result<&str, Invalid>> {
        self.header_lines_bytes(name)
            .flat_map(move |line| match std::str::from_utf8(line) {
                Ok(text) => TextValues::Split(CommaSplit::new(text)),
                Err(_) => TextValues::Bad(Some(Invalid::Malformed(name))),
            })
    }

    /// The first line of header `name` as text: `Ok(None)` when absent,
    /// `Malformed` when it is not UTF-8.
    pub(crate) fn header_text(&self, name: HeaderName) -> Result<Option<&str>, Invalid> {
        match self.header_bytes(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| Invalid::Malformed(name)),
        }
    }

    /// Content-Length, if present (parse checked its syntax).
    pub fn content_length(&self) -> Option<usize> {
        self.header(HeaderName::ContentLength)
            .and_then(|v| v.parse().ok())
    }

    /// Content-Type, as received.
    pub fn content_type(&self) -> Option<&str> {
        self.header(HeaderName::ContentType)
    }

    /// Option tags of Require.
    pub fn require(&self) -> impl Iterator<Item = &str> {
        self.header_values(HeaderName::Require)
    }

    /// Option tags of Proxy-Require.
    pub fn proxy_require(&self) -> impl Iterator<Item = &str> {
        self.header_values(HeaderName::ProxyRequire)
    }

    /// Option tags of Supported.
    pub fn supported(&self) -> impl Iterator<Item = &str> {
        self.header_values(HeaderName::Supported)
    }

    /// Session-Expires (RFC 4028), if present.
    pub fn session_expires(&self) -> Result<Option<SessionExpires>, Invalid> {
        match self.header_text(HeaderName::SessionExpires)? {
            None => Ok(None),
            Some(v) => SessionExpires::parse(v)
                .map(Some)
                .ok_or(Invalid::Malformed(HeaderName::SessionExpires)),
        }
    }

    /// Text of a range of the raw message that parse checked to be ASCII
    /// or UTF-8 (header names, the Request-URI); never falls back then.
    fn raw_str(&self, r: Range<usize>) -> &str {
        self.text(r).unwrap_or_default()
    }

    /// Text of a range of the raw message, if it is UTF-8.
    fn text(&self, r: Range<usize>) -> Option<&str> {
        self.raw.get(r).and_then(|b| std::str::from_utf8(b).ok())
    }

    fn value_bytes(&self, e: &HeaderEntry) -> &[u8] {
        if e.folded {
            self.unfolded
                .as_deref()
                .and_then(|u| u.get(e.value.range()))
                .unwrap_or_default()
        } else {
            self.raw.get(e.value.range()).unwrap_or_default()
        }
    }
}

/// The values of one header line for `Message::text_values`.
enum TextValues<'a> {
    Split(CommaSplit<'a, str>),
    Bad(Option<Invalid>),
}

impl<'a> Iterator for TextValues<'a> {
    type Item = Result<&'a str, Invalid>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            TextValues::Split(split) => split.next().map(Ok),
            TextValues::Bad(bad) => bad.take().map(Err),
        }
    }
}
