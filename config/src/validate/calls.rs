//! `[calls]` (timers and limits of the call path), `[cdr]` (the call record file) and
//! `[hep]` (the capture export).

use std::io;
use std::time::Duration;

use super::Validator;
use crate::error::{ConfigErrorKind, Relation};
use crate::model::{Calls, Cdr, Hep};
use crate::raw::{RawCalls, RawCdr, RawHep, S};
use crate::schema;

impl Validator<'_> {
    pub(super) fn calls(&mut self, raw: Option<&S<RawCalls>>) -> Calls {
        let defaults = Calls::default();
        let Some(raw) = raw.map(S::get_ref) else {
            return defaults;
        };
        let media_timeout = self.zero_or(
            raw.media_timeout_s.as_ref(),
            "calls.media_timeout_s",
            (5, 86_400),
            60,
        );
        let ring_timeout = self.int_or(
            raw.ring_timeout_s.as_ref(),
            "calls.ring_timeout_s",
            (1, 3600),
            60,
        );
        let trying_timeout = self.zero_or(
            raw.trying_timeout_ms.as_ref(),
            "calls.trying_timeout_ms",
            (200, 32_000),
            4000,
        );
        let min_se = self.int_or(raw.min_se_s.as_ref(), "calls.min_se_s", (90, 86_400), 90);
        // The default interval must respect a Min-SE raised above it.
        let default_expires = min_se.max(1800);
        let session_expires = match raw.session_expires_s.as_ref() {
            None => default_expires,
            Some(v) => {
                let key = "calls.session_expires_s";
                let n = *v.get_ref();
                if n == 0 {
                    0
                } else if !(90..=86_400).contains(&n) {
                    self.bad_value(v.span(), key, schema::describe(key));
                    default_expires
                } else if n < min_se {
                    // RFC 4028 §5: the interval may never be below Min-SE.
                    let kind = ConfigErrorKind::Order {
                        found: n,
                        relation: Relation::AtLeast,
                        other_key: "calls.min_se_s".to_owned(),
                        other_value: min_se,
                    };
                    self.push(v.span(), key, kind);
                    default_expires
                } else {
                    n
                }
            }
        };
        let max_forwards = self.int_or(
            raw.max_forwards.as_ref(),
            "calls.max_forwards",
            (1, 255),
            70,
        );
        let drain_timeout = self.int_or(
            raw.drain_timeout_s.as_ref(),
            "calls.drain_timeout_s",
            (1, 86_400),
            300,
        );
        Calls {
            drain_timeout: secs(drain_timeout),
            media_timeout: secs_or_off(media_timeout),
            ring_timeout: secs(ring_timeout),
            trying_timeout: (trying_timeout > 0).then(|| super::millis(trying_timeout)),
            session_expires: secs_or_off(session_expires),
            min_se: secs(min_se),
            max_forwards: u32::try_from(max_forwards).unwrap_or(defaults.max_forwards),
        }
    }

    /// `0` (off) or a number in `min..=max`, or `default` when absent (or wrong: the error
    /// is reported).
    pub(super) fn zero_or(
        &mut self,
        value: Option<&S<i64>>,
        key: &str,
        (min, max): (i64, i64),
        default: i64,
    ) -> i64 {
        let Some(v) = value else {
            return default;
        };
        let n = *v.get_ref();
        if n == 0 || (min..=max).contains(&n) {
            n
        } else {
            self.bad_value(v.span(), key, schema::describe(key));
            default
        }
    }

    pub(super) fn cdr(&mut self, raw: Option<&S<RawCdr>>) -> Option<Cdr> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.get_ref();
        let redact_numbers = raw.redact_numbers.as_ref().is_none_or(|r| *r.get_ref());
        let path = self.require(&raw.path, &span, "cdr.path")?;
        let path = self.output_file(path, "cdr.path")?;
        Some(Cdr {
            path,
            redact_numbers,
        })
    }

    pub(super) fn hep(&mut self, raw: Option<&S<RawHep>>) -> Option<Hep> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.get_ref();
        let address = self.require(&raw.address, &span, "hep.address")?;
        let address = self.socket_addr(address, "hep.address")?;
        let capture_id = self.int_or(
            raw.capture_id.as_ref(),
            "hep.capture_id",
            (0, i64::from(u32::MAX)),
            2001,
        );
        Some(Hep {
            address,
            capture_id: u32::try_from(capture_id).unwrap_or(2001),
        })
    }

    /// A file voxgate will create or append to: resolved against the config file's folder;
    /// its folder must exist now, so that a typo fails the load, not the first call.
    fn output_file(&mut self, value: &S<String>, key: &str) -> Option<std::path::PathBuf> {
        let text = value.get_ref();
        if text.is_empty() || text.ends_with(['/', std::path::MAIN_SEPARATOR]) {
            self.bad_value(value.span(), key, schema::describe(key));
            return None;
        }
        let joined = self.base_dir.join(text);
        let path = std::path::absolute(&joined).unwrap_or(joined);
        if path.is_dir() {
            let kind = ConfigErrorKind::NotAFile { path };
            self.push(value.span(), key, kind);
            return None;
        }
        let folder = path.parent().map(std::path::Path::to_path_buf);
        let folder_ok = match &folder {
            Some(f) => std::fs::metadata(f).and_then(|m| {
                if m.is_dir() {
                    Ok(())
                } else {
                    Err(io::Error::from(io::ErrorKind::NotADirectory))
                }
            }),
            None => Ok(()),
        };
        match (folder_ok, folder) {
            (Err(e), Some(folder)) => {
                let kind = ConfigErrorKind::NoFolder {
                    folder,
                    reason: e.kind(),
                };
                self.push(value.span(), key, kind);
                None
            }
            _ => Some(path),
        }
    }
}

/// Seconds from an already range-checked (non-negative) integer.
fn secs(s: i64) -> Duration {
    Duration::from_secs(s.unsigned_abs())
}

/// `None` for 0 (off).
fn secs_or_off(s: i64) -> Option<Duration> {
    (s > 0).then(|| secs(s))
}
