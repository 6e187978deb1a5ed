//! SDES-SRTP per leg: each leg's trunk policy ([`SdesLeg`]) applied to
//! the SDP the leg's peer sends and to the SDP voxgate sends it, with keys
//! generated for that leg alone and installed on its endpoint, where the
//! relay terminates SRTP. A key one leg sent never reaches another:
//! [`rewrite`](voxgate_media::anchor::rewrite) removes every key, and what
//! a leg gets is written by its own `SdesLeg`.

use super::*;
use voxgate_config::SrtpMode as TrunkSrtp;
use voxgate_media::MediaError;
use voxgate_media::srtp::{CryptoSuite, SdesLeg, SrtpMode, SrtpPolicy};

/// How an SDP from one linked leg is taken before it goes to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// It is an offer: the sender's policy must accept it (else 488), and
    /// the other leg gets our offer.
    Offer,
    /// It is the answer to our offer on the sender's leg. `strict`: an
    /// answer the sender's policy refuses is an error; otherwise (an answer
    /// that cannot be refused any more: in an ACK, in the 2xx of a
    /// re-INVITE) its keys in force stay and the refusal is logged.
    Answer {
        /// Refuse rather than keep the keys in force.
        strict: bool,
    },
}

/// Why a linked SDP could not be passed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AnchorError {
    /// No media ports (or no such leg).
    NoPorts,
    /// The sender's SRTP policy refuses it (or no key could be generated).
    Srtp(MediaError),
    /// No codec both legs' trunks allow, directly or by transcoding.
    NoCodec,
}

impl AnchorError {
    /// The `Warning` header of the 488 that refuses it, if any.
    pub(crate) fn warning(&self) -> Option<String> {
        match self {
            AnchorError::NoPorts => None,
            AnchorError::Srtp(e) => Some(srtp_warning(e)),
            AnchorError::NoCodec => Some(super::codecs::NO_CODEC_WARNING.to_owned()),
        }
    }
}

/// The `Warning` value (RFC 3261 §20.43) of a 488 refusing an SRTP offer:
/// 305 "Incompatible media format", with what is wrong.
pub(crate) fn srtp_warning(e: &MediaError) -> String {
    match e {
        MediaError::SrtpRefused { refusal, .. } => {
            format!("305 voxgate \"{}\"", refusal.text())
        }
        _ => "399 voxgate \"no SRTP key could be made\"".to_owned(),
    }
}

impl<M: MediaControl> Conversation<M> {
    /// The SDES state a new leg of `trunk` starts with: its trunk's policy,
    /// or SRTP off for a leg of no trunk.
    pub(crate) fn new_sdes(&self, trunk: Option<&TrunkName>) -> SdesLeg {
        let Some(t) = trunk.and_then(|t| self.ctx.config.trunk(t)) else {
            return SdesLeg::new(SrtpPolicy::default());
        };
        let mode = match t.srtp {
            // No suite is ever looked at: a plain call allocates none.
            TrunkSrtp::Off => return SdesLeg::new(SrtpPolicy::default()),
            TrunkSrtp::Optional => SrtpMode::Optional,
            TrunkSrtp::Required => SrtpMode::Required,
        };
        let suites = t
            .srtp_suites
            .iter()
            .filter_map(|s| CryptoSuite::from_sdes_name(s.as_str()))
            .collect();
        SdesLeg::new(SrtpPolicy { mode, suites })
    }

    /// Hands `leg`'s keys in force to its endpoint (the relay keeps the
    /// contexts of keys that did not change).
    pub(crate) fn install_keys(&mut self, leg: LegId) {
        let Some(l) = self.leg(leg) else { return };
        let Some(ep) = l.endpoint else { return };
        let keys = l.sdes.keys().to_vec();
        self.media.set_srtp(ep, &keys);
    }

    /// The peer of `leg` answered our offer with `answer`: its keys come
    /// into force. A refused answer keeps the keys in force (logged): the
    /// answer came in a 2xx or an ACK, too late to refuse.
    pub(crate) fn take_sdes_answer(&mut self, leg: LegId, answer: &SessionDescription) {
        let Some(l) = self.leg_mut(leg) else { return };
        match l.sdes.take_answer(answer) {
            Ok(true) => self.install_keys(leg),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%leg, %error, "SRTP answer refused; the keys in force stay");
            }
        }
    }

    /// Notes `sdp` (an SDP of ours sent again as an offer on `leg`) as our
    /// offer: its answer must match its `a=crypto` lines.
    pub(crate) fn note_sdes_offer(&mut self, leg: LegId, sdp: &Bytes) {
        let Ok(sdp) = SessionDescription::parse(sdp) else {
            return;
        };
        if let Some(l) = self.leg_mut(leg) {
            l.sdes.note_offer(&sdp);
        }
    }
}
