//! voxgate-media: the media plane of voxgate.
//!
//! What it is: SDP (RFC 4566) parsing and printing that keeps every line;
//! anchoring per RFC 3264 offer/answer (`c=`/`m=` rewritten to voxgate's
//! ports, our own `o=`); offer/answer where voxgate is the endpoint
//! ([`negotiate`]); per-region, per-family RTP/RTCP port pools allocated at
//! random; and per conversation a relay of **endpoints** (one per leg: its
//! ports, latching, counters) and the **bridges** between them: RTP and RTCP
//! relayed with symmetric latching hardened against hijack (only the
//! signalled address or allowed networks latch), rtcp-mux, DTLS and STUN
//! passed end to end when both ends negotiated DTLS-SRTP (RFC 7983), per-leg
//! counters (packets, bytes, sequence gaps) and the last activity for the
//! inactivity timer.
//!
//! The parts that decide are sans-IO ([`sdp`], [`anchor`], [`latch`],
//! [`counters`], [`rtp`]); tokio appears only in [`relay`] and sockets only in
//! [`ports`] and [`relay`]. The per-packet path allocates nothing.
//!
//! What it is not (yet): SRTP or DTLS termination (SRTP and `a=crypto` pass
//! through end to end), DTMF detection (RFC 4733 events are relayed like any
//! payload), prompt/tone playback, conference mixing, transcoding and ICE —
//! later issues; they hang on an endpoint in [`latch::SessionRelay`].
//!
//! ```
//! use voxgate_media::anchor::{LocalMedia, OriginState, remote_targets, rewrite};
//! use voxgate_media::sdp::SessionDescription;
//!
//! let offer = SessionDescription::parse(
//!     b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
//!       m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
//! )
//! .unwrap();
//! // Where the caller wants its media (until latching learns the real source).
//! let targets = remote_targets(&offer);
//! assert_eq!(targets[0].rtp, Some("10.0.0.5:4000".parse().unwrap()));
//! assert_eq!(targets[0].rtcp, Some("10.0.0.5:4001".parse().unwrap()));
//!
//! // The offer as the callee sees it: voxgate's address and ports, codecs unchanged.
//! let ours = [LocalMedia { addr: "203.0.113.1".parse().unwrap(), rtp_port: 20000, rtcp_port: 20001 }];
//! let mut origin = OriginState::new();
//! let out = rewrite(&offer, &ours, &mut origin);
//! assert_eq!(out.connection(), Some("203.0.113.1".parse().unwrap()));
//! assert_eq!(out.media()[0].port(), 20000);
//! assert_eq!(out.media()[0].formats(), ["8", "101"]);
//! assert_eq!(out.origin().username, "voxgate");
//! assert!(!String::from_utf8(out.to_bytes()).unwrap().contains("10.0.0.5"));
//! ```
//!
//! A session of endpoints and bridges (needs a tokio runtime) — see [`relay::MediaEngine`]:
//!
//! ```no_run
//! # async fn call() -> Result<(), voxgate_media::MediaError> {
//! use voxgate_media::{EndpointSpec, EngineOptions, MediaEngine, RegionAddress, RegionSpec};
//!
//! let engine = MediaEngine::new(
//!     &[RegionSpec {
//!         name: "eu".to_owned(),
//!         addresses: vec![RegionAddress { bind: "10.0.0.10".parse().unwrap(), advertise: Some("203.0.113.1".parse().unwrap()) }],
//!         port_min: 20000,
//!         port_max: 29999,
//!     }],
//!     EngineOptions::default(),
//! );
//! let session = engine.session()?;
//! let spec = |peer: &str| EndpointSpec {
//!     region: "eu",
//!     lines: 1,
//!     peer: Some(peer.parse().unwrap()),
//!     allowed_sources: vec!["198.51.100.0/24".parse().unwrap()], // the trunk
//! };
//! let caller = session.add_endpoint(spec("198.51.100.7"))?;
//! let agent = session.add_endpoint(spec("198.51.100.9"))?;
//! let for_caller = session.local(caller); // 203.0.113.1 and its ports, for the SDP
//! # let _ = for_caller;
//! session.bridge(caller, agent); // media relayed between the two
//! session.unbridge(agent);       // the agent's media terminated here
//! session.remove_endpoint(agent); // ports back
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod anchor;
pub mod codec;
pub mod counters;
pub mod dtmf;
mod error;
pub mod frame;
pub mod latch;
pub mod mixer;
pub mod negotiate;
pub mod play;
pub mod ports;
pub mod quality;
pub mod record;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod srtp;

pub use anchor::{LocalMedia, OriginState, RemoteMedia, remote_targets, rewrite};
pub use error::{MediaError, RtcpFault};
pub use latch::{EndpointId, SocketKind};
pub use ports::{PortPair, PortPool};
pub use relay::{
    EndpointSpec, EndpointStats, EngineOptions, LegStats, MediaEngine, MediaSession, RegionAddress,
    RegionSpec, RegionStats,
};
pub use sdp::{Direction, MediaDescription, Origin, SdpError, SessionDescription};
