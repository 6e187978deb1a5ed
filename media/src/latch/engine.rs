//! The session core as an engine: the endpoints' own media (DTMF, players;
//! `crate::endpoint`) and RTCP reports driven through one timer, one
//! transmit queue and one event queue, quinn-style: `handle_op`,
//! `poll_timeout`, `handle_timeout`, `poll_transmit`, `poll_event`, and
//! `poll_record` for recordings' frames (relayed packets meet the
//! endpoints' media in `on_packet`).
//!
//! RTCP reports (RFC 3550 §6) are voxgate's only on a leg it terminates: in
//! no bridge, or spoken to by voxgate (a playback, digits) while bridged;
//! once RTP flows either way, and never on a leg whose DTLS-SRTP passes end
//! to end. A bridged leg keeps the RTCP of its peers, relayed end to end.
//! The report goes to the peer's RTCP target (rtcp-mux aware), SRTCP on an
//! SRTP leg; [`poll_bye`](SessionRelay::poll_bye) gives the last one, with
//! a BYE, when the leg's endpoint goes.

use std::time::Instant;

use super::{EndpointCore, EndpointId, SessionRelay, SocketKind};
use crate::endpoint::{EndpointOp, MediaEvent, MediaFormat, RecordOutput, Transmit};
use crate::quality::rtcp::NtpTime;

/// The media line voxgate reports on for `e`, if it terminates the leg now
/// (see the module docs) and knows where the peer's RTCP goes.
fn reporting_line(e: &EndpointCore) -> Option<usize> {
    if e.dtls {
        return None;
    }
    let line = e.media.format()?.line;
    if e.bridge.is_some() && !e.media.speaking() {
        return None;
    }
    let leg = e.lines.get(line)?;
    // RTCP follows RTP: nothing before media flows one way or the other.
    if leg.counters.rtp_packets == 0 && !e.media.spoke() {
        return None;
    }
    leg.rtcp_target()?;
    Some(line)
}

impl SessionRelay {
    /// Applies a command to `ep`'s own media at `now` (an unknown endpoint
    /// is ignored: it was removed while the command was on its way).
    pub fn handle_op(&mut self, now: Instant, ep: EndpointId, op: EndpointOp) {
        let is_format = matches!(op, EndpointOp::Format(_));
        let ntp = self.ntp(now);
        if let Some(e) = self.eps.get_mut(ep.index()).and_then(Option::as_mut) {
            let old_format = e.media.format();
            e.media.apply(ep, now, op, &mut self.events);
            if let Some(f) = e.media.format().filter(|_| is_format) {
                if let Some(leg) = e.lines.get_mut(f.line) {
                    let events = f.telephone_event.map(|t| t.receive);
                    leg.quality.set_format(f.clock_rate, events);
                }
                e.media.ensure_reporter(now, ntp);
            }
            if e.mix.is_some() && e.media.format() != old_format {
                self.remix(now, ep);
            }
        }
    }

    /// The wall-clock (NTP) time at `now`, from the pair
    /// [`set_wall_clock`](Self::set_wall_clock) gave (the Unix epoch at the
    /// first `now` otherwise: RTT and LSR/DLSR need no true time).
    fn ntp(&mut self, now: Instant) -> NtpTime {
        let (at, ntp) = *self
            .wall
            .get_or_insert((now, NtpTime::from_unix(std::time::Duration::ZERO)));
        match now.checked_duration_since(at) {
            Some(d) => ntp.plus(d),
            None => ntp,
        }
    }

    /// The wall clock read `ntp` at `at`: the NTP time of voxgate's sender
    /// reports (the relay never reads a clock).
    pub fn set_wall_clock(&mut self, at: Instant, ntp: NtpTime) {
        self.wall = Some((at, ntp));
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
            .flat_map(|e| {
                let rtcp = reporting_line(e).and_then(|_| e.media.rtcp_timeout());
                [e.media.poll_timeout(), rtcp]
            })
            .flatten()
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
    /// event, a conference's mix for one participant, an RTCP report:
    /// [`Transmit::rtcp`]), written into `buf` (at least
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
                            rtcp: false,
                        });
                    }
                    None => leg.counters.dropped += 1,
                }
            }
            let due = e.media.rtcp_timeout().is_some_and(|t| t <= now);
            if let Some(line) = reporting_line(e).filter(|_| due)
                && let Some(t) = report(e, ep, line, now, buf, false)
            {
                return Some(t);
            }
        }
        None
    }

    /// The last RTCP report of `ep`'s leg, with a BYE for voxgate's SSRC,
    /// written into `buf` (as for [`poll_transmit`](Self::poll_transmit)):
    /// call before removing an endpoint voxgate spoke or reported on.
    /// `None` when voxgate never used its SSRC on the leg (a relayed leg),
    /// or said BYE already.
    pub fn poll_bye(&mut self, now: Instant, ep: EndpointId, buf: &mut [u8]) -> Option<Transmit> {
        let e = self.eps.get_mut(ep.index())?.as_mut()?;
        if e.dtls || !(e.media.spoke() || e.media.reports_sent() > 0) {
            return None;
        }
        let line = e.media.format()?.line;
        report(e, ep, line, now, buf, true)
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
                if t.rtcp {
                    leg.counters.rtcp_sent += 1;
                }
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

/// Writes `e`'s report on `line` (with `bye`, its last) and protects it
/// for an SRTP peer; an SR is noted for the RTT the peer's answer gives.
fn report(
    e: &mut EndpointCore,
    ep: EndpointId,
    line: usize,
    now: Instant,
    buf: &mut [u8],
    bye: bool,
) -> Option<Transmit> {
    let leg = e.lines.get_mut(line)?;
    let (socket, addr) = leg.rtcp_target()?;
    let (len, sr) = e
        .media
        .write_report(now, leg.quality.stats_mut(), buf, bye)?;
    if let Some(lsr) = sr {
        leg.quality.sr_sent(lsr, now);
    }
    let len = leg.protect(buf, len, true)?;
    Some(Transmit {
        ep,
        line,
        socket,
        addr,
        len,
        rtcp: true,
    })
}
