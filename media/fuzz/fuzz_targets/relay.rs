//! The whole per-packet path of a session: arbitrary datagrams from the
//! signalled peers or from strangers, on RTP or RTCP sockets, through
//! `SessionRelay::on_packet` of two bridged endpoints — A plain (PCMA,
//! telephone-event 101), B SDES-SRTP (PCMU, telephone-event 96, a fixed key
//! each way) — so classification, latching, unprotect, DTMF detection, the
//! payload-type map, renumbering into voxgate's stream and protect all see
//! them; with playbacks, digits and comfort silence switched on and off and
//! the engine's timers and transmits run between packets. Any panic is a bug:
//! every byte of it comes from the network.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voxgate_media::codec::CodecKind;
use voxgate_media::dtmf::Digit;
use voxgate_media::endpoint::{EventFormat, MAX_GENERATED, VoiceFormat};
use voxgate_media::latch::SessionRelay;
use voxgate_media::play::{PlaybackId, Prompt, Source};
use voxgate_media::rtp::PayloadType;
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{CryptoSuite, MAX_OVERHEAD, MasterKey, SdesKeys};
use voxgate_media::{EndpointId, EndpointOp, MediaFormat, RemoteMedia, SocketKind};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);

fn remote(rtp: SocketAddr) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(rtp),
        rtcp: Some(SocketAddr::new(rtp.ip(), rtp.port() + 1)),
        rtcp_mux: false,
        direction: Direction::SendRecv,
    }
}

fn format(codec: CodecKind, pt: u8, event: u8) -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(pt),
            codec,
        }),
        telephone_event: Some(EventFormat {
            receive: PayloadType(event),
            send: PayloadType(event),
            clock_rate: 8000,
        }),
        ptime: None,
        clock_rate: 8000,
    }
}

fn keys(suite: CryptoSuite) -> Option<SdesKeys> {
    let key = |b: u8| MasterKey::from_bytes(suite, &[b; 30][..16 + suite.salt_len()]).ok();
    Some(SdesKeys {
        suite,
        local: key(0x11)?,
        local_lifetime: None,
        local_mki: None,
        remote: key(0x22)?,
        remote_lifetime: None,
        remote_mki: None,
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&suite, data)) = data.split_first() else {
        return;
    };
    let suite = CryptoSuite::ALL[usize::from(suite) % CryptoSuite::ALL.len()];
    let a_peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let b_peer: SocketAddr = "192.0.2.2:6000".parse().unwrap();
    let stranger: SocketAddr = "198.51.100.9:7000".parse().unwrap();
    let t0 = Instant::now();
    let mut r = SessionRelay::new(Duration::from_millis(200));
    r.add(A, 1, Vec::new());
    r.add(B, 1, Vec::new());
    r.set_remote(A, &[remote(a_peer)]);
    r.set_remote(B, &[remote(b_peer)]);
    r.handle_op(t0, A, EndpointOp::Format(Some(format(CodecKind::Pcma, 8, 101))));
    r.handle_op(t0, B, EndpointOp::Format(Some(format(CodecKind::Pcmu, 0, 96))));
    r.set_srtp(B, &[keys(suite)]);
    r.bridge(A, B);

    // Records: [selector][gap][length][length bytes of datagram].
    let mut now = t0;
    let mut rest = data;
    let mut buf = vec![0u8; 1500 + MAX_OVERHEAD];
    let mut out = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    while let [sel, gap, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(u64::from(*gap));
        let ep = if sel & 1 == 0 { A } else { B };
        match sel >> 5 {
            // Commands to the endpoint's own media between packets.
            0 if sel & 2 != 0 => r.handle_op(
                now,
                ep,
                EndpointOp::Play {
                    id: PlaybackId(u64::from(*gap)),
                    source: Source::Prompt(Prompt::from_samples(vec![1000i16; 400])),
                    barge_in: sel & 4 != 0,
                },
            ),
            0 if sel & 4 != 0 => r.handle_op(
                now,
                ep,
                EndpointOp::SendDigits {
                    digits: datagram.iter().filter_map(|&d| Digit::from_char(d as char)).collect(),
                    duration: Duration::from_millis(u64::from(*len)),
                },
            ),
            0 if sel & 8 != 0 => r.handle_op(now, ep, EndpointOp::ComfortSilence(sel & 16 != 0)),
            0 => r.handle_op(now, ep, EndpointOp::Stop),
            _ => {
                let socket = if sel & 2 == 0 { SocketKind::Rtp } else { SocketKind::Rtcp };
                let src = match (sel & 4 != 0, ep) {
                    (true, _) => stranger,
                    (false, e) if e == A => a_peer,
                    (false, _) => b_peer,
                };
                buf[..n].copy_from_slice(datagram);
                if let Some(f) = r.on_packet(ep, 0, socket, src, &mut buf, n, now) {
                    assert!(f.len <= buf.len());
                    r.on_sent(&f, true);
                }
            }
        }
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut out) {
            assert!(t.len <= out.len());
            r.on_transmitted(&t, true);
        }
        while r.poll_event().is_some() {}
    }
});
