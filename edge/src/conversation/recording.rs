//! Recordings of legs: `Record` is checked here and handed to the leg's
//! endpoint with the file to write (`[media] recordings_dir`, named by the
//! conversation's start and id, the leg and the recording); pause, resume
//! and stop go to the endpoint by recording id; the writer's reports
//! (file created, complete, failed) become `RecordingStarted` and
//! `RecordingDone`. A recording outlives its leg by the moment its writer
//! takes to complete the file: an ending conversation waits for that (at
//! most [`RECORDING_WAIT`]) before its `Ended`, so that every recording's
//! outcome, and the CDR's list of them, is known.

use super::*;
use crate::control_plane::{
    RECORDING_WAIT, RecordLayout, RecordingEnd, RecordingFailure, RecordingId,
};
use voxgate_media::record::{Layout, RecordTarget, recording_path};
use voxgate_media::{EndpointOp, MediaEvent, RecordRequest};

/// One recording of the conversation, from its `Record` to its end.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub id: RecordingId,
    pub leg: LegId,
    pub layout: RecordLayout,
    pub ep: EndpointId,
    pub file: String,
    /// Why it is ending, once decided (stop asked, its leg ended) and
    /// before its writer says the file is complete.
    pub ending: Option<RecordingEnd>,
    /// Over (`RecordingDone` was sent): how, and the audio's length.
    pub done: Option<(RecordingEnd, Option<Duration>)>,
}

/// What a command asks of a recording in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordingOp {
    Pause,
    Resume,
    Stop,
}

/// The endpoint's id of a recording: the conversation's, widened.
fn media_id(id: RecordingId) -> voxgate_media::endpoint::RecordingId {
    voxgate_media::endpoint::RecordingId(u64::from(id.0))
}

impl<M: MediaControl> Conversation<M> {
    /// The next recording's id: every `Record` takes one, refused or not.
    pub(crate) fn take_record_id(&mut self) -> RecordingId {
        self.record_ids += 1;
        RecordingId(self.record_ids)
    }

    /// `Record`.
    pub(crate) fn record_command(
        &mut self,
        id: RecordingId,
        leg: LegId,
        layout: RecordLayout,
    ) -> Result<(), CommandError> {
        // An operator's kill switch (or its error rate) turned recording off.
        if self.ctx.health.is_recording_off() {
            return Err(CommandError::RecordingOff);
        }
        let folder = self
            .ctx
            .config
            .media
            .recordings_dir
            .clone()
            .ok_or(CommandError::RecordingOff)?;
        let ep = self.media_leg(leg)?;
        if self
            .leg(leg)
            .and_then(|l| l.format)
            .and_then(|f| f.voice)
            .is_none()
        {
            return Err(CommandError::NoCodec { leg });
        }
        if let Some(r) = self
            .recordings
            .iter()
            .find(|r| r.leg == leg && r.ending.is_none() && r.done.is_none())
        {
            return Err(CommandError::AlreadyRecording { leg, id: r.id });
        }
        let stem = format!("{}-{}", utc_stamp(self.ctx.started), self.ctx.id);
        let path = recording_path(&folder, &stem, RecordTarget::Leg(leg.0), id.0);
        let file = path.display().to_string();
        self.media.record(
            ep,
            RecordRequest {
                id: media_id(id),
                layout: match layout {
                    RecordLayout::Stereo => Layout::Stereo,
                    // Mono, and a layout added to the contract later.
                    _ => Layout::Mono,
                },
                path,
            },
        );
        self.recordings.push(Recording {
            id,
            leg,
            layout,
            ep,
            file,
            ending: None,
            done: None,
        });
        Ok(())
    }

    /// `PauseRecording`, `ResumeRecording`, `StopRecording`.
    pub(crate) fn recording_command(
        &mut self,
        id: RecordingId,
        op: RecordingOp,
    ) -> Result<(), CommandError> {
        let r = self
            .recordings
            .iter_mut()
            .find(|r| r.id == id && r.ending.is_none() && r.done.is_none())
            .ok_or(CommandError::UnknownRecording { id })?;
        let ep = r.ep;
        let op = match op {
            RecordingOp::Pause => EndpointOp::PauseRecording(media_id(id)),
            RecordingOp::Resume => EndpointOp::ResumeRecording(media_id(id)),
            RecordingOp::Stop => {
                r.ending = Some(RecordingEnd::Stopped);
                EndpointOp::StopRecording(media_id(id))
            }
        };
        self.media.media_op(ep, op);
        Ok(())
    }

    /// A recording writer's report; false for any other media event.
    pub(crate) fn on_recording_event(&mut self, event: MediaEvent) -> bool {
        let (id, outcome) = match event {
            MediaEvent::RecordingStarted { id } => (id, None),
            MediaEvent::RecordingDone { id, samples, .. } => {
                let duration = Duration::from_millis(samples.saturating_mul(1000) / 8000);
                (id, Some(Ok(duration)))
            }
            MediaEvent::RecordingFailed { id, kind } => {
                (id, Some(Err(RecordingFailure::from_io(kind))))
            }
            _ => return false,
        };
        let Some(i) = self
            .recordings
            .iter()
            .position(|r| media_id(r.id) == id && r.done.is_none())
        else {
            // Reported already (given up on at the end).
            return true;
        };
        let r = &self.recordings[i];
        let (leg, id, file) = (r.leg, r.id, r.file.clone());
        match outcome {
            None => self.event(Event::RecordingStarted { leg, id, file }),
            Some(Ok(duration)) => {
                // Complete without a stop: its endpoint went, with its leg.
                let reason = r.ending.unwrap_or(RecordingEnd::LegEnded);
                self.recording_done(i, reason, Some(duration));
            }
            Some(Err(error)) => {
                self.recording_done(i, RecordingEnd::Failed(error), None);
            }
        }
        true
    }

    fn recording_done(&mut self, i: usize, reason: RecordingEnd, duration: Option<Duration>) {
        let Some(r) = self.recordings.get_mut(i) else {
            return;
        };
        r.done = Some((reason, duration));
        let (leg, id, file) = (r.leg, r.id, r.file.clone());
        if !self.recordings_pending() {
            // Nothing left to wait for: no wake-up for nothing.
            self.recordings_deadline = None;
        }
        self.event(Event::RecordingDone {
            leg,
            id,
            reason,
            file,
            duration,
        });
    }

    /// `leg`'s endpoint closes: its recordings end with it (their writers
    /// complete the files and report).
    pub(crate) fn recordings_closing(&mut self, leg: LegId) {
        for r in &mut self.recordings {
            if r.leg == leg && r.done.is_none() && r.ending.is_none() {
                r.ending = Some(RecordingEnd::LegEnded);
            }
        }
    }

    /// Whether a recording's outcome is still to come.
    pub(crate) fn recordings_pending(&self) -> bool {
        self.recordings.iter().any(|r| r.done.is_none())
    }

    /// The conversation is ending: its recordings get [`RECORDING_WAIT`]
    /// for their files to be complete.
    pub(crate) fn wait_for_recordings(&mut self, now: Instant) {
        if self.recordings_pending() {
            self.recordings_deadline = Some(now + RECORDING_WAIT);
        }
    }

    /// The wait is over (or the conversation ends now): a recording whose
    /// writer has not reported is reported without a duration.
    pub(crate) fn give_up_on_recordings(&mut self) {
        self.recordings_deadline = None;
        for i in 0..self.recordings.len() {
            if self.recordings[i].done.is_none() {
                let reason = self.recordings[i].ending.unwrap_or(RecordingEnd::LegEnded);
                self.recording_done(i, reason, None);
            }
        }
    }
}

/// `2026-12-04T10:41:26Z` as `20261204T104126Z`: sortable, and no `:` in a
/// file name.
pub(crate) fn utc_stamp(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}
