//! Audio codecs: payload ⇄ 16-bit linear PCM, and the RTP names and numbers
//! that select them.
//!
//! A [`Codec`] decodes one RTP payload into a caller's PCM buffer and encodes
//! PCM into a caller's payload buffer: nothing is allocated per frame. The
//! instance is made once per leg from a [`CodecKind`] (from the SDP's
//! `a=rtpmap` or a static payload type) and may keep state between frames
//! (Opus, G.722 do; G.711 does not).
//!
//! Adding a codec (Opus, G.722) is one new module implementing [`Codec`] plus
//! one [`CodecKind`] variant: its name, rates and constructor. Note G.722's
//! RTP clock is 8000 Hz while its PCM is 16 kHz (RFC 3551 §4.5.2), hence
//! [`Codec::sample_rate`] apart from [`CodecKind::rtp_clock_rate`].
//!
//! How the endpoint uses it: decode an arriving payload with the leg's codec
//! (player mixing, in-band DTMF, recording); where two bridged legs differ only
//! by law, the relay skips PCM and converts the payload in place
//! ([`transcode::Transcoder`]); where the receiving leg's peer asked for
//! another ptime, a [`repacketize::Repacketizer`] goes between them (the
//! endpoint's `repack`).

pub mod g711;
pub mod repacketize;
pub mod transcode;

use crate::MediaError;
use crate::rtp::PayloadType;

pub use g711::{G711, Law};
pub use transcode::Transcoder;

/// A packetisation time in milliseconds (`a=ptime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ptime(pub u16);

impl Ptime {
    /// The usual 20 ms.
    pub const DEFAULT: Ptime = Ptime(20);

    /// Samples in one frame of this ptime at `rate` Hz.
    pub fn samples(self, rate: u32) -> usize {
        (u64::from(rate) * u64::from(self.0) / 1000) as usize
    }
}

/// A codec voxgate can decode and encode.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law (`PCMU/8000`, static payload type 0).
    Pcmu,
    /// G.711 A-law (`PCMA/8000`, static payload type 8).
    Pcma,
}

impl CodecKind {
    /// Every codec known, in voxgate's default preference order.
    pub const ALL: [CodecKind; 2] = [CodecKind::Pcma, CodecKind::Pcmu];

    /// The encoding name of `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
        }
    }

    /// The RTP timestamp clock (`a=rtpmap`'s rate).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
        }
    }

    /// The static payload type of RFC 3551 §6, if the codec has one.
    pub fn static_payload_type(self) -> Option<PayloadType> {
        match self {
            CodecKind::Pcmu => Some(PayloadType(0)),
            CodecKind::Pcma => Some(PayloadType(8)),
        }
    }

    /// The codec a static payload type names (RFC 3551 §6).
    pub fn from_static_payload_type(pt: PayloadType) -> Option<CodecKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.static_payload_type() == Some(pt))
    }

    /// The codec an `a=rtpmap` names (encoding names are case-insensitive,
    /// RFC 4855 §3).
    pub fn from_rtpmap(encoding_name: &str, clock_rate: u32) -> Option<CodecKind> {
        Self::ALL.into_iter().find(|k| {
            k.encoding_name().eq_ignore_ascii_case(encoding_name)
                && k.rtp_clock_rate() == clock_rate
        })
    }

    /// A fresh codec instance (once per leg, not per frame).
    pub fn new_codec(self) -> Box<dyn Codec> {
        match self {
            CodecKind::Pcmu => Box::new(G711::new(Law::Mu)),
            CodecKind::Pcma => Box::new(G711::new(Law::A)),
        }
    }
}

/// Decodes RTP payloads to 16-bit linear PCM and back, into callers' buffers.
pub trait Codec: Send {
    /// Which codec this is.
    fn kind(&self) -> CodecKind;

    /// PCM samples per second on the decoded side.
    fn sample_rate(&self) -> u32;

    /// PCM samples in one frame of `ptime`.
    fn samples_per_frame(&self, ptime: Ptime) -> usize {
        ptime.samples(self.sample_rate())
    }

    /// Largest payload that encoding `samples` PCM samples can produce.
    fn max_payload_len(&self, samples: usize) -> usize;

    /// Decodes `payload` into `pcm`, returning the samples written.
    fn decode(&mut self, payload: &[u8], pcm: &mut [i16]) -> Result<usize, MediaError>;

    /// Encodes `pcm` into `payload`, returning the bytes written.
    fn encode(&mut self, pcm: &[i16], payload: &mut [u8]) -> Result<usize, MediaError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            CodecKind::from_static_payload_type(PayloadType(0)),
            Some(CodecKind::Pcmu)
        );
        assert_eq!(
            CodecKind::from_static_payload_type(PayloadType(8)),
            Some(CodecKind::Pcma)
        );
        assert_eq!(CodecKind::from_static_payload_type(PayloadType(9)), None);
        assert_eq!(CodecKind::from_rtpmap("pcma", 8000), Some(CodecKind::Pcma));
        assert_eq!(CodecKind::from_rtpmap("PCMU", 16000), None);
        assert_eq!(Ptime(20).samples(8000), 160);
        assert_eq!(Ptime(30).samples(8000), 240);
        let mut c = CodecKind::Pcmu.new_codec();
        assert_eq!(c.kind(), CodecKind::Pcmu);
        assert_eq!(c.samples_per_frame(Ptime(10)), 80);
        let mut pcm = [0i16; 4];
        assert_eq!(c.decode(&[0xff, 0x7f, 0x80, 0x00], &mut pcm), Ok(4));
        assert_eq!(pcm, [0, 0, 32124, -32124]);
    }
}
