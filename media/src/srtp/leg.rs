//! SDES-SRTP on one leg's SDP (RFC 4568, RFC 3264): what a leg's trunk
//! policy makes of the offers and answers voxgate receives and sends on it,
//! and the keys in force per media line. Sans-IO; the conversation calls it
//! at each SDP it takes or sends, and hands [`SdesLeg::keys`] to the relay.
//!
//! Keys never cross legs: SDP from one leg reaches another only through
//! [`anchor::rewrite`](crate::anchor::rewrite), which removes every key
//! ([`strip_keys`]); what a leg then gets is written here, with keys
//! generated for that leg.
//!
//! Per RTP media line (`RTP/AVP`, `RTP/AVPF`, `RTP/SAVP`, `RTP/SAVPF`):
//!
//! | offer received | `off` | `optional` | `required` |
//! |---|---|---|---|
//! | `RTP/SAVP` + an acceptable `a=crypto` | refused | SRTP | SRTP |
//! | `RTP/SAVP` without one | refused | refused | refused |
//! | `RTP/AVP` + an acceptable `a=crypto` | plain | SRTP | SRTP |
//! | `RTP/AVP` without one | plain | plain | refused |
//!
//! A refusal is [`MediaError::SrtpRefused`] (answer 488). The answer keeps
//! the offer's profile (RFC 4568 §7.1.2: an `RTP/AVP` offer with `a=crypto`
//! is "best effort" SRTP, answered `RTP/AVP` with our `a=crypto`). Our
//! offers: `off` plain `RTP/AVP`; `optional` `RTP/AVP` with our `a=crypto`
//! lines (best effort: a peer without SRTP answers plain and gets plain);
//! `required` `RTP/SAVP` with them, and an answer without an acceptable
//! line is refused. Lines with DTLS-SRTP (`a=fingerprint` at either level,
//! or a `UDP/TLS/...` profile) are not touched: they pass end to end.
//!
//! Continuity (RFC 4568 §7.1.4): a re-offer whose chosen suite is the one in
//! force is answered with our key in force, and our re-offers carry our key
//! in force for that suite; a peer that keeps its key then changes no key,
//! and the relay keeps both contexts (rollover counters and replay windows).

use super::crypto_attribute::{CryptoAttribute, KeyParams};
use super::sdes::{
    SdesKeys, accept_answer, acceptable_offer, answer_keeping, offer as offer_lines,
};
use super::suite::CryptoSuite;
use crate::MediaError;
use crate::sdp::{MAX_MEDIA, MediaDescription, SessionDescription};

/// What a trunk asks of SRTP on its legs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SrtpMode {
    /// Plain RTP only: an `RTP/SAVP` offer is refused.
    #[default]
    Off,
    /// SRTP when the peer offers or accepts it, plain RTP otherwise.
    Optional,
    /// SRTP only: plain offers and answers are refused.
    Required,
}

/// A leg's SRTP policy: the mode and the suites, in the order offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrtpPolicy {
    /// Off, optional or required.
    pub mode: SrtpMode,
    /// Suites we offer (in this order) and accept.
    pub suites: Vec<CryptoSuite>,
}

impl Default for SrtpPolicy {
    /// SRTP off (no suite: an off leg never offers or accepts one).
    fn default() -> Self {
        SrtpPolicy {
            mode: SrtpMode::Off,
            suites: Vec::new(),
        }
    }
}

impl SrtpPolicy {
    /// The suites offered when a trunk names none: the one every SDES
    /// implementation has first, then GCM, then the short tag.
    pub const DEFAULT_SUITES: [CryptoSuite; 3] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AesCm128HmacSha1_32,
    ];
}

/// Why an offer or an answer was refused on a media line.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrtpRefusal {
    /// `RTP/SAVP` offered on a trunk with SRTP off.
    SrtpOff,
    /// Plain RTP offered or answered on a trunk that requires SRTP.
    SrtpRequired,
    /// No offered `a=crypto` line is one we accept (suite, key, parameters).
    NoAcceptableCrypto,
    /// The answer's `a=crypto` does not match our offer, or is unacceptable.
    BadAnswer,
}

impl SrtpRefusal {
    /// A short text for a SIP `Warning` header or a log line.
    pub fn text(self) -> &'static str {
        match self {
            SrtpRefusal::SrtpOff => "SRTP not accepted on this trunk",
            SrtpRefusal::SrtpRequired => "SRTP required on this trunk",
            SrtpRefusal::NoAcceptableCrypto => "no acceptable a=crypto",
            SrtpRefusal::BadAnswer => "a=crypto answer does not match the offer",
        }
    }
}

/// Removes every key an SDP carries, at both levels: `a=crypto` (SDES),
/// `a=key-mgmt` (MIKEY, RFC 4567) and `k=` (RFC 4566 §5.12).
pub fn strip_keys(sdp: &mut SessionDescription) {
    sdp.remove_attributes(is_key_attribute);
    sdp.remove_lines('k');
    for m in sdp.media_mut() {
        strip_media_keys(m);
    }
}

fn strip_media_keys(m: &mut MediaDescription) {
    m.remove_attributes(is_key_attribute);
    m.remove_lines('k');
}

fn is_key_attribute(name: &str) -> bool {
    matches!(name, "crypto" | "key-mgmt")
}

/// An RTP profile's (secure, feedback) flags.
fn profile(proto: &str) -> Option<(bool, bool)> {
    match proto {
        "RTP/AVP" => Some((false, false)),
        "RTP/AVPF" => Some((false, true)),
        "RTP/SAVP" => Some((true, false)),
        "RTP/SAVPF" => Some((true, true)),
        _ => None,
    }
}

fn profile_name(secure: bool, feedback: bool) -> &'static str {
    match (secure, feedback) {
        (false, false) => "RTP/AVP",
        (false, true) => "RTP/AVPF",
        (true, false) => "RTP/SAVP",
        (true, true) => "RTP/SAVPF",
    }
}

/// A profile as one octet: 0 for none (a line not ours to touch).
fn profile_code(secure: bool, feedback: bool) -> u8 {
    1 + 2 * u8::from(secure) + u8::from(feedback)
}

fn profile_of_code(code: u8) -> Option<&'static str> {
    let c = code.checked_sub(1)?;
    Some(profile_name(c & 2 != 0, c & 1 != 0))
}

/// Whether a line is DTLS-SRTP (left end to end): a fingerprint at either
/// level, or a DTLS profile.
fn is_dtls(session_fingerprint: bool, m: &MediaDescription) -> bool {
    session_fingerprint
        || m.proto().starts_with("UDP/TLS/")
        || m.attributes().any(|(n, _)| n == "fingerprint")
}

fn has_session_fingerprint(sdp: &SessionDescription) -> bool {
    sdp.attributes().any(|(n, _)| n == "fingerprint")
}

fn crypto_values(m: &MediaDescription) -> impl Iterator<Item = &str> {
    m.attributes()
        .filter(|(n, _)| *n == "crypto")
        .filter_map(|(_, v)| v)
}

/// A media line we answer with SDES: our line and the keys it makes.
type Chosen = (usize, CryptoAttribute, SdesKeys);

/// What we offered on one media line.
#[derive(Clone, Debug)]
enum Offered {
    Untouched,
    Plain,
    /// Our lines; `secure`: in `RTP/SAVP`, so the answer must take one.
    Sdes {
        secure: bool,
        lines: Vec<CryptoAttribute>,
    },
}

/// One leg's SDES state: its policy, our pending answer and offer, and the
/// keys in force per media line. `Debug` shows no key. A plain call
/// allocates nothing here (a plain call's allocations are counted:
/// `edge/tests/conversation_allocations.rs`).
#[derive(Clone, Debug, Default)]
pub struct SdesLeg {
    policy: SrtpPolicy,
    /// Our answer's profile per media line ([`profile_code`]; 0: not ours),
    /// from the peer's offer.
    profiles: [u8; MAX_MEDIA],
    /// The media lines our answer takes SDES on.
    chosen: Vec<Chosen>,
    /// What we offered, per media line; empty when nothing is to be matched.
    offered: Vec<Offered>,
    /// Per media line; empty when no line has keys.
    keys: Vec<Option<SdesKeys>>,
}

impl SdesLeg {
    /// A leg under `policy`, nothing negotiated yet.
    pub fn new(policy: SrtpPolicy) -> SdesLeg {
        SdesLeg {
            policy,
            ..SdesLeg::default()
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &SrtpPolicy {
        &self.policy
    }

    /// The keys in force, per media line (`None`: plain RTP, or not ours).
    pub fn keys(&self) -> &[Option<SdesKeys>] {
        &self.keys
    }

    /// Whether any media line is SRTP now.
    pub fn is_secure(&self) -> bool {
        self.keys.iter().any(Option::is_some)
    }

    /// The peer offered `offer`: decides our answer per media line (see the
    /// module's table), with fresh keys of ours unless the suite in force
    /// continues. Nothing changes on `Err`: answer 488.
    pub fn take_offer(&mut self, offer: &SessionDescription) -> Result<(), MediaError> {
        let (profiles, chosen) = self.decide(offer, true)?;
        self.profiles = profiles;
        self.chosen = chosen;
        Ok(())
    }

    /// Whether [`take_offer`](SdesLeg::take_offer) would take `offer`
    /// (nothing changes, no key is made).
    pub fn check_offer(&self, offer: &SessionDescription) -> Result<(), MediaError> {
        self.decide(offer, false).map(|_| ())
    }

    /// Our answer's profiles and SDES lines for `offer`; keys are made only
    /// with `generate`.
    fn decide(
        &self,
        offer: &SessionDescription,
        generate: bool,
    ) -> Result<([u8; MAX_MEDIA], Vec<Chosen>), MediaError> {
        let session_fp = has_session_fingerprint(offer);
        let mode = self.policy.mode;
        let mut profiles = [0u8; MAX_MEDIA];
        let mut chosen = Vec::new();
        for (line, m) in offer.media().iter().enumerate().take(MAX_MEDIA) {
            let refuse = |refusal| MediaError::SrtpRefused { line, refusal };
            let Some((secure, feedback)) = profile(m.proto()) else {
                continue;
            };
            if m.port() == 0 || is_dtls(session_fp, m) {
                continue;
            }
            let has_crypto = crypto_values(m).next().is_some();
            // RTP/AVP with a=crypto is best effort: plain when optional.
            let plain_allowed = !secure && mode != SrtpMode::Required;
            match mode {
                SrtpMode::Off if secure => return Err(refuse(SrtpRefusal::SrtpOff)),
                SrtpMode::Off => {}
                _ if !has_crypto && plain_allowed => {}
                _ if !has_crypto => {
                    return Err(refuse(if secure {
                        SrtpRefusal::NoAcceptableCrypto
                    } else {
                        SrtpRefusal::SrtpRequired
                    }));
                }
                _ if !generate => {
                    if !plain_allowed && !acceptable_offer(crypto_values(m), &self.policy.suites) {
                        return Err(refuse(SrtpRefusal::NoAcceptableCrypto));
                    }
                }
                _ => {
                    let current = self.keys.get(line).and_then(Option::as_ref);
                    match answer_keeping(crypto_values(m), &self.policy.suites, current) {
                        Ok((ours, keys)) => chosen.push((line, ours, keys)),
                        Err(MediaError::NoAcceptableCrypto) if plain_allowed => {}
                        Err(MediaError::NoAcceptableCrypto) => {
                            return Err(refuse(SrtpRefusal::NoAcceptableCrypto));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if let Some(p) = profiles.get_mut(line) {
                *p = profile_code(secure, feedback);
            }
        }
        Ok((profiles, chosen))
    }

    /// Writes our answer into `answer` (SDP we send on this leg, built from
    /// the other leg's or our own): per media line the offer's profile and,
    /// for SRTP, our `a=crypto` line; any other key is removed. The keys of
    /// the answer come into force. Returns whether they changed.
    pub fn write_answer(&mut self, answer: &mut SessionDescription) -> bool {
        strip_keys(answer);
        let mut keys: Vec<Option<SdesKeys>> = Vec::new();
        for (line, m) in answer.media_mut().iter_mut().enumerate() {
            let code = self.profiles.get(line).copied().unwrap_or(0);
            let Some(proto) = profile_of_code(code).filter(|_| m.port() != 0) else {
                continue;
            };
            m.set_proto(proto);
            if let Some((_, ours, k)) = self.chosen.iter().find(|(l, ..)| *l == line) {
                m.push_attribute("crypto", Some(&ours.to_sdp_value()));
                if keys.len() <= line {
                    keys.resize(line + 1, None);
                }
                keys[line] = Some(k.clone());
            }
        }
        self.commit(keys)
    }

    /// Writes our offer into `offer` (SDP we send on this leg): per RTP
    /// media line the profile and `a=crypto` lines of our policy (fresh keys,
    /// but our key in force for the suite in force); any other key is
    /// removed. Remembered until the answer.
    pub fn write_offer(&mut self, offer: &mut SessionDescription) -> Result<(), MediaError> {
        strip_keys(offer);
        let session_fp = has_session_fingerprint(offer);
        let mode = self.policy.mode;
        // Only SDES lines are recorded (a plain offer allocates nothing).
        let mut offered = Vec::new();
        for (line, m) in offer.media_mut().iter_mut().enumerate() {
            let Some((_, feedback)) = profile(m.proto()).filter(|_| !is_dtls(session_fp, m)) else {
                continue;
            };
            if m.port() == 0 {
                continue;
            }
            let secure = mode == SrtpMode::Required;
            m.set_proto(profile_name(secure, feedback));
            if mode == SrtpMode::Off {
                // Nothing to match in the answer: recorded as no offer.
                continue;
            }
            let mut lines = offer_lines(&self.policy.suites)?;
            if let Some(current) = self.keys.get(line).and_then(Option::as_ref)
                && let Some(l) = lines.iter_mut().find(|l| l.suite == current.suite)
            {
                l.keys = vec![KeyParams {
                    key: current.local.clone(),
                    lifetime: None,
                    mki: None,
                }];
            }
            for l in &lines {
                m.push_attribute("crypto", Some(&l.to_sdp_value()));
            }
            offered.resize(line, Offered::Untouched);
            offered.push(Offered::Sdes { secure, lines });
        }
        self.offered = offered;
        Ok(())
    }

    /// Remembers `sent` (an SDP of ours sent again as an offer: a session
    /// refresh, a re-offer built from our last SDP) as our offer: its
    /// `a=crypto` lines are what the answer must match.
    pub fn note_offer(&mut self, sent: &SessionDescription) {
        if self.policy.mode == SrtpMode::Off {
            self.offered.clear();
            return;
        }
        let session_fp = has_session_fingerprint(sent);
        self.offered = sent
            .media()
            .iter()
            .map(|m| match profile(m.proto()) {
                _ if m.port() == 0 || is_dtls(session_fp, m) => Offered::Untouched,
                None => Offered::Untouched,
                Some((secure, _)) => {
                    let lines: Vec<CryptoAttribute> = crypto_values(m)
                        .filter_map(|v| CryptoAttribute::parse(v).ok())
                        .collect();
                    if lines.is_empty() {
                        Offered::Plain
                    } else {
                        Offered::Sdes { secure, lines }
                    }
                }
            })
            .collect();
    }

    /// The peer answered our offer with `answer`: the keys per media line
    /// (an `a=crypto` matching one of our lines; none where the answer is
    /// plain and our offer allowed it, or the line was rejected). Nothing
    /// changes on `Err`. Returns whether the keys changed.
    pub fn take_answer(&mut self, answer: &SessionDescription) -> Result<bool, MediaError> {
        match self.answered(answer)? {
            Some(keys) => Ok(self.commit(keys)),
            None => Ok(false),
        }
    }

    /// Whether [`take_answer`](SdesLeg::take_answer) would take `answer`
    /// (nothing changes).
    pub fn check_answer(&self, answer: &SessionDescription) -> Result<(), MediaError> {
        self.answered(answer).map(|_| ())
    }

    /// The keys `answer` puts in force; `None` when our offer had nothing
    /// to match (plain, or no offer pending).
    fn answered(
        &self,
        answer: &SessionDescription,
    ) -> Result<Option<Vec<Option<SdesKeys>>>, MediaError> {
        if self.offered.is_empty() {
            return Ok(None);
        }
        let mut keys = self.keys.clone();
        keys.resize(answer.media().len().max(keys.len()), None);
        for (line, m) in answer.media().iter().enumerate() {
            let refuse = |refusal| MediaError::SrtpRefused { line, refusal };
            let key = match self.offered.get(line) {
                None | Some(Offered::Untouched) => continue,
                _ if m.port() == 0 => None,
                Some(Offered::Plain) => None,
                Some(Offered::Sdes { secure, lines }) => match crypto_values(m).next() {
                    Some(value) => Some(
                        accept_answer(lines, value).map_err(|_| refuse(SrtpRefusal::BadAnswer))?,
                    ),
                    None if *secure || self.policy.mode == SrtpMode::Required => {
                        return Err(refuse(SrtpRefusal::SrtpRequired));
                    }
                    None => None,
                },
            };
            if let Some(slot) = keys.get_mut(line) {
                *slot = key;
            }
        }
        Ok(Some(keys))
    }

    /// Our offer was refused (RFC 3264 §8: the session stays as it was).
    pub fn abandon_offer(&mut self) {
        self.offered.clear();
    }

    fn commit(&mut self, keys: Vec<Option<SdesKeys>>) -> bool {
        // A line without keys and a line not there are the same to the relay.
        let n = keys.len().max(self.keys.len());
        let changed = (0..n).any(|i| {
            keys.get(i).and_then(Option::as_ref) != self.keys.get(i).and_then(Option::as_ref)
        });
        self.keys = keys;
        changed
    }
}

#[cfg(test)]
mod tests;
