//! From text to the raw serde structs, with every error located: byte spans become
//! line:column, and spans of serde errors become dotted key paths by looking them up in
//! the span-preserving tree the TOML parser builds.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::raw::RawConfig;
use crate::schema;

/// The text of one file and a line index over it.
pub(crate) struct Source<'a> {
    name: &'a str,
    text: &'a str,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(name: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            name,
            text,
            line_starts,
        }
    }

    /// The file name errors are reported under.
    pub(crate) fn name(&self) -> &str {
        self.name
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        let column = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        (line.max(1), column + 1)
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// An error at `span`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        kind: ConfigErrorKind,
    ) -> ConfigError {
        let (line, column) = self.position(span.start);
        ConfigError {
            file: self.name.to_owned(),
            line: Some(line),
            column: Some(column),
            key: key.into(),
            kind,
        }
    }

    /// The text at `span` as the user wrote it, cut to one short line for messages.
    pub(crate) fn snippet(&self, span: Range<usize>) -> String {
        const MAX_CHARS: usize = 60;
        let text = self.text.get(span).unwrap_or("");
        let first_line = text.lines().next().unwrap_or("").trim_end();
        if first_line.chars().count() > MAX_CHARS || first_line.len() < text.trim_end().len() {
            let cut: String = first_line.chars().take(MAX_CHARS).collect();
            format!("{cut}...")
        } else {
            first_line.to_owned()
        }
    }
}

/// One key or array element of the parsed tree.
struct Entry {
    path: String,
    key_span: Option<Range<usize>>,
    value_span: Range<usize>,
    /// Not a table or array.
    leaf: bool,
}

/// Every key path of the document with its spans, to name the key a serde error is about.
struct SpanIndex(Vec<Entry>);

impl SpanIndex {
    fn build(root: &Spanned<DeTable<'_>>) -> Self {
        let mut entries = vec![Entry {
            path: String::new(),
            key_span: None,
            value_span: root.span(),
            leaf: false,
        }];
        for (k, v) in root.get_ref().iter() {
            index_value(v, join(Some(""), k.get_ref()), Some(k.span()), &mut entries);
        }
        SpanIndex(entries)
    }

    /// The key a syntax error is in, if it is inside a key or a plain value. The tree the
    /// parser recovers around a syntax error has unreliable table spans, so no guess from
    /// those: no key is better than a wrong one.
    fn lookup_syntax(&self, span: &Range<usize>) -> Option<&Entry> {
        let within = |r: &Range<usize>| r.start <= span.start && span.end <= r.end;
        self.0
            .iter()
            .find(|e| e.key_span.as_ref().is_some_and(within) || (e.leaf && within(&e.value_span)))
    }

    /// The key a span is about: the key itself if the span is a key, otherwise the innermost
    /// value that contains it.
    fn lookup(&self, span: &Range<usize>) -> Option<&Entry> {
        if let Some(e) = self.0.iter().find(|e| e.key_span.as_ref() == Some(span)) {
            return Some(e);
        }
        // Entries are in pre-order, so on equal width the later one is the deeper one (the
        // first `[[listener]]` element has the same span as the array).
        self.0
            .iter()
            .filter(|e| e.value_span.start <= span.start && span.end <= e.value_span.end)
            .fold(None, |best: Option<&Entry>, e| match best {
                Some(b) if b.value_span.len() < e.value_span.len() => Some(b),
                _ => Some(e),
            })
    }
}

fn index_value(
    value: &Spanned<DeValue<'_>>,
    path: String,
    key_span: Option<Range<usize>>,
    out: &mut Vec<Entry>,
) {
    out.push(Entry {
        path: path.clone(),
        key_span,
        value_span: value.span(),
        leaf: !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)),
    });
    match value.get_ref() {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                index_value(v, join(Some(&path), k.get_ref()), Some(k.span()), out);
            }
        }
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                index_value(v, format!("{path}[{i}]"), None, out);
            }
        }
        _ => {}
    }
}

/// `parent.key`, quoting a key that is not a bare TOML key.
fn join(parent: Option<&str>, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    match parent {
        Some(p) if !p.is_empty() => format!("{p}.{key}"),
        _ => key,
    }
}

/// Reports every key the schema does not know, in all tables at once (serde's
/// `deny_unknown_fields` would stop at the first), and removes them so that
/// validation can still report every other error in the same run.
fn unknown_in_table(
    source: &Source<'_>,
    t: &mut DeTable<'_>,
    path: &str,
    pattern: &str,
    out: &mut Vec<ConfigError>,
) {
    // Tables the schema does not describe are reported by serde as wrong types.
    let Some(table) = schema::table(pattern) else {
        return;
    };
    let mut unknown = Vec::new();
    for (k, v) in t.iter_mut() {
        let name = k.get_ref().as_ref();
        let child = join(Some(path), name);
        if table.keys.iter().any(|key| key.name == name) {
            let child_pattern = join(Some(pattern), name);
            unknown_keys(source, v.get_mut(), &child, &child_pattern, out);
        } else {
            let allowed = table.keys.iter().map(|key| key.name).collect();
            out.push(source.error(k.span(), child, ConfigErrorKind::UnknownKey { allowed }));
            unknown.push(name.to_owned());
        }
    }
    for name in &unknown {
        t.remove(name.as_str());
    }
}

fn unknown_keys(
    source: &Source<'_>,
    value: &mut DeValue<'_>,
    path: &str,
    pattern: &str,
    out: &mut Vec<ConfigError>,
) {
    match value {
        DeValue::Table(t) => unknown_in_table(source, t, path, pattern, out),
        DeValue::Array(a) => {
            let element_pattern = format!("{pattern}[]");
            for (i, v) in a.iter_mut().enumerate() {
                let element = format!("{path}[{i}]");
                unknown_keys(source, v.get_mut(), &element, &element_pattern, out);
            }
        }
        _ => {}
    }
}

/// Parses the text into the raw structs: syntax errors (all of them) stop here;
/// unknown keys (all of them) are reported and left out, so the caller can
/// validate the rest; the first wrong type serde finds stops here too.
pub(crate) fn parse(
    source: &Source<'_>,
) -> Result<(RawConfig, Vec<ConfigError>), Vec<ConfigError>> {
    parse_as(source, |source, root, unknown| {
        unknown_in_table(source, root, "", "", unknown);
    })
}

/// The tables an included file may hold.
pub(crate) const INCLUDED_TABLES: &[&str] = &["entry_point", "flow"];

/// Parses an included file: only [`INCLUDED_TABLES`] at its root, each checked against
/// the schema as in the main file.
pub(crate) fn parse_include(
    source: &Source<'_>,
) -> Result<(crate::raw::RawInclude, Vec<ConfigError>), Vec<ConfigError>> {
    parse_as(source, |source, root, unknown| {
        let mut refused = Vec::new();
        for (k, v) in root.iter_mut() {
            let name = k.get_ref().as_ref();
            if INCLUDED_TABLES.contains(&name) {
                unknown_keys(source, v.get_mut(), name, name, unknown);
            } else {
                let allowed = INCLUDED_TABLES.to_vec();
                unknown.push(source.error(k.span(), name, ConfigErrorKind::UnknownKey { allowed }));
                refused.push(name.to_owned());
            }
        }
        for name in &refused {
            root.remove(name.as_str());
        }
    })
}

fn parse_as<T: serde::de::DeserializeOwned>(
    source: &Source<'_>,
    check_keys: impl FnOnce(&Source<'_>, &mut DeTable<'_>, &mut Vec<ConfigError>),
) -> Result<(T, Vec<ConfigError>), Vec<ConfigError>> {
    let (mut root, syntax_errors) = DeTable::parse_recoverable(source.text);
    if !syntax_errors.is_empty() {
        let index = SpanIndex::build(&root);
        let mut errors: Vec<ConfigError> = syntax_errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                let key = index
                    .lookup_syntax(&span)
                    .map(|e| e.path.clone())
                    .unwrap_or_default();
                source.error(
                    span,
                    key,
                    ConfigErrorKind::Syntax {
                        detail: e.message().to_owned(),
                    },
                )
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }

    let index = SpanIndex::build(&root);
    let mut unknown = Vec::new();
    check_keys(source, root.get_mut(), &mut unknown);
    // Tables iterate in key order; report in file order.
    unknown.sort_by_key(|e| (e.line, e.column));
    match T::deserialize(toml::de::Deserializer::from(root)) {
        Ok(raw) => Ok((raw, unknown)),
        Err(e) => {
            unknown.push(serde_error(source, &index, &e));
            Err(unknown)
        }
    }
}

/// Turns serde's one error into a located one with the key path and what is allowed.
fn serde_error(source: &Source<'_>, index: &SpanIndex, e: &toml::de::Error) -> ConfigError {
    let message = e.message();
    let Some(span) = e.span() else {
        return ConfigError {
            file: source.name.to_owned(),
            line: None,
            column: None,
            key: String::new(),
            kind: ConfigErrorKind::Syntax {
                detail: message.to_owned(),
            },
        };
    };
    let path = index
        .lookup(&span)
        .map(|e| e.path.clone())
        .unwrap_or_default();
    if let Some(field) = backticked_after(message, "unknown field ") {
        // Normally caught by `unknown_keys` first; kept so that a schema table that
        // drifted from the serde structs still yields a located error.
        let parent = path
            .strip_suffix(&field)
            .unwrap_or(&path)
            .trim_end_matches('.');
        let allowed = schema::allowed_keys(&schema::pattern_of(parent)).unwrap_or_default();
        return source.error(span, path, ConfigErrorKind::UnknownKey { allowed });
    }
    if let Some(field) = backticked_after(message, "missing field ") {
        let key = join(Some(&path), &field);
        let expected = schema::describe(&key).to_owned();
        return source.error(span, key, ConfigErrorKind::Missing { expected });
    }
    let expected = schema::describe(&path).to_owned();
    let found = source.snippet(span.clone());
    source.error(span, path, ConfigErrorKind::BadValue { found, expected })
}

/// `x` from "``{prefix}`x`...``".
fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let s = Source::new("f", "ab\n\u{e9}x = 1\n");
        assert_eq!(s.position(0), (1, 1));
        assert_eq!(s.position(1), (1, 2));
        assert_eq!(s.position(3), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(s.position(5), (2, 2));
        assert_eq!(s.position(1000), (3, 1));
        assert_eq!(Source::new("f", "").position(0), (1, 1));
    }

    #[test]
    fn snippets_are_short() {
        let s = Source::new("f", "a = \"x\"\nb = [1,\n 2]\n");
        assert_eq!(s.snippet(4..7), "\"x\"");
        assert_eq!(s.snippet(12..19), "[1,...");
    }

    #[test]
    fn keys_that_need_quotes_are_quoted() {
        assert_eq!(join(Some("a"), "b"), "a.b");
        assert_eq!(join(Some(""), "b"), "b");
        assert_eq!(join(Some("a"), "b.c"), "a.\"b.c\"");
    }

    /// The key lists of `schema` must be exactly the fields of the serde structs; this
    /// provokes serde's unknown-field error in every table and compares the lists.
    #[test]
    fn schema_matches_serde_structs() {
        let docs = [
            ("", "zzz = 1"),
            ("node", "[node]\nzzz = 1"),
            ("admin", "[admin]\nzzz = 1"),
            ("logging", "[logging]\nzzz = 1"),
            ("sip", "[sip]\nzzz = 1"),
            ("sip.timers", "[sip.timers]\nzzz = 1"),
            ("sip.limits", "[sip.limits]\nzzz = 1"),
            ("listener[]", "[[listener]]\nzzz = 1"),
            ("trunk[]", "[[trunk]]\nzzz = 1"),
            ("trunk[].numbering", "[[trunk]]\nnumbering = { zzz = 1 }"),
            ("media_region[]", "[[media_region]]\nzzz = 1"),
            ("route[]", "[[route]]\nzzz = 1"),
            ("entry_point[]", "[[entry_point]]\nzzz = 1"),
            ("flow[]", "[[flow]]\nzzz = 1"),
            ("flow[].variable[]", "[[flow]]\n[[flow.variable]]\nzzz = 1"),
            ("flow[].node[]", "[[flow]]\n[[flow.node]]\nzzz = 1"),
            ("site[]", "[[site]]\nzzz = 1"),
            ("team[]", "[[team]]\nzzz = 1"),
            ("agent[]", "[[agent]]\nzzz = 1"),
            ("agent[].dial", "[[agent]]\ndial = { zzz = 1 }"),
            (
                "agent[].dial.keepalive",
                "[[agent]]\ndial = { keepalive = { zzz = 1 } }",
            ),
            ("queue[]", "[[queue]]\nzzz = 1"),
            ("queue[].groups[]", "[[queue]]\ngroups = [{ zzz = 1 }]"),
            ("route[].match_user", "[[route]]\nmatch_user = { zzz = 1 }"),
            (
                "route[].destinations[]",
                "[[route]]\ndestinations = [{ zzz = 1 }]",
            ),
            ("calls", "[calls]\nzzz = 1"),
            ("cdr", "[cdr]\nzzz = 1"),
            ("hep", "[hep]\nzzz = 1"),
            ("api", "[api]\nzzz = 1"),
            ("api.tokens[]", "[api]\ntokens = [{ zzz = 1 }]"),
            ("media", "[media]\nzzz = 1"),
            ("prompt[]", "[[prompt]]\nzzz = 1"),
            ("protection", "[protection]\nzzz = 1"),
            ("dns", "[dns]\nzzz = 1"),
            ("kill_switch", "[kill_switch]\nzzz = 1"),
            ("admin.tokens[]", "[admin]\ntokens = [{ zzz = 1 }]"),
            ("trunk[].keepalive", "[[trunk]]\nkeepalive = { zzz = 1 }"),
            ("trunk[].inbound", "[[trunk]]\ninbound = { zzz = 1 }"),
            ("trunk[].outbound", "[[trunk]]\noutbound = { zzz = 1 }"),
            (
                "trunk[].inbound.caller_id",
                "[[trunk]]\ninbound = { caller_id = { zzz = 1 } }",
            ),
            (
                "trunk[].outbound.caller_id",
                "[[trunk]]\noutbound = { caller_id = { zzz = 1 } }",
            ),
            (
                "trunk[].credentials",
                "[[trunk]]\ncredentials = { zzz = 1 }",
            ),
            ("trunk[].register", "[[trunk]]\nregister = { zzz = 1 }"),
            (
                "route[].destinations[].keepalive",
                "[[route]]\ndestinations = [{ keepalive = { zzz = 1 } }]",
            ),
        ];
        assert_eq!(
            docs.len(),
            schema::TABLES.len(),
            "a schema table is not covered"
        );
        for (pattern, doc) in docs {
            let Err(e) = toml::from_str::<RawConfig>(doc) else {
                panic!("{pattern}: zzz was accepted");
            };
            let listed: Vec<String> = e
                .message()
                .split_once("expected ")
                .map(|(_, list)| list)
                .unwrap_or("")
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            let schema_keys = schema::allowed_keys(pattern).unwrap_or_default();
            assert_eq!(listed, schema_keys, "{pattern}: {}", e.message());
        }
    }

    #[test]
    fn unknown_keys_are_all_reported_at_the_key() {
        let text = "[node]\nname = \"a\"\nnmae = \"b\"\n[[listener]]\ntranport = \"udp\"\n";
        let source = Source::new("x.toml", text);
        // The unknown keys are left out, so the rest still parses for validation.
        let Ok((_, errors)) = parse(&source) else {
            panic!("the rest of the file should still parse");
        };
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            [
                "x.toml:3:1: node.nmae: unknown key; allowed: name, region",
                "x.toml:5:1: listener[0].tranport: unknown key; allowed: transport, address, \
                 recv_buffer, send_buffer, certificate, private_key, client_ca, advertise",
            ]
        );
    }
}
