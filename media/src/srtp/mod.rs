//! SRTP and SRTCP (RFC 3711, RFC 7714) keyed by SDES (RFC 4568): sans-IO,
//! in place, no allocation per packet.
//!
//! Suites: `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32`,
//! `AEAD_AES_128_GCM`. Key derivation rate 0, rollover counter and index
//! estimation (RFC 3711 Appendix A), a 128-packet replay window per SSRC for
//! SRTP and SRTCP, SRTCP always encrypted (E = 1), key lifetime (2^48 SRTP,
//! 2^31 SRTCP, or the `a=crypto` lifetime if smaller).
//!
//! # How an endpoint uses it
//!
//! ```
//! use voxgate_media::srtp::{self, CryptoSuite};
//!
//! // Offerer (voxgate calls out on an SRTP trunk): one line per suite of the
//! // trunk's policy, each with a fresh key. Print them as `a=crypto:<value>`.
//! let offer = srtp::offer(&[CryptoSuite::AesCm128HmacSha1_80]).unwrap();
//! let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
//!
//! // Answerer (the far end here; voxgate on an inbound leg does the same
//! // with the caller's lines): the first offered line its policy accepts,
//! // same tag, its own key.
//! let (answer_line, far) = srtp::answer(values.iter().map(String::as_str), &CryptoSuite::ALL).unwrap();
//!
//! // Back at the offerer: the answer gives both keys.
//! let keys = srtp::accept_answer(&offer, &answer_line.to_sdp_value()).unwrap();
//! let (mut tx, mut rx) = (keys.outbound().unwrap(), far.inbound().unwrap());
//!
//! // Per packet: the relay's receive buffer, with room for the tag.
//! let mut buf = [0u8; 1500];
//! buf[0] = 0x80; // an RTP header and a 160-octet G.711 payload
//! let len = tx.protect_rtp(&mut buf, 172).unwrap(); // 182: a 10-octet tag appended
//! let len = rx.unprotect_rtp(&mut buf, len).unwrap(); // 172 again
//! assert_eq!(len, 172);
//! ```
//!
//! How calls use it: each leg's [`SdesLeg`] applies its trunk's policy to the
//! SDP the leg takes and is sent, and hands the keys in force to the relay
//! ([`SessionRelay::set_srtp`](crate::latch::SessionRelay::set_srtp)), which
//! holds one inbound and one outbound [`SrtpContext`] per endpoint line. On
//! receive, after [`classify`](crate::rtp::classify) and the source check:
//! `unprotect_rtp` / `unprotect_rtcp` on the datagram in the receive buffer
//! (dropped and counted on `Err`, never answered); on send, `protect_rtp` /
//! `protect_rtcp` in the same buffer, which has [`MAX_OVERHEAD`] spare octets.
//! SRTP↔RTP interworking is unprotect on one leg and nothing on the other;
//! SRTP on both legs is unprotect with leg A's inbound and protect with leg
//! B's outbound context (different keys). A re-INVITE with a new key makes a
//! new context for that direction; an unchanged key keeps it. A DTLS-SRTP
//! handshake would later feed [`MasterKey::from_bytes`] with its exported
//! keys: the contexts do not care where keys come from.
//!
//! Errors are [`MediaError`](crate::MediaError) variants (`Srtp*`, `Srtcp*`,
//! `CryptoAttribute`, `NoAcceptableCrypto`, `CryptoAnswerMismatch`,
//! `SrtpRefused`); `SrtpRefused` from an [`SdesLeg`] means 488.
//!
//! # Crate choice (measured)
//!
//! webrtc-rs's `webrtc-srtp` 0.17.2, the product brief's first choice, was
//! measured with a counting allocator (10,000 protect + unprotect of a
//! 172-octet packet, release build): **2 allocations per packet pair for
//! AES_CM_128_HMAC_SHA1_80 and 6 for AEAD_AES_128_GCM**.
//! `Context::encrypt_rtp(&[u8]) -> Result<Bytes>` and `decrypt_rtp` return a
//! new buffer per packet by design, so it cannot meet the no-allocation rule.
//! It is also slower: thread CPU time per packet on the same (shared, 2-core
//! EPYC) machine, protect / unprotect: webrtc-srtp 380 / 320 ns (AES-CM-80)
//! and 340 / 320 ns (GCM); ours 255 / 270 ns and 225 / 235 ns. SHA-1 is most
//! of the AES-CM cost (HMAC of 176 octets: ~175 ns with SHA-NI).
//! We use RustCrypto primitives instead: `aes` + `ctr` (AES-CM, and the key
//! derivation PRF), `hmac` + `sha1` (constant-time truncated tag check),
//! `aes-gcm` (`encrypt_in_place_detached`), all with AES-NI/CLMUL when the
//! CPU has them; `getrandom` for keys, `zeroize` for wiping them, `base64`
//! for `inline:`. What remains hand-written is the protocol around them:
//! IVs, index estimation, replay windows, packet layout (each checked by the
//! RFC 3711 B.2/B.3 and RFC 7714 §16/§17 vectors and by libsrtp fixtures).
//!
//! # Limits and choices
//!
//! - At most [`MAX_SSRCS`] SSRCs per context; a new SSRC beyond that is an
//!   error ([`MediaError::SrtpTooManySsrcs`](crate::MediaError::SrtpTooManySsrcs)),
//!   never an allocation. Only a packet that authenticates creates an entry.
//! - Protecting a sequence number twice is refused (keystream reuse).
//! - One key per line, with or without an MKI of up to [`MAX_MKI_LEN`]
//!   octets; KDR 0 only; see [`sdes`] for the full policy.

mod context;
mod crypto_attribute;
mod key;
mod key_derivation;
mod leg;
mod replay;
mod rtcp;
mod rtp;
pub mod sdes;
mod suite;

pub use context::{MAX_MKI_LEN, MAX_SRTCP_PACKETS, MAX_SRTP_PACKETS, MAX_SSRCS, SrtpContext};
pub use crypto_attribute::{
    CryptoAttribute, CryptoAttributeFault, FecKey, KeyParams, Lifetime, MAX_ATTRIBUTE_LEN, Mki,
    SessionParam,
};
pub use key::MasterKey;
pub use leg::{SdesLeg, SrtpMode, SrtpPolicy, SrtpRefusal, strip_keys};
pub use replay::WINDOW as REPLAY_WINDOW;
pub use sdes::{SdesKeys, accept_answer, answer, answer_keeping, offer};
pub use suite::CryptoSuite;

/// The most octets protecting adds to a packet (a GCM tag, the SRTCP
/// index word and an MKI): the spare room a send buffer needs.
pub const MAX_OVERHEAD: usize = 20 + MAX_MKI_LEN;

#[cfg(test)]
pub(crate) mod test_util {
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests;
