//! `[[listener]]`: addresses, buffers, TLS files, and sockets that would collide at bind.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;

use super::{Validator, transport};
use crate::error::ConfigErrorKind;
use crate::model::{Admin, Listener, ListenerTransport, MediaRegion, TlsFiles};
use crate::raw::{List, RawConfig, RawListener, RawMediaRegion, S};
use crate::schema;

/// The rule quoted when two sockets would take the same port.
pub(super) const ONE_SOCKET_PER_PORT: &str = "one socket per protocol, address and port \
     (tcp, tls, the admin and the API HTTP listeners share TCP ports; 0.0.0.0 and [::] take the port on every address)";

/// A checked listener and where it came from, for the collision checks.
pub(super) struct CheckedListener {
    pub listener: Listener,
    index: usize,
    /// Span of the address; `None` when transport or address was invalid, and then the
    /// listener takes part in no collision check.
    address_span: Option<Range<usize>>,
}

impl Validator<'_> {
    pub(super) fn listeners(&mut self, raw: &Option<List<RawListener>>) -> Vec<CheckedListener> {
        let Some(list) = self.require(raw, &(0..0), "listener") else {
            return Vec::new();
        };
        let checked: Vec<CheckedListener> = self
            .non_empty(list, "listener")
            .iter()
            .enumerate()
            .map(|(i, l)| self.listener(i, l))
            .collect();
        self.listener_collisions(&checked);
        checked
    }

    fn listener(&mut self, index: usize, raw: &S<RawListener>) -> CheckedListener {
        let key = |k: &str| format!("listener[{index}].{k}");
        let span = raw.span();
        let raw = raw.get_ref();
        let transport_name = self
            .require(&raw.transport, &span, &key("transport"))
            .map(|t| transport(*t.get_ref()));
        let address = self
            .require(&raw.address, &span, &key("address"))
            .and_then(|a| {
                self.socket_addr(a, &key("address"))
                    .map(|addr| (addr, a.span()))
            });
        let mut buffer = |value: &Option<S<i64>>, name: &str| {
            let n = value
                .as_ref()
                .and_then(|v| self.int(v, &key(name), 0, i64::from(i32::MAX)))?;
            // 0 means "leave the OS default", like absence.
            usize::try_from(n).ok().filter(|&n| n > 0)
        };
        let recv_buffer = buffer(&raw.recv_buffer, "recv_buffer");
        let send_buffer = buffer(&raw.send_buffer, "send_buffer");
        let tls = match transport_name {
            Some(ListenerTransport::Tls) => Some(self.tls_files(index, raw)),
            Some(t) => {
                for (value, name) in [
                    (&raw.certificate, "certificate"),
                    (&raw.private_key, "private_key"),
                    (&raw.client_ca, "client_ca"),
                ] {
                    if let Some(v) = value {
                        self.push(
                            v.span(),
                            key(name),
                            ConfigErrorKind::TlsOnly { transport: t },
                        );
                    }
                }
                None
            }
            None => None,
        };
        let advertise = self.advertise(index, raw, address.as_ref());
        let address_span = transport_name
            .and(address.as_ref())
            .map(|(_, span)| span.clone());
        CheckedListener {
            listener: Listener {
                transport: transport_name.unwrap_or(ListenerTransport::Udp),
                // Placeholder: with no valid address the load fails anyway.
                address: address.map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |(a, _)| a),
                recv_buffer,
                send_buffer,
                tls,
                advertise,
            },
            index,
            address_span,
        }
    }

    /// The address for Via and Contact: a unicast address of the listener's family, and
    /// required when the listener binds a wildcard (there is nothing else to advertise).
    fn advertise(
        &mut self,
        index: usize,
        raw: &RawListener,
        address: Option<&(SocketAddr, Range<usize>)>,
    ) -> Option<IpAddr> {
        let key = format!("listener[{index}].advertise");
        let Some(value) = &raw.advertise else {
            if let Some((addr, span)) = address
                && addr.ip().is_unspecified()
            {
                let kind = ConfigErrorKind::AdvertiseRequired { address: *addr };
                self.push(span.clone(), key, kind);
            }
            return None;
        };
        let Ok(ip) = value.get_ref().trim().parse::<IpAddr>() else {
            self.bad_value(value.span(), &key, schema::IP_ADDR);
            return None;
        };
        if ip.is_unspecified() || ip.is_multicast() {
            self.bad_value(
                value.span(),
                &key,
                "a unicast address peers can reach (not 0.0.0.0, :: or multicast)",
            );
            return None;
        }
        if let Some((addr, _)) = address
            && addr.is_ipv4() != ip.is_ipv4()
        {
            let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
            self.bad_value(
                value.span(),
                &key,
                format!("an {family} address, the family of address {addr}"),
            );
            return None;
        }
        Some(ip)
    }

    fn tls_files(&mut self, index: usize, raw: &RawListener) -> TlsFiles {
        let key = |k: &str| format!("listener[{index}].{k}");
        let certificate = match (&raw.certificate, &raw.private_key) {
            (Some(cert), Some(pkey)) => {
                let cert = self.file(cert, &key("certificate"));
                let pkey = self.file(pkey, &key("private_key"));
                cert.zip(pkey)
            }
            (Some(only), None) | (None, Some(only)) => {
                let (present, missing) = if raw.certificate.is_some() {
                    ("certificate", "private_key")
                } else {
                    ("private_key", "certificate")
                };
                let kind = ConfigErrorKind::IncompleteKeyPair {
                    missing_key: key(missing),
                };
                self.push(only.span(), key(present), kind);
                // The half that is there may be wrong too; say so in the same run.
                self.file(only, &key(present));
                None
            }
            (None, None) => None,
        };
        let client_ca = raw
            .client_ca
            .as_ref()
            .and_then(|ca| self.file(ca, &key("client_ca")));
        TlsFiles {
            certificate,
            client_ca,
        }
    }

    /// A file path from the file, resolved against the config file's folder; it must be
    /// a readable file now, so that a typo fails the load, not the first TLS handshake.
    pub(super) fn file(&mut self, value: &S<String>, key: &str) -> Option<PathBuf> {
        if value.get_ref().is_empty() {
            self.bad_value(value.span(), key, schema::FILE);
            return None;
        }
        // Absolute, so that the error names the file unambiguously and the binary finds it
        // whatever its working directory.
        let joined = self.base_dir.join(value.get_ref());
        let path = std::path::absolute(&joined).unwrap_or(joined);
        let readable = std::fs::metadata(&path).and_then(|m| {
            if m.is_dir() {
                Err(io::Error::from(io::ErrorKind::IsADirectory))
            } else {
                std::fs::File::open(&path).map(drop)
            }
        });
        match readable {
            Ok(()) => Some(path),
            Err(e) => {
                let kind = ConfigErrorKind::FileNotFound {
                    path,
                    reason: e.kind(),
                };
                self.push(value.span(), key, kind);
                None
            }
        }
    }

    fn listener_collisions(&mut self, listeners: &[CheckedListener]) {
        for (j, later) in listeners.iter().enumerate() {
            let Some(span) = &later.address_span else {
                continue;
            };
            let l = &later.listener;
            let first = listeners[..j].iter().find(|earlier| {
                earlier.address_span.is_some()
                    && earlier.listener.transport.is_stream() == l.transport.is_stream()
                    && sockets_collide(earlier.listener.address, l.address)
            });
            if let Some(first) = first {
                let first_line = first.address_span.as_ref().map_or(0, |s| self.line(s));
                let kind = ConfigErrorKind::Duplicate {
                    found: format!("{} {}", l.transport, l.address),
                    first_key: format!("listener[{}].address", first.index),
                    first_line,
                    rule: ONE_SOCKET_PER_PORT,
                };
                self.push(
                    span.clone(),
                    format!("listener[{}].address", later.index),
                    kind,
                );
            }
        }
    }

    /// A UDP listener inside a media region's RTP port range on its address: one of the
    /// two fails to bind, the listener at start or, worse, a call's media at random later.
    pub(super) fn media_port_collisions(
        &mut self,
        listeners: &[CheckedListener],
        regions: &[MediaRegion],
        raw: &Option<List<RawMediaRegion>>,
    ) {
        for l in listeners {
            let Some(span) = &l.address_span else {
                continue;
            };
            let addr = l.listener.address;
            if l.listener.transport.is_stream() {
                continue;
            }
            let hit = regions.iter().enumerate().find(|(_, r)| {
                // An invalid range is 0 here and reported on its own.
                r.port_min > 0
                    && (r.port_min..=r.port_max).contains(&addr.port())
                    && r.addresses
                        .iter()
                        .any(|a| sockets_collide(addr, SocketAddr::new(*a, addr.port())))
            });
            if let Some((i, _)) = hit {
                let first_line = raw
                    .as_ref()
                    .and_then(|list| list.get_ref().get(i))
                    .and_then(|r| r.get_ref().port_min.as_ref())
                    .map_or(0, |p| self.line(&p.span()));
                let kind = ConfigErrorKind::Duplicate {
                    found: format!("udp {addr}"),
                    first_key: format!("media_region[{i}].port_min"),
                    first_line,
                    rule: "a UDP port outside the RTP ports (port_min..=port_max) of every \
                           media region on the same address",
                };
                self.push(span.clone(), format!("listener[{}].address", l.index), kind);
            }
        }
    }

    /// The admin HTTP server binds a TCP port too: it must not take a tcp/tls listener's.
    pub(super) fn admin_collisions(
        &mut self,
        raw: &RawConfig,
        admin: &Admin,
        listeners: &[CheckedListener],
    ) {
        // Only an admin address written in the file has a place to report at.
        let section = raw.admin.as_ref().map(|a| a.get_ref());
        if let Some(listen) = section.and_then(|a| a.listen.as_ref()) {
            self.tcp_collision(listen.span(), "admin.listen", admin.listen, listeners);
        }
        let (Some(public), Some(at)) = (
            admin.public_listen,
            section.and_then(|a| a.public_listen.as_ref()),
        ) else {
            return;
        };
        if sockets_collide(public, admin.listen) {
            let listen_span = section.and_then(|a| a.listen.as_ref()).map(S::span);
            let kind = ConfigErrorKind::Duplicate {
                found: format!("tcp {public}"),
                first_key: if listen_span.is_some() {
                    "admin.listen".to_owned()
                } else {
                    "admin.listen (its default)".to_owned()
                },
                first_line: listen_span.map_or(0, |s| self.line(&s)),
                rule: ONE_SOCKET_PER_PORT,
            };
            self.push(at.span(), "admin.public_listen", kind);
        }
        self.tcp_collision(at.span(), "admin.public_listen", public, listeners);
    }

    /// Reports `address` (an HTTP listener's, written at `span` under `key`) when it would
    /// take the TCP port of a tcp or tls listener.
    pub(super) fn tcp_collision(
        &mut self,
        span: Range<usize>,
        key: &str,
        address: SocketAddr,
        listeners: &[CheckedListener],
    ) {
        let first = listeners.iter().find(|l| {
            l.address_span.is_some()
                && l.listener.transport.is_stream()
                && sockets_collide(l.listener.address, address)
        });
        if let Some(first) = first {
            let first_line = first.address_span.as_ref().map_or(0, |s| self.line(s));
            let kind = ConfigErrorKind::Duplicate {
                found: format!("tcp {address}"),
                first_key: format!("listener[{}].address", first.index),
                first_line,
                rule: ONE_SOCKET_PER_PORT,
            };
            self.push(span, key, kind);
        }
    }
}

/// Whether binding both addresses (same protocol) fails: the same port, and the same IP
/// or an unspecified IP of the same family. Port 0 asks the OS for a free port, so never.
/// (A `[::]` socket may also take IPv4 ports when dual-stack; that depends on the host's
/// IPV6_V6ONLY default, so it is left to bind time.)
pub(crate) fn sockets_collide(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}
