//! Transaction matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2).
//!
//! Key fields are `Bytes` slices of the message's own buffer where possible,
//! so building a key for a lookup costs reference-count bumps, not copies.

use bytes::Bytes;

use crate::message::{HeaderName, Invalid, Message, Method};

/// Matches responses to client transactions: top-Via branch and CSeq method
/// (§17.1.3). The method tells a CANCEL's responses from its INVITE's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: Bytes,
    method: Method,
}

/// A copy of `b` in an allocation of its own.
fn own(b: &Bytes) -> Bytes {
    Bytes::copy_from_slice(b)
}

impl ClientKey {
    /// The key with its own bytes, for storing.
    pub fn owned(&self) -> ClientKey {
        ClientKey {
            branch: own(&self.branch),
            method: self.method.clone(),
        }
    }

    /// The key of a request we are about to send. `None` if its top Via has
    /// no branch (we cannot match responses without one).
    pub fn for_request(request: &Message, method: &Method) -> Result<Option<ClientKey>, Invalid> {
        let via = request.top_via()?;
        Ok(via.branch().map(|branch| ClientKey {
            branch: share(request.raw(), branch),
            method: method.clone(),
        }))
    }

    /// The key a received response is looked up by; `None` if it carries no
    /// branch (then it matches nothing).
    pub fn for_response(response: &Message) -> Result<Option<ClientKey>, Invalid> {
        let via = response.top_via()?;
        let Some(branch) = via.branch() else {
            return Ok(None);
        };
        let cseq = response.cseq()?;
        Ok(Some(ClientKey {
            branch: share(response.raw(), branch),
            method: cseq.method,
        }))
    }
}

/// Matches requests to server transactions (§17.2.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// The branch carries the RFC 3261 magic cookie: branch, sent-by and method.
    Rfc3261 {
        /// Top-Via branch.
        branch: Bytes,
        /// Top-Via sent-by host, as written.
        host: Bytes,
        /// Top-Via sent-by port, as written.
        port: Option<u16>,
        /// The method that created the transaction (INVITE for an ACK).
        method: Method,
    },
    /// RFC 2543 peer: the transaction is identified by the request's fields.
    Rfc2543 {
        /// Request-URI.
        uri: Bytes,
        /// From tag.
        from_tag: Option<Bytes>,
        /// To tag of the request (an ACK is matched with `None` and then
        /// checked against the tag of the response, see `TagCheck`).
        to_tag: Option<Bytes>,
        /// Call-ID.
        call_id: Bytes,
        /// CSeq number.
        seq: u32,
        /// The method that created the transaction (INVITE for an ACK).
        method: Method,
        /// The top Via value, whole.
        via: Bytes,
    },
}

/// How the To tag enters an RFC 2543 key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToTag {
    /// Use the request's To tag.
    FromRequest,
    /// Leave it out: an ACK to an initial INVITE carries the tag of our
    /// response, which the INVITE did not have.
    Omit,
}

impl ServerKey {
    /// The key with its own bytes, for storing.
    pub fn owned(&self) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch,
                host,
                port,
                method,
            } => ServerKey::Rfc3261 {
                branch: own(branch),
                host: own(host),
                port: *port,
                method: method.clone(),
            },
            ServerKey::Rfc2543 {
                uri,
                from_tag,
                to_tag,
                call_id,
                seq,
                method,
                via,
            } => ServerKey::Rfc2543 {
                uri: own(uri),
                from_tag: from_tag.as_ref().map(own),
                to_tag: to_tag.as_ref().map(own),
                call_id: own(call_id),
                seq: *seq,
                method: method.clone(),
                via: own(via),
            },
        }
    }

    /// The key of `request` as if its method were `method` (INVITE for an
    /// ACK or for a CANCEL's target).
    pub fn for_request(
        request: &Message,
        method: &Method,
        to_tag: ToTag,
    ) -> Result<ServerKey, Invalid> {
        let raw = request.raw();
        let via = request.top_via()?;
        if via.is_rfc3261_branch()
            && let Some(branch) = via.branch()
        {
            return Ok(ServerKey::Rfc3261 {
                branch: share(raw, branch),
                host: share(raw, via.host),
                port: via.port,
                method: method.clone(),
            });
        }
        let via_text = request
            .header_values(HeaderName::Via)
            .next()
            .ok_or(Invalid::Missing(HeaderName::Via))?;
        let uri = request.request_uri().unwrap_or("");
        let from_tag = request.from_header()?.tag().map(|t| share(raw, t));
        let to_tag = match to_tag {
            ToTag::FromRequest => request.to_header()?.tag().map(|t| share(raw, t)),
            ToTag::Omit => None,
        };
        Ok(ServerKey::Rfc2543 {
            uri: share(raw, uri),
            from_tag,
            to_tag,
            call_id: share(raw, request.call_id()?),
            seq: request.cseq()?.seq,
            method: method.clone(),
            via: share(raw, via_text),
        })
    }

    /// Whether this is an RFC 2543 key.
    pub fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543 { .. })
    }
}

/// The To tag of a message as `Bytes` sharing its buffer.
pub fn to_tag(message: &Message) -> Option<Bytes> {
    let to = message.to_header().ok()?;
    to.tag().map(|t| share(message.raw(), t))
}

/// `s` as a slice of `raw` when it points into it (no copy), else a copy
/// (values of folded header lines live outside the raw buffer).
pub fn share(raw: &Bytes, s: &str) -> Bytes {
    let base = raw.as_ptr() as usize;
    let start = s.as_ptr() as usize;
    if start >= base && start.saturating_add(s.len()) <= base.saturating_add(raw.len()) {
        let offset = start - base;
        raw.slice(offset..offset + s.len())
    } else {
        Bytes::copy_from_slice(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_slices_inside_and_copies_outside() {
        let raw = Bytes::from_static(b"INVITE sip:a@b SIP/2.0\r\n");
        let text = std::str::from_utf8(&raw[7..14]).unwrap_or_default();
        let shared = share(&raw, text);
        assert_eq!(&shared[..], b"sip:a@b");
        assert_eq!(shared.as_ptr(), raw[7..].as_ptr());
        let other = String::from("sip:a@b");
        let copied = share(&raw, &other);
        assert_eq!(&copied[..], b"sip:a@b");
        assert_ne!(copied.as_ptr(), raw[7..].as_ptr());
        assert!(share(&raw, "").is_empty());
    }
}
