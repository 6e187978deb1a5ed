//! RTP/RTCP header parsing (RFC 3550) and telling them apart on a muxed port (RFC 5761 §4).
//!
//! Only what the relay needs: version, payload type, sequence number, SSRC.
//! Parsing borrows the packet and allocates nothing.

/// An RTP synchronisation source identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ssrc(pub u32);

/// An RTP payload type (7 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PayloadType(pub u8);

/// The fixed RTP header fields the relay looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: Ssrc,
}

/// What a datagram on a media port is (RFC 7983 §7 demultiplexing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// An RTP packet.
    Rtp(RtpHeader),
    /// An RTCP (compound) packet.
    Rtcp,
    /// A DTLS record (first byte 20–63): DTLS-SRTP's handshake, end to end.
    Dtls,
    /// A STUN message (first byte 0–3): ICE checks and consent (RFC 7675).
    Stun,
    /// None of those: too short, not version 2, ZRTP, TURN channel data, a
    /// length that does not add up.
    Invalid,
}

/// Smallest RTP packet: the fixed header.
pub const RTP_HEADER_LEN: usize = 12;
/// Smallest RTCP packet: a header with no report blocks.
pub const RTCP_HEADER_LEN: usize = 8;

/// True when the second octet is an RTCP packet type (192–223). RFC 5761 §4
/// reserves this range against RTP payload types 64–95 (with the marker bit);
/// 200–204 are SR/RR/SDES/BYE/APP, 205/206 the feedback messages video uses.
pub fn is_rtcp_type(second_octet: u8) -> bool {
    (192..=223).contains(&second_octet)
}

/// Smallest STUN message: its header (RFC 8489 §5).
pub const STUN_HEADER_LEN: usize = 20;
/// Smallest DTLS record: its header (RFC 6347 §4.1).
pub const DTLS_HEADER_LEN: usize = 13;

/// Classifies a datagram by its first byte (RFC 7983 §7): STUN 0–3, DTLS
/// 20–63, RTP/RTCP 128–191. On an RTP port (`muxed_port`) RTCP is told apart
/// by its packet type; on an RTCP port everything valid is RTCP.
pub fn classify(pkt: &[u8], muxed_port: bool) -> Packet {
    let [first, second, ..] = *pkt else {
        return Packet::Invalid;
    };
    match first {
        // STUN: also the magic cookie at bytes 4..8 (RFC 8489 §5).
        0..=3 if pkt.len() >= STUN_HEADER_LEN && pkt[4..8] == [0x21, 0x12, 0xa4, 0x42] => {
            return Packet::Stun;
        }
        20..=63 if pkt.len() >= DTLS_HEADER_LEN => return Packet::Dtls,
        128..=191 => {}
        _ => return Packet::Invalid,
    }
    if !muxed_port || is_rtcp_type(second) {
        return if pkt.len() >= RTCP_HEADER_LEN && is_rtcp_type(second) {
            Packet::Rtcp
        } else {
            Packet::Invalid
        };
    }
    match parse_rtp(pkt) {
        Some(h) => Packet::Rtp(h),
        None => Packet::Invalid,
    }
}

/// Parses the fixed RTP header, checking that the CSRC list fits.
pub fn parse_rtp(pkt: &[u8]) -> Option<RtpHeader> {
    let header: &[u8; RTP_HEADER_LEN] = pkt.get(..RTP_HEADER_LEN)?.try_into().ok()?;
    if header[0] >> 6 != 2 {
        return None;
    }
    let csrc_count = usize::from(header[0] & 0x0f);
    if pkt.len() < RTP_HEADER_LEN + 4 * csrc_count {
        return None;
    }
    Some(RtpHeader {
        marker: header[1] & 0x80 != 0,
        payload_type: PayloadType(header[1] & 0x7f),
        seq: u16::from_be_bytes([header[2], header[3]]),
        timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ssrc: Ssrc(u32::from_be_bytes([
            header[8], header[9], header[10], header[11],
        ])),
    })
}

/// The state of one RTP stream voxgate sends on a leg: its SSRC, the next
/// sequence number and the timestamp of the next packet.
///
/// One per leg, shared by whatever is the source at the moment (player,
/// mixer, DTMF generator): each writes its packets' headers through it, so
/// the far end sees one stream with continuous sequence numbers and
/// timestamps whichever source speaks (RFC 3550 §5.1). A source passes it by
/// `&mut` when it produces a packet; it holds no clock.
///
/// ```
/// use voxgate_media::rtp::{OutgoingStream, PayloadType, Ssrc, parse_rtp};
///
/// let mut stream = OutgoingStream::with_state(Ssrc(7), 65535, 1000);
/// let mut pkt = [0u8; 172];
/// let n = stream.write_header(PayloadType(8), &mut pkt).unwrap(); // first of a talk spurt
/// stream.advance(160); // the payload carried 160 samples
/// let h = parse_rtp(&pkt[..n]).unwrap();
/// assert!(h.marker);
/// assert_eq!((h.seq, h.timestamp), (65535, 1000));
/// stream.write_header(PayloadType(8), &mut pkt).unwrap();
/// let h = parse_rtp(&pkt).unwrap();
/// assert!(!h.marker);
/// assert_eq!((h.seq, h.timestamp), (0, 1160));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingStream {
    ssrc: Ssrc,
    seq: u16,
    timestamp: u32,
    talk_spurt: bool,
}

impl OutgoingStream {
    /// A new stream: SSRC, first sequence number and first timestamp random
    /// (RFC 3550 §5.1, §8; RFC 3711 §9.2 wants them unpredictable) from the
    /// thread's CSPRNG, which the OS's secure source seeds and reseeds. A
    /// system call per stream showed in call-setup profiles. Its first
    /// packet starts a talk spurt.
    pub fn new() -> Self {
        let b: [u8; 10] = rand::random();
        let ssrc = Ssrc(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let seq = u16::from_be_bytes([b[4], b[5]]);
        let timestamp = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
        Self::with_state(ssrc, seq, timestamp)
    }

    /// A stream with a given state (tests, or to continue another's numbering).
    pub fn with_state(ssrc: Ssrc, seq: u16, timestamp: u32) -> Self {
        OutgoingStream {
            ssrc,
            seq,
            timestamp,
            talk_spurt: true,
        }
    }

    /// Its SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The sequence number the next packet gets.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// The timestamp the next packet gets.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Whether the next packet carries the marker bit.
    pub fn talk_spurt_pending(&self) -> bool {
        self.talk_spurt
    }

    /// The next packet starts a talk spurt: it carries the marker bit.
    pub fn start_talk_spurt(&mut self) {
        self.talk_spurt = true;
    }

    /// Writes a 12-byte header (no CSRC, no extension) for the next packet at
    /// the current timestamp into `buf`, and takes a sequence number. The
    /// timestamp does not move: call [`advance`](Self::advance) with the
    /// samples the payload covers (an RFC 4733 event sends several packets
    /// at one timestamp).
    pub fn write_header(
        &mut self,
        payload_type: PayloadType,
        buf: &mut [u8],
    ) -> Result<usize, crate::MediaError> {
        let available = buf.len();
        let header: &mut [u8; RTP_HEADER_LEN] = buf
            .get_mut(..RTP_HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(crate::MediaError::BufferTooSmall {
                needed: RTP_HEADER_LEN,
                available,
            })?;
        header[0] = 0x80;
        header[1] = (payload_type.0 & 0x7f) | if self.talk_spurt { 0x80 } else { 0 };
        header[2..4].copy_from_slice(&self.seq.to_be_bytes());
        header[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        header[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
        self.talk_spurt = false;
        Ok(RTP_HEADER_LEN)
    }

    /// Moves the timestamp on by `samples` (what the packets sent covered).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Time passed with nothing sent (silence, a pause between sources): the
    /// timestamp moves on and the next packet starts a talk spurt.
    pub fn skip(&mut self, samples: u32) {
        self.advance(samples);
        self.start_talk_spurt();
    }

    /// A packet numbered `seq` at `timestamp` went out in this stream from
    /// elsewhere (a relayed packet whose header was rewritten into it): the
    /// next packet follows it. An older number (reordered) moves nothing;
    /// returns whether the stream moved.
    pub fn follow(&mut self, seq: u16, timestamp: u32) -> bool {
        if (seq.wrapping_sub(self.seq) as i16) < 0 {
            return false;
        }
        self.seq = seq.wrapping_add(1);
        self.timestamp = timestamp;
        self.talk_spurt = false;
        true
    }
}

impl Default for OutgoingStream {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, marker: bool, seq: u16) -> [u8; 12] {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        p[1] = pt | if marker { 0x80 } else { 0 };
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&160u32.to_be_bytes());
        p[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        p
    }

    #[test]
    fn outgoing_stream_numbers_continuously() {
        let mut s = OutgoingStream::with_state(Ssrc(0xdead_beef), 65534, u32::MAX - 100);
        let mut buf = [0u8; 12];
        let mut seen = Vec::new();
        for _ in 0..3 {
            s.write_header(PayloadType(0), &mut buf).unwrap();
            seen.push(parse_rtp(&buf).unwrap());
            s.advance(160);
        }
        assert_eq!(
            seen.iter().map(|h| h.seq).collect::<Vec<_>>(),
            [65534, 65535, 0]
        );
        assert_eq!(seen[1].timestamp, 59);
        assert_eq!(
            seen.iter().map(|h| h.marker).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert!(seen.iter().all(|h| h.ssrc == Ssrc(0xdead_beef)));
        // Silence not sent: time moves on, and the next packet has the marker.
        s.skip(800);
        s.write_header(PayloadType(0), &mut buf).unwrap();
        let h = parse_rtp(&buf).unwrap();
        assert!(h.marker);
        assert_eq!(h.timestamp, 59 + 160 * 2 + 800);
        assert_eq!(
            s.write_header(PayloadType(0), &mut [0u8; 11]),
            Err(crate::MediaError::BufferTooSmall {
                needed: 12,
                available: 11
            })
        );
        // Fresh streams differ (random SSRCs; equal by chance 1 in 2^32).
        assert_ne!(OutgoingStream::new().ssrc(), OutgoingStream::new().ssrc());
    }

    #[test]
    fn parses_the_fixed_header() {
        let h = parse_rtp(&rtp(8, true, 65535)).unwrap();
        assert_eq!(h.payload_type, PayloadType(8));
        assert!(h.marker);
        assert_eq!(h.seq, 65535);
        assert_eq!(h.timestamp, 160);
        assert_eq!(h.ssrc, Ssrc(0xdead_beef));
    }

    #[test]
    fn muxed_rtcp_is_told_apart_by_packet_type() {
        // SR (200) and RR (201) on the RTP port are RTCP; PT 8 is RTP.
        let mut sr = [0u8; 28];
        sr[0] = 0x80;
        sr[1] = 200;
        assert_eq!(classify(&sr, true), Packet::Rtcp);
        sr[1] = 201;
        assert_eq!(classify(&sr, true), Packet::Rtcp);
        assert!(matches!(classify(&rtp(8, false, 1), true), Packet::Rtp(_)));
        // Marker + PT 96 (second octet 224) is RTP, not RTCP.
        assert!(matches!(classify(&rtp(96, true, 1), true), Packet::Rtp(_)));
    }

    #[test]
    fn rtcp_port_takes_only_rtcp() {
        let mut rr = [0u8; 8];
        rr[0] = 0x80;
        rr[1] = 201;
        assert_eq!(classify(&rr, false), Packet::Rtcp);
        assert_eq!(classify(&rtp(8, false, 1), false), Packet::Invalid);
        assert_eq!(classify(&rr[..4], false), Packet::Invalid);
    }

    #[test]
    fn refuses_short_wrong_version_and_missing_csrcs() {
        assert_eq!(classify(&[], true), Packet::Invalid);
        assert_eq!(classify(&[0x80], true), Packet::Invalid);
        assert_eq!(classify(&rtp(8, false, 1)[..11], true), Packet::Invalid);
        let mut stun = rtp(8, false, 1);
        stun[0] = 0x00; // STUN binding request starts with 0b00
        assert_eq!(classify(&stun, true), Packet::Invalid);
        let mut csrc = rtp(8, false, 1);
        csrc[0] = 0x82; // two CSRCs announced, none present
        assert_eq!(classify(&csrc, true), Packet::Invalid);
    }

    /// A STUN Binding Request as ICE sends it (RFC 5769 §2.1's header).
    const STUN_BINDING: [u8; 20] = [
        0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    /// The start of a DTLS 1.2 ClientHello record: handshake (22), version
    /// 254.253, epoch 0, sequence 0, length.
    const DTLS_HELLO: [u8; 25] = [
        22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0x20,
    ];

    #[test]
    fn rfc_7983_demultiplexing() {
        assert_eq!(classify(&STUN_BINDING, true), Packet::Stun);
        assert_eq!(classify(&STUN_BINDING, false), Packet::Stun);
        assert_eq!(classify(&DTLS_HELLO, true), Packet::Dtls);
        // Application data (23) and alerts (21) are DTLS too.
        let mut app = DTLS_HELLO;
        app[0] = 23;
        assert_eq!(classify(&app, true), Packet::Dtls);
        // A short STUN-looking datagram, or one without the magic cookie, is not STUN.
        assert_eq!(classify(&STUN_BINDING[..12], true), Packet::Invalid);
        let mut no_cookie = STUN_BINDING;
        no_cookie[4] = 0;
        assert_eq!(classify(&no_cookie, true), Packet::Invalid);
        // ZRTP (16-19) and TURN channel data (64-79) are not relayed.
        let mut zrtp = [0u8; 28];
        zrtp[0] = 0x10;
        assert_eq!(classify(&zrtp, true), Packet::Invalid);
        let mut turn = [0u8; 28];
        turn[0] = 0x40;
        assert_eq!(classify(&turn, true), Packet::Invalid);
        // RTP still is RTP.
        assert!(matches!(classify(&rtp(0, false, 1), true), Packet::Rtp(_)));
    }
}
