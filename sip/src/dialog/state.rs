//! The dialog state (RFC 3261 §12.1) and the checks on incoming in-dialog
//! requests (§12.2.2) and target refresh.

use super::DialogError;
use super::local::LocalAddr;
use super::uri::{is_sips, name_addr_without_tag, uri_of};
use crate::message::{HeaderName, Invalid, Message, Method, NameAddr};

/// Lookup key of a dialog from our side: its Call-ID and OUR tag. For an
/// incoming in-dialog request that is (Call-ID, To tag) on either kind of
/// leg, so both legs of a call are found with the same kind of key.
///
/// Forked early dialogs of one UAC leg share this key (they differ only in
/// the remote tag); a B2BUA keeps the first and refuses the others.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogKey {
    /// The Call-ID.
    pub call_id: Box<str>,
    /// Our tag.
    pub local_tag: Box<str>,
}

impl DialogKey {
    /// (Call-ID, To tag) of a request we received; `None` when it has no To
    /// tag (out of dialog), is a response, or its headers do not parse.
    pub fn of_incoming_request(req: &Message) -> Option<DialogKey> {
        if !req.is_request() {
            return None;
        }
        let call_id = req.call_id().ok()?;
        let tag = req.to_header().ok()?.tag()?;
        Some(DialogKey {
            call_id: call_id.into(),
            local_tag: tag.into(),
        })
    }

    /// (Call-ID, From tag) of a response we received to a request we sent:
    /// the key of the UAC dialog it belongs to.
    pub fn of_incoming_response(resp: &Message) -> Option<DialogKey> {
        if resp.is_request() {
            return None;
        }
        let call_id = resp.call_id().ok()?;
        let tag = resp.from_header().ok()?.tag()?;
        Some(DialogKey {
            call_id: call_id.into(),
            local_tag: tag.into(),
        })
    }
}

/// The state of one dialog (RFC 3261 §12). Plain data, so the call state
/// can later be replicated to the peer node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our From/To value without tag, in name-addr form.
    pub local_uri: String,
    /// The peer's From/To value without tag, in name-addr form.
    pub remote_uri: String,
    /// CSeq number of the last request we sent (0 before the first on a
    /// UAS leg, so the first is 1).
    pub local_seq: u32,
    /// CSeq number of the last request we received; `None` until then on
    /// a UAC leg.
    pub remote_seq: Option<u32>,
    /// The peer's Contact URI: the Request-URI of our requests.
    pub remote_target: String,
    /// Route set: Record-Route values in order (UAS) or reversed (UAC).
    pub route_set: Vec<String>,
    /// Our address on this leg; `sips` as the dialog-creating request
    /// decided (see [`LocalAddr::for_uas`], [`LocalAddr::for_uac`]).
    pub local: LocalAddr,
    /// §12.1.1: the dialog was created over TLS by a request with a SIPS
    /// URI (Request-URI, top Route or Record-Route, or Contact); our
    /// Contact on it is `sips:` for its lifetime (RFC 5630 §5.1.2).
    pub secure: bool,
}

/// Record-Route values in order, each checked to parse.
fn record_route_values(msg: &Message) -> Result<Vec<String>, DialogError> {
    let mut out = Vec::new();
    for v in msg.header_values(HeaderName::RecordRoute) {
        NameAddr::parse(v).ok_or(Invalid::Malformed(HeaderName::RecordRoute))?;
        out.push(v.to_owned());
    }
    Ok(out)
}

/// The URI of the first Contact; `*` is not a target.
fn contact_uri(msg: &Message) -> Result<String, DialogError> {
    match msg.contacts().next() {
        None => Err(DialogError::NoContact),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(c)) if c.uri == "*" => Err(Invalid::Malformed(HeaderName::Contact).into()),
        Some(Ok(c)) => Ok(c.uri.to_owned()),
    }
}

impl Dialog {
    /// UAS (§12.1.1): from a received dialog-creating request (INVITE) and
    /// the tag we put in our responses. Remote target = Contact URI, route
    /// set = Record-Route in order, remote seq = the request's CSeq; our
    /// URIs are `sips:` as the request decides ([`LocalAddr::for_uas`]).
    pub fn uas(
        request: &Message,
        local_tag: &str,
        local: LocalAddr,
    ) -> Result<Dialog, DialogError> {
        if !request.is_request() {
            return Err(DialogError::WrongKind {
                expected: "request",
            });
        }
        let call_id = request.call_id()?;
        let from = request.from_header()?;
        let to = request.to_header()?;
        let remote_tag = from.tag().ok_or(DialogError::NoFromTag)?;
        let cseq = request.cseq()?;
        let remote_target = contact_uri(request)?;
        let route_set = record_route_values(request)?;
        let local = local.for_uas(request);
        Ok(Dialog {
            call_id: call_id.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: remote_tag.to_owned(),
            local_uri: name_addr_without_tag(&to),
            remote_uri: name_addr_without_tag(&from),
            local_seq: 0,
            remote_seq: Some(cseq.seq),
            remote_target,
            route_set,
            secure: local.sips,
            local,
        })
    }

    /// UAC (§12.1.2): from the request we sent and a 101–299 response with
    /// a To tag. Remote target = the response's Contact, route set = its
    /// Record-Route reversed, local seq = the request's CSeq; our URIs are
    /// `sips:` when the request went over TLS to a SIPS Request-URI or top
    /// Route (§8.1.1.8).
    pub fn uac(
        request: &Message,
        response: &Message,
        local: LocalAddr,
    ) -> Result<Dialog, DialogError> {
        let Some(uri) = request.request_uri() else {
            return Err(DialogError::WrongKind {
                expected: "request",
            });
        };
        let Some(status) = response.status() else {
            return Err(DialogError::WrongKind {
                expected: "response",
            });
        };
        if !(101..=299).contains(&status) {
            return Err(DialogError::NotDialogCreating { status });
        }
        let call_id = request.call_id()?;
        let from = request.from_header()?;
        let to = request.to_header()?;
        let local_tag = from.tag().ok_or(DialogError::NoFromTag)?;
        let cseq = request.cseq()?;
        let resp_cseq = response.cseq()?;
        if response.call_id()? != call_id
            || response.from_header()?.tag() != Some(local_tag)
            || resp_cseq != cseq
        {
            return Err(DialogError::ResponseMismatch);
        }
        let remote_tag = response.to_header()?.tag().ok_or(DialogError::NoToTag)?;
        let remote_target = contact_uri(response)?;
        let mut route_set = record_route_values(response)?;
        route_set.reverse();
        // §8.1.1.8: a SIPS Request-URI or top Route made our Contact SIPS.
        let top_route = request.header_values(HeaderName::Route).next();
        let local = local.with_sips(is_sips(uri) || top_route.is_some_and(|r| is_sips(uri_of(r))));
        Ok(Dialog {
            call_id: call_id.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: remote_tag.to_owned(),
            local_uri: name_addr_without_tag(&from),
            remote_uri: name_addr_without_tag(&to),
            local_seq: cseq.seq,
            remote_seq: None,
            remote_target,
            route_set,
            secure: local.sips,
            local,
        })
    }

    /// The URI requests within the dialog are sent towards (§12.2.1.1,
    /// §8.1.2): the first route when there is a route set (loose or strict
    /// routing alike), else the remote target.
    pub fn next_hop(&self) -> &str {
        self.route_set
            .first()
            .map_or(self.remote_target.as_str(), |r| uri_of(r))
    }

    /// UAC, from a 2xx alone, for a 2xx whose INVITE is no longer at hand (a
    /// fork that answered after its call ended, §13.2.2.4): the response
    /// echoes our From, Call-ID and CSeq, which is all an ACK and a BYE need.
    pub fn uac_from_response(response: &Message, local: LocalAddr) -> Result<Dialog, DialogError> {
        let Some(status) = response.status() else {
            return Err(DialogError::WrongKind {
                expected: "response",
            });
        };
        if !(200..=299).contains(&status) {
            return Err(DialogError::NotDialogCreating { status });
        }
        let from = response.from_header()?;
        let to = response.to_header()?;
        let local_tag = from.tag().ok_or(DialogError::NoFromTag)?;
        let remote_tag = to.tag().ok_or(DialogError::NoToTag)?;
        let remote_target = contact_uri(response)?;
        let mut route_set = record_route_values(response)?;
        route_set.reverse();
        let local = local.with_sips(is_sips(&remote_target));
        Ok(Dialog {
            call_id: response.call_id()?.to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: remote_tag.to_owned(),
            local_uri: name_addr_without_tag(&from),
            remote_uri: name_addr_without_tag(&to),
            local_seq: response.cseq()?.seq,
            remote_seq: None,
            remote_target,
            route_set,
            secure: local.sips,
            local,
        })
    }

    /// Our key for this dialog (Call-ID, our tag).
    pub fn key(&self) -> DialogKey {
        DialogKey {
            call_id: self.call_id.as_str().into(),
            local_tag: self.local_tag.as_str().into(),
        }
    }

    /// UAC: a 2xx confirms an early dialog created by an 18x; the route set
    /// is recomputed from it (§13.2.2.4) and its Contact becomes the remote
    /// target (§12.2.1.2). The caller has matched the dialog by tags.
    pub fn confirm(&mut self, response: &Message) -> Result<(), DialogError> {
        let Some(status) = response.status() else {
            return Err(DialogError::WrongKind {
                expected: "response",
            });
        };
        if !(200..=299).contains(&status) {
            return Err(DialogError::NotDialogCreating { status });
        }
        let remote_target = contact_uri(response)?;
        let mut route_set = record_route_values(response)?;
        route_set.reverse();
        self.remote_target = remote_target;
        self.route_set = route_set;
        Ok(())
    }

    /// §12.2.2: checks an incoming in-dialog request. Call-ID and tags must
    /// be this dialog's (else `NotThisDialog`, the caller answers 481); a
    /// CSeq lower than the last one received is out of order (`OutOfOrder`,
    /// answer 500); otherwise the CSeq is recorded. ACK and CANCEL are not
    /// checked against the sequence (ACK reuses its INVITE's number, CANCEL
    /// its request's).
    pub fn check_request(&mut self, request: &Message) -> Result<(), DialogError> {
        let Some(method) = request.method() else {
            return Err(DialogError::WrongKind {
                expected: "request",
            });
        };
        if request.call_id()? != self.call_id
            || request.to_header()?.tag() != Some(self.local_tag.as_str())
            || request.from_header()?.tag() != Some(self.remote_tag.as_str())
        {
            return Err(DialogError::NotThisDialog);
        }
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let cseq = request.cseq()?.seq;
        match self.remote_seq {
            Some(last) if cseq < last => Err(DialogError::OutOfOrder { cseq, last }),
            _ => {
                self.remote_seq = Some(cseq);
                Ok(())
            }
        }
    }

    /// Target refresh (§12.2.1.2, §12.2.2): on a re-INVITE or UPDATE we
    /// received, or a 2xx to one we sent, the Contact replaces the remote
    /// target. A message without a usable Contact leaves it unchanged.
    pub fn refresh_target(&mut self, msg: &Message) {
        if let Ok(uri) = contact_uri(msg) {
            self.remote_target = uri;
        }
    }
}
