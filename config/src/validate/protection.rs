//! `[protection]`: per-source rate limits, bans and scanner patterns.

use std::time::Duration;

use super::Validator;
use crate::error::{ConfigErrorKind, Relation};
use crate::model::{KillSwitch, Protection};
use crate::raw::{RawKillSwitch, RawProtection, S};
use crate::schema;

/// The longest User-Agent pattern: they are substrings matched per request.
const MAX_PATTERN_LEN: usize = 64;
/// Most patterns: each request outside a dialog is checked against every one.
const MAX_PATTERNS: usize = 64;

impl Validator<'_> {
    /// `[kill_switch]`: absent, switches never trip by themselves.
    pub(super) fn kill_switch(&mut self, raw: Option<&S<RawKillSwitch>>) -> Option<KillSwitch> {
        let raw = raw.map(S::get_ref)?;
        let count = |v: i64, d: u32| u32::try_from(v).unwrap_or(d);
        let percent = self.int_or(
            raw.error_percent.as_ref(),
            "kill_switch.error_percent",
            (1, 100),
            50,
        );
        let window = self.int_or(raw.window_s.as_ref(), "kill_switch.window_s", (1, 3600), 60);
        let min = self.int_or(
            raw.min_attempts.as_ref(),
            "kill_switch.min_attempts",
            (1, 100_000),
            20,
        );
        Some(KillSwitch {
            error_percent: count(percent, 50),
            window: Duration::from_secs(u64::try_from(window).unwrap_or(60)),
            min_attempts: count(min, 20),
        })
    }

    pub(super) fn protection(&mut self, raw: Option<&S<RawProtection>>) -> Protection {
        let defaults = Protection::default();
        let Some(raw) = raw.map(S::get_ref) else {
            return defaults;
        };
        let count = |v: i64, d: u32| u32::try_from(v).unwrap_or(d);
        let source_rate = self.int_or(
            raw.source_rate.as_ref(),
            "protection.source_rate",
            (1, 100_000),
            20,
        );
        let source_burst = self.int_or(
            raw.source_burst.as_ref(),
            "protection.source_burst",
            (1, 1_000_000),
            100,
        );
        let prefix_rate = self.int_or(
            raw.prefix_rate.as_ref(),
            "protection.prefix_rate",
            (1, 1_000_000),
            100,
        );
        let prefix_burst = self.int_or(
            raw.prefix_burst.as_ref(),
            "protection.prefix_burst",
            (1, 10_000_000),
            500,
        );
        let ban = self.int_or(raw.ban_s.as_ref(), "protection.ban_s", (1, 86_400), 60);
        let ban_max_raw = raw.ban_max_s.as_ref();
        let mut ban_max = self.int_or(ban_max_raw, "protection.ban_max_s", (1, 604_800), 3600);
        if let Some(v) = ban_max_raw
            && *v.get_ref() == ban_max
            && ban_max < ban
        {
            let kind = ConfigErrorKind::Order {
                found: ban_max,
                relation: Relation::AtLeast,
                other_key: "protection.ban_s".to_owned(),
                other_value: ban,
            };
            self.push(v.span(), "protection.ban_max_s", kind);
        }
        ban_max = ban_max.max(ban);
        let max_sources = self.int_or(
            raw.max_sources.as_ref(),
            "protection.max_sources",
            (1024, 4_194_304),
            65_536,
        );
        let log_interval = self.int_or(
            raw.log_interval_s.as_ref(),
            "protection.log_interval_s",
            (1, 86_400),
            60,
        );
        let scanner_user_agents = match raw.scanner_user_agents.as_ref() {
            None => defaults.scanner_user_agents.clone(),
            Some(list) => self.scanner_patterns(list),
        };
        let (busy, busy_clear) = self.overload_pair(
            raw.overload_busy_percent.as_ref(),
            raw.overload_busy_clear_percent.as_ref(),
            (
                "protection.overload_busy_percent",
                "protection.overload_busy_clear_percent",
            ),
            ((1, 100), 90),
            ((0, 100), 70),
        );
        let (queue, queue_clear) = self.overload_pair(
            raw.overload_queue.as_ref(),
            raw.overload_queue_clear.as_ref(),
            (
                "protection.overload_queue",
                "protection.overload_queue_clear",
            ),
            ((1, 1_000_000), 4096),
            ((0, 1_000_000), 512),
        );
        let window = self.int_or(
            raw.overload_window_ms.as_ref(),
            "protection.overload_window_ms",
            (100, 60_000),
            1000,
        );
        let retry_after = self.int_or(
            raw.overload_retry_after_s.as_ref(),
            "protection.overload_retry_after_s",
            (0, 3600),
            5,
        );
        let secs = |n: i64| Duration::from_secs(n.unsigned_abs());
        let size = |n: i64| usize::try_from(n).unwrap_or(0);
        Protection {
            source_rate: count(source_rate, defaults.source_rate),
            source_burst: count(source_burst, defaults.source_burst),
            prefix_rate: count(prefix_rate, defaults.prefix_rate),
            prefix_burst: count(prefix_burst, defaults.prefix_burst),
            ban: secs(ban),
            ban_max: secs(ban_max),
            max_sources: count(max_sources, defaults.max_sources),
            log_interval: secs(log_interval),
            scanner_user_agents,
            overload_busy_percent: count(busy, defaults.overload_busy_percent),
            overload_busy_clear_percent: count(busy_clear, defaults.overload_busy_clear_percent),
            overload_queue: size(queue),
            overload_queue_clear: size(queue_clear),
            overload_window: Duration::from_millis(window.unsigned_abs()),
            overload_retry_after: count(retry_after, defaults.overload_retry_after),
        }
    }

    /// An overload ceiling and the floor that ends overload (at most the ceiling:
    /// below it there is hysteresis). A floor above the ceiling is an
    /// error and is lowered to it.
    fn overload_pair(
        &mut self,
        enter: Option<&S<i64>>,
        leave: Option<&S<i64>>,
        (key, leave_key): (&str, &str),
        (enter_range, enter_default): ((i64, i64), i64),
        (leave_range, leave_default): ((i64, i64), i64),
    ) -> (i64, i64) {
        let enter_value = self.int_or(enter, key, enter_range, enter_default);
        let leave_value = self.int_or(leave, leave_key, leave_range, leave_default);
        if leave_value <= enter_value {
            return (enter_value, leave_value);
        }
        match leave {
            Some(v) if *v.get_ref() == leave_value => {
                let kind = ConfigErrorKind::Order {
                    found: leave_value,
                    relation: Relation::AtMost,
                    other_key: key.to_owned(),
                    other_value: enter_value,
                };
                self.push(v.span(), leave_key, kind);
            }
            // Only the ceiling was lowered below the default floor: follow it.
            _ => {}
        }
        (enter_value, enter_value)
    }

    /// Printable ASCII substrings, stored lowercase (matched case-insensitively).
    fn scanner_patterns(&mut self, list: &S<Vec<S<String>>>) -> Vec<String> {
        let key = "protection.scanner_user_agents";
        if list.get_ref().len() > MAX_PATTERNS {
            self.bad_value(list.span(), key, schema::describe(key));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for (i, item) in list.get_ref().iter().enumerate() {
            let text = item.get_ref();
            let printable = text.bytes().all(|b| (0x20..0x7f).contains(&b));
            if text.trim().is_empty() || text.len() > MAX_PATTERN_LEN || !printable {
                self.bad_value(item.span(), &format!("{key}[{i}]"), schema::describe(key));
                continue;
            }
            let lower = text.to_ascii_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::{Protection, load_str};
    use std::time::Duration;

    const BASE: &str = r#"
[node]
name = "t"
region = "r"
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#;

    fn errors(extra: &str) -> String {
        match load_str(&format!("{BASE}{extra}"), "p.toml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn absent_section_gives_the_defaults() {
        let c = load_str(BASE, "p.toml").unwrap();
        assert_eq!(c.protection, Protection::default());
        assert!(
            c.protection
                .scanner_user_agents
                .contains(&"friendly-scanner".to_owned())
        );
    }

    #[test]
    fn values_are_read_and_patterns_lowercased() {
        let c = load_str(
            &format!(
                "{BASE}[protection]\nsource_rate = 5\nsource_burst = 10\nban_s = 30\n\
                 ban_max_s = 600\nscanner_user_agents = [\"SIPVicious\", \"sipvicious\"]\n"
            ),
            "p.toml",
        )
        .unwrap();
        let p = &c.protection;
        assert_eq!((p.source_rate, p.source_burst), (5, 10));
        assert_eq!(
            (p.ban, p.ban_max),
            (Duration::from_secs(30), Duration::from_secs(600))
        );
        assert_eq!(p.scanner_user_agents, vec!["sipvicious".to_owned()]);
        // An empty list turns the scanner check off.
        let c = load_str(
            &format!("{BASE}[protection]\nscanner_user_agents = []\n"),
            "p.toml",
        )
        .unwrap();
        assert!(c.protection.scanner_user_agents.is_empty());
    }

    #[test]
    fn overload_keys_are_read_and_a_lone_low_ceiling_lowers_the_default_floor() {
        let c = load_str(
            &format!(
                "{BASE}[protection]\noverload_busy_percent = 80\noverload_busy_clear_percent = 50\n\
                 overload_queue = 10\noverload_window_ms = 250\noverload_retry_after_s = 2\n"
            ),
            "p.toml",
        )
        .unwrap();
        let p = &c.protection;
        assert_eq!(
            (p.overload_busy_percent, p.overload_busy_clear_percent),
            (80, 50)
        );
        // The default floor (512) is above the ceiling given: it follows the ceiling.
        assert_eq!((p.overload_queue, p.overload_queue_clear), (10, 10));
        assert_eq!(p.overload_window, Duration::from_millis(250));
        assert_eq!(p.overload_retry_after, 2);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = errors("[protection]\nsource_rate = 0\n");
        assert!(e.contains("p.toml:14:15:"), "{e}");
        assert!(e.contains("protection.source_rate"), "{e}");
        assert!(e.contains("1..=100000"), "{e}");
        let e = errors("[protection]\nban_s = 600\nban_max_s = 60\n");
        assert!(e.contains("protection.ban_max_s"), "{e}");
        assert!(e.contains("at least"), "{e}");
        let e = errors("[protection]\nscanner_user_agents = [\"ok\", \" \"]\n");
        assert!(e.contains("protection.scanner_user_agents[1]"), "{e}");
        let e = errors("[protection]\nmax_sources = 10\n");
        assert!(e.contains("protection.max_sources"), "{e}");
        let e =
            errors("[protection]\noverload_busy_percent = 50\noverload_busy_clear_percent = 60\n");
        assert!(e.contains("p.toml:15:"), "{e}");
        assert!(e.contains("protection.overload_busy_clear_percent"), "{e}");
        assert!(e.contains("at most"), "{e}");
        let e = errors("[protection]\noverload_queue = 0\n");
        assert!(e.contains("protection.overload_queue"), "{e}");
        assert!(e.contains("1..=1000000"), "{e}");
        let e = errors("[protection]\noverload_window_ms = 10\n");
        assert!(e.contains("protection.overload_window_ms"), "{e}");
        let e = errors("[protection]\nbans = 1\n");
        assert!(e.contains("bans"), "{e}");
    }
}
