//! RTCP in the session core on a virtual clock: voxgate's reports on the
//! legs it terminates (cadence, SR or RR, what they say), none on relayed
//! legs, the peers' reports read for their view and the round-trip time,
//! SRTCP on an SRTP leg, and the BYE at the end.

use std::time::Duration;

use super::*;
use crate::codec::CodecKind;
use crate::endpoint::{EndpointOp, MAX_GENERATED, MediaFormat, Transmit, VoiceFormat};
use crate::play::{PlaybackId, Prompt, Source};
use crate::quality::rtcp::{
    Compound, NtpTime, PT_BYE, PT_RR, PT_SDES, PT_SR, ReportBlock, RtcpPacket, SenderInfo,
    write_receiver_report, write_sender_report,
};
use crate::rtp::{PayloadType, Ssrc, parse_rtp};
use crate::sdp::Direction;
use crate::srtp::{self, CryptoSuite, MAX_OVERHEAD};

const A: EndpointId = EndpointId(0);
const B: EndpointId = EndpointId(1);
const A_PEER: &str = "192.0.2.1:4000";
const A_PEER_RTCP: &str = "192.0.2.1:4001";
const B_PEER: &str = "198.51.100.2:6000";
const B_PEER_RTCP: &str = "198.51.100.2:6001";
/// The peers' SSRCs.
const A_SSRC: u32 = 0xa0a0_0001;
const B_SSRC: u32 = 0xb0b0_0002;
/// 2023-11-14T22:13:20Z, the wall clock at t0.
const UNIX_T0: u64 = 1_700_000_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn remote(rtp: &str, rtcp: &str, mux: bool) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(sa(rtp)),
        rtcp: Some(sa(rtcp)),
        rtcp_mux: mux,
        direction: Direction::SendRecv,
    }
}

fn pcma() -> MediaFormat {
    MediaFormat {
        line: 0,
        voice: Some(VoiceFormat {
            payload_type: PayloadType(8),
            codec: CodecKind::Pcma,
        }),
        telephone_event: None,
        ptime: None,
        clock_rate: 8000,
    }
}

/// A and B with their peers signalled (RTCP on RTP + 1 unless `mux`), the
/// PCMA format, the wall clock at `t0`; not bridged.
fn session(t0: Instant, mux: bool) -> SessionRelay {
    let mut r = SessionRelay::new(Duration::from_secs(2));
    r.set_wall_clock(t0, NtpTime::from_unix(Duration::from_secs(UNIX_T0)));
    for (ep, rtp, rtcp) in [(A, A_PEER, A_PEER_RTCP), (B, B_PEER, B_PEER_RTCP)] {
        r.add(ep, 1, Vec::new());
        r.set_remote(ep, &[remote(rtp, rtcp, mux)]);
        r.handle_op(t0, ep, EndpointOp::Format(Some(pcma())));
    }
    r
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0xd5u8; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// Feeds `pkt` from `src` on `ep`'s `socket`: the forward and its bytes.
fn feed(
    r: &mut SessionRelay,
    ep: EndpointId,
    socket: SocketKind,
    src: &str,
    pkt: &[u8],
    now: Instant,
) -> Option<(Forward, Vec<u8>)> {
    let mut buf = vec![0u8; pkt.len() + MAX_OVERHEAD];
    buf[..pkt.len()].copy_from_slice(pkt);
    let f = r.on_packet(ep, 0, socket, sa(src), &mut buf, pkt.len(), now)?;
    Some((f, buf[..f.len].to_vec()))
}

type Sent = Vec<(Instant, Transmit, Vec<u8>)>;

/// Runs from `t0` until `until` on a clock that jumps to the next event:
/// each peer in `talkers` sends a 20 ms PCMA packet (sequence number k at
/// `t0 + k × 20 ms`, those `lost` says never arrive), and the engine's
/// timers. Returns what voxgate generated.
fn run(
    r: &mut SessionRelay,
    t0: Instant,
    until: Instant,
    talkers: &[(EndpointId, &str, u32)],
    lost: impl Fn(u16) -> bool,
) -> Sent {
    let mut sent = Vec::new();
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    let mut k = 0u16;
    let next_rtp = |k: u16| t0 + Duration::from_millis(20 * u64::from(k));
    let mut clock = t0;
    loop {
        let rtp_at = (!talkers.is_empty()).then(|| next_rtp(k));
        let Some(next) = [rtp_at, r.poll_timeout()].into_iter().flatten().min() else {
            break;
        };
        // A deadline already past (a leg that just became voxgate's) is due now.
        let now = next.max(clock);
        clock = now;
        if now >= until {
            break;
        }
        if rtp_at.is_some_and(|at| at <= now) {
            for &(ep, src, ssrc) in talkers {
                if !lost(k)
                    && let Some((f, _)) = feed(r, ep, SocketKind::Rtp, src, &rtp(k, ssrc), now)
                {
                    r.on_sent(&f, true);
                }
            }
            k += 1;
        }
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            r.on_transmitted(&t, true);
            sent.push((now, t, buf[..t.len].to_vec()));
        }
        while r.poll_event().is_some() {}
    }
    sent
}

fn rtcp_only(sent: &Sent) -> Vec<(Instant, Transmit, Vec<u8>)> {
    sent.iter().filter(|(_, t, _)| t.rtcp).cloned().collect()
}

fn types(pkt: &[u8]) -> Vec<u8> {
    Compound::new(pkt)
        .map(|p| match p.unwrap() {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::Sdes(_) => PT_SDES,
            RtcpPacket::Bye(_) => PT_BYE,
            RtcpPacket::Unknown { packet_type, .. } => packet_type,
        })
        .collect()
}

/// The report's sender SSRC and its blocks.
fn report(pkt: &[u8]) -> (Ssrc, Option<SenderInfo>, Vec<ReportBlock>) {
    match Compound::new(pkt).next().unwrap().unwrap() {
        RtcpPacket::SenderReport(sr) => (sr.ssrc, Some(sr.info), sr.blocks.iter().collect()),
        RtcpPacket::ReceiverReport(rr) => (rr.ssrc, None, rr.blocks.iter().collect()),
        other => panic!("{other:?}"),
    }
}

fn cname(pkt: &[u8]) -> Vec<u8> {
    Compound::new(pkt)
        .find_map(|p| match p.unwrap() {
            RtcpPacket::Sdes(s) => s
                .chunks()
                .next()
                .and_then(|c| c.cname())
                .map(<[u8]>::to_vec),
            _ => None,
        })
        .unwrap()
}

fn counters(r: &SessionRelay, ep: EndpointId) -> LegCounters {
    *r.endpoint(ep).unwrap().lines()[0].counters()
}

fn quality(r: &SessionRelay, ep: EndpointId) -> &crate::quality::LineQuality {
    r.endpoint(ep).unwrap().lines()[0].quality()
}

#[test]
fn a_terminated_leg_gets_receiver_reports_at_rfc3550_intervals() {
    let t0 = Instant::now();
    let mut r = session(t0, false);
    // A's peer talks for a minute, every tenth packet lost on the way.
    let end = t0 + Duration::from_secs(60);
    let sent = run(&mut r, t0, end, &[(A, A_PEER, A_SSRC)], |k| k % 10 == 5);
    let reports = rtcp_only(&sent);
    assert_eq!(
        reports.len(),
        sent.len(),
        "nothing but RTCP: voxgate says nothing"
    );
    // §6.2, 6.3: the first after half the 5 s minimum, the rest after the
    // minimum, each × [0.5, 1.5) / (e − 3/2).
    let c = std::f64::consts::E - 1.5;
    let first = (reports[0].0 - t0).as_secs_f64();
    assert!(
        (1.25 / c..3.75 / c).contains(&first),
        "first after {first} s"
    );
    for pair in reports.windows(2) {
        let gap = (pair[1].0 - pair[0].0).as_secs_f64();
        assert!((2.5 / c..7.5 / c).contains(&gap), "a gap of {gap} s");
    }
    assert!((10..=29).contains(&reports.len()), "{}", reports.len());
    let ours = report(&reports[0].2).0;
    let mut last_lost = 0;
    let mut last_highest: Option<u32> = None;
    for (at, t, pkt) in &reports {
        // To the peer's RTCP port, from ours; RR (voxgate sent no RTP) + SDES.
        assert_eq!(
            (t.ep, t.socket, t.addr),
            (A, SocketKind::Rtcp, sa(A_PEER_RTCP))
        );
        assert_eq!(types(pkt), [PT_RR, PT_SDES]);
        let (ssrc, info, blocks) = report(pkt);
        assert_eq!(
            (ssrc, info),
            (ours, None),
            "one SSRC for voxgate on the leg"
        );
        assert_eq!(cname(pkt), format!("vg-{:08x}", ours.0).into_bytes());
        // One block about the peer: what arrived until then, 10% lost.
        let [b] = blocks[..] else {
            panic!("{blocks:?}")
        };
        let heard = ((*at - t0).as_millis() / 20) as u32;
        assert_eq!(b.ssrc, Ssrc(A_SSRC));
        assert!(
            b.highest_seq + 2 >= heard && b.highest_seq <= heard,
            "{b:?} at {heard}"
        );
        // The fraction is this interval's loss (A.3): every tenth packet lost
        // means n/10 of the interval's n rounded either way, so a short random
        // interval (RFC 3550's × [0.5, 1.5)) lands anywhere in about 22..=30.
        // The first interval starts at seq 1: the source is valid from the
        // packet that ends its probation (A.1, MIN_SEQUENTIAL 2), its base.
        let expected_interval = last_highest.map_or(b.highest_seq, |h| b.highest_seq - h);
        let lost_interval = u32::try_from(b.cumulative_lost - last_lost).unwrap_or(0);
        assert!(
            (expected_interval / 10..=expected_interval.div_ceil(10)).contains(&lost_interval),
            "{lost_interval} of {expected_interval}: {b:?}"
        );
        assert_eq!(
            u32::from(b.fraction_lost),
            lost_interval * 256 / expected_interval,
            "{b:?}"
        );
        last_highest = Some(b.highest_seq);
        let expected_lost = (i64::from(b.highest_seq) + 5) / 10 - 1;
        assert!(
            (i64::from(b.cumulative_lost) - expected_lost).abs() <= 1,
            "{b:?}"
        );
        assert!(b.cumulative_lost > last_lost);
        last_lost = b.cumulative_lost;
        assert_eq!(b.jitter, 0, "the peer's packets came on time");
        assert_eq!(
            (b.last_sr, b.delay_since_last_sr),
            (0, 0),
            "no SR from the peer"
        );
    }
    assert_eq!(counters(&r, A).rtcp_sent, reports.len() as u64);
    // B heard nothing and said nothing: no report, no timer of its own.
    assert!(reports.iter().all(|(_, t, _)| t.ep == A));
}

#[test]
fn voxgate_speaking_sends_sender_reports_that_match_its_rtp() {
    let t0 = Instant::now();
    let mut r = session(t0, true);
    let prompt = Prompt::from_samples(
        (0..80_000)
            .map(|i| (i % 200) as i16 * 40)
            .collect::<Vec<_>>(),
    );
    r.handle_op(
        t0,
        A,
        EndpointOp::Play {
            id: PlaybackId(1),
            source: Source::Prompt(prompt),
            barge_in: false,
        },
    );
    // Ten seconds of prompt to a silent peer.
    let sent = run(&mut r, t0, t0 + Duration::from_secs(10), &[], |_| false);
    let frames: Vec<_> = sent.iter().filter(|(_, t, _)| !t.rtcp).collect();
    let first = parse_rtp(&frames[0].2).unwrap();
    let reports = rtcp_only(&sent);
    assert!((2..=6).contains(&reports.len()), "{}", reports.len());
    for (at, t, pkt) in &reports {
        // rtcp-mux: to the peer's RTP address, from our RTP socket.
        assert_eq!((t.socket, t.addr), (SocketKind::Rtp, sa(A_PEER)));
        assert_eq!(types(pkt), [PT_SR, PT_SDES]);
        let (ssrc, info, blocks) = report(pkt);
        let info = info.unwrap();
        assert_eq!(ssrc, first.ssrc, "the SR speaks for the RTP stream");
        assert!(blocks.is_empty(), "nothing heard");
        let before = frames.iter().filter(|(f, _, _)| f <= at).count() as u32;
        assert_eq!(info.packet_count, before);
        assert_eq!(info.octet_count, 160 * before);
        // Wall clock and the stream's clock at the same instant.
        let elapsed = *at - t0;
        let wall = NtpTime::from_unix(Duration::from_secs(UNIX_T0)).plus(elapsed);
        assert_eq!(info.ntp, wall);
        let since_first = (*at - frames[0].0).as_micros() as u64;
        let ts = first
            .timestamp
            .wrapping_add((since_first * 8000 / 1_000_000) as u32);
        assert!(info.rtp_timestamp.wrapping_sub(ts) as i32 >= -1);
        assert!(
            info.rtp_timestamp.wrapping_sub(ts) as i32 <= 1,
            "{} vs {ts}",
            info.rtp_timestamp
        );
    }
    // The peer answers the last SR 0.29 s later, having held it 0.25 s: RTT 40 ms.
    let (at, _, pkt) = reports.last().unwrap();
    let (ours, info, _) = report(pkt);
    let block = ReportBlock {
        ssrc: ours,
        fraction_lost: 3,
        cumulative_lost: 1,
        highest_seq: 500,
        jitter: 16,
        last_sr: info.unwrap().ntp.middle(),
        delay_since_last_sr: 0x4000,
    };
    let mut rr = [0u8; 64];
    let n = write_receiver_report(&mut rr, Ssrc(A_SSRC), &[block]).unwrap();
    let arrival = *at + Duration::from_millis(290);
    assert!(feed(&mut r, A, SocketKind::Rtp, A_PEER, &rr[..n], arrival).is_none());
    let rtt = quality(&r, A).rtt().unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(40)) < Duration::from_micros(20),
        "{rtt:?}"
    );
    let remote = quality(&r, A).remote().unwrap();
    assert_eq!((remote.fraction_lost, remote.jitter), (3, 16));

    // The end: a last report with a BYE for our SSRC, once.
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    let end = t0 + Duration::from_secs(11);
    let t = r.poll_bye(end, A, &mut buf).unwrap();
    assert!(t.rtcp);
    let pkt = &buf[..t.len];
    assert_eq!(types(pkt)[1..], [PT_SDES, PT_BYE]);
    let bye = Compound::new(pkt)
        .find_map(|p| match p.unwrap() {
            RtcpPacket::Bye(b) => Some(b.sources().collect::<Vec<_>>()),
            _ => None,
        })
        .unwrap();
    assert_eq!(bye, [ours]);
    assert!(r.poll_bye(end, A, &mut buf).is_none(), "BYE once");
    assert!(r.poll_timeout().is_none(), "no report after the BYE");
}

#[test]
fn bridged_legs_keep_their_peers_rtcp_and_measure_rtt_from_it() {
    let t0 = Instant::now();
    let mut r = session(t0, false);
    r.bridge(A, B);
    let talkers = [(A, A_PEER, A_SSRC), (B, B_PEER, B_SSRC)];
    let sent = run(&mut r, t0, t0 + Duration::from_secs(30), &talkers, |_| {
        false
    });
    assert!(
        sent.is_empty(),
        "voxgate injects nothing into a relayed stream"
    );
    // Only the in-band digit detector's silence timer is left (no report due).
    let silence = t0 + Duration::from_secs(30) + crate::endpoint::INBAND_SILENCE;
    assert!(r.poll_timeout().is_some_and(|t| t <= silence));

    // A's peer sends an SR: relayed to B's peer untouched.
    let t1 = t0 + Duration::from_secs(30);
    let info = SenderInfo {
        ntp: NtpTime(0xe89f_6a00_4000_0000),
        rtp_timestamp: 240_000,
        packet_count: 1500,
        octet_count: 240_000,
    };
    let mut sr = [0u8; 64];
    let n = write_sender_report(&mut sr, Ssrc(A_SSRC), &info, &[]).unwrap();
    let (f, bytes) = feed(&mut r, A, SocketKind::Rtcp, A_PEER_RTCP, &sr[..n], t1).unwrap();
    assert_eq!(
        (f.ep, f.socket, f.addr),
        (B, SocketKind::Rtcp, sa(B_PEER_RTCP))
    );
    assert_eq!(bytes, sr[..n]);
    // B's peer answers it after holding it 100 ms; its RR reaches voxgate
    // 140 ms after the SR left: the B leg's round trip is 40 ms.
    let block = ReportBlock {
        ssrc: Ssrc(A_SSRC),
        fraction_lost: 0,
        cumulative_lost: 0,
        highest_seq: 1500,
        jitter: 8,
        last_sr: info.ntp.middle(),
        delay_since_last_sr: 6554, // 100 ms in 1/65536 s
    };
    let mut rr = [0u8; 64];
    let m = write_receiver_report(&mut rr, Ssrc(B_SSRC), &[block]).unwrap();
    let t2 = t1 + Duration::from_millis(140);
    let (f, bytes) = feed(&mut r, B, SocketKind::Rtcp, B_PEER_RTCP, &rr[..m], t2).unwrap();
    assert_eq!(
        (f.ep, bytes.as_slice()),
        (A, &rr[..m]),
        "relayed back untouched"
    );
    let rtt = quality(&r, B).rtt().unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(40)) < Duration::from_micros(50),
        "{rtt:?}"
    );
    assert_eq!(quality(&r, B).remote().unwrap().jitter, 8);
    assert_eq!(quality(&r, A).rtt(), None, "A's peer answered nothing yet");
    // Voxgate never used an SSRC of its own on these legs: no BYE.
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    assert!(r.poll_bye(t2, A, &mut buf).is_none());
    assert!(r.poll_bye(t2, B, &mut buf).is_none());
    // Unbridged, both legs are voxgate's: their reports start.
    r.unbridge(B);
    let t3 = t2 + Duration::from_millis(10);
    let later = run(
        &mut r,
        t3,
        t3 + Duration::from_secs(8),
        &[(B, B_PEER, B_SSRC)],
        |_| false,
    );
    assert!(later.iter().all(|(_, t, _)| t.rtcp));
    for (ep, to) in [(A, A_PEER_RTCP), (B, B_PEER_RTCP)] {
        let mine: Vec<_> = later.iter().filter(|(_, t, _)| t.ep == ep).collect();
        assert!((2..=5).contains(&mine.len()), "{ep:?}: {}", mine.len());
        assert!(mine.iter().all(|(_, t, _)| t.addr == sa(to)));
    }
}

#[test]
fn no_report_before_media_nor_where_voxgate_cannot_report() {
    let t0 = Instant::now();
    // A format, a target, but no RTP either way yet: no timer at all.
    let r = session(t0, false);
    assert_eq!(r.poll_timeout(), None);
    // RTP flows, but the peer gave no RTCP address and sent no RTCP.
    let mut r = session(t0, false);
    r.set_remote(
        A,
        &[RemoteMedia {
            rtcp: None,
            ..remote(A_PEER, A_PEER_RTCP, false)
        }],
    );
    let sent = run(
        &mut r,
        t0,
        t0 + Duration::from_secs(10),
        &[(A, A_PEER, A_SSRC)],
        |_| false,
    );
    assert!(sent.is_empty());
    // DTLS-SRTP end to end: its RTCP is not voxgate's to read or write.
    let mut r = session(t0, false);
    r.set_dtls(A, true);
    let sent = run(
        &mut r,
        t0,
        t0 + Duration::from_secs(10),
        &[(A, A_PEER, A_SSRC)],
        |_| false,
    );
    assert!(sent.is_empty());
}

#[test]
fn reports_on_an_srtp_leg_are_srtcp() {
    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let offer = srtp::offer(&[suite]).unwrap();
    let values: Vec<String> = offer.iter().map(|a| a.to_sdp_value()).collect();
    let (line, peer) = srtp::answer(values.iter().map(String::as_str), &[suite]).unwrap();
    let ours = srtp::accept_answer(&offer, &line.to_sdp_value()).unwrap();
    let (mut peer_tx, mut peer_rx) = (peer.outbound().unwrap(), peer.inbound().unwrap());

    let t0 = Instant::now();
    let mut r = session(t0, false);
    r.set_srtp(A, &[Some(ours)]);
    let mut sent = Vec::new();
    let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
    for k in 0..400u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        let mut p = rtp(k, A_SSRC);
        let n = p.len();
        p.resize(n + MAX_OVERHEAD, 0);
        let n = peer_tx.protect_rtp(&mut p, n).unwrap();
        assert!(
            r.on_packet(A, 0, SocketKind::Rtp, sa(A_PEER), &mut p, n, now)
                .is_none()
        );
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            sent.push((t, buf[..t.len].to_vec()));
        }
    }
    assert!(!sent.is_empty());
    for (t, wire) in sent {
        assert!(t.rtcp);
        // Encrypted: the report blocks are not readable on the wire...
        let mut plain = wire.clone();
        let n = peer_rx.unprotect_rtcp(&mut plain, wire.len()).unwrap();
        assert_ne!(plain[8..n], wire[8..n]);
        // ...and the peer's context opens them.
        assert_eq!(types(&plain[..n]), [PT_RR, PT_SDES]);
        let (_, _, blocks) = report(&plain[..n]);
        assert_eq!(blocks[0].ssrc, Ssrc(A_SSRC));
    }
}

#[test]
fn the_legs_telephone_events_stay_out_of_its_jitter() {
    let t0 = Instant::now();
    let mut r = session(t0, false);
    let with_events = MediaFormat {
        telephone_event: Some(crate::endpoint::EventFormat {
            receive: PayloadType(101),
            send: PayloadType(101),
            clock_rate: 8000,
        }),
        ..pcma()
    };
    r.handle_op(t0, A, EndpointOp::Format(Some(with_events)));
    for k in 0..200u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        let mut p = rtp(k, A_SSRC);
        if (100..110).contains(&k) {
            // A digit: its packets keep the event's start timestamp.
            p[1] = 101;
            p[4..8].copy_from_slice(&(100u32 * 160).to_be_bytes());
            p.truncate(16);
        }
        feed(&mut r, A, SocketKind::Rtp, A_PEER, &p, now);
    }
    let f = quality(&r, A).figures();
    assert_eq!(
        (f.totals.packets, f.totals.lost, f.totals.jitter),
        (200, 0, 0)
    );
}
