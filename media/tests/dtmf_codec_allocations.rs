//! The codec and DTMF per-frame / per-packet paths allocate nothing: 10,000
//! frames or packets each through µ-law ↔ A-law transcoding, G.711 decode
//! and encode, the RFC 4733 detector and the in-band (Goertzel) detector,
//! counted by allocation-counter's global allocator. One test in its own
//! binary, so nothing else runs while it counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use voxgate_media::codec::CodecKind;
use voxgate_media::codec::g711::{alaw_to_ulaw_in_place, ulaw_to_alaw_in_place};
use voxgate_media::dtmf::{
    DetectorConfig, Digit, InbandConfig, InbandDetector, Rfc4733Detector, TelephoneEvent, Volume,
};
use voxgate_media::rtp::{PayloadType, RtpHeader, Ssrc};

const N: u32 = 10_000;

fn assert_none(path: &str, f: impl FnOnce()) {
    let info = allocation_counter::measure(f);
    assert_eq!(info.count_total, 0, "{path}: {info:?}");
}

#[test]
fn codec_and_dtmf_paths_allocate_nothing() {
    // A 20 ms frame of a two-tone signal, as PCM and as µ-law.
    let pcm: Vec<i16> = (0..160)
        .map(|n| {
            let t = n as f32 / 8000.0;
            (6000.0 * (2.0 * std::f32::consts::PI * 770.0 * t).sin()
                + 6000.0 * (2.0 * std::f32::consts::PI * 1336.0 * t).sin()) as i16
        })
        .collect();
    let mut pcmu = CodecKind::Pcmu.new_codec();
    let mut pcma = CodecKind::Pcma.new_codec();
    let mut payload = [0u8; 160];
    pcmu.encode(&pcm, &mut payload).unwrap();
    let mut out = [0i16; 160];

    assert_none("µ-law ↔ A-law transcoding", || {
        for _ in 0..N {
            ulaw_to_alaw_in_place(&mut payload);
            alaw_to_ulaw_in_place(&mut payload);
        }
    });

    assert_none("G.711 decode and encode", || {
        for _ in 0..N {
            let n = pcmu.decode(&payload, &mut out).unwrap();
            pcma.encode(&out[..n], &mut payload).unwrap();
            pcma.decode(&payload, &mut out).unwrap();
            pcmu.encode(&out[..n], &mut payload).unwrap();
        }
    });

    // RFC 4733: 10,000 packets, digits of 10 packets each (start, updates,
    // three ends), events polled and timers checked as the endpoint would.
    let t0 = Instant::now();
    let mut det = Rfc4733Detector::new(DetectorConfig::new(PayloadType(101), 8000));
    let packet = |i: u32| {
        let digit = i / 10;
        let k = i % 10;
        let header = RtpHeader {
            marker: k == 0,
            payload_type: PayloadType(101),
            seq: i as u16,
            timestamp: digit * 4000,
            ssrc: Ssrc(7),
        };
        let ev = TelephoneEvent {
            event: (digit % 16) as u8,
            end: k >= 7,
            volume: Volume(10),
            duration: (k.min(7) * 320) as u16,
        };
        let mut p = [0u8; 4];
        ev.write(&mut p).unwrap();
        (header, p)
    };
    let mut events = 0u32;
    let feed = |det: &mut Rfc4733Detector, range: std::ops::Range<u32>, events: &mut u32| {
        for i in range {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            let (h, p) = packet(i);
            det.handle_packet(now, &h, &p);
            det.handle_timeout(now);
            while det.poll_event().is_some() {
                *events += 1;
            }
        }
    };
    feed(&mut det, 0..100, &mut events); // warm-up
    assert_none("RFC 4733 detector", || {
        feed(&mut det, 100..100 + N, &mut events)
    });
    assert_eq!(events, 2 * (100 + N) / 10, "a start and an end per digit");

    // Goertzel: 10,000 frames of 20 ms, a digit every 10 frames.
    let mut inband = InbandDetector::new(InbandConfig::default());
    let silence = [0i16; 160];
    let mut digits = 0u32;
    let run = |inband: &mut InbandDetector, range: std::ops::Range<u32>, digits: &mut u32| {
        for i in range {
            let frame = if i % 10 < 5 { &pcm[..] } else { &silence[..] };
            inband.handle_pcm(t0, frame);
            while let Some(ev) = inband.poll_event() {
                if let voxgate_media::dtmf::DigitEvent::Start { digit } = ev {
                    assert_eq!(digit, Digit::D5);
                    *digits += 1;
                }
            }
        }
    };
    run(&mut inband, 0..100, &mut digits); // warm-up
    assert_none("in-band detector", || {
        run(&mut inband, 100..100 + N, &mut digits)
    });
    assert_eq!(digits, (100 + N) / 10);
}
