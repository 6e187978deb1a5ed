//! Checks on the datagrams themselves, where the peers cannot tell:
//!
//! - every 2xx to an INVITE that reached voxgate, repeats included, is
//!   answered by an ACK from voxgate sent after it, unless the dialog was
//!   already being ended by a BYE (a peer repeats its 2xx because our ACK
//!   was lost; unanswered, it ends the call after 64*T1, RFC 3261
//!   §13.3.1.4; and a peer cannot tell a lost ACK followed by a BYE from
//!   none);
//! - topology hiding: nothing voxgate sends to one peer carries another
//!   peer's address (Via, Contact, SDP), or the caller's Call-ID or tag.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use voxgate_sip::message::{Limits, Message, Method};

/// (Call-ID, To tag, CSeq number) of a 2xx to an INVITE, or of an ACK.
type Key = (String, String, u32);

/// (Call-ID, the peer's tag) of a dialog.
type DialogOf = (String, String);

/// What the wire showed.
#[derive(Debug, Default)]
pub struct Wire {
    /// Datagrams seen, to order what voxgate received and sent.
    seen: u64,
    /// 2xx to INVITEs voxgate received: when, and from whom.
    oks_in: Vec<(Key, u64, SocketAddr)>,
    /// The last ACK voxgate sent per 2xx.
    acks_out: BTreeMap<Key, u64>,
    /// The first BYE seen on each dialog, either way.
    byes: BTreeMap<DialogOf, u64>,
    /// What each peer must keep to itself: its address, and the Call-ID
    /// and From tag of the dialogs it starts.
    secrets: BTreeMap<SocketAddr, BTreeSet<String>>,
    /// Topology leaks seen, described.
    pub leaks: Vec<String>,
}

fn parse(bytes: &Bytes) -> Option<Message> {
    Message::parse(bytes.clone(), &Limits::default()).ok()
}

fn key(msg: &Message) -> Option<Key> {
    let call_id = msg.call_id().ok()?.to_string();
    let tag = msg.to_header().ok()?.tag()?.to_string();
    Some((call_id, tag, msg.cseq().ok()?.seq))
}

impl Wire {
    /// A peer's address is its own.
    pub fn peer(&mut self, addr: SocketAddr) {
        self.secrets
            .entry(addr)
            .or_default()
            .insert(addr.ip().to_string());
    }

    /// A peer sent `bytes`.
    pub fn peer_sent(&mut self, from: SocketAddr, bytes: &Bytes) {
        let Some(msg) = parse(bytes) else { return };
        let starts_dialog = msg.method() == Some(&Method::Invite)
            && msg.to_header().is_ok_and(|t| t.tag().is_none());
        if !starts_dialog {
            return;
        }
        let secrets = self.secrets.entry(from).or_default();
        if let Ok(call_id) = msg.call_id() {
            secrets.insert(call_id.to_string());
        }
        if let Some(tag) = msg.from_header().ok().and_then(|f| f.tag()) {
            secrets.insert(tag.to_string());
        }
    }

    /// voxgate received `bytes` from `from`.
    pub fn node_received(&mut self, from: SocketAddr, bytes: &Bytes) {
        self.seen += 1;
        let Some(msg) = parse(bytes) else { return };
        let ok = msg.status().is_some_and(|s| (200..300).contains(&s));
        if ok
            && msg.cseq().is_ok_and(|c| c.method == Method::Invite)
            && let Some(k) = key(&msg)
        {
            self.oks_in.push((k, self.seen, from));
        }
        // A peer's BYE: its tag is in From.
        if msg.method() == Some(&Method::Bye)
            && let (Ok(call_id), Some(tag)) =
                (msg.call_id(), msg.from_header().ok().and_then(|f| f.tag()))
        {
            let dialog = (call_id.to_string(), tag.to_string());
            self.byes.entry(dialog).or_insert(self.seen);
        }
    }

    /// voxgate sent `bytes` to `to`.
    pub fn node_sent(&mut self, to: SocketAddr, bytes: &Bytes) {
        self.seen += 1;
        let text = String::from_utf8_lossy(bytes);
        for (peer, secrets) in &self.secrets {
            if *peer == to {
                continue;
            }
            if let Some(s) = secrets.iter().find(|s| text.contains(s.as_str())) {
                let line = text.lines().next().unwrap_or("");
                self.leaks
                    .push(format!("`{line}` to {to} carries {s:?} of {peer}"));
            }
        }
        let Some(msg) = parse(bytes) else { return };
        if msg.method() == Some(&Method::Ack)
            && let Some(k) = key(&msg)
        {
            self.acks_out.insert(k, self.seen);
        }
        // Our BYE: the peer's tag is in To.
        if msg.method() == Some(&Method::Bye)
            && let Some(k) = key(&msg)
        {
            self.byes.entry((k.0, k.1)).or_insert(self.seen);
        }
    }

    /// Every 2xx voxgate received was ACKed after it; no leak.
    pub fn check(&self) -> Result<(), String> {
        if let Some(leak) = self.leaks.first() {
            return Err(format!("topology leak: {leak}"));
        }
        for (k, at, from) in &self.oks_in {
            let acked = self.acks_out.get(k).is_some_and(|ack| ack > at);
            let ending = self
                .byes
                .get(&(k.0.clone(), k.1.clone()))
                .is_some_and(|bye| bye < at);
            if !acked && !ending {
                let what = if self.acks_out.contains_key(k) {
                    "a repeat of a 2xx"
                } else {
                    "a 2xx"
                };
                return Err(format!(
                    "voxgate received {what} from {from} (To tag {:?}, CSeq {}) \
                     and never ACKed it",
                    k.1, k.2
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "198.51.100.5:5060";
    const B: &str = "203.0.113.7:5060";

    fn ok_from_b(tag: &str) -> Bytes {
        Bytes::from(format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
             From: <sip:a@192.0.2.10>;tag=v1\r\nTo: <sip:b@203.0.113.7>;tag={tag}\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:203.0.113.7>\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    }

    fn ack_to_b(tag: &str) -> Bytes {
        Bytes::from(format!(
            "ACK sip:203.0.113.7 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK2\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@192.0.2.10>;tag=v1\r\n\
             To: <sip:b@203.0.113.7>;tag={tag}\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn a_2xx_without_an_ack_is_caught_per_to_tag() {
        let mut w = Wire::default();
        w.node_received(B.parse().unwrap(), &ok_from_b("f1"));
        w.node_received(B.parse().unwrap(), &ok_from_b("f2"));
        w.node_sent(B.parse().unwrap(), &ack_to_b("f1"));
        let err = w.check().unwrap_err();
        assert!(err.contains("\"f2\""), "{err}");
        w.node_sent(B.parse().unwrap(), &ack_to_b("f2"));
        assert_eq!(w.check(), Ok(()));
    }

    #[test]
    fn a_repeated_2xx_needs_another_ack_unless_a_bye_came_first() {
        let b = B.parse().unwrap();
        let mut w = Wire::default();
        w.node_received(b, &ok_from_b("f1"));
        w.node_sent(b, &ack_to_b("f1"));
        w.node_received(b, &ok_from_b("f1"));
        assert!(w.check().unwrap_err().contains("a repeat"));
        w.node_sent(b, &ack_to_b("f1"));
        assert_eq!(w.check(), Ok(()));
        let bye = String::from_utf8_lossy(&ack_to_b("f1")).replace("ACK", "BYE");
        w.node_sent(b, &Bytes::from(bye));
        w.node_received(b, &ok_from_b("f1"));
        assert_eq!(w.check(), Ok(()), "the dialog is being ended");
    }

    #[test]
    fn another_peers_address_is_a_leak() {
        let mut w = Wire::default();
        w.peer(A.parse().unwrap());
        w.peer(B.parse().unwrap());
        // To B, B's own address is fine; A's is not.
        w.node_sent(B.parse().unwrap(), &ack_to_b("f1"));
        assert_eq!(w.check(), Ok(()));
        let leaky = String::from_utf8_lossy(&ack_to_b("f1"))
            .replace("Max-Forwards", "X-Seen: 198.51.100.5\r\nMax-Forwards");
        w.node_sent(B.parse().unwrap(), &Bytes::from(leaky));
        assert!(w.check().unwrap_err().contains("198.51.100.5"));
    }
}
