//! The SIP message model (RFC 3261 §7, §20, §25): the received bytes plus an
//! index of the start line and of every header's name and value range.
//!
//! CONTRACT SKELETON — bodies are filled in by the message-model work. The
//! public signatures here are what the transaction layer, the transports and
//! the edge are written against; change them only together with their users.
//!
//! * `Message::parse` frames and indexes: start line, header lines (folded
//!   lines joined, compact names normalised, `Name :` with whitespace before
//!   the colon accepted), body by Content-Length. It never panics and enforces
//!   `Limits`.
//! * `Message::validate` checks the presence and syntax of the mandatory
//!   headers (Via, From, To, Call-ID, CSeq, Max-Forwards for requests) and
//!   returns which one is wrong, so the edge can answer 400 naming it.
//! * Typed accessors parse on demand and borrow from the message.
//! * Unknown headers are kept byte-exact for pass-through.

mod builder;
mod header;
mod parse;
mod typed;

pub use builder::{MessageBuilder, ack_for_non_2xx, cancel_for, response_to};
pub use header::HeaderName;
pub use parse::{Limits, ParseError};
pub use typed::{CSeq, NameAddr, Params, SessionExpires, Refresher, Via};

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
}

/// A parsed SIP message: the bytes as received plus an index into them.
#[derive(Clone, Debug)]
pub struct Message {
    // Fields are private to the message model; see parse.rs.
    pub(crate) raw: Bytes,
    pub(crate) start: StartLine,
    pub(crate) headers: Vec<header::HeaderEntry>,
    pub(crate) body: Range<usize>,
    /// Values of folded header lines, joined; referenced by `HeaderEntry`.
    pub(crate) unfolded: Option<Box<str>>,
}
