//! Session timers (RFC 4028): negotiation as UAS (§9) and UAC (§7), the
//! 422 retry, and the refresh / expiry instants of a running session (§10).
//!
//! Every refresh is a negotiation of its own: a re-INVITE or UPDATE we
//! receive goes through [`SessionTimerConfig::negotiate_uas`] again, one we
//! send carries [`SessionTimer::refresh_offer`] and its 2xx goes through
//! [`UacOffer::negotiate`]. Roles (UAC/UAS) are those of that transaction.

use crate::message::{
    HeaderName, Invalid, Message, MessageBuilder, Refresher, SessionExpires, response_to,
};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The option tag of RFC 4028; put it in Supported of every request and
/// response of a leg that uses session timers (§7.1).
pub const OPTION_TAG: &str = "timer";

/// The smallest Min-SE anyone may use (RFC 4028 §4: 90 s).
pub const MIN_SE_FLOOR: u32 = 90;

/// Our session-timer policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The session interval we ask for (default 1800 s).
    pub session_expires: Duration,
    /// The smallest interval we accept (default 90 s; never below 90).
    pub min_se: Duration,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            session_expires: Duration::from_secs(1800),
            min_se: Duration::from_secs(u64::from(MIN_SE_FLOOR)),
        }
    }
}

/// Our role in the transaction that negotiated the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We sent the (re-)INVITE or UPDATE.
    Uac,
    /// We received it.
    Uas,
}

/// Why a session-timer negotiation failed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionTimerError {
    /// The requested interval is below our minimum: answer
    /// `422 Session Interval Too Small` with `Min-SE: min_se` (§9).
    #[error("Session Interval Too Small")]
    TooSmall {
        /// Our Min-SE, in seconds, for the 422.
        min_se: u32,
    },
    /// Session-Expires or Min-SE does not parse (answer 400).
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn has_timer<'a>(mut tags: impl Iterator<Item = &'a str>) -> bool {
    tags.any(|t| t.eq_ignore_ascii_case(OPTION_TAG))
}

/// True when the message lists `timer` in Supported or Require.
pub fn supports_timer(msg: &Message) -> bool {
    has_timer(msg.supported()) || has_timer(msg.require())
}

/// Formats a Session-Expires value: `1800` or `1800;refresher=uac`.
pub fn format_session_expires(delta: u32, refresher: Option<Refresher>) -> String {
    let mut s = String::with_capacity(24);
    let _ = write!(s, "{delta}");
    match refresher {
        Some(Refresher::Uac) => s.push_str(";refresher=uac"),
        Some(Refresher::Uas) => s.push_str(";refresher=uas"),
        None => {}
    }
    s
}

/// Parses a Min-SE value: `delta-seconds *(;generic-param)` (§5).
pub fn parse_min_se(value: &str) -> Option<u32> {
    let delta = value.split(';').next()?.trim();
    if delta.is_empty() || !delta.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    delta.parse().ok()
}

/// The Min-SE of a message, if present.
pub fn min_se_of(msg: &Message) -> Result<Option<u32>, Invalid> {
    match msg.header(HeaderName::MinSe) {
        None => Ok(None),
        Some(v) => parse_min_se(v)
            .map(Some)
            .ok_or(Invalid::Malformed(HeaderName::MinSe)),
    }
}

/// `422 Session Interval Too Small` with our Min-SE (§6, §9), for a
/// [`SessionTimerError::TooSmall`]; the caller adds its usual headers.
pub fn too_small_response(
    request: &Message,
    min_se: u32,
    to_tag: Option<&str>,
    source: Option<SocketAddr>,
) -> MessageBuilder {
    response_to(request, 422, "Session Interval Too Small", to_tag, source)
        .header(HeaderName::MinSe, &min_se.to_string())
}

/// The outcome of a negotiation: what the 2xx says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The session interval.
    pub interval: Duration,
    /// Who refreshes.
    pub refresher: Refresher,
    /// UAS: put `Require: timer` in the 2xx (the UAC supports timer).
    pub require_timer: bool,
}

impl Negotiated {
    /// The Session-Expires value for the 2xx, with the refresher.
    pub fn session_expires_value(&self) -> String {
        format_session_expires(secs(self.interval), Some(self.refresher))
    }

    /// UAS: adds Session-Expires and, when `require_timer`, `Require: timer`
    /// to our 2xx.
    pub fn add_headers(&self, b: MessageBuilder) -> MessageBuilder {
        let b = b.header(HeaderName::SessionExpires, &self.session_expires_value());
        if self.require_timer {
            b.header(HeaderName::Require, OPTION_TAG)
        } else {
            b
        }
    }

    /// True when we refresh, given our role in the negotiating transaction.
    pub fn we_refresh(&self, role: Role) -> bool {
        matches!(
            (role, self.refresher),
            (Role::Uac, Refresher::Uac) | (Role::Uas, Refresher::Uas)
        )
    }

    /// The running timer, started (or restarted) at `now`.
    pub fn timer(&self, role: Role, now: Instant) -> SessionTimer {
        SessionTimer::new(self.interval, self.we_refresh(role), now)
    }
}

impl SessionTimerConfig {
    fn our_min_se(&self) -> u32 {
        secs(self.min_se).max(MIN_SE_FLOOR)
    }

    /// UAS (§9): from a received INVITE or UPDATE.
    ///
    /// * With Session-Expires: below our Min-SE → `TooSmall` (422) when the
    ///   UAC supports timer; when it does not (a proxy asked), a 422 would
    ///   only fail the call, so the interval is raised to our Min-SE
    ///   (erratum 1687, as §8.1 has proxies do). Otherwise the interval is
    ///   the requested one, reduced to our preference but never below the
    ///   request's Min-SE (nor 90 s), and never increased.
    /// * Without: we add one, our preference raised to the request's Min-SE.
    /// * Refresher: the UAC's choice when it supports timer and named one;
    ///   `uas` (we) when it supports timer and did not — the table of §9
    ///   leaves that choice to the UAS and an SBC wants to control it; `uas`
    ///   when it does not support timer (§9: MUST).
    /// * `Require: timer` in the 2xx whenever the UAC supports timer: MUST
    ///   for refresher=uac, SHOULD for uas; never when it does not.
    pub fn negotiate_uas(&self, request: &Message) -> Result<Negotiated, SessionTimerError> {
        let uac_supports = supports_timer(request);
        let floor = min_se_of(request)?.unwrap_or(0).max(MIN_SE_FLOOR);
        let ours = secs(self.session_expires).max(self.our_min_se());
        let (interval, refresher) = match request.session_expires()? {
            Some(SessionExpires { delta, refresher }) => {
                let interval = if delta >= self.our_min_se() {
                    delta.min(ours.max(floor))
                } else if uac_supports {
                    return Err(SessionTimerError::TooSmall {
                        min_se: self.our_min_se(),
                    });
                } else {
                    // A proxy asked for it and the UAC could not retry after
                    // a 422: raise it to our minimum, as a proxy would
                    // (§8.1; RFC 4028 erratum 1687).
                    self.our_min_se()
                };
                let refresher = match (uac_supports, refresher) {
                    (true, Some(r)) => r,
                    _ => Refresher::Uas,
                };
                (interval, refresher)
            }
            None => (ours.max(floor), Refresher::Uas),
        };
        Ok(Negotiated {
            interval: Duration::from_secs(u64::from(interval)),
            refresher,
            require_timer: uac_supports,
        })
    }

    /// UAC (§7.1): what to put in our INVITE. The refresher is left to the
    /// UAS; `timer` must also be in our Supported ([`OPTION_TAG`]).
    pub fn uac_offer(&self) -> UacOffer {
        UacOffer {
            session_expires: secs(self.session_expires).max(self.our_min_se()),
            min_se: self.our_min_se(),
            refresher: None,
        }
    }
}

/// The Session-Expires and Min-SE of a request we send (§7.1, §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UacOffer {
    /// Requested interval, seconds.
    pub session_expires: u32,
    /// Our minimum, seconds.
    pub min_se: u32,
    /// The refresher we ask for, if any.
    pub refresher: Option<Refresher>,
}

impl UacOffer {
    /// Adds `Session-Expires` and `Min-SE` to the request.
    pub fn add_headers(&self, b: MessageBuilder) -> MessageBuilder {
        b.header(
            HeaderName::SessionExpires,
            &format_session_expires(self.session_expires, self.refresher),
        )
        .header(HeaderName::MinSe, &self.min_se.to_string())
    }

    /// After a 422 (§7.3): the retry asks for at least the 422's Min-SE
    /// (and carries it as our Min-SE). `Err` when the 422 has no valid Min-SE.
    pub fn on_422(&mut self, response: &Message) -> Result<(), SessionTimerError> {
        let min = min_se_of(response)?.ok_or(Invalid::Missing(HeaderName::MinSe))?;
        self.min_se = self.min_se.max(min);
        self.session_expires = self.session_expires.max(self.min_se);
        Ok(())
    }

    /// UAC (§7.2): from the 2xx. With Session-Expires: its interval (raised
    /// to 90 s if a broken UAS gave less) and refresher (`uac` when absent:
    /// refreshing is always safe). Without: the UAS does not do timers, so
    /// we refresh at the interval we asked for (§7.2).
    pub fn negotiate(&self, response: &Message) -> Result<Negotiated, SessionTimerError> {
        let (delta, refresher) = match response.session_expires()? {
            Some(SessionExpires { delta, refresher }) => {
                (delta.max(MIN_SE_FLOOR), refresher.unwrap_or(Refresher::Uac))
            }
            None => (self.session_expires, Refresher::Uac),
        };
        Ok(Negotiated {
            interval: Duration::from_secs(u64::from(delta)),
            refresher,
            require_timer: false,
        })
    }
}

/// What a running session timer asks for at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionTimerAction {
    /// Send a refresh (re-INVITE or UPDATE with [`SessionTimer::refresh_offer`]).
    Refresh,
    /// The session expired without refresh: send BYE (§10).
    Expire,
    /// Nothing due.
    NotYet,
}

/// A running session timer (§10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    /// The negotiated session interval.
    pub interval: Duration,
    /// True when we are the refresher.
    pub we_refresh: bool,
    /// When the session was last refreshed (the 2xx of the last refresh).
    pub last_refresh: Instant,
    /// True once `Refresh` was returned for this period.
    pub refresh_sent: bool,
}

impl SessionTimer {
    /// A timer whose period starts at `now`.
    pub fn new(interval: Duration, we_refresh: bool, now: Instant) -> SessionTimer {
        SessionTimer {
            interval,
            we_refresh,
            last_refresh: now,
            refresh_sent: false,
        }
    }

    /// When we refresh: half the interval after the last refresh (§10).
    pub fn refresh_at(&self) -> Instant {
        self.last_refresh + self.interval / 2
    }

    /// When the session is considered dead: the interval less
    /// min(32 s, interval/3) after the last refresh (§10).
    pub fn expires_at(&self) -> Instant {
        let margin = Duration::from_secs(32).min(self.interval / 3);
        self.last_refresh + self.interval.saturating_sub(margin)
    }

    /// A refresh succeeded at `now` (a 2xx to a refresh request, sent or
    /// received): the period restarts. A new negotiation may also change
    /// the interval and the refresher: build a new timer then.
    pub fn refreshed(&mut self, now: Instant) {
        self.last_refresh = now;
        self.refresh_sent = false;
    }

    /// The next instant `on_timeout` has something to do.
    pub fn next_deadline(&self) -> Instant {
        if self.we_refresh && !self.refresh_sent {
            self.refresh_at()
        } else {
            self.expires_at()
        }
    }

    /// At a deadline: `Expire` past `expires_at` (for the refresher too:
    /// its refreshes failed), `Refresh` once per period past `refresh_at`
    /// when we refresh, else `NotYet`.
    pub fn on_timeout(&mut self, now: Instant) -> SessionTimerAction {
        if now >= self.expires_at() {
            SessionTimerAction::Expire
        } else if self.we_refresh && !self.refresh_sent && now >= self.refresh_at() {
            self.refresh_sent = true;
            SessionTimerAction::Refresh
        } else {
            SessionTimerAction::NotYet
        }
    }

    /// Session-Expires / Min-SE for a refresh request we send: the current
    /// interval, the refresher kept as it is (we are the UAC of the refresh:
    /// `uac` when we refresh, else `uas`).
    pub fn refresh_offer(&self, config: &SessionTimerConfig) -> UacOffer {
        UacOffer {
            session_expires: secs(self.interval),
            min_se: config.our_min_se(),
            refresher: Some(if self.we_refresh {
                Refresher::Uac
            } else {
                Refresher::Uas
            }),
        }
    }
}
