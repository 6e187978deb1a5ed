//! A conference wired into the session relay allocates nothing per packet or
//! per mixed frame: three endpoints (PCMA, PCMU, and an SRTP one), 10,000
//! frames, each one packet in from every peer through `on_packet` and one
//! mixed packet out to every peer through `poll_transmit`. (`allocation-counter`
//! is this binary's global allocator; it counts the measuring thread's
//! allocations only.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_media::anchor::RemoteMedia;
use voxgate_media::codec::CodecKind;
use voxgate_media::endpoint::{MAX_GENERATED, VoiceFormat};
use voxgate_media::latch::{ConferenceId, EndpointId, Membership, SessionRelay, SocketKind};
use voxgate_media::rtp::PayloadType;
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{self, CryptoSuite, MAX_OVERHEAD, SrtpContext};
use voxgate_media::{EndpointOp, MediaFormat};

const FRAMES: u32 = 10_000;
const PARTIES: u32 = 3;

fn peer(ep: u32) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10 + ep as u8], 4000))
}

fn format(ep: u32) -> MediaFormat {
    let (pt, codec) = if ep == 1 {
        (0, CodecKind::Pcmu)
    } else {
        (8, CodecKind::Pcma)
    };
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

/// Frame `k` of party `ep`'s peer into `p` (SRTP-protected by `srtp`).
fn packet(p: &mut [u8], ep: u32, k: u32, srtp: Option<&mut SrtpContext>) -> usize {
    p[0] = 0x80;
    p[1] = format(ep).voice.map_or(0, |v| v.payload_type.0);
    p[2..4].copy_from_slice(&(k as u16).to_be_bytes());
    p[4..8].copy_from_slice(&(k * 160).to_be_bytes());
    p[8..12].copy_from_slice(&(0x5000 + ep).to_be_bytes());
    for (i, b) in p[12..172].iter_mut().enumerate() {
        *b = ((i as u32 * (ep + 3) + k) % 251) as u8;
    }
    match srtp {
        Some(ctx) => ctx.protect_rtp(p, 172).unwrap_or(172),
        None => 172,
    }
}

#[test]
fn a_conference_allocates_nothing_per_packet_or_frame() {
    let t0 = Instant::now();
    let mut r = SessionRelay::new(Duration::from_secs(2));
    for ep in 0..PARTIES {
        r.add(EndpointId(ep), 1, Vec::new());
        r.set_remote(
            EndpointId(ep),
            &[RemoteMedia {
                rtp: Some(peer(ep)),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        r.handle_op(t0, EndpointId(ep), EndpointOp::Format(Some(format(ep))));
    }
    // Party 2 is an SRTP leg.
    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let offer = srtp::offer(&[suite]).expect("offer");
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, keys) = srtp::answer(values.iter().map(String::as_str), &[suite]).expect("answer");
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).expect("keys");
    let mut peer_out = keys.outbound().expect("context");
    r.set_srtp(EndpointId(2), &[Some(ours)]);
    for ep in 0..PARTIES {
        r.set_conference(
            t0,
            EndpointId(ep),
            Some(Membership::speaker(ConferenceId(1))),
        );
    }
    let mut rx = [0u8; 172 + MAX_OVERHEAD];
    let mut tx = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    let mut frame = |r: &mut SessionRelay, k: u32| -> u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(k) + 20);
        for ep in 0..PARTIES {
            let srtp = (ep == 2).then_some(&mut peer_out);
            let len = packet(&mut rx, ep, k, srtp);
            let forwarded = r.on_packet(
                EndpointId(ep),
                0,
                SocketKind::Rtp,
                peer(ep),
                &mut rx,
                len,
                now,
            );
            assert!(
                forwarded.is_none(),
                "a member's packet is mixed, not relayed"
            );
        }
        let mut sent = 0;
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut tx) {
            r.on_transmitted(&t, true);
            // voxgate's RTCP reports on the members' legs ride along.
            sent += u32::from(!t.rtcp);
        }
        sent
    };
    // Warm-up: the jitter buffers fill, every queue has its first slots.
    for k in 0..20 {
        frame(&mut r, k);
    }
    let mut sent = 0;
    let info = allocation_counter::measure(|| {
        for k in 20..20 + FRAMES {
            sent += frame(&mut r, k);
        }
    });
    assert_eq!(sent, PARTIES * FRAMES, "a packet per party and frame");
    assert_eq!(
        info.count_total, 0,
        "allocations during {FRAMES} frames of {PARTIES} packets in and out"
    );
    let srtp_leg = r.endpoint(EndpointId(2)).map(|e| *e.lines()[0].counters());
    let srtp_leg = srtp_leg.unwrap_or_default();
    assert_eq!(srtp_leg.srtp, 0, "every SRTP packet authenticated");
    assert_eq!(srtp_leg.rtp_packets, u64::from(FRAMES) + 20);
    let totals = r.mix_totals();
    assert_eq!(totals.frames, u64::from(FRAMES) + 20);
    assert_eq!(totals.late, 0);
}
