//! The media plane's errors (SDP has its own: [`SdpError`](crate::sdp::SdpError)).

use std::net::IpAddr;
use std::path::PathBuf;

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
