//! Micro-benchmarks of the media engine's own paths inside `SessionRelay`,
//! sans-IO: a packet through `on_packet` with RFC 4733 detection (an event
//! packet, and a voice packet beside it), a voice packet through in-band
//! (Goertzel) detection on a leg without telephone-event, a relayed packet
//! rewritten into voxgate's stream by `egress`, and one player frame out of
//! `poll_transmit` (PCMA-encoded, header written); a relayed packet
//! transcoded from µ-law into the other leg's A-law; a 20 ms step of a bridge
//! recorded in stereo (both directions through `on_packet`, the frame out of
//! `poll_record`); one 20 ms frame of a conference of 8 and of 16 legs (every
//! member's packet into `on_packet`, the mixes out of `poll_transmit`).
//! Nothing in them allocates (media/tests/engine_allocations.rs,
//! transcode_allocations.rs and conference_allocations.rs check).
//!
//! Run: `cargo bench --bench engine` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_media::anchor::RemoteMedia;
use voxgate_media::codec::CodecKind;
use voxgate_media::endpoint::{EventFormat, MAX_GENERATED, RecordingId, VoiceFormat};
use voxgate_media::latch::{ConferenceId, EndpointId, Membership, SessionRelay, SocketKind};
use voxgate_media::play::{PlaybackId, Prompt, Source};
use voxgate_media::record::Layout;
use voxgate_media::rtp::PayloadType;
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::MAX_OVERHEAD;
use voxgate_media::{EndpointOp, MediaFormat};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "198.51.100.1:31000";
const B_PEER: &str = "192.0.2.2:6000";

fn format(event: bool) -> MediaFormat {
    format_of(CodecKind::Pcma, event)
}

fn format_of(codec: CodecKind, event: bool) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(if codec == CodecKind::Pcma { 8 } else { 0 }),
            codec,
        }),
        telephone_event: event.then_some(EventFormat {
            receive: PayloadType(101),
            send: PayloadType(101),
            clock_rate: 8000,
        }),
        ptime: None,
        clock_rate: 8000,
    }
}

fn session(event: bool, now: Instant) -> SessionRelay {
    session_of([format(event), format(event)], now)
}

/// A and B bridged, with these formats.
fn session_of(formats: [MediaFormat; 2], now: Instant) -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for ((ep, peer), f) in [(A, A_PEER), (B, B_PEER)].into_iter().zip(formats) {
        add(&mut r, ep, peer.parse().unwrap(), f, now);
    }
    r.bridge(A, B);
    r
}

fn add(r: &mut SessionRelay, ep: EndpointId, peer: SocketAddr, f: MediaFormat, now: Instant) {
    r.add(ep, 1, Vec::new());
    r.set_remote(
        ep,
        &[RemoteMedia {
            rtp: Some(peer),
            rtcp: None,
            rtcp_mux: true,
            direction: Direction::SendRecv,
        }],
    );
    r.handle_op(now, ep, EndpointOp::Format(Some(f)));
}

fn header(p: &mut [u8], pt: u8, seq: u16, ts: u32) {
    p[0] = 0x80;
    p[1] = pt;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&0x5eed_0001u32.to_be_bytes());
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    let src: SocketAddr = A_PEER.parse().unwrap();
    let t0 = Instant::now();

    // An RFC 4733 update packet of a long key press (one event, never ending).
    let mut r = session(true, t0);
    let mut ev = [0u8; 16];
    header(&mut ev, 101, 0, 4000);
    ev[12..16].copy_from_slice(&[5, 10, 0, 160]);
    let mut seq = 0u16;
    g.bench_function("dtmf_rfc4733_event_packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            ev[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(r.on_packet(A, 0, SocketKind::Rtp, src, black_box(&mut ev), 16, t0));
            while r.poll_event().is_some() {}
        })
    });

    // A voice packet on a leg with telephone-event: detection looks at its type only.
    let mut voice = [0xd5u8; 172];
    header(&mut voice, 8, 0, 0);
    g.bench_function("dtmf_rfc4733_voice_packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            voice[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(r.on_packet(A, 0, SocketKind::Rtp, src, black_box(&mut voice), 172, t0));
        })
    });

    // A voice packet on a leg without telephone-event: decoded, Goertzel over 160 samples.
    let mut inband = session(false, t0);
    for (i, s) in voice[12..].iter_mut().enumerate() {
        *s = (i as u8).wrapping_mul(37);
    }
    g.bench_function("dtmf_inband_voice_packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            voice[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(inband.on_packet(A, 0, SocketKind::Rtp, src, black_box(&mut voice), 172, t0));
            while inband.poll_event().is_some() {}
        })
    });

    // A player frame: due every 20 ms on the engine's clock.
    let mut play = session(true, t0);
    let samples: Vec<i16> = (0..80_000)
        .map(|i| ((i * 37) % 4001 - 2000) as i16)
        .collect();
    play.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Music(Prompt::from_samples(samples)),
            barge_in: false,
        },
    );
    let mut buf = [0u8; MAX_GENERATED];
    let mut now = t0;
    g.bench_function("player_frame_poll_transmit", |b| {
        b.iter(|| {
            let t = play.poll_transmit(now, &mut buf).unwrap();
            now += Duration::from_millis(20);
            black_box((t, &buf));
        })
    });

    // A packet from B relayed to A once voxgate has spoken on A: header rewritten
    // (on_packet's whole path: admission, counters, the renumbering).
    play.handle_op(now, A, EndpointOp::Stop);
    while play.poll_event().is_some() {}
    let bsrc: SocketAddr = B_PEER.parse().unwrap();
    let mut relayed = [0xd5u8; 172];
    header(&mut relayed, 8, 0, 0);
    g.bench_function("relay_rewritten_into_stream", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            relayed[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(play.on_packet(B, 0, SocketKind::Rtp, bsrc, &mut relayed, 172, now)).unwrap();
        })
    });

    // µ-law from A's peer, A-law to B's: transcoded in place on the way.
    let mut tr = session_of(
        [
            format_of(CodecKind::Pcmu, true),
            format_of(CodecKind::Pcma, true),
        ],
        t0,
    );
    let mut voice = [0x12u8; 172];
    header(&mut voice, 0, 0, 0);
    let mut seq = 0u16;
    g.bench_function("relay_transcoded_pcmu_to_pcma", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            header(&mut voice, 0, seq, u32::from(seq) * 160);
            voice[12..].fill(0x12);
            black_box(tr.on_packet(A, 0, SocketKind::Rtp, src, &mut voice, 172, t0)).unwrap();
        })
    });

    // A bridge recorded in stereo: per 20 ms, a packet each way and the
    // recording's frame.
    let mut rec = session(true, t0);
    rec.handle_op(
        t0,
        A,
        EndpointOp::Record {
            id: RecordingId(1),
            layout: Layout::Stereo,
        },
    );
    let mut k = 0u32;
    g.bench_function("recorded_bridge_20ms_stereo", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            let now = t0 + Duration::from_millis(20 * u64::from(k));
            for (ep, from) in [(A, src), (B, bsrc)] {
                header(&mut voice, 8, k as u16, k.wrapping_mul(160));
                voice[12..].fill(0x93);
                black_box(rec.on_packet(ep, 0, SocketKind::Rtp, from, &mut voice, 172, now));
            }
            rec.handle_timeout(now);
            while let Some(out) = rec.poll_record(now) {
                black_box(out);
            }
        })
    });
    g.finish();

    // One 20 ms frame of a conference: every member's packet in, every mix out.
    let mut g = c.benchmark_group("conference");
    g.throughput(Throughput::Elements(1));
    for legs in [8u32, 16] {
        let mut r = SessionRelay::new(Duration::from_secs(2));
        let peers: Vec<SocketAddr> = (0..legs)
            .map(|i| SocketAddr::from(([192, 0, 2, 10 + i as u8], 4000)))
            .collect();
        for (i, peer) in peers.iter().enumerate() {
            let codec = if i % 2 == 0 {
                CodecKind::Pcma
            } else {
                CodecKind::Pcmu
            };
            add(
                &mut r,
                EndpointId(i as u32),
                *peer,
                format_of(codec, false),
                t0,
            );
            r.set_conference(
                t0,
                EndpointId(i as u32),
                Some(Membership::speaker(ConferenceId(1))),
            );
        }
        let mut rx = [0u8; 172 + MAX_OVERHEAD];
        let mut tx = [0u8; MAX_GENERATED + MAX_OVERHEAD];
        let mut k = 0u32;
        g.bench_with_input(BenchmarkId::new("frame_g711", legs), &legs, |b, _| {
            b.iter(|| {
                k = k.wrapping_add(1);
                let now = t0 + Duration::from_millis(20 * u64::from(k) + 20);
                for (i, peer) in peers.iter().enumerate() {
                    header(&mut rx, if i % 2 == 0 { 8 } else { 0 }, k as u16, k * 160);
                    // A different level per member: nothing cancels out.
                    rx[12..172].fill(0x20 + i as u8);
                    let _ = r.on_packet(
                        EndpointId(i as u32),
                        0,
                        SocketKind::Rtp,
                        *peer,
                        &mut rx,
                        172,
                        now,
                    );
                }
                r.handle_timeout(now);
                let mut sent = 0u32;
                while let Some(t) = r.poll_transmit(now, &mut tx) {
                    r.on_transmitted(&t, true);
                    sent += 1;
                }
                black_box(sent)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
