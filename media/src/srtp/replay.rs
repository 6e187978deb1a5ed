//! Packet index estimation (RFC 3711 §3.3.1, Appendix A) and the replay
//! window (§3.3.2), one per SSRC.
//!
//! The state is the highest index authenticated so far: its upper 32 bits
//! are the rollover counter (ROC), its lower 16 the highest sequence number
//! `s_l`. A bitmap remembers which of the [`WINDOW`] indices below it were
//! seen.

/// Packets remembered behind the highest index (RFC 3711 asks for at least 64).
pub const WINDOW: u64 = 128;

/// What the replay check says about an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not seen: process it.
    Fresh,
    /// Seen before.
    Replayed,
    /// Behind the window: cannot tell, so refused.
    TooOld,
}

/// Replay state of one stream, and the index estimate it anchors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted, `None` before the first packet.
    top: Option<u64>,
    /// Bit `i` set: index `top - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// The 48-bit index of sequence number `seq` (RFC 3711 Appendix A):
    /// the ROC guess `v` among ROC-1, ROC, ROC+1 nearest the highest index.
    /// `None` when the guess is ROC-1 at ROC 0 or ROC+1 past 2^32-1: no such index.
    pub(crate) fn estimate(&self, seq: u16) -> Option<u64> {
        let Some(top) = self.top else {
            // The first packet defines ROC 0 (§3.3.1).
            return Some(u64::from(seq));
        };
        let roc = top >> 16;
        let s_l = (top & 0xffff) as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        Some((v << 16) | u64::from(seq))
    }

    /// Whether `index` may be processed.
    pub(crate) fn check(&self, index: u64) -> Verdict {
        let Some(top) = self.top else {
            return Verdict::Fresh;
        };
        if index > top {
            return Verdict::Fresh;
        }
        let behind = top - index;
        if behind >= WINDOW {
            Verdict::TooOld
        } else if self.seen & (1u128 << behind) != 0 {
            Verdict::Replayed
        } else {
            Verdict::Fresh
        }
    }

    /// Records `index` as accepted (after its tag was verified: a forged
    /// packet must not move the window).
    pub(crate) fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {
                let behind = top - index;
                if behind < WINDOW {
                    self.seen |= 1u128 << behind;
                }
            }
            Some(top) => {
                let ahead = index - top;
                self.seen = if ahead >= WINDOW {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.top = Some(index);
            }
            None => {
                self.top = Some(index);
                self.seen = 1;
            }
        }
    }

    /// The highest index accepted.
    pub(crate) fn top(&self) -> Option<u64> {
        self.top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(top: u64) -> ReplayWindow {
        let mut w = ReplayWindow::default();
        w.accept(top);
        w
    }

    #[test]
    fn estimate_follows_appendix_a() {
        // Low half: a large seq is the previous roll-over.
        assert_eq!(at(0x3_0010).estimate(0xfff0), Some(0x2_fff0));
        assert_eq!(at(0x3_0010).estimate(0x0020), Some(0x3_0020));
        // High half: a small seq is the next roll-over.
        assert_eq!(at(0x3_fff0).estimate(0x0005), Some(0x4_0005));
        assert_eq!(at(0x3_fff0).estimate(0xffe0), Some(0x3_ffe0));
        // ROC 0: there is no previous roll-over.
        assert_eq!(at(0x0010).estimate(0xfff0), None);
        // ROC 2^32-1 cannot roll over.
        assert_eq!(at(0xffff_ffff_fff0).estimate(0x0001), None);
        assert_eq!(ReplayWindow::default().estimate(65535), Some(65535));
    }

    #[test]
    fn window_refuses_duplicates_and_the_too_old() {
        let mut w = ReplayWindow::default();
        for i in [100u64, 102, 101, 105] {
            assert_eq!(w.check(i), Verdict::Fresh);
            w.accept(i);
        }
        assert_eq!(w.check(101), Verdict::Replayed);
        assert_eq!(w.check(103), Verdict::Fresh);
        assert_eq!(w.check(105), Verdict::Replayed);
        w.accept(105 + WINDOW);
        assert_eq!(w.check(105), Verdict::TooOld);
        assert_eq!(w.check(106), Verdict::Fresh);
        assert_eq!(w.top(), Some(105 + WINDOW));
        // A jump beyond the window forgets everything behind.
        w.accept(10_000);
        assert_eq!(w.check(10_000 - 1), Verdict::Fresh);
    }
}
