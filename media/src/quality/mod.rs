//! Call quality, sans-IO: RTP receive statistics (RFC 3550 A.1, A.3, A.8),
//! RTCP wire types (§6.4–§6.6), RTCP reports for legs voxgate terminates
//! (§6.2–§6.4), and an estimated MOS (ITU-T G.107 E-model, simplified).
//!
//! - [`stats`]: per-SSRC receiver statistics, one O(1) call per RTP packet,
//!   no allocation.
//! - [`rtcp`]: SR, RR, SDES, BYE and compound packets, parsed as borrowed
//!   views over a `&[u8]` and printed into a caller's buffer.
//! - [`report`]: when the next RTCP report is due, building it, and reading
//!   the far end's reports (RTT, their view of our stream).
//! - [`mos`]: R factor and MOS from loss, jitter and RTT.
//! - [`line`](mod@line): [`LineQuality`], what the relay keeps per endpoint line.
//! - [`LegQuality`]: the per-leg summary for the CDR, `/calls` and histograms.
//!
//! # How the relay uses it
//!
//! Every endpoint line of a [`SessionRelay`](crate::latch::SessionRelay)
//! holds a [`LineQuality`] (its clock from the leg's negotiated format):
//!
//! ```text
//! on RTP from the peer (plain, after SRTP):   line.on_rtp(now, &header, len)
//! on RTCP from the peer (plain, after SRTCP): line.on_rtcp(now, compound) -> an SR's LSR,
//!                                             noted on the line it is relayed to (RTT)
//! a leg voxgate terminates (in no bridge, or spoken to by voxgate): one RtcpReporter
//!     (the leg's outgoing SSRC); its deadline in the core's poll_timeout; poll_transmit
//!     writes SR or RR + SDES and protects it like RTP; poll_bye the last, with BYE
//! the relay task, once per batch:             line.figures() -> atomics
//! the conversation (CDR, /calls):             LegQuality::from_figures(&figures, mos::G711_PLC)
//! ```
//!
//! A bridged leg's RTCP is its peers', relayed end to end; voxgate only
//! reads it. The RTCP buffer needs at most
//! 8 + 20 + 24 × [`stats::MAX_SOURCES`] + 8 + 4 + 256 octets (SR, SDES) + 8 (BYE).
//!
//! # Crates
//!
//! RTCP is hand-written. webrtc-rs's `rtcp` crate unmarshals into boxed
//! `dyn Packet`s with `Vec` and `Bytes` fields: allocation per packet.
//! `rtcp-types` is the nearest fit (zero-copy parse views, as here), but its
//! builders own their report blocks (`add_report_block(self, …)`) and its
//! unchecked writer panics on a short buffer; SR/RR/SDES/BYE are a few
//! hundred lines here, allocation-free both ways, with the strict canonical
//! padding that makes the fuzz target's print→parse equality hold. Worth
//! re-evaluating if XR (RFC 3611) or the feedback messages are ever parsed.
//! The E-model and the RFC 3550 statistics have no maintained crate that
//! fits a sans-IO, per-packet, allocation-free path.

pub mod line;
pub mod mos;
pub mod report;
pub mod rtcp;
pub mod stats;

pub use line::{LineQuality, QualityFigures, RemoteFigures};
pub use report::{ReportConfig, RtcpReporter, SenderState};
pub use stats::{Arrival, ReceiveStats, Totals};

/// One leg's call quality, for the CDR, `/calls` and the histograms.
/// Counts are summed over the sources the leg's peer sent; jitter is the
/// current source's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegQuality {
    /// RTP packets received (all, duplicates and probation included).
    pub packets: u64,
    /// Their octets (UDP payload, after SRTP).
    pub bytes: u64,
    /// Packets lost (RFC 3550 A.3 cumulative; negative never reported: 0).
    pub lost: u64,
    /// Lost over expected, 0.0 to 1.0, over the whole stream.
    pub loss_fraction: f64,
    /// Interarrival jitter in ms.
    pub jitter_ms: f64,
    /// Packets that arrived after a later one.
    pub out_of_order: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// Round-trip time from RTCP, in ms, if measured.
    pub rtt_ms: Option<f64>,
    /// The far end's loss of our stream (their last report), 0.0 to 1.0.
    pub remote_loss_fraction: Option<f64>,
    /// The far end's cumulative loss of our stream (their last report).
    pub remote_lost: Option<i64>,
    /// The far end's jitter of our stream, in ms.
    pub remote_jitter_ms: Option<f64>,
    /// Estimated MOS (1.0–4.5), when any RTP was received.
    pub mos: Option<f64>,
}

impl LegQuality {
    /// The summary of a leg from its statistics and, for legs that report
    /// or read RTCP, its reporter; `codec` for the MOS.
    pub fn new(
        stats: &ReceiveStats,
        reporter: Option<&RtcpReporter>,
        codec: mos::CodecImpairment,
    ) -> LegQuality {
        let figures = QualityFigures {
            totals: stats.totals(),
            clock_rate: stats.clock_rate(),
            remote: reporter
                .and_then(RtcpReporter::remote)
                .map(|r| RemoteFigures {
                    fraction_lost: r.fraction_lost,
                    cumulative_lost: r.cumulative_lost,
                    jitter: r.jitter,
                }),
            rtt_us: reporter
                .and_then(RtcpReporter::rtt)
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        };
        LegQuality::from_figures(&figures, codec)
    }

    /// The summary of a line's published figures; `codec` for the MOS.
    pub fn from_figures(f: &QualityFigures, codec: mos::CodecImpairment) -> LegQuality {
        let t = &f.totals;
        if t.packets == 0 && f.remote.is_none() {
            return LegQuality::default();
        }
        let loss_fraction = if t.expected > 0 {
            (t.lost as f64 / t.expected as f64).min(1.0)
        } else {
            0.0
        };
        let rate = f64::from(f.clock_rate.max(1));
        let jitter_ms = f64::from(t.jitter) * 1000.0 / rate;
        let rtt_ms = f.rtt_us.map(|us| us as f64 / 1000.0);
        LegQuality {
            packets: t.packets,
            bytes: t.bytes,
            lost: t.lost,
            loss_fraction,
            jitter_ms,
            out_of_order: t.out_of_order,
            duplicates: t.duplicates,
            rtt_ms,
            remote_loss_fraction: f.remote.map(|r| f64::from(r.fraction_lost) / 256.0),
            remote_lost: f.remote.map(|r| i64::from(r.cumulative_lost)),
            remote_jitter_ms: f.remote.map(|r| f64::from(r.jitter) * 1000.0 / rate),
            mos: (t.packets > 0).then(|| {
                mos::mos(&mos::MosInput {
                    rtt_ms,
                    jitter_ms,
                    loss: loss_fraction,
                    codec,
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PayloadType, RtpHeader, Ssrc};
    use std::time::{Duration, Instant};

    #[test]
    fn summary_of_a_lossy_leg() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        assert_eq!(
            LegQuality::new(&stats, None, mos::G711_PLC),
            LegQuality::default()
        );
        for seq in 0..1000u16 {
            if seq > 1 && seq % 10 == 0 {
                continue;
            }
            let h = RtpHeader {
                marker: false,
                payload_type: PayloadType(8),
                seq,
                timestamp: u32::from(seq) * 160,
                ssrc: Ssrc(1),
            };
            stats.on_rtp(t0 + Duration::from_millis(20 * u64::from(seq)), &h, 172);
        }
        let q = LegQuality::new(&stats, None, mos::G711_PLC);
        assert_eq!(q.packets, 901);
        assert_eq!(q.lost, 99);
        assert!((q.loss_fraction - 0.099).abs() < 0.001);
        assert_eq!(q.jitter_ms, 0.0);
        assert_eq!(q.rtt_ms, None);
        let mos = q.mos.unwrap();
        assert!((3.3..3.5).contains(&mos), "{mos}");
    }
}
