//! Recordings on the engine, on a virtual clock: both directions of a
//! bridged leg each on its own channel, voxgate's own prompt as what the
//! leg hears, pause as silence, stop with what is queued flushed.

use super::*;
use crate::codec::g711::{decode_alaw, decode_ulaw};
use crate::record::{Layout, RecordFrame};

const REC: RecordingId = RecordingId(7);

/// The 160 samples one G.711 code decodes to, as a frame's channel holds them.
fn decoded(law: Law, code: u8) -> i16 {
    let mut s = [0i16; 1];
    match law {
        Law::A => decode_alaw(&[code], &mut s),
        Law::Mu => decode_ulaw(&[code], &mut s),
    }
    s[0]
}

/// Channel `c` of a frame (0 or 1 of stereo, 0 of mono).
fn channel(f: &RecordFrame, channels: usize, c: usize) -> Vec<i16> {
    f.samples()
        .iter()
        .skip(c)
        .step_by(channels)
        .copied()
        .collect()
}

fn frames(r: &mut SessionRelay, now: Instant) -> Vec<RecordOutput> {
    std::iter::from_fn(|| r.poll_record(now)).collect()
}

fn only_frames(out: &[RecordOutput]) -> Vec<RecordFrame> {
    out.iter()
        .map(|o| match o {
            RecordOutput::Frame { ep, id, frame } => {
                assert_eq!((*ep, *id), (A, REC));
                *frame
            }
            RecordOutput::Ended { .. } => panic!("ended early: {out:?}"),
        })
        .collect()
}

/// Bridged A (PCMA) and B (PCMU); step `i` (at `t0 + 20 ms × i`): A's peer
/// sends 160 × code `0x10 + i` (PCMA), B's peer 160 × `0x80 + i` (PCMU),
/// each relayed to the other; then the due recording frames are polled.
fn step(r: &mut SessionRelay, t0: Instant, i: u32) -> Vec<RecordOutput> {
    let at = t0 + FRAME * i;
    let seq = i as u16;
    let mut a = rtp(8, false, seq, 160 * i, 0xaaaa, &[0x10 + i as u8; 160]);
    assert!(relay(r, A, sa(A_PEER), &mut a, at).is_some(), "A→B {i}");
    let mut b = rtp(0, false, seq, 160 * i, 0xbbbb, &[0x80 + i as u8; 160]);
    assert!(relay(r, B, sa(B_PEER), &mut b, at).is_some(), "B→A {i}");
    r.handle_timeout(at);
    frames(r, at)
}

fn bridged() -> (SessionRelay, Instant) {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcmu, 0, Some(101)),
    );
    r.bridge(A, B);
    (r, Instant::now())
}

#[test]
fn a_stereo_recording_holds_each_direction_on_its_own_channel() {
    let (mut r, t0) = bridged();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Stereo,
        },
    );
    assert_eq!(r.poll_timeout(), Some(t0 + FRAME), "the recorder's clock");
    let mut got = Vec::new();
    for i in 1..=20 {
        got.extend(only_frames(&step(&mut r, t0, i)));
    }
    assert_eq!(got.len(), 20, "one frame per 20 ms");
    for (k, f) in got.iter().enumerate() {
        let i = k as u8 + 1;
        assert_eq!(f.samples().len(), 320, "stereo");
        // Channel 0: what A's peer sent (A-law); channel 1: what A was
        // sent, B's µ-law audio relayed to it, transcoded to A's A-law.
        let left = decoded(Law::A, 0x10 + i);
        let mut sent = [0x80 + i];
        crate::codec::transcode::Transcoder::between(CodecKind::Pcmu, CodecKind::Pcma)
            .unwrap()
            .convert(&mut sent);
        let right = decoded(Law::A, sent[0]);
        assert_ne!(left, right);
        assert!(
            channel(f, 2, 0).iter().all(|&s| s == left),
            "frame {i} left"
        );
        assert!(
            channel(f, 2, 1).iter().all(|&s| s == right),
            "frame {i} right"
        );
    }
    // B is not recorded, and the relay is untouched: A's packets still reach B.
    assert!(r.poll_record(t0 + FRAME * 20).is_none());
}

#[test]
fn a_mono_recording_holds_only_what_the_peer_sends() {
    let (mut r, t0) = bridged();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Mono,
        },
    );
    let mut got = Vec::new();
    for i in 1..=5 {
        got.extend(only_frames(&step(&mut r, t0, i)));
    }
    assert_eq!(got.len(), 5);
    for (k, f) in got.iter().enumerate() {
        assert_eq!(f.samples().len(), 160, "mono");
        let left = decoded(Law::A, 0x11 + k as u8);
        assert!(f.samples().iter().all(|&s| s == left));
    }
}

#[test]
fn what_voxgate_plays_to_the_leg_is_its_second_channel() {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcma, 8, Some(101)),
    );
    let t0 = Instant::now();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Stereo,
        },
    );
    let prompt = ramp(800); // 5 frames
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(prompt),
            barge_in: false,
        },
    );
    // The engine runs on its own clock (frames out, recording frames due);
    // A's peer talks every 20 ms.
    let mut rec = Vec::new();
    let mut buf = [0u8; MAX_GENERATED];
    for i in 0..=6u32 {
        let at = t0 + FRAME * i;
        if i > 0 {
            let mut a = rtp(8, false, i as u16, 160 * i, 0xaaaa, &[0x55; 160]);
            relay(&mut r, A, sa(A_PEER), &mut a, at);
        }
        r.handle_timeout(at);
        while r.poll_transmit(at, &mut buf).is_some() {}
        rec.extend(only_frames(&frames(&mut r, at)));
    }
    assert_eq!(rec.len(), 6);
    let peer = decoded(Law::A, 0x55);
    // The prompt's samples, as played (before encoding), one frame each.
    let played: Vec<i16> = rec.iter().flat_map(|f| channel(f, 2, 1)).collect();
    let want: Vec<i16> = (0..800).map(|i| ((i % 200) as i16 - 100) * 100).collect();
    assert_eq!(&played[..800], &want[..], "the prompt, sample for sample");
    assert!(played[800..].iter().all(|&s| s == 0), "silence after it");
    assert!(
        rec.iter()
            .all(|f| channel(f, 2, 0).iter().all(|&s| s == peer))
    );
}

#[test]
fn a_pause_is_silence_on_both_channels_and_the_clock_goes_on() {
    let (mut r, t0) = bridged();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Stereo,
        },
    );
    let mut got = Vec::new();
    for i in 1..=30 {
        match i {
            11 => r.handle_op(t0 + FRAME * i, A, EndpointOp::PauseRecording(REC)),
            21 => r.handle_op(t0 + FRAME * i, A, EndpointOp::ResumeRecording(REC)),
            _ => {}
        }
        // A command for another recording changes nothing.
        r.handle_op(
            t0 + FRAME * i,
            A,
            EndpointOp::PauseRecording(RecordingId(99)),
        );
        got.extend(only_frames(&step(&mut r, t0, i)));
    }
    assert_eq!(got.len(), 30, "a frame per tick, paused or not");
    for (k, f) in got.iter().enumerate() {
        let i = k + 1;
        let silent = f.samples().iter().all(|&s| s == 0);
        assert_eq!(silent, (11..=20).contains(&i), "frame {i}");
    }
    // After the pause, the audio at its own time: frame 21 holds packet 21.
    assert_eq!(got[20].samples()[0], decoded(Law::A, 0x10 + 21));
}

#[test]
fn stop_flushes_what_is_queued_then_ends() {
    let (mut r, t0) = bridged();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Mono,
        },
    );
    let mut got = Vec::new();
    for i in 1..=3 {
        got.extend(only_frames(&step(&mut r, t0, i)));
    }
    // A burst: two more packets arrive before their frames are due.
    let at = t0 + FRAME * 3;
    for (k, code) in [(4u32, 0x61u8), (5, 0x62)] {
        let mut a = rtp(8, false, k as u16, 160 * k, 0xaaaa, &[code; 160]);
        relay(&mut r, A, sa(A_PEER), &mut a, at);
    }
    assert!(r.poll_record(at).is_none(), "not due yet");
    r.handle_op(at, A, EndpointOp::StopRecording(REC));
    let out = frames(&mut r, at);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[2], RecordOutput::Ended { ep: A, id: REC });
    let tail = only_frames(&out[..2]);
    assert!(
        tail[0]
            .samples()
            .iter()
            .all(|&s| s == decoded(Law::A, 0x61))
    );
    assert!(
        tail[1]
            .samples()
            .iter()
            .all(|&s| s == decoded(Law::A, 0x62))
    );
    // Over: no frame, no deadline of its own.
    assert!(r.poll_record(at + FRAME * 10).is_none());
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(got.len(), 3);
}

#[test]
fn a_removed_endpoint_records_nothing_more() {
    let (mut r, t0) = bridged();
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: REC,
            layout: Layout::Stereo,
        },
    );
    step(&mut r, t0, 1);
    r.remove(A);
    assert!(r.poll_record(t0 + FRAME * 5).is_none());
}
