//! Trunk lookup by source address, and the allow-list overlap check against a brute-force
//! oracle.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use voxgate_config::{ConfigErrorKind, load_str};

mod support;
use support::MINIMAL as HEAD;

fn config_with_trunks(trunks: &[(&str, Vec<String>)]) -> String {
    let mut text = HEAD.to_owned();
    for (name, allow) in trunks {
        let quoted: Vec<String> = allow.iter().map(|a| format!("\"{a}\"")).collect();
        write!(
            text,
            "\n[[trunk]]\nname = \"{name}\"\nallow = [{}]\n",
            quoted.join(", ")
        )
        .unwrap();
    }
    text
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn trunk_for_finds_the_one_trunk_holding_the_address() {
    let text = config_with_trunks(&[
        ("a", vec!["192.0.2.0/25".into(), "2001:db8:a::/48".into()]),
        (
            "b",
            vec![
                "192.0.2.128/25".into(),
                "198.51.100.7".into(),
                "2001:db8:b::1".into(),
            ],
        ),
        // Nested CIDRs within one trunk are allowed.
        ("c", vec!["10.0.0.0/8".into(), "10.1.0.0/16".into()]),
    ]);
    let c = load_str(&text, "x.toml").unwrap();
    let name = |addr: &str| c.trunk_for(ip(addr)).map(|t| t.name.as_str());
    assert_eq!(name("192.0.2.0"), Some("a"));
    assert_eq!(name("192.0.2.127"), Some("a"));
    assert_eq!(name("192.0.2.128"), Some("b"));
    assert_eq!(name("192.0.2.255"), Some("b"));
    assert_eq!(name("198.51.100.7"), Some("b"));
    assert_eq!(name("198.51.100.8"), None);
    assert_eq!(name("2001:db8:a:ffff::1"), Some("a"));
    assert_eq!(name("2001:db8:b::1"), Some("b"));
    assert_eq!(name("2001:db8:b::2"), None);
    assert_eq!(name("10.1.2.3"), Some("c"));
    assert_eq!(name("10.200.0.1"), Some("c"));
    // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6.
    assert_eq!(name("::ffff:192.0.2.200"), Some("b"));
    assert_eq!(name("::ffff:203.0.113.1"), None);
    let b = c
        .trunk(&c.trunk_for(ip("192.0.2.200")).unwrap().name)
        .unwrap();
    assert_eq!(b.allow.len(), 3);
}

/// A tiny deterministic generator, so that the test needs no extra crate and never flakes.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random network in a small space, so that overlaps are frequent.
fn random_net(rng: &mut Lcg) -> IpNet {
    if rng.below(4) == 0 {
        let addr: IpAddr = format!("2001:db8:{:x}::{:x}", rng.below(4), rng.below(4))
            .parse()
            .unwrap();
        let len = [32, 34, 48, 64, 126, 128][rng.below(6) as usize];
        IpNet::new(addr, len).unwrap().trunc()
    } else {
        let addr: IpAddr = format!("10.{}.{}.{}", rng.below(8), rng.below(4), rng.below(256))
            .parse()
            .unwrap();
        let len = [8, 16, 22, 24, 28, 30, 32, 32][rng.below(8) as usize];
        IpNet::new(addr, len).unwrap().trunc()
    }
}

#[test]
fn overlap_check_agrees_with_brute_force() {
    let mut rng = Lcg(0x5eed);
    let mut total_overlaps = 0;
    let mut valid_rounds = 0;
    for round in 0..200 {
        let trunk_count = 2 + rng.below(3) as usize;
        let trunks: Vec<(String, Vec<IpNet>)> = (0..trunk_count)
            .map(|t| {
                let n = 1 + rng.below(4) as usize;
                (
                    format!("t{t}"),
                    (0..n).map(|_| random_net(&mut rng)).collect(),
                )
            })
            .collect();

        // Oracle: every pair of CIDRs of two different trunks where one contains the other.
        let mut expected = 0;
        for (i, (_, a)) in trunks.iter().enumerate() {
            for (_, b) in &trunks[i + 1..] {
                for x in a {
                    for y in b {
                        if x.contains(y) || y.contains(x) {
                            expected += 1;
                        }
                    }
                }
            }
        }
        total_overlaps += expected;

        let spec: Vec<(&str, Vec<String>)> = trunks
            .iter()
            .map(|(n, nets)| (n.as_str(), nets.iter().map(ToString::to_string).collect()))
            .collect();
        let text = config_with_trunks(&spec);
        let got = match load_str(&text, "x.toml") {
            Ok(c) => {
                valid_rounds += 1;
                // Without overlaps, every address of every CIDR names its own trunk.
                for (name, nets) in &trunks {
                    for net in nets {
                        let found = c.trunk_for(net.network()).map(|t| t.name.to_string());
                        assert_eq!(
                            found.as_deref(),
                            Some(name.as_str()),
                            "round {round}\n{text}"
                        );
                    }
                }
                0
            }
            Err(errs) => {
                assert!(
                    errs.iter()
                        .all(|e| matches!(e.kind, ConfigErrorKind::Overlap { .. })),
                    "round {round}: {errs}"
                );
                errs.len()
            }
        };
        assert_eq!(got, expected, "round {round}\n{text}");
    }
    // The generator must actually produce both outcomes.
    assert!(total_overlaps > 50, "{total_overlaps}");
    assert!(valid_rounds > 20, "{valid_rounds}");
}

/// A trunk's `listener` names a listener by its address; one that names none is an error
/// at the key, listing the listeners there are.
#[test]
fn trunk_listener_must_name_a_listener() {
    let second = "\n[[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5070\"\n";
    let ok = format!(
        "{HEAD}{second}\n[[trunk]]\nname = \"b\"\nallow = [\"192.0.2.1\"]\nlistener = \"127.0.0.1:5070\"\n"
    );
    let config = load_str(&ok, "t.toml").unwrap();
    let trunk = config
        .trunks
        .iter()
        .find(|t| t.name.as_str() == "b")
        .unwrap();
    assert_eq!(trunk.listener, Some("127.0.0.1:5070".parse().unwrap()));

    let bad = ok.replace(
        "listener = \"127.0.0.1:5070\"",
        "listener = \"127.0.0.1:5080\"",
    );
    let errors = load_str(&bad, "t.toml").unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("trunk[0].listener"), "{text}");
    assert!(text.contains("127.0.0.1:5070"), "{text}");
    assert!(
        errors
            .iter()
            .any(|e| matches!(e.kind, ConfigErrorKind::UnknownReference { .. })),
        "{text}"
    );
}

/// A trunk's `advertise` is a unicast IP address; anything else is an error at the key,
/// with its line, saying what is allowed.
#[test]
fn trunk_advertise_is_a_unicast_ip_address() {
    let trunk = |value: &str| {
        format!(
            "{HEAD}\n[[trunk]]\nname = \"b\"\nallow = [\"192.0.2.1\"]\nadvertise = \"{value}\"\n"
        )
    };
    let config = load_str(&trunk("203.0.113.10"), "t.toml").unwrap();
    let b = config
        .trunks
        .iter()
        .find(|t| t.name.as_str() == "b")
        .unwrap();
    assert_eq!(b.advertise, Some("203.0.113.10".parse().unwrap()));
    for bad in [
        "carrier.example",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "203.0.113.10:5060",
    ] {
        let text = load_str(&trunk(bad), "t.toml").unwrap_err().to_string();
        assert!(text.contains("t.toml:"), "{bad}: {text}");
        assert!(text.contains("trunk[0].advertise"), "{bad}: {text}");
        assert!(text.contains("address"), "{bad}: {text}");
    }
}
