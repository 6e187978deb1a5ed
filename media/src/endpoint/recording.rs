//! A recording on an endpoint: what the leg's peer sends (channel 0) and,
//! in stereo, what is sent to the leg (channel 1: its bridge partner's
//! relayed audio, or voxgate's own prompts and tones), decoded from the
//! plain G.711 payload into a [`Recorder`]; frames leave through
//! [`SessionRelay::poll_record`](crate::latch::SessionRelay::poll_record).
//! No file here: the relay task hands the frames to a writer thread.

use crate::codec::CodecKind;
use crate::codec::g711::{decode_alaw, decode_ulaw};
use crate::frame::FRAME_SAMPLES;
use crate::latch::EndpointId;
use crate::record::{Channel, Layout, RecordFrame, Recorder};
use crate::rtp::parse_rtp;

use super::{MediaFormat, rtp_payload};

/// A recording of a conversation; the conversation numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(pub u64);

/// What [`SessionRelay::poll_record`](crate::latch::SessionRelay::poll_record) yields.
// The frame goes by value to its writer's channel: boxing it to even out the
// variants would allocate once per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOutput {
    /// A 20 ms frame of recording `id` of endpoint `ep`, due now.
    Frame {
        /// The endpoint.
        ep: EndpointId,
        /// The recording.
        id: RecordingId,
        /// Its samples (interleaved in stereo).
        frame: RecordFrame,
    },
    /// Recording `id` was stopped and its last frame given: none follows.
    Ended {
        /// The endpoint.
        ep: EndpointId,
        /// The recording.
        id: RecordingId,
    },
}

/// The recording an endpoint holds (at most one).
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub(crate) id: RecordingId,
    pub(crate) recorder: Recorder,
    /// Stopped: what is due and queued goes out, then `Ended`.
    pub(crate) stopping: bool,
}

impl Recording {
    pub(crate) fn new(id: RecordingId, layout: Layout, now: std::time::Instant) -> Recording {
        Recording {
            id,
            recorder: Recorder::new(layout, now),
            stopping: false,
        }
    }

    /// A packet on its way to the leg (relayed from the partner, whose
    /// format is `from`, else the leg's own): its G.711 payload decoded
    /// into channel 1. Out of line: the relay's egress only asks whether a
    /// recording wants it.
    #[inline(never)]
    pub(crate) fn hear_sent(
        &mut self,
        from: Option<MediaFormat>,
        own: Option<MediaFormat>,
        pkt: &[u8],
    ) {
        let Some(header) = parse_rtp(pkt) else { return };
        let voice = [from, own]
            .into_iter()
            .flatten()
            .filter_map(|f| f.voice)
            .find(|v| v.payload_type == header.payload_type);
        let Some(voice) = voice else {
            // Telephone-events, comfort noise: no audio to record.
            return;
        };
        if let Some(payload) = rtp_payload(pkt) {
            push_g711(&mut self.recorder, Channel::Right, voice.codec, payload);
        }
    }

    /// The next output due at `now` for endpoint `ep`; `Ended` comes once,
    /// after the last frame of a stopped recording (the caller then drops it).
    pub(crate) fn poll(&mut self, ep: EndpointId, now: std::time::Instant) -> Option<RecordOutput> {
        let id = self.id;
        if let Some(frame) = self.recorder.poll_frame(now) {
            return Some(RecordOutput::Frame { ep, id, frame });
        }
        if !self.stopping {
            return None;
        }
        Some(match self.recorder.drain_frame() {
            Some(frame) => RecordOutput::Frame { ep, id, frame },
            None => RecordOutput::Ended { ep, id },
        })
    }
}

/// Decodes a G.711 payload (any length) into `channel`, a frame at a time.
pub(crate) fn push_g711(
    recorder: &mut Recorder,
    channel: Channel,
    codec: CodecKind,
    payload: &[u8],
) {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for chunk in payload.chunks(FRAME_SAMPLES) {
        let pcm = &mut pcm[..chunk.len()];
        match codec {
            CodecKind::Pcmu => decode_ulaw(chunk, pcm),
            CodecKind::Pcma => decode_alaw(chunk, pcm),
            #[allow(unreachable_patterns)]
            _ => return,
        }
        recorder.push(channel, pcm);
    }
}
