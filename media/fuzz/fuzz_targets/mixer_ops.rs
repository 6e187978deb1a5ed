//! Arbitrary bytes as a script of mixer operations: joins, leaves, mutes,
//! role changes (speaker, monitor, whisper), packets with any sequence number, timestamp and payload
//! (empty, oversized, garbage), and clock jumps of any size. Shared by the
//! `mixer` fuzz target and the seeded property test (media/tests/mixer_props.rs)
//! so CI checks the same properties.
//!
//! Properties: nothing panics; membership errors match a model of who is in;
//! deadlines stay on the 20 ms grid and strictly increase; after a wake at
//! most three frames are mixed; each frame writes exactly one well-formed
//! RTP packet per participant, whose sequence numbers run on by one and
//! whose timestamps by 160 per frame of the grid (skipped frames included),
//! with the marker bit exactly on the first packet after a join or a skip.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use voxgate_media::MediaError;
use voxgate_media::codec::CodecKind;
use voxgate_media::latch::EndpointId;
use voxgate_media::mixer::clock::MAX_CATCH_UP;
use voxgate_media::mixer::{FRAME, Leg, MAX_PACKET, MAX_PARTICIPANTS, Mixer, MixerConfig, Role};
use voxgate_media::rtp::{OutgoingStream, PayloadType, Ssrc, parse_rtp};

/// What the script expects of one participant's outgoing stream.
struct Expected {
    seq: u16,
    /// The timestamp expected at grid frame `grid`.
    timestamp: u32,
    grid: u64,
    marker: bool,
    /// Last RTP timestamp it sent in (to craft nearby ones).
    sent_ts: u32,
}

/// Reads the script's bytes.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }
}

/// Runs the script; panics when a property fails.
pub fn run(data: &[u8]) {
    let t0 = Instant::now();
    let mut script = Script(data);
    let depth = usize::from(script.byte().unwrap_or(3) % 9);
    let mut mixer = Mixer::new(
        t0,
        MixerConfig {
            jitter_depth: depth,
        },
    );
    let mut model: BTreeMap<u32, Expected> = BTreeMap::new();
    let mut now = t0;
    let mut last_deadline = t0;
    let mut buf = [0u8; MAX_PACKET];
    let payload = [0x55u8; 400];
    while let Some(op) = script.byte() {
        let id = u32::from(script.byte().unwrap_or(0) % 20);
        let endpoint = EndpointId(id);
        match op % 8 {
            0 => {
                let kind = if op & 0x80 == 0 {
                    CodecKind::Pcmu
                } else {
                    CodecKind::Pcma
                };
                let role = role(op, id);
                let (seq, timestamp) = (script.u16().unwrap_or(0), script.u32().unwrap_or(0));
                let leg = Leg {
                    codec: kind.new_codec(),
                    payload_type: kind.static_payload_type().unwrap_or(PayloadType(0)),
                    stream: OutgoingStream::with_state(Ssrc(id), seq, timestamp),
                };
                let result = mixer.join(endpoint, role, leg);
                if model.contains_key(&id) {
                    assert_eq!(result, Err(MediaError::AlreadyMixed { endpoint }));
                } else if model.len() == MAX_PARTICIPANTS {
                    assert_eq!(
                        result,
                        Err(MediaError::MixerFull {
                            limit: MAX_PARTICIPANTS
                        })
                    );
                } else {
                    assert_eq!(result, Ok(()));
                    let grid = grid_index(mixer.poll_timeout().expect("a deadline"), t0);
                    model.insert(
                        id,
                        Expected {
                            seq,
                            timestamp,
                            grid,
                            marker: true,
                            sent_ts: 0,
                        },
                    );
                }
            }
            1 => match mixer.leave(endpoint) {
                Ok(leg) => {
                    let e = model.remove(&id).expect("left one was in");
                    assert_eq!(leg.stream.ssrc(), Ssrc(id));
                    // The relay or player continues from here.
                    assert_eq!(
                        (leg.stream.next_seq(), leg.stream.timestamp()),
                        (e.seq, e.timestamp)
                    );
                }
                Err(err) => {
                    assert!(!model.contains_key(&id));
                    assert_eq!(err, MediaError::NotMixed { endpoint });
                }
            },
            2 => assert_eq!(
                mixer.set_muted(endpoint, op & 0x80 != 0).is_ok(),
                model.contains_key(&id)
            ),
            3 => {
                let role = role(op, id);
                assert_eq!(
                    mixer.set_role(endpoint, role).is_ok(),
                    model.contains_key(&id)
                );
            }
            4 | 5 => {
                // Any header, any payload length (400 > what the buffer keeps).
                let seq = script.u16().unwrap_or(0);
                let ts = script.u32().unwrap_or(0);
                let len = usize::from(script.byte().unwrap_or(160)) * 2;
                push(
                    &mut mixer,
                    &mut model,
                    now,
                    endpoint,
                    seq,
                    ts,
                    &payload[..len.min(400)],
                );
            }
            6 => {
                // A packet near the last one: what phones send, with jitter.
                let delta = i64::from(script.byte().unwrap_or(1) as i8);
                let base = model.get(&id).map_or(0, |e| e.sent_ts);
                let ts = (i64::from(base) + 160 * delta) as u32;
                push(
                    &mut mixer,
                    &mut model,
                    now,
                    endpoint,
                    delta as u16,
                    ts,
                    &payload[..160],
                );
            }
            _ => {
                // The clock moves on by 0..=255 ms, or by seconds.
                let step = u64::from(script.byte().unwrap_or(20));
                now += if op & 0x80 == 0 {
                    Duration::from_millis(step)
                } else {
                    Duration::from_secs(step)
                };
                let mut frames = 0;
                loop {
                    let deadline = mixer.poll_timeout().expect("a mixer always has a deadline");
                    assert!(deadline > last_deadline, "deadlines strictly increase");
                    assert_eq!(
                        (deadline - t0).as_nanos() % FRAME.as_nanos(),
                        0,
                        "on the grid"
                    );
                    let Some(mut frame) = mixer.handle_timeout(now) else {
                        assert!(now < deadline);
                        break;
                    };
                    frames += 1;
                    assert!(frames <= MAX_CATCH_UP + 1, "bounded catch-up");
                    let behind = ((now - deadline).as_nanos() / FRAME.as_nanos()) as u64;
                    let mixed = grid_index(deadline, t0) + behind.saturating_sub(MAX_CATCH_UP);
                    last_deadline = t0 + FRAME * mixed as u32;
                    let mut served = 0;
                    while let Some(tx) = frame.next_packet(&mut buf).expect("MAX_PACKET suffices") {
                        served += 1;
                        let h = parse_rtp(&buf[..tx.len]).expect("a well-formed RTP packet");
                        assert_eq!(tx.len, 12 + 160);
                        let e = model
                            .get_mut(&tx.participant.0)
                            .expect("only participants are served");
                        assert_eq!(h.ssrc, Ssrc(tx.participant.0));
                        assert_eq!(h.seq, e.seq);
                        e.seq = e.seq.wrapping_add(1);
                        let skipped = mixed - e.grid;
                        let ts = e.timestamp.wrapping_add(160 * skipped as u32);
                        assert_eq!(h.timestamp, ts, "RTP time follows the grid");
                        assert_eq!(
                            h.marker,
                            e.marker || skipped > 0,
                            "marker at a join or a skip"
                        );
                        e.timestamp = ts.wrapping_add(160);
                        e.grid = mixed + 1;
                        e.marker = false;
                    }
                    assert_eq!(served, model.len());
                    assert_eq!(mixer.poll_timeout(), Some(last_deadline + FRAME));
                }
            }
        }
        assert_eq!(mixer.len(), model.len());
    }
}

/// A role from the op's bits 5 and 6: whispers go to the next id.
fn role(op: u8, id: u32) -> Role {
    match op & 0x60 {
        0 => Role::Speaker,
        0x40 => Role::Monitor,
        _ => Role::Whisper(EndpointId((id + 1) % 20)),
    }
}

/// `n` of the grid's deadline `start + n × 20 ms`.
fn grid_index(deadline: Instant, t0: Instant) -> u64 {
    ((deadline - t0).as_nanos() / FRAME.as_nanos()) as u64
}

/// Pushes one packet, checking it is refused exactly when `id` is not in.
fn push(
    mixer: &mut Mixer,
    model: &mut BTreeMap<u32, Expected>,
    now: Instant,
    id: EndpointId,
    seq: u16,
    ts: u32,
    payload: &[u8],
) {
    match mixer.push(now, id, seq, ts, payload) {
        Ok(_) => {
            model
                .get_mut(&id.0)
                .expect("accepted from a participant")
                .sent_ts = ts
        }
        Err(err) => {
            assert!(!model.contains_key(&id.0));
            assert_eq!(err, MediaError::NotMixed { endpoint: id });
        }
    }
}
