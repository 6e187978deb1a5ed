//! SRTP packet processing (RFC 3711 §3.3): protect and unprotect in place.

use super::context::{SrtpContext, Stream};
use super::replay::Verdict;
use crate::MediaError;
use crate::rtp::{RTP_HEADER_LEN, Ssrc};

/// Length of the RTP header (fixed part, CSRCs, extension), checked against
/// the packet length: the part SRTP leaves in clear text.
fn header_len(pkt: &[u8]) -> Option<usize> {
    let first = *pkt.first()?;
    if first >> 6 != 2 || pkt.len() < RTP_HEADER_LEN {
        return None;
    }
    let mut len = RTP_HEADER_LEN + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let ext = pkt.get(len..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    (len <= pkt.len()).then_some(len)
}

fn seq_ssrc(pkt: &[u8]) -> (u16, u32) {
    (
        u16::from_be_bytes([pkt[2], pkt[3]]),
        u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
    )
}

impl SrtpContext {
    /// Protects the RTP packet `buf[..len]` in place and appends the tag:
    /// returns the SRTP length (`len` + [`CryptoSuite::rtp_tag_len`](super::CryptoSuite::rtp_tag_len)).
    /// `buf` must have room for the tag. A sequence number protected before
    /// (a duplicate from the other leg) is refused: protecting two payloads
    /// under one index would reuse keystream.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        let pkt = buf.get(..len).ok_or(MediaError::SrtpBufferTooSmall {
            needed: len,
            capacity: buf.len(),
        })?;
        let header_len = header_len(pkt).ok_or(MediaError::SrtpNotRtp { len })?;
        let needed = len + self.suite().rtp_tag_len() + self.mki_len();
        if buf.len() < needed {
            return Err(MediaError::SrtpBufferTooSmall {
                needed,
                capacity: buf.len(),
            });
        }
        let (seq, ssrc) = seq_ssrc(buf);
        let (stream, index) = self.rtp_index(seq, ssrc)?;
        let out = self
            .rtp_transform()
            .protect_rtp(buf, header_len, len, ssrc, index);
        let out = self.insert_mki(buf, out, self.mki_before(false));
        self.accept_rtp(ssrc, stream, index);
        Ok(out)
    }

    /// Verifies and decrypts the SRTP packet `buf[..len]` in place: returns
    /// the RTP length. Refuses forged, replayed and too-old packets; only a
    /// packet that authenticates moves the rollover counter and the window.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        let pkt = buf.get(..len).ok_or(MediaError::SrtpBufferTooSmall {
            needed: len,
            capacity: buf.len(),
        })?;
        let tag_len = self.suite().rtp_tag_len();
        let header_len = len
            .checked_sub(tag_len + self.mki_len())
            .and_then(|body| header_len(&pkt[..body]))
            .ok_or(MediaError::SrtpNotRtp { len })?;
        let (seq, ssrc) = seq_ssrc(pkt);
        let len = self.remove_mki(buf, len, self.mki_before(false), ssrc)?;
        let (stream, index) = self.rtp_index(seq, ssrc)?;
        let out = self
            .rtp_transform()
            .unprotect_rtp(buf, header_len, len, ssrc, index)
            .map_err(|_| MediaError::SrtpAuthentication { ssrc: Ssrc(ssrc) })?;
        self.accept_rtp(ssrc, stream, index);
        Ok(out)
    }

    /// The stream of `ssrc` and the index of `seq` in it, when the context
    /// may process the packet: key lifetime left, room for the SSRC, and an
    /// index neither replayed nor too old.
    fn rtp_index(&self, seq: u16, ssrc: u32) -> Result<(Stream, u64), MediaError> {
        self.check_lifetime(false)?;
        self.has_room_for(ssrc)?;
        let stream = self.stream(ssrc);
        let index = stream
            .rtp
            .estimate(seq)
            .ok_or(MediaError::SrtpIndexUnknown {
                ssrc: Ssrc(ssrc),
                seq,
            })?;
        verdict(stream.rtp.check(index), ssrc, index)?;
        Ok((stream, index))
    }

    /// Marks `index` used once the packet went through (the rollover
    /// counter and the replay window move only then).
    fn accept_rtp(&mut self, ssrc: u32, mut stream: Stream, index: u64) {
        stream.rtp.accept(index);
        self.store(ssrc, stream);
        self.count(false);
    }
}

pub(crate) fn verdict(v: Verdict, ssrc: u32, index: u64) -> Result<(), MediaError> {
    match v {
        Verdict::Fresh => Ok(()),
        Verdict::Replayed => Err(MediaError::SrtpReplayed {
            ssrc: Ssrc(ssrc),
            index,
        }),
        Verdict::TooOld => Err(MediaError::SrtpTooOld {
            ssrc: Ssrc(ssrc),
            index,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_counts_csrcs_and_extension() {
        let mut p = [0u8; 40];
        p[0] = 0x80;
        assert_eq!(header_len(&p), Some(12));
        p[0] = 0x82;
        assert_eq!(header_len(&p), Some(20));
        p[0] = 0x92; // two CSRCs and an extension of one word
        p[22..24].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(header_len(&p), Some(28));
        p[22..24].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(header_len(&p), None);
        assert_eq!(header_len(&p[..11]), None);
        p[0] = 0x40;
        assert_eq!(header_len(&p), None);
        assert_eq!(header_len(&[]), None);
    }
}
