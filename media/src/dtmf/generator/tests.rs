use super::*;
use crate::dtmf::{DetectorConfig, DigitEvent, EndCause, Rfc4733Detector};
use crate::rtp::{Ssrc, parse_rtp};

const PT: PayloadType = PayloadType(101);

/// Runs the generator on a virtual clock, jumping to each deadline, and
/// returns (ms since t0, header, event) of every packet.
fn run(
    g: &mut Rfc4733Generator,
    stream: &mut OutgoingStream,
    t0: Instant,
) -> Vec<(u64, crate::rtp::RtpHeader, TelephoneEvent)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    while let Some(t) = g.poll_timeout() {
        while let Some(n) = g.poll_transmit(t, stream, &mut buf).unwrap() {
            let h = parse_rtp(&buf[..n]).unwrap();
            let ev = TelephoneEvent::parse(&buf[RTP_HEADER_LEN..n]).unwrap();
            out.push(((t - t0).as_millis() as u64, h, ev));
        }
    }
    out
}

/// RFC 4733 §5, Table 5: "9" for 200 ms, updates every 50 ms. The table
/// shows the packet at 200 ms without E and two retransmissions with it;
/// §2.5.1.4 asks for the final packet three times, which is what is sent.
#[test]
fn rfc_4733_example_timeline() {
    let t0 = Instant::now();
    let mut stream = OutgoingStream::with_state(Ssrc(9), 1, 0);
    let mut g = Rfc4733Generator::new(GeneratorConfig::new(PT, 8000));
    g.queue_digit(t0, Digit::D9, Duration::from_millis(200))
        .unwrap();
    let got: Vec<_> = run(&mut g, &mut stream, t0)
        .into_iter()
        .map(|(t, h, e)| (t, h.marker, h.timestamp, h.seq, e.event, e.duration, e.end))
        .collect();
    assert_eq!(
        got,
        [
            (50, true, 0, 1, 9, 400, false),
            (100, false, 0, 2, 9, 800, false),
            (150, false, 0, 3, 9, 1200, false),
            (200, false, 0, 4, 9, 1600, true),
            (250, false, 0, 5, 9, 1600, true),
            (300, false, 0, 6, 9, 1600, true),
        ]
    );
    // The stream continues: next seq 7, timestamp 300 ms on, a new talk spurt.
    assert_eq!(stream.next_seq(), 7);
    assert_eq!(stream.timestamp(), 2400);
    assert!(stream.talk_spurt_pending());
    assert!(!g.is_busy());
}

#[test]
fn a_duration_off_the_interval_ends_on_time() {
    let t0 = Instant::now();
    let mut stream = OutgoingStream::with_state(Ssrc(9), 100, 5000);
    let mut g = Rfc4733Generator::new(GeneratorConfig::new(PT, 8000));
    g.queue_digit(t0, Digit::Star, Duration::from_millis(120))
        .unwrap();
    let got: Vec<_> = run(&mut g, &mut stream, t0)
        .into_iter()
        .map(|(t, _, e)| (t, e.duration, e.end))
        .collect();
    assert_eq!(
        got,
        [
            (50, 400, false),
            (100, 800, false),
            (120, 960, true),
            (170, 960, true),
            (220, 960, true)
        ]
    );
}

#[test]
fn queued_digits_round_trip_through_the_detector() {
    let t0 = Instant::now();
    let mut stream = OutgoingStream::with_state(Ssrc(77), 65530, u32::MAX - 1000);
    let mut g = Rfc4733Generator::new(GeneratorConfig::new(PT, 8000));
    for d in Digit::ALL {
        g.queue_digit(t0, d, Duration::from_millis(100)).unwrap();
    }
    let mut det = Rfc4733Detector::new(DetectorConfig::new(PT, 8000));
    let mut buf = [0u8; 64];
    let mut events = Vec::new();
    let mut last_ts = None;
    while let Some(t) = g.poll_timeout() {
        while let Some(n) = g.poll_transmit(t, &mut stream, &mut buf).unwrap() {
            let h = parse_rtp(&buf[..n]).unwrap();
            assert_ne!(
                Some(h.timestamp),
                last_ts.filter(|_| h.marker),
                "new event, new timestamp"
            );
            last_ts = Some(h.timestamp);
            det.handle_packet(t, &h, &buf[RTP_HEADER_LEN..n]);
            events.extend(std::iter::from_fn(|| det.poll_event()));
        }
    }
    let want: Vec<_> = Digit::ALL
        .into_iter()
        .flat_map(|digit| {
            [
                DigitEvent::Start { digit },
                DigitEvent::End {
                    digit,
                    duration: Duration::from_millis(100),
                    volume: Some(Volume(10)),
                    cause: EndCause::EndBit,
                },
            ]
        })
        .collect();
    assert_eq!(events, want);
    // 16 digits × (1 update at 50 ms + 3 ends), one continuous sequence across the wrap.
    assert_eq!(stream.next_seq(), 65530u16.wrapping_add(16 * 4));
}

#[test]
fn queue_limit_and_buffer_checks() {
    let t0 = Instant::now();
    let mut g = Rfc4733Generator::new(GeneratorConfig::new(PT, 8000));
    for _ in 0..QUEUE_LEN {
        g.queue_digit(t0, Digit::D1, Duration::from_millis(80))
            .unwrap();
    }
    assert_eq!(
        g.queue_digit(t0, Digit::D1, Duration::from_millis(80)),
        Err(MediaError::DtmfQueueFull {
            capacity: QUEUE_LEN
        })
    );
    let mut stream = OutgoingStream::with_state(Ssrc(1), 0, 0);
    assert!(g.poll_transmit(t0, &mut stream, &mut [0u8; 15]).is_err());
    g.clear_queue();
    assert!(!g.is_busy());
    assert_eq!(g.poll_timeout(), None);
}
