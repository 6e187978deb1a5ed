//! What the edge answers to a request that starts no call: message hygiene
//! (RFC 3261 §8.2, §16.3) and the per-method answer. Pure functions of the
//! request, so every rule is unit-tested without sockets.

use voxgate_sip::message::{HeaderName, Message, Method};

/// Methods we implement, for `Allow` (RFC 3261 §20.5): also those relayed
/// inside dialogs (MESSAGE, NOTIFY) and REFER, handed to the control plane.
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, MESSAGE, NOTIFY, REFER";
/// Methods valid outside a dialog, for the `Allow` of a 405 or 501 to a
/// request outside one (RFC 3261 §21.4.6: valid for the address): MESSAGE
/// and REFER are taken only inside a call.
pub const ALLOW_OUTSIDE: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// Bodies we understand, for `Accept` (RFC 3261 §20.1).
pub const ACCEPT: &str = "application/sdp";
/// Option tags we support (RFC 3261 §20.37): reliable provisionals
/// (RFC 3262), session timers (RFC 4028) and Replaces (RFC 3891).
pub const SUPPORTED: &[&str] = &["100rel", "timer", "replaces"];

/// The final answer to a request, before it is turned into a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: &'static str,
    /// Extra headers, in order.
    pub headers: Vec<(HeaderName, String)>,
}

impl Answer {
    fn new(status: u16, reason: &'static str) -> Answer {
        Answer {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: HeaderName, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

/// Whether the node takes new work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Normal operation.
    Open,
    /// Draining before a stop: new requests get 503 so carriers fail over.
    Draining,
}

/// The answer to a validated request that matched no transaction or dialog.
/// `None` means no response is sent (ACK).
pub fn answer(request: &Message, admission: Admission) -> Option<Answer> {
    let method = request.method()?;
    if *method == Method::Ack {
        // An ACK without a transaction or dialog is simply absorbed (§17.2.3).
        return None;
    }
    if admission == Admission::Draining {
        return Some(Answer::new(503, "Service Unavailable").with(HeaderName::RetryAfter, "30"));
    }
    if let Some(a) = hygiene(request) {
        return Some(a);
    }
    // No dialog exists yet, so every in-dialog request refers to nothing.
    if request.to_header().is_ok_and(|to| to.tag().is_some()) {
        return Some(Answer::new(481, "Call/Transaction Does Not Exist"));
    }
    Some(match method {
        Method::Options => options_200(),
        // A new INVITE becomes a call in the core; one that gets here could
        // not become one (no call handling on this path).
        Method::Invite => Answer::new(480, "Temporarily Unavailable"),
        Method::Bye
        | Method::Cancel
        | Method::Info
        | Method::Update
        | Method::Prack
        | Method::Notify => Answer::new(481, "Call/Transaction Does Not Exist"),
        Method::Register
        | Method::Subscribe
        | Method::Publish
        | Method::Message
        | Method::Refer => {
            Answer::new(405, "Method Not Allowed").with(HeaderName::Allow, ALLOW_OUTSIDE)
        }
        Method::Other(_) => {
            Answer::new(501, "Not Implemented").with(HeaderName::Allow, ALLOW_OUTSIDE)
        }
        Method::Ack => return None,
    })
}

/// Checks that apply to every request before its method is looked at.
pub fn hygiene(request: &Message) -> Option<Answer> {
    let method = request.method()?;
    // §16.3 / §8.2: a request that would be forwarded with Max-Forwards 0 dies
    // here; OPTIONS is answered by us, so it may arrive with 0 (§11).
    if let Ok(Some(0)) = request.max_forwards()
        && *method != Method::Options
    {
        return Some(Answer::new(483, "Too Many Hops"));
    }
    // §8.2.2.3: Require names extensions the UAS must support; not for CANCEL.
    if *method != Method::Cancel {
        let unsupported: Vec<&str> = request
            .require()
            .filter(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
            .collect();
        if !unsupported.is_empty() {
            return Some(
                Answer::new(420, "Bad Extension")
                    .with(HeaderName::Unsupported, unsupported.join(", ")),
            );
        }
    }
    None
}

/// RFC 3261 §11.2: what we can do.
fn options_200() -> Answer {
    Answer::new(200, "OK")
        .with(HeaderName::Allow, ALLOW)
        .with(HeaderName::Accept, ACCEPT)
        .with(HeaderName::Supported, SUPPORTED.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use voxgate_sip::message::Limits;

    fn req(method: &str, extra: &str) -> Message {
        let to_tag = if extra.contains("TO-TAG") {
            ";tag=abc"
        } else {
            ""
        };
        let extra = extra.replace("TO-TAG", "");
        let text = format!(
            "{method} sip:svc@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:a@127.0.0.1>;tag=1\r\n\
             To: <sip:svc@127.0.0.1>{to_tag}\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        let m = Message::parse(Bytes::from(text), &Limits::default()).unwrap();
        m.validate().unwrap();
        m
    }

    fn status(method: &str, extra: &str) -> Option<u16> {
        answer(&req(method, extra), Admission::Open).map(|a| a.status)
    }

    #[test]
    fn options_advertises_allow_accept_supported() {
        let a = answer(&req("OPTIONS", ""), Admission::Open).unwrap();
        assert_eq!(a.status, 200);
        let names: Vec<HeaderName> = a.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [HeaderName::Allow, HeaderName::Accept, HeaderName::Supported]
        );
        assert_eq!(a.headers[0].1, ALLOW);
    }

    #[test]
    fn every_method_gets_an_explicit_answer() {
        assert_eq!(status("INVITE", ""), Some(480));
        assert_eq!(status("ACK", ""), None);
        assert_eq!(status("BYE", ""), Some(481));
        assert_eq!(status("CANCEL", ""), Some(481));
        assert_eq!(status("INFO", ""), Some(481));
        assert_eq!(status("REGISTER", ""), Some(405));
        assert_eq!(status("SUBSCRIBE", ""), Some(405));
        assert_eq!(status("FOOBAR", ""), Some(501));
    }

    #[test]
    fn method_not_allowed_and_not_implemented_carry_allow() {
        // The methods valid outside a dialog: not REFER or MESSAGE, which a
        // 405 to them would otherwise list.
        for m in ["REGISTER", "FOOBAR", "REFER", "MESSAGE"] {
            let a = answer(&req(m, ""), Admission::Open).unwrap();
            assert!(
                a.headers
                    .contains(&(HeaderName::Allow, ALLOW_OUTSIDE.to_string())),
                "{m}"
            );
            assert!(!ALLOW_OUTSIDE.contains(m));
        }
        // OPTIONS tells every method, those taken in dialogs too.
        let a = answer(&req("OPTIONS", ""), Admission::Open).unwrap();
        assert!(a.headers.contains(&(HeaderName::Allow, ALLOW.to_string())));
        for m in ["MESSAGE", "NOTIFY", "REFER", "UPDATE", "PRACK", "INFO"] {
            assert!(ALLOW.contains(m), "{m}");
        }
    }

    #[test]
    fn in_dialog_requests_without_a_dialog_get_481() {
        assert_eq!(status("OPTIONS", "TO-TAG"), Some(481));
        assert_eq!(status("INVITE", "TO-TAG"), Some(481));
    }

    #[test]
    fn max_forwards_zero_is_483_except_options() {
        let m = Message::parse(
            Bytes::from(
                "INVITE sip:svc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK2\r\n\
                 Max-Forwards: 0\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n\
                 CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            ),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(answer(&m, Admission::Open).unwrap().status, 483);
        let o = Message::parse(
            Bytes::from(
                "OPTIONS sip:svc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK2\r\n\
                 Max-Forwards: 0\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n\
                 CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            ),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(answer(&o, Admission::Open).unwrap().status, 200);
    }

    #[test]
    fn unsupported_require_is_420_listing_the_tags() {
        let a = answer(
            &req("INVITE", "Require: foo, 100rel, bar\r\n"),
            Admission::Open,
        )
        .unwrap();
        assert_eq!(a.status, 420);
        assert_eq!(
            a.headers,
            vec![(HeaderName::Unsupported, "foo, bar".to_string())]
        );
        // CANCEL is exempt (§8.2.2.3).
        assert_eq!(status("CANCEL", "Require: foo\r\n"), Some(481));
    }

    #[test]
    fn draining_refuses_new_work_with_retry_after() {
        let a = answer(&req("INVITE", ""), Admission::Draining).unwrap();
        assert_eq!(a.status, 503);
        assert_eq!(a.headers, vec![(HeaderName::RetryAfter, "30".to_string())]);
        assert_eq!(answer(&req("ACK", ""), Admission::Draining), None);
    }
}
