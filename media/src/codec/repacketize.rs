//! Repacketising G.711 between legs that negotiated different ptimes
//! (10, 20, 30 ms…): frames of one size in, frames of another out.
//!
//! G.711 is one byte per sample, so payloads are cut and joined as they
//! are, without decoding. (Codecs with their own framing — Opus, G.729 —
//! cannot be cut: they go through PCM, decode then encode at the other
//! ptime.) Sans-IO and allocation-free: a fixed buffer holds at most one
//! output frame plus one input frame.
//!
//! Timestamps and sequence numbers: each output frame carries the RTP
//! timestamp of its first sample (from the input's timestamps, so the
//! output stays in step with the input leg), and sequence numbers of our
//! own, continuous from `first_seq`. The marker bit of an input packet is
//! carried on the next output frame.
//!
//! On loss (an input timestamp beyond the one expected): the output frame
//! that overlaps the gap is completed with G.711 silence (it stands where
//! the lost audio was; nothing is delayed waiting for it); output frames
//! wholly inside the gap are not sent, and the next frame carries the
//! input's later timestamp — the far end sees the same gap as a timestamp
//! jump, as after silence suppression. Late (reordered) and duplicate
//! input is dropped and counted ([`Repacketizer::dropped`]): a frame already
//! sent cannot be amended.
//!
//! Usage: after each [`push`](Repacketizer::push), [`pop`](Repacketizer::pop)
//! until `None`; [`flush`](Repacketizer::flush) at the end of a talk spurt
//! or when the leg goes.

use super::Ptime;
use super::g711::Law;
use crate::MediaError;

/// Largest frame in or out: 60 ms at 8 kHz.
pub const MAX_FRAME: usize = 480;

/// One frame out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutFrame {
    /// Its sequence number.
    pub seq: u16,
    /// RTP timestamp of its first sample.
    pub timestamp: u32,
    /// Marker bit (a talk spurt began in it).
    pub marker: bool,
    /// Payload bytes written.
    pub len: usize,
}

/// A G.711 repacketiser for one direction of a bridge.
#[derive(Clone, Debug)]
pub struct Repacketizer {
    silence: u8,
    out_len: usize,
    pending: [u8; 2 * MAX_FRAME],
    fill: usize,
    pending_ts: u32,
    /// Timestamp of the data at `pending[out_len]`, when a gap split them.
    jump_ts: Option<u32>,
    expected_ts: Option<u32>,
    next_seq: u16,
    marker: bool,
    dropped: u64,
}

impl Repacketizer {
    /// Output frames of `out_ptime` (at 8000 Hz) for `law`, numbered from
    /// `first_seq`.
    pub fn new(law: Law, out_ptime: Ptime, first_seq: u16) -> Result<Self, MediaError> {
        let out_len = out_ptime.samples(8000);
        if out_len == 0 || out_len > MAX_FRAME {
            return Err(MediaError::BufferTooSmall {
                needed: out_len,
                available: MAX_FRAME,
            });
        }
        Ok(Repacketizer {
            // The codes of +0: µ-law 0xff, A-law 0xd5.
            silence: match law {
                Law::Mu => 0xff,
                Law::A => 0xd5,
            },
            out_len,
            pending: [0; 2 * MAX_FRAME],
            fill: 0,
            pending_ts: 0,
            jump_ts: None,
            expected_ts: None,
            next_seq: first_seq,
            marker: false,
            dropped: 0,
        })
    }

    /// Payload bytes (= samples) of each output frame.
    pub fn out_len(&self) -> usize {
        self.out_len
    }

    /// Input packets dropped as late or duplicate.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Samples held that no output frame carries yet.
    pub fn pending(&self) -> usize {
        self.fill
    }

    /// The sequence number of the next output frame.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Feeds one input payload with its RTP timestamp and marker bit.
    pub fn push(&mut self, timestamp: u32, marker: bool, payload: &[u8]) -> Result<(), MediaError> {
        if payload.len() > MAX_FRAME || self.fill >= self.out_len {
            // Too big a frame, or the caller did not pop.
            return Err(MediaError::BufferTooSmall {
                needed: self.fill + payload.len(),
                available: self.out_len.saturating_sub(1) + MAX_FRAME,
            });
        }
        match self.expected_ts {
            None => self.pending_ts = timestamp,
            Some(expected) => {
                let gap = timestamp.wrapping_sub(expected) as i32;
                if gap < 0 {
                    self.dropped += 1;
                    return Ok(());
                }
                let gap = gap as usize;
                if gap > 0 && self.fill == 0 {
                    self.pending_ts = timestamp;
                } else if gap > 0 {
                    let pad = gap.min(self.out_len - self.fill);
                    self.pending[self.fill..self.fill + pad].fill(self.silence);
                    self.fill += pad;
                    if gap > pad {
                        self.jump_ts = Some(timestamp);
                    }
                }
            }
        }
        self.pending[self.fill..self.fill + payload.len()].copy_from_slice(payload);
        self.fill += payload.len();
        self.expected_ts = Some(timestamp.wrapping_add(payload.len() as u32));
        self.marker |= marker;
        Ok(())
    }

    /// The next complete output frame, written into `out`.
    pub fn pop(&mut self, out: &mut [u8]) -> Option<OutFrame> {
        if self.fill < self.out_len || out.len() < self.out_len {
            return None;
        }
        Some(self.emit(out))
    }

    /// What is left, completed with silence (end of a talk spurt).
    pub fn flush(&mut self, out: &mut [u8]) -> Option<OutFrame> {
        if let Some(frame) = self.pop(out) {
            return Some(frame);
        }
        if self.fill == 0 || out.len() < self.out_len {
            return None;
        }
        self.pending[self.fill..self.out_len].fill(self.silence);
        self.expected_ts = self
            .expected_ts
            .map(|t| t.wrapping_add((self.out_len - self.fill) as u32));
        self.fill = self.out_len;
        Some(self.emit(out))
    }

    fn emit(&mut self, out: &mut [u8]) -> OutFrame {
        let n = self.out_len;
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.copy_within(n..self.fill, 0);
        self.fill -= n;
        let frame = OutFrame {
            seq: self.next_seq,
            timestamp: self.pending_ts,
            marker: std::mem::take(&mut self.marker),
            len: n,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        self.pending_ts = self
            .jump_ts
            .take()
            .unwrap_or(self.pending_ts.wrapping_add(n as u32));
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input frames of `len` samples whose bytes count up (mod 251) from
    /// their timestamp, so content and position can be checked.
    fn frame(ts: u32, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (ts.wrapping_add(i as u32) % 251) as u8)
            .collect()
    }

    fn run(r: &mut Repacketizer, input: &[(u32, usize)]) -> Vec<(OutFrame, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; MAX_FRAME];
        for &(ts, len) in input {
            r.push(ts, false, &frame(ts, len)).unwrap();
            while let Some(f) = r.pop(&mut buf) {
                out.push((f, buf[..f.len].to_vec()));
            }
        }
        out
    }

    #[test]
    fn every_ptime_pair_keeps_content_timestamps_and_sequence() {
        for (inp, outp) in [
            (10, 20),
            (20, 30),
            (30, 10),
            (30, 20),
            (20, 10),
            (20, 20),
            (10, 30),
        ] {
            let in_len = inp * 8;
            let mut r = Repacketizer::new(Law::Mu, Ptime(outp as u16), 65534).unwrap();
            let base = u32::MAX - 1000; // across the timestamp wrap
            let input: Vec<_> = (0..12)
                .map(|k| (base.wrapping_add(k * in_len as u32), in_len))
                .collect();
            let out = run(&mut r, &input);
            let total = 12 * in_len;
            assert_eq!(out.len(), total / (outp * 8), "{inp}->{outp}");
            for (k, (f, bytes)) in out.iter().enumerate() {
                let ts = base.wrapping_add((k * outp * 8) as u32);
                assert_eq!(f.timestamp, ts);
                assert_eq!(f.seq, 65534u16.wrapping_add(k as u16));
                assert_eq!(*bytes, frame(ts, outp * 8), "{inp}->{outp} frame {k}");
            }
        }
    }

    #[test]
    fn loss_is_padded_with_silence_then_the_timestamp_jumps() {
        let mut r = Repacketizer::new(Law::A, Ptime(30), 0).unwrap();
        // 20 ms frames; 320 lost: the frame at 240 is 80 real + 160 silence.
        let out = run(&mut r, &[(0, 160), (160, 160), (480, 160), (640, 160)]);
        let ts: Vec<_> = out.iter().map(|(f, _)| f.timestamp).collect();
        assert_eq!(ts, [0, 240, 480]);
        assert_eq!(out[1].1[..80], frame(240, 80)[..]);
        assert!(out[1].1[80..].iter().all(|&b| b == 0xd5));
        assert_eq!(out[2].1, frame(480, 240));
        // Two lost: the frame overlapping the gap is padded, the next jumps.
        let mut r = Repacketizer::new(Law::Mu, Ptime(30), 0).unwrap();
        let out = run(&mut r, &[(0, 160), (160, 160), (640, 160), (800, 160)]);
        let ts: Vec<_> = out.iter().map(|(f, _)| f.timestamp).collect();
        assert_eq!(ts, [0, 240, 640]);
        assert!(out[1].1[80..].iter().all(|&b| b == 0xff));
        assert_eq!(out[2].1, frame(640, 240));
        let seqs: Vec<_> = out.iter().map(|(f, _)| f.seq).collect();
        assert_eq!(seqs, [0, 1, 2]);
    }

    #[test]
    fn late_and_duplicate_input_is_dropped_and_flush_pads() {
        let mut r = Repacketizer::new(Law::Mu, Ptime(20), 7).unwrap();
        let out = run(&mut r, &[(0, 80), (80, 80), (80, 80), (0, 80), (160, 80)]);
        assert_eq!(out.len(), 1);
        assert_eq!(r.dropped(), 2);
        let mut buf = [0u8; MAX_FRAME];
        let f = r.flush(&mut buf).unwrap();
        assert_eq!((f.seq, f.timestamp, f.len), (8, 160, 160));
        assert!(buf[80..160].iter().all(|&b| b == 0xff));
        assert_eq!(r.flush(&mut buf), None);
        // Markers ride on the next frame out.
        r.push(320, true, &[0; 160]).unwrap();
        assert!(r.pop(&mut buf).unwrap().marker);
        assert!(Repacketizer::new(Law::Mu, Ptime(0), 0).is_err());
        assert!(Repacketizer::new(Law::Mu, Ptime(70), 0).is_err());
        assert!(r.push(480, false, &[0; MAX_FRAME + 1]).is_err());
    }
}
