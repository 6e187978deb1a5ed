//! RFC 3263 target selection, sans-IO: DNS records in, an ordered list of
//! next hops out. NAPTR records name the SRV owner for a transport (§4.1);
//! SRV records are ordered by priority, and by a weighted random draw within
//! a priority (RFC 2782), with the random source injected so that tests pick
//! the draws.

use std::net::{IpAddr, SocketAddr};

use voxgate_sip::TransportKind;

/// At most this many next hops are tried for one name: each may cost a
/// trying timeout, and a caller does not wait for a dozen of them.
pub const MAX_TARGETS: usize = 8;

/// One NAPTR record (RFC 3403), as much of it as SIP uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    /// Lower first.
    pub order: u16,
    /// Lower first among the same order.
    pub preference: u16,
    /// `s`: the replacement names SRV records (the only flag SIP uses).
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, ...
    pub service: String,
    /// The SRV owner name.
    pub replacement: String,
}

/// One SRV record (RFC 2782) with the addresses of its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    /// Lower first.
    pub priority: u16,
    /// Relative share among the same priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target's addresses (its A/AAAA records), in the order DNS gave them.
    pub addrs: Vec<IpAddr>,
}

/// What a name resolved to: SRV records, or one pseudo-record for an A/AAAA
/// lookup (an explicit port, or no SRV records: §4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The records, in no particular order.
    pub records: Vec<Srv>,
}

/// The NAPTR service field for SIP over `transport` (RFC 3263 §4.1).
pub fn naptr_service(transport: TransportKind) -> &'static str {
    match transport {
        TransportKind::Udp => "SIP+D2U",
        TransportKind::Tcp => "SIP+D2T",
        TransportKind::Tls => "SIPS+D2T",
    }
}

/// The SRV owner prefix for `transport` when no NAPTR record names one
/// (RFC 3263 §4.1: `_sips._tcp` for TLS).
pub fn srv_prefix(transport: TransportKind) -> &'static str {
    match transport {
        TransportKind::Udp => "_sip._udp",
        TransportKind::Tcp => "_sip._tcp",
        TransportKind::Tls => "_sips._tcp",
    }
}

/// The port of a URI without one (RFC 3261 §19.1.2).
pub fn default_port(transport: TransportKind) -> u16 {
    if transport == TransportKind::Tls {
        5061
    } else {
        5060
    }
}

/// The SRV owner names the NAPTR records give for `transport`, best first:
/// records with flag `s` and the transport's service, by order then
/// preference (RFC 3403 §4.1). Empty when none fits: then the client builds
/// the SRV name itself ([`srv_prefix`]).
pub fn srv_names(naptrs: &[Naptr], transport: TransportKind) -> Vec<String> {
    let service = naptr_service(transport);
    let mut fit: Vec<&Naptr> = naptrs
        .iter()
        .filter(|n| n.flags.eq_ignore_ascii_case("s") && n.service.eq_ignore_ascii_case(service))
        .collect();
    fit.sort_by_key(|n| (n.order, n.preference));
    let mut names: Vec<String> = Vec::new();
    for n in fit {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(&n.replacement)) {
            names.push(n.replacement.clone());
        }
    }
    names
}

/// The next hops of `resolution`, in the order they are to be tried, at
/// most [`MAX_TARGETS`]: priorities lowest first; within a priority, the
/// RFC 2782 weighted draw, `draw(total)` returning a number in `0..=total`.
pub fn order(resolution: &Resolution, mut draw: impl FnMut(u32) -> u32) -> Vec<SocketAddr> {
    let mut records: Vec<&Srv> = resolution.records.iter().collect();
    records.sort_by_key(|r| r.priority);
    let mut ordered: Vec<&Srv> = Vec::with_capacity(records.len());
    for group in records.chunk_by(|a, b| a.priority == b.priority) {
        // RFC 2782: weight-0 records first, so that they have a small chance
        // to be picked when others weigh more.
        let mut left: Vec<&Srv> = group.iter().filter(|r| r.weight == 0).copied().collect();
        left.extend(group.iter().filter(|r| r.weight > 0));
        while !left.is_empty() {
            let total: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
            let pick = draw(total).min(total);
            let mut running = 0u32;
            let at = left
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(left.remove(at));
        }
    }
    let mut hops = Vec::new();
    for r in ordered {
        for ip in &r.addrs {
            let hop = SocketAddr::new(*ip, r.port);
            if !hops.contains(&hop) {
                hops.push(hop);
            }
        }
    }
    hops.truncate(MAX_TARGETS);
    hops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, port: u16, ip: &str) -> Srv {
        Srv {
            priority,
            weight,
            port,
            addrs: vec![ip.parse().unwrap()],
        }
    }

    fn ports(hops: &[SocketAddr]) -> Vec<u16> {
        hops.iter().map(SocketAddr::port).collect()
    }

    #[test]
    fn priorities_come_before_weights() {
        let r = Resolution {
            records: vec![
                srv(20, 100, 3, "192.0.2.3"),
                srv(10, 0, 1, "192.0.2.1"),
                srv(10, 0, 2, "192.0.2.2"),
            ],
        };
        // Whatever the draws, priority 10 comes first.
        for d in [0, 1, 1000] {
            let hops = order(&r, |_| d);
            assert_eq!(ports(&hops)[2], 3, "draw {d}");
        }
        assert_eq!(ports(&order(&r, |_| 0)), [1, 2, 3]);
    }

    #[test]
    fn weights_share_the_draw() {
        // Weights 1 and 3: a draw of 0..=1 lands on the first, 2..=4 on the second.
        let r = Resolution {
            records: vec![srv(0, 1, 1, "192.0.2.1"), srv(0, 3, 2, "192.0.2.2")],
        };
        assert_eq!(ports(&order(&r, |_| 1)), [1, 2]);
        assert_eq!(ports(&order(&r, |_| 2)), [2, 1]);
        assert_eq!(ports(&order(&r, |t| t)), [2, 1]);
        // A wild random source cannot pick past the end.
        assert_eq!(ports(&order(&r, |_| u32::MAX)), [2, 1]);
        // Over every draw, the heavier record leads three times in four.
        let mut first = [0u32; 2];
        for d in 1..=4 {
            first[usize::from(order(&r, |_| d)[0].port() - 1)] += 1;
        }
        assert_eq!(first, [1, 3]);
    }

    #[test]
    fn zero_weights_come_first_in_their_priority() {
        let r = Resolution {
            records: vec![srv(0, 5, 1, "192.0.2.1"), srv(0, 0, 2, "192.0.2.2")],
        };
        assert_eq!(ports(&order(&r, |_| 0)), [2, 1]);
    }

    #[test]
    fn every_address_of_a_target_and_no_more_than_the_cap() {
        let mut many = srv(0, 0, 5060, "192.0.2.1");
        many.addrs = (1..=20u8).map(|i| IpAddr::from([192, 0, 2, i])).collect();
        let hops = order(
            &Resolution {
                records: vec![many],
            },
            |_| 0,
        );
        assert_eq!(hops.len(), MAX_TARGETS);
        assert_eq!(hops[1], "192.0.2.2:5060".parse().unwrap());
        assert!(order(&Resolution::default(), |_| 0).is_empty());
    }

    #[test]
    fn naptr_records_name_the_srv_owner_for_the_transport() {
        let naptr = |order, preference, service: &str, replacement: &str| Naptr {
            order,
            preference,
            flags: "S".into(),
            service: service.into(),
            replacement: replacement.into(),
        };
        let records = [
            naptr(50, 50, "SIP+D2U", "_sip._udp.b.example."),
            naptr(10, 50, "SIPS+D2T", "_sips._tcp.a.example."),
            naptr(10, 60, "SIP+D2U", "_sip._udp.a.example."),
            naptr(10, 60, "SIP+D2T", "_sip._tcp.a.example."),
            Naptr {
                flags: "u".into(),
                ..naptr(1, 1, "SIP+D2U", "ignored.example.")
            },
        ];
        assert_eq!(
            srv_names(&records, TransportKind::Udp),
            ["_sip._udp.a.example.", "_sip._udp.b.example."]
        );
        assert_eq!(
            srv_names(&records, TransportKind::Tls),
            ["_sips._tcp.a.example."]
        );
        assert!(srv_names(&[], TransportKind::Tcp).is_empty());
        assert_eq!(srv_prefix(TransportKind::Tls), "_sips._tcp");
    }
}
