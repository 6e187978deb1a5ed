//! The file half of a recording: a PCM16 8 kHz WAV written incrementally on
//! a writer thread, its header's sizes rewritten every second of audio and
//! at the end, so a crash loses at most the last second.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::MediaError;
use crate::frame::FRAME_SAMPLES;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME;
    use crate::play::wav::parse_channels;
    use crate::record::{Channel, Recorder};
    use std::io::Cursor;
    use std::time::Instant;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("voxgate-rec-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `n` stereo frames with the frame number on the left, its negation on the right.
    fn frames(n: u32) -> impl Iterator<Item = RecordFrame> {
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Stereo, t0);
        (1..=n).map(move |i| {
            r.push(Channel::Left, &[i as i16; FRAME_SAMPLES]);
            r.push(Channel::Right, &[-(i as i16); FRAME_SAMPLES]);
            r.poll_frame(t0 + FRAME * i).unwrap()
        })
    }

    #[test]
    fn a_finished_recording_reads_back_whole() {
        let mut w =
            WavWriter::new(Cursor::new(Vec::new()), "mem.wav".into(), Layout::Stereo).unwrap();
        for f in frames(175) {
            w.write_frame(&f).unwrap();
        }
        // What finish() does, keeping the sink to read it back.
        w.sync().unwrap();
        assert_eq!(w.samples(), 175 * 160);
        let bytes = w.into_inner().into_inner();
        let wav = parse_channels(&bytes, 2).unwrap();
        assert_eq!((wav.channels, wav.samples()), (2, 175 * 160));
        // Frame 100's first sample pair: left 100, right -100.
        let at = 99 * 160 * 4;
        assert_eq!(&wav.data[at..at + 4], &[100, 0, 0x9c, 0xff]);
    }

    #[test]
    fn a_crash_loses_at_most_a_second() {
        let dir = scratch("crash");
        let path = recording_path(&dir, "c17", RecordTarget::Bridge(1, 2), 0);
        let mut w = WavWriter::create(&path, Layout::Stereo).unwrap();
        for f in frames(175) {
            w.write_frame(&f).unwrap();
        }
        // The process dies: no finish, no flush of the buffer, no drop.
        std::mem::forget(w);
        let bytes = std::fs::read(&path).unwrap();
        let wav = parse_channels(&bytes, 2).unwrap();
        let written = 175 * 160u64;
        let kept = wav.samples() as u64;
        assert!(
            kept <= written && written - kept <= 8000,
            "kept {kept} of {written}"
        );
        assert_eq!(kept, 3 * 8000, "the header was last rewritten at 3 s");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn finish_completes_the_file() {
        let dir = scratch("finish");
        let path = recording_path(&dir, "c17", RecordTarget::Leg(1), 0);
        let mut w = WavWriter::create(&path, Layout::Mono).unwrap();
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        for i in 1..=60u32 {
            r.push(Channel::Left, &[7; FRAME_SAMPLES]);
            if let Some(f) = r.poll_frame(t0 + FRAME * (i + 1)) {
                w.write_frame(&f).unwrap();
            }
        }
        let s = w.finish().unwrap();
        assert_eq!((s.samples, s.duration_ms), (60 * 160, 1200));
        let bytes = std::fs::read(&path).unwrap();
        let wav = parse_channels(&bytes, 1).unwrap();
        assert_eq!(wav.samples(), 60 * 160);
        // Never overwrites: a second recording needs another name.
        assert_eq!(
            WavWriter::create(&path, Layout::Mono).map(|_| ()),
            Err(MediaError::RecordIo {
                path: path.clone(),
                kind: std::io::ErrorKind::AlreadyExists
            })
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A sink that takes `room` bytes, then says the disk is full.
    struct FillsUp {
        inner: Cursor<Vec<u8>>,
        room: u64,
    }

    impl Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let left = self.room.saturating_sub(self.inner.position());
            if left == 0 {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            let n = buf.len().min(left as usize);
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for FillsUp {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(to)
        }
    }

    #[test]
    fn a_full_disk_is_an_error_value_and_ends_the_recording() {
        let sink = FillsUp {
            inner: Cursor::new(Vec::new()),
            room: 44 + 10_000,
        };
        let mut w = WavWriter::new(sink, "full.wav".into(), Layout::Mono).unwrap();
        let full = MediaError::RecordIo {
            path: "full.wav".into(),
            kind: std::io::ErrorKind::StorageFull,
        };
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        let mut results = Vec::new();
        for i in 1..=100u32 {
            r.push(Channel::Left, &[1; FRAME_SAMPLES]);
            let f = r.poll_frame(t0 + FRAME * i).unwrap();
            results.push(w.write_frame(&f));
        }
        // 10 000 bytes hold 31 frames of 320 bytes; the 32nd fails, and every one after.
        assert!(results[..31].iter().all(Result::is_ok));
        assert!(results[31..].iter().all(|r| r.as_ref() == Err(&full)));
        assert_eq!(w.finish(), Err(full));
    }

    #[test]
    fn an_unwritable_folder_is_an_error_value() {
        let dir = scratch("unwritable");
        // A folder that is a file, and one that does not exist.
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap();
        let p = recording_path(&file, "c1", RecordTarget::Leg(1), 0);
        assert!(matches!(
            WavWriter::create(&p, Layout::Mono),
            Err(MediaError::RecordIo {
                kind: std::io::ErrorKind::NotADirectory,
                ..
            })
        ));
        let p = recording_path(&dir.join("nope"), "c1", RecordTarget::Leg(1), 0);
        assert!(matches!(
            WavWriter::create(&p, Layout::Mono),
            Err(MediaError::RecordIo {
                kind: std::io::ErrorKind::NotFound,
                ..
            })
        ));
        // A read-only folder (root ignores permission bits: then only the above count).
        let ro = dir.join("ro");
        std::fs::create_dir(&ro).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let root = std::fs::write(ro.join("probe"), b"").is_ok();
        let p = recording_path(&ro, "c1", RecordTarget::Leg(1), 0);
        let got = WavWriter::create(&p, Layout::Mono).map(|_| ());
        if !root {
            assert_eq!(
                got,
                Err(MediaError::RecordIo {
                    path: p,
                    kind: std::io::ErrorKind::PermissionDenied
                })
            );
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_names_come_from_the_ids_and_stay_in_the_folder() {
        let d = Path::new("/var/rec");
        assert_eq!(
            recording_path(d, "c17", RecordTarget::Leg(1), 0),
            Path::new("/var/rec/c17-leg1-0.wav")
        );
        assert_eq!(
            recording_path(d, "c17", RecordTarget::Bridge(1, 2), 3),
            Path::new("/var/rec/c17-legs1-2-3.wav")
        );
        assert_eq!(
            recording_path(d, "../../etc/x y", RecordTarget::Conference(4), 0),
            Path::new("/var/rec/______etc_x_y-conf4-0.wav")
        );
    }
}
