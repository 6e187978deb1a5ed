//! An estimated MOS per leg: the E-model of ITU-T G.107, simplified.
//!
//! `R = 93.2 − Id − Ie,eff` (G.107 with every default: Ro − Is = 93.2, A = 0),
//! then R → MOS by G.107 Annex B. The simplification, on purpose:
//! - `Id` is `Idd` only, the pure-delay term (G.107 §3.4, mT = 100 ms):
//!   the echo terms `Idte` and `Idle` are taken as 0, as if echo were
//!   controlled (a trunk's carriers cancel echo; we cannot measure it);
//! - the one-way delay `Ta` is estimated as RTT/2 plus the jitter buffer
//!   (taken as twice the interarrival jitter, what an adaptive buffer holds,
//!   plus one 20 ms packetisation interval);
//! - loss is random (`BurstR` = 1) with `Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)`;
//! - the codec's `Ie`/`Bpl` come from ITU-T G.113 Appendix I. For G.711 we
//!   assume packet-loss concealment (G.711 Appendix I, which phones and
//!   gateways implement): Ie = 0, Bpl = 25.1; without it Bpl is 4.3.
//!
//! Not per packet: computed for a summary (the CDR, `/calls`).

/// A codec's impairment figures (G.113 Appendix I).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor without loss.
    pub ie: f64,
    /// Packet-loss robustness factor.
    pub bpl: f64,
}

/// G.711 with packet-loss concealment (G.113 Appendix I): the default.
pub const G711_PLC: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 25.1 };
/// G.711 without packet-loss concealment (G.113 Appendix I).
pub const G711_NO_PLC: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 4.3 };

/// Ro − Is with G.107's default values.
pub const R_DEFAULT: f64 = 93.2;
/// Packetisation delay assumed in the one-way delay (one 20 ms frame).
pub const PACKETISATION_MS: f64 = 20.0;

/// What the estimate is computed from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MosInput {
    /// Round-trip time from RTCP, if known (0 assumed otherwise).
    pub rtt_ms: Option<f64>,
    /// Interarrival jitter in ms.
    pub jitter_ms: f64,
    /// Packets lost over packets expected, 0.0 to 1.0.
    pub loss: f64,
    /// The codec's figures.
    pub codec: CodecImpairment,
}

/// The one-way delay estimate: RTT/2 + jitter buffer (2 × jitter) + packetisation.
pub fn one_way_delay_ms(input: &MosInput) -> f64 {
    input.rtt_ms.unwrap_or(0.0).max(0.0) / 2.0 + 2.0 * input.jitter_ms.max(0.0) + PACKETISATION_MS
}

/// G.107 `Idd` for a one-way delay `ta_ms` (mT = 100 ms): 0 up to 100 ms.
pub fn delay_impairment(ta_ms: f64) -> f64 {
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// G.107 `Ie,eff` for random loss `loss` (0.0–1.0).
pub fn effective_equipment_impairment(codec: CodecImpairment, loss: f64) -> f64 {
    let ppl = (loss * 100.0).clamp(0.0, 100.0);
    codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl)
}

/// The rating factor R.
pub fn r_factor(input: &MosInput) -> f64 {
    R_DEFAULT
        - delay_impairment(one_way_delay_ms(input))
        - effective_equipment_impairment(input.codec, input.loss)
}

/// G.107 Annex B: R → MOS (conversational quality, estimated).
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6
    }
}

/// The estimated MOS of a leg.
pub fn mos(input: &MosInput) -> f64 {
    mos_from_r(r_factor(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn published_r_to_mos_points() {
        // G.107 Annex B: R = 93.2 (all defaults) gives 4.41; R = 50 gives 2.58
        // (1 + 1.75 − 0.175 = 2.575); the ends are clamped.
        assert!(
            close(mos_from_r(93.2), 4.409, 0.001),
            "{}",
            mos_from_r(93.2)
        );
        assert!(close(mos_from_r(50.0), 2.575, 0.001));
        assert!(close(mos_from_r(80.0), 4.024, 0.001)); // 1 + 2.8 + 80·20·20·7e-6
        assert!(close(mos_from_r(60.0), 3.1, 1e-9));
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
    }

    #[test]
    fn clean_short_call_is_the_g711_maximum() {
        let input = MosInput {
            rtt_ms: Some(40.0),
            jitter_ms: 1.0,
            loss: 0.0,
            codec: G711_PLC,
        };
        assert_eq!(r_factor(&input), 93.2);
        assert!(close(mos(&input), 4.41, 0.01));
    }

    #[test]
    fn delay_impairment_grows_past_100_ms() {
        assert_eq!(delay_impairment(100.0), 0.0);
        // X = 1: 25 (2^(1/6) − 3 (1 + 1/729)^(1/6) + 2) ≈ 3.04.
        assert!(
            close(delay_impairment(200.0), 3.04, 0.01),
            "{}",
            delay_impairment(200.0)
        );
        assert!(
            close(delay_impairment(400.0), 24.0, 0.1),
            "{}",
            delay_impairment(400.0)
        );
        assert!(delay_impairment(300.0) > delay_impairment(200.0));
    }

    #[test]
    fn loss_impairment_per_g113_appendix_i() {
        // 1% random loss with PLC: 95 · 1 / 26.1 ≈ 3.64; without: 95 / 5.3 ≈ 17.9.
        assert!(close(
            effective_equipment_impairment(G711_PLC, 0.01),
            3.640,
            0.001
        ));
        assert!(close(
            effective_equipment_impairment(G711_NO_PLC, 0.01),
            17.925,
            0.001
        ));
        // 10% loss with PLC: 95 · 10 / 35.1 ≈ 27.07 → R ≈ 66.1 → MOS ≈ 3.41.
        let input = MosInput {
            rtt_ms: None,
            jitter_ms: 0.0,
            loss: 0.10,
            codec: G711_PLC,
        };
        assert!(close(r_factor(&input), 93.2 - 27.066, 0.01));
        assert!(close(mos(&input), 3.41, 0.01), "{}", mos(&input));
    }
}
