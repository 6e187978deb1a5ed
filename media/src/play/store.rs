//! Prompts decoded once at load and shared; the prompt store caches them by path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::MediaError;
use crate::codec::g711;

use super::wav::{self, Encoding, MAX_FILE_BYTES};

/// A prompt: 8 kHz mono 16-bit PCM, decoded once and shared by every player.
/// Cloning is a reference-count increment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt(Arc<[i16]>);

impl Prompt {
    /// A prompt from samples already at 8 kHz (tests, generated audio).
    pub fn from_samples(samples: impl Into<Arc<[i16]>>) -> Self {
        Prompt(samples.into())
    }

    /// Decodes a WAV file held in memory.
    pub fn from_wav(bytes: &[u8]) -> Result<Self, MediaError> {
        let file = wav::parse(bytes)?;
        Ok(Prompt(decode(file.encoding, file.data).into()))
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.0
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.0.len() as u64 * 1000 / u64::from(wav::SAMPLE_RATE)
    }
}

/// Decodes a data chunk to linear PCM (once, at load).
fn decode(encoding: Encoding, data: &[u8]) -> Vec<i16> {
    match encoding {
        Encoding::Pcm16 => data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
        Encoding::Mulaw => data.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
        Encoding::Alaw => data.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
    }
}

/// What [`check`] found in a valid prompt file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptInfo {
    /// How the file codes its samples.
    pub encoding: Encoding,
    /// Samples (at 8 kHz).
    pub samples: usize,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

fn read(path: &Path) -> Result<Vec<u8>, MediaError> {
    let io = |e: std::io::Error| MediaError::PromptRead {
        path: path.to_owned(),
        kind: e.kind(),
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(MediaError::WavTooLarge {
            bytes: len,
            limit: MAX_FILE_BYTES,
        });
    }
    std::fs::read(path).map_err(io)
}

/// Says exactly what is wrong with a prompt file, or what it holds:
/// `check-config` calls it for every prompt the config names.
pub fn check(path: &Path) -> Result<PromptInfo, MediaError> {
    let bytes = read(path)?;
    let file = wav::parse(&bytes)?;
    Ok(PromptInfo {
        encoding: file.encoding,
        samples: file.samples(),
        duration_ms: file.duration_ms(),
    })
}

/// Prompts by path, each loaded and decoded once. Not on a per-packet path:
/// the conversation (or the config loader, ahead of time) loads, a player
/// gets a [`Prompt`] clone.
#[derive(Debug, Default)]
pub struct PromptStore {
    prompts: HashMap<PathBuf, Prompt>,
}

impl PromptStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prompt at `path`, loaded and decoded on first use.
    pub fn load(&mut self, path: &Path) -> Result<Prompt, MediaError> {
        if let Some(p) = self.prompts.get(path) {
            return Ok(p.clone());
        }
        let prompt = Prompt::from_wav(&read(path)?)?;
        self.prompts.insert(path.to_owned(), prompt.clone());
        Ok(prompt)
    }

    /// The cached prompt at `path`, if loaded.
    pub fn get(&self, path: &Path) -> Option<Prompt> {
        self.prompts.get(path).cloned()
    }

    /// Forgets every prompt (on config reload: files may have changed);
    /// players keep theirs until they finish.
    pub fn clear(&mut self) {
        self.prompts.clear();
    }

    /// Prompts held.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// True when no prompt is held.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::play::wav::build::{pcm16, wav};
    use crate::play::wav::{FORMAT_ALAW, FORMAT_EXTENSIBLE, FORMAT_MULAW};

    /// A fresh directory under the system's temp dir for one test.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("voxgate-play-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn g711_prompts_decode_once_at_load() {
        // ITU-T G.711 Table 2 (µ-law) / Table 1 (A-law) decision values, as
        // the codec's tables hold them: µ 0xFF is 0, µ 0x80 is +32124,
        // A 0xD5 is +8, A 0xAA is +32256 (16-bit scaled).
        let mu =
            Prompt::from_wav(&wav(FORMAT_MULAW, 1, 8000, 8, None, &[0xff, 0x80, 0x00])).unwrap();
        assert_eq!(mu.samples(), [0, 32124, -32124]);
        let a = Prompt::from_wav(&wav(FORMAT_ALAW, 1, 8000, 8, None, &[0xd5, 0xaa])).unwrap();
        assert_eq!(a.samples(), [8, 32256]);
        let ext = wav(FORMAT_EXTENSIBLE, 1, 8000, 8, Some(FORMAT_MULAW), &[0x80]);
        assert_eq!(Prompt::from_wav(&ext).unwrap().samples(), [32124]);
        let pcm = Prompt::from_wav(&pcm16(&[-1, 2, i16::MIN])).unwrap();
        assert_eq!(pcm.samples(), [-1, 2, i16::MIN]);
    }

    #[test]
    fn the_store_loads_each_file_once_and_check_says_what_is_wrong() {
        let dir = scratch("store");
        let good = dir.join("welcome.wav");
        std::fs::write(&good, pcm16(&[7; 8000])).unwrap();
        let stereo = dir.join("stereo.wav");
        std::fs::write(&stereo, wav(1, 2, 8000, 16, None, &[0; 8])).unwrap();
        let text = dir.join("notes.wav");
        std::fs::write(&text, b"hello").unwrap();

        assert_eq!(
            check(&good),
            Ok(PromptInfo {
                encoding: Encoding::Pcm16,
                samples: 8000,
                duration_ms: 1000
            })
        );
        assert_eq!(check(&stereo), Err(MediaError::WavChannels { channels: 2 }));
        assert_eq!(check(&text), Err(MediaError::WavNotRiff));
        assert_eq!(
            check(&dir.join("missing.wav")),
            Err(MediaError::PromptRead {
                path: dir.join("missing.wav"),
                kind: std::io::ErrorKind::NotFound
            })
        );

        let mut store = PromptStore::new();
        let a = store.load(&good).unwrap();
        // Changing the file does not change the cached prompt: it was decoded once.
        std::fs::write(&good, pcm16(&[9; 10])).unwrap();
        let b = store.load(&good).unwrap();
        assert_eq!(a, b);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(store.len(), 1);
        assert!(store.load(&stereo).is_err());
        assert_eq!(store.len(), 1);
        store.clear();
        assert_eq!(store.load(&good).unwrap().samples().len(), 10);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
