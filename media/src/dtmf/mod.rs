//! DTMF: RFC 4733 telephone-events (detect, generate, relay across payload
//! types), in-band tones on decoded G.711 (Goertzel), and SIP INFO bodies —
//! all giving the same [`Digit`].
//!
//! Every part is sans-IO: fed `(now, input)`, polled for events, packets and
//! the next deadline; nothing here reads the clock or allocates per packet.
//!
//! # How an endpoint wires it
//!
//! ```text
//! per leg, from the SDP:      pt = telephone-event payload type, rate = its clock
//!   detector  = Rfc4733Detector::new(DetectorConfig::new(pt, rate))
//!   generator = Rfc4733Generator::new(GeneratorConfig::new(pt, rate))
//!   inband    = InbandDetector::new(InbandConfig::default())  // legs without telephone-event
//!   stream    = rtp::OutgoingStream::new()                    // shared with player / mixer
//!
//! packet in (now, header, payload):
//!   detector.handle_packet(now, &header, payload)             // ignores other PTs
//!   or, no telephone-event: codec.decode(payload, &mut pcm); inband.handle_pcm(now, &pcm)
//!   while let Some(ev) = detector.poll_event() { -> control plane: Digits }
//! bridged to a leg with another event PT:
//!   EventPayloadTypeMap::new(from, to).rewrite(&mut packet)     // in place, before forwarding
//! timer:  wake at min(detector.poll_timeout(), generator.poll_timeout(), ...)
//!   detector.handle_timeout(now); generator: poll_transmit below
//! command "send digits": generator.queue_digit(now, digit, duration)
//!   while let Some(n) = generator.poll_transmit(now, &mut stream, &mut buf)? { send buf[..n] }
//!   (while the generator is busy it owns the stream: pause the player/mixer source)
//! SIP INFO: info::parse(content_type, body) -> Digit and duration
//! ```

pub mod detector;
pub mod event;
pub mod generator;
pub mod inband;
pub mod info;
pub mod relay;

use std::time::Duration;

pub use detector::{DetectorConfig, Rfc4733Detector};
pub use event::TelephoneEvent;
pub use generator::{GeneratorConfig, Rfc4733Generator};
pub use inband::{InbandConfig, InbandDetector};
pub use info::{InfoDigit, InfoProblem};
pub use relay::EventPayloadTypeMap;

/// A DTMF key (RFC 4733 §3.2 event codes 0–15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Digit {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

impl Digit {
    /// All sixteen, in event-code order.
    pub const ALL: [Digit; 16] = [
        Digit::D0,
        Digit::D1,
        Digit::D2,
        Digit::D3,
        Digit::D4,
        Digit::D5,
        Digit::D6,
        Digit::D7,
        Digit::D8,
        Digit::D9,
        Digit::Star,
        Digit::Pound,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// The digit an RFC 4733 event code names (16, flash, and the rest are
    /// not digits).
    pub fn from_event_code(code: u8) -> Option<Digit> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Its RFC 4733 event code.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The key as written: `0`–`9`, `*`, `#`, `A`–`D`.
    pub fn as_char(self) -> char {
        b"0123456789*#ABCD"[usize::from(self.event_code())] as char
    }

    /// The digit a key character names (letters in either case).
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c.to_ascii_uppercase() {
            c @ '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            c @ 'A'..='D' => c as u8 - b'A' + 12,
            _ => return None,
        };
        Self::from_event_code(code)
    }
}

impl std::fmt::Display for Digit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// Where a digit was heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// RFC 4733 telephone-events in the RTP.
    Rfc4733,
    /// DTMF tones in the audio (Goertzel, legs without telephone-event).
    Inband,
    /// A SIP INFO request (`application/dtmf-relay` or `application/dtmf`).
    Info,
}

impl DigitSource {
    /// Its name in events and metrics: `rfc4733`, `inband`, `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigitSource::Rfc4733 => "rfc4733",
            DigitSource::Inband => "inband",
            DigitSource::Info => "info",
        }
    }
}

/// An RFC 4733 power level: the tone's level is minus this many dBm0 (0–63).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Volume(pub u8);

/// Why a digit was taken to have ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndCause {
    /// An RFC 4733 packet with the E bit.
    EndBit,
    /// A new event began before this one's end packets arrived.
    Superseded,
    /// Nothing heard of the event for the detector's timeout.
    Timeout,
    /// The in-band tone stopped.
    ToneStopped,
}

/// What a detector reports: once at a digit's start and once at its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitEvent {
    /// A digit began (its first packet or tone was heard).
    Start {
        /// The key.
        digit: Digit,
    },
    /// The digit ended.
    End {
        /// The key.
        digit: Digit,
        /// How long it lasted (as reported by the sender for RFC 4733).
        duration: Duration,
        /// Its level, where the source says (RFC 4733).
        volume: Option<Volume>,
        /// What ended it.
        cause: EndCause,
    },
}

impl DigitEvent {
    /// The key.
    pub fn digit(&self) -> Digit {
        match *self {
            DigitEvent::Start { digit } | DigitEvent::End { digit, .. } => digit,
        }
    }
}

/// A fixed-capacity FIFO of events (no allocation; a detector emits at most
/// a few per input and the caller drains them after each).
#[derive(Clone, Debug)]
struct EventQueue {
    items: [Option<DigitEvent>; EVENT_QUEUE_LEN],
    head: usize,
    len: usize,
}

/// Room for the events of several inputs left unpolled; beyond it the oldest
/// are dropped (a caller that never polls loses digits, not memory).
const EVENT_QUEUE_LEN: usize = 16;

impl EventQueue {
    fn new() -> Self {
        EventQueue {
            items: [None; EVENT_QUEUE_LEN],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, ev: DigitEvent) {
        if self.len == EVENT_QUEUE_LEN {
            self.pop();
        }
        self.items[(self.head + self.len) % EVENT_QUEUE_LEN] = Some(ev);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<DigitEvent> {
        if self.len == 0 {
            return None;
        }
        let ev = self.items[self.head].take();
        self.head = (self.head + 1) % EVENT_QUEUE_LEN;
        self.len -= 1;
        ev
    }
}

/// `samples` at `rate` Hz as a duration.
fn samples_to_duration(samples: u32, rate: u32) -> Duration {
    Duration::from_micros(u64::from(samples) * 1_000_000 / u64::from(rate.max(1)))
}

/// A duration as samples at `rate` Hz (saturating).
fn duration_to_samples(d: Duration, rate: u32) -> u32 {
    u32::try_from(d.as_micros() * u128::from(rate) / 1_000_000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_codes_and_chars() {
        for (i, d) in Digit::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(d.event_code()), i);
            assert_eq!(Digit::from_event_code(i as u8), Some(d));
            assert_eq!(Digit::from_char(d.as_char()), Some(d));
        }
        assert_eq!(Digit::from_event_code(16), None); // flash
        assert_eq!(Digit::from_char('b'), Some(Digit::B));
        assert_eq!(Digit::from_char('E'), None);
        assert_eq!(Digit::Pound.to_string(), "#");
    }

    #[test]
    fn queue_keeps_order_and_drops_the_oldest_when_full() {
        let mut q = EventQueue::new();
        for d in Digit::ALL.into_iter().chain([Digit::D1]) {
            q.push(DigitEvent::Start { digit: d });
        }
        assert_eq!(q.pop().map(|e| e.digit()), Some(Digit::D1)); // D0 dropped
        let mut n = 1;
        while q.pop().is_some() {
            n += 1;
        }
        assert_eq!(n, 16);
    }
}
