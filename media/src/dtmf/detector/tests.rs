use super::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

const PT: PayloadType = PayloadType(101);

fn header(seq: u16, ts: u32, marker: bool) -> RtpHeader {
    RtpHeader {
        marker,
        payload_type: PT,
        seq,
        timestamp: ts,
        ssrc: Ssrc(0x1234),
    }
}

fn block(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    TelephoneEvent {
        event,
        end,
        volume: Volume(10),
        duration,
    }
    .write(&mut b)
    .unwrap();
    b
}

fn drain(d: &mut Rfc4733Detector) -> Vec<DigitEvent> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

fn detector() -> (Rfc4733Detector, Instant) {
    (
        Rfc4733Detector::new(DetectorConfig::new(PT, 8000)),
        Instant::now(),
    )
}

fn end(digit: Digit, ms: u64, cause: EndCause) -> DigitEvent {
    DigitEvent::End {
        digit,
        duration: Duration::from_millis(ms),
        volume: Some(Volume(10)),
        cause,
    }
}

/// RFC 4733 §5, Table 5: "9" for 200 ms (packets every 50 ms, durations
/// 400..1600, the final one retransmitted), then "1" at timestamp 7040.
#[test]
fn rfc_4733_example_sequence() {
    let (mut d, t0) = detector();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    // (time ms, marker, timestamp, seq, event, duration, E)
    let table = [
        (50, true, 0, 1, 9, 400, false),
        (100, false, 0, 2, 9, 800, false),
        (150, false, 0, 3, 9, 1200, false),
        (200, false, 0, 4, 9, 1600, false),
        (250, false, 0, 5, 9, 1600, true),
        (300, false, 0, 6, 9, 1600, true),
        (930, true, 7040, 7, 1, 400, false),
    ];
    let mut seen = Vec::new();
    for (t, m, ts, seq, ev, dur, e) in table {
        d.handle_packet(ms(t), &header(seq, ts, m), &block(ev, e, dur));
        seen.extend(drain(&mut d));
    }
    assert_eq!(
        seen,
        [
            DigitEvent::Start { digit: Digit::D9 },
            end(Digit::D9, 200, EndCause::EndBit),
            DigitEvent::Start { digit: Digit::D1 },
        ]
    );
}

#[test]
fn three_end_packets_and_duplicates_count_once() {
    let (mut d, t0) = detector();
    d.handle_packet(t0, &header(1, 160, true), &block(5, false, 0));
    for _ in 0..2 {
        d.handle_packet(t0, &header(2, 160, false), &block(5, false, 160));
    }
    for seq in [3, 3, 4, 5] {
        d.handle_packet(t0, &header(seq, 160, false), &block(5, true, 800));
    }
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D5 },
            end(Digit::D5, 100, EndCause::EndBit)
        ]
    );
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn lost_start_packet_still_starts_the_digit() {
    let (mut d, t0) = detector();
    // No marker, the first packet heard is an update; the next an end.
    d.handle_packet(t0, &header(7, 0, false), &block(3, false, 480));
    d.handle_packet(t0, &header(8, 0, false), &block(3, true, 960));
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D3 },
            end(Digit::D3, 120, EndCause::EndBit)
        ]
    );
    // Only end packets heard: start and end together.
    d.handle_packet(t0, &header(20, 5000, false), &block(4, true, 800));
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D4 },
            end(Digit::D4, 100, EndCause::EndBit)
        ]
    );
}

#[test]
fn lost_end_packets_end_the_digit_after_the_timeout() {
    let (mut d, t0) = detector();
    d.handle_packet(t0, &header(1, 0, true), &block(8, false, 400));
    let t1 = t0 + Duration::from_millis(50);
    d.handle_packet(t1, &header(2, 0, false), &block(8, false, 800));
    assert_eq!(drain(&mut d), [DigitEvent::Start { digit: Digit::D8 }]);
    let deadline = d.poll_timeout().unwrap();
    assert_eq!(deadline, t1 + DEFAULT_END_TIMEOUT);
    d.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(drain(&mut d), []);
    d.handle_timeout(deadline);
    assert_eq!(drain(&mut d), [end(Digit::D8, 100, EndCause::Timeout)]);
    assert_eq!(d.poll_timeout(), None);
    // Its end packets arriving later still are not a new digit.
    d.handle_packet(deadline, &header(3, 0, false), &block(8, true, 1600));
    assert_eq!(drain(&mut d), []);
}

#[test]
fn reordered_packets_do_not_duplicate_or_resurrect() {
    let (mut d, t0) = detector();
    d.handle_packet(t0, &header(1, 1000, true), &block(2, false, 160));
    // The end overtakes the last update.
    d.handle_packet(t0, &header(3, 1000, false), &block(2, true, 800));
    d.handle_packet(t0, &header(2, 1000, false), &block(2, false, 480));
    // The next digit starts; then a late update of the first arrives.
    d.handle_packet(t0, &header(6, 3000, true), &block(6, false, 160));
    d.handle_packet(t0, &header(2, 1000, false), &block(2, false, 480));
    // An older event never seen, reordered behind the current one: dropped.
    d.handle_packet(t0, &header(0, 500, false), &block(7, false, 160));
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D2 },
            end(Digit::D2, 100, EndCause::EndBit),
            DigitEvent::Start { digit: Digit::D6 },
        ]
    );
}

#[test]
fn same_key_twice_is_two_digits_by_timestamp() {
    let (mut d, t0) = detector();
    for (seq, ts) in [(1u16, 0u32), (10, 2400)] {
        d.handle_packet(t0, &header(seq, ts, true), &block(0, false, 160));
        d.handle_packet(t0, &header(seq + 1, ts, false), &block(0, true, 800));
    }
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D0 },
            end(Digit::D0, 100, EndCause::EndBit),
            DigitEvent::Start { digit: Digit::D0 },
            end(Digit::D0, 100, EndCause::EndBit),
        ]
    );
}

#[test]
fn a_new_event_supersedes_an_unended_one() {
    let (mut d, t0) = detector();
    d.handle_packet(t0, &header(1, 0, true), &block(1, false, 400));
    d.handle_packet(t0, &header(2, 1600, true), &block(2, false, 400));
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start { digit: Digit::D1 },
            end(Digit::D1, 50, EndCause::Superseded),
            DigitEvent::Start { digit: Digit::D2 },
        ]
    );
}

#[test]
fn long_event_segments_stay_one_digit() {
    let (mut d, t0) = detector();
    d.handle_packet(t0, &header(1, 100, true), &block(11, false, 0xffff));
    d.handle_packet(t0, &header(2, 100 + 0xffff, false), &block(11, true, 8000));
    assert_eq!(
        drain(&mut d),
        [
            DigitEvent::Start {
                digit: Digit::Pound
            },
            DigitEvent::End {
                digit: Digit::Pound,
                duration: samples_to_duration(0xffff + 8000, 8000),
                volume: Some(Volume(10)),
                cause: EndCause::EndBit,
            }
        ]
    );
}

#[test]
fn other_payload_types_flash_and_garbage_are_ignored() {
    let (mut d, t0) = detector();
    let mut h = header(1, 0, true);
    h.payload_type = PayloadType(0);
    d.handle_packet(t0, &h, &block(1, false, 160));
    d.handle_packet(t0, &header(2, 0, true), &block(16, false, 160)); // flash
    d.handle_packet(t0, &header(3, 0, true), &[1, 2]);
    assert_eq!(drain(&mut d), []);
    assert_eq!(d.poll_timeout(), None);
}

/// Seeded property test (the fuzz target's properties, in CI): any packet
/// sequence and timer firing never panics, and the events are well formed:
/// every End follows a Start of the same digit, no Start while one is open.
#[test]
fn arbitrary_sequences_give_well_formed_events() {
    let mut rng = StdRng::seed_from_u64(0x4733);
    for _ in 0..300 {
        let (mut d, t0) = detector();
        let mut now = t0;
        let mut open: Option<Digit> = None;
        for _ in 0..200 {
            now += Duration::from_millis(rng.random_range(0..200));
            if rng.random_bool(0.1) {
                d.handle_timeout(now);
            } else {
                let h = RtpHeader {
                    marker: rng.random(),
                    payload_type: if rng.random_bool(0.9) {
                        PT
                    } else {
                        PayloadType(0)
                    },
                    seq: rng.random(),
                    timestamp: rng.random_range(0..6) * 800,
                    ssrc: Ssrc(rng.random_range(0..2)),
                };
                let len = rng.random_range(0..6);
                let mut p = [0u8; 6];
                rng.fill(&mut p[..]);
                p[0] %= 20;
                d.handle_packet(now, &h, &p[..len]);
            }
            while let Some(ev) = d.poll_event() {
                match ev {
                    DigitEvent::Start { digit } => {
                        assert_eq!(open, None);
                        open = Some(digit);
                    }
                    DigitEvent::End { digit, .. } => {
                        assert_eq!(open, Some(digit));
                        open = None;
                    }
                }
            }
        }
    }
}
