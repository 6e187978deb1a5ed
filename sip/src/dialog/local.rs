//! Our own address on a leg, as written in Via and Contact, and which URI
//! scheme the leg uses (RFC 5630).

use super::uri::{is_sips, push_escaped_user, uri_of};
use crate::TransportKind;
use crate::message::{HeaderName, Message};
use std::fmt::Write as _;
use std::net::SocketAddr;

/// Where we are on a leg: the transport, our address as we put it in Via
/// and Contact (the advertised address, which may differ from the bound
/// one behind NAT), and whether the leg is a SIPS one.
///
/// TLS alone does not make a leg SIPS. A `sips:` URI asks for TLS on every
/// hop to the resource (RFC 5630 §4), so our URIs are `sips:` only where
/// RFC 3261 demands it: the dialog-creating request carried a SIPS URI
/// (§8.1.1.8 for a UAC, §12.1.1 for a UAS). A `sip:` dialog over TLS
/// keeps `sip:` URIs everywhere (RFC 5630 §3.1.3 "best-effort TLS"), and
/// a peer that does not do SIPS cannot even send its ACK to a `sips:`
/// Contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    /// Transport of the leg.
    pub transport: TransportKind,
    /// Advertised ip:port.
    pub addr: SocketAddr,
    /// Our URIs on the leg are `sips:`. Set by [`LocalAddr::for_uas`] and
    /// [`LocalAddr::for_uac`]; it counts only on TLS.
    pub sips: bool,
}

impl LocalAddr {
    /// Our address on a `sip:` leg over `transport`.
    pub fn new(transport: TransportKind, addr: SocketAddr) -> LocalAddr {
        LocalAddr {
            transport,
            addr,
            sips: false,
        }
    }

    /// This address on the leg of `request`, a dialog-creating request we
    /// received (UAS). SIPS when it came over TLS and its Request-URI, its
    /// top Record-Route or, without Record-Route, its Contact is a SIPS URI
    /// (RFC 3261 §12.1.1: then our Contact MUST be SIPS).
    pub fn for_uas(&self, request: &Message) -> LocalAddr {
        let sips = request.request_uri().is_some_and(is_sips)
            || match request.header_values(HeaderName::RecordRoute).next() {
                Some(rr) => is_sips(uri_of(rr)),
                None => request
                    .contacts()
                    .next()
                    .is_some_and(|c| c.is_ok_and(|c| is_sips(c.uri))),
            };
        self.with_sips(sips)
    }

    /// This address on a leg we call (UAC) with `request_uri` and no Route:
    /// SIPS when it goes over TLS to a SIPS URI (RFC 3261 §8.1.1.8: then
    /// our Contact MUST be SIPS; RFC 5630 §5.1.1.2: otherwise `sip:`).
    pub fn for_uac(&self, request_uri: &str) -> LocalAddr {
        self.with_sips(is_sips(request_uri))
    }

    /// This address with `ip` advertised in place of its own (a trunk's
    /// `advertise`), when `ip` is of the same address family; the port stays.
    pub fn advertising(self, ip: Option<std::net::IpAddr>) -> LocalAddr {
        match ip {
            Some(ip) if ip.is_ipv4() == self.addr.is_ipv4() => LocalAddr {
                addr: SocketAddr::new(ip, self.addr.port()),
                ..self
            },
            _ => self,
        }
    }

    /// A SIPS URI points at TLS, so a leg on another transport is never SIPS.
    pub(crate) fn with_sips(&self, sips: bool) -> LocalAddr {
        LocalAddr {
            sips: sips && self.transport == TransportKind::Tls,
            ..self.clone()
        }
    }

    /// Our Contact URI without angle brackets: `sip:user@ip:port;transport=tcp`.
    /// UDP takes no `transport` parameter (it is the default). A SIPS leg
    /// uses `sips:` without one (TLS is the default for `sips:`). A `sip:`
    /// leg over TLS says `transport=tls`: RFC 3261 §26.2.2 deprecates it as
    /// a stand-in for SIPS, but a `sip:` URI with an IP address and no
    /// transport resolves to UDP (RFC 3263 §4.1), where our TLS port is
    /// not, and peers route by it (baresip's stack does, and refuses
    /// `sips:` outright).
    pub fn uri(&self, user: Option<&str>) -> String {
        let sips = self.sips && self.transport == TransportKind::Tls;
        let mut s = String::with_capacity(48);
        s.push_str(if sips { "sips:" } else { "sip:" });
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            push_escaped_user(&mut s, u);
            s.push('@');
        }
        // SocketAddr prints IPv6 as [addr]:port, as a SIP hostport must be.
        let _ = write!(s, "{}", self.addr);
        match self.transport {
            TransportKind::Udp => {}
            TransportKind::Tcp => s.push_str(";transport=tcp"),
            TransportKind::Tls if !sips => s.push_str(";transport=tls"),
            TransportKind::Tls => {}
        }
        s
    }

    /// Our Contact value: `<sip:user@ip:port;transport=tcp>`.
    pub fn contact(&self, user: Option<&str>) -> String {
        format!("<{}>", self.uri(user))
    }

    /// Our Via value: `SIP/2.0/TCP ip:port;branch=…;rport` (RFC 3581 asks
    /// the peer to answer to the source port).
    pub fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport.via_token(),
            self.addr
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Limits, NameAddr, Via};

    fn local(t: TransportKind, a: &str) -> LocalAddr {
        LocalAddr::new(t, a.parse().unwrap())
    }

    fn tls() -> LocalAddr {
        local(TransportKind::Tls, "192.0.2.1:5061")
    }

    /// An INVITE with `uri` as Request-URI, the given Record-Route (if any)
    /// and Contact.
    fn invite(uri: &str, record_route: Option<&str>, contact: &str) -> Message {
        let rr = record_route.map_or(String::new(), |r| format!("Record-Route: {r}\r\n"));
        let raw = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\n{rr}From: <sip:alice@example.com>;tag=a\r\n\
             To: <sip:bob@example.net>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
             Contact: {contact}\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(raw.into(), &Limits::default()).unwrap()
    }

    #[test]
    fn contact_per_transport() {
        assert_eq!(
            local(TransportKind::Udp, "192.0.2.1:5060").contact(Some("edge")),
            "<sip:edge@192.0.2.1:5060>"
        );
        assert_eq!(
            local(TransportKind::Tcp, "192.0.2.1:5060").contact(None),
            "<sip:192.0.2.1:5060;transport=tcp>"
        );
        // TLS alone is a `sip:` leg (RFC 5630 §3.1.3); the transport says TLS.
        assert_eq!(
            local(TransportKind::Tls, "[2001:db8::1]:5061").contact(Some("+15551234")),
            "<sip:+15551234@[2001:db8::1]:5061;transport=tls>"
        );
        let sips = local(TransportKind::Tls, "[2001:db8::1]:5061").with_sips(true);
        assert_eq!(
            sips.contact(Some("+15551234")),
            "<sips:+15551234@[2001:db8::1]:5061>"
        );
    }

    #[test]
    fn sips_never_off_tls() {
        for t in [TransportKind::Udp, TransportKind::Tcp] {
            let l = local(t, "192.0.2.1:5060");
            assert!(!l.with_sips(true).sips);
            assert!(!l.for_uac("sips:bob@example.net").sips);
            let req = invite("sips:bob@example.net", None, "<sips:alice@198.51.100.7>");
            assert!(!l.for_uas(&req).sips);
            // Even set by hand, the field cannot make a `sips:` URI on UDP/TCP.
            let forced = LocalAddr {
                sips: true,
                ..l.clone()
            };
            assert_eq!(forced.uri(None), l.uri(None));
        }
        assert_eq!(
            local(TransportKind::Udp, "192.0.2.1:5060")
                .for_uac("sips:b@x")
                .uri(None),
            "sip:192.0.2.1:5060"
        );
    }

    #[test]
    fn uas_scheme_follows_the_request() {
        let sip_contact = "<sip:alice@198.51.100.7:5061;transport=tls>";
        // The filed case: baresip dials `sip:...;transport=tls`, so we answer `sip:`.
        let plain = invite("sip:1000@192.0.2.1:5061;transport=tls", None, sip_contact);
        assert!(!tls().for_uas(&plain).sips);
        assert_eq!(
            tls().for_uas(&plain).contact(None),
            "<sip:192.0.2.1:5061;transport=tls>"
        );
        // RFC 3261 §12.1.1: a SIPS Request-URI, top Record-Route, or Contact
        // when there is no Record-Route, makes our Contact SIPS.
        let cases = [
            ("sips:1000@192.0.2.1", None, sip_contact, true),
            ("SIPS:1000@192.0.2.1", None, sip_contact, true),
            (
                "sip:1000@192.0.2.1",
                Some("<sips:p1.example.net;lr>"),
                sip_contact,
                true,
            ),
            (
                "sip:1000@192.0.2.1",
                Some("<sip:p1.example.net;lr>, <sips:p0;lr>"),
                sip_contact,
                false,
            ),
            (
                "sip:1000@192.0.2.1",
                None,
                "<sips:alice@198.51.100.7>",
                true,
            ),
            (
                "sip:1000@192.0.2.1",
                Some("<sip:p1.example.net;lr>"),
                "<sips:alice@198.51.100.7>",
                false,
            ),
        ];
        for (uri, rr, contact, want) in cases {
            let l = tls().for_uas(&invite(uri, rr, contact));
            assert_eq!(l.sips, want, "{uri} {rr:?} {contact}");
            let expected = if want {
                "<sips:192.0.2.1:5061>"
            } else {
                "<sip:192.0.2.1:5061;transport=tls>"
            };
            assert_eq!(l.contact(None), expected, "{uri} {rr:?} {contact}");
        }
    }

    #[test]
    fn uac_scheme_follows_the_request_uri() {
        assert!(tls().for_uac("sips:agent@203.0.113.5:5061").sips);
        assert!(
            !tls()
                .for_uac("sip:agent@203.0.113.5:5061;transport=tls")
                .sips
        );
        // A SIPS leg goes back to `sip:` when the next one is not SIPS.
        let sips = tls().for_uac("sips:agent@203.0.113.5");
        assert!(!sips.for_uac("sip:agent@203.0.113.5").sips);
        assert_eq!(
            tls().for_uac("sip:agent@203.0.113.5").uri(Some("alice")),
            "sip:alice@192.0.2.1:5061;transport=tls"
        );
        assert_eq!(sips.uri(Some("alice")), "sips:alice@192.0.2.1:5061");
    }

    #[test]
    fn contact_and_via_parse_back() {
        let l = local(TransportKind::Tcp, "[2001:db8::7]:5070");
        let c = l.contact(Some("a b"));
        let na = NameAddr::parse(&c).unwrap();
        assert_eq!(na.uri, "sip:a%20b@[2001:db8::7]:5070;transport=tcp");
        let v = l.via("z9hG4bKabc");
        assert_eq!(v, "SIP/2.0/TCP [2001:db8::7]:5070;branch=z9hG4bKabc;rport");
        let via = Via::parse(&v).unwrap();
        assert_eq!(via.transport, "TCP");
        assert_eq!(via.host, "[2001:db8::7]");
        assert_eq!(via.port, Some(5070));
        assert_eq!(via.branch(), Some("z9hG4bKabc"));
        assert_eq!(via.rport(), Some(None));
        // Via says TLS whatever the scheme.
        let v = tls().with_sips(true).via("z9hG4bKx");
        assert_eq!(Via::parse(&v).unwrap().transport, "TLS");
        let v = tls().via("z9hG4bKy");
        assert_eq!(Via::parse(&v).unwrap().transport, "TLS");
    }
}
