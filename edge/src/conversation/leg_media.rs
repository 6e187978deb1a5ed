//! What voxgate hears and says on a leg: its endpoint is told the format the
//! leg negotiated; `Play`, `StopMedia` and `SendDigits` are checked here and
//! handed to the endpoint (or, for digits on a leg without telephone-event,
//! sent as SIP INFO one at a time); digits (RFC 4733, in-band, INFO) and
//! playback ends become `Digits` and `PlaybackDone`, in the order they came.

use super::*;
use crate::control_plane::{
    DEFAULT_DIGIT_DURATION, DIGIT_DURATION, Digit, DigitSource, MAX_DIGITS, MAX_SEQUENCE,
    PlaySource, PlaybackEnd, PlaybackId,
};
use voxgate_media::dtmf::info;
use voxgate_media::play::{self, Source, StopReason, ToneKind};
use voxgate_media::{EndpointOp, MediaEvent, negotiate};

/// The content types of DTMF in SIP INFO.
const DTMF_TYPES: [&str; 2] = ["application/dtmf-relay", "application/dtmf"];

impl<M: MediaControl> Conversation<M> {
    /// Tells each endpoint what its leg negotiated, when the SDPs that say
    /// so changed. The leg holds the SDPs it computed from, so comparing
    /// pointers is exact (a held allocation is never reused) and costs
    /// nothing on the inputs that change no SDP.
    pub(crate) fn sync_media_formats(&mut self) {
        for i in 0..self.legs.len() {
            let l = &self.legs[i];
            let (Some(ep), Some(remote)) = (l.endpoint, l.remote_sdp.as_ref()) else {
                continue;
            };
            let same = l.format_from.as_ref().is_some_and(|(r, ours)| {
                Arc::ptr_eq(r, remote)
                    && match (ours, &l.sig.last_sdp) {
                        (Some(a), Some(b)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
                        (None, None) => true,
                        _ => false,
                    }
            });
            if same || !l.is_live() {
                continue;
            }
            let format = negotiate::media_format(remote, l.sig.last_sdp.as_deref());
            let from = (Arc::clone(remote), l.sig.last_sdp.clone());
            let l = &mut self.legs[i];
            l.format_from = Some(from);
            if l.format != format {
                l.format = format;
                self.media.media_op(ep, EndpointOp::Format(format));
            }
        }
    }

    /// Comfort silence on each leg voxgate holds (its sendonly or inactive
    /// offer was accepted) and that is in no bridge: RFC 3264 lets voxgate
    /// send there, and a held far end that hears nothing for long may end
    /// the call on its media timeout.
    pub(crate) fn sync_comfort_silence(&mut self) {
        for l in &mut self.legs {
            let Some(ep) = l.endpoint else { continue };
            let on = l.held_by_us && l.is_live() && l.bridge.is_none();
            if l.comfort_silence != on {
                l.comfort_silence = on;
                self.media.media_op(ep, EndpointOp::ComfortSilence(on));
            }
        }
    }

    /// The endpoint of a leg voxgate may play to or send digits on: live,
    /// answered (or answered early by voxgate), with media.
    pub(crate) fn media_leg(&self, leg: LegId) -> Result<EndpointId, CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_live() {
            return Err(CommandError::UnknownLeg { leg });
        }
        let early = l.inbound().is_some_and(|i| i.early_sent);
        if l.answered_at.is_none() && !early {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "it must be answered (or answered early) first",
            });
        }
        l.endpoint.ok_or(CommandError::NoMedia { leg })
    }

    /// `Play`.
    pub(crate) fn play_command(
        &mut self,
        now: Instant,
        id: PlaybackId,
        leg: LegId,
        source: PlaySource,
        barge_in: bool,
    ) -> Result<(), CommandError> {
        let _ = now;
        let ep = self.media_leg(leg)?;
        let source = self.resolve(source)?;
        let voice = self.leg(leg).and_then(|l| l.format).and_then(|f| f.voice);
        if voice.is_none() {
            return Err(CommandError::NoCodec { leg });
        }
        self.media.media_op(
            ep,
            EndpointOp::Play {
                id: play::PlaybackId(u64::from(id.0)),
                source,
                barge_in,
            },
        );
        if let Some(l) = self.leg_mut(leg) {
            l.playing = Some(id);
        }
        Ok(())
    }

    /// A play source by name: prompts from the config, tones from its profile.
    fn resolve(&self, source: PlaySource) -> Result<Source, CommandError> {
        let config = &self.ctx.config;
        let prompt = |name: &str| {
            config
                .prompt(name)
                .cloned()
                .ok_or_else(|| CommandError::UnknownPrompt {
                    name: name.to_owned(),
                })
        };
        Ok(match source {
            PlaySource::Prompt(name) => Source::Prompt(prompt(&name)?),
            PlaySource::Music(name) => Source::Music(prompt(&name)?),
            PlaySource::Prompts(names) => {
                if names.is_empty() || names.len() > MAX_SEQUENCE {
                    return Err(CommandError::Sequence {
                        count: names.len(),
                        limit: MAX_SEQUENCE,
                    });
                }
                let parts = names
                    .iter()
                    .map(|n| prompt(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Source::Sequence(parts)
            }
            PlaySource::Tone(name) => {
                let kind = match name.as_str() {
                    "ringback" => ToneKind::Ringback,
                    "busy" => ToneKind::Busy,
                    "beep" => ToneKind::Beep,
                    "sit" => ToneKind::Sit,
                    _ => return Err(CommandError::UnknownTone { name }),
                };
                Source::Tone(play::tone::shared(config.media.tone_profile, kind))
            }
            // A source added to the contract later that this edge cannot play.
            #[allow(unreachable_patterns)]
            _ => {
                return Err(CommandError::UnknownPrompt {
                    name: String::new(),
                });
            }
        })
    }

    /// `StopMedia`.
    pub(crate) fn stop_media_command(&mut self, leg: LegId) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_live() {
            return Err(CommandError::UnknownLeg { leg });
        }
        let ep = l.endpoint.ok_or(CommandError::NoMedia { leg })?;
        if let Some(l) = self.leg_mut(leg) {
            l.info_digits.clear();
        }
        self.media.media_op(ep, EndpointOp::Stop);
        Ok(())
    }

    /// `SendDigits`: RFC 4733 where the leg has telephone-event, else INFO.
    pub(crate) fn send_digits_command(
        &mut self,
        leg: LegId,
        digits: Vec<Digit>,
        duration: Option<Duration>,
    ) -> Result<(), CommandError> {
        if digits.is_empty() || digits.len() > MAX_DIGITS {
            return Err(CommandError::Digits {
                count: digits.len(),
                limit: MAX_DIGITS,
            });
        }
        let duration = duration.unwrap_or(DEFAULT_DIGIT_DURATION);
        if !DIGIT_DURATION.contains(&duration) {
            return Err(CommandError::DigitDuration {
                ms: duration.as_millis(),
            });
        }
        let ep = self.media_leg(leg)?;
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if l.format.and_then(|f| f.telephone_event).is_some() {
            self.media
                .media_op(ep, EndpointOp::SendDigits { digits, duration });
            return Ok(());
        }
        if l.sig.dialog.is_none() {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "a dialog to send INFO in",
            });
        }
        if l.info_digits.len() + digits.len() > MAX_DIGITS {
            return Err(CommandError::Digits {
                count: l.info_digits.len() + digits.len(),
                limit: MAX_DIGITS,
            });
        }
        if let Some(l) = self.leg_mut(leg) {
            l.info_digits
                .extend(digits.into_iter().map(|d| (d, duration)));
        }
        self.send_info_digit(leg);
        Ok(())
    }

    /// Sends the next queued INFO digit on `leg`, unless one is in flight:
    /// one at a time, so that they cannot overtake each other (§12.2.2
    /// would have the peer refuse an INFO that overtook an earlier one).
    fn send_info_digit(&mut self, leg: LegId) {
        let Some(l) = self.leg_mut(leg) else { return };
        if l.info_pending || !l.is_live() {
            return;
        }
        let Some((digit, duration)) = l.info_digits.pop_front() else {
            return;
        };
        let to = l.sig.in_dialog_peer();
        let tls_name = l.sig.tls_name.clone();
        let Some(dialog) = l.sig.dialog.as_mut() else {
            return;
        };
        let body = format!(
            "Signal={}\r\nDuration={}\r\n",
            digit.as_char(),
            duration.as_millis()
        );
        let Ok(request) = dialog
            .request(Method::Info)
            .body("application/dtmf-relay", body.as_bytes())
            .build_message()
        else {
            return;
        };
        l.info_pending = true;
        let tx = TxId::next();
        self.own.insert(tx, Own::InfoDigit(leg));
        self.push(Action::Send {
            tx,
            request,
            to,
            tls_name,
        });
    }

    /// Our INFO digit on `leg` was answered (or failed): the next one goes.
    pub(crate) fn info_digit_answered(&mut self, leg: LegId) {
        if let Some(l) = self.leg_mut(leg) {
            l.info_pending = false;
        }
        self.send_info_digit(leg);
    }

    /// Whether an INFO carries a DTMF body.
    pub(crate) fn is_dtmf_info(&self, request: &Message) -> bool {
        request.content_type().is_some_and(|ct| {
            let mime = ct.split(';').next().unwrap_or("").trim();
            DTMF_TYPES.iter().any(|t| mime.eq_ignore_ascii_case(t))
        })
    }

    /// A DTMF INFO on `leg`: its digit is reported (and stops a `barge_in`
    /// playback); between linked legs the INFO still goes end to end, else
    /// voxgate answers 200.
    pub(crate) fn on_dtmf_info(
        &mut self,
        leg: LegId,
        tx: TxId,
        request: Message,
        link: Option<LegId>,
    ) {
        let parsed = info::parse(request.content_type().unwrap_or(""), request.body());
        match parsed {
            Ok(d) => {
                if let Some(ep) = self.leg(leg).and_then(|l| l.endpoint) {
                    self.media.media_op(ep, EndpointOp::BargeIn);
                }
                self.event(Event::Digits {
                    leg,
                    digit: d.digit,
                    duration: d.duration.unwrap_or_default(),
                    source: DigitSource::Info,
                });
            }
            Err(e) => tracing::debug!(%leg, error = %e, "INFO with a DTMF type but no digit"),
        }
        match link {
            Some(to) => self.relay(leg, to, tx, request, Method::Info),
            None => self.respond_to(tx, &request, 200, Some(leg)),
        }
    }

    /// An event of an endpoint's media.
    pub(crate) fn on_media(&mut self, now: Instant, ep: EndpointId, event: MediaEvent) {
        if event == MediaEvent::Overflow {
            // The actor fell behind its own media task: end rather than lose digits.
            self.hang_up_all(now, Side::Edge, EndCause::ControlOverflow, None);
            return;
        }
        // By recording id: a writer reports after its endpoint has gone.
        if self.on_recording_event(event) {
            return;
        }
        // An endpoint already closed: its leg's playback was reported then.
        let Some(leg) = self
            .legs
            .iter()
            .find(|l| l.endpoint == Some(ep))
            .map(|l| l.id)
        else {
            return;
        };
        match event {
            MediaEvent::Digit {
                digit,
                duration,
                source,
            } => self.event(Event::Digits {
                leg,
                digit,
                duration,
                source,
            }),
            MediaEvent::PlaybackDone(done) => {
                let id = PlaybackId(u32::try_from(done.id.0).unwrap_or(u32::MAX));
                if let Some(l) = self.leg_mut(leg)
                    && l.playing == Some(id)
                {
                    l.playing = None;
                }
                let reason = match done.reason {
                    StopReason::Finished => PlaybackEnd::Finished,
                    StopReason::Stopped => PlaybackEnd::Stopped,
                    StopReason::BargeIn => PlaybackEnd::BargeIn,
                    StopReason::Replaced => PlaybackEnd::Replaced,
                };
                self.event(Event::PlaybackDone { leg, id, reason });
            }
            MediaEvent::DigitsRefused { count } => self.event(Event::Error {
                command: "send_digits",
                error: CommandError::Digits {
                    count,
                    limit: MAX_DIGITS,
                },
            }),
            _ => {}
        }
    }

    /// `leg`'s endpoint closes: a playback still going ends as stopped
    /// (its endpoint will not say so any more); its recordings end (their
    /// writers will say when the files are complete).
    pub(crate) fn media_closing(&mut self, leg: LegId) {
        self.recordings_closing(leg);
        let Some(l) = self.leg_mut(leg) else { return };
        l.info_digits.clear();
        if let Some(id) = l.playing.take() {
            self.event(Event::PlaybackDone {
                leg,
                id,
                reason: PlaybackEnd::Stopped,
            });
        }
    }
}
