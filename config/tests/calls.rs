//! The call-path keys: `[calls]`, `[cdr]`, listener `advertise`, trunk limits, media
//! region and numbering, route trunk filter, redirects, ring timeout and regexes. Each
//! error with its exact file:line:column, key path and what is allowed.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::{MINIMAL, TempDir};

use std::net::SocketAddr;
use std::time::Duration;

use voxgate_config::{
    Calls, ConfigError, ConfigErrorKind, Numbering, Relation, TrunkName, UserMatch, load_str,
};

fn errors(text: &str) -> Vec<ConfigError> {
    match load_str(text, "x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// The single error `text` produces.
fn only_error(text: &str) -> ConfigError {
    let mut errors = errors(text);
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    errors.remove(0)
}

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn replaced(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from:?} is not in MINIMAL");
    MINIMAL.replacen(from, to, 1)
}

/// Asserts position and key, and returns the rendered message.
fn at(e: &ConfigError, line: usize, column: usize, key: &str) -> String {
    assert_eq!(
        (e.file.as_str(), e.line, e.column, e.key.as_str()),
        ("x.toml", Some(line), Some(column), key),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("x.toml:{line}:{column}: {key}: ")),
        "{text}"
    );
    text
}

// ---- [calls] ----

#[test]
fn calls_defaults_when_absent() {
    let c = load_str(MINIMAL, "x.toml").unwrap();
    assert_eq!(
        c.calls,
        Calls {
            media_timeout: Some(Duration::from_secs(60)),
            ring_timeout: Duration::from_secs(60),
            trying_timeout: Some(Duration::from_millis(4000)),
            session_expires: Some(Duration::from_secs(1800)),
            min_se: Duration::from_secs(90),
            max_forwards: 70,
            drain_timeout: Duration::from_secs(300),
        }
    );
    assert_eq!(c.calls, Calls::default());
    assert_eq!(c.cdr, None);
    // An empty section is the same as none.
    let c = load_str(&with("[calls]\n"), "x.toml").unwrap();
    assert_eq!(c.calls, Calls::default());
}

#[test]
fn calls_values_and_zero_means_off() {
    let c = load_str(
        &with(
            "[calls]\nmedia_timeout_s = 0\nring_timeout_s = 30\ntrying_timeout_ms = 0\n\
             session_expires_s = 0\nmin_se_s = 120\nmax_forwards = 10\ndrain_timeout_s = 45\n",
        ),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        c.calls,
        Calls {
            media_timeout: None,
            ring_timeout: Duration::from_secs(30),
            trying_timeout: None,
            session_expires: None,
            min_se: Duration::from_secs(120),
            max_forwards: 10,
            drain_timeout: Duration::from_secs(45),
        }
    );
    let c = load_str(
        &with("[calls]\nmedia_timeout_s = 5\ntrying_timeout_ms = 200\nsession_expires_s = 90\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(c.calls.media_timeout, Some(Duration::from_secs(5)));
    assert_eq!(c.calls.trying_timeout, Some(Duration::from_millis(200)));
    assert_eq!(c.calls.session_expires, Some(Duration::from_secs(90)));
}

#[test]
fn calls_ranges() {
    let e = only_error(&with("[calls]\nring_timeout_s = 0\n"));
    assert_eq!(
        at(&e, 15, 18, "calls.ring_timeout_s"),
        "x.toml:15:18: calls.ring_timeout_s: 0 is out of range; allowed: 1..=3600"
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::OutOfRange {
            found: 0,
            min: 1,
            max: 3600
        }
    );
    let e = only_error(&with("[calls]\nmedia_timeout_s = 3\n"));
    assert_eq!(
        at(&e, 15, 19, "calls.media_timeout_s"),
        "x.toml:15:19: calls.media_timeout_s: 3 is not valid; allowed: seconds: 0 (off) or \
         5..=86400 (default 60)"
    );
    let e = only_error(&with("[calls]\ntrying_timeout_ms = 100\n"));
    assert_eq!(
        at(&e, 15, 21, "calls.trying_timeout_ms"),
        "x.toml:15:21: calls.trying_timeout_ms: 100 is not valid; allowed: milliseconds: 0 \
         (wait for timer B) or 200..=32000 (default 4000)"
    );
    let e = only_error(&with("[calls]\ntrying_timeout_ms = 32001\n"));
    at(&e, 15, 21, "calls.trying_timeout_ms");
    let e = only_error(&with("[calls]\nmax_forwards = 256\n"));
    assert_eq!(
        at(&e, 15, 16, "calls.max_forwards"),
        "x.toml:15:16: calls.max_forwards: 256 is out of range; allowed: 1..=255"
    );
    let e = only_error(&with("[calls]\nmin_se_s = 60\n"));
    assert_eq!(
        at(&e, 15, 12, "calls.min_se_s"),
        "x.toml:15:12: calls.min_se_s: 60 is out of range; allowed: 90..=86400"
    );
    let e = only_error(&with("[calls]\nsession_expires_s = 50\n"));
    assert_eq!(
        at(&e, 15, 21, "calls.session_expires_s"),
        "x.toml:15:21: calls.session_expires_s: 50 is not valid; allowed: seconds: 0 (session \
         timers off) or min_se_s..=86400 (default 1800, or min_se_s if larger)"
    );
    let e = only_error(&with("[calls]\nring_timeout_s = \"60\"\n"));
    assert_eq!(
        at(&e, 15, 18, "calls.ring_timeout_s"),
        "x.toml:15:18: calls.ring_timeout_s: \"60\" is not valid; allowed: seconds 1..=3600 \
         (default 60)"
    );
}

#[test]
fn session_expires_below_min_se() {
    let e = only_error(&with("[calls]\nmin_se_s = 300\nsession_expires_s = 120\n"));
    assert_eq!(
        at(&e, 16, 21, "calls.session_expires_s"),
        "x.toml:16:21: calls.session_expires_s: 120 is not at least calls.min_se_s (300); \
         allowed: a value at least 300"
    );
    assert!(matches!(
        e.kind,
        ConfigErrorKind::Order {
            relation: Relation::AtLeast,
            other_value: 300,
            ..
        }
    ));
    // Equal is fine; a Min-SE above the default interval raises the default with it.
    load_str(
        &with("[calls]\nmin_se_s = 300\nsession_expires_s = 300\n"),
        "x.toml",
    )
    .unwrap();
    let c = load_str(&with("[calls]\nmin_se_s = 3600\n"), "x.toml").unwrap();
    assert_eq!(c.calls.session_expires, Some(Duration::from_secs(3600)));
}

#[test]
fn calls_unknown_key() {
    let e = only_error(&with("[calls]\nring_timeout = 5\n"));
    assert_eq!(
        at(&e, 15, 1, "calls.ring_timeout"),
        "x.toml:15:1: calls.ring_timeout: unknown key; allowed: media_timeout_s, \
         ring_timeout_s, trying_timeout_ms, session_expires_s, min_se_s, max_forwards, \
         drain_timeout_s"
    );
}

// ---- [cdr] ----

#[test]
fn cdr_path_resolves_against_the_config_folder() {
    let dir = TempDir::new();
    let name = dir.0.join("voxgate.toml").display().to_string();
    let c = load_str(&with("[cdr]\npath = \"cdr.jsonl\"\n"), &name).unwrap();
    let cdr = c.cdr.unwrap();
    assert_eq!(cdr.path, dir.0.join("cdr.jsonl"));
    assert!(cdr.path.is_absolute());
    assert!(cdr.redact_numbers, "redaction is on by default");
    // The file need not exist yet (it is created at the first call); its folder must.
    assert!(!cdr.path.exists());

    let c = load_str(
        &with("[cdr]\npath = \"cdr.jsonl\"\nredact_numbers = false\n"),
        &name,
    )
    .unwrap();
    assert!(!c.cdr.unwrap().redact_numbers);
}

// ---- [hep] ----

#[test]
fn hep_collector_by_address_with_a_default_capture_id() {
    let c = load_str(&with("[hep]\naddress = \"127.0.0.1:9060\"\n"), "x.toml").unwrap();
    let hep = c.hep.unwrap();
    assert_eq!(hep.address, "127.0.0.1:9060".parse::<SocketAddr>().unwrap());
    assert_eq!(hep.capture_id, 2001);
    let c = load_str(
        &with("[hep]\naddress = \"[::1]:9060\"\ncapture_id = 7\n"),
        "x.toml",
    )
    .unwrap();
    assert_eq!(c.hep.unwrap().capture_id, 7);
    assert_eq!(load_str(MINIMAL, "x.toml").unwrap().hep, None);
}

#[test]
fn hep_errors_name_the_line_and_what_is_allowed() {
    let e = only_error(&with("[hep]\naddress = \"homer:9060\"\n"));
    let text = at(&e, 15, 11, "hep.address");
    assert!(text.starts_with("x.toml:15:11: hep.address:"), "{text}");
    assert!(text.contains("allowed:"), "{text}");
    let e = only_error(&with(
        "[hep]\naddress = \"127.0.0.1:9060\"\ncapture_id = -1\n",
    ));
    let text = at(&e, 16, 14, "hep.capture_id");
    assert!(text.contains("0..=4294967295"), "{text}");
    let e = only_error(&with("[hep]\ncapture_id = 1\n"));
    assert!(at(&e, 14, 1, "hep.address").contains("required"));
}

#[test]
fn cdr_path_is_required() {
    let e = only_error(&with("[cdr]\nredact_numbers = false\n"));
    assert_eq!(
        at(&e, 14, 1, "cdr.path"),
        "x.toml:14:1: cdr.path: required, but missing; allowed: a file path whose folder \
         exists, relative to the config file's folder"
    );
}

#[test]
fn cdr_folder_must_exist() {
    let dir = TempDir::new();
    let missing = dir.0.join("nowhere");
    let e = only_error(&with(&format!(
        "[cdr]\npath = \"{}\"\n",
        missing.join("cdr.jsonl").display()
    )));
    assert_eq!(
        at(&e, 15, 8, "cdr.path"),
        format!(
            "x.toml:15:8: cdr.path: the folder \"{}\" does not exist; allowed: \
             a file in an existing folder (relative paths are resolved against the config \
             file's folder)",
            missing.display()
        )
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::NoFolder {
            folder: missing,
            reason: std::io::ErrorKind::NotFound
        }
    );

    // A file where the folder should be.
    let file = dir.0.join("plain");
    std::fs::write(&file, b"").unwrap();
    let e = only_error(&with(&format!(
        "[cdr]\npath = \"{}\"\n",
        file.join("cdr.jsonl").display()
    )));
    assert!(
        matches!(&e.kind, ConfigErrorKind::NoFolder { folder, .. } if folder == &file),
        "{e}"
    );
    assert!(
        e.to_string().contains(&format!(
            "the folder \"{}\" is a file, not a folder;",
            file.display()
        )),
        "{e}"
    );
}

#[test]
fn cdr_path_must_be_a_file() {
    let dir = TempDir::new();
    let e = only_error(&with(&format!("[cdr]\npath = \"{}\"\n", dir.0.display())));
    assert_eq!(
        at(&e, 15, 8, "cdr.path"),
        format!(
            "x.toml:15:8: cdr.path: \"{}\" is a folder; allowed: a file path such as \"{}\"",
            dir.0.display(),
            dir.0.join("cdr.jsonl").display()
        )
    );
    let e = only_error(&with("[cdr]\npath = \"\"\n"));
    assert_eq!(
        at(&e, 15, 8, "cdr.path"),
        "x.toml:15:8: cdr.path: \"\" is not valid; allowed: a file path whose folder exists, \
         relative to the config file's folder"
    );
    let e = only_error(&with("[cdr]\npath = \"logs/\"\n"));
    at(&e, 15, 8, "cdr.path");
}

// ---- [[listener]] advertise ----

#[test]
fn wildcard_listener_needs_advertise() {
    let e = only_error(&replaced("127.0.0.1:5060", "0.0.0.0:5060"));
    assert_eq!(
        at(&e, 7, 11, "listener[0].advertise"),
        "x.toml:7:11: listener[0].advertise: required because address 0.0.0.0:5060 binds \
         every address and cannot be put in Via or Contact; allowed: the IPv4 address peers \
         reach this listener on, such as \"203.0.113.10\""
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::AdvertiseRequired {
            address: "0.0.0.0:5060".parse().unwrap()
        }
    );
    let e = only_error(&replaced("127.0.0.1:5060", "[::]:5060"));
    let text = at(&e, 7, 11, "listener[0].advertise");
    assert!(
        text.ends_with("the IPv6 address peers reach this listener on, such as \"2001:db8::10\""),
        "{text}"
    );
}

#[test]
fn advertised_address() {
    let c = load_str(
        &replaced(
            "address = \"127.0.0.1:5060\"",
            "address = \"0.0.0.0:5060\"\nadvertise = \"203.0.113.10\"",
        ),
        "x.toml",
    )
    .unwrap();
    let l = &c.listeners[0];
    assert_eq!(l.advertise, Some("203.0.113.10".parse().unwrap()));
    assert_eq!(
        l.advertised(),
        "203.0.113.10:5060".parse::<SocketAddr>().unwrap()
    );
    // Without advertise, the bound address is the advertised one.
    let c = load_str(MINIMAL, "x.toml").unwrap();
    assert_eq!(c.listeners[0].advertise, None);
    assert_eq!(
        c.listeners[0].advertised(),
        "127.0.0.1:5060".parse::<SocketAddr>().unwrap()
    );
    // Behind NAT on a specific address too.
    let c = load_str(
        &replaced(
            "address = \"127.0.0.1:5060\"",
            "address = \"[2001:db8::1]:5070\"\nadvertise = \"2001:db8:ffff::1\"",
        ),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        c.listeners[0].advertised(),
        "[2001:db8:ffff::1]:5070".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn bad_advertise() {
    let listener = |advertise: &str| {
        replaced(
            "address = \"127.0.0.1:5060\"",
            &format!("address = \"127.0.0.1:5060\"\nadvertise = \"{advertise}\""),
        )
    };
    let e = only_error(&listener("nat.example"));
    assert_eq!(
        at(&e, 8, 13, "listener[0].advertise"),
        "x.toml:8:13: listener[0].advertise: \"nat.example\" is not valid; allowed: an IP \
         address such as \"192.0.2.10\" or \"2001:db8::10\""
    );
    let e = only_error(&listener("0.0.0.0"));
    assert_eq!(
        at(&e, 8, 13, "listener[0].advertise"),
        "x.toml:8:13: listener[0].advertise: \"0.0.0.0\" is not valid; allowed: a unicast \
         address peers can reach (not 0.0.0.0, :: or multicast)"
    );
    let e = only_error(&listener("224.0.0.1"));
    at(&e, 8, 13, "listener[0].advertise");
    let e = only_error(&listener("2001:db8::1"));
    assert_eq!(
        at(&e, 8, 13, "listener[0].advertise"),
        "x.toml:8:13: listener[0].advertise: \"2001:db8::1\" is not valid; allowed: an IPv4 \
         address, the family of address 127.0.0.1:5060"
    );
}

// ---- [[trunk]] ----

const TRUNK: &str = "[[trunk]]\nname = \"t\"\nallow = [\"192.0.2.0/24\"]\n";

#[test]
fn trunk_defaults() {
    let c = load_str(&with(TRUNK), "x.toml").unwrap();
    let t = &c.trunks[0];
    assert_eq!(t.media_region, "r1", "the [node] region by default");
    assert_eq!((t.max_calls, t.max_cps), (None, None));
    assert_eq!(t.numbering, None);
}

#[test]
fn trunk_limits_and_region() {
    let c = load_str(
        &with(&format!(
            "{TRUNK}media_region = \"r2\"\nmax_calls = 100\nmax_cps = 10\n\n\
             [[media_region]]\nname = \"r2\"\naddresses = [\"127.0.0.2\"]\nport_min = 30000\n\
             port_max = 30999\n"
        )),
        "x.toml",
    )
    .unwrap();
    let t = &c.trunks[0];
    assert_eq!(t.media_region, "r2");
    assert_eq!((t.max_calls, t.max_cps), (Some(100), Some(10)));
}

#[test]
fn trunk_limit_errors() {
    let e = only_error(&with(&format!("{TRUNK}media_region = \"eu\"\n")));
    assert_eq!(
        at(&e, 17, 16, "trunk[0].media_region"),
        "x.toml:17:16: trunk[0].media_region: \"eu\" names no [[media_region]]; allowed: one \
         of \"r1\""
    );
    let e = only_error(&with(&format!("{TRUNK}max_calls = -1\n")));
    assert_eq!(
        at(&e, 17, 13, "trunk[0].max_calls"),
        "x.toml:17:13: trunk[0].max_calls: -1 is out of range; allowed: 1..=1000000"
    );
    let e = only_error(&with(&format!("{TRUNK}max_cps = 100001\n")));
    assert_eq!(
        at(&e, 17, 11, "trunk[0].max_cps"),
        "x.toml:17:11: trunk[0].max_cps: 100001 is out of range; allowed: 1..=100000"
    );
}

#[test]
fn numbering() {
    let c = load_str(
        &with(&format!(
            "{TRUNK}numbering = {{ country_code = \"44\", national_prefix = \"0\", \
             international_prefix = \"00\" }}\n"
        )),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        c.trunks[0].numbering,
        Some(Numbering {
            country_code: "44".to_owned(),
            national_prefix: Some("0".to_owned()),
            international_prefix: Some("00".to_owned()),
        })
    );
    let c = load_str(
        &with(&format!("{TRUNK}numbering = {{ country_code = \"1\" }}\n")),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        c.trunks[0].numbering,
        Some(Numbering {
            country_code: "1".to_owned(),
            national_prefix: None,
            international_prefix: None,
        })
    );
}

#[test]
fn numbering_errors() {
    let numbering = |inner: &str| with(&format!("{TRUNK}numbering = {{ {inner} }}\n"));
    let e = only_error(&numbering("national_prefix = \"0\""));
    assert_eq!(
        at(&e, 17, 13, "trunk[0].numbering.country_code"),
        "x.toml:17:13: trunk[0].numbering.country_code: required, but missing; allowed: 1 to 3 \
         digits not starting with 0, such as \"44\" or \"1\""
    );
    for bad in ["044", "1234", "+44", ""] {
        let e = only_error(&numbering(&format!("country_code = \"{bad}\"")));
        assert_eq!(
            at(&e, 17, 30, "trunk[0].numbering.country_code"),
            format!(
                "x.toml:17:30: trunk[0].numbering.country_code: \"{bad}\" is not valid; \
                 allowed: 1 to 3 digits not starting with 0, such as \"44\" or \"1\""
            )
        );
    }
    for bad in ["0a", "", "0000000"] {
        let e = only_error(&numbering(&format!(
            "country_code = \"44\", national_prefix = \"{bad}\""
        )));
        assert_eq!(
            at(&e, 17, 54, "trunk[0].numbering.national_prefix"),
            format!(
                "x.toml:17:54: trunk[0].numbering.national_prefix: \"{bad}\" is not valid; \
                 allowed: 1 to 6 digits, such as \"0\" or \"00\""
            )
        );
    }
    let e = only_error(&numbering(
        "country_code = \"44\", national_prefix = \"0\", international_prefix = \"0\"",
    ));
    assert_eq!(
        at(&e, 17, 82, "trunk[0].numbering.international_prefix"),
        "x.toml:17:82: trunk[0].numbering.international_prefix: \"0\" is also used by \
         trunk[0].numbering.national_prefix (line 17); allowed: an international_prefix \
         different from the national_prefix"
    );
    let e = only_error(&numbering("country_code = \"44\", trunk_prefix = \"0\""));
    assert_eq!(
        at(&e, 17, 36, "trunk[0].numbering.trunk_prefix"),
        "x.toml:17:36: trunk[0].numbering.trunk_prefix: unknown key; allowed: country_code, \
         national_prefix, international_prefix"
    );
}

// ---- [[route]] ----

fn route(extra: &str) -> String {
    with(&format!(
        "{TRUNK}\n[[route]]\nname = \"r\"\nmatch_user = {{ prefix = \"+44\" }}\n\
         destinations = [{{ uri = \"sip:a\" }}]\n{extra}"
    ))
}

#[test]
fn route_options() {
    let c = load_str(&route(""), "x.toml").unwrap();
    let r = &c.routes[0];
    assert_eq!(
        (r.trunk.as_ref(), r.follow_redirects, r.ring_timeout),
        (None, false, None)
    );
    let c = load_str(
        &route("trunk = \"t\"\nfollow_redirects = true\nring_timeout_s = 30\n"),
        "x.toml",
    )
    .unwrap();
    let r = &c.routes[0];
    assert_eq!(r.trunk, TrunkName::new("t"));
    assert!(r.follow_redirects);
    assert_eq!(r.ring_timeout, Some(Duration::from_secs(30)));
}

#[test]
fn route_option_errors() {
    let e = only_error(&route("trunk = \"nope\"\n"));
    assert_eq!(
        at(&e, 22, 9, "route[0].trunk"),
        "x.toml:22:9: route[0].trunk: \"nope\" names no [[trunk]]; allowed: one of \"t\""
    );
    let e = only_error(&route("ring_timeout_s = 0\n"));
    assert_eq!(
        at(&e, 22, 18, "route[0].ring_timeout_s"),
        "x.toml:22:18: route[0].ring_timeout_s: 0 is out of range; allowed: 1..=3600"
    );
    let e = only_error(&route("follow_redirects = \"yes\"\n"));
    assert_eq!(
        at(&e, 22, 20, "route[0].follow_redirects"),
        "x.toml:22:20: route[0].follow_redirects: \"yes\" is not valid; allowed: true or false \
         (default false)"
    );
}

fn regex_route(pattern: &str) -> String {
    with(&format!(
        "[[route]]\nname = \"r\"\nmatch_user = {{ regex = '{pattern}' }}\n\
         destinations = [{{ uri = \"sip:a\" }}]\n"
    ))
}

#[test]
fn regexes_are_compiled() {
    let c = load_str(&regex_route(r"^\+49(30|40)[0-9]+$"), "x.toml").unwrap();
    let m = &c.routes[0].match_user;
    assert!(m.matches("+49301234"));
    assert!(!m.matches("+4930"));
    assert!(!m.matches("0049301234"));
    // Unanchored: a pattern without ^ matches anywhere.
    let c = load_str(&regex_route("30"), "x.toml").unwrap();
    assert!(c.routes[0].match_user.matches("+49301234"));
}

#[test]
fn bad_regexes() {
    let e = only_error(&regex_route("^49(30"));
    assert_eq!(
        at(&e, 16, 24, "route[0].match_user.regex"),
        "x.toml:16:24: route[0].match_user.regex: \"^49(30\" is not a valid regular \
         expression: unclosed group (at character 4); allowed: Rust regex syntax \
         (https://docs.rs/regex/#syntax), e.g. \"^49(30|40)[0-9]+$\""
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::BadRegex {
            found: "^49(30".to_owned(),
            detail: "unclosed group (at character 4)".to_owned()
        }
    );
    // Characters, not bytes; the second use of a duplicate name.
    let e = only_error(&regex_route("\u{e9}[z-a]"));
    assert!(
        e.to_string().contains(
            "is not a valid regular expression: invalid character class range, the start \
             must be <= the end (at character 3)"
        ),
        "{e}"
    );
    let e = only_error(&regex_route("(?P<n>a)(?P<n>b)"));
    assert!(
        e.to_string()
            .contains("duplicate capture group name (at character 13)"),
        "{e}"
    );
    // A multi-line pattern stays on one line in the message, without a position.
    let e = only_error(&with(
        "[[route]]\nname = \"r\"\nmatch_user = { regex = \"a\\n(\" }\ndestinations = [{ uri = \"sip:a\" }]\n",
    ));
    assert_eq!(
        at(&e, 16, 24, "route[0].match_user.regex"),
        "x.toml:16:24: route[0].match_user.regex: \"a\\n(\" is not a valid regular \
         expression: unclosed group; allowed: Rust regex syntax \
         (https://docs.rs/regex/#syntax), e.g. \"^49(30|40)[0-9]+$\""
    );
    // Patterns that would take a lot of memory on every node are refused.
    let e = only_error(&regex_route("[0-9]{1000}{1000}"));
    assert!(
        e.to_string()
            .contains("it compiles to more than 1048576 bytes; simplify it"),
        "{e}"
    );
}

#[test]
fn user_matches() {
    let exact = UserMatch::Exact("+44112".to_owned());
    assert!(exact.matches("+44112"));
    assert!(!exact.matches("+441120"));
    let prefix = UserMatch::Prefix("+44".to_owned());
    assert!(prefix.matches("+44"));
    assert!(prefix.matches("+442071234567"));
    assert!(!prefix.matches("+4"));
    assert!(UserMatch::Prefix(String::new()).matches(""));
    // Regexes compare by pattern.
    let a = UserMatch::Regex(regex::Regex::new("^1").unwrap());
    assert_eq!(a, UserMatch::Regex(regex::Regex::new("^1").unwrap()));
    assert_ne!(a, UserMatch::Regex(regex::Regex::new("^2").unwrap()));
    assert_ne!(a, UserMatch::Prefix("^1".to_owned()));
}
