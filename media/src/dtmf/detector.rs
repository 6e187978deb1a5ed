//! RFC 4733 digit detection for one leg: telephone-event packets in, one
//! [`DigitEvent::Start`] and one [`DigitEvent::End`] per digit out.
//!
//! An event is named by its SSRC, RTP timestamp and event code (RFC 4733
//! §2.5.1.1: every packet of an event carries the timestamp of its start;
//! a new key press is a new timestamp, so two presses of one key are told
//! apart). From that:
//!
//! - the first packet heard of a new event starts it, marker or not (the
//!   start packet may be lost); if it already has the E bit, it also ends it;
//! - the first packet with the E bit ends it; the redundant end packets
//!   (three, RFC 4733 §2.5.1.4) and any late update of an ended event are
//!   recognised by a small memory of recently ended events and dropped;
//! - packets older than the current event (reordered behind a newer one)
//!   are dropped; a newer event ends the current one ([`EndCause::Superseded`]);
//! - when every end packet is lost, the event ends after
//!   [`DEFAULT_END_TIMEOUT`] without a packet of it ([`EndCause::Timeout`]);
//! - a long event split into segments (RFC 4733 §2.5.1.3: same code, the
//!   next timestamp = the previous one + its duration ≈ 0xFFFF) stays one digit.
//!
//! Events that are not DTMF digits (flash, 16, and the rest) are ignored.

use std::time::{Duration, Instant};

use super::{Digit, DigitEvent, EndCause, EventQueue, TelephoneEvent, Volume, samples_to_duration};
use crate::rtp::{PayloadType, RtpHeader, Ssrc};

/// How long an event may go without a packet before it is taken to have
/// ended (its end packets all lost). RFC 4733 §2.5.1.2 has senders update at
/// least every 50 ms (many do every 20 ms): 500 ms rides out a burst of nine
/// lost updates plus jitter, and only the End is late by it — the Start is
/// reported at once — while a person pressing keys is far slower than that.
pub const DEFAULT_END_TIMEOUT: Duration = Duration::from_millis(500);

/// How many ended events are remembered to drop their late packets.
const ENDED_MEMORY: usize = 8;

/// Segment continuation is considered only past this duration (near the
/// 16-bit limit where a sender must start a new segment).
const SEGMENT_THRESHOLD: u16 = 0xf000;

/// The detector's settings, from the leg's SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// The telephone-event payload type the leg negotiated.
    pub payload_type: PayloadType,
    /// Its clock rate (`telephone-event/8000` → 8000).
    pub clock_rate: u32,
    /// See [`DEFAULT_END_TIMEOUT`].
    pub end_timeout: Duration,
}

impl DetectorConfig {
    /// Settings for `payload_type` at `clock_rate` Hz, default timeout.
    pub fn new(payload_type: PayloadType, clock_rate: u32) -> Self {
        DetectorConfig {
            payload_type,
            clock_rate,
            end_timeout: DEFAULT_END_TIMEOUT,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EventKey {
    ssrc: Ssrc,
    timestamp: u32,
    event: u8,
}

#[derive(Clone, Copy, Debug)]
struct Current {
    key: EventKey,
    digit: Digit,
    /// Samples of earlier segments of a long event.
    earlier_segments: u32,
    duration: u16,
    volume: Volume,
    last_heard: Instant,
}

impl Current {
    fn total_samples(&self) -> u32 {
        self.earlier_segments
            .saturating_add(u32::from(self.duration))
    }
}

/// The RFC 4733 detector of one leg.
#[derive(Clone, Debug)]
pub struct Rfc4733Detector {
    config: DetectorConfig,
    current: Option<Current>,
    ended: [Option<EventKey>; ENDED_MEMORY],
    ended_next: usize,
    events: EventQueue,
}

impl Rfc4733Detector {
    /// A detector with nothing heard yet.
    pub fn new(config: DetectorConfig) -> Self {
        Rfc4733Detector {
            config,
            current: None,
            ended: [None; ENDED_MEMORY],
            ended_next: 0,
            events: EventQueue::new(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Feeds one RTP packet's header and payload. Packets of another payload
    /// type, malformed payloads and non-digit events are ignored.
    pub fn handle_packet(&mut self, now: Instant, header: &RtpHeader, payload: &[u8]) {
        if header.payload_type != self.config.payload_type {
            return;
        }
        let Ok(ev) = TelephoneEvent::parse(payload) else {
            return;
        };
        let Some(digit) = ev.digit() else {
            return;
        };
        let key = EventKey {
            ssrc: header.ssrc,
            timestamp: header.timestamp,
            event: ev.event,
        };

        if let Some(cur) = self.current.as_mut() {
            if cur.key == key {
                cur.duration = cur.duration.max(ev.duration);
                cur.volume = ev.volume;
                cur.last_heard = now;
                if ev.end {
                    self.end_current(EndCause::EndBit);
                }
                return;
            }
            let age = key.timestamp.wrapping_sub(cur.key.timestamp) as i32;
            if key.ssrc == cur.key.ssrc && age < 0 {
                return; // an older event's packet, reordered behind a newer one
            }
            if key.ssrc == cur.key.ssrc
                && key.event == cur.key.event
                && cur.duration >= SEGMENT_THRESHOLD
                && age as u32 == u32::from(cur.duration)
            {
                cur.earlier_segments = cur.earlier_segments.saturating_add(age as u32);
                cur.key = key;
                cur.duration = ev.duration;
                cur.volume = ev.volume;
                cur.last_heard = now;
                if ev.end {
                    self.end_current(EndCause::EndBit);
                }
                return;
            }
        }
        if self.ended.contains(&Some(key)) {
            return; // a redundant end packet or a late update
        }
        if self.current.is_some() {
            self.end_current(EndCause::Superseded);
        }
        self.current = Some(Current {
            key,
            digit,
            earlier_segments: 0,
            duration: ev.duration,
            volume: ev.volume,
            last_heard: now,
        });
        self.events.push(DigitEvent::Start { digit });
        if ev.end {
            self.end_current(EndCause::EndBit);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_heard + self.config.end_timeout)
    }

    /// Ends an event whose end packets never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| now >= t) {
            self.end_current(EndCause::Timeout);
        }
    }

    /// The next digit event, in order.
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.events.pop()
    }

    fn end_current(&mut self, cause: EndCause) {
        let Some(cur) = self.current.take() else {
            return;
        };
        self.ended[self.ended_next] = Some(cur.key);
        self.ended_next = (self.ended_next + 1) % ENDED_MEMORY;
        self.events.push(DigitEvent::End {
            digit: cur.digit,
            duration: samples_to_duration(cur.total_samples(), self.config.clock_rate),
            volume: Some(cur.volume),
            cause,
        });
    }
}

#[cfg(test)]
mod tests;
