//! Master keys: generated from the OS's secure random source, never
//! printable, zeroed when dropped.

use zeroize::Zeroize;

use super::suite::{CryptoSuite, MAX_SALT_LEN};
use crate::MediaError;

const MAX_MATERIAL: usize = 16 + MAX_SALT_LEN;

/// An SRTP master key and master salt (RFC 3711 §8.2), as carried in
/// `inline:` of `a=crypto` (key || salt).
///
/// `Debug` prints the suite only; there is deliberately no `Display`. The
/// bytes are zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    suite: CryptoSuite,
    material: [u8; MAX_MATERIAL],
}

impl MasterKey {
    /// A fresh key for `suite` from the OS's secure random source
    /// (getrandom: `getrandom(2)` on Linux).
    pub fn generate(suite: CryptoSuite) -> Result<MasterKey, MediaError> {
        let mut material = [0u8; MAX_MATERIAL];
        let len = suite.key_len() + suite.salt_len();
        getrandom::fill(&mut material[..len]).map_err(|e| MediaError::RandomUnavailable {
            code: e.raw_os_error().unwrap_or(0),
        })?;
        Ok(MasterKey { suite, material })
    }

    /// A key from `key || salt`, which must be exactly the suite's length.
    pub fn from_bytes(suite: CryptoSuite, bytes: &[u8]) -> Result<MasterKey, MediaError> {
        let expected = suite.key_len() + suite.salt_len();
        if bytes.len() != expected {
            return Err(MediaError::SrtpKeyLength {
                suite,
                expected,
                got: bytes.len(),
            });
        }
        let mut material = [0u8; MAX_MATERIAL];
        material[..expected].copy_from_slice(bytes);
        Ok(MasterKey { suite, material })
    }

    /// The suite this key is for.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// `key || salt`: what `inline:` carries (base64 by the caller).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.material[..self.suite.key_len() + self.suite.salt_len()]
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.material[..self.suite.key_len()]
    }

    pub(crate) fn salt(&self) -> &[u8] {
        &self.material[self.suite.key_len()..self.suite.key_len() + self.suite.salt_len()]
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.material.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_key_material() {
        let key = MasterKey::from_bytes(CryptoSuite::AesCm128HmacSha1_80, &[0xab; 30]).unwrap();
        let printed = format!("{key:?} {key:#?}");
        assert!(
            !printed.contains("ab") && !printed.contains("171"),
            "{printed}"
        );
        assert!(!printed.contains("q6ur"), "no base64 either: {printed}");
        assert!(printed.contains("AesCm128HmacSha1_80"));
    }

    #[test]
    fn generated_keys_differ_and_have_the_suite_length() {
        for suite in CryptoSuite::ALL {
            let a = MasterKey::generate(suite).unwrap();
            let b = MasterKey::generate(suite).unwrap();
            assert_ne!(a.bytes(), b.bytes());
            assert_eq!(a.bytes().len(), suite.key_len() + suite.salt_len());
            assert_eq!(a.salt().len(), suite.salt_len());
        }
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            MasterKey::from_bytes(CryptoSuite::AeadAes128Gcm, &[1; 30]),
            Err(MediaError::SrtpKeyLength {
                suite: CryptoSuite::AeadAes128Gcm,
                expected: 28,
                got: 30
            })
        );
    }
}
