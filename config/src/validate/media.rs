//! `[[media_region]]`: names, RTP addresses and port ranges that must not collide.

use std::net::IpAddr;
use std::ops::Range;

use super::Validator;
use crate::error::{ConfigErrorKind, Relation};
use crate::model::MediaRegion;
use crate::raw::{List, RawMediaRegion, S};
use crate::schema;

/// A checked region with the spans the overlap check reports at; `range` is `None` when
/// the port range was invalid (then it takes part in no overlap check).
struct CheckedRegion {
    region: MediaRegion,
    range: Option<Range<usize>>,
}

impl Validator<'_> {
    pub(super) fn media_regions(&mut self, raw: &Option<List<RawMediaRegion>>) -> Vec<MediaRegion> {
        let Some(list) = raw else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut checked = Vec::new();
        for (i, r) in list.get_ref().iter().enumerate() {
            if let Some(name) = &r.get_ref().name {
                let key = format!("media_region[{i}].name");
                names.push((name.get_ref().clone(), key, name.span()));
            }
            checked.push(self.media_region(i, r));
        }
        self.unique(&names, "a name no other [[media_region]] uses");
        self.port_range_overlaps(&checked);
        checked.into_iter().map(|c| c.region).collect()
    }

    fn media_region(&mut self, i: usize, raw: &S<RawMediaRegion>) -> CheckedRegion {
        let key = |k: &str| format!("media_region[{i}].{k}");
        let span = raw.span();
        let raw = raw.get_ref();
        let name = self
            .require(&raw.name, &span, &key("name"))
            .and_then(|n| self.name(n, &key("name")))
            .unwrap_or_default();
        let addresses = self
            .require(&raw.addresses, &span, &key("addresses"))
            .map(|list| {
                let list = self.non_empty(list, &key("addresses"));
                self.region_addresses(list, &key("addresses"))
            })
            .unwrap_or_default();
        let advertise = raw
            .advertise
            .as_ref()
            .map(|list| self.region_addresses(list.get_ref(), &key("advertise")))
            .unwrap_or_default();
        // Families of every address that parses, refused or not: one mistake, one error.
        let families: Vec<bool> = raw
            .addresses
            .iter()
            .flat_map(|l| l.get_ref())
            .filter_map(|a| a.get_ref().trim().parse::<IpAddr>().ok())
            .map(|a| a.is_ipv4())
            .collect();
        self.region_advertise(&families, &advertise, &key("advertise"));
        let addresses = addresses.into_iter().map(|(a, _)| a).collect();
        let advertise = advertise.into_iter().map(|(a, _)| a).collect();
        let port_min = self
            .require(&raw.port_min, &span, &key("port_min"))
            .and_then(|p| {
                let n = self.int(p, &key("port_min"), 1024, 65_534)?;
                if n % 2 != 0 {
                    self.push(
                        p.span(),
                        key("port_min"),
                        ConfigErrorKind::OddPort { found: n },
                    );
                    return None;
                }
                u16::try_from(n).ok().map(|n| (n, p.span()))
            });
        let port_max = self
            .require(&raw.port_max, &span, &key("port_max"))
            .and_then(|p| {
                let n = self.int(p, &key("port_max"), 1025, 65_535)?;
                if let Some((min, _)) = port_min
                    && n <= i64::from(min)
                {
                    let kind = ConfigErrorKind::Order {
                        found: n,
                        relation: Relation::GreaterThan,
                        other_key: key("port_min"),
                        other_value: i64::from(min),
                    };
                    self.push(p.span(), key("port_max"), kind);
                    return None;
                }
                u16::try_from(n).ok()
            });
        CheckedRegion {
            range: port_max
                .and(port_min.as_ref())
                .map(|(_, span)| span.clone()),
            region: MediaRegion {
                name,
                addresses,
                advertise,
                port_min: port_min.map_or(0, |(p, _)| p),
                port_max: port_max.unwrap_or(0),
            },
        }
    }

    /// Addresses of a region's `addresses` or `advertise` list: each a unicast
    /// IP address (no wildcard, no multicast), at most one per family (a family's media goes
    /// out of one address).
    fn region_addresses(&mut self, list: &[S<String>], key: &str) -> Vec<(IpAddr, Range<usize>)> {
        let advertised = key.ends_with("advertise");
        let mut out: Vec<(IpAddr, Range<usize>)> = Vec::new();
        for (j, a) in list.iter().enumerate() {
            let k = format!("{key}[{j}]");
            let Ok(addr) = a.get_ref().trim().parse::<IpAddr>() else {
                self.bad_value(a.span(), &k, schema::IP_ADDR);
                continue;
            };
            if addr.is_multicast() || addr.is_unspecified() {
                // A socket on a wildcard sends from whatever address the kernel picks, so
                // a multi-homed host's media would leave from an address no SDP named.
                self.bad_value(
                    a.span(),
                    &k,
                    if advertised {
                        "a unicast address peers can reach (not 0.0.0.0, :: or multicast)"
                    } else {
                        "a unicast address of this host (not 0.0.0.0, :: or multicast: bind \
                         the private address and put the public one in advertise)"
                    },
                );
                continue;
            }
            if out.iter().any(|(o, _)| o.is_ipv4() == addr.is_ipv4()) {
                let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                self.bad_value(
                    a.span(),
                    &k,
                    format!("at most one IPv4 and one IPv6 address; this is a second {family} one"),
                );
                continue;
            }
            out.push((addr, a.span()));
        }
        out
    }

    /// Every advertised address has a bound one of its family (`families`:
    /// is_ipv4 of each bound address).
    fn region_advertise(
        &mut self,
        families: &[bool],
        advertise: &[(IpAddr, Range<usize>)],
        key: &str,
    ) {
        for (j, (adv, span)) in advertise.iter().enumerate() {
            if !families.contains(&adv.is_ipv4()) {
                let family = if adv.is_ipv4() { "IPv4" } else { "IPv6" };
                self.bad_value(
                    span.clone(),
                    &format!("{key}[{j}]"),
                    format!("an address of a family in addresses (there is no {family} one to advertise it for)"),
                );
            }
        }
    }

    /// Two regions that bind the same address cannot hand out the same ports.
    fn port_range_overlaps(&mut self, regions: &[CheckedRegion]) {
        for (j, later) in regions.iter().enumerate() {
            let Some(span) = &later.range else {
                continue;
            };
            let b = &later.region;
            for (i, earlier) in regions[..j].iter().enumerate() {
                let Some(first_span) = &earlier.range else {
                    continue;
                };
                let a = &earlier.region;
                if a.port_min > b.port_max || b.port_min > a.port_max {
                    continue;
                }
                let shared = b.addresses.iter().find(|x| a.addresses.contains(x));
                if let Some(address) = shared {
                    let kind = ConfigErrorKind::PortRangeOverlap {
                        address: *address,
                        port_min: b.port_min,
                        port_max: b.port_max,
                        other_key: format!("media_region[{i}].port_min"),
                        other_min: a.port_min,
                        other_max: a.port_max,
                        other_line: self.line(first_span),
                        other_region: a.name.clone(),
                    };
                    self.push(span.clone(), format!("media_region[{j}].port_min"), kind);
                }
            }
        }
    }
}
