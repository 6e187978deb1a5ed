//! The SIP message model (RFC 3261 §7, §20, §25): the received bytes plus an
//! index of the start line and of every header's name and value range.
//!
//! * `Message::parse` frames and indexes: start line, header lines (folded
//!   lines joined, compact names normalised, `Name :` with whitespace before
//!   the colon accepted), body by Content-Length. It never panics and enforces
//!   `Limits`.
//! * `Message::validate` checks the presence and syntax of the mandatory
//!   headers (Via, From, To, Call-ID, CSeq, Max-Forwards for requests) and
//!   returns which one is wrong, so the edge can answer 400 naming it.
//! * `Salvage::read` reads what either refused tolerantly, only to answer
//!   it (400 naming the fault, 505 for another SIP version), when it is a
//!   request other than ACK with a readable top Via.
//! * Header values are bytes: a value that is not UTF-8 (Latin-1 display
//!   names, Subjects) costs only what reads it as text, not the message.
//! * Typed accessors parse on demand and borrow from the message.
//! * Unknown headers are kept byte-exact for pass-through.
//! * `MessageBuilder` and `response_to` / `ack_for_non_2xx` / `cancel_for`
//!   write new messages.
//!
//! Why not `rsip`: rsip 0.4.0 (April 2022, the latest release) fails RFC 4475
//! §3.1.1.1 (wsinv), rejects `Via :` with whitespace before the colon, leaves
//! compact-form headers untyped, and ignores Content-Length when framing a
//! datagram. An edge facing carriers must accept the former and enforce the
//! latter, and we want a zero-copy index rather than owned header structs, so
//! the model is our own and we do not depend on rsip.
//!
//! ```
//! use bytes::Bytes;
//! use voxgate_sip::message::{HeaderName, Limits, Message};
//!
//! let raw = Bytes::from_static(
//!     b"OPTIONS sip:edge.example.net SIP/2.0\r\n\
//!       v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!       Max-Forwards: 70\r\nf: <sip:a@example.com>;tag=1\r\n\
//!       t: <sip:edge.example.net>\r\ni: abc@192.0.2.1\r\nCSeq: 1 OPTIONS\r\n\
//!       l: 0\r\n\r\n",
//! );
//! let msg = Message::parse(raw, &Limits::default())?;
//! msg.validate()?;
//! assert_eq!(msg.call_id()?, "abc@192.0.2.1");
//! assert_eq!(msg.top_via()?.branch(), Some("z9hG4bK776"));
//! assert_eq!(msg.header(HeaderName::ContentLength), Some("0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod access;
mod builder;
mod header;
mod parse;
mod salvage;
mod typed;
mod validate;

pub use builder::{MessageBuilder, ack_for_non_2xx, cancel_for, response_to};
pub use header::{HeaderName, HeaderRef};
pub use parse::{Limits, ParseError};
pub use salvage::Salvage;
pub use typed::{CSeq, NameAddr, Params, Refresher, SessionExpires, Via};

use bytes::Bytes;
use std::fmt;
use std::ops::Range;

/// A SIP method (RFC 3261 §7.1 and the extension RFCs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// PRACK (RFC 3262)
    Prack,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// INFO (RFC 6086)
    Info,
    /// REFER (RFC 3515)
    Refer,
    /// MESSAGE (RFC 3428)
    Message,
    /// UPDATE (RFC 3311)
    Update,
    /// Any other token; kept as received (methods are case-sensitive).
    Other(Box<str>),
}

impl Method {
    /// Maps a token to a method; case-sensitive per RFC 3261 §7.1.
    pub fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            other => Method::Other(other.into()),
        }
    }

    /// The method's token as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`
    Request {
        /// The method.
        method: Method,
        /// Byte range of the Request-URI in the raw message.
        uri: Range<usize>,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`
    Response {
        /// The status code, 100..=699.
        status: u16,
        /// Byte range of the reason phrase in the raw message.
        reason: Range<usize>,
    },
}

/// Which mandatory header is missing or malformed, for a 400 reason phrase.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A mandatory header is absent.
    #[error("Missing {0} header")]
    Missing(HeaderName),
    /// A header is present but its value does not parse.
    #[error("Malformed {0} header")]
    Malformed(HeaderName),
    /// CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match request method")]
    CSeqMethodMismatch,
    /// A request was needed (e.g. to build an ACK or CANCEL) but a response
    /// was given.
    #[error("Not a request")]
    NotRequest,
}

/// A parsed SIP message: the bytes as received plus an index into them.
///
/// Its `Debug` shows the start line's kind and the sizes, never the bytes:
/// they hold callers' numbers and, in SDP, SRTP keys.
#[derive(Clone)]
pub struct Message {
    // Fields are private to the message model; see parse.rs.
    pub(crate) raw: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: Vec<header::HeaderEntry>,
    pub(crate) body: Range<usize>,
    /// Values of folded header lines, joined; referenced by `HeaderEntry`.
    pub(crate) unfolded: Option<Box<[u8]>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Message");
        match &self.start {
            StartLine::Request { method, .. } => d.field("method", method),
            StartLine::Response { status, .. } => d.field("status", status),
        };
        d.field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
