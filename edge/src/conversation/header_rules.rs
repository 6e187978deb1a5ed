//! Per-trunk header rules applied to what a B2BUA carries across (issue 12 item 2):
//! the headers of a message that reach the other leg pass the sending trunk's
//! `[trunk.inbound]` rules, then the receiving trunk's `[trunk.outbound]` rules
//! (the caller's INVITE here and in `dial.rs`; every later message in `crossing.rs`).
//!
//! Sans-IO: a list of (name, value) in, the same list changed. A call whose trunks
//! have no rules never gets here (the plain path copies the carried headers straight
//! into the B-leg INVITE), so templates cost nothing unless configured. The names a
//! rule may use exclude Via, Call-ID, CSeq, From, To, Contact and the other headers
//! voxgate writes per leg (the config refuses them), so no rule can break a dialog.

use voxgate_config::{CallerIdRule, HeaderRules, TemplateVars};

/// One carried header: its name as written and its value.
pub(crate) type Carried = (String, String);

/// The P-Asserted-Identity header's name, as written by voxgate.
pub(crate) const PAI: &str = "P-Asserted-Identity";
/// The Privacy header's name.
pub(crate) const PRIVACY: &str = "Privacy";

/// Applies `rules` to `headers`, in the order keep_only, remove, rewrite, pai,
/// privacy, add. `vars.value` is set per rewritten header.
pub(crate) fn apply(rules: &HeaderRules, headers: &mut Vec<Carried>, vars: &TemplateVars<'_>) {
    apply_with(rules, headers, vars, true);
}

/// [`apply`] without `pai` and `privacy`, which assert the caller's identity:
/// for what the callee's side sends.
pub(crate) fn apply_common(
    rules: &HeaderRules,
    headers: &mut Vec<Carried>,
    vars: &TemplateVars<'_>,
) {
    apply_with(rules, headers, vars, false);
}

fn apply_with(
    rules: &HeaderRules,
    headers: &mut Vec<Carried>,
    vars: &TemplateVars<'_>,
    identity: bool,
) {
    if let Some(keep) = &rules.keep_only {
        headers.retain(|(n, _)| keep.iter().any(|k| k.eq_ignore_ascii_case(n)));
    }
    if !rules.remove.is_empty() {
        headers.retain(|(n, _)| !rules.remove.iter().any(|r| r.eq_ignore_ascii_case(n)));
    }
    for (name, template) in &rules.rewrite {
        // A header whose template fails to render is dropped rather than sent wrong.
        headers.retain_mut(|(n, v)| {
            if !n.eq_ignore_ascii_case(name) {
                return true;
            }
            let vars = TemplateVars { value: v, ..*vars };
            match template.render(&vars) {
                Some(new) => {
                    *v = new;
                    true
                }
                None => {
                    tracing::debug!(header = %name, "header template failed; header dropped");
                    false
                }
            }
        });
    }
    if let Some(pai) = rules.pai.as_ref().filter(|_| identity) {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(PAI));
        if let Some(v) = pai.render(vars) {
            headers.push((PAI.to_owned(), v));
        }
    }
    if let Some(privacy) = rules.privacy.as_ref().filter(|_| identity) {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(PRIVACY));
        headers.push((PRIVACY.to_owned(), privacy.clone()));
    }
    for (name, template) in &rules.add {
        match template.render(vars) {
            Some(v) => headers.push((name.clone(), v)),
            None => tracing::debug!(header = %name, "header template failed; header not added"),
        }
    }
}

/// Caller-id normalisation: to E.164 (when a country code is given), then the
/// prefix stripped, then the prefix added (only to a number that had the
/// stripped prefix, when there is one). A user part that is not a number
/// (`anonymous`, a name) is left alone.
pub(crate) fn normalise_caller(number: &str, rule: &CallerIdRule) -> String {
    let mut n = match &rule.e164_country_code {
        Some(cc) => to_e164(number, cc),
        None => number.to_owned(),
    };
    if !is_number(&n) {
        return n;
    }
    // With a strip_prefix, only a number that had it gets the add_prefix
    // ("+44" → "0" leaves "+49..." alone rather than making "0+49...").
    if let Some(strip) = &rule.strip_prefix {
        match n.strip_prefix(strip.as_str()) {
            Some(rest) => n = rest.to_owned(),
            None => return n,
        }
    }
    if let Some(p) = &rule.add_prefix {
        n.insert_str(0, p);
    }
    n
}

/// Digits with an optional leading `+`.
fn is_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `+` digits kept; `00` digits → `+` digits; `0` digits → `+cc` digits; other
/// digits as they are (a number already international, or a short code).
/// Separators (`-`, `.`, space, parentheses) are removed first.
pub(crate) fn to_e164(number: &str, country_code: &str) -> String {
    let cleaned: String = number
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' ' | '(' | ')'))
        .collect();
    if !is_number(&cleaned) {
        return number.to_owned();
    }
    if cleaned.starts_with('+') {
        return cleaned;
    }
    if let Some(rest) = cleaned.strip_prefix("00").filter(|r| !r.is_empty()) {
        return format!("+{rest}");
    }
    if let Some(rest) = cleaned.strip_prefix('0').filter(|r| !r.is_empty()) {
        return format!("+{country_code}{rest}");
    }
    cleaned
}

/// The user part of the URI in a P-Asserted-Identity value (`<sip:user@host>`,
/// `"Name" <tel:+44...>`, a bare `sip:user@host`): its byte range, if any.
pub(crate) fn pai_user_range(value: &str) -> Option<std::ops::Range<usize>> {
    let start_uri = value.find('<').map_or(0, |i| i + 1);
    let uri = value.get(start_uri..)?;
    let scheme = ["sips:", "sip:", "tel:"].into_iter().find(|s| {
        uri.get(..s.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(s))
    })?;
    let user_start = start_uri + scheme.len();
    let rest = value.get(user_start..)?;
    let end = if scheme == "tel:" {
        rest.find([';', '>']).unwrap_or(rest.len())
    } else {
        let at = rest.find('@')?;
        rest[..at].find(';').unwrap_or(at)
    };
    Some(user_start..user_start + end)
}

/// `value` with its P-Asserted-Identity user part normalised by `rule`.
pub(crate) fn normalise_pai(value: &str, rule: &CallerIdRule) -> String {
    match pai_user_range(value) {
        Some(r) => {
            let user = normalise_caller(&value[r.clone()], rule);
            format!("{}{user}{}", &value[..r.start], &value[r.end..])
        }
        None => value.to_owned(),
    }
}

/// Applies a trunk's caller-id rule to the caller's number and to every
/// carried P-Asserted-Identity.
pub(crate) fn normalise_identity(
    rule: Option<&CallerIdRule>,
    user: &mut Option<String>,
    headers: &mut [Carried],
) {
    let Some(rule) = rule else { return };
    if let Some(u) = user.as_mut() {
        *u = normalise_caller(u, rule);
    }
    for (n, v) in headers.iter_mut() {
        if n.eq_ignore_ascii_case(PAI) {
            *v = normalise_pai(v, rule);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml: &str) -> (HeaderRules, HeaderRules) {
        let text = format!(
            "[node]\nname = \"e\"\nregion = \"r\"\n[[listener]]\ntransport = \"udp\"\n\
             address = \"127.0.0.1:5060\"\n[[media_region]]\nname = \"r\"\n\
             addresses = [\"127.0.0.1\"]\nport_min = 20000\nport_max = 20999\n\
             [[trunk]]\nname = \"t\"\nallow = [\"192.0.2.0/24\"]\n{toml}"
        );
        match voxgate_config::load_str(&text, "t.toml") {
            Ok(c) => (c.trunks[0].inbound.clone(), c.trunks[0].outbound.clone()),
            Err(e) => panic!("{e}"),
        }
    }

    fn h(list: &[(&str, &str)]) -> Vec<Carried> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    const VARS: TemplateVars<'static> = TemplateVars {
        caller: "+441632960001",
        callee: "+4930123",
        trunk: "t",
        from_trunk: "in",
        to_trunk: "t",
        value: "",
    };

    #[test]
    fn keep_only_remove_rewrite_add() {
        let (_, out) = rules(
            "[trunk.outbound]\nkeep_only = [\"p-asserted-identity\", \"X-Account\", \"X-Gone\"]\n\
             remove = [\"X-Gone\"]\nrewrite = { X-Account = \"acct-{{ value }}-{{ from_trunk }}\" }\n\
             add = { X-Callee = \"{{ callee }}\" }\n",
        );
        let mut got = h(&[
            ("P-Asserted-Identity", "<sip:+441632960001@a>"),
            ("Diversion", "<sip:200@a>"),
            ("x-account", "42"),
            ("X-Gone", "1"),
        ]);
        apply(&out, &mut got, &VARS);
        assert_eq!(
            got,
            h(&[
                ("P-Asserted-Identity", "<sip:+441632960001@a>"),
                ("x-account", "acct-42-in"),
                ("X-Callee", "+4930123"),
            ])
        );
    }

    #[test]
    fn pai_and_privacy_replace_the_carried_ones() {
        let (inbound, _) =
            rules("[trunk.inbound]\npai = \"<sip:{{ caller }}@pbx.example>\"\nprivacy = \"id\"\n");
        let mut got = h(&[("P-Asserted-Identity", "<sip:evil@x>"), ("Privacy", "none")]);
        apply(&inbound, &mut got, &VARS);
        assert_eq!(
            got,
            h(&[
                ("P-Asserted-Identity", "<sip:+441632960001@pbx.example>"),
                ("Privacy", "id"),
            ])
        );
    }

    #[test]
    fn no_rules_change_nothing() {
        let (inbound, out) = rules("");
        assert!(inbound.is_empty() && out.is_empty());
        let mut got = h(&[("Diversion", "<sip:200@a>")]);
        apply(&out, &mut got, &VARS);
        assert_eq!(got, h(&[("Diversion", "<sip:200@a>")]));
    }

    fn rule(cc: Option<&str>, strip: Option<&str>, add: Option<&str>) -> CallerIdRule {
        CallerIdRule {
            e164_country_code: cc.map(str::to_owned),
            strip_prefix: strip.map(str::to_owned),
            add_prefix: add.map(str::to_owned),
        }
    }

    #[test]
    fn e164_with_a_default_country_code() {
        assert_eq!(to_e164("030 1234-567", "49"), "+49301234567");
        assert_eq!(to_e164("0044 20 7123 4567", "49"), "+442071234567");
        assert_eq!(to_e164("+44 (20) 7123", "49"), "+44207123");
        assert_eq!(to_e164("112", "49"), "112");
        assert_eq!(to_e164("anonymous", "49"), "anonymous");
        assert_eq!(to_e164("0", "49"), "0");
    }

    #[test]
    fn strip_and_add_prefixes() {
        // E.164 towards a carrier that wants national numbers.
        let national = rule(Some("44"), Some("+44"), Some("0"));
        assert_eq!(normalise_caller("+442071234567", &national), "02071234567");
        assert_eq!(normalise_caller("02071234567", &national), "02071234567");
        // A foreign number does not start with the stripped prefix: left in E.164.
        assert_eq!(normalise_caller("+4930123", &national), "+4930123");
        assert_eq!(
            normalise_caller("4930123", &rule(None, None, Some("+"))),
            "+4930123"
        );
        let plus = rule(None, Some("00"), Some("+"));
        assert_eq!(normalise_caller("004930123", &plus), "+4930123");
        // Not a number: left alone.
        assert_eq!(normalise_caller("anonymous", &plus), "anonymous");
    }

    #[test]
    fn pai_user_parts() {
        let r = rule(Some("44"), None, None);
        assert_eq!(
            normalise_pai("\"A\" <sip:02071234567@c.example;user=phone>", &r),
            "\"A\" <sip:+442071234567@c.example;user=phone>"
        );
        assert_eq!(
            normalise_pai("<tel:02071234567;x=1>", &r),
            "<tel:+442071234567;x=1>"
        );
        assert_eq!(normalise_pai("sip:0207@c", &r), "sip:+44207@c");
        assert_eq!(normalise_pai("<urn:x>", &r), "<urn:x>");
        assert_eq!(normalise_pai("<sip:c.example>", &r), "<sip:c.example>");
        // Never panics on odd input.
        for odd in ["<", "<sip:", "sip:@", "<tel:", "é<sip:é@x>"] {
            let _ = normalise_pai(odd, &r);
        }
    }
}
