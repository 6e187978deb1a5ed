//! Fresh identifiers for tags, branches and Call-IDs (RFC 3261 §19.3, §8.1.1.7).
//!
//! Tags and Call-IDs must be globally unique and hard to guess; both take 64
//! random bits from a thread-local CSPRNG, which is cheap enough to call per
//! transaction.

use rand::Rng;
use std::fmt::Write as _;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

fn random_hex(out: &mut String, words: usize) {
    let mut rng = rand::rng();
    for _ in 0..words {
        let _ = write!(out, "{:016x}", rng.random::<u64>());
    }
}

/// A new From/To tag: 64 random bits in hex.
pub fn new_tag() -> String {
    let mut s = String::with_capacity(16);
    random_hex(&mut s, 1);
    s
}

/// A new Via branch with the RFC 3261 magic cookie and 128 random bits.
pub fn new_branch() -> String {
    let mut s = String::with_capacity(BRANCH_COOKIE.len() + 32);
    s.push_str(BRANCH_COOKIE);
    random_hex(&mut s, 2);
    s
}

/// A new Call-ID: 128 random bits, `@host` appended when a host is given.
pub fn new_call_id(host: Option<&str>) -> String {
    let mut s = String::with_capacity(48);
    random_hex(&mut s, 2);
    if let Some(h) = host {
        s.push('@');
        s.push_str(h);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_carry_the_cookie_and_differ() {
        let a = new_branch();
        let b = new_branch();
        assert!(a.starts_with(BRANCH_COOKIE));
        assert_eq!(a.len(), BRANCH_COOKIE.len() + 32);
        assert_ne!(a, b);
    }

    #[test]
    fn tags_and_call_ids_are_hex_and_unique() {
        let t = new_tag();
        assert_eq!(t.len(), 16);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(t, new_tag());
        let c = new_call_id(Some("node1"));
        assert!(c.ends_with("@node1"));
        assert_eq!(new_call_id(None).len(), 32);
    }
}
