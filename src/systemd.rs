//! systemd's notification protocol (`Type=notify`): readiness, reloads, the drain and
//! the watchdog. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::debug;

/// Sends `state`; a failure is logged at debug and otherwise ignored (a service manager
/// that cannot be told is no reason to stop serving calls).
pub fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        debug!(error = %e, "sd_notify failed");
    }
}

/// `RELOADING=1` with the monotonic time systemd wants beside it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// Ticks at half the watchdog interval systemd asked for (`WATCHDOG_USEC`), or never.
pub fn watchdog() -> Watchdog {
    Watchdog(sd_notify::watchdog_enabled().map(|period| {
        let mut t = tokio::time::interval((period / 2).max(Duration::from_millis(10)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    }))
}

/// The watchdog's ticker; pending forever when the watchdog is off.
pub struct Watchdog(Option<tokio::time::Interval>);

impl Watchdog {
    /// The next time to ping.
    pub async fn tick(&mut self) {
        match &mut self.0 {
            Some(t) => {
                t.tick().await;
            }
            None => std::future::pending().await,
        }
    }
}
