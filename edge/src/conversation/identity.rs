//! Asserted identity across the B2BUA (RFC 3325, RFC 3323, RFC 5806, RFC 7044).
//!
//! A linked call's outbound INVITE is a new request, so nothing of the caller's
//! reaches the callee unless voxgate copies it. What it copies follows trust
//! (a trunk's `trusted`, RFC 3325 §2.3 "Spec(T)"):
//!
//! * From an untrusted trunk, P-Asserted-Identity, Privacy, Diversion and
//!   History-Info are not believed: none is passed on (§5: an identity asserted
//!   by a peer outside the trust domain is removed).
//! * From a trusted trunk they are passed on. Towards an untrusted trunk, a
//!   caller who asked for privacy (`Privacy: id`, `user` or `header`) loses
//!   the P-Asserted-Identity (RFC 3325 §5) and gets an anonymous From
//!   (RFC 3323 §4.1.1.3); `Privacy: history` drops History-Info (RFC 7044 §10.1.2).
//!
//! Sans-IO: a decision from the inbound INVITE and two booleans; no allocation
//! when the caller's trunk is untrusted (the common, plain-call case).

use voxgate_sip::message::{HeaderName, Message};

/// The identity headers a B-leg may carry, in the order they are copied.
const CARRIED: [HeaderName; 4] = [
    HeaderName::PAssertedIdentity,
    HeaderName::Privacy,
    HeaderName::Diversion,
    HeaderName::HistoryInfo,
];

/// The display name of an anonymous From (RFC 3323 §4.1.1.3).
pub(crate) const ANONYMOUS_DISPLAY: &str = "Anonymous";
/// The user part of an anonymous From (RFC 3323 §4.1.1.3).
pub(crate) const ANONYMOUS_USER: &str = "anonymous";

/// The privacy a caller asked for in its Privacy header (RFC 3323 §4.2, RFC 7044 §9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Requested {
    /// `id`: withhold the asserted identity outside the trust domain.
    id: bool,
    /// `user` or `header`: withhold what identifies the caller in the headers.
    user: bool,
    /// `history`: withhold History-Info outside the trust domain.
    history: bool,
    /// `critical`: the caller would rather fail than be identified.
    critical: bool,
}

impl Requested {
    /// Privacy values are separated by `;` (RFC 3323 §4.2); some agents use `,`.
    fn read(invite: &Message) -> Requested {
        let mut r = Requested::default();
        for value in invite
            .header_lines(HeaderName::Privacy)
            .flat_map(|l| l.split([';', ',']))
        {
            let v = value.trim();
            if v.eq_ignore_ascii_case("id") {
                r.id = true;
            } else if v.eq_ignore_ascii_case("user") || v.eq_ignore_ascii_case("header") {
                r.user = true;
            } else if v.eq_ignore_ascii_case("history") {
                r.history = true;
            } else if v.eq_ignore_ascii_case("critical") {
                r.critical = true;
            }
        }
        r
    }
}

/// Whether a Privacy value asks that the asserted identity be withheld
/// outside the trust domain (`id`, or `critical`: RFC 3325 §7, RFC 3323 §4.2).
pub(crate) fn hides_identity(privacy: &str) -> bool {
    privacy.split([';', ',']).any(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("id") || v.eq_ignore_ascii_case("critical")
    })
}

/// What a B-leg INVITE carries of its caller's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Disclosure {
    /// The caller's trunk is trusted: its identity headers are believed.
    believed: bool,
    /// The callee's trunk is trusted: the caller's privacy is left to it.
    to_trusted: bool,
    requested: Requested,
}

impl Disclosure {
    /// The decision for a call from a trunk (`from_trusted`) to another (`to_trusted`).
    pub(crate) fn new(invite: &Message, from_trusted: bool, to_trusted: bool) -> Disclosure {
        let requested = if from_trusted {
            Requested::read(invite)
        } else {
            Requested::default()
        };
        Disclosure {
            believed: from_trusted,
            to_trusted,
            requested,
        }
    }

    /// Nothing passes: what a call with no inbound leg (or an untrusted one) gets.
    pub(crate) const NONE: Disclosure = Disclosure {
        believed: false,
        to_trusted: false,
        requested: Requested {
            id: false,
            user: false,
            history: false,
            critical: false,
        },
    };

    /// The callee must not learn who calls: the From is made anonymous.
    pub(crate) fn anonymous_caller(&self) -> bool {
        let r = self.requested;
        self.believed && !self.to_trusted && (r.id || r.user || r.critical)
    }

    /// Whether header `name` of the caller's INVITE passes to the callee.
    fn passes(&self, name: HeaderName) -> bool {
        if !self.believed {
            return false;
        }
        if self.to_trusted {
            return true;
        }
        let r = self.requested;
        match name {
            HeaderName::PAssertedIdentity => !(r.id || r.critical),
            HeaderName::HistoryInfo => !(r.history || r.critical),
            // Diversion names the diverting party, not the caller.
            _ => true,
        }
    }

    /// The caller's header lines that pass, in order, for the B-leg INVITE.
    pub(crate) fn carried<'m>(
        &self,
        invite: &'m Message,
    ) -> impl Iterator<Item = (HeaderName, &'m str)> + use<'m> {
        let this = *self;
        CARRIED
            .into_iter()
            .filter(move |n| this.passes(*n))
            .flat_map(move |n| invite.header_lines(n).map(move |v| (n, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use voxgate_sip::message::Limits;

    fn invite(extra: &str) -> Message {
        let raw = format!(
            "INVITE sip:100@10.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx\r\n\
             From: \"Alice\" <sip:+441632960001@10.0.0.2>;tag=a\r\n\
             To: <sip:100@10.0.0.1>\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 INVITE\r\n\
             Max-Forwards: 70\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(raw), &Limits::default()) {
            Ok(m) => m,
            Err(e) => panic!("test message: {e:?}"),
        }
    }

    const IDENTITY: &str = "P-Asserted-Identity: <sip:+441632960001@carrier.example>\r\n\
         P-Asserted-Identity: <tel:+441632960001>\r\n\
         Diversion: <sip:200@carrier.example>;reason=no-answer\r\n\
         History-Info: <sip:200@carrier.example>;index=1\r\n";

    fn carried(d: &Disclosure, m: &Message) -> Vec<(HeaderName, String)> {
        d.carried(m).map(|(n, v)| (n, v.to_owned())).collect()
    }

    #[test]
    fn nothing_passes_from_an_untrusted_trunk() {
        let m = invite(&format!("{IDENTITY}Privacy: id\r\n"));
        for to_trusted in [false, true] {
            let d = Disclosure::new(&m, false, to_trusted);
            assert!(carried(&d, &m).is_empty());
            // Its Privacy is not believed either: nothing to hide, nothing shown.
            assert!(!d.anonymous_caller());
        }
        assert!(carried(&Disclosure::NONE, &m).is_empty());
    }

    #[test]
    fn everything_passes_between_trusted_trunks_even_private() {
        let m = invite(&format!("{IDENTITY}Privacy: id;critical\r\n"));
        let d = Disclosure::new(&m, true, true);
        let names: Vec<_> = carried(&d, &m).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                HeaderName::PAssertedIdentity,
                HeaderName::PAssertedIdentity,
                HeaderName::Privacy,
                HeaderName::Diversion,
                HeaderName::HistoryInfo
            ]
        );
        assert!(!d.anonymous_caller());
    }

    #[test]
    fn a_caller_without_privacy_is_identified_to_an_untrusted_trunk() {
        let m = invite(IDENTITY);
        let d = Disclosure::new(&m, true, false);
        let got = carried(&d, &m);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got[0],
            (
                HeaderName::PAssertedIdentity,
                "<sip:+441632960001@carrier.example>".to_owned()
            )
        );
        assert!(!d.anonymous_caller());
    }

    #[test]
    fn privacy_id_hides_the_caller_from_an_untrusted_trunk() {
        for privacy in ["id", "ID", "header; id", "none,id"] {
            let m = invite(&format!("{IDENTITY}Privacy: {privacy}\r\n"));
            let d = Disclosure::new(&m, true, false);
            let names: Vec<_> = carried(&d, &m).into_iter().map(|(n, _)| n).collect();
            assert_eq!(
                names,
                [
                    HeaderName::Privacy,
                    HeaderName::Diversion,
                    HeaderName::HistoryInfo
                ],
                "{privacy}"
            );
            assert!(d.anonymous_caller(), "{privacy}");
        }
    }

    #[test]
    fn privacy_user_anonymises_the_from_but_keeps_the_assertion() {
        let m = invite(&format!("{IDENTITY}Privacy: user\r\n"));
        let d = Disclosure::new(&m, true, false);
        assert!(d.anonymous_caller());
        assert!(
            carried(&d, &m)
                .iter()
                .any(|(n, _)| *n == HeaderName::PAssertedIdentity)
        );
    }

    #[test]
    fn privacy_history_drops_history_info_only() {
        let m = invite(&format!("{IDENTITY}Privacy: history\r\n"));
        let d = Disclosure::new(&m, true, false);
        let names: Vec<_> = carried(&d, &m).into_iter().map(|(n, _)| n).collect();
        assert!(!names.contains(&HeaderName::HistoryInfo));
        assert!(names.contains(&HeaderName::PAssertedIdentity));
        assert!(names.contains(&HeaderName::Diversion));
        assert!(!d.anonymous_caller());
    }

    #[test]
    fn unknown_privacy_values_hide_nothing() {
        let m = invite(&format!("{IDENTITY}Privacy: none;bogus\r\n"));
        let d = Disclosure::new(&m, true, false);
        assert_eq!(carried(&d, &m).len(), 5);
        assert!(!d.anonymous_caller());
    }
}
