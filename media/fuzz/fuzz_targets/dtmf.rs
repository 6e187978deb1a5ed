//! DTMF parsing and detection on arbitrary bytes: the RFC 4733 payload
//! parser (with its print round trip), the detector fed an arbitrary packet
//! sequence with timer firings, the event payload-type rewrite, and both SIP
//! INFO body parsers. Any panic is a bug: all of it faces the network.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voxgate_media::dtmf::{
    DetectorConfig, DigitEvent, EventPayloadTypeMap, Rfc4733Detector, TelephoneEvent, info,
};
use voxgate_media::rtp::{PayloadType, RtpHeader, Ssrc, parse_rtp};

fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = TelephoneEvent::parse(data) {
        let mut out = [0u8; 4];
        ev.write(&mut out).expect("4 bytes fit");
        assert_eq!(TelephoneEvent::parse(&out), Ok(ev));
    }
    let _ = info::parse("application/dtmf-relay", data);
    let _ = info::parse("application/dtmf", data);

    // The input as a sequence of records: [kind][gap ms][ssrc][ts hi][ts lo][4 payload bytes].
    let t0 = Instant::now();
    let mut now = t0;
    let mut det = Rfc4733Detector::new(DetectorConfig::new(PayloadType(101), 8000));
    let mut open = None;
    for rec in data.chunks(9) {
        let [kind, gap, ssrc, hi, lo, payload @ ..] = rec else {
            break;
        };
        now += Duration::from_millis(u64::from(*gap) * 4);
        if kind % 8 == 0 {
            det.handle_timeout(now);
        } else {
            let header = RtpHeader {
                marker: kind & 0x80 != 0,
                payload_type: PayloadType(if kind % 8 == 1 { 0 } else { 101 }),
                seq: u16::from(*gap),
                timestamp: u32::from(u16::from_be_bytes([*hi, *lo])) * 160,
                ssrc: Ssrc(u32::from(ssrc % 3)),
            };
            det.handle_packet(now, &header, payload);
        }
        let _ = det.poll_timeout();
        while let Some(ev) = det.poll_event() {
            match ev {
                DigitEvent::Start { digit } => {
                    assert!(open.is_none(), "start while a digit is open");
                    open = Some(digit);
                }
                DigitEvent::End { digit, .. } => {
                    assert_eq!(open.take(), Some(digit), "end without its start");
                }
            }
        }
    }

    // The relay's PT rewrite: only ever the payload-type bits change.
    let mut pkt = data.to_vec();
    let map = EventPayloadTypeMap::new(PayloadType(101), PayloadType(96));
    if map.rewrite(&mut pkt) {
        assert_eq!(pkt[0], data[0]);
        assert_eq!(pkt[1] & 0x80, data[1] & 0x80);
        assert_eq!(pkt[2..], data[2..]);
        assert!(parse_rtp(&pkt).is_none_or(|h| h.payload_type == PayloadType(96)));
    }
});
