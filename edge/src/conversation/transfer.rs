//! Transfers (RFC 3515): an in-dialog REFER becomes `TransferRequested`;
//! the control plane accepts it (202, a NOTIFY `100 Trying`, a dial to the
//! target connected to the transferee, a NOTIFY with the dial's final
//! status) or refuses it (603); with no decision in time it is refused.

use super::*;
use crate::control_plane::Dial;
use voxgate_sip::message::{HeaderName, response_to};

/// The target and Replaces of a Refer-To value (`<sip:b@x?Replaces=...>`):
/// the URI without its headers, and the Replaces header decoded.
pub(crate) fn parse_refer_to(value: &str) -> Option<(String, Option<String>)> {
    let value = value.trim();
    let uri = match value.find('<') {
        Some(start) => {
            let rest = &value[start + 1..];
            &rest[..rest.find('>')?]
        }
        None => value.split(';').next().unwrap_or(value),
    };
    let (target, headers) = match uri.split_once('?') {
        Some((t, h)) => (t, Some(h)),
        None => (uri, None),
    };
    if !(target.starts_with("sip:") || target.starts_with("sips:") || target.starts_with("tel:")) {
        return None;
    }
    let replaces = headers.and_then(|h| {
        h.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.eq_ignore_ascii_case("Replaces")
                .then(|| percent_decode(v))
        })
    });
    Some((target.to_string(), replaces))
}

/// Decodes `%XX` escapes (URI headers, RFC 3261 §19.1.1); invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<M: MediaControl> Conversation<M> {
    /// A REFER on `leg`.
    pub(super) fn on_refer(&mut self, now: Instant, leg: LegId, tx: TxId, request: Message) {
        let refer_to: Vec<&str> = request.header_lines(HeaderName::ReferTo).collect();
        let parsed = match refer_to.as_slice() {
            [one] => parse_refer_to(one),
            _ => None,
        };
        let Some((target, replaces)) = parsed else {
            // RFC 3515 §2.4.1: exactly one Refer-To.
            self.respond_to(tx, &request, 400, Some(leg));
            return;
        };
        if self.leg(leg).is_some_and(|l| l.refer.is_some()) {
            self.respond_to(tx, &request, 491, Some(leg));
            return;
        }
        if self.control_gone {
            // Nobody can accept it (the static router never does).
            self.respond_to(tx, &request, 603, Some(leg));
            return;
        }
        if let Some(l) = self.leg_mut(leg) {
            l.refer = Some(leg::PendingRefer {
                tx,
                request,
                deadline: now + TRANSFER_DECISION,
            });
        }
        self.event(Event::TransferRequested {
            leg,
            target,
            replaces,
        });
    }

    /// The leg a transfer from `leg` moves: its bridge or link partner.
    fn transferee(&self, leg: LegId) -> Option<LegId> {
        let l = self.leg(leg)?;
        l.bridge.or(l.link).or(l.resume_to)
    }

    /// `AcceptTransfer`.
    pub(crate) fn accept_transfer(
        &mut self,
        now: Instant,
        leg: LegId,
        id: DialId,
        mut dial: Dial,
    ) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if l.refer.is_none() {
            return Err(CommandError::NoTransfer { leg });
        }
        if dial.connect.is_none() {
            dial.connect = Some(self.transferee(leg).ok_or(CommandError::LegState {
                leg,
                state: "alone",
                wanted: "a transfer needs a leg to move (bridged with the referrer), or dial.connect",
            })?);
        }
        self.check_dial(&dial)?;
        let Some(refer) = self.leg_mut(leg).and_then(|l| l.refer.take()) else {
            return Err(CommandError::NoTransfer { leg });
        };
        self.respond_refer(leg, refer.tx, &refer.request, 202, "Accepted");
        // The transferee leaves the referrer: their media no longer joined.
        if let Some(t) = dial.connect {
            self.unlink(t);
            self.split(t);
        }
        self.unlink(leg);
        self.notify_transfer(leg, 100, false);
        match self.dial_command(now, id, dial, Some(leg)) {
            Ok(id) => {
                if let Some(l) = self.leg_mut(leg) {
                    l.notify_dial = Some(id);
                }
                Ok(())
            }
            Err(e) => {
                // The referrer was told 202: it is owed a final NOTIFY.
                self.notify_transfer(leg, 503, true);
                Err(e)
            }
        }
    }

    /// `RefuseTransfer`, and a REFER nobody decided on in time.
    pub(crate) fn refuse_transfer(&mut self, leg: LegId) -> Result<(), CommandError> {
        let Some(refer) = self.leg_mut(leg).and_then(|l| l.refer.take()) else {
            return Err(CommandError::NoTransfer { leg });
        };
        self.respond_refer(leg, refer.tx, &refer.request, 603, "Decline");
        Ok(())
    }

    fn respond_refer(
        &mut self,
        leg: LegId,
        tx: TxId,
        request: &Message,
        status: u16,
        reason: &str,
    ) {
        let tag = self.leg(leg).and_then(Leg::local_tag);
        let r = match self.leg(leg).and_then(|l| l.sig.dialog.as_ref()) {
            Some(d) => d.response(request, status, reason, None).build_message(),
            None => response_to(request, status, reason, tag.as_deref(), None).build_message(),
        };
        if let Ok(response) = r {
            self.push(Action::Respond { tx, response });
        }
    }

    /// A NOTIFY of the transfer's progress on the referrer's dialog
    /// (RFC 3515 §2.4.5): `message/sipfrag` with the status line.
    pub(crate) fn notify_transfer(&mut self, leg: LegId, status: u16, last: bool) {
        let Some(l) = self.leg_mut(leg) else { return };
        if !l.is_live() {
            return;
        }
        let to = l.sig.in_dialog_peer();
        let tls_name = l.sig.tls_name.clone();
        let Some(dialog) = l.sig.dialog.as_mut() else {
            return;
        };
        let state = if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let frag = format!("SIP/2.0 {status} {}\r\n", default_reason(status));
        let request = dialog
            .request(Method::Notify)
            .header_raw("Event", "refer")
            .header_raw("Subscription-State", state)
            .body("message/sipfrag;version=2.0", frag.as_bytes())
            .build_message();
        let Ok(request) = request else { return };
        let tx = TxId::next();
        self.own.insert(tx, Own::Notify(leg));
        self.push(Action::Send {
            tx,
            request,
            to,
            tls_name,
        });
    }

    /// The conversation's end is decided: REFERs still waiting for the
    /// control plane get 487 (RFC 3261 §15.1.2, pending requests of an
    /// ending dialog). Unanswered, a REFER's server transaction, which has
    /// no timer before its answer, would stay in the core for ever.
    pub(crate) fn terminate_transfers(&mut self) {
        for i in 0..self.legs.len() {
            let leg = self.legs[i].id;
            if let Some(refer) = self.legs[i].refer.take() {
                self.respond_refer(leg, refer.tx, &refer.request, 487, "Request Terminated");
            }
        }
    }

    /// REFERs past their decision deadline are refused.
    pub(crate) fn transfer_timeouts(&mut self, now: Instant) {
        let due: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.refer.as_ref().is_some_and(|r| r.deadline <= now))
            .map(|l| l.id)
            .collect();
        for leg in due {
            let _ = self.refuse_transfer(leg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_values() {
        assert_eq!(
            parse_refer_to("<sip:2002@192.0.2.7:5060>"),
            Some(("sip:2002@192.0.2.7:5060".into(), None))
        );
        assert_eq!(
            parse_refer_to("sip:2002@192.0.2.7"),
            Some(("sip:2002@192.0.2.7".into(), None))
        );
        assert_eq!(
            parse_refer_to(
                "<sip:b@192.0.2.9?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>;x=y"
            ),
            Some((
                "sip:b@192.0.2.9".into(),
                Some("abc@host;to-tag=t1;from-tag=f1".into())
            ))
        );
        assert_eq!(parse_refer_to("<mailto:x@y>"), None);
        assert_eq!(parse_refer_to("<sip:x@y"), None);
    }
}
