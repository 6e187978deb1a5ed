//! Reliable provisional responses (RFC 3262): the RSeq counter of a UAS,
//! RSeq/RAck values, and the `100rel` option tag.

use crate::message::{CSeq, HeaderName, Invalid, Message, Method};
use rand::Rng;
use std::fmt;

/// The option tag of RFC 3262.
pub const OPTION_TAG: &str = "100rel";

/// Largest first RSeq (RFC 3262 §3: between 1 and 2**31 - 1).
const MAX_INITIAL: u32 = (1 << 31) - 1;

/// True when `tags` (Supported or Require values) contain `100rel`.
fn has_100rel<'a>(mut tags: impl Iterator<Item = &'a str>) -> bool {
    tags.any(|t| t.eq_ignore_ascii_case(OPTION_TAG))
}

/// True when the message lists `100rel` in Supported or Require.
pub fn supports_100rel(msg: &Message) -> bool {
    has_100rel(msg.supported()) || has_100rel(msg.require())
}

/// True when the message lists `100rel` in Require.
pub fn requires_100rel(msg: &Message) -> bool {
    has_100rel(msg.require())
}

/// The RSeq numbers a UAS gives its reliable provisional responses to one
/// request: a random start in 1..=2^31-1, then one higher each time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RSeq {
    next: u32,
}

impl RSeq {
    /// A counter with a random start (RFC 3262 §3).
    pub fn random() -> RSeq {
        RSeq {
            next: rand::rng().random_range(1..=MAX_INITIAL),
        }
    }

    /// A counter whose next value is `first` (tests, restored state).
    pub fn starting_at(first: u32) -> RSeq {
        RSeq { next: first }
    }

    /// The value for the next reliable provisional, advancing the counter.
    pub fn next_value(&mut self) -> u32 {
        let v = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        v
    }

    /// The value the next call to `next_value` returns.
    pub fn peek(&self) -> u32 {
        self.next
    }
}

/// Parses an RSeq value (`1*DIGIT`, RFC 3262 §7.1).
pub fn parse_rseq(value: &str) -> Option<u32> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The RSeq of a response, if present.
pub fn rseq_of(msg: &Message) -> Result<Option<u32>, Invalid> {
    match msg.header(HeaderName::RSeq) {
        None => Ok(None),
        Some(v) => parse_rseq(v)
            .map(Some)
            .ok_or(Invalid::Malformed(HeaderName::RSeq)),
    }
}

/// RAck (RFC 3262 §7.2): `response-num CSeq-num Method`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RAck {
    /// RSeq of the acknowledged provisional.
    pub rseq: u32,
    /// CSeq number of the request it answered.
    pub cseq: u32,
    /// Method of that request.
    pub method: Method,
}

impl RAck {
    /// Parses an RAck value.
    pub fn parse(value: &str) -> Option<RAck> {
        let mut parts = value.split_ascii_whitespace();
        let rseq = parse_rseq(parts.next()?)?;
        let rest: String = {
            let cseq = parts.next()?;
            let method = parts.next()?;
            if parts.next().is_some() {
                return None;
            }
            format!("{cseq} {method}")
        };
        let CSeq { seq, method } = CSeq::parse(&rest)?;
        Some(RAck {
            rseq,
            cseq: seq,
            method,
        })
    }

    /// The RAck of a received PRACK.
    pub fn of(prack: &Message) -> Result<RAck, Invalid> {
        let v = prack
            .header(HeaderName::RAck)
            .ok_or(Invalid::Missing(HeaderName::RAck))?;
        RAck::parse(v).ok_or(Invalid::Malformed(HeaderName::RAck))
    }

    /// The RAck that acknowledges a received reliable provisional: its
    /// RSeq, and its CSeq number and method (RFC 3262 §7.2).
    pub fn for_response(response: &Message) -> Result<RAck, Invalid> {
        let rseq = rseq_of(response)?.ok_or(Invalid::Missing(HeaderName::RSeq))?;
        let CSeq { seq, method } = response.cseq()?;
        Ok(RAck {
            rseq,
            cseq: seq,
            method,
        })
    }

    /// True when this RAck acknowledges the provisional sent with `rseq`
    /// in answer to the request with `cseq` (RFC 3262 §3: else 481).
    pub fn matches(&self, rseq: u32, cseq: &CSeq) -> bool {
        self.rseq == rseq && self.cseq == cseq.seq && self.method == cseq.method
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// What a UAC does with a received reliable provisional (RFC 3262 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReliableVerdict {
    /// The first, or one higher than the last: process it and send PRACK.
    New,
    /// The same RSeq again: a retransmission; it needs no new processing
    /// (the PRACK already sent answers it).
    Retransmission,
    /// Any other RSeq: neither PRACK nor process it.
    OutOfOrder,
}

/// The RSeq a UAC last accepted from one early dialog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceivedRSeq {
    last: Option<u32>,
}

impl ReceivedRSeq {
    /// Nothing received yet.
    pub fn new() -> ReceivedRSeq {
        ReceivedRSeq::default()
    }

    /// Classifies `rseq` and records it when new.
    pub fn accept(&mut self, rseq: u32) -> ReliableVerdict {
        match self.last {
            Some(last) if rseq == last => ReliableVerdict::Retransmission,
            Some(last) if Some(rseq) != last.checked_add(1) => ReliableVerdict::OutOfOrder,
            _ => {
                self.last = Some(rseq);
                ReliableVerdict::New
            }
        }
    }

    /// The last accepted RSeq.
    pub fn last(&self) -> Option<u32> {
        self.last
    }
}
