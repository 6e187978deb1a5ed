//! The player's per-frame path allocates nothing: prompt, sequence, tone and
//! music frames, encoded to PCMU with an RTP header, 10,000 frames each.
//! (`allocation-counter` is this binary's global allocator; it counts the
//! measuring thread's allocations, so other tests do not disturb it.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use voxgate_media::codec::{Codec, G711, Law};
use voxgate_media::play::tone::{Country, ToneKind, profile};
use voxgate_media::play::{FRAME_SAMPLES, PlaybackId, Player, Prompt, Source};
use voxgate_media::rtp::{OutgoingStream, PayloadType, Ssrc};

const FRAMES: u32 = 10_000;

/// Plays `source` for `FRAMES` frames after a warm-up; returns allocations
/// counted during the measured frames and the frames produced.
fn measure(source: Source) -> (u64, u32) {
    let t0 = Instant::now();
    let mut player = Player::new();
    let mut stream = OutgoingStream::with_state(Ssrc(1), 0, 0);
    let mut codec = G711::new(Law::Mu);
    let mut pcm = [0i16; FRAME_SAMPLES];
    let mut pkt = [0u8; 12 + FRAME_SAMPLES];
    player.play(t0, PlaybackId(1), source, false);
    player.set_comfort_silence(t0, true);
    let mut frame = |player: &mut Player, at: Instant| -> u32 {
        let mut n = 0;
        while let Some(f) = player.poll_frame(at, &mut pcm) {
            if f.marker {
                stream.start_talk_spurt();
            }
            let h = stream.write_header(PayloadType(0), &mut pkt).unwrap_or(0);
            let _ = codec.encode(&pcm, &mut pkt[h..]);
            stream.advance(160);
            n += 1;
        }
        let _ = player.poll_event();
        n
    };
    // Warm-up: lazily built tables, first frames.
    for i in 0..10 {
        frame(&mut player, t0 + Duration::from_millis(20 * i));
    }
    let mut produced = 0;
    let info = allocation_counter::measure(|| {
        for i in 10..10 + FRAMES {
            produced += frame(&mut player, t0 + Duration::from_millis(20 * u64::from(i)));
        }
    });
    (info.count_total, produced)
}

fn ramp(n: usize) -> Prompt {
    Prompt::from_samples((0..n).map(|i| (i % 2000) as i16).collect::<Vec<_>>())
}

#[test]
fn prompt_frames_allocate_nothing() {
    // A 5-minute prompt (15,000 frames): every measured frame plays it.
    let (allocs, frames) = measure(Source::Prompt(ramp(15_000 * FRAME_SAMPLES)));
    assert_eq!(frames, FRAMES);
    assert_eq!(allocs, 0);
}

#[test]
fn a_prompt_sequence_and_its_end_allocate_nothing() {
    // Ends part-way through: the switch to comfort silence is measured too.
    let parts = vec![
        ramp(3000 * FRAME_SAMPLES + 7),
        ramp(1000),
        ramp(2000 * FRAME_SAMPLES),
    ];
    let (allocs, frames) = measure(Source::Sequence(parts));
    assert_eq!(frames, FRAMES);
    assert_eq!(allocs, 0);
}

#[test]
fn tone_frames_allocate_nothing() {
    let tone = Arc::new(profile(Country::Us, ToneKind::Ringback));
    let (allocs, frames) = measure(Source::Tone(tone));
    assert_eq!(frames, FRAMES);
    assert_eq!(allocs, 0);
}

#[test]
fn music_on_hold_frames_allocate_nothing() {
    // A 3-second loop: wraps many times during the measurement.
    let (allocs, frames) = measure(Source::Music(ramp(24_000)));
    assert_eq!(frames, FRAMES);
    assert_eq!(allocs, 0);
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert_eq!(info.count_total, 1);
}
