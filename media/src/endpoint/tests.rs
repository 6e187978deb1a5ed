//! The engine on a virtual clock: packets in through `on_packet`, time through
//! `poll_timeout`/`handle_timeout`, packets out through `poll_transmit`,
//! digits and playback ends through `poll_event`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::anchor::RemoteMedia;
use crate::codec::{G711, Law};
use crate::frame::FRAME;
use crate::latch::{EndpointId, Forward, SessionRelay, SocketKind};
use crate::play::tone::{Repeat, Tone, ToneComponent};
use crate::play::{Prompt, StopReason};
use crate::rtp::{RtpHeader, Ssrc, parse_rtp};
use crate::sdp::Direction;

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "192.0.2.1:4000";
const B_PEER: &str = "192.0.2.2:6000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A peer without an RTCP address: voxgate's reports have nowhere to go,
/// so the RTP these tests look at is all that `poll_transmit` gives
/// (`crate::latch::rtcp_tests` has the reports).
fn remote(rtp: &str) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(sa(rtp)),
        rtcp: None,
        rtcp_mux: false,
        direction: Direction::SendRecv,
    }
}

fn format(codec: CodecKind, pt: u8, event: Option<u8>) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(pt),
            codec,
        }),
        telephone_event: event.map(|e| EventFormat {
            receive: PayloadType(e),
            send: PayloadType(e),
            clock_rate: 8000,
        }),
        ptime: None,
        clock_rate: 8000,
    }
}

/// `on_packet` as the relay task calls it: `p` in a buffer with room for
/// SRTP, and left holding what would be sent (when something is).
fn relay(
    r: &mut SessionRelay,
    ep: EndpointId,
    src: SocketAddr,
    p: &mut Vec<u8>,
    at: Instant,
) -> Option<Forward> {
    let len = p.len();
    p.resize(len + crate::srtp::MAX_OVERHEAD, 0);
    let f = r.on_packet(ep, 0, SocketKind::Rtp, src, p, len, at);
    p.truncate(f.as_ref().map_or(len, |f| f.len));
    f
}

/// A and B, each with a peer at its signalled address; not bridged.
fn session(fa: MediaFormat, fb: MediaFormat) -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, Vec::new());
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[remote(A_PEER)]);
    r.set_remote(B, &[remote(B_PEER)]);
    let t = Instant::now();
    r.handle_op(t, A, EndpointOp::Format(Some(fa)));
    r.handle_op(t, B, EndpointOp::Format(Some(fb)));
    r
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// One RFC 4733 event as a sender per RFC 4733 §2.5 sends it: a first packet
/// with the marker, updates every 20 ms, three end packets; `(at, packet)`.
fn event_packets(
    t0: Instant,
    digit: u8,
    seq0: u16,
    ts: u32,
    updates: u16,
    pt: u8,
) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let mut seq = seq0;
    for i in 0..updates {
        let dur = 160 * (i + 1);
        let block = [digit, 10, (dur >> 8) as u8, dur as u8];
        out.push((
            t0 + FRAME * u32::from(i),
            rtp(pt, i == 0, seq, ts, 7, &block),
        ));
        seq = seq.wrapping_add(1);
    }
    let dur = 160 * updates;
    for k in 0..3 {
        let block = [digit, 0x80 | 10, (dur >> 8) as u8, dur as u8];
        let at = t0 + FRAME * u32::from(updates + k);
        out.push((at, rtp(pt, false, seq, ts, 7, &block)));
        seq = seq.wrapping_add(1);
    }
    out
}

fn events(r: &mut SessionRelay) -> Vec<(EndpointId, MediaEvent)> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

/// Runs the engine's timers and transmits until `until` on a clock that
/// jumps to each deadline; returns what was sent, with when, and the events.
type Sent = Vec<(Instant, Transmit, Vec<u8>)>;

fn run(
    r: &mut SessionRelay,
    from: Instant,
    until: Instant,
) -> (Sent, Vec<(EndpointId, MediaEvent)>) {
    let mut sent = Vec::new();
    let mut evs = Vec::new();
    let mut buf = [0u8; MAX_GENERATED];
    let mut now = from;
    loop {
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            r.on_transmitted(&t, true);
            sent.push((now, t, buf[..t.len].to_vec()));
        }
        evs.extend(events(r));
        match r.poll_timeout() {
            Some(at) if at <= until => now = at.max(now),
            _ => break,
        }
    }
    (sent, evs)
}

fn digit(c: char) -> Digit {
    Digit::from_char(c).unwrap()
}

fn digits_of(evs: &[(EndpointId, MediaEvent)]) -> Vec<(EndpointId, char, DigitSource)> {
    evs.iter()
        .filter_map(|(ep, e)| match e {
            MediaEvent::Digit { digit, source, .. } => Some((*ep, digit.as_char(), *source)),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc4733_digits_arrive_once_each_in_order() {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcma, 8, Some(101)),
    );
    let t0 = Instant::now();
    let mut pkts = event_packets(t0, 1, 100, 8000, 5, 101);
    pkts.extend(event_packets(
        t0 + Duration::from_millis(400),
        11,
        108,
        16000,
        4,
        101,
    ));
    let mut got = Vec::new();
    for (at, p) in &pkts {
        assert_eq!(relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), *at), None);
        got.extend(events(&mut r));
    }
    assert_eq!(
        got,
        [
            (
                A,
                MediaEvent::Digit {
                    digit: digit('1'),
                    duration: Duration::from_millis(100),
                    source: DigitSource::Rfc4733
                }
            ),
            (
                A,
                MediaEvent::Digit {
                    digit: digit('#'),
                    duration: Duration::from_millis(80),
                    source: DigitSource::Rfc4733
                }
            ),
        ]
    );
    // Nothing is pending: the three end packets were counted once.
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_digit_whose_end_packets_are_lost_ends_after_the_timeout() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, Some(96)),
        format(CodecKind::Pcmu, 0, Some(96)),
    );
    let t0 = Instant::now();
    let pkts = event_packets(t0, 5, 1, 1000, 3, 96);
    // The updates only: the end packets never come.
    for (at, p) in &pkts[..3] {
        relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), *at);
    }
    assert!(events(&mut r).is_empty());
    let last = pkts[2].0;
    assert_eq!(r.poll_timeout(), Some(last + Duration::from_millis(500)));
    r.handle_timeout(last + Duration::from_millis(499));
    assert!(events(&mut r).is_empty());
    let (_, evs) = run(&mut r, last, last + Duration::from_secs(1));
    assert_eq!(digits_of(&evs), [(A, '5', DigitSource::Rfc4733)]);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn events_of_another_payload_type_are_not_digits() {
    // The leg negotiated 101; a stray 96 is just a payload.
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcma, 8, Some(101)),
    );
    let t0 = Instant::now();
    for (at, p) in event_packets(t0, 1, 1, 1000, 3, 96) {
        relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), at);
    }
    assert!(events(&mut r).is_empty());
}

/// G.711 packets of a DTMF tone pair, 20 ms each, `ms` long, then silence.
fn tone_packets(
    t0: Instant,
    law: Law,
    pt: u8,
    hz: (f64, f64),
    ms: u32,
    seq0: u16,
) -> Vec<(Instant, Vec<u8>)> {
    let tone = Tone::new(
        &[
            ToneComponent::new(hz.0, -10.0),
            ToneComponent::new(hz.1, -10.0),
        ],
        &[(ms, 0)],
        Repeat::Times(1),
    )
    .unwrap();
    let mut codec = G711::new(law);
    let mut out = Vec::new();
    let frames = ms / 20 + 5;
    for i in 0..frames {
        let mut pcm = [0i16; FRAME_SAMPLES];
        let n = tone.fill(u64::from(i) * 160, &mut pcm);
        pcm[n..].fill(0);
        let mut payload = [0u8; FRAME_SAMPLES];
        codec.encode(&pcm, &mut payload).unwrap();
        let seq = seq0.wrapping_add(i as u16);
        out.push((t0 + FRAME * i, rtp(pt, i == 0, seq, 160 * i, 9, &payload)));
    }
    out
}

#[test]
fn a_leg_without_telephone_event_has_its_tones_detected_in_band() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, None),
        format(CodecKind::Pcmu, 0, None),
    );
    let t0 = Instant::now();
    let mut pkts = tone_packets(t0, Law::Mu, 0, (697.0, 1209.0), 100, 1);
    pkts.extend(tone_packets(
        t0 + Duration::from_millis(300),
        Law::Mu,
        0,
        (941.0, 1477.0),
        80,
        20,
    ));
    let mut got = Vec::new();
    for (at, p) in &pkts {
        relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), *at);
        got.extend(events(&mut r));
    }
    assert_eq!(
        digits_of(&got),
        [(A, '1', DigitSource::Inband), (A, '#', DigitSource::Inband)]
    );
}

#[test]
fn an_inband_tone_cut_off_by_silence_ends_by_the_timer() {
    let mut r = session(
        format(CodecKind::Pcma, 8, None),
        format(CodecKind::Pcma, 8, None),
    );
    let t0 = Instant::now();
    // 200 ms of tone, and then the sender stops sending (no trailing silence).
    let pkts = tone_packets(t0, Law::A, 8, (852.0, 1336.0), 200, 1);
    for (at, p) in &pkts[..10] {
        relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), *at);
    }
    assert!(digits_of(&events(&mut r)).is_empty());
    let last = pkts[9].0;
    assert_eq!(r.poll_timeout(), Some(last + INBAND_SILENCE));
    let (_, evs) = run(&mut r, last, last + Duration::from_secs(1));
    assert_eq!(digits_of(&evs), [(A, '8', DigitSource::Inband)]);
}

fn ramp(n: usize) -> Prompt {
    Prompt::from_samples(
        (0..n)
            .map(|i| ((i % 200) as i16 - 100) * 100)
            .collect::<Vec<_>>(),
    )
}

fn headers(sent: &Sent) -> Vec<RtpHeader> {
    sent.iter().map(|(_, _, p)| parse_rtp(p).unwrap()).collect()
}

fn assert_one_stream(h: &[RtpHeader]) {
    for w in h.windows(2) {
        assert_eq!(w[1].ssrc, w[0].ssrc, "one SSRC");
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence continuous");
        assert_eq!(
            w[1].timestamp,
            w[0].timestamp.wrapping_add(160),
            "timestamp continuous"
        );
    }
}

#[test]
fn a_prompt_to_a_leg_in_no_bridge_goes_out_paced_in_its_codec() {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcmu, 0, Some(101)),
    );
    let t0 = Instant::now();
    let prompt = ramp(1000); // 6.25 frames
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(7),
            source: Source::Prompt(prompt.clone()),
            barge_in: false,
        },
    );
    assert_eq!(r.poll_timeout(), Some(t0));
    let (sent, evs) = run(&mut r, t0, t0 + Duration::from_secs(2));
    assert_eq!(sent.len(), 7);
    for (i, (at, t, p)) in sent.iter().enumerate() {
        assert_eq!(*at, t0 + FRAME * i as u32, "paced, no burst");
        assert_eq!((t.ep, t.line, t.socket), (A, 0, SocketKind::Rtp));
        assert_eq!(t.addr, sa(A_PEER));
        assert_eq!(p.len(), 12 + 160);
    }
    let h = headers(&sent);
    assert!(h.iter().all(|h| h.payload_type == PayloadType(8)));
    assert_eq!(
        h.iter().map(|h| h.marker).collect::<Vec<_>>(),
        [true, false, false, false, false, false, false]
    );
    assert_one_stream(&h);
    // The audio is the prompt, A-law coded.
    let mut pcm = vec![0i16; 160];
    G711::new(Law::A)
        .decode(&sent[0].2[12..], &mut pcm)
        .unwrap();
    let want: Vec<i16> = prompt.samples()[..160].to_vec();
    for (a, b) in pcm.iter().zip(&want) {
        assert!((a - b).abs() <= (b.abs() / 16).max(16), "{a} vs {b}");
    }
    assert_eq!(
        evs,
        [(
            A,
            MediaEvent::PlaybackDone(PlaybackDone {
                id: PlaybackId(7),
                reason: StopReason::Finished
            })
        )]
    );
    assert_eq!(r.poll_timeout(), None);
    // Counted as sent to A's peer.
    assert_eq!(r.endpoint(A).unwrap().lines()[0].counters().sent, 7);
}

#[test]
fn an_hour_of_music_on_hold_is_paced_without_drift() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, None),
        format(CodecKind::Pcmu, 0, None),
    );
    let t0 = Instant::now();
    r.handle_op(
        t0,
        B,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Music(ramp(8000)),
            barge_in: false,
        },
    );
    let mut buf = [0u8; MAX_GENERATED];
    let mut first: Option<RtpHeader> = None;
    let mut prev: Option<RtpHeader> = None;
    let mut frames = 0u64;
    let mut now = t0;
    // Each wake-up 0-9 ms late, as a busy runtime would wake.
    while frames < 180_000 {
        let due = r.poll_timeout().unwrap();
        now = now.max(due + Duration::from_micros((frames * 7_919) % 9_000));
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            let h = parse_rtp(&buf[..t.len]).unwrap();
            if let Some(p) = prev {
                assert_eq!(h.seq, p.seq.wrapping_add(1));
                assert_eq!(h.timestamp, p.timestamp.wrapping_add(160));
                assert!(!h.marker);
            }
            first.get_or_insert(h);
            prev = Some(h);
            frames += 1;
        }
    }
    // Frame 180 000 is due exactly one hour after the first.
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(3600)));
    let (first, last) = (first.unwrap(), prev.unwrap());
    assert_eq!(
        last.timestamp.wrapping_sub(first.timestamp),
        160 * 179_999,
        "timestamps follow the clock"
    );
}

/// A and B bridged; B's peer talks (PCMU, SSRC 0xbbbb) every 20 ms from `t0`.
fn talk(
    r: &mut SessionRelay,
    from: Instant,
    frames: u32,
    seq0: u16,
    ts0: u32,
) -> Vec<(Instant, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for i in 0..frames {
        let at = from + FRAME * i;
        let mut p = rtp(
            0,
            i == 0 && seq0 == 1000,
            seq0.wrapping_add(i as u16),
            ts0.wrapping_add(160 * i),
            0xbbbb,
            &[0xff; 160],
        );
        let sent = relay(r, B, sa(B_PEER), &mut p, at).map(|_| p);
        out.push((at, sent));
    }
    out
}

#[test]
fn relay_then_play_then_relay_is_one_stream_to_the_leg() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, Some(101)),
        format(CodecKind::Pcmu, 0, Some(101)),
    );
    r.bridge(A, B);
    let t0 = Instant::now();
    // 1. Before voxgate speaks on A, B's packets reach A untouched.
    let before = talk(&mut r, t0, 5, 1000, 50_000);
    assert!(before.iter().all(|(_, p)| p.is_some()));
    assert_eq!(
        parse_rtp(before[0].1.as_ref().unwrap()).unwrap().ssrc,
        Ssrc(0xbbbb)
    );
    // 2. A prompt to A: B's media towards A is held back while it plays.
    let t1 = t0 + FRAME * 5;
    r.handle_op(
        t1,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(ramp(1600)),
            barge_in: false,
        },
    );
    let mut stream: Vec<RtpHeader> = Vec::new();
    let mut buf = [0u8; MAX_GENERATED];
    let mut seq = 1005u16;
    for i in 0..10u32 {
        let at = t1 + FRAME * i;
        r.handle_timeout(at);
        while let Some(t) = r.poll_transmit(at, &mut buf) {
            stream.push(parse_rtp(&buf[..t.len]).unwrap());
        }
        let held = talk(&mut r, at, 1, seq, 50_000 + 160 * u32::from(seq - 1000));
        seq += 1;
        if i < 9 {
            assert!(held[0].1.is_none(), "relay towards A paused while it plays");
        } else {
            // The prompt's last frame went out: the relay resumes at once.
            stream.push(parse_rtp(held[0].1.as_ref().unwrap()).unwrap());
        }
    }
    assert_eq!(stream.len(), 11);
    let evs = events(&mut r);
    assert!(matches!(
        evs[..],
        [(
            A,
            MediaEvent::PlaybackDone(PlaybackDone {
                reason: StopReason::Finished,
                ..
            })
        )]
    ));
    // 3. Relay resumes, rewritten into voxgate's stream.
    let t2 = t1 + FRAME * 10;
    let after = talk(&mut r, t2, 20, seq, 50_000 + 160 * u32::from(seq - 1000));
    for (_, p) in &after {
        stream.push(parse_rtp(p.as_ref().unwrap()).unwrap());
    }
    assert_one_stream(&stream);
    let markers: Vec<usize> = stream
        .iter()
        .enumerate()
        .filter(|(_, h)| h.marker)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(markers, [0, 10], "a talk spurt at each change of source");
    assert_eq!(stream[0].timestamp, stream[10].timestamp.wrapping_sub(1600));
    // 4. Play again: the numbering continues from the relayed packets.
    let t3 = t2 + FRAME * 20;
    r.handle_op(
        t3,
        A,
        EndpointOp::Play {
            id: PlaybackId(2),
            source: Source::Prompt(ramp(320)),
            barge_in: false,
        },
    );
    let (sent, _) = run(&mut r, t3, t3 + Duration::from_secs(1));
    let h = headers(&sent);
    let last = stream.last().copied().unwrap();
    assert_eq!(h[0].seq, last.seq.wrapping_add(1));
    assert_eq!(h[0].timestamp, last.timestamp.wrapping_add(160));
    assert!(h[0].marker);
    assert_eq!(h[0].ssrc, last.ssrc);
}

#[test]
fn a_replaced_prompt_keeps_the_numbering() {
    let mut r = session(
        format(CodecKind::Pcma, 8, None),
        format(CodecKind::Pcma, 8, None),
    );
    let t0 = Instant::now();
    let play = |id| EndpointOp::Play {
        id: PlaybackId(id),
        source: Source::Prompt(ramp(4000)),
        barge_in: false,
    };
    r.handle_op(t0, A, play(1));
    let (mut sent, _) = run(&mut r, t0, t0 + FRAME * 4);
    // Replaced 7 ms after a frame (a command between two frames).
    let at = t0 + FRAME * 4 + Duration::from_millis(7);
    r.handle_op(at, A, play(2));
    let evs = events(&mut r);
    assert!(matches!(
        evs[..],
        [(
            A,
            MediaEvent::PlaybackDone(PlaybackDone {
                id: PlaybackId(1),
                reason: StopReason::Replaced
            })
        )]
    ));
    let (more, _) = run(&mut r, at, at + FRAME * 5);
    sent.extend(more);
    let h = headers(&sent);
    assert_one_stream(&h);
    assert!(h[5].marker, "the new prompt is a talk spurt");
}

#[test]
fn barge_in_stops_the_prompt_at_the_first_digit() {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcma, 8, Some(101)),
    );
    let t0 = Instant::now();
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(3),
            source: Source::Music(ramp(800)),
            barge_in: true,
        },
    );
    let (sent, _) = run(&mut r, t0, t0 + FRAME * 3);
    assert_eq!(sent.len(), 4);
    let pkts = event_packets(t0 + FRAME * 3, 9, 1, 99, 3, 101);
    relay(&mut r, A, sa(A_PEER), &mut pkts[0].1.to_vec(), pkts[0].0);
    // The digit's start stops the music; the digit itself comes at its end.
    assert_eq!(
        events(&mut r),
        [(
            A,
            MediaEvent::PlaybackDone(PlaybackDone {
                id: PlaybackId(3),
                reason: StopReason::BargeIn
            })
        )]
    );
    for (at, p) in &pkts[1..] {
        relay(&mut r, A, sa(A_PEER), &mut p.to_vec(), *at);
    }
    assert_eq!(digits_of(&events(&mut r)), [(A, '9', DigitSource::Rfc4733)]);
    assert_eq!(r.poll_timeout(), None, "nothing plays any more");
}

#[test]
fn stop_ends_the_playback_and_a_new_one_starts_a_talk_spurt() {
    let mut r = session(
        format(CodecKind::Pcma, 8, None),
        format(CodecKind::Pcma, 8, None),
    );
    let t0 = Instant::now();
    let tone = Arc::new(crate::play::tone::profile(
        crate::play::Country::Us,
        crate::play::ToneKind::Ringback,
    ));
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(4),
            source: Source::Tone(tone.clone()),
            barge_in: false,
        },
    );
    let (mut sent, _) = run(&mut r, t0, t0 + FRAME * 9);
    r.handle_op(t0 + FRAME * 10, A, EndpointOp::Stop);
    assert!(matches!(
        events(&mut r)[..],
        [(
            A,
            MediaEvent::PlaybackDone(PlaybackDone {
                reason: StopReason::Stopped,
                ..
            })
        )]
    ));
    assert_eq!(r.poll_timeout(), None);
    // A second later, another tone: the timestamps moved with the clock.
    let t1 = t0 + Duration::from_secs(1);
    r.handle_op(
        t1,
        A,
        EndpointOp::Play {
            id: PlaybackId(5),
            source: Source::Tone(tone),
            barge_in: false,
        },
    );
    let (more, _) = run(&mut r, t1, t1 + FRAME);
    sent.extend(more);
    let h = headers(&sent);
    assert_eq!(h.len(), 12);
    assert!(h[10].marker);
    assert_eq!(h[10].seq, h[9].seq.wrapping_add(1));
    assert_eq!(h[10].timestamp, h[0].timestamp.wrapping_add(8000));
}

#[test]
fn digits_go_out_as_rfc4733_and_pause_the_relay() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, Some(101)),
        format(CodecKind::Pcmu, 0, Some(96)),
    );
    r.bridge(A, B);
    let t0 = Instant::now();
    r.handle_op(
        t0,
        B,
        EndpointOp::SendDigits {
            digits: vec![digit('4'), digit('2')],
            duration: Duration::from_millis(100),
        },
    );
    // A's media to B is held back while the digits go out.
    let p = rtp(0, false, 1, 160, 0xaaaa, &[0xff; 160]);
    assert!(
        relay(&mut r, A, sa(A_PEER), &mut p.clone(), t0).is_none(),
        "held back"
    );
    let (sent, evs) = run(&mut r, t0, t0 + Duration::from_secs(2));
    assert!(evs.is_empty());
    let h = headers(&sent);
    assert!(
        sent.iter()
            .all(|(_, t, _)| t.ep == B && t.addr == sa(B_PEER))
    );
    assert!(h.iter().all(|h| h.payload_type == PayloadType(96)));
    // Per digit: updates at 50 ms steps and three end packets, one timestamp.
    let blocks: Vec<(u8, bool, u32)> = sent
        .iter()
        .zip(&h)
        .map(|((_, _, p), h)| (p[12], p[13] & 0x80 != 0, h.timestamp))
        .collect();
    let four: Vec<_> = blocks.iter().filter(|b| b.0 == 4).collect();
    let two: Vec<_> = blocks.iter().filter(|b| b.0 == 2).collect();
    assert_eq!(four.iter().filter(|b| b.1).count(), 3);
    assert_eq!(two.iter().filter(|b| b.1).count(), 3);
    assert!(four.iter().all(|b| b.2 == four[0].2));
    assert!(
        two[0].2.wrapping_sub(four[0].2) >= 800 + 800,
        "the second digit is later"
    );
    assert_eq!(h.iter().filter(|h| h.marker).count(), 2);
    for w in h.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
    // Done: the relay towards B resumes, in voxgate's stream.
    let later = t0 + Duration::from_secs(2);
    let mut p = rtp(0, false, 2, 320, 0xaaaa, &[0xff; 160]);
    assert!(relay(&mut r, A, sa(A_PEER), &mut p, later).is_some());
    let relayed = parse_rtp(&p).unwrap();
    assert_eq!(relayed.ssrc, h[0].ssrc);
    assert_eq!(relayed.seq, h.last().unwrap().seq.wrapping_add(1));
    assert!(relayed.marker);
}

#[test]
fn digits_on_a_leg_without_telephone_event_are_refused() {
    let mut r = session(
        format(CodecKind::Pcmu, 0, None),
        format(CodecKind::Pcmu, 0, None),
    );
    r.handle_op(
        Instant::now(),
        A,
        EndpointOp::SendDigits {
            digits: vec![digit('1'); 3],
            duration: Duration::from_millis(80),
        },
    );
    assert_eq!(
        events(&mut r),
        [(A, MediaEvent::DigitsRefused { count: 3 })]
    );
}

#[test]
fn events_are_relayed_with_the_payload_type_mapped() {
    let mut r = session(
        format(CodecKind::Pcma, 8, Some(101)),
        format(CodecKind::Pcma, 8, Some(96)),
    );
    r.bridge(A, B);
    let t0 = Instant::now();
    let mut relayed = Vec::new();
    for (at, mut p) in event_packets(t0, 3, 1, 1000, 3, 101) {
        assert!(relay(&mut r, A, sa(A_PEER), &mut p, at).is_some());
        relayed.push(parse_rtp(&p).unwrap());
    }
    assert!(relayed.iter().all(|h| h.payload_type == PayloadType(96)));
    assert!(relayed[0].marker, "the marker is kept");
    assert_eq!(
        relayed[0].ssrc,
        Ssrc(7),
        "voxgate never spoke on B: untouched"
    );
    // And A's digit was heard too, once.
    assert_eq!(digits_of(&events(&mut r)), [(A, '3', DigitSource::Rfc4733)]);
}

#[test]
fn a_packet_for_a_peer_without_an_address_is_counted_not_sent() {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.add(A, 1, Vec::new());
    let t0 = Instant::now();
    r.handle_op(
        t0,
        A,
        EndpointOp::Format(Some(format(CodecKind::Pcma, 8, None))),
    );
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(ramp(320)),
            barge_in: false,
        },
    );
    let (sent, evs) = run(&mut r, t0, t0 + Duration::from_secs(1));
    assert!(sent.is_empty());
    assert_eq!(evs.len(), 1);
    assert_eq!(r.endpoint(A).unwrap().lines()[0].counters().dropped, 2);
}

#[test]
fn rtp_payload_skips_csrcs_extension_and_padding() {
    let mut p = vec![0xb1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
    p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension, one word
    p.extend_from_slice(&[1, 2, 3, 0, 0, 3]); // payload 1 2 3, three bytes of padding
    assert_eq!(rtp_payload(&p), Some(&[1u8, 2, 3][..]));
    assert_eq!(rtp_payload(&p[..14]), None);
    let mut bad_pad = p.clone();
    *bad_pad.last_mut().unwrap() = 200;
    assert_eq!(rtp_payload(&bad_pad), None);
}

#[test]
fn a_held_leg_gets_comfort_silence_around_music_in_one_stream() {
    let mut r = session(
        format(CodecKind::Pcma, 8, None),
        format(CodecKind::Pcma, 8, None),
    );
    let t0 = Instant::now();
    r.handle_op(t0, A, EndpointOp::ComfortSilence(true));
    let (silence, _) = run(&mut r, t0, t0 + FRAME * 9);
    assert_eq!(silence.len(), 10, "a frame every 20 ms from the hold on");
    assert!(
        silence
            .iter()
            .all(|(_, t, p)| t.ep == A && p[12..].iter().all(|&b| b == 0xd5)),
        "A-law silence"
    );
    // Music on hold takes the stream, then silence again once it ends.
    let at = t0 + FRAME * 10;
    r.handle_op(
        at,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(ramp(800)),
            barge_in: false,
        },
    );
    let (rest, evs) = run(&mut r, at, at + FRAME * 9);
    assert_eq!(rest.len(), 10);
    assert!(
        rest[..5]
            .iter()
            .all(|(_, _, p)| p[12..].iter().any(|&b| b != 0xd5))
    );
    assert!(
        rest[5..]
            .iter()
            .all(|(_, _, p)| p[12..].iter().all(|&b| b == 0xd5))
    );
    assert!(matches!(evs.as_slice(), [(A, MediaEvent::PlaybackDone(_))]));
    // Music stopped on command: silence again, in the same stream.
    let at = at + FRAME * 10;
    r.handle_op(
        at,
        A,
        EndpointOp::Play {
            id: PlaybackId(2),
            source: Source::Music(ramp(800)),
            barge_in: false,
        },
    );
    let (music, _) = run(&mut r, at, at + FRAME * 2);
    let at = at + FRAME * 3;
    r.handle_op(at, A, EndpointOp::Stop);
    let (after_stop, _) = run(&mut r, at, at + FRAME * 2);
    assert_eq!((music.len(), after_stop.len()), (3, 3));
    assert!(
        after_stop
            .iter()
            .all(|(_, _, p)| p[12..].iter().all(|&b| b == 0xd5))
    );
    let all: Vec<_> = [silence, rest, music, after_stop].concat();
    let h = headers(&all);
    assert_one_stream(&h);
    let markers: Vec<usize> = (0..h.len()).filter(|&i| h[i].marker).collect();
    assert_eq!(
        markers,
        [0, 10, 20],
        "a talk spurt at the hold and at each playback; none when the music stops"
    );
    // Resumed: nothing more from voxgate.
    let end = at + FRAME * 3;
    r.handle_op(end, A, EndpointOp::ComfortSilence(false));
    let (after, _) = run(&mut r, end, end + FRAME * 5);
    assert!(after.is_empty());
    assert_eq!(r.poll_timeout(), None);
}

mod recording;
