//! Micro-benchmarks of the codec and DTMF per-frame paths, sans-IO: one
//! 20 ms frame (160 samples at 8 kHz) through µ-law → A-law and A-law →
//! µ-law (in place), G.711 decode and encode, the Goertzel in-band detector;
//! and one RFC 4733 packet through the detector. Nothing in them allocates
//! (media/tests/dtmf_codec_allocations.rs).
//!
//! Run: `cargo bench --bench dtmf_codec` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use voxgate_media::codec::CodecKind;
use voxgate_media::codec::g711::{alaw_to_ulaw_in_place, ulaw_to_alaw_in_place};
use voxgate_media::dtmf::{
    DetectorConfig, InbandConfig, InbandDetector, Rfc4733Detector, TelephoneEvent, Volume,
};
use voxgate_media::rtp::{PayloadType, RtpHeader, Ssrc};

/// 20 ms of speech-band signal: a 440 Hz + 1 kHz mix.
fn pcm_frame() -> [i16; 160] {
    std::array::from_fn(|n| {
        let t = n as f32 / 8000.0;
        (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
            + 4000.0 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()) as i16
    })
}

fn codecs(c: &mut Criterion) {
    let pcm = pcm_frame();
    let mut pcmu = CodecKind::Pcmu.new_codec();
    let mut pcma = CodecKind::Pcma.new_codec();
    let mut payload = [0u8; 160];
    pcmu.encode(&pcm, &mut payload).unwrap();
    let mut out = [0i16; 160];

    let mut g = c.benchmark_group("g711_frame_20ms");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ulaw_to_alaw", |b| {
        b.iter(|| ulaw_to_alaw_in_place(black_box(&mut payload)))
    });
    g.bench_function("alaw_to_ulaw", |b| {
        b.iter(|| alaw_to_ulaw_in_place(black_box(&mut payload)))
    });
    g.bench_function("decode_pcmu", |b| {
        b.iter(|| {
            pcmu.decode(black_box(&payload), black_box(&mut out))
                .unwrap()
        })
    });
    g.bench_function("encode_pcmu", |b| {
        b.iter(|| {
            pcmu.encode(black_box(&pcm), black_box(&mut payload))
                .unwrap()
        })
    });
    g.bench_function("decode_pcma", |b| {
        b.iter(|| {
            pcma.decode(black_box(&payload), black_box(&mut out))
                .unwrap()
        })
    });
    g.bench_function("encode_pcma", |b| {
        b.iter(|| {
            pcma.encode(black_box(&pcm), black_box(&mut payload))
                .unwrap()
        })
    });
    g.finish();
}

fn dtmf(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtmf");
    g.throughput(Throughput::Elements(1));

    // Per packet: a stream of digits, 10 packets each (start, updates, 3 ends).
    let t0 = Instant::now();
    let mut det = Rfc4733Detector::new(DetectorConfig::new(PayloadType(101), 8000));
    let packets: Vec<(RtpHeader, [u8; 4])> = (0..1000u32)
        .map(|i| {
            let (digit, k) = (i / 10, i % 10);
            let mut p = [0u8; 4];
            TelephoneEvent {
                event: (digit % 16) as u8,
                end: k >= 7,
                volume: Volume(10),
                duration: (k.min(7) * 320) as u16,
            }
            .write(&mut p)
            .unwrap();
            let h = RtpHeader {
                marker: k == 0,
                payload_type: PayloadType(101),
                seq: i as u16,
                timestamp: digit * 4000,
                ssrc: Ssrc(7),
            };
            (h, p)
        })
        .collect();
    let mut i = 0usize;
    let mut round = 0u32;
    g.bench_function("rfc4733_detect_packet", |b| {
        b.iter(|| {
            let (mut h, p) = packets[i];
            // Later rounds move the timestamps on, so every round is new digits.
            h.timestamp = h.timestamp.wrapping_add(round * 4_000_000);
            det.handle_packet(t0 + Duration::from_millis(i as u64 * 20), black_box(&h), &p);
            while black_box(det.poll_event()).is_some() {}
            i += 1;
            if i == packets.len() {
                i = 0;
                round += 1;
            }
        })
    });

    // Per 20 ms frame of speech-band audio (the common case: no digit).
    let pcm = pcm_frame();
    let mut inband = InbandDetector::new(InbandConfig::default());
    g.bench_function("goertzel_detect_frame_20ms", |b| {
        b.iter(|| {
            inband.handle_pcm(t0, black_box(&pcm));
            black_box(inband.poll_event())
        })
    });
    g.finish();
}

criterion_group!(benches, codecs, dtmf);
criterion_main!(benches);
