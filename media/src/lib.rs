//! voxgate-media: the media plane of voxgate.
//!
//! What it is: SDP (RFC 4566) parsing and printing that keeps every line;
//! anchoring per RFC 3264 offer/answer (`c=`/`m=` rewritten to voxgate's
//! ports, our own `o=`); per-region RTP/RTCP port pools; and a relay of RTP and
//! RTCP between the two legs of a call with symmetric latching (NATed peers
//! work), rtcp-mux, per-leg counters (packets, bytes, sequence gaps) and a
//! media inactivity timeout that pauses while a leg holds.
//!
//! The parts that decide are sans-IO ([`sdp`], [`anchor`], [`latch`],
//! [`counters`], [`rtp`]); tokio appears only in [`relay`] and sockets only in
//! [`ports`] and [`relay`]. The per-packet path allocates nothing.
//!
//! What it is not (yet): SRTP termination (SRTP and `a=crypto` pass through end
//! to end), DTMF detection (RFC 4733 events are relayed like any payload),
//! prompt/tone playback, conference mixing, transcoding and ICE — later issues.
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
//! A relay (needs a tokio runtime) — see [`relay::MediaEngine`]:
//!
//! ```no_run
//! # async fn call() -> Result<(), voxgate_media::MediaError> {
//! use std::time::Duration;
//! use voxgate_media::{EngineOptions, MediaEngine, Side};
//!
//! let engine = MediaEngine::new(
//!     &[("eu".to_owned(), "203.0.113.1".parse().unwrap(), 20000, 29999)],
//!     EngineOptions::default(),
//! );
//! let session = engine.open("eu", "eu", 1)?;
//! let for_caller = session.local(Side::A); // rewrite the answer with this
//! # let _ = for_caller;
//! session.inactive(Duration::from_secs(60)).await; // the call ends: no media
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod anchor;
pub mod counters;
mod error;
pub mod latch;
pub mod negotiate;
pub mod ports;
pub mod relay;
pub mod rtp;
pub mod sdp;

pub use anchor::{LocalMedia, OriginState, RemoteMedia, remote_targets, rewrite};
pub use error::MediaError;
pub use latch::Side;
pub use ports::{PortPair, PortPool};
pub use relay::{EngineOptions, LegStats, MediaEngine, MediaSession, RegionStats, SessionStats};
pub use sdp::{Direction, MediaDescription, Origin, SdpError, SessionDescription};
