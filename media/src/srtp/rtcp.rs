//! SRTCP packet processing (RFC 3711 §3.4, RFC 7714 §9): protect and
//! unprotect in place. We always encrypt (E = 1) and refuse E = 0, since we
//! never negotiate `UNENCRYPTED_SRTCP`.

use super::context::SrtpContext;
use super::rtp::verdict;
use crate::MediaError;
use crate::rtp::{RTCP_HEADER_LEN, Ssrc};

/// The sender SSRC of the first RTCP packet, after checking the common header.
fn rtcp_ssrc(pkt: &[u8]) -> Option<u32> {
    let h = pkt.get(..RTCP_HEADER_LEN)?;
    (h[0] >> 6 == 2).then(|| u32::from_be_bytes([h[4], h[5], h[6], h[7]]))
}

impl SrtpContext {
    /// Protects the RTCP compound packet `buf[..len]` in place: encrypts
    /// after the first 8 octets, appends the E-flag/SRTCP index and the
    /// tag. Returns the SRTCP length (`len` + [`CryptoSuite::rtcp_overhead`](super::CryptoSuite::rtcp_overhead)).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        let pkt = buf.get(..len).ok_or(MediaError::SrtpBufferTooSmall {
            needed: len,
            capacity: buf.len(),
        })?;
        let ssrc = rtcp_ssrc(pkt).ok_or(MediaError::SrtpNotRtcp { len })?;
        let needed = len + self.suite().rtcp_overhead() + self.mki_len();
        if buf.len() < needed {
            return Err(MediaError::SrtpBufferTooSmall {
                needed,
                capacity: buf.len(),
            });
        }
        self.check_lifetime(true)?;
        self.has_room_for(ssrc)?;
        let mut stream = self.stream(ssrc);
        let index = stream.rtcp_next;
        let out = self.rtcp_transform().protect_rtcp(buf, len, ssrc, index);
        let out = self.insert_mki(buf, out, self.mki_before(true));
        // The lifetime (at most 2^31) stops us before the 31-bit index wraps.
        stream.rtcp_next = (index + 1) & 0x7fff_ffff;
        self.store(ssrc, stream);
        self.count(true);
        Ok(out)
    }

    /// Verifies and decrypts the SRTCP packet `buf[..len]` in place: returns
    /// the RTCP length. Refuses forged, replayed, too-old and unencrypted packets.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        let pkt = buf.get(..len).ok_or(MediaError::SrtpBufferTooSmall {
            needed: len,
            capacity: buf.len(),
        })?;
        if len < RTCP_HEADER_LEN + self.suite().rtcp_overhead() + self.mki_len() {
            return Err(MediaError::SrtpNotRtcp { len });
        }
        let ssrc = rtcp_ssrc(pkt).ok_or(MediaError::SrtpNotRtcp { len })?;
        let len = self.remove_mki(buf, len, self.mki_before(true), ssrc)?;
        let pkt = &buf[..len];
        let at = self.rtcp_transform().rtcp_index_at(len);
        let word = u32::from_be_bytes([pkt[at], pkt[at + 1], pkt[at + 2], pkt[at + 3]]);
        if word & 0x8000_0000 == 0 {
            return Err(MediaError::SrtcpUnencrypted { ssrc: Ssrc(ssrc) });
        }
        let index = word & 0x7fff_ffff;
        self.check_lifetime(true)?;
        self.has_room_for(ssrc)?;
        let mut stream = self.stream(ssrc);
        verdict(stream.rtcp.check(u64::from(index)), ssrc, u64::from(index))?;
        let out = self
            .rtcp_transform()
            .unprotect_rtcp(buf, len, ssrc, index)
            .map_err(|_| MediaError::SrtpAuthentication { ssrc: Ssrc(ssrc) })?;
        stream.rtcp.accept(u64::from(index));
        self.store(ssrc, stream);
        self.count(true);
        Ok(out)
    }
}
