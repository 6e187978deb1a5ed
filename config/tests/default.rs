//! The embedded default (config/voxgate.toml) loads and has exactly the documented values.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use voxgate_config::{
    Calls, Config, Control, DEFAULT_TOML, Destination, ListenerTransport, LogFormat, Numbering,
    TlsFiles, TrunkName, UserMatch, default_config, load_str,
};

fn default() -> Config {
    match default_config() {
        Ok(c) => c,
        Err(e) => panic!("the embedded default is invalid:\n{e}"),
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

#[test]
fn node_admin_logging() {
    let c = default();
    assert_eq!(c.source, "<embedded default>");
    assert_eq!(c.node.name, "voxgate-1");
    assert_eq!(c.node.region, "local");
    assert_eq!(c.admin.listen, loopback(9060));
    assert_eq!(c.logging.format, LogFormat::Pretty);
    assert_eq!(c.logging.level, "info");
    assert!(c.logging.redact_numbers);
}

#[test]
fn sip_timers_and_limits_are_the_rfc_defaults() {
    let c = default();
    assert_eq!(c.timers.t1, Duration::from_millis(500));
    assert_eq!(c.timers.t2, Duration::from_millis(4000));
    assert_eq!(c.timers.t4, Duration::from_millis(5000));
    assert_eq!(c.limits.max_message_size, 65535);
    assert_eq!(c.limits.max_headers, 256);
    assert_eq!(
        c.limits.connection_idle_timeout,
        Some(Duration::from_secs(300))
    );
}

#[test]
fn listeners_udp_tcp_5060_and_self_signed_tls_5061() {
    let c = default();
    let got: Vec<(ListenerTransport, SocketAddr)> = c
        .listeners
        .iter()
        .map(|l| (l.transport, l.address))
        .collect();
    assert_eq!(
        got,
        [
            (ListenerTransport::Udp, loopback(5060)),
            (ListenerTransport::Tcp, loopback(5060)),
            (ListenerTransport::Tls, loopback(5061)),
        ]
    );
    for l in &c.listeners {
        assert_eq!(l.recv_buffer, None);
        assert_eq!(l.send_buffer, None);
    }
    assert_eq!(c.listeners[0].tls, None);
    assert_eq!(c.listeners[1].tls, None);
    // No certificate configured: the binary generates a self-signed one.
    assert_eq!(
        c.listeners[2].tls,
        Some(TlsFiles {
            certificate: None,
            client_ca: None
        })
    );
}

#[test]
fn one_loopback_trunk() {
    let c = default();
    assert_eq!(c.trunks.len(), 1);
    let t = &c.trunks[0];
    assert_eq!(t.name.as_str(), "loopback");
    assert_eq!(t.allow, ["127.0.0.1/32".parse::<ipnet::IpNet>().unwrap()]);
    assert_eq!(
        t.transports,
        [
            ListenerTransport::Udp,
            ListenerTransport::Tcp,
            ListenerTransport::Tls
        ]
    );
    assert_eq!(t.tls_peer_name, None);
    assert_eq!(t.media_region, "local");
    assert_eq!((t.max_calls, t.max_cps), (None, None));
    assert_eq!(t.numbering, None);

    assert_eq!(
        c.trunk_for(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map(|t| t.name.as_str()),
        Some("loopback")
    );
    assert!(
        c.trunk_for(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
            .is_none()
    );
    assert!(c.trunk_for("::1".parse().unwrap()).is_none());
}

#[test]
fn one_local_media_region() {
    let c = default();
    assert_eq!(c.media_regions.len(), 1);
    let r = &c.media_regions[0];
    assert_eq!(r.name, "local");
    assert_eq!(r.addresses, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert_eq!((r.port_min, r.port_max), (20000, 20999));
    assert_eq!(c.media_region("local").map(|r| r.port_min), Some(20000));
}

#[test]
fn an_api_route_for_7_then_one_catch_all_route_to_5080() {
    let c = default();
    assert_eq!(c.routes.len(), 2);
    let api = &c.routes[0];
    assert_eq!(api.name, "api-demo");
    assert_eq!(api.match_user, UserMatch::Prefix("7".to_owned()));
    assert_eq!(api.control, Control::Api);
    assert!(api.destinations.is_empty());
    let r = &c.routes[1];
    assert_eq!(r.name, "default");
    assert_eq!(r.control, Control::Static);
    assert_eq!(
        (r.trunk.as_ref(), r.follow_redirects, r.ring_timeout),
        (None, false, None)
    );
    assert_eq!(r.match_user, UserMatch::Prefix(String::new()));
    assert_eq!(
        r.destinations,
        [Destination {
            uri: "sip:127.0.0.1:5080".to_owned(),
            transport: ListenerTransport::Udp,
            trunk: TrunkName::new("loopback"),
            keepalive: None,
        }]
    );
    assert!(c.trunks.iter().all(|t| t.control == Control::Static));
}

#[test]
fn the_api_listens_on_loopback_9070_with_the_documented_demo_token() {
    let c = default();
    let api = c.api.unwrap();
    assert_eq!(api.listen, loopback(9070));
    assert_eq!(api.no_client_status, 480);
    assert_eq!(api.tokens.len(), 1);
    assert_eq!(api.tokens[0].name, "demo");
    // The sample says the demo token is "voxgate-demo-token": this is its SHA-256.
    assert!(DEFAULT_TOML.contains("\"voxgate-demo-token\""));
    let hex: String = api.tokens[0]
        .sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "57f7bfc84f60e42bc14bf72cc2946104c52b9e8d193269051d03816e0cb4f243"
    );
}

#[test]
fn default_toml_is_the_sample_file() {
    let on_disk = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/voxgate.toml"));
    assert_eq!(on_disk.ok().as_deref(), Some(voxgate_config::DEFAULT_TOML));
}

#[test]
fn calls_are_the_documented_defaults_and_no_cdr() {
    let c = default();
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
    // The values written in the sample are the defaults of an absent section.
    assert_eq!(c.calls, Calls::default());
    assert_eq!(c.cdr, None);
    for l in &c.listeners {
        assert_eq!(l.advertise, None);
        assert_eq!(l.advertised(), l.address);
    }
}

/// Strips `# ` from the lines of `block` (which must be in the sample, commented out).
fn uncommented(text: &str, block: &str) -> String {
    assert!(text.contains(block), "not in the sample:\n{block}");
    let open: Vec<&str> = block
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect();
    text.replacen(block, &open.join("\n"), 1)
}

/// The commented-out examples of the sample are valid when uncommented.
#[test]
fn sample_examples_load_when_uncommented() {
    let mut text = uncommented(
        DEFAULT_TOML,
        "# [[trunk]]\n# name = \"carrier-a\"\n# allow = [\"192.0.2.0/28\", \"198.51.100.7\", \"2001:db8:a::/48\"]\n\
         # transports = [\"tls\"]\n# tls_peer_name = \"sbc.carrier-a.example\"\n# media_region = \"local\"\n\
         # max_calls = 100\n# max_cps = 10\n\
         # numbering = { country_code = \"44\", national_prefix = \"0\", international_prefix = \"00\" }",
    );
    let start = text
        .find("# [[route]]\n# name = \"berlin-hamburg\"")
        .unwrap();
    let end = start + text[start..].find("# ]\n").unwrap() + 3;
    let block = text[start..end].to_owned();
    text = uncommented(&text, &block);
    text = uncommented(
        &text,
        "# [cdr]\n# path = \"cdr.jsonl\"\n# redact_numbers = true",
    );
    // The CDR folder is the config file's: the crate folder here.
    let name = concat!(env!("CARGO_MANIFEST_DIR"), "/voxgate.toml");
    let c = match load_str(&text, name) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n{text}"),
    };
    let t = c.trunk(&TrunkName::new("carrier-a").unwrap()).unwrap();
    assert_eq!((t.max_calls, t.max_cps), (Some(100), Some(10)));
    assert_eq!(
        t.numbering,
        Some(Numbering {
            country_code: "44".to_owned(),
            national_prefix: Some("0".to_owned()),
            international_prefix: Some("00".to_owned()),
        })
    );
    let names: Vec<&str> = c.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["berlin-hamburg", "api-demo", "default"]);
    let r = &c.routes[0];
    assert!(r.match_user.matches("+49301234567"));
    assert_eq!(r.trunk, TrunkName::new("carrier-a"));
    assert!(r.follow_redirects);
    assert_eq!(r.ring_timeout, Some(Duration::from_secs(30)));
    let cdr = c.cdr.unwrap();
    assert!(
        cdr.path.ends_with("config/cdr.jsonl"),
        "{}",
        cdr.path.display()
    );
    assert!(cdr.redact_numbers);
}
