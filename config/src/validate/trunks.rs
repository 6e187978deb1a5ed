//! `[[trunk]]`: names, allow-list CIDRs (host bits, overlap across trunks), transports.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;

use super::{Validator, transport};
use crate::error::ConfigErrorKind;
use crate::model::{
    Credentials, DigestAlgorithm, ListenerTransport, Numbering, Register, Secret, SrtpMode,
    SrtpSuite, Trunk, TrunkAuth, TrunkName,
};
use crate::raw::{List, RawAuth, RawCredentials, RawNumbering, RawRegister, RawSrtp, RawTrunk, S};
use crate::schema;

/// Codecs a trunk may name: voxgate-media's `negotiate::KNOWN` (offered by
/// voxgate itself) and `negotiate::PASS_THROUGH` (passed between linked legs
/// only); voxgate-edge's tests check that the two lists agree.
pub const KNOWN_CODECS: &[&str] = &[
    "PCMU",
    "PCMA",
    "G722",
    "telephone-event",
    "G729",
    "G723",
    "G728",
    "GSM",
    "G726-32",
    "iLBC",
    "AMR",
    "AMR-WB",
    "opus",
    "speex",
    "L16",
    "CN",
];

/// A trunk's codecs when it names none.
pub(crate) const DEFAULT_CODECS: &[&str] = &["PCMU", "PCMA", "telephone-event"];

/// One parsed allow-list entry and where it came from, for the overlap check.
struct AllowEntry {
    net: IpNet,
    trunk: usize,
    index: usize,
    span: Range<usize>,
}

impl Validator<'_> {
    /// `node_region` is the default media region; `regions` the names defined.
    pub(super) fn trunks(
        &mut self,
        raw: &Option<List<RawTrunk>>,
        node_region: &str,
        regions: &[String],
        listeners: &[String],
    ) -> Vec<Trunk> {
        let Some(list) = raw else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut allow_entries = Vec::new();
        let mut trunks = Vec::new();
        for (i, t) in list.get_ref().iter().enumerate() {
            let trunk = self.trunk(i, t, &mut allow_entries, (node_region, regions, listeners));
            if let Some(name) = &t.get_ref().name {
                names.push((
                    name.get_ref().clone(),
                    format!("trunk[{i}].name"),
                    name.span(),
                ));
            }
            trunks.push(trunk);
        }
        self.unique(&names, "a name no other [[trunk]] uses");
        self.allow_list_overlaps(allow_entries, &trunks);
        trunks
    }

    fn trunk(
        &mut self,
        i: usize,
        raw: &S<RawTrunk>,
        allow_out: &mut Vec<AllowEntry>,
        (node_region, regions, listeners): (&str, &[String], &[String]),
    ) -> Trunk {
        let key = |k: &str| format!("trunk[{i}].{k}");
        let span = raw.span();
        let raw = raw.get_ref();
        let name = self
            .require(&raw.name, &span, &key("name"))
            .and_then(|n| self.name(n, &key("name")))
            .and_then(TrunkName::new);
        let mut allow = Vec::new();
        if let Some(list) = self.require(&raw.allow, &span, &key("allow")) {
            for (j, cidr) in self.non_empty(list, &key("allow")).iter().enumerate() {
                if let Some(net) = self.cidr(cidr, &format!("trunk[{i}].allow[{j}]")) {
                    allow.push(net);
                    allow_out.push(AllowEntry {
                        net,
                        trunk: i,
                        index: j,
                        span: cidr.span(),
                    });
                }
            }
        }
        let transports = match &raw.transports {
            None => vec![
                ListenerTransport::Udp,
                ListenerTransport::Tcp,
                ListenerTransport::Tls,
            ],
            Some(list) => {
                let items = self.non_empty(list, &key("transports"));
                let seen: Vec<(String, String, Range<usize>)> = items
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        let name = transport(*t.get_ref()).to_string();
                        (name, format!("trunk[{i}].transports[{j}]"), t.span())
                    })
                    .collect();
                self.unique(&seen, "each transport once");
                let mut out: Vec<ListenerTransport> =
                    items.iter().map(|t| transport(*t.get_ref())).collect();
                out.dedup();
                out
            }
        };
        let tls_peer_name = raw.tls_peer_name.as_ref().and_then(|n| {
            if super::is_dns_name(n.get_ref()) {
                Some(n.get_ref().clone())
            } else {
                let k = key("tls_peer_name");
                self.bad_value(n.span(), &k, schema::describe(&k));
                None
            }
        });
        let listener = raw.listener.as_ref().and_then(|l| {
            self.reference(l, &key("listener"), "listener", listeners);
            l.get_ref().parse::<std::net::SocketAddr>().ok()
        });
        let advertise = raw.advertise.as_ref().and_then(|a| {
            let k = key("advertise");
            match a.get_ref().trim().parse::<std::net::IpAddr>() {
                Ok(ip) if !ip.is_unspecified() && !ip.is_multicast() => Some(ip),
                Ok(_) => {
                    self.bad_value(
                        a.span(),
                        &k,
                        "a unicast address peers can reach (not 0.0.0.0, :: or multicast)",
                    );
                    None
                }
                Err(_) => {
                    self.bad_value(a.span(), &k, schema::IP_ADDR);
                    None
                }
            }
        });
        let media_region = match &raw.media_region {
            Some(r) => {
                self.reference(r, &key("media_region"), "media_region", regions);
                r.get_ref().clone()
            }
            None => node_region.to_owned(),
        };
        // Absence is the only "unlimited": a 0 read as unlimited surprised operators who
        // meant "no calls", and a 0 that refused every call would be a trunk left out.
        let mut limit = |value: &Option<S<i64>>, name: &str, max: i64| {
            let v = value.as_ref()?;
            let k = key(name);
            if *v.get_ref() == 0 {
                self.bad_value(v.span(), &k, schema::describe(&k));
                return None;
            }
            u32::try_from(self.int(v, &k, 1, max)?).ok()
        };
        let max_calls = limit(&raw.max_calls, "max_calls", 1_000_000);
        let max_cps = limit(&raw.max_cps, "max_cps", 100_000);
        let numbering = raw
            .numbering
            .as_ref()
            .and_then(|n| self.numbering(n, &key("numbering")));
        let codecs = match &raw.codecs {
            None => DEFAULT_CODECS.iter().map(|c| (*c).to_owned()).collect(),
            Some(list) => {
                let items = self.non_empty(list, &key("codecs"));
                let mut out = Vec::new();
                for (j, c) in items.iter().enumerate() {
                    let k = format!("trunk[{i}].codecs[{j}]");
                    match KNOWN_CODECS
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(c.get_ref()))
                    {
                        Some(known) => out.push((*known).to_owned()),
                        None => self.bad_value(c.span(), &k, schema::describe(&k)),
                    }
                }
                let seen: Vec<(String, String, Range<usize>)> = items
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        (
                            c.get_ref().to_ascii_lowercase(),
                            format!("trunk[{i}].codecs[{j}]"),
                            c.span(),
                        )
                    })
                    .collect();
                self.unique(&seen, "each codec once");
                // Events and comfort noise go beside a voice codec, never alone.
                let voice = out.iter().any(|c| c != "telephone-event" && c != "CN");
                if !items.is_empty() && !voice {
                    let k = key("codecs");
                    self.bad_value(list.span(), &k, schema::describe(&k));
                }
                out
            }
        };
        let control = self.control(raw.control.as_ref(), &key("control"));
        let srtp = match raw.srtp.as_ref().map(|s| *s.get_ref()) {
            None | Some(RawSrtp::Off) => SrtpMode::Off,
            Some(RawSrtp::Optional) => SrtpMode::Optional,
            Some(RawSrtp::Required) => SrtpMode::Required,
        };
        let srtp_suites = match &raw.srtp_suites {
            None => SrtpSuite::ALL.to_vec(),
            Some(list) => self.srtp_suites(i, list),
        };
        let keepalive = raw
            .keepalive
            .as_ref()
            .map(|k| self.keepalive(k, &key("keepalive")));
        let out_of_service_status = self.int_or(
            raw.out_of_service_status.as_ref(),
            &key("out_of_service_status"),
            (400, 699),
            503,
        );
        let credentials = raw
            .credentials
            .as_ref()
            .and_then(|c| self.credentials(c, &key("credentials")));
        let auth = match raw.auth.as_ref().map(|a| (*a.get_ref(), a.span())) {
            None | Some((RawAuth::Address, _)) => TrunkAuth::Address,
            Some((RawAuth::Digest, span)) => {
                // Our challenges need a realm, and the answers a user and password.
                let usable = raw
                    .credentials
                    .as_ref()
                    .is_some_and(|c| c.get_ref().realm.is_some());
                if !usable {
                    let k = key("auth");
                    let kind = ConfigErrorKind::BadValue {
                        found: "\"digest\" without credentials naming a realm".to_owned(),
                        expected: schema::describe(&k).to_owned(),
                    };
                    self.push(span, k, kind);
                }
                TrunkAuth::Digest
            }
        };
        let register = raw
            .register
            .as_ref()
            .and_then(|r| self.register(r, &key("register")));
        Trunk {
            // Placeholder: with an invalid name the load fails anyway.
            name: name.unwrap_or_else(|| TrunkName(String::new())),
            allow,
            transports,
            tls_peer_name,
            listener,
            advertise,
            media_region,
            max_calls,
            max_cps,
            numbering,
            codecs,
            codec_policy: raw.codecs.is_some(),
            control,
            srtp,
            srtp_suites,
            keepalive,
            out_of_service_status: u16::try_from(out_of_service_status).unwrap_or(503),
            trusted: raw.trusted.as_ref().is_some_and(|t| *t.get_ref()),
            credentials,
            auth,
            register,
            inbound: self.header_rules(raw.inbound.as_ref(), &key("inbound")),
            outbound: self.header_rules(raw.outbound.as_ref(), &key("outbound")),
        }
    }

    /// `register`: a `sip:`/`sips:` registrar URI, a user, the lifetime asked for.
    fn register(&mut self, raw: &S<RawRegister>, key: &str) -> Option<Register> {
        let span = raw.span();
        let raw = raw.get_ref();
        let k = |name: &str| format!("{key}.{name}");
        let registrar = self
            .require(&raw.registrar, &span, &k("registrar"))
            .and_then(|r| {
                let text = r.get_ref();
                let ok = (text.starts_with("sip:") || text.starts_with("sips:"))
                    && text.len() > 5
                    && !text
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
                if !ok {
                    self.bad_value(r.span(), &k("registrar"), schema::describe(&k("registrar")));
                }
                ok.then(|| text.clone())
            });
        let user = self.require(&raw.user, &span, &k("user")).and_then(|u| {
            let text = u.get_ref();
            let ok = !text.is_empty()
                && text.len() <= 64
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b));
            if !ok {
                self.bad_value(u.span(), &k("user"), schema::describe(&k("user")));
            }
            ok.then(|| text.clone())
        });
        let expires = self.int_or(raw.expires_s.as_ref(), &k("expires_s"), (60, 86_400), 3600);
        let transport = raw
            .transport
            .as_ref()
            .map_or(ListenerTransport::Udp, |t| transport(*t.get_ref()));
        Some(Register {
            registrar: registrar?,
            transport,
            user: user?,
            expires: std::time::Duration::from_secs(u64::try_from(expires).unwrap_or(3600)),
        })
    }

    /// `credentials`: a user name and the password from exactly one of a file or an
    /// environment variable (never the main file: it is shared, copied and logged
    /// by tools that know nothing of secrets), read now so that a missing one fails
    /// the load and a reload picks up a changed one.
    fn credentials(&mut self, raw: &S<RawCredentials>, key: &str) -> Option<Credentials> {
        let span = raw.span();
        let raw = raw.get_ref();
        let k = |name: &str| format!("{key}.{name}");
        let username = self
            .require(&raw.username, &span, &k("username"))
            .and_then(|u| {
                let text = u.get_ref();
                // Quoted in the Authorization header: no quotes, controls or line breaks.
                let ok = !text.is_empty()
                    && text.len() <= 256
                    && !text
                        .chars()
                        .any(|c| c == '"' || c == '\\' || c.is_control());
                if !ok {
                    self.bad_value(u.span(), &k("username"), schema::describe(&k("username")));
                }
                ok.then(|| text.clone())
            });
        let realm = raw.realm.as_ref().and_then(|r| {
            let text = r.get_ref();
            let ok = !text.is_empty() && text.is_ascii() && !text.chars().any(|c| c.is_control());
            if !ok {
                self.bad_value(r.span(), &k("realm"), schema::describe(&k("realm")));
            }
            ok.then(|| text.clone())
        });
        let password = match (&raw.password_file, &raw.password_env) {
            (Some(file), None) => {
                let path = self.file(file, &k("password_file"))?;
                match std::fs::read_to_string(&path) {
                    // One line: the newline an editor adds is not part of it.
                    Ok(text) => {
                        let line = text.trim_end_matches(['\r', '\n']);
                        if line.is_empty() || line.contains(['\r', '\n']) {
                            self.bad_value(file.span(), &k("password_file"), schema::PASSWORD_FILE);
                            return None;
                        }
                        Some(Secret::new(line.to_owned()))
                    }
                    Err(e) => {
                        let kind = ConfigErrorKind::FileNotFound {
                            path,
                            reason: e.kind(),
                        };
                        self.push(file.span(), k("password_file"), kind);
                        None
                    }
                }
            }
            (None, Some(env)) => {
                let name = env.get_ref();
                let valid_name = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid_name {
                    self.bad_value(env.span(), &k("password_env"), schema::PASSWORD_ENV);
                    return None;
                }
                match std::env::var(name) {
                    Ok(value) if !value.is_empty() => Some(Secret::new(value)),
                    _ => {
                        let kind = ConfigErrorKind::EnvUnset {
                            name: name.clone(),
                            expected: schema::PASSWORD_ENV,
                        };
                        self.push(env.span(), k("password_env"), kind);
                        None
                    }
                }
            }
            _ => {
                // Neither or both: one source, so that which one is used is never a guess.
                // The table is not echoed: a password written in it by mistake stays out
                // of the error (and so of logs and terminals).
                let found = if raw.password_file.is_some() {
                    "a table with both password_file and password_env"
                } else {
                    "a table with neither password_file nor password_env"
                };
                let kind = ConfigErrorKind::BadValue {
                    found: found.to_owned(),
                    expected: schema::CREDENTIALS.to_owned(),
                };
                self.push(span, key, kind);
                None
            }
        };
        let algorithms = match &raw.algorithms {
            None => vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            Some(list) => {
                let items = self.non_empty(list, &k("algorithms"));
                let mut out = Vec::new();
                for (j, name) in items.iter().enumerate() {
                    let item = format!("{key}.algorithms[{j}]");
                    match DigestAlgorithm::ALL
                        .into_iter()
                        .find(|a| a.as_str().eq_ignore_ascii_case(name.get_ref()))
                    {
                        Some(a) => out.push(a),
                        None => {
                            self.bad_value(name.span(), &item, schema::describe(&k("algorithms")))
                        }
                    }
                }
                let seen: Vec<(String, String, Range<usize>)> = items
                    .iter()
                    .enumerate()
                    .map(|(j, a)| {
                        (
                            a.get_ref().to_ascii_uppercase(),
                            format!("{key}.algorithms[{j}]"),
                            a.span(),
                        )
                    })
                    .collect();
                self.unique(&seen, "each algorithm once");
                out
            }
        };
        Some(Credentials {
            username: username?,
            password: password?,
            realm,
            algorithms,
        })
    }

    /// `srtp_suites`: known names (as in `a=crypto`, case-sensitive), each once.
    fn srtp_suites(&mut self, i: usize, list: &S<Vec<S<String>>>) -> Vec<SrtpSuite> {
        let key = format!("trunk[{i}].srtp_suites");
        let items = self.non_empty(list, &key);
        let mut out = Vec::new();
        for (j, name) in items.iter().enumerate() {
            match SrtpSuite::ALL
                .into_iter()
                .find(|s| s.as_str() == name.get_ref())
            {
                Some(suite) => out.push(suite),
                None => self.bad_value(name.span(), &format!("{key}[{j}]"), schema::describe(&key)),
            }
        }
        let seen: Vec<(String, String, Range<usize>)> = items
            .iter()
            .enumerate()
            .map(|(j, s)| (s.get_ref().clone(), format!("{key}[{j}]"), s.span()))
            .collect();
        self.unique(&seen, "each suite once");
        out.dedup();
        out
    }

    /// A numbering plan: a country code and optional distinct digit prefixes.
    fn numbering(&mut self, raw: &S<RawNumbering>, key: &str) -> Option<Numbering> {
        let span = raw.span();
        let raw = raw.get_ref();
        let cc_key = format!("{key}.country_code");
        let country_code = self
            .require(&raw.country_code, &span, &cc_key)
            .and_then(|cc| {
                let text = cc.get_ref();
                let ok = (1..=3).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && !text.starts_with('0');
                if !ok {
                    self.bad_value(cc.span(), &cc_key, schema::describe(&cc_key));
                }
                ok.then(|| text.clone())
            });
        let mut prefix = |value: &Option<S<String>>, name: &str| {
            let value = value.as_ref()?;
            let k = format!("{key}.{name}");
            let text = value.get_ref();
            if (1..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
                Some((text.clone(), k, value.span()))
            } else {
                self.bad_value(value.span(), &k, schema::DIGITS);
                None
            }
        };
        let national = prefix(&raw.national_prefix, "national_prefix");
        let international = prefix(&raw.international_prefix, "international_prefix");
        // The same prefix for both would make every number ambiguous.
        let seen: Vec<_> = national.iter().chain(&international).cloned().collect();
        let errors_before = self.errors.len();
        self.unique(
            &seen,
            "an international_prefix different from the national_prefix",
        );
        let distinct = self.errors.len() == errors_before;
        Some(Numbering {
            country_code: country_code?,
            national_prefix: national.map(|(p, _, _)| p),
            international_prefix: international.map(|(p, _, _)| p),
        })
        .filter(|_| distinct)
    }

    /// A CIDR network or a bare address; host bits must be clear.
    fn cidr(&mut self, value: &S<String>, key: &str) -> Option<IpNet> {
        let text = value.get_ref().trim();
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => match text.parse::<IpAddr>() {
                Ok(addr) => IpNet::from(addr),
                Err(_) => {
                    self.bad_value(value.span(), key, schema::CIDR);
                    return None;
                }
            },
        };
        if net.trunc() != net {
            let kind = ConfigErrorKind::HostBitsSet {
                found: value.get_ref().clone(),
                network: net.trunc(),
            };
            self.push(value.span(), key, kind);
            return None;
        }
        Some(net)
    }

    /// Two prefixes overlap exactly when one contains the other. Sorted by (family,
    /// network address, prefix length), every prefix that contains the current one is on
    /// a stack of "open" prefixes, so the check is O(n log n) rather than O(n^2) for
    /// carriers with thousands of ranges. Each overlap is reported at the entry that comes
    /// later in the file.
    fn allow_list_overlaps(&mut self, mut entries: Vec<AllowEntry>, trunks: &[Trunk]) {
        entries.sort_by_key(|e| (e.net.network(), e.net.prefix_len()));
        let mut open: Vec<&AllowEntry> = Vec::new();
        let mut found = Vec::new();
        for e in &entries {
            while open.last().is_some_and(|o| !o.net.contains(&e.net)) {
                open.pop();
            }
            for o in &open {
                // Nesting within one trunk is harmless (the address still names one trunk).
                if o.trunk != e.trunk {
                    let (first, second) = if (o.trunk, o.index) < (e.trunk, e.index) {
                        (*o, e)
                    } else {
                        (e, *o)
                    };
                    found.push((first, second));
                }
            }
            open.push(e);
        }
        found.sort_by_key(|(_, second)| second.span.start);
        for (first, second) in found {
            let kind = ConfigErrorKind::Overlap {
                net: second.net,
                other_key: format!("trunk[{}].allow[{}]", first.trunk, first.index),
                other_net: first.net,
                other_line: self.line(&first.span),
                other_trunk: trunks
                    .get(first.trunk)
                    .map(|t| t.name.to_string())
                    .unwrap_or_default(),
            };
            let key = format!("trunk[{}].allow[{}]", second.trunk, second.index);
            self.push(second.span.clone(), key, kind);
        }
    }
}
