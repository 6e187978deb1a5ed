//! One test per error kind: the exact file:line:column, the key path, and a message that
//! says what is allowed. Multiple errors are collected in one run.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::MINIMAL;
use voxgate_config::{ConfigError, ConfigErrorKind, ListenerTransport, Relation, load_str};

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

#[test]
fn minimal_is_valid() {
    let c = load_str(MINIMAL, "x.toml").unwrap();
    assert_eq!(c.listeners.len(), 1);
    assert!(c.trunks.is_empty() && c.routes.is_empty());
}

#[test]
fn syntax_error() {
    let e = only_error(&replaced("[[media_region]]", "[[media_region]"));
    assert_eq!(
        e.to_string(),
        "x.toml:9:16: TOML syntax error: unclosed array table, expected `]`; \
         allowed: TOML syntax (https://toml.io)"
    );
    assert!(matches!(e.kind, ConfigErrorKind::Syntax { .. }));
}

#[test]
fn syntax_errors_are_collected_with_their_keys() {
    let text =
        replaced("name = \"n1\"", "name = n1").replacen("\"127.0.0.1:5060\"", "127.0.0.1:5060", 1);
    let errs = errors(&text);
    let got: Vec<(Option<usize>, Option<usize>, &str)> = errs
        .iter()
        .map(|e| (e.line, e.column, e.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(2), Some(8), "node.name"),
            (Some(7), Some(16), "listener[0].address")
        ]
    );
    // The detail is the TOML parser's own wording; the frame around it is ours.
    let shown = errs[0].to_string();
    assert!(
        shown.starts_with("x.toml:2:8: node.name: TOML syntax error: ")
            && shown.ends_with("; allowed: TOML syntax (https://toml.io)"),
        "{shown}"
    );
}

#[test]
fn unknown_key_points_at_the_key_and_lists_the_allowed_ones() {
    let mut all = errors(&replaced("transport = \"udp\"", "tranport = \"udp\""));
    assert_eq!(all.len(), 2, "{all:?}");
    // Validation goes on without the unknown key, so what it breaks is said too.
    assert_eq!(
        all[0].to_string(),
        "x.toml:5:1: listener[0].transport: required, but missing; allowed: one of \"udp\", \"tcp\", \"tls\""
    );
    let e = all.remove(1);
    assert_eq!(
        at(&e, 6, 1, "listener[0].tranport"),
        "x.toml:6:1: listener[0].tranport: unknown key; allowed: transport, address, \
         recv_buffer, send_buffer, certificate, private_key, client_ca, advertise"
    );
    let ConfigErrorKind::UnknownKey { allowed } = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(allowed.len(), 8);
}

#[test]
fn unknown_key_in_an_inline_table() {
    let mut all = errors(&with(
        "[[route]]\nname = \"r\"\nmatch_user = { prefx = \"\" }\ndestinations = [{ uri = \"sip:a\" }]\n",
    ));
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].key, "route[0].match_user");
    let e = all.remove(1);
    assert_eq!(
        at(&e, 16, 16, "route[0].match_user.prefx"),
        "x.toml:16:16: route[0].match_user.prefx: unknown key; allowed: exact, prefix, regex"
    );
}

#[test]
fn unknown_top_level_section() {
    let e = only_error(&with("[trunks]\n"));
    assert_eq!(
        at(&e, 14, 2, "trunks"),
        "x.toml:14:2: trunks: unknown key; allowed: node, admin, logging, sip, listener, \
         trunk, media_region, route, calls, cdr, hep, api, media, prompt, protection, dns, \
         kill_switch, entry_point, flow, include, site, team, agent, queue"
    );
}

#[test]
fn missing_key_points_at_its_table() {
    let e = only_error(&replaced("region = \"r1\"\n", ""));
    assert_eq!(
        at(&e, 1, 1, "node.region"),
        "x.toml:1:1: node.region: required, but missing; allowed: the name of a [[media_region]]"
    );
    let e = only_error(&replaced("address = \"127.0.0.1:5060\"\n", ""));
    let text = at(&e, 5, 1, "listener[0].address");
    assert!(
        text.ends_with(
            "allowed: an IP address and port such as \"127.0.0.1:5060\" or \"[::1]:5060\""
        ),
        "{text}"
    );
}

#[test]
fn missing_section() {
    let text = MINIMAL.replace(
        "[[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n",
        "",
    );
    let e = only_error(&text);
    assert_eq!(
        at(&e, 1, 1, "listener"),
        "x.toml:1:1: listener: required, but missing; allowed: one or more [[listener]] tables"
    );
}

#[test]
fn empty_list() {
    let e = only_error(&replaced("addresses = [\"127.0.0.1\"]", "addresses = []"));
    let text = at(&e, 11, 13, "media_region[0].addresses");
    assert!(
        text.contains("is empty; allowed: at least one element: a list of unicast IP addresses"),
        "{text}"
    );
}

#[test]
fn wrong_type() {
    let e = only_error(&replaced("port_min = 20000", "port_min = \"20000\""));
    assert_eq!(
        at(&e, 12, 12, "media_region[0].port_min"),
        "x.toml:12:12: media_region[0].port_min: \"20000\" is not valid; allowed: an even port 1024..=65534"
    );
}

#[test]
fn unknown_transport_name() {
    let e = only_error(&replaced("transport = \"udp\"", "transport = \"sctp\""));
    assert_eq!(
        at(&e, 6, 13, "listener[0].transport"),
        "x.toml:6:13: listener[0].transport: \"sctp\" is not valid; allowed: one of \"udp\", \"tcp\", \"tls\""
    );
}

#[test]
fn bad_socket_address() {
    let e = only_error(&replaced("127.0.0.1:5060", "127.0.0.1"));
    assert_eq!(
        at(&e, 7, 11, "listener[0].address"),
        "x.toml:7:11: listener[0].address: \"127.0.0.1\" is not valid; allowed: an IP address \
         and port such as \"127.0.0.1:5060\" or \"[::1]:5060\""
    );
}

#[test]
fn bad_name() {
    let e = only_error(&replaced("name = \"n1\"", "name = \"edge 1\""));
    assert_eq!(
        at(&e, 2, 8, "node.name"),
        "x.toml:2:8: node.name: \"edge 1\" is not valid; allowed: a name of 1 to 64 characters \
         from A-Z a-z 0-9 . _ -"
    );
}

#[test]
fn out_of_range() {
    let e = only_error(&with("[sip.timers]\nt1_ms = 20000\n"));
    assert_eq!(
        at(&e, 15, 9, "sip.timers.t1_ms"),
        "x.toml:15:9: sip.timers.t1_ms: 20000 is out of range; allowed: 50..=10000"
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::OutOfRange {
            found: 20000,
            min: 50,
            max: 10000
        }
    );
    let e = only_error(&with("[sip.limits]\nmax_headers = 8\n"));
    assert_eq!(
        at(&e, 15, 15, "sip.limits.max_headers"),
        "x.toml:15:15: sip.limits.max_headers: 8 is out of range; allowed: 16..=1024"
    );
    let e = only_error(&with("[sip.limits]\nconnection_idle_timeout_s = 5\n"));
    let text = at(&e, 15, 29, "sip.limits.connection_idle_timeout_s");
    assert!(
        text.ends_with("allowed: seconds: 0 (never) or 10..=86400 (default 300)"),
        "{text}"
    );
}

#[test]
fn t2_below_t1() {
    let e = only_error(&with("[sip.timers]\nt1_ms = 1000\nt2_ms = 800\n"));
    assert_eq!(
        at(&e, 16, 9, "sip.timers.t2_ms"),
        "x.toml:16:9: sip.timers.t2_ms: 800 is not at least sip.timers.t1_ms (1000); \
         allowed: a value at least 1000"
    );
    assert!(matches!(
        e.kind,
        ConfigErrorKind::Order {
            relation: Relation::AtLeast,
            ..
        }
    ));
    // t2 equal to t1 is fine; t2 below the default t1 is not.
    load_str(&with("[sip.timers]\nt1_ms = 800\nt2_ms = 800\n"), "x.toml").unwrap();
    let e = only_error(&with("[sip.timers]\nt2_ms = 400\n"));
    assert!(e.to_string().contains("(500)"), "{e}");
}

#[test]
fn port_ranges() {
    let e = only_error(&replaced("port_min = 20000", "port_min = 20001"));
    assert_eq!(
        at(&e, 12, 12, "media_region[0].port_min"),
        "x.toml:12:12: media_region[0].port_min: 20001 is odd; allowed: an even port \
         1024..=65534 (RTP uses the even port, RTCP the next)"
    );
    let e = only_error(&replaced("port_max = 20999", "port_max = 20000"));
    assert_eq!(
        at(&e, 13, 12, "media_region[0].port_max"),
        "x.toml:13:12: media_region[0].port_max: 20000 is not greater than \
         media_region[0].port_min (20000); allowed: a value greater than 20000"
    );
    let e = only_error(&replaced("port_min = 20000", "port_min = 80"));
    at(&e, 12, 12, "media_region[0].port_min");
    assert!(
        e.to_string()
            .ends_with("80 is out of range; allowed: 1024..=65534")
    );
    // The smallest range: one RTP/RTCP pair.
    load_str(&replaced("port_max = 20999", "port_max = 20001"), "x.toml").unwrap();
}

#[test]
fn host_bits_set() {
    let e =
        only_error(
            &with("[[trunk]]\nname = \"t\"\nallow = [\"10.0.0.1/8\", \"2001:db8::1/32\"]\n")
                .replacen("\"2001:db8::1/32\"", "\"2001:db8::/32\"", 1),
        );
    assert_eq!(
        at(&e, 16, 10, "trunk[0].allow[0]"),
        "x.toml:16:10: trunk[0].allow[0]: \"10.0.0.1/8\" has host bits set; allowed: a CIDR \
         network such as \"10.0.0.0/8\""
    );
    let e = only_error(&with(
        "[[trunk]]\nname = \"t\"\nallow = [\"2001:db8::1/32\"]\n",
    ));
    assert_eq!(
        e.to_string(),
        "x.toml:16:10: trunk[0].allow[0]: \"2001:db8::1/32\" has host bits set; allowed: a \
         CIDR network such as \"2001:db8::/32\""
    );
}

#[test]
fn bad_cidr() {
    let e = only_error(&with(
        "[[trunk]]\nname = \"t\"\nallow = [\"10.0.0.0/33\"]\n",
    ));
    let text = at(&e, 16, 10, "trunk[0].allow[0]");
    assert!(
        text.contains("\"10.0.0.0/33\" is not valid; allowed: a CIDR network such as"),
        "{text}"
    );
}

#[test]
fn duplicate_names() {
    let e = only_error(&with(
        "[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.1\"]\n\n[[trunk]]\nname = \"a\"\nallow = [\"192.0.2.2\"]\n",
    ));
    assert_eq!(
        at(&e, 19, 8, "trunk[1].name"),
        "x.toml:19:8: trunk[1].name: \"a\" is also used by trunk[0].name (line 15); allowed: a \
         name no other [[trunk]] uses"
    );
    assert!(matches!(
        e.kind,
        ConfigErrorKind::Duplicate { first_line: 15, .. }
    ));
}

#[test]
fn duplicate_listener() {
    let e = only_error(&with(
        "\n[[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n",
    ));
    assert_eq!(
        at(&e, 17, 11, "listener[1].address"),
        "x.toml:17:11: listener[1].address: udp 127.0.0.1:5060 is also used by \
         listener[0].address (line 7); allowed: one socket per protocol, address and port \
         (tcp, tls, the admin and the API HTTP listeners share TCP ports; 0.0.0.0 and [::] take the port on \
         every address)"
    );
    // udp and tcp on one port are two sockets; tcp and tls are not; 0.0.0.0 takes them all.
    load_str(
        &with("\n[[listener]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:5060\"\n"),
        "x.toml",
    )
    .unwrap();
    let e = only_error(&with(
        "\n[[listener]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:5070\"\n\n[[listener]]\ntransport = \"tls\"\naddress = \"0.0.0.0:5070\"\nadvertise = \"192.0.2.1\"\n",
    ));
    at(&e, 21, 11, "listener[2].address");
    // Port 0 asks the OS for a free port: never a collision.
    let zero = MINIMAL.replace("127.0.0.1:5060", "127.0.0.1:0");
    load_str(
        &format!("{zero}\n[[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:0\"\n"),
        "x.toml",
    )
    .unwrap();
}

#[test]
fn admin_on_a_listener_port() {
    let text = with(
        "\n[[listener]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:5060\"\n\n[admin]\nlisten = \"127.0.0.1:5060\"\n",
    );
    let e = only_error(&text);
    assert_eq!(
        at(&e, 20, 10, "admin.listen"),
        "x.toml:20:10: admin.listen: tcp 127.0.0.1:5060 is also used by listener[1].address \
         (line 17); allowed: one socket per protocol, address and port (tcp, tls, the admin and \
         the API HTTP listeners share TCP ports; 0.0.0.0 and [::] take the port on every address)"
    );
}

#[test]
fn allow_lists_overlap_across_trunks() {
    let text = with(
        r#"
[[trunk]]
name = "carrier-a"
allow = ["192.0.2.0/24"]

[[trunk]]
name = "carrier-b"
allow = ["198.51.100.0/24", "2001:db8::/32"]

[[trunk]]
name = "carrier-c"
allow = [
    "203.0.113.0/24",
    "192.0.2.0/28",
]
"#,
    );
    let e = only_error(&text);
    assert_eq!(
        at(&e, 27, 5, "trunk[2].allow[1]"),
        "x.toml:27:5: trunk[2].allow[1]: 192.0.2.0/28 overlaps trunk[0].allow[0] 192.0.2.0/24 \
         (line 17) of trunk \"carrier-a\"; allow-lists of two trunks must not overlap"
    );
    let ConfigErrorKind::Overlap {
        other_key,
        other_line,
        other_trunk,
        ..
    } = &e.kind
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (other_key.as_str(), *other_line, other_trunk.as_str()),
        ("trunk[0].allow[0]", 17, "carrier-a")
    );
}

#[test]
fn reference_to_nothing() {
    let e = only_error(&replaced("region = \"r1\"", "region = \"eu\""));
    assert_eq!(
        at(&e, 3, 10, "node.region"),
        "x.toml:3:10: node.region: \"eu\" names no [[media_region]]; allowed: one of \"r1\""
    );
    let e = only_error(&with(
        "[[route]]\nname = \"r\"\nmatch_user = { exact = \"1\" }\ndestinations = [{ uri = \"sip:a\", trunk = \"nope\" }]\n",
    ));
    assert_eq!(
        at(&e, 17, 42, "route[0].destinations[0].trunk"),
        "x.toml:17:42: route[0].destinations[0].trunk: \"nope\" names no [[trunk]]; allowed: \
         the name of a [[trunk]], but none is defined"
    );
}

#[test]
fn tls_keys_on_a_udp_listener() {
    let e = only_error(&replaced(
        "address = \"127.0.0.1:5060\"\n",
        "address = \"127.0.0.1:5060\"\nclient_ca = \"ca.pem\"\n",
    ));
    assert_eq!(
        at(&e, 8, 13, "listener[0].client_ca"),
        "x.toml:8:13: listener[0].client_ca: only allowed on a tls listener, this one is udp; \
         allowed: remove it, or set transport = \"tls\""
    );
    assert_eq!(
        e.kind,
        ConfigErrorKind::TlsOnly {
            transport: ListenerTransport::Udp
        }
    );
}

#[test]
fn certificate_without_key() {
    // The file check of the certificate is covered in tests/files.rs; here both are
    // absent from disk, so two errors: the pair, and the missing file.
    let errs = errors(&with(
        "\n[[listener]]\ntransport = \"tls\"\naddress = \"127.0.0.1:5061\"\ncertificate = \"/nonexistent/c.pem\"\n",
    ));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        at(&errs[0], 18, 15, "listener[1].certificate"),
        "x.toml:18:15: listener[1].certificate: listener[1].private_key is missing; allowed: \
         certificate and private_key together, or neither (a self-signed certificate is \
         generated at start)"
    );
    let e = &errors(&with(
        "\n[[listener]]\ntransport = \"tls\"\naddress = \"127.0.0.1:5061\"\nprivate_key = \"/nonexistent/k.pem\"\n",
    ))[0];
    assert_eq!(
        e.kind,
        ConfigErrorKind::IncompleteKeyPair {
            missing_key: "listener[1].certificate".to_owned()
        }
    );
}

#[test]
fn sips_needs_tls() {
    let route = |dest: &str| {
        with(&format!(
            "[[route]]\nname = \"r\"\nmatch_user = {{ exact = \"1\" }}\ndestinations = [{dest}]\n"
        ))
    };
    let e = only_error(&route("{ uri = \"sips:a.example\", transport = \"udp\" }"));
    assert_eq!(
        at(&e, 17, 55, "route[0].destinations[0].transport"),
        "x.toml:17:55: route[0].destinations[0].transport: transport udp with a sips: URI; \
         allowed: \"tls\" (or leave transport out) for sips:, any transport for sip:"
    );
    let c = load_str(
        &route("{ uri = \"sips:a.example\" }, { uri = \"sip:b\" }"),
        "x.toml",
    )
    .unwrap();
    let transports: Vec<_> = c.routes[0]
        .destinations
        .iter()
        .map(|d| d.transport)
        .collect();
    assert_eq!(transports, [ListenerTransport::Tls, ListenerTransport::Udp]);
}

#[test]
fn bad_uri_and_match() {
    let route = |m: &str, uri: &str| {
        with(&format!(
            "[[route]]\nname = \"r\"\nmatch_user = {m}\ndestinations = [{{ uri = \"{uri}\" }}]\n"
        ))
    };
    let e = only_error(&route("{ prefix = \"\" }", "tel:+4930"));
    assert_eq!(
        at(&e, 17, 25, "route[0].destinations[0].uri"),
        "x.toml:17:25: route[0].destinations[0].uri: \"tel:+4930\" is not valid; allowed: a sip: \
         or sips: URI whose host is an IPv4 address, an IPv6 address in [ ] or a DNS name \
         (letters, digits and - in dot-separated labels), not a wildcard, with an optional port \
         1..=65535, such as \"sip:192.0.2.20:5060\" or \"sips:sbc.carrier.example\""
    );
    let e = only_error(&route("{ prefix = \"\", exact = \"1\" }", "sip:a"));
    assert_eq!(
        at(&e, 16, 14, "route[0].match_user"),
        "x.toml:16:14: route[0].match_user: { prefix = \"\", exact = \"1\" } is not valid; \
         allowed: exactly one of { exact = \"...\" }, { prefix = \"...\" }, { regex = \"...\" }"
    );
    let e = only_error(&route("{}", "sip:a"));
    at(&e, 16, 14, "route[0].match_user");
    let e = only_error(&route("{ regex = \"\" }", "sip:a"));
    assert_eq!(
        at(&e, 16, 24, "route[0].match_user.regex"),
        "x.toml:16:24: route[0].match_user.regex: \"\" is not valid; allowed: a non-empty \
         regular expression (Rust regex syntax, unanchored: use ^ and $)"
    );
}

#[test]
fn port_ranges_of_regions_sharing_an_address_overlap() {
    let e = only_error(&with(
        "\n[[media_region]]\nname = \"r2\"\naddresses = [\"::1\", \"127.0.0.1\"]\nadvertise = [\"203.0.113.10\"]\nport_min = 20998\nport_max = 21999\n",
    ));
    assert_eq!(
        at(&e, 19, 12, "media_region[1].port_min"),
        "x.toml:19:12: media_region[1].port_min: ports 20998..=21999 on 127.0.0.1 overlap \
         media_region[0].port_min 20000..=20999 (line 12) of media region \"r1\"; allowed: \
         disjoint port ranges for regions sharing an address"
    );
    // Different addresses, or adjacent ranges, are fine.
    load_str(&with("\n[[media_region]]\nname = \"r2\"\naddresses = [\"127.0.0.2\"]\nport_min = 20000\nport_max = 20999\n"), "x.toml").unwrap();
    load_str(&with("\n[[media_region]]\nname = \"r2\"\naddresses = [\"127.0.0.1\"]\nport_min = 21000\nport_max = 21999\n"), "x.toml").unwrap();
}

#[test]
fn media_addresses_unicast_one_per_family_advertised_per_family() {
    let e = only_error(&replaced(
        "addresses = [\"127.0.0.1\"]",
        "addresses = [\"127.0.0.1\", \"::1\", \"127.0.0.2\"]",
    ));
    assert_eq!(
        at(&e, 11, 34, "media_region[0].addresses[2]"),
        "x.toml:11:34: media_region[0].addresses[2]: \"127.0.0.2\" is not valid; allowed: at \
         most one IPv4 and one IPv6 address; this is a second IPv4 one"
    );

    // A wildcard's replies would leave from whatever address the kernel picks.
    let e = only_error(&replaced(
        "addresses = [\"127.0.0.1\"]",
        "addresses = [\"0.0.0.0\"]\nadvertise = [\"203.0.113.10\"]",
    ));
    assert_eq!(
        at(&e, 11, 14, "media_region[0].addresses[0]"),
        "x.toml:11:14: media_region[0].addresses[0]: \"0.0.0.0\" is not valid; allowed: a \
         unicast address of this host (not 0.0.0.0, :: or multicast: bind the private address \
         and put the public one in advertise)"
    );

    let e = only_error(&replaced(
        "addresses = [\"127.0.0.1\"]",
        "addresses = [\"224.0.0.1\"]",
    ));
    let text = at(&e, 11, 14, "media_region[0].addresses[0]");
    assert!(
        text.contains("allowed: a unicast address of this host"),
        "{text}"
    );

    let e = only_error(&replaced(
        "addresses = [\"127.0.0.1\"]",
        "addresses = [\"127.0.0.1\"]\nadvertise = [\"2001:db8::10\"]",
    ));
    let text = at(&e, 12, 14, "media_region[0].advertise[0]");
    assert!(
        text.contains("allowed: an address of a family in addresses (there is no IPv6 one"),
        "{text}"
    );

    let e = only_error(&replaced(
        "addresses = [\"127.0.0.1\"]",
        "addresses = [\"127.0.0.1\"]\nadvertise = [\"0.0.0.0\"]",
    ));
    let text = at(&e, 12, 14, "media_region[0].advertise[0]");
    assert!(text.contains("not 0.0.0.0, :: or multicast"), "{text}");

    let c = load_str(
        &replaced(
            "addresses = [\"127.0.0.1\"]",
            "addresses = [\"10.0.0.5\", \"::1\"]\nadvertise = [\"203.0.113.10\"]",
        ),
        "x.toml",
    )
    .unwrap();
    let r = &c.media_regions[0];
    let private: std::net::IpAddr = "10.0.0.5".parse().unwrap();
    let v6: std::net::IpAddr = "::1".parse().unwrap();
    assert_eq!(r.advertised(private).to_string(), "203.0.113.10");
    assert_eq!(r.advertised(v6), v6, "no IPv6 advertise: the bound address");
}

#[test]
fn errors_are_collected_in_file_order() {
    let text = r#"[node]
name = "edge 1"
region = "nowhere"

[sip.timers]
t1_ms = 5

[[listener]]
transport = "udp"
address = "127.0.0.1"

[[trunk]]
name = "a"
allow = ["10.0.0.1/8", "192.0.2.0/24"]

[[trunk]]
name = "a"
allow = ["192.0.2.7"]

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20001
port_max = 20999
"#;
    let errs = load_str(text, "x.toml").unwrap_err();
    let got: Vec<(usize, String)> = errs
        .iter()
        .map(|e| (e.line.unwrap(), e.key.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "node.name".to_owned()),
            (3, "node.region".to_owned()),
            (6, "sip.timers.t1_ms".to_owned()),
            (10, "listener[0].address".to_owned()),
            (14, "trunk[0].allow[0]".to_owned()),
            (17, "trunk[1].name".to_owned()),
            (18, "trunk[1].allow[0]".to_owned()),
            (23, "media_region[0].port_min".to_owned()),
        ]
    );
    // Display: one error per line, each with file:line:col.
    let shown = errs.to_string();
    assert_eq!(shown.lines().count(), 8);
    assert!(
        shown
            .lines()
            .all(|l| l.starts_with("x.toml:") && l.contains("; ")),
        "{shown}"
    );
}

#[test]
fn unknown_keys_are_collected_across_tables() {
    let errs = errors(&with(
        "[logging]\nformt = \"json\"\n[sip.limits]\nmax_header = 10\n",
    ));
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["logging.formt", "sip.limits.max_header"]);
}

#[test]
fn unreadable_file() {
    let path =
        std::env::temp_dir().join(format!("voxgate-config-none-{}.toml", std::process::id()));
    let errs = voxgate_config::load_file(&path).unwrap_err();
    assert_eq!(errs.len(), 1);
    let e = &errs.0[0];
    assert_eq!((e.line, e.column), (None, None));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the file: no such file; allowed: a readable TOML file",
            path.display()
        )
    );
}

#[test]
fn embedded_default_name_in_errors() {
    let errs = load_str("[node]\n", "<embedded default>").unwrap_err();
    assert!(
        errs.to_string()
            .starts_with("<embedded default>:1:1: node.name: required"),
        "{errs}"
    );
}

#[test]
fn dns_name_servers_with_and_without_a_port() {
    let config = load_str(
        &with("[dns]\nname_servers = [\"192.0.2.53\", \"127.0.0.1:5353\", \"[::1]:53\"]\n"),
        "x.toml",
    )
    .unwrap();
    let want: Vec<std::net::SocketAddr> = ["192.0.2.53:53", "127.0.0.1:5353", "[::1]:53"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(config.dns.name_servers, want);
    // No [dns]: the system's resolv.conf.
    assert!(
        load_str(MINIMAL, "x.toml")
            .unwrap()
            .dns
            .name_servers
            .is_empty()
    );
}

#[test]
fn bad_dns_name_server() {
    let e = only_error(&with(
        "[dns]\nname_servers = [\"127.0.0.1\", \"ns1.example\"]\n",
    ));
    assert_eq!(
        at(&e, 15, 30, "dns.name_servers[1]"),
        "x.toml:15:30: dns.name_servers[1]: \"ns1.example\" is not valid; allowed: a list of \
         name servers, each an IP address (port 53) or an address and port such as \
         \"192.0.2.53\" or \"127.0.0.1:5353\" (default: those of /etc/resolv.conf)"
    );
}

#[test]
fn keepalive_and_out_of_service_status() {
    let trunk = "[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.1\"]\n";
    let config = load_str(
        &with(&format!(
            "{trunk}keepalive = {{ interval_s = 5 }}\nout_of_service_status = 480\n"
        )),
        "x.toml",
    )
    .unwrap();
    let t = &config.trunks[0];
    let ka = t.keepalive.unwrap();
    assert_eq!(
        (ka.interval.as_secs(), ka.down_after, ka.up_after),
        (5, 3, 2)
    );
    assert_eq!(t.out_of_service_status, 480);
    // Defaults: no keep-alive, 503.
    let config = load_str(&with(trunk), "x.toml").unwrap();
    assert_eq!(config.trunks[0].keepalive, None);
    assert_eq!(config.trunks[0].out_of_service_status, 503);

    let e = only_error(&with(&format!("{trunk}keepalive = {{ down_after = 0 }}\n")));
    assert_eq!(
        at(&e, 17, 28, "trunk[0].keepalive.down_after"),
        "x.toml:17:28: trunk[0].keepalive.down_after: 0 is out of range; allowed: 1..=100"
    );
    let e = only_error(&with(&format!("{trunk}out_of_service_status = 200\n")));
    assert!(
        at(&e, 17, 25, "trunk[0].out_of_service_status").contains("400..=699"),
        "{e}"
    );
}

#[test]
fn trusted_is_a_boolean_and_defaults_to_false() {
    let trunk = "[[trunk]]\nname = \"c\"\nallow = [\"192.0.2.1\"]\n";
    let config = load_str(&with(&format!("{trunk}trusted = true\n")), "x.toml").unwrap();
    assert!(config.trunks[0].trusted);
    // Untrusted unless said: an identity asserted by a peer is not believed by default.
    let config = load_str(&with(trunk), "x.toml").unwrap();
    assert!(!config.trunks[0].trusted);
    let e = only_error(&with(&format!("{trunk}trusted = \"yes\"\n")));
    let text = at(&e, 17, 11, "trunk[0].trusted");
    assert!(text.contains("true") && text.contains("false"), "{e}");
}
