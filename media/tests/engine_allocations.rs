//! The engine's per-packet and per-frame paths allocate nothing: 10,000
//! packets through RFC 4733 and in-band DTMF detection (digits reported
//! along the way), 10,000 relayed packets rewritten into voxgate's stream,
//! 10,000 player frames out of `poll_transmit`, and 10,000 packets each way
//! of a bridge recorded in stereo (frames out of `poll_record`, a pause
//! among them), all through `SessionRelay`. (`allocation-counter` is this binary's global allocator;
//! it counts the measuring thread's allocations only.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_media::anchor::RemoteMedia;
use voxgate_media::codec::{Codec, CodecKind, G711, Law};
use voxgate_media::endpoint::{EventFormat, MAX_GENERATED, RecordOutput, RecordingId, VoiceFormat};
use voxgate_media::latch::{EndpointId, SessionRelay, SocketKind};
use voxgate_media::play::{PlaybackId, Prompt, Source};
use voxgate_media::record::Layout;
use voxgate_media::rtp::PayloadType;
use voxgate_media::sdp::Direction;
use voxgate_media::{EndpointOp, MediaFormat};

const PACKETS: u32 = 10_000;
const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 1)))
}

fn format(event: Option<u8>) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(0),
            codec: CodecKind::Pcmu,
        }),
        telephone_event: event.map(|pt| EventFormat {
            receive: PayloadType(pt),
            send: PayloadType(pt),
            clock_rate: 8000,
        }),
        ptime: None,
        clock_rate: 8000,
    }
}

fn session(a: Option<u8>, b: Option<u8>, t0: Instant) -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for (ep, addr, event) in [(A, "192.0.2.1:4000", a), (B, "192.0.2.2:6000", b)] {
        r.add(ep, 1, Vec::new());
        r.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(sa(addr)),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        r.handle_op(t0, ep, EndpointOp::Format(Some(format(event))));
    }
    r
}

fn header(p: &mut [u8], pt: u8, marker: bool, seq: u16, ts: u32) {
    p[0] = 0x80;
    p[1] = pt | if marker { 0x80 } else { 0 };
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
}

/// Packet `i` of a caller pressing a key every 10 packets (four updates,
/// three end packets, three packets of audio).
fn rfc4733_packet(p: &mut [u8; 16], i: u32) {
    let digit = (i / 10 % 16) as u8;
    let k = i % 10;
    let ts = (i / 10) * 1600;
    let seq = i as u16;
    header(p, 101, k == 0, seq, ts);
    let (end, dur) = match k {
        0..=3 => (false, 160 * (k as u16 + 1)),
        4..=6 => (true, 640),
        _ => (false, 0),
    };
    if k >= 7 {
        p[1] = 0; // audio
    }
    p[12] = digit;
    p[13] = if end { 0x8a } else { 0x0a };
    p[14..16].copy_from_slice(&dur.to_be_bytes());
}

fn drain(r: &mut SessionRelay) -> u32 {
    let mut n = 0;
    while r.poll_event().is_some() {
        n += 1;
    }
    n
}

#[test]
fn rfc4733_detection_allocates_nothing() {
    let t0 = Instant::now();
    let mut r = session(Some(101), Some(101), t0);
    let src = sa("192.0.2.1:4000");
    let mut p = [0u8; 16];
    let at = |i: u32| t0 + Duration::from_millis(20 * u64::from(i));
    // Warm-up: the event queue's first slots.
    for i in 0..40 {
        rfc4733_packet(&mut p, i);
        r.on_packet(A, 0, SocketKind::Rtp, src, &mut p, 16, at(i));
        drain(&mut r);
    }
    let mut digits = 0;
    let info = allocation_counter::measure(|| {
        for i in 40..40 + PACKETS {
            rfc4733_packet(&mut p, i);
            r.on_packet(A, 0, SocketKind::Rtp, src, &mut p, 16, at(i));
            r.handle_timeout(at(i));
            digits += drain(&mut r);
        }
    });
    assert_eq!(digits, PACKETS / 10, "every digit heard once");
    assert_eq!(info.count_total, 0, "allocations during {PACKETS} packets");
}

#[test]
fn inband_detection_allocates_nothing() {
    let t0 = Instant::now();
    let mut r = session(None, None, t0);
    let src = sa("192.0.2.1:4000");
    // A 697+1209 Hz pair (the key 1) for 100 ms in each 300 ms.
    let mut codec = G711::new(Law::Mu);
    let mut frames = Vec::new();
    for f in 0..15u32 {
        let mut pcm = [0i16; 160];
        if f < 5 {
            for (k, s) in pcm.iter_mut().enumerate() {
                let t = (f * 160 + k as u32) as f32 / 8000.0;
                let v = (2.0 * std::f32::consts::PI * 697.0 * t).sin()
                    + (2.0 * std::f32::consts::PI * 1209.0 * t).sin();
                *s = (v * 6000.0) as i16;
            }
        }
        let mut payload = [0u8; 160];
        let _ = codec.encode(&pcm, &mut payload);
        frames.push(payload);
    }
    let mut p = [0u8; 172];
    let mut send = |r: &mut SessionRelay, i: u32| {
        header(&mut p, 0, false, i as u16, i * 160);
        p[12..].copy_from_slice(&frames[(i % 15) as usize]);
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        r.on_packet(A, 0, SocketKind::Rtp, src, &mut p, 172, at);
        r.handle_timeout(at);
        drain(r)
    };
    for i in 0..30 {
        send(&mut r, i);
    }
    let mut digits = 0;
    let info = allocation_counter::measure(|| {
        for i in 30..30 + PACKETS {
            digits += send(&mut r, i);
        }
    });
    // One digit per 15-packet burst: 666 bursts and a part of one.
    assert!(
        (PACKETS / 15..=PACKETS / 15 + 1).contains(&digits),
        "{digits}"
    );
    assert_eq!(info.count_total, 0, "allocations during {PACKETS} packets");
}

#[test]
fn player_frames_and_rewritten_relay_allocate_nothing() {
    let t0 = Instant::now();
    let mut r = session(Some(101), Some(96), t0);
    r.bridge(A, B);
    let prompt = Prompt::from_samples((0..8000).map(|i| (i % 300) as i16 * 50).collect::<Vec<_>>());
    let mut buf = [0u8; MAX_GENERATED];
    let at = |i: u32| t0 + Duration::from_millis(20 * u64::from(i));
    // Music to A (in voxgate's stream from now on); B talks meanwhile.
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Music(prompt),
            barge_in: false,
        },
    );
    // Voxgate speaks to A: its RTCP sender reports go to A's peer too.
    let mut reports = 0;
    let mut frame = |r: &mut SessionRelay, i: u32| -> u32 {
        let mut n = 0;
        r.handle_timeout(at(i));
        while let Some(t) = r.poll_transmit(at(i), &mut buf) {
            r.on_transmitted(&t, true);
            if t.rtcp {
                reports += 1;
            } else {
                n += 1;
            }
        }
        drain(r);
        n
    };
    for i in 0..10 {
        frame(&mut r, i);
    }
    let mut sent = 0;
    let info = allocation_counter::measure(|| {
        for i in 10..10 + PACKETS {
            sent += frame(&mut r, i);
        }
    });
    assert_eq!(sent, PACKETS);
    assert_eq!(info.count_total, 0, "allocations during {PACKETS} frames");
    // 200 s at one report per 2.05–6.16 s (RFC 3550 §6.3: 5 s randomised, compensated).
    assert!((32..=98).contains(&reports), "{reports} RTCP reports");

    // Stopped: B's media reaches A again, rewritten into voxgate's stream.
    r.handle_op(at(PACKETS + 10), A, EndpointOp::Stop);
    drain(&mut r);
    let src = sa("192.0.2.2:6000");
    let mut p = [0u8; 172];
    let info = allocation_counter::measure(|| {
        for i in 0..PACKETS {
            header(&mut p, 0, false, i as u16, i * 160);
            let now = at(PACKETS + 11 + i);
            if r.on_packet(B, 0, SocketKind::Rtp, src, &mut p, 172, now)
                .is_some()
            {
                sent += 1;
            }
        }
    });
    assert_eq!(sent, 2 * PACKETS);
    assert_eq!(
        info.count_total, 0,
        "allocations during {PACKETS} relayed packets"
    );
}

#[test]
fn a_recorded_bridge_allocates_nothing() {
    let t0 = Instant::now();
    let mut r = session(Some(101), Some(101), t0);
    r.bridge(A, B);
    let id = RecordingId(1);
    r.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id,
            layout: Layout::Stereo,
        },
    );
    let (src_a, src_b) = (sa("192.0.2.1:4000"), sa("192.0.2.2:6000"));
    let mut p = [0u8; 172];
    let at = |i: u32| t0 + Duration::from_millis(20 * u64::from(i));
    let mut step = |r: &mut SessionRelay, i: u32| -> (u32, u32) {
        let mut relayed = 0;
        for (ep, src, code) in [(A, src_a, 0x12u8), (B, src_b, 0x93)] {
            header(&mut p, 0, false, i as u16, i * 160);
            p[12..].fill(code);
            if r.on_packet(ep, 0, SocketKind::Rtp, src, &mut p, 172, at(i))
                .is_some()
            {
                relayed += 1;
            }
        }
        match i % 1000 {
            500 => r.handle_op(at(i), A, EndpointOp::PauseRecording(id)),
            550 => r.handle_op(at(i), A, EndpointOp::ResumeRecording(id)),
            _ => {}
        }
        r.handle_timeout(at(i));
        let mut frames = 0;
        while let Some(out) = r.poll_record(at(i)) {
            if let RecordOutput::Frame { frame, .. } = out {
                assert_eq!(frame.samples().len(), 320);
                frames += 1;
            }
        }
        (relayed, frames)
    };
    for i in 1..20 {
        step(&mut r, i);
    }
    let (mut relayed, mut frames) = (0, 0);
    let info = allocation_counter::measure(|| {
        for i in 20..20 + PACKETS {
            let (n, f) = step(&mut r, i);
            relayed += n;
            frames += f;
        }
    });
    assert_eq!(relayed, 2 * PACKETS, "the relay goes on");
    assert_eq!(frames, PACKETS, "a recorded frame every 20 ms");
    assert_eq!(
        info.count_total, 0,
        "allocations during {PACKETS} recorded packets each way"
    );
}
