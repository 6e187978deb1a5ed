//! The media plane's errors (SDP has its own: [`SdpError`](crate::sdp::SdpError)).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::latch::EndpointId;
use crate::rtp::Ssrc;
use crate::srtp::{CryptoAttributeFault, CryptoSuite, SrtpRefusal};

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

    /// A prompt file is not a RIFF/WAVE file.
    #[error("not a WAV file (no RIFF/WAVE header)")]
    WavNotRiff,
    /// A WAV file lacks a chunk it needs.
    #[error("WAV file has no \"{chunk}\" chunk")]
    WavMissingChunk {
        /// The chunk's four-character id.
        chunk: &'static str,
    },
    /// A WAV chunk (or its fields) runs past the end of the file.
    #[error(
        "WAV file truncated: \"{chunk}\" chunk declares {declared} bytes, {needed} there or needed"
    )]
    WavTruncated {
        /// The chunk's four-character id (`other` for unknown chunks).
        chunk: &'static str,
        /// The length the chunk declares.
        declared: u64,
        /// For `data` and skipped chunks, the bytes present; for `fmt `, the bytes needed.
        needed: u64,
    },
    /// A WAV format code other than PCM (1), A-law (6), µ-law (7) or
    /// extensible (0xFFFE) with one of those.
    #[error(
        "unsupported WAV format code {code:#06x} (PCM 1, A-law 6, µ-law 7, or extensible with those)"
    )]
    WavFormat {
        /// The format tag (the subformat's, for an extensible file).
        code: u16,
    },
    /// Bits per sample that do not fit the format code.
    #[error("WAV format {code} with {bits} bits per sample, {expected} expected")]
    WavBits {
        /// The format tag.
        code: u16,
        /// Bits per sample in the file.
        bits: u16,
        /// What the format needs.
        expected: u16,
    },
    /// A WAV sample rate other than 8000 Hz.
    #[error("WAV sample rate {rate} Hz, 8000 Hz needed")]
    WavRate {
        /// The file's rate.
        rate: u32,
    },
    /// A WAV file with a channel count voxgate does not take (prompts are mono).
    #[error("WAV file has {channels} channels, mono needed")]
    WavChannels {
        /// The file's channel count.
        channels: u16,
    },
    /// A prompt file larger than voxgate loads.
    #[error("prompt file of {bytes} bytes, at most {limit}")]
    WavTooLarge {
        /// The file's size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A prompt file could not be read.
    #[error("reading {path}: {kind}")]
    PromptRead {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: std::io::ErrorKind,
    },
    /// A tone with no or more than four frequencies in one segment.
    #[error("tone segment with {count} frequencies, 1 to 4 allowed")]
    ToneFrequencyCount {
        /// Frequencies given.
        count: usize,
    },
    /// A tone frequency outside what 8 kHz sampling carries.
    #[error("tone frequency {} Hz outside 1..3999 Hz", *.tenths_hz as f64 / 10.0)]
    ToneFrequency {
        /// The frequency in tenths of a hertz (rounded; saturated for NaN or huge values).
        tenths_hz: i64,
    },
    /// A tone level outside the range voxgate plays.
    #[error("tone level {} dBm0 outside -60..=3 dBm0", *.tenths_dbm0 as f64 / 10.0)]
    ToneLevel {
        /// The level in tenths of a dBm0 (rounded; saturated for NaN or huge values).
        tenths_dbm0: i64,
    },
    /// A tone cadence with no segments or a zero-length cycle.
    #[error("tone cadence is empty or lasts 0 ms")]
    ToneCadence,
    /// A tone profile asked for a country voxgate has no values for.
    #[error("no tone profile for country \"{country}\" (us, uk, de, fr)")]
    UnknownToneCountry {
        /// The name asked for.
        country: String,
    },
    /// A recording file could not be created or written (disk full,
    /// unwritable folder): the caller reports it as an event and a metric.
    #[error("recording {path}: {kind}")]
    RecordIo {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        kind: std::io::ErrorKind,
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
    /// A leg's SRTP policy refuses an offer or answer on a media line
    /// (answer the offer 488).
    #[error("media line {line}: {}", refusal.text())]
    SrtpRefused {
        /// The media line (0-based).
        line: usize,
        /// Why.
        refusal: SrtpRefusal,
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
