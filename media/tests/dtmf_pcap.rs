//! The RFC 4733 captures shipped with sip-tester (SIPp), fed to the
//! detector: each digit reported once, in order. And sip-tester's G.711
//! speech capture, decoded and fed to the in-band detector: no digit.
//!
//! The captures are GPL-2+ (sip-tester's licence) and voxgate is Apache-2.0,
//! so they are read where Debian's `sip-tester` package puts them
//! (`/usr/share/sip-tester`, or `$VOXGATE_SIPP_PCAP_DIR`) rather than copied
//! here; without them the tests say so and pass.

// Test fixtures: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use voxgate_media::codec::g711::decode_alaw;
use voxgate_media::dtmf::{
    DetectorConfig, Digit, DigitEvent, EndCause, InbandConfig, InbandDetector, Rfc4733Detector,
};
use voxgate_media::rtp::{PayloadType, RTP_HEADER_LEN, parse_rtp};

fn pcap_dir() -> PathBuf {
    std::env::var_os("VOXGATE_SIPP_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/sip-tester"))
}

/// Reads a file or explains why the test is skipped.
fn read(name: &str) -> Option<Vec<u8>> {
    let path = pcap_dir().join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            eprintln!(
                "SKIPPED: {} not readable ({e}); install Debian's sip-tester or set VOXGATE_SIPP_PCAP_DIR",
                path.display()
            );
            None
        }
    }
}

/// The UDP payloads of a classic pcap file (Ethernet or Linux cooked
/// capture, IPv4 or IPv6), with their capture times in microseconds.
fn udp_payloads(file: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let magic = u32::from_le_bytes(file[..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 => true,
        0xd4c3_b2a1 => false,
        m => panic!("not a classic microsecond pcap (magic {m:#x})"),
    };
    let u32_at = |b: &[u8], at: usize| {
        let w: [u8; 4] = b[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = u32_at(file, 20);
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= file.len() {
        let (sec, usec, incl) = (
            u32_at(file, off),
            u32_at(file, off + 4),
            u32_at(file, off + 8),
        );
        let frame = &file[off + 16..off + 16 + incl as usize];
        off += 16 + incl as usize;
        let (ethertype, l3) = match linktype {
            1 => (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..]),
            113 => (u16::from_be_bytes([frame[14], frame[15]]), &frame[16..]),
            other => panic!("link type {other} not handled"),
        };
        let l4 = match ethertype {
            0x0800 if l3[9] == 17 => &l3[usize::from(l3[0] & 0x0f) * 4..],
            0x86dd if l3[6] == 17 => &l3[40..],
            _ => continue,
        };
        let udp_len = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
        out.push((
            u64::from(sec) * 1_000_000 + u64::from(usec),
            l4[8..udp_len].to_vec(),
        ));
    }
    out
}

#[test]
fn sip_tester_rfc_4733_captures_give_each_digit_once_in_order() {
    let files = [
        ("0", Digit::D0),
        ("1", Digit::D1),
        ("2", Digit::D2),
        ("3", Digit::D3),
        ("4", Digit::D4),
        ("5", Digit::D5),
        ("6", Digit::D6),
        ("7", Digit::D7),
        ("8", Digit::D8),
        ("9", Digit::D9),
        ("star", Digit::Star),
        ("pound", Digit::Pound),
    ];
    let mut detector = Rfc4733Detector::new(DetectorConfig::new(PayloadType(101), 8000));
    let t0 = Instant::now();
    let mut first_capture = None;
    let mut events = Vec::new();
    let mut packets = 0;
    for (name, _) in files {
        let Some(file) = read(&format!("dtmf_2833_{name}.pcap")) else {
            return;
        };
        for (at, payload) in udp_payloads(&file) {
            let first = *first_capture.get_or_insert(at);
            let now = t0 + Duration::from_micros(at.saturating_sub(first));
            let header = parse_rtp(&payload).expect("RTP");
            detector.handle_packet(now, &header, &payload[RTP_HEADER_LEN..]);
            detector.handle_timeout(now);
            events.extend(std::iter::from_fn(|| detector.poll_event()));
            packets += 1;
        }
    }
    assert_eq!(packets, 120);
    let want: Vec<_> = files
        .iter()
        .flat_map(|&(_, digit)| {
            [
                DigitEvent::Start { digit },
                // Each capture: 2240 samples at 8 kHz, volume 10, three end packets.
                DigitEvent::End {
                    digit,
                    duration: Duration::from_millis(280),
                    volume: Some(voxgate_media::dtmf::Volume(10)),
                    cause: EndCause::EndBit,
                },
            ]
        })
        .collect();
    assert_eq!(events, want);
}

#[test]
fn sip_tester_speech_capture_holds_no_in_band_digit() {
    let Some(file) = read("g711a.pcap") else {
        return;
    };
    let mut detector = InbandDetector::new(InbandConfig::default());
    let now = Instant::now();
    let mut pcm = [0i16; 1024];
    let mut frames = 0;
    for (_, payload) in udp_payloads(&file) {
        let Some(h) = parse_rtp(&payload) else {
            continue;
        };
        if h.payload_type != PayloadType(8) {
            continue;
        }
        let audio = &payload[RTP_HEADER_LEN..];
        decode_alaw(audio, &mut pcm);
        detector.handle_pcm(now, &pcm[..audio.len().min(pcm.len())]);
        frames += 1;
    }
    assert!(frames > 100, "{frames} frames");
    let digits: Vec<_> = std::iter::from_fn(|| detector.poll_event()).collect();
    assert_eq!(digits, [], "speech taken for DTMF");
}
