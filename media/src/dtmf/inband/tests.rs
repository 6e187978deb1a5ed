use super::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::f32::consts::PI;

/// `ms` of the digit's two tones, amplitudes `low` and `high`.
fn tone(digit: Digit, ms: usize, low: f32, high: f32, phase: usize) -> Vec<i16> {
    let (r, c) = position(digit);
    (0..ms * 8)
        .map(|n| {
            let t = (n + phase) as f32 / 8000.0;
            (low * (2.0 * PI * ROWS[r] * t).sin() + high * (2.0 * PI * COLS[c] * t).sin()) as i16
        })
        .collect()
}

fn position(digit: Digit) -> (usize, usize) {
    for (r, row) in KEYS.iter().enumerate() {
        if let Some(c) = row.iter().position(|&d| d == digit) {
            return (r, c);
        }
    }
    unreachable!()
}

fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

/// Feeds `pcm` in 20 ms frames and collects the events.
fn detect(pcm: &[i16]) -> Vec<DigitEvent> {
    let mut d = InbandDetector::new(InbandConfig::default());
    let now = Instant::now();
    let mut out = Vec::new();
    for frame in pcm.chunks(160) {
        d.handle_pcm(now, frame);
        out.extend(std::iter::from_fn(|| d.poll_event()));
    }
    out
}

fn digits(events: &[DigitEvent]) -> Vec<Digit> {
    events
        .iter()
        .filter_map(|e| match e {
            DigitEvent::Start { digit } => Some(*digit),
            DigitEvent::End { .. } => None,
        })
        .collect()
}

#[test]
fn each_of_the_sixteen_digits() {
    for d in Digit::ALL {
        let mut pcm = silence(30);
        pcm.extend(tone(d, 100, 6000.0, 6000.0, 0));
        pcm.extend(silence(100));
        let ev = detect(&pcm);
        assert_eq!(ev.len(), 2, "{d}: {ev:?}");
        assert_eq!(ev[0], DigitEvent::Start { digit: d });
        match ev[1] {
            DigitEvent::End {
                digit,
                duration,
                cause,
                ..
            } => {
                assert_eq!(digit, d);
                assert_eq!(cause, EndCause::ToneStopped);
                let ms = duration.as_millis();
                assert!((90..=110).contains(&ms), "{d}: {ms} ms");
            }
            DigitEvent::Start { .. } => panic!("{ev:?}"),
        }
    }
}

#[test]
fn a_sequence_with_short_pauses_and_a_repeated_key() {
    let mut pcm = Vec::new();
    for d in [Digit::D1, Digit::D1, Digit::Pound, Digit::D0] {
        pcm.extend(tone(d, 60, 5000.0, 6000.0, 0));
        pcm.extend(silence(45));
    }
    assert_eq!(
        digits(&detect(&pcm)),
        [Digit::D1, Digit::D1, Digit::Pound, Digit::D0]
    );
}

#[test]
fn with_noise() {
    let mut rng = StdRng::seed_from_u64(24);
    for d in Digit::ALL {
        let mut pcm = tone(d, 80, 4000.0, 4000.0, 3);
        pcm.extend(silence(60));
        // White noise about 20 dB under the tones, over everything.
        for s in &mut pcm {
            *s = s.saturating_add(rng.random_range(-700..=700));
        }
        assert_eq!(digits(&detect(&pcm)), [d], "{d}");
    }
}

#[test]
fn twist_within_limits_passes_beyond_them_fails() {
    let db = |x: f32| 10f32.powf(x / 20.0);
    // High group 6 dB louder (normal twist 8 dB allowed).
    assert_eq!(
        digits(&detect(&tone(Digit::D5, 80, 3000.0, 3000.0 * db(6.0), 0))),
        [Digit::D5]
    );
    // Low group 3 dB louder (reverse twist 4 dB allowed).
    assert_eq!(
        digits(&detect(&tone(Digit::D5, 80, 3000.0 * db(3.0), 3000.0, 0))),
        [Digit::D5]
    );
    // 10 dB either way: refused.
    assert_eq!(
        digits(&detect(&tone(Digit::D5, 80, 2000.0, 2000.0 * db(10.0), 0))),
        []
    );
    assert_eq!(
        digits(&detect(&tone(Digit::D5, 80, 2000.0 * db(10.0), 2000.0, 0))),
        []
    );
}

#[test]
fn too_short_or_too_quiet_is_nothing() {
    for phase in [0, 20, 40, 60] {
        let mut pcm = silence(phase / 8 + 1);
        pcm.extend(tone(Digit::D7, 20, 6000.0, 6000.0, 0));
        pcm.extend(silence(60));
        assert_eq!(detect(&pcm), [], "20 ms at offset {phase}");
        let mut pcm = silence(7);
        pcm.extend(tone(Digit::D7, 25, 6000.0, 6000.0, 0));
        pcm.extend(silence(60));
        assert_eq!(detect(&pcm), [], "25 ms");
    }
    // Every alignment of a 40 ms tone is heard.
    for offset in 0..10 {
        let mut pcm = silence(offset);
        pcm.extend(tone(Digit::D7, 40, 6000.0, 6000.0, 0));
        pcm.extend(silence(60));
        assert_eq!(digits(&detect(&pcm)), [Digit::D7], "40 ms at +{offset} ms");
    }
    // −45 dBm0-ish: below the level threshold.
    assert_eq!(detect(&tone(Digit::D7, 100, 120.0, 120.0, 0)), []);
}

#[test]
fn a_continuous_digit_is_one_event() {
    let ev = detect(&tone(Digit::D9, 3000, 5000.0, 5000.0, 0));
    assert_eq!(ev, [DigitEvent::Start { digit: Digit::D9 }]);
    let mut pcm = tone(Digit::D9, 3000, 5000.0, 5000.0, 0);
    pcm.extend(silence(40));
    let ev = detect(&pcm);
    assert_eq!(digits(&ev), [Digit::D9]);
    assert!(matches!(ev[1], DigitEvent::End { duration, .. } if duration.as_millis() == 3000));
}

#[test]
fn chords_and_speechlike_signals_are_not_digits() {
    let sines = |freqs: &[(f32, f32)], ms: usize| -> Vec<i16> {
        (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                freqs
                    .iter()
                    .map(|(f, a)| a * (2.0 * PI * f * t).sin())
                    .sum::<f32>() as i16
            })
            .collect()
    };
    // An A-major chord; a chord holding one row and one column frequency
    // among others (music: 770 + 1336 with 440 and 1100 as loud).
    assert_eq!(
        detect(&sines(
            &[(440.0, 5000.0), (554.4, 5000.0), (659.3, 5000.0)],
            500
        )),
        []
    );
    assert_eq!(
        detect(&sines(
            &[
                (770.0, 4000.0),
                (1336.0, 4000.0),
                (440.0, 4000.0),
                (1100.0, 4000.0)
            ],
            500
        )),
        []
    );
    // A vowel-like harmonic series on 140 Hz.
    let vowel: Vec<(f32, f32)> = (1..25)
        .map(|k| (140.0 * k as f32, 6000.0 / k as f32))
        .collect();
    assert_eq!(detect(&sines(&vowel, 500)), []);
    // Off-frequency by 4 % (Q.24 asks to reject beyond 3.5 %).
    let (r, c) = (ROWS[1] * 1.04, COLS[1] * 1.04);
    assert_eq!(detect(&sines(&[(r, 5000.0), (c, 5000.0)], 200)), []);
    // Off by 1.5 % (Q.24 asks to accept): heard.
    let (r, c) = (ROWS[1] * 1.015, COLS[1] * 0.985);
    assert_eq!(
        digits(&detect(&sines(&[(r, 5000.0), (c, 5000.0)], 200))),
        [Digit::D5]
    );
}

#[test]
fn frames_of_any_size_and_g711_decoded_input() {
    use crate::codec::g711::{decode_alaw, encode_alaw};
    let mut pcm = tone(Digit::C, 100, 8000.0, 8000.0, 0);
    pcm.extend(silence(50));
    // Through A-law and back, fed in 30 ms frames.
    let mut law = vec![0u8; pcm.len()];
    encode_alaw(&pcm, &mut law);
    decode_alaw(&law, &mut pcm);
    let mut d = InbandDetector::new(InbandConfig::default());
    let now = Instant::now();
    let mut ev = Vec::new();
    for frame in pcm.chunks(240) {
        d.handle_pcm(now, frame);
        ev.extend(std::iter::from_fn(|| d.poll_event()));
    }
    assert_eq!(digits(&ev), [Digit::C]);
    // reset() ends a digit in progress.
    d.handle_pcm(now, &tone(Digit::A, 60, 8000.0, 8000.0, 0));
    d.reset();
    let ev: Vec<_> = std::iter::from_fn(|| d.poll_event()).collect();
    assert_eq!(digits(&ev), [Digit::A]);
    assert_eq!(ev.len(), 2);
}
