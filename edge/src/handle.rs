//! The edge's handle for control planes and operators: originate a
//! conversation, list and inspect conversations, hang one up, and follow
//! every conversation's events.

use crate::control_plane::{ConversationId, Event, Session};
use crate::driver;
use crate::registry::Registry;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Events kept for a follower of [`EdgeHandle::subscribe`] that reads slower
/// than conversations produce; past it the follower gets `Lagged` (and should
/// resynchronise from [`EdgeHandle::conversations`]).
pub const FOLLOW_QUEUE: usize = 4096;

/// One event of one conversation, as followers of every conversation see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampedEvent {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its event (in the conversation's order).
    pub event: Event,
}

/// A cheap, cloneable handle on a running edge.
#[derive(Clone)]
pub struct EdgeHandle {
    inner: Arc<Inner>,
}

struct Inner {
    core: mpsc::Sender<driver::Command>,
    registry: Arc<Registry>,
    follow: broadcast::Sender<StampedEvent>,
    health: Arc<crate::health::Health>,
}

impl std::fmt::Debug for EdgeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeHandle").finish_non_exhaustive()
    }
}

/// Why a conversation could not be originated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginateError {
    /// The node is draining or stopping.
    #[error("the node is not taking new conversations")]
    NotAccepting,
}

/// One conversation as `/calls` and the API show it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConversationSummary {
    /// The id (`c17`).
    pub id: String,
    /// The inbound trunk, if the conversation has an inbound leg.
    pub trunk: Option<String>,
    /// Media region of the inbound leg (or of the node).
    pub region: String,
    /// Caller number (redacted unless logging asks otherwise).
    pub from: Option<String>,
    /// Dialled number (redacted likewise).
    pub to: Option<String>,
    /// routing, connecting, ringing, answered, ending.
    pub state: &'static str,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it was first answered.
    pub answered: Option<String>,
    /// Its legs, live and ended, in order.
    pub legs: Vec<LegSummary>,
}

/// One leg as `/calls` and the API show it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LegSummary {
    /// The leg id within its conversation.
    pub id: u32,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// trying, ringing, early, answered, held, ended, failed.
    pub state: &'static str,
    /// The trunk of the leg, if any.
    pub trunk: Option<String>,
    /// The leg it is bridged with, if any.
    pub bridged_with: Option<u32>,
    /// The conference it is in, if any.
    pub conference: Option<u32>,
    /// Held by its peer or by voxgate.
    pub held: bool,
    /// voxgate's RTP port for the leg (first media line), once anchored.
    pub rtp_port: Option<u16>,
    /// Its media figures: live while its endpoint is open (read when
    /// listed), the last ones once it closed; none before it had media.
    pub media: Option<MediaFigures>,
}

/// One leg's media as the CDR and `/calls` show it: counters (all media
/// lines) and call quality (the voice line).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct MediaFigures {
    /// RTP packets received from the leg's peer.
    pub rtp_packets: u64,
    /// Their octets (UDP payload, as received).
    pub rtp_bytes: u64,
    /// RTCP packets received from the leg's peer.
    pub rtcp_packets: u64,
    /// Packets sent to the leg's peer (relayed and generated, RTCP included).
    pub sent: u64,
    /// Packets for the peer that could not be sent.
    pub dropped: u64,
    /// Datagrams from sources that were not let latch (hijack attempts, strays).
    pub foreign: u64,
    /// SRTP/SRTCP packets dropped (failed authentication, replays).
    pub srtp_dropped: u64,
    /// RTP packets relayed to the leg transcoded into its codec.
    pub transcoded: u64,
    /// RTCP reports voxgate sent the peer (legs it terminates).
    pub rtcp_sent: u64,
    /// RTP packets lost on the way from the peer (RFC 3550 A.3).
    pub lost: u64,
    /// Lost over expected, 0 to 1.
    pub loss: f64,
    /// Interarrival jitter of the peer's stream (RFC 3550 A.8), ms.
    pub jitter_ms: f64,
    /// Packets that arrived after a later one.
    pub out_of_order: u64,
    /// Packets that arrived twice.
    pub duplicates: u64,
    /// The peer's loss of what voxgate sent it (the fraction in its last
    /// RTCP report), 0 to 1; none without a report.
    pub remote_loss: Option<f64>,
    /// The peer's cumulative loss of what voxgate sent it (its last report).
    pub remote_lost: Option<i64>,
    /// The peer's jitter of what voxgate sent it (its last report), ms.
    pub remote_jitter_ms: Option<f64>,
    /// Round-trip time to the peer from RTCP (LSR/DLSR), ms, once measured.
    pub rtt_ms: Option<f64>,
    /// Estimated MOS of the peer's stream (ITU-T G.107 E-model, simplified:
    /// loss, jitter, RTT; G.711 with packet-loss concealment), 1 to 4.5;
    /// none without RTP from the peer.
    pub mos: Option<f64>,
}

/// `x` rounded to `places` decimals (for JSON that reads well).
fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

impl From<&voxgate_media::LegMediaStats> for MediaFigures {
    fn from(m: &voxgate_media::LegMediaStats) -> MediaFigures {
        let (c, q) = (&m.counters, &m.quality);
        MediaFigures {
            rtp_packets: c.rtp_packets,
            rtp_bytes: c.rtp_bytes,
            rtcp_packets: c.rtcp_packets,
            sent: c.sent,
            dropped: c.dropped,
            foreign: c.foreign,
            srtp_dropped: c.srtp,
            transcoded: c.transcoded,
            rtcp_sent: c.rtcp_sent,
            lost: q.lost,
            loss: round(q.loss_fraction, 4),
            jitter_ms: round(q.jitter_ms, 2),
            out_of_order: q.out_of_order,
            duplicates: q.duplicates,
            remote_loss: q.remote_loss_fraction.map(|x| round(x, 4)),
            remote_lost: q.remote_lost,
            remote_jitter_ms: q.remote_jitter_ms.map(|x| round(x, 2)),
            rtt_ms: q.rtt_ms.map(|x| round(x, 1)),
            mos: q.mos.map(|x| round(x, 2)),
        }
    }
}

impl EdgeHandle {
    pub(crate) fn new(
        core: mpsc::Sender<driver::Command>,
        registry: Arc<Registry>,
        follow: broadcast::Sender<StampedEvent>,
        health: Arc<crate::health::Health>,
    ) -> EdgeHandle {
        EdgeHandle {
            inner: Arc::new(Inner {
                core,
                registry,
                follow,
                health,
            }),
        }
    }

    /// Runtime state of trunks, routes and recording (kill switches), for control planes
    /// that route: a route whose switch is off refuses its calls.
    pub fn health(&self) -> Arc<crate::health::Health> {
        self.inner.health.clone()
    }

    /// A new conversation with no leg, controlled by the caller of this
    /// function through the returned session (send it a `Dial`). A
    /// conversation that gets no dial within 32 s ends ([`crate::control_plane::EndCause::Idle`]).
    pub async fn originate(&self) -> Result<Session, OriginateError> {
        let (reply, session) = oneshot::channel();
        self.inner
            .core
            .send(driver::Command::Originate(reply))
            .await
            .map_err(|_| OriginateError::NotAccepting)?;
        session.await.map_err(|_| OriginateError::NotAccepting)?
    }

    /// Every live conversation, oldest first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.inner.registry.list()
    }

    /// One live conversation.
    pub fn conversation(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.inner.registry.get(id)
    }

    /// Hangs up every leg of a conversation, whoever controls it (an
    /// operator's last resort). False when there is no such conversation.
    pub fn hangup(&self, id: ConversationId) -> bool {
        self.inner.registry.hangup(id)
    }

    /// Every event of every conversation from now on, in each
    /// conversation's order.
    pub fn subscribe(&self) -> broadcast::Receiver<StampedEvent> {
        self.inner.follow.subscribe()
    }
}
