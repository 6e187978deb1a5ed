//! Repacketising across a bridge: a partner whose G.711 frames are not the
//! size the receiving leg's peer asked for (`a=ptime`) has them cut into
//! that size, sent through `poll_transmit` as one stream; events and frames
//! of the right size pass as before.

use std::time::Duration;

use super::*;
use crate::codec::g711::{linear_to_ulaw, ulaw_to_alaw_in_place};
use crate::codec::{CodecKind, Ptime};
use crate::endpoint::{
    EndpointOp, EventFormat, FLUSH_AFTER, MAX_GENERATED, MediaFormat, Transmit, VoiceFormat,
};
use crate::rtp::{PayloadType, parse_rtp};
use crate::sdp::Direction;
use crate::srtp::{self, CryptoSuite, MAX_OVERHEAD};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "10.0.0.1:4000";
const B_PEER: &str = "192.0.2.2:6000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn format(codec: CodecKind, pt: u8, ptime: u16) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(pt),
            codec,
        }),
        telephone_event: Some(EventFormat {
            receive: PayloadType(101),
            send: PayloadType(101),
            clock_rate: 8000,
        }),
        ptime: Some(Ptime(ptime)),
        clock_rate: 8000,
    }
}

fn relay(a: MediaFormat, b: MediaFormat, t0: Instant) -> SessionRelay {
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
        r.handle_op(t0, ep, EndpointOp::Format(Some(f)));
    }
    r.bridge(A, B);
    r
}

/// Packet `k` of A's peer: `samples` per packet, bytes counting up from
/// its timestamp (mod 251) so that content and place can be checked.
fn packet(pt: u8, k: u32, samples: u32) -> Vec<u8> {
    let ts = 1000 + k * samples;
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&(500 + k as u16).to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    p.extend((0..samples).map(|i| ((ts + i) % 251) as u8));
    p
}

fn feed(r: &mut SessionRelay, ep: EndpointId, pkt: &[u8], now: Instant) -> Option<Forward> {
    let mut buf = vec![0u8; pkt.len() + MAX_OVERHEAD];
    buf[..pkt.len()].copy_from_slice(pkt);
    let src = if ep == A { A_PEER } else { B_PEER };
    r.on_packet(ep, 0, SocketKind::Rtp, sa(src), &mut buf, pkt.len(), now)
}

/// Everything `poll_transmit` has at `now`.
fn transmits(r: &mut SessionRelay, now: Instant) -> Vec<(Transmit, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    while let Some(t) = r.poll_transmit(now, &mut buf) {
        out.push((t, buf[..t.len].to_vec()));
    }
    out
}

#[test]
fn twenty_ms_frames_reach_a_thirty_ms_peer_as_one_stream() {
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 30),
        t0,
    );
    let mut sent = Vec::new();
    for k in 0..12 {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        assert_eq!(feed(&mut r, A, &packet(8, k, 160), now), None, "taken in");
        sent.extend(transmits(&mut r, now));
    }
    assert_eq!(sent.len(), 8, "12 x 20 ms = 8 x 30 ms");
    let input: Vec<u8> = (0..12)
        .flat_map(|k| packet(8, k, 160)[12..].to_vec())
        .collect();
    for (i, (t, p)) in sent.iter().enumerate() {
        assert_eq!((t.ep, t.addr, t.len), (B, sa(B_PEER), 252));
        let h = parse_rtp(p).unwrap();
        assert_eq!(h.payload_type, PayloadType(8));
        assert_eq!(h.seq, 500 + i as u16, "numbering from the first input's");
        assert_eq!(h.timestamp, 1000 + 240 * i as u32);
        assert_eq!(h.ssrc.0, 0x0a0b_0c0d);
        assert_eq!(p[12..], input[240 * i..240 * (i + 1)], "frame {i}");
    }
    assert_eq!(r.poll_timeout(), None, "nothing part-filled");
}

#[test]
fn thirty_ms_mu_law_reaches_a_twenty_ms_a_law_peer_transcoded() {
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcmu, 0, 30),
        format(CodecKind::Pcma, 8, 20),
        t0,
    );
    let tone: Vec<u8> = (0..240 * 4)
        .map(|n| {
            let t = f64::from(n) / 8000.0;
            linear_to_ulaw((8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16)
        })
        .collect();
    let mut sent = Vec::new();
    for k in 0..4u32 {
        let now = t0 + Duration::from_millis(30 * u64::from(k));
        let mut p = packet(0, k, 240);
        p[12..].copy_from_slice(&tone[240 * k as usize..240 * (k as usize + 1)]);
        assert_eq!(feed(&mut r, A, &p, now), None);
        sent.extend(transmits(&mut r, now));
    }
    assert_eq!(sent.len(), 6, "4 x 30 ms = 6 x 20 ms");
    let mut alaw = tone.clone();
    ulaw_to_alaw_in_place(&mut alaw);
    for (i, (_, p)) in sent.iter().enumerate() {
        assert_eq!(p.len(), 172);
        assert_eq!(p[1] & 0x7f, 8);
        assert_eq!(p[12..], alaw[160 * i..160 * (i + 1)]);
    }
    assert_eq!(r.endpoint(B).unwrap().lines()[0].counters().transcoded, 4);
}

#[test]
fn frames_of_the_right_size_and_events_pass_at_once() {
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 20),
        t0,
    );
    assert!(feed(&mut r, A, &packet(8, 0, 160), t0).is_some());
    assert!(transmits(&mut r, t0).is_empty());
    // To a 30 ms peer: voice is cut, events go at once, as they are.
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 30),
        t0,
    );
    assert_eq!(feed(&mut r, A, &packet(8, 0, 160), t0), None);
    let event = [
        0x80, 101, 0, 9, 0, 0, 3, 0xe8, 0x0a, 0x0b, 0x0c, 0x0d, 5, 10, 0, 160,
    ];
    let f = feed(&mut r, A, &event, t0).unwrap();
    assert_eq!((f.ep, f.len), (B, 16));
}

#[test]
fn a_part_filled_frame_is_completed_with_silence_when_the_input_stops() {
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 30),
        t0,
    );
    assert_eq!(feed(&mut r, A, &packet(8, 0, 160), t0), None);
    assert!(transmits(&mut r, t0).is_empty());
    assert_eq!(r.poll_timeout(), Some(t0 + FLUSH_AFTER));
    assert!(transmits(&mut r, t0 + FLUSH_AFTER - Duration::from_millis(1)).is_empty());
    let sent = transmits(&mut r, t0 + FLUSH_AFTER);
    assert_eq!(sent.len(), 1);
    let p = &sent[0].1;
    assert_eq!(p[12..172], packet(8, 0, 160)[12..]);
    assert!(p[172..252].iter().all(|&b| b == 0xd5), "A-law silence");
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_new_source_goes_on_with_the_numbering() {
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 10),
        t0,
    );
    assert_eq!(feed(&mut r, A, &packet(8, 0, 160), t0), None);
    let first = transmits(&mut r, t0);
    assert_eq!(first.len(), 2);
    let mut other = packet(8, 7, 160);
    other[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    assert_eq!(feed(&mut r, A, &other, t0), None);
    let next = transmits(&mut r, t0);
    assert_eq!(next.len(), 2);
    let seqs: Vec<u16> = first
        .iter()
        .chain(&next)
        .map(|(_, p)| parse_rtp(p).unwrap().seq)
        .collect();
    assert_eq!(seqs, [500, 501, 502, 503]);
    assert_eq!(parse_rtp(&next[0].1).unwrap().ssrc.0, 0x0102_0304);
}

#[test]
fn repacketised_frames_to_an_srtp_peer_are_protected() {
    let suite = CryptoSuite::AeadAes128Gcm;
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap();
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 20),
        format(CodecKind::Pcma, 8, 30),
        t0,
    );
    r.set_srtp(B, &[Some(ours)]);
    let mut b_rx = peer.inbound().unwrap();
    feed(&mut r, A, &packet(8, 0, 160), t0);
    feed(&mut r, A, &packet(8, 1, 160), t0);
    let sent = transmits(&mut r, t0);
    assert_eq!(sent.len(), 1);
    let mut wire = sent[0].1.clone();
    assert_eq!(wire.len(), 252 + suite.rtp_tag_len());
    let n = b_rx.unprotect_rtp(&mut wire, sent[0].1.len()).unwrap();
    assert_eq!(n, 252);
    assert_eq!(
        wire[12..252],
        packet(8, 0, 160)[12..]
            .iter()
            .chain(&packet(8, 1, 160)[12..92])
            .copied()
            .collect::<Vec<_>>()[..]
    );
}

#[test]
fn a_peer_that_named_no_ptime_gets_frames_as_they_come() {
    // RFC 3551 §4.2: a receiver takes any packet size; only an a=ptime asks.
    let t0 = Instant::now();
    let mut r = relay(
        format(CodecKind::Pcma, 8, 30),
        MediaFormat {
            ptime: None,
            ..format(CodecKind::Pcma, 8, 20)
        },
        t0,
    );
    let f = feed(&mut r, A, &packet(8, 0, 240), t0).unwrap();
    assert_eq!((f.ep, f.len), (B, 252));
    assert!(transmits(&mut r, t0).is_empty());
}
