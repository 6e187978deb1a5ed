//! Live conversations, for `GET /calls` and the API. Conversation tasks
//! update it on visible changes (a few times per call, never per packet), the
//! admin listener and the API read it, operators hang conversations up
//! through it.

use crate::control_plane::{Command, ConversationId, ConversationInfo};
use crate::conversation::record::WallClock;
use crate::conversation::task::Operator;
use crate::handle::{ConversationSummary, MediaFigures};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;
use voxgate_media::LiveStats;

impl ConversationSummary {
    /// A new conversation's summary.
    pub fn new(info: &ConversationInfo, redact: bool, clock: &WallClock) -> ConversationSummary {
        let number = |n: &Option<String>| {
            n.as_ref().map(|n| {
                if redact {
                    voxgate_config::redact_number(n)
                } else {
                    n.clone()
                }
            })
        };
        let inbound = info.inbound.as_ref();
        ConversationSummary {
            id: info.id.to_string(),
            trunk: inbound.map(|i| i.trunk.to_string()),
            region: inbound.map(|i| i.region.clone()).unwrap_or_default(),
            from: inbound.and_then(|i| number(&i.from.user)),
            to: inbound.and_then(|i| number(&i.request_user)),
            state: "routing",
            started: clock.rfc3339(Instant::now()),
            answered: None,
            legs: Vec::new(),
        }
    }
}

struct Entry {
    summary: ConversationSummary,
    operator: Operator,
    /// The live legs' media counters, read when the conversation is listed.
    live: Vec<(u32, LiveStats)>,
}

impl Entry {
    /// The summary with each live leg's media figures as they are now.
    fn summary(&self) -> ConversationSummary {
        let mut s = self.summary.clone();
        for (leg, stats) in &self.live {
            if let Some(l) = s.legs.iter_mut().find(|l| l.id == *leg) {
                l.media = Some(MediaFigures::from(&stats.snapshot().media()));
            }
        }
        s
    }
}

/// The live conversations.
#[derive(Default)]
pub struct Registry {
    conversations: Mutex<BTreeMap<ConversationId, Entry>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .finish()
    }
}

impl Registry {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<ConversationId, Entry>) -> R) -> R {
        // A panic while holding the lock leaves a consistent map: keep going.
        let mut map = self
            .conversations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }

    /// Adds a conversation.
    pub fn insert(&self, id: ConversationId, summary: ConversationSummary, operator: Operator) {
        self.with(|c| {
            c.insert(
                id,
                Entry {
                    summary,
                    operator,
                    live: Vec::new(),
                },
            )
        });
    }

    /// Updates a conversation's summary.
    pub fn update(&self, id: ConversationId, f: impl FnOnce(&mut ConversationSummary)) {
        self.with(|c| {
            if let Some(e) = c.get_mut(&id) {
                f(&mut e.summary);
            }
        });
    }

    /// Sets where a conversation's live legs' media counters are read
    /// (leg id and its endpoint's), as of its last visible change.
    pub fn set_live(&self, id: ConversationId, live: Vec<(u32, LiveStats)>) {
        self.with(|c| {
            if let Some(e) = c.get_mut(&id) {
                e.live = live;
            }
        });
    }

    /// Removes an ended conversation.
    pub fn remove(&self, id: ConversationId) {
        self.with(|c| c.remove(&id));
    }

    /// Every live conversation, oldest first.
    pub fn list(&self) -> Vec<ConversationSummary> {
        self.with(|c| c.values().map(Entry::summary).collect())
    }

    /// One live conversation.
    pub fn get(&self, id: ConversationId) -> Option<ConversationSummary> {
        self.with(|c| c.get(&id).map(Entry::summary))
    }

    /// Hangs up every leg of a conversation; false when there is none.
    pub fn hangup(&self, id: ConversationId) -> bool {
        let operator = self.with(|c| c.get(&id).map(|e| e.operator.clone()));
        operator.is_some_and(|o| {
            o.command(Command::Hangup {
                leg: None,
                status: None,
            })
        })
    }

    /// Whether a live conversation has a leg on `trunk` (inbound or outbound). A scan
    /// under the lock: only asked for packets that an allow-list refused.
    pub fn has_trunk(&self, trunk: &str) -> bool {
        self.with(|c| {
            c.values().any(|e| {
                e.summary.trunk.as_deref() == Some(trunk)
                    || e.summary
                        .legs
                        .iter()
                        .any(|l| l.trunk.as_deref() == Some(trunk))
            })
        })
    }

    /// How many conversations are live.
    pub fn len(&self) -> usize {
        self.with(|c| c.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::conversation::task::input_channel;
    use crate::handle::LegSummary;
    use std::time::Duration;
    use voxgate_media::anchor::RemoteMedia;
    use voxgate_media::{
        Direction, EndpointSpec, EngineOptions, MediaEngine, RegionAddress, RegionSpec,
    };

    fn leg(id: u32) -> LegSummary {
        LegSummary {
            id,
            direction: "inbound",
            state: "answered",
            trunk: None,
            bridged_with: None,
            conference: None,
            held: false,
            rtp_port: None,
            media: None,
        }
    }

    /// `/calls` reads a live leg's figures when it is listed, not when the
    /// conversation last changed.
    #[tokio::test]
    async fn a_listing_shows_the_live_legs_media_as_it_is_now() {
        let engine = MediaEngine::new(
            &[RegionSpec {
                name: "r1".to_owned(),
                addresses: vec![RegionAddress {
                    bind: "127.0.0.1".parse().unwrap(),
                    advertise: None,
                }],
                port_min: 26_900,
                port_max: 26_999,
            }],
            EngineOptions::default(),
        );
        let session = engine.session().unwrap();
        let ep = session
            .add_endpoint(EndpointSpec {
                region: "r1",
                lines: 1,
                peer: Some("127.0.0.1".parse().unwrap()),
                allowed_sources: Vec::new(),
            })
            .unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        session.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(peer.local_addr().unwrap()),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        let to = session.local(ep)[0];

        let registry = Registry::default();
        let id = ConversationId(9);
        let summary = ConversationSummary {
            id: "c9".to_owned(),
            trunk: None,
            region: "r1".to_owned(),
            from: None,
            to: None,
            state: "answered",
            started: String::new(),
            answered: None,
            legs: vec![leg(1), leg(2)],
        };
        registry.insert(id, summary, input_channel().0.operator());
        registry.set_live(id, vec![(1, session.live_stats(ep).unwrap())]);
        let media = |r: &Registry| r.get(id).unwrap().legs[0].media.unwrap();
        assert_eq!(media(&registry).rtp_packets, 0);

        // The peer sends 20 packets, 5 and 6 lost on the way.
        for seq in (0..22u16).filter(|s| *s != 5 && *s != 6) {
            let mut p = [0xd5u8; 172];
            p[..12].copy_from_slice(&[0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            peer.send_to(&p, (to.addr, to.rtp_port)).await.unwrap();
        }
        for _ in 0..200 {
            if media(&registry).rtp_packets == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let m = media(&registry);
        assert_eq!((m.rtp_packets, m.lost), (20, 2));
        assert!((m.loss - 2.0 / 21.0).abs() < 1e-4, "{}", m.loss);
        assert!(m.mos.is_some());
        // The listing is the same through `list`; a leg with no endpoint has none.
        let listed = registry.list();
        assert_eq!(listed[0].legs[0].media, Some(m));
        assert_eq!(listed[0].legs[1].media, None);
    }
}
