//! Session key derivation (RFC 3711 §4.3) with key derivation rate 0: the
//! AES-CM PRF keyed by the master key, IV = (label·2^48 ⊕ master salt)·2^16.
//! RFC 7714 §11 uses the same PRF for GCM, with its 96-bit salt.

use aes::Aes128Enc;
use aes::cipher::KeyInit;

use super::key::MasterKey;
use super::suite::aes_cm_apply;

/// The key derivation labels (RFC 3711 §4.3.1, §4.3.2).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuthentication = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuthentication = 4,
    RtcpSalt = 5,
}

/// The PRF keyed with one master key.
pub(crate) struct Prf<'a> {
    cipher: Aes128Enc,
    master: &'a MasterKey,
}

impl<'a> Prf<'a> {
    pub(crate) fn new(master: &'a MasterKey) -> Self {
        Prf {
            cipher: Aes128Enc::new(master.key().into()),
            master,
        }
    }

    /// Fills `out` with the session key material of `label` (kdr = 0, so
    /// `r` = 0 and only the label enters the IV).
    pub(crate) fn derive(&self, label: Label, out: &mut [u8]) {
        let salt = self.master.salt();
        let mut iv = [0u8; 16];
        // The label is octet 7 of the 112-bit salt field. A 96-bit GCM salt
        // fills that field from the left, zero-padded, as libsrtp and
        // webrtc-rs do (checked by the libsrtp fixtures in tests/srtp_interop.rs).
        iv[..salt.len()].copy_from_slice(salt);
        iv[7] ^= label as u8;
        out.fill(0);
        aes_cm_apply(&self.cipher, &iv, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::CryptoSuite;
    use crate::srtp::test_util::hex;

    /// RFC 3711 Appendix B.3: key derivation test vectors.
    #[test]
    fn rfc_3711_b3_key_derivation() {
        let mut material = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        material.extend(hex("0EC675AD498AFEEBB6960B3AABE6"));
        let master = MasterKey::from_bytes(CryptoSuite::AesCm128HmacSha1_80, &material).unwrap();
        let prf = Prf::new(&master);
        let mut key = [0u8; 16];
        prf.derive(Label::RtpEncryption, &mut key);
        assert_eq!(key[..], hex("C61E7A93744F39EE10734AFE3FF7A087")[..]);
        let mut salt = [0u8; 14];
        prf.derive(Label::RtpSalt, &mut salt);
        assert_eq!(salt[..], hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        // B.3 prints 94 octets of the label-1 stream; k_a is its first 20.
        let mut auth = [0u8; 94];
        prf.derive(Label::RtpAuthentication, &mut auth);
        assert_eq!(
            auth[..],
            hex(concat!(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE",
                "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25",
                "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            ))[..]
        );
    }
}
