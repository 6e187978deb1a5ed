//! Conferences wired into the session relay, on a virtual clock: each party's
//! peer sends a tone of its own frequency through `on_packet`, and what
//! `poll_transmit` sends each peer is decoded and looked at with a Goertzel
//! filter: who it hears, and that it is one RTP stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f64::consts::PI;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voxgate_media::anchor::RemoteMedia;
use voxgate_media::codec::{Codec, CodecKind, G711, Law};
use voxgate_media::endpoint::{MAX_GENERATED, VoiceFormat};
use voxgate_media::latch::{ConferenceId, EndpointId, Membership, SessionRelay, SocketKind};
use voxgate_media::mixer::Role;
use voxgate_media::play::{PlaybackId, Prompt, Source};
use voxgate_media::rtp::{PayloadType, parse_rtp};
use voxgate_media::sdp::Direction;
use voxgate_media::srtp::{self, CryptoSuite, MAX_OVERHEAD, SrtpContext};
use voxgate_media::{EndpointOp, MediaFormat};

const AMPLITUDE: f64 = 6000.0;
const CONF: ConferenceId = ConferenceId(1);

/// Sample `n` of a tone.
fn sample(freq: f64, n: u32) -> i16 {
    (AMPLITUDE * (2.0 * PI * freq * f64::from(n) / 8000.0).sin()).round() as i16
}

/// The amplitude of `freq` in `samples` (windows of whole cycles: no leakage).
fn amplitude(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2).sqrt() / samples.len() as f64
}

fn law_of(codec: CodecKind) -> Law {
    match codec {
        CodecKind::Pcma => Law::A,
        _ => Law::Mu,
    }
}

/// What a party's peer got from voxgate: when, the header, the decoded audio.
struct Received {
    at: Instant,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload_type: u8,
    pcm: Vec<i16>,
}

/// One leg's far end.
struct Party {
    ep: EndpointId,
    peer: SocketAddr,
    codec: CodecKind,
    freq: f64,
    /// Frames it sends; none outside.
    sending: std::ops::Range<u32>,
    /// Lost in a hundred (a fixed pattern) and extra delay (ms, by frame).
    loss_percent: u32,
    jitter_ms: u32,
    /// The peer's SRTP contexts (it protects with the first).
    srtp: Option<(SrtpContext, SrtpContext)>,
    received: Vec<Received>,
    /// voxgate's RTCP reports to the peer (plain or SRTCP, as sent).
    rtcp: Vec<Vec<u8>>,
}

impl Party {
    fn new(ep: u32, codec: CodecKind, freq: f64) -> Party {
        Party {
            ep: EndpointId(ep),
            peer: SocketAddr::from(([192, 0, 2, 10 + ep as u8], 4000)),
            codec,
            freq,
            sending: 0..u32::MAX,
            loss_percent: 0,
            jitter_ms: 0,
            srtp: None,
            received: Vec::new(),
            rtcp: Vec::new(),
        }
    }

    fn payload_type(&self) -> u8 {
        if self.codec == CodecKind::Pcma { 8 } else { 0 }
    }

    fn format(&self) -> MediaFormat {
        MediaFormat {
            line: 0,
            voice: Some(VoiceFormat {
                payload_type: PayloadType(self.payload_type()),
                codec: self.codec,
            }),
            telephone_event: None,
            ptime: None,
            clock_rate: 8000,
        }
    }

    /// Frame `k` as its peer sends it (SRTP-protected on an SRTP leg).
    fn packet(&mut self, k: u32) -> Vec<u8> {
        let mut p = vec![0u8; 12 + 160 + MAX_OVERHEAD];
        p[0] = 0x80;
        p[1] = self.payload_type() | if k == 0 { 0x80 } else { 0 };
        p[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        p[4..8].copy_from_slice(&(k * 160).to_be_bytes());
        p[8..12].copy_from_slice(&(0x5000 + self.ep.0).to_be_bytes());
        let pcm: Vec<i16> = (0..160).map(|i| sample(self.freq, k * 160 + i)).collect();
        G711::new(law_of(self.codec))
            .encode(&pcm, &mut p[12..172])
            .unwrap();
        let mut len = 172;
        if let Some((out, _)) = self.srtp.as_mut() {
            len = out.protect_rtp(&mut p, len).unwrap();
        }
        p.truncate(len);
        p
    }

    /// Its samples from `from` on, in the order received.
    fn audio_after(&self, from: Instant) -> Vec<i16> {
        self.received
            .iter()
            .filter(|r| r.at > from)
            .flat_map(|r| r.pcm.iter().copied())
            .collect()
    }
}

struct Sim {
    r: SessionRelay,
    t0: Instant,
    ms: u64,
    parties: Vec<Party>,
}

impl Sim {
    fn new(parties: Vec<Party>) -> Sim {
        let t0 = Instant::now();
        let mut r = SessionRelay::new(Duration::from_secs(2));
        for p in &parties {
            r.add(p.ep, 1, Vec::new());
            r.set_remote(
                p.ep,
                &[RemoteMedia {
                    rtp: Some(p.peer),
                    rtcp: None,
                    rtcp_mux: true,
                    direction: Direction::SendRecv,
                }],
            );
            r.handle_op(t0, p.ep, EndpointOp::Format(Some(p.format())));
        }
        Sim {
            r,
            t0,
            ms: 0,
            parties,
        }
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_millis(self.ms)
    }

    fn party(&mut self, ep: EndpointId) -> &mut Party {
        self.parties.iter_mut().find(|p| p.ep == ep).unwrap()
    }

    fn join(&mut self, ep: u32, role: Role, muted: bool) {
        let now = self.now();
        self.r.set_conference(
            now,
            EndpointId(ep),
            Some(Membership {
                conference: CONF,
                role,
                muted,
            }),
        );
    }

    /// A packet for party `i`'s peer: unprotected, decoded, kept.
    fn deliver(&mut self, ep: EndpointId, addr: SocketAddr, bytes: &[u8]) {
        let at = self.now();
        let p = self.party(ep);
        assert_eq!(addr, p.peer, "sent to the peer's address");
        let mut pkt = bytes.to_vec();
        let mut len = pkt.len();
        if let Some((_, inbound)) = p.srtp.as_mut() {
            len = inbound
                .unprotect_rtp(&mut pkt, len)
                .expect("authentic SRTP");
        }
        let h = parse_rtp(&pkt[..len]).unwrap();
        let mut pcm = vec![0i16; 160];
        let law = if h.payload_type.0 == 8 {
            Law::A
        } else {
            Law::Mu
        };
        let n = G711::new(law).decode(&pkt[12..len], &mut pcm).unwrap();
        pcm.truncate(n);
        p.received.push(Received {
            at,
            marker: h.marker,
            seq: h.seq,
            timestamp: h.timestamp,
            ssrc: h.ssrc.0,
            payload_type: h.payload_type.0,
            pcm,
        });
    }

    /// Runs the clock `ms` milliseconds on, a millisecond at a time: the
    /// peers' packets as they arrive, then whatever is due.
    fn run(&mut self, ms: u64) {
        let mut buf = vec![0u8; 2048];
        for _ in 0..ms {
            self.ms += 1;
            let now = self.now();
            for i in 0..self.parties.len() {
                let p = &self.parties[i];
                // Frame k leaves its peer at 20 k + 3 ms (+ jitter); some are lost.
                let Some(k) = (0..=(self.ms / 20) as u32).rev().take(4).find(|&k| {
                    let jitter = if p.jitter_ms > 0 {
                        (k * 7919) % p.jitter_ms
                    } else {
                        0
                    };
                    u64::from(k) * 20 + 3 + u64::from(jitter) == self.ms
                }) else {
                    continue;
                };
                if !p.sending.contains(&k) || (k * 37) % 100 < p.loss_percent {
                    continue;
                }
                let (ep, peer) = (p.ep, p.peer);
                let pkt = self.parties[i].packet(k);
                let len = pkt.len();
                buf[..len].copy_from_slice(&pkt);
                if let Some(f) = self
                    .r
                    .on_packet(ep, 0, SocketKind::Rtp, peer, &mut buf, len, now)
                {
                    let bytes = buf[..f.len].to_vec();
                    self.r.on_sent(&f, true);
                    self.deliver(f.ep, f.addr, &bytes);
                }
            }
            if self.r.poll_timeout().is_some_and(|t| t <= now) {
                self.r.handle_timeout(now);
                while let Some(t) = self.r.poll_transmit(now, &mut buf) {
                    self.r.on_transmitted(&t, true);
                    let bytes = buf[..t.len].to_vec();
                    if t.rtcp {
                        self.party(t.ep).rtcp.push(bytes);
                    } else {
                        self.deliver(t.ep, t.addr, &bytes);
                    }
                }
            }
        }
    }
}

/// One stream: one SSRC, sequence numbers +1, timestamps rising by whole
/// frames within a talk spurt; the indexes of the packets with the marker.
fn one_stream(p: &Party) -> Vec<usize> {
    let r = &p.received;
    assert!(!r.is_empty(), "party {:?} got nothing", p.ep);
    assert!(
        r.iter().all(|x| x.ssrc == r[0].ssrc),
        "party {:?}: several SSRCs",
        p.ep
    );
    assert!(
        r.iter().all(|x| x.payload_type == p.payload_type()),
        "party {:?}: its own payload type",
        p.ep
    );
    for w in r.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "party {:?}", p.ep);
        let step = w[1].timestamp.wrapping_sub(w[0].timestamp);
        // Within a talk spurt whole frames; a new source starts at the
        // clock's time since the last packet (never less than a frame).
        let whole = step % 160 == 0 || w[1].marker;
        assert!(
            step >= 160 && whole && step < 160 * 100,
            "party {:?}: timestamp step {step}",
            p.ep
        );
    }
    r.iter()
        .enumerate()
        .filter(|(_, x)| x.marker)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn each_party_hears_the_other_two_and_not_itself() {
    let mut sim = Sim::new(vec![
        Party::new(0, CodecKind::Pcma, 440.0),
        Party::new(1, CodecKind::Pcmu, 1000.0),
        Party::new(2, CodecKind::Pcma, 1500.0),
    ]);
    sim.run(100);
    // Nothing relayed or mixed before the conference.
    assert!(sim.parties.iter().all(|p| p.received.is_empty()));
    for ep in 0..3 {
        sim.join(ep, Role::Speaker, false);
    }
    sim.run(2000);
    let settled = sim.now() - Duration::from_millis(1500);
    let tones = [440.0, 1000.0, 1500.0];
    for p in &sim.parties {
        assert_eq!(
            one_stream(p),
            vec![0],
            "the marker on the first packet only"
        );
        // 50 frames a second, whoever sends.
        assert!(
            (98..=101).contains(&p.received.len()),
            "{}",
            p.received.len()
        );
        let audio = p.audio_after(settled);
        assert_eq!(audio.len(), 1500 * 8);
        for f in tones {
            let a = amplitude(&audio, f);
            if f == p.freq {
                assert!(a < 60.0, "party {:?} hears itself: {a:.0} at {f} Hz", p.ep);
            } else {
                assert!(a > 5000.0, "party {:?} hears {f} Hz at {a:.0} only", p.ep);
            }
        }
    }
    let totals = sim.r.mix_totals();
    assert_eq!(totals.conferences, 1);
    assert!((99..=100).contains(&totals.frames), "{totals:?}");
    assert_eq!(totals.skipped, 0);
    // voxgate terminates a member's leg: it reports on it (RFC 3550 §6),
    // sender reports for the mix it sends, from the mix's own SSRC.
    sim.run(8000);
    for p in &sim.parties {
        assert!(!p.rtcp.is_empty(), "party {:?} got no RTCP report", p.ep);
        let mut counted = 0;
        for report in &p.rtcp {
            assert_eq!(report[1], 200, "an SR: voxgate sends the mix");
            let ssrc = u32::from_be_bytes(report[4..8].try_into().unwrap());
            assert_eq!(ssrc, p.received[0].ssrc, "from the stream's SSRC");
            let packets = u32::from_be_bytes(report[20..24].try_into().unwrap());
            assert!(packets > counted, "the mix's packets counted: {packets}");
            assert!(packets as usize <= p.received.len());
            counted = packets;
        }
    }
}

#[test]
fn listen_only_and_muted_are_heard_by_nobody() {
    let mut sim = Sim::new(vec![
        Party::new(0, CodecKind::Pcma, 440.0),
        Party::new(1, CodecKind::Pcmu, 1000.0),
        Party::new(2, CodecKind::Pcma, 1500.0),
        Party::new(3, CodecKind::Pcmu, 2000.0),
    ]);
    sim.join(0, Role::Speaker, false);
    sim.join(1, Role::Speaker, false);
    sim.join(2, Role::Monitor, false);
    sim.join(3, Role::Speaker, true);
    sim.run(1000);
    let settled = sim.now() - Duration::from_millis(500);
    let heard = |sim: &Sim, ep: usize, from: Instant| -> Vec<f64> {
        let audio = sim.parties[ep].audio_after(from);
        [440.0, 1000.0, 1500.0, 2000.0]
            .iter()
            .map(|&f| amplitude(&audio, f))
            .collect()
    };
    let loud = |a: f64| a > 5000.0;
    let silent = |a: f64| a < 60.0;
    // The speakers hear each other only; the monitor and the muted one hear both.
    let a = heard(&sim, 0, settled);
    assert!(
        silent(a[0]) && loud(a[1]) && silent(a[2]) && silent(a[3]),
        "{a:?}"
    );
    let b = heard(&sim, 1, settled);
    assert!(
        loud(b[0]) && silent(b[1]) && silent(b[2]) && silent(b[3]),
        "{b:?}"
    );
    for ep in [2, 3] {
        let m = heard(&sim, ep, settled);
        assert!(
            loud(m[0]) && loud(m[1]) && silent(m[2]) && silent(m[3]),
            "{ep}: {m:?}"
        );
    }
    // Unmuted, the fourth is heard; the monitor becomes a speaker (barge-in).
    sim.join(3, Role::Speaker, false);
    sim.join(2, Role::Speaker, false);
    sim.run(1000);
    let settled = sim.now() - Duration::from_millis(500);
    let a = heard(&sim, 0, settled);
    assert!(
        silent(a[0]) && loud(a[1]) && loud(a[2]) && loud(a[3]),
        "{a:?}"
    );
    for p in &sim.parties {
        assert_eq!(one_stream(p), vec![0]);
    }
}

#[test]
fn a_silent_or_lossy_participant_does_not_slow_the_others() {
    let mut quiet = Party::new(2, CodecKind::Pcma, 1500.0);
    quiet.sending = 0..25; // stops after half a second
    let mut lossy = Party::new(1, CodecKind::Pcmu, 1000.0);
    lossy.loss_percent = 10;
    lossy.jitter_ms = 40;
    let mut sim = Sim::new(vec![Party::new(0, CodecKind::Pcma, 440.0), lossy, quiet]);
    for ep in 0..3 {
        sim.join(ep, Role::Speaker, false);
    }
    sim.run(3000);
    // The first party's frames come every 20 ms throughout: the clock never waited.
    let a = &sim.parties[0];
    assert_eq!(a.received.len(), 150);
    for w in a.received.windows(2) {
        assert_eq!(w[1].at - w[0].at, Duration::from_millis(20));
    }
    one_stream(a);
    // It hears the lossy one (a tenth lost, concealed) and, after the quiet one
    // stopped, not it any more.
    let audio = a.audio_after(sim.now() - Duration::from_millis(2000));
    assert!(amplitude(&audio, 1000.0) > 4000.0);
    assert!(amplitude(&audio, 1500.0) < 60.0);
    assert!(amplitude(&audio, 440.0) < 60.0);
    // The quiet one still hears the others.
    let audio = sim.parties[2].audio_after(sim.now() - Duration::from_millis(2000));
    assert!(amplitude(&audio, 440.0) > 5000.0);
}

#[test]
fn a_leg_leaving_for_a_bridge_or_a_prompt_keeps_one_stream() {
    let mut sim = Sim::new(vec![
        Party::new(0, CodecKind::Pcma, 440.0),
        Party::new(1, CodecKind::Pcmu, 1000.0),
        Party::new(2, CodecKind::Pcma, 1500.0),
    ]);
    for ep in 0..3 {
        sim.join(ep, Role::Speaker, false);
    }
    sim.run(1000);
    let mixed = sim.parties[0].received.len();
    // Parties 0 and 2 (both PCMA) leave for a two-leg bridge: relayed, in
    // the same streams.
    sim.r.bridge(EndpointId(0), EndpointId(2));
    assert_eq!(sim.r.conference(EndpointId(0)), None);
    sim.run(1000);
    let relayed = sim.parties[0].received.len() - mixed;
    assert!((48..=51).contains(&relayed), "{relayed}");
    // Party 0 hears party 2 only, relayed.
    let audio = sim.parties[0].audio_after(sim.now() - Duration::from_millis(500));
    assert!(amplitude(&audio, 1500.0) > 5000.0 && amplitude(&audio, 1000.0) < 60.0);
    // Alone in its conference, party 1 hears silence, still on time.
    let audio = sim.parties[1].audio_after(sim.now() - Duration::from_millis(500));
    assert_eq!(audio.len(), 500 * 8);
    assert!(amplitude(&audio, 440.0) < 60.0 && amplitude(&audio, 1500.0) < 60.0);
    // Back to the conference (party 2 is left alone, unbridged), then a
    // prompt to party 0 holds the mix back.
    sim.join(0, Role::Speaker, false);
    assert_eq!(sim.r.endpoint(EndpointId(2)).unwrap().bridge(), None);
    sim.run(500);
    let prompt = Prompt::from_samples((0..4000).map(|n| sample(2000.0, n)).collect::<Vec<_>>());
    let now = sim.now();
    sim.r.handle_op(
        now,
        EndpointId(0),
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(prompt),
            barge_in: false,
        },
    );
    sim.run(500);
    let audio: Vec<i16> = sim.parties[0]
        .received
        .iter()
        .filter(|r| {
            r.at > now + Duration::from_millis(50) && r.at <= now + Duration::from_millis(450)
        })
        .flat_map(|r| r.pcm.iter().copied())
        .collect();
    assert_eq!(audio.len(), 3200);
    assert!(amplitude(&audio, 2000.0) > 5000.0 && amplitude(&audio, 1000.0) < 60.0);
    sim.run(1000);
    let audio = sim.parties[0].audio_after(sim.now() - Duration::from_millis(500));
    assert!(amplitude(&audio, 1000.0) > 5000.0 && amplitude(&audio, 2000.0) < 60.0);
    // One stream through mix, relay, mix, prompt and mix: a new talk spurt at
    // each change of source.
    let markers = one_stream(&sim.parties[0]);
    assert_eq!(markers.len(), 5, "{markers:?}");
    assert_eq!(markers[0], 0);
    assert_eq!(markers[1], mixed);
}

#[test]
fn an_srtp_participant_is_unprotected_into_the_mix_and_hears_it_protected() {
    let mut secure = Party::new(0, CodecKind::Pcma, 440.0);
    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap();
    secure.srtp = Some((peer.outbound().unwrap(), peer.inbound().unwrap()));
    let mut sim = Sim::new(vec![
        secure,
        Party::new(1, CodecKind::Pcmu, 1000.0),
        Party::new(2, CodecKind::Pcma, 1500.0),
    ]);
    sim.r.set_srtp(EndpointId(0), &[Some(ours)]);
    for ep in 0..3 {
        sim.join(ep, Role::Speaker, false);
    }
    sim.run(1500);
    let from = sim.now() - Duration::from_millis(1000);
    let a = sim.parties[0].audio_after(from);
    assert!(amplitude(&a, 1000.0) > 5000.0 && amplitude(&a, 1500.0) > 5000.0);
    assert!(amplitude(&a, 440.0) < 60.0);
    for ep in [1, 2] {
        let heard = sim.parties[ep].audio_after(from);
        assert!(
            amplitude(&heard, 440.0) > 5000.0,
            "party {ep} hears the SRTP leg"
        );
    }
    let srtp_drops = sim.r.endpoint(EndpointId(0)).unwrap().lines()[0]
        .counters()
        .srtp;
    assert_eq!(srtp_drops, 0);
}

#[test]
fn telephone_events_are_heard_as_digits_not_mixed() {
    use voxgate_media::endpoint::EventFormat;
    let mut sim = Sim::new(vec![
        Party::new(0, CodecKind::Pcma, 440.0),
        Party::new(1, CodecKind::Pcmu, 1000.0),
        Party::new(2, CodecKind::Pcma, 1500.0),
    ]);
    let mut format = sim.parties[1].format();
    format.telephone_event = Some(EventFormat {
        receive: PayloadType(101),
        send: PayloadType(101),
        clock_rate: 8000,
    });
    let t0 = sim.t0;
    sim.r
        .handle_op(t0, EndpointId(1), EndpointOp::Format(Some(format)));
    for ep in 0..3 {
        sim.join(ep, Role::Speaker, false);
    }
    sim.parties[1].sending = 0..0;
    sim.run(200);
    // Party 1 presses 5: three updates and the end three times, 20 ms apart.
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    for (i, (end, dur)) in [
        (false, 160u16),
        (false, 320),
        (false, 480),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .into_iter()
    .enumerate()
    {
        let p = &mut buf[..16];
        p[0] = 0x80;
        p[1] = 101 | if i == 0 { 0x80 } else { 0 };
        p[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        p[4..8].copy_from_slice(&1600u32.to_be_bytes());
        p[8..12].copy_from_slice(&0x5001u32.to_be_bytes());
        p[12] = 5;
        p[13] = if end { 0x8a } else { 0x0a };
        p[14..16].copy_from_slice(&dur.to_be_bytes());
        let now = sim.now();
        let peer = sim.parties[1].peer;
        assert!(
            sim.r
                .on_packet(EndpointId(1), 0, SocketKind::Rtp, peer, &mut buf, 16, now)
                .is_none()
        );
        sim.run(20);
    }
    let mut digits = Vec::new();
    while let Some((ep, ev)) = sim.r.poll_event() {
        digits.push((ep, ev));
    }
    assert_eq!(digits.len(), 1, "{digits:?}");
    assert_eq!(digits[0].0, EndpointId(1));
    // Nothing of the events reached the others' ears (only party 1 was silent).
    let a = sim.parties[0].audio_after(sim.now() - Duration::from_millis(100));
    assert!(amplitude(&a, 1500.0) > 5000.0);
    let rms = (a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
    // A 1500 Hz tone of amplitude 6000 alone: RMS 6000/√2 (G.711 noise aside).
    assert!((rms - AMPLITUDE / 2f64.sqrt()).abs() < 150.0, "{rms}");
}
