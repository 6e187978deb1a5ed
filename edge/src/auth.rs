//! Bearer tokens, one scheme for the admin API (`[admin] tokens`) and the call-control
//! API (`[api] tokens`): the configuration holds only each token's SHA-256; a presented
//! token is hashed and compared with every configured hash in constant time (`subtle`), so
//! that neither the time taken nor an early exit tells how much of a hash matched, or which
//! entry did. The token itself is never stored or logged; the holder's name is.
//!
//! SHA-256 and not a slow password hash (argon2): tokens are long random strings, not
//! passwords a person chose, so a leaked hash gives a dictionary attack nothing to find,
//! and a request's check stays a microsecond.

use subtle::ConstantTimeEq as _;
use voxgate_config::ApiToken;

/// The SHA-256 of a bearer token, as `[api] tokens` hold it.
pub fn hash_token(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex, as `[api] tokens` write hashes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The holder of `presented`, if a configured token hashes the same. Every configured hash
/// is compared, in constant time each.
pub fn verify<'a>(tokens: &'a [ApiToken], presented: &str) -> Option<&'a str> {
    let hash = hash_token(presented);
    let mut holder = None;
    for token in tokens {
        // No early exit: the time does not depend on which entry matched.
        if same_hash(&token.sha256, &hash) && holder.is_none() {
            holder = Some(token.name.as_str());
        }
    }
    holder
}

/// Constant-time equality of two hashes.
fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    #[cfg(test)]
    tests::COMPARES.with(|c| c.set(c.get() + 1));
    a.ct_eq(b).into()
}

/// The token of an `Authorization: Bearer TOKEN` value (scheme case-insensitive,
/// RFC 7235 §2.1); `None` for any other scheme or an empty token.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ').trim_end();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Calls of `same_hash` on this thread.
        pub(crate) static COMPARES: Cell<usize> = const { Cell::new(0) };
    }

    fn token(name: &str, secret: &str) -> ApiToken {
        ApiToken {
            name: name.to_owned(),
            sha256: hash_token(secret),
        }
    }

    #[test]
    fn sha256_test_vectors() {
        // FIPS 180-2 appendix B.1, and the empty string.
        assert_eq!(
            hex(&hash_token("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&hash_token("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // The embedded default's demo token.
        assert_eq!(
            hex(&hash_token("voxgate-demo-token")),
            "57f7bfc84f60e42bc14bf72cc2946104c52b9e8d193269051d03816e0cb4f243"
        );
    }

    #[test]
    fn good_bad_and_missing_tokens() {
        let tokens = [token("ops", "s3cret"), token("crm", "other")];
        assert_eq!(verify(&tokens, "s3cret"), Some("ops"));
        assert_eq!(verify(&tokens, "other"), Some("crm"));
        assert_eq!(verify(&tokens, "s3cre"), None);
        assert_eq!(verify(&tokens, "S3CRET"), None);
        assert_eq!(verify(&tokens, ""), None);
        // The hash itself is not the token.
        assert_eq!(verify(&tokens, &hex(&hash_token("s3cret"))), None);
        assert_eq!(verify(&[], "s3cret"), None);
    }

    #[test]
    fn every_hash_is_compared_in_constant_time_whichever_matches() {
        let tokens = [token("a", "1"), token("b", "2"), token("c", "3")];
        for presented in ["1", "3", "nope"] {
            COMPARES.with(|c| c.set(0));
            let _ = verify(&tokens, presented);
            assert_eq!(COMPARES.with(Cell::get), 3, "{presented}");
        }
        let a = hash_token("x");
        let mut b = a;
        assert!(same_hash(&a, &b));
        b[31] ^= 1;
        assert!(!same_hash(&a, &b));
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("BEARER abc"), Some("abc"));
        assert_eq!(bearer("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
