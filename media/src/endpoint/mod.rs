//! An endpoint's own media, beside the relay: what voxgate hears on a leg
//! (DTMF) and what it says to it (prompts, tones, DTMF), sans-IO.
//!
//! Each endpoint of a [`SessionRelay`](crate::latch::SessionRelay) owns one
//! `EndpointMedia`: the leg's negotiated [`MediaFormat`], an RFC 4733
//! detector (or, on a leg without telephone-event, an in-band one on the
//! decoded G.711), an RFC 4733 generator, a [`Player`] and the leg's one
//! outgoing RTP stream. The relay core drives it:
//!
//! - every admitted RTP packet of the leg's voice line is shown to
//!   `EndpointMedia::inspect` (one call in `on_packet`);
//! - a packet relayed *to* the leg passes
//!   [`egress`](crate::latch::SessionRelay::egress): held back while voxgate
//!   speaks to the leg, its telephone-event payload type mapped, and, once
//!   voxgate has spoken on the leg, its header rewritten into voxgate's
//!   stream (one SSRC, continuous sequence numbers and timestamps, whichever
//!   source speaks);
//! - timers (`poll_timeout`/`handle_timeout`), generated packets
//!   (`poll_transmit`, into the caller's buffer) and events (`poll_event`)
//!   are the relay core's, over all endpoints.
//!
//! Nothing here reads the clock, touches a socket, or allocates per packet
//! or frame (events go into a queue the core drains; it grows only if a
//! peer makes more than its capacity of digits between two drains).

mod outgoing;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::{Codec, CodecKind, G711, Law, Ptime};
use crate::dtmf::{
    DetectorConfig, Digit, DigitEvent, DigitSource, GeneratorConfig, InbandConfig, InbandDetector,
    Rfc4733Detector, Rfc4733Generator,
};
use crate::frame::FRAME_SAMPLES;
use crate::latch::{EndpointId, SocketKind};
use crate::play::{PlaybackDone, PlaybackId, Player, Source};
use crate::quality::rtcp::{NtpTime, PT_SR};
use crate::quality::{ReceiveStats, ReportConfig, RtcpReporter};
use crate::rtp::{PayloadType, RTP_HEADER_LEN, RtpHeader};

pub(crate) use outgoing::Outgoing;

/// How long the in-band detector waits without audio before what it heard
/// ends (a sender that stops sending mid-tone, DTX).
pub const INBAND_SILENCE: Duration = Duration::from_millis(200);

/// Largest datagram voxgate generates: a header and one 20 ms G.711 frame
/// (172 bytes); a transmit buffer of this size always suffices.
pub const MAX_GENERATED: usize = RTP_HEADER_LEN + FRAME_SAMPLES;

/// The voice codec a leg negotiated, with the payload type it is sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoiceFormat {
    /// The payload type.
    pub payload_type: PayloadType,
    /// The codec.
    pub codec: CodecKind,
}

/// The telephone-event format a leg negotiated (RFC 4733).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventFormat {
    /// The payload type the peer sends events with (the one voxgate's SDP
    /// on the leg named, RFC 3264 §5.1).
    pub receive: PayloadType,
    /// The payload type voxgate sends events with (the one the peer's SDP named).
    pub send: PayloadType,
    /// The event clock (`telephone-event/8000`).
    pub clock_rate: u32,
}

/// What a leg negotiated, as the conversation tells its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaFormat {
    /// The media line that carries the voice (the first audio line).
    pub line: usize,
    /// The voice codec, if voxgate can encode and decode it (G.711 today).
    pub voice: Option<VoiceFormat>,
    /// Telephone-events, if both sides have them.
    pub telephone_event: Option<EventFormat>,
    /// The packetisation time asked for. voxgate sends 20 ms frames
    /// whatever it says (every G.711 peer accepts them).
    pub ptime: Ptime,
    /// The RTP clock of the line's first voice payload type (8000 for
    /// G.711, whether voxgate knows the codec or not): what the relay
    /// measures the peer's jitter in.
    pub clock_rate: u32,
}

/// What the conversation asks of one endpoint's own media.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EndpointOp {
    /// The leg's negotiated format (`None`: no audio voxgate understands).
    Format(Option<MediaFormat>),
    /// Play `source` to the leg (replacing what plays); with `barge_in` a
    /// digit heard on the leg stops it.
    Play {
        /// The playback's id, in its `PlaybackDone`.
        id: PlaybackId,
        /// What to play.
        source: Source,
        /// Stop at the first digit.
        barge_in: bool,
    },
    /// Stop what plays and drop digits not yet begun.
    Stop,
    /// Send digits as RFC 4733 events, each for `duration`.
    SendDigits {
        /// The digits, in order.
        digits: Vec<Digit>,
        /// How long each lasts.
        duration: Duration,
    },
    /// A digit arrived another way (SIP INFO): stop a playback that allows it.
    BargeIn,
}

/// What an endpoint tells the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A digit ended (reported once, with its duration).
    Digit {
        /// The key.
        digit: Digit,
        /// How long it lasted.
        duration: Duration,
        /// How it was heard.
        source: DigitSource,
    },
    /// A playback ended.
    PlaybackDone(PlaybackDone),
    /// Digits of a `SendDigits` that could not be queued (the generator's
    /// queue was full, or the leg has no telephone-event).
    DigitsRefused {
        /// How many.
        count: usize,
    },
    /// The channel to the conversation passed its bound: the events after
    /// this one were not delivered (made by the channel, never by the core).
    Overflow,
}

/// A packet voxgate generated (RTP, or an RTCP report): send `len` bytes of
/// the caller's buffer from endpoint `ep`'s `line` `socket` to `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The endpoint whose socket sends.
    pub ep: EndpointId,
    /// The media line.
    pub line: usize,
    /// Which of its sockets.
    pub socket: SocketKind,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Bytes written into the buffer.
    pub len: usize,
    /// An RTCP report (else RTP: a frame, a DTMF event).
    pub rtcp: bool,
}

/// The core's queue of events, drained by `poll_event`.
pub(crate) type Events = VecDeque<(EndpointId, MediaEvent)>;

/// One endpoint's own media.
#[derive(Clone, Debug, Default)]
pub(crate) struct EndpointMedia {
    format: Option<MediaFormat>,
    codec: Option<G711>,
    rfc4733: Option<Rfc4733Detector>,
    /// Boxed: its 80-sample block and Goertzel state are needed only on legs
    /// without telephone-event.
    inband: Option<Box<InbandDetector>>,
    /// When the in-band detector last got audio.
    inband_heard: Option<Instant>,
    generator: Option<Rfc4733Generator>,
    player: Player,
    out: Outgoing,
    /// RTCP reports for the leg while voxgate terminates it (made with the
    /// format; the relay core decides when they are due).
    reporter: Option<RtcpReporter>,
    /// The SDES CNAME of the reports: `vg-` and the stream's SSRC in hex.
    cname: [u8; CNAME_LEN],
    /// The leg's last report (with BYE) went out: nothing more.
    said_bye: bool,
}

/// Length of the CNAME voxgate's reports carry.
const CNAME_LEN: usize = 11;

/// What [`EndpointMedia::next_packet`] produced.
enum Next {
    /// A packet of this length is in the buffer.
    Packet(usize),
    /// A frame was due but not sent (digits own the stream, no codec).
    Skipped,
    /// Nothing is due.
    Idle,
}

impl EndpointMedia {
    /// The format the conversation last gave.
    pub(crate) fn format(&self) -> Option<MediaFormat> {
        self.format
    }

    /// Whether voxgate has sent RTP of its own on the leg.
    pub(crate) fn spoke(&self) -> bool {
        self.out.spoke()
    }

    /// RTCP reports voxgate sent on the leg.
    pub(crate) fn reports_sent(&self) -> u64 {
        self.reporter.as_ref().map_or(0, RtcpReporter::reports_sent)
    }

    /// Makes the leg's reporter, once, at `now` when the wall clock read `ntp`.
    pub(crate) fn ensure_reporter(&mut self, now: Instant, ntp: NtpTime) {
        if self.reporter.is_some() {
            return;
        }
        let ssrc = self.out.ssrc();
        // The SSRC is random (OutgoingStream::new): it seeds the interval's randomisation.
        let seed = u64::from(ssrc.0) << 32 | u64::from(!ssrc.0);
        self.reporter = Some(RtcpReporter::new(
            now,
            ntp,
            ssrc,
            ReportConfig::default(),
            seed,
        ));
        let hex = b"0123456789abcdef";
        self.cname[..3].copy_from_slice(b"vg-");
        for (i, b) in self.cname[3..].iter_mut().enumerate() {
            *b = hex[(ssrc.0 >> (28 - 4 * i) & 0xf) as usize];
        }
    }

    /// When the leg's next RTCP report is due (none after its BYE).
    pub(crate) fn rtcp_timeout(&self) -> Option<Instant> {
        if self.said_bye {
            return None;
        }
        self.reporter.as_ref().map(RtcpReporter::poll_timeout)
    }

    /// Writes the leg's RTCP report due at `now` into `buf` (SR when
    /// voxgate sent since the last one, else RR; SDES CNAME; with `bye`, a
    /// BYE after them, the leg's last). Returns its length and, for an SR,
    /// its LSR value (for the round-trip time the peer's answer gives).
    pub(crate) fn write_report(
        &mut self,
        now: Instant,
        stats: &mut ReceiveStats,
        buf: &mut [u8],
        bye: bool,
    ) -> Option<(usize, Option<u32>)> {
        if self.said_bye {
            return None;
        }
        let sender = self.out.sender_state(now);
        let reporter = self.reporter.as_mut()?;
        let written = if bye {
            self.said_bye = true;
            reporter.write_bye(now, stats, sender.as_ref(), &self.cname, buf)
        } else {
            reporter.write_report(now, stats, sender.as_ref(), &self.cname, buf)
        };
        match written {
            Ok(len) => {
                let sr = (buf.get(1) == Some(&PT_SR)).then(|| reporter.ntp(now).middle());
                Some((len, sr))
            }
            Err(error) => {
                // Only a short buffer fails: skip this interval rather than spin.
                tracing::trace!(%error, "RTCP report not written");
                reporter.defer(now);
                None
            }
        }
    }

    /// True while voxgate speaks to the leg (a playback or digits): media
    /// from its bridge partner is held back meanwhile.
    pub(crate) fn speaking(&self) -> bool {
        self.player.is_active() || self.generator.as_ref().is_some_and(|g| g.is_busy())
    }

    /// Applies a command at `now`; what it ends is queued in `events`.
    pub(crate) fn apply(
        &mut self,
        ep: EndpointId,
        now: Instant,
        op: EndpointOp,
        events: &mut Events,
    ) {
        match op {
            EndpointOp::Format(format) => self.set_format(format),
            EndpointOp::Play {
                id,
                source,
                barge_in,
            } => {
                if let Some(done) = self.player.play(now, id, source, barge_in) {
                    events.push_back((ep, MediaEvent::PlaybackDone(done)));
                }
            }
            EndpointOp::Stop => {
                if let Some(g) = self.generator.as_mut() {
                    g.clear_queue();
                }
                if let Some(done) = self.player.stop() {
                    events.push_back((ep, MediaEvent::PlaybackDone(done)));
                }
                self.out.player_stopped();
            }
            EndpointOp::SendDigits { digits, duration } => {
                let mut refused = 0;
                for d in digits {
                    let queued = self
                        .generator
                        .as_mut()
                        .is_some_and(|g| g.queue_digit(now, d, duration).is_ok());
                    if !queued {
                        refused += 1;
                    }
                }
                if refused > 0 {
                    events.push_back((ep, MediaEvent::DigitsRefused { count: refused }));
                }
            }
            EndpointOp::BargeIn => {
                if let Some(done) = self.player.barge_in() {
                    events.push_back((ep, MediaEvent::PlaybackDone(done)));
                }
            }
        }
    }

    fn set_format(&mut self, format: Option<MediaFormat>) {
        if self.format == format {
            return;
        }
        self.format = format;
        self.codec = format.and_then(|f| f.voice).and_then(|v| match v.codec {
            CodecKind::Pcmu => Some(G711::new(Law::Mu)),
            CodecKind::Pcma => Some(G711::new(Law::A)),
            #[allow(unreachable_patterns)]
            _ => None,
        });
        match format.and_then(|f| f.telephone_event) {
            Some(te) => {
                let detect = DetectorConfig::new(te.receive, te.clock_rate);
                if self.rfc4733.as_ref().map(|d| *d.config()) != Some(detect) {
                    self.rfc4733 = Some(Rfc4733Detector::new(detect));
                }
                let send = GeneratorConfig::new(te.send, te.clock_rate);
                // A digit being sent finishes with the old payload type.
                if !self.generator.as_ref().is_some_and(|g| g.is_busy()) {
                    self.generator = Some(Rfc4733Generator::new(send));
                }
                self.inband = None;
            }
            None => {
                self.rfc4733 = None;
                self.generator = None;
                if self.codec.is_none() {
                    self.inband = None;
                } else if self.inband.is_none() {
                    self.inband = Some(Box::new(InbandDetector::new(InbandConfig::default())));
                }
            }
        }
    }

    /// Looks at an admitted RTP packet from the leg's peer: digits. Inline
    /// up to the question whether the leg has anything to detect, which
    /// most relayed packets answer no to.
    #[inline]
    pub(crate) fn inspect(
        &mut self,
        ep: EndpointId,
        line: usize,
        now: Instant,
        header: &RtpHeader,
        pkt: &[u8],
        events: &mut Events,
    ) {
        let Some(format) = self.format else { return };
        if line != format.line || (self.rfc4733.is_none() && self.inband.is_none()) {
            return;
        }
        self.detect(ep, format, now, header, pkt, events);
    }

    fn detect(
        &mut self,
        ep: EndpointId,
        format: MediaFormat,
        now: Instant,
        header: &RtpHeader,
        pkt: &[u8],
        events: &mut Events,
    ) {
        let Some(payload) = rtp_payload(pkt) else {
            return;
        };
        if let Some(d) = self.rfc4733.as_mut()
            && header.payload_type == d.config().payload_type
        {
            d.handle_packet(now, header, payload);
            while let Some(ev) = self.rfc4733.as_mut().and_then(Rfc4733Detector::poll_event) {
                self.digit_event(ep, ev, DigitSource::Rfc4733, events);
            }
            return;
        }
        let (Some(inband), Some(codec), Some(voice)) =
            (self.inband.as_mut(), self.codec.as_mut(), format.voice)
        else {
            return;
        };
        if header.payload_type != voice.payload_type {
            return;
        }
        let mut pcm = [0i16; FRAME_SAMPLES];
        for chunk in payload.chunks(FRAME_SAMPLES) {
            if let Ok(n) = codec.decode(chunk, &mut pcm) {
                inband.handle_pcm(now, &pcm[..n]);
            }
        }
        self.inband_heard = Some(now);
        self.drain_inband(ep, events);
    }

    fn drain_inband(&mut self, ep: EndpointId, events: &mut Events) {
        while let Some(ev) = self.inband.as_mut().and_then(|d| d.poll_event()) {
            self.digit_event(ep, ev, DigitSource::Inband, events);
        }
    }

    /// A digit's start stops a playback that allows barge-in; its end is
    /// the digit the conversation hears.
    fn digit_event(
        &mut self,
        ep: EndpointId,
        ev: DigitEvent,
        source: DigitSource,
        events: &mut Events,
    ) {
        match ev {
            DigitEvent::Start { .. } => {
                if let Some(done) = self.player.barge_in() {
                    events.push_back((ep, MediaEvent::PlaybackDone(done)));
                }
            }
            DigitEvent::End {
                digit, duration, ..
            } => events.push_back((
                ep,
                MediaEvent::Digit {
                    digit,
                    duration,
                    source,
                },
            )),
        }
    }

    /// When something is next due: a digit's end timeout, the in-band
    /// detector's silence, the next frame or DTMF packet.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let inband = self.inband_heard.map(|t| t + INBAND_SILENCE);
        [
            self.rfc4733
                .as_ref()
                .and_then(Rfc4733Detector::poll_timeout),
            inband,
            self.player.poll_timeout(),
            self.generator
                .as_ref()
                .and_then(Rfc4733Generator::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ends digits whose end never came. Frames and DTMF packets are due
    /// through [`poll_transmit`](Self::poll_transmit).
    pub(crate) fn handle_timeout(&mut self, ep: EndpointId, now: Instant, events: &mut Events) {
        if let Some(d) = self.rfc4733.as_mut() {
            d.handle_timeout(now);
            while let Some(ev) = self.rfc4733.as_mut().and_then(Rfc4733Detector::poll_event) {
                self.digit_event(ep, ev, DigitSource::Rfc4733, events);
            }
        }
        if self.inband_heard.is_some_and(|t| now >= t + INBAND_SILENCE) {
            self.inband_heard = None;
            if let Some(d) = self.inband.as_mut() {
                d.reset();
            }
            self.drain_inband(ep, events);
        }
    }

    /// The next generated packet due at `now`, written into `buf`; a
    /// playback that ends is queued in `events`. Call until `None`.
    pub(crate) fn poll_transmit(
        &mut self,
        ep: EndpointId,
        now: Instant,
        buf: &mut [u8],
        events: &mut Events,
    ) -> Option<usize> {
        loop {
            let next = self.next_packet(now, buf);
            if let Some(done) = self.player.poll_event() {
                events.push_back((ep, MediaEvent::PlaybackDone(done)));
            }
            if !self.player.is_active() {
                self.out.player_stopped();
            }
            match next {
                Next::Packet(n) => return Some(n),
                Next::Skipped => continue,
                Next::Idle => return None,
            }
        }
    }

    fn next_packet(&mut self, now: Instant, buf: &mut [u8]) -> Next {
        // While the generator is busy it owns the stream (RFC 4733 §2.5.1:
        // the events replace the audio).
        if let Some(g) = self.generator.as_mut()
            && g.poll_timeout().is_some_and(|t| t <= now)
            && let Some(n) = self.out.digit_packet(now, g, buf)
        {
            return Next::Packet(n);
        }
        let mut pcm = [0i16; FRAME_SAMPLES];
        let Some(frame) = self.player.poll_frame(now, &mut pcm) else {
            return Next::Idle;
        };
        if self
            .generator
            .as_ref()
            .is_some_and(Rfc4733Generator::is_busy)
        {
            return Next::Skipped;
        }
        let (Some(codec), Some(voice)) = (self.codec.as_mut(), self.format.and_then(|f| f.voice))
        else {
            return Next::Skipped;
        };
        match self
            .out
            .audio_frame(now, frame, voice.payload_type, codec, &pcm, buf)
        {
            Some(n) => Next::Packet(n),
            None => Next::Skipped,
        }
    }

    /// A packet from the bridge partner on its way to this leg: `false`
    /// holds it back (voxgate speaks to the leg); otherwise the
    /// telephone-event payload type is mapped from `from`'s, and once
    /// voxgate has spoken on the leg, the header joins voxgate's stream.
    pub(crate) fn egress(
        &mut self,
        now: Instant,
        from: Option<MediaFormat>,
        pkt: &mut [u8],
    ) -> bool {
        if self.speaking() {
            return false;
        }
        let from_event = from.and_then(|f| f.telephone_event).map(|t| t.receive);
        let to_event = self.format.and_then(|f| f.telephone_event).map(|t| t.send);
        if let (Some(from), Some(to)) = (from_event, to_event)
            && from != to
        {
            crate::dtmf::EventPayloadTypeMap::new(from, to).rewrite(pkt);
        }
        let covered = self
            .format
            .map_or(FRAME_SAMPLES, |f| f.ptime.samples(8000).max(1));
        self.out
            .relayed(now, pkt, u32::try_from(covered).unwrap_or(u32::MAX));
        true
    }
}

/// The payload of an RTP packet: after the CSRCs and the header
/// extension, before the padding; `None` when the lengths do not add up.
pub(crate) fn rtp_payload(pkt: &[u8]) -> Option<&[u8]> {
    let first = *pkt.first()?;
    let mut start = RTP_HEADER_LEN + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let ext = pkt.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = pkt.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*pkt.last()?))?;
    }
    pkt.get(start..end)
}

#[cfg(test)]
mod tests;
