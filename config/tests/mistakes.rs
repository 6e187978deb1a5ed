//! Mistakes that loaded without a word and then misbehaved at run time: a misspelt log
//! level (every log line silenced), `max_calls = 0` (read as unlimited), a route an
//! earlier route takes every call of, a SIP UDP port inside a media region's RTP ports,
//! a destination URI whose host can be neither an address nor a DNS name (every call to
//! it failed with 480).
//! Each is now an error naming file:line:column and key, and what is allowed.
//! (Wildcard and second addresses of a media region: `errors.rs`.)

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::MINIMAL;
use voxgate_config::{ConfigError, ConfigErrorKind, load_str};

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn errors(text: &str) -> Vec<ConfigError> {
    match load_str(text, "x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// The single error `text` produces, checked to be at `line:column` under `key`; its text.
fn only_error_at(text: &str, line: usize, column: usize, key: &str) -> (ConfigError, String) {
    let mut all = errors(text);
    let rendered: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 1, "expected one error:\n{}", rendered.join("\n"));
    let e = all.remove(0);
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
    (e, text)
}

// ---- [logging] level ----

#[test]
fn a_log_level_that_names_no_level_is_refused() {
    // tracing would take each of these as a target at level trace: nothing else logged.
    for bad in [
        "inf",
        "warning",
        "info,voxgate_sip",
        "info,",
        "voxgate=verbose",
        "=info",
    ] {
        let text = with(&format!("\n[logging]\nlevel = \"{bad}\"\n"));
        let (_, message) = only_error_at(&text, 16, 9, "logging.level");
        assert!(
            message.contains("allowed: a level (off, error, warn, info, debug, trace)"),
            "{message}"
        );
    }
    // What tracing's own parser refuses is refused too (an unclosed span filter).
    let text = with("\n[logging]\nlevel = \"voxgate[call{id=1=info\"\n");
    only_error_at(&text, 16, 9, "logging.level");
}

#[test]
fn log_levels_and_per_target_levels_load() {
    for good in [
        "info",
        "WARN",
        "off",
        "info,voxgate_sip=debug",
        "warn,voxgate_edge::core=trace,voxgate_sip=off",
    ] {
        let text = with(&format!("\n[logging]\nlevel = \"{good}\"\n"));
        let c = load_str(&text, "x.toml").unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(c.logging.level, good);
    }
}

// ---- [[trunk]] max_calls, max_cps ----

const TRUNK: &str = "\n[[trunk]]\nname = \"t\"\nallow = [\"192.0.2.0/24\"]\n";

#[test]
fn a_zero_call_limit_is_refused_and_absence_is_unlimited() {
    let (e, text) = only_error_at(
        &with(&format!("{TRUNK}max_calls = 0\n")),
        18,
        13,
        "trunk[0].max_calls",
    );
    assert!(matches!(e.kind, ConfigErrorKind::BadValue { .. }), "{e:?}");
    assert_eq!(
        text,
        "x.toml:18:13: trunk[0].max_calls: 0 is not valid; allowed: a count of concurrent \
         inbound calls 1..=1000000 (leave it out for no limit)"
    );
    let (_, text) = only_error_at(
        &with(&format!("{TRUNK}max_cps = 0\n")),
        18,
        11,
        "trunk[0].max_cps",
    );
    assert!(text.contains("(leave it out for no limit)"), "{text}");

    let c = load_str(&with(TRUNK), "x.toml").unwrap();
    assert_eq!((c.trunks[0].max_calls, c.trunks[0].max_cps), (None, None));
    let c = load_str(
        &with(&format!("{TRUNK}max_calls = 1\nmax_cps = 1\n")),
        "x.toml",
    )
    .unwrap();
    assert_eq!(
        (c.trunks[0].max_calls, c.trunks[0].max_cps),
        (Some(1), Some(1))
    );
}

// ---- [[route]] shadowed by an earlier one ----

/// A trunk for the trunk filters, and two routes: `first` at line 21, `second` at 26.
fn two_routes(first: &str, second: &str) -> String {
    with(&format!(
        "{TRUNK}\n[[route]]\nname = \"a\"\n{first}\ndestinations = [{{ uri = \"sip:192.0.2.1\" }}]\n\n\
         [[route]]\nname = \"b\"\n{second}\ndestinations = [{{ uri = \"sip:192.0.2.2\" }}]\n"
    ))
}

#[test]
fn a_route_an_earlier_route_takes_every_call_of_is_refused() {
    let shadowed = [
        // A catch-all before anything.
        (
            "match_user = { prefix = \"\" }",
            "match_user = { exact = \"1000\" }",
        ),
        (
            "match_user = { prefix = \"\" }",
            "match_user = { prefix = \"+44\" }",
        ),
        (
            "match_user = { prefix = \"\" }",
            "match_user = { regex = '^1' }",
        ),
        // A broader prefix before a narrower one, or the same one twice.
        (
            "match_user = { prefix = \"+44\" }",
            "match_user = { prefix = \"+4420\" }",
        ),
        (
            "match_user = { prefix = \"+44\" }",
            "match_user = { prefix = \"+44\" }",
        ),
        // An exact number any earlier pattern matches.
        (
            "match_user = { prefix = \"+44\" }",
            "match_user = { exact = \"+442071\" }",
        ),
        (
            "match_user = { regex = '^\\+49(30|40)' }",
            "match_user = { exact = \"+4930123\" }",
        ),
        (
            "match_user = { exact = \"999\" }",
            "match_user = { exact = \"999\" }",
        ),
        (
            "match_user = { regex = '^9' }",
            "match_user = { regex = '^9' }",
        ),
        // An earlier route without a trunk filter takes the later one's trunk's calls too.
        (
            "match_user = { prefix = \"1\" }",
            "trunk = \"t\"\nmatch_user = { prefix = \"10\" }",
        ),
        (
            "trunk = \"t\"\nmatch_user = { prefix = \"1\" }",
            "trunk = \"t\"\nmatch_user = { prefix = \"10\" }",
        ),
    ];
    for (first, second) in shadowed {
        let text = two_routes(first, second);
        let first_line = 21 + usize::from(first.contains('\n'));
        let line = first_line + 5 + usize::from(second.contains('\n'));
        let (e, message) = only_error_at(&text, line, 14, "route[1].match_user");
        assert!(
            matches!(e.kind, ConfigErrorKind::ShadowedRoute { .. }),
            "{e:?}"
        );
        assert!(
            message.ends_with(&format!(
                "every number it matches is taken first by route[0].match_user (line \
                 {first_line}) of route \"a\", so this route is never used; allowed: a route \
                 some call can reach: put the narrower route first, or remove one"
            )),
            "{first} / {second}: {message}"
        );
    }
}

#[test]
fn routes_that_overlap_but_each_take_some_calls_load() {
    let fine = [
        // Narrow first, broad after: the classic order.
        (
            "match_user = { exact = \"1000\" }",
            "match_user = { prefix = \"\" }",
        ),
        (
            "match_user = { prefix = \"+4420\" }",
            "match_user = { prefix = \"+44\" }",
        ),
        (
            "match_user = { exact = \"1000\" }",
            "match_user = { exact = \"1001\" }",
        ),
        (
            "match_user = { regex = '^\\+49(30|40)' }",
            "match_user = { exact = \"+4989\" }",
        ),
        // Only calls from trunk t go to the first: the second takes the others'.
        (
            "trunk = \"t\"\nmatch_user = { prefix = \"\" }",
            "match_user = { prefix = \"\" }",
        ),
        // Whether one regex covers another is not decided: both load.
        (
            "match_user = { regex = '^1' }",
            "match_user = { regex = '^10' }",
        ),
        (
            "match_user = { prefix = \"1\" }",
            "match_user = { regex = '^10' }",
        ),
    ];
    for (first, second) in fine {
        let text = two_routes(first, second);
        if let Err(e) = load_str(&text, "x.toml") {
            panic!("{first} / {second}:\n{e}");
        }
    }
}

#[test]
fn an_invalid_match_shadows_nothing() {
    // Its own error only: the placeholder it leaves must not be reported as a catch-all.
    let text = two_routes(
        "match_user = { prefix = \"1\", exact = \"1\" }",
        "match_user = { exact = \"2\" }",
    );
    only_error_at(&text, 21, 14, "route[0].match_user");
}

// ---- a UDP listener inside a media region's RTP ports ----

#[test]
fn a_sip_port_inside_the_rtp_ports_of_its_address_is_refused() {
    let listener = |address: &str, transport: &str| {
        with(&format!(
            "\n[[listener]]\ntransport = \"{transport}\"\naddress = \"{address}\"\n"
        ))
    };
    let (_, text) = only_error_at(
        &listener("127.0.0.1:20002", "udp"),
        17,
        11,
        "listener[1].address",
    );
    assert_eq!(
        text,
        "x.toml:17:11: listener[1].address: udp 127.0.0.1:20002 is also used by \
         media_region[0].port_min (line 12); allowed: a UDP port outside the RTP ports \
         (port_min..=port_max) of every media region on the same address"
    );
    // A wildcard takes the port on the region's address too; both ends of the range count.
    let wildcard = format!(
        "{}advertise = \"127.0.0.1\"\n",
        listener("0.0.0.0:20999", "udp")
    );
    only_error_at(&wildcard, 17, 11, "listener[1].address");
    only_error_at(
        &listener("127.0.0.1:20000", "udp"),
        17,
        11,
        "listener[1].address",
    );

    // TCP, another address, another family, or a port outside the range: no collision.
    for (address, transport) in [
        ("127.0.0.1:20002", "tcp"),
        ("127.0.0.2:20002", "udp"),
        ("[::1]:20002", "udp"),
        ("127.0.0.1:21000", "udp"),
        ("127.0.0.1:19999", "udp"),
    ] {
        if let Err(e) = load_str(&listener(address, transport), "x.toml") {
            panic!("{transport} {address}:\n{e}");
        }
    }
}

// ---- [[route]] destination URIs whose host is no address and no DNS name ----

/// A route whose one destination has `uri`, at line 18, column 25.
fn destination(uri: &str) -> String {
    with(&format!(
        "\n[[route]]\nname = \"r\"\nmatch_user = {{ prefix = \"\" }}\n\
         destinations = [{{ uri = \"{uri}\" }}]\n"
    ))
}

#[test]
fn a_destination_host_that_is_no_address_and_no_dns_name_is_refused() {
    let bad = [
        "sip:carrier_a.example",     // underscore
        "sip:sbc..carrier.example",  // empty label
        "sip:-sbc.carrier.example",  // label starting with -
        "sips:sbc.carrier.example-", // label ending with -
        "sip:sbc carrier.example",   // space
        "sip:1000@",                 // no host
        "sip:300.1.1.1",             // all-digit top-level label: a mistyped address
        "sip:0.0.0.0:5060",          // wildcard
        "sip:[::]:5060",             // wildcard
        "sip:224.0.0.1",             // multicast
        "sip:2001:db8::1",           // IPv6 without brackets
        "sip:[2001:db8::1",          // unclosed bracket
        "sip:[not-v6]:5060",         // not an IPv6 address
        "sip:192.0.2.1:0",           // port 0
        "sip:192.0.2.1:65536",       // port out of range
        "sip:192.0.2.1:50x0",        // port not a number
        "sip:192.0.2.1:",            // empty port
        "sip:sbc.example:+5060",     // signed port
    ];
    for uri in bad {
        let (_, message) = only_error_at(&destination(uri), 18, 25, "route[0].destinations[0].uri");
        assert!(
            message.contains(&format!("\"{uri}\" is not valid; allowed: a sip: or sips: URI whose host is an IPv4 address, an IPv6 address in [ ] or a DNS name")),
            "{uri}: {message}"
        );
    }
    let good = [
        "sip:192.0.2.20:5060",
        "sip:112@192.0.2.20",
        "sips:sbc.carrier.example",
        "sips:sbc.carrier.example.",
        "sip:SBC-1.Carrier.example:5070;transport=tcp",
        "sip:[2001:db8::1]",
        "sip:+4930123456;npdi@[2001:db8::1]:5062",
        "sip:localhost:5080",
        "sip:sbc.carrier.example?subject=a@b",
        "SIP:192.0.2.20",
    ];
    for uri in good {
        let c = load_str(&destination(uri), "x.toml").unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(c.routes[0].destinations[0].uri, uri);
    }
}
