//! Framing and indexing: bytes → `Message` (RFC 3261 §7, §18.3).
//!
//! One pass over the header section finds line ends with `memchr`, records
//! each header's name and value range and notes folded lines. Only a message
//! that folds gets a side buffer of joined values; otherwise the index `Vec`
//! (sized from the line count) is the only allocation.
//!
//! Header values are indexed as bytes: RFC 3261 wants UTF-8, but Latin-1
//! display names and Subjects are common enough that refusing the whole
//! message for one such byte loses calls. Names, the start line and every
//! value the stack interprets are checked where they are read (`access.rs`).

use super::header::{HeaderEntry, HeaderName, Span32, is_token, is_token_byte};
use super::typed::is_uri;
use super::{Message, Method, StartLine};
use bytes::Bytes;
use std::ops::Range;

/// Hard limits applied while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message (datagram or framed stream message), bytes.
    pub max_message_size: usize,
    /// Most header lines accepted.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
        }
    }
}

/// Why bytes could not be framed or indexed as a SIP message.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but (possibly) keep-alive CRLFs.
    #[error("empty message")]
    Empty,
    /// Larger than `Limits::max_message_size`.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// More header lines than `Limits::max_headers`.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    BadStartLine,
    /// The method is not a token.
    #[error("malformed method")]
    BadMethod,
    /// The Request-URI is not an absolute URI, or a SIP URI carries headers
    /// (RFC 3261 §19.1.5 forbids them in a Request-URI).
    #[error("malformed Request-URI")]
    BadRequestUri,
    /// The SIP-Version is not of the form `SIP/x.y`.
    #[error("malformed SIP version")]
    BadVersion,
    /// A well-formed SIP-Version other than SIP/2.0: answer 505.
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The status code is not three digits in 100..=699.
    #[error("malformed status code")]
    BadStatusCode,
    /// A header line without a colon, with a bad name, or a continuation
    /// line before any header. `line` counts from 1 at the start line.
    #[error("malformed header line {line}")]
    BadHeaderLine {
        /// 1-based line number.
        line: usize,
    },
    /// The header section does not end with an empty line.
    #[error("header section not terminated by an empty line")]
    HeadersUnterminated,
    /// Content-Length is not a non-negative decimal number.
    #[error("malformed Content-Length")]
    BadContentLength,
    /// More than one Content-Length header: framing would be ambiguous.
    #[error("more than one Content-Length header")]
    DuplicateContentLength,
    /// Content-Length declares more body than the message holds.
    #[error("body truncated: Content-Length {declared}, {available} bytes present")]
    BodyTruncated {
        /// The declared Content-Length.
        declared: usize,
        /// Bytes present after the header section.
        available: usize,
    },
}

impl ParseError {
    /// The status code to answer with when a response is possible: 505 for
    /// an unsupported version, 513 for a message above the size or header
    /// count limit, else 400. `reason_phrase` gives the matching phrase.
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::UnsupportedVersion => 505,
            ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. } => 513,
            _ => 400,
        }
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_wsp(bytes: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && is_wsp(bytes[r.start]) {
        r.start += 1;
    }
    while r.end > r.start && is_wsp(bytes[r.end - 1]) {
        r.end -= 1;
    }
    r
}

/// The end of the line starting at `pos` (index of its `\n`, or of the
/// `\r` before it) and the start of the next line.
fn line_at(bytes: &[u8], pos: usize) -> Option<(usize, usize)> {
    let nl = pos + memchr::memchr(b'\n', bytes.get(pos..)?)?;
    let end = if nl > pos && bytes[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

impl Message {
    /// Frames and indexes one message. For UDP the datagram is one message;
    /// a body longer than Content-Length is truncated to it (RFC 3261
    /// §18.3), shorter is an error; without Content-Length the body is the
    /// rest of the datagram. Leading CRLFs are skipped (§7.5).
    pub fn parse(raw: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        // The index keeps 32-bit offsets (`Span32`).
        if raw.len() > limits.max_message_size || u32::try_from(raw.len()).is_err() {
            return Err(ParseError::TooLarge {
                size: raw.len(),
                limit: limits.max_message_size,
            });
        }
        let skip = raw
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if skip == raw.len() {
            return Err(ParseError::Empty);
        }
        let mut raw = raw.slice(skip..);
        let bytes: &[u8] = &raw;

        let (start_end, mut pos) = line_at(bytes, 0).ok_or(ParseError::HeadersUnterminated)?;
        let start = parse_start_line(bytes, 0..start_end)?;

        // Upper bound on header lines; capped so hostile input cannot make us
        // reserve much more than the limit allows.
        let lines = memchr::memchr_iter(b'\n', bytes).count();
        let mut headers: Vec<HeaderEntry> =
            Vec::with_capacity(lines.min(limits.max_headers.saturating_add(1)));
        let mut any_folded = false;
        let mut content_length: Option<usize> = None;
        let mut line_no = 1;
        let head_end = loop {
            line_no += 1;
            let (end, next) = line_at(bytes, pos).ok_or(ParseError::HeadersUnterminated)?;
            if end == pos {
                break next;
            }
            if is_wsp(bytes[pos]) {
                // Continuation (RFC 3261 §7.3.1): extends the previous value.
                let last = headers
                    .last_mut()
                    .ok_or(ParseError::BadHeaderLine { line: line_no })?;
                let cont = Span32::new(trim_wsp(bytes, pos..end));
                if !cont.is_empty() {
                    if last.value.is_empty() {
                        last.value = cont;
                    } else {
                        last.value.end = cont.end;
                        last.folded = true;
                        any_folded = true;
                    }
                }
            } else {
                if headers.len() >= limits.max_headers {
                    return Err(ParseError::TooManyHeaders {
                        limit: limits.max_headers,
                    });
                }
                let colon = pos
                    + memchr::memchr(b':', &bytes[pos..end])
                        .ok_or(ParseError::BadHeaderLine { line: line_no })?;
                let name = trim_wsp(bytes, pos..colon);
                if name.is_empty() || !bytes[name.clone()].iter().all(|&b| is_token_byte(b)) {
                    return Err(ParseError::BadHeaderLine { line: line_no });
                }
                let known = std::str::from_utf8(&bytes[name.clone()])
                    .ok()
                    .and_then(HeaderName::from_name);
                if known == Some(HeaderName::ContentLength) {
                    if content_length.is_some() {
                        return Err(ParseError::DuplicateContentLength);
                    }
                    content_length = Some(headers.len());
                }
                let value = trim_wsp(bytes, colon + 1..end);
                headers.push(HeaderEntry {
                    name: Span32::new(name),
                    known,
                    value: Span32::new(value),
                    folded: false,
                    checked: std::sync::OnceLock::new(),
                });
            }
            pos = next;
        };

        let unfolded = if any_folded {
            Some(unfold(bytes, &mut headers))
        } else {
            None
        };

        let available = bytes.len() - head_end;
        let body_len = match content_length {
            None => available,
            Some(i) => {
                let e = &headers[i];
                let v = if e.folded {
                    unfolded
                        .as_deref()
                        .and_then(|u| u.get(e.value.range()))
                        .unwrap_or_default()
                } else {
                    bytes.get(e.value.range()).unwrap_or_default()
                };
                let declared = parse_content_length(v)?;
                if declared > available {
                    return Err(ParseError::BodyTruncated {
                        declared,
                        available,
                    });
                }
                declared
            }
        };
        let body = head_end..head_end + body_len;
        raw.truncate(body.end);
        Ok(Message {
            raw,
            start,
            headers,
            body,
            unfolded,
        })
    }
}

/// `1*DIGIT`, without sign or overflow.
fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    if v.is_empty() {
        return Err(ParseError::BadContentLength);
    }
    v.iter().try_fold(0usize, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(ParseError::BadContentLength);
        }
        acc.checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(b - b'0')))
            .ok_or(ParseError::BadContentLength)
    })
}

/// Joins folded values into one side buffer: each line's bytes, trimmed,
/// separated by one space; the entries are repointed into the buffer.
fn unfold(bytes: &[u8], headers: &mut [HeaderEntry]) -> Box<[u8]> {
    let mut out = Vec::new();
    for h in headers.iter_mut().filter(|h| h.folded) {
        let from = out.len();
        let text = bytes.get(h.value.range()).unwrap_or_default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let mut r = trim_wsp(line, 0..line.len());
            if r.end > r.start && line[r.end - 1] == b'\r' {
                r = trim_wsp(line, r.start..r.end - 1);
            }
            if r.is_empty() {
                continue;
            }
            if i > 0 && out.len() > from {
                out.push(b' ');
            }
            // Cut at ASCII line breaks and whitespace only, so UTF-8 text
            // stays whole characters.
            out.extend_from_slice(&line[r]);
        }
        h.value = Span32::new(from..out.len());
    }
    out.into_boxed_slice()
}

fn parse_start_line(bytes: &[u8], line: Range<usize>) -> Result<StartLine, ParseError> {
    let text = &bytes[line.clone()];
    if text.len() >= 4 && text[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = memchr::memchr(b' ', text).ok_or(ParseError::BadStartLine)?;
        check_version(&text[..sp])?;
        let rest = &text[sp + 1..];
        let code_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if code_len != 3 {
            return Err(ParseError::BadStatusCode);
        }
        let status = rest[..3]
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&status) {
            return Err(ParseError::BadStatusCode);
        }
        // `SIP/2.0 100` without SP and reason is tolerated as an empty reason.
        let reason_start = line.start + sp + 1 + 3;
        // A reason phrase that is not UTF-8 (Latin-1 from old gear) does
        // not cost the response: `Message::reason` reads it as absent.
        let reason = match rest.get(3) {
            None => reason_start..reason_start,
            Some(b' ') => reason_start + 1..line.end,
            Some(_) => return Err(ParseError::BadStatusCode),
        };
        return Ok(StartLine::Response { status, reason });
    }
    // Request-Line: exactly one SP between the three elements and none
    // after them (RFC 3261 §7.1; RFC 4475 lwsstart, trws, lwsruri).
    let sp1 = memchr::memchr(b' ', text).ok_or(ParseError::BadStartLine)?;
    let sp2 = sp1 + 1 + memchr::memchr(b' ', &text[sp1 + 1..]).ok_or(ParseError::BadStartLine)?;
    let (method, uri_bytes, version) = (&text[..sp1], &text[sp1 + 1..sp2], &text[sp2 + 1..]);
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    if uri_bytes.is_empty() || uri_bytes.iter().any(is_ws) || version.iter().any(is_ws) {
        return Err(ParseError::BadStartLine);
    }
    let method = std::str::from_utf8(method).map_err(|_| ParseError::BadMethod)?;
    if !is_token(method) {
        return Err(ParseError::BadMethod);
    }
    check_version(version)?;
    let uri = std::str::from_utf8(uri_bytes).map_err(|_| ParseError::BadRequestUri)?;
    if !is_uri(uri) || sip_uri_has_headers(uri) {
        return Err(ParseError::BadRequestUri);
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri: line.start + sp1 + 1..line.start + sp2,
    })
}

/// A `sip:`/`sips:` URI with a `?headers` part. A `?` before the `@` is
/// part of the user (RFC 3261 §25.1 user-unreserved), not a header marker.
fn sip_uri_has_headers(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((s, rest)) if s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips") => {
            let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            hostpart.contains('?')
        }
        _ => false,
    }
}

/// `SIP/2.0`, case-insensitively for the `SIP` literal (RFC 3261 §7.1).
fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v.len() < 4 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(ParseError::BadVersion);
    }
    let num = &v[4..];
    let dot = memchr::memchr(b'.', num).ok_or(ParseError::BadVersion)?;
    let (major, minor) = (&num[..dot], &num[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(ParseError::BadVersion);
    }
    if num != b"2.0" {
        return Err(ParseError::UnsupportedVersion);
    }
    Ok(())
}
