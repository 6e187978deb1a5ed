//! `[api]`: the call-control API's listener, its no-client fallback status and its bearer
//! tokens (their SHA-256, never the tokens); and the routes and trunks that hand their
//! calls to it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;

use super::Validator;
use super::listeners::{CheckedListener, ONE_SOCKET_PER_PORT, sockets_collide};
use crate::error::ConfigErrorKind;
use crate::model::{Admin, Api, ApiToken, Control};
use crate::raw::{List, RawApiToken, RawConfig, RawControl, S};
use crate::schema;

/// Where the API listens when `[api] listen` is not given: loopback only.
const DEFAULT_API: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9070);

/// The status of an API-controlled call without destinations while no client follows.
const DEFAULT_NO_CLIENT_STATUS: i64 = 480;

impl Validator<'_> {
    pub(super) fn api(
        &mut self,
        raw: &RawConfig,
        admin: &Admin,
        listeners: &[CheckedListener],
    ) -> Option<Api> {
        let section = raw.api.as_ref()?;
        let span = section.span();
        let api = section.get_ref();
        let listen = match &api.listen {
            None => DEFAULT_API,
            Some(l) => match self.socket_addr(l, "api.listen") {
                Some(addr) => {
                    self.api_collisions(l.span(), addr, raw, admin, listeners);
                    addr
                }
                None => DEFAULT_API,
            },
        };
        let no_client_status = self.int_or(
            api.no_client_status.as_ref(),
            "api.no_client_status",
            (400, 699),
            DEFAULT_NO_CLIENT_STATUS,
        );
        let tokens = match self.require(&api.tokens, &span, "api.tokens") {
            Some(list) => self.tokens(list, "api.tokens"),
            None => Vec::new(),
        };
        Some(Api {
            listen,
            no_client_status: u16::try_from(no_client_status).unwrap_or(480),
            tokens,
        })
    }

    /// A list of bearer tokens (`api.tokens` or `admin.tokens`, named by `at`): at least
    /// one, each with a unique name and hash.
    pub(super) fn tokens(&mut self, list: &List<RawApiToken>, at: &str) -> Vec<ApiToken> {
        let mut tokens = Vec::new();
        let mut names = Vec::new();
        let mut hashes = Vec::new();
        for (i, t) in self.non_empty(list, at).iter().enumerate() {
            let key = |k: &str| format!("{at}[{i}].{k}");
            let t_span = t.span();
            let t = t.get_ref();
            let name = self.require(&t.name, &t_span, &key("name")).and_then(|n| {
                names.push((n.get_ref().clone(), key("name"), n.span()));
                self.name(n, &key("name"))
            });
            let sha256 = self
                .require(&t.sha256, &t_span, &key("sha256"))
                .and_then(|h| {
                    let hash = parse_sha256(h.get_ref());
                    if hash.is_none() {
                        self.bad_value(h.span(), &key("sha256"), schema::describe(&key("sha256")));
                    }
                    hashes.push((h.get_ref().to_ascii_lowercase(), key("sha256"), h.span()));
                    hash
                });
            if let (Some(name), Some(sha256)) = (name, sha256) {
                tokens.push(ApiToken { name, sha256 });
            }
        }
        self.unique(&names, "a name no other token uses");
        self.unique(&hashes, "a token no other entry uses");
        tokens
    }

    /// The API's port must be free of the admin endpoint and the tcp/tls listeners.
    fn api_collisions(
        &mut self,
        span: Range<usize>,
        addr: SocketAddr,
        raw: &RawConfig,
        admin: &Admin,
        listeners: &[CheckedListener],
    ) {
        if sockets_collide(addr, admin.listen) {
            let admin_span = raw
                .admin
                .as_ref()
                .and_then(|a| a.get_ref().listen.as_ref())
                .map(S::span);
            let kind = ConfigErrorKind::Duplicate {
                found: format!("tcp {addr}"),
                first_key: if admin_span.is_some() {
                    "admin.listen".to_owned()
                } else {
                    "admin.listen (its default)".to_owned()
                },
                first_line: admin_span.map_or(0, |s| self.line(&s)),
                rule: ONE_SOCKET_PER_PORT,
            };
            self.push(span.clone(), "api.listen", kind);
        }
        if let Some(public) = admin.public_listen.filter(|p| sockets_collide(addr, *p)) {
            let at = raw
                .admin
                .as_ref()
                .and_then(|a| a.get_ref().public_listen.as_ref())
                .map(S::span);
            let kind = ConfigErrorKind::Duplicate {
                found: format!("tcp {public}"),
                first_key: "admin.public_listen".to_owned(),
                first_line: at.map_or(0, |s| self.line(&s)),
                rule: ONE_SOCKET_PER_PORT,
            };
            self.push(span.clone(), "api.listen", kind);
        }
        self.tcp_collision(span, "api.listen", addr, listeners);
    }

    /// `control = "api"` on a route or a trunk needs an `[api]` section.
    pub(super) fn control(&mut self, value: Option<&S<RawControl>>, key: &str) -> Control {
        match value.map(|v| (v, *v.get_ref())) {
            None | Some((_, RawControl::Static)) => Control::Static,
            Some((v, RawControl::Api)) => {
                if !self.api_configured {
                    self.push(v.span(), key, ConfigErrorKind::ApiWithoutSection);
                }
                Control::Api
            }
        }
    }
}

/// 64 hexadecimal digits (either case) as 32 bytes.
fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        let (hi, lo) = (digit(pair[0])?, digit(pair[1])?);
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse_sha256;

    #[test]
    fn sha256_hex() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let parsed = parse_sha256(abc);
        assert_eq!(parsed.map(|h| h[0]), Some(0xba));
        assert_eq!(parsed.map(|h| h[31]), Some(0xad));
        assert_eq!(parse_sha256(&abc.to_uppercase()), parsed);
        assert_eq!(parse_sha256(&abc[1..]), None);
        assert_eq!(parse_sha256(&format!("{}g", &abc[1..])), None);
        assert_eq!(parse_sha256(""), None);
        // Not ASCII: never split inside a character.
        assert_eq!(parse_sha256(&"é".repeat(32)), None);
    }
}
