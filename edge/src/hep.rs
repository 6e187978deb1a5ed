//! HEP v3 export (the Homer encapsulation protocol, as Homer's collectors
//! heplify-server and homer-app read it): every SIP message received and
//! sent, with its addresses and time, in one UDP datagram to the collector
//! of `[hep] address`.
//!
//! [`encode`] is the wire format alone; [`HepTap`] is the thin sender the
//! core's driver calls for each message. Sending never blocks: a datagram
//! the socket cannot take now is dropped and counted
//! (`voxgate_hep_packets_total{result="failed"}`), as a capture is worth
//! less than the call.

use crate::metrics::Metrics;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::SystemTime;
use tracing::{info, warn};
use voxgate_config::{Config, Hep};
use voxgate_sip::TransportKind;
use voxgate_sip::transaction::Transmit;
use voxgate_sip::transport::TransportEvent;

/// HEP chunk types (vendor 0, the generic ones).
mod chunk {
    pub const IP_FAMILY: u16 = 0x0001;
    pub const IP_PROTO: u16 = 0x0002;
    pub const IPV4_SRC: u16 = 0x0003;
    pub const IPV4_DST: u16 = 0x0004;
    pub const IPV6_SRC: u16 = 0x0005;
    pub const IPV6_DST: u16 = 0x0006;
    pub const SRC_PORT: u16 = 0x0007;
    pub const DST_PORT: u16 = 0x0008;
    pub const TIME_SECS: u16 = 0x0009;
    pub const TIME_MICROS: u16 = 0x000a;
    pub const PROTO_TYPE: u16 = 0x000b;
    pub const CAPTURE_ID: u16 = 0x000c;
    pub const PAYLOAD: u16 = 0x000f;
}

/// HEP's protocol type for SIP.
const PROTO_SIP: u8 = 1;
/// A HEP packet's length is a u16: larger messages are not exported.
const MAX_PACKET: usize = u16::MAX as usize;

/// One captured message.
#[derive(Clone, Copy, Debug)]
pub struct Capture<'a> {
    /// Who sent it.
    pub src: SocketAddr,
    /// Who it went to.
    pub dst: SocketAddr,
    /// Its transport (TLS shows as TCP: HEP carries the IP protocol).
    pub transport: TransportKind,
    /// When it was received or sent.
    pub at: SystemTime,
    /// The SIP message.
    pub payload: &'a [u8],
}

/// Encodes `c` as one HEP v3 packet into `out` (cleared first); `false`
/// when it cannot be (mixed address families, too large).
pub fn encode(c: &Capture<'_>, capture_id: u32, out: &mut Vec<u8>) -> bool {
    out.clear();
    let (src, dst) = (c.src.ip().to_canonical(), c.dst.ip().to_canonical());
    out.extend_from_slice(b"HEP3\0\0");
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            put(out, chunk::IP_FAMILY, &[2]);
            put(out, chunk::IPV4_SRC, &s.octets());
            put(out, chunk::IPV4_DST, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            put(out, chunk::IP_FAMILY, &[10]);
            put(out, chunk::IPV6_SRC, &s.octets());
            put(out, chunk::IPV6_DST, &d.octets());
        }
        _ => return false,
    }
    let proto = match c.transport {
        TransportKind::Udp => 17,
        TransportKind::Tcp | TransportKind::Tls => 6,
    };
    put(out, chunk::IP_PROTO, &[proto]);
    put(out, chunk::SRC_PORT, &c.src.port().to_be_bytes());
    put(out, chunk::DST_PORT, &c.dst.port().to_be_bytes());
    let since =
        c.at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
    let secs = u32::try_from(since.as_secs()).unwrap_or(u32::MAX);
    put(out, chunk::TIME_SECS, &secs.to_be_bytes());
    put(
        out,
        chunk::TIME_MICROS,
        &since.subsec_micros().to_be_bytes(),
    );
    put(out, chunk::PROTO_TYPE, &[PROTO_SIP]);
    put(out, chunk::CAPTURE_ID, &capture_id.to_be_bytes());
    if out.len() + 6 + c.payload.len() > MAX_PACKET {
        return false;
    }
    put(out, chunk::PAYLOAD, c.payload);
    let total = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
    out[4..6].copy_from_slice(&total);
    true
}

/// One chunk: vendor 0, type, length (header included), value. Callers keep
/// values far below 65 KB (the payload is checked before).
fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(6 + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

/// The export as the core's driver holds it: off, or a non-blocking socket
/// towards the collector; a reload can turn it on, off or elsewhere.
pub struct HepTap {
    export: Option<(Hep, UdpSocket)>,
    /// voxgate's bound SIP listeners: the source of what it sends.
    locals: Vec<(TransportKind, SocketAddr)>,
    /// Reused for every packet.
    buf: Vec<u8>,
    metrics: Metrics,
}

impl HepTap {
    /// The export `config` asks for (none without `[hep]`).
    pub fn new(
        config: &Config,
        locals: Vec<(TransportKind, SocketAddr)>,
        metrics: Metrics,
    ) -> HepTap {
        let mut tap = HepTap {
            export: None,
            locals,
            buf: Vec::new(),
            metrics,
        };
        tap.reconfigure(config);
        tap
    }

    /// Follows a new config's `[hep]`.
    pub fn reconfigure(&mut self, config: &Config) {
        if self.export.as_ref().map(|(h, _)| *h) == config.hep {
            return;
        }
        self.export = config
            .hep
            .and_then(|hep| match socket_towards(hep.address) {
                Ok(socket) => {
                    info!(collector = %hep.address, "HEP export on");
                    Some((hep, socket))
                }
                Err(e) => {
                    warn!(collector = %hep.address, error = %e, "HEP export not started");
                    None
                }
            });
        if self.export.is_some() && self.buf.capacity() == 0 {
            self.buf.reserve(2048);
        }
    }

    /// A message received (other transport events are no SIP).
    pub fn received(&mut self, event: &TransportEvent) {
        if self.export.is_none() {
            return;
        }
        if let TransportEvent::Message(m) = event {
            self.send(&Capture {
                src: m.peer.addr,
                dst: m.local,
                transport: m.peer.transport,
                at: SystemTime::now(),
                payload: &m.bytes,
            });
        }
    }

    /// A message voxgate sends.
    pub fn sent(&mut self, t: &Transmit) {
        if self.export.is_none() {
            return;
        }
        let (to, transport) = (t.to.addr, t.to.transport);
        // The listener of that transport (and family) it leaves from.
        let local = self
            .locals
            .iter()
            .find(|(k, a)| *k == transport && a.is_ipv4() == to.is_ipv4())
            .or_else(|| self.locals.iter().find(|(k, _)| *k == transport))
            .map(|(_, a)| *a);
        let Some(local) = local else { return };
        self.send(&Capture {
            src: local,
            dst: to,
            transport,
            at: SystemTime::now(),
            payload: &t.bytes,
        });
    }

    fn send(&mut self, c: &Capture<'_>) {
        let Some((hep, socket)) = &self.export else {
            return;
        };
        let ok = encode(c, hep.capture_id, &mut self.buf)
            && socket.send_to(&self.buf, hep.address).is_ok();
        self.metrics.hep_packet(ok);
    }
}

/// A non-blocking UDP socket of the collector's family.
fn socket_towards(collector: SocketAddr) -> std::io::Result<UdpSocket> {
    let any = match collector {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Chunks of a packet by type, checking the framing on the way.
    fn chunks(packet: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&packet[..4], b"HEP3");
        assert_eq!(
            usize::from(u16::from_be_bytes([packet[4], packet[5]])),
            packet.len()
        );
        let mut out = Vec::new();
        let mut rest = &packet[6..];
        while !rest.is_empty() {
            assert_eq!(u16::from_be_bytes([rest[0], rest[1]]), 0, "vendor 0");
            let kind = u16::from_be_bytes([rest[2], rest[3]]);
            let len = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
            out.push((kind, rest[6..len].to_vec()));
            rest = &rest[len..];
        }
        out
    }

    fn value(chunks: &[(u16, Vec<u8>)], kind: u16) -> Vec<u8> {
        chunks.iter().find(|(k, _)| *k == kind).unwrap().1.clone()
    }

    #[test]
    fn an_ipv4_udp_message_as_hep3_chunks() {
        let c = Capture {
            src: "192.0.2.1:5060".parse().unwrap(),
            dst: "198.51.100.7:5080".parse().unwrap(),
            transport: TransportKind::Udp,
            at: SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
            payload: b"OPTIONS sip:x SIP/2.0\r\n\r\n",
        };
        let mut buf = Vec::new();
        assert!(encode(&c, 2001, &mut buf));
        let ch = chunks(&buf);
        assert_eq!(value(&ch, chunk::IP_FAMILY), [2]);
        assert_eq!(value(&ch, chunk::IP_PROTO), [17]);
        assert_eq!(value(&ch, chunk::IPV4_SRC), [192, 0, 2, 1]);
        assert_eq!(value(&ch, chunk::IPV4_DST), [198, 51, 100, 7]);
        assert_eq!(value(&ch, chunk::SRC_PORT), 5060u16.to_be_bytes());
        assert_eq!(value(&ch, chunk::DST_PORT), 5080u16.to_be_bytes());
        assert_eq!(value(&ch, chunk::TIME_SECS), 1_700_000_000u32.to_be_bytes());
        assert_eq!(value(&ch, chunk::TIME_MICROS), 123_456u32.to_be_bytes());
        assert_eq!(value(&ch, chunk::PROTO_TYPE), [1]);
        assert_eq!(value(&ch, chunk::CAPTURE_ID), 2001u32.to_be_bytes());
        assert_eq!(value(&ch, chunk::PAYLOAD), c.payload);
    }

    #[test]
    fn ipv6_tls_and_what_cannot_be_encoded() {
        let mut c = Capture {
            src: "[::1]:5061".parse().unwrap(),
            dst: "[2001:db8::1]:5061".parse().unwrap(),
            transport: TransportKind::Tls,
            at: SystemTime::UNIX_EPOCH,
            payload: b"BYE",
        };
        let mut buf = Vec::new();
        assert!(encode(&c, 1, &mut buf));
        let ch = chunks(&buf);
        assert_eq!(value(&ch, chunk::IP_FAMILY), [10]);
        assert_eq!(value(&ch, chunk::IP_PROTO), [6]);
        assert_eq!(value(&ch, chunk::IPV6_SRC), Ipv6Addr::LOCALHOST.octets());
        // An IPv4-mapped peer is IPv4; mixed with IPv6 it cannot be said.
        c.src = "[::ffff:192.0.2.1]:5060".parse().unwrap();
        assert!(!encode(&c, 1, &mut buf));
        c.dst = "192.0.2.2:5060".parse().unwrap();
        assert!(encode(&c, 1, &mut buf));
        let big = vec![b'x'; 70_000];
        c.payload = &big;
        assert!(!encode(&c, 1, &mut buf));
    }

    #[test]
    fn the_tap_follows_the_config_and_sends_both_directions() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let base = "[node]\nname = \"t\"\nregion = \"r\"\n[[listener]]\ntransport = \"udp\"\n\
                    address = \"127.0.0.1:5060\"\n[[trunk]]\nname = \"a\"\nallow = [\"127.0.0.1/32\"]\n\
                    [[media_region]]\nname = \"r\"\naddresses = [\"127.0.0.1\"]\n\
                    port_min = 20000\nport_max = 20099\n";
        let off = voxgate_config::load_str(base, "t.toml").unwrap();
        let on = voxgate_config::load_str(
            &format!(
                "{base}[hep]\naddress = \"{}\"\ncapture_id = 9\n",
                collector.local_addr().unwrap()
            ),
            "t.toml",
        )
        .unwrap();
        let metrics = Metrics::new("t").unwrap();
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer = voxgate_sip::Peer {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5080".parse().unwrap(),
            conn: None,
        };
        let incoming = TransportEvent::Message(voxgate_sip::transport::Incoming {
            bytes: bytes::Bytes::from_static(b"INVITE sip:1@x SIP/2.0\r\n\r\n"),
            peer,
            local,
            oversized: false,
        });
        let mut tap = HepTap::new(&off, vec![(TransportKind::Udp, local)], metrics.clone());
        tap.received(&incoming);
        // Off: nothing sent; a reload turns it on.
        tap.reconfigure(&on);
        tap.received(&incoming);
        tap.sent(&Transmit {
            to: peer,
            bytes: bytes::Bytes::from_static(b"SIP/2.0 100 Trying\r\n\r\n"),
        });
        let mut buf = [0u8; 2048];
        let n = collector.recv(&mut buf).unwrap();
        let first = chunks(&buf[..n]);
        assert_eq!(value(&first, chunk::SRC_PORT), 5080u16.to_be_bytes());
        assert_eq!(value(&first, chunk::DST_PORT), 5060u16.to_be_bytes());
        assert_eq!(value(&first, chunk::CAPTURE_ID), 9u32.to_be_bytes());
        assert!(value(&first, chunk::PAYLOAD).starts_with(b"INVITE"));
        let n = collector.recv(&mut buf).unwrap();
        let second = chunks(&buf[..n]);
        assert_eq!(value(&second, chunk::SRC_PORT), 5060u16.to_be_bytes());
        assert_eq!(value(&second, chunk::DST_PORT), 5080u16.to_be_bytes());
        assert!(value(&second, chunk::PAYLOAD).starts_with(b"SIP/2.0 100"));
        assert_eq!(metrics.hep_packets_value(true), 2);
        // Off again: the next message goes nowhere.
        tap.reconfigure(&off);
        tap.received(&incoming);
        assert_eq!(metrics.hep_packets_value(true), 2);
        assert_eq!(metrics.hep_packets_value(false), 0);
    }
}
