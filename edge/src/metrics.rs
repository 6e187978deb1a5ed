//! Prometheus metrics of the edge. Every name is `voxgate_*`; the list is
//! documented in the README's "Metrics" section — keep the two in step.

use crate::conversation::ConversationRecord;

mod ops;
mod overload;
mod process;
mod trunk;
use prometheus::IntCounter;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use voxgate_sip::TransportKind;
use voxgate_sip::message::Method;
use voxgate_sip::transaction::TxKind;

/// Why a packet or connection was refused before parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The source address is in no trunk's allow-list.
    NotAllowed,
    /// The source belongs to a trunk that does not allow this transport.
    TransportNotAllowed,
}

impl DropReason {
    fn label(self) -> &'static str {
        match self {
            DropReason::NotAllowed => "not_allowed",
            DropReason::TransportNotAllowed => "transport_not_allowed",
        }
    }
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent.
    Out,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// A region's engine counters at the last scrape: relayed, dropped foreign, invalid,
/// unsent, srtp, generated, ports exhausted, transcoded.
type RegionSeen = [u64; 8];

/// The edge's metrics, registered in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    responses: IntCounterVec,
    transaction_timeouts: IntCounterVec,
    allowlist_drops: IntCounterVec,
    bans: IntCounterVec,
    banned_drops: IntCounterVec,
    scanner_requests: IntCounterVec,
    connection_refusals: IntCounterVec,
    connections_closed: IntCounterVec,
    parse_errors: IntCounterVec,
    connections_active: IntGaugeVec,
    connections: IntCounterVec,
    config_reloads: IntCounterVec,
    draining: IntGauge,
    calls_active: IntGauge,
    overflows: IntCounterVec,
    calls: IntCounterVec,
    call_setup: HistogramVec,
    leg_quality: Arc<LegQualityHistograms>,
    trunk_limits: IntCounterVec,
    /// `voxgate_digest_checks_total`: a digest trunk's INVITEs by verdict.
    digest_checks: IntCounterVec,
    cdr_records: IntCounterVec,
    trunk_calls: Arc<trunk::TrunkCallMetrics>,
    ops: Arc<ops::OpsMetrics>,
    overload: Arc<overload::OverloadMetrics>,
    retransmissions: IntCounterVec,
    tls_handshake_failures: IntCounter,
    /// `voxgate_hep_packets_total` by result (sent, failed), resolved once:
    /// counted per SIP message.
    hep_packets: [IntCounter; 2],
    dns_lookups: IntCounterVec,
    dns_cache: IntGauge,
    /// `voxgate_tls_certificate_expiry_timestamp_seconds{listener}`.
    certificate_expiry: IntGaugeVec,
    keepalive_probes: IntCounterVec,
    destination_up: IntGaugeVec,
    /// `voxgate_registration_state{trunk}`: 1 registered, 0 not (registering or failed).
    registration_state: IntGaugeVec,
    trunk_out_of_service: IntGaugeVec,
    rtp_relayed: IntCounterVec,
    rtp_generated: IntCounterVec,
    ports_exhausted: IntCounterVec,
    rtp_transcoded: IntCounterVec,
    digits: IntCounterVec,
    playbacks: IntCounterVec,
    recordings: IntCounterVec,
    recording_failures: IntCounterVec,
    recordings_active: IntGauge,
    recording_frames_dropped: IntCounter,
    /// The engine's dropped-frames total at the last scrape.
    recording_dropped_seen: Arc<std::sync::atomic::AtomicU64>,
    media_dropped: IntCounterVec,
    media_ports: IntGaugeVec,
    /// Series of the per-message counters, resolved once: label hashing per
    /// SIP message showed in profiles.
    hot: Arc<Hot>,
    /// Last region totals seen, to turn the engine's totals into increments.
    rtp_seen: Arc<Mutex<Vec<(String, RegionSeen)>>>,
    conferences_active: IntGauge,
    mixer_frames: IntCounterVec,
    mixer_late: IntCounter,
    /// The mixers' last totals seen (frames mixed, skipped, late packets).
    mixer_seen: Arc<Mutex<[u64; 3]>>,
}

/// Call quality per leg, observed when its conversation ends.
struct LegQualityHistograms {
    jitter_ms: HistogramVec,
    loss_ratio: HistogramVec,
    mos: HistogramVec,
    rtt_ms: HistogramVec,
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> Result<HistogramVec, MetricsError> {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

impl LegQualityHistograms {
    fn new(registry: &Registry) -> Result<LegQualityHistograms, MetricsError> {
        Ok(LegQualityHistograms {
            jitter_ms: histogram_vec(
                registry,
                "voxgate_leg_jitter_ms",
                "Interarrival jitter (RFC 3550) of the RTP a leg's peer sent, in ms, per leg at the end of its conversation.",
                &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0],
                &["trunk"],
            )?,
            loss_ratio: histogram_vec(
                registry,
                "voxgate_leg_loss_ratio",
                "RTP lost on the way from a leg's peer over RTP expected, per leg at the end of its conversation.",
                &[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
                &["trunk"],
            )?,
            mos: histogram_vec(
                registry,
                "voxgate_leg_mos",
                "Estimated MOS (ITU-T G.107 E-model, simplified) of the RTP a leg's peer sent, per leg at the end of its conversation.",
                &[1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.3, 4.4],
                &["trunk"],
            )?,
            rtt_ms: histogram_vec(
                registry,
                "voxgate_leg_rtt_ms",
                "Round-trip time to a leg's peer from RTCP, in ms, per leg whose peer answered a sender report, at the end of its conversation.",
                &[5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0],
                &["trunk"],
            )?,
        })
    }
}

/// Metric registration can only fail on a duplicate or malformed name, which
/// is a programming error caught by the tests; we still report it as an error.
pub type MetricsError = prometheus::Error;

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, MetricsError> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// Status class label of a response: "1xx" … "6xx".
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "6xx",
    }
}

/// Method label; unknown methods share one label so a scanner cannot blow up
/// the number of series.
fn method_label(method: &Method) -> &str {
    match method {
        Method::Other(_) => "other",
        m => m.as_str(),
    }
}

/// Per-message series, looked up by index instead of by label strings.
/// Created on first use so that only combinations seen are exported.
struct Hot {
    /// `[direction][transport][method]`.
    requests: Box<[OnceLock<IntCounter>]>,
    /// `[direction][transport][method][status class]`.
    responses: Box<[OnceLock<IntCounter>]>,
    transactions_active: [IntGauge; 4],
    transactions: [IntCounter; 4],
}

/// Methods with a label of their own, plus "other".
const METHOD_SLOTS: usize = 15;
const TRANSPORTS: usize = 3;
const CLASSES: usize = 6;

fn method_slot(method: &Method) -> usize {
    match method {
        Method::Invite => 0,
        Method::Ack => 1,
        Method::Bye => 2,
        Method::Cancel => 3,
        Method::Options => 4,
        Method::Register => 5,
        Method::Prack => 6,
        Method::Subscribe => 7,
        Method::Notify => 8,
        Method::Publish => 9,
        Method::Info => 10,
        Method::Refer => 11,
        Method::Message => 12,
        Method::Update => 13,
        Method::Other(_) => 14,
    }
}

fn transport_slot(t: TransportKind) -> usize {
    match t {
        TransportKind::Udp => 0,
        TransportKind::Tcp => 1,
        TransportKind::Tls => 2,
    }
}

fn tx_kind_slot(kind: TxKind) -> usize {
    match kind {
        TxKind::InviteClient => 0,
        TxKind::InviteServer => 1,
        TxKind::NonInviteClient => 2,
        TxKind::NonInviteServer => 3,
    }
}

fn slots(n: usize) -> Box<[OnceLock<IntCounter>]> {
    (0..n).map(|_| OnceLock::new()).collect()
}

fn tx_kind_label(kind: TxKind) -> &'static str {
    match kind {
        TxKind::InviteClient => "invite_client",
        TxKind::InviteServer => "invite_server",
        TxKind::NonInviteClient => "non_invite_client",
        TxKind::NonInviteServer => "non_invite_server",
    }
}

/// All transaction kinds, for exporting gauges.
pub const TX_KINDS: [TxKind; 4] = [
    TxKind::InviteClient,
    TxKind::InviteServer,
    TxKind::NonInviteClient,
    TxKind::NonInviteServer,
];

impl Metrics {
    /// Registers every metric in a fresh registry; the build's commit is `unknown`.
    pub fn new(version: &str) -> Result<Metrics, MetricsError> {
        Metrics::of_build(version, "unknown")
    }

    /// Registers every metric in a fresh registry, for the build of `version` from git
    /// `commit`.
    pub fn of_build(version: &str, commit: &str) -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let build = IntGaugeVec::new(
            Opts::new(
                "voxgate_build_info",
                "Always 1; the version and commit labels say which build runs.",
            ),
            &["version", "commit"],
        )?;
        registry.register(Box::new(build.clone()))?;
        build.with_label_values(&[version, commit]).set(1);
        let draining = IntGauge::new(
            "voxgate_draining",
            "1 while the node drains before stopping.",
        )?;
        registry.register(Box::new(draining.clone()))?;
        let calls_active = IntGauge::new("voxgate_calls_active", "Calls in progress.")?;
        registry.register(Box::new(calls_active.clone()))?;
        let recordings_active = IntGauge::new(
            "voxgate_recordings_active",
            "Recordings whose file is being written now.",
        )?;
        registry.register(Box::new(recordings_active.clone()))?;
        let recording_frames_dropped = IntCounter::new(
            "voxgate_recording_frames_dropped_total",
            "20 ms recording frames dropped because a recording's writer fell behind (a slow disk).",
        )?;
        registry.register(Box::new(recording_frames_dropped.clone()))?;
        let conferences_active = IntGauge::new(
            "voxgate_conferences_active",
            "Conferences being mixed now (with at least one leg).",
        )?;
        registry.register(Box::new(conferences_active.clone()))?;
        let mixer_late = IntCounter::new(
            "voxgate_mixer_packets_late_total",
            "Conference legs' packets dropped for arriving after their frame was mixed.",
        )?;
        registry.register(Box::new(mixer_late.clone()))?;
        let call_setup = HistogramVec::new(
            HistogramOpts::new(
                "voxgate_call_setup_seconds",
                "From the INVITE in to the first INVITE out (stage=invite_out) and to the answer (stage=answer).",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["stage"],
        )?;
        registry.register(Box::new(call_setup.clone()))?;
        let leg_quality = Arc::new(LegQualityHistograms::new(&registry)?);
        registry.register(Box::new(process::ProcessCollector::new()?))?;
        let tls_handshake_failures = IntCounter::new(
            "voxgate_tls_handshake_failures_total",
            "TLS connections (accepted or opened) whose handshake failed or timed out.",
        )?;
        registry.register(Box::new(tls_handshake_failures.clone()))?;
        let hep = counter_vec(
            &registry,
            "voxgate_hep_packets_total",
            "HEP v3 packets to the [hep] collector: sent, or failed (the socket could not take it, or the message could not be encoded).",
            &["result"],
        )?;
        let retransmissions = counter_vec(
            &registry,
            "voxgate_sip_retransmissions_total",
            "SIP retransmissions: sent by voxgate's transactions (direction=out: timers A, E, G, and responses repeated for a repeated request) and requests received again and absorbed (direction=in).",
            &["direction"],
        )?;
        let cdr_records = counter_vec(
            &registry,
            "voxgate_cdr_records_total",
            "Call detail records: written, dropped (the writer's queue was full) or failed (the file could not be written).",
            &["result"],
        )?;
        // Shown from the start (at 0), so that alerts on them see a series.
        for label in ["in", "out"] {
            retransmissions.with_label_values(&[label]);
        }
        for label in ["written", "dropped", "failed"] {
            cdr_records.with_label_values(&[label]);
        }
        let allowlist_drops = counter_vec(
            &registry,
            "voxgate_allowlist_drops_total",
            "UDP datagrams dropped and TCP/TLS connections closed before parsing because of the trunk allow-lists.",
            &["transport", "reason"],
        )?;
        for transport in ["udp", "tcp", "tls"] {
            for reason in ["not_allowed", "transport_not_allowed"] {
                allowlist_drops.with_label_values(&[transport, reason]);
            }
        }
        let hep_packets = [
            hep.with_label_values(&["sent"]),
            hep.with_label_values(&["failed"]),
        ];
        let transactions_active = gauge_vec(
            &registry,
            "voxgate_sip_transactions_active",
            "RFC 3261 transactions alive now.",
            &["kind"],
        )?;
        let transactions = counter_vec(
            &registry,
            "voxgate_sip_transactions_total",
            "RFC 3261 transactions created.",
            &["kind"],
        )?;
        Ok(Metrics::with_known_series(Metrics {
            requests: counter_vec(
                &registry,
                "voxgate_sip_requests_total",
                "SIP requests received (in) and sent (out).",
                &["direction", "transport", "method"],
            )?,
            responses: counter_vec(
                &registry,
                "voxgate_sip_responses_total",
                "SIP responses received (in) and sent (out), by CSeq method and status class.",
                &["direction", "transport", "method", "status_class"],
            )?,
            transaction_timeouts: counter_vec(
                &registry,
                "voxgate_sip_transaction_timeouts_total",
                "Transactions that gave up (timer B, F or H) or hit a transport error.",
                &["kind", "cause"],
            )?,
            allowlist_drops,
            bans: counter_vec(
                &registry,
                "voxgate_bans_total",
                "Bans started by [protection]: an unlisted IP address or its /24 or /64 went over its rate.",
                &["scope"],
            )?,
            banned_drops: counter_vec(
                &registry,
                "voxgate_protection_drops_total",
                "UDP datagrams dropped and TCP/TLS connections closed, before parsing, because their source was banned.",
                &["transport"],
            )?,
            scanner_requests: counter_vec(
                &registry,
                "voxgate_scanner_requests_total",
                "Requests left unanswered because their User-Agent names a scanner.",
                &["transport"],
            )?,
            connection_refusals: counter_vec(
                &registry,
                "voxgate_sip_connection_refusals_total",
                "Accepted TCP/TLS connections closed at once because a connection cap was reached.",
                &["transport", "limit"],
            )?,
            connections_closed: counter_vec(
                &registry,
                "voxgate_sip_connections_closed_total",
                "TCP/TLS connections that ended, by why.",
                &["transport", "reason"],
            )?,
            parse_errors: counter_vec(
                &registry,
                "voxgate_sip_parse_errors_total",
                "Messages that could not be parsed or lacked a valid mandatory header.",
                &["transport", "reason"],
            )?,
            connections_active: gauge_vec(
                &registry,
                "voxgate_sip_connections_active",
                "Open TCP/TLS connections.",
                &["transport"],
            )?,
            connections: counter_vec(
                &registry,
                "voxgate_sip_connections_total",
                "TCP/TLS connections opened.",
                &["transport", "direction"],
            )?,
            config_reloads: counter_vec(
                &registry,
                "voxgate_config_reloads_total",
                "Configuration reloads by result.",
                &["result"],
            )?,
            draining,
            calls_active,
            calls: counter_vec(
                &registry,
                "voxgate_calls_total",
                "Calls ended, by inbound trunk and outcome.",
                &["trunk", "outcome"],
            )?,
            call_setup,
            leg_quality,
            overflows: counter_vec(
                &registry,
                "voxgate_conversation_overflows_total",
                "Conversations ended because a queue passed its bound: queue=input (the core's inputs), queue=events (events the control plane left unread), queue=media (media events the conversation left unread).",
                &["queue"],
            )?,
            trunk_limits: counter_vec(
                &registry,
                "voxgate_trunk_limit_rejections_total",
                "New calls refused with 503 because of a trunk limit.",
                &["trunk", "limit"],
            )?,
            digest_checks: counter_vec(
                &registry,
                "voxgate_digest_checks_total",
                "INVITEs of trunks with auth = \"digest\", by the verdict on their credentials.",
                &["trunk", "result"],
            )?,
            trunk_calls: Arc::new(trunk::TrunkCallMetrics::new(&registry)?),
            ops: Arc::new(ops::OpsMetrics::new(&registry)?),
            overload: Arc::new(overload::OverloadMetrics::new(&registry)?),
            retransmissions,
            tls_handshake_failures,
            hep_packets,
            cdr_records,
            dns_lookups: counter_vec(
                &registry,
                "voxgate_dns_lookups_total",
                "Destination names looked up (RFC 3263): outcome=cached (answered from the cache), resolved (asked DNS, got next hops), failed (DNS gave none), refreshed (re-resolved in the background), refresh_failed.",
                &["outcome"],
            )?,
            keepalive_probes: counter_vec(
                &registry,
                "voxgate_keepalive_probes_total",
                "OPTIONS keep-alive probes of route destinations that ended: result=answered (any final status but 408 and 503) or failed (no answer in time, 408, 503, a transport error).",
                &["result"],
            )?,
            certificate_expiry: gauge_vec(
                &registry,
                "voxgate_tls_certificate_expiry_timestamp_seconds",
                "When the certificate a TLS listener serves expires (its notAfter, Unix seconds).",
                &["listener"],
            )?,
            registration_state: gauge_vec(
                &registry,
                "voxgate_registration_state",
                "1 while the trunk's registrar holds voxgate's binding, 0 while registering or after a failure.",
                &["trunk"],
            )?,
            destination_up: gauge_vec(
                &registry,
                "voxgate_destination_up",
                "1 while a probed destination answers its OPTIONS keep-alive, 0 while it is down (dials skip it); absent until its first verdict.",
                &["trunk", "destination"],
            )?,
            trunk_out_of_service: gauge_vec(
                &registry,
                "voxgate_trunk_out_of_service",
                "1 while an operator has put the trunk out of service (new calls refused, its destinations skipped), 0 once put back; absent if never touched.",
                &["trunk"],
            )?,
            dns_cache: {
                let g = IntGauge::new(
                    "voxgate_dns_cache_entries",
                    "Destination names held in the DNS cache.",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            rtp_relayed: counter_vec(
                &registry,
                "voxgate_rtp_packets_relayed_total",
                "RTP packets relayed, by the media region they arrived in.",
                &["region"],
            )?,
            rtp_generated: counter_vec(
                &registry,
                "voxgate_rtp_packets_generated_total",
                "RTP packets voxgate generated and sent (prompts, tones, DTMF, conference \
                 mixes), by the media region of the sending endpoint.",
                &["region"],
            )?,
            ports_exhausted: counter_vec(
                &registry,
                "voxgate_media_ports_exhausted_total",
                "Legs that could not be anchored because every RTP/RTCP port pair of the \
                 region was taken (the call got 503 with Retry-After).",
                &["region"],
            )?,
            rtp_transcoded: counter_vec(
                &registry,
                "voxgate_rtp_packets_transcoded_total",
                "RTP packets relayed with their voice transcoded into the receiving leg's codec \
                 (G.711 mu-law <-> A-law), by the media region they arrived in.",
                &["region"],
            )?,
            digits: counter_vec(
                &registry,
                "voxgate_dtmf_digits_total",
                "DTMF digits received from legs' peers, by how: rfc4733, inband, info.",
                &["source"],
            )?,
            playbacks: counter_vec(
                &registry,
                "voxgate_playbacks_total",
                "Playbacks ended, by reason: finished, stopped, barge_in, replaced.",
                &["reason"],
            )?,
            recordings: counter_vec(
                &registry,
                "voxgate_recordings_total",
                "Recordings ended, by reason: stopped, leg_ended, failed.",
                &["reason"],
            )?,
            recording_failures: counter_vec(
                &registry,
                "voxgate_recording_failures_total",
                "Recordings whose file failed, by error: disk_full, unwritable, io.",
                &["error"],
            )?,
            recordings_active,
            recording_frames_dropped,
            recording_dropped_seen: Arc::default(),
            media_dropped: counter_vec(
                &registry,
                "voxgate_media_packets_dropped_total",
                "Media datagrams dropped, by media region and reason: foreign (a source \
                 that may not latch: hijack attempts, strays), invalid (none of RTP, RTCP, \
                 DTLS, STUN), unsent (no target yet, send buffer full), srtp (SRTP/SRTCP \
                 failing authentication, replayed, or not protectable for its leg).",
                &["region", "reason"],
            )?,
            media_ports: gauge_vec(
                &registry,
                "voxgate_media_ports_in_use",
                "RTP/RTCP port pairs allocated, by media region.",
                &["region"],
            )?,
            rtp_seen: Arc::new(Mutex::new(Vec::new())),
            conferences_active,
            mixer_frames: counter_vec(
                &registry,
                "voxgate_mixer_frames_total",
                "Conference frames (20 ms), by outcome: mixed, or skipped after a late wake-up \
                 (nobody heard them).",
                &["outcome"],
            )?,
            mixer_late,
            mixer_seen: Arc::new(Mutex::new([0; 3])),
            hot: Arc::new(Hot {
                requests: slots(2 * TRANSPORTS * METHOD_SLOTS),
                responses: slots(2 * TRANSPORTS * METHOD_SLOTS * CLASSES),
                transactions_active: TX_KINDS
                    .map(|k| transactions_active.with_label_values(&[tx_kind_label(k)])),
                transactions: TX_KINDS.map(|k| transactions.with_label_values(&[tx_kind_label(k)])),
            }),
            registry,
        }))
    }

    /// Series whose label values are known in advance exist from the start at 0, so
    /// that a dashboard or an alert sees "none yet" rather than "no data" (Prometheus'
    /// advice for counters with a fixed set of labels).
    fn with_known_series(self) -> Metrics {
        for scope in ["address", "prefix"] {
            let _ = self.bans.with_label_values(&[scope]);
        }
        for transport in [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls] {
            let _ = self.banned_drops.with_label_values(&[transport.as_str()]);
            let _ = self
                .scanner_requests
                .with_label_values(&[transport.as_str()]);
        }
        for outcome in [
            "cached",
            "resolved",
            "failed",
            "refreshed",
            "refresh_failed",
        ] {
            let _ = self.dns_lookups.with_label_values(&[outcome]);
        }
        for result in ["answered", "failed"] {
            let _ = self.keepalive_probes.with_label_values(&[result]);
        }
        self
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail on I/O; an error here would mean a
        // malformed family, which the tests rule out.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Registers another crate's metrics (the control plane's) so that the one
    /// `/metrics` shows them; fails on a name already registered.
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> Result<(), MetricsError> {
        self.registry.register(collector)
    }

    /// Counts a request.
    pub fn request(&self, dir: Direction, transport: TransportKind, method: &Method) {
        let i = (dir as usize * TRANSPORTS + transport_slot(transport)) * METHOD_SLOTS
            + method_slot(method);
        let Some(slot) = self.hot.requests.get(i) else {
            return;
        };
        slot.get_or_init(|| {
            self.requests.with_label_values(&[
                dir.label(),
                transport.as_str(),
                method_label(method),
            ])
        })
        .inc();
    }

    /// Counts a response.
    pub fn response(&self, dir: Direction, transport: TransportKind, method: &Method, status: u16) {
        let class = usize::from((status / 100).clamp(1, 6) - 1);
        let i = ((dir as usize * TRANSPORTS + transport_slot(transport)) * METHOD_SLOTS
            + method_slot(method))
            * CLASSES
            + class;
        let Some(slot) = self.hot.responses.get(i) else {
            return;
        };
        slot.get_or_init(|| {
            self.responses.with_label_values(&[
                dir.label(),
                transport.as_str(),
                method_label(method),
                status_class(status),
            ])
        })
        .inc();
    }

    /// Sets the active-transaction gauge of one kind.
    pub fn set_transactions_active(&self, kind: TxKind, n: usize) {
        self.hot.transactions_active[tx_kind_slot(kind)].set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a new transaction.
    pub fn transaction_created(&self, kind: TxKind) {
        self.hot.transactions[tx_kind_slot(kind)].inc();
    }

    /// Counts a transaction that gave up.
    pub fn transaction_failed(&self, kind: TxKind, cause: &'static str) {
        self.transaction_timeouts
            .with_label_values(&[tx_kind_label(kind), cause])
            .inc();
    }

    /// Counts an allow-list drop.
    pub fn allowlist_drop(&self, transport: TransportKind, reason: DropReason) {
        self.allowlist_drops
            .with_label_values(&[transport.as_str(), reason.label()])
            .inc();
    }

    /// Counts a ban that started (`scope` "address" or "prefix").
    pub fn ban(&self, scope: &'static str) {
        self.bans.with_label_values(&[scope]).inc();
    }

    /// The counter of datagrams and connections dropped because their source is banned,
    /// for `transport`: resolved once, so that a flood's packets take no label lookup
    /// (and no lock of the label map) each.
    pub fn banned_drops_counter(&self, transport: TransportKind) -> IntCounter {
        self.banned_drops.with_label_values(&[transport.as_str()])
    }

    /// The allow-list drop counter for `transport` and `reason`, resolved once (as above).
    pub fn allowlist_drops_counter(
        &self,
        transport: TransportKind,
        reason: DropReason,
    ) -> IntCounter {
        self.allowlist_drops
            .with_label_values(&[transport.as_str(), reason.label()])
    }

    /// Counts a request left unanswered because it came from a scanner.
    pub fn scanner_request(&self, transport: TransportKind) {
        self.scanner_requests
            .with_label_values(&[transport.as_str()])
            .inc();
    }

    /// Counts a connection closed at accept by a cap (`limit` "per_source" or "total").
    pub fn connection_refused(&self, transport: TransportKind, limit: &'static str) {
        self.connection_refusals
            .with_label_values(&[transport.as_str(), limit])
            .inc();
    }

    /// Counts a connection that ended, by why.
    pub fn connection_ended(&self, transport: TransportKind, reason: &'static str) {
        self.connections_closed
            .with_label_values(&[transport.as_str(), reason])
            .inc();
    }

    /// Counts a parse or header-validation failure.
    pub fn parse_error(&self, transport: TransportKind, reason: &'static str) {
        self.parse_errors
            .with_label_values(&[transport.as_str(), reason])
            .inc();
    }

    /// Counts an opened connection.
    pub fn connection_opened(&self, transport: TransportKind, inbound: bool) {
        let dir = if inbound { "inbound" } else { "outbound" };
        self.connections
            .with_label_values(&[transport.as_str(), dir])
            .inc();
        self.connections_active
            .with_label_values(&[transport.as_str()])
            .inc();
    }

    /// Counts a closed connection.
    pub fn connection_closed(&self, transport: TransportKind) {
        self.connections_active
            .with_label_values(&[transport.as_str()])
            .dec();
    }

    /// Counts a configuration reload.
    pub fn config_reload(&self, ok: bool) {
        self.config_reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// An admin API request refused (`unauthorized`, `closed`).
    pub fn admin_refusal(&self, reason: &'static str) {
        self.ops.admin_refusal(reason);
    }

    /// A kill switch's state (`capability`: trunk, route, recording).
    pub fn kill_switch(&self, capability: &str, name: &str, on: bool) {
        self.ops.switch(capability, name, on);
    }

    /// A kill switch that turned off by itself.
    pub fn kill_switch_trip(&self, capability: &str, name: &str) {
        self.ops.trip(capability, name);
    }

    /// Whether the signalling loop is overloaded (`voxgate_overload_state`).
    pub fn set_overloaded(&self, on: bool) {
        self.overload.set_state(on);
    }

    /// A new call from `trunk` refused because of overload.
    pub fn overload_rejection(&self, trunk: &str) {
        self.overload.rejected(trunk);
    }

    /// Marks the node as draining.
    pub fn set_draining(&self, on: bool) {
        self.draining.set(i64::from(on));
    }

    /// Sets the active-call gauge.
    pub fn set_calls_active(&self, n: usize) {
        self.calls_active.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a conversation ended because `queue` passed its bound.
    pub fn conversation_overflow(&self, queue: &'static str) {
        self.overflows.with_label_values(&[queue]).inc();
    }

    /// Counts a conversation whose control plane fell behind its events.
    pub fn control_overflow(&self) {
        self.conversation_overflow("events");
    }

    /// Counts a destination name lookup by its outcome (`cached`, `resolved`,
    /// `failed`, `refreshed`, `refresh_failed`).
    pub fn dns_lookup(&self, outcome: &'static str) {
        self.dns_lookups.with_label_values(&[outcome]).inc();
    }

    /// The certificate TLS listener `listener` serves expires at `not_after` (Unix s).
    pub fn certificate_expiry(&self, listener: &str, not_after: i64) {
        self.certificate_expiry
            .with_label_values(&[listener])
            .set(not_after);
    }

    /// Counts a keep-alive probe that ended.
    pub fn keepalive_probe(&self, answered: bool) {
        let result = if answered { "answered" } else { "failed" };
        self.keepalive_probes.with_label_values(&[result]).inc();
    }

    /// Records a probed destination's new keep-alive verdict.
    pub fn destination_state(
        &self,
        trunk: &str,
        destination: &str,
        state: crate::keepalive::State,
    ) {
        let g = self.destination_up.with_label_values(&[trunk, destination]);
        match state {
            crate::keepalive::State::Up => g.set(1),
            crate::keepalive::State::Down => g.set(0),
            crate::keepalive::State::Unknown => {}
        }
    }

    /// Records a trunk's new registration state.
    pub fn registration_state(&self, trunk: &str, state: crate::registration::RegState) {
        self.registration_state
            .with_label_values(&[trunk])
            .set(i64::from(
                state == crate::registration::RegState::Registered,
            ));
    }

    /// Drops the registration series of a trunk that no longer registers.
    pub fn registration_gone(&self, trunk: &str) {
        let _ = self.registration_state.remove_label_values(&[trunk]);
    }

    /// Records a trunk put in or out of service by an operator.
    pub fn trunk_in_service(&self, trunk: &str, in_service: bool) {
        self.trunk_out_of_service
            .with_label_values(&[trunk])
            .set(i64::from(!in_service));
    }

    /// Sets how many names the DNS cache holds.
    pub fn dns_cache_entries(&self, n: usize) {
        self.dns_cache.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a call refused by a trunk limit.
    pub fn trunk_limit(&self, trunk: &str, limit: &'static str) {
        self.trunk_limits.with_label_values(&[trunk, limit]).inc();
    }

    /// Counts a digest trunk's INVITE by `result`: `accepted`, or challenged
    /// because the credentials were `missing`, `invalid` or `stale`.
    pub fn digest_check(&self, trunk: &str, result: &'static str) {
        self.digest_checks.with_label_values(&[trunk, result]).inc();
    }

    /// Counts `n` CDRs that were `written`, `dropped` or `failed`.
    pub fn cdr_records(&self, result: &'static str, n: u64) {
        self.cdr_records.with_label_values(&[result]).inc_by(n);
    }

    /// The CDR counter of `result`, for tests.
    pub fn cdr_records_value(&self, result: &'static str) -> u64 {
        self.cdr_records.with_label_values(&[result]).get()
    }

    /// Adds retransmissions sent (`Direction::Out`) or received.
    pub fn retransmissions(&self, dir: Direction, n: u64) {
        if n > 0 {
            self.retransmissions
                .with_label_values(&[dir.label()])
                .inc_by(n);
        }
    }

    /// Counts a HEP packet sent (or not).
    pub fn hep_packet(&self, sent: bool) {
        self.hep_packets[usize::from(!sent)].inc();
    }

    /// HEP packets sent (`true`) or failed, for tests.
    pub fn hep_packets_value(&self, sent: bool) -> u64 {
        self.hep_packets[usize::from(!sent)].get()
    }

    /// Counts a failed TLS handshake.
    pub fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.inc();
    }

    /// Counts an ended call and its setup latencies.
    pub fn call_ended(&self, record: &ConversationRecord) {
        self.trunk_calls.observe(record);
        self.calls
            .with_label_values(&[record.trunk_label(), record.outcome_label()])
            .inc();
        let t = &record.timeline;
        if let Some(out) = t.first_b_invite {
            self.call_setup
                .with_label_values(&["invite_out"])
                .observe(out.saturating_duration_since(t.invite).as_secs_f64());
        }
        if let Some(answer) = t.answer {
            self.call_setup
                .with_label_values(&["answer"])
                .observe(answer.saturating_duration_since(t.invite).as_secs_f64());
        }
        // Each leg whose peer sent RTP: its quality.
        for leg in &record.legs {
            let Some(q) = leg.media.map(|m| m.quality) else {
                continue;
            };
            let Some(mos) = q.mos else { continue };
            let trunk = [leg.trunk.as_ref().map_or("none", |t| t.as_str())];
            let h = &self.leg_quality;
            h.jitter_ms.with_label_values(&trunk).observe(q.jitter_ms);
            h.loss_ratio
                .with_label_values(&trunk)
                .observe(q.loss_fraction);
            h.mos.with_label_values(&trunk).observe(mos);
            if let Some(rtt) = q.rtt_ms {
                h.rtt_ms.with_label_values(&trunk).observe(rtt);
            }
        }
    }

    /// A conversation told its control plane `event`: digits, playbacks and
    /// recordings are counted.
    pub fn conversation_event(&self, event: &crate::control_plane::Event) {
        use crate::control_plane::Event;
        match event {
            Event::Digits { source, .. } => {
                self.digits.with_label_values(&[source.as_str()]).inc();
            }
            Event::PlaybackDone { reason, .. } => {
                self.playbacks.with_label_values(&[reason.as_str()]).inc();
            }
            Event::RecordingDone { reason, .. } => {
                self.recordings.with_label_values(&[reason.as_str()]).inc();
                if let Some(error) = reason.failure() {
                    self.recording_failures
                        .with_label_values(&[error.as_str()])
                        .inc();
                }
            }
            _ => {}
        }
    }

    /// Publishes the media engine's recording figures (at scrape time).
    pub fn media_recordings(&self, stats: voxgate_media::RecordingStats) {
        use std::sync::atomic::Ordering;
        self.recordings_active
            .set(i64::try_from(stats.active).unwrap_or(i64::MAX));
        let before = self
            .recording_dropped_seen
            .swap(stats.frames_dropped, Ordering::Relaxed);
        self.recording_frames_dropped
            .inc_by(stats.frames_dropped.saturating_sub(before));
    }

    /// Publishes the media engine's per-region totals (at scrape time).
    pub fn media_regions(&self, regions: &[(String, voxgate_media::RegionStats)]) {
        let mut seen = self.rtp_seen.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, stats) in regions {
            let i = match seen.iter().position(|(n, _)| n == name) {
                Some(i) => i,
                None => {
                    seen.push((name.clone(), [0; 8]));
                    seen.len() - 1
                }
            };
            let Some((_, last)) = seen.get_mut(i) else {
                continue;
            };
            // The engine's counters are cumulative: add what is new since the last scrape.
            let now = [
                stats.packets_relayed,
                stats.dropped_foreign,
                stats.dropped_invalid,
                stats.dropped_unsent,
                stats.dropped_srtp,
                stats.packets_generated,
                stats.ports_exhausted,
                stats.packets_transcoded,
            ];
            let delta: RegionSeen = std::array::from_fn(|k| now[k].saturating_sub(last[k]));
            *last = now;
            self.rtp_relayed.with_label_values(&[name]).inc_by(delta[0]);
            self.rtp_generated
                .with_label_values(&[name])
                .inc_by(delta[5]);
            self.ports_exhausted
                .with_label_values(&[name])
                .inc_by(delta[6]);
            self.rtp_transcoded
                .with_label_values(&[name])
                .inc_by(delta[7]);
            for (reason, d) in ["foreign", "invalid", "unsent", "srtp"]
                .into_iter()
                .zip(&delta[1..5])
            {
                self.media_dropped
                    .with_label_values(&[name.as_str(), reason])
                    .inc_by(*d);
            }
            self.media_ports
                .with_label_values(&[name])
                .set(i64::try_from(stats.ports_in_use).unwrap_or(i64::MAX));
        }
    }

    /// Publishes the media engine's conference totals (at scrape time).
    pub fn mixers(&self, stats: &voxgate_media::MixerStats) {
        self.conferences_active
            .set(i64::try_from(stats.conferences_active).unwrap_or(i64::MAX));
        let mut seen = self
            .mixer_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = [stats.frames_mixed, stats.frames_skipped, stats.packets_late];
        let delta: [u64; 3] = std::array::from_fn(|k| now[k].saturating_sub(seen[k]));
        *seen = now;
        self.mixer_frames
            .with_label_values(&["mixed"])
            .inc_by(delta[0]);
        self.mixer_frames
            .with_label_values(&["skipped"])
            .inc_by(delta[1]);
        self.mixer_late.inc_by(delta[2]);
    }

    /// Bans started, for tests.
    #[cfg(test)]
    pub(crate) fn bans_value(&self, scope: &str) -> u64 {
        self.bans.with_label_values(&[scope]).get()
    }

    /// Banned drops, for tests.
    #[cfg(test)]
    pub(crate) fn banned_drops_value(&self, transport: TransportKind) -> u64 {
        self.banned_drops
            .with_label_values(&[transport.as_str()])
            .get()
    }

    /// A counter's value, for tests.
    #[cfg(test)]
    pub(crate) fn allowlist_drops_value(
        &self,
        transport: TransportKind,
        reason: DropReason,
    ) -> u64 {
        self.allowlist_drops
            .with_label_values(&[transport.as_str(), reason.label()])
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_with_a_fixed_set_of_labels_exist_at_zero_from_the_start() {
        let text = Metrics::new("0.0.0-test").unwrap().render();
        for needle in [
            r#"voxgate_bans_total{scope="address"} 0"#,
            r#"voxgate_bans_total{scope="prefix"} 0"#,
            r#"voxgate_protection_drops_total{transport="tls"} 0"#,
            r#"voxgate_scanner_requests_total{transport="udp"} 0"#,
            r#"voxgate_dns_lookups_total{outcome="refresh_failed"} 0"#,
            r#"voxgate_keepalive_probes_total{result="failed"} 0"#,
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn renders_every_family_with_labels() {
        let m = Metrics::new("0.0.0-test").unwrap();
        m.request(Direction::In, TransportKind::Udp, &Method::Options);
        m.response(Direction::Out, TransportKind::Tcp, &Method::Options, 200);
        m.allowlist_drop(TransportKind::Udp, DropReason::NotAllowed);
        m.parse_error(TransportKind::Udp, "bad_start_line");
        m.connection_opened(TransportKind::Tls, true);
        m.set_transactions_active(TxKind::InviteServer, 3);
        m.transaction_created(TxKind::NonInviteServer);
        m.config_reload(false);
        m.set_overloaded(true);
        m.overload_rejection("carrier");
        m.certificate_expiry("127.0.0.1:5061", 1_925_078_400);
        let text = m.render();
        for needle in [
            r#"voxgate_build_info{commit="unknown",version="0.0.0-test"} 1"#,
            r#"voxgate_sip_requests_total{direction="in",method="OPTIONS",transport="udp"} 1"#,
            r#"voxgate_sip_responses_total{direction="out",method="OPTIONS",status_class="2xx",transport="tcp"} 1"#,
            r#"voxgate_allowlist_drops_total{reason="not_allowed",transport="udp"} 1"#,
            r#"voxgate_sip_parse_errors_total{reason="bad_start_line",transport="udp"} 1"#,
            r#"voxgate_sip_connections_active{transport="tls"} 1"#,
            r#"voxgate_sip_transactions_active{kind="invite_server"} 3"#,
            r#"voxgate_sip_transactions_total{kind="non_invite_server"} 1"#,
            r#"voxgate_config_reloads_total{result="error"} 1"#,
            "voxgate_draining 0",
            "voxgate_overload_state 1",
            r#"voxgate_overload_rejections_total{trunk="carrier"} 1"#,
            r#"voxgate_tls_certificate_expiry_timestamp_seconds{listener="127.0.0.1:5061"} 1925078400"#,
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn recordings_are_counted_by_reason_and_error_and_the_engine_figures_published() {
        use crate::control_plane::{Event, LegId, RecordingEnd, RecordingFailure, RecordingId};
        let m = Metrics::new("t").unwrap();
        let done = |reason| Event::RecordingDone {
            leg: LegId(1),
            id: RecordingId(1),
            reason,
            file: "f.wav".into(),
            duration: None,
        };
        m.conversation_event(&done(RecordingEnd::Stopped));
        m.conversation_event(&done(RecordingEnd::Failed(RecordingFailure::DiskFull)));
        m.conversation_event(&done(RecordingEnd::Failed(RecordingFailure::DiskFull)));
        m.media_recordings(voxgate_media::RecordingStats {
            active: 3,
            frames_dropped: 7,
        });
        m.media_recordings(voxgate_media::RecordingStats {
            active: 2,
            frames_dropped: 10,
        });
        let text = m.render();
        for needle in [
            r#"voxgate_recordings_total{reason="stopped"} 1"#,
            r#"voxgate_recordings_total{reason="failed"} 2"#,
            r#"voxgate_recording_failures_total{error="disk_full"} 2"#,
            "voxgate_recordings_active 2",
            "voxgate_recording_frames_dropped_total 10",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn mixer_totals_become_increments_and_a_gauge() {
        let m = Metrics::new("t").unwrap();
        let stats = |conferences_active, frames_mixed, frames_skipped, packets_late| {
            voxgate_media::MixerStats {
                conferences_active,
                frames_mixed,
                frames_skipped,
                packets_late,
            }
        };
        m.mixers(&stats(2, 100, 1, 3));
        m.mixers(&stats(1, 150, 1, 5));
        let text = m.render();
        for needle in [
            "voxgate_conferences_active 1",
            r#"voxgate_mixer_frames_total{outcome="mixed"} 150"#,
            r#"voxgate_mixer_frames_total{outcome="skipped"} 1"#,
            "voxgate_mixer_packets_late_total 5",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::new("t").unwrap();
        m.request(
            Direction::In,
            TransportKind::Udp,
            &Method::Other("FOO".into()),
        );
        m.request(
            Direction::In,
            TransportKind::Udp,
            &Method::Other("BAR".into()),
        );
        assert!(m.render().contains(r#"method="other",transport="udp"} 2"#));
    }
}
