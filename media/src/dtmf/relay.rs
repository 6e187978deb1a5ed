//! Relaying RFC 4733 events across a bridge whose legs negotiated different
//! telephone-event payload types (say 101 on the carrier, 96 on the phone).
//!
//! The payload and everything else pass untouched; only the 7-bit payload
//! type is rewritten in place, the marker bit kept. Both legs must use the
//! same event clock rate (8000 in practice): where they differ the lead's
//! wiring should detect on one leg and regenerate on the other
//! ([`Rfc4733Generator`](super::Rfc4733Generator)) instead.

use crate::rtp::{PayloadType, RTP_HEADER_LEN};

/// The telephone-event payload type as one leg sent it and as the other
/// leg expects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPayloadTypeMap {
    /// The sending leg's telephone-event payload type.
    pub from: PayloadType,
    /// The receiving leg's.
    pub to: PayloadType,
}

impl EventPayloadTypeMap {
    /// A mapping from one leg's payload type to the other's.
    pub fn new(from: PayloadType, to: PayloadType) -> Self {
        EventPayloadTypeMap { from, to }
    }

    /// Rewrites `packet`'s payload type when it is `from`; true if it was an
    /// event packet (rewritten or already right). Other packets, and
    /// datagrams too short to be RTP, are left alone.
    pub fn rewrite(&self, packet: &mut [u8]) -> bool {
        if packet.len() < RTP_HEADER_LEN || packet[0] >> 6 != 2 {
            return false;
        }
        if packet[1] & 0x7f != self.from.0 {
            return false;
        }
        packet[1] = (packet[1] & 0x80) | (self.to.0 & 0x7f);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::parse_rtp;

    #[test]
    fn rewrites_only_the_event_payload_type_and_keeps_the_marker() {
        let map = EventPayloadTypeMap::new(PayloadType(101), PayloadType(96));
        let mut pkt = [
            0x80,
            0x80 | 101,
            0,
            1,
            0,
            0,
            0,
            160,
            0,
            0,
            0,
            7,
            1,
            0x0a,
            0,
            160,
        ];
        let before = pkt;
        assert!(map.rewrite(&mut pkt));
        let h = parse_rtp(&pkt).unwrap();
        assert_eq!(h.payload_type, PayloadType(96));
        assert!(h.marker);
        assert_eq!(pkt[2..], before[2..]);
        // Audio is untouched, and so is garbage.
        let mut audio = before;
        audio[1] = 8;
        assert!(!map.rewrite(&mut audio));
        assert_eq!(audio[1], 8);
        assert!(!map.rewrite(&mut [0x80, 101]));
        let mut v1 = before;
        v1[0] = 0x40;
        assert!(!map.rewrite(&mut v1));
    }
}
