//! ITU-T G.711: µ-law (PCMU) and A-law (PCMA) companding, and the direct
//! µ-law ⇄ A-law code conversion of G.711 Tables 3 and 4.
//!
//! Written here rather than taken from a crate: the whole codec is two
//! 256-entry decode tables, two short encode functions (and encode tables
//! built from them) and two 256-entry conversion tables, all `const` (no
//! allocation, no initialisation at run time). The crates.io G.711 code
//! looked at does not fit the per-frame rule: `rtp-engine` and
//! `rvoip-codec-core` encode into a `Vec` per call, and `audio-codec` comes
//! with G.729/Opus bindings and Sun's rounding of negative samples rather
//! than G.191's. The encoders follow the ITU-T G.191 STL reference (`alaw_compress`,
//! `ulaw_compress`: negative samples via one's complement), and the tests
//! check every 16-bit input against a direct port of that reference and every
//! code against the G.711 reconstruction values.

use super::{Codec, CodecKind};
use crate::MediaError;

/// Which companding law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (North America, Japan): PCMU.
    Mu,
    /// A-law (elsewhere): PCMA.
    A,
}

/// A G.711 codec (stateless; 8000 Hz, one byte per sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct G711 {
    law: Law,
}

impl G711 {
    /// A codec for `law`.
    pub fn new(law: Law) -> Self {
        G711 { law }
    }

    /// Its law.
    pub fn law(&self) -> Law {
        self.law
    }
}

impl Codec for G711 {
    fn kind(&self) -> CodecKind {
        match self.law {
            Law::Mu => CodecKind::Pcmu,
            Law::A => CodecKind::Pcma,
        }
    }

    fn sample_rate(&self) -> u32 {
        8000
    }

    fn max_payload_len(&self, samples: usize) -> usize {
        samples
    }

    fn decode(&mut self, payload: &[u8], pcm: &mut [i16]) -> Result<usize, MediaError> {
        let available = pcm.len();
        let out = pcm
            .get_mut(..payload.len())
            .ok_or(MediaError::BufferTooSmall {
                needed: payload.len(),
                available,
            })?;
        match self.law {
            Law::Mu => decode_ulaw(payload, out),
            Law::A => decode_alaw(payload, out),
        }
        Ok(payload.len())
    }

    fn encode(&mut self, pcm: &[i16], payload: &mut [u8]) -> Result<usize, MediaError> {
        let available = payload.len();
        let out = payload
            .get_mut(..pcm.len())
            .ok_or(MediaError::BufferTooSmall {
                needed: pcm.len(),
                available,
            })?;
        match self.law {
            Law::Mu => encode_ulaw(pcm, out),
            Law::A => encode_alaw(pcm, out),
        }
        Ok(pcm.len())
    }
}

/// Decodes µ-law codes into `pcm` (as many as both hold).
pub fn decode_ulaw(codes: &[u8], pcm: &mut [i16]) {
    for (s, &c) in pcm.iter_mut().zip(codes) {
        *s = ULAW_TO_LINEAR[usize::from(c)];
    }
}

/// Decodes A-law codes into `pcm` (as many as both hold).
pub fn decode_alaw(codes: &[u8], pcm: &mut [i16]) {
    for (s, &c) in pcm.iter_mut().zip(codes) {
        *s = ALAW_TO_LINEAR[usize::from(c)];
    }
}

/// Encodes `pcm` as µ-law into `codes` (as many as both hold).
pub fn encode_ulaw(pcm: &[i16], codes: &mut [u8]) {
    for (c, &s) in codes.iter_mut().zip(pcm) {
        *c = ULAW_ENCODE[((s >> 2) as i32 + 8192) as usize];
    }
}

/// Encodes `pcm` as A-law into `codes` (as many as both hold).
pub fn encode_alaw(pcm: &[i16], codes: &mut [u8]) {
    for (c, &s) in codes.iter_mut().zip(pcm) {
        *c = ALAW_ENCODE[((s >> 4) as i32 + 2048) as usize];
    }
}

/// Rewrites a µ-law payload as A-law, in place (G.711 Table 3).
pub fn ulaw_to_alaw_in_place(payload: &mut [u8]) {
    for b in payload {
        *b = ULAW_TO_ALAW[usize::from(*b)];
    }
}

/// Rewrites an A-law payload as µ-law, in place (G.711 Table 4).
pub fn alaw_to_ulaw_in_place(payload: &mut [u8]) {
    for b in payload {
        *b = ALAW_TO_ULAW[usize::from(*b)];
    }
}

/// One µ-law code to linear PCM.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// One A-law code to linear PCM.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

/// One linear sample to µ-law (G.191 `ulaw_compress`, without its loop).
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    // One's complement for negatives: the reference's choice, so -1 is "−0".
    let magnitude = if sample < 0 { !sample } else { sample };
    let absno = (magnitude >> 2) as u16 + 33;
    let absno = if absno > 0x1fff { 0x1fff } else { absno };
    // Segment: 1 + the bit length of absno >> 6.
    let segno = 1 + (16 - (absno >> 6).leading_zeros()) as u16;
    let high = 8 - segno;
    let low = 15 - ((absno >> segno) & 0x0f);
    let code = ((high << 4) | low) as u8;
    if sample >= 0 { code | 0x80 } else { code }
}

/// One linear sample to A-law (G.191 `alaw_compress`, without its loop).
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let magnitude = if sample < 0 { !sample } else { sample };
    let mut ix = (magnitude >> 4) as u16; // 0..=2047
    if ix > 15 {
        // Exponent: how far the leading one sits above bit 4.
        let exp = 16 - ix.leading_zeros() as u16 - 4;
        ix = ((ix >> (exp - 1)) - 16) + (exp << 4);
    }
    let code = if sample >= 0 { ix | 0x80 } else { ix } as u8;
    code ^ 0x55
}

/// G.191 `ulaw_expand`: the G.711 Table 2 reconstruction values, ×4.
const fn ulaw_expand(code: u8) -> i16 {
    let inv = !code;
    let exponent = ((inv >> 4) & 7) as i32;
    let mantissa = (inv & 0x0f) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    (if code < 0x80 { -magnitude } else { magnitude }) as i16
}

/// G.191 `alaw_expand`: the G.711 Table 1 reconstruction values, ×8.
const fn alaw_expand(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7f) as i32;
    let exponent = ix >> 4;
    let mut mantissa = ix & 0x0f;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 8;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    (if code > 127 { mantissa } else { -mantissa }) as i16
}

const fn decode_table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match law {
            Law::Mu => ulaw_expand(i as u8),
            Law::A => alaw_expand(i as u8),
        };
        i += 1;
    }
    t
}

static ULAW_TO_LINEAR: [i16; 256] = decode_table(Law::Mu);

/// The encoders read only the top 14 (µ-law) or 12 (A-law) bits of a
/// sample (G.191: `x >> 2`, `x >> 4`, one's complement of those for
/// negatives), so a table over those bits encodes a frame at one lookup per
/// sample: 16 KiB and 4 KiB, built at compile time.
static ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        t[i] = linear_to_ulaw(((i as i32 - 8192) << 2) as i16);
        i += 1;
    }
    t
};

static ALAW_ENCODE: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = linear_to_alaw(((i as i32 - 2048) << 4) as i16);
        i += 1;
    }
    t
};
static ALAW_TO_LINEAR: [i16; 256] = decode_table(Law::A);

/// G.711 Table 3 (µ → A), as printed: the A-law code (1-based, sign and
/// even-bit inversion removed) for each µ-law magnitude code 0..=127.
const U2A: [u8; 128] = [
    1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, //
    9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, //
    25, 27, 29, 31, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, //
    46, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, //
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, //
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, //
    97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, //
    113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128,
];

/// G.711 Table 4 (A → µ), as printed: the µ-law magnitude code for each
/// A-law code 0..=127 (sign and even-bit inversion removed).
const A2U: [u8; 128] = [
    1, 3, 5, 7, 9, 11, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, //
    24, 25, 26, 27, 28, 29, 30, 31, 32, 32, 33, 33, 34, 34, 35, 35, //
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 48, 49, 49, //
    50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 64, //
    65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 79, //
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, //
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, //
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
];

/// The full 256-entry tables, sign and bit inversions folded in.
const fn ulaw_to_alaw_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut u = 0;
    while u < 256 {
        t[u] = if u & 0x80 != 0 {
            0xd5 ^ (U2A[0xff ^ u] - 1)
        } else {
            0x55 ^ (U2A[0x7f ^ u] - 1)
        };
        u += 1;
    }
    t
}

const fn alaw_to_ulaw_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut a = 0;
    while a < 256 {
        t[a] = if a & 0x80 != 0 {
            0xff ^ A2U[a ^ 0xd5]
        } else {
            0x7f ^ A2U[a ^ 0x55]
        };
        a += 1;
    }
    t
}

static ULAW_TO_ALAW: [u8; 256] = ulaw_to_alaw_table();
static ALAW_TO_ULAW: [u8; 256] = alaw_to_ulaw_table();

#[cfg(test)]
mod tests;
