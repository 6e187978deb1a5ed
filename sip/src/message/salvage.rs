//! Answering what `Message::parse` refused (RFC 3261 §8.2, §18.3, §21.4.1,
//! §21.5.6; RFC 4475 §3.1.2).
//!
//! The strict parser stops at the first fault, so a request with, say, two
//! spaces in its Request-Line or a negative Content-Length would vanish
//! unanswered and its sender would retransmit for 32 s. `Salvage::read`
//! reads the same bytes tolerantly, for the one purpose of answering:
//! the method, and the Via, From, To, Call-ID and CSeq values a response
//! echoes, as bytes. Nothing salvaged is ever processed as a request.
//!
//! It answers only what may be answered: a request line (a method token
//! first, `SIP/x.y` last), not a response and not an ACK (§17.1.1.3: no
//! response to an ACK), with a top Via whose sent-protocol and sent-by read
//! (malformed parameters tolerated: the response goes back to the source
//! address anyway). From, To, Call-ID and CSeq are echoed when present,
//! exactly as `response_to` does for a parsed request that fails
//! `validate`; the Via is what routes and matches a response (§17.1.3,
//! §18.2.2), so without it nothing is sent.
//!
//! ```
//! use voxgate_sip::message::{Limits, Message, ParseError, Salvage};
//!
//! let raw = b"OPTIONS  sip:edge@192.0.2.1 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\nFrom: <sip:a@192.0.2.9>;tag=1\r\n\
//!     To: <sip:edge@192.0.2.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n";
//! let err = Message::parse(raw[..].into(), &Limits::default()).unwrap_err();
//! assert_eq!(err, ParseError::BadStartLine);
//! let refused = Salvage::read(raw).expect("answerable");
//! let wire = refused
//!     .response(err.status_code(), &err.reason_phrase(), Some("t1"), None)
//!     .build();
//! let answer = Message::parse(wire, &Limits::default()).unwrap();
//! assert_eq!((answer.status(), answer.reason()), (Some(400), Some("Malformed Request-Line")));
//! assert_eq!(answer.to_header().unwrap().tag(), Some("t1"));
//! ```

use super::builder::{MessageBuilder, with_top_via};
use super::header::{CommaSplit, HeaderName, is_token_byte};
use super::typed::{NameAddr, Via};
use super::{Method, ParseError};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Range;

/// What a response to a refused request needs, read tolerantly from its
/// bytes. Borrows the bytes; values are ranges into them.
#[derive(Clone, Debug)]
pub struct Salvage<'a> {
    bytes: &'a [u8],
    method: Range<usize>,
    vias: Vec<Range<usize>>,
    from: Option<Range<usize>>,
    to: Option<Range<usize>>,
    call_id: Option<Range<usize>>,
    cseq: Option<Range<usize>>,
}

/// Which value the last header line went to, for continuation lines.
#[derive(Clone, Copy)]
enum Slot {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Other,
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `r` without leading and trailing SP / HTAB.
fn trim(bytes: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && bytes.get(r.start).copied().is_some_and(is_wsp) {
        r.start += 1;
    }
    while r.end > r.start && bytes.get(r.end - 1).copied().is_some_and(is_wsp) {
        r.end -= 1;
    }
    r
}

/// The end of the line at `pos` (before its CRLF or LF) and the start of
/// the next; a last line without a line break ends the input.
fn line_at(bytes: &[u8], pos: usize) -> (usize, usize) {
    let rest = bytes.get(pos..).unwrap_or_default();
    match memchr::memchr(b'\n', rest) {
        Some(i) => {
            let nl = pos + i;
            let end = if nl > pos && bytes[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (end, nl + 1)
        }
        None => (bytes.len(), bytes.len()),
    }
}

fn starts_with_sip_slash(word: &[u8]) -> bool {
    word.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

impl<'a> Salvage<'a> {
    /// Reads `raw` tolerantly; `None` when no response may or can be sent
    /// (see the module docs). Never panics; allocates one small `Vec` for
    /// the Via lines, on this error path only.
    pub fn read(raw: &'a [u8]) -> Option<Salvage<'a>> {
        let skip = raw
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let bytes = raw.get(skip..)?;
        let (line_end, mut pos) = line_at(bytes, 0);
        let method = request_line(bytes, 0..line_end)?;
        let mut s = Salvage {
            bytes,
            method,
            vias: Vec::new(),
            from: None,
            to: None,
            call_id: None,
            cseq: None,
        };
        let mut last = Slot::Other;
        while pos < bytes.len() {
            let (end, next) = line_at(bytes, pos);
            if end == pos {
                break; // the empty line: the body follows
            }
            if is_wsp(bytes[pos]) {
                s.extend(last, end);
            } else {
                last = s.header_line(pos, end);
            }
            pos = next;
        }
        if !s
            .vias
            .first()
            .is_some_and(|v| top_via_readable(&unfold(&bytes[v.clone()])))
        {
            return None;
        }
        Some(s)
    }

    /// The request's method.
    pub fn method(&self) -> Method {
        // request_line checked the method is token characters, so ASCII.
        Method::from_token(std::str::from_utf8(&self.bytes[self.method.clone()]).unwrap_or(""))
    }

    /// A response echoing the salvaged values, as `response_to` builds one
    /// for a parsed request: every Via (the top one with `received` /
    /// `rport` for `source`), From, To (with `;tag=to_tag` unless it has a
    /// tag or does not read), Call-ID and CSeq, each as received.
    pub fn response(
        &self,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
        source: Option<SocketAddr>,
    ) -> MessageBuilder {
        let value = |r: &Range<usize>| self.bytes.get(r.clone()).unwrap_or_default();
        let mut b = MessageBuilder::response(status, reason);
        let mut vias = self.vias.iter().map(value);
        if let Some(top) = vias.next() {
            b = with_top_via(b, &unfold(top), source);
        }
        for via in vias {
            b = b.header_bytes(HeaderName::Via, via);
        }
        if let Some(from) = &self.from {
            b = b.header_bytes(HeaderName::From, value(from));
        }
        if let Some(to) = &self.to {
            let to = value(to);
            let has_tag =
                NameAddr::parse_bytes(&unfold(to), false).is_none_or(|t| t.tag().is_some());
            b = match to_tag {
                Some(tag) if !has_tag => {
                    b.header_joined(HeaderName::To, &[to, b";tag=", tag.as_bytes()])
                }
                _ => b.header_bytes(HeaderName::To, to),
            };
        }
        for (name, v) in [
            (HeaderName::CallId, &self.call_id),
            (HeaderName::CSeq, &self.cseq),
        ] {
            if let Some(v) = v {
                b = b.header_bytes(name, value(v));
            }
        }
        b
    }

    /// Files one header line (`pos..end`, not a continuation).
    fn header_line(&mut self, pos: usize, end: usize) -> Slot {
        let line = &self.bytes[pos..end];
        let Some(colon) = memchr::memchr(b':', line) else {
            return Slot::Other;
        };
        let name = trim(self.bytes, pos..pos + colon);
        let name = &self.bytes[name];
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Slot::Other;
        }
        let known = std::str::from_utf8(name)
            .ok()
            .and_then(HeaderName::from_name);
        let value = trim(self.bytes, pos + colon + 1..end);
        // For a single-valued header the first line counts; a second one
        // is the sender's fault, not ours to pick from.
        match known {
            Some(HeaderName::Via) => {
                self.vias.push(value);
                Slot::Via
            }
            Some(HeaderName::From) if self.from.is_none() => {
                self.from = Some(value);
                Slot::From
            }
            Some(HeaderName::To) if self.to.is_none() => {
                self.to = Some(value);
                Slot::To
            }
            Some(HeaderName::CallId) if self.call_id.is_none() => {
                self.call_id = Some(value);
                Slot::CallId
            }
            Some(HeaderName::CSeq) if self.cseq.is_none() => {
                self.cseq = Some(value);
                Slot::CSeq
            }
            _ => Slot::Other,
        }
    }

    /// A continuation line ending at `end` extends the value of `slot`
    /// (RFC 3261 §7.3.1); the builder turns the line break into spaces.
    fn extend(&mut self, slot: Slot, end: usize) {
        let target = match slot {
            Slot::Via => self.vias.last_mut(),
            Slot::From => self.from.as_mut(),
            Slot::To => self.to.as_mut(),
            Slot::CallId => self.call_id.as_mut(),
            Slot::CSeq => self.cseq.as_mut(),
            Slot::Other => None,
        };
        if let Some(r) = target {
            r.end = trim(self.bytes, r.start..end).end;
        }
    }
}

/// The method's range if `line` reads as a Request-Line: a token, then at
/// least one word (the Request-URI, spaces inside tolerated), then a
/// `SIP/...` version; `None` for a Status-Line, an ACK or anything else.
fn request_line(bytes: &[u8], line: Range<usize>) -> Option<Range<usize>> {
    let text = bytes.get(line.clone())?;
    let mut words = text.split(|&b| is_wsp(b)).filter(|w| !w.is_empty());
    let method = words.next()?;
    let version = words.next_back()?;
    words.next()?; // a Request-URI between them
    if starts_with_sip_slash(method)
        || !method.iter().all(|&b| is_token_byte(b))
        || !starts_with_sip_slash(version)
        || method == b"ACK"
    {
        return None;
    }
    let start = line.start + (method.as_ptr() as usize - text.as_ptr() as usize);
    Some(start..start + method.len())
}

/// A value with the line breaks of its continuation lines as spaces, as
/// the strict parser's unfolding reads it.
fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect(),
    )
}

/// The top Via value reads enough to answer: its sent-protocol and sent-by
/// parse, even if its parameters do not (RFC 4475 badinv01).
fn top_via_readable(line: &[u8]) -> bool {
    let Some(top) = std::str::from_utf8(line)
        .ok()
        .and_then(|line| CommaSplit::<str>::new(line).next())
    else {
        return false;
    };
    Via::parse(top).is_some()
        || top
            .split_once(';')
            .is_some_and(|(sent, _)| Via::parse(sent).is_some())
}

impl ParseError {
    /// The reason phrase of the response answering this error: names what
    /// is wrong, like the 400s for invalid headers.
    pub fn reason_phrase(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            ParseError::Empty => "Empty message",
            ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. } => "Message Too Large",
            ParseError::BadStartLine => "Malformed Request-Line",
            ParseError::BadMethod => "Malformed method",
            ParseError::BadRequestUri => "Malformed Request-URI",
            ParseError::BadVersion => "Malformed SIP-Version",
            ParseError::UnsupportedVersion => "Version Not Supported",
            ParseError::BadStatusCode => "Malformed status code",
            ParseError::BadHeaderLine { line } => {
                return Cow::Owned(format!("Malformed header line {line}"));
            }
            ParseError::HeadersUnterminated => "Header section not terminated",
            ParseError::BadContentLength => "Malformed Content-Length header",
            ParseError::DuplicateContentLength => "More than one Content-Length header",
            ParseError::BodyTruncated { .. } => "Body shorter than Content-Length",
        })
    }
}
