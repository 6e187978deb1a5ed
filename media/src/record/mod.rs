//! Recording a leg, both directions of a bridge, or a conference's mix to a
//! PCM16 8 kHz WAV file (issue 10, item 5).
//!
//! Two halves, so the packet path never touches a disk:
//!
//! - [`Recorder`] (sans-IO, per frame, no allocation) lives on the endpoint
//!   (or the mixer). The endpoint pushes each decoded frame of each
//!   direction with [`Recorder::push`] as it arrives, and on each wake-up
//!   (its timer includes [`Recorder::poll_timeout`]) drains
//!   [`Recorder::poll_frame`]: one [`RecordFrame`] every 20 ms, the two
//!   directions aligned by time, silence where a side sent nothing.
//! - [`WavWriter`] runs on a writer thread (one per node, or per recording)
//!   fed through a bounded `std::sync::mpsc::sync_channel::<RecordFrame>`:
//!   the endpoint `try_send`s each frame (a full channel drops the frame and
//!   counts it; never a blocked call), the thread calls
//!   [`WavWriter::write_frame`], which rewrites the header's sizes every
//!   second of audio, and [`WavWriter::finish`] at stop. An error
//!   ([`MediaError::RecordIo`](crate::MediaError::RecordIo): disk full,
//!   unwritable folder) ends that recording; the thread sends it back to the
//!   conversation, which raises an event and a metric.
//!
//! Wiring, for the lead: `Command::Record { leg, .. }` → the conversation
//! picks the path with [`recording_path`], opens it with
//! [`WavWriter::create`] (on the writer thread: `create` touches the disk),
//! attaches a `Recorder` to the endpoint (`Layout::Stereo` for a bridge of
//! two, `Mono` for a leg or the conference mixer's output); pause/resume
//! map to [`Recorder::pause`]/[`Recorder::resume`] (nothing is written
//! while paused: see [`Recorder`]); stop drops the `Recorder` and sends
//! the writer a stop, which calls `finish` → `RecordingDone`.

mod recorder;
mod writer;

pub use recorder::{Channel, Layout, RecordFrame, Recorder, SIDE_CAPACITY};
pub use writer::{RecordTarget, RecordingSummary, WavWriter, recording_path};
