//! The media plane's errors (SDP has its own: [`SdpError`](crate::sdp::SdpError)).

use std::net::IpAddr;

use crate::latch::EndpointId;

/// Why a media session or port pair could not be set up.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    /// No region of that name is configured.
    #[error("no media region \"{region}\"")]
    UnknownRegion {
        /// The name asked for.
        region: String,
    },
    /// Every port pair of the range is in use or could not be bound.
    #[error("no free RTP/RTCP port pair on {addr} in {port_min}..={port_max}")]
    PortsExhausted {
        /// The region's address.
        addr: IpAddr,
        /// First RTP port of the range.
        port_min: u16,
        /// Last port of the range.
        port_max: u16,
    },
    /// More media lines asked for than a session relays.
    #[error("{lines} media lines asked for, at most {limit}")]
    TooManyLines {
        /// Lines asked for.
        lines: usize,
        /// The limit.
        limit: usize,
    },
    /// `open` was called outside a tokio runtime.
    #[error("media sessions need a tokio runtime")]
    NoRuntime,
    /// A bound socket could not be registered with the runtime's reactor.
    #[error("registering media socket {addr}:{port}: {kind}")]
    Register {
        /// Local address.
        addr: IpAddr,
        /// Local port.
        port: u16,
        /// What the OS said.
        kind: std::io::ErrorKind,
    },
    /// A caller's buffer cannot hold what was asked for.
    #[error("buffer of {available} too small, {needed} needed")]
    BufferTooSmall {
        /// Units (bytes or samples) needed.
        needed: usize,
        /// Units the buffer holds.
        available: usize,
    },
    /// An RFC 4733 payload shorter than one event block.
    #[error("telephone-event payload of {len} bytes, 4 needed")]
    TelephoneEventTooShort {
        /// The payload's length.
        len: usize,
    },
    /// More digits queued for sending than the generator holds.
    #[error("DTMF queue full ({capacity} digits)")]
    DtmfQueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// A SIP INFO DTMF body that says no digit.
    #[error("SIP INFO DTMF body: {problem}")]
    DtmfInfoBody {
        /// What is wrong with it.
        problem: crate::dtmf::InfoProblem,
    },
    /// The bridge's mixer already holds as many participants as it mixes.
    #[error("conference mixer full: at most {limit} participants")]
    MixerFull {
        /// The limit.
        limit: usize,
    },
    /// The endpoint already is a participant of this mixer.
    #[error("endpoint {endpoint:?} already in the mixer")]
    AlreadyMixed {
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// A leg's codec decodes at a rate the mixer does not mix at.
    #[error("codec decodes at {rate} Hz, the mixer mixes at {mixer_rate} Hz")]
    MixRate {
        /// The codec's PCM rate.
        rate: u32,
        /// The mixer's.
        mixer_rate: u32,
    },
    /// The endpoint is not a participant of this mixer.
    #[error("endpoint {endpoint:?} not in the mixer")]
    NotMixed {
        /// The endpoint.
        endpoint: EndpointId,
    },
}
