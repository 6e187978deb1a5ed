//! Transcoding and repacketising in the relay allocate nothing: 10,000
//! packets each way between a µ-law leg and an A-law leg bridged in a
//! `SessionRelay`, the A-law leg speaking SDES-SRTP (unprotect, convert,
//! protect); and 10,000 20 ms µ-law packets cut into 30 ms A-law frames for
//! a peer that asked for them, out of `poll_transmit`. The audio is checked
//! at the end, so a relay that stopped converting fails too.
//! (`allocation-counter` is this binary's global allocator; it counts the
//! measuring thread's allocations only.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_media::anchor::RemoteMedia;
use voxgate_media::codec::g711::{alaw_to_ulaw_in_place, ulaw_to_alaw_in_place};
use voxgate_media::codec::{CodecKind, Ptime};
use voxgate_media::endpoint::VoiceFormat;
use voxgate_media::latch::{EndpointId, SessionRelay, SocketKind};
use voxgate_media::rtp::PayloadType;
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{self, CryptoSuite, MAX_OVERHEAD};
use voxgate_media::{EndpointOp, MediaFormat};

const PACKETS: u32 = 10_000;
const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 1)))
}

fn format(codec: CodecKind, pt: u8) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(pt),
            codec,
        }),
        telephone_event: None,
        ptime: None,
        clock_rate: 8000,
    }
}

fn header(p: &mut [u8], pt: u8, seq: u16, ts: u32) {
    p[0] = 0x80;
    p[1] = pt;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
}

#[test]
fn mu_law_to_a_law_and_back_over_srtp_allocates_nothing() {
    let t0 = Instant::now();
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for (ep, addr, f) in [
        (A, "192.0.2.1:4000", format(CodecKind::Pcmu, 0)),
        (B, "192.0.2.2:6000", format(CodecKind::Pcma, 8)),
    ] {
        r.add(ep, 1, Vec::new());
        r.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(sa(addr)),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        r.handle_op(t0, ep, EndpointOp::Format(Some(f)));
    }
    r.bridge(A, B);
    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let offer = srtp::offer(&[suite]).expect("keys");
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).expect("answer");
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).expect("accepted");
    r.set_srtp(B, &[Some(ours)]);
    let mut b_tx = peer.outbound().expect("context");
    let (a_src, b_src) = (sa("192.0.2.1:4000"), sa("192.0.2.2:6000"));
    let payload: [u8; 160] = std::array::from_fn(|i| (i * 37) as u8);
    // B's peer's SRTP packets, protected beforehand: the peer's work is not measured.
    let b_wire: Vec<Vec<u8>> = (0..PACKETS)
        .map(|i| {
            let mut p = vec![0u8; 172 + MAX_OVERHEAD];
            header(&mut p, 8, i as u16, i * 160);
            p[12..172].copy_from_slice(&payload);
            let n = b_tx.protect_rtp(&mut p, 172).expect("protected");
            p.truncate(n);
            p
        })
        .collect();
    let mut buf = [0u8; 1500];
    let mut forwarded = 0;
    let mut last_a = [0u8; 172];
    let mut last_b_len = 0;
    let info = allocation_counter::measure(|| {
        for i in 0..PACKETS {
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            header(&mut buf, 0, i as u16, i * 160);
            buf[12..172].copy_from_slice(&payload);
            if let Some(f) = r.on_packet(A, 0, SocketKind::Rtp, a_src, &mut buf, 172, now) {
                forwarded += u32::from(f.transcoded);
                last_b_len = f.len;
            }
            let wire = &b_wire[i as usize];
            buf[..wire.len()].copy_from_slice(wire);
            if let Some(f) = r.on_packet(B, 0, SocketKind::Rtp, b_src, &mut buf, wire.len(), now) {
                forwarded += u32::from(f.transcoded);
                last_a.copy_from_slice(&buf[..172]);
            }
        }
    });
    assert_eq!(forwarded, 2 * PACKETS, "every packet converted");
    assert_eq!(last_b_len, 172 + suite.rtp_tag_len(), "protected for B");
    let mut expected = payload;
    alaw_to_ulaw_in_place(&mut expected);
    assert_eq!(last_a[1], 0, "µ-law's payload type");
    assert_eq!(last_a[12..], expected, "B's A-law as µ-law");
    let mut to_b = payload;
    ulaw_to_alaw_in_place(&mut to_b);
    assert_ne!(to_b, payload, "the conversion changes these codes");
    assert_eq!(
        info.count_total, 0,
        "allocations during {PACKETS} packets each way"
    );
}

#[test]
fn repacketising_twenty_ms_into_thirty_allocates_nothing() {
    use voxgate_media::endpoint::MAX_GENERATED;

    let t0 = Instant::now();
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for (ep, addr, f) in [
        (A, "192.0.2.1:4000", format(CodecKind::Pcmu, 0)),
        (
            B,
            "192.0.2.2:6000",
            MediaFormat {
                ptime: Some(Ptime(30)),
                ..format(CodecKind::Pcma, 8)
            },
        ),
    ] {
        r.add(ep, 1, Vec::new());
        r.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(sa(addr)),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        r.handle_op(t0, ep, EndpointOp::Format(Some(f)));
    }
    r.bridge(A, B);
    let src = sa("192.0.2.1:4000");
    let payload: [u8; 160] = std::array::from_fn(|i| (i * 37) as u8);
    let mut buf = [0u8; 1500];
    let mut out = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    let mut frames = 0u32;
    let mut last = [0u8; 252];
    // The first packet creates the repacketiser's state (inline, no allocation either).
    let info = allocation_counter::measure(|| {
        for i in 0..PACKETS {
            let now = t0 + Duration::from_millis(20 * u64::from(i));
            header(&mut buf, 0, i as u16, i * 160);
            buf[12..172].copy_from_slice(&payload);
            let forwarded = r.on_packet(A, 0, SocketKind::Rtp, src, &mut buf, 172, now);
            assert!(forwarded.is_none(), "repacketised, not relayed");
            while let Some(t) = r.poll_transmit(now, &mut out) {
                frames += 1;
                last.copy_from_slice(&out[..t.len.min(252)]);
            }
        }
    });
    assert_eq!(frames, PACKETS * 2 / 3, "20 ms in, 30 ms out");
    assert_eq!(last[1] & 0x7f, 8);
    let mut expected = payload;
    ulaw_to_alaw_in_place(&mut expected);
    // Frame k holds input bytes 240k.. of a 160-periodic stream.
    let k = (frames - 1) as usize;
    for (j, &b) in last[12..].iter().enumerate() {
        assert_eq!(b, expected[(240 * k + j) % 160], "byte {j}");
    }
    assert_eq!(info.count_total, 0, "allocations during {PACKETS} packets");
}
