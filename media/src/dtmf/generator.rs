//! RFC 4733 digit generation on a leg's outgoing stream.
//!
//! A digit of duration `d` queued at `t0` goes out as (RFC 4733 §2.5.1 and
//! its §5 example): a first packet at `t0 + interval` with the marker bit,
//! updates every `interval` (default 50 ms, §2.5.1.2) with the duration so
//! far, the final packet with the E bit at `t0 + d`, retransmitted twice at
//! the same interval (three in all, §2.5.1.4). All packets carry the
//! timestamp the stream had at `t0`; their sequence numbers are the stream's
//! next ones, so the far end sees one continuous stream with the audio.
//! When the digit is done the stream's timestamp moves on by the time it
//! took and the next audio packet starts a talk spurt. Queued digits follow
//! each other after [`GeneratorConfig::inter_digit_gap`].
//!
//! Durations are clamped to the 16-bit duration field (8.19 s at 8 kHz): no
//! long-event segments are generated.

use std::time::{Duration, Instant};

use super::{Digit, TelephoneEvent, Volume, duration_to_samples};
use crate::MediaError;
use crate::rtp::{OutgoingStream, PayloadType, RTP_HEADER_LEN};

/// Packets of one digit's end (RFC 4733 §2.5.1.4: the final packet three times).
const END_PACKETS: u8 = 3;

/// Digits that may wait in the queue.
pub const QUEUE_LEN: usize = 32;

/// Bytes a generated packet takes: header and one event block.
pub const PACKET_LEN: usize = RTP_HEADER_LEN + super::event::TELEPHONE_EVENT_LEN;

/// The generator's settings, from the leg's SDP and the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// The telephone-event payload type the leg negotiated.
    pub payload_type: PayloadType,
    /// Its clock rate.
    pub clock_rate: u32,
    /// Time between updates (and between the end retransmissions).
    pub update_interval: Duration,
    /// Level the packets announce.
    pub volume: Volume,
    /// Silence between queued digits.
    pub inter_digit_gap: Duration,
}

impl GeneratorConfig {
    /// Settings for `payload_type` at `clock_rate` Hz: updates every 50 ms,
    /// −10 dBm0, 100 ms between digits.
    pub fn new(payload_type: PayloadType, clock_rate: u32) -> Self {
        GeneratorConfig {
            payload_type,
            clock_rate,
            update_interval: Duration::from_millis(50),
            volume: Volume(10),
            inter_digit_gap: Duration::from_millis(100),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Sending {
    digit: Digit,
    start: Instant,
    duration: Duration,
    duration_samples: u16,
    updates_sent: u32,
    ends_sent: u8,
    next_at: Instant,
}

/// The RFC 4733 generator of one leg.
#[derive(Clone, Debug)]
pub struct Rfc4733Generator {
    config: GeneratorConfig,
    queue: [Option<(Digit, Duration)>; QUEUE_LEN],
    head: usize,
    len: usize,
    sending: Option<Sending>,
    ready_at: Option<Instant>,
}

impl Rfc4733Generator {
    /// An idle generator.
    pub fn new(config: GeneratorConfig) -> Self {
        Rfc4733Generator {
            config,
            queue: [None; QUEUE_LEN],
            head: 0,
            len: 0,
            sending: None,
            ready_at: None,
        }
    }

    /// Queues a digit to send for `duration`.
    pub fn queue_digit(
        &mut self,
        now: Instant,
        digit: Digit,
        duration: Duration,
    ) -> Result<(), MediaError> {
        if self.len == QUEUE_LEN {
            return Err(MediaError::DtmfQueueFull {
                capacity: QUEUE_LEN,
            });
        }
        self.queue[(self.head + self.len) % QUEUE_LEN] = Some((digit, duration));
        self.len += 1;
        if self.sending.is_none() {
            self.ready_at = Some(self.ready_at.map_or(now, |r| r.max(now)));
        }
        Ok(())
    }

    /// Drops the digits not yet begun; the one being sent finishes (so the
    /// far end sees its end).
    pub fn clear_queue(&mut self) {
        self.queue = [None; QUEUE_LEN];
        self.len = 0;
    }

    /// True while a digit is being sent or waits: the generator owns the
    /// leg's outgoing stream.
    pub fn is_busy(&self) -> bool {
        self.sending.is_some() || self.len > 0
    }

    /// When [`poll_transmit`](Self::poll_transmit) has something to send.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.sending {
            Some(s) => Some(s.next_at),
            None if self.len > 0 => self.ready_at,
            None => None,
        }
    }

    /// Writes the next due packet (header from `stream`, then the event)
    /// into `buf` and returns its length; `None` when nothing is due. Call
    /// until `None` at each wake-up.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        stream: &mut OutgoingStream,
        buf: &mut [u8],
    ) -> Result<Option<usize>, MediaError> {
        if buf.len() < PACKET_LEN {
            return Err(MediaError::BufferTooSmall {
                needed: PACKET_LEN,
                available: buf.len(),
            });
        }
        if self.sending.is_none() && !self.start_next(now) {
            return Ok(None);
        }
        let Some(mut s) = self.sending else {
            return Ok(None);
        };
        if now < s.next_at {
            return Ok(None);
        }
        let interval = self.config.update_interval.max(Duration::from_millis(1));
        let end_at = s.start + s.duration;
        let event = if s.ends_sent == 0 && s.next_at < end_at {
            s.updates_sent += 1;
            let elapsed = interval * s.updates_sent;
            s.next_at = (s.start + interval * (s.updates_sent + 1)).min(end_at);
            let so_far = duration_to_samples(elapsed, self.config.clock_rate);
            self.block(
                s.digit,
                false,
                u16::try_from(so_far)
                    .unwrap_or(u16::MAX)
                    .min(s.duration_samples),
            )
        } else {
            s.ends_sent += 1;
            s.next_at += interval;
            self.block(s.digit, true, s.duration_samples)
        };
        if s.updates_sent + u32::from(s.ends_sent) == 1 {
            stream.start_talk_spurt(); // the event's first packet carries the marker
        }
        let n = stream.write_header(self.config.payload_type, buf)?;
        let m = event.write(&mut buf[n..])?;
        if s.ends_sent == END_PACKETS {
            // The audio resumes where the clock is now, as a new talk spurt.
            stream.skip(duration_to_samples(now - s.start, self.config.clock_rate));
            self.sending = None;
            self.ready_at = Some(now + self.config.inter_digit_gap);
        } else {
            self.sending = Some(s);
        }
        Ok(Some(n + m))
    }

    fn block(&self, digit: Digit, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event: digit.event_code(),
            end,
            volume: self.config.volume,
            duration,
        }
    }

    fn start_next(&mut self, now: Instant) -> bool {
        if self.len == 0 || self.ready_at.is_some_and(|r| now < r) {
            return false;
        }
        let Some((digit, duration)) = self.queue[self.head].take() else {
            return false;
        };
        self.head = (self.head + 1) % QUEUE_LEN;
        self.len -= 1;
        let samples = duration_to_samples(duration, self.config.clock_rate);
        let duration_samples = u16::try_from(samples).unwrap_or(u16::MAX);
        let duration =
            super::samples_to_duration(u32::from(duration_samples), self.config.clock_rate);
        self.sending = Some(Sending {
            digit,
            start: now,
            duration,
            duration_samples,
            updates_sent: 0,
            ends_sent: 0,
            next_at: (now + self.config.update_interval).min(now + duration),
        });
        true
    }
}

#[cfg(test)]
mod tests;
