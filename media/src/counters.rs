//! Per-leg packet counters and RTP sequence-gap tracking (sans-IO, plain integers).

use crate::rtp::Ssrc;

/// Counters of one leg of one media line, as seen by the relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegCounters {
    /// RTP packets received from this leg's peer and accepted.
    pub rtp_packets: u64,
    /// Bytes of those RTP packets (UDP payload).
    pub rtp_bytes: u64,
    /// Sequence numbers missing in the RTP received from this leg's peer.
    pub seq_gaps: u64,
    /// RTCP packets received from this leg's peer and accepted.
    pub rtcp_packets: u64,
    /// Bytes of those RTCP packets.
    pub rtcp_bytes: u64,
    /// Datagrams from this leg's peer that were none of RTP, RTCP, DTLS or STUN.
    pub invalid: u64,
    /// DTLS records accepted from this leg's peer (relayed only end to end, RFC 7983).
    pub dtls: u64,
    /// STUN messages accepted from this leg's peer (likewise).
    pub stun: u64,
    /// Datagrams from a source other than the latched one (dropped).
    pub foreign: u64,
    /// RTP and RTCP packets relayed to this leg's peer.
    pub sent: u64,
    /// Packets meant for this leg's peer that were dropped: no target known
    /// yet, or the socket's send buffer was full; and packets from this
    /// leg's peer on a media line its bridge partner does not have.
    pub dropped: u64,
    /// SRTP and SRTCP packets dropped: from this leg's peer, failing
    /// authentication, replayed or too old (or an unknown MKI or index);
    /// for this leg's peer, ones that could not be protected (a sequence
    /// number protected before).
    pub srtp: u64,
    /// RTP packets relayed to this leg's peer with their payload transcoded
    /// into this leg's codec (the bridged leg negotiated another).
    pub transcoded: u64,
}

impl LegCounters {
    /// Adds `other` field by field (for totals over media lines).
    pub fn add(&mut self, other: &LegCounters) {
        self.rtp_packets += other.rtp_packets;
        self.rtp_bytes += other.rtp_bytes;
        self.seq_gaps += other.seq_gaps;
        self.rtcp_packets += other.rtcp_packets;
        self.rtcp_bytes += other.rtcp_bytes;
        self.invalid += other.invalid;
        self.dtls += other.dtls;
        self.stun += other.stun;
        self.foreign += other.foreign;
        self.sent += other.sent;
        self.dropped += other.dropped;
        self.srtp += other.srtp;
        self.transcoded += other.transcoded;
    }
}

/// Largest forward jump counted as loss; beyond it the stream restarted (RFC 3550 A.1 uses 3000).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step treated as a late (reordered) packet rather than a restart.
pub const MAX_MISORDER: u16 = 100;

/// Counts missing sequence numbers of one RTP stream (the latest SSRC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqTracker {
    /// SSRC and highest sequence number seen.
    last: Option<(Ssrc, u16)>,
}

impl SeqTracker {
    /// Notes a packet; returns how many sequence numbers were skipped before it.
    /// Handles the wrap at 65535; a new SSRC, or a jump beyond [`MAX_DROPOUT`]
    /// forward or [`MAX_MISORDER`] back, starts over without counting a gap.
    /// A late packet counts nothing (the gap it fills was already counted).
    pub fn observe(&mut self, ssrc: Ssrc, seq: u16) -> u64 {
        let Some((last_ssrc, last)) = self.last else {
            self.last = Some((ssrc, seq));
            return 0;
        };
        if last_ssrc != ssrc {
            self.last = Some((ssrc, seq));
            return 0;
        }
        let delta = seq.wrapping_sub(last);
        if delta == 0 {
            0 // duplicate
        } else if delta <= MAX_DROPOUT {
            self.last = Some((ssrc, seq));
            u64::from(delta - 1)
        } else if delta > u16::MAX - MAX_MISORDER {
            0 // late
        } else {
            self.last = Some((ssrc, seq));
            0 // restart
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[u16]) -> u64 {
        let mut t = SeqTracker::default();
        seqs.iter().map(|s| t.observe(Ssrc(1), *s)).sum()
    }

    #[test]
    fn in_order_has_no_gaps() {
        assert_eq!(run(&[10, 11, 12, 13]), 0);
    }

    #[test]
    fn counts_skipped_numbers() {
        assert_eq!(run(&[10, 11, 13, 14]), 1);
        assert_eq!(run(&[10, 15]), 4);
    }

    #[test]
    fn wraps_at_65535() {
        assert_eq!(run(&[65534, 65535, 0, 1]), 0);
        assert_eq!(run(&[65534, 65535, 1]), 1);
        assert_eq!(run(&[65535, 2]), 2);
    }

    #[test]
    fn big_jump_is_a_restart_not_a_gap() {
        assert_eq!(run(&[10, 10 + MAX_DROPOUT + 1, 10 + MAX_DROPOUT + 2]), 0);
        assert_eq!(run(&[10, 10 + MAX_DROPOUT]), u64::from(MAX_DROPOUT - 1));
        // Far backwards is a restart too: the next packet continues from there.
        assert_eq!(run(&[5000, 1000, 1002]), 1);
    }

    #[test]
    fn late_and_duplicate_packets_count_nothing() {
        assert_eq!(run(&[10, 12, 11, 13, 13]), 1);
        assert_eq!(run(&[0, 65535, 1]), 0);
    }

    #[test]
    fn new_ssrc_starts_over() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(Ssrc(1), 100), 0);
        assert_eq!(t.observe(Ssrc(2), 7), 0);
        assert_eq!(t.observe(Ssrc(2), 9), 1);
    }
}
