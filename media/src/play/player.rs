//! The player: what a leg hears when voxgate, not the other leg, speaks.

use std::sync::Arc;
use std::time::Instant;

use super::store::Prompt;
use super::tone::Tone;
use crate::frame::{FRAME_SAMPLES, FramePacer};

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
#[derive(Clone, Debug)]
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
#[derive(Clone, Debug)]
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
        // The frame clock keeps running across a replacement: one grid, one stream.
        let replaced = self.playing.take().map(|p| PlaybackDone {
            id: p.id,
            reason: StopReason::Replaced,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, G711, Law};
    use crate::frame::FRAME;
    use crate::play::tone::{Country, ToneKind, profile};
    use crate::rtp::{OutgoingStream, PayloadType, Ssrc, parse_rtp};
    use std::time::Duration;

    fn ramp(n: usize, first: i16) -> Prompt {
        Prompt::from_samples(
            (0..n)
                .map(|i| first.wrapping_add(i as i16))
                .collect::<Vec<_>>(),
        )
    }

    /// Runs the player on a virtual clock that jumps to each deadline,
    /// collecting frames and events until `until`.
    type Sent = Vec<(Instant, PlayFrame, Vec<i16>)>;

    fn run(p: &mut Player, until: Instant) -> (Sent, Vec<PlaybackDone>) {
        let (mut frames, mut events) = (Vec::new(), Vec::new());
        let mut pcm = [0i16; FRAME_SAMPLES];
        while let Some(at) = p.poll_timeout() {
            if at > until {
                break;
            }
            while let Some(f) = p.poll_frame(at, &mut pcm) {
                frames.push((at, f, pcm.to_vec()));
            }
            events.extend(p.poll_event());
        }
        (frames, events)
    }

    #[test]
    fn a_prompt_plays_once_paced_then_reports_done() {
        let t0 = Instant::now();
        let mut p = Player::new();
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(
            p.play(t0, PlaybackId(1), Source::Prompt(ramp(400, 1)), false),
            None
        );
        let (frames, events) = run(&mut p, t0 + Duration::from_secs(5));
        // 400 samples: three frames, the last padded with silence.
        assert_eq!(frames.len(), 3);
        for (i, (at, f, _)) in frames.iter().enumerate() {
            assert_eq!(*at, t0 + FRAME * i as u32);
            assert_eq!(f.marker, i == 0);
            assert!(!f.comfort_silence);
        }
        let all: Vec<i16> = frames.iter().flat_map(|(_, _, s)| s.clone()).collect();
        assert_eq!(&all[..400], ramp(400, 1).samples());
        assert!(all[400..].iter().all(|&s| s == 0));
        assert_eq!(
            events,
            [PlaybackDone {
                id: PlaybackId(1),
                reason: StopReason::Finished
            }]
        );
        assert!(!p.is_active());
    }

    #[test]
    fn a_sequence_plays_without_a_gap() {
        let t0 = Instant::now();
        let mut p = Player::new();
        let parts = vec![ramp(100, 1), ramp(0, 0), ramp(250, 1000), ramp(10, -50)];
        p.play(t0, PlaybackId(2), Source::Sequence(parts), false);
        let (frames, events) = run(&mut p, t0 + Duration::from_secs(5));
        let all: Vec<i16> = frames.iter().flat_map(|(_, _, s)| s.clone()).collect();
        let want: Vec<i16> = [ramp(100, 1), ramp(250, 1000), ramp(10, -50)]
            .iter()
            .flat_map(|p| p.samples().to_vec())
            .collect();
        assert_eq!(frames.len(), 3); // 360 samples
        assert_eq!(&all[..360], &want[..]);
        assert_eq!(events.len(), 1);
        // Only the first frame starts a talk spurt.
        assert_eq!(frames.iter().filter(|(_, f, _)| f.marker).count(), 1);
    }

    #[test]
    fn music_loops_until_stopped() {
        let t0 = Instant::now();
        let mut p = Player::new();
        p.play(t0, PlaybackId(3), Source::Music(ramp(100, 1)), false);
        let (frames, events) = run(&mut p, t0 + Duration::from_millis(990));
        assert_eq!(frames.len(), 50);
        assert!(events.is_empty());
        let all: Vec<i16> = frames.iter().flat_map(|(_, _, s)| s.clone()).collect();
        for (i, &s) in all.iter().enumerate() {
            assert_eq!(s, 1 + (i % 100) as i16);
        }
        assert_eq!(
            p.stop(),
            Some(PlaybackDone {
                id: PlaybackId(3),
                reason: StopReason::Stopped
            })
        );
        assert_eq!(p.stop(), None);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn barge_in_stops_only_plays_that_allow_it() {
        let t0 = Instant::now();
        let mut p = Player::new();
        let tone = Arc::new(profile(Country::De, ToneKind::Ringback));
        p.play(t0, PlaybackId(4), Source::Tone(tone.clone()), false);
        assert_eq!(p.barge_in(), None);
        assert!(p.is_playing());
        let mut pcm = [0i16; FRAME_SAMPLES];
        assert!(p.poll_frame(t0, &mut pcm).is_some());
        // A new play replaces the old one, on the same frame grid.
        let later = t0 + Duration::from_millis(5);
        assert_eq!(
            p.play(later, PlaybackId(5), Source::Tone(tone), true),
            Some(PlaybackDone {
                id: PlaybackId(4),
                reason: StopReason::Replaced
            })
        );
        assert_eq!(p.poll_timeout(), Some(t0 + FRAME));
        assert!(p.poll_frame(t0 + FRAME, &mut pcm).unwrap().marker);
        assert_eq!(
            p.barge_in(),
            Some(PlaybackDone {
                id: PlaybackId(5),
                reason: StopReason::BargeIn
            })
        );
        assert!(!p.is_playing());
    }

    #[test]
    fn comfort_silence_fills_the_gaps_on_a_held_leg() {
        let t0 = Instant::now();
        let mut p = Player::new();
        p.set_comfort_silence(t0, true);
        let (frames, _) = run(&mut p, t0 + Duration::from_millis(90));
        assert_eq!(frames.len(), 5);
        assert!(
            frames
                .iter()
                .all(|(_, f, s)| f.comfort_silence && s.iter().all(|&x| x == 0))
        );
        assert!(frames[0].1.marker && !frames[1].1.marker);
        // A prompt in between: on the same clock, with its own talk spurt.
        let at = t0 + Duration::from_millis(100);
        p.play(at, PlaybackId(6), Source::Prompt(ramp(320, 1)), false);
        let (frames, events) = run(&mut p, t0 + Duration::from_millis(190));
        assert_eq!(frames.len(), 5);
        assert!(frames[0].1.marker && !frames[0].1.comfort_silence);
        assert!(!frames[1].1.marker && !frames[1].1.comfort_silence);
        assert!(
            frames[2..]
                .iter()
                .all(|(_, f, _)| f.comfort_silence && !f.marker)
        );
        assert_eq!(events.len(), 1);
        // The frame clock never restarted: every deadline is on the 20 ms grid from t0.
        assert!(
            frames
                .iter()
                .all(|(at, _, _)| (*at - t0).as_micros().is_multiple_of(20_000))
        );
        p.set_comfort_silence(t0, false);
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn a_late_wake_up_skips_beyond_the_bounded_catch_up() {
        let t0 = Instant::now();
        let mut p = Player::new();
        p.play(t0, PlaybackId(7), Source::Music(ramp(1000, 1)), false);
        let mut pcm = [0i16; FRAME_SAMPLES];
        assert!(p.poll_frame(t0, &mut pcm).is_some());
        // Woken 500 ms late: 3 frames go out, the first says 22 were skipped.
        let late = t0 + Duration::from_millis(500);
        let frames: Vec<PlayFrame> = std::iter::from_fn(|| p.poll_frame(late, &mut pcm)).collect();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].skipped_samples, 22 * 160);
        assert_eq!(frames[1].skipped_samples, 0);
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(520)));
    }

    #[test]
    fn an_hour_of_music_on_hold_does_not_drift() {
        let t0 = Instant::now();
        let mut p = Player::new();
        p.play(t0, PlaybackId(8), Source::Music(ramp(8000, 1)), false);
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut frames = 0u64;
        let mut now = t0;
        // Each wake-up 0–9 ms late (a busy timer wheel), never beyond the catch-up.
        while frames < 180_000 {
            let due = p.poll_timeout().unwrap();
            now = now.max(due + Duration::from_micros((frames * 7_919) % 9_000));
            while let Some(f) = p.poll_frame(now, &mut pcm) {
                assert_eq!(f.skipped_samples, 0);
                frames += 1;
            }
        }
        assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(3600)));
        // 180 000 frames of an 8000-sample loop: the loop is where time says it is.
        assert_eq!(pcm[0], 1 + ((179_999 * 160) % 8000) as i16);
    }

    /// The far end sees one stream: relayed packets, then a prompt, then
    /// relayed packets again, all through the leg's OutgoingStream.
    #[test]
    fn relay_then_play_then_relay_is_one_stream() {
        let t0 = Instant::now();
        let mut stream = OutgoingStream::with_state(Ssrc(0x1234), 65_500, u32::MAX - 1000);
        let mut codec = G711::new(Law::Mu);
        let pt = PayloadType(0);
        let mut sent = Vec::new();
        let mut pkt = [0u8; 12 + FRAME_SAMPLES];
        // 1. Relay: 40 packets from the other leg, 160 samples each, headers rewritten.
        for _ in 0..40 {
            stream.write_header(pt, &mut pkt).unwrap();
            stream.advance(160);
            sent.push(parse_rtp(&pkt).unwrap());
        }
        // 2. Play at the next 20 ms slot: a talk spurt.
        let mut p = Player::new();
        p.play(t0, PlaybackId(9), Source::Prompt(ramp(1600, 1)), false);
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut played = 0;
        while let Some(at) = p.poll_timeout() {
            while let Some(f) = p.poll_frame(at, &mut pcm) {
                if f.skipped_samples > 0 {
                    stream.skip(f.skipped_samples);
                }
                if f.marker {
                    stream.start_talk_spurt();
                }
                let n = stream.write_header(pt, &mut pkt).unwrap();
                let m = codec.encode(&pcm, &mut pkt[n..]).unwrap();
                assert_eq!(m, 160);
                stream.advance(160);
                sent.push(parse_rtp(&pkt).unwrap());
                played += 1;
            }
        }
        assert_eq!(played, 10);
        // 3. Relay again: a new talk spurt (a different source speaks).
        stream.start_talk_spurt();
        for _ in 0..40 {
            stream.write_header(pt, &mut pkt).unwrap();
            stream.advance(160);
            sent.push(parse_rtp(&pkt).unwrap());
        }
        assert!(sent.iter().all(|h| h.ssrc == Ssrc(0x1234)));
        for w in sent.windows(2) {
            assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence continuous");
            assert_eq!(
                w[1].timestamp,
                w[0].timestamp.wrapping_add(160),
                "timestamp continuous"
            );
        }
        let markers: Vec<usize> = sent
            .iter()
            .enumerate()
            .filter(|(_, h)| h.marker)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(markers, [0, 40, 50]);
    }
}
