//! The recorder's per-frame path allocates nothing: both directions pushed
//! and one stereo frame polled (and turned into the WAV bytes the writer
//! thread writes), 10,000 times; pause and resume included. The file I/O
//! thread is not on the packet path and is not measured.

use std::time::{Duration, Instant};

use voxgate_media::play::FRAME_SAMPLES;
use voxgate_media::record::{Channel, Layout, Recorder};

#[test]
fn recorder_push_and_poll_allocate_nothing() {
    let t0 = Instant::now();
    let mut r = Recorder::new(Layout::Stereo, t0);
    let left = [1000i16; FRAME_SAMPLES];
    let right = [-1000i16; FRAME_SAMPLES];
    let mut bytes = [0u8; 4 * FRAME_SAMPLES];
    let mut frames = 0u32;
    let mut step = |r: &mut Recorder, i: u64| {
        r.push(Channel::Left, &left);
        // The right side loses every seventh packet.
        if !i.is_multiple_of(7) {
            r.push(Channel::Right, &right);
        }
        match i % 1000 {
            500 => r.pause(),
            520 => r.resume(),
            _ => {}
        }
        let mut n = 0;
        while let Some(f) = r.poll_frame(t0 + Duration::from_millis(20 * i)) {
            let b = f.le_bytes(&mut bytes);
            assert_eq!(b.len(), 4 * FRAME_SAMPLES);
            n += 1;
        }
        n
    };
    for i in 1..10 {
        step(&mut r, i);
    }
    let info = allocation_counter::measure(|| {
        for i in 10..10_010 {
            frames += step(&mut r, i);
        }
    });
    let control = allocation_counter::measure(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert_eq!(control.count_total, 1, "the counter counts");
    // A pause writes silent frames: one frame per tick throughout.
    assert_eq!(frames, 10_000);
    assert_eq!(info.count_total, 0);
}
