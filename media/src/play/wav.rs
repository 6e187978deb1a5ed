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
//! per-frame path: the decoded samples are shared through [`Prompt`].

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
