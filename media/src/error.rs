//! The media plane's errors (SDP has its own: [`SdpError`](crate::sdp::SdpError)).

use std::net::IpAddr;

use crate::rtp::Ssrc;
use crate::srtp::{CryptoAttributeFault, CryptoSuite};

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
    /// The OS's secure random source failed (no key generated).
    #[error("secure random source unavailable (OS error {code})")]
    RandomUnavailable {
        /// The OS error number, 0 if none.
        code: i32,
    },
    /// Key and salt of the wrong length for the suite.
    #[error("{suite:?} takes {expected} octets of key and salt, got {got}")]
    SrtpKeyLength {
        /// The suite.
        suite: CryptoSuite,
        /// Its key + salt length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Not an RTP packet SRTP can process: too short, not version 2, or its
    /// CSRCs/extension run past the end (past the tag, when unprotecting).
    #[error("not an RTP packet ({len} octets)")]
    SrtpNotRtp {
        /// The packet's length.
        len: usize,
    },
    /// Not an RTCP packet SRTCP can process: too short or not version 2.
    #[error("not an RTCP packet ({len} octets)")]
    SrtpNotRtcp {
        /// The packet's length.
        len: usize,
    },
    /// The buffer has no room for the tag (or is shorter than the length given).
    #[error("SRTP needs a {needed}-octet buffer, got {capacity}")]
    SrtpBufferTooSmall {
        /// Octets needed.
        needed: usize,
        /// The buffer's length.
        capacity: usize,
    },
    /// The authentication tag does not verify: forged, corrupted, or another key.
    #[error("SRTP authentication failed for SSRC {ssrc:?}")]
    SrtpAuthentication {
        /// The packet's SSRC.
        ssrc: Ssrc,
    },
    /// A packet index seen before (RFC 3711 §3.3.2).
    #[error("SRTP replay: SSRC {ssrc:?} index {index}")]
    SrtpReplayed {
        /// The packet's SSRC.
        ssrc: Ssrc,
        /// Its packet index (SRTP) or SRTCP index.
        index: u64,
    },
    /// A packet index behind the replay window.
    #[error("SRTP packet too old: SSRC {ssrc:?} index {index}")]
    SrtpTooOld {
        /// The packet's SSRC.
        ssrc: Ssrc,
        /// Its packet index (SRTP) or SRTCP index.
        index: u64,
    },
    /// No packet index fits the sequence number (before the first packet's
    /// roll-over period, or past ROC 2^32-1).
    #[error("SRTP index unknown: SSRC {ssrc:?} sequence {seq}")]
    SrtpIndexUnknown {
        /// The packet's SSRC.
        ssrc: Ssrc,
        /// Its sequence number.
        seq: u16,
    },
    /// A new SSRC when the context already holds state for its maximum.
    #[error("SRTP context full: SSRC {ssrc:?} would be number {} of {limit}", limit + 1)]
    SrtpTooManySsrcs {
        /// The new SSRC.
        ssrc: Ssrc,
        /// SSRCs per context.
        limit: usize,
    },
    /// A packet's MKI is not the one of our key (RFC 3711 §3.3 step 1).
    #[error("SRTP packet from SSRC {ssrc:?} with an unknown MKI")]
    SrtpMkiUnknown {
        /// The packet's SSRC.
        ssrc: Ssrc,
    },
    /// An MKI longer than we carry, or a value that does not fit its length.
    #[error("SRTP MKI of {length} octets not supported")]
    SrtpMkiUnsupported {
        /// The MKI length asked for.
        length: u8,
    },
    /// The master key's lifetime is used up (RFC 3711 §9.2): rekey.
    #[error("SRTP master key exhausted after {packets} packets")]
    SrtpKeyExhausted {
        /// Packets processed under it.
        packets: u64,
    },
    /// An SRTCP packet with the E flag clear: we never negotiate unencrypted SRTCP.
    #[error("unencrypted SRTCP from SSRC {ssrc:?} refused")]
    SrtcpUnencrypted {
        /// The packet's SSRC.
        ssrc: Ssrc,
    },
    /// An `a=crypto` value that does not parse (RFC 4568 §9.1).
    #[error("a=crypto: {fault:?}")]
    CryptoAttribute {
        /// What is wrong.
        fault: CryptoAttributeFault,
    },
    /// No offered `a=crypto` line is one we accept (answer 488 if SRTP is required).
    #[error("no acceptable a=crypto line")]
    NoAcceptableCrypto,
    /// The answer's `a=crypto` tag or suite is not one we offered (RFC 4568 §7.1.3).
    #[error("a=crypto answer with tag {tag} matches no offered line")]
    CryptoAnswerMismatch {
        /// The answered tag.
        tag: u32,
    },
}
