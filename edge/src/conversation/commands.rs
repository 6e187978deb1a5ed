//! The control plane's commands, checked at the boundary: a command that
//! names an unknown leg, asks the impossible or carries an absurd value is
//! answered with `Event::Error` and changes nothing.

use super::recording::RecordingOp;
use super::*;
use crate::control_plane::{Dial, MAX_DESTINATIONS, MAX_RING_TIMEOUT};

impl<M: MediaControl> Conversation<M> {
    pub(super) fn on_command(&mut self, now: Instant, cmd: Command) {
        let name = cmd.name();
        if self.phase != Phase::Active {
            // Ids are taken all the same: the control plane counts them.
            match cmd {
                Command::Play { .. } => self.play_ids += 1,
                Command::Conference { .. } => self.conference_ids += 1,
                Command::Record { .. } => self.record_ids += 1,
                _ => {}
            }
            // The conversation is ending: nothing is left to command.
            if !matches!(cmd, Command::Hangup { .. }) {
                self.event(Event::Error {
                    command: name,
                    error: CommandError::LegState {
                        leg: LegId(0),
                        state: "ending",
                        wanted: "the conversation is ending",
                    },
                });
            }
            return;
        }
        let result = match cmd {
            Command::Reject { status, reason } => self.reject_command(now, status, reason),
            Command::Answer { leg, early } => self.answer_inbound(now, leg, early),
            Command::Dial(dial) => {
                let id = self.take_dial_id();
                self.dial_command(now, id, dial, None).map(|_| ())
            }
            Command::Bridge { a, b } => self.bridge_command(now, a, b),
            Command::Unbridge { leg } => self.unbridge_command(leg),
            Command::Hold { leg } => self.hold_command(now, leg),
            Command::Resume { leg } => self.resume_command(now, leg),
            Command::Hangup { leg, status } => self.hangup_command(now, leg, status),
            Command::AcceptTransfer { leg, dial } => {
                let id = self.take_dial_id();
                self.accept_transfer(now, leg, id, dial)
            }
            Command::RefuseTransfer { leg } => self.refuse_transfer(leg),
            Command::Play {
                leg,
                source,
                barge_in,
            } => {
                self.play_ids += 1;
                let id = crate::control_plane::PlaybackId(self.play_ids);
                self.play_command(now, id, leg, source, barge_in)
            }
            Command::StopMedia { leg } => self.stop_media_command(leg),
            Command::SendDigits {
                leg,
                digits,
                duration,
            } => self.send_digits_command(leg, digits, duration),
            Command::Record { leg, layout } => {
                let id = self.take_record_id();
                self.record_command(id, leg, layout)
            }
            Command::PauseRecording { id } => self.recording_command(id, RecordingOp::Pause),
            Command::ResumeRecording { id } => self.recording_command(id, RecordingOp::Resume),
            Command::StopRecording { id } => self.recording_command(id, RecordingOp::Stop),
            Command::Conference { legs } => {
                self.conference_ids += 1;
                let id = crate::control_plane::ConferenceId(self.conference_ids);
                self.conference_command(now, id, legs)
            }
            Command::JoinConference {
                conference,
                leg,
                role,
            } => self.join_conference_command(now, conference, leg, role),
            Command::LeaveConference { leg } => self.leave_conference_command(leg),
            Command::Mute { leg, muted } => self.mute_command(leg, muted),
            Command::SetRole { leg, role } => self.set_role_command(leg, role),
            // A command added to the contract later that this edge does not know.
            #[allow(unreachable_patterns)]
            _ => Err(CommandError::LegState {
                leg: LegId(0),
                state: "unknown",
                wanted: "a command this edge knows",
            }),
        };
        if let Err(error) = result {
            self.event(Event::Error {
                command: name,
                error,
            });
        }
    }

    /// Checks a dial's values (not the state of the legs it names).
    pub(crate) fn check_dial(&self, dial: &Dial) -> Result<(), CommandError> {
        let count = dial.destinations.len();
        if count == 0 || count > MAX_DESTINATIONS {
            return Err(CommandError::Destinations {
                count,
                limit: MAX_DESTINATIONS,
            });
        }
        if let Some(t) = dial.ring_timeout
            && (t < Duration::from_secs(1) || t > MAX_RING_TIMEOUT)
        {
            return Err(CommandError::RingTimeout { ms: t.as_millis() });
        }
        if let Some(leg) = dial.connect {
            let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
            if !l.is_live() {
                return Err(CommandError::UnknownLeg { leg });
            }
        }
        Ok(())
    }

    /// `Hangup`.
    fn hangup_command(
        &mut self,
        now: Instant,
        leg: Option<LegId>,
        status: Option<u16>,
    ) -> Result<(), CommandError> {
        if let Some(s) = status
            && !(400..=699).contains(&s)
        {
            return Err(CommandError::Status {
                status: s,
                allowed: "400..=699",
            });
        }
        match leg {
            None => {
                self.hang_up_all(now, Side::Control, EndCause::Normal, status);
                Ok(())
            }
            Some(leg) => {
                let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
                if !l.is_live() {
                    return Err(CommandError::UnknownLeg { leg });
                }
                let cause = match status {
                    Some(s) if l.answered_at.is_none() => EndCause::Rejected(s),
                    _ => EndCause::Normal,
                };
                self.hang_up_leg(now, leg, Side::Control, cause, status);
                Ok(())
            }
        }
    }
}
