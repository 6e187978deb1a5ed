//! Building requests: in a dialog (RFC 3261 §12.2.1.1, ACK for 2xx
//! §13.2.2.4) and the first request of a UAC leg (§8.1.1).

use super::local::LocalAddr;
use super::state::Dialog;
use super::uri::{as_name_addr, as_request_uri, has_lr, uri_of};
use crate::ids;
use crate::message::{HeaderName, Message, MessageBuilder, Method, response_to};
use std::net::SocketAddr;

/// Methods whose requests refresh the target and so carry our Contact
/// (§12.2: INVITE; RFC 3311 UPDATE; RFC 6665 SUBSCRIBE/NOTIFY; RFC 3515 REFER).
fn carries_contact(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

impl Dialog {
    /// A new in-dialog request (§12.2.1.1): CSeq = ++local_seq, Via with a
    /// fresh branch, Max-Forwards 70, From = local_uri;tag, To =
    /// remote_uri;tag, Call-ID, the route set, and our Contact for target
    /// refresh requests (INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER).
    ///
    /// Routing: if the route set is empty or its first URI has `lr`, the
    /// Request-URI is the remote target and Route is the route set (loose
    /// routing). Otherwise (strict routing, RFC 2543 proxies) the
    /// Request-URI is the first route's URI and Route is the rest of the
    /// set followed by the remote target.
    ///
    /// `Method::Ack` builds [`Dialog::ack`] for the current `local_seq`.
    /// `Method::Cancel` builds a CANCEL with the current CSeq number but a
    /// new branch, which matches nothing: a CANCEL must be built from the
    /// INVITE with `message::cancel_for`.
    ///
    /// The caller adds further headers and the body.
    pub fn request(&mut self, method: Method) -> MessageBuilder {
        match method {
            Method::Ack => return self.ack(self.local_seq),
            Method::Cancel => {}
            _ => self.local_seq = self.local_seq.wrapping_add(1),
        }
        let b = self.start(&method, self.local_seq);
        if carries_contact(&method) {
            b.header(HeaderName::Contact, &self.local.contact(None))
        } else {
            b
        }
    }

    /// ACK for a 2xx to our (re-)INVITE with CSeq `invite_seq`
    /// (§13.2.2.4): the same CSeq number with method ACK, a new branch, the
    /// route set and Request-URI as for any in-dialog request, no body
    /// unless the caller adds one. After a re-INVITE's 2xx, call
    /// [`Dialog::refresh_target`] first: the ACK goes to the new target.
    pub fn ack(&self, invite_seq: u32) -> MessageBuilder {
        self.start(&Method::Ack, invite_seq)
    }

    /// Request line, Via, Max-Forwards, Route, From, To, Call-ID, CSeq.
    fn start(&self, method: &Method, seq: u32) -> MessageBuilder {
        let strict = self.route_set.first().filter(|r| !has_lr(uri_of(r)));
        let mut b = match strict {
            None => MessageBuilder::request(method, &self.remote_target),
            Some(first) => MessageBuilder::request(method, &as_request_uri(uri_of(first))),
        };
        b = b
            .header(HeaderName::Via, &self.local.via(&ids::new_branch()))
            .header(HeaderName::MaxForwards, "70");
        let skip = usize::from(strict.is_some());
        for route in self.route_set.iter().skip(skip) {
            b = b.header(HeaderName::Route, route);
        }
        if strict.is_some() {
            b = b.header(HeaderName::Route, &format!("<{}>", self.remote_target));
        }
        b.header(
            HeaderName::From,
            &format!("{};tag={}", self.local_uri, self.local_tag),
        )
        .header(
            HeaderName::To,
            &format!("{};tag={}", self.remote_uri, self.remote_tag),
        )
        .header(HeaderName::CallId, &self.call_id)
        .header(HeaderName::CSeq, &format!("{seq} {method}"))
    }
}

impl Dialog {
    /// Our response to `request` received in (or creating) this dialog:
    /// `message::response_to` with our tag, plus, for a 101–299 answer,
    /// the request's Record-Route lines when it creates the dialog (no To
    /// tag, §12.1.1) and our Contact when it is a target refresh request
    /// (INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER; §12.1.1, §12.2.2).
    pub fn response(
        &self,
        request: &Message,
        status: u16,
        reason: &str,
        source: Option<SocketAddr>,
    ) -> MessageBuilder {
        let mut b = response_to(request, status, reason, Some(&self.local_tag), source);
        let dialog_ok = (101..=299).contains(&status);
        let Some(method) = request.method() else {
            return b;
        };
        let creating = request.to_header().is_ok_and(|t| t.tag().is_none());
        if dialog_ok && creating {
            for rr in request.header_lines(HeaderName::RecordRoute) {
                b = b.header(HeaderName::RecordRoute, rr);
            }
        }
        if dialog_ok && carries_contact(method) {
            b = b.header(HeaderName::Contact, &self.local.contact(None));
        }
        b
    }
}

/// The first request of a UAC leg, outside any dialog (§8.1.1): we choose
/// the Call-ID, the From tag and CSeq 1.
#[derive(Clone, Debug)]
pub struct NewRequest<'a> {
    /// The method (INVITE for a B-leg).
    pub method: Method,
    /// The Request-URI.
    pub request_uri: &'a str,
    /// From, without tag: a name-addr or a bare URI.
    pub from: &'a str,
    /// To: a name-addr or a bare URI.
    pub to: &'a str,
    /// Our address on this leg (Via, Contact).
    pub local: &'a LocalAddr,
    /// Max-Forwards (70 unless the A-leg's value, decremented, is carried over).
    pub max_forwards: u32,
}

/// The identifiers chosen for a [`NewRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequestIds {
    /// The new Call-ID (random, no host part: nothing of our topology).
    pub call_id: String,
    /// Our From tag.
    pub from_tag: String,
    /// The CSeq number (1).
    pub cseq: u32,
}

impl NewRequest<'_> {
    /// The request's start: Via (fresh branch, rport), Max-Forwards, From
    /// with a new tag, To, a new Call-ID, CSeq 1, and our Contact for the
    /// dialog-creating methods (INVITE, SUBSCRIBE, REFER), `sips:` exactly
    /// when a `sips:` Request-URI goes over TLS ([`LocalAddr::for_uac`]).
    /// The caller adds
    /// further headers and the body; CANCEL for it is
    /// `message::cancel_for(&built)`.
    pub fn build(&self) -> (MessageBuilder, NewRequestIds) {
        let ids = NewRequestIds {
            call_id: ids::new_call_id(None),
            from_tag: ids::new_tag(),
            cseq: 1,
        };
        let mut b = MessageBuilder::request(&self.method, self.request_uri)
            .header(HeaderName::Via, &self.local.via(&ids::new_branch()))
            .header(HeaderName::MaxForwards, &self.max_forwards.to_string())
            .header(
                HeaderName::From,
                &format!("{};tag={}", as_name_addr(self.from), ids.from_tag),
            )
            .header(HeaderName::To, &as_name_addr(self.to))
            .header(HeaderName::CallId, &ids.call_id)
            .header(HeaderName::CSeq, &format!("{} {}", ids.cseq, self.method));
        if matches!(
            self.method,
            Method::Invite | Method::Subscribe | Method::Refer
        ) {
            let local = self.local.for_uac(self.request_uri);
            b = b.header(HeaderName::Contact, &local.contact(None));
        }
        (b, ids)
    }
}
