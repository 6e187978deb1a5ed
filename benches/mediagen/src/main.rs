//! mediagen: the media side of the load harness's callers (`benches/compare`).
//!
//! SIPp plays a call's RTP from a pcap through a raw socket of its own, one per call, bound to
//! the loopback address. The kernel hands every UDP datagram delivered to that address to every
//! such socket (`raw_local_deliver` clones it for each), and on loopback that delivery runs in
//! the sender's `sendto`: the system under test pays for it, per packet and per call. That cost
//! is the same for both systems compared and pulls every media ratio towards 1 (measured at 13 %
//! of voxgate's samples in a 250-call run; benches/RESULTS.md). mediagen sends the same packets
//! from one ordinary UDP socket, so the systems pay only for their own relaying.
//!
//! Control: a datagram `start ID IP PORT STREAM PLAYS EVERY_MS` on the media socket (sent by the
//! SIPp caller's scenario once it knows the SDP answer's address) starts one call: the stream's
//! packets, with their capture timing, to IP:PORT, `PLAYS` times, a play every `EVERY_MS`.
//! Over several plays the RTP sequence numbers and timestamps continue (a protected stream,
//! whose header the authentication tag covers, is sent as captured: give it one play).
//! Datagrams that are not control are the systems' RTP towards the caller: counted, dropped.
//! Once a second a line of totals goes to stdout; it runs until it is killed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// One packet of a stream: its send offset from the start of a play, and its UDP payload.
struct Packet {
    at: Duration,
    payload: Vec<u8>,
}

struct Stream {
    packets: Vec<Packet>,
}

struct Call {
    to: SocketAddr,
    stream: usize,
    plays: u32,
    every: Duration,
    start: Instant,
    /// Index over all plays: `play * packets + packet`.
    next: usize,
}

#[derive(Default)]
struct Totals {
    calls: u64,
    done: u64,
    sent: u64,
    send_errors: u64,
    received: u64,
    received_bytes: u64,
    bad_control: u64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("mediagen: {e}");
        std::process::exit(2);
    }
}

fn usage() -> String {
    "usage: mediagen --listen IP:PORT --stream NAME=FILE.pcap [--stream ...]".to_string()
}

fn run() -> Result<(), String> {
    let mut listen: Option<SocketAddr> = None;
    let mut names: Vec<String> = Vec::new();
    let mut streams: Vec<Stream> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => {
                let v = args.next().ok_or_else(usage)?;
                listen = Some(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--stream" => {
                let v = args.next().ok_or_else(usage)?;
                let (name, file) = v.split_once('=').ok_or_else(usage)?;
                let data = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
                let packets = read_pcap_udp(&data).map_err(|e| format!("{file}: {e}"))?;
                if packets.is_empty() {
                    return Err(format!("{file}: no UDP packets"));
                }
                names.push(name.to_string());
                streams.push(Stream { packets });
            }
            _ => return Err(usage()),
        }
    }
    let listen = listen.ok_or_else(usage)?;
    let sock = bind(listen).map_err(|e| format!("bind {listen}: {e}"))?;
    println!(
        "mediagen: listening on {listen}, streams {}",
        names.join(", ")
    );
    serve(&sock, &names, &streams)
}

fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // The systems' RTP back to every call arrives here: room for bursts between two drains.
    s.set_recv_buffer_size(8 << 20)?;
    s.set_send_buffer_size(4 << 20)?;
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

fn serve(sock: &UdpSocket, names: &[String], streams: &[Stream]) -> Result<(), String> {
    let mut calls: Vec<Call> = Vec::new();
    // Due calls by their next send time; a call's index is stable (finished calls stay, idle).
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut t = Totals::default();
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let mut next_report = Instant::now() + Duration::from_secs(1);
    let stdout = io::stdout();
    loop {
        let now = Instant::now();
        while let Some(&Reverse((at, i))) = due.peek() {
            if at > now {
                break;
            }
            due.pop();
            let c = &mut calls[i];
            let s = &streams[c.stream];
            let n = s.packets.len();
            let (play, k) = (c.next / n, c.next % n);
            let p = &s.packets[k];
            let payload: &[u8] = if play == 0 {
                &p.payload
            } else {
                continued(&p.payload, play, n, c.every, &mut out)
            };
            match sock.send_to(payload, c.to) {
                Ok(_) => t.sent += 1,
                Err(_) => t.send_errors += 1,
            }
            c.next += 1;
            if c.next < n * c.plays as usize {
                due.push(Reverse((send_time(c, s), i)));
            } else {
                t.done += 1;
            }
        }
        loop {
            match sock.recv_from(&mut buf) {
                Ok((len, _from)) => {
                    let d = &buf[..len];
                    if d.starts_with(b"start ") {
                        match parse_start(d, names) {
                            Some((id, to, stream, plays, every)) => {
                                let c = Call {
                                    to,
                                    stream,
                                    plays,
                                    every,
                                    start: Instant::now(),
                                    next: 0,
                                };
                                let at = send_time(&c, &streams[stream]);
                                let i = calls.len();
                                calls.push(c);
                                if let Some(old) = by_id.insert(id, i) {
                                    // A repeated start for one call: the old schedule ends.
                                    calls[old].plays = 0;
                                }
                                due.push(Reverse((at, i)));
                                t.calls += 1;
                            }
                            None => t.bad_control += 1,
                        }
                    } else {
                        t.received += 1;
                        t.received_bytes += len as u64;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors of earlier sends surface here on Linux: not fatal.
                Err(_) => break,
            }
        }
        let now = Instant::now();
        if now >= next_report {
            next_report += Duration::from_secs(1);
            let mut o = stdout.lock();
            let _ = writeln!(
                o,
                "calls {} done {} sent {} send_errors {} received {} received_bytes {} bad_control {}",
                t.calls, t.done, t.sent, t.send_errors, t.received, t.received_bytes, t.bad_control
            );
            let _ = o.flush();
        }
        // Sleep to the next packet, but drain the socket at least every millisecond.
        let wake = due
            .peek()
            .map(|Reverse((at, _))| *at)
            .unwrap_or(now + Duration::from_millis(1));
        let wait = wake
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(1));
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// When call `c` sends its next packet: the play's start plus the packet's capture offset.
fn send_time(c: &Call, s: &Stream) -> Instant {
    let n = s.packets.len();
    let (play, k) = (c.next / n, c.next % n);
    c.start + c.every * play as u32 + s.packets[k].at
}

/// The packet of a later play with its RTP sequence number and timestamp moved on, so the far
/// end sees one continuous stream (`every` of media time per play, at 8 kHz).
fn continued<'a>(p: &[u8], play: usize, n: usize, every: Duration, out: &'a mut [u8]) -> &'a [u8] {
    let len = p.len().min(out.len());
    out[..len].copy_from_slice(&p[..len]);
    if len >= 12 && p[0] >> 6 == 2 {
        let seq = u16::from_be_bytes([p[2], p[3]]).wrapping_add((play * n) as u16);
        out[2..4].copy_from_slice(&seq.to_be_bytes());
        let step = (every.as_millis() as u64 * 8) as u32;
        let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]])
            .wrapping_add(step.wrapping_mul(play as u32));
        out[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    &out[..len]
}

type Start = (String, SocketAddr, usize, u32, Duration);

/// `start ID IP PORT STREAM PLAYS EVERY_MS`.
fn parse_start(d: &[u8], names: &[String]) -> Option<Start> {
    let text = std::str::from_utf8(d).ok()?;
    let mut f = text.split_ascii_whitespace().skip(1);
    let id = f.next()?.to_string();
    let ip: std::net::IpAddr = f.next()?.parse().ok()?;
    let port: u16 = f.next()?.parse().ok()?;
    let name = f.next()?;
    let stream = names.iter().position(|n| n == name)?;
    let plays: u32 = f.next()?.parse().ok()?;
    let every: u64 = f.next()?.parse().ok()?;
    if port == 0 || plays == 0 || plays > 1000 || every > 3_600_000 {
        return None;
    }
    Some((
        id,
        SocketAddr::new(ip, port),
        stream,
        plays,
        Duration::from_millis(every),
    ))
}

/// The UDP payloads of a classic pcap (Ethernet, Linux cooked or raw IP link types; IPv4 and
/// IPv6 without extension headers) with their offsets from the first packet.
fn read_pcap_udp(d: &[u8]) -> Result<Vec<Packet>, String> {
    if d.len() < 24 {
        return Err("not a pcap file".into());
    }
    let magic = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return Err("not a classic pcap file (pcapng is not read)".into()),
    };
    let u32at = |o: usize| -> u32 {
        let b = [d[o], d[o + 1], d[o + 2], d[o + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link = u32at(20);
    let mut out = Vec::new();
    let mut first: Option<Duration> = None;
    let mut o = 24;
    while o + 16 <= d.len() {
        let (sec, frac, incl) = (u32at(o), u32at(o + 4), u32at(o + 8) as usize);
        o += 16;
        if o + incl > d.len() {
            break;
        }
        let frame = &d[o..o + incl];
        o += incl;
        let ts = Duration::new(
            sec as u64,
            if nanos {
                frac
            } else {
                frac.saturating_mul(1000)
            },
        );
        let ip = match link {
            1 if frame.len() >= 14 => &frame[14..],
            113 if frame.len() >= 16 => &frame[16..],
            101 | 228 | 229 => frame,
            0 if frame.len() >= 4 => &frame[4..],
            _ => continue,
        };
        if let Some(payload) = udp_payload(ip) {
            let at = ts.saturating_sub(*first.get_or_insert(ts));
            out.push(Packet {
                at,
                payload: payload.to_vec(),
            });
        }
    }
    Ok(out)
}

fn udp_payload(ip: &[u8]) -> Option<&[u8]> {
    let v = ip.first()? >> 4;
    let (proto, hlen) = match v {
        4 => (*ip.get(9)?, ((ip[0] & 0x0f) as usize) * 4),
        6 => (*ip.get(6)?, 40),
        _ => return None,
    };
    if proto != 17 || ip.len() < hlen + 8 {
        return None;
    }
    let udp = &ip[hlen..];
    let len = (u16::from_be_bytes([udp[4], udp[5]]) as usize).min(udp.len());
    if len < 8 {
        return None;
    }
    Some(&udp[8..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_with(payloads: &[(u32, &[u8])]) -> Vec<u8> {
        // magic, version 2.4, thiszone 0, sigfigs 0, snaplen, link type raw IP
        let mut h = Vec::new();
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&101u32.to_le_bytes());
        for (usec, p) in payloads {
            let mut ip = vec![
                0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
            ];
            let ulen = (8 + p.len()) as u16;
            ip.extend_from_slice(&[0x3e, 0x80, 0x3e, 0x80]);
            ip.extend_from_slice(&ulen.to_be_bytes());
            ip.extend_from_slice(&[0, 0]);
            ip.extend_from_slice(p);
            h.extend_from_slice(&1u32.to_le_bytes());
            h.extend_from_slice(&usec.to_le_bytes());
            h.extend_from_slice(&(ip.len() as u32).to_le_bytes());
            h.extend_from_slice(&(ip.len() as u32).to_le_bytes());
            h.extend_from_slice(&ip);
        }
        h
    }

    #[test]
    fn reads_udp_payloads_with_offsets() {
        let d = pcap_with(&[(0, b"one"), (20_000, b"two!")]);
        let p = read_pcap_udp(&d).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].payload, b"one");
        assert_eq!(p[1].payload, b"two!");
        assert_eq!(p[1].at, Duration::from_millis(20));
    }

    #[test]
    fn truncated_or_foreign_files_are_errors_or_short_not_panics() {
        let d = pcap_with(&[(0, b"one"), (20_000, b"two!")]);
        for cut in 0..d.len() {
            let _ = read_pcap_udp(&d[..cut]);
        }
        assert!(read_pcap_udp(b"\x0a\x0d\x0d\x0a0000000000000000000000").is_err());
    }

    #[test]
    fn later_plays_continue_sequence_and_timestamp() {
        let mut rtp = vec![0x80, 8, 0xff, 0xfe, 0, 0, 0x10, 0, 1, 2, 3, 4];
        rtp.extend_from_slice(&[0xd5; 160]);
        let mut out = vec![0u8; 2048];
        let p = continued(&rtp, 2, 236, Duration::from_millis(7100), &mut out);
        assert_eq!(
            u16::from_be_bytes([p[2], p[3]]),
            0xfffeu16.wrapping_add(472)
        );
        assert_eq!(
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            0x1000 + 2 * 56_800
        );
        assert_eq!(&p[8..], &rtp[8..]);
    }

    #[test]
    fn start_command_is_checked() {
        let names = vec!["plain".to_string(), "srtp".to_string()];
        let (id, to, s, plays, every) =
            parse_start(b"start 7 127.0.0.1 20002 srtp 1 0\n", &names).unwrap();
        assert_eq!(
            (id.as_str(), to.port(), s, plays, every),
            ("7", 20002, 1, 1, Duration::ZERO)
        );
        assert!(parse_start(b"start 7 127.0.0.1 20002 video 1 0", &names).is_none());
        assert!(parse_start(b"start 7 127.0.0.1 0 plain 4 7100", &names).is_none());
        assert!(parse_start(b"start 7 not-an-ip 20002 plain 4 7100", &names).is_none());
        assert!(parse_start(b"start 7 127.0.0.1", &names).is_none());
    }
}
