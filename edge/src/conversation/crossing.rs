//! What a message carries from one leg to the other after the INVITE that
//! started the callee's leg (issue 12 item 2): the responses to that INVITE
//! that reach the caller, in-dialog requests relayed either way and their
//! responses, and a BYE that ends the other leg.
//!
//! Voxgate builds each of these messages anew on the other leg, so nothing
//! crosses unless chosen here: the sender's identity headers as its trunk's
//! `trusted` allows (on a response, the P-Asserted-Identity is the connected
//! party's, RFC 3325), the headers `pass` names, then the sending trunk's
//! `inbound` rules and the receiving trunk's `outbound` rules. `pai`,
//! `privacy` and `caller_id` speak for the caller: they act only on what
//! the caller's side sends (the callee's side is identified by its own
//! trusted headers, never by a template written for the caller).
//!
//! Sans-IO; a message between untrusted trunks without rules costs one check.

pub(crate) use super::header_rules::Carried;

use super::header_rules;
use super::identity::{self, Disclosure};
use super::*;
use voxgate_config::{HeaderRules, TemplateVars, Trunk};

/// One message's way across: the trunks it leaves and reaches, and the call's
/// parties for the templates.
pub(crate) struct Crossing<'a> {
    /// The trunk of the leg the message arrived on.
    pub from: Option<&'a Trunk>,
    /// The trunk of the leg it is carried to.
    pub to: Option<&'a Trunk>,
    /// It comes from the caller's side: the caller's identity rules apply.
    pub from_caller: bool,
    /// The call's parties and trunks, as the INVITE to the callee named them
    /// (the same in both directions).
    pub vars: TemplateVars<'a>,
}

impl Crossing<'_> {
    /// The headers `msg` carries across, in order: identity (by trust), passed,
    /// then as the rules leave them.
    pub(crate) fn carry(&self, msg: &Message) -> Vec<Carried> {
        let from_trusted = self.from.is_some_and(|t| t.trusted);
        let to_trusted = self.to.is_some_and(|t| t.trusted);
        let in_rules = self.from.map(|t| &t.inbound).filter(|r| !r.is_empty());
        let out_rules = self.to.map(|t| &t.outbound).filter(|r| !r.is_empty());
        if !from_trusted && in_rules.is_none() && out_rules.is_none() {
            // The plain path: an untrusted sender's headers are not even read.
            return Vec::new();
        }
        let disclosure = Disclosure::new(msg, from_trusted, to_trusted);
        let mut carried: Vec<Carried> = disclosure
            .carried(msg)
            .map(|(n, v)| (n.as_str().to_owned(), v.to_owned()))
            .collect();
        carried.extend(passed(msg, [in_rules, out_rules]));
        let mut user = None;
        let rules = [(in_rules, self.from), (out_rules, self.to)];
        for (rules, trunk) in rules {
            let Some(rules) = rules else { continue };
            let vars = TemplateVars {
                trunk: trunk.map_or("", |t| t.name.as_str()),
                ..self.vars
            };
            if self.from_caller {
                header_rules::normalise_identity(rules.caller_id.as_ref(), &mut user, &mut carried);
                header_rules::apply(rules, &mut carried, &vars);
            } else {
                header_rules::apply_common(rules, &mut carried, &vars);
            }
        }
        // RFC 3325 §5 on the result: a Privacy left asking for it hides the
        // asserted identity from an untrusted trunk.
        if !to_trusted
            && carried.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(header_rules::PRIVACY) && identity::hides_identity(v)
            })
        {
            carried.retain(|(n, _)| !n.eq_ignore_ascii_case(header_rules::PAI));
        }
        carried
    }
}

/// The headers of `msg` that either rule set's `pass` carries, as received
/// (a compact name in its long form); a value that is not UTF-8 stays behind.
pub(crate) fn passed(msg: &Message, rules: [Option<&HeaderRules>; 2]) -> Vec<Carried> {
    if rules.iter().flatten().all(|r| r.pass.is_empty()) {
        return Vec::new();
    }
    msg.headers()
        .filter_map(|h| {
            let name: &str = match h.known {
                Some(k) => k.as_str(),
                None => h.name,
            };
            let utf8 = !h.value.is_empty() || h.value_bytes.is_empty();
            (utf8 && rules.iter().flatten().any(|r| r.passes(name)))
                .then(|| (name.to_owned(), h.value.to_owned()))
        })
        .collect()
}

impl<M: MediaControl> Conversation<M> {
    /// The headers `msg`, arriving on leg `from`, carries across to leg `to`.
    pub(crate) fn carried_across(&self, msg: &Message, from: LegId, to: LegId) -> Vec<Carried> {
        let (Some(f), Some(t)) = (self.leg(from), self.leg(to)) else {
            return Vec::new();
        };
        let trunk = |l: &Leg| l.trunk.as_ref().and_then(|n| self.ctx.config.trunk(n));
        let (from_trunk, to_trunk) = (trunk(f), trunk(t));
        // Cheap before the parties are looked up: nothing to carry.
        let nothing = |tr: Option<&Trunk>, inbound: bool| {
            tr.is_none_or(|tr| {
                let rules = if inbound { &tr.inbound } else { &tr.outbound };
                rules.is_empty() && !(inbound && tr.trusted)
            })
        };
        if nothing(from_trunk, true) && nothing(to_trunk, false) {
            return Vec::new();
        }
        // The caller's side is the inbound leg; the call's parties are those
        // of the INVITE to the callee (an outbound leg).
        let from_caller = matches!(f.dir, Dir::In(_)) || matches!(t.dir, Dir::Out(_));
        let (caller_leg, callee_leg) = if from_caller { (f, t) } else { (t, f) };
        let out = callee_leg.outbound();
        let from_header = out.and_then(|o| o.invite.from_header().ok());
        let caller = from_header
            .as_ref()
            .and_then(|h| uri_user(h.uri))
            .unwrap_or("");
        let callee = out
            .and_then(|o| o.invite.request_uri())
            .and_then(uri_user)
            .unwrap_or("");
        let name = |l: &Leg| trunk(l).map_or("", |t| t.name.as_str());
        Crossing {
            from: from_trunk,
            to: to_trunk,
            from_caller,
            vars: TemplateVars {
                caller,
                callee,
                trunk: "",
                from_trunk: name(caller_leg),
                to_trunk: name(callee_leg),
                value: "",
            },
        }
        .carry(msg)
    }
}
