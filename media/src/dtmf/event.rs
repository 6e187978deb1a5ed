//! The RFC 4733 §2.3 telephone-event payload: event, E bit, volume, duration.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |     event     |E|R| volume    |          duration             |
//! ```
//!
//! A packet may carry several 4-byte blocks (RFC 4733 §2.5.1.5, redundancy);
//! only the first is read: it is the newest state of the event it names.

use super::{Digit, Volume};
use crate::MediaError;

/// Bytes of one event block.
pub const TELEPHONE_EVENT_LEN: usize = 4;

/// One telephone-event block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code (0–15 are DTMF digits, RFC 4733 §3.2).
    pub event: u8,
    /// E: this is (a retransmission of) the event's final packet.
    pub end: bool,
    /// Power level, −dBm0 (6 bits).
    pub volume: Volume,
    /// Duration so far, in RTP timestamp units, from the packet's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first block of `payload`; the reserved bit is ignored.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, MediaError> {
        let [event, flags, d0, d1, ..] = *payload else {
            return Err(MediaError::TelephoneEventTooShort { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: Volume(flags & 0x3f),
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Writes the block into `buf` (reserved bit zero), returning its length.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, MediaError> {
        let available = buf.len();
        let out = buf
            .get_mut(..TELEPHONE_EVENT_LEN)
            .ok_or(MediaError::BufferTooSmall {
                needed: TELEPHONE_EVENT_LEN,
                available,
            })?;
        out[0] = self.event;
        out[1] = if self.end { 0x80 } else { 0 } | (self.volume.0 & 0x3f);
        out[2..4].copy_from_slice(&self.duration.to_be_bytes());
        Ok(TELEPHONE_EVENT_LEN)
    }

    /// The DTMF digit, if the event is one.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event_code(self.event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// RFC 4733 §5 (Table 5), digit "9": packet 1 carries event 9, duration
    /// 400, E = 0; the retransmitted final packet duration 1600, E = 1. The
    /// table gives no volume; 10 (−10 dBm0) here.
    #[test]
    fn rfc_4733_example_blocks() {
        let first = TelephoneEvent {
            event: 9,
            end: false,
            volume: Volume(10),
            duration: 400,
        };
        let mut buf = [0u8; 4];
        first.write(&mut buf).unwrap();
        assert_eq!(buf, [9, 0x0a, 0x01, 0x90]);
        let last = TelephoneEvent {
            end: true,
            duration: 1600,
            ..first
        };
        last.write(&mut buf).unwrap();
        assert_eq!(buf, [9, 0x8a, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse(&buf), Ok(last));
        assert_eq!(last.digit(), Some(Digit::D9));
    }

    /// Blocks from sip-tester's dtmf_2833_1.pcap: an update and the end.
    #[test]
    fn sip_tester_blocks() {
        let update = TelephoneEvent::parse(&[0x01, 0x0a, 0x01, 0x40]).unwrap();
        assert_eq!(
            update,
            TelephoneEvent {
                event: 1,
                end: false,
                volume: Volume(10),
                duration: 320
            }
        );
        let end = TelephoneEvent::parse(&[0x01, 0x8a, 0x08, 0xc0]).unwrap();
        assert!(end.end);
        assert_eq!(end.duration, 2240);
    }

    #[test]
    fn short_payloads_are_refused() {
        for len in 0..4 {
            assert_eq!(
                TelephoneEvent::parse(&[1u8; 3][..len.min(3)]),
                Err(MediaError::TelephoneEventTooShort { len: len.min(3) })
            );
        }
        let e = TelephoneEvent {
            event: 1,
            end: false,
            volume: Volume(0),
            duration: 0,
        };
        assert!(e.write(&mut [0u8; 3]).is_err());
    }

    /// Seeded property test (the fuzz target's properties, in CI): parsing
    /// never panics, and parse → write → parse is the identity on any block
    /// with the reserved bit cleared.
    #[test]
    fn parse_print_round_trip_property() {
        let mut rng = StdRng::seed_from_u64(4733);
        for _ in 0..20_000 {
            let len = rng.random_range(0..12);
            let mut bytes = [0u8; 12];
            rng.fill(&mut bytes[..]);
            let payload = &bytes[..len];
            match TelephoneEvent::parse(payload) {
                Ok(ev) => {
                    let mut out = [0u8; 4];
                    ev.write(&mut out).unwrap();
                    assert_eq!(out[0], payload[0]);
                    assert_eq!(out[1], payload[1] & !0x40);
                    assert_eq!(out[2..], payload[2..4]);
                    assert_eq!(TelephoneEvent::parse(&out), Ok(ev));
                }
                Err(_) => assert!(len < 4),
            }
        }
    }
}
