//! The JSON of every event, cause, failure and command error.

use serde_json::{Value, json};
use voxgate_config::TrunkName;
use voxgate_edge::control_plane::{
    CommandError, ConversationId, DialId, EndCause, Event, Inbound, LegFailure, LegId, Party, Side,
};
use voxgate_edge::handle::StampedEvent;

use super::{EventBody, EventMessage, InboundView};

fn json_of(event: Event) -> Value {
    let stamped = StampedEvent {
        conversation: ConversationId(17),
        event,
    };
    match serde_json::to_value(EventMessage::from(&stamped)) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_event() {
    let cases = [
        (
            Event::LegCreated {
                leg: LegId(2),
                dial: Some(DialId(1)),
                uri: "sip:1000@192.0.2.5".into(),
            },
            json!({"conversation": "c17", "type": "leg_created", "leg": 2, "dial": 1, "uri": "sip:1000@192.0.2.5"}),
        ),
        (
            Event::LegCreated {
                leg: LegId(3),
                dial: None,
                uri: "sip:svc@192.0.2.1".into(),
            },
            json!({"conversation": "c17", "type": "leg_created", "leg": 3, "uri": "sip:svc@192.0.2.1"}),
        ),
        (
            Event::LegRinging {
                leg: LegId(2),
                early_media: true,
            },
            json!({"conversation": "c17", "type": "leg_ringing", "leg": 2, "early_media": true}),
        ),
        (
            Event::LegAnswered {
                leg: LegId(1),
                early: false,
            },
            json!({"conversation": "c17", "type": "leg_answered", "leg": 1, "early": false}),
        ),
        (
            Event::LegFailed {
                leg: LegId(2),
                failure: LegFailure::Status(486),
            },
            json!({"conversation": "c17", "type": "leg_failed", "leg": 2, "failure": "status", "status": 486}),
        ),
        (
            Event::LegFailed {
                leg: LegId(2),
                failure: LegFailure::BadDestination,
            },
            json!({"conversation": "c17", "type": "leg_failed", "leg": 2, "failure": "bad_destination"}),
        ),
        (
            Event::LegEnded {
                leg: LegId(1),
                side: Side::Caller,
                cause: EndCause::Normal,
            },
            json!({"conversation": "c17", "type": "leg_ended", "leg": 1, "side": "caller", "cause": "normal"}),
        ),
        (
            Event::LegEnded {
                leg: LegId(1),
                side: Side::Control,
                cause: EndCause::Rejected(486),
            },
            json!({"conversation": "c17", "type": "leg_ended", "leg": 1, "side": "control", "cause": "rejected", "status": 486}),
        ),
        (
            Event::DialFailed {
                dial: DialId(2),
                status: 500,
            },
            json!({"conversation": "c17", "type": "dial_failed", "dial": 2, "status": 500}),
        ),
        (
            Event::Bridged {
                a: LegId(1),
                b: LegId(2),
            },
            json!({"conversation": "c17", "type": "bridged", "a": 1, "b": 2}),
        ),
        (
            Event::Unbridged {
                a: LegId(1),
                b: LegId(2),
            },
            json!({"conversation": "c17", "type": "unbridged", "a": 1, "b": 2}),
        ),
        (
            Event::Held {
                leg: LegId(1),
                by: Side::Callee,
            },
            json!({"conversation": "c17", "type": "held", "leg": 1, "by": "callee"}),
        ),
        (
            Event::Resumed {
                leg: LegId(1),
                by: Side::Control,
            },
            json!({"conversation": "c17", "type": "resumed", "leg": 1, "by": "control"}),
        ),
        (
            Event::TransferRequested {
                leg: LegId(2),
                target: "sip:2002@192.0.2.7".into(),
                replaces: None,
            },
            json!({"conversation": "c17", "type": "transfer_requested", "leg": 2, "target": "sip:2002@192.0.2.7"}),
        ),
        (
            Event::TransferRequested {
                leg: LegId(2),
                target: "sip:b@192.0.2.9".into(),
                replaces: Some("abc@host;to-tag=t1;from-tag=f1".into()),
            },
            json!({"conversation": "c17", "type": "transfer_requested", "leg": 2, "target": "sip:b@192.0.2.9", "replaces": "abc@host;to-tag=t1;from-tag=f1"}),
        ),
        (
            Event::LegReplaced {
                old: LegId(2),
                new: LegId(4),
            },
            json!({"conversation": "c17", "type": "leg_replaced", "old": 2, "new": 4}),
        ),
        (
            Event::Error {
                command: "bridge",
                error: CommandError::SameLeg { leg: LegId(1) },
            },
            json!({"conversation": "c17", "type": "error", "command": "bridge",
                   "error": {"kind": "same_leg", "leg": 1, "message": "leg 1 cannot be bridged with itself"}}),
        ),
        (
            Event::Ended {
                side: Side::Edge,
                cause: EndCause::MediaTimeout,
            },
            json!({"conversation": "c17", "type": "ended", "side": "edge", "cause": "media_timeout"}),
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(json_of(event), expected);
    }
}

#[test]
fn every_end_cause_and_side() {
    let causes = [
        (EndCause::Normal, "normal"),
        (EndCause::Cancelled, "cancelled"),
        (EndCause::MediaTimeout, "media_timeout"),
        (EndCause::SessionExpired, "session_expired"),
        (EndCause::NoAck, "no_ack"),
        (EndCause::Shutdown, "shutdown"),
        (EndCause::ControlLost, "control_lost"),
        (EndCause::ControlOverflow, "control_overflow"),
        (EndCause::Replaced, "replaced"),
        (EndCause::Transferred, "transferred"),
        (EndCause::Idle, "idle"),
    ];
    for (cause, name) in causes {
        assert_eq!(super::cause(cause), (name, None));
    }
    assert_eq!(
        super::cause(EndCause::Rejected(603)),
        ("rejected", Some(603))
    );
    let sides = [
        (Side::Caller, "caller"),
        (Side::Callee, "callee"),
        (Side::Edge, "edge"),
        (Side::Control, "control"),
    ];
    for (side, name) in sides {
        assert_eq!(super::side(side), name);
    }
}

#[test]
fn every_leg_failure() {
    let failures = [
        (LegFailure::Timeout, "timeout"),
        (LegFailure::Transport, "transport"),
        (LegFailure::BadDestination, "bad_destination"),
        (LegFailure::Cancelled, "cancelled"),
        (LegFailure::NoMedia, "no_media"),
    ];
    for (failure, name) in failures {
        assert_eq!(super::failure(failure), (name, None));
    }
    assert_eq!(
        super::failure(LegFailure::Status(404)),
        ("status", Some(404))
    );
}

#[test]
fn every_command_error() {
    let cases = [
        (
            CommandError::UnknownLeg { leg: LegId(9) },
            json!({"kind": "unknown_leg", "leg": 9}),
        ),
        (
            CommandError::LegState {
                leg: LegId(2),
                state: "ringing",
                wanted: "an answered leg",
            },
            json!({"kind": "leg_state", "leg": 2, "state": "ringing", "wanted": "an answered leg"}),
        ),
        (
            CommandError::SameLeg { leg: LegId(1) },
            json!({"kind": "same_leg", "leg": 1}),
        ),
        (
            CommandError::Destinations {
                count: 0,
                limit: 16,
            },
            json!({"kind": "destinations", "count": 0, "limit": 16}),
        ),
        (
            CommandError::RingTimeout { ms: 500 },
            json!({"kind": "ring_timeout", "ms": 500}),
        ),
        (
            CommandError::Status {
                status: 200,
                allowed: "400..=699",
            },
            json!({"kind": "status", "status": 200, "allowed": "400..=699"}),
        ),
        (
            CommandError::NoTransfer { leg: LegId(2) },
            json!({"kind": "no_transfer", "leg": 2}),
        ),
        (
            CommandError::NoCommonCodec {
                a: LegId(1),
                b: LegId(2),
            },
            json!({"kind": "no_common_codec", "a": 1, "b": 2}),
        ),
        (
            CommandError::NoMedia { leg: LegId(3) },
            json!({"kind": "no_media", "leg": 3}),
        ),
        (
            CommandError::NoPorts { leg: LegId(3) },
            json!({"kind": "no_ports", "leg": 3}),
        ),
    ];
    for (error, mut expected) in cases {
        let message = error.to_string();
        if let Some(object) = expected.as_object_mut() {
            object.insert("message".into(), Value::String(message));
        }
        let got = json_of(Event::Error {
            command: "answer",
            error,
        });
        assert_eq!(got["error"], expected);
        assert_eq!(got["command"], "answer");
    }
}

#[test]
fn conversation_started_and_lagged() {
    let party = |user: &str| Party {
        display: Some("Alice".into()),
        user: Some(user.into()),
        uri: format!("sip:{user}@192.0.2.1"),
    };
    let Some(trunk) = TrunkName::new("pstn") else {
        panic!("a valid trunk name");
    };
    let inbound = Inbound::new(
        LegId(1),
        trunk,
        "eu".into(),
        party("+442071234567"),
        party("7001"),
        Some("7001".into()),
    );
    let message = EventMessage {
        conversation: Some("c3".into()),
        body: EventBody::ConversationStarted {
            control: "api",
            inbound: Some(InboundView::from(&inbound)),
        },
    };
    assert_eq!(
        serde_json::to_value(&message).ok(),
        Some(json!({
            "conversation": "c3",
            "type": "conversation_started",
            "control": "api",
            "inbound": {
                "leg": 1,
                "trunk": "pstn",
                "region": "eu",
                "from": {"display": "Alice", "user": "+442071234567", "uri": "sip:+442071234567@192.0.2.1"},
                "to": {"display": "Alice", "user": "7001", "uri": "sip:7001@192.0.2.1"},
                "request_user": "7001",
                "headers": []
            }
        }))
    );
    let originated = EventMessage {
        conversation: Some("c4".into()),
        body: EventBody::ConversationStarted {
            control: "api",
            inbound: None,
        },
    };
    assert_eq!(
        serde_json::to_value(&originated).ok(),
        Some(json!({"conversation": "c4", "type": "conversation_started", "control": "api"}))
    );
    let lagged = EventMessage {
        conversation: None,
        body: EventBody::Lagged { missed: 12 },
    };
    assert_eq!(
        serde_json::to_value(&lagged).ok(),
        Some(json!({"type": "lagged", "missed": 12}))
    );
}

#[test]
fn digits_and_playback_ends() {
    use std::time::Duration;
    use voxgate_edge::control_plane::{Digit, DigitSource, PlaybackEnd, PlaybackId};
    assert_eq!(
        json_of(Event::Digits {
            leg: LegId(1),
            digit: Digit::Pound,
            duration: Duration::from_millis(160),
            source: DigitSource::Rfc4733,
        }),
        json!({"conversation": "c17", "type": "digits", "leg": 1, "digit": "#", "duration_ms": 160, "source": "rfc4733"})
    );
    assert_eq!(
        json_of(Event::PlaybackDone {
            leg: LegId(2),
            id: PlaybackId(3),
            reason: PlaybackEnd::BargeIn,
        }),
        json!({"conversation": "c17", "type": "playback_done", "leg": 2, "id": 3, "reason": "barge_in"})
    );
    assert_eq!(
        json_of(Event::Error {
            command: "play",
            error: CommandError::UnknownPrompt { name: "x".into() },
        }),
        json!({"conversation": "c17", "type": "error", "command": "play", "error": {
            "kind": "unknown_prompt", "name": "x", "message": "no prompt is called \"x\""}})
    );
}

#[test]
fn recordings_started_done_and_refused() {
    use std::time::Duration;
    use voxgate_edge::control_plane::{RecordingEnd, RecordingFailure, RecordingId};
    let file = "/var/rec/20261204T104126Z-c17-leg1-2.wav".to_owned();
    assert_eq!(
        json_of(Event::RecordingStarted {
            leg: LegId(1),
            id: RecordingId(2),
            file: file.clone(),
        }),
        json!({"conversation": "c17", "type": "recording_started", "leg": 1, "id": 2, "file": file})
    );
    assert_eq!(
        json_of(Event::RecordingDone {
            leg: LegId(1),
            id: RecordingId(2),
            reason: RecordingEnd::Stopped,
            file: file.clone(),
            duration: Some(Duration::from_millis(4020)),
        }),
        json!({"conversation": "c17", "type": "recording_done", "leg": 1, "id": 2,
            "reason": "stopped", "file": file, "duration_ms": 4020})
    );
    assert_eq!(
        json_of(Event::RecordingDone {
            leg: LegId(1),
            id: RecordingId(3),
            reason: RecordingEnd::Failed(RecordingFailure::DiskFull),
            file: file.clone(),
            duration: None,
        }),
        json!({"conversation": "c17", "type": "recording_done", "leg": 1, "id": 3,
            "reason": "failed", "error": "disk_full", "file": file, "duration_ms": null})
    );
    for (error, detail) in [
        (
            CommandError::RecordingOff,
            json!({"kind": "recording_off",
                "message": "recording is off: no [media] recordings_dir is configured, or its kill switch is off"}),
        ),
        (
            CommandError::AlreadyRecording {
                leg: LegId(1),
                id: RecordingId(2),
            },
            json!({"kind": "already_recording", "leg": 1, "id": 2,
                "message": "leg 1 is being recorded already (recording 2)"}),
        ),
        (
            CommandError::UnknownRecording { id: RecordingId(9) },
            json!({"kind": "unknown_recording", "id": 9,
                "message": "no recording 9 is in progress"}),
        ),
    ] {
        assert_eq!(
            json_of(Event::Error {
                command: "record",
                error,
            }),
            json!({"conversation": "c17", "type": "error", "command": "record", "error": detail})
        );
    }
}

#[test]
fn conference_events_and_errors() {
    use voxgate_edge::control_plane::{ConferenceId, ConferenceRole};
    assert_eq!(
        json_of(Event::ConferenceJoined {
            conference: ConferenceId(1),
            leg: LegId(3),
            role: ConferenceRole::Listener,
            muted: false,
        }),
        json!({"conversation": "c17", "type": "conference_joined", "conference": 1, "leg": 3,
               "role": "listener", "muted": false})
    );
    assert_eq!(
        json_of(Event::ConferenceUpdated {
            conference: ConferenceId(1),
            leg: LegId(2),
            role: ConferenceRole::Speaker,
            muted: true,
        }),
        json!({"conversation": "c17", "type": "conference_updated", "conference": 1, "leg": 2,
               "role": "speaker", "muted": true})
    );
    assert_eq!(
        json_of(Event::ConferenceLeft {
            conference: ConferenceId(1),
            leg: LegId(2),
        }),
        json!({"conversation": "c17", "type": "conference_left", "conference": 1, "leg": 2})
    );
    for (error, detail) in [
        (
            CommandError::ConferenceSize {
                count: 17,
                limit: 16,
            },
            json!({"kind": "conference_size", "count": 17, "limit": 16,
                   "message": "a conference holds 1 to 16 legs, not 17"}),
        ),
        (
            CommandError::UnknownConference {
                conference: ConferenceId(4),
            },
            json!({"kind": "unknown_conference", "conference": 4,
                   "message": "no conference 4 in this conversation"}),
        ),
        (
            CommandError::NotInConference { leg: LegId(2) },
            json!({"kind": "not_in_conference", "leg": 2,
                   "message": "leg 2 is in no conference"}),
        ),
    ] {
        assert_eq!(
            json_of(Event::Error {
                command: "mute",
                error,
            }),
            json!({"conversation": "c17", "type": "error", "command": "mute", "error": detail})
        );
    }
}
