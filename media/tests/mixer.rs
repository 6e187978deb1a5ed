//! The conference mixer on a virtual clock, with tones through G.711: each
//! participant sends its own frequency, and a Goertzel filter on what each
//! receives tells who it hears.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use voxgate_media::codec::{Codec, G711, Law};
use voxgate_media::latch::EndpointId;
use voxgate_media::mixer::{FRAME, FRAME_SAMPLES, Leg, MAX_PACKET, Mixer, MixerConfig, Role};
use voxgate_media::rtp::{OutgoingStream, PayloadType, Ssrc, parse_rtp};

const RATE: f64 = 8000.0;
const AMPLITUDE: f64 = 6000.0;

/// Frame `k` of a phase-continuous tone.
fn tone(freq: f64, amplitude: f64, k: u32) -> [i16; FRAME_SAMPLES] {
    let mut pcm = [0; FRAME_SAMPLES];
    for (i, s) in pcm.iter_mut().enumerate() {
        let t = f64::from(k) * FRAME_SAMPLES as f64 + i as f64;
        *s = (amplitude * (2.0 * PI * freq * t / RATE).sin()).round() as i16;
    }
    pcm
}

/// The amplitude of `freq` in `samples` (Goertzel; the windows used hold a
/// whole number of cycles of every test tone, so there is no leakage).
fn amplitude(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * freq / RATE).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.sqrt() / samples.len() as f64
}

fn law(id: EndpointId) -> Law {
    if id.0.is_multiple_of(2) {
        Law::A
    } else {
        Law::Mu
    }
}

fn leg(id: EndpointId) -> Leg {
    let pt = if law(id) == Law::A { 8 } else { 0 };
    Leg {
        codec: Box::new(G711::new(law(id))),
        payload_type: PayloadType(pt),
        stream: OutgoingStream::with_state(Ssrc(id.0), 1000 * id.0 as u16, 7 * id.0),
    }
}

/// One participant of the simulation: what it sends and how its network treats it.
struct Sender {
    id: EndpointId,
    freq: f64,
    amplitude: f64,
    /// Sending offset from the mixer's clock (phones are not in step with it).
    offset: Duration,
    /// Largest extra delay, drawn uniformly per packet.
    jitter: Duration,
    /// Packets lost in a hundred.
    loss_percent: u64,
    /// Frames it sends: `from..to`.
    frames: std::ops::Range<u32>,
}

impl Sender {
    fn new(id: u32, freq: f64) -> Self {
        Sender {
            id: EndpointId(id),
            freq,
            amplitude: AMPLITUDE,
            offset: Duration::from_millis(u64::from(id) * 3 % 20),
            jitter: Duration::ZERO,
            loss_percent: 0,
            frames: 0..u32::MAX,
        }
    }
}

/// A seeded xorshift: the network's randomness replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What one participant received: per mixed frame, the decoded PCM.
#[derive(Default)]
struct Received {
    pcm: Vec<i16>,
    markers: Vec<usize>,
    seqs: Vec<u16>,
    timestamps: Vec<u32>,
}

impl Received {
    /// Frames `from..to` of what arrived.
    fn frames(&self, from: usize, to: usize) -> &[i16] {
        &self.pcm[from * FRAME_SAMPLES..to * FRAME_SAMPLES]
    }
}

/// Something to do to the mixer before frame `n` is mixed.
enum Command {
    Join(EndpointId, Role),
    Leave(EndpointId),
    Mute(EndpointId),
}

struct Run {
    received: Vec<(EndpointId, Received)>,
    deadlines: Vec<Instant>,
    t0: Instant,
    mixer: Mixer,
}

impl Run {
    fn of(&self, id: EndpointId) -> &Received {
        &self.received.iter().find(|(r, _)| *r == id).unwrap().1
    }
}

/// Runs `frames` mixing frames on a virtual clock: senders' packets arrive
/// at their send time plus jitter, the mixer is woken exactly at its
/// deadlines, the commands apply before their frame.
fn simulate(
    senders: &[Sender],
    initial: &[(EndpointId, Role)],
    mut commands: Vec<(u32, Command)>,
    frames: u32,
    seed: u64,
) -> Run {
    let t0 = Instant::now();
    let mut rng = Rng(seed);
    let mut mixer = Mixer::new(t0, MixerConfig::default());
    for &(id, role) in initial {
        mixer.join(id, role, leg(id)).unwrap();
    }
    // Every packet of the run: (arrival, id, seq, timestamp, payload).
    let mut arrivals = Vec::new();
    for s in senders {
        let mut codec = G711::new(law(s.id));
        for k in s.frames.start..s.frames.end.min(frames + 10) {
            if rng.next() % 100 < s.loss_percent {
                continue;
            }
            let jitter_us = s.jitter.as_micros() as u64;
            let delay = Duration::from_micros(if jitter_us == 0 {
                0
            } else {
                rng.next() % (jitter_us + 1)
            });
            let sent = t0 + s.offset + k * FRAME;
            let mut payload = [0u8; FRAME_SAMPLES];
            codec
                .encode(&tone(s.freq, s.amplitude, k), &mut payload)
                .unwrap();
            let seq = (k as u16).wrapping_add(500 * s.id.0 as u16);
            let ts = (k * 160).wrapping_add(s.id.0.wrapping_mul(0x1234_5678));
            arrivals.push((sent + delay, s.id, seq, ts, payload));
        }
    }
    arrivals.sort_by_key(|a| a.0);
    commands.sort_by_key(|c| c.0);
    let mut commands = commands.into_iter().peekable();
    let mut received: Vec<(EndpointId, Received)> = Vec::new();
    let mut deadlines = Vec::new();
    let mut next_arrival = 0;
    let mut buf = [0u8; MAX_PACKET];
    for n in 1..=frames {
        let deadline = mixer.poll_timeout().unwrap();
        while let Some((at, id, seq, ts, payload)) = arrivals.get(next_arrival) {
            if *at > deadline {
                break;
            }
            // Packets of someone not (or no longer) in the bridge are refused.
            let _ = mixer.push(*at, *id, *seq, *ts, payload);
            next_arrival += 1;
        }
        while let Some((_, cmd)) = commands.next_if(|c| c.0 == n) {
            match cmd {
                Command::Join(id, role) => mixer.join(id, role, leg(id)).unwrap(),
                Command::Leave(id) => drop(mixer.leave(id).unwrap()),
                Command::Mute(id) => mixer.set_muted(id, true).unwrap(),
            }
        }
        deadlines.push(deadline);
        let mut frame = mixer.handle_timeout(deadline).expect("due at its deadline");
        while let Some(tx) = frame.next_packet(&mut buf).unwrap() {
            let pkt = &buf[..tx.len];
            let h = parse_rtp(pkt).unwrap();
            let at = match received.iter().position(|(r, _)| *r == tx.participant) {
                Some(i) => i,
                None => {
                    received.push((tx.participant, Received::default()));
                    received.len() - 1
                }
            };
            let r = &mut received[at].1;
            // Frames before a join are silence, so indices line up with n.
            r.pcm.resize((n as usize - 1) * FRAME_SAMPLES, 0);
            let mut pcm = [0i16; FRAME_SAMPLES];
            let mut codec = G711::new(law(tx.participant));
            assert_eq!(codec.decode(&pkt[12..], &mut pcm).unwrap(), FRAME_SAMPLES);
            r.pcm.extend_from_slice(&pcm);
            if h.marker {
                r.markers.push(n as usize - 1);
            }
            r.seqs.push(h.seq);
            r.timestamps.push(h.timestamp);
        }
        assert!(mixer.handle_timeout(deadline).is_none());
    }
    Run {
        received,
        deadlines,
        t0,
        mixer,
    }
}

const A: EndpointId = EndpointId(1);
const B: EndpointId = EndpointId(2);
const C: EndpointId = EndpointId(3);
const D: EndpointId = EndpointId(4);

fn speakers(ids: &[EndpointId]) -> Vec<(EndpointId, Role)> {
    ids.iter().map(|&id| (id, Role::Speaker)).collect()
}

/// Asserts what `id` hears in frames `from..to`: `heard` tones near full
/// amplitude, `unheard` ones absent.
fn hears(run: &Run, id: EndpointId, from: usize, to: usize, heard: &[f64], unheard: &[f64]) {
    let pcm = run.of(id).frames(from, to);
    for &f in heard {
        let a = amplitude(pcm, f);
        assert!(
            a > 0.85 * AMPLITUDE,
            "{id:?} hears {f} Hz at {a:.0} in frames {from}..{to}"
        );
    }
    for &f in unheard {
        let a = amplitude(pcm, f);
        assert!(
            a < 0.02 * AMPLITUDE,
            "{id:?} should not hear {f} Hz, got {a:.0} in frames {from}..{to}"
        );
    }
}

#[test]
fn three_tones_each_hears_the_other_two_and_not_itself() {
    let senders = [
        Sender::new(1, 400.0),
        Sender::new(2, 1000.0),
        Sender::new(3, 1800.0),
    ];
    let run = simulate(&senders, &speakers(&[A, B, C]), Vec::new(), 100, 1);
    // From frame 10 on every buffer has filled; µ-law A and C, A-law B.
    hears(&run, A, 10, 100, &[1000.0, 1800.0], &[400.0]);
    hears(&run, B, 10, 100, &[400.0, 1800.0], &[1000.0]);
    hears(&run, C, 10, 100, &[400.0, 1000.0], &[1800.0]);
    for (id, r) in &run.received {
        assert_eq!(r.markers, [0], "{id:?}: one marker, on the first packet");
        assert!(r.seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
        assert!(
            r.timestamps
                .windows(2)
                .all(|w| w[1] == w[0].wrapping_add(160))
        );
    }
}

#[test]
fn loud_inputs_clip_and_never_wrap() {
    // A and B in phase near full scale: C hears ~56000 peaks, clipped.
    let mut senders = [
        Sender::new(1, 1000.0),
        Sender::new(2, 1000.0),
        Sender::new(3, 400.0),
    ];
    for s in &mut senders {
        s.offset = Duration::ZERO;
        s.amplitude = 28000.0;
    }
    senders[2].amplitude = 0.0;
    let run = simulate(&senders, &speakers(&[A, B, C]), Vec::new(), 50, 2);
    let heard = run.of(C).frames(10, 50);
    let mut clipped = 0;
    for (i, &s) in heard.iter().enumerate() {
        let expected = 2.0 * 28000.0 * (2.0 * PI * 1000.0 * i as f64 / RATE).sin();
        if expected.abs() > 2000.0 {
            assert_eq!(
                s.signum(),
                expected.signum() as i16,
                "sample {i}: {s} for {expected:.0}"
            );
        }
        if expected.abs() > 40000.0 {
            // The loudest G.711 codes: µ-law 32124, A-law 32256.
            assert!(s.abs() > 32000, "sample {i} clips at full scale, got {s}");
            clipped += 1;
        }
    }
    assert!(clipped > 100);
}

#[test]
fn muted_and_monitor_hear_all_and_are_heard_by_nobody() {
    let senders = [
        Sender::new(1, 400.0),
        Sender::new(2, 1000.0),
        Sender::new(3, 1800.0),
        Sender::new(4, 2600.0),
    ];
    let initial = [
        (A, Role::Speaker),
        (B, Role::Speaker),
        (C, Role::Speaker),
        (D, Role::Monitor),
    ];
    let run = simulate(&senders, &initial, vec![(50, Command::Mute(C))], 120, 3);
    // The supervisor hears everyone, sends a tone nobody hears.
    hears(&run, D, 10, 50, &[400.0, 1000.0, 1800.0], &[2600.0]);
    hears(&run, A, 10, 50, &[1000.0, 1800.0], &[400.0, 2600.0]);
    // C muted from frame 50: nobody hears it, it still hears A and B.
    hears(&run, A, 52, 120, &[1000.0], &[400.0, 1800.0, 2600.0]);
    hears(&run, D, 52, 120, &[400.0, 1000.0], &[1800.0, 2600.0]);
    hears(&run, C, 52, 120, &[400.0, 1000.0], &[1800.0, 2600.0]);
}

#[test]
fn jitter_and_loss_of_one_do_not_delay_the_others() {
    let mut senders = [
        Sender::new(1, 400.0),
        Sender::new(2, 1000.0),
        Sender::new(3, 1800.0),
    ];
    senders[2].jitter = Duration::from_millis(60);
    senders[2].loss_percent = 10;
    let frames = 500;
    let run = simulate(&senders, &speakers(&[A, B, C]), Vec::new(), frames, 4);
    // Every deadline on the grid, every participant served at each one.
    for (n, &d) in run.deadlines.iter().enumerate() {
        assert_eq!(d, run.t0 + (n as u32 + 1) * FRAME);
    }
    for (id, r) in &run.received {
        assert_eq!(r.pcm.len(), frames as usize * FRAME_SAMPLES, "{id:?}");
    }
    // The steady ones are heard in full, from the same frame as without jitter.
    let clean = simulate(&senders[..2], &speakers(&[A, B, C]), Vec::new(), 20, 4);
    for n in 0..20 {
        let jittery = amplitude(run.of(A).frames(n, n + 1), 1000.0) > 0.5 * AMPLITUDE;
        let steady = amplitude(clean.of(A).frames(n, n + 1), 1000.0) > 0.5 * AMPLITUDE;
        assert_eq!(jittery, steady, "B reaches A in frame {n} either way");
    }
    hears(&run, C, 10, frames as usize, &[400.0, 1000.0], &[1800.0]);
    // C itself is still heard, its losses concealed or briefly silent.
    let c_in_a = amplitude(run.of(A).frames(10, frames as usize), 1800.0);
    assert!(c_in_a > 0.7 * AMPLITUDE, "C heard at {c_in_a:.0}");
    let stats = run.mixer.stats(C).unwrap();
    // ~10% lost (about 50), each filled by a repeat unless two in a row.
    assert!(
        stats.jitter.missing > 30 && stats.jitter.missing < 80,
        "{stats:?}"
    );
    assert!(stats.concealed > 20, "{stats:?}");
    assert!(stats.jitter.played > 400, "{stats:?}");
    assert!(stats.jitter.late < u64::from(frames) / 20, "{stats:?}");
    assert_eq!(stats.jitter.resyncs, 0, "{stats:?}");
    let steady = run.mixer.stats(B).unwrap();
    assert_eq!(
        steady.jitter.missing, 3,
        "only the depth's frames at the start: {steady:?}"
    );
    assert_eq!(steady.jitter.played, u64::from(frames) - 3, "{steady:?}");
}

#[test]
fn join_and_leave_mid_stream() {
    let mut senders = [
        Sender::new(1, 400.0),
        Sender::new(2, 1000.0),
        Sender::new(3, 1800.0),
        Sender::new(4, 2600.0),
    ];
    senders[3].frames = 40..u32::MAX; // D's phone starts sending when it joins
    let commands = vec![
        (40, Command::Join(D, Role::Speaker)),
        (100, Command::Leave(B)),
    ];
    let run = simulate(&senders, &speakers(&[A, B, C]), commands, 160, 5);
    hears(&run, A, 10, 40, &[1000.0, 1800.0], &[400.0, 2600.0]);
    // D hears the conference from its first frame; it is heard after its depth.
    assert_eq!(run.of(D).markers, [39]);
    hears(&run, D, 39, 100, &[400.0, 1000.0, 1800.0], &[2600.0]);
    hears(&run, A, 46, 100, &[1000.0, 1800.0, 2600.0], &[400.0]);
    // B gone from frame 100: A hears C and D only; B's output stops.
    hears(&run, A, 100, 160, &[1800.0, 2600.0], &[400.0, 1000.0]);
    assert_eq!(run.of(B).pcm.len(), 99 * FRAME_SAMPLES);
    assert_eq!(run.mixer.len(), 3);
}

#[test]
fn sixteen_participants() {
    // 300, 500, .. 3300 Hz: whole cycles in 1600 samples, none a harmonic
    // of another that G.711's noise would feed much.
    let senders: Vec<Sender> = (1..=16)
        .map(|i| {
            let mut s = Sender::new(i, 100.0 + 200.0 * f64::from(i));
            s.amplitude = 2000.0;
            s
        })
        .collect();
    let ids: Vec<EndpointId> = (1..=16).map(EndpointId).collect();
    let run = simulate(&senders, &speakers(&ids), Vec::new(), 60, 6);
    for s in &senders {
        let pcm = run.of(s.id).frames(10, 60);
        for other in &senders {
            let a = amplitude(pcm, other.freq);
            if other.id == s.id {
                assert!(a < 0.05 * 2000.0, "{:?} hears itself at {a:.0}", s.id);
            } else {
                assert!(
                    a > 0.85 * 2000.0,
                    "{:?} hears {:?} at {a:.0}",
                    s.id,
                    other.id
                );
            }
        }
    }
}
