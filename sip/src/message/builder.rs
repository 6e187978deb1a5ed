//! Building wire bytes: a small builder that always writes Content-Length,
//! and the RFC 3261 constructions derived from a received message
//! (responses §8.2.6.2 with RFC 3581 rport, ACK for non-2xx §17.1.1.3,
//! CANCEL §9.1).

use super::header::{HeaderName, top_level_comma};
use super::parse::{Limits, ParseError};
use super::typed::Via;
use super::{Invalid, Message, Method};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// `Content-Length: N\r\n\r\n` at its longest.
const CONTENT_LENGTH_LINE_MAX: usize = 40;

/// Spare room a built message may keep in its buffer.
const MAX_SLACK: usize = 256;

/// Builds a message's wire bytes: start line, headers in call order, then
/// Content-Type (with a body), Content-Length and the body.
#[derive(Clone, Debug)]
pub struct MessageBuilder {
    buf: BytesMut,
    body: Option<(String, Vec<u8>)>,
}

impl MessageBuilder {
    /// Starts a request: `METHOD uri SIP/2.0`.
    pub fn request(method: &Method, uri: &str) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(512);
        put_clean(&mut buf, method.as_str().as_bytes());
        buf.put_u8(b' ');
        put_clean(&mut buf, uri.as_bytes());
        buf.put_slice(b" SIP/2.0\r\n");
        MessageBuilder { buf, body: None }
    }

    /// Starts a response: `SIP/2.0 status reason`.
    pub fn response(status: u16, reason: &str) -> MessageBuilder {
        let mut buf = BytesMut::with_capacity(512);
        buf.put_slice(b"SIP/2.0 ");
        let mut code = String::with_capacity(3);
        let _ = write!(code, "{status:03}");
        buf.put_slice(code.as_bytes());
        buf.put_u8(b' ');
        put_clean(&mut buf, reason.as_bytes());
        buf.put_slice(b"\r\n");
        MessageBuilder { buf, body: None }
    }

    /// Appends `Name: value` with the canonical long name. Content-Length
    /// is ignored: `build` writes it from the body.
    pub fn header(self, name: HeaderName, value: &str) -> MessageBuilder {
        if name == HeaderName::ContentLength {
            return self;
        }
        self.header_raw(name.as_str(), value)
    }

    /// Appends a header with the name as given (pass-through). A
    /// Content-Length (or `l`) is ignored: `build` writes it from the body.
    pub fn header_raw(self, name: &str, value: &str) -> MessageBuilder {
        self.header_parts(name, &[value.as_bytes()])
    }

    /// Appends `Name: value` with a value as received, UTF-8 or not (a
    /// From with a Latin-1 display name echoed in a response).
    /// Content-Length is ignored: `build` writes it from the body.
    pub fn header_bytes(self, name: HeaderName, value: &[u8]) -> MessageBuilder {
        self.header_parts(name.as_str(), &[value])
    }

    /// Appends a header as received: its name as written and its value's
    /// bytes (a request copied with a few headers changed).
    pub fn header_parts_raw(self, name: &str, value: &[u8]) -> MessageBuilder {
        self.header_parts(name, &[value])
    }

    /// Appends `Name: value` with the value given as `parts` joined.
    pub(crate) fn header_joined(self, name: HeaderName, parts: &[&[u8]]) -> MessageBuilder {
        self.header_parts(name.as_str(), parts)
    }

    /// Appends a header whose value is `parts` joined.
    fn header_parts(mut self, name: &str, parts: &[&[u8]]) -> MessageBuilder {
        if HeaderName::from_name(name) == Some(HeaderName::ContentLength) {
            return self;
        }
        put_clean(&mut self.buf, name.as_bytes());
        self.buf.put_slice(b": ");
        for part in parts {
            put_clean(&mut self.buf, part);
        }
        self.buf.put_slice(b"\r\n");
        self
    }

    /// Sets the body and its Content-Type (replacing any earlier body).
    pub fn body(mut self, content_type: &str, body: &[u8]) -> MessageBuilder {
        self.body = Some((content_type.to_owned(), body.to_vec()));
        self
    }

    /// The wire bytes, with Content-Length.
    pub fn build(self) -> Bytes {
        let MessageBuilder { buf, body } = self;
        let len = body.as_ref().map_or(0, |(_, b)| b.len());
        // Messages are kept (for retransmission, for the dialog) as long as a
        // call lasts: give them a buffer of their size rather than what the
        // growing buffer doubled to.
        let total = buf.len()
            + body.as_ref().map_or(0, |(ct, b)| ct.len() + b.len() + 16)
            + CONTENT_LENGTH_LINE_MAX;
        let mut buf = if buf.capacity() >= total && buf.capacity() - total <= MAX_SLACK {
            buf
        } else {
            let mut exact = BytesMut::with_capacity(total);
            exact.put_slice(&buf);
            exact
        };
        if let Some((ct, _)) = &body {
            buf.put_slice(b"Content-Type: ");
            put_clean(&mut buf, ct.as_bytes());
            buf.put_slice(b"\r\n");
        }
        let mut cl = String::with_capacity(24);
        let _ = write!(cl, "Content-Length: {len}\r\n\r\n");
        buf.put_slice(cl.as_bytes());
        if let Some((_, b)) = &body {
            buf.put_slice(b);
        }
        buf.freeze()
    }

    /// Builds, then parses with `Limits::default()`.
    pub fn build_message(self) -> Result<Message, ParseError> {
        Message::parse(self.build(), &Limits::default())
    }
}

/// Writes bytes with CR and LF replaced by spaces, so no value can inject a
/// header line or end the header section early.
fn put_clean(buf: &mut BytesMut, bytes: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', bytes).is_none() {
        buf.put_slice(bytes);
    } else {
        buf.extend(
            bytes
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
}

/// RFC 3261 §8.2.6.2 response: copies every Via (the top one gets
/// `received=` when the source IP differs from sent-by, and `received=` plus
/// `rport=<port>` when the request carried a bare `rport`, RFC 3581 §4),
/// From, To (adds `;tag=to_tag` if the request's To has no tag and to_tag
/// is Some), Call-ID, CSeq; and Timestamp for 100 (§8.2.6.1).
pub fn response_to(
    request: &Message,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    source: Option<SocketAddr>,
) -> MessageBuilder {
    let mut b = MessageBuilder::response(status, reason);
    // Copied as received: what the response must echo may hold bytes that
    // are not UTF-8 (a Latin-1 display name), and dropping it would make the
    // response unmatchable.
    let mut lines = request.header_lines_bytes(HeaderName::Via);
    if let Some(first) = lines.next() {
        b = with_top_via(b, first, source);
        for line in lines {
            b = b.header_bytes(HeaderName::Via, line);
        }
    }
    if let Some(from) = request.header_bytes(HeaderName::From) {
        b = b.header_bytes(HeaderName::From, from);
    }
    if let Some(to) = request.header_bytes(HeaderName::To) {
        let has_tag = request
            .to_header()
            .map(|t| t.tag().is_some())
            .unwrap_or(true);
        b = match to_tag {
            Some(tag) if !has_tag => {
                b.header_joined(HeaderName::To, &[to, b";tag=", tag.as_bytes()])
            }
            _ => b.header_bytes(HeaderName::To, to),
        };
    }
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = request.header_bytes(name) {
            b = b.header_bytes(name, v);
        }
    }
    if status == 100
        && let Some(ts) = request.header_bytes(HeaderName::Timestamp)
    {
        b = b.header_bytes(HeaderName::Timestamp, ts);
    }
    b
}

/// Appends the request's first Via line: its first value with `received`
/// and `rport` (when it is text), then the rest of the line.
pub(crate) fn with_top_via(
    b: MessageBuilder,
    line: &[u8],
    source: Option<SocketAddr>,
) -> MessageBuilder {
    let Ok(line) = std::str::from_utf8(line) else {
        return b.header_bytes(HeaderName::Via, line);
    };
    let (top, rest) = split_first_value(line);
    let b = b.header(HeaderName::Via, &top_via_for_response(top, source));
    if rest.is_empty() {
        b
    } else {
        b.header(HeaderName::Via, rest)
    }
}

/// The first top-level value of a Via line and the rest after its comma.
fn split_first_value(line: &str) -> (&str, &str) {
    match top_level_comma(line.as_bytes()) {
        Some(i) => (line[..i].trim(), line[i + 1..].trim()),
        None => (line.trim(), ""),
    }
}

/// Adds `received` / fills `rport` on the top Via (RFC 3261 §18.2.1,
/// RFC 3581 §4). An unparsable Via is copied unchanged.
fn top_via_for_response(top: &str, source: Option<SocketAddr>) -> String {
    let (Some(src), Some(via)) = (source, Via::parse(top)) else {
        return top.to_owned();
    };
    let host = via.host.trim_start_matches('[').trim_end_matches(']');
    let same_ip = host.parse::<IpAddr>().is_ok_and(|ip| ip == src.ip());
    let fill_rport = via.params.get("rport") == Some(None);
    let add_received = !same_ip || fill_rport;
    let params = via.params.as_str();
    // `params` is a suffix of `top` (Via::parse borrows it from there).
    let sent = top
        .get(..top.len().saturating_sub(params.len()))
        .unwrap_or(top)
        .trim_end();
    let mut out = String::with_capacity(top.len() + 48);
    out.push_str(sent);
    for (name, value) in via.params.iter() {
        let is_received = name.eq_ignore_ascii_case("received");
        if is_received && add_received {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if fill_rport && value.is_none() && name.eq_ignore_ascii_case("rport") {
            let _ = write!(out, "={}", src.port());
        } else if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    if add_received {
        let _ = write!(out, ";received={}", src.ip());
    }
    out
}

/// The request's first Via value, for ACK and CANCEL (one Via only).
fn top_via_value(invite: &Message) -> Result<&str, Invalid> {
    invite.top_via()?;
    let line = invite
        .header(HeaderName::Via)
        .ok_or(Invalid::Missing(HeaderName::Via))?;
    Ok(split_first_value(line).0)
}

fn require(m: &Message, name: HeaderName) -> Result<&[u8], Invalid> {
    m.header_bytes(name).ok_or(Invalid::Missing(name))
}

/// Start of an ACK or CANCEL for `invite`: Request-URI, single top Via,
/// Route set, Max-Forwards 70, From, Call-ID.
fn in_transaction_request(
    invite: &Message,
    method: &Method,
) -> Result<(MessageBuilder, u32), Invalid> {
    let uri = invite.request_uri().ok_or(Invalid::NotRequest)?;
    let cseq = invite.cseq()?;
    let mut b =
        MessageBuilder::request(method, uri).header(HeaderName::Via, top_via_value(invite)?);
    for route in invite.header_lines_bytes(HeaderName::Route) {
        b = b.header_bytes(HeaderName::Route, route);
    }
    b = b
        .header(HeaderName::MaxForwards, "70")
        .header_bytes(HeaderName::From, require(invite, HeaderName::From)?);
    Ok((b, cseq.seq))
}

/// RFC 3261 §17.1.1.3 ACK for a non-2xx final response to `invite`: same
/// Request-URI, the INVITE's top Via only, its From and Route set, the
/// response's To (with its tag), Call-ID, CSeq number with ACK.
pub fn ack_for_non_2xx(invite: &Message, response: &Message) -> Result<Bytes, Invalid> {
    let (b, seq) = in_transaction_request(invite, &Method::Ack)?;
    let to = require(response, HeaderName::To)?;
    Ok(b.header_bytes(HeaderName::To, to)
        .header_bytes(HeaderName::CallId, require(invite, HeaderName::CallId)?)
        .header(HeaderName::CSeq, &format!("{seq} ACK"))
        .build())
}

/// RFC 3261 §9.1 CANCEL for a pending `invite`: same Request-URI, Call-ID,
/// To, From, CSeq number with CANCEL, the top Via only and the Route set.
pub fn cancel_for(invite: &Message) -> Result<Bytes, Invalid> {
    let (b, seq) = in_transaction_request(invite, &Method::Cancel)?;
    Ok(
        b.header_bytes(HeaderName::To, require(invite, HeaderName::To)?)
            .header_bytes(HeaderName::CallId, require(invite, HeaderName::CallId)?)
            .header(HeaderName::CSeq, &format!("{seq} CANCEL"))
            .build(),
    )
}
