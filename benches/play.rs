//! Micro-benchmarks of the player's per-frame path, sans-IO: one 20 ms frame
//! of a prompt, of a two-frequency tone, and of a prompt encoded to PCMU
//! with its RTP header (what an endpoint does per frame, before the socket).
//! Nothing in it allocates (media/tests/play_allocations.rs checks).
//!
//! Run: `cargo bench --bench play` (add `-- --quick` for a smoke run).

// Fixed inputs: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxgate_media::codec::{Codec, G711, Law};
use voxgate_media::play::tone::{Country, ToneKind, profile};
use voxgate_media::play::{FRAME_SAMPLES, PlaybackId, Player, Prompt, Source};
use voxgate_media::rtp::{OutgoingStream, PayloadType, Ssrc};

/// A player that always has a frame due at the next 20 ms step.
struct Clocked {
    player: Player,
    now: Instant,
}

impl Clocked {
    fn new(source: Source) -> Self {
        let now = Instant::now();
        let mut player = Player::new();
        player.play(now, PlaybackId(1), source, false);
        Clocked { player, now }
    }

    fn frame(&mut self, pcm: &mut [i16; FRAME_SAMPLES]) -> bool {
        let f = self.player.poll_frame(self.now, pcm).unwrap();
        self.now += Duration::from_millis(20);
        f.marker
    }
}

fn music() -> Source {
    // A 10-second loop (prompt samples, as a decoded WAV holds them).
    let samples: Vec<i16> = (0..80_000)
        .map(|i| ((i * 37) % 4001 - 2000) as i16)
        .collect();
    Source::Music(Prompt::from_samples(samples))
}

fn play(c: &mut Criterion) {
    let mut g = c.benchmark_group("play");
    g.throughput(Throughput::Elements(1));
    let mut pcm = [0i16; FRAME_SAMPLES];

    let mut prompt = Clocked::new(music());
    g.bench_function("prompt_frame", |b| {
        b.iter(|| {
            prompt.frame(&mut pcm);
            black_box(&pcm);
        })
    });

    let ringback = Arc::new(profile(Country::Us, ToneKind::Ringback));
    // Ring-back is 2 s on, 4 s off: measure the sounding part only, where
    // both frequencies are synthesised (an off frame is a memset).
    let mut tone = Clocked::new(Source::Tone(ringback.clone()));
    let mut n = 0u32;
    g.bench_function("tone_frame_2_frequencies", |b| {
        b.iter(|| {
            n += 1;
            if n.is_multiple_of(100) {
                tone = Clocked::new(Source::Tone(ringback.clone()));
            }
            tone.frame(&mut pcm);
            black_box(&pcm);
        })
    });

    let mut prompt = Clocked::new(music());
    let mut stream = OutgoingStream::with_state(Ssrc(0x5eed), 0, 0);
    let mut codec = G711::new(Law::Mu);
    let mut pkt = [0u8; 12 + FRAME_SAMPLES];
    g.bench_function("prompt_frame_pcmu_rtp", |b| {
        b.iter(|| {
            if prompt.frame(&mut pcm) {
                stream.start_talk_spurt();
            }
            let h = stream.write_header(PayloadType(0), &mut pkt).unwrap();
            let n = codec.encode(&pcm, &mut pkt[h..]).unwrap();
            stream.advance(160);
            black_box(&pkt[..h + n]);
        })
    });
    g.finish();
}

criterion_group!(benches, play);
criterion_main!(benches);
