//! The session core as an engine: the endpoints' own media (DTMF, players;
//! `crate::endpoint`) driven through one timer, one transmit queue and one
//! event queue, quinn-style: `handle_op`, `poll_timeout`, `handle_timeout`,
//! `poll_transmit`, `poll_event`, and `poll_record` for recordings' frames
//! (relayed packets meet the endpoints' media in `on_packet`).

use std::time::Instant;

use super::{EndpointId, SessionRelay, SocketKind};
use crate::endpoint::{EndpointOp, MediaEvent, MediaFormat, RecordOutput, Transmit};

impl SessionRelay {
    /// Applies a command to `ep`'s own media at `now` (an unknown endpoint
    /// is ignored: it was removed while the command was on its way).
    pub fn handle_op(&mut self, now: Instant, ep: EndpointId, op: EndpointOp) {
        if let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) {
            let format = e.media.format();
            e.media.apply(ep, now, op, &mut self.events);
            if e.mix.is_some() && e.media.format() != format {
                self.remix(now, ep);
            }
        }
    }

    /// The format `ep` was last given.
    pub fn format(&self, ep: EndpointId) -> Option<MediaFormat> {
        self.endpoint(ep)?.media.format()
    }

    /// When [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit) next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.eps
            .iter()
            .flatten()
            .filter_map(|e| e.media.poll_timeout())
            .chain(self.conferences.poll_timeout())
            .min()
    }

    /// Runs the timers due at `now` (a digit whose end packets were all
    /// lost ends). Then call [`poll_transmit`](Self::poll_transmit) and
    /// [`poll_event`](Self::poll_event).
    pub fn handle_timeout(&mut self, now: Instant) {
        for (i, e) in self.eps.iter_mut().enumerate() {
            if let Some(e) = e {
                let ep = EndpointId(u32::try_from(i).unwrap_or(u32::MAX));
                e.media.handle_timeout(ep, now, &mut self.events);
            }
        }
    }

    /// The next packet voxgate generates at `now` (a player's frame, a DTMF
    /// event, a conference's mix for one participant), written into `buf` (at least
    /// [`MAX_GENERATED`](crate::endpoint::MAX_GENERATED) bytes, plus
    /// [`MAX_OVERHEAD`](crate::srtp::MAX_OVERHEAD) for an SRTP leg); call until
    /// `None`. A packet for a peer whose address is not known yet is
    /// dropped here and counted.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        // Conferences' frames first: each one's clock sets its pace.
        if let Some(t) = self.poll_mixed(now, buf) {
            return Some(t);
        }
        for (i, slot) in self.eps.iter_mut().enumerate() {
            let Some(e) = slot else { continue };
            let ep = EndpointId(u32::try_from(i).unwrap_or(u32::MAX));
            while let Some(len) = e.media.poll_transmit(ep, now, buf, &mut self.events) {
                let line = e.media.format().map_or(0, |f| f.line);
                let Some(leg) = e.lines.get_mut(line) else {
                    continue;
                };
                match leg.rtp_target() {
                    Some(addr) => {
                        // An SRTP leg's own stream is protected like relayed RTP.
                        let Some(len) = leg.protect(buf, len, false) else {
                            continue;
                        };
                        return Some(Transmit {
                            ep,
                            line,
                            socket: SocketKind::Rtp,
                            addr,
                            len,
                        });
                    }
                    None => leg.counters.dropped += 1,
                }
            }
        }
        None
    }

    /// Records the outcome of sending a packet `poll_transmit` returned.
    pub fn on_transmitted(&mut self, t: &Transmit, sent: bool) {
        if let Some(leg) = self
            .eps
            .get_mut(t.ep.index())
            .and_then(Option::as_mut)
            .and_then(|e| e.lines.get_mut(t.line))
        {
            if sent {
                leg.counters.sent += 1;
            } else {
                leg.counters.dropped += 1;
            }
        }
    }

    /// The next recorded frame due at `now`, of any endpoint's recording
    /// (or a stopped recording's `Ended`, after its last frame); call until
    /// `None` after each wake-up. Frames come by value: the caller hands
    /// them to a writer (a file is never written here).
    pub fn poll_record(&mut self, now: Instant) -> Option<RecordOutput> {
        for (i, slot) in self.eps.iter_mut().enumerate() {
            let Some(e) = slot else { continue };
            let ep = EndpointId(u32::try_from(i).unwrap_or(u32::MAX));
            if let Some(out) = e.media.poll_record(ep, now) {
                return Some(out);
            }
        }
        None
    }

    /// The next media event, in order per endpoint.
    pub fn poll_event(&mut self) -> Option<(EndpointId, MediaEvent)> {
        let ev = self.events.pop_front();
        if ev.is_none() && self.events.capacity() > EVENTS_KEPT {
            // A flood of digits grew the queue: give the memory back.
            self.events = super::Events::new();
        }
        ev
    }
}

/// Event slots kept after the queue drained.
const EVENTS_KEPT: usize = 64;
