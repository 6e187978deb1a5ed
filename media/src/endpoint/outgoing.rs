//! The one RTP stream a leg receives from voxgate, whichever source speaks:
//! the player, the DTMF generator, the relay of the bridged leg, or the
//! conference mixer.
//!
//! Until voxgate first speaks on a leg, relayed packets pass untouched (their
//! SSRC and numbering are the other peer's, end to end; SRTP passed through
//! stays valid). From then on, each relayed packet's header is rewritten into
//! voxgate's stream: its SSRC, and its sequence number and timestamp shifted
//! by offsets fixed at the first packet after a change of source, so that
//! gaps and reordering of the relayed stream are kept.
//!
//! Timestamps follow the clock across a change of source: the stream keeps
//! an anchor (when its last packet went, its timestamp and how many samples
//! it covered), and a new source starts at the anchor's timestamp plus the
//! time since (never less than what the last packet covered), as a new talk
//! spurt (marker bit). Within one source the numbering simply continues:
//! 160 samples per 20 ms frame, an RFC 4733 event's packets at its start
//! timestamp.

use std::time::Instant;

use crate::codec::{Codec, G711};
use crate::dtmf::Rfc4733Generator;
use crate::frame::FRAME_SAMPLES;
use crate::play::PlayFrame;
use crate::quality::SenderState;
use crate::rtp::{OutgoingStream, PayloadType, Ssrc, parse_rtp};

/// The RTP clock of every codec voxgate generates (G.711, telephone-event/8000).
const CLOCK: u64 = 8000;

/// Who spoke last on the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Speaker {
    /// Nobody yet, or a playback ended.
    #[default]
    Idle,
    /// The bridged leg, relayed.
    Relay,
    /// The player.
    Player,
    /// The DTMF generator.
    Digits,
    /// The conference the leg is in.
    Mixer,
}

/// When the stream last sent, at which timestamp, covering how many samples.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    at: Instant,
    timestamp: u32,
    covered: u32,
}

/// How a relayed source's numbering maps into the stream.
#[derive(Clone, Copy, Debug)]
struct RelayMap {
    ssrc: Ssrc,
    seq: u16,
    timestamp: u32,
}

/// A leg's outgoing stream.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    stream: OutgoingStream,
    anchor: Option<Anchor>,
    speaker: Speaker,
    /// voxgate has sent its own packets on the leg: relayed ones are rewritten.
    spoke: bool,
    relay: Option<RelayMap>,
    /// Packets and payload octets sent in the stream (its RTCP SR counts):
    /// voxgate's own and, once it spoke, the relayed ones rewritten into it.
    packets: u32,
    octets: u32,
}

impl Default for Outgoing {
    fn default() -> Self {
        Outgoing::new(OutgoingStream::new())
    }
}

impl Outgoing {
    pub(crate) fn new(stream: OutgoingStream) -> Outgoing {
        Outgoing {
            stream,
            anchor: None,
            speaker: Speaker::Idle,
            spoke: false,
            relay: None,
            packets: 0,
            octets: 0,
        }
    }

    /// The stream's SSRC (voxgate's reports on the leg are sent as it).
    pub(crate) fn ssrc(&self) -> Ssrc {
        self.stream.ssrc()
    }

    /// Whether voxgate has sent a packet of its own on the leg.
    pub(crate) fn spoke(&self) -> bool {
        self.spoke
    }

    /// What an RTCP SR at `now` says of the stream: the counts, and the
    /// timestamp the stream's clock reads at `now` (RFC 3550 §6.4.1); `None`
    /// before voxgate sent anything in it.
    pub(crate) fn sender_state(&self, now: Instant) -> Option<SenderState> {
        if self.packets == 0 {
            return None;
        }
        let rtp_timestamp = match self.anchor {
            Some(a) => a.timestamp.wrapping_add(Self::samples_between(a.at, now)),
            None => self.stream.timestamp(),
        };
        Some(SenderState {
            packets: self.packets,
            octets: self.octets,
            rtp_timestamp,
        })
    }

    /// A packet of `len` octets with a 12-octet header went out in the stream.
    fn count(&mut self, len: usize) {
        self.packets = self.packets.wrapping_add(1);
        let payload = len.saturating_sub(crate::rtp::RTP_HEADER_LEN);
        self.octets = self
            .octets
            .wrapping_add(u32::try_from(payload).unwrap_or(u32::MAX));
    }

    /// Samples at 8 kHz in the time from `from` to `to` (saturating).
    fn samples_between(from: Instant, to: Instant) -> u32 {
        let us = to.saturating_duration_since(from).as_micros();
        u32::try_from(us * u128::from(CLOCK) / 1_000_000).unwrap_or(u32::MAX)
    }

    /// A new source starts speaking at `now`: the timestamp moves up to the
    /// clock (never back) and the next packet carries the marker.
    fn take_over(&mut self, now: Instant, speaker: Speaker) {
        if let Some(a) = self.anchor {
            let elapsed = Self::samples_between(a.at, now).max(a.covered);
            let target = a.timestamp.wrapping_add(elapsed);
            let ahead = target.wrapping_sub(self.stream.timestamp()) as i32;
            if ahead > 0 {
                self.stream.advance(ahead.unsigned_abs());
            }
        }
        self.stream.start_talk_spurt();
        self.anchor = Some(Anchor {
            at: now,
            timestamp: self.stream.timestamp(),
            covered: 0,
        });
        self.speaker = speaker;
        self.relay = None;
    }

    /// The playback ended: whoever speaks next takes over.
    pub(crate) fn player_stopped(&mut self) {
        if self.speaker == Speaker::Player {
            self.speaker = Speaker::Idle;
        }
    }

    /// The generator's next due packet, if any.
    pub(crate) fn digit_packet(
        &mut self,
        now: Instant,
        generator: &mut Rfc4733Generator,
        buf: &mut [u8],
    ) -> Option<usize> {
        // A pending talk spurt here is a new event's first packet: it takes
        // the clock's timestamp. (Within an event the generator has written
        // a packet, which clears it; after one, it skipped the time it took.)
        if self.speaker != Speaker::Digits || self.stream.talk_spurt_pending() {
            self.take_over(now, Speaker::Digits);
        }
        let n = generator.poll_transmit(now, &mut self.stream, buf).ok()??;
        self.spoke = true;
        self.count(n);
        Some(n)
    }

    /// The conference stopped speaking on the leg (it left): whoever speaks
    /// next (another conference too) takes over, as a new talk spurt.
    pub(crate) fn mixer_stopped(&mut self) {
        if self.speaker == Speaker::Mixer {
            self.speaker = Speaker::Idle;
        }
    }

    /// One 20 ms frame of the player, encoded into `buf`.
    pub(crate) fn audio_frame(
        &mut self,
        now: Instant,
        frame: PlayFrame,
        pt: PayloadType,
        codec: &mut G711,
        pcm: &[i16; FRAME_SAMPLES],
        buf: &mut [u8],
    ) -> Option<usize> {
        self.frame(now, Speaker::Player, frame, pt, codec, pcm, buf)
    }

    /// One 20 ms frame of the conference's mix for the leg, encoded into
    /// `buf`; `skipped_samples`: frames the mixer's clock skipped before it.
    pub(crate) fn mixed_frame(
        &mut self,
        now: Instant,
        skipped_samples: u32,
        pt: PayloadType,
        codec: &mut G711,
        pcm: &[i16; FRAME_SAMPLES],
        buf: &mut [u8],
    ) -> Option<usize> {
        let frame = PlayFrame {
            marker: false,
            skipped_samples,
            comfort_silence: false,
        };
        self.frame(now, Speaker::Mixer, frame, pt, codec, pcm, buf)
    }

    /// A frame of `speaker`'s, which takes the stream over if another spoke.
    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        now: Instant,
        speaker: Speaker,
        frame: PlayFrame,
        pt: PayloadType,
        codec: &mut G711,
        pcm: &[i16; FRAME_SAMPLES],
        buf: &mut [u8],
    ) -> Option<usize> {
        if self.speaker != speaker {
            self.take_over(now, speaker);
        } else {
            if frame.skipped_samples > 0 {
                self.stream.skip(frame.skipped_samples);
            }
            if frame.marker {
                // A new playback on the same frame grid: numbering continues.
                self.stream.start_talk_spurt();
            }
        }
        let timestamp = self.stream.timestamp();
        let h = self.stream.write_header(pt, buf).ok()?;
        let n = codec.encode(pcm, buf.get_mut(h..)?).ok()?;
        self.stream.advance(FRAME_SAMPLES as u32);
        self.anchor = Some(Anchor {
            at: now,
            timestamp,
            covered: FRAME_SAMPLES as u32,
        });
        self.spoke = true;
        self.count(h + n);
        Some(h + n)
    }

    /// A relayed RTP packet on its way out: rewritten into the stream once
    /// voxgate has spoken on the leg. `covered`: the samples a packet of the
    /// leg's ptime carries (the relay does not decode to know).
    pub(crate) fn relayed(&mut self, now: Instant, pkt: &mut [u8], covered: u32) {
        if !self.spoke {
            return;
        }
        let Some(h) = parse_rtp(pkt) else { return };
        let map = match self.relay {
            Some(m) if m.ssrc == h.ssrc && self.speaker == Speaker::Relay => m,
            _ => {
                self.take_over(now, Speaker::Relay);
                let m = RelayMap {
                    ssrc: h.ssrc,
                    seq: self.stream.next_seq().wrapping_sub(h.seq),
                    timestamp: self.stream.timestamp().wrapping_sub(h.timestamp),
                };
                self.relay = Some(m);
                pkt[1] |= 0x80;
                m
            }
        };
        let seq = h.seq.wrapping_add(map.seq);
        let timestamp = h.timestamp.wrapping_add(map.timestamp);
        pkt[2..4].copy_from_slice(&seq.to_be_bytes());
        pkt[4..8].copy_from_slice(&timestamp.to_be_bytes());
        pkt[8..12].copy_from_slice(&self.stream.ssrc().0.to_be_bytes());
        self.count(pkt.len());
        if self.stream.follow(seq, timestamp) {
            self.anchor = Some(Anchor {
                at: now,
                timestamp,
                covered,
            });
        }
    }
}
