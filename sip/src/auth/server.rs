//! Digest authentication as a server (RFC 3261 §22.1, §22.4, RFC 8760): our
//! own challenges to a trunk's requests and the check of its answers.
//!
//! Nonces are stateless: `<issued>.<mac>`, where `issued` is a time in seconds
//! on the caller's clock (hex) and `mac` an HMAC-SHA-256 of it and the realm
//! under a key of the node's. An answer is checked against the nonce alone,
//! so nothing is kept per challenge; a nonce older than the lifetime is
//! `Stale` (challenged again with `stale=true`, RFC 7616 §3.3). What this
//! does not do: count nonce uses (an answer can be replayed within the
//! lifetime), or hold the answer's `uri` to the Request-URI (see [`verify`]).

use super::{Algorithm, DigestError, MAX_CHALLENGE_LEN};
use crate::message::{HeaderName, Message};
use digest_auth::{AlgorithmType, AuthContext, AuthorizationHeader, HttpMethod};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// The node's nonce key (random at start: nonces do not outlive the process).
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

impl NonceKey {
    /// A key of these bytes (from the OS's secure random source in production).
    pub fn new(bytes: [u8; 32]) -> NonceKey {
        NonceKey(bytes)
    }

    fn mac(&self, realm: &str, issued: u64) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            // HMAC takes keys of any length: not reached.
            return [0; 32];
        };
        mac.update(&issued.to_be_bytes());
        mac.update(realm.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A nonce issued at `now` (seconds) for `realm`.
    pub fn nonce(&self, realm: &str, now: u64) -> String {
        let mut s = format!("{now:x}.");
        for b in self.mac(realm, now) {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// When `nonce` was issued for `realm`, if we issued it.
    fn issued(&self, realm: &str, nonce: &str) -> Option<u64> {
        let (time, mac) = nonce.split_once('.')?;
        if time.is_empty() || time.len() > 16 || mac.len() != 64 {
            return None;
        }
        let issued = u64::from_str_radix(time, 16).ok()?;
        let want = self.mac(realm, issued);
        let mut got = [0u8; 32];
        for (i, slot) in got.iter_mut().enumerate() {
            *slot = u8::from_str_radix(mac.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        bool::from(want.ct_eq(&got)).then_some(issued)
    }
}

/// The `WWW-Authenticate` values of our challenge (RFC 8760 §2.4: one per
/// algorithm, in the order of `algorithms`, the preferred first).
pub fn challenge_values(
    key: &NonceKey,
    realm: &str,
    now: u64,
    stale: bool,
    algorithms: &[Algorithm],
) -> Vec<String> {
    let nonce = key.nonce(realm, now);
    let stale = if stale { ", stale=true" } else { "" };
    algorithms
        .iter()
        .map(|a| {
            format!(
                "Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm={}{stale}",
                a.as_str()
            )
        })
        .collect()
}

/// What a request's credentials are worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Right user, password and nonce, for this request.
    Valid,
    /// Right user and password, but the nonce expired: challenge again with `stale=true`.
    Stale,
    /// No credentials for our realm: challenge.
    Missing,
    /// Wrong user, password, URI or nonce (or unreadable): challenge again.
    Invalid,
}

/// The expected user and password, and how long our nonces last.
pub struct Expected<'a> {
    /// The realm we challenge in.
    pub realm: &'a str,
    /// The user name the peer must give.
    pub username: &'a str,
    /// Its password.
    pub password: &'a str,
    /// Seconds a nonce is accepted after it was issued.
    pub lifetime: u64,
    /// The algorithms we challenge with: an answer in another is refused.
    pub algorithms: &'a [Algorithm],
}

/// Checks `request`'s `Authorization` for our realm at time `now` (seconds,
/// the clock the nonces were issued on).
pub fn verify(request: &Message, key: &NonceKey, expected: &Expected<'_>, now: u64) -> Verdict {
    let Some(answer) = request
        .header_lines(HeaderName::Authorization)
        .filter_map(|v| parse_authorization(v).ok())
        .find(|a| a.realm == expected.realm)
    else {
        return Verdict::Missing;
    };
    let Some(method) = request.method() else {
        return Verdict::Invalid;
    };
    // User names compare as written. The answer's `uri` is hashed as given and not held
    // to the Request-URI (§22.4 says SHOULD): some clients (SIPp) put the next hop's
    // address there, and within a nonce's lifetime a stateless check stops no replay
    // that the URI check would.
    if answer.username != expected.username || answer.userhash {
        return Verdict::Invalid;
    }
    let algorithm = match answer.algorithm.algo {
        AlgorithmType::MD5 => Algorithm::Md5,
        AlgorithmType::SHA2_256 => Algorithm::Sha256,
        AlgorithmType::SHA2_512_256 => Algorithm::Sha512_256,
    };
    if answer.algorithm.sess || !expected.algorithms.contains(&algorithm) {
        return Verdict::Invalid;
    }
    let Some(issued) = key.issued(expected.realm, &answer.nonce) else {
        return Verdict::Invalid;
    };
    if issued > now {
        return Verdict::Invalid;
    }
    let mut computed = answer.clone();
    let mut context = AuthContext::new_with_method(
        expected.username,
        expected.password,
        answer.uri.as_str(),
        Some(request.body()),
        HttpMethod(Cow::Borrowed(method.as_str())),
    );
    if let Some(cnonce) = &answer.cnonce {
        context.set_custom_cnonce(cnonce.as_str());
    }
    computed.digest(&context);
    let right = bool::from(
        computed
            .response
            .as_bytes()
            .ct_eq(answer.response.to_ascii_lowercase().as_bytes()),
    );
    match (right, now - issued > expected.lifetime) {
        (false, _) => Verdict::Invalid,
        (true, true) => Verdict::Stale,
        (true, false) => Verdict::Valid,
    }
}

/// An `Authorization` value, under the same guards as challenges.
fn parse_authorization(value: &str) -> Result<AuthorizationHeader, DigestError> {
    if value.len() > MAX_CHALLENGE_LEN {
        return Err(DigestError::TooLong { len: value.len() });
    }
    if !value.is_ascii() {
        return Err(DigestError::NotAscii);
    }
    let value = value.trim_start();
    let params = match value.get(..6) {
        Some(scheme) if scheme.eq_ignore_ascii_case("digest") => &value[6..],
        _ => return Err(DigestError::NotDigest),
    };
    if !params.starts_with([' ', '\t']) {
        return Err(DigestError::NotDigest);
    }
    AuthorizationHeader::parse(params).map_err(|_| DigestError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::super::{Challenge, Credentials, challenges};
    use super::*;
    use crate::message::{Limits, Method};

    const KEY: [u8; 32] = [7; 32];
    const EXPECTED: Expected<'static> = Expected {
        realm: "voxgate.test",
        username: "pbx",
        password: "pw",
        lifetime: 300,
        algorithms: &[Algorithm::Sha256, Algorithm::Md5],
    };

    fn invite(authorization: Option<&str>) -> Message {
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        let raw = format!(
            "INVITE sip:+4420@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\n\
             From: <sip:a@192.0.2.9>;tag=1\r\nTo: <sip:+4420@192.0.2.1>\r\nCall-ID: x\r\n\
             CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        Message::parse(raw.into_bytes().into(), &Limits::default()).unwrap()
    }

    /// Our challenge as a 401 a client reads, and the client's answer to it.
    fn answer(issued: u64, password: &str, uri: &str) -> String {
        let key = NonceKey::new(KEY);
        let values = challenge_values(&key, EXPECTED.realm, issued, false, EXPECTED.algorithms);
        let (sha, md5) = (&values[0], &values[1]);
        let raw = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\n\
             From: <sip:a@192.0.2.9>;tag=1\r\nTo: <sip:+4420@192.0.2.1>;tag=2\r\nCall-ID: x\r\n\
             CSeq: 1 INVITE\r\nWWW-Authenticate: {sha}\r\nWWW-Authenticate: {md5}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let response = Message::parse(raw.into_bytes().into(), &Limits::default()).unwrap();
        assert_eq!(challenges(&response).count(), 2);
        let c: Challenge = super::super::strongest(&response, None).unwrap();
        let creds = Credentials {
            username: "pbx",
            password,
        };
        c.authorize(Method::Invite, uri, b"", &creds, "abc")
            .unwrap()
            .1
    }

    #[test]
    fn our_own_client_passes_our_own_check() {
        let key = NonceKey::new(KEY);
        let a = answer(1000, "pw", "sip:+4420@192.0.2.1");
        assert!(a.contains("algorithm=SHA-256"), "{a}");
        assert_eq!(
            verify(&invite(Some(&a)), &key, &EXPECTED, 1010),
            Verdict::Valid
        );
    }

    #[test]
    fn wrong_password_user_or_key_is_invalid() {
        let key = NonceKey::new(KEY);
        let uri = "sip:+4420@192.0.2.1";
        let wrong_pw = answer(1000, "nope", uri);
        assert_eq!(
            verify(&invite(Some(&wrong_pw)), &key, &EXPECTED, 1000),
            Verdict::Invalid
        );
        // Another URI, hashed as given: accepted (see `verify`); tampered with after
        // hashing: refused.
        let other_uri = answer(1000, "pw", "sip:192.0.2.1");
        assert_eq!(
            verify(&invite(Some(&other_uri)), &key, &EXPECTED, 1000),
            Verdict::Valid
        );
        let tampered = other_uri.replace("uri=\"sip:192.0.2.1\"", "uri=\"sip:x@192.0.2.1\"");
        assert_eq!(
            verify(&invite(Some(&tampered)), &key, &EXPECTED, 1000),
            Verdict::Invalid
        );
        let right = answer(1000, "pw", uri);
        let other_key = NonceKey::new([8; 32]);
        assert_eq!(
            verify(&invite(Some(&right)), &other_key, &EXPECTED, 1000),
            Verdict::Invalid
        );
        let other_user = Expected {
            username: "pbx2",
            ..EXPECTED
        };
        assert_eq!(
            verify(&invite(Some(&right)), &key, &other_user, 1000),
            Verdict::Invalid
        );
        assert_eq!(
            verify(&invite(Some(&right)), &key, &EXPECTED, 999),
            Verdict::Invalid,
            "issued in the future"
        );
    }

    #[test]
    fn an_answer_in_an_algorithm_we_did_not_offer_is_invalid() {
        let key = NonceKey::new(KEY);
        let a = answer(1000, "pw", "sip:+4420@192.0.2.1");
        assert!(a.contains("algorithm=SHA-256"));
        let md5_only = Expected {
            algorithms: &[Algorithm::Md5],
            ..EXPECTED
        };
        assert_eq!(
            verify(&invite(Some(&a)), &key, &md5_only, 1000),
            Verdict::Invalid
        );
        let values = challenge_values(&key, "r", 5, true, &[Algorithm::Md5]);
        assert_eq!(values.len(), 1);
        assert!(
            values[0].ends_with("algorithm=MD5, stale=true"),
            "{values:?}"
        );
    }

    #[test]
    fn an_expired_nonce_is_stale_and_no_answer_is_missing() {
        let key = NonceKey::new(KEY);
        let a = answer(1000, "pw", "sip:+4420@192.0.2.1");
        assert_eq!(
            verify(&invite(Some(&a)), &key, &EXPECTED, 1300),
            Verdict::Valid
        );
        assert_eq!(
            verify(&invite(Some(&a)), &key, &EXPECTED, 1301),
            Verdict::Stale
        );
        assert_eq!(
            verify(&invite(None), &key, &EXPECTED, 1000),
            Verdict::Missing
        );
        let other_realm = a.replace("voxgate.test", "elsewhere");
        assert_eq!(
            verify(&invite(Some(&other_realm)), &key, &EXPECTED, 1000),
            Verdict::Missing
        );
        assert_eq!(
            verify(&invite(Some("Digest é")), &key, &EXPECTED, 1000),
            Verdict::Missing
        );
    }

    #[test]
    fn forged_nonces_are_refused() {
        let key = NonceKey::new(KEY);
        for nonce in [
            "",
            ".",
            "zz.00",
            "3e8.",
            "3e8.zz",
            &format!("3e8.{}", "0".repeat(64)),
        ] {
            assert_eq!(key.issued("voxgate.test", nonce), None, "{nonce:?}");
        }
        let n = key.nonce("voxgate.test", 1000);
        assert_eq!(key.issued("voxgate.test", &n), Some(1000));
        assert_eq!(key.issued("other", &n), None, "bound to the realm");
    }
}
