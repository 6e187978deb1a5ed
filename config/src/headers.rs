//! Per-trunk header rules (`[trunk.inbound]`, `[trunk.outbound]`): which headers a
//! B2BUA carries across, added, removed, rewritten with a template or kept to a list;
//! the P-Asserted-Identity and Privacy a trunk's calls get; caller-id normalisation.
//!
//! Templates are minijinja, compiled once when the file is loaded (a bad one is a
//! config error at its file:line:key); a template without `{{` or `{%` is a plain
//! string and never rendered.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The variables a header template may use.
pub const TEMPLATE_VARIABLES: &[&str] = &[
    "caller",
    "callee",
    "trunk",
    "from_trunk",
    "to_trunk",
    "value",
];

/// Headers that belong to one hop or one dialog, which voxgate writes itself on
/// each leg: no rule may name them (long and compact forms, lower case).
pub const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "call-id",
    "i",
    "cseq",
    "from",
    "f",
    "to",
    "t",
    "contact",
    "m",
    "content-length",
    "l",
    "content-type",
    "c",
    "max-forwards",
    "route",
    "record-route",
];

/// Headers that `pass` never carries, besides [`RESERVED_HEADERS`]: voxgate
/// negotiates them per leg (extensions, session timers, reliable provisionals,
/// authentication, the body it writes itself, subscriptions and transfers it
/// handles), so a copy from the other leg would contradict what voxgate wrote
/// (long forms, lower case).
pub const NEVER_PASSED: &[&str] = &[
    "allow",
    "supported",
    "require",
    "proxy-require",
    "unsupported",
    "session-expires",
    "min-se",
    "rseq",
    "rack",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "authentication-info",
    "content-encoding",
    "content-disposition",
    "content-language",
    "mime-version",
    "retry-after",
    "event",
    "subscription-state",
    "info-package",
    "refer-to",
    "referred-by",
    "replaces",
    "path",
    "service-route",
];

/// The identity headers whose carrying follows a trunk's `trusted` (RFC 3325):
/// `pass` never carries them past trust (lower case).
pub const TRUST_HEADERS: &[&str] = &[
    "p-asserted-identity",
    "privacy",
    "diversion",
    "history-info",
];

/// Whether `pass` may ever carry the header `name` (its long form).
pub fn passable(name: &str) -> bool {
    let listed = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(name));
    !listed(RESERVED_HEADERS) && !listed(NEVER_PASSED) && !listed(TRUST_HEADERS)
}

/// One entry of `pass`: a header name, or a prefix (`"X-*"`), lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassPattern {
    /// This header.
    Name(String),
    /// Every header whose name starts with this.
    Prefix(String),
}

impl PassPattern {
    /// Whether header `name` (its long form) matches, case-insensitively.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            PassPattern::Name(n) => n.eq_ignore_ascii_case(name),
            PassPattern::Prefix(p) => name
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
        }
    }
}

/// What a call's templates are rendered with.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct TemplateVars<'a> {
    /// The caller's number (From user part, after caller-id normalisation).
    pub caller: &'a str,
    /// The called number (the destination's user part).
    pub callee: &'a str,
    /// The trunk whose rule this is.
    pub trunk: &'a str,
    /// The trunk the call came from ("" when none).
    pub from_trunk: &'a str,
    /// The trunk the call goes to ("" when none).
    pub to_trunk: &'a str,
    /// The value of the header being rewritten ("" for an added header).
    pub value: &'a str,
}

/// A header value: a plain string, or a minijinja template compiled at load.
#[derive(Clone)]
pub struct Template {
    source: String,
    compiled: Option<Arc<minijinja::Environment<'static>>>,
}

/// The template's name inside its environment.
const NAME: &str = "t";

impl Template {
    /// Compiles `source`; the error says what minijinja found, or names an
    /// unknown variable.
    pub(crate) fn compile(source: &str) -> Result<Template, String> {
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(Template {
                source: source.to_owned(),
                compiled: None,
            });
        }
        let mut env = minijinja::Environment::new();
        // Header values are not HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| e.to_string())?;
        let template = env.get_template(NAME).map_err(|e| e.to_string())?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !TEMPLATE_VARIABLES.contains(&v.as_str()))
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(format!("unknown variable {}", unknown.join(", ")));
        }
        Ok(Template {
            source: source.to_owned(),
            compiled: Some(Arc::new(env)),
        })
    }

    /// The value for a call: the plain string, or the template rendered; `None`
    /// when rendering fails or yields CR/LF (a header value stays one line).
    pub fn render(&self, vars: &TemplateVars<'_>) -> Option<String> {
        let out = match &self.compiled {
            None => self.source.clone(),
            Some(env) => env.get_template(NAME).ok()?.render(vars).ok()?,
        };
        (!out.contains(['\r', '\n'])).then_some(out)
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Template {}

/// Caller-id normalisation (`caller_id = { ... }`), applied in this order to the
/// From user part and the P-Asserted-Identity's user part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerIdRule {
    /// To E.164: `00` + digits becomes `+` digits, `0` + digits becomes
    /// `+` country code digits; separators are removed.
    pub e164_country_code: Option<String>,
    /// Removed from the start when present.
    pub strip_prefix: Option<String>,
    /// Put in front (after the strip).
    pub add_prefix: Option<String>,
}

/// What one trunk does to the headers of one direction's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderRules {
    /// Only these carried headers pass (lower case); `None` = all of them.
    pub keep_only: Option<Vec<String>>,
    /// Carried headers removed (lower case).
    pub remove: Vec<String>,
    /// Carried headers whose value is replaced (name as written, template).
    pub rewrite: Vec<(String, Template)>,
    /// Headers added (name as written, template), after the carried ones.
    pub add: Vec<(String, Template)>,
    /// The P-Asserted-Identity put in place of any carried one.
    pub pai: Option<Template>,
    /// The Privacy put in place of any carried one (RFC 3323 values).
    pub privacy: Option<String>,
    /// Caller-id normalisation.
    pub caller_id: Option<CallerIdRule>,
    /// Headers of the other leg's message carried across as they are (before
    /// the rules above), never one of [`RESERVED_HEADERS`], [`NEVER_PASSED`] or
    /// [`TRUST_HEADERS`].
    pub pass: Vec<PassPattern>,
}

impl HeaderRules {
    /// No rule at all: the plain path, untouched.
    pub fn is_empty(&self) -> bool {
        self.keep_only.is_none()
            && self.remove.is_empty()
            && self.rewrite.is_empty()
            && self.add.is_empty()
            && self.pai.is_none()
            && self.privacy.is_none()
            && self.caller_id.is_none()
            && self.pass.is_empty()
    }

    /// Whether `pass` carries header `name` (its long form).
    pub fn passes(&self, name: &str) -> bool {
        self.pass.iter().any(|p| p.matches(name)) && passable(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_not_templates() {
        let t = Template::compile("sip:+4930123@example.com").ok();
        assert!(t.as_ref().is_some_and(|t| t.compiled.is_none()));
        let got = t.and_then(|t| t.render(&TemplateVars::default()));
        assert_eq!(got.as_deref(), Some("sip:+4930123@example.com"));
    }

    #[test]
    fn templates_render_the_calls_variables() {
        let Ok(t) = Template::compile("<sip:{{ caller }}@{{ trunk }}>;x={{ value | upper }}")
        else {
            panic!("should compile");
        };
        let vars = TemplateVars {
            caller: "+4930123",
            trunk: "carrier",
            value: "abc",
            ..TemplateVars::default()
        };
        assert_eq!(
            t.render(&vars).as_deref(),
            Some("<sip:+4930123@carrier>;x=ABC")
        );
    }

    #[test]
    fn bad_templates_and_unknown_variables_are_refused() {
        assert!(Template::compile("{{ caller").is_err());
        let Err(e) = Template::compile("{{ calee }}") else {
            panic!("unknown variable accepted");
        };
        assert!(e.contains("calee"), "{e}");
    }

    #[test]
    fn pass_patterns_match_names_and_prefixes_but_never_reserved_ones() {
        let rules = HeaderRules {
            pass: vec![
                PassPattern::Prefix("x-".to_owned()),
                PassPattern::Prefix("p-".to_owned()),
                PassPattern::Name("user-to-user".to_owned()),
            ],
            ..HeaderRules::default()
        };
        assert!(rules.passes("X-Account"));
        assert!(rules.passes("x-"));
        assert!(rules.passes("User-to-User"));
        assert!(!rules.passes("User-to-User-2"));
        assert!(!rules.passes("X"));
        assert!(!rules.passes("Subject"));
        // A prefix reaches no header whose carrying follows trust or the leg.
        assert!(!rules.passes("P-Asserted-Identity"));
        assert!(rules.passes("P-Charging-Vector"));
        let all = HeaderRules {
            pass: vec![
                PassPattern::Prefix("v".to_owned()),
                PassPattern::Prefix("c".to_owned()),
            ],
            ..HeaderRules::default()
        };
        assert!(!all.passes("Via") && !all.passes("Call-ID") && !all.passes("Contact"));
        assert!(all.passes("Call-Info"));
    }

    #[test]
    fn a_rendered_line_break_is_refused() {
        let Ok(t) = Template::compile("{{ value }}") else {
            panic!("should compile");
        };
        let vars = TemplateVars {
            value: "a\r\nVia: x",
            ..TemplateVars::default()
        };
        assert_eq!(t.render(&vars), None);
    }
}
