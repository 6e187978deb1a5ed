//! A bridged leg's voice cut into the ptime this leg's peer asked for
//! (`a=ptime`: 10, 20, 30 ms…; a peer that named none takes any size, RFC
//! 3551 §4.2, and gets frames as they come) when its partner's peer sends
//! another, with
//! the G.711 [`Repacketizer`]: packets from the partner are taken in by
//! `EndpointMedia::egress` (nothing is sent at once) and the frames they
//! make leave through the engine's `poll_transmit`, right after the batch
//! that brought them, as one stream: the input's SSRC and timestamps, the
//! repacketiser's own continuous sequence numbers (rewritten into voxgate's
//! stream, like any relayed packet, once voxgate has spoken on the leg).
//! They count as packets voxgate generated, not relayed ones.
//!
//! A frame left incomplete when the input stops (end of a talk spurt, hold)
//! is completed with silence and sent [`FLUSH_AFTER`] later. A new input
//! SSRC (the partner changed) starts afresh, numbering on. Packets of the
//! right size pass untouched, so a partner that sends what the peer wants
//! costs nothing; once a source's packets had to be cut,
//! all of them go through the repacketiser, so that they keep one numbering.

use std::time::{Duration, Instant};

use crate::codec::repacketize::{MAX_FRAME, OutFrame, Repacketizer};
use crate::codec::{Law, Ptime};
use crate::rtp::{PayloadType, RTP_HEADER_LEN, RtpHeader, Ssrc};

/// How long a part-filled frame waits for more input.
pub const FLUSH_AFTER: Duration = Duration::from_millis(60);

/// One leg's repacketising of what its bridge partner sends.
#[derive(Clone, Debug)]
pub(crate) struct Repack {
    rp: Repacketizer,
    law: Law,
    ptime: Ptime,
    pt: PayloadType,
    ssrc: Ssrc,
    /// When the last input came: a part-filled frame is flushed after [`FLUSH_AFTER`].
    heard: Instant,
}

impl Repack {
    /// Repacketising into `ptime` for `law`, sent with `pt`, starting with `header`.
    fn new(
        law: Law,
        ptime: Ptime,
        pt: PayloadType,
        header: &RtpHeader,
        now: Instant,
    ) -> Option<Repack> {
        Some(Repack {
            rp: Repacketizer::new(law, ptime, header.seq).ok()?,
            law,
            ptime,
            pt,
            ssrc: header.ssrc,
            heard: now,
        })
    }

    /// Takes the voice `payload` of a packet with `header` for a leg whose
    /// peer wants `ptime` frames of `law` with `pt`, if it needs cutting:
    /// something is held already, or it is not of that size. False: the
    /// packet goes as it is.
    pub(crate) fn take(
        slot: &mut Option<Repack>,
        (law, ptime, pt): (Law, Ptime, PayloadType),
        header: &RtpHeader,
        payload: &[u8],
        now: Instant,
    ) -> bool {
        let want = ptime.samples(8000);
        // Once a source's packets had to be cut, all of them are (one
        // numbering); until then, packets of the right size pass.
        let active = slot.as_ref().is_some_and(|r| {
            r.law == law && r.ptime == ptime && r.pt == pt && r.ssrc == header.ssrc
        });
        if !active && payload.len() == want {
            *slot = None;
            return false;
        }
        if payload.is_empty() || payload.len() > MAX_FRAME {
            return false;
        }
        if !active {
            // Numbering goes on from the last frame sent (a new SSRC is a
            // new source within the leg's one stream).
            let seq = slot.as_ref().map_or(header.seq, |r| r.rp.next_seq());
            let mut first = *header;
            first.seq = seq;
            match Repack::new(law, ptime, pt, &first, now) {
                Some(r) => *slot = Some(r),
                None => return false,
            }
        }
        let Some(r) = slot.as_mut() else {
            return false;
        };
        r.heard = now;
        r.rp.push(header.timestamp, header.marker, payload).is_ok()
    }

    /// The next frame due at `now` written as an RTP packet into `buf`
    /// (complete frames at once, a part-filled one [`FLUSH_AFTER`] after
    /// the last input): its length and the samples it covers.
    pub(crate) fn poll(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let payload = buf.get_mut(RTP_HEADER_LEN..)?;
        let frame: OutFrame = match self.rp.pop(payload) {
            Some(f) => f,
            None if now >= self.heard + FLUSH_AFTER => self.rp.flush(payload)?,
            None => return None,
        };
        buf[0] = 0x80;
        buf[1] = u8::from(frame.marker) << 7 | (self.pt.0 & 0x7f);
        buf[2..4].copy_from_slice(&frame.seq.to_be_bytes());
        buf[4..8].copy_from_slice(&frame.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        Some((RTP_HEADER_LEN + frame.len, frame.len))
    }

    /// When a part-filled frame is next due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        (self.rp.pending() > 0).then_some(self.heard + FLUSH_AFTER)
    }
}
