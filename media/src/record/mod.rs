//! Recording a leg, both directions of a bridge, or a conference's mix to a
//! PCM16 8 kHz WAV file (issue 10, item 5).
//!
//! Two halves, so the packet path never touches a disk:
//!
//! - [`Recorder`] (sans-IO, per frame, no allocation) lives on the endpoint
//!   (`crate::endpoint`, or the mixer later). The endpoint pushes each
//!   decoded frame of each direction with [`Recorder::push`] as it arrives
//!   (what the leg's peer sends on the left channel; what is sent to the leg,
//!   relayed or voxgate's own, on the right), and
//!   [`SessionRelay::poll_record`](crate::latch::SessionRelay::poll_record)
//!   drains [`Recorder::poll_frame`]: one [`RecordFrame`] every 20 ms, the
//!   two directions aligned by time, silence where a side sent nothing (and
//!   throughout a pause). At stop, [`Recorder::drain_frame`] flushes what was
//!   queued ahead of the clock.
//! - [`WavWriter`] runs on a writer thread of its own per recording (see
//!   `relay/recording.rs` for why), fed through a bounded
//!   `std::sync::mpsc::sync_channel::<RecordFrame>`: the relay task
//!   `try_send`s each frame (a full channel drops the frame and counts it;
//!   never a blocked call), the thread calls [`WavWriter::write_frame`],
//!   which rewrites the header's sizes every second of audio, and
//!   [`WavWriter::finish`] when the task lets go of the channel (stop, the
//!   endpoint or the session gone). An error
//!   ([`MediaError::RecordIo`](crate::MediaError::RecordIo): disk full,
//!   unwritable folder) ends that recording; the thread reports it to the
//!   conversation (`MediaEvent::RecordingFailed`), which raises an event and
//!   a metric, and the call goes on.
//!
//! The conversation names the file ([`recording_path`]) and asks for it with
//! `MediaSession::record`; pause, resume and stop are endpoint ops.

mod recorder;
mod writer;

pub use recorder::{Channel, Layout, RecordFrame, Recorder, SIDE_CAPACITY};
pub use writer::{RecordTarget, RecordingSummary, WavWriter, recording_path};
