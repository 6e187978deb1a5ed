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
//! - a packet relayed *to* the leg passes `egress`: held back while voxgate
//!   speaks to the leg, its voice transcoded into the leg's codec where the
//!   partner negotiated another (G.711 µ-law ⇄ A-law, in place), its
//!   telephone-event payload type mapped, its voice repacketised where its
//!   frames are not the size the leg's peer asked for (`repack`: the frames
//!   leave through `poll_transmit`), and, once voxgate has spoken on the
//!   leg, its header rewritten into voxgate's stream (one SSRC, continuous
//!   sequence numbers and timestamps, whichever source speaks);
//! - timers (`poll_timeout`/`handle_timeout`), generated packets
//!   (`poll_transmit`, into the caller's buffer) and events (`poll_event`)
//!   are the relay core's, over all endpoints;
//! - a recording (`EndpointOp::Record`) hears the voice the peer sends
//!   (in `inspect`) and, in stereo, what goes to the leg (in `egress`, and
//!   the player's frames), decoded into a [`Recorder`](crate::record::Recorder)
//!   whose 20 ms frames leave through `poll_record`: never a file here.
//!
//! Nothing here reads the clock, touches a socket, or allocates per packet
//! or frame (events go into a queue the core drains; it grows only if a
//! peer makes more than its capacity of digits between two drains).

mod outgoing;
mod recording;
mod repack;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::{Codec, CodecKind, G711, Law, Ptime, Transcoder};
use crate::dtmf::{
    DetectorConfig, Digit, DigitEvent, DigitSource, GeneratorConfig, InbandConfig, InbandDetector,
    Rfc4733Detector, Rfc4733Generator,
};
use crate::frame::FRAME_SAMPLES;
use crate::latch::{EndpointId, SocketKind};
use crate::play::{PlaybackDone, PlaybackId, Player, Source};
use crate::quality::rtcp::{NtpTime, PT_SR};
use crate::quality::{ReceiveStats, ReportConfig, RtcpReporter};
use crate::record::{Channel, Layout};
use crate::rtp::{PayloadType, RTP_HEADER_LEN, RtpHeader};

pub(crate) use outgoing::Outgoing;
pub use recording::{RecordOutput, RecordingId};
use recording::{Recording, push_g711};
pub use repack::FLUSH_AFTER;
use repack::Repack;

/// How long the in-band detector waits without audio before what it heard
/// ends (a sender that stops sending mid-tone, DTX).
pub const INBAND_SILENCE: Duration = Duration::from_millis(200);

/// Largest datagram voxgate generates: a header and one 60 ms G.711 frame
/// (a bridged leg's voice repacketised into its peer's ptime; its own
/// frames are 20 ms); a transmit buffer of this size always suffices.
pub const MAX_GENERATED: usize = RTP_HEADER_LEN + crate::codec::repacketize::MAX_FRAME;

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
    /// The packetisation time the peer asked to receive (`a=ptime`), if it
    /// named one. voxgate's own frames are 20 ms whatever it says (every
    /// G.711 peer accepts them); a bridged partner's G.711 voice of another
    /// size is repacketised into it. A peer that named none gets frames as
    /// they come (RFC 3551 §4.2: a receiver takes any size).
    pub ptime: Option<Ptime>,
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
    /// voxgate holds the leg (`true`) or no longer does: while held, silence
    /// frames go out whenever nothing plays, so that the far end sees a live
    /// stream and its media timeout and NAT bindings stay open.
    ComfortSilence(bool),
    /// Record the leg: `Mono` what its peer sends, `Stereo` that (channel
    /// 0) and what is sent to it (channel 1). Replaces a recording in
    /// progress (which then ends without `Ended`).
    Record {
        /// The recording's id, in its frames.
        id: RecordingId,
        /// One channel or two.
        layout: Layout,
    },
    /// Write silence instead of the leg's audio until resumed.
    PauseRecording(RecordingId),
    /// Write the leg's audio again.
    ResumeRecording(RecordingId),
    /// Stop: what is due and queued still comes out, then `Ended`.
    StopRecording(RecordingId),
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
    /// A recording's file was created: frames are being written to it
    /// (made by its writer thread, never by the core).
    RecordingStarted {
        /// The recording.
        id: RecordingId,
    },
    /// A recording ended and its file is complete (its writer thread).
    RecordingDone {
        /// The recording.
        id: RecordingId,
        /// Sample frames written (per channel; 8000 a second).
        samples: u64,
        /// 20 ms frames lost because the writer fell behind.
        dropped_frames: u64,
    },
    /// A recording's file could not be created or written (disk full,
    /// unwritable folder); it is over, the call goes on (its writer thread).
    RecordingFailed {
        /// The recording.
        id: RecordingId,
        /// What the OS said.
        kind: std::io::ErrorKind,
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
    /// Boxed: ~2 KiB of sample rings, on the few legs being recorded.
    recording: Option<Box<Recording>>,
    /// The bridge partner's voice being cut into this leg's ptime.
    repack: Option<Repack>,
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
                // Comfort silence goes on in the same talk spurt.
                if !self.player.is_active() {
                    self.out.player_stopped();
                }
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
            EndpointOp::ComfortSilence(on) => {
                self.player.set_comfort_silence(now, on);
                if !self.player.is_active() {
                    self.out.player_stopped();
                }
            }
            EndpointOp::Record { id, layout } => {
                self.recording = Some(Box::new(Recording::new(id, layout, now)));
            }
            EndpointOp::PauseRecording(id) => {
                if let Some(r) = self.recording_mut(id) {
                    r.recorder.pause();
                }
            }
            EndpointOp::ResumeRecording(id) => {
                if let Some(r) = self.recording_mut(id) {
                    r.recorder.resume();
                }
            }
            EndpointOp::StopRecording(id) => {
                if let Some(r) = self.recording_mut(id) {
                    r.stopping = true;
                }
            }
        }
    }

    /// The recording in progress if it is `id` (a command for an older
    /// one, replaced since, changes nothing).
    fn recording_mut(&mut self, id: RecordingId) -> Option<&mut Recording> {
        self.recording.as_deref_mut().filter(|r| r.id == id)
    }

    /// The next recorded frame due at `now` (or a stopped recording's end).
    pub(crate) fn poll_record(&mut self, ep: EndpointId, now: Instant) -> Option<RecordOutput> {
        let out = self.recording.as_deref_mut()?.poll(ep, now)?;
        if matches!(out, RecordOutput::Ended { .. }) {
            self.recording = None;
        }
        Some(out)
    }

    fn set_format(&mut self, format: Option<MediaFormat>) {
        if self.format == format {
            return;
        }
        self.format = format;
        self.repack = None;
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

    /// Looks at an admitted RTP packet from the leg's peer: digits, and its
    /// audio for a recording. Inline up to the question whether the leg has
    /// anything to detect or record, which most relayed packets answer no to.
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
        if line != format.line
            || (self.rfc4733.is_none() && self.inband.is_none() && self.recording.is_none())
        {
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
        // A leg with telephone-event and no recording stops here, as before
        // recordings: its audio packets have nothing else to feed.
        if self.inband.is_none() && self.recording.is_none() {
            return;
        }
        let Some(voice) = format.voice else { return };
        if header.payload_type != voice.payload_type {
            return;
        }
        if let Some(r) = self.recording.as_deref_mut()
            && r.recorder.wants(Channel::Left)
        {
            push_g711(&mut r.recorder, Channel::Left, voice.codec, payload);
        }
        let (Some(inband), Some(codec)) = (self.inband.as_mut(), self.codec.as_mut()) else {
            return;
        };
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
            // A stopped recording's last frames go out at the wake-up that
            // applied the stop: `poll_record` is drained after every one.
            self.recording.as_ref().map(|r| r.recorder.poll_timeout()),
            self.repack.as_ref().and_then(Repack::poll_timeout),
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
        // The bridge partner's voice, repacketised: only while voxgate does
        // not speak (it is not taken in meanwhile either).
        if !self.speaking()
            && let Some(r) = self.repack.as_mut()
            && let Some((n, covered)) = r.poll(now, buf)
        {
            let covered = u32::try_from(covered).unwrap_or(u32::MAX);
            self.out.relayed(now, &mut buf[..n], covered);
            return Next::Packet(n);
        }
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
            Some(n) => {
                // What voxgate says to the leg is what the leg hears: channel 1.
                if let Some(r) = self.recording.as_deref_mut() {
                    r.recorder.push(Channel::Right, &pcm);
                }
                Next::Packet(n)
            }
            None => Next::Skipped,
        }
    }

    /// The conference's mix for this leg, one 20 ms frame encoded into
    /// `buf` in the leg's own stream; `None` while voxgate speaks to the leg
    /// (a playback or digits hold the conference back, as they hold back a
    /// bridge partner) or it has no G.711 codec. `skipped_samples`: frames
    /// the conference's clock skipped before this one.
    pub(crate) fn mixed(
        &mut self,
        now: Instant,
        skipped_samples: u32,
        pcm: &[i16; FRAME_SAMPLES],
        buf: &mut [u8],
    ) -> Option<usize> {
        if self.speaking() {
            return None;
        }
        let voice = self.format?.voice?;
        let codec = self.codec.as_mut()?;
        let n = self
            .out
            .mixed_frame(now, skipped_samples, voice.payload_type, codec, pcm, buf)?;
        // What the conference says to the leg is what the leg hears: channel 1.
        if let Some(r) = self.recording.as_deref_mut() {
            r.recorder.push(Channel::Right, pcm);
        }
        Some(n)
    }

    /// The leg left its conference.
    pub(crate) fn mix_left(&mut self) {
        self.out.mixer_stopped();
    }

    /// A packet from the bridge partner on its way to this leg: held back
    /// while voxgate speaks to the leg; otherwise its voice payload is
    /// transcoded into the leg's codec where `from`'s differs, its
    /// telephone-event payload type mapped from `from`'s, and once voxgate
    /// has spoken on the leg, its header joins voxgate's stream.
    pub(crate) fn egress(
        &mut self,
        now: Instant,
        from: Option<MediaFormat>,
        pkt: &mut [u8],
    ) -> Egress {
        if self.speaking() {
            // What was being cut is stale by the time voxgate stops.
            self.repack = None;
            return Egress::Held;
        }
        let transcoded = self.transcode(from, pkt);
        let from_event = from.and_then(|f| f.telephone_event).map(|t| t.receive);
        let to_event = self.format.and_then(|f| f.telephone_event).map(|t| t.send);
        if let (Some(from), Some(to)) = (from_event, to_event)
            && from != to
        {
            crate::dtmf::EventPayloadTypeMap::new(from, to).rewrite(pkt);
        }
        // What the partner says to the leg, in the leg's codec: channel 1.
        if let Some(r) = self.recording.as_deref_mut()
            && r.recorder.wants(Channel::Right)
        {
            r.hear_sent(from, self.format, pkt);
        }
        if self.repacketise(now, pkt) {
            return Egress::Queued { transcoded };
        }
        let covered = self
            .format
            .and_then(|f| f.ptime)
            .map_or(FRAME_SAMPLES, |p| p.samples(8000).max(1));
        self.out
            .relayed(now, pkt, u32::try_from(covered).unwrap_or(u32::MAX));
        Egress::Sent { transcoded }
    }

    /// Takes a voice packet (already in this leg's codec) whose frames are
    /// not the size this leg's peer asked for into the repacketiser: true
    /// when it did (its frames leave through `poll_transmit`).
    fn repacketise(&mut self, now: Instant, pkt: &[u8]) -> bool {
        let Some((ptime, voice)) = self.format.and_then(|f| Some((f.ptime?, f.voice?))) else {
            self.repack = None;
            return false;
        };
        let law = match voice.codec {
            CodecKind::Pcmu => Law::Mu,
            CodecKind::Pcma => Law::A,
            #[allow(unreachable_patterns)]
            _ => return false,
        };
        let Some(header) = crate::rtp::parse_rtp(pkt) else {
            return false;
        };
        if header.payload_type != voice.payload_type {
            return false;
        }
        let Some(payload) = rtp_payload(pkt) else {
            return false;
        };
        let params = (law, ptime, voice.payload_type);
        Repack::take(&mut self.repack, params, &header, payload, now)
    }

    /// Converts a voice packet of `from`'s codec into this leg's, in place:
    /// one table lookup per payload byte, and the leg's payload type. Only
    /// where both legs' voice is one voxgate terminates (never a DTLS-SRTP
    /// line it cannot read) and the codecs differ; a packet of another
    /// payload type (events, comfort noise) is left as it is, except a
    /// static G.711 one the sender switched to within what it negotiated.
    #[inline]
    fn transcode(&self, from: Option<MediaFormat>, pkt: &mut [u8]) -> bool {
        let (Some(from), Some(to)) = (
            from.and_then(|f| f.voice),
            self.format.and_then(|f| f.voice),
        ) else {
            return false;
        };
        let Some(&second) = pkt.get(1) else {
            return false;
        };
        let pt = PayloadType(second & 0x7f);
        let codec = if pt == from.payload_type {
            from.codec
        } else {
            match CodecKind::from_static_payload_type(pt) {
                Some(c) => c,
                None => return false,
            }
        };
        if codec == to.codec {
            return false;
        }
        let Some(transcoder) = Transcoder::between(codec, to.codec) else {
            return false;
        };
        let Some(range) = payload_range(pkt) else {
            return false;
        };
        transcoder.convert(&mut pkt[range]);
        pkt[1] = (second & 0x80) | (to.payload_type.0 & 0x7f);
        true
    }
}

/// What [`EndpointMedia::egress`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Egress {
    /// Held back: voxgate speaks to the leg.
    Held,
    /// Taken into the repacketiser: its frames leave through `poll_transmit`.
    Queued {
        /// The payload was converted.
        transcoded: bool,
    },
    /// To be sent; `transcoded`: its payload was converted to the leg's codec.
    Sent {
        /// The payload was converted.
        transcoded: bool,
    },
}

/// The payload of an RTP packet: after the CSRCs and the header
/// extension, before the padding; `None` when the lengths do not add up.
pub(crate) fn rtp_payload(pkt: &[u8]) -> Option<&[u8]> {
    pkt.get(payload_range(pkt)?)
}

/// Where [`rtp_payload`] is in `pkt`.
fn payload_range(pkt: &[u8]) -> Option<std::ops::Range<usize>> {
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
    (start <= end && end <= pkt.len()).then_some(start..end)
}

#[cfg(test)]
mod tests;
