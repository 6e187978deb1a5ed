//! Digest authentication (RFC 3261 §22, with the RFC 8760 algorithms
//! SHA-512-256, SHA-256 and MD5). As a client (this module): reading the
//! challenges of a 401 or 407 and writing the `Authorization` /
//! `Proxy-Authorization` that answers the strongest of them. As a server
//! ([`server`]): our own challenges with stateless nonces, and the check of
//! the answers.
//!
//! Pure functions: no clock, no I/O, no randomness (the caller passes the
//! cnonce). The hashes and the header grammar come from the `digest_auth`
//! crate; this module chooses among challenges and keeps untrusted input
//! away from the parts of that crate that could panic (it slices by character
//! count, so a non-ASCII value could split a character: such values are
//! refused before they reach it).
//!
//! ```
//! use voxgate_sip::auth::{Challenge, Credentials};
//! use voxgate_sip::message::Method;
//!
//! let c = Challenge::parse(
//!     r#"Digest realm="carrier.example", nonce="abc", qop="auth", algorithm=SHA-256"#,
//!     false,
//! )
//! .unwrap();
//! let creds = Credentials { username: "acme", password: "secret" };
//! let (_, value) = c.authorize(Method::Invite, "sip:+4420@carrier.example", b"", &creds, "0a4f").unwrap();
//! assert!(value.starts_with("Digest username=\"acme\", realm=\"carrier.example\""));
//! assert!(value.contains("qop=auth, nc=00000001, cnonce=\"0a4f\""));
//! assert!(value.contains("algorithm=SHA-256"));
//! ```

pub mod server;

use crate::message::{HeaderName, Message, MessageBuilder, Method};
use digest_auth::{AlgorithmType, AuthContext, HttpMethod, Qop, WwwAuthenticateHeader};
use std::borrow::Cow;

/// Longest challenge value read; a longer one is refused unread.
pub const MAX_CHALLENGE_LEN: usize = 2048;

/// Why a challenge could not be read or answered.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// The value is longer than [`MAX_CHALLENGE_LEN`].
    #[error("challenge of {len} bytes is longer than {MAX_CHALLENGE_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Non-ASCII bytes (refused: see the module docs).
    #[error("challenge holds non-ASCII characters")]
    NotAscii,
    /// Another scheme than Digest (Basic has no place in SIP, §22.1).
    #[error("not a Digest challenge")]
    NotDigest,
    /// The parameters do not parse, lack realm or nonce, or name an unknown
    /// algorithm, qop or charset.
    #[error("malformed or unsupported Digest challenge")]
    Malformed,
    /// The request to send again lacks what it needs (a method, a CSeq).
    #[error("the request to authorize has no valid {header:?}")]
    Request {
        /// The header missing or malformed.
        header: HeaderName,
    },
}

/// The hash of a challenge, weakest first (the order [`strongest`] uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// MD5 (RFC 3261; the default when a challenge names none).
    Md5,
    /// SHA-256 (RFC 8760).
    Sha256,
    /// SHA-512/256 (RFC 8760).
    Sha512_256,
}

impl Algorithm {
    /// The name used in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }
}

/// What a trunk authenticates with. Never printed: no `Debug`.
pub struct Credentials<'a> {
    /// The user name (`username=`).
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
}

/// One parsed `WWW-Authenticate` or `Proxy-Authenticate` Digest challenge.
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    inner: WwwAuthenticateHeader,
    proxy: bool,
}

impl Challenge {
    /// Parses one challenge value; `proxy` when it came in `Proxy-Authenticate`
    /// (a 407), which the answer then goes in `Proxy-Authorization`.
    pub fn parse(value: &str, proxy: bool) -> Result<Challenge, DigestError> {
        if value.len() > MAX_CHALLENGE_LEN {
            return Err(DigestError::TooLong { len: value.len() });
        }
        if !value.is_ascii() {
            return Err(DigestError::NotAscii);
        }
        let value = value.trim_start();
        // The scheme is case-insensitive (RFC 7235 §2.1); the crate strips
        // only "Digest" as written.
        let params = match value.get(..6) {
            Some(scheme) if scheme.eq_ignore_ascii_case("digest") => &value[6..],
            _ => return Err(DigestError::NotDigest),
        };
        if !params.is_empty() && !params.starts_with([' ', '\t']) {
            return Err(DigestError::NotDigest);
        }
        // Unknown qop tokens are ignored (RFC 7616 §3.3), not fatal as in the crate.
        let mut inner =
            WwwAuthenticateHeader::parse(params).or_else(|_| Self::without_qop(params))?;
        if let Some(qops) = &mut inner.qop {
            // qop=auth when offered: the body need not be hashed (§22.4 allows either).
            if qops.contains(&Qop::AUTH) {
                *qops = vec![Qop::AUTH];
            }
        }
        Ok(Challenge { inner, proxy })
    }

    /// The challenge read again with the qop tokens we know only, when the
    /// first reading failed on an unknown one.
    fn without_qop(params: &str) -> Result<WwwAuthenticateHeader, DigestError> {
        let lower = params.to_ascii_lowercase();
        let start = lower.find("qop=\"").ok_or(DigestError::Malformed)?;
        let open = start + "qop=\"".len();
        let close = open
            + params
                .get(open..)
                .and_then(|r| r.find('"'))
                .ok_or(DigestError::Malformed)?;
        let known: Vec<&str> = params[open..close]
            .split(',')
            .map(str::trim)
            .filter(|t| matches!(*t, "auth" | "auth-int"))
            .collect();
        let rewritten = if known.is_empty() {
            format!("{}{}", &params[..start], &params[close + 1..])
        } else {
            format!(
                "{}qop=\"{}\"{}",
                &params[..start],
                known.join(","),
                &params[close + 1..]
            )
        };
        WwwAuthenticateHeader::parse(&rewritten).map_err(|_| DigestError::Malformed)
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The hash asked for.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner.algorithm.algo {
            AlgorithmType::MD5 => Algorithm::Md5,
            AlgorithmType::SHA2_256 => Algorithm::Sha256,
            AlgorithmType::SHA2_512_256 => Algorithm::Sha512_256,
        }
    }

    /// `stale=true`: our nonce expired, the credentials were right (a new
    /// answer is worth sending, RFC 7616 §3.3).
    pub fn stale(&self) -> bool {
        self.inner.stale
    }

    /// True when it came in `Proxy-Authenticate`.
    pub fn is_proxy(&self) -> bool {
        self.proxy
    }

    /// The header (`Authorization` or `Proxy-Authorization`) and value that
    /// answer this challenge for a request `method` to `uri` with `body`,
    /// as the first use of the nonce (nc=1).
    pub fn authorize(
        &self,
        method: Method,
        uri: &str,
        body: &[u8],
        credentials: &Credentials<'_>,
        cnonce: &str,
    ) -> Result<(HeaderName, String), DigestError> {
        self.authorize_as(method.as_str(), uri, body, credentials, cnonce)
    }

    /// [`authorize`](Self::authorize) with the method as text (the RFC 7616
    /// test vectors are HTTP's GET).
    fn authorize_as(
        &self,
        method: &str,
        uri: &str,
        body: &[u8],
        credentials: &Credentials<'_>,
        cnonce: &str,
    ) -> Result<(HeaderName, String), DigestError> {
        let mut prompt = self.inner.clone();
        prompt.nc = 0;
        let mut context = AuthContext::new_with_method(
            credentials.username,
            credentials.password,
            uri,
            Some(body),
            HttpMethod(Cow::Borrowed(method)),
        );
        context.set_custom_cnonce(cnonce);
        let answer = prompt
            .respond(&context)
            .map_err(|_| DigestError::Malformed)?;
        let name = if self.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        Ok((name, answer.to_string()))
    }
}

/// `request` (one of ours, so one Via line) to send again after a challenge
/// (RFC 3261 §22.2): a new transaction (`via`, with a fresh branch), the next
/// CSeq number, the same Call-ID, From tag, To and body, and `credentials`
/// (header and value from [`Challenge::authorize`]) in place of any earlier
/// answer of the same kind. The new CSeq is returned too, for the caller's
/// dialog (its next request must go above it).
pub fn resend_with(
    request: &Message,
    via: &str,
    (name, value): (HeaderName, &str),
) -> Result<(Message, u32), DigestError> {
    let method = request.method().ok_or(DigestError::Request {
        header: HeaderName::CSeq,
    })?;
    let uri = request.request_uri().ok_or(DigestError::Request {
        header: HeaderName::CSeq,
    })?;
    let cseq = request.cseq().map_err(|_| DigestError::Request {
        header: HeaderName::CSeq,
    })?;
    let seq = cseq.seq.wrapping_add(1);
    let mut b = MessageBuilder::request(method, uri);
    let mut via_done = false;
    for h in request.headers() {
        match h.known {
            Some(HeaderName::Via) if !via_done => {
                b = b.header(HeaderName::Via, via);
                via_done = true;
            }
            Some(HeaderName::CSeq) => {
                b = b.header(HeaderName::CSeq, &format!("{seq} {}", cseq.method));
            }
            Some(HeaderName::ContentType | HeaderName::ContentLength) => {}
            Some(known) if known == name => {}
            _ => b = b.header_parts_raw(h.name, h.value_bytes),
        }
    }
    b = b.header(name, value);
    if let Some(ct) = request.content_type() {
        b = b.body(ct, request.body());
    }
    let message = b.build_message().map_err(|_| DigestError::Request {
        header: HeaderName::CSeq,
    })?;
    Ok((message, seq))
}

/// The challenges of a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`);
/// values that do not parse are skipped. Empty for any other status.
pub fn challenges(response: &Message) -> impl Iterator<Item = Challenge> + '_ {
    let (name, proxy) = match response.status() {
        Some(407) => (HeaderName::ProxyAuthenticate, true),
        _ => (HeaderName::WwwAuthenticate, false),
    };
    let wanted = matches!(response.status(), Some(401 | 407));
    response
        .header_lines(name)
        .filter(move |_| wanted)
        .filter_map(move |v| Challenge::parse(v, proxy).ok())
}

/// The challenge to answer: of those in `realm` (any realm when `None`), the
/// one with the strongest algorithm (RFC 8760 §2.4: a server lists its
/// preferred first, and a client takes the first it supports; we support
/// all three, so preference among equals follows the server's order).
pub fn strongest(response: &Message, realm: Option<&str>) -> Option<Challenge> {
    let mut best: Option<Challenge> = None;
    for c in challenges(response) {
        if realm.is_some_and(|r| r != c.realm()) {
            continue;
        }
        if best.as_ref().is_none_or(|b| c.algorithm() > b.algorithm()) {
            best = Some(c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Limits;
    use rand::{Rng, SeedableRng};

    const CREDS: Credentials<'static> = Credentials {
        username: "Mufasa",
        password: "Circle of Life",
    };

    /// RFC 7616 §3.9.1's example, MD5 and SHA-256, with SIP's method and URI
    /// (the hashes checked against an independent computation below).
    #[test]
    fn rfc7616_example_values() {
        let challenge = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let c = Challenge::parse(challenge, false).unwrap();
        assert_eq!(c.algorithm(), Algorithm::Sha256);
        let (name, value) = c
            .authorize_as(
                "GET",
                "/dir/index.html",
                b"",
                &CREDS,
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            )
            .unwrap();
        assert_eq!(name, HeaderName::Authorization);
        // RFC 7616 §3.9.1, SHA-256 response.
        assert!(
            value.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{value}"
        );
        assert!(value.contains("qop=auth, nc=00000001"), "{value}");
        assert!(value.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    }

    #[test]
    fn md5_sip_answer_matches_rfc2617_formula() {
        // HA1 = MD5(user:realm:pass), HA2 = MD5(INVITE:uri),
        // response = MD5(HA1:nonce:nc:cnonce:auth:HA2): computed with md-5 directly.
        use digest_auth::Algorithm as A;
        let md5 = |s: &str| A::new(AlgorithmType::MD5, false).hash(s.as_bytes());
        let c = Challenge::parse(
            r#"Digest realm="sip.example", nonce="n1", qop="auth""#,
            false,
        )
        .unwrap();
        assert_eq!(c.algorithm(), Algorithm::Md5);
        let uri = "sip:bob@192.0.2.1";
        let (_, value) = c
            .authorize(Method::Invite, uri, b"v=0", &CREDS, "c1")
            .unwrap();
        let ha1 = md5("Mufasa:sip.example:Circle of Life");
        let ha2 = md5(&format!("INVITE:{uri}"));
        let want = md5(&format!("{ha1}:n1:00000001:c1:auth:{ha2}"));
        assert!(value.contains(&format!("response=\"{want}\"")), "{value}");
        assert!(value.contains("uri=\"sip:bob@192.0.2.1\""));
    }

    #[test]
    fn no_qop_is_rfc2069_style() {
        let c = Challenge::parse("digest realm=\"r\", nonce=\"n\"", true).unwrap();
        let (name, value) = c
            .authorize(Method::Bye, "sip:a@b", b"", &CREDS, "c")
            .unwrap();
        assert_eq!(name, HeaderName::ProxyAuthorization);
        assert!(!value.contains("qop="), "{value}");
        assert!(!value.contains("cnonce"), "{value}");
    }

    #[test]
    fn unknown_qop_tokens_are_ignored() {
        let c =
            Challenge::parse(r#"Digest realm="r", nonce="n", qop="auth,fancy""#, false).unwrap();
        let (_, value) = c
            .authorize(Method::Invite, "sip:a@b", b"", &CREDS, "c")
            .unwrap();
        assert!(value.contains("qop=auth,"), "{value}");
    }

    #[test]
    fn refused_values() {
        let parse = |v: &str| Challenge::parse(v, false);
        assert_eq!(parse("Basic realm=\"r\""), Err(DigestError::NotDigest));
        assert_eq!(parse("Digestive realm=\"r\""), Err(DigestError::NotDigest));
        assert_eq!(parse("Digest realm=\"r\""), Err(DigestError::Malformed));
        assert_eq!(
            parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            parse("Digest realm=\"ré\", nonce=\"n\""),
            Err(DigestError::NotAscii)
        );
        let long = format!("Digest realm=\"{}\", nonce=\"n\"", "a".repeat(3000));
        assert!(matches!(parse(&long), Err(DigestError::TooLong { .. })));
    }

    fn response(extra: &str) -> Message {
        let raw = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(raw.into_bytes().into(), &Limits::default()).unwrap()
    }

    #[test]
    fn the_strongest_of_several_challenges_in_the_realm() {
        let msg = response(
            "WWW-Authenticate: Digest realm=\"a\", nonce=\"1\", algorithm=MD5\r\n\
             WWW-Authenticate: Digest realm=\"a\", nonce=\"2\", algorithm=SHA-256\r\n\
             WWW-Authenticate: Digest realm=\"a\", nonce=\"4\", algorithm=SHA-1\r\n\
             WWW-Authenticate: Digest realm=\"b\", nonce=\"3\", algorithm=SHA-512-256\r\n",
        );
        assert_eq!(challenges(&msg).count(), 3, "the SHA-1 one is skipped");
        let any = strongest(&msg, None).unwrap();
        assert_eq!(any.algorithm(), Algorithm::Sha512_256);
        let in_a = strongest(&msg, Some("a")).unwrap();
        assert_eq!(in_a.algorithm(), Algorithm::Sha256);
        assert!(strongest(&msg, Some("c")).is_none());
    }

    /// Random and mutated challenges never panic (the crate's parser slices
    /// by character index; see the module docs). Seeded: a failure replays.
    #[test]
    fn parser_never_panics() {
        let seeds = [
            r#"Digest realm="r", nonce="n", qop="auth,auth-int", algorithm=SHA-256, opaque="o", stale=TRUE"#,
            "Digest realm=r,nonce=n,userhash=true,charset=UTF-8",
            "Digest a=\"\\\"\\",
        ];
        let alphabet: Vec<char> = "Digest=\", \\\tauthrealmnoncéqop-é\u{0}\u{10FFFF}"
            .chars()
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_d16e);
        for round in 0..20_000 {
            let mut s: Vec<char> = seeds[round % seeds.len()].chars().collect();
            for _ in 0..rng.random_range(0..8) {
                let pos = rng.random_range(0..=s.len());
                match rng.random_range(0..3) {
                    0 if pos < s.len() => {
                        s.remove(pos);
                    }
                    1 => s.insert(pos, alphabet[rng.random_range(0..alphabet.len())]),
                    _ => s.truncate(pos),
                }
            }
            let text: String = s.into_iter().collect();
            if let Ok(c) = Challenge::parse(&text, round % 2 == 0) {
                let _ = c.authorize(Method::Invite, "sip:x@y", b"body", &CREDS, "cn");
            }
        }
    }
}
