//! Sans-IO framing of SIP messages on a byte stream (RFC 3261 §18.3).
//!
//! The framer only finds where a message ends: the header block ends at the
//! first CRLFCRLF, and the body is `Content-Length` bytes long (a missing
//! header means 0 on a stream). It knows nothing else about SIP. Between
//! messages it recognises the RFC 5626 §4.4.1 keep-alive: a double CRLF
//! "ping" (to be answered with a single CRLF "pong") and a lone CRLF
//! (a pong, or the stray CRLF RFC 3261 §7.5 tells us to ignore).
//!
//! Bytes are read straight into the framer's buffer ([`StreamFramer::buffer`])
//! and each message is split off it as a [`Bytes`] without copying.

use bytes::{Bytes, BytesMut};

/// One unit the framer found on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete SIP message: header block and body.
    Message(Bytes),
    /// An RFC 5626 CRLFCRLF keep-alive ping; answer with [`PONG`].
    Ping,
}

/// The RFC 5626 keep-alive answer to a [`Frame::Ping`].
pub const PONG: &[u8] = b"\r\n";

/// Why a stream cannot be framed any further; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// No CRLFCRLF within `limit` bytes.
    #[error("header block longer than {limit} bytes")]
    HeaderTooLarge {
        /// The configured message size limit.
        limit: usize,
    },
    /// Header block plus declared body exceed the limit.
    #[error("message of {size} bytes (Content-Length {content_length}) above the limit of {limit}")]
    MessageTooLarge {
        /// Header block length plus Content-Length (saturating).
        size: usize,
        /// The declared body length (saturating).
        content_length: usize,
        /// The configured message size limit.
        limit: usize,
    },
    /// A Content-Length value that is not a decimal number, or two that disagree.
    #[error("invalid Content-Length header")]
    BadContentLength,
}

impl FramingError {
    /// True for the size-limit errors (as opposed to malformed framing).
    pub fn is_oversized(&self) -> bool {
        matches!(
            self,
            FramingError::HeaderTooLarge { .. } | FramingError::MessageTooLarge { .. }
        )
    }
}

/// Bytes to reserve before each read, so small reads do not reallocate.
const READ_RESERVE: usize = 4096;

/// Incremental framer for one connection's receive direction.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limit: usize,
    /// How far the CRLFCRLF search has already looked in `buf`, so that a
    /// header block arriving in many small pieces is scanned once, not once per piece.
    scanned: usize,
    /// Header block length and total message length once the headers are parsed.
    pending: Option<(usize, usize)>,
}

impl StreamFramer {
    /// A framer that refuses messages (header block plus body) above `limit` bytes.
    pub fn new(limit: usize) -> Self {
        StreamFramer {
            buf: BytesMut::new(),
            limit,
            scanned: 0,
            pending: None,
        }
    }

    /// The receive buffer, with room reserved for the next read; read into it
    /// (e.g. `AsyncReadExt::read_buf`), then call [`StreamFramer::poll`].
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.buf.reserve(READ_RESERVE);
        &mut self.buf
    }

    /// Append bytes received (for callers that do not read into [`StreamFramer::buffer`]).
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or an error
    /// after which the stream cannot be framed (close the connection). Nothing
    /// of an oversized message is ever returned.
    pub fn poll(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.pending.is_none() {
            if let Some(frame) = self.skip_keepalive() {
                return Ok(Some(frame));
            }
            if b"\r\n\r\n".starts_with(&self.buf) {
                // Empty, or the start of what may yet become a ping: wait for more.
                return Ok(None);
            }
            let Some(header_len) = self.find_header_end()? else {
                return Ok(None);
            };
            let content_length = content_length(&self.buf[..header_len])?;
            let total = header_len.saturating_add(content_length);
            if total > self.limit {
                return Err(FramingError::MessageTooLarge {
                    size: total,
                    content_length,
                    limit: self.limit,
                });
            }
            self.pending = Some((header_len, total));
        }
        match self.pending {
            Some((_, total)) if self.buf.len() >= total => {
                self.pending = None;
                self.scanned = 0;
                Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
            }
            _ => Ok(None),
        }
    }

    /// Consume leading CRLFs: a CRLFCRLF is a ping; a CRLF followed by
    /// anything but CR is a pong (or stray CRLF) and is dropped.
    fn skip_keepalive(&mut self) -> Option<Frame> {
        while self.buf.starts_with(b"\r\n") {
            if self.buf.starts_with(b"\r\n\r\n") {
                let _ = self.buf.split_to(4);
                self.scanned = 0;
                return Some(Frame::Ping);
            }
            match self.buf.get(2) {
                Some(b'\r') | None => return None, // could still become a ping
                Some(_) => {
                    let _ = self.buf.split_to(2);
                    self.scanned = 0;
                }
            }
        }
        None
    }

    /// Length of the header block including its CRLFCRLF, if complete.
    fn find_header_end(&mut self) -> Result<Option<usize>, FramingError> {
        // Resume 3 bytes back: the terminator may straddle the previous end.
        let from = self.scanned.saturating_sub(3);
        if let Some(pos) = memchr::memmem::find(&self.buf[from..], b"\r\n\r\n") {
            let header_len = from + pos + 4;
            if header_len > self.limit {
                return Err(FramingError::HeaderTooLarge { limit: self.limit });
            }
            return Ok(Some(header_len));
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.limit {
            return Err(FramingError::HeaderTooLarge { limit: self.limit });
        }
        Ok(None)
    }
}

/// The Content-Length of a header block (start line, headers, CRLFCRLF);
/// 0 when absent (RFC 3261 §18.3 requires it on streams; we are lenient).
/// Accepts the compact form `l`, any case, whitespace around the colon and
/// folded values; repeated headers must agree.
pub fn content_length(header_block: &[u8]) -> Result<usize, FramingError> {
    let mut found: Option<usize> = None;
    let mut lines = header_block.split(|&b| b == b'\n').skip(1).peekable(); // skip the start line
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b' ' || line[0] == b'\t' {
            continue; // end of headers, or a continuation of another header
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue; // malformed header line: the parser's business, not framing's
        };
        let name = trim(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let mut value = parse_decimal(trim(&line[colon + 1..]));
        // A folded value ("Content-Length:\r\n 12"): take it from the continuation.
        while let Some(next) = lines.peek() {
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            let next = next.strip_suffix(b"\r").unwrap_or(next);
            let cont = trim(next);
            value = match value {
                Parsed::Empty => parse_decimal(cont),
                other if cont.is_empty() => other,
                _ => Parsed::Invalid,
            };
            lines.next();
        }
        let n = match value {
            Parsed::Number(n) => n,
            Parsed::Empty | Parsed::Invalid => return Err(FramingError::BadContentLength),
        };
        match found {
            Some(prev) if prev != n => return Err(FramingError::BadContentLength),
            _ => found = Some(n),
        }
    }
    Ok(found.unwrap_or(0))
}

enum Parsed {
    Empty,
    Number(usize),
    Invalid,
}

/// Decimal digits only; values too large for usize saturate (they are oversized anyway).
fn parse_decimal(s: &[u8]) -> Parsed {
    if s.is_empty() {
        return Parsed::Empty;
    }
    let mut n: usize = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Parsed::Invalid;
        }
        n = n.saturating_mul(10).saturating_add(usize::from(b - b'0'));
    }
    Parsed::Number(n)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\n\
        Content-Length: 5\r\n\r\nhello";
    const OPTIONS: &[u8] = b"OPTIONS sip:example.com SIP/2.0\r\nCall-ID: x\r\n\r\n";

    fn drain(f: &mut StreamFramer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(frame) = f.poll().unwrap() {
            out.push(frame);
        }
        out
    }

    fn msg(b: &[u8]) -> Frame {
        Frame::Message(Bytes::copy_from_slice(b))
    }

    #[test]
    fn whole_message_with_body() {
        let mut f = StreamFramer::new(4096);
        f.push(INVITE);
        assert_eq!(drain(&mut f), vec![msg(INVITE)]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn every_split_point_gives_the_same_message() {
        for cut in 1..INVITE.len() {
            let mut f = StreamFramer::new(4096);
            f.push(&INVITE[..cut]);
            let first = drain(&mut f);
            assert!(first.is_empty(), "premature frame at cut {cut}");
            f.push(&INVITE[cut..]);
            assert_eq!(drain(&mut f), vec![msg(INVITE)], "cut {cut}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut f = StreamFramer::new(4096);
        let mut frames = Vec::new();
        for b in INVITE.iter().chain(OPTIONS) {
            f.push(&[*b]);
            frames.extend(drain(&mut f));
        }
        assert_eq!(frames, vec![msg(INVITE), msg(OPTIONS)]);
    }

    #[test]
    fn pipelined_messages_in_one_write() {
        let mut f = StreamFramer::new(4096);
        let mut both = INVITE.to_vec();
        both.extend_from_slice(OPTIONS);
        both.extend_from_slice(b"INVITE sip:x SIP/2.0\r\n"); // start of a third
        f.push(&both);
        assert_eq!(drain(&mut f), vec![msg(INVITE), msg(OPTIONS)]);
        assert_eq!(f.buffered(), 22);
    }

    #[test]
    fn missing_content_length_is_zero() {
        let mut f = StreamFramer::new(4096);
        f.push(OPTIONS);
        f.push(b"xyz");
        assert_eq!(drain(&mut f), vec![msg(OPTIONS)]);
        assert_eq!(f.buffered(), 3);
    }

    #[test]
    fn compact_and_spaced_content_length() {
        let cases: &[&[u8]] = &[
            b"M sip:x SIP/2.0\r\nl: 3\r\n\r\nabc",
            b"M sip:x SIP/2.0\r\nL:3\r\n\r\nabc",
            b"M sip:x SIP/2.0\r\nContent-Length : 3\r\n\r\nabc",
            b"M sip:x SIP/2.0\r\ncontent-length\t:\t3 \r\n\r\nabc",
            b"M sip:x SIP/2.0\r\nCONTENT-LENGTH: 3\r\nContent-Length: 3\r\n\r\nabc",
            b"M sip:x SIP/2.0\r\nContent-Length:\r\n  3\r\n\r\nabc",
        ];
        for case in cases {
            let mut f = StreamFramer::new(4096);
            f.push(case);
            f.push(b"N");
            assert_eq!(
                drain(&mut f),
                vec![msg(case)],
                "{}",
                String::from_utf8_lossy(case)
            );
            assert_eq!(f.buffered(), 1);
        }
    }

    #[test]
    fn other_headers_ending_in_l_are_not_content_length() {
        // "Call-ID" and "Allow" must not be mistaken for the compact "l".
        let m: &[u8] = b"M sip:x SIP/2.0\r\nAllow: 7\r\nurl: 9\r\n\r\n";
        let mut f = StreamFramer::new(4096);
        f.push(m);
        assert_eq!(drain(&mut f), vec![msg(m)]);
    }

    #[test]
    fn bad_content_length() {
        for case in [
            &b"M sip:x SIP/2.0\r\nContent-Length: abc\r\n\r\n"[..],
            b"M sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
            b"M sip:x SIP/2.0\r\nContent-Length:\r\n\r\n",
            b"M sip:x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n",
        ] {
            let mut f = StreamFramer::new(4096);
            f.push(case);
            assert_eq!(f.poll(), Err(FramingError::BadContentLength));
        }
    }

    #[test]
    fn oversize_header_block() {
        let mut f = StreamFramer::new(64);
        f.push(b"INVITE sip:x SIP/2.0\r\n");
        assert_eq!(f.poll(), Ok(None));
        f.push(&[b'a'; 50]);
        let err = f.poll().unwrap_err();
        assert_eq!(err, FramingError::HeaderTooLarge { limit: 64 });
        assert!(err.is_oversized());
    }

    #[test]
    fn oversize_header_block_complete_in_one_read() {
        let mut f = StreamFramer::new(30);
        f.push(b"INVITE sip:x SIP/2.0\r\nVia: a-long-value\r\n\r\n");
        assert_eq!(f.poll(), Err(FramingError::HeaderTooLarge { limit: 30 }));
    }

    #[test]
    fn oversize_content_length_delivers_nothing_of_it() {
        let mut f = StreamFramer::new(100);
        f.push(OPTIONS);
        f.push(b"M sip:x SIP/2.0\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert_eq!(f.poll(), Ok(Some(msg(OPTIONS))));
        let err = f.poll().unwrap_err();
        assert!(matches!(
            err,
            FramingError::MessageTooLarge {
                content_length: usize::MAX,
                ..
            }
        ));
        assert!(err.is_oversized());
    }

    #[test]
    fn message_exactly_at_limit_is_accepted() {
        let mut f = StreamFramer::new(INVITE.len());
        f.push(INVITE);
        assert_eq!(drain(&mut f), vec![msg(INVITE)]);
        let mut f = StreamFramer::new(INVITE.len() - 1);
        f.push(INVITE);
        assert!(f.poll().unwrap_err().is_oversized());
    }

    #[test]
    fn crlf_ping_and_pong() {
        let mut f = StreamFramer::new(4096);
        f.push(b"\r\n\r\n");
        assert_eq!(drain(&mut f), vec![Frame::Ping]);
        // A ping split across reads.
        f.push(b"\r\n\r");
        assert_eq!(drain(&mut f), vec![]);
        f.push(b"\n");
        assert_eq!(drain(&mut f), vec![Frame::Ping]);
        // Two pings, then a lone CRLF (pong) before a message.
        f.push(b"\r\n\r\n\r\n\r\n\r\n");
        f.push(OPTIONS);
        assert_eq!(drain(&mut f), vec![Frame::Ping, Frame::Ping, msg(OPTIONS)]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn lone_crlf_waits_for_the_next_byte() {
        let mut f = StreamFramer::new(4096);
        f.push(b"\r\n");
        assert_eq!(drain(&mut f), vec![]);
        assert_eq!(f.buffered(), 2);
        f.push(OPTIONS);
        assert_eq!(drain(&mut f), vec![msg(OPTIONS)]);
    }

    #[test]
    fn stray_cr_does_not_stall_the_size_limit() {
        let mut f = StreamFramer::new(16);
        f.push(b"\rXXXXXXXXXXXXXXXXXXXXXXXX");
        assert!(f.poll().unwrap_err().is_oversized());
    }

    #[test]
    fn read_into_buffer() {
        let mut f = StreamFramer::new(4096);
        f.buffer().extend_from_slice(OPTIONS);
        assert!(f.buffer().capacity() >= OPTIONS.len() + READ_RESERVE);
        assert_eq!(drain(&mut f), vec![msg(OPTIONS)]);
    }
}
