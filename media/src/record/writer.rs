//! The file half of a recording: a PCM16 8 kHz WAV written incrementally on
//! a writer thread, its header's sizes rewritten every second of audio and
//! at the end, so a crash loses at most the last second.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::MediaError;
use crate::play::schedule::FRAME_SAMPLES;
use crate::play::wav::{SAMPLE_RATE, pcm16_header};

use super::recorder::{Layout, RecordFrame};

/// What a recording is of, for its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordTarget {
    /// One leg (mono).
    Leg(u32),
    /// Both directions of a bridge of two legs (stereo: first leg left).
    Bridge(u32, u32),
    /// A conference's mix (mono), by its bridge id.
    Conference(u32),
}

/// The file a recording goes to: `<folder>/<conversation>-<target>-<n>.wav`,
/// e.g. `c17-leg1-0.wav`, `c17-legs1-2-0.wav`, `c17-conf3-0.wav`. `n`
/// tells apart several recordings of the same target in one conversation.
/// Characters of the conversation id other than ASCII letters, digits, `-`
/// and `_` become `_`, so an id never reaches outside the folder.
pub fn recording_path(folder: &Path, conversation: &str, target: RecordTarget, n: u32) -> PathBuf {
    let conv: String = conversation
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let target = match target {
        RecordTarget::Leg(l) => format!("leg{l}"),
        RecordTarget::Bridge(a, b) => format!("legs{a}-{b}"),
        RecordTarget::Conference(b) => format!("conf{b}"),
    };
    folder.join(format!("{conv}-{target}-{n}.wav"))
}

/// How a finished recording ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Sample frames written (per channel).
    pub samples: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

/// Writes a PCM16 8 kHz WAV. Generic over the sink so tests can make it
/// fail part-way (disk full) without a real disk.
///
/// It runs on the recording writer thread, never on a packet path: the
/// endpoint sends [`RecordFrame`]s through a bounded channel
/// (`std::sync::mpsc::sync_channel`, whose slots are allocated once) with
/// `try_send`; a full channel drops the frame and counts it, so a slow disk
/// never stalls a call. The first error ends the recording: the writer
/// returns it, the thread reports it (an event and a metric), and every
/// later write returns the same error without touching the sink.
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    sink: W,
    path: PathBuf,
    channels: u16,
    data_bytes: u32,
    since_header: u32,
    failed: Option<std::io::ErrorKind>,
}

/// Audio written between header rewrites: one second.
fn header_interval(channels: u16) -> u32 {
    SAMPLE_RATE * 2 * u32::from(channels)
}

impl WavWriter<BufWriter<File>> {
    /// Creates `path` (never overwriting an existing file) and writes the header.
    pub fn create(path: &Path, layout: Layout) -> Result<Self, MediaError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| MediaError::RecordIo {
                path: path.to_owned(),
                kind: e.kind(),
            })?;
        // A second of stereo audio is 32 000 bytes: one buffer, one write a second.
        WavWriter::new(
            BufWriter::with_capacity(32 * 1024, file),
            path.to_owned(),
            layout,
        )
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header of an empty file into `sink`; `path` names it in errors.
    pub fn new(sink: W, path: PathBuf, layout: Layout) -> Result<Self, MediaError> {
        let mut w = WavWriter {
            sink,
            path,
            channels: layout.channels(),
            data_bytes: 0,
            since_header: 0,
            failed: None,
        };
        let header = pcm16_header(w.channels, 0);
        w.io(|s| s.write_all(&header))?;
        Ok(w)
    }

    fn io(&mut self, op: impl FnOnce(&mut W) -> std::io::Result<()>) -> Result<(), MediaError> {
        if let Some(kind) = self.failed {
            return Err(self.error(kind));
        }
        op(&mut self.sink).map_err(|e| {
            self.failed = Some(e.kind());
            self.error(e.kind())
        })
    }

    fn error(&self, kind: std::io::ErrorKind) -> MediaError {
        MediaError::RecordIo {
            path: self.path.clone(),
            kind,
        }
    }

    /// Appends a frame; rewrites the header's sizes and flushes once a
    /// second of audio has been written since the last time.
    pub fn write_frame(&mut self, frame: &RecordFrame) -> Result<(), MediaError> {
        let mut buf = [0u8; 4 * FRAME_SAMPLES];
        let bytes = frame.le_bytes(&mut buf);
        let len = bytes.len() as u32;
        // RIFF sizes are 32-bit: stop before the header would lie (37 h of stereo).
        if self.data_bytes.checked_add(len + 36).is_none() {
            self.failed = Some(std::io::ErrorKind::FileTooLarge);
            return Err(self.error(std::io::ErrorKind::FileTooLarge));
        }
        self.io(|s| s.write_all(bytes))?;
        self.data_bytes += len;
        self.since_header += len;
        if self.since_header >= header_interval(self.channels) {
            self.sync()?;
        }
        Ok(())
    }

    /// Rewrites the header's sizes for what is written so far and flushes.
    pub fn sync(&mut self) -> Result<(), MediaError> {
        let header = pcm16_header(self.channels, self.data_bytes);
        self.io(|s| {
            s.seek(SeekFrom::Start(4))?;
            s.write_all(&header[4..8])?;
            s.seek(SeekFrom::Start(40))?;
            s.write_all(&header[40..44])?;
            s.seek(SeekFrom::End(0))?;
            s.flush()
        })?;
        self.since_header = 0;
        Ok(())
    }

    /// Sample frames written so far (per channel).
    pub fn samples(&self) -> u64 {
        u64::from(self.data_bytes) / (2 * u64::from(self.channels))
    }

    /// Rewrites the header one last time and flushes: the file is complete.
    pub fn finish(mut self) -> Result<RecordingSummary, MediaError> {
        self.sync()?;
        let samples = self.samples();
        Ok(RecordingSummary {
            path: self.path,
            samples,
            duration_ms: samples * 1000 / u64::from(SAMPLE_RATE),
        })
    }

    /// The sink (tests: the bytes written).
    pub fn into_inner(self) -> W {
        self.sink
    }
}
