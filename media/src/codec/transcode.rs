//! Transcoding a bridged leg's voice payload into its partner's codec, in
//! place in the packet buffer, so that two legs that negotiated different
//! codecs can be bridged without a re-INVITE.
//!
//! G.711 µ-law ⇄ A-law needs no PCM: G.711's Tables 3 and 4 map each code
//! of one law to the nearest code of the other, one table lookup per byte,
//! and the payload keeps its length (one byte per sample either way).
//!
//! A codec added later (Opus, G.722: one module implementing
//! [`Codec`](super::Codec) and one [`CodecKind`] variant) transcodes through
//! PCM instead: a variant here holding the two legs' codec instances (made
//! once when the bridge's formats are known, not per packet) that decodes
//! the payload into a stack PCM buffer and encodes it back into the packet
//! buffer, with a resampler between them where the PCM rates differ
//! (G.722's 16 kHz against G.711's 8 kHz). [`Transcoder::between`] is the one
//! place that says which pairs are possible; the SDP side asks it too
//! ([`crate::negotiate::transcodable`]).

use super::CodecKind;
use super::g711::{alaw_to_ulaw_in_place, ulaw_to_alaw_in_place};

/// How one codec's payload becomes another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transcoder {
    /// G.711 µ-law to A-law (G.711 Table 3), in place.
    UlawToAlaw,
    /// G.711 A-law to µ-law (G.711 Table 4), in place.
    AlawToUlaw,
}

impl Transcoder {
    /// The conversion from `from` to `to`, if voxgate has one; `None` for
    /// the same codec (nothing to do) and for pairs it cannot convert.
    pub fn between(from: CodecKind, to: CodecKind) -> Option<Transcoder> {
        match (from, to) {
            (CodecKind::Pcmu, CodecKind::Pcma) => Some(Transcoder::UlawToAlaw),
            (CodecKind::Pcma, CodecKind::Pcmu) => Some(Transcoder::AlawToUlaw),
            _ => None,
        }
    }

    /// Converts `payload` in place (the G.711 conversions keep its length).
    #[inline]
    pub fn convert(self, payload: &mut [u8]) {
        match self {
            Transcoder::UlawToAlaw => ulaw_to_alaw_in_place(payload),
            Transcoder::AlawToUlaw => alaw_to_ulaw_in_place(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};

    #[test]
    fn only_the_two_laws_convert() {
        assert_eq!(
            Transcoder::between(CodecKind::Pcmu, CodecKind::Pcma),
            Some(Transcoder::UlawToAlaw)
        );
        assert_eq!(
            Transcoder::between(CodecKind::Pcma, CodecKind::Pcmu),
            Some(Transcoder::AlawToUlaw)
        );
        assert_eq!(Transcoder::between(CodecKind::Pcmu, CodecKind::Pcmu), None);
        assert_eq!(Transcoder::between(CodecKind::Pcma, CodecKind::Pcma), None);
    }

    #[test]
    fn a_tone_survives_both_ways_within_one_quantisation_step() {
        // A 1 kHz tone at -10 dBm0-ish, 20 ms.
        let pcm: Vec<i16> = (0..160)
            .map(|n| {
                let t = n as f64 / 8000.0;
                (10_000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            })
            .collect();
        let mut payload: Vec<u8> = pcm.iter().map(|&s| linear_to_ulaw(s)).collect();
        Transcoder::UlawToAlaw.convert(&mut payload);
        for (&code, &s) in payload.iter().zip(&pcm) {
            let back = i32::from(alaw_to_linear(code));
            // A-law's step at this level is 256 (segment 6); µ-law's
            // quantisation adds at most its own half step.
            assert!((back - i32::from(s)).abs() <= 512, "{s} became {back}");
        }
        let mut payload: Vec<u8> = pcm.iter().map(|&s| linear_to_alaw(s)).collect();
        Transcoder::AlawToUlaw.convert(&mut payload);
        for (&code, &s) in payload.iter().zip(&pcm) {
            let back = i32::from(ulaw_to_linear(code));
            assert!((back - i32::from(s)).abs() <= 512, "{s} became {back}");
        }
    }
}
