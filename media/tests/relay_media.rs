//! The engine behind the tokio shell, over loopback sockets: a prompt played
//! to a peer arrives as paced RTP from the endpoint's port, and digits the
//! peer sends come out of the session's event channel. (The timing itself is
//! checked on a virtual clock in the crate's unit tests; here only that the
//! shell drives it.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};
use voxgate_media::codec::{CodecKind, Ptime};
use voxgate_media::dtmf::{Digit, DigitSource};
use voxgate_media::endpoint::{EventFormat, VoiceFormat};
use voxgate_media::play::{PlaybackDone, PlaybackId, Prompt, Source, StopReason};
use voxgate_media::rtp::{PayloadType, parse_rtp};
use voxgate_media::sdp::Direction;
use voxgate_media::{
    EndpointOp, EndpointSpec, EngineOptions, MediaEngine, MediaEvent, MediaFormat, RegionAddress,
    RegionSpec, RemoteMedia,
};

const WAIT: Duration = Duration::from_secs(2);

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::new(
        &[RegionSpec {
            name: "r".to_owned(),
            addresses: vec![RegionAddress {
                bind: "127.0.0.1".parse().unwrap(),
                advertise: None,
            }],
            port_min,
            port_max: port_min + 99,
        }],
        EngineOptions::default(),
    )
}

fn format() -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(8),
            codec: CodecKind::Pcma,
        }),
        telephone_event: Some(EventFormat {
            receive: PayloadType(101),
            send: PayloadType(101),
            clock_rate: 8000,
        }),
        ptime: Ptime::DEFAULT,
        clock_rate: 8000,
    }
}

#[tokio::test]
async fn a_prompt_reaches_the_peer_and_its_digits_come_back() {
    let engine = engine(27000);
    let session = engine.session().unwrap();
    let mut events = session.take_events().unwrap();
    assert!(session.take_events().is_none(), "taken once");
    let ep = session
        .add_endpoint(EndpointSpec {
            region: "r",
            lines: 1,
            peer: Some("127.0.0.1".parse().unwrap()),
            allowed_sources: Vec::new(),
        })
        .unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = session.local(ep)[0];
    session.set_remote(
        ep,
        &[RemoteMedia {
            rtp: Some(peer.local_addr().unwrap()),
            rtcp: None,
            rtcp_mux: true,
            direction: Direction::SendRecv,
        }],
    );
    session.media_op(ep, EndpointOp::Format(Some(format())));
    let samples: Vec<i16> = (0..1600).map(|i| ((i % 40) as i16 - 20) * 500).collect();
    session.media_op(
        ep,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(Prompt::from_samples(samples)),
            barge_in: false,
        },
    );
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    let start = Instant::now();
    while got.len() < 10 {
        let (n, from) = timeout(WAIT, peer.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            from.port(),
            local.rtp_port,
            "from the endpoint's own RTP port"
        );
        assert_eq!(n, 172);
        got.push(parse_rtp(&buf[..n]).unwrap());
    }
    // Ten 20 ms frames take 180 ms from the first to the last, not a burst.
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(got[0].marker);
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(160));
        assert_eq!(w[1].payload_type, PayloadType(8));
    }
    let done = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        done,
        (
            ep,
            MediaEvent::PlaybackDone(PlaybackDone {
                id: PlaybackId(1),
                reason: StopReason::Finished
            })
        )
    );

    // The peer presses 7: one update, three end packets.
    let to = std::net::SocketAddr::new(local.addr, local.rtp_port);
    for (i, end) in [false, true, true, true].into_iter().enumerate() {
        let mut p = vec![0x80, 101 | if i == 0 { 0x80 } else { 0 }];
        p.extend_from_slice(&(10 + i as u16).to_be_bytes());
        p.extend_from_slice(&4000u32.to_be_bytes());
        p.extend_from_slice(&0x5555u32.to_be_bytes());
        p.extend_from_slice(&[7, if end { 0x8a } else { 0x0a }, 0x03, 0x20]);
        peer.send_to(&p, to).await.unwrap();
    }
    let digit = timeout(WAIT, events.recv()).await.unwrap().unwrap();
    assert_eq!(
        digit,
        (
            ep,
            MediaEvent::Digit {
                digit: Digit::D7,
                duration: Duration::from_millis(100),
                source: DigitSource::Rfc4733,
            }
        )
    );
    // Counted once: nothing more comes.
    assert!(
        timeout(Duration::from_millis(700), events.recv())
            .await
            .is_err()
    );
    let stats = session.stats(ep).unwrap().total();
    assert_eq!(stats.sent, 10);
    assert_eq!(engine.region_stats()[0].1.packets_generated, 10);
    // The session's end closes the channel.
    drop(session);
    assert_eq!(timeout(WAIT, events.recv()).await.unwrap(), None);
}
