//! One direction's SRTP/SRTCP cryptographic context (RFC 3711 §3.2): the
//! session keys of one master key, and the per-SSRC state (rollover counter,
//! replay windows, SRTCP index) in a fixed-capacity table.

use super::crypto_attribute::Mki;
use super::key::MasterKey;
use super::replay::ReplayWindow;
use super::suite::{CryptoSuite, Transform};
use crate::MediaError;
use crate::rtp::Ssrc;

/// SSRCs one context keeps state for. A voice leg has one or two; a new
/// SSRC beyond this is refused ([`MediaError::SrtpTooManySsrcs`]) rather
/// than allocated or evicted (eviction would forget a replay window).
pub const MAX_SSRCS: usize = 16;

/// Longest MKI we carry (RFC 4568 allows 128 octets; 1 to 4 is what is seen).
pub const MAX_MKI_LEN: usize = 4;

/// Packets one master key may protect on SRTP (RFC 3711 §9.2).
pub const MAX_SRTP_PACKETS: u64 = 1 << 48;
/// Packets one master key may protect on SRTCP (RFC 3711 §9.2).
pub const MAX_SRTCP_PACKETS: u64 = 1 << 31;

/// State of one SSRC.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stream {
    pub(crate) rtp: ReplayWindow,
    pub(crate) rtcp: ReplayWindow,
    /// The SRTCP index of the next packet we protect.
    pub(crate) rtcp_next: u32,
}

/// A cryptographic context for one direction of one leg: protect with the
/// key we announced, unprotect with the key the peer announced (SDES keys
/// are per sender, RFC 4568 §6.1). Allocation happens in [`SrtpContext::new`]
/// only: the table is inline, protect and unprotect work in the caller's buffer.
pub struct SrtpContext {
    suite: CryptoSuite,
    rtp: Transform,
    rtcp: Transform,
    streams: [(u32, Stream); MAX_SSRCS],
    len: usize,
    rtp_packets: u64,
    rtcp_packets: u64,
    rtp_limit: u64,
    rtcp_limit: u64,
    /// The MKI carried in every packet (RFC 3711 §3.1), as octets.
    mki: [u8; MAX_MKI_LEN],
    mki_len: usize,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key material: the suite and counters only.
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("ssrcs", &self.len)
            .field("rtp_packets", &self.rtp_packets)
            .field("rtcp_packets", &self.rtcp_packets)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context under `key`. `lifetime` is the `a=crypto` lifetime (packets
    /// per master key); SRTP and SRTCP are each capped by it and by RFC 3711's
    /// 2^48 / 2^31.
    pub fn new(key: &MasterKey, lifetime: Option<u64>) -> SrtpContext {
        let suite = key.suite();
        let lifetime = lifetime.unwrap_or(u64::MAX);
        SrtpContext {
            suite,
            rtp: Transform::new(suite, key, false),
            rtcp: Transform::new(suite, key, true),
            streams: [(0, Stream::default()); MAX_SSRCS],
            len: 0,
            rtp_packets: 0,
            rtcp_packets: 0,
            rtp_limit: lifetime.min(MAX_SRTP_PACKETS),
            rtcp_limit: lifetime.min(MAX_SRTCP_PACKETS),
            mki: [0; MAX_MKI_LEN],
            mki_len: 0,
        }
    }

    /// The same context with an MKI in every packet (the `|value:length` of
    /// the key's `a=crypto` line): written by protect, checked by unprotect.
    /// Lengths beyond [`MAX_MKI_LEN`] are refused.
    pub fn with_mki(mut self, mki: Option<Mki>) -> Result<SrtpContext, MediaError> {
        let Some(mki) = mki else {
            self.mki_len = 0;
            return Ok(self);
        };
        let len = usize::from(mki.length);
        if len == 0 || len > MAX_MKI_LEN || (len < 8 && mki.value >> (8 * len) != 0) {
            return Err(MediaError::SrtpMkiUnsupported { length: mki.length });
        }
        self.mki = [0; MAX_MKI_LEN];
        self.mki[..len].copy_from_slice(&mki.value.to_be_bytes()[8 - len..]);
        self.mki_len = len;
        Ok(self)
    }

    /// Octets of MKI in each packet.
    pub fn mki_len(&self) -> usize {
        self.mki_len
    }

    /// Inserts the MKI into a protected packet of `len` octets whose last
    /// `tag_len` octets are the HMAC tag (AES-CM: the MKI goes before the
    /// tag, RFC 3711 §3.1, §3.4) or, with `tag_len` 0, at its end (AEAD:
    /// after the ciphertext and tag, RFC 7714 §8, §9). `buf` has the room.
    pub(crate) fn insert_mki(&self, buf: &mut [u8], len: usize, tag_len: usize) -> usize {
        let m = self.mki_len;
        if m == 0 {
            return len;
        }
        let at = len - tag_len;
        buf.copy_within(at..len, at + m);
        buf[at..at + m].copy_from_slice(&self.mki[..m]);
        len + m
    }

    /// Checks and removes the MKI (see [`SrtpContext::insert_mki`]): the
    /// packet's length without it.
    pub(crate) fn remove_mki(
        &self,
        buf: &mut [u8],
        len: usize,
        tag_len: usize,
        ssrc: u32,
    ) -> Result<usize, MediaError> {
        let m = self.mki_len;
        if m == 0 {
            return Ok(len);
        }
        let at = len
            .checked_sub(tag_len + m)
            .ok_or(MediaError::SrtpMkiUnknown { ssrc: Ssrc(ssrc) })?;
        if buf[at..at + m] != self.mki[..m] {
            return Err(MediaError::SrtpMkiUnknown { ssrc: Ssrc(ssrc) });
        }
        buf.copy_within(at + m..len, at);
        Ok(len - m)
    }

    /// The HMAC tag length the MKI sits before (0 for AEAD suites).
    pub(crate) fn mki_before(&self, rtcp: bool) -> usize {
        match self.suite {
            CryptoSuite::AeadAes128Gcm => 0,
            s if rtcp => s.rtcp_tag_len(),
            s => s.rtp_tag_len(),
        }
    }

    /// The suite of the key.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// SRTP packets processed under this key so far.
    pub fn rtp_packets(&self) -> u64 {
        self.rtp_packets
    }

    /// SRTCP packets processed under this key so far.
    pub fn rtcp_packets(&self) -> u64 {
        self.rtcp_packets
    }

    pub(crate) fn rtp_transform(&self) -> &Transform {
        &self.rtp
    }

    pub(crate) fn rtcp_transform(&self) -> &Transform {
        &self.rtcp
    }

    /// Refuses the packet when the key has been used up (RFC 3711 §9.2:
    /// a new master key is needed, i.e. a re-INVITE with new `a=crypto`).
    pub(crate) fn check_lifetime(&self, rtcp: bool) -> Result<(), MediaError> {
        let (used, limit) = if rtcp {
            (self.rtcp_packets, self.rtcp_limit)
        } else {
            (self.rtp_packets, self.rtp_limit)
        };
        if used >= limit {
            return Err(MediaError::SrtpKeyExhausted { packets: used });
        }
        Ok(())
    }

    pub(crate) fn count(&mut self, rtcp: bool) {
        if rtcp {
            self.rtcp_packets += 1;
        } else {
            self.rtp_packets += 1;
        }
    }

    /// The state of `ssrc`, or a fresh one if it is not in the table (not
    /// inserted: see [`SrtpContext::store`]).
    pub(crate) fn stream(&self, ssrc: u32) -> Stream {
        self.streams[..self.len]
            .iter()
            .find(|(s, _)| *s == ssrc)
            .map(|(_, st)| *st)
            .unwrap_or_default()
    }

    /// Whether a packet of `ssrc` could be stored (checked before the crypto
    /// work, so a full table costs no decryption).
    pub(crate) fn has_room_for(&self, ssrc: u32) -> Result<(), MediaError> {
        if self.len < MAX_SSRCS || self.streams[..self.len].iter().any(|(s, _)| *s == ssrc) {
            Ok(())
        } else {
            Err(MediaError::SrtpTooManySsrcs {
                ssrc: Ssrc(ssrc),
                limit: MAX_SSRCS,
            })
        }
    }

    /// Stores the state of `ssrc` after a packet was authenticated; only
    /// authenticated packets create entries, so forged SSRCs cannot fill the table.
    pub(crate) fn store(&mut self, ssrc: u32, stream: Stream) {
        if let Some(slot) = self.streams[..self.len]
            .iter_mut()
            .find(|(s, _)| *s == ssrc)
        {
            slot.1 = stream;
        } else if self.len < MAX_SSRCS {
            self.streams[self.len] = (ssrc, stream);
            self.len += 1;
        }
    }

    /// The rollover counter of `ssrc`, for tests and diagnostics.
    pub fn roc(&self, ssrc: Ssrc) -> Option<u32> {
        self.streams[..self.len]
            .iter()
            .find(|(s, _)| *s == ssrc.0)
            .and_then(|(_, st)| st.rtp.top())
            .map(|top| (top >> 16) as u32)
    }
}
