//! The media plane's errors (SDP has its own: [`SdpError`](crate::sdp::SdpError)).

use std::net::IpAddr;

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
    /// An RTCP packet that could not be parsed (RFC 3550 §6).
    #[error("RTCP packet type {packet_type} at offset {offset}: {fault:?}")]
    RtcpInvalid {
        /// Where the packet starts in the compound packet.
        offset: usize,
        /// Its packet type (0 when the header itself was cut short).
        packet_type: u8,
        /// What is wrong with it.
        fault: RtcpFault,
    },
    /// A packet to print does not fit the caller's buffer.
    #[error("buffer too small: {needed} octets needed, {available} available")]
    BufferTooSmall {
        /// Octets needed so far.
        needed: usize,
        /// The buffer's length.
        available: usize,
    },
    /// More report blocks (or BYE sources) than one RTCP packet counts.
    #[error("{blocks} report blocks, at most {limit} in one packet")]
    TooManyReportBlocks {
        /// Blocks asked for.
        blocks: usize,
        /// The limit (31, a 5-bit count).
        limit: usize,
    },
    /// An SDES item or BYE reason longer than its 8-bit length allows.
    #[error("RTCP text of {len} octets, at most 255")]
    SdesItemTooLong {
        /// Its length.
        len: usize,
    },
}

/// What is wrong with an RTCP packet.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpFault {
    /// The packet runs past the end of the datagram.
    Truncated,
    /// Not RTP version 2.
    Version,
    /// The padding count is zero or longer than the packet.
    Padding,
    /// The length does not match what the count announces.
    Length,
    /// An SDES chunk's items or null padding are malformed.
    SdesItem,
    /// A BYE reason runs past the packet or is not padded to a word.
    ByeReason,
}
