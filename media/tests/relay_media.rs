//! The engine behind the tokio shell, over loopback sockets: a prompt played
//! to a peer arrives as paced RTP from the endpoint's port, and digits the
//! peer sends come out of the session's event channel. (The timing itself is
//! checked on a virtual clock in the crate's unit tests; here only that the
//! shell drives it.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};
use voxgate_media::codec::CodecKind;
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
        ptime: None,
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

/// The session's next event, skipping none.
async fn next_event(
    events: &mut voxgate_media::MediaEventReceiver,
) -> (voxgate_media::EndpointId, MediaEvent) {
    timeout(WAIT, events.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_recording_is_written_off_the_task_and_reported() {
    use voxgate_media::RecordRequest;
    use voxgate_media::codec::g711::decode_alaw;
    use voxgate_media::endpoint::RecordingId;
    use voxgate_media::play::wav::parse_channels;
    use voxgate_media::record::Layout;

    let dir = std::env::temp_dir().join(format!("voxgate-relay-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let engine = engine(27100);
    let session = engine.session().unwrap();
    let mut events = session.take_events().unwrap();
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
    let path = dir.join("c1-leg1-1.wav");
    let id = RecordingId(1);
    session.record(
        ep,
        RecordRequest {
            id,
            layout: Layout::Stereo,
            path: path.clone(),
        },
    );
    assert_eq!(
        next_event(&mut events).await,
        (ep, MediaEvent::RecordingStarted { id })
    );
    assert_eq!(engine.recording_stats().active, 1);
    // The peer talks for 400 ms: A-law 0x55 in 20 ms packets.
    let to = std::net::SocketAddr::new(local.addr, local.rtp_port);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..20u16 {
        tick.tick().await;
        let mut p = vec![0x80, 8];
        p.extend_from_slice(&i.to_be_bytes());
        p.extend_from_slice(&(160 * u32::from(i)).to_be_bytes());
        p.extend_from_slice(&0x5555u32.to_be_bytes());
        p.extend_from_slice(&[0x55; 160]);
        peer.send_to(&p, to).await.unwrap();
    }
    tick.tick().await;
    session.media_op(ep, EndpointOp::StopRecording(id));
    let (from, done) = next_event(&mut events).await;
    assert_eq!(from, ep);
    let MediaEvent::RecordingDone {
        id: done_id,
        samples,
        dropped_frames,
    } = done
    else {
        panic!("{done:?}");
    };
    assert_eq!((done_id, dropped_frames), (id, 0));
    assert_eq!(engine.recording_stats().active, 0);
    let bytes = std::fs::read(&path).unwrap();
    let wav = parse_channels(&bytes, 2).unwrap();
    assert_eq!(wav.channels, 2);
    assert_eq!(wav.samples() as u64, samples);
    // Each packet's 160 samples are in the file (the clock started with
    // the recording, a little before the first packet: silence first).
    let mut peer_sample = [0i16; 1];
    decode_alaw(&[0x55], &mut peer_sample);
    let pairs: Vec<(i16, i16)> = wav
        .data
        .chunks_exact(4)
        .map(|b| {
            (
                i16::from_le_bytes([b[0], b[1]]),
                i16::from_le_bytes([b[2], b[3]]),
            )
        })
        .collect();
    let heard = pairs.iter().filter(|(l, _)| *l == peer_sample[0]).count();
    // A busy machine may deliver a few packets in a burst beyond the
    // recorder's 60 ms: at most those are lost.
    assert!(
        (16 * 160..=20 * 160).contains(&heard),
        "{heard} of the peer's 3200 samples on channel 0"
    );
    assert!(
        pairs.iter().all(|&(_, r)| r == 0),
        "nothing was sent to the leg"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_recording_whose_folder_is_missing_fails_and_the_endpoint_goes_on() {
    use voxgate_media::RecordRequest;
    use voxgate_media::endpoint::RecordingId;
    use voxgate_media::record::Layout;

    let engine = engine(27200);
    let session = engine.session().unwrap();
    let mut events = session.take_events().unwrap();
    let ep = session
        .add_endpoint(EndpointSpec {
            region: "r",
            lines: 1,
            peer: Some("127.0.0.1".parse().unwrap()),
            allowed_sources: Vec::new(),
        })
        .unwrap();
    session.media_op(ep, EndpointOp::Format(Some(format())));
    let id = RecordingId(2);
    session.record(
        ep,
        RecordRequest {
            id,
            layout: Layout::Mono,
            path: "/nonexistent-voxgate-folder/c1-leg1-2.wav".into(),
        },
    );
    assert_eq!(
        next_event(&mut events).await,
        (
            ep,
            MediaEvent::RecordingFailed {
                id,
                kind: std::io::ErrorKind::NotFound
            }
        )
    );
    // The endpoint still plays.
    session.media_op(
        ep,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(Prompt::from_samples(vec![100; 320])),
            barge_in: false,
        },
    );
    assert_eq!(
        next_event(&mut events).await,
        (
            ep,
            MediaEvent::PlaybackDone(PlaybackDone {
                id: PlaybackId(1),
                reason: StopReason::Finished
            })
        )
    );
    assert_eq!(engine.recording_stats().active, 0);
}

/// A conference through the tokio shell: three peers on loopback, each
/// sending a tone; each gets the mix from its endpoint's port, 20 ms apart,
/// in its own codec, without its own tone; the engine counts the conference
/// while it lasts.
#[tokio::test]
async fn a_conference_mixes_over_sockets_and_is_counted() {
    use voxgate_media::codec::{Codec, G711, Law};
    use voxgate_media::{ConferenceId, Membership};
    let engine = engine(27200);
    let session = engine.session().unwrap();
    let tones = [440.0f64, 1000.0, 1500.0];
    let mut parties = Vec::new();
    for (i, _) in tones.iter().enumerate() {
        let ep = session
            .add_endpoint(EndpointSpec {
                region: "r",
                lines: 1,
                peer: Some("127.0.0.1".parse().unwrap()),
                allowed_sources: Vec::new(),
            })
            .unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        session.set_remote(
            ep,
            &[RemoteMedia {
                rtp: Some(peer.local_addr().unwrap()),
                rtcp: None,
                rtcp_mux: true,
                direction: Direction::SendRecv,
            }],
        );
        let mut f = format();
        f.telephone_event = None;
        if i == 1 {
            f.voice = Some(VoiceFormat {
                payload_type: PayloadType(0),
                codec: CodecKind::Pcmu,
            });
        }
        session.media_op(ep, EndpointOp::Format(Some(f)));
        session.set_conference(ep, Some(Membership::speaker(ConferenceId(7))));
        parties.push((ep, peer, session.local(ep)[0]));
    }
    // Each peer sends 1 s of its tone, paced, and reads what comes back.
    let law = |i: usize| if i == 1 { Law::Mu } else { Law::A };
    let mut heard: Vec<Vec<i16>> = vec![Vec::new(); 3];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut buf = [0u8; 2048];
    for k in 0u32..60 {
        tick.tick().await;
        for (i, (_, peer, local)) in parties.iter().enumerate() {
            let pcm: Vec<i16> = (0..160)
                .map(|n| {
                    let t = f64::from(k * 160 + n) / 8000.0;
                    (6000.0 * (2.0 * std::f64::consts::PI * tones[i] * t).sin()) as i16
                })
                .collect();
            let mut p = vec![0x80, if i == 1 { 0 } else { 8 }];
            p.extend_from_slice(&(k as u16).to_be_bytes());
            p.extend_from_slice(&(k * 160).to_be_bytes());
            p.extend_from_slice(&(0x7000 + i as u32).to_be_bytes());
            let mut payload = [0u8; 160];
            G711::new(law(i)).encode(&pcm, &mut payload).unwrap();
            p.extend_from_slice(&payload);
            peer.send_to(&p, ("127.0.0.1", local.rtp_port))
                .await
                .unwrap();
            while let Ok((n, from)) = peer.try_recv_from(&mut buf) {
                assert_eq!(from.port(), local.rtp_port, "from the endpoint's own port");
                // voxgate's RTCP reports on the member's leg (rtcp-mux).
                if (192..=223).contains(&buf[1]) {
                    continue;
                }
                let h = parse_rtp(&buf[..n]).unwrap();
                assert_eq!(h.payload_type, PayloadType(if i == 1 { 0 } else { 8 }));
                let mut out = [0i16; 160];
                G711::new(law(i)).decode(&buf[12..n], &mut out).unwrap();
                if k >= 20 {
                    heard[i].extend_from_slice(&out);
                }
            }
        }
    }
    assert_eq!(engine.mixer_stats().conferences_active, 1);
    assert!(
        engine.mixer_stats().frames_mixed >= 50,
        "{:?}",
        engine.mixer_stats()
    );
    let power = |s: &[i16], hz: f64| {
        let c = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in s {
            let s0 = f64::from(x) + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    };
    for (i, got) in heard.iter().enumerate() {
        assert!(got.len() >= 160 * 30, "party {i} got {} samples", got.len());
        let own = power(got, tones[i]);
        for (j, &hz) in tones.iter().enumerate() {
            if j != i {
                assert!(
                    power(got, hz) > 100.0 * own,
                    "party {i} hears {hz} Hz over its own tone"
                );
            }
        }
    }
    // The session ends: so does its conference.
    drop(session);
    for _ in 0..100 {
        if engine.mixer_stats().conferences_active == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the conference outlived its session: {:?}",
        engine.mixer_stats()
    );
}
