//! Recordings on the virtual clock, with `NoMedia`: `Record` checked at the
//! boundary and handed to the leg's endpoint with its file, pause, resume
//! and stop by id, the writer's reports turned into `RecordingStarted` and
//! `RecordingDone`, a full disk ending the recording and not the call, and
//! an ending conversation waiting for its files (bounded) before `Ended`.

use super::*;
use crate::control_plane::{
    RECORDING_WAIT, RecordLayout, RecordingEnd, RecordingFailure, RecordingId,
};
use crate::conversation::record::WallClock;
use voxgate_media::endpoint::RecordingId as MediaId;
use voxgate_media::record::Layout;
use voxgate_media::{EndpointOp, MediaEvent, RecordRequest};

/// The recordings folder of the tests' config (one per process).
fn folder() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("voxgate-edge-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
    .clone()
}

fn recording_calls() -> String {
    format!(
        "{CALLS}\n[media]\nrecordings_dir = \"{}\"\n",
        folder().display()
    )
}

fn cmd(h: &mut Harness, command: Command) -> Out {
    h.feed(Input::Command(command))
}

/// The caller answered by voxgate (its ACK received), with `calls`.
fn answered(calls: &str) -> Harness {
    Harness::answered_by_voxgate(calls, SDP_A)
}

fn ep(h: &Harness) -> EndpointId {
    h.call.leg(LegId(1)).unwrap().endpoint.unwrap()
}

fn record(layout: RecordLayout) -> Command {
    Command::Record {
        leg: LegId(1),
        layout,
    }
}

fn errors(out: &Out) -> Vec<CommandError> {
    out.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Error { error, .. } => Some(error),
            _ => None,
        })
        .collect()
}

fn writer(h: &mut Harness, event: MediaEvent) -> Out {
    let ep = EndpointId(0);
    h.feed(Input::Media { ep, event })
}

fn done(id: u64, seconds: u64) -> MediaEvent {
    MediaEvent::RecordingDone {
        id: MediaId(id),
        samples: 8000 * seconds,
        dropped_frames: 0,
    }
}

/// The file of recording `n` of leg 1 of the test conversation (c7, started
/// 2026-06-01T08:00:00Z).
fn file(n: u32) -> String {
    folder()
        .join(format!("20260601T080000Z-c7-leg1-{n}.wav"))
        .display()
        .to_string()
}

#[test]
fn a_leg_is_recorded_paused_resumed_and_stopped_by_id() {
    let mut h = answered(&recording_calls());
    let out = cmd(&mut h, record(RecordLayout::Stereo));
    assert!(out.events().is_empty(), "{:?}", out.events());
    // The endpoint is given the file: named by the conversation's start, its
    // id, the leg and the recording.
    assert_eq!(
        h.call.media.records,
        [(
            ep(&h),
            RecordRequest {
                id: MediaId(1),
                layout: Layout::Stereo,
                path: file(1).into(),
            }
        )]
    );
    // Started once the writer created the file.
    let out = writer(&mut h, MediaEvent::RecordingStarted { id: MediaId(1) });
    assert_eq!(
        out.events(),
        [Event::RecordingStarted {
            leg: LegId(1),
            id: RecordingId(1),
            file: file(1),
        }]
    );
    // A card number: paused, then resumed; then stopped.
    let id = RecordingId(1);
    for command in [
        Command::PauseRecording { id },
        Command::ResumeRecording { id },
        Command::StopRecording { id },
    ] {
        let out = cmd(&mut h, command);
        assert!(out.events().is_empty(), "{:?}", out.events());
    }
    let ops: Vec<EndpointOp> = h.call.media.ops.iter().map(|(_, op)| op.clone()).collect();
    assert_eq!(
        ops[ops.len() - 3..],
        [
            EndpointOp::PauseRecording(MediaId(1)),
            EndpointOp::ResumeRecording(MediaId(1)),
            EndpointOp::StopRecording(MediaId(1)),
        ]
    );
    // Done once the writer completed the file: 3 s of audio.
    let out = writer(&mut h, done(1, 3));
    assert_eq!(
        out.events(),
        [Event::RecordingDone {
            leg: LegId(1),
            id,
            reason: RecordingEnd::Stopped,
            file: file(1),
            duration: Some(Duration::from_secs(3)),
        }]
    );
    // Over: nothing more can be asked of it, and the leg may be recorded again.
    let out = cmd(&mut h, Command::StopRecording { id });
    assert_eq!(errors(&out), [CommandError::UnknownRecording { id }]);
    let out = cmd(&mut h, record(RecordLayout::Mono));
    assert!(errors(&out).is_empty());
    assert_eq!(
        h.call.media.records.last().map(|(_, r)| (r.id, r.layout)),
        Some((MediaId(2), Layout::Mono))
    );
}

#[test]
fn recording_kill_switch_off_refuses_new_recordings() {
    let mut h = answered(&recording_calls());
    h.call.ctx.health.set_recording(false);
    let out = cmd(&mut h, record(RecordLayout::Mono));
    assert_eq!(errors(&out), [CommandError::RecordingOff]);
    assert!(h.call.media.records.is_empty());
    // Back on: recorded.
    h.call.ctx.health.set_recording(true);
    let out = cmd(&mut h, record(RecordLayout::Mono));
    assert!(errors(&out).is_empty());
    assert_eq!(h.call.media.records.len(), 1);
}

#[test]
fn record_commands_are_checked_at_the_boundary_and_take_their_ids() {
    // No recordings_dir: recording is off.
    let mut h = answered(CALLS);
    let out = cmd(&mut h, record(RecordLayout::Stereo));
    assert_eq!(errors(&out), [CommandError::RecordingOff]);
    assert!(h.call.media.records.is_empty());

    let (mut h, _) = Harness::with_invite(&recording_calls(), a_invite(Some(SDP_A), ""));
    let bad = [
        (
            Command::Record {
                leg: LegId(9),
                layout: RecordLayout::Mono,
            },
            CommandError::UnknownLeg { leg: LegId(9) },
        ),
        (
            Command::PauseRecording { id: RecordingId(1) },
            CommandError::UnknownRecording { id: RecordingId(1) },
        ),
    ];
    for (command, error) in bad {
        let out = cmd(&mut h, command);
        assert_eq!(errors(&out), [error]);
    }
    // Not answered yet.
    let out = cmd(&mut h, record(RecordLayout::Mono));
    assert!(matches!(
        errors(&out)[..],
        [CommandError::LegState { leg: LegId(1), .. }]
    ));
    cmd(
        &mut h,
        Command::Answer {
            leg: LegId(1),
            early: false,
        },
    );
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let out = cmd(&mut h, record(RecordLayout::Mono));
    assert!(errors(&out).is_empty());
    // One at a time per leg.
    let out = cmd(&mut h, record(RecordLayout::Stereo));
    assert_eq!(
        errors(&out),
        [CommandError::AlreadyRecording {
            leg: LegId(1),
            id: RecordingId(3),
        }]
    );
    // Refused ones took their ids: the one in progress is the third.
    assert_eq!(
        h.call
            .media
            .records
            .iter()
            .map(|(_, r)| r.id)
            .collect::<Vec<_>>(),
        [MediaId(3)]
    );
    assert!(
        h.call.media.records[0]
            .1
            .path
            .ends_with("20260601T080000Z-c7-leg1-3.wav")
    );
}

#[test]
fn a_full_disk_ends_the_recording_not_the_call() {
    let mut h = answered(&recording_calls());
    cmd(&mut h, record(RecordLayout::Stereo));
    writer(&mut h, MediaEvent::RecordingStarted { id: MediaId(1) });
    let out = writer(
        &mut h,
        MediaEvent::RecordingFailed {
            id: MediaId(1),
            kind: std::io::ErrorKind::StorageFull,
        },
    );
    assert_eq!(
        out.events(),
        [Event::RecordingDone {
            leg: LegId(1),
            id: RecordingId(1),
            reason: RecordingEnd::Failed(RecordingFailure::DiskFull),
            file: file(1),
            duration: None,
        }]
    );
    assert!(
        out.sends().is_empty() && out.ended().is_none(),
        "the call goes on"
    );
    assert!(h.call.leg(LegId(1)).unwrap().is_live());
    // A folder that cannot take the file is the same, told apart.
    cmd(&mut h, record(RecordLayout::Mono));
    let out = writer(
        &mut h,
        MediaEvent::RecordingFailed {
            id: MediaId(2),
            kind: std::io::ErrorKind::PermissionDenied,
        },
    );
    assert!(matches!(
        out.events()[..],
        [Event::RecordingDone {
            reason: RecordingEnd::Failed(RecordingFailure::Unwritable),
            duration: None,
            ..
        }]
    ));
}

#[test]
fn a_recording_whose_leg_ends_is_done_before_ended_and_in_the_cdr() {
    let mut h = answered(&recording_calls());
    cmd(&mut h, record(RecordLayout::Stereo));
    writer(&mut h, MediaEvent::RecordingStarted { id: MediaId(1) });
    // The caller hangs up: the leg ends, the conversation waits for the file.
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    let events = out.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LegEnded { leg: LegId(1), .. })),
        "{events:?}"
    );
    assert!(out.ended().is_none(), "Ended waits for the recording");
    assert!(
        h.call
            .poll_timeout()
            .is_some_and(|t| t <= h.now + RECORDING_WAIT)
    );
    h.advance(Duration::from_millis(300));
    let out = writer(&mut h, done(1, 12));
    assert_eq!(
        out.events(),
        [
            Event::RecordingDone {
                leg: LegId(1),
                id: RecordingId(1),
                reason: RecordingEnd::LegEnded,
                file: file(1),
                duration: Some(Duration::from_secs(12)),
            },
            Event::Ended {
                side: Side::Caller,
                cause: EndCause::Normal
            }
        ]
    );
    let record = out.ended().unwrap();
    assert_eq!(record.recordings.len(), 1);
    let r = &record.recordings[0];
    assert_eq!(
        (r.id, r.leg, r.layout, r.end, r.duration),
        (
            RecordingId(1),
            LegId(1),
            RecordLayout::Stereo,
            Some(RecordingEnd::LegEnded),
            Some(Duration::from_secs(12))
        )
    );
    let json = record.to_json(&WallClock::at(h.start, started()), "n1", true);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["recordings"],
        serde_json::json!([{
            "id": 1, "leg": 1, "layout": "stereo", "file": file(1),
            "reason": "leg_ended", "duration_ms": 12000
        }])
    );
}

#[test]
fn a_writer_that_never_reports_holds_ended_back_only_so_long() {
    let mut h = answered(&recording_calls());
    cmd(&mut h, record(RecordLayout::Mono));
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    assert!(out.ended().is_none());
    let out = h.advance(RECORDING_WAIT - Duration::from_millis(1));
    assert!(out.ended().is_none());
    let out = h.advance(Duration::from_millis(1));
    assert_eq!(
        out.events(),
        [
            Event::RecordingDone {
                leg: LegId(1),
                id: RecordingId(1),
                reason: RecordingEnd::LegEnded,
                file: file(1),
                duration: None,
            },
            Event::Ended {
                side: Side::Caller,
                cause: EndCause::Normal
            }
        ]
    );
    // Its late word changes nothing.
    assert!(writer(&mut h, done(1, 5)).events().is_empty());
}

#[test]
fn a_plain_call_without_recordings_ends_at_once_and_its_cdr_lists_none() {
    let mut h = answered(&recording_calls());
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    let record = out.ended().expect("ended at once");
    assert!(record.recordings.is_empty());
    let json = record.to_json(&WallClock::at(h.start, started()), "n1", true);
    assert!(!json.contains("recordings"), "{json}");
}
