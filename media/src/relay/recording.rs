//! Recordings' files, off the media task: each recording has a writer
//! thread of its own that creates the WAV file, writes the frames the
//! relay task hands it over a bounded channel and completes the file when
//! the task lets go of the channel.
//!
//! Why a dedicated std thread per recording, not `spawn_blocking` nor one
//! writer for the node: a recording lives as long as its call (hours, at
//! times), which tokio's blocking pool is not meant for (its threads serve
//! short blocking calls, and a long-lived one holds a pool slot the whole
//! time); and a disk that stalls on one file (an NFS hiccup, a full disk
//! retrying) must stall that recording alone, not every recording of the
//! node behind one writer. The cost is one small-stack thread per active
//! recording, created when the recording starts, never per packet.
//!
//! The relay task never waits for a writer: it `try_send`s each frame; a
//! full channel ([`FRAME_QUEUE`] frames, two seconds) drops the frame and
//! counts it (`frames_dropped`, and the recording's own count in
//! `RecordingDone`), and a writer that has gone (its file failed) is let go
//! of at the next frame. The writer rewrites the WAV header's sizes and
//! flushes every second of audio ([`WavWriter`]), and also after a second
//! without frames, so a crash loses at most about a second.

use std::io::{Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use super::events::MediaEventSender;
use crate::MediaError;
use crate::endpoint::{MediaEvent, RecordingId};
use crate::latch::EndpointId;
use crate::record::{Layout, RecordFrame, WavWriter};

/// Frames a writer may be behind before the relay task drops them (2 s).
pub const FRAME_QUEUE: usize = 100;

/// How long a writer waits for a frame before it syncs what it wrote.
const SYNC_IDLE: Duration = Duration::from_secs(1);

/// A writer thread's stack: it holds a frame and a 640-byte buffer; the
/// file's 32 KiB buffer is on the heap.
const WRITER_STACK: usize = 128 * 1024;

/// What a recording writes where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRequest {
    /// The recording's id (in its events).
    pub id: RecordingId,
    /// One channel or two.
    pub layout: Layout,
    /// The file to create (never overwritten: an existing file fails it).
    pub path: PathBuf,
}

/// The node's recordings, for metrics (cheap: two atomic loads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordingStats {
    /// Writer threads alive (recordings being written).
    pub active: u64,
    /// Frames dropped because a writer fell behind, since start.
    pub frames_dropped: u64,
}

/// The engine's recording counters, shared with every session's task and writer.
#[derive(Debug, Default)]
pub(crate) struct RecordingCounters {
    active: AtomicU64,
    frames_dropped: AtomicU64,
}

impl RecordingCounters {
    pub(crate) fn stats(&self) -> RecordingStats {
        RecordingStats {
            active: self.active.load(Ordering::Relaxed),
            frames_dropped: self.frames_dropped.load(Ordering::Relaxed),
        }
    }
}

/// The relay task's end of one recording.
pub(super) struct TaskRecording {
    pub(super) ep: EndpointId,
    pub(super) id: RecordingId,
    tx: SyncSender<RecordFrame>,
    /// Frames this recording dropped, read by its writer at the end.
    dropped: Arc<AtomicU64>,
    counters: Arc<RecordingCounters>,
}

/// What became of a frame handed to a writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handed {
    /// Queued, or dropped and counted (the writer is behind).
    Taken,
    /// The writer is gone (its file failed): stop recording.
    Gone,
}

impl TaskRecording {
    /// Hands `frame` to the writer without waiting.
    pub(super) fn hand(&self, frame: RecordFrame) -> Handed {
        match self.tx.try_send(frame) {
            Ok(()) => Handed::Taken,
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
                Handed::Taken
            }
            Err(TrySendError::Disconnected(_)) => Handed::Gone,
        }
    }
}

/// Starts the writer of `request` on endpoint `ep`; its outcome comes as
/// `RecordingStarted`, then `RecordingDone` or `RecordingFailed`, on `events`.
/// A thread that cannot be started is a `RecordingFailed` at once.
pub(super) fn start(
    ep: EndpointId,
    request: RecordRequest,
    events: &mut MediaEventSender,
    counters: &Arc<RecordingCounters>,
) -> Option<TaskRecording> {
    let (tx, rx) = sync_channel(FRAME_QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let RecordRequest { id, layout, path } = request;
    let writer = Writer {
        ep,
        id,
        rx,
        dropped: Arc::clone(&dropped),
        counters: Arc::clone(counters),
    };
    // Counted here, so that the gauge includes a writer from the moment the
    // recording starts; the thread counts itself out when it ends.
    counters.active.fetch_add(1, Ordering::Relaxed);
    let thread_events = events.share();
    let spawned = std::thread::Builder::new()
        .name(format!("voxgate-rec-{}", id.0))
        .stack_size(WRITER_STACK)
        .spawn(move || writer.run(|| WavWriter::create(&path, layout), thread_events));
    match spawned {
        Ok(_) => Some(TaskRecording {
            ep,
            id,
            tx,
            dropped,
            counters: Arc::clone(counters),
        }),
        Err(e) => {
            counters.active.fetch_sub(1, Ordering::Relaxed);
            events.deliver(ep, MediaEvent::RecordingFailed { id, kind: e.kind() });
            None
        }
    }
}

/// One recording's writer thread: what it owns besides its file.
struct Writer {
    ep: EndpointId,
    id: RecordingId,
    rx: Receiver<RecordFrame>,
    dropped: Arc<AtomicU64>,
    counters: Arc<RecordingCounters>,
}

impl Writer {
    /// Opens the file with `open`, writes, completes it, and says how it
    /// went: `RecordingStarted` once open, then `RecordingDone` or
    /// `RecordingFailed` (the first error ends the recording; the call is
    /// not this thread's business). Generic over the sink so that a test
    /// can fill the disk.
    fn run<W: Write + Seek>(
        self,
        open: impl FnOnce() -> Result<WavWriter<W>, MediaError>,
        mut events: MediaEventSender,
    ) {
        let Writer {
            ep,
            id,
            rx,
            dropped,
            counters,
        } = self;
        let outcome = open().map_err(io_kind).and_then(|writer| {
            events.deliver(ep, MediaEvent::RecordingStarted { id });
            write(writer, &rx)
        });
        // The channel closes before the event goes: the relay task lets go
        // of a failed recording at its next frame.
        drop(rx);
        counters.active.fetch_sub(1, Ordering::Relaxed);
        let event = match outcome {
            Ok(samples) => MediaEvent::RecordingDone {
                id,
                samples,
                dropped_frames: dropped.load(Ordering::Relaxed),
            },
            Err(kind) => MediaEvent::RecordingFailed { id, kind },
        };
        events.deliver(ep, event);
    }
}

fn io_kind(e: MediaError) -> std::io::ErrorKind {
    match e {
        MediaError::RecordIo { kind, .. } => kind,
        _ => std::io::ErrorKind::Other,
    }
}

/// Writes every frame until the relay task lets go of the channel, and
/// completes the file: the samples written, or the first error.
fn write<W: Write + Seek>(
    mut writer: WavWriter<W>,
    rx: &Receiver<RecordFrame>,
) -> Result<u64, std::io::ErrorKind> {
    let mut unsynced = false;
    loop {
        match rx.recv_timeout(SYNC_IDLE) {
            Ok(frame) => {
                writer.write_frame(&frame).map_err(io_kind)?;
                unsynced = true;
            }
            // No frame for a second (the session stalled, or frames were
            // dropped): what was written reaches the file all the same.
            Err(RecvTimeoutError::Timeout) => {
                if unsynced {
                    writer.sync().map_err(io_kind)?;
                    unsynced = false;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    writer.finish().map(|s| s.samples).map_err(io_kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME;
    use crate::play::wav::parse_channels;
    use crate::record::{Channel, Recorder};
    use std::time::Instant;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("voxgate-recw-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn events_of(rx: &mut super::super::MediaEventReceiver) -> Vec<MediaEvent> {
        let mut got = Vec::new();
        // The writer ends by itself once the task's end is dropped.
        for _ in 0..500 {
            while let Some((_, ev)) = rx.try_recv() {
                got.push(ev);
            }
            if got.iter().any(|e| {
                matches!(
                    e,
                    MediaEvent::RecordingDone { .. } | MediaEvent::RecordingFailed { .. }
                )
            }) {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        got
    }

    #[test]
    fn a_writer_thread_writes_the_frames_and_reports() {
        let dir = scratch("ok");
        let counters = Arc::new(RecordingCounters::default());
        let (mut tx, mut rx) = super::super::events::channel();
        let path = dir.join("c1-leg1-1.wav");
        let request = RecordRequest {
            id: RecordingId(1),
            layout: Layout::Stereo,
            path: path.clone(),
        };
        let rec = start(EndpointId(0), request, &mut tx, &counters).unwrap();
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Stereo, t0);
        for i in 1..=50u32 {
            r.push(Channel::Left, &[i as i16; 160]);
            r.push(Channel::Right, &[-(i as i16); 160]);
            let f = r.poll_frame(t0 + FRAME * i).unwrap();
            assert_eq!(rec.hand(f), Handed::Taken);
        }
        drop(rec);
        let got = events_of(&mut rx);
        assert_eq!(
            got,
            [
                MediaEvent::RecordingStarted { id: RecordingId(1) },
                MediaEvent::RecordingDone {
                    id: RecordingId(1),
                    samples: 50 * 160,
                    dropped_frames: 0
                }
            ]
        );
        let bytes = std::fs::read(&path).unwrap();
        let wav = parse_channels(&bytes, 2).unwrap();
        assert_eq!(wav.samples(), 50 * 160);
        // Frame 7's first pair: left 7, right -7.
        let at = 6 * 160 * 4;
        assert_eq!(&wav.data[at..at + 4], &[7, 0, 0xf9, 0xff]);
        assert_eq!(counters.stats().active, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_folder_is_a_failed_event_and_the_task_lets_go() {
        let dir = scratch("unwritable");
        let counters = Arc::new(RecordingCounters::default());
        let (mut tx, mut rx) = super::super::events::channel();
        // The folder does not exist.
        let request = RecordRequest {
            id: RecordingId(4),
            layout: Layout::Mono,
            path: dir.join("missing").join("c1-leg1-4.wav"),
        };
        let rec = start(EndpointId(2), request, &mut tx, &counters).unwrap();
        let got = events_of(&mut rx);
        assert_eq!(
            got,
            [MediaEvent::RecordingFailed {
                id: RecordingId(4),
                kind: std::io::ErrorKind::NotFound
            }]
        );
        // The relay task learns it at its next frame, and stops recording.
        let frame = Recorder::new(Layout::Mono, Instant::now())
            .poll_frame(Instant::now() + FRAME)
            .unwrap();
        assert_eq!(rec.hand(frame), Handed::Gone);
        assert_eq!(counters.stats().active, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_writer_behind_loses_frames_counted_never_a_wait() {
        let counters = Arc::new(RecordingCounters::default());
        // A writer that reads nothing (a stalled disk): its channel fills.
        let (tx, rx) = sync_channel(FRAME_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let rec = TaskRecording {
            ep: EndpointId(0),
            id: RecordingId(2),
            tx,
            dropped: Arc::clone(&dropped),
            counters: Arc::clone(&counters),
        };
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        for i in 1..=(FRAME_QUEUE as u32 + 30) {
            let f = r.poll_frame(t0 + FRAME * i).unwrap();
            assert_eq!(rec.hand(f), Handed::Taken, "frame {i}: never a wait");
        }
        assert_eq!(dropped.load(Ordering::Relaxed), 30);
        assert_eq!(counters.stats().frames_dropped, 30);
        // The queued frames are the first ones, in order.
        assert_eq!(rx.try_iter().count(), FRAME_QUEUE);
    }

    /// A sink that takes `room` bytes, then says the disk is full.
    struct FillsUp {
        inner: std::io::Cursor<Vec<u8>>,
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
        fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(to)
        }
    }

    #[test]
    fn a_full_disk_fails_the_recording_with_an_event_not_a_panic() {
        let counters = Arc::new(RecordingCounters::default());
        let (tx, mut rx) = super::super::events::channel();
        let (frames_tx, frames_rx) = sync_channel(FRAME_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            ep: EndpointId(1),
            id: RecordingId(3),
            rx: frames_rx,
            dropped: Arc::clone(&dropped),
            counters: Arc::clone(&counters),
        };
        let t0 = Instant::now();
        let mut r = Recorder::new(Layout::Mono, t0);
        for i in 1..=60u32 {
            r.push(Channel::Left, &[9; 160]);
            frames_tx
                .try_send(r.poll_frame(t0 + FRAME * i).unwrap())
                .unwrap();
        }
        drop(frames_tx);
        counters.active.fetch_add(1, Ordering::Relaxed);
        // Room for the header and 31 frames: the 32nd write fails.
        let sink = FillsUp {
            inner: std::io::Cursor::new(Vec::new()),
            room: 44 + 10_000,
        };
        writer.run(
            || WavWriter::new(sink, "full.wav".into(), Layout::Mono),
            tx.share(),
        );
        let got: Vec<MediaEvent> = std::iter::from_fn(|| rx.try_recv().map(|(_, e)| e)).collect();
        assert_eq!(
            got,
            [
                MediaEvent::RecordingStarted { id: RecordingId(3) },
                MediaEvent::RecordingFailed {
                    id: RecordingId(3),
                    kind: std::io::ErrorKind::StorageFull
                }
            ]
        );
        assert_eq!(counters.stats().active, 0);
    }
}
