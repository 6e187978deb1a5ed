//! Tones from config: frequencies with levels, a cadence, and country
//! profiles of the call-progress tones voxgate plays (ring-back, busy, beep,
//! special information tone).
//!
//! Synthesis computes each sample's phase from its sample index (an exact
//! integer: frequencies are kept in tenths of a hertz, so
//! `phase = f·k mod 80 000` in units of 1/80 000 of a cycle), never by
//! accumulating a float increment: an hour of ring-back ends on the same
//! phase as a freshly computed one. The sine comes from a 4096-entry table
//! with linear interpolation (error below 3·10⁻⁷ of full scale). Generating
//! a frame allocates nothing.
//!
//! Levels: 0 dBm0 is a sine whose peak is 3.17 dB below the largest G.711
//! µ-law value (ITU-T G.711: the µ-law theoretical load capacity is
//! +3.17 dBm0; A-law's is +3.14 dBm0, 0.03 dB apart, ignored here).

use std::sync::{Arc, LazyLock};

use crate::MediaError;

use super::wav::SAMPLE_RATE;

/// One frequency of a tone and its level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneComponent {
    /// Frequency in hertz (0.1 Hz resolution: SIT's 913.8 Hz is exact).
    pub hz: f64,
    /// Level in dBm0.
    pub dbm0: f64,
}

impl ToneComponent {
    /// A component of `hz` at `dbm0`.
    pub const fn new(hz: f64, dbm0: f64) -> Self {
        ToneComponent { hz, dbm0 }
    }
}

/// One step of a tone: what sounds (no components: silence) and for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The frequencies summed during this step (0 to 4).
    pub components: Vec<ToneComponent>,
    /// Duration in milliseconds.
    pub ms: u32,
}

/// How many times a tone's cadence plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Until stopped (ring-back, busy, music-like tones).
    Forever,
    /// This many cycles, then the tone ends (a beep, a SIT before an announcement).
    Times(u32),
}

/// A component ready to synthesise: frequency in tenths of a hertz, peak amplitude.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Oscillator {
    tenths_hz: u64,
    /// The same, as the per-sample phase step.
    step: u32,
    amplitude: f32,
}

/// A step ready to synthesise.
#[derive(Clone, Debug, PartialEq)]
struct Step {
    oscillators: [Oscillator; MAX_COMPONENTS],
    count: usize,
    samples: u64,
}

/// At most this many frequencies sound at once (ITU-T E.180 tones use one
/// or two; the brief's configs up to four).
pub const MAX_COMPONENTS: usize = 4;

/// A validated tone, shared (behind an [`Arc`]) by every player that plays it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tone {
    steps: Vec<Step>,
    cycle: u64,
    repeat: Repeat,
}

/// Phase units per cycle: tenths of a hertz at 8000 samples a second.
const PHASE_UNITS: u64 = 10 * SAMPLE_RATE as u64;
const TABLE_BITS: u32 = 12;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// One cycle of sine plus a guard entry, so interpolation never wraps.
static SINE: LazyLock<[f32; TABLE_LEN + 1]> = LazyLock::new(|| {
    let mut t = [0f32; TABLE_LEN + 1];
    for (i, v) in t.iter_mut().enumerate() {
        *v = (std::f64::consts::TAU * i as f64 / TABLE_LEN as f64).sin() as f32;
    }
    t
});

/// sin(2π·phase/PHASE_UNITS) for `phase < PHASE_UNITS`, from the table.
#[inline]
fn sine(table: &[f32; TABLE_LEN + 1], phase: u32) -> f32 {
    // The phase is exact; only this position is rounded (f32: 2⁻¹² of a
    // table step), and rounding here never accumulates.
    let x = phase as f32 * (TABLE_LEN as f32 / PHASE_UNITS as f32);
    let idx = x as usize;
    let frac = x - idx as f32;
    match (table.get(idx), table.get(idx + 1)) {
        (Some(a), Some(b)) => a + (b - a) * frac,
        _ => 0.0,
    }
}

/// Peak amplitude of a sine at `dbm0` in 16-bit linear PCM.
pub fn amplitude(dbm0: f64) -> f32 {
    (32767.0 * 10f64.powf((dbm0 - 3.17) / 20.0)) as f32
}

fn tenths(v: f64) -> i64 {
    // `as` saturates and maps NaN to 0: fine for an error report.
    (v * 10.0).round() as i64
}

impl Tone {
    /// The config form: 1–4 frequencies sounding together, and a cadence of
    /// (on, off) durations in ms (empty: continuous).
    pub fn new(
        components: &[ToneComponent],
        cadence: &[(u32, u32)],
        repeat: Repeat,
    ) -> Result<Tone, MediaError> {
        if components.is_empty() {
            return Err(MediaError::ToneFrequencyCount { count: 0 });
        }
        if cadence.is_empty() {
            // Continuous: one long step; the cycle length only bounds the index.
            let step = Segment {
                components: components.to_vec(),
                ms: 60_000,
            };
            return Tone::from_segments(&[step], Repeat::Forever);
        }
        let mut segments = Vec::with_capacity(cadence.len() * 2);
        for &(on, off) in cadence {
            segments.push(Segment {
                components: components.to_vec(),
                ms: on,
            });
            if off > 0 {
                segments.push(Segment {
                    components: Vec::new(),
                    ms: off,
                });
            }
        }
        Tone::from_segments(&segments, repeat)
    }

    /// A tone whose steps differ in frequency (a special information tone's
    /// three rising segments). A step with no components is silence.
    pub fn from_segments(segments: &[Segment], repeat: Repeat) -> Result<Tone, MediaError> {
        let mut steps = Vec::with_capacity(segments.len());
        let mut cycle = 0u64;
        for s in segments {
            if s.components.len() > MAX_COMPONENTS {
                return Err(MediaError::ToneFrequencyCount {
                    count: s.components.len(),
                });
            }
            let mut oscillators = [Oscillator {
                tenths_hz: 0,
                step: 0,
                amplitude: 0.0,
            }; MAX_COMPONENTS];
            for (o, c) in oscillators.iter_mut().zip(&s.components) {
                let t = tenths(c.hz);
                if !(10..=39_990).contains(&t) {
                    return Err(MediaError::ToneFrequency { tenths_hz: t });
                }
                if !(-60.0..=3.0).contains(&c.dbm0) {
                    return Err(MediaError::ToneLevel {
                        tenths_dbm0: tenths(c.dbm0),
                    });
                }
                *o = Oscillator {
                    tenths_hz: t as u64,
                    step: t as u32,
                    amplitude: amplitude(c.dbm0),
                };
            }
            let samples = u64::from(s.ms) * u64::from(SAMPLE_RATE) / 1000;
            cycle += samples;
            steps.push(Step {
                oscillators,
                count: s.components.len(),
                samples,
            });
        }
        if cycle == 0 || matches!(repeat, Repeat::Times(0)) {
            return Err(MediaError::ToneCadence);
        }
        Ok(Tone {
            steps,
            cycle,
            repeat,
        })
    }

    /// Total samples, or `None` for a tone that repeats forever.
    pub fn len_samples(&self) -> Option<u64> {
        match self.repeat {
            Repeat::Forever => None,
            Repeat::Times(n) => Some(self.cycle * u64::from(n)),
        }
    }

    /// Writes the tone's samples from index `start` into `out`; returns how
    /// many were written (fewer than `out.len()` only at the end of a finite
    /// tone). Allocates nothing.
    pub fn fill(&self, start: u64, out: &mut [i16]) -> usize {
        let n = match self.len_samples() {
            Some(total) => out.len().min(total.saturating_sub(start) as usize),
            None => out.len(),
        };
        let Some(first_step) = self.steps.first() else {
            out[..n].fill(0);
            return n;
        };
        let mut k = start;
        let mut written = 0;
        while written < n {
            let mut in_cycle = k % self.cycle;
            // Few steps (≤ 8 in every profile): a scan is cheaper than a search.
            let mut step = first_step;
            for s in &self.steps {
                step = s;
                if in_cycle < s.samples {
                    break;
                }
                in_cycle -= s.samples;
            }
            let run = ((step.samples - in_cycle) as usize).min(n - written);
            let out_run = &mut out[written..written + run];
            if step.count == 0 {
                out_run.fill(0);
            } else {
                synthesize(&step.oscillators[..step.count], in_cycle, out_run);
            }
            written += run;
            k += run as u64;
        }
        written
    }
}

/// Sums the oscillators for samples `first..` of a step (phase 0 at the
/// step's start, so each burst starts without a click). Each phase starts
/// from `f·first mod 80 000` and steps by `f` modulo 80 000: integers,
/// exact however long the tone runs.
fn synthesize(oscillators: &[Oscillator], first: u64, out: &mut [i16]) {
    let table = &*SINE;
    let k0 = first % PHASE_UNITS;
    let mut phases = [0u32; MAX_COMPONENTS];
    for (p, o) in phases.iter_mut().zip(oscillators) {
        // < 80 000: fits.
        *p = (o.tenths_hz * k0 % PHASE_UNITS) as u32;
    }
    let phases = &mut phases[..oscillators.len()];
    for o in out.iter_mut() {
        let mut v = 0f32;
        for (p, osc) in phases.iter_mut().zip(oscillators) {
            v += osc.amplitude * sine(table, *p);
            // tenths_hz < PHASE_UNITS, so one subtraction wraps it.
            *p += osc.step;
            if *p >= PHASE_UNITS as u32 {
                *p -= PHASE_UNITS as u32;
            }
        }
        // Round half away from zero; `as` saturates at the i16 limits.
        // (`f32::round` is a libm call on baseline x86-64.)
        *o = (v + 0.5f32.copysign(v)) as i16;
    }
}

/// The call-progress tones a profile defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Ring-back (ringing tone): the callee is being alerted.
    Ringback,
    /// Busy (engaged).
    Busy,
    /// A short beep (before a recording, a confirmation).
    Beep,
    /// Special information tone: the three rising tones before an announcement.
    Sit,
}

/// Countries with built-in tone values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Country {
    /// United States / North America.
    Us,
    /// United Kingdom.
    Uk,
    /// Germany.
    De,
    /// France.
    Fr,
}

impl Country {
    /// Parses `us`, `uk` (or `gb`), `de`, `fr`, case-insensitively.
    pub fn parse(name: &str) -> Result<Country, MediaError> {
        match name.to_ascii_lowercase().as_str() {
            "us" => Ok(Country::Us),
            "uk" | "gb" => Ok(Country::Uk),
            "de" => Ok(Country::De),
            "fr" => Ok(Country::Fr),
            _ => Err(MediaError::UnknownToneCountry {
                country: name.to_owned(),
            }),
        }
    }
}

const fn c(hz: f64, dbm0: f64) -> ToneComponent {
    ToneComponent::new(hz, dbm0)
}

/// The tone of `kind` in `country`.
///
/// Frequencies and cadences are those of ITU-T E.180 Supplement 2 ("Various
/// tones used in national networks", as republished in the ITU Operational
/// Bulletin annex of 2003, `tones-0203.pdf`, the source Asterisk's
/// `indications.conf` cites), and, for the US special information tone, the
/// Bell System values (ANSI T1.401): intercept = 913.8 Hz 274 ms,
/// 1370.6 Hz 274 ms, 1776.7 Hz 380 ms. The rest of the world uses the E.180
/// §5 SIT: 950/1400/1800 Hz, 330 ms each (Germany's list has 900 or 950 Hz
/// for the first; we use E.180's 950). The UK cadences are BT SIN 350's.
///
/// | country | ring-back | busy |
/// |---|---|---|
/// | us | 440+480 Hz, 2.0 s on 4.0 s off | 480+620 Hz, 0.5 on 0.5 off |
/// | uk | 400+450 Hz, 0.4 on 0.2 off 0.4 on 2.0 off | 400 Hz, 0.375 on 0.375 off |
/// | de | 425 Hz, 1.0 on 4.0 off | 425 Hz, 0.48 on 0.48 off |
/// | fr | 440 Hz, 1.5 on 3.5 off | 440 Hz, 0.5 on 0.5 off |
///
/// Levels: the US values are the North American precise tone plan's
/// (ring-back −19 dBm0, busy −24 dBm0 per frequency); Supplement 2 gives no
/// levels for the others, so they are −13 dBm0 (−20 dBm0 per frequency for
/// the UK's two-frequency ring-back, so the sum stays below −13),
/// within E.180's range. The beep is 1400 Hz for 500 ms (E.180's
/// recording-warning frequency), the SIT −24 dBm0 per segment. A config
/// overrides any of them with its own [`Tone`].
pub fn profile(country: Country, kind: ToneKind) -> Tone {
    let built = match (country, kind) {
        (Country::Us, ToneKind::Ringback) => Tone::new(
            &[c(440.0, -19.0), c(480.0, -19.0)],
            &[(2000, 4000)],
            Repeat::Forever,
        ),
        (Country::Us, ToneKind::Busy) => Tone::new(
            &[c(480.0, -24.0), c(620.0, -24.0)],
            &[(500, 500)],
            Repeat::Forever,
        ),
        (Country::Uk, ToneKind::Ringback) => Tone::new(
            &[c(400.0, -20.0), c(450.0, -20.0)],
            &[(400, 200), (400, 2000)],
            Repeat::Forever,
        ),
        (Country::Uk, ToneKind::Busy) => {
            Tone::new(&[c(400.0, -13.0)], &[(375, 375)], Repeat::Forever)
        }
        (Country::De, ToneKind::Ringback) => {
            Tone::new(&[c(425.0, -13.0)], &[(1000, 4000)], Repeat::Forever)
        }
        (Country::De, ToneKind::Busy) => {
            Tone::new(&[c(425.0, -13.0)], &[(480, 480)], Repeat::Forever)
        }
        (Country::Fr, ToneKind::Ringback) => {
            Tone::new(&[c(440.0, -13.0)], &[(1500, 3500)], Repeat::Forever)
        }
        (Country::Fr, ToneKind::Busy) => {
            Tone::new(&[c(440.0, -13.0)], &[(500, 500)], Repeat::Forever)
        }
        (_, ToneKind::Beep) => Tone::new(&[c(1400.0, -13.0)], &[(500, 0)], Repeat::Times(1)),
        (Country::Us, ToneKind::Sit) => sit(&[(913.8, 274), (1370.6, 274), (1776.7, 380)]),
        (_, ToneKind::Sit) => sit(&[(950.0, 330), (1400.0, 330), (1800.0, 330)]),
    };
    // Every value above is in range: the table is checked by a test.
    built.unwrap_or_else(|_| Tone {
        steps: Vec::new(),
        cycle: 1,
        repeat: Repeat::Times(1),
    })
}

fn sit(parts: &[(f64, u32)]) -> Result<Tone, MediaError> {
    let segments: Vec<Segment> = parts
        .iter()
        .map(|&(hz, ms)| Segment {
            components: vec![c(hz, -24.0)],
            ms,
        })
        .collect();
    Tone::from_segments(&segments, Repeat::Times(1))
}

/// A profile's tone behind an [`Arc`], ready for [`super::Source::Tone`].
pub fn shared(country: Country, kind: ToneKind) -> Arc<Tone> {
    Arc::new(profile(country, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Power of `freq` in `x` (Goertzel), normalised so a full-scale sine gives ~1.
    fn goertzel(x: &[i16], freq: f64) -> f64 {
        let w = std::f64::consts::TAU * freq / 8000.0;
        let (mut s1, mut s2) = (0f64, 0f64);
        for &v in x {
            let s = f64::from(v) / 32768.0 + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        4.0 * p / (x.len() as f64 * x.len() as f64)
    }

    fn render(t: &Tone, start: u64, n: usize) -> Vec<i16> {
        let mut v = vec![0i16; n];
        let w = t.fill(start, &mut v);
        v.truncate(w);
        v
    }

    #[test]
    fn us_ringback_is_440_plus_480_two_on_four_off() {
        let t = profile(Country::Us, ToneKind::Ringback);
        let on = render(&t, 0, 16_000);
        assert!(on.iter().any(|&s| s != 0));
        // 200 ms windows hold whole cycles of both (5 Hz resolution).
        let w = &on[..1600];
        let (p440, p480, p620) = (goertzel(w, 440.0), goertzel(w, 480.0), goertzel(w, 620.0));
        assert!(
            p440 > 100.0 * p620 && p480 > 100.0 * p620,
            "{p440} {p480} {p620}"
        );
        // -19 dBm0 each: amplitude 32767·10^(-22.17/20) ≈ 2552.
        let peak = f64::from(amplitude(-19.0));
        assert!((peak - 2552.3).abs() < 1.0, "{peak}");
        assert!((p440.sqrt() * 32768.0 - peak).abs() / peak < 0.02);
        // Off from 2 s to 6 s, on again at 6 s.
        let off = render(&t, 16_000, 32_000);
        assert!(off.iter().all(|&s| s == 0));
        assert!(render(&t, 48_000, 160).iter().any(|&s| s != 0));
        assert_eq!(t.len_samples(), None);
    }

    #[test]
    fn uk_ringback_is_a_double_ring() {
        let t = profile(Country::Uk, ToneKind::Ringback);
        // 0.4 on, 0.2 off, 0.4 on, 2.0 off (in samples: 3200, 1600, 3200, 16000).
        let x = render(&t, 0, 24_000);
        let sounding = |r: std::ops::Range<usize>| x[r].iter().any(|&s| s != 0);
        assert!(sounding(100..3100));
        assert!(!sounding(3200..4800));
        assert!(sounding(4900..7900));
        assert!(!sounding(8000..24_000));
        assert!(goertzel(&x[..3200], 400.0) > 100.0 * goertzel(&x[..3200], 1000.0));
    }

    #[test]
    fn the_us_sit_has_its_three_segments_and_ends() {
        let t = profile(Country::Us, ToneKind::Sit);
        // 274 + 274 + 380 ms = 2192 + 2192 + 3040 samples.
        assert_eq!(t.len_samples(), Some(7424));
        let x = render(&t, 0, 10_000);
        assert_eq!(x.len(), 7424);
        for (range, hz, other) in [
            (0..2192, 913.8, 1776.7),
            (2192..4384, 1370.6, 913.8),
            (4384..7424, 1776.7, 1370.6),
        ] {
            let seg = &x[range];
            assert!(goertzel(seg, hz) > 50.0 * goertzel(seg, other), "{hz}");
        }
        let eu = profile(Country::De, ToneKind::Sit);
        assert_eq!(eu.len_samples(), Some(3 * 2640));
    }

    #[test]
    fn every_profile_is_valid() {
        for country in [Country::Us, Country::Uk, Country::De, Country::Fr] {
            for kind in [
                ToneKind::Ringback,
                ToneKind::Busy,
                ToneKind::Beep,
                ToneKind::Sit,
            ] {
                let t = profile(country, kind);
                assert!(!t.steps.is_empty(), "{country:?} {kind:?}");
                assert!(render(&t, 0, 4000).iter().any(|&s| s != 0));
            }
        }
        assert_eq!(Country::parse("GB"), Ok(Country::Uk));
        assert!(matches!(
            Country::parse("xx"),
            Err(MediaError::UnknownToneCountry { .. })
        ));
        assert_eq!(
            profile(Country::Fr, ToneKind::Beep).len_samples(),
            Some(4000)
        );
    }

    #[test]
    fn no_drift_after_an_hour() {
        // Samples an hour in equal the formula evaluated directly in f64.
        let t = Tone::new(&[ToneComponent::new(913.8, -10.0)], &[], Repeat::Forever).unwrap();
        let a = f64::from(amplitude(-10.0));
        let hour = 3600 * 8000u64;
        // The continuous tone's cycle is 60 s: the index within it.
        let x = render(&t, hour + 17, 160);
        for (i, &s) in x.iter().enumerate() {
            let k = ((hour + 17 + i as u64) % (60 * 8000)) as f64;
            let want = a * (std::f64::consts::TAU * 913.8 * k / 8000.0).sin();
            assert!(
                (f64::from(s) - want).abs() <= 1.0,
                "sample {i}: {s} vs {want}"
            );
        }
    }

    #[test]
    fn a_continuous_tone_is_continuous_across_its_cycle() {
        let t = Tone::new(&[ToneComponent::new(425.0, -13.0)], &[], Repeat::Forever).unwrap();
        // 425 Hz · 60 s is a whole number of cycles: no step at the wrap.
        let x = render(&t, 60 * 8000 - 2, 4);
        let y = render(&t, 0, 2);
        assert_eq!(&x[2..], &y[..]);
    }

    #[test]
    fn config_errors_are_named() {
        let c = ToneComponent::new;
        assert_eq!(
            Tone::new(&[], &[], Repeat::Forever),
            Err(MediaError::ToneFrequencyCount { count: 0 })
        );
        assert_eq!(
            Tone::new(&[c(400.0, -10.0); 5], &[(100, 100)], Repeat::Forever),
            Err(MediaError::ToneFrequencyCount { count: 5 })
        );
        assert_eq!(
            Tone::new(&[c(4000.0, -10.0)], &[], Repeat::Forever),
            Err(MediaError::ToneFrequency { tenths_hz: 40_000 })
        );
        assert_eq!(
            Tone::new(&[c(f64::NAN, -10.0)], &[], Repeat::Forever),
            Err(MediaError::ToneFrequency { tenths_hz: 0 })
        );
        assert_eq!(
            Tone::new(&[c(400.0, 5.0)], &[], Repeat::Forever),
            Err(MediaError::ToneLevel { tenths_dbm0: 50 })
        );
        assert_eq!(
            Tone::new(&[c(400.0, -10.0)], &[(0, 0)], Repeat::Forever),
            Err(MediaError::ToneCadence)
        );
        assert_eq!(
            Tone::new(&[c(400.0, -10.0)], &[(100, 0)], Repeat::Times(0)),
            Err(MediaError::ToneCadence)
        );
        assert_eq!(
            MediaError::ToneFrequency { tenths_hz: 40_000 }.to_string(),
            "tone frequency 4000 Hz outside 1..3999 Hz"
        );
    }

    #[test]
    fn four_components_at_full_level_saturate_instead_of_wrapping() {
        let t = Tone::new(
            &[
                ToneComponent::new(400.0, 3.0),
                ToneComponent::new(400.0, 3.0),
                ToneComponent::new(400.0, 3.0),
                ToneComponent::new(400.0, 3.0),
            ],
            &[],
            Repeat::Forever,
        )
        .unwrap();
        let x = render(&t, 0, 40);
        // A quarter cycle of 400 Hz is 5 samples: the peak clips at i16::MAX.
        assert_eq!(x[5], i16::MAX);
        assert_eq!(x[15], i16::MIN);
    }
}
