//! Players: prompts, sequences of prompts, tones and music on hold played to
//! a leg, as 20 ms PCM frames paced by a clock (issue 10, item 4).
//!
//! - [`wav`]: RIFF/WAVE parsing (8 kHz mono PCM16, µ-law, A-law, extensible).
//! - [`store`]: [`Prompt`]s decoded once at load and cached by path;
//!   [`check`] for `check-config`.
//! - [`tone`]: tones from config and the country profiles (E.180).
//! - the frame clock (`start + n × 20 ms`, bounded catch-up) is
//!   [`crate::frame`], shared with the recorder and the mixer.
//! - [`player`]: the sans-IO [`Player`].
//!
//! # Wiring (for the endpoint)
//!
//! A leg's endpoint owns one `Player` and the leg's outgoing RTP stream
//! state (`rtp::OutgoingStream`), which it also uses to rewrite the headers
//! of packets relayed *to* this leg, so that relay and playback are one
//! stream to the far end:
//!
//! ```text
//! Command::Play{leg, source, barge_in} → player.play(now, id, source, barge_in)
//!                                          (a returned PlaybackDone{Replaced} → event)
//! Command::StopMedia{leg}               → player.stop()
//! DTMF detector reports a digit         → player.barge_in()
//! leg held by voxgate                   → player.set_comfort_silence(now, true)
//! wake-up (timer = min(..., player.poll_timeout())):
//!     while let Some(f) = player.poll_frame(now, &mut pcm) {
//!         if f.skipped_samples > 0 { stream.skip(f.skipped_samples) }
//!         if f.marker { stream.start_talk_spurt() }
//!         let h = stream.write_header(leg_pt, &mut pkt)?;
//!         let n = codec.encode(&pcm, &mut pkt[h..])?;   // the leg's Codec
//!         stream.advance(160); send(&pkt[..h + n])
//!     }
//!     while let Some(done) = player.poll_event() { → Event::PlaybackDone }
//! switching between relay and playback: the same `stream` numbers both;
//!     time that passed with nothing sent is `stream.skip(samples)`, so the
//!     timestamps follow the clock and the far end sees one stream
//! packet from the bridged leg while player.is_active() → not relayed to this leg
//! ```
//!
//! Everything here is sans-IO: time comes in as `now`, nothing reads the
//! clock, and producing a frame allocates nothing.

pub mod player;
pub mod store;
pub mod tone;
pub mod wav;

pub use crate::frame::{FRAME, FRAME_SAMPLES, FramePacer};
pub use player::{PlayFrame, PlaybackDone, PlaybackId, Player, Source, StopReason};
pub use store::{Prompt, PromptInfo, PromptStore, check};
pub use tone::{Country, Repeat, Segment, Tone, ToneComponent, ToneKind};
