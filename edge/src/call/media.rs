//! The call's view of the media plane: open a relay, tell it where the
//! peers are, pause inactivity on hold, read counters. A trait, so the call
//! logic is tested without sockets.

use voxgate_media::anchor::{LocalMedia, RemoteMedia};
use voxgate_media::{MediaError, SessionStats, Side};

/// Media operations a call needs.
pub trait MediaControl {
    /// Opens a relay with `lines` media lines: side A in `region_a`, side B in `region_b`.
    fn open(&mut self, region_a: &str, region_b: &str, lines: usize) -> Result<(), MediaError>;
    /// True once `open` succeeded.
    fn is_open(&self) -> bool;
    /// Our address and ports on `side`, per media line.
    fn local(&self, side: Side) -> Vec<LocalMedia>;
    /// Where `side`'s peer said it receives.
    fn set_remote(&mut self, side: Side, remote: &[RemoteMedia]);
    /// `side` put the call on hold (or resumed it).
    fn set_hold(&mut self, side: Side, held: bool);
    /// Counters, if open.
    fn stats(&self) -> Option<SessionStats>;
    /// Stops relaying and returns the ports.
    fn close(&mut self);
}

/// A media plane that relays nothing: SDP passes through with our address
/// but port 0 never happens; used by unit tests of the signalling and by
/// nodes without media regions.
#[derive(Debug, Default)]
pub struct NoMedia {
    lines: usize,
    open: bool,
    /// What `set_remote` was last told, per side (for tests).
    pub remote: [Vec<RemoteMedia>; 2],
    /// Hold state per side (for tests).
    pub held: [bool; 2],
}

impl MediaControl for NoMedia {
    fn open(&mut self, _region_a: &str, _region_b: &str, lines: usize) -> Result<(), MediaError> {
        self.lines = lines;
        self.open = true;
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.open
    }

    fn local(&self, side: Side) -> Vec<LocalMedia> {
        let base = match side {
            Side::A => 40_000,
            Side::B => 41_000,
        };
        (0..self.lines)
            .map(|i| {
                let rtp = base + 2 * u16::try_from(i).unwrap_or(0);
                LocalMedia {
                    addr: std::net::Ipv4Addr::LOCALHOST.into(),
                    rtp_port: rtp,
                    rtcp_port: rtp + 1,
                }
            })
            .collect()
    }

    fn set_remote(&mut self, side: Side, remote: &[RemoteMedia]) {
        self.remote[side.index()] = remote.to_vec();
    }

    fn set_hold(&mut self, side: Side, held: bool) {
        self.held[side.index()] = held;
    }

    fn stats(&self) -> Option<SessionStats> {
        None
    }

    fn close(&mut self) {
        self.open = false;
    }
}
