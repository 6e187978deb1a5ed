//! Exact arithmetic of the mixer on a lossless test codec (16-bit linear,
//! big-endian as RFC 3551 L16); tones through G.711 are in `tests/mixer.rs`.

use std::time::{Duration, Instant};

use super::*;
use crate::codec::CodecKind;
use crate::rtp::{Ssrc, parse_rtp};

/// L16: two bytes per sample, network order; lossless, so sums are exact.
struct Linear16;

impl Codec for Linear16 {
    fn kind(&self) -> CodecKind {
        CodecKind::Pcmu // no L16 kind exists; never looked at here
    }
    fn sample_rate(&self) -> u32 {
        8000
    }
    fn max_payload_len(&self, samples: usize) -> usize {
        2 * samples
    }
    fn decode(&mut self, payload: &[u8], pcm: &mut [i16]) -> Result<usize, MediaError> {
        let n = (payload.len() / 2).min(pcm.len());
        for (s, b) in pcm.iter_mut().zip(payload.chunks_exact(2)) {
            *s = i16::from_be_bytes([b[0], b[1]]);
        }
        Ok(n)
    }
    fn encode(&mut self, pcm: &[i16], payload: &mut [u8]) -> Result<usize, MediaError> {
        if payload.len() < 2 * pcm.len() {
            return Err(MediaError::BufferTooSmall {
                needed: 2 * pcm.len(),
                available: payload.len(),
            });
        }
        for (s, b) in pcm.iter().zip(payload.chunks_exact_mut(2)) {
            b.copy_from_slice(&s.to_be_bytes());
        }
        Ok(2 * pcm.len())
    }
}

fn leg(ssrc: u32) -> Leg {
    Leg {
        codec: Box::new(Linear16),
        payload_type: PayloadType(96),
        stream: OutgoingStream::with_state(Ssrc(ssrc), 100, 1000),
    }
}

fn constant(value: i16) -> [u8; 320] {
    let mut p = [0u8; 320];
    for b in p.chunks_exact_mut(2) {
        b.copy_from_slice(&value.to_be_bytes());
    }
    p
}

const A: EndpointId = EndpointId(1);
const B: EndpointId = EndpointId(2);
const C: EndpointId = EndpointId(3);

/// A mixer with `ids` joined as speakers, depth 1, on a clock starting at t0.
fn bridge(ids: &[EndpointId]) -> (Mixer, Instant) {
    let t0 = Instant::now();
    let mut m = Mixer::new(t0, MixerConfig { jitter_depth: 1 });
    for id in ids {
        m.join(*id, Role::Speaker, leg(id.0)).unwrap();
    }
    (m, t0)
}

/// Runs frame `n` (1-based): each (id, value) sends one packet of that frame
/// first, then the tick; returns each participant's first output sample.
fn frame(
    m: &mut Mixer,
    t0: Instant,
    n: u32,
    sends: &[(EndpointId, i16)],
) -> Vec<(EndpointId, i16)> {
    let now = t0 + n * FRAME;
    for &(id, v) in sends {
        m.push(now, id, n as u16, n * 160, &constant(v)).unwrap();
    }
    let mut out = Vec::new();
    let mut f = m.handle_timeout(now).expect("a frame is due");
    let mut pcm = [0; FRAME_SAMPLES];
    while let Some(id) = f.next_mix(&mut pcm) {
        assert!(pcm.iter().all(|&s| s == pcm[0]));
        out.push((id, pcm[0]));
    }
    assert!(m.handle_timeout(now).is_none());
    out.sort();
    out
}

/// Frames of all three, steady, and returns the mix of the last one.
fn steady(m: &mut Mixer, t0: Instant, values: &[(EndpointId, i16)]) -> Vec<(EndpointId, i16)> {
    let mut last = Vec::new();
    for n in 1..=4 {
        last = frame(m, t0, n, values);
    }
    last
}

#[test]
fn each_hears_everyone_but_itself() {
    let (mut m, t0) = bridge(&[A, B, C]);
    let out = steady(&mut m, t0, &[(A, 1000), (B, 200), (C, 30)]);
    assert_eq!(out, [(A, 230), (B, 1030), (C, 1200)]);
}

#[test]
fn loud_sums_clip_and_never_wrap() {
    let (mut m, t0) = bridge(&[A, B, C]);
    let out = steady(&mut m, t0, &[(A, 30000), (B, 30000), (C, 30000)]);
    assert_eq!(out, [(A, i16::MAX), (B, i16::MAX), (C, i16::MAX)]);
    let (mut m, t0) = bridge(&[A, B, C]);
    let out = steady(&mut m, t0, &[(A, i16::MIN), (B, i16::MIN), (C, -1)]);
    assert_eq!(out, [(A, i16::MIN), (B, i16::MIN), (C, i16::MIN)]);
}

#[test]
fn muted_and_monitor_are_heard_by_nobody_and_hear_everyone() {
    let (mut m, t0) = bridge(&[A, B, C]);
    let d = EndpointId(4);
    m.join(d, Role::Monitor, leg(4)).unwrap();
    m.set_muted(C, true).unwrap();
    let out = steady(&mut m, t0, &[(A, 1000), (B, 200), (C, 30), (d, 4)]);
    assert_eq!(out, [(A, 200), (B, 1000), (C, 1200), (d, 1200)]);
    m.set_muted(C, false).unwrap();
    m.set_role(d, Role::Speaker).unwrap();
    let out = frame(&mut m, t0, 5, &[(A, 1000), (B, 200), (C, 30), (d, 4)]);
    assert_eq!(out, [(A, 234), (B, 1034), (C, 1204), (d, 1230)]);
}

#[test]
fn a_missing_frame_repeats_the_last_once_then_silence() {
    let (mut m, t0) = bridge(&[A, B, C]);
    steady(&mut m, t0, &[(A, 1000), (B, 200), (C, 30)]);
    // C sends nothing from frame 5 on (its frame 4 packet played at tick 5).
    let sends = [(A, 1000), (B, 200)];
    assert_eq!(frame(&mut m, t0, 5, &sends)[0], (A, 230));
    assert_eq!(frame(&mut m, t0, 6, &sends)[0], (A, 230), "repeated once");
    assert_eq!(frame(&mut m, t0, 7, &sends)[0], (A, 200), "then silence");
    let stats = m.stats(C).unwrap();
    assert_eq!(stats.concealed, 1);
    assert_eq!((stats.jitter.played, stats.jitter.missing), (4, 3));
}

#[test]
fn a_joining_participant_starts_with_a_marker_and_leaves_with_its_stream() {
    let (mut m, t0) = bridge(&[A, B]);
    let mut buf = [0u8; MAX_PACKET];
    let mut seqs = Vec::new();
    for n in 1..=3u32 {
        if n == 2 {
            m.join(C, Role::Speaker, leg(3)).unwrap();
        }
        let mut f = m.handle_timeout(t0 + n * FRAME).unwrap();
        while let Some(tx) = f.next_packet(&mut buf).unwrap() {
            assert_eq!(tx.len, RTP_HEADER_LEN + 320);
            let h = parse_rtp(&buf[..tx.len]).unwrap();
            assert_eq!(h.payload_type, PayloadType(96));
            seqs.push((tx.participant, h.marker, h.seq, h.timestamp));
        }
    }
    seqs.sort();
    assert_eq!(
        seqs,
        [
            (A, false, 101, 1160),
            (A, false, 102, 1320),
            (A, true, 100, 1000),
            (B, false, 101, 1160),
            (B, false, 102, 1320),
            (B, true, 100, 1000),
            (C, false, 101, 1160),
            (C, true, 100, 1000),
        ]
    );
    let back = m.leave(C).unwrap();
    assert_eq!(
        (back.stream.next_seq(), back.stream.timestamp()),
        (102, 1320)
    );
    assert_eq!(back.stream.ssrc(), Ssrc(3));
    assert_eq!(m.len(), 2);
    assert!(matches!(
        m.push(t0, C, 0, 0, &[0; 320]),
        Err(MediaError::NotMixed { endpoint: C })
    ));
}

#[test]
fn a_late_wake_skips_frames_and_rtp_time_moves_past_them() {
    let (mut m, t0) = bridge(&[A, B, C]);
    let mut buf = [0u8; MAX_PACKET];
    // Woken 200 ms after the first deadline: 10 frames behind, 2 caught up.
    let now = t0 + FRAME + Duration::from_millis(200);
    let mut stamps = Vec::new();
    while let Some(mut f) = m.handle_timeout(now) {
        while let Some(tx) = f.next_packet(&mut buf).unwrap() {
            if tx.participant == A {
                let h = parse_rtp(&buf[..tx.len]).unwrap();
                stamps.push((h.seq, h.timestamp, h.marker));
            }
        }
    }
    // The first mixed frame is the 9th of the grid: 8 frames of RTP time skipped.
    assert_eq!(
        stamps,
        [
            (100, 1000 + 8 * 160, true),
            (101, 1000 + 9 * 160, false),
            (102, 1000 + 10 * 160, false)
        ]
    );
    assert_eq!(m.frames(), (3, 8));
    assert_eq!(m.poll_timeout(), Some(t0 + 12 * FRAME));
}

#[test]
fn membership_errors() {
    let (mut m, _) = bridge(&[A]);
    assert_eq!(
        m.join(A, Role::Speaker, leg(1)).unwrap_err(),
        MediaError::AlreadyMixed { endpoint: A }
    );
    for i in 2..=16 {
        m.join(EndpointId(i), Role::Speaker, leg(i)).unwrap();
    }
    assert_eq!(
        m.join(EndpointId(17), Role::Speaker, leg(17)).unwrap_err(),
        MediaError::MixerFull { limit: 16 }
    );
    assert!(m.set_muted(EndpointId(99), true).is_err());
    m.leave(EndpointId(16)).unwrap();
    struct Wideband;
    impl Codec for Wideband {
        fn kind(&self) -> CodecKind {
            CodecKind::Pcmu
        }
        fn sample_rate(&self) -> u32 {
            16000
        }
        fn max_payload_len(&self, samples: usize) -> usize {
            samples
        }
        fn decode(&mut self, _: &[u8], _: &mut [i16]) -> Result<usize, MediaError> {
            Ok(0)
        }
        fn encode(&mut self, _: &[i16], _: &mut [u8]) -> Result<usize, MediaError> {
            Ok(0)
        }
    }
    let wide = Leg {
        codec: Box::new(Wideband),
        ..leg(16)
    };
    assert_eq!(
        m.join(EndpointId(16), Role::Speaker, wide).unwrap_err(),
        MediaError::MixRate {
            rate: 16000,
            mixer_rate: 8000
        }
    );
    assert!(m.leave(EndpointId(99)).is_err());
}

#[test]
fn a_small_buffer_is_an_error_not_a_panic() {
    let (mut m, t0) = bridge(&[A, B, C]);
    let mut f = m.handle_timeout(t0 + FRAME).unwrap();
    let mut small = [0u8; 100];
    assert!(matches!(
        f.next_packet(&mut small),
        Err(MediaError::BufferTooSmall { .. })
    ));
    let mut tiny = [0u8; 4];
    assert!(f.next_packet(&mut tiny).is_err());
}

#[test]
fn dissolving_hands_every_leg_back_with_its_stream() {
    let (mut m, t0) = bridge(&[A, B, C]);
    for n in 1..=5u32 {
        let mut f = m.handle_timeout(t0 + n * FRAME).unwrap();
        let mut buf = [0u8; MAX_PACKET];
        while f.next_packet(&mut buf).unwrap().is_some() {}
    }
    let legs = m.into_legs();
    let ids: Vec<EndpointId> = legs.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [A, B, C]);
    for (id, leg) in legs {
        assert_eq!(leg.stream.ssrc(), Ssrc(id.0));
        assert_eq!((leg.stream.next_seq(), leg.stream.timestamp()), (105, 1800));
    }
}

#[test]
fn a_whisper_is_heard_by_its_target_only() {
    // A the customer, B the agent, C the supervisor coaching B, D a monitor.
    let (mut m, t0) = bridge(&[A, B]);
    let d = EndpointId(4);
    m.join(C, Role::Whisper(B), leg(3)).unwrap();
    m.join(d, Role::Monitor, leg(4)).unwrap();
    let out = steady(&mut m, t0, &[(A, 1000), (B, 200), (C, 30), (d, 4)]);
    assert_eq!(out, [(A, 200), (B, 1030), (C, 1200), (d, 1200)]);
    // Whispering to oneself is not hearing oneself.
    m.set_role(C, Role::Whisper(C)).unwrap();
    let out = frame(&mut m, t0, 5, &[(A, 1000), (B, 200), (C, 30), (d, 4)]);
    assert_eq!(out, [(A, 200), (B, 1000), (C, 1200), (d, 1200)]);
    // Barge-in: the supervisor speaks to everyone.
    m.set_role(C, Role::Speaker).unwrap();
    let out = frame(&mut m, t0, 6, &[(A, 1000), (B, 200), (C, 30), (d, 4)]);
    assert_eq!(out, [(A, 230), (B, 1030), (C, 1200), (d, 1230)]);
}
