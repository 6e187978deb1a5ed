//! RTCP wire types (RFC 3550 §6.4–§6.6): SR, RR, SDES, BYE, and compound
//! packets, parsed as borrowed views and printed into a caller's buffer.
//!
//! Parsing never allocates and never panics: [`Compound`] iterates over a
//! `&[u8]`, every length is checked before use, and each packet is checked
//! whole when it is parsed, so the item iterators that follow cannot fail.
//! APP (204), the feedback messages (RTPFB 205, PSFB 206) and any other type
//! come out as [`RtcpPacket::Unknown`] and are passed over.
//!
//! Parsing is strict where printing is canonical (SDES chunk padding, BYE
//! reason padding), so `parse(print(p)) == p` for every packet that parses.

use crate::error::{MediaError, RtcpFault};
use crate::rtp::Ssrc;

/// Sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Receiver report (§6.4.2).
pub const PT_RR: u8 = 201;
/// Source description (§6.5).
pub const PT_SDES: u8 = 202;
/// Goodbye (§6.6).
pub const PT_BYE: u8 = 203;
/// SDES item type of the canonical name (§6.5.1).
pub const SDES_CNAME: u8 = 1;

/// Length of one report block on the wire.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Length of the sender info (NTP, RTP timestamp, counts).
pub const SENDER_INFO_LEN: usize = 20;
/// Most report blocks one SR or RR holds (the 5-bit count).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// A 64-bit NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the low).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The middle 32 bits, as carried in LSR (§6.4.1).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// Seconds between 1900 and the Unix epoch.
    const UNIX_OFFSET: u64 = 2_208_988_800;

    /// Converts a wall-clock time (the caller reads the clock, not us).
    pub fn from_unix(since_epoch: std::time::Duration) -> NtpTime {
        let secs = since_epoch.as_secs().wrapping_add(Self::UNIX_OFFSET);
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// This time plus a duration.
    pub fn plus(self, d: std::time::Duration) -> NtpTime {
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime(self.0.wrapping_add(d.as_secs() << 32).wrapping_add(frac))
    }
}

/// The sender info of an SR (§6.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp: NtpTime,
    /// The same instant in the sender's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the stream started.
    pub packet_count: u32,
    /// Payload octets sent since the stream started.
    pub octet_count: u32,
}

/// One reception report block (§6.4.1): what a receiver saw of one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: late duplicates may make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from the source (0: none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (0: none).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Largest cumulative loss a block can carry.
    pub const MAX_LOST: i32 = 0x7f_ffff;
    /// Smallest (most negative) cumulative loss.
    pub const MIN_LOST: i32 = -0x80_0000;

    fn read(b: &[u8; REPORT_BLOCK_LEN]) -> ReportBlock {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        // Sign-extend the 24-bit count.
        let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
        ReportBlock {
            ssrc: Ssrc(word(0)),
            fraction_lost: b[4],
            cumulative_lost: lost,
            highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), MediaError> {
        w.u32(self.ssrc.0)?;
        let lost = self
            .cumulative_lost
            .clamp(Self::MIN_LOST, Self::MAX_LOST)
            .to_be_bytes();
        w.bytes(&[self.fraction_lost, lost[1], lost[2], lost[3]])?;
        w.u32(self.highest_seq)?;
        w.u32(self.jitter)?;
        w.u32(self.last_sr)?;
        w.u32(self.delay_since_last_sr)
    }
}

/// The report blocks of an SR or RR, as bytes checked to hold whole blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

impl<'a> ReportBlocks<'a> {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.0.len() / REPORT_BLOCK_LEN
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The blocks in order.
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.0
            .chunks_exact(REPORT_BLOCK_LEN)
            .filter_map(|c| c.try_into().ok().map(ReportBlock::read))
    }
}

/// A sender report (§6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender.
    pub ssrc: Ssrc,
    /// Its sending figures.
    pub info: SenderInfo,
    /// What it received.
    pub blocks: ReportBlocks<'a>,
    /// Profile-specific extension (kept as is).
    pub extension: &'a [u8],
}

/// A receiver report (§6.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The reporter.
    pub ssrc: Ssrc,
    /// What it received.
    pub blocks: ReportBlocks<'a>,
    /// Profile-specific extension (kept as is).
    pub extension: &'a [u8],
}

/// A source description packet (§6.5): chunks of items, checked at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    chunks: &'a [u8],
}

/// One SDES item: type and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type (1 = CNAME, …).
    pub kind: u8,
    /// Item value (UTF-8 by the RFC; not checked).
    pub value: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items in order.
    pub fn items(&self) -> impl Iterator<Item = SdesItem<'a>> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let [kind, len, tail @ ..] = rest else {
                return None;
            };
            let value = tail.get(..usize::from(*len))?;
            rest = &tail[value.len()..];
            Some(SdesItem { kind: *kind, value })
        })
    }

    /// The CNAME item's value, if any.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|i| i.kind == SDES_CNAME).map(|i| i.value)
    }
}

impl<'a> Sdes<'a> {
    /// Number of chunks.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when there is no chunk.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The chunks in order.
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        let mut rest = self.chunks;
        std::iter::from_fn(move || {
            let (ssrc, items_len, total) = sdes_chunk_extent(rest).ok()?;
            let chunk = SdesChunk {
                ssrc,
                items: rest.get(4..4 + items_len)?,
            };
            rest = rest.get(total..)?;
            Some(chunk)
        })
    }

    fn parse(count: u8, body: &'a [u8]) -> Result<Sdes<'a>, RtcpFault> {
        let mut rest = body;
        for _ in 0..count {
            let (_, _, total) = sdes_chunk_extent(rest)?;
            rest = rest.get(total..).ok_or(RtcpFault::SdesItem)?;
        }
        if !rest.is_empty() {
            return Err(RtcpFault::Length);
        }
        Ok(Sdes {
            count,
            chunks: body,
        })
    }
}

/// Walks one chunk: its SSRC, the length of its items (without the
/// terminator) and its whole length with the null padding, which must be
/// the canonical one to four null octets.
fn sdes_chunk_extent(chunk: &[u8]) -> Result<(Ssrc, usize, usize), RtcpFault> {
    let ssrc = chunk.get(..4).ok_or(RtcpFault::SdesItem)?;
    let ssrc = Ssrc(u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]));
    let mut at = 4;
    loop {
        match chunk.get(at..at + 2) {
            Some([0, _]) => break,
            Some([_, len]) => at += 2 + usize::from(*len),
            _ => match chunk.get(at) {
                Some(0) => break,
                _ => return Err(RtcpFault::SdesItem),
            },
        }
    }
    let pad = 4 - at % 4;
    let terminator = chunk.get(at..at + pad).ok_or(RtcpFault::SdesItem)?;
    if terminator.iter().any(|b| *b != 0) {
        return Err(RtcpFault::SdesItem);
    }
    Ok((ssrc, at - 4, at + pad))
}

/// A goodbye packet (§6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    /// Why they left, if said.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn sources(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.sources
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }
}

/// One packet of a compound RTCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR.
    SenderReport(SenderReport<'a>),
    /// RR.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES.
    Sdes(Sdes<'a>),
    /// BYE.
    Bye(Bye<'a>),
    /// Any other type (APP, RTPFB, PSFB, XR, …): passed over, kept as is.
    Unknown {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/subtype field.
        count: u8,
        /// The body after the 4-byte header (without padding).
        body: &'a [u8],
    },
}

/// Iterates the packets of a compound RTCP packet without allocating.
/// After the first error it yields nothing more (the rest cannot be framed).
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    data: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Compound<'a> {
    /// Iterates `data` (one UDP payload).
    pub fn new(data: &'a [u8]) -> Compound<'a> {
        Compound {
            data,
            offset: 0,
            failed: false,
        }
    }

    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, MediaError> {
        let offset = self.offset;
        let rest = self.data.get(offset..).unwrap_or_default();
        let fail = |packet_type: u8, fault: RtcpFault| MediaError::RtcpInvalid {
            offset,
            packet_type,
            fault,
        };
        let [first, packet_type, l0, l1, ..] = *rest else {
            return Err(fail(0, RtcpFault::Truncated));
        };
        if first >> 6 != 2 {
            return Err(fail(packet_type, RtcpFault::Version));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([l0, l1])) + 1);
        let packet = rest
            .get(..len)
            .ok_or(fail(packet_type, RtcpFault::Truncated))?;
        let mut body = &packet[4..];
        if first & 0x20 != 0 {
            // Padding: its last octet counts it, itself included (§6.4.1).
            let pad = usize::from(*body.last().unwrap_or(&0));
            if pad == 0 || pad > body.len() {
                return Err(fail(packet_type, RtcpFault::Padding));
            }
            body = &body[..body.len() - pad];
        }
        self.offset += len;
        let count = first & 0x1f;
        parse_body(packet_type, count, body).map_err(|fault| fail(packet_type, fault))
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.data.len() {
            return None;
        }
        let item = self.next_packet();
        self.failed = item.is_err();
        Some(item)
    }
}

fn read_u32(b: &[u8], at: usize) -> Result<u32, RtcpFault> {
    let w = b.get(at..at + 4).ok_or(RtcpFault::Length)?;
    Ok(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

fn parse_body(packet_type: u8, count: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpFault> {
    let blocks_at = |start: usize| -> Result<(ReportBlocks<'_>, &[u8]), RtcpFault> {
        let end = start + REPORT_BLOCK_LEN * usize::from(count);
        let blocks = body.get(start..end).ok_or(RtcpFault::Length)?;
        Ok((ReportBlocks(blocks), &body[end..]))
    };
    Ok(match packet_type {
        PT_SR => {
            let ssrc = Ssrc(read_u32(body, 0)?);
            let info = SenderInfo {
                ntp: NtpTime(u64::from(read_u32(body, 4)?) << 32 | u64::from(read_u32(body, 8)?)),
                rtp_timestamp: read_u32(body, 12)?,
                packet_count: read_u32(body, 16)?,
                octet_count: read_u32(body, 20)?,
            };
            let (blocks, extension) = blocks_at(4 + SENDER_INFO_LEN)?;
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                info,
                blocks,
                extension,
            })
        }
        PT_RR => {
            let ssrc = Ssrc(read_u32(body, 0)?);
            let (blocks, extension) = blocks_at(4)?;
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc,
                blocks,
                extension,
            })
        }
        PT_SDES => RtcpPacket::Sdes(Sdes::parse(count, body)?),
        PT_BYE => {
            let end = 4 * usize::from(count);
            let sources = body.get(..end).ok_or(RtcpFault::Length)?;
            let reason = match body.get(end..) {
                None | Some([]) => None,
                Some([len, rest @ ..]) => {
                    let len = usize::from(*len);
                    let text = rest.get(..len).ok_or(RtcpFault::ByeReason)?;
                    // Only the canonical zero to three padding octets may follow.
                    if rest.len() != padded4(1 + len) - 1 {
                        return Err(RtcpFault::ByeReason);
                    }
                    Some(text)
                }
            };
            RtcpPacket::Bye(Bye { sources, reason })
        }
        _ => RtcpPacket::Unknown {
            packet_type,
            count,
            body,
        },
    })
}

fn padded4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Writes into a caller's buffer, refusing to run past its end.
struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), MediaError> {
        let available = self.buf.len();
        let dst =
            self.buf
                .get_mut(self.pos..self.pos + b.len())
                .ok_or(MediaError::BufferTooSmall {
                    needed: self.pos + b.len(),
                    available,
                })?;
        dst.copy_from_slice(b);
        self.pos += b.len();
        Ok(())
    }

    fn u32(&mut self, v: u32) -> Result<(), MediaError> {
        self.bytes(&v.to_be_bytes())
    }

    fn zeros(&mut self, n: usize) -> Result<(), MediaError> {
        self.bytes(&[0; 4][..n])
    }
}

/// Prints one packet whose body the closure writes; fills in the header.
fn packet(
    buf: &mut [u8],
    count: u8,
    packet_type: u8,
    body: impl FnOnce(&mut Writer<'_>) -> Result<(), MediaError>,
) -> Result<usize, MediaError> {
    let mut w = Writer { buf, pos: 4 };
    body(&mut w)?;
    // A body that is not whole words (an extension or unknown body that
    // came padded) is padded back, so that it parses to the same body.
    let pad = (4 - w.pos % 4) % 4;
    let padding = if pad > 0 {
        w.zeros(pad - 1)?;
        w.bytes(&[pad as u8])?;
        0x20
    } else {
        0
    };
    let len = w.pos;
    let words = u16::try_from(len / 4 - 1).map_err(|_| MediaError::BufferTooSmall {
        needed: len,
        available: 4 * usize::from(u16::MAX),
    })?;
    let [w0, w1] = words.to_be_bytes();
    w.buf[..4].copy_from_slice(&[0x80 | padding | (count & 0x1f), packet_type, w0, w1]);
    Ok(len)
}

fn block_count(blocks: usize) -> Result<u8, MediaError> {
    u8::try_from(blocks)
        .ok()
        .filter(|n| usize::from(*n) <= MAX_REPORT_BLOCKS)
        .ok_or(MediaError::TooManyReportBlocks {
            blocks,
            limit: MAX_REPORT_BLOCKS,
        })
}

/// Prints an SR with these blocks (at most 31) into `buf`; returns its length.
pub fn write_sender_report(
    buf: &mut [u8],
    ssrc: Ssrc,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<usize, MediaError> {
    let count = block_count(blocks.len())?;
    packet(buf, count, PT_SR, |w| {
        w.u32(ssrc.0)?;
        w.u32((info.ntp.0 >> 32) as u32)?;
        w.u32(info.ntp.0 as u32)?;
        w.u32(info.rtp_timestamp)?;
        w.u32(info.packet_count)?;
        w.u32(info.octet_count)?;
        blocks.iter().try_for_each(|b| b.write(w))
    })
}

/// Prints an RR with these blocks (at most 31) into `buf`; returns its length.
pub fn write_receiver_report(
    buf: &mut [u8],
    ssrc: Ssrc,
    blocks: &[ReportBlock],
) -> Result<usize, MediaError> {
    let count = block_count(blocks.len())?;
    packet(buf, count, PT_RR, |w| {
        w.u32(ssrc.0)?;
        blocks.iter().try_for_each(|b| b.write(w))
    })
}

/// Prints an SDES packet with one chunk holding a CNAME (at most 255 octets).
pub fn write_sdes_cname(buf: &mut [u8], ssrc: Ssrc, cname: &[u8]) -> Result<usize, MediaError> {
    let len =
        u8::try_from(cname.len()).map_err(|_| MediaError::SdesItemTooLong { len: cname.len() })?;
    packet(buf, 1, PT_SDES, |w| {
        w.u32(ssrc.0)?;
        w.bytes(&[SDES_CNAME, len])?;
        w.bytes(cname)?;
        w.zeros(4 - (2 + cname.len()) % 4)
    })
}

/// Prints a BYE for these sources (at most 31), with an optional reason.
pub fn write_bye(
    buf: &mut [u8],
    sources: &[Ssrc],
    reason: Option<&[u8]>,
) -> Result<usize, MediaError> {
    let count = block_count(sources.len())?;
    packet(buf, count, PT_BYE, |w| {
        sources.iter().try_for_each(|s| w.u32(s.0))?;
        write_reason(w, reason)
    })
}

fn write_reason(w: &mut Writer<'_>, reason: Option<&[u8]>) -> Result<(), MediaError> {
    let Some(text) = reason else {
        return Ok(());
    };
    let len =
        u8::try_from(text.len()).map_err(|_| MediaError::SdesItemTooLong { len: text.len() })?;
    w.bytes(&[len])?;
    w.bytes(text)?;
    w.zeros(padded4(1 + text.len()) - 1 - text.len())
}

impl RtcpPacket<'_> {
    /// Prints this packet (without padding) into `buf`; returns its length.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, MediaError> {
        match self {
            RtcpPacket::SenderReport(sr) => {
                packet(buf, block_count(sr.blocks.len())?, PT_SR, |w| {
                    w.u32(sr.ssrc.0)?;
                    w.u32((sr.info.ntp.0 >> 32) as u32)?;
                    w.u32(sr.info.ntp.0 as u32)?;
                    w.u32(sr.info.rtp_timestamp)?;
                    w.u32(sr.info.packet_count)?;
                    w.u32(sr.info.octet_count)?;
                    w.bytes(sr.blocks.0)?;
                    w.bytes(sr.extension)
                })
            }
            RtcpPacket::ReceiverReport(rr) => {
                packet(buf, block_count(rr.blocks.len())?, PT_RR, |w| {
                    w.u32(rr.ssrc.0)?;
                    w.bytes(rr.blocks.0)?;
                    w.bytes(rr.extension)
                })
            }
            // Checked canonical at parse time: the bytes are the printed form.
            RtcpPacket::Sdes(s) => packet(buf, s.count, PT_SDES, |w| w.bytes(s.chunks)),
            RtcpPacket::Bye(b) => {
                let count = block_count(b.sources.len() / 4)?;
                packet(buf, count, PT_BYE, |w| {
                    w.bytes(b.sources)?;
                    write_reason(w, b.reason)
                })
            }
            RtcpPacket::Unknown {
                packet_type,
                count,
                body,
            } => packet(buf, *count, *packet_type, |w| w.bytes(body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(ssrc),
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x0001_8000,
        }
    }

    /// An SR laid out by hand from RFC 3550 §6.4.1's figure: V=2 P=0 RC=1,
    /// PT=200, length 12 (13 words), SSRC, NTP msw/lsw, RTP ts, counts, one block.
    const SR_BYTES: [u8; 52] = [
        0x81, 200, 0x00, 0x0c, // header
        0x11, 0x22, 0x33, 0x44, // SSRC of sender
        0xe8, 0x9f, 0x6a, 0x00, // NTP msw
        0x80, 0x00, 0x00, 0x00, // NTP lsw (0.5 s)
        0x00, 0x00, 0x1f, 0x40, // RTP timestamp 8000
        0x00, 0x00, 0x00, 0x32, // packet count 50
        0x00, 0x00, 0x1f, 0x40, // octet count 8000
        0xaa, 0xbb, 0xcc, 0xdd, // SSRC_1
        0x19, 0xff, 0xff, 0xfd, // fraction 25, cumulative lost -3
        0x00, 0x01, 0x00, 0x05, // extended highest seq (1 cycle, seq 5)
        0x00, 0x00, 0x00, 0x2a, // jitter 42
        0x12, 0x34, 0x56, 0x78, // LSR
        0x00, 0x01, 0x80, 0x00, // DLSR 1.5 s
    ];

    #[test]
    fn sr_from_the_rfc_layout() {
        let mut it = Compound::new(&SR_BYTES);
        let Some(Ok(RtcpPacket::SenderReport(sr))) = it.next() else {
            panic!("not an SR");
        };
        assert!(it.next().is_none());
        assert_eq!(sr.ssrc, Ssrc(0x1122_3344));
        assert_eq!(sr.info.ntp, NtpTime(0xe89f_6a00_8000_0000));
        assert_eq!(sr.info.rtp_timestamp, 8000);
        assert_eq!(sr.info.packet_count, 50);
        assert_eq!(sr.info.octet_count, 8000);
        let blocks: Vec<_> = sr.blocks.iter().collect();
        assert_eq!(
            blocks,
            [ReportBlock {
                ssrc: Ssrc(0xaabb_ccdd),
                ..block(0)
            }]
        );
        let mut out = [0u8; 64];
        let n = write_sender_report(&mut out, sr.ssrc, &sr.info, &blocks).unwrap();
        assert_eq!(&out[..n], &SR_BYTES);
    }

    /// A captured compound packet (a browser's RR + SDES + BYE + PLI +
    /// RTPFB rapid resync + APP), as published in pion/rtcp's `packet_test.go`.
    const CAPTURED: [u8; 132] = [
        0x81, 0xc9, 0x00, 0x07, 0x90, 0x2f, 0x9e, 0x2e, 0xbc, 0x5e, 0x9a, 0x40, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x46, 0xe1, 0x00, 0x00, 0x01, 0x11, 0x09, 0xf3, 0x64, 0x32, 0x00, 0x02,
        0x4a, 0x79, // RR
        0x81, 0xca, 0x00, 0x0c, 0x90, 0x2f, 0x9e, 0x2e, 0x01, 0x26, b'{', b'9', b'c', b'0', b'0',
        b'e', b'b', b'9', b'2', b'-', b'1', b'a', b'f', b'b', b'-', b'9', b'd', b'4', b'9', b'-',
        b'a', b'4', b'7', b'd', b'-', b'9', b'1', b'f', b'6', b'4', b'e', b'e', b'e', b'6', b'9',
        b'f', b'5', b'}', 0x00, 0x00, 0x00, 0x00, // SDES
        0x81, 0xcb, 0x00, 0x01, 0x90, 0x2f, 0x9e, 0x2e, // BYE
        0x81, 0xce, 0x00, 0x02, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e, // PSFB PLI
        0x85, 0xcd, 0x00, 0x02, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e, // RTPFB RRR
        0x80, 0xcc, 0x00, 0x03, 0x4b, 0xaa, 0xe1, 0xab, b'N', b'A', b'M', b'E', b'A', b'B', b'C',
        b'D', // APP
    ];

    #[test]
    fn captured_compound_parses_and_prints_back() {
        let packets: Vec<_> = Compound::new(&CAPTURED).map(Result::unwrap).collect();
        assert_eq!(packets.len(), 6);
        let RtcpPacket::ReceiverReport(rr) = packets[0] else {
            panic!()
        };
        assert_eq!(rr.ssrc, Ssrc(0x902f_9e2e));
        let b = rr.blocks.iter().next().unwrap();
        assert_eq!(b.ssrc, Ssrc(0xbc5e_9a40));
        assert_eq!(
            (b.fraction_lost, b.cumulative_lost, b.highest_seq),
            (0, 0, 0x46e1)
        );
        assert_eq!(
            (b.jitter, b.last_sr, b.delay_since_last_sr),
            (273, 0x09f3_6432, 150_137)
        );
        let RtcpPacket::Sdes(sdes) = packets[1] else {
            panic!()
        };
        let chunk = sdes.chunks().next().unwrap();
        assert_eq!(chunk.ssrc, Ssrc(0x902f_9e2e));
        assert_eq!(
            chunk.cname(),
            Some(&b"{9c00eb92-1afb-9d49-a47d-91f64eee69f5}"[..])
        );
        let RtcpPacket::Bye(bye) = packets[2] else {
            panic!()
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), [Ssrc(0x902f_9e2e)]);
        assert!(matches!(
            packets[3],
            RtcpPacket::Unknown {
                packet_type: 206,
                count: 1,
                ..
            }
        ));
        assert!(matches!(
            packets[4],
            RtcpPacket::Unknown {
                packet_type: 205,
                count: 5,
                ..
            }
        ));
        assert!(
            matches!(packets[5], RtcpPacket::Unknown { packet_type: 204, count: 0, body } if &body[4..] == b"NAMEABCD")
        );
        let mut out = [0u8; 132];
        let mut n = 0;
        for p in &packets {
            n += p.write(&mut out[n..]).unwrap();
        }
        assert_eq!(out, CAPTURED);
    }

    #[test]
    fn rr_sdes_bye_round_trip_in_one_compound() {
        let mut buf = [0u8; 256];
        let mut n = write_receiver_report(&mut buf, Ssrc(7), &[block(1), block(2)]).unwrap();
        assert_eq!(n, 8 + 48);
        n += write_sdes_cname(&mut buf[n..], Ssrc(7), b"voxgate@203.0.113.1").unwrap();
        n += write_bye(&mut buf[n..], &[Ssrc(7)], Some(b"hangup")).unwrap();
        n += write_bye(&mut buf[n..], &[Ssrc(8), Ssrc(9)], None).unwrap();
        let packets: Vec<_> = Compound::new(&buf[..n]).map(Result::unwrap).collect();
        assert_eq!(packets.len(), 4);
        let RtcpPacket::ReceiverReport(rr) = packets[0] else {
            panic!()
        };
        assert_eq!(rr.ssrc, Ssrc(7));
        assert_eq!(rr.blocks.iter().collect::<Vec<_>>(), [block(1), block(2)]);
        let RtcpPacket::Sdes(sdes) = packets[1] else {
            panic!()
        };
        let chunk = sdes.chunks().next().unwrap();
        assert_eq!(chunk.ssrc, Ssrc(7));
        assert_eq!(chunk.cname(), Some(&b"voxgate@203.0.113.1"[..]));
        let RtcpPacket::Bye(bye) = packets[2] else {
            panic!()
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), [Ssrc(7)]);
        assert_eq!(bye.reason, Some(&b"hangup"[..]));
        let RtcpPacket::Bye(bye) = packets[3] else {
            panic!()
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), [Ssrc(8), Ssrc(9)]);
        assert_eq!(bye.reason, None);
        // Print each packet back: the same bytes.
        let mut again = [0u8; 256];
        let mut m = 0;
        for p in &packets {
            m += p.write(&mut again[m..]).unwrap();
        }
        assert_eq!(&again[..m], &buf[..n]);
    }

    #[test]
    fn cname_padding_is_canonical_for_every_length() {
        for len in 0..12 {
            let cname = vec![b'x'; len];
            let mut buf = [0u8; 64];
            let n = write_sdes_cname(&mut buf, Ssrc(1), &cname).unwrap();
            assert_eq!(n % 4, 0);
            let p = Compound::new(&buf[..n]).next().unwrap().unwrap();
            let RtcpPacket::Sdes(s) = p else { panic!() };
            assert_eq!(s.chunks().next().unwrap().cname(), Some(&cname[..]));
        }
    }

    #[test]
    fn unknown_types_are_passed_over() {
        // APP (204) with name "voxg", then an RTPFB NACK (205, FMT 1), then an RR.
        let mut buf = vec![0x80, 204, 0, 2, 0, 0, 0, 1, b'v', b'o', b'x', b'g'];
        buf.extend_from_slice(&[0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0]);
        let mut rr = [0u8; 8];
        write_receiver_report(&mut rr, Ssrc(3), &[]).unwrap();
        buf.extend_from_slice(&rr);
        let kinds: Vec<_> = Compound::new(&buf)
            .map(|p| match p.unwrap() {
                RtcpPacket::Unknown { packet_type, .. } => packet_type,
                RtcpPacket::ReceiverReport(_) => PT_RR,
                _ => 0,
            })
            .collect();
        assert_eq!(kinds, [204, 205, PT_RR]);
    }

    #[test]
    fn padding_is_removed_and_checked() {
        // An RR with 4 octets of padding (P bit, last octet 4).
        let buf = [0xa0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4];
        let p = Compound::new(&buf).next().unwrap().unwrap();
        assert!(
            matches!(p, RtcpPacket::ReceiverReport(r) if r.ssrc == Ssrc(9) && r.blocks.is_empty())
        );
        let bad = [0xa0, 201, 0, 2, 0, 0, 0, 9, 0, 0, 0, 9];
        assert!(matches!(
            Compound::new(&bad).next(),
            Some(Err(MediaError::RtcpInvalid {
                fault: RtcpFault::Padding,
                ..
            }))
        ));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: [&[u8]; 6] = [
            &[0x80],                        // short header
            &[0x40, 201, 0, 1, 0, 0, 0, 1], // version 1
            &[0x80, 201, 0, 5, 0, 0, 0, 1], // length past the end
            &[0x81, 201, 0, 1, 0, 0, 0, 1], // a block announced, none there
            &[0x81, 202, 0, 1, 0, 0, 0, 1], // SDES chunk without terminator
            &[0x80, 203, 0, 1, 7, 0, 0, 0], // BYE reason longer than the packet
        ];
        for case in cases {
            let mut it = Compound::new(case);
            assert!(matches!(it.next(), Some(Err(_))), "{case:?}");
            assert!(it.next().is_none(), "stops after an error");
        }
    }

    #[test]
    fn cumulative_loss_is_clamped_to_24_bits() {
        let mut buf = [0u8; 32];
        let big = ReportBlock {
            cumulative_lost: i32::MAX,
            ..block(1)
        };
        let n = write_receiver_report(&mut buf, Ssrc(1), &[big]).unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = Compound::new(&buf[..n]).next() else {
            panic!()
        };
        assert_eq!(
            rr.blocks.iter().next().unwrap().cumulative_lost,
            ReportBlock::MAX_LOST
        );
        assert!(write_receiver_report(&mut buf[..20], Ssrc(1), &[big]).is_err());
    }

    #[test]
    fn ntp_from_unix_time() {
        // 1970-01-01 + 0.5 s is NTP second 2208988800 with fraction 2^31.
        let t = NtpTime::from_unix(std::time::Duration::from_millis(500));
        assert_eq!(t.0, (2_208_988_800u64 << 32) | 0x8000_0000);
        assert_eq!(
            t.middle(),
            ((2_208_988_800u64 & 0xffff) << 16) as u32 | 0x8000
        );
        assert_eq!(
            t.plus(std::time::Duration::from_millis(500)).0,
            2_208_988_801u64 << 32
        );
    }
}
