//! Each trunk's codec list (`codecs`, allowed and in order of preference)
//! on the offers and answers voxgate passes between linked legs
//! ([`voxgate_media::negotiate::policy`]), and the `Warning` of the 488 that
//! refuses an offer no codec can carry. Where the legs end up with different
//! G.711 laws, the relay transcodes; where they agree, media passes as it is.

use super::*;
use voxgate_media::negotiate::{self, Capabilities, policy};

/// The `Warning` (RFC 3261 §20.43) of a 488 for want of a common codec.
pub(crate) const NO_CODEC_WARNING: &str = "305 voxgate \"Incompatible media format\"";

impl<M: MediaControl> Conversation<M> {
    /// The codec lists an offer from a leg of trunk `from` to one of trunk
    /// `to` is held to, `None` when neither trunk names `codecs` (the offer
    /// passes as it is). A trunk without a list allows what the other
    /// trunk's list names as well as the default ones (so that a policy on
    /// one side can still be met by transcoding on the other).
    pub(crate) fn linked_policy(
        &self,
        from: Option<&TrunkName>,
        to: Option<&TrunkName>,
    ) -> Option<(Capabilities, Capabilities)> {
        let names = |t: Option<&TrunkName>| {
            t.and_then(|t| self.ctx.config.trunk(t))
                .map(|t| t.codecs.clone())
                .unwrap_or_default()
        };
        let open = |own: Option<&TrunkName>, other: Option<&TrunkName>| {
            let mut list = names(other);
            for n in names(own) {
                if !list.iter().any(|m| m.eq_ignore_ascii_case(&n)) {
                    list.push(n);
                }
            }
            Capabilities::from_names(&list).unwrap_or_default()
        };
        match (self.codec_policy(from), self.codec_policy(to)) {
            (None, None) => None,
            (Some(f), None) => Some((f, open(to, from))),
            (None, Some(t)) => Some((open(from, to), t)),
            (Some(f), Some(t)) => Some((f, t)),
        }
    }

    fn trunk_of(&self, leg: LegId) -> Option<&TrunkName> {
        self.leg(leg).and_then(|l| l.trunk.as_ref())
    }

    /// `sdp`, sent by `from`'s peer, restricted to what the trunks allow
    /// before it is rewritten for the linked leg `to`: an offer to `to`'s
    /// codecs (what `from`'s trunk allows, or can be transcoded from it),
    /// an answer to what `to`'s peer offered and its trunk allows.
    pub(crate) fn police_linked(
        &self,
        from: LegId,
        to: LegId,
        sdp: &SessionDescription,
        exchange: super::srtp::Exchange,
    ) -> Result<SessionDescription, super::srtp::AnchorError> {
        let mut out = sdp.clone();
        match exchange {
            super::srtp::Exchange::Offer => {
                if let Some((f, t)) = self.linked_policy(self.trunk_of(from), self.trunk_of(to)) {
                    policy::restrict_offer(&mut out, &f, &t)
                        .map_err(|_| super::srtp::AnchorError::NoCodec)?;
                }
            }
            super::srtp::Exchange::Answer { .. } => {
                // An answer names only what the offer had (RFC 3264 §6), policy or not.
                let policy = self.linked_policy(self.trunk_of(from), self.trunk_of(to));
                let caps = policy.as_ref().map_or(&*EVERY_CODEC, |(_, t)| t);
                if let Some(offer) = self.leg(to).and_then(|l| l.remote_sdp.as_deref()) {
                    let transcoding = policy::restrict_answer(&mut out, offer, caps);
                    if transcoding {
                        tracing::debug!(%from, %to, "the linked legs' codecs differ: transcoded");
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether voxgate can bridge two legs as their codecs are: the same,
    /// or not known (media passes as it comes), or two the relay
    /// transcodes between where it can read both legs' media (not a
    /// DTLS-SRTP leg, encrypted end to end).
    pub(crate) fn bridgeable(&self, a: LegId, b: LegId) -> bool {
        let (Some(ca), Some(cb)) = (self.codec(a), self.codec(b)) else {
            return true;
        };
        if ca.same_codec(&cb) {
            return true;
        }
        let readable = |leg: LegId| {
            self.leg(leg)
                .and_then(|l| l.remote_sdp.as_deref())
                .is_none_or(|sdp| !negotiate::has_fingerprint(sdp))
        };
        policy::transcodable(&ca, &cb) && readable(a) && readable(b)
    }
}

/// Every codec voxgate knows by name, for an answer no trunk restricts
/// (built once: every plain call's answer is held to it).
static EVERY_CODEC: std::sync::LazyLock<Capabilities> = std::sync::LazyLock::new(|| {
    let names: Vec<&str> = negotiate::known_names().collect();
    Capabilities::from_names(&names).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use voxgate_media::negotiate::{Capabilities, known_names};

    #[test]
    fn the_config_and_the_media_plane_know_the_same_codecs() {
        let config: Vec<&str> = voxgate_config::KNOWN_CODECS.to_vec();
        let media: Vec<&str> = known_names().collect();
        assert_eq!(
            config, media,
            "config/src/validate/trunks.rs and media's negotiate tables"
        );
        for name in config {
            let caps = Capabilities::from_names(&[name]);
            assert!(
                caps.is_ok_and(|c| c.codecs().next().is_some_and(|c| c.name == name)),
                "{name}"
            );
        }
    }
}
