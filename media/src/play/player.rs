//! The player: what a leg hears when voxgate, not the other leg, speaks.

use std::sync::Arc;
use std::time::Instant;

use super::schedule::{FRAME_SAMPLES, FramePacer};
use super::store::Prompt;
use super::tone::Tone;

/// Names one playback, chosen by the caller (the control plane's `Play` id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaybackId(pub u64);

/// Why a playback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The source played to its end.
    Finished,
    /// Stopped on command.
    Stopped,
    /// A DTMF digit arrived and the play was started with `barge_in`.
    BargeIn,
    /// Another play on the same leg took its place.
    Replaced,
}

/// The output the control plane hears as `PlaybackDone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaybackDone {
    /// The playback.
    pub id: PlaybackId,
    /// Why it ended.
    pub reason: StopReason,
}

/// What to play.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// One prompt, once.
    Prompt(Prompt),
    /// Prompts one after the other without a gap ("you are number" "3" "in the queue").
    Sequence(Vec<Prompt>),
    /// A tone (ends by itself only if its cadence is finite).
    Tone(Arc<Tone>),
    /// Music on hold: a prompt looped until stopped.
    Music(Prompt),
}

/// A playback in progress: its source and where in it we are.
#[derive(Debug)]
struct Playback {
    id: PlaybackId,
    barge_in: bool,
    source: Source,
    /// Prompt index within a sequence (0 otherwise).
    part: usize,
    /// Sample index within the current prompt or tone.
    offset: u64,
}

impl Playback {
    /// Fills `out`; returns false when the source ended (the rest is silence).
    fn fill(&mut self, out: &mut [i16]) -> bool {
        match &self.source {
            Source::Prompt(p) => {
                let n = copy_from(p.samples(), &mut self.offset, out);
                out[n..].fill(0);
                n == out.len() && (self.offset as usize) < p.samples().len()
            }
            Source::Sequence(parts) => {
                let mut filled = 0;
                while filled < out.len() {
                    let Some(p) = parts.get(self.part) else {
                        out[filled..].fill(0);
                        return false;
                    };
                    filled += copy_from(p.samples(), &mut self.offset, &mut out[filled..]);
                    if self.offset as usize >= p.samples().len() {
                        self.part += 1;
                        self.offset = 0;
                    }
                }
                self.part < parts.len()
            }
            Source::Tone(tone) => {
                let n = tone.fill(self.offset, out);
                self.offset += n as u64;
                out[n..].fill(0);
                match tone.len_samples() {
                    Some(total) => self.offset < total,
                    None => true,
                }
            }
            Source::Music(p) => {
                if p.samples().is_empty() {
                    out.fill(0);
                    return true;
                }
                let mut filled = 0;
                while filled < out.len() {
                    filled += copy_from(p.samples(), &mut self.offset, &mut out[filled..]);
                    if self.offset as usize >= p.samples().len() {
                        self.offset = 0;
                    }
                }
                true
            }
        }
    }
}

/// Copies from `samples[*offset..]` into `out`; returns the count copied.
fn copy_from(samples: &[i16], offset: &mut u64, out: &mut [i16]) -> usize {
    let rest = samples.get(*offset as usize..).unwrap_or(&[]);
    let n = rest.len().min(out.len());
    out[..n].copy_from_slice(&rest[..n]);
    *offset += n as u64;
    n
}

/// What [`Player::poll_frame`] wrote into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayFrame {
    /// Set the RTP marker bit: the first frame of a talk spurt (a new
    /// playback, or the first frame after the leg sent nothing).
    pub marker: bool,
    /// Samples the pacer skipped before this frame (a wake-up later than the
    /// bounded catch-up): advance the RTP timestamp by them before this frame.
    pub skipped_samples: u32,
    /// True for comfort silence (nothing playing on a leg voxgate holds).
    pub comfort_silence: bool,
}

/// A sans-IO player for one leg: fed the time, it says when the next 20 ms
/// frame is due and writes each frame's PCM into the caller's buffer.
///
/// Commands ([`play`](Player::play), [`stop`](Player::stop),
/// [`barge_in`](Player::barge_in)) answer the `PlaybackDone` of the playback
/// they end; a source that ends by itself reports through
/// [`poll_event`](Player::poll_event). Nothing here allocates per frame.
#[derive(Debug)]
pub struct Player {
    pacer: Option<FramePacer>,
    playing: Option<Playback>,
    comfort_silence: bool,
    finished: Option<PlaybackDone>,
    marker_pending: bool,
}

impl Default for Player {
    fn default() -> Self {
        Self::new()
    }
}

impl Player {
    /// An idle player without comfort silence.
    pub fn new() -> Self {
        Player {
            pacer: None,
            playing: None,
            comfort_silence: false,
            finished: None,
            marker_pending: false,
        }
    }

    /// Starts playing `source` (the first frame is due at `now`), ending
    /// the current playback, whose `Replaced` is returned. With `barge_in`,
    /// a DTMF digit ([`barge_in`](Player::barge_in)) stops it.
    pub fn play(
        &mut self,
        now: Instant,
        id: PlaybackId,
        source: Source,
        barge_in: bool,
    ) -> Option<PlaybackDone> {
        let replaced = self.end(StopReason::Replaced);
        self.playing = Some(Playback {
            id,
            barge_in,
            source,
            part: 0,
            offset: 0,
        });
        self.marker_pending = true;
        self.pacer.get_or_insert(FramePacer::new(now));
        replaced
    }

    /// Stops the current playback on command.
    pub fn stop(&mut self) -> Option<PlaybackDone> {
        self.end(StopReason::Stopped)
    }

    /// A DTMF digit arrived on the leg: stops the playback if it was started
    /// with `barge_in`.
    pub fn barge_in(&mut self) -> Option<PlaybackDone> {
        match &self.playing {
            Some(p) if p.barge_in => self.end(StopReason::BargeIn),
            _ => None,
        }
    }

    fn end(&mut self, reason: StopReason) -> Option<PlaybackDone> {
        let p = self.playing.take()?;
        if !self.comfort_silence {
            self.pacer = None;
        }
        Some(PlaybackDone { id: p.id, reason })
    }

    /// Comfort silence on a leg voxgate holds: with `on`, silence frames are
    /// sent whenever nothing plays (the far end sees a live stream, and NATs
    /// and media timeouts stay open). Turning it on while idle starts frames at `now`.
    pub fn set_comfort_silence(&mut self, now: Instant, on: bool) {
        self.comfort_silence = on;
        if on {
            if self.pacer.is_none() {
                self.marker_pending = true;
            }
            self.pacer.get_or_insert(FramePacer::new(now));
        } else if self.playing.is_none() {
            self.pacer = None;
        }
    }

    /// True while the player sends frames (playing or comfort silence): the
    /// endpoint does not relay the other leg's media to this leg meanwhile.
    pub fn is_active(&self) -> bool {
        self.pacer.is_some()
    }

    /// True while a playback is in progress.
    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// When the next frame is due (`None`: idle).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pacer.as_ref().map(FramePacer::deadline)
    }

    /// Writes the next due frame's PCM into `out`, or `None` when no frame
    /// is due at `now`. Call until `None` after each wake-up.
    pub fn poll_frame(
        &mut self,
        now: Instant,
        out: &mut [i16; FRAME_SAMPLES],
    ) -> Option<PlayFrame> {
        let tick = self.pacer.as_mut()?.poll(now)?;
        let skipped_samples = (tick.skipped * FRAME_SAMPLES as u64).min(u64::from(u32::MAX)) as u32;
        let marker = std::mem::take(&mut self.marker_pending);
        let Some(p) = self.playing.as_mut() else {
            out.fill(0);
            return Some(PlayFrame {
                marker,
                skipped_samples,
                comfort_silence: true,
            });
        };
        if !p.fill(out) {
            // This frame carries the source's last samples; the playback is over.
            let id = p.id;
            self.playing = None;
            self.finished = Some(PlaybackDone {
                id,
                reason: StopReason::Finished,
            });
            if !self.comfort_silence {
                self.pacer = None;
            }
        }
        Some(PlayFrame {
            marker,
            skipped_samples,
            comfort_silence: false,
        })
    }

    /// A playback that ended by itself (`Finished`), once.
    pub fn poll_event(&mut self) -> Option<PlaybackDone> {
        self.finished.take()
    }
}
