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
//! counters (packets, bytes, drops), call quality ([`quality`]: loss, jitter,
//! RTCP, MOS) and the last activity for the inactivity timer; and [`srtp`]: SRTP and SRTCP (RFC 3711, RFC 7714) with
//! SDES keys (RFC 4568, `AES_CM_128_HMAC_SHA1_80`/`_32`, `AEAD_AES_128_GCM`)
//! terminated per endpoint line in the relay, in place in its receive buffer,
//! and per leg on SDP ([`srtp::SdesLeg`]: a trunk's policy, keys generated
//! per leg, never one leg's key in another's SDP).
//!
//! The parts that decide are sans-IO ([`sdp`], [`anchor`], [`latch`],
//! [`counters`], [`rtp`], and every media-processing module below); tokio
//! appears only in [`relay`] and sockets only in [`ports`] and [`relay`]. The
//! per-packet path allocates nothing; the per-frame and per-packet paths of
//! the modules below each have a test that counts their allocations (zero).
//!
//! # An endpoint's own media (wired into calls)
//!
//! [`endpoint`]: what voxgate hears and says on a leg. Each endpoint of a
//! [`latch::SessionRelay`] holds the leg's negotiated
//! [`MediaFormat`], an RFC 4733 detector (or an
//! in-band one), an RFC 4733 generator, a [`Player`](play::Player), the
//! leg's one outgoing RTP stream and, while it is recorded, a
//! [`Recorder`](record::Recorder); the core is an engine in the quinn manner
//! (`handle_op`, `poll_timeout`/`handle_timeout`, `poll_transmit` into the
//! caller's buffer, `poll_event`, `poll_record` for recorded frames, and
//! `egress` for relayed packets), and the [`relay`] task is its clock and
//! sockets, and hands recorded frames to a writer thread per recording. The
//! conversation drives it through [`MediaSession::media_op`] and
//! [`MediaSession::record`] and reads its events from
//! [`MediaSession::take_events`].
//!
//! Conferences ([`MediaSession::set_conference`], `latch/conference.rs`): an
//! endpoint in a conference has its peer's voice pushed into that
//! conference's [`mixer`] instead of relayed, and the mix for it (everyone
//! heard but itself) goes out through its own outgoing stream, paced by the
//! conference's own 20 ms clock in the same engine (`poll_timeout`,
//! `poll_transmit`).
//!
//! # Media processing modules
//!
//! The modules below are finished state machines and wire types, with their
//! tests (the parsers also with fuzz targets, the per-packet paths with
//! criterion benches) and a wiring sketch in each module's docs. [`dtmf`],
//! [`play`], [`record`], [`frame`], [`rtp::OutgoingStream`] and G.711 from
//! [`codec`] are used by [`endpoint`], [`mixer`] by the session's
//! conferences, [`quality`] by [`latch`]; the rest are not called from a
//! call yet.
//!
//! [`codec`]: the [`Codec`](codec::Codec) trait (payload ⇄ 16-bit PCM into
//! caller buffers), [`CodecKind`](codec::CodecKind) (rtpmap name, clock,
//! static payload type), G.711 µ-law/A-law per G.711/G.191 with const tables,
//! in-place µ-law ⇄ A-law conversion, and a G.711 ptime
//! [repacketiser](codec::repacketize) (10/20/30/60 ms). G.711 encodes what
//! [`endpoint`] plays and decodes what it detects in-band, and the relay
//! transcodes µ-law ⇄ A-law in place between bridged legs that negotiated
//! different laws ([`codec::Transcoder`]; each trunk's codec list is applied
//! to linked calls' offers and answers by [`negotiate::policy`]), and cuts
//! a bridged partner's G.711 frames into the ptime a leg's peer asked for
//! with the repacketiser.
//!
//! [`frame`]: the 20 ms frame clock (`start + n × 20 ms`, at most three
//! frames back to back after a late wake-up) that the player, the recorder
//! and the mixer share. [`rtp::OutgoingStream`] is the other shared piece:
//! one leg's outgoing SSRC, sequence numbers and timestamps, whichever source
//! (player, mixer, DTMF generator, relay) speaks.
//!
//! [`dtmf`]: RFC 4733 telephone-events (a per-leg detector, a generator, the
//! payload type rewritten between legs), in-band digits on decoded PCM
//! (Goertzel) and SIP INFO bodies (`application/dtmf-relay`,
//! `application/dtmf`), all giving one [`Digit`](dtmf::Digit). Wired through
//! [`endpoint`] (INFO bodies by the conversation).
//!
//! [`play`]: WAV prompts (PCM16, µ-law, A-law, extensible; parsed once and
//! cached), tones from config and E.180 country profiles, and a sans-IO
//! [`Player`](play::Player) of prompts, sequences, tones and music on hold
//! that yields 20 ms PCM frames. Wired through [`endpoint`].
//!
//! [`record`]: a sans-IO [`Recorder`](record::Recorder) that aligns both
//! directions of a bridge (stereo), or one stream (mono: a leg, a
//! conference's mix), into 20 ms frames, and a
//! [`WavWriter`](record::WavWriter) for a writer thread (PCM16 WAV, header
//! sizes rewritten every second, disk errors as values). Wired through
//! [`endpoint`] (a leg, mono or both directions) and [`relay`] (the writer
//! threads); a conference's mix is not recorded yet.
//!
//! [`mixer`]: the conference mixer of one bridge: a per-participant jitter
//! buffer, sum minus own contribution, mute, monitor and whisper roles,
//! join and leave, up to [`MAX_PARTICIPANTS`](mixer::MAX_PARTICIPANTS) legs
//! of 8 kHz codecs. Wired into calls as conferences (above); a two-leg
//! bridge stays the relay.
//!
//! [`quality`]: RFC 3550 receive statistics (loss, jitter, reordering,
//! duplicates), RTCP SR/RR/SDES/BYE parsed as borrowed views and printed
//! into caller buffers, report scheduling, and a simplified E-model MOS in a
//! per-leg [`LegQuality`](quality::LegQuality) summary. Wired: every
//! endpoint line measures what its peer sends and reads its peer's RTCP
//! (the far end's view, the round-trip time), voxgate sends SR/RR on the
//! legs it terminates ([`latch`]'s engine), and [`EndpointStats::quality`]
//! gives the CDR and `/calls` their figures.
//!

//! What it is not (yet): DTLS termination, transcoding beyond G.711 µ-law ⇄
//! A-law (a conference decodes and encodes per leg), ICE — later issues;
//! they hang on an endpoint in
//! [`latch::SessionRelay`] as [`endpoint`] does.
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

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod anchor;
pub mod codec;
pub mod counters;
pub mod dtmf;
pub mod endpoint;
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
pub use endpoint::{EndpointOp, MediaEvent, MediaFormat};
pub use error::{MediaError, RtcpFault};
pub use latch::{ConferenceId, EndpointId, Membership, SocketKind};
pub use ports::{PortPair, PortPool};
pub use relay::{
    EndpointSpec, EndpointStats, EngineOptions, LegMediaStats, LegStats, LiveStats,
    MEDIA_EVENT_QUEUE, MediaEngine, MediaEventReceiver, MediaSession, MixerStats, RecordRequest,
    RecordingStats, RegionAddress, RegionSpec, RegionStats,
};
pub use sdp::{Direction, MediaDescription, Origin, SdpError, SessionDescription};
