//! The conferences of a session: endpoints whose voice the conference mixer
//! ([`crate::mixer`]) mixes instead of the relay relaying it.
//!
//! An endpoint is in a conference when the conversation says so
//! ([`SessionRelay::set_conference`]); it then leaves any two-leg bridge.
//! Its peer's plain RTP (after SRTP unprotect, DTMF detection having seen it)
//! of the voice payload type goes into the conference's mixer (`push`, from
//! `on_packet`); everything else it sends is received and counted only. Each
//! conference has its own 20 ms clock, which `poll_timeout` includes: when it
//! is due, `poll_transmit` mixes the frame and hands out one packet per
//! participant, each encoded with the participant's codec **in its
//! endpoint's own outgoing stream** (one SSRC, continuous sequence numbers and
//! timestamps, the marker at the first frame, [`crate::endpoint`]) and
//! protected on an SRTP leg. So a leg that leaves a conference for a two-leg
//! bridge or a playback, or joins another, keeps one stream; and the clock
//! never waits for a participant: one whose packets are late or lost is
//! concealed or silent, and the others are mixed on time.
//!
//! A participant to whom voxgate plays or sends digits hears those instead
//! of the conference meanwhile (as a bridged leg does), and is still heard.
//! Its telephone-events are reported as digits, not mixed or relayed.
//!
//! The mixer's [`Leg`](crate::mixer::Leg) takes a stream of its own; it is
//! never used (the mixer's PCM is read with [`Mixer::mix_of`] and encoded
//! here), so that only the endpoint numbers what its peer receives.

use std::time::Instant;

use super::{EndpointId, SessionRelay, SocketKind};
use crate::endpoint::{MediaFormat, Transmit, rtp_payload};
use crate::mixer::{FRAME_SAMPLES, Leg, Mixer, MixerConfig, Pcm, Role};
use crate::rtp::{OutgoingStream, RtpHeader};

/// A conference of a session, named by the conversation; never reused
/// within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceId(pub u32);

/// An endpoint's place in a conference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Which conference.
    pub conference: ConferenceId,
    /// Speaker, or listen-only ([`Role::Monitor`]), or whisperer.
    pub role: Role,
    /// Heard by nobody for now; still hears everyone.
    pub muted: bool,
}

impl Membership {
    /// A speaker of `conference`, not muted.
    pub fn speaker(conference: ConferenceId) -> Membership {
        Membership {
            conference,
            role: Role::Speaker,
            muted: false,
        }
    }
}

/// A session's mixing so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixTotals {
    /// Conferences with at least one participant now.
    pub conferences: usize,
    /// Frames mixed.
    pub frames: u64,
    /// Frames skipped after late wakes (nobody heard them).
    pub skipped: u64,
    /// Participants' packets dropped for arriving after their frame.
    pub late: u64,
}

struct Conference {
    id: ConferenceId,
    mixer: Mixer,
    /// The participant whose packet of the last mixed frame goes next;
    /// `None` once every one went.
    next: Option<usize>,
    /// Samples the clock skipped before the frame being handed out.
    skipped_samples: u32,
    /// The mixer's (mixed, skipped) and late packets at the last frame.
    frames_seen: (u64, u64),
    late_seen: u64,
}

/// A session's conferences (a few at most: a scan finds one).
#[derive(Default)]
pub(crate) struct Conferences {
    list: Vec<Conference>,
    totals: MixTotals,
}

impl std::fmt::Debug for Conferences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conferences")
            .field("conferences", &self.list.len())
            .field("totals", &self.totals)
            .finish()
    }
}

impl Conferences {
    fn find(&mut self, id: ConferenceId) -> Option<&mut Conference> {
        self.list.iter_mut().find(|c| c.id == id)
    }

    /// Puts `ep` in the mixer of `m.conference` (made at `now` if it has
    /// none yet), when its format has a voice codec the mixer can decode;
    /// without one it is a member that is neither heard nor hears (until a
    /// format with one comes).
    fn join(&mut self, now: Instant, ep: EndpointId, m: Membership, format: Option<MediaFormat>) {
        let Some(voice) = format.and_then(|f| f.voice) else {
            return;
        };
        let index = match self.list.iter().position(|c| c.id == m.conference) {
            Some(i) => i,
            None => {
                self.list.push(Conference {
                    id: m.conference,
                    mixer: Mixer::new(now, MixerConfig::default()),
                    next: None,
                    skipped_samples: 0,
                    frames_seen: (0, 0),
                    late_seen: 0,
                });
                self.list.len() - 1
            }
        };
        let c = &mut self.list[index];
        let leg = Leg {
            codec: voice.codec.new_codec(),
            payload_type: voice.payload_type,
            // Never numbered: the endpoint's own stream carries the mix.
            stream: OutgoingStream::with_state(crate::rtp::Ssrc(0), 0, 0),
        };
        let joined = c
            .mixer
            .join(ep, m.role, leg)
            .and_then(|()| c.mixer.set_muted(ep, m.muted));
        if let Err(error) = joined {
            // The conversation checks the size before; a full mixer leaves
            // the endpoint a silent member rather than failing the call.
            tracing::debug!(?ep, %error, "not mixed");
        }
        c.next = None;
        c.late_seen = c.mixer.late_packets();
        self.totals.conferences = self.list.len();
    }

    /// Takes `ep` out of `conference`'s mixer; a mixer left empty goes.
    fn leave(&mut self, ep: EndpointId, conference: ConferenceId) {
        let Some(c) = self.find(conference) else {
            return;
        };
        if c.mixer.leave(ep).is_err() {
            return;
        }
        c.next = None;
        c.late_seen = c.mixer.late_packets();
        self.list.retain(|c| !c.mixer.is_empty());
        self.totals.conferences = self.list.len();
    }

    /// A member's role or mute changed.
    fn update(&mut self, ep: EndpointId, m: Membership) {
        if let Some(c) = self.find(m.conference) {
            // Not mixed (no voice codec): nothing to change.
            let _ = c
                .mixer
                .set_role(ep, m.role)
                .and_then(|()| c.mixer.set_muted(ep, m.muted));
        }
    }

    /// A packet from member `ep`'s peer: its voice goes to the mixer.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn push(
        &mut self,
        now: Instant,
        ep: EndpointId,
        conference: ConferenceId,
        format: Option<MediaFormat>,
        line: usize,
        header: &RtpHeader,
        pkt: &[u8],
    ) {
        let Some(format) = format else { return };
        let is_voice = format
            .voice
            .is_some_and(|v| v.payload_type == header.payload_type);
        if line != format.line || !is_voice {
            return;
        }
        let (Some(c), Some(payload)) = (self.find(conference), rtp_payload(pkt)) else {
            return;
        };
        let _ = c.mixer.push(now, ep, header.seq, header.timestamp, payload);
    }

    /// The earliest conference clock.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.list
            .iter()
            .filter_map(|c| c.mixer.poll_timeout())
            .min()
    }
}

impl Conference {
    /// Mixes the frame due at `now`, if one is; counts it.
    fn mix(&mut self, now: Instant, totals: &mut MixTotals) -> bool {
        if !self.mixer.mix(now) {
            return false;
        }
        let (mixed, skipped) = self.mixer.frames();
        let new_skipped = skipped.saturating_sub(self.frames_seen.1);
        totals.frames += mixed.saturating_sub(self.frames_seen.0);
        totals.skipped += new_skipped;
        self.frames_seen = (mixed, skipped);
        self.skipped_samples = u32::try_from(new_skipped)
            .unwrap_or(u32::MAX)
            .saturating_mul(FRAME_SAMPLES as u32);
        let late = self.mixer.late_packets();
        totals.late += late.saturating_sub(self.late_seen);
        self.late_seen = late;
        self.next = Some(0);
        true
    }
}

impl SessionRelay {
    /// Puts `ep` in a conference (leaving its two-leg bridge, or another
    /// conference), changes its role or mute, or (`None`) takes it out: its
    /// media is then terminated by voxgate, and its stream continues with
    /// whoever speaks to it next. An unknown endpoint is ignored.
    pub fn set_conference(&mut self, now: Instant, ep: EndpointId, member: Option<Membership>) {
        let Some(old) = self.endpoint(ep).map(|e| e.mix) else {
            return;
        };
        match (old, member) {
            (None, None) => {}
            (Some(o), Some(m)) if o.conference == m.conference => {
                self.conferences.update(ep, m);
            }
            (old, new) => {
                if new.is_some() {
                    self.unbridge(ep);
                }
                if let Some(o) = old {
                    self.conferences.leave(ep, o.conference);
                }
                let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) else {
                    return;
                };
                e.media.mix_left();
                if let Some(m) = new {
                    self.conferences.join(now, ep, m, e.media.format());
                }
            }
        }
        if let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) {
            e.mix = member;
        }
    }

    /// `ep`'s conference, if it is in one.
    pub fn conference(&self, ep: EndpointId) -> Option<Membership> {
        self.endpoint(ep)?.mix
    }

    /// Conferences now, and frames mixed, skipped and late packets so far.
    pub fn mix_totals(&self) -> MixTotals {
        self.conferences.totals
    }

    /// `ep`'s format changed: a member moves into its mixer with the new
    /// codec (or out of it, without one).
    pub(super) fn remix(&mut self, now: Instant, ep: EndpointId) {
        let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) else {
            return;
        };
        let Some(m) = e.mix else { return };
        self.conferences.leave(ep, m.conference);
        self.conferences.join(now, ep, m, e.media.format());
    }

    /// The next packet of a conference's frame due at `now`, written into
    /// `buf` and protected for its leg (from `poll_transmit`).
    pub(super) fn poll_mixed(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let SessionRelay {
            eps, conferences, ..
        } = self;
        let Conferences { list, totals } = conferences;
        for c in list.iter_mut() {
            loop {
                let index = match c.next {
                    Some(i) => i,
                    None => {
                        if !c.mix(now, totals) {
                            break;
                        }
                        0
                    }
                };
                let mut pcm: Pcm = [0; FRAME_SAMPLES];
                let Some(ep) = c.mixer.mix_of(index, &mut pcm) else {
                    c.next = None;
                    continue;
                };
                c.next = Some(index + 1);
                let Some(e) = eps.get_mut(ep.index()).and_then(Option::as_mut) else {
                    continue;
                };
                let Some(len) = e.media.mixed(now, c.skipped_samples, &pcm, buf) else {
                    continue;
                };
                let line = e.media.format().map_or(0, |f| f.line);
                let Some(leg) = e.lines.get_mut(line) else {
                    continue;
                };
                let Some(addr) = leg.rtp_target() else {
                    leg.counters.dropped += 1;
                    continue;
                };
                // An SRTP leg's mix is protected like its relayed RTP.
                let Some(len) = leg.protect(buf, len, false) else {
                    continue;
                };
                return Some(Transmit {
                    ep,
                    line,
                    socket: SocketKind::Rtp,
                    addr,
                    len,
                    rtcp: false,
                });
            }
        }
        None
    }

    /// Takes `ep` out of its conference, if it is in one (it is bridged,
    /// or goes away).
    pub(super) fn leave_conference(&mut self, ep: EndpointId) {
        let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) else {
            return;
        };
        let Some(m) = e.mix.take() else { return };
        e.media.mix_left();
        self.conferences.leave(ep, m.conference);
    }
}
