//! The SDP `a=crypto` attribute of RFC 4568 §9.1: parse and print.
//!
//! ```text
//! a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
//! key-params = "inline:" base64(key || salt) ["|" lifetime] ["|" MKI ":" length] *(";" key-param)
//! ```
//!
//! Parsing keeps everything the grammar allows (several key-params, MKI,
//! every session parameter, unknown ones too) so that printing gives the
//! line back; what we *accept* is decided in [`sdes`](super::sdes). A
//! line with a suite we do not implement does not parse
//! ([`CryptoAttributeFault::Suite`]): RFC 4568 §7.1.1 has the answerer
//! ignore it, which is what a caller skipping unparsable lines does.
//!
//! Keys never reach `Debug` ([`MasterKey`] prints its suite only), and the
//! printer is a method named for its one use, [`CryptoAttribute::to_sdp_value`],
//! not `Display`: a `{}` in a log line cannot print a key by accident.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

use super::key::MasterKey;
use super::suite::CryptoSuite;
use crate::MediaError;

/// Longest attribute value we parse (a line with 2 or 3 keys is ~200
/// octets; SDP lines are bounded by the SDP limits anyway).
pub const MAX_ATTRIBUTE_LEN: usize = 1024;
/// Most key-params in one line (RFC 4568 allows several, for MKI rollover).
pub const MAX_KEYS: usize = 8;
/// Most session parameters in one line.
pub const MAX_SESSION_PARAMS: usize = 16;

/// Standard base64 (RFC 4648 §4, as RFC 4568 §6.1 asks), padding optional
/// on input since some implementations omit it.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What is wrong with an `a=crypto` value.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoAttributeFault {
    /// Longer than [`MAX_ATTRIBUTE_LEN`], or too many keys or parameters.
    TooLong,
    /// A field is missing (tag, suite or key-params).
    Missing,
    /// The tag is not 1 to 9 digits.
    Tag,
    /// A crypto suite we do not implement (or not a suite at all).
    Suite,
    /// A key method other than `inline`.
    KeyMethod,
    /// The key is not base64.
    KeyBase64,
    /// The key and salt are not the suite's length.
    KeyLength,
    /// The lifetime is not a number or `2^n`, or is zero.
    Lifetime,
    /// The MKI is not `value:length` with length 1 to 128 and a value that fits.
    Mki,
    /// A session parameter with a bad value, or not a printable token.
    SessionParam,
}

/// A master key lifetime as written: `2^n` or a decimal count of packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// `2^n`.
    PowerOfTwo(u8),
    /// A plain number.
    Packets(u64),
}

impl Lifetime {
    /// Packets the key may protect (saturating at `u64::MAX`).
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)).unwrap_or(u64::MAX),
            Lifetime::Packets(n) => n,
        }
    }
}

/// A master key index (RFC 3711 §3.1): a value carried in `length` octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mki {
    /// The value.
    pub value: u64,
    /// Octets it takes in each packet (1 to 128).
    pub length: u8,
}

/// One `inline:` key-param.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParams {
    /// Master key and salt (`Debug` shows neither).
    pub key: MasterKey,
    /// The lifetime, if given.
    pub lifetime: Option<Lifetime>,
    /// The MKI, if given.
    pub mki: Option<Mki>,
}

/// A session parameter (RFC 4568 §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionParam {
    /// `KDR=n`: key derivation rate 2^n (0 to 24).
    Kdr(u8),
    /// `UNENCRYPTED_SRTP`.
    UnencryptedSrtp,
    /// `UNENCRYPTED_SRTCP`.
    UnencryptedSrtcp,
    /// `UNAUTHENTICATED_SRTP`.
    UnauthenticatedSrtp,
    /// `FEC_ORDER=...`, kept as written.
    FecOrder(String),
    /// `FEC_KEY=...`, kept as written (it holds a key: not in `Debug`).
    FecKey(FecKey),
    /// `WSH=n`: window size hint (at least 64).
    Wsh(u32),
    /// Anything else, kept as written.
    Other(String),
}

/// The key-params of `FEC_KEY`, as written. `Debug` prints nothing of
/// them; zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct FecKey(String);

impl FecKey {
    /// The key-params as written (a key: for SDP only).
    pub fn as_sdp(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for FecKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FecKey(..)")
    }
}

impl Drop for FecKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// One `a=crypto` attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag that pairs an answer's line with the offer's (1 to 9 digits).
    pub tag: u32,
    /// The suite.
    pub suite: CryptoSuite,
    /// One key-param at least.
    pub keys: Vec<KeyParams>,
    /// Session parameters in their order.
    pub session_params: Vec<SessionParam>,
}

fn fault(fault: CryptoAttributeFault) -> MediaError {
    MediaError::CryptoAttribute { fault }
}

fn digits<T: std::str::FromStr>(s: &str, max_len: usize) -> Option<T> {
    (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl CryptoAttribute {
    /// Parses the value of an `a=crypto` attribute (what follows `crypto:`).
    pub fn parse(value: &str) -> Result<CryptoAttribute, MediaError> {
        use CryptoAttributeFault as F;
        if value.len() > MAX_ATTRIBUTE_LEN {
            return Err(fault(F::TooLong));
        }
        let mut fields = value.split_ascii_whitespace();
        let tag = fields.next().ok_or(fault(F::Missing))?;
        let tag: u32 = digits(tag, 9).ok_or(fault(F::Tag))?;
        let suite = fields.next().ok_or(fault(F::Missing))?;
        let suite = CryptoSuite::from_sdes_name(suite).ok_or(fault(F::Suite))?;
        let key_params = fields.next().ok_or(fault(F::Missing))?;
        let mut keys = Vec::new();
        for param in key_params.split(';') {
            if keys.len() == MAX_KEYS {
                return Err(fault(F::TooLong));
            }
            keys.push(parse_key_param(suite, param)?);
        }
        let mut session_params = Vec::new();
        for param in fields {
            if session_params.len() == MAX_SESSION_PARAMS {
                return Err(fault(F::TooLong));
            }
            session_params.push(parse_session_param(param)?);
        }
        Ok(CryptoAttribute {
            tag,
            suite,
            keys,
            session_params,
        })
    }

    /// The attribute value to put after `a=crypto:` in SDP. It holds the
    /// key in clear text: for the SDP body only (sent over TLS), never a log.
    pub fn to_sdp_value(&self) -> String {
        let mut out = format!("{} {} ", self.tag, self.suite.sdes_name());
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str("inline:");
            general_purpose::STANDARD.encode_string(k.key.bytes(), &mut out);
            match k.lifetime {
                Some(Lifetime::PowerOfTwo(n)) => out.push_str(&format!("|2^{n}")),
                Some(Lifetime::Packets(n)) => out.push_str(&format!("|{n}")),
                None => {}
            }
            if let Some(m) = k.mki {
                out.push_str(&format!("|{}:{}", m.value, m.length));
            }
        }
        for p in &self.session_params {
            out.push(' ');
            match p {
                SessionParam::Kdr(n) => out.push_str(&format!("KDR={n}")),
                SessionParam::UnencryptedSrtp => out.push_str("UNENCRYPTED_SRTP"),
                SessionParam::UnencryptedSrtcp => out.push_str("UNENCRYPTED_SRTCP"),
                SessionParam::UnauthenticatedSrtp => out.push_str("UNAUTHENTICATED_SRTP"),
                SessionParam::FecOrder(v) => out.push_str(&format!("FEC_ORDER={v}")),
                SessionParam::FecKey(v) => out.push_str(&format!("FEC_KEY={}", v.0)),
                SessionParam::Wsh(n) => out.push_str(&format!("WSH={n}")),
                SessionParam::Other(v) => out.push_str(v),
            }
        }
        out
    }
}

fn parse_key_param(suite: CryptoSuite, param: &str) -> Result<KeyParams, MediaError> {
    use CryptoAttributeFault as F;
    let info = param.strip_prefix("inline:").ok_or(fault(F::KeyMethod))?;
    let mut parts = info.split('|');
    let b64 = parts.next().unwrap_or_default();
    let mut raw = [0u8; 48];
    // Longer than any suite's key || salt: refused before decoding.
    if b64.len() > 64 {
        return Err(fault(F::KeyLength));
    }
    let n = LENIENT
        .decode_slice(b64.as_bytes(), &mut raw)
        .map_err(|_| fault(F::KeyBase64))?;
    let key = MasterKey::from_bytes(suite, &raw[..n]).map_err(|_| fault(F::KeyLength));
    zeroize::Zeroize::zeroize(&mut raw);
    let key = key?;
    let (mut lifetime, mut mki) = (None, None);
    for part in parts {
        // RFC 4568 §9.1: lifetime before MKI; an MKI is the part with a colon.
        if let Some((value, length)) = part.split_once(':') {
            if mki.is_some() {
                return Err(fault(F::Mki));
            }
            let length: u8 = digits(length, 3).ok_or(fault(F::Mki))?;
            let value: u64 = digits(value, 20).ok_or(fault(F::Mki))?;
            let fits = length >= 8 || value >> (8 * u32::from(length)) == 0;
            if !(1..=128).contains(&length) || !fits {
                return Err(fault(F::Mki));
            }
            mki = Some(Mki { value, length });
        } else {
            if lifetime.is_some() || mki.is_some() {
                return Err(fault(F::Lifetime));
            }
            let l = match part.strip_prefix("2^") {
                Some(exp) => Lifetime::PowerOfTwo(digits(exp, 2).ok_or(fault(F::Lifetime))?),
                None => Lifetime::Packets(digits(part, 20).ok_or(fault(F::Lifetime))?),
            };
            if l.packets() == 0 || matches!(l, Lifetime::PowerOfTwo(n) if n > 64) {
                return Err(fault(F::Lifetime));
            }
            lifetime = Some(l);
        }
    }
    Ok(KeyParams { key, lifetime, mki })
}

fn parse_session_param(param: &str) -> Result<SessionParam, MediaError> {
    let bad = || fault(CryptoAttributeFault::SessionParam);
    // VCHAR only: what we print back must stay one token of the line.
    if !param.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(match param.split_once('=') {
        Some(("KDR", n)) => SessionParam::Kdr(digits(n, 2).filter(|n| *n <= 24).ok_or_else(bad)?),
        Some(("WSH", n)) => SessionParam::Wsh(digits(n, 9).filter(|n| *n >= 64).ok_or_else(bad)?),
        Some(("FEC_ORDER", v)) if v == "FEC_SRTP" || v == "SRTP_FEC" => {
            SessionParam::FecOrder(v.to_owned())
        }
        Some(("FEC_ORDER", _)) => return Err(bad()),
        Some(("FEC_KEY", v)) => SessionParam::FecKey(FecKey(v.to_owned())),
        _ => match param {
            "UNENCRYPTED_SRTP" => SessionParam::UnencryptedSrtp,
            "UNENCRYPTED_SRTCP" => SessionParam::UnencryptedSrtcp,
            "UNAUTHENTICATED_SRTP" => SessionParam::UnauthenticatedSrtp,
            other => SessionParam::Other(other.to_owned()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568 §4's example line.
    const RFC_4568_EXAMPLE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";

    #[test]
    fn parses_the_rfc_example() {
        let a = CryptoAttribute::parse(RFC_4568_EXAMPLE).unwrap();
        assert_eq!(a.tag, 1);
        assert_eq!(a.suite, CryptoSuite::AesCm128HmacSha1_80);
        assert_eq!(a.keys.len(), 1);
        assert_eq!(a.keys[0].lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(a.keys[0].lifetime.unwrap().packets(), 1 << 20);
        assert_eq!(
            a.keys[0].mki,
            Some(Mki {
                value: 1,
                length: 4
            })
        );
        assert_eq!(a.to_sdp_value(), RFC_4568_EXAMPLE);
    }

    #[test]
    fn round_trips_keys_and_session_params() {
        let line = "12 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==|1048576;inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==|2^31|7:1 KDR=0 WSH=128 UNENCRYPTED_SRTCP FEC_ORDER=FEC_SRTP -X_EXT";
        let a = CryptoAttribute::parse(line).unwrap();
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.keys[0].lifetime, Some(Lifetime::Packets(1_048_576)));
        assert_eq!(a.session_params.len(), 5);
        assert_eq!(a.session_params[4], SessionParam::Other("-X_EXT".into()));
        assert_eq!(a.to_sdp_value(), line);
        assert_eq!(CryptoAttribute::parse(&a.to_sdp_value()).unwrap(), a);
        // Padding is optional on input, printed on output.
        let unpadded = line.replace("Gw==", "Gw");
        assert_eq!(CryptoAttribute::parse(&unpadded).unwrap(), a);
    }

    #[test]
    fn refuses_what_the_grammar_does_not_allow() {
        let key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let cases = [
            ("", CryptoAttributeFault::Missing),
            ("1", CryptoAttributeFault::Missing),
            ("1 AES_CM_128_HMAC_SHA1_80", CryptoAttributeFault::Missing),
            ("x AES_CM_128_HMAC_SHA1_80 KEY", CryptoAttributeFault::Tag),
            (
                "1234567890 AES_CM_128_HMAC_SHA1_80 KEY",
                CryptoAttributeFault::Tag,
            ),
            ("1 F8_128_HMAC_SHA1_80 KEY", CryptoAttributeFault::Suite),
            ("1 aes_cm_128_hmac_sha1_80 KEY", CryptoAttributeFault::Suite),
            (
                "1 AES_CM_128_HMAC_SHA1_80 uri:sip:x",
                CryptoAttributeFault::KeyMethod,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
                CryptoAttributeFault::KeyBase64,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
                CryptoAttributeFault::KeyLength,
            ),
            ("1 AEAD_AES_128_GCM KEY", CryptoAttributeFault::KeyLength),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|0",
                CryptoAttributeFault::Lifetime,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|2^x",
                CryptoAttributeFault::Lifetime,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|1:0",
                CryptoAttributeFault::Mki,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|1:129",
                CryptoAttributeFault::Mki,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|256:1",
                CryptoAttributeFault::Mki,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY|1:1|2^20",
                CryptoAttributeFault::Lifetime,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY KDR=25",
                CryptoAttributeFault::SessionParam,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY WSH=10",
                CryptoAttributeFault::SessionParam,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 KEY FEC_ORDER=X",
                CryptoAttributeFault::SessionParam,
            ),
        ];
        for (line, expected) in cases {
            let line = line.replace("KEY", key);
            assert_eq!(
                CryptoAttribute::parse(&line),
                Err(MediaError::CryptoAttribute { fault: expected }),
                "{line}"
            );
        }
        let long = format!("1 AES_CM_128_HMAC_SHA1_80 {key}{}", " X".repeat(600));
        assert_eq!(
            CryptoAttribute::parse(&long),
            Err(MediaError::CryptoAttribute {
                fault: CryptoAttributeFault::TooLong
            })
        );
    }

    #[test]
    fn debug_of_an_attribute_prints_no_key() {
        let line =
            format!("{RFC_4568_EXAMPLE} FEC_KEY=inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
        let a = CryptoAttribute::parse(&line).unwrap();
        assert_eq!(a.to_sdp_value(), line);
        let printed = format!("{a:?} {a:#?}");
        assert!(!printed.contains("QUJDREVG"), "{printed}");
        assert!(!printed.contains("PS1uQCVe"), "{printed}");
        let k = a.keys[0].key.bytes();
        let raw = format!("{}, {}, {}", k[0], k[1], k[2]);
        assert!(!printed.contains(&raw), "raw bytes in {printed}");
    }
}
