//! Our own address on a leg, as written in Via and Contact.

use super::uri::push_escaped_user;
use crate::TransportKind;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// Where we are on a leg: the transport and our address as we put it in
/// Via and Contact (the advertised address, which may differ from the
/// bound one behind NAT).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    /// Transport of the leg.
    pub transport: TransportKind,
    /// Advertised ip:port.
    pub addr: SocketAddr,
}

impl LocalAddr {
    /// Our Contact URI without angle brackets: `sip:user@ip:port;transport=tcp`.
    /// UDP takes no `transport` parameter (it is the default); TLS uses a
    /// `sips:` URI without one, since `transport=tls` is deprecated
    /// (RFC 3261 §26.2.2) and TLS over TCP is the default for `sips:`.
    pub fn uri(&self, user: Option<&str>) -> String {
        let mut s = String::with_capacity(48);
        s.push_str(match self.transport {
            TransportKind::Tls => "sips:",
            TransportKind::Udp | TransportKind::Tcp => "sip:",
        });
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            push_escaped_user(&mut s, u);
            s.push('@');
        }
        // SocketAddr prints IPv6 as [addr]:port, as a SIP hostport must be.
        let _ = write!(s, "{}", self.addr);
        if self.transport == TransportKind::Tcp {
            s.push_str(";transport=tcp");
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
    use crate::message::{NameAddr, Via};

    fn local(t: TransportKind, a: &str) -> LocalAddr {
        LocalAddr {
            transport: t,
            addr: a.parse().unwrap(),
        }
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
        assert_eq!(
            local(TransportKind::Tls, "[2001:db8::1]:5061").contact(Some("+15551234")),
            "<sips:+15551234@[2001:db8::1]:5061>"
        );
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
    }
}
