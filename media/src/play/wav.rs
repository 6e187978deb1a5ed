//! Reading RIFF/WAVE prompt files (8 kHz mono PCM16, µ-law, A-law, and
//! WAVE_FORMAT_EXTENSIBLE carrying one of those).
//!
//! Hand-parsed rather than with `hound`: hound reads integer PCM and IEEE
//! float only (its `WavReader` refuses format tags 6 and 7 and the extensible
//! G.711 subformats), and most telephony prompt libraries ship µ-law or A-law
//! WAVs. The format is a few fixed fields; every length from the file is
//! checked against the bytes present before use, and nothing here panics.
//!
//! Loading happens once per file (at config load or first use), never on the
//! per-frame path: the decoded samples are shared through [`Prompt`](super::Prompt).

use crate::MediaError;

/// `WAVE_FORMAT_PCM`.
pub const FORMAT_PCM: u16 = 0x0001;
/// `WAVE_FORMAT_ALAW` (ITU-T G.711 A-law).
pub const FORMAT_ALAW: u16 = 0x0006;
/// `WAVE_FORMAT_MULAW` (ITU-T G.711 µ-law).
pub const FORMAT_MULAW: u16 = 0x0007;
/// `WAVE_FORMAT_EXTENSIBLE`: the real format is in the subformat GUID.
pub const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// The sample rate voxgate plays and records (narrowband telephony).
pub const SAMPLE_RATE: u32 = 8000;

/// The largest prompt file accepted: over an hour of 8 kHz PCM16 (57.6 MB).
/// A bigger file is a mistake in the config, not a prompt.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// The GUID tail shared by every `KSDATAFORMAT_SUBTYPE_*` derived from a
/// format tag: `{0000xxxx-0000-0010-8000-00aa00389b71}`, little-endian, after
/// the tag's two bytes.
const SUBFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// How the samples of a WAV file's data chunk are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Signed 16-bit little-endian linear PCM.
    Pcm16,
    /// G.711 µ-law, one byte a sample.
    Mulaw,
    /// G.711 A-law, one byte a sample.
    Alaw,
}

impl Encoding {
    /// Bytes per (mono) sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::Pcm16 => 2,
            Encoding::Mulaw | Encoding::Alaw => 1,
        }
    }
}

/// A parsed WAV file: what its samples are and where they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavFile<'a> {
    /// How the samples are coded.
    pub encoding: Encoding,
    /// Channels (1 for a prompt; 2 for a stereo recording, interleaved).
    pub channels: u16,
    /// The data chunk's bytes (exactly as long as the chunk declares).
    pub data: &'a [u8],
}

impl WavFile<'_> {
    /// Number of samples in the data chunk.
    pub fn samples(&self) -> usize {
        self.data.len() / self.block_align()
    }

    /// Bytes per sample frame (one sample of every channel).
    pub fn block_align(&self) -> usize {
        self.encoding.bytes_per_sample() * usize::from(self.channels.max(1))
    }

    /// Duration in milliseconds at 8 kHz.
    pub fn duration_ms(&self) -> u64 {
        self.samples() as u64 * 1000 / u64::from(SAMPLE_RATE)
    }
}

/// Little-endian field readers that return `None` past the end.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The `fmt ` chunk's fields voxgate looks at.
struct Format {
    code: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

fn parse_fmt(body: &[u8]) -> Result<Format, MediaError> {
    let truncated = || MediaError::WavTruncated {
        chunk: "fmt ",
        declared: body.len() as u64,
        needed: 16,
    };
    let code = u16_at(body, 0).ok_or_else(truncated)?;
    let channels = u16_at(body, 2).ok_or_else(truncated)?;
    let rate = u32_at(body, 4).ok_or_else(truncated)?;
    let bits = u16_at(body, 14).ok_or_else(truncated)?;
    let code = if code == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) then the 16-byte GUID at 24.
        let guid = body.get(24..40).ok_or(MediaError::WavTruncated {
            chunk: "fmt ",
            declared: body.len() as u64,
            needed: 40,
        })?;
        if guid[2..] != SUBFORMAT_TAIL {
            return Err(MediaError::WavFormat {
                code: FORMAT_EXTENSIBLE,
            });
        }
        u16::from_le_bytes([guid[0], guid[1]])
    } else {
        code
    };
    Ok(Format {
        code,
        channels,
        rate,
        bits,
    })
}

/// Parses a WAV file held in memory. Every error says what is wrong with the
/// file (see [`MediaError`]'s `Wav*` variants); `check-config` shows them.
///
/// Chunks other than `fmt ` and `data` (`LIST`, `fact`, `cue `...) are
/// skipped. Bytes after the data chunk are ignored: a recording cut by a
/// crash has its header rewritten every second, so it declares less than the
/// file holds and still parses.
pub fn parse(bytes: &[u8]) -> Result<WavFile<'_>, MediaError> {
    parse_channels(bytes, 1)
}

/// Like [`parse`], accepting up to `max_channels` channels (a stereo
/// recording is read back with 2).
pub fn parse_channels(bytes: &[u8], max_channels: u16) -> Result<WavFile<'_>, MediaError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(MediaError::WavNotRiff);
    }
    let mut at = 12usize;
    let mut format: Option<Format> = None;
    while at < bytes.len() {
        let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) else {
            break; // a stray byte or a cut chunk header after the last chunk
        };
        let body_start = at + 8;
        let declared = size as usize;
        let available = bytes.len() - body_start;
        if id == b"data" {
            let format = format.ok_or(MediaError::WavMissingChunk { chunk: "fmt " })?;
            let encoding = check_format(&format, max_channels)?;
            if declared > available {
                return Err(MediaError::WavTruncated {
                    chunk: "data",
                    declared: declared as u64,
                    needed: available as u64,
                });
            }
            let data = &bytes[body_start..body_start + declared];
            let file = WavFile {
                encoding,
                channels: format.channels,
                data,
            };
            if !data.len().is_multiple_of(file.block_align()) {
                return Err(MediaError::WavTruncated {
                    chunk: "data",
                    declared: declared as u64,
                    needed: (declared + 1) as u64,
                });
            }
            return Ok(file);
        }
        let Some(body) = bytes.get(body_start..body_start.saturating_add(declared)) else {
            return Err(MediaError::WavTruncated {
                chunk: chunk_name(id),
                declared: declared as u64,
                needed: available as u64,
            });
        };
        if id == b"fmt " {
            format = Some(parse_fmt(body)?);
        }
        // Chunks are padded to an even length (RIFF).
        at = body_start + declared + (declared & 1);
    }
    Err(MediaError::WavMissingChunk {
        chunk: if format.is_some() { "data" } else { "fmt " },
    })
}

/// Names a chunk for an error message without copying the file's bytes.
fn chunk_name(id: &[u8]) -> &'static str {
    match id {
        b"fmt " => "fmt ",
        b"LIST" => "LIST",
        b"fact" => "fact",
        _ => "other",
    }
}

fn check_format(f: &Format, max_channels: u16) -> Result<Encoding, MediaError> {
    let (encoding, bits) = match f.code {
        FORMAT_PCM => (Encoding::Pcm16, 16),
        FORMAT_MULAW => (Encoding::Mulaw, 8),
        FORMAT_ALAW => (Encoding::Alaw, 8),
        code => return Err(MediaError::WavFormat { code }),
    };
    if f.bits != bits {
        return Err(MediaError::WavBits {
            code: f.code,
            bits: f.bits,
            expected: bits,
        });
    }
    if f.channels == 0 || f.channels > max_channels {
        return Err(MediaError::WavChannels {
            channels: f.channels,
        });
    }
    if f.rate != SAMPLE_RATE {
        return Err(MediaError::WavRate { rate: f.rate });
    }
    Ok(encoding)
}

/// Writes a canonical 44-byte header for `data_len` bytes of 8 kHz PCM16
/// with `channels` channels. Shared with the recorder so that what it
/// writes is what [`parse`] reads.
pub fn pcm16_header(channels: u16, data_len: u32) -> [u8; 44] {
    let block_align = 2 * channels;
    let byte_rate = SAMPLE_RATE * u32::from(block_align);
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Builds WAV files for tests (also used by the recorder's and the player's tests).
#[cfg(test)]
pub(crate) mod build {
    /// A WAV file: `fmt ` with the given fields (an extensible one when
    /// `subformat` is set), extra chunks before `data`, and `data`.
    pub fn wav(
        code: u16,
        channels: u16,
        rate: u32,
        bits: u16,
        subformat: Option<u16>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&code.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits / 8;
        fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        if let Some(sub) = subformat {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&bits.to_le_bytes());
            fmt.extend_from_slice(&4u32.to_le_bytes()); // SPEAKER_FRONT_CENTER
            fmt.extend_from_slice(&sub.to_le_bytes());
            fmt.extend_from_slice(&super::SUBFORMAT_TAIL);
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        out.extend_from_slice(&fmt);
        // A LIST chunk of odd length, padded, as editors write them.
        out.extend_from_slice(b"LIST");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"abc\0");
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        out
    }

    /// PCM16 mono 8 kHz from samples.
    pub fn pcm16(samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        wav(super::FORMAT_PCM, 1, 8000, 16, None, &data)
    }
}

#[cfg(test)]
mod tests {
    use super::build::{pcm16, wav};
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn reads_pcm16_mulaw_alaw_and_extensible() {
        let f = pcm16(&[1, -2, 300]);
        let w = parse(&f).unwrap();
        assert_eq!(w.encoding, Encoding::Pcm16);
        assert_eq!(w.samples(), 3);
        assert_eq!(w.data, &[1, 0, 0xfe, 0xff, 0x2c, 0x01]);

        let f = wav(FORMAT_MULAW, 1, 8000, 8, None, &[0xff; 8000]);
        let w = parse(&f).unwrap();
        assert_eq!(
            (w.encoding, w.samples(), w.duration_ms()),
            (Encoding::Mulaw, 8000, 1000)
        );
        let f = wav(FORMAT_ALAW, 1, 8000, 8, None, &[0xd5; 80]);
        assert_eq!(parse(&f).unwrap().encoding, Encoding::Alaw);

        for (sub, enc, bits) in [
            (FORMAT_PCM, Encoding::Pcm16, 16),
            (FORMAT_MULAW, Encoding::Mulaw, 8),
            (FORMAT_ALAW, Encoding::Alaw, 8),
        ] {
            let f = wav(FORMAT_EXTENSIBLE, 1, 8000, bits, Some(sub), &[0; 16]);
            assert_eq!(parse(&f).unwrap().encoding, enc, "extensible {sub}");
        }
    }

    #[test]
    fn says_exactly_what_is_wrong() {
        assert_eq!(parse(b"RIFX\0\0\0\0WAVE"), Err(MediaError::WavNotRiff));
        assert_eq!(parse(b"RIFF\0\0\0\0AVI "), Err(MediaError::WavNotRiff));
        assert_eq!(parse(b""), Err(MediaError::WavNotRiff));
        assert_eq!(
            parse(&wav(FORMAT_PCM, 1, 16000, 16, None, &[0; 4])),
            Err(MediaError::WavRate { rate: 16000 })
        );
        assert_eq!(
            parse(&wav(FORMAT_PCM, 2, 8000, 16, None, &[0; 4])),
            Err(MediaError::WavChannels { channels: 2 })
        );
        assert_eq!(
            parse(&wav(3, 1, 8000, 32, None, &[0; 4])),
            Err(MediaError::WavFormat { code: 3 })
        );
        assert_eq!(
            parse(&wav(FORMAT_EXTENSIBLE, 1, 8000, 32, Some(3), &[0; 4])),
            Err(MediaError::WavFormat { code: 3 })
        );
        assert_eq!(
            parse(&wav(FORMAT_PCM, 1, 8000, 8, None, &[0; 4])),
            Err(MediaError::WavBits {
                code: 1,
                bits: 8,
                expected: 16
            })
        );
        // Truncated: the data chunk declares 100 bytes, 40 are there.
        let mut f = pcm16(&[0; 50]);
        f.truncate(f.len() - 60);
        assert_eq!(
            parse(&f),
            Err(MediaError::WavTruncated {
                chunk: "data",
                declared: 100,
                needed: 40
            })
        );
        // Half a PCM16 sample.
        let f = wav(FORMAT_PCM, 1, 8000, 16, None, &[0; 3]);
        assert!(matches!(
            parse(&f),
            Err(MediaError::WavTruncated { chunk: "data", .. })
        ));
        // No data chunk; no fmt chunk before data.
        let f = pcm16(&[0; 4]);
        let no_data = &f[..f.len() - 16];
        assert_eq!(
            parse(no_data),
            Err(MediaError::WavMissingChunk { chunk: "data" })
        );
        let mut no_fmt = b"RIFF\0\0\0\0WAVE".to_vec();
        no_fmt.extend_from_slice(b"data\x02\0\0\0\0\0");
        assert_eq!(
            parse(&no_fmt),
            Err(MediaError::WavMissingChunk { chunk: "fmt " })
        );
        // A short fmt chunk.
        let mut short = b"RIFF\0\0\0\0WAVEfmt \x04\0\0\0".to_vec();
        short.extend_from_slice(&[1, 0, 1, 0]);
        assert!(matches!(
            parse(&short),
            Err(MediaError::WavTruncated { chunk: "fmt ", .. })
        ));
        // The messages name the values.
        assert_eq!(
            MediaError::WavRate { rate: 44100 }.to_string(),
            "WAV sample rate 44100 Hz, 8000 Hz needed"
        );
    }

    #[test]
    fn stereo_is_read_when_asked() {
        let f = wav(FORMAT_PCM, 2, 8000, 16, None, &[0; 8]);
        let w = parse_channels(&f, 2).unwrap();
        assert_eq!((w.channels, w.samples()), (2, 2));
    }

    #[test]
    fn the_header_the_recorder_writes_parses() {
        let mut f = pcm16_header(1, 4).to_vec();
        f.extend_from_slice(&[1, 0, 2, 0]);
        let w = parse(&f).unwrap();
        assert_eq!((w.encoding, w.samples()), (Encoding::Pcm16, 2));
        // A header that declares less than the file holds (a crash between
        // header rewrites) parses to what it declares.
        f.extend_from_slice(&[3, 0]);
        assert_eq!(parse(&f).unwrap().samples(), 2);
    }

    /// Checks what the fuzz target (`media/fuzz/fuzz_targets/wav.rs`)
    /// checks, on seeded inputs so CI covers it: `parse` never panics, and
    /// what it returns lies inside the input and is whole samples.
    fn properties(bytes: &[u8]) {
        for max in [1, 2] {
            if let Ok(w) = parse_channels(bytes, max) {
                let start = w.data.as_ptr() as usize - bytes.as_ptr() as usize;
                assert!(start + w.data.len() <= bytes.len());
                assert_eq!(w.data.len() % w.block_align(), 0);
                assert!(w.channels >= 1 && w.channels <= max);
                assert_eq!(w.samples() * w.block_align(), w.data.len());
            }
        }
    }

    #[test]
    fn seeded_property_parse_never_panics() {
        let mut rng = StdRng::seed_from_u64(0x5eed_0a11);
        let seeds = [
            pcm16(&[1, 2, 3, 4]),
            wav(FORMAT_MULAW, 1, 8000, 8, None, &[1; 9]),
            wav(FORMAT_EXTENSIBLE, 1, 8000, 8, Some(FORMAT_ALAW), &[1; 9]),
            wav(FORMAT_PCM, 2, 8000, 16, None, &[0; 8]),
        ];
        for i in 0..20_000 {
            let mut bytes = seeds[i % seeds.len()].clone();
            match rng.random_range(0..4) {
                // Flip bytes (lengths, codes, ids).
                0 => {
                    for _ in 0..rng.random_range(1..6) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] = rng.random();
                    }
                }
                // Cut anywhere.
                1 => bytes.truncate(rng.random_range(0..bytes.len())),
                // Huge lengths at the chunk size positions.
                2 => {
                    let at = [4usize, 16, 40, 44][rng.random_range(0..4)].min(bytes.len() - 4);
                    bytes[at..at + 4].copy_from_slice(&rng.random::<u32>().to_le_bytes());
                }
                // Pure noise behind a valid RIFF/WAVE header.
                _ => {
                    bytes.truncate(12);
                    let n = rng.random_range(0..64);
                    bytes.extend((0..n).map(|_| rng.random::<u8>()));
                }
            }
            properties(&bytes);
        }
    }
}
