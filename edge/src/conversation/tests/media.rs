//! What voxgate hears and says on a leg, with `NoMedia`: the negotiated
//! format told to the endpoint, `Play`/`StopMedia`/`SendDigits` checked at
//! the boundary and handed to the endpoint (or sent as INFO), and digits
//! (media events, SIP INFO) and playback ends reported in order.

use super::*;
use crate::control_plane::{Digit, DigitSource, PlaySource, PlaybackEnd, PlaybackId};
use voxgate_media::codec::CodecKind;
use voxgate_media::dtmf::Digit as D;
use voxgate_media::play::{self, StopReason};
use voxgate_media::{EndpointOp, MediaEvent};

/// A prompt file for the tests' config (one per process).
fn prompt_file() -> std::path::PathBuf {
    static FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("voxgate-edge-prompt-{}.wav", std::process::id()));
        let data: Vec<u8> = (0..800u32)
            .flat_map(|i| ((i % 50) as i16 * 300).to_le_bytes())
            .collect();
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&8000u32.to_le_bytes());
        w.extend_from_slice(&16000u32.to_le_bytes());
        w.extend_from_slice(&2u16.to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(data.len() as u32).to_le_bytes());
        w.extend_from_slice(&data);
        std::fs::write(&path, w).unwrap();
        path
    })
    .clone()
}

fn media_calls() -> String {
    format!(
        "{CALLS}\n[media]\ntone_profile = \"uk\"\n\n[[prompt]]\nname = \"welcome\"\nfile = \"{}\"\n",
        prompt_file().display()
    )
}

/// The caller without telephone-event.
const SDP_A_NO_EVENTS: &str = "v=0\r\n\
o=carrier 1000 1 IN IP4 10.1.1.1\r\n\
s=-\r\n\
c=IN IP4 10.1.1.1\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 8\r\n\
a=sendrecv\r\n";

fn cmd(h: &mut Harness, command: Command) -> Out {
    h.feed(Input::Command(command))
}

/// The caller answered by voxgate itself (its ACK received).
fn answered(sdp: &str) -> Harness {
    Harness::answered_by_voxgate(&media_calls(), sdp)
}

fn ep(h: &Harness) -> EndpointId {
    h.call.leg(LegId(1)).unwrap().endpoint.unwrap()
}

fn ops(h: &Harness) -> Vec<EndpointOp> {
    h.call.media.ops.iter().map(|(_, op)| op.clone()).collect()
}

fn play(source: PlaySource, barge_in: bool) -> Command {
    Command::Play {
        leg: LegId(1),
        source,
        barge_in,
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

#[test]
fn the_endpoint_is_told_what_its_leg_negotiated_once() {
    let mut h = answered(SDP_A);
    let formats: Vec<_> = ops(&h)
        .into_iter()
        .filter_map(|op| match op {
            EndpointOp::Format(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(formats.len(), 1, "{formats:?}");
    let f = formats[0].unwrap();
    assert_eq!(f.voice.unwrap().codec, CodecKind::Pcmu);
    assert_eq!(f.telephone_event.unwrap().send.0, 101);
    // An input that changes no SDP tells it nothing again.
    let opts = h.a_request("OPTIONS", "", None);
    h.a_sends(opts);
    assert_eq!(ops(&h).len(), 1);
}

#[test]
fn a_prompt_plays_on_the_leg_and_its_end_is_reported() {
    let mut h = answered(SDP_A);
    let out = cmd(&mut h, play(PlaySource::Prompt("welcome".into()), true));
    assert!(out.events().is_empty(), "{:?}", out.events());
    let EndpointOp::Play {
        id,
        source: play::Source::Prompt(p),
        barge_in: true,
    } = ops(&h).last().cloned().unwrap()
    else {
        panic!("{:?}", ops(&h));
    };
    assert_eq!(id, play::PlaybackId(1));
    assert_eq!(p.samples().len(), 800);
    // The digit that barged in comes after the playback's end, as the endpoint said.
    let ep = ep(&h);
    let out = h.feed(Input::Media {
        ep,
        event: MediaEvent::PlaybackDone(play::PlaybackDone {
            id: play::PlaybackId(1),
            reason: StopReason::BargeIn,
        }),
    });
    let out2 = h.feed(Input::Media {
        ep,
        event: MediaEvent::Digit {
            digit: D::D5,
            duration: Duration::from_millis(120),
            source: DigitSource::Rfc4733,
        },
    });
    let mut events = out.events();
    events.extend(out2.events());
    assert_eq!(
        events,
        [
            Event::PlaybackDone {
                leg: LegId(1),
                id: PlaybackId(1),
                reason: PlaybackEnd::BargeIn
            },
            Event::Digits {
                leg: LegId(1),
                digit: Digit::D5,
                duration: Duration::from_millis(120),
                source: DigitSource::Rfc4733
            },
        ]
    );
    assert_eq!(h.call.leg(LegId(1)).unwrap().playing, None);
}

#[test]
fn sources_resolve_by_name_and_bad_ones_are_errors() {
    let mut h = answered(SDP_A);
    cmd(&mut h, play(PlaySource::Tone("busy".into()), false));
    let Some(EndpointOp::Play {
        id,
        source: play::Source::Tone(t),
        ..
    }) = ops(&h).last().cloned()
    else {
        panic!()
    };
    assert_eq!(id, play::PlaybackId(1));
    // The UK profile's busy tone: 400 Hz, 375 ms on, 375 ms off.
    let uk = play::tone::profile(play::Country::Uk, play::ToneKind::Busy);
    assert_eq!(*t, uk);
    cmd(
        &mut h,
        play(
            PlaySource::Prompts(vec!["welcome".into(), "welcome".into()]),
            false,
        ),
    );
    assert!(matches!(
        ops(&h).last(),
        Some(EndpointOp::Play { id: play::PlaybackId(2), source: play::Source::Sequence(p), .. }) if p.len() == 2
    ));
    cmd(&mut h, play(PlaySource::Music("welcome".into()), false));
    assert!(matches!(
        ops(&h).last(),
        Some(EndpointOp::Play {
            id: play::PlaybackId(3),
            source: play::Source::Music(_),
            ..
        })
    ));
    let before = ops(&h).len();
    let bad = [
        (
            play(PlaySource::Prompt("nope".into()), false),
            CommandError::UnknownPrompt {
                name: "nope".into(),
            },
        ),
        (
            play(PlaySource::Tone("dial".into()), false),
            CommandError::UnknownTone {
                name: "dial".into(),
            },
        ),
        (
            play(PlaySource::Prompts(Vec::new()), false),
            CommandError::Sequence {
                count: 0,
                limit: 32,
            },
        ),
        (
            Command::Play {
                leg: LegId(9),
                source: PlaySource::Prompt("welcome".into()),
                barge_in: false,
            },
            CommandError::UnknownLeg { leg: LegId(9) },
        ),
        (
            Command::StopMedia { leg: LegId(9) },
            CommandError::UnknownLeg { leg: LegId(9) },
        ),
        (
            Command::SendDigits {
                leg: LegId(1),
                digits: Vec::new(),
                duration: None,
            },
            CommandError::Digits {
                count: 0,
                limit: 32,
            },
        ),
        (
            Command::SendDigits {
                leg: LegId(1),
                digits: vec![Digit::D1],
                duration: Some(Duration::from_millis(10)),
            },
            CommandError::DigitDuration { ms: 10 },
        ),
    ];
    for (command, error) in bad {
        let out = cmd(&mut h, command);
        assert_eq!(errors(&out), [error]);
    }
    assert_eq!(ops(&h).len(), before, "nothing reached the endpoint");
    // Refused plays took their ids too: three played, four refused, so this is the eighth.
    cmd(&mut h, play(PlaySource::Prompt("welcome".into()), false));
    assert!(matches!(
        ops(&h).last(),
        Some(EndpointOp::Play {
            id: play::PlaybackId(8),
            ..
        })
    ));
}

#[test]
fn a_leg_not_answered_yet_cannot_be_played_to() {
    let (mut h, _) = Harness::with_invite(&media_calls(), a_invite(Some(SDP_A), ""));
    let out = cmd(&mut h, play(PlaySource::Tone("ringback".into()), false));
    assert!(matches!(
        errors(&out)[..],
        [CommandError::LegState { leg: LegId(1), .. }]
    ));
    // Early media: answered early by voxgate, it may.
    cmd(
        &mut h,
        Command::Answer {
            leg: LegId(1),
            early: true,
        },
    );
    let out = cmd(&mut h, play(PlaySource::Tone("ringback".into()), false));
    assert!(errors(&out).is_empty(), "{:?}", out.events());
}

#[test]
fn stop_media_reaches_the_endpoint_and_a_leg_that_ends_stops_its_playback() {
    let mut h = answered(SDP_A);
    cmd(&mut h, play(PlaySource::Music("welcome".into()), false));
    cmd(&mut h, Command::StopMedia { leg: LegId(1) });
    assert_eq!(ops(&h).last(), Some(&EndpointOp::Stop));
    // The caller hangs up while it (still) plays: its end is reported.
    let bye = h.a_request("BYE", "", None);
    let (_, out) = h.a_sends(bye);
    let events = out.events();
    assert!(
        events.contains(&Event::PlaybackDone {
            leg: LegId(1),
            id: PlaybackId(1),
            reason: PlaybackEnd::Stopped
        }),
        "{events:?}"
    );
    // And a late word from the closed endpoint is not reported twice.
    let out = h.feed(Input::Media {
        ep: EndpointId(0),
        event: MediaEvent::PlaybackDone(play::PlaybackDone {
            id: play::PlaybackId(1),
            reason: StopReason::Stopped,
        }),
    });
    assert!(out.events().is_empty());
}

#[test]
fn dtmf_info_is_answered_200_and_reported_as_digits() {
    let mut h = answered(SDP_A);
    let mut events = Vec::new();
    for (ct, body) in [
        ("application/dtmf-relay", "Signal=1\r\nDuration=160\r\n"),
        ("application/dtmf", "#"),
        ("application/dtmf-relay", "Signal= 11\r\n"),
    ] {
        let info = h.a_request("INFO", "", Some((ct, body)));
        let (tx, out) = h.a_sends(info);
        assert_eq!(out.response(200).0, tx);
        events.extend(out.events());
    }
    let digits: Vec<(Digit, Duration, DigitSource)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Digits {
                leg: LegId(1),
                digit,
                duration,
                source,
            } => Some((*digit, *duration, *source)),
            _ => None,
        })
        .collect();
    assert_eq!(
        digits,
        [
            (Digit::D1, Duration::from_millis(160), DigitSource::Info),
            (Digit::Pound, Duration::ZERO, DigitSource::Info),
            (Digit::Pound, Duration::ZERO, DigitSource::Info),
        ]
    );
    // Each also barged in on the leg's playback, if any.
    assert_eq!(
        ops(&h)
            .iter()
            .filter(|op| **op == EndpointOp::BargeIn)
            .count(),
        3
    );
    // Another INFO is still just answered.
    let info = h.a_request("INFO", "", Some(("application/x-foo", "x")));
    let (_, out) = h.a_sends(info);
    assert_eq!(out.statuses(), [200]);
    assert!(out.events().is_empty());
}

#[test]
fn digits_go_as_rfc4733_where_the_leg_has_telephone_event() {
    let mut h = answered(SDP_A);
    let out = cmd(
        &mut h,
        Command::SendDigits {
            leg: LegId(1),
            digits: vec![Digit::D1, Digit::Star],
            duration: None,
        },
    );
    assert!(out.sends().is_empty());
    assert_eq!(
        ops(&h).last(),
        Some(&EndpointOp::SendDigits {
            digits: vec![D::D1, D::Star],
            duration: Duration::from_millis(100),
        })
    );
    // The endpoint could not queue some: an error, not silence.
    let out = h.feed(Input::Media {
        ep: ep(&h),
        event: MediaEvent::DigitsRefused { count: 1 },
    });
    assert_eq!(
        errors(&out),
        [CommandError::Digits {
            count: 1,
            limit: 32
        }]
    );
}

#[test]
fn digits_go_as_info_one_at_a_time_where_it_has_none() {
    let mut h = answered(SDP_A_NO_EVENTS);
    let f = h.call.leg(LegId(1)).unwrap().format.unwrap();
    assert_eq!(f.telephone_event, None);
    let out = cmd(
        &mut h,
        Command::SendDigits {
            leg: LegId(1),
            digits: vec![Digit::D4, Digit::D2],
            duration: Some(Duration::from_millis(250)),
        },
    );
    let first = out.sent(Method::Info);
    assert_eq!(body(&first.msg), "Signal=4\r\nDuration=250\r\n");
    assert_eq!(first.msg.content_type(), Some("application/dtmf-relay"));
    // The second waits for the first's answer.
    let out = h.a_answers(&first, 200, None);
    let second = out.sent(Method::Info);
    assert_eq!(body(&second.msg), "Signal=2\r\nDuration=250\r\n");
    let out = h.a_answers(&second, 200, None);
    assert!(out.sends().is_empty());
    assert!(
        !ops(&h)
            .iter()
            .any(|op| matches!(op, EndpointOp::SendDigits { .. }))
    );
}

#[test]
fn a_media_overflow_ends_the_conversation() {
    let mut h = answered(SDP_A);
    let out = h.feed(Input::Media {
        ep: ep(&h),
        event: MediaEvent::Overflow,
    });
    assert!(
        out.events().iter().any(|e| matches!(
            e,
            Event::LegEnded {
                leg: LegId(1),
                cause: EndCause::ControlOverflow,
                ..
            }
        )),
        "{:?}",
        out.events()
    );
}

#[test]
fn dtmf_info_between_linked_legs_still_goes_end_to_end() {
    let (mut h, _b) = Harness::established(CALLS);
    let info = h.a_request(
        "INFO",
        "",
        Some(("application/dtmf-relay", "Signal=9\r\nDuration=100\r\n")),
    );
    let (_, out) = h.a_sends(info);
    let relayed = out.sent(Method::Info);
    assert_eq!(body(&relayed.msg), "Signal=9\r\nDuration=100\r\n");
    assert!(out.statuses().is_empty(), "the callee answers it");
    assert_eq!(
        out.events(),
        [Event::Digits {
            leg: LegId(1),
            digit: Digit::D9,
            duration: Duration::from_millis(100),
            source: DigitSource::Info
        }]
    );
}

#[test]
fn a_leg_voxgate_holds_gets_comfort_silence_until_resumed() {
    let mut h = answered(SDP_A);
    let comfort = |h: &Harness| {
        ops(h)
            .into_iter()
            .filter_map(|op| match op {
                EndpointOp::ComfortSilence(on) => Some(on),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    assert!(comfort(&h).is_empty(), "not before the peer agreed");
    let recvonly = SDP_A.replace("a=sendrecv", "a=recvonly");
    h.a_answers(&reinvite, 200, Some(&recvonly));
    assert_eq!(comfort(&h), [true], "held: silence frames go out");
    // A playback (music on hold) takes the stream meanwhile; the endpoint
    // goes back to silence after it: nothing to tell it.
    cmd(&mut h, play(PlaySource::Music("welcome".into()), false));
    assert_eq!(comfort(&h), [true]);
    let out = cmd(&mut h, Command::Resume { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    h.a_answers(&reinvite, 200, Some(SDP_A));
    assert_eq!(comfort(&h), [true, false], "resumed: no more silence");
    // Ending the leg while held closes its endpoint, silence and all.
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    h.a_answers(&reinvite, 200, Some(&recvonly));
    assert_eq!(comfort(&h), [true, false, true]);
    cmd(
        &mut h,
        Command::Hangup {
            leg: Some(LegId(1)),
            status: None,
        },
    );
    assert_eq!(h.call.leg(LegId(1)).unwrap().endpoint, None);
    assert_eq!(comfort(&h), [true, false, true]);
}
