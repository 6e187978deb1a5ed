//! The crypto suites (RFC 4568 §6.2, RFC 7714 §12) and their per-packet
//! transforms: AES counter mode with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2) and
//! AES-GCM (RFC 7714 §8, §9).

use aes::Aes128Enc;
use aes::cipher::{KeyInit, StreamCipher};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::key::MasterKey;
use super::key_derivation::{self, Label};

/// An SRTP crypto suite we implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// AES-128 counter mode, HMAC-SHA1 80-bit tag (RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 32-bit tag on SRTP, 80-bit on SRTCP
    /// (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// AES-128 GCM, 16-octet tag on both (RFC 7714 §12, §14.1).
    AeadAes128Gcm,
}

impl CryptoSuite {
    /// Every suite, in our default order of preference (AEAD first: one pass,
    /// and the strongest tag).
    pub const ALL: [CryptoSuite; 3] = [
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto` (RFC 4568 §6.2, RFC 7714 §14.1).
    pub fn sdes_name(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// The suite of an `a=crypto` name; names are case-sensitive (RFC 4568 §9.2).
    pub fn from_sdes_name(name: &str) -> Option<CryptoSuite> {
        CryptoSuite::ALL.into_iter().find(|s| s.sdes_name() == name)
    }

    /// Master (and session) key length in octets.
    pub fn key_len(self) -> usize {
        16
    }

    /// Master (and session) salt length in octets: 112 bits for AES-CM,
    /// 96 bits for GCM (RFC 7714 §12).
    pub fn salt_len(self) -> usize {
        match self {
            CryptoSuite::AeadAes128Gcm => 12,
            _ => 14,
        }
    }

    /// Octets appended to an SRTP packet.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => 10,
            CryptoSuite::AesCm128HmacSha1_32 => 4,
            CryptoSuite::AeadAes128Gcm => 16,
        }
    }

    /// Octets of the SRTCP authentication tag (80 bits for both AES-CM
    /// suites: RFC 4568 §6.2.2).
    pub fn rtcp_tag_len(self) -> usize {
        match self {
            CryptoSuite::AeadAes128Gcm => 16,
            _ => 10,
        }
    }

    /// Octets added to an RTCP packet: the tag and the E-flag/index word.
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }
}

/// The largest salt of any suite.
pub(crate) const MAX_SALT_LEN: usize = 14;

type HmacSha1 = Hmac<Sha1>;

/// One direction's session keys (RTP or RTCP), expanded into ready ciphers
/// so that nothing is keyed per packet.
pub(crate) enum Transform {
    /// AES-CM + HMAC-SHA1.
    AesCmHmac {
        cipher: Aes128Enc,
        salt: Zeroizing<[u8; 14]>,
        /// The HMAC with its key already absorbed; cloned per packet.
        mac: HmacSha1,
        tag_len: usize,
    },
    /// AES-GCM.
    Gcm {
        aead: Aes128Gcm,
        salt: Zeroizing<[u8; 12]>,
    },
}

/// Why a transform refused a packet (mapped to [`MediaError`](crate::MediaError) by the caller,
/// which knows the SSRC).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AuthFailed;

impl Transform {
    /// Derives the session keys for RTP (`rtcp == false`) or RTCP from a master key.
    pub(crate) fn new(suite: CryptoSuite, master: &MasterKey, rtcp: bool) -> Transform {
        let (enc, auth, salt) = if rtcp {
            (
                Label::RtcpEncryption,
                Label::RtcpAuthentication,
                Label::RtcpSalt,
            )
        } else {
            (
                Label::RtpEncryption,
                Label::RtpAuthentication,
                Label::RtpSalt,
            )
        };
        let prf = key_derivation::Prf::new(master);
        let mut key = Zeroizing::new([0u8; 16]);
        prf.derive(enc, &mut key[..]);
        match suite {
            CryptoSuite::AeadAes128Gcm => {
                let mut s = Zeroizing::new([0u8; 12]);
                prf.derive(salt, &mut s[..]);
                Transform::Gcm {
                    aead: Aes128Gcm::new(key.as_ref().into()),
                    salt: s,
                }
            }
            CryptoSuite::AesCm128HmacSha1_80 | CryptoSuite::AesCm128HmacSha1_32 => {
                let mut s = Zeroizing::new([0u8; 14]);
                prf.derive(salt, &mut s[..]);
                // k_a is 160 bits; HMAC pads a short key with zeros to the
                // 64-octet block, so the padded key is the same key (and
                // this constructor cannot fail).
                let mut auth_key = Zeroizing::new([0u8; 64]);
                prf.derive(auth, &mut auth_key[..20]);
                Transform::AesCmHmac {
                    cipher: Aes128Enc::new(key.as_ref().into()),
                    salt: s,
                    // HMAC takes keys of any length: this cannot fail.
                    mac: <HmacSha1 as KeyInit>::new(auth_key.as_ref().into()),
                    tag_len: if rtcp {
                        suite.rtcp_tag_len()
                    } else {
                        suite.rtp_tag_len()
                    },
                }
            }
        }
    }

    /// AES-CM: XORs the keystream for IV = salt·2^16 ⊕ SSRC·2^64 ⊕ index·2^16
    /// (RFC 3711 §4.1.1) into `data`.
    fn aes_cm_xor(cipher: &Aes128Enc, salt: &[u8; 14], ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        aes_cm_apply(cipher, &iv, data);
    }

    /// Protects an RTP packet in place: `buf[..header_len]` is the header,
    /// `buf[header_len..len]` the payload; the tag goes at `buf[len..]`.
    /// The caller checked that `buf` has room for the tag.
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> usize {
        let roc = (index >> 16) as u32;
        match self {
            Transform::AesCmHmac {
                cipher,
                salt,
                mac,
                tag_len,
            } => {
                Self::aes_cm_xor(cipher, salt, ssrc, index, &mut buf[header_len..len]);
                let full = hmac(mac, &buf[..len], &roc.to_be_bytes())
                    .finalize()
                    .into_bytes();
                buf[len..len + tag_len].copy_from_slice(&full[..*tag_len]);
                len + tag_len
            }
            Transform::Gcm { aead, salt } => {
                let nonce = gcm_rtp_nonce(salt, ssrc, index);
                let (aad, rest) = buf.split_at_mut(header_len);
                let (body, tag_out) = rest.split_at_mut(len - header_len);
                tag_out[..16].copy_from_slice(&gcm_seal(aead, &nonce, aad, body));
                len + 16
            }
        }
    }

    /// Checks the tag of an SRTP packet (`buf[..len]`, tag included) and
    /// decrypts it in place; returns the plaintext length.
    pub(crate) fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, AuthFailed> {
        let roc = (index >> 16) as u32;
        match self {
            Transform::AesCmHmac {
                cipher,
                salt,
                mac,
                tag_len,
            } => {
                let body_end = len - tag_len;
                // Constant time: verify_truncated_left compares with subtle.
                hmac(mac, &buf[..body_end], &roc.to_be_bytes())
                    .verify_truncated_left(&buf[body_end..len])
                    .map_err(|_| AuthFailed)?;
                Self::aes_cm_xor(cipher, salt, ssrc, index, &mut buf[header_len..body_end]);
                Ok(body_end)
            }
            Transform::Gcm { aead, salt } => {
                let body_end = len - 16;
                let nonce = gcm_rtp_nonce(salt, ssrc, index);
                let (aad, rest) = buf.split_at_mut(header_len);
                let (body, tag) = rest[..len - header_len].split_at_mut(body_end - header_len);
                gcm_open(aead, &nonce, aad, body, tag)?;
                Ok(body_end)
            }
        }
    }

    /// Protects an RTCP packet in place (RFC 3711 §3.4, RFC 7714 §9):
    /// `buf[..len]` is the compound packet; appends `E=1 || index` and the
    /// tag (AES-CM) or the tag and `E=1 || index` (GCM). Returns the new length.
    pub(crate) fn protect_rtcp(&self, buf: &mut [u8], len: usize, ssrc: u32, index: u32) -> usize {
        let e_index = (index | 0x8000_0000).to_be_bytes();
        match self {
            Transform::AesCmHmac {
                cipher,
                salt,
                mac,
                tag_len,
            } => {
                Self::aes_cm_xor(cipher, salt, ssrc, u64::from(index), &mut buf[8..len]);
                buf[len..len + 4].copy_from_slice(&e_index);
                let full = hmac(mac, &buf[..len + 4], &[]).finalize().into_bytes();
                buf[len + 4..len + 4 + tag_len].copy_from_slice(&full[..*tag_len]);
                len + 4 + tag_len
            }
            Transform::Gcm { aead, salt } => {
                let nonce = gcm_rtcp_nonce(salt, ssrc, index);
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&buf[..8]);
                aad[8..].copy_from_slice(&e_index);
                let tag = gcm_seal(aead, &nonce, &aad, &mut buf[8..len]);
                buf[len..len + 16].copy_from_slice(&tag);
                buf[len + 16..len + 20].copy_from_slice(&e_index);
                len + 20
            }
        }
    }

    /// Where the E-flag/index word sits in an SRTCP packet of `len` octets.
    pub(crate) fn rtcp_index_at(&self, len: usize) -> usize {
        match self {
            Transform::AesCmHmac { tag_len, .. } => len - tag_len - 4,
            Transform::Gcm { .. } => len - 4,
        }
    }

    /// Checks and decrypts an SRTCP packet whose E flag is set; returns the
    /// RTCP length.
    pub(crate) fn unprotect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<usize, AuthFailed> {
        match self {
            Transform::AesCmHmac {
                cipher,
                salt,
                mac,
                tag_len,
            } => {
                let signed_end = len - tag_len;
                hmac(mac, &buf[..signed_end], &[])
                    .verify_truncated_left(&buf[signed_end..len])
                    .map_err(|_| AuthFailed)?;
                let rtcp_end = signed_end - 4;
                Self::aes_cm_xor(cipher, salt, ssrc, u64::from(index), &mut buf[8..rtcp_end]);
                Ok(rtcp_end)
            }
            Transform::Gcm { aead, salt } => {
                let nonce = gcm_rtcp_nonce(salt, ssrc, index);
                let rtcp_end = len - 20;
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&buf[..8]);
                aad[8..].copy_from_slice(&buf[len - 4..len]);
                let (body, tag) = buf[8..len - 4].split_at_mut(rtcp_end - 8);
                gcm_open(aead, &nonce, &aad, body, tag)?;
                Ok(rtcp_end)
            }
        }
    }
}

/// HMAC-SHA1 over `signed` then `trailer` (the ROC for SRTP), from the
/// keyed state (cloned: no key schedule per packet).
fn hmac(mac: &HmacSha1, signed: &[u8], trailer: &[u8]) -> HmacSha1 {
    let mut m = mac.clone();
    m.update(signed);
    m.update(trailer);
    m
}

/// AES-GCM encryption of `body` in place; the 16-octet tag.
fn gcm_seal(aead: &Aes128Gcm, nonce: &[u8; 12], aad: &[u8], body: &mut [u8]) -> [u8; 16] {
    // Encryption of an in-range length cannot fail (limit 2^36 octets).
    aead.encrypt_in_place_detached(Nonce::from_slice(nonce), aad, body)
        .unwrap_or_default()
        .into()
}

/// AES-GCM: checks `tag` (constant time) and decrypts `body` in place.
fn gcm_open(
    aead: &Aes128Gcm,
    nonce: &[u8; 12],
    aad: &[u8],
    body: &mut [u8],
    tag: &[u8],
) -> Result<(), AuthFailed> {
    aead.decrypt_in_place_detached(Nonce::from_slice(nonce), aad, body, Tag::from_slice(tag))
        .map_err(|_| AuthFailed)
}

/// AES counter mode from a full 16-octet IV. The low 16 bits count blocks
/// (packets are far below 2^16 blocks), so a 128-bit big-endian counter is
/// the same keystream.
pub(crate) fn aes_cm_apply(cipher: &Aes128Enc, iv: &[u8; 16], data: &mut [u8]) {
    use aes::cipher::InnerIvInit;
    // Cloning the expanded key (176 octets) avoids re-running the key schedule.
    let core =
        ctr::CtrCore::<Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(cipher.clone(), iv.into());
    let mut ctr = ctr::Ctr128BE::<Aes128Enc>::from_core(core);
    ctr.apply_keystream(data);
}

/// RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) ⊕ salt.
fn gcm_rtp_nonce(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

/// RFC 7714 §9.1: IV = (0x0000 || SSRC || 0x0000 || 0 || SRTCP index) ⊕ salt.
fn gcm_rtcp_nonce(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&(index & 0x7fff_ffff).to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::test_util::hex;

    /// RFC 3711 Appendix B.2: AES-CM keystream, session key and salt given,
    /// SSRC, ROC and SEQ zero.
    #[test]
    fn rfc_3711_b2_aes_cm_keystream() {
        let key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
        let cipher = Aes128Enc::new(key.as_slice().into());
        let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
        let mut stream = [0u8; 48];
        Transform::aes_cm_xor(&cipher, &salt, 0, 0, &mut stream);
        assert_eq!(stream[..16], hex("E03EAD0935C95E80E166B16DD92B4EB4")[..]);
        assert_eq!(stream[16..32], hex("D23513162B02D0F72A43A2FE4A5F97AB")[..]);
        assert_eq!(stream[32..], hex("41E95B3BB0A2E8DD477901E4FCA894C0")[..]);
    }

    /// RFC 7714 §16.1 (SRTP) and §17.1 (SRTCP): AEAD_AES_128_GCM with the
    /// session key and salt given (the vectors skip key derivation).
    fn rfc_7714_transform() -> Transform {
        let key = hex("000102030405060708090a0b0c0d0e0f");
        Transform::Gcm {
            aead: Aes128Gcm::new(key.as_slice().into()),
            salt: Zeroizing::new(hex("517569642070726f2071756f").try_into().unwrap()),
        }
    }

    const RFC_7714_RTP: &str = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
    const RFC_7714_SRTP: &str = "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";
    const RFC_7714_RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
    const RFC_7714_SRTCP: &str = "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4";

    #[test]
    fn rfc_7714_nonces() {
        let salt: [u8; 12] = hex("517569642070726f2071756f").try_into().unwrap();
        assert_eq!(
            gcm_rtp_nonce(&salt, 0x5501_a0b2, 0xf17b)[..],
            hex("51753c6580c2726f20718414")[..]
        );
        assert_eq!(
            gcm_rtcp_nonce(&salt, 0x4d61_7273, 0x5d4)[..],
            hex("517524055203726f207170bb")[..]
        );
    }

    #[test]
    fn rfc_7714_16_1_srtp_gcm() {
        let t = rfc_7714_transform();
        let plain = hex(RFC_7714_RTP);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let n = t.protect_rtp(&mut buf, 12, plain.len(), 0x5501_a0b2, 0xf17b);
        assert_eq!(buf[..n], hex(RFC_7714_SRTP)[..]);
        let n = t
            .unprotect_rtp(&mut buf, 12, n, 0x5501_a0b2, 0xf17b)
            .unwrap();
        assert_eq!(buf[..n], plain[..]);
    }

    #[test]
    fn rfc_7714_17_1_srtcp_gcm() {
        let t = rfc_7714_transform();
        let plain = hex(RFC_7714_RTCP);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 20, 0);
        let n = t.protect_rtcp(&mut buf, plain.len(), 0x4d61_7273, 0x5d4);
        assert_eq!(buf[..n], hex(RFC_7714_SRTCP)[..]);
        let n = t.unprotect_rtcp(&mut buf, n, 0x4d61_7273, 0x5d4).unwrap();
        assert_eq!(buf[..n], plain[..]);
    }
}
