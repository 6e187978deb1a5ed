//! The recording half of the contract: `Record` a leg to a WAV file, pause,
//! resume and stop it by its id; `RecordingStarted` once the file exists,
//! `RecordingDone` once it is complete (or failed). See
//! [`Command::Record`](super::Command::Record).

use std::fmt;

/// A recording of a conversation: its `Record` commands are numbered from 1
/// in the order the conversation receives them (refused ones too), as
/// `Play` commands are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(pub u32);

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a recording of a leg holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordLayout {
    /// One channel: what the leg's peer sends.
    Mono,
    /// Both directions: channel 0 what the leg's peer sends, channel 1 what
    /// is sent to the leg (its bridge partner's audio, or voxgate's own
    /// prompts and tones).
    Stereo,
}

impl RecordLayout {
    /// Its name in JSON: `mono`, `stereo`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordLayout::Mono => "mono",
            RecordLayout::Stereo => "stereo",
        }
    }
}

/// Why a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordingEnd {
    /// `StopRecording`.
    Stopped,
    /// Its leg (or the conversation) ended first.
    LegEnded,
    /// Its file could not be created or written: the recording is over, the
    /// call goes on.
    Failed(RecordingFailure),
}

impl RecordingEnd {
    /// Its name in JSON and metrics: `stopped`, `leg_ended`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingEnd::Stopped => "stopped",
            RecordingEnd::LegEnded => "leg_ended",
            RecordingEnd::Failed(_) => "failed",
        }
    }

    /// Why a failed recording failed.
    pub fn failure(self) -> Option<RecordingFailure> {
        match self {
            RecordingEnd::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a recording's file failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordingFailure {
    /// No space left (or a quota, or the file reached the WAV size limit).
    DiskFull,
    /// The file could not be created in the folder: permission denied,
    /// read-only, the folder gone, a file of that name already there.
    Unwritable,
    /// Another I/O error (or the writer thread could not be started).
    Io,
}

impl RecordingFailure {
    /// Its name in JSON and metrics: `disk_full`, `unwritable`, `io`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingFailure::DiskFull => "disk_full",
            RecordingFailure::Unwritable => "unwritable",
            RecordingFailure::Io => "io",
        }
    }

    /// What an OS error means for a recording.
    pub fn from_io(kind: std::io::ErrorKind) -> RecordingFailure {
        use std::io::ErrorKind as K;
        match kind {
            K::StorageFull | K::QuotaExceeded | K::FileTooLarge => RecordingFailure::DiskFull,
            K::PermissionDenied
            | K::ReadOnlyFilesystem
            | K::NotFound
            | K::NotADirectory
            | K::AlreadyExists => RecordingFailure::Unwritable,
            _ => RecordingFailure::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn os_errors_map_to_what_an_operator_acts_on() {
        for (kind, want) in [
            (ErrorKind::StorageFull, "disk_full"),
            (ErrorKind::QuotaExceeded, "disk_full"),
            (ErrorKind::PermissionDenied, "unwritable"),
            (ErrorKind::ReadOnlyFilesystem, "unwritable"),
            (ErrorKind::NotFound, "unwritable"),
            (ErrorKind::Interrupted, "io"),
        ] {
            assert_eq!(RecordingFailure::from_io(kind).as_str(), want, "{kind:?}");
        }
        let failed = RecordingEnd::Failed(RecordingFailure::DiskFull);
        assert_eq!(
            (failed.as_str(), failed.failure()),
            ("failed", Some(RecordingFailure::DiskFull))
        );
        assert_eq!(RecordingEnd::Stopped.failure(), None);
    }
}
