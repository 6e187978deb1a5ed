//! The conference mixer of one bridge of three or more legs: sans-IO, paced
//! by one 20 ms clock per bridge, allocation-free per packet and per tick.
//!
//! Each tick takes one frame from every participant's [jitter buffer](jitter),
//! decodes it with that leg's [`Codec`], sums all who are heard into an `i32`
//! accumulator, and gives each participant the sum minus its own contribution
//! (everyone but itself), saturated to `i16`, encoded with its own codec into a
//! caller's buffer behind a header from its own [`OutgoingStream`].
//!
//! # How the endpoint and relay drive it
//!
//! Wired into calls by the session relay (`latch/conference.rs`), which reads
//! each participant's PCM with [`Mixer::mix`] and [`Mixer::mix_of`] and
//! encodes it in the endpoint's own outgoing stream (so the stream also
//! continues across a playback or digits to the leg); the sketch below is
//! the self-contained use, with the mixer numbering each leg's packets:
//!
//! ```text
//! bridge of ≥ 3 legs:  mixer = Mixer::new(now, MixerConfig::default())
//!   per leg:           mixer.join(leg_id, Role::Speaker, Leg { codec, payload_type, stream })?
//!                      (stream = the leg's OutgoingStream, so seq/timestamps continue)
//!   RTP in (after SRTP unprotect, DTMF split off, RTP header parsed):
//!                      mixer.push(now, leg_id, h.seq, h.timestamp, payload)
//!   timer:             sleep until mixer.poll_timeout(), then
//!                      while let Some(mut frame) = mixer.handle_timeout(now) {
//!                          while let Some(tx) = frame.next_packet(&mut buf)? {
//!                              send buf[..tx.len] to tx.participant (SRTP protect first)
//!                          }
//!                      }
//!   commands:          set_muted(leg, bool), leave(leg), set_role(leg, role) with
//!                      Role::Monitor (listen-only), Role::Whisper(agent), Role::Speaker
//!   back to 2 legs:    Leg { stream, codec, .. } = mixer.leave(leg)? for the
//!                      last ones: the relay or player continues their streams.
//! ```
//!
//! One `handle_timeout` mixes one frame: after a late wake it returns frames
//! until caught up (at most [`clock::MAX_CATCH_UP`] + 1 in a row; frames
//! further behind are skipped and counted, and every participant's buffer and
//! outgoing timestamp move past them, so the grid and RTP time stay true).
//! A [`MixedFrame`] borrows the mixer: it must be drained (or dropped, which
//! forgoes the rest of that frame's packets) before anything else is fed.
//!
//! ```
//! use std::time::Instant;
//! use voxgate_media::codec::CodecKind;
//! use voxgate_media::latch::EndpointId;
//! use voxgate_media::mixer::{FRAME, Leg, MAX_PACKET, Mixer, MixerConfig, Role};
//! use voxgate_media::rtp::{OutgoingStream, PayloadType};
//!
//! let t0 = Instant::now();
//! let mut mixer = Mixer::new(t0, MixerConfig::default());
//! for leg in 0..3 {
//!     let codec = CodecKind::Pcma.new_codec();
//!     let stream = OutgoingStream::new();
//!     let leg_state = Leg { codec, payload_type: PayloadType(8), stream };
//!     mixer.join(EndpointId(leg), Role::Speaker, leg_state)?;
//! }
//! mixer.push(t0, EndpointId(0), 1, 160, &[0xd5; 160])?; // 20 ms of A-law silence
//! let now = mixer.poll_timeout().unwrap(); // t0 + 20 ms
//! assert_eq!(now, t0 + FRAME);
//! let mut buf = [0u8; MAX_PACKET];
//! let mut sent = 0;
//! while let Some(mut frame) = mixer.handle_timeout(now) {
//!     while let Some(tx) = frame.next_packet(&mut buf)? {
//!         assert_eq!(tx.len, 12 + 160); // send &buf[..tx.len] to tx.participant
//!         sent += 1;
//!     }
//! }
//! assert_eq!(sent, 3);
//! # Ok::<(), voxgate_media::MediaError>(())
//! ```
//!
//! # Choices
//!
//! - Participants are keyed by the session's [`EndpointId`]; at most
//!   [`MAX_PARTICIPANTS`]. The mixer works with any count (1 and 2 included)
//!   so the bridge can move legs in and out one at a time; the relay is the
//!   better path for two, which is the lead's switch to make.
//! - A frame that is missing (lost, late) is filled by repeating the
//!   participant's last decoded frame once, then silence: one lost packet in
//!   ten (a 10% loss) is bridged without a hole, a longer gap is not smeared.
//! - A muted speaker and a monitor both are heard by nobody and hear
//!   everyone; their frames are not even decoded. A whisperer (a supervisor
//!   coaching an agent) hears everyone and is heard by one participant only:
//!   its frame stays out of the common sum and is added to that one's mix.
//! - Frames of a muted speaker or a monitor are not decoded (G.711 keeps no
//!   state); a stateful codec (Opus) will want them decoded and dropped.
//! - Only 20 ms frames of 8 kHz codecs: a leg with another ptime needs the
//!   codec module's repacketiser in front (its frames are counted as
//!   `undecodable`, or `malformed` past [`jitter::MAX_PAYLOAD`], otherwise).
//! - The jitter depth is fixed per bridge ([`MixerConfig::jitter_depth`],
//!   60 ms by default), not adaptive yet.
//! - Summing and the jitter buffer are hand-written: a saturating sum is a
//!   loop of ten lines, and the jitter buffer crates looked at allocate per
//!   packet or keep time themselves (rtp-engine's `push` takes a `Vec<u8>`;
//!   jittr is a binary heap woken by futures timers), see [`jitter`].

pub mod clock;
pub mod jitter;

use std::time::Instant;

use crate::MediaError;
use crate::codec::Codec;
use crate::latch::EndpointId;
use crate::rtp::{OutgoingStream, PayloadType, RTP_HEADER_LEN};

pub use clock::{FRAME, FrameClock};
pub use jitter::{Arrival, FRAME_SAMPLES, JitterBuffer, JitterStats, Playout};

/// The PCM rate the mixer works at: a leg's codec must decode to it.
pub const MIX_RATE: u32 = 8000;
/// Most participants one bridge mixes.
pub const MAX_PARTICIPANTS: usize = 16;
/// A buffer this large holds any packet [`MixedFrame::next_packet`] writes.
pub const MAX_PACKET: usize = RTP_HEADER_LEN + jitter::MAX_PAYLOAD;

/// One frame of PCM.
pub type Pcm = [i16; FRAME_SAMPLES];

/// Settings of one bridge's mixer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixerConfig {
    /// Frames each participant's playout runs behind its first packet: the
    /// jitter absorbed, in 20 ms units (1..=7).
    pub jitter_depth: usize,
}

impl Default for MixerConfig {
    fn default() -> Self {
        MixerConfig { jitter_depth: 3 }
    }
}

/// What a participant does in the conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Heard by everyone (unless muted), hears everyone else.
    Speaker,
    /// A supervisor's monitor (listen-only): hears everyone, heard by nobody.
    Monitor,
    /// A supervisor's whisper (coaching): hears everyone, heard only by the
    /// participant named (the agent), not by the others (the customer).
    Whisper(EndpointId),
}

/// What a leg brings into the mixer and takes back out: its codec, its
/// payload type and the state of the RTP stream voxgate sends it.
pub struct Leg {
    /// The codec negotiated on the leg (both directions).
    pub codec: Box<dyn Codec>,
    /// The payload type the leg's SDP gave that codec.
    pub payload_type: PayloadType,
    /// The leg's outgoing stream: continues across relay, player and mixer.
    pub stream: OutgoingStream,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("codec", &self.codec.kind())
            .field("payload_type", &self.payload_type)
            .field("stream", &self.stream)
            .finish()
    }
}

/// A participant's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParticipantStats {
    /// The jitter buffer's counters.
    pub jitter: JitterStats,
    /// Packets that arrived with a lower sequence number than one before.
    pub reordered: u64,
    /// Frames that did not decode to 20 ms of PCM.
    pub undecodable: u64,
    /// Missing frames filled by repeating the last one.
    pub concealed: u64,
    /// Packets written for this participant.
    pub sent: u64,
}

/// One packet written by [`MixedFrame::next_packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Whose packet it is.
    pub participant: EndpointId,
    /// Its length at the start of the caller's buffer.
    pub len: usize,
}

struct Participant {
    id: EndpointId,
    role: Role,
    muted: bool,
    leg: Leg,
    jitter: JitterBuffer,
    /// This tick's contribution, or the last decoded frame.
    frame: Pcm,
    /// Whether `frame` is heard this tick (in the sum, or whispered).
    heard: bool,
    /// Whether `frame` may fill one missing frame.
    can_repeat: bool,
    highest_seq: Option<u16>,
    /// Its `jitter` part is read from the buffer by [`Mixer::stats`].
    stats: ParticipantStats,
}

impl Participant {
    /// Whether anybody hears it: its frames are worth decoding.
    fn speaks(&self) -> bool {
        self.role != Role::Monitor && !self.muted
    }

    /// Whether its frame of this tick is in the common sum.
    fn in_sum(&self) -> bool {
        self.heard && self.role == Role::Speaker
    }

    /// Takes this tick's frame from the jitter buffer into `frame`.
    fn play_out(&mut self) {
        let speaks = self.speaks();
        let Participant {
            jitter,
            leg,
            frame,
            stats,
            ..
        } = self;
        let decoded = match jitter.pop() {
            // Nobody hears it: not worth decoding.
            Playout::Frame(_) if !speaks => None,
            Playout::Frame(payload) => Some(match leg.codec.decode(payload, frame) {
                Ok(FRAME_SAMPLES) => true,
                _ => {
                    stats.undecodable += 1;
                    false
                }
            }),
            Playout::Missing | Playout::Idle => None,
        };
        match decoded {
            Some(true) => {
                self.heard = true;
                self.can_repeat = true;
            }
            Some(false) => {
                self.heard = false;
                self.can_repeat = false;
            }
            None if speaks && self.can_repeat => {
                self.heard = true;
                self.can_repeat = false;
                self.stats.concealed += 1;
            }
            None => self.heard = false,
        }
    }
}

/// The mixer of one bridge. See the [module docs](self) for how to drive it.
pub struct Mixer {
    config: MixerConfig,
    clock: FrameClock,
    participants: Vec<Participant>,
    sum: [i32; FRAME_SAMPLES],
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("participants", &self.participants.len())
            .finish()
    }
}

impl Mixer {
    /// A mixer with no participants whose first frame is due at `now + 20 ms`.
    pub fn new(now: Instant, config: MixerConfig) -> Self {
        Mixer {
            config,
            clock: FrameClock::new(now),
            participants: Vec::with_capacity(MAX_PARTICIPANTS),
            sum: [0; FRAME_SAMPLES],
        }
    }

    /// Adds a participant (its codec must decode at [`MIX_RATE`]). It hears the conference from the next frame (its
    /// first packet carries the marker bit); it is heard once its jitter
    /// buffer has filled to the configured depth.
    pub fn join(&mut self, id: EndpointId, role: Role, mut leg: Leg) -> Result<(), MediaError> {
        if self.find(id).is_some() {
            return Err(MediaError::AlreadyMixed { endpoint: id });
        }
        if self.participants.len() >= MAX_PARTICIPANTS {
            return Err(MediaError::MixerFull {
                limit: MAX_PARTICIPANTS,
            });
        }
        if leg.codec.sample_rate() != MIX_RATE {
            return Err(MediaError::MixRate {
                rate: leg.codec.sample_rate(),
                mixer_rate: MIX_RATE,
            });
        }
        leg.stream.start_talk_spurt();
        self.participants.push(Participant {
            id,
            role,
            muted: false,
            leg,
            jitter: JitterBuffer::new(self.config.jitter_depth),
            frame: [0; FRAME_SAMPLES],
            heard: false,
            can_repeat: false,
            highest_seq: None,
            stats: ParticipantStats::default(),
        });
        Ok(())
    }

    /// Removes a participant and hands its leg back (codec, payload type, and
    /// the stream state the relay or player continues from).
    pub fn leave(&mut self, id: EndpointId) -> Result<Leg, MediaError> {
        let index = self.index(id)?;
        Ok(self.participants.swap_remove(index).leg)
    }

    /// Dissolves the bridge: every participant's leg back, in joining order
    /// where nobody left (for the relay when two remain, or a hang-up).
    pub fn into_legs(self) -> Vec<(EndpointId, Leg)> {
        self.participants
            .into_iter()
            .map(|p| (p.id, p.leg))
            .collect()
    }

    /// Mutes or unmutes a participant: muted, it still hears everyone.
    pub fn set_muted(&mut self, id: EndpointId, muted: bool) -> Result<(), MediaError> {
        let index = self.index(id)?;
        let p = &mut self.participants[index];
        p.muted = muted;
        p.can_repeat = false;
        Ok(())
    }

    /// Changes a participant's role (a monitor becoming a speaker: barge-in).
    pub fn set_role(&mut self, id: EndpointId, role: Role) -> Result<(), MediaError> {
        let index = self.index(id)?;
        let p = &mut self.participants[index];
        p.role = role;
        p.can_repeat = false;
        Ok(())
    }

    /// Feeds one received RTP packet's payload (after SRTP, without the RTP
    /// header). Ordered by `timestamp`; `seq` only counts reordering.
    pub fn push(
        &mut self,
        now: Instant,
        id: EndpointId,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Arrival, MediaError> {
        // Time comes from the bridge clock at playout; arrival time is not
        // needed until the depth adapts.
        let _ = now;
        let index = self.index(id)?;
        let p = &mut self.participants[index];
        match p.highest_seq {
            Some(high) if (seq.wrapping_sub(high) as i16) < 0 => p.stats.reordered += 1,
            _ => p.highest_seq = Some(seq),
        }
        Ok(p.jitter.push(timestamp, payload))
    }

    /// The next mixing deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.clock.deadline())
    }

    /// Mixes the frame due at `now`, if one is; call again until `None`
    /// after a late wake.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<MixedFrame<'_>> {
        self.mix(now).then_some(MixedFrame {
            mixer: self,
            next: 0,
        })
    }

    /// Mixes the frame due at `now`, if one is (false otherwise), without
    /// borrowing the mixer: each participant's mix is then read with
    /// [`mix_of`](Self::mix_of) by index. For a caller that hands out one
    /// packet per call (the session relay's `poll_transmit`); call again
    /// until false after a late wake, as with `handle_timeout`.
    pub fn mix(&mut self, now: Instant) -> bool {
        let clock::Due::Mix { skipped } = self.clock.poll(now) else {
            return false;
        };
        if skipped > 0 {
            self.skip(skipped);
        }
        self.sum = [0; FRAME_SAMPLES];
        for p in &mut self.participants {
            p.play_out();
            if p.in_sum() {
                for (acc, &s) in self.sum.iter_mut().zip(&p.frame) {
                    *acc += i32::from(s);
                }
            }
        }
        true
    }

    /// The last mixed frame as participant `index` (in [`participants`]
    /// order) hears it: everyone heard but itself, as PCM; `None` past the
    /// last. Its stream does not move: the caller encodes and numbers it.
    /// Valid until the next [`mix`](Self::mix), join or leave.
    ///
    /// [`participants`]: Self::participants
    pub fn mix_of(&self, index: usize, pcm: &mut Pcm) -> Option<EndpointId> {
        let participants = &self.participants;
        let p = participants.get(index)?;
        let whispered = |q: &&Participant| q.heard && q.role == Role::Whisper(p.id) && q.id != p.id;
        if !participants.iter().any(|q| whispered(&q)) {
            if p.in_sum() {
                for ((out, &acc), &own) in pcm.iter_mut().zip(&self.sum).zip(&p.frame) {
                    *out = saturate(acc - i32::from(own));
                }
            } else {
                for (out, &acc) in pcm.iter_mut().zip(&self.sum) {
                    *out = saturate(acc);
                }
            }
            return Some(p.id);
        }
        // Rare: someone whispers to `p`. Build its own sum.
        let mut mix = self.sum;
        if p.in_sum() {
            for (acc, &own) in mix.iter_mut().zip(&p.frame) {
                *acc -= i32::from(own);
            }
        }
        for q in participants.iter().filter(whispered) {
            for (acc, &s) in mix.iter_mut().zip(&q.frame) {
                *acc += i32::from(s);
            }
        }
        for (out, &acc) in pcm.iter_mut().zip(&mix) {
            *out = saturate(acc);
        }
        Some(p.id)
    }

    /// Participants now in the bridge.
    pub fn participants(&self) -> impl Iterator<Item = EndpointId> + '_ {
        self.participants.iter().map(|p| p.id)
    }

    /// How many participants are in the bridge.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// True when nobody is in the bridge.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// A participant's counters.
    pub fn stats(&self, id: EndpointId) -> Option<ParticipantStats> {
        let p = &self.participants[self.find(id)?];
        Some(ParticipantStats {
            jitter: p.jitter.stats(),
            ..p.stats
        })
    }

    /// Packets dropped for arriving after their frame was mixed, summed
    /// over the participants now in the bridge.
    pub fn late_packets(&self) -> u64 {
        self.participants
            .iter()
            .map(|p| p.jitter.stats().late)
            .sum()
    }

    /// Frames mixed and frames skipped after late wakes.
    pub fn frames(&self) -> (u64, u64) {
        (self.clock.mixed(), self.clock.skipped())
    }

    /// Frames nobody will hear (a late wake): buffers and RTP time move on.
    fn skip(&mut self, frames: u64) {
        let samples = (frames as u32).wrapping_mul(FRAME_SAMPLES as u32);
        for p in &mut self.participants {
            for _ in 0..frames.min(jitter::JITTER_CAPACITY as u64) {
                let _ = p.jitter.pop();
            }
            if frames >= jitter::JITTER_CAPACITY as u64 {
                p.jitter.reset();
            }
            p.can_repeat = false;
            p.leg.stream.skip(samples);
        }
    }

    fn find(&self, id: EndpointId) -> Option<usize> {
        self.participants.iter().position(|p| p.id == id)
    }

    fn index(&self, id: EndpointId) -> Result<usize, MediaError> {
        self.find(id).ok_or(MediaError::NotMixed { endpoint: id })
    }
}

/// One mixed frame: each participant's packet, one at a time.
pub struct MixedFrame<'a> {
    mixer: &'a mut Mixer,
    next: usize,
}

impl MixedFrame<'_> {
    /// Writes the next participant's packet (RTP header and payload) into
    /// `buf` ([`MAX_PACKET`] always suffices); `None` once all are written.
    pub fn next_packet(&mut self, buf: &mut [u8]) -> Result<Option<Transmit>, MediaError> {
        let mut pcm = [0; FRAME_SAMPLES];
        let Some(index) = self.next_pcm(&mut pcm) else {
            return Ok(None);
        };
        let p = &mut self.mixer.participants[index];
        let available = buf.len();
        let payload = buf
            .get_mut(RTP_HEADER_LEN..)
            .ok_or(MediaError::BufferTooSmall {
                needed: RTP_HEADER_LEN + FRAME_SAMPLES,
                available,
            })?;
        let payload_len = p.leg.codec.encode(&pcm, payload)?;
        p.leg.stream.write_header(p.leg.payload_type, buf)?;
        p.leg.stream.advance(FRAME_SAMPLES as u32);
        p.stats.sent += 1;
        Ok(Some(Transmit {
            participant: p.id,
            len: RTP_HEADER_LEN + payload_len,
        }))
    }

    /// Writes the next participant's mix as PCM (for a caller that encodes
    /// or records itself), returning its index; its stream does not move.
    fn next_pcm(&mut self, pcm: &mut Pcm) -> Option<usize> {
        let index = self.next;
        self.mixer.mix_of(index, pcm)?;
        self.next += 1;
        Some(index)
    }

    /// The next participant's mix as PCM, without encoding or moving its
    /// stream (for a recorder of that leg, or a caller that packetises).
    pub fn next_mix(&mut self, pcm: &mut Pcm) -> Option<EndpointId> {
        let index = self.next_pcm(pcm)?;
        Some(self.mixer.participants[index].id)
    }

    /// Everyone heard, as a monitor hears it (for recording the conference).
    pub fn conference(&self, pcm: &mut Pcm) {
        for (out, &acc) in pcm.iter_mut().zip(&self.mixer.sum) {
            *out = saturate(acc);
        }
    }
}

/// Clips to the 16-bit range: loud sums clip, never wrap.
fn saturate(sample: i32) -> i16 {
    sample.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests;
