//! DTMF in SIP INFO bodies: `application/dtmf-relay` (`Signal=5` and
//! `Duration=160` lines, the duration in milliseconds) and `application/dtmf`
//! (the key alone). Both give a [`Digit`]; neither parser panics or
//! allocates, whatever the body.
//!
//! Lenient where senders differ: keys in any case, spaces around `=`, LF or
//! CRLF, other lines ignored, and `Signal=10`/`11` (and 12–15) taken as the
//! event codes of `*`, `#` and `A`–`D` as some gateways send them.

use std::time::Duration;

use super::Digit;
use crate::MediaError;

/// Longest body looked at; DTMF bodies are a few dozen bytes.
pub const MAX_BODY_LEN: usize = 1024;

/// A digit from a SIP INFO body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoDigit {
    /// The key.
    pub digit: Digit,
    /// How long it was pressed, where the body says.
    pub duration: Option<Duration>,
}

/// What is wrong with a DTMF INFO body.
#[non_exhaustive]
#[derive(thiserror::Error, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoProblem {
    /// Longer than [`MAX_BODY_LEN`].
    #[error("longer than {MAX_BODY_LEN} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("not text")]
    NotText,
    /// No `Signal=` line (dtmf-relay) or nothing (dtmf).
    #[error("no signal")]
    NoSignal,
    /// The signal is not a DTMF key.
    #[error("signal is not a DTMF key")]
    UnknownSignal,
    /// `Duration=` is not a number of milliseconds.
    #[error("duration is not a number")]
    BadDuration,
    /// The content type is neither DTMF type.
    #[error("not a DTMF content type")]
    NotDtmf,
}

fn problem(problem: InfoProblem) -> MediaError {
    MediaError::DtmfInfoBody { problem }
}

/// Parses a body by its `Content-Type` (parameters after `;` ignored).
pub fn parse(content_type: &str, body: &[u8]) -> Result<InfoDigit, MediaError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/dtmf-relay") {
        parse_dtmf_relay(body)
    } else if mime.eq_ignore_ascii_case("application/dtmf") {
        parse_dtmf(body).map(|digit| InfoDigit {
            digit,
            duration: None,
        })
    } else {
        Err(problem(InfoProblem::NotDtmf))
    }
}

fn text(body: &[u8]) -> Result<&str, MediaError> {
    if body.len() > MAX_BODY_LEN {
        return Err(problem(InfoProblem::TooLong));
    }
    std::str::from_utf8(body).map_err(|_| problem(InfoProblem::NotText))
}

/// A signal value: one key character, or an event code 0–15.
fn signal(value: &str) -> Result<Digit, MediaError> {
    let mut chars = value.chars();
    let digit = match (chars.next(), chars.next()) {
        (Some(c), None) => Digit::from_char(c),
        (Some(_), Some(_)) => value.parse::<u8>().ok().and_then(Digit::from_event_code),
        (None, _) => return Err(problem(InfoProblem::NoSignal)),
    };
    digit.ok_or(problem(InfoProblem::UnknownSignal))
}

/// Parses an `application/dtmf-relay` body.
pub fn parse_dtmf_relay(body: &[u8]) -> Result<InfoDigit, MediaError> {
    let mut digit = None;
    let mut duration = None;
    for line in text(body)?.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            digit = Some(signal(value)?);
        } else if key.eq_ignore_ascii_case("duration") {
            let ms: u32 = value
                .parse()
                .map_err(|_| problem(InfoProblem::BadDuration))?;
            duration = Some(Duration::from_millis(u64::from(ms)));
        }
    }
    let digit = digit.ok_or(problem(InfoProblem::NoSignal))?;
    Ok(InfoDigit { digit, duration })
}

/// Parses an `application/dtmf` body: the key alone.
pub fn parse_dtmf(body: &[u8]) -> Result<Digit, MediaError> {
    signal(text(body)?.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn dtmf_relay_bodies() {
        let d = parse("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(
            d,
            InfoDigit {
                digit: Digit::D5,
                duration: Some(Duration::from_millis(160))
            }
        );
        let d = parse(
            "Application/DTMF-Relay; charset=x",
            b"signal = #\nduration= 250",
        )
        .unwrap();
        assert_eq!(
            d,
            InfoDigit {
                digit: Digit::Pound,
                duration: Some(Duration::from_millis(250))
            }
        );
        assert_eq!(parse_dtmf_relay(b"Signal=*").unwrap().digit, Digit::Star);
        assert_eq!(
            parse_dtmf_relay(b"Signal=11\r\n").unwrap().digit,
            Digit::Pound
        );
        assert_eq!(parse_dtmf_relay(b"Signal=d").unwrap().digit, Digit::D);
        assert_eq!(
            parse_dtmf_relay(b"Signal=1\r\nDuration=100\r\n")
                .unwrap()
                .digit,
            Digit::D1
        );
    }

    #[test]
    fn dtmf_bodies() {
        assert_eq!(parse("application/dtmf", b"7").unwrap().digit, Digit::D7);
        assert_eq!(
            parse("application/dtmf", b" *\r\n").unwrap().digit,
            Digit::Star
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let e = |p| Err(MediaError::DtmfInfoBody { problem: p });
        assert_eq!(parse("text/plain", b"Signal=1"), e(InfoProblem::NotDtmf));
        assert_eq!(parse_dtmf_relay(b"Duration=160"), e(InfoProblem::NoSignal));
        assert_eq!(
            parse_dtmf_relay(b"Signal=16"),
            e(InfoProblem::UnknownSignal)
        );
        assert_eq!(parse_dtmf_relay(b"Signal=E"), e(InfoProblem::UnknownSignal));
        assert_eq!(
            parse_dtmf_relay(b"Signal=1\nDuration=-5"),
            e(InfoProblem::BadDuration)
        );
        assert_eq!(parse_dtmf_relay(b"Signal=\xff"), e(InfoProblem::NotText));
        assert_eq!(
            parse_dtmf_relay(&[b'a'; MAX_BODY_LEN + 1]),
            e(InfoProblem::TooLong)
        );
        assert_eq!(
            parse_dtmf(b""),
            Err(MediaError::DtmfInfoBody {
                problem: InfoProblem::NoSignal
            })
        );
        assert_eq!(
            parse_dtmf(b"12345"),
            Err(MediaError::DtmfInfoBody {
                problem: InfoProblem::UnknownSignal
            })
        );
    }

    /// Seeded property test (the fuzz target's property, in CI): arbitrary
    /// bytes never panic, and a printed body parses back.
    #[test]
    fn arbitrary_bodies_never_panic_and_printed_ones_parse_back() {
        let mut rng = StdRng::seed_from_u64(2976);
        let alphabet = b"Signal=Duration0123456789*#ABCD\r\n =;\xff";
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let body: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = parse("application/dtmf-relay", &body);
            let _ = parse("application/dtmf", &body);
        }
        for d in Digit::ALL {
            let ms = rng.random_range(0..10_000u32);
            let body = format!("Signal={d}\r\nDuration={ms}\r\n");
            assert_eq!(
                parse_dtmf_relay(body.as_bytes()),
                Ok(InfoDigit {
                    digit: d,
                    duration: Some(Duration::from_millis(u64::from(ms)))
                })
            );
            assert_eq!(parse_dtmf(d.to_string().as_bytes()), Ok(d));
        }
    }
}
