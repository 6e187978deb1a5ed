//! Per-leg packet counters (sans-IO, plain integers). Loss, jitter and the
//! rest of RFC 3550's receive statistics are in [`crate::quality`].

/// Counters of one leg of one media line, as seen by the relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegCounters {
    /// RTP packets received from this leg's peer and accepted.
    pub rtp_packets: u64,
    /// Bytes of those RTP packets (UDP payload).
    pub rtp_bytes: u64,
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
    /// RTP and RTCP packets relayed to this leg's peer (and generated
    /// by voxgate for it: prompts, tones, digits, RTCP reports).
    pub sent: u64,
    /// RTCP reports voxgate generated and sent to this leg's peer (SR or
    /// RR, and a BYE at the end), for a leg it terminates.
    pub rtcp_sent: u64,
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
        self.rtcp_packets += other.rtcp_packets;
        self.rtcp_bytes += other.rtcp_bytes;
        self.invalid += other.invalid;
        self.dtls += other.dtls;
        self.stun += other.stun;
        self.foreign += other.foreign;
        self.sent += other.sent;
        self.rtcp_sent += other.rtcp_sent;
        self.dropped += other.dropped;
        self.srtp += other.srtp;
        self.transcoded += other.transcoded;
    }
}
