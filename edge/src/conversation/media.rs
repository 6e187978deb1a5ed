//! The conversation's view of the media plane: one endpoint per leg (its
//! ports in its trunk's region, where its peer sends), bridges between
//! endpoints, conferences, hold (for the inactivity timer), counters and call
//! quality, and the endpoint's own media (its negotiated format, playbacks,
//! digits to send, recordings) whose events come back as `Input::Media`. A trait, so the conversation logic is tested
//! without sockets.

use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Instant;
use voxgate_media::LegMediaStats;
use voxgate_media::anchor::{LocalMedia, RemoteMedia};
use voxgate_media::srtp::SdesKeys;
use voxgate_media::{EndpointOp, MediaError, Membership, RecordRequest};

pub use voxgate_media::EndpointId;

/// What a new endpoint needs.
#[derive(Clone, Debug)]
pub struct EndpointSpec {
    /// The media region (the leg's trunk's, or the node's).
    pub region: String,
    /// Media lines (m-lines of the SDP it anchors).
    pub lines: usize,
    /// The peer's media or signalling address, to pick the region's address
    /// of the same family.
    pub peer: Option<IpAddr>,
    /// Sources that may latch besides the signalled address: the trunk's
    /// allow-list and the SIP peer's address.
    pub allowed_sources: Vec<IpNet>,
}

/// Media operations a conversation needs.
pub trait MediaControl {
    /// Binds a new endpoint's ports now.
    fn add_endpoint(&mut self, spec: &EndpointSpec) -> Result<EndpointId, MediaError>;
    /// Our (advertised) address and ports of `ep`, per media line.
    fn local(&self, ep: EndpointId) -> Vec<LocalMedia>;
    /// `ep`'s RTP port on its first media line (what `/calls` shows).
    fn rtp_port(&self, ep: EndpointId) -> Option<u16> {
        self.local(ep).first().map(|m| m.rtp_port)
    }
    /// Where `ep`'s peer said it receives, per media line.
    fn set_remote(&mut self, ep: EndpointId, remote: &[RemoteMedia]);
    /// `ep`'s media is on hold (the inactivity timer pauses; a change counts as activity).
    fn set_hold(&mut self, ep: EndpointId, held: bool);
    /// `ep`'s peer negotiated DTLS-SRTP end to end: DTLS and STUN pass a bridge
    /// whose both endpoints allow it.
    fn set_dtls_passthrough(&mut self, ep: EndpointId, on: bool);
    /// The SDES-SRTP keys in force on `ep`'s media lines (`None`: plain
    /// RTP): the relay unprotects what `ep`'s peer sends and protects what
    /// goes to it. The keys move to the media plane; nothing logs them.
    /// Keys equal to the ones in force keep their contexts.
    fn set_srtp(&mut self, ep: EndpointId, keys: &[Option<SdesKeys>]);
    /// Joins two endpoints (each leaves any bridge it was in).
    fn bridge(&mut self, a: EndpointId, b: EndpointId);
    /// Takes `ep` out of its bridge: its media is received and counted only.
    fn unbridge(&mut self, ep: EndpointId);
    /// Puts `ep` in a conference (out of its bridge), changes its role or
    /// mute there, or (`None`) takes it out: its voice is mixed, and it
    /// hears everyone else in it.
    fn set_conference(&mut self, ep: EndpointId, member: Option<Membership>);
    /// A command to `ep`'s own media: its negotiated format, a playback, a
    /// stop, digits to send, a recording's pause, resume or stop. What
    /// follows comes back as `Input::Media`.
    fn media_op(&mut self, ep: EndpointId, op: EndpointOp);
    /// Records `ep` into a new file (written off the media path); its
    /// writer's reports come back as `Input::Media`.
    fn record(&mut self, ep: EndpointId, request: RecordRequest);
    /// Closes `ep`'s sockets and returns its ports.
    fn remove_endpoint(&mut self, ep: EndpointId);
    /// `ep`'s counters (summed over its lines) and call quality (its voice
    /// line's: loss, jitter, RTCP figures, MOS).
    fn media_stats(&self, ep: EndpointId) -> Option<LegMediaStats>;
    /// The last RTP/RTCP received on any endpoint, or the last hold change;
    /// `None` before any endpoint exists.
    fn last_activity(&self) -> Option<Instant>;
    /// Closes every endpoint.
    fn close(&mut self);
    /// [`close`](Self::close), when no media event is wanted any more
    /// (nothing is recording): the end of the session then wakes nobody.
    fn close_quietly(&mut self) {
        self.close();
    }
}

/// A media plane without sockets for unit tests of the signalling: fixed
/// ports per endpoint (40000 + 1000 per endpoint), and a record of what it
/// was told.
#[derive(Debug, Default)]
pub struct NoMedia {
    /// Endpoints: (lines, open).
    pub endpoints: Vec<(usize, bool)>,
    /// What `set_remote` was last told, per endpoint.
    pub remote: Vec<Vec<RemoteMedia>>,
    /// Hold per endpoint.
    pub held: Vec<bool>,
    /// DTLS pass-through per endpoint.
    pub dtls: Vec<bool>,
    /// SDES keys per endpoint and media line, as last set (endpoints up
    /// to the last one set).
    pub srtp: Vec<Vec<Option<SdesKeys>>>,
    /// How many times `set_srtp` was called per endpoint (likewise).
    pub srtp_sets: Vec<usize>,
    /// Current bridges.
    pub bridges: Vec<(EndpointId, EndpointId)>,
    /// Current conference members.
    pub conferences: Vec<(EndpointId, Membership)>,
    /// The activity the next `last_activity` reports (tests move it).
    pub activity: Option<Instant>,
    /// Fail the next `add_endpoint` (no ports).
    pub exhausted: bool,
    /// Every `media_op`, in order.
    pub ops: Vec<(EndpointId, EndpointOp)>,
    /// Every `record`, in order.
    pub records: Vec<(EndpointId, RecordRequest)>,
    /// What `media_stats` reports, per endpoint (tests set it; none beyond).
    pub stats: Vec<Option<LegMediaStats>>,
}

impl NoMedia {
    /// Whether `ep` is open.
    pub fn is_open(&self, ep: EndpointId) -> bool {
        self.endpoints.get(ep.0 as usize).is_some_and(|e| e.1)
    }

    /// How many endpoints are open.
    pub fn open_count(&self) -> usize {
        self.endpoints.iter().filter(|e| e.1).count()
    }

    /// `ep`'s conference membership, as last set.
    pub fn conference_of(&self, ep: EndpointId) -> Option<Membership> {
        self.conferences
            .iter()
            .find(|(e, _)| *e == ep)
            .map(|(_, m)| *m)
    }

    /// The endpoint bridged with `ep`.
    pub fn bridged_with(&self, ep: EndpointId) -> Option<EndpointId> {
        self.bridges.iter().find_map(|&(a, b)| {
            if a == ep {
                Some(b)
            } else if b == ep {
                Some(a)
            } else {
                None
            }
        })
    }
}

impl MediaControl for NoMedia {
    fn add_endpoint(&mut self, spec: &EndpointSpec) -> Result<EndpointId, MediaError> {
        if self.exhausted {
            return Err(MediaError::PortsExhausted {
                addr: std::net::Ipv4Addr::LOCALHOST.into(),
                port_min: 40_000,
                port_max: 40_999,
            });
        }
        let id = EndpointId(u32::try_from(self.endpoints.len()).unwrap_or(u32::MAX));
        self.endpoints.push((spec.lines, true));
        self.remote.push(Vec::new());
        self.held.push(false);
        self.dtls.push(false);
        Ok(id)
    }

    fn local(&self, ep: EndpointId) -> Vec<LocalMedia> {
        let Some(&(lines, true)) = self.endpoints.get(ep.0 as usize) else {
            return Vec::new();
        };
        let base = 40_000 + 1000 * u16::try_from(ep.0).unwrap_or(0);
        (0..lines)
            .map(|i| {
                let rtp = base + 2 * u16::try_from(i).unwrap_or(0);
                LocalMedia {
                    addr: std::net::Ipv4Addr::LOCALHOST.into(),
                    rtp_port: rtp,
                    rtcp_port: rtp + 1,
                }
            })
            .collect()
    }

    fn set_remote(&mut self, ep: EndpointId, remote: &[RemoteMedia]) {
        if let Some(r) = self.remote.get_mut(ep.0 as usize) {
            *r = remote.to_vec();
        }
    }

    fn set_hold(&mut self, ep: EndpointId, held: bool) {
        if let Some(h) = self.held.get_mut(ep.0 as usize) {
            *h = held;
        }
    }

    fn set_dtls_passthrough(&mut self, ep: EndpointId, on: bool) {
        if let Some(d) = self.dtls.get_mut(ep.0 as usize) {
            *d = on;
        }
    }

    fn set_srtp(&mut self, ep: EndpointId, keys: &[Option<SdesKeys>]) {
        // Grown here, not in add_endpoint: a plain call's allocations are
        // counted with NoMedia (conversation_allocations).
        let i = ep.0 as usize;
        if self.srtp.len() <= i {
            self.srtp.resize(i + 1, Vec::new());
            self.srtp_sets.resize(i + 1, 0);
        }
        self.srtp[i] = keys.to_vec();
        self.srtp_sets[i] += 1;
    }

    fn bridge(&mut self, a: EndpointId, b: EndpointId) {
        self.unbridge(a);
        self.unbridge(b);
        // As the relay does: a bridged endpoint is in no conference.
        self.conferences.retain(|(e, _)| *e != a && *e != b);
        self.bridges.push((a, b));
    }

    fn unbridge(&mut self, ep: EndpointId) {
        self.bridges.retain(|&(a, b)| a != ep && b != ep);
    }

    fn set_conference(&mut self, ep: EndpointId, member: Option<Membership>) {
        self.conferences.retain(|(e, _)| *e != ep);
        if let Some(m) = member {
            self.unbridge(ep);
            self.conferences.push((ep, m));
        }
    }

    fn media_op(&mut self, ep: EndpointId, op: EndpointOp) {
        self.ops.push((ep, op));
    }

    fn record(&mut self, ep: EndpointId, request: RecordRequest) {
        self.records.push((ep, request));
    }

    fn remove_endpoint(&mut self, ep: EndpointId) {
        self.unbridge(ep);
        self.conferences.retain(|(e, _)| *e != ep);
        if let Some(e) = self.endpoints.get_mut(ep.0 as usize) {
            e.1 = false;
        }
    }

    fn media_stats(&self, ep: EndpointId) -> Option<LegMediaStats> {
        self.stats.get(ep.0 as usize).copied().flatten()
    }

    fn last_activity(&self) -> Option<Instant> {
        self.activity
    }

    fn close(&mut self) {
        self.bridges.clear();
        self.conferences.clear();
        for e in &mut self.endpoints {
            e.1 = false;
        }
    }
}
