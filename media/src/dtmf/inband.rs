//! In-band DTMF detection (ITU-T Q.23 frequencies, Q.24 reception) on
//! decoded PCM, for legs that did not negotiate telephone-event.
//!
//! The PCM (8 kHz, e.g. G.711 decoded by [`crate::codec`]) is cut into
//! 10 ms blocks of 80 samples whatever the frame size fed in. On each block
//! the Goertzel algorithm measures the eight DTMF frequencies; a block is a
//! hit for a digit when:
//!
//! - the strongest row and the strongest column tone each reach
//!   [`InbandConfig::min_amplitude`] (about −33 dBm0 by default);
//! - their levels differ by no more than the allowed twist (high group
//!   louder: [`InbandConfig::normal_twist_db`]; low group louder:
//!   [`InbandConfig::reverse_twist_db`]);
//! - the two tones hold at least [`InbandConfig::min_purity`] of the block's
//!   energy: speech, music and chords of other frequencies spread theirs, and
//!   a block only partly filled by a tone scores its filled fraction, which
//!   is what makes the duration check sharp.
//!
//! [`InbandConfig::min_hits`] consecutive hits of one digit (3 blocks: every
//! tone of 40 ms or more whatever its alignment, none of 25 ms or less)
//! start it; [`InbandConfig::end_misses`] blocks without it (30 ms, the
//! inter-digit pause) end it, so a one-block glitch inside a long tone does
//! not split it. 10 ms blocks (a 100 Hz Goertzel bandwidth) still separate
//! the closest pair, 697/770 Hz, by 10 dB, and keep ±1.5 % off-frequency
//! tones (Q.24's acceptance) within 0.5 dB.
//!
//! No crate: the ones on crates.io allocate per call or want f64 slices;
//! this is a few dozen lines over fixed arrays.

use std::time::{Duration, Instant};

use super::{Digit, DigitEvent, EndCause, EventQueue};

/// Samples in one analysis block (10 ms at 8 kHz).
pub const BLOCK: usize = 80;

/// Low group (rows), Hz.
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High group (columns), Hz.
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad: `KEYS[row][col]`.
const KEYS: [[Digit; 4]; 4] = [
    [Digit::D1, Digit::D2, Digit::D3, Digit::A],
    [Digit::D4, Digit::D5, Digit::D6, Digit::B],
    [Digit::D7, Digit::D8, Digit::D9, Digit::C],
    [Digit::Star, Digit::D0, Digit::Pound, Digit::D],
];

/// Detection settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InbandConfig {
    /// PCM sample rate (the Goertzel coefficients depend on it).
    pub sample_rate: u32,
    /// Smallest peak amplitude of each tone (16-bit PCM units).
    pub min_amplitude: f32,
    /// Largest excess of the high group over the low group, dB.
    pub normal_twist_db: f32,
    /// Largest excess of the low group over the high group, dB.
    pub reverse_twist_db: f32,
    /// Smallest share of the block's energy in the two tones (0–1).
    pub min_purity: f32,
    /// Consecutive hit blocks that start a digit.
    pub min_hits: u8,
    /// Consecutive blocks without it that end a digit.
    pub end_misses: u8,
}

impl Default for InbandConfig {
    fn default() -> Self {
        InbandConfig {
            sample_rate: 8000,
            // −33 dBm0: G.711's 0 dBm0 sine peaks near 22 700.
            min_amplitude: 500.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            min_purity: 0.8,
            min_hits: 3,
            end_misses: 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Candidate {
        digit: Digit,
        hits: u32,
    },
    Active {
        digit: Digit,
        blocks: u32,
        misses: u8,
    },
}

/// The in-band detector of one leg.
#[derive(Clone, Debug)]
pub struct InbandDetector {
    config: InbandConfig,
    row_coeffs: [f32; 4],
    col_coeffs: [f32; 4],
    block: [i16; BLOCK],
    filled: usize,
    state: State,
    events: EventQueue,
}

impl InbandDetector {
    /// A detector with nothing heard.
    pub fn new(config: InbandConfig) -> Self {
        let coeff =
            |f: f32| 2.0 * (2.0 * std::f32::consts::PI * f / config.sample_rate as f32).cos();
        InbandDetector {
            config,
            row_coeffs: ROWS.map(coeff),
            col_coeffs: COLS.map(coeff),
            block: [0; BLOCK],
            filled: 0,
            state: State::Idle,
            events: EventQueue::new(),
        }
    }

    /// Feeds decoded PCM (any length; 20 ms frames usually). `now` is not
    /// needed by the analysis, which counts samples; it is taken for symmetry
    /// with the other detectors and later use.
    pub fn handle_pcm(&mut self, _now: Instant, pcm: &[i16]) {
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (BLOCK - self.filled).min(rest.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == BLOCK {
                self.filled = 0;
                let hit = self.classify();
                self.step(hit);
            }
        }
    }

    /// Lost or absent audio (no packet for a while): what was heard ends.
    pub fn reset(&mut self) {
        self.filled = 0;
        if let State::Active { .. } = self.state {
            self.end_active();
        }
        self.state = State::Idle;
    }

    /// The next digit event, in order.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.events.pop()
    }

    fn block_duration(&self) -> Duration {
        Duration::from_micros(BLOCK as u64 * 1_000_000 / u64::from(self.config.sample_rate.max(1)))
    }

    fn step(&mut self, hit: Option<Digit>) {
        let min_hits = u32::from(self.config.min_hits.max(1));
        self.state = match self.state {
            State::Idle => match hit {
                Some(d) => self.candidate(d, 1, min_hits),
                None => State::Idle,
            },
            State::Candidate { digit, hits } => match hit {
                Some(d) if d == digit => self.candidate(d, hits + 1, min_hits),
                Some(d) => self.candidate(d, 1, min_hits),
                None => State::Idle,
            },
            State::Active {
                digit,
                blocks,
                misses,
            } => match hit {
                // A glitch inside the tone counts as tone.
                Some(d) if d == digit => State::Active {
                    digit,
                    blocks: blocks + u32::from(misses) + 1,
                    misses: 0,
                },
                other if misses + 1 >= self.config.end_misses.max(1) => {
                    self.end_active();
                    match other {
                        Some(d) => self.candidate(d, 1, min_hits),
                        None => State::Idle,
                    }
                }
                _ => State::Active {
                    digit,
                    blocks,
                    misses: misses + 1,
                },
            },
        };
    }

    fn candidate(&mut self, digit: Digit, hits: u32, min_hits: u32) -> State {
        if hits >= min_hits {
            self.events.push(DigitEvent::Start { digit });
            State::Active {
                digit,
                blocks: hits,
                misses: 0,
            }
        } else {
            State::Candidate { digit, hits }
        }
    }

    fn end_active(&mut self) {
        if let State::Active { digit, blocks, .. } = self.state {
            self.events.push(DigitEvent::End {
                digit,
                duration: self.block_duration() * blocks,
                volume: None,
                cause: EndCause::ToneStopped,
            });
        }
    }

    /// The digit this block holds, if any.
    fn classify(&self) -> Option<Digit> {
        let mut energy = 0.0f32;
        let mut rows = [(0.0f32, 0.0f32); 4];
        let mut cols = [(0.0f32, 0.0f32); 4];
        for &s in &self.block {
            let x = f32::from(s);
            energy += x * x;
            for (st, &c) in rows.iter_mut().zip(&self.row_coeffs) {
                let s0 = x + c * st.0 - st.1;
                *st = (s0, st.0);
            }
            for (st, &c) in cols.iter_mut().zip(&self.col_coeffs) {
                let s0 = x + c * st.0 - st.1;
                *st = (s0, st.0);
            }
        }
        let power = |(s1, s2): (f32, f32), c: f32| s1 * s1 + s2 * s2 - c * s1 * s2;
        let strongest = |st: &[(f32, f32); 4], coeffs: &[f32; 4]| {
            let mut best = (0usize, 0.0f32);
            for (i, (&s, &c)) in st.iter().zip(coeffs).enumerate() {
                let p = power(s, c);
                if p > best.1 {
                    best = (i, p);
                }
            }
            best
        };
        let (row, row_power) = strongest(&rows, &self.row_coeffs);
        let (col, col_power) = strongest(&cols, &self.col_coeffs);
        let n = BLOCK as f32;
        // A sine of amplitude A gives a Goertzel power of (N·A/2)².
        let min_power = (n * self.config.min_amplitude / 2.0).powi(2);
        if row_power < min_power || col_power < min_power || energy <= 0.0 {
            return None;
        }
        let twist_ok = if col_power >= row_power {
            col_power <= row_power * db_to_power(self.config.normal_twist_db)
        } else {
            row_power <= col_power * db_to_power(self.config.reverse_twist_db)
        };
        // Two sines fill the block: 2·(P_row + P_col) / (N·energy) = 1.
        let purity = 2.0 * (row_power + col_power) / (n * energy);
        if !twist_ok || purity < self.config.min_purity {
            return None;
        }
        Some(KEYS[row][col])
    }
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

#[cfg(test)]
mod tests;
