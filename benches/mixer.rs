//! Micro-benchmarks of the conference mixer, sans-IO: one 20 ms tick of a
//! bridge with 8 and with 16 legs, G.711 (half µ-law, half A-law): a packet
//! in from each leg into its jitter buffer, then decode, sum, and per leg
//! the mix minus itself encoded into an RTP packet. Nothing in it allocates
//! (media/tests/mixer_alloc.rs).
//!
//! Run: `cargo bench --bench mixer` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use voxgate_media::codec::CodecKind;
use voxgate_media::latch::EndpointId;
use voxgate_media::mixer::{FRAME, Leg, MAX_PACKET, Mixer, MixerConfig, Role};
use voxgate_media::rtp::{OutgoingStream, Ssrc};

fn kind(i: u32) -> CodecKind {
    if i.is_multiple_of(2) {
        CodecKind::Pcma
    } else {
        CodecKind::Pcmu
    }
}

/// A bridge of `legs` speakers, and each leg's 20 ms of a tone as its phone
/// would send it.
fn bridge(legs: u32, t0: Instant) -> (Mixer, Vec<[u8; 160]>) {
    let mut mixer = Mixer::new(t0, MixerConfig::default());
    let mut payloads = Vec::new();
    for i in 0..legs {
        let k = kind(i);
        let leg = Leg {
            codec: k.new_codec(),
            payload_type: k.static_payload_type().unwrap(),
            stream: OutgoingStream::with_state(Ssrc(i), 0, 0),
        };
        mixer.join(EndpointId(i), Role::Speaker, leg).unwrap();
        let freq = 300.0 + 200.0 * f64::from(i);
        let pcm: Vec<i16> = (0..160)
            .map(|n| {
                (4000.0 * (2.0 * std::f64::consts::PI * freq * f64::from(n) / 8000.0).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 160];
        k.new_codec().encode(&pcm, &mut payload).unwrap();
        payloads.push(payload);
    }
    (mixer, payloads)
}

fn mixer(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer");
    for legs in [8u32, 16] {
        // One element = one 20 ms tick of the whole bridge.
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(
            BenchmarkId::new("tick_g711", legs),
            &legs,
            |bench, &legs| {
                let t0 = Instant::now();
                let (mut mixer, payloads) = bridge(legs, t0);
                let mut buf = [0u8; MAX_PACKET];
                let mut k = 0u32;
                bench.iter(|| {
                    k = k.wrapping_add(1);
                    let now = t0 + k * FRAME;
                    for (i, payload) in payloads.iter().enumerate() {
                        let id = EndpointId(i as u32);
                        let _ =
                            mixer.push(now, id, k as u16, k.wrapping_mul(160), black_box(payload));
                    }
                    let mut bytes = 0;
                    while let Some(mut frame) = mixer.handle_timeout(now) {
                        while let Some(tx) = frame.next_packet(&mut buf).unwrap() {
                            bytes += tx.len;
                            black_box(&buf[..tx.len]);
                        }
                    }
                    assert_eq!(bytes, legs as usize * 172);
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, mixer);
criterion_main!(benches);
