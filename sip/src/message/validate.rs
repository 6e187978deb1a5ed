//! Semantic checks beyond framing (RFC 3261 §8.1.1, §8.2.2; RFC 4475 §3.1.2,
//! §3.3): the mandatory headers are present once and parse, CSeq names the
//! request method, and headers we check when present (Contact, Route,
//! Record-Route, Date, Session-Expires) are well-formed. Bytes that are not
//! UTF-8 make a checked header malformed, except in a name-addr's display
//! name (From, To, Contact, Route, Record-Route), where they are tolerated.

use super::header::HeaderName;
use super::{Invalid, Message};

/// Headers that must appear exactly once (RFC 3261 §20: not list-valued).
const SINGLE: [HeaderName; 4] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

impl Message {
    /// Presence and syntax of Via, From, To, Call-ID, CSeq (and
    /// Max-Forwards, 0..=255, for requests); CSeq method == request method.
    /// Says which header is wrong, for a 400 reason phrase.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut vias = 0;
        for via in self.vias() {
            via?;
            vias += 1;
        }
        if vias == 0 {
            return Err(if self.header_bytes(HeaderName::Via).is_some() {
                Invalid::Malformed(HeaderName::Via)
            } else {
                Invalid::Missing(HeaderName::Via)
            });
        }
        for name in SINGLE {
            if self.header_lines_bytes(name).nth(1).is_some() {
                return Err(Invalid::Malformed(name));
            }
        }
        self.from_header()?;
        self.to_header()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(method) = self.method() {
            if cseq.method != *method {
                return Err(Invalid::CSeqMethodMismatch);
            }
            if self
                .header_lines_bytes(HeaderName::MaxForwards)
                .nth(1)
                .is_some()
            {
                return Err(Invalid::Malformed(HeaderName::MaxForwards));
            }
            match self.max_forwards()? {
                None => return Err(Invalid::Missing(HeaderName::MaxForwards)),
                Some(n) if n > 255 => return Err(Invalid::Malformed(HeaderName::MaxForwards)),
                Some(_) => {}
            }
        }
        for c in self.contacts() {
            c?;
        }
        for r in self.routes().chain(self.record_routes()) {
            r?;
        }
        self.session_expires()?;
        if let Some(date) = self.header_text(HeaderName::Date)?
            && !is_rfc1123_gmt(date)
        {
            return Err(Invalid::Malformed(HeaderName::Date));
        }
        Ok(())
    }
}

/// `Sat, 13 Nov 2010 23:29:00 GMT` (RFC 3261 §20.17: rfc1123-date, GMT only).
fn is_rfc1123_gmt(v: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() == 29
        && DAYS.iter().any(|d| v.get(0..3) == Some(d))
        && v.get(3..5) == Some(", ")
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.iter().any(|m| v.get(8..11) == Some(m))
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && v.get(25..29) == Some(" GMT")
}

#[cfg(test)]
mod tests {
    use super::is_rfc1123_gmt;

    #[test]
    fn dates() {
        assert!(is_rfc1123_gmt("Sat, 13 Nov 2010 23:29:00 GMT"));
        assert!(!is_rfc1123_gmt("Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_rfc1123_gmt("Sat, 13 Nov 2010 23:29:00 GMT "));
        assert!(!is_rfc1123_gmt("Xyz, 13 Nov 2010 23:29:00 GMT"));
        assert!(!is_rfc1123_gmt("Sat, 13 Nov 2010 23:29:0é GMT"));
        assert!(!is_rfc1123_gmt(""));
    }
}
