//! Transcoding across a bridge: a leg that negotiated µ-law bridged with one
//! that negotiated A-law gets its partner's voice converted in place, with
//! its own payload type; events, other payload types and legs whose codecs
//! agree pass as before; an SRTP leg has the plain packet converted.

use std::time::Duration;

use super::*;
use crate::codec::CodecKind;
use crate::codec::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use crate::endpoint::{EndpointOp, EventFormat, MediaFormat, VoiceFormat};
use crate::rtp::PayloadType;
use crate::sdp::Direction;
use crate::srtp::{self, CryptoSuite, MAX_OVERHEAD};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "10.0.0.1:4000";
const B_PEER: &str = "192.0.2.2:6000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn format(codec: CodecKind, pt: u8, event: Option<u8>) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(pt),
            codec,
        }),
        telephone_event: event.map(|pt| EventFormat {
            receive: PayloadType(pt),
            send: PayloadType(pt),
            clock_rate: 8000,
        }),
        ptime: None,
        clock_rate: 8000,
    }
}

/// A (µ-law, events 101) bridged with B (A-law, events 96).
fn relay(a: Option<MediaFormat>, b: Option<MediaFormat>) -> SessionRelay {
    let now = Instant::now();
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for (ep, peer, f) in [(A, A_PEER, a), (B, B_PEER, b)] {
        r.add(ep, 1, Vec::new());
        r.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(sa(peer)),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        r.handle_op(now, ep, EndpointOp::Format(f));
    }
    r.bridge(A, B);
    r
}

fn mu_a() -> SessionRelay {
    relay(
        Some(format(CodecKind::Pcmu, 0, Some(101))),
        Some(format(CodecKind::Pcma, 8, Some(96))),
    )
}

/// 20 ms of a 1 kHz tone.
fn tone() -> [i16; 160] {
    std::array::from_fn(|n| {
        let t = n as f64 / 8000.0;
        (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
    })
}

/// A packet of `pt` carrying `payload`, with the marker set.
fn packet(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x80 | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn feed(r: &mut SessionRelay, ep: EndpointId, src: &str, pkt: &[u8]) -> Option<(Forward, Vec<u8>)> {
    let mut buf = vec![0u8; pkt.len() + MAX_OVERHEAD];
    buf[..pkt.len()].copy_from_slice(pkt);
    let f = r.on_packet(
        ep,
        0,
        SocketKind::Rtp,
        sa(src),
        &mut buf,
        pkt.len(),
        Instant::now(),
    )?;
    Some((f, buf[..f.len].to_vec()))
}

fn transcoded(r: &SessionRelay, ep: EndpointId) -> u64 {
    r.endpoint(ep).unwrap().lines()[0].counters().transcoded
}

/// The largest difference between `pcm` and `codes` decoded with `decode`.
fn error(pcm: &[i16], codes: &[u8], decode: fn(u8) -> i16) -> i32 {
    pcm.iter()
        .zip(codes)
        .map(|(&s, &c)| (i32::from(decode(c)) - i32::from(s)).abs())
        .max()
        .unwrap()
}

#[test]
fn mu_law_becomes_a_law_with_the_receivers_payload_type() {
    let mut r = mu_a();
    let pcm = tone();
    let ulaw: Vec<u8> = pcm.iter().map(|&s| linear_to_ulaw(s)).collect();
    let (f, out) = feed(&mut r, A, A_PEER, &packet(0, 7, &ulaw)).unwrap();
    assert_eq!(
        (f.ep, f.addr, f.len, f.transcoded),
        (B, sa(B_PEER), 172, true)
    );
    assert_eq!(out[1], 0x80 | 8, "PCMA's payload type, the marker kept");
    assert_eq!(
        out[2..12],
        packet(0, 7, &[])[2..12],
        "the rest of the header untouched"
    );
    // The tone is intact: within A-law's quantisation of µ-law's.
    assert!(error(&pcm, &out[12..], alaw_to_linear) <= 256, "{out:?}");
    assert_eq!(
        transcoded(&r, B),
        1,
        "counted on the leg it was converted for"
    );
    assert_eq!(transcoded(&r, A), 0);
}

#[test]
fn a_law_becomes_mu_law_the_other_way() {
    let mut r = mu_a();
    let pcm = tone();
    let alaw: Vec<u8> = pcm.iter().map(|&s| linear_to_alaw(s)).collect();
    let (f, out) = feed(&mut r, B, B_PEER, &packet(8, 1, &alaw)).unwrap();
    assert_eq!((f.ep, f.transcoded), (A, true));
    assert_eq!(out[1] & 0x7f, 0);
    assert!(error(&pcm, &out[12..], ulaw_to_linear) <= 256);
    assert_eq!(transcoded(&r, A), 1);
}

#[test]
fn events_keep_their_payload_and_have_their_type_mapped() {
    let mut r = mu_a();
    let event = [5u8, 0x0a, 0x01, 0x40];
    let (f, out) = feed(&mut r, A, A_PEER, &packet(101, 1, &event)).unwrap();
    assert!(!f.transcoded);
    assert_eq!(out[1] & 0x7f, 96, "B's telephone-event type");
    assert_eq!(out[12..], event);
    // Comfort noise (13) and unknown types pass as they are.
    let (f, out) = feed(&mut r, A, A_PEER, &packet(13, 2, &[40])).unwrap();
    assert!(!f.transcoded);
    assert_eq!(out, packet(13, 2, &[40]));
}

#[test]
fn a_static_law_the_sender_switched_to_is_converted_too() {
    // B negotiated A-law but sends µ-law (both were in its answer): A,
    // on µ-law, gets it as it is; had A been on A-law, converted.
    let mut r = mu_a();
    let (f, out) = feed(&mut r, B, B_PEER, &packet(0, 1, &[0xff; 160])).unwrap();
    assert!(!f.transcoded);
    assert_eq!(out, packet(0, 1, &[0xff; 160]));
    let mut r = relay(
        Some(format(CodecKind::Pcma, 8, None)),
        Some(format(CodecKind::Pcma, 8, None)),
    );
    let (f, out) = feed(&mut r, B, B_PEER, &packet(0, 1, &[0xff; 160])).unwrap();
    assert!(f.transcoded);
    assert_eq!(out[1] & 0x7f, 8);
    assert_eq!(out[12], 0xd5, "µ-law silence is A-law silence");
}

#[test]
fn legs_that_agree_or_that_voxgate_cannot_read_pass_untouched() {
    let same = |c| Some(format(c, if c == CodecKind::Pcmu { 0 } else { 8 }, None));
    let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
    for (a, b) in [
        (same(CodecKind::Pcmu), same(CodecKind::Pcmu)),
        (same(CodecKind::Pcma), same(CodecKind::Pcma)),
        // No format (not known yet), or no voice voxgate reads (DTLS-SRTP, G.729).
        (None, same(CodecKind::Pcma)),
        (same(CodecKind::Pcmu), None),
        (
            Some(MediaFormat {
                voice: None,
                ..format(CodecKind::Pcmu, 0, None)
            }),
            same(CodecKind::Pcma),
        ),
    ] {
        let mut r = relay(a, b);
        let pt = a.and_then(|f| f.voice).map_or(0, |v| v.payload_type.0);
        let pkt = packet(pt, 3, &payload);
        let (f, out) = feed(&mut r, A, A_PEER, &pkt).unwrap();
        assert!(!f.transcoded, "{a:?} {b:?}");
        assert_eq!(out, pkt, "{a:?} {b:?}");
    }
}

#[test]
fn csrcs_extensions_and_padding_are_not_converted() {
    let mut r = mu_a();
    // One CSRC, a one-word extension, 160 payload octets, 4 of padding.
    let mut pkt = vec![0xb1, 0];
    pkt.extend_from_slice(&[0, 1, 0, 0, 0, 160, 1, 2, 3, 4]);
    pkt.extend_from_slice(&[9, 9, 9, 9]); // CSRC
    pkt.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension
    pkt.extend_from_slice(&[0xff; 160]);
    pkt.extend_from_slice(&[0, 0, 0, 4]);
    let (f, out) = feed(&mut r, A, A_PEER, &pkt).unwrap();
    assert!(f.transcoded);
    assert_eq!(out[..2], [0xb1, 8]);
    assert_eq!(out[2..24], pkt[2..24], "header, CSRC and extension kept");
    assert!(
        out[24..184].iter().all(|&c| c == 0xd5),
        "the payload converted"
    );
    assert_eq!(out[184..], [0, 0, 0, 4], "padding kept");
}

#[test]
fn an_srtp_leg_has_the_plain_packet_converted() {
    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap();
    // B (A-law) speaks SRTP; A (µ-law) plain RTP.
    let mut r = mu_a();
    r.set_srtp(B, &[Some(ours)]);
    let (mut b_tx, mut b_rx) = (peer.outbound().unwrap(), peer.inbound().unwrap());
    let pcm = tone();
    // A → B: converted, then protected for B's peer.
    let ulaw: Vec<u8> = pcm.iter().map(|&s| linear_to_ulaw(s)).collect();
    let (f, wire) = feed(&mut r, A, A_PEER, &packet(0, 1, &ulaw)).unwrap();
    assert!(f.transcoded);
    assert_eq!(f.len, 172 + suite.rtp_tag_len());
    let mut plain = wire.clone();
    let n = b_rx.unprotect_rtp(&mut plain, wire.len()).unwrap();
    assert_eq!(plain[1] & 0x7f, 8);
    assert!(error(&pcm, &plain[12..n], alaw_to_linear) <= 256);
    // B → A: unprotected, then converted.
    let alaw: Vec<u8> = pcm.iter().map(|&s| linear_to_alaw(s)).collect();
    let mut wire = packet(8, 1, &alaw);
    wire.resize(172 + MAX_OVERHEAD, 0);
    let n = b_tx.protect_rtp(&mut wire, 172).unwrap();
    let (f, out) = feed(&mut r, B, B_PEER, &wire[..n]).unwrap();
    assert!(f.transcoded);
    assert_eq!(out.len(), 172);
    assert_eq!(out[1] & 0x7f, 0);
    assert!(error(&pcm, &out[12..], ulaw_to_linear) <= 256);
}
