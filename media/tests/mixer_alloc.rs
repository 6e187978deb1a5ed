//! The mixer allocates only at join: 10,000 ticks of 16 participants (a
//! packet in from each, decode, sum, a packet out to each) allocate nothing.
//! Counted by allocation-counter's global allocator (the workspace forbids
//! unsafe code, so not our own); its own test binary, so no other test's
//! allocations are counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use voxgate_media::codec::{CodecKind, G711, Law};
use voxgate_media::latch::EndpointId;
use voxgate_media::mixer::{FRAME, Leg, MAX_PACKET, Mixer, MixerConfig, Role};
use voxgate_media::rtp::{OutgoingStream, Ssrc};

#[test]
fn ten_thousand_ticks_of_sixteen_allocate_nothing() {
    let t0 = Instant::now();
    let mut mixer = Mixer::new(t0, MixerConfig::default());
    for i in 0..16u32 {
        let kind = if i % 2 == 0 {
            CodecKind::Pcma
        } else {
            CodecKind::Pcmu
        };
        let leg = Leg {
            codec: kind.new_codec(),
            payload_type: kind.static_payload_type().unwrap(),
            stream: OutgoingStream::with_state(Ssrc(i), 0, 0),
        };
        let role = if i == 15 {
            Role::Monitor
        } else {
            Role::Speaker
        };
        mixer.join(EndpointId(i), role, leg).unwrap();
    }
    mixer.set_muted(EndpointId(14), true).unwrap();
    // A 400 Hz tone, as each phone's G.711 would carry it.
    let mut payloads = [[0u8; 160]; 2];
    for (law, p) in [Law::A, Law::Mu].into_iter().zip(&mut payloads) {
        let pcm: Vec<i16> = (0..160)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * 400.0 * f64::from(n) / 8000.0).sin()) as i16
            })
            .collect();
        voxgate_media::codec::Codec::encode(&mut G711::new(law), &pcm, p).unwrap();
    }

    let mut buf = [0u8; MAX_PACKET];
    let mut sent = 0u64;
    let mut run = |mixer: &mut Mixer, ticks: u32, from: u32| {
        for k in from..from + ticks {
            let now = t0 + (k + 1) * FRAME;
            for i in 0..16u32 {
                // Every tenth packet of four legs lost: concealment runs too.
                if i < 4 && k % 10 == i {
                    continue;
                }
                let ts = k.wrapping_mul(160);
                mixer
                    .push(
                        now,
                        EndpointId(i),
                        k as u16,
                        ts,
                        &payloads[(i % 2) as usize],
                    )
                    .unwrap();
            }
            while let Some(mut frame) = mixer.handle_timeout(now) {
                while let Some(tx) = frame.next_packet(&mut buf).unwrap() {
                    assert_eq!(tx.len, 172);
                    sent += 1;
                }
            }
        }
    };
    run(&mut mixer, 100, 0);
    let info = allocation_counter::measure(|| run(&mut mixer, 10_000, 100));
    assert_eq!(info.count_total, 0, "allocations in 10,000 ticks: {info:?}");
    assert_eq!(sent, 16 * 10_100);
    // The counter is live: a join allocates (its codec).
    mixer.leave(EndpointId(3)).unwrap();
    let info = allocation_counter::measure(|| {
        let leg = Leg {
            codec: CodecKind::Pcmu.new_codec(),
            payload_type: CodecKind::Pcmu.static_payload_type().unwrap(),
            stream: OutgoingStream::with_state(Ssrc(3), 0, 0),
        };
        mixer.join(EndpointId(3), Role::Speaker, leg).unwrap();
    });
    assert!(info.count_total > 0);
}
