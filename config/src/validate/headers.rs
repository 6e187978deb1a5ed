//! `[trunk.inbound]` and `[trunk.outbound]`: header names (none that voxgate writes
//! per hop or dialog), templates compiled here, privacy values, caller-id prefixes.

use std::ops::Range;

use super::Validator;
use crate::headers::{
    CallerIdRule, HeaderRules, PassPattern, RESERVED_HEADERS, Template, passable,
};
use crate::raw::{HeaderMap, List, RawCallerId, RawHeaderRules, S};
use crate::schema;

/// Privacy values of RFC 3323 §4.2 and RFC 7044 §9.
const PRIVACY_VALUES: &[&str] = &[
    "header", "session", "user", "none", "critical", "id", "history",
];

/// A SIP header name (RFC 3261 §25.1 `token`).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// A SIP header name that no rule may name.
fn header_name_ok(name: &str) -> bool {
    is_token(name) && !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

/// A `pass` entry: a name `pass` may carry, or a prefix before `*`. A compact
/// (one-letter) name is refused: voxgate matches the long form.
fn pass_pattern(entry: &str) -> Option<PassPattern> {
    match entry.strip_suffix('*') {
        Some(prefix) => (is_token(prefix) && !prefix.contains('*'))
            .then(|| PassPattern::Prefix(prefix.to_ascii_lowercase())),
        None => (is_token(entry) && !entry.contains('*') && entry.len() > 1 && passable(entry))
            .then(|| PassPattern::Name(entry.to_ascii_lowercase())),
    }
}

impl Validator<'_> {
    /// One direction's rules; absent = none.
    pub(super) fn header_rules(
        &mut self,
        raw: Option<&S<RawHeaderRules>>,
        key: &str,
    ) -> HeaderRules {
        let Some(raw) = raw else {
            return HeaderRules::default();
        };
        let raw = raw.get_ref();
        let keep_only = raw
            .keep_only
            .as_ref()
            .map(|l| self.header_names(l, &format!("{key}.keep_only")));
        let remove = raw
            .remove
            .as_ref()
            .map(|l| self.header_names(l, &format!("{key}.remove")))
            .unwrap_or_default();
        let rewrite = self.header_map(raw.rewrite.as_ref(), &format!("{key}.rewrite"));
        let add = self.header_map(raw.add.as_ref(), &format!("{key}.add"));
        let pai = raw
            .pai
            .as_ref()
            .and_then(|p| self.template(p, &format!("{key}.pai")));
        let privacy = raw.privacy.as_ref().and_then(|p| {
            let k = format!("{key}.privacy");
            let ok = p
                .get_ref()
                .split(';')
                .all(|v| PRIVACY_VALUES.contains(&v.trim().to_ascii_lowercase().as_str()));
            if ok {
                Some(p.get_ref().clone())
            } else {
                self.bad_value(p.span(), &k, schema::PRIVACY);
                None
            }
        });
        let caller_id = raw
            .caller_id
            .as_ref()
            .map(|c| self.caller_id(c, &format!("{key}.caller_id")));
        let pass = raw
            .pass
            .as_ref()
            .map(|l| self.pass_patterns(l, &format!("{key}.pass")))
            .unwrap_or_default();
        HeaderRules {
            pass,
            keep_only,
            remove,
            rewrite,
            add,
            pai,
            privacy,
            caller_id,
        }
    }

    /// A list of header names, lower-cased.
    fn header_names(&mut self, list: &List<String>, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for (j, name) in list.get_ref().iter().enumerate() {
            let k = format!("{key}[{j}]");
            if header_name_ok(name.get_ref()) {
                let lower = name.get_ref().to_ascii_lowercase();
                seen.push((lower.clone(), k, name.span()));
                out.push(lower);
            } else {
                self.bad_value(name.span(), &k, schema::HEADER_NAME);
            }
        }
        self.unique(&seen, "each header once");
        out.dedup();
        out
    }

    /// `pass`: header names and prefixes.
    fn pass_patterns(&mut self, list: &List<String>, key: &str) -> Vec<PassPattern> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for (j, entry) in list.get_ref().iter().enumerate() {
            let k = format!("{key}[{j}]");
            match pass_pattern(entry.get_ref()) {
                Some(p) => {
                    seen.push((entry.get_ref().to_ascii_lowercase(), k, entry.span()));
                    out.push(p);
                }
                None => self.bad_value(entry.span(), &k, schema::PASS),
            }
        }
        self.unique(
            &seen,
            "each header or prefix once (names are case-insensitive)",
        );
        out
    }

    /// `name = "template"` pairs, each name checked and each template compiled.
    fn header_map(&mut self, map: Option<&HeaderMap>, key: &str) -> Vec<(String, Template)> {
        let Some(map) = map else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen: Vec<(String, String, Range<usize>)> = Vec::new();
        for (name, value) in map.get_ref() {
            let k = format!("{key}.{}", name.get_ref());
            if !header_name_ok(name.get_ref()) {
                self.bad_value(name.span(), &k, schema::HEADER_NAME);
                continue;
            }
            // Keys differing in case only name the same header.
            seen.push((name.get_ref().to_ascii_lowercase(), k.clone(), name.span()));
            if let Some(t) = self.template(value, &k) {
                out.push((name.get_ref().clone(), t));
            }
        }
        self.unique(&seen, "each header once (names are case-insensitive)");
        out
    }

    /// A template compiled now, so that a bad one stops the load.
    fn template(&mut self, value: &S<String>, key: &str) -> Option<Template> {
        if value.get_ref().contains(['\r', '\n']) || value.get_ref().trim().is_empty() {
            self.bad_value(value.span(), key, schema::TEMPLATE);
            return None;
        }
        match Template::compile(value.get_ref()) {
            Ok(t) => Some(t),
            Err(why) => {
                self.bad_value(value.span(), key, format!("{} ({why})", schema::TEMPLATE));
                None
            }
        }
    }

    fn caller_id(&mut self, raw: &S<RawCallerId>, key: &str) -> CallerIdRule {
        let raw = raw.get_ref();
        let e164_country_code = raw.e164_country_code.as_ref().and_then(|cc| {
            let text = cc.get_ref();
            let ok = (1..=3).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_digit())
                && !text.starts_with('0');
            if !ok {
                let k = format!("{key}.e164_country_code");
                self.bad_value(cc.span(), &k, schema::describe(&k));
            }
            ok.then(|| text.clone())
        });
        let mut prefix = |value: &Option<S<String>>, name: &str| {
            let value = value.as_ref()?;
            let text = value.get_ref();
            if (1..=8).contains(&text.len())
                && text.bytes().all(|b| b.is_ascii_digit() || b == b'+')
            {
                Some(text.clone())
            } else {
                self.bad_value(value.span(), &format!("{key}.{name}"), schema::PREFIX);
                None
            }
        };
        CallerIdRule {
            e164_country_code,
            strip_prefix: prefix(&raw.strip_prefix, "strip_prefix"),
            add_prefix: prefix(&raw.add_prefix, "add_prefix"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    const BASE: &str = r#"
[node]
name = "edge-1"
region = "local"

[[listener]]
transport = "udp"
address = "127.0.0.1:5060"

[[media_region]]
name = "local"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[trunk]]
name = "carrier"
allow = ["192.0.2.0/24"]
"#;

    fn errors(extra: &str) -> Vec<String> {
        match load_str(&format!("{BASE}{extra}"), "h.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn rules_load_with_their_templates() {
        let text = format!(
            "{BASE}[trunk.outbound]\nremove = [\"User-Agent\"]\nkeep_only = [\"P-Asserted-Identity\", \"X-Account\"]\n\
             rewrite = {{ X-Account = \"acct-{{{{ value }}}}\" }}\nadd = {{ X-From-Trunk = \"{{{{ from_trunk }}}}\" }}\n\
             pai = \"<sip:{{{{ caller }}}}@example.com>\"\nprivacy = \"id\"\n\
             caller_id = {{ e164_country_code = \"44\", strip_prefix = \"+44\", add_prefix = \"0\" }}\n"
        );
        let config = match load_str(&text, "h.toml") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let t = &config.trunks[0];
        assert!(t.inbound.is_empty());
        let out = &t.outbound;
        assert_eq!(out.remove, ["user-agent"]);
        assert_eq!(out.rewrite.len(), 1);
        assert_eq!(out.add[0].0, "X-From-Trunk");
        assert_eq!(out.privacy.as_deref(), Some("id"));
        assert_eq!(
            out.caller_id.as_ref().and_then(|c| c.add_prefix.as_deref()),
            Some("0")
        );
    }

    #[test]
    fn dialog_headers_are_refused_with_file_line_key() {
        let got =
            errors("[trunk.outbound]\nremove = [\"Via\", \"X-Ok\"]\nadd = { Call-ID = \"x\" }\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("h.toml:20:"), "{got:?}");
        assert!(
            got[0].contains("trunk[0].outbound.remove[0]: \"Via\" is not valid"),
            "{got:?}"
        );
        assert!(got[0].contains("Content-Length"), "{got:?}");
        assert!(got[1].starts_with("h.toml:21:"), "{got:?}");
        assert!(got[1].contains("trunk[0].outbound.add.Call-ID"), "{got:?}");
        // Compact forms too.
        let got = errors("[trunk.inbound]\nkeep_only = [\"v\"]\n");
        assert!(got[0].contains("trunk[0].inbound.keep_only[0]"), "{got:?}");
    }

    #[test]
    fn pass_takes_names_and_prefixes() {
        let text = format!(
            "{BASE}[trunk.inbound]\npass = [\"X-*\", \"User-to-User\"]\n[trunk.outbound]\npass = [\"P-Charging-Vector\"]\n"
        );
        let config = match load_str(&text, "h.toml") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let t = &config.trunks[0];
        assert!(!t.inbound.is_empty());
        assert!(t.inbound.passes("x-account") && t.inbound.passes("User-To-User"));
        assert!(!t.inbound.passes("Subject"));
        assert!(t.outbound.passes("P-Charging-Vector") && !t.outbound.passes("X-A"));
    }

    #[test]
    fn pass_refuses_what_voxgate_writes_and_what_trust_decides() {
        let got = errors(
            "[trunk.inbound]\npass = [\"X-*\", \"Via\", \"Supported\", \"P-Asserted-Identity\", \"*\", \"k\", \"X-*-Y\", \"x-*\"]\n",
        );
        assert_eq!(got.len(), 7, "{got:?}");
        for (e, j) in got.iter().zip(1..) {
            assert!(e.starts_with("h.toml:20:"), "{e}");
            if j < 7 {
                assert!(e.contains(&format!("trunk[0].inbound.pass[{j}]")), "{e}");
                // Names what is allowed, and why the identity headers are not.
                assert!(
                    e.contains("prefix ending in *") && e.contains("trusted"),
                    "{e}"
                );
            }
        }
        assert!(
            got[6].contains("trunk[0].inbound.pass[7]") && got[6].contains("once"),
            "{}",
            got[6]
        );
    }

    #[test]
    fn a_bad_template_is_a_config_error() {
        let got = errors("[trunk.outbound]\nadd = { X-A = \"{{ caller \" }\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("h.toml:20:"), "{got:?}");
        assert!(got[0].contains("trunk[0].outbound.add.X-A"), "{got:?}");
        assert!(got[0].contains("minijinja template"), "{got:?}");
        let got = errors("[trunk.inbound]\npai = \"{{ calee }}\"\n");
        assert!(got[0].contains("trunk[0].inbound.pai"), "{got:?}");
        assert!(got[0].contains("unknown variable calee"), "{got:?}");
    }

    #[test]
    fn privacy_and_caller_id_are_checked() {
        let got = errors(
            "[trunk.outbound]\nprivacy = \"id;secret\"\ncaller_id = { e164_country_code = \"044\", add_prefix = \"x\" }\n",
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].contains("trunk[0].outbound.privacy"), "{got:?}");
        assert!(
            got[1].contains("trunk[0].outbound.caller_id.e164_country_code"),
            "{got:?}"
        );
        assert!(
            got[2].contains("trunk[0].outbound.caller_id.add_prefix"),
            "{got:?}"
        );
        let got = errors("[trunk.outbound]\nadd = { X-A = \"1\", x-a = \"2\" }\n");
        assert_eq!(got.len(), 1, "{got:?}");
    }
}
