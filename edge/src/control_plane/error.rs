//! Why a command was refused: every refusal comes back as
//! [`Event::Error`](super::Event::Error) with one of these, and nothing
//! else changed.

use super::{ConferenceId, LegId, RecordingId};

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// No such leg in this conversation (never was, or ended).
    #[error("no leg {leg} in this conversation")]
    UnknownLeg {
        /// The leg named.
        leg: LegId,
    },
    /// The leg is not in a state that allows the command.
    #[error("leg {leg} is {state}; {wanted}")]
    LegState {
        /// The leg.
        leg: LegId,
        /// Its state (`ringing`, `answered`, `outbound`, ...).
        state: &'static str,
        /// What the command needs.
        wanted: &'static str,
    },
    /// A bridge of a leg with itself.
    #[error("leg {leg} cannot be bridged with itself")]
    SameLeg {
        /// The leg.
        leg: LegId,
    },
    /// A dial without destinations, or with too many.
    #[error("a dial needs 1 to {limit} destinations, not {count}")]
    Destinations {
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A ring timeout outside 1 s..=3600 s.
    #[error("ring timeout {ms} ms is outside 1000..=3600000 ms")]
    RingTimeout {
        /// The value given, in milliseconds.
        ms: u128,
    },
    /// A status code outside the range the command allows.
    #[error("status {status} is outside {allowed}")]
    Status {
        /// The value given.
        status: u16,
        /// The allowed range.
        allowed: &'static str,
    },
    /// No transfer request is pending on the leg.
    #[error("no transfer request is pending on leg {leg}")]
    NoTransfer {
        /// The leg.
        leg: LegId,
    },
    /// The two legs share no codec, and a re-INVITE could not make them.
    #[error("legs {a} and {b} share no codec")]
    NoCommonCodec {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// A leg has no media (no SDP was exchanged on it).
    #[error("leg {leg} has no media")]
    NoMedia {
        /// The leg.
        leg: LegId,
    },
    /// No media ports were left in the leg's region.
    #[error("no media ports left for leg {leg}")]
    NoPorts {
        /// The leg.
        leg: LegId,
    },
    /// No `[[prompt]]` has this name.
    #[error("no prompt is called {name:?}")]
    UnknownPrompt {
        /// The name given.
        name: String,
    },
    /// The tone profile has no tone of this name.
    #[error("no tone is called {name:?}; allowed: ringback, busy, beep, sit")]
    UnknownTone {
        /// The name given.
        name: String,
    },
    /// A sequence of no prompts, or of too many.
    #[error("a sequence needs 1 to {limit} prompts, not {count}")]
    Sequence {
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// No digits to send, or too many (or more than the leg's queue still holds).
    #[error("1 to {limit} digits can be sent at once, not {count}")]
    Digits {
        /// How many were given (or could not be queued).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A digit duration outside 40..=5000 ms.
    #[error("digit duration {ms} ms is outside 40..=5000 ms")]
    DigitDuration {
        /// The value given, in milliseconds.
        ms: u128,
    },
    /// The leg's codec is not one voxgate can play in (G.711 µ-law or A-law),
    /// or its media is encrypted end to end.
    #[error("leg {leg} has no codec voxgate can play in (PCMU or PCMA, plain RTP)")]
    NoCodec {
        /// The leg.
        leg: LegId,
    },
    /// No `[media] recordings_dir` is configured, or recording's kill switch is off:
    /// nothing is recorded.
    #[error("recording is off: no [media] recordings_dir is configured, or its kill switch is off")]
    RecordingOff,
    /// The leg is being recorded already (one recording per leg at a time).
    #[error("leg {leg} is being recorded already (recording {id})")]
    AlreadyRecording {
        /// The leg.
        leg: LegId,
        /// The recording in progress.
        id: RecordingId,
    },
    /// No recording in progress has this id (never was, or over).
    #[error("no recording {id} is in progress")]
    UnknownRecording {
        /// The id given.
        id: RecordingId,
    },
    /// A conference of no legs or of more than [`MAX_CONFERENCE`](super::MAX_CONFERENCE), or a
    /// join to a full one.
    #[error("a conference holds 1 to {limit} legs, not {count}")]
    ConferenceSize {
        /// How many legs it would hold.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// No such conference: never made, or its last leg left.
    #[error("no conference {conference} in this conversation")]
    UnknownConference {
        /// The conference named.
        conference: ConferenceId,
    },
    /// The leg is in no conference.
    #[error("leg {leg} is in no conference")]
    NotInConference {
        /// The leg.
        leg: LegId,
    },
}
