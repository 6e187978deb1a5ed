//! Each trunk's codec list applied to the offers and answers that pass
//! between linked legs (a plain routed call), sans-IO.
//!
//! A linked call's peers negotiate end to end through voxgate, but each
//! leg's trunk says which codecs may be used on it, in which order of
//! preference. voxgate can transcode G.711 µ-law ⇄ A-law in the relay, so
//! the two legs need not agree:
//!
//! - [`admits`]: an offer arriving on a leg must name at least one voice
//!   codec its trunk allows, else it gets 488 (`Warning: 305`).
//! - [`restrict_offer`]: an offer passed on to the other leg lists the
//!   codecs that leg's trunk allows, in that trunk's order, and only those
//!   voxgate can deliver to the offerer: the offerer's own codecs its trunk
//!   allows (passed through untouched) first, then those voxgate can
//!   transcode one of them into (added with their static payload type).
//!   So a caller's codec comes first whenever the other trunk allows it:
//!   passing through is cheaper than transcoding. Telephone-event and
//!   comfort noise stay where both trunks allow them; nothing is added to a
//!   DTLS-SRTP line (voxgate cannot read its payload) nor to an audio line
//!   after the first (the relay transcodes the voice line only).
//! - [`restrict_answer`]: the answer passed back keeps the answerer's
//!   codecs the offerer offered and its trunk allows (no transcoding); when
//!   there is none, the answer names the offerer's codec its trunk prefers
//!   among those voxgate can transcode the answerer's into, with the
//!   offerer's payload type, and the relay converts between them.
//!
//! Lines other than `m=audio` pass untouched. A codec voxgate cannot
//! transcode (G.729, Opus: trunks list them as pass-through codecs) is used
//! only when both trunks allow it and both peers have it.

use crate::codec::{CodecKind, Transcoder};
use crate::sdp::{MediaDescription, SessionDescription, Text};

use compact_str::ToCompactString as _;

use super::{Capabilities, Codec, NoCommonCodec, Selected, is_auxiliary, rtpmap_of, terminable};

/// Whether voxgate can bridge a leg using `a` with one using `b`: the same
/// codec, or two it transcodes between.
pub fn transcodable(a: &Selected, b: &Selected) -> bool {
    if a.same_codec(b) {
        return true;
    }
    match (
        CodecKind::from_rtpmap(&a.name, a.clock),
        CodecKind::from_rtpmap(&b.name, b.clock),
    ) {
        (Some(x), Some(y)) => {
            Transcoder::between(x, y).is_some() && Transcoder::between(y, x).is_some()
        }
        _ => false,
    }
}

/// One format of a media line: its payload type and, when known, its
/// encoding name and clock (inline strings: reading a line allocates only
/// the list).
struct Format {
    pt: Text,
    codec: Option<(Text, u32)>,
}

impl Format {
    fn of(m: &MediaDescription, pt: &Text) -> Format {
        Format {
            pt: pt.clone(),
            codec: rtpmap_of(m, pt).map(|(name, clock)| (Text::from(name), clock)),
        }
    }

    fn is_voice(&self) -> bool {
        self.codec.as_ref().is_some_and(|(n, _)| !is_auxiliary(n))
    }

    fn allowed_by(&self, caps: &Capabilities) -> Option<usize> {
        let (name, clock) = self.codec.as_ref()?;
        caps.position(name, *clock)
    }

    fn kind(&self) -> Option<CodecKind> {
        let (name, clock) = self.codec.as_ref()?;
        CodecKind::from_rtpmap(name, *clock)
    }

    fn is(&self, codec: &Codec) -> bool {
        self.codec.as_ref().is_some_and(|(n, c)| codec.is(n, *c))
    }

    fn same_codec(&self, other: &Format) -> bool {
        match (&self.codec, &other.codec) {
            (Some((a, x)), Some((b, y))) => a.eq_ignore_ascii_case(b) && x == y,
            _ => false,
        }
    }
}

fn formats(m: &MediaDescription) -> Vec<Format> {
    m.formats().iter().map(|pt| Format::of(m, pt)).collect()
}

/// Audio lines with a port: the ones the policy looks at.
fn in_use(m: &MediaDescription) -> bool {
    m.kind() == "audio" && m.port() != 0
}

/// Whether an offer received on a leg of a trunk allowing `caps` names a
/// voice codec the trunk allows on some audio line (an offer without
/// audio passes: it is not the trunk's codecs that it lacks).
pub fn admits(offer: &SessionDescription, caps: &Capabilities) -> bool {
    let mut audio = false;
    for m in offer.media().iter().filter(|m| in_use(m)) {
        audio = true;
        let allowed = m.formats().iter().any(|pt| {
            rtpmap_of(m, pt).is_some_and(|(name, clock)| {
                !is_auxiliary(name) && caps.position(name, clock).is_some()
            })
        });
        if allowed {
            return true;
        }
    }
    !audio
}

/// Restricts `offer`, received on a leg of a trunk allowing `from` and
/// rewritten for a leg of a trunk allowing `to`, to what `to` allows (see
/// the module docs). An audio line left without a voice codec is disabled
/// (port 0); `Err` when that is every audio line.
pub fn restrict_offer(
    offer: &mut SessionDescription,
    from: &Capabilities,
    to: &Capabilities,
) -> Result<(), NoCommonCodec> {
    let session_fingerprint = offer.attributes().any(|(n, _)| n == "fingerprint");
    let voice_line = offer.media().iter().position(in_use);
    let mut audio = false;
    let mut usable = false;
    for (i, m) in offer.media_mut().iter_mut().enumerate() {
        if !in_use(m) {
            continue;
        }
        audio = true;
        let transcode = Some(i) == voice_line && terminable(session_fingerprint, m);
        if restrict_offer_line(m, from, to, transcode) {
            usable = true;
        } else {
            m.set_port(0);
        }
    }
    if audio && !usable {
        return Err(NoCommonCodec);
    }
    Ok(())
}

/// [`restrict_offer`] on one line: false when no voice codec is left.
fn restrict_offer_line(
    m: &mut MediaDescription,
    from: &Capabilities,
    to: &Capabilities,
    transcode: bool,
) -> bool {
    let fmts = formats(m);
    let usable = |f: &&Format| f.allowed_by(from).is_some();
    // What voxgate can transcode the offerer's voice from.
    let sources = fmts
        .iter()
        .filter(usable)
        .filter(|f| f.is_voice())
        .filter_map(Format::kind);
    let mut reachable = [false; 2];
    for s in sources {
        for (i, k) in [CodecKind::Pcmu, CodecKind::Pcma].into_iter().enumerate() {
            reachable[i] |= Transcoder::between(s, k).is_some();
        }
    }
    // (tier, rank in `to`'s order, payload type, codec added): the
    // offerer's own voice codecs, then transcoded ones, then events and
    // comfort noise.
    let mut kept: Vec<(u8, usize, Text, Option<&'static Codec>)> = Vec::new();
    for f in fmts.iter().filter(usable) {
        if let Some(rank) = f.allowed_by(to) {
            let tier = if f.is_voice() { 0 } else { 2 };
            kept.push((tier, rank, f.pt.clone(), None));
        }
    }
    if transcode {
        for (rank, c) in to.codecs().enumerate() {
            if !c.own || is_auxiliary(c.name) || fmts.iter().filter(usable).any(|f| f.is(c)) {
                continue;
            }
            let reach = match CodecKind::from_rtpmap(c.name, c.clock) {
                Some(CodecKind::Pcmu) => reachable[0],
                Some(CodecKind::Pcma) => reachable[1],
                _ => false,
            };
            let pt = c.static_pt.unwrap_or(c.offer_pt).to_compact_string();
            // A payload type the offer uses for something else stays its.
            if reach && !fmts.iter().any(|f| f.pt == pt) {
                kept.push((1, rank, pt, Some(c)));
            }
        }
    }
    if !kept.iter().any(|(tier, ..)| *tier < 2) {
        return false;
    }
    kept.sort_by_key(|(tier, rank, ..)| (*tier, *rank));
    let unchanged = kept.len() == m.formats().len()
        && kept.iter().zip(m.formats()).all(|((.., pt, _), f)| pt == f);
    if unchanged {
        return true;
    }
    let pts: Vec<Text> = kept.iter().map(|(_, _, pt, _)| pt.clone()).collect();
    drop_format_attributes(m, &pts);
    m.set_formats(pts);
    for (_, _, pt, c) in &kept {
        let Some(c) = c else { continue };
        m.insert_attribute("rtpmap", Some(&format!("{pt} {}/{}", c.name, c.clock)));
        if let Some(fmtp) = c.fmtp {
            m.insert_attribute("fmtp", Some(&format!("{pt} {fmtp}")));
        }
    }
    true
}

/// Removes the `a=rtpmap` and `a=fmtp` of formats no longer in `keep`.
fn drop_format_attributes(m: &mut MediaDescription, keep: &[Text]) {
    m.retain_attributes(|name, value| {
        if name != "rtpmap" && name != "fmtp" {
            return true;
        }
        let pt = value.and_then(|v| v.split_ascii_whitespace().next());
        pt.is_none_or(|pt| keep.iter().any(|k| k == pt))
    });
}

/// Restricts `answer`, received on one linked leg and rewritten for the
/// other, whose peer made `offer` on a leg of a trunk allowing `caps` (see
/// the module docs). Returns whether it now asks for transcoding. A line it
/// cannot mend (the answerer chose a codec nobody offered it) is left as it
/// came.
pub fn restrict_answer(
    answer: &mut SessionDescription,
    offer: &SessionDescription,
    caps: &Capabilities,
) -> bool {
    let mut transcoding = false;
    for (i, m) in answer.media_mut().iter_mut().enumerate() {
        if !in_use(m) {
            continue;
        }
        let Some(o) = offer.media().get(i) else {
            continue;
        };
        transcoding |= restrict_answer_line(m, o, caps);
    }
    transcoding
}

fn restrict_answer_line(
    m: &mut MediaDescription,
    offer: &MediaDescription,
    caps: &Capabilities,
) -> bool {
    let offered: Vec<Format> = offer
        .formats()
        .iter()
        .map(|pt| Format::of(offer, pt))
        .filter(|f| f.is_voice() && f.allowed_by(caps).is_some())
        .collect();
    let fmts = formats(m);
    let Some(first) = fmts.iter().find(|f| f.is_voice()) else {
        return false;
    };
    let others = fmts.iter().filter(|f| !f.is_voice()).map(|f| f.pt.clone());
    let passes = |f: &&Format| f.is_voice() && offered.iter().any(|o| f.same_codec(o));
    if fmts.iter().any(|f| passes(&f)) {
        let pts: Vec<Text> = fmts
            .iter()
            .filter(passes)
            .map(|f| f.pt.clone())
            .chain(others)
            .collect();
        if pts.len() != fmts.len() {
            drop_format_attributes(m, &pts);
            m.set_formats(pts);
        }
        return false;
    }
    // Nothing the offerer offered: its trunk's favourite codec that the
    // answerer's can be transcoded into, with the offerer's payload type.
    let Some(from) = first.kind() else {
        return false;
    };
    let choice = offered
        .iter()
        .filter_map(|o| {
            let kind = o.kind()?;
            let ok = Transcoder::between(from, kind).is_some()
                && Transcoder::between(kind, from).is_some();
            ok.then(|| (o.allowed_by(caps).unwrap_or(usize::MAX), o, kind))
        })
        .min_by_key(|(rank, _, _)| *rank);
    let Some((_, o, kind)) = choice else {
        return false;
    };
    if fmts.iter().any(|f| f.pt == o.pt && !f.is_voice()) {
        // The offerer's number for it is the answerer's event type: leave it.
        return false;
    }
    let pts: Vec<Text> = std::iter::once(o.pt.clone()).chain(others).collect();
    drop_format_attributes(m, &pts);
    m.retain_attributes(|name, value| {
        // The answerer's own voice format under the number the offerer's has.
        let pt = value.and_then(|v| v.split_ascii_whitespace().next());
        !((name == "rtpmap" || name == "fmtp") && pt == Some(o.pt.as_str()))
    });
    m.set_formats(pts);
    m.insert_attribute(
        "rtpmap",
        Some(&format!(
            "{} {}/{}",
            o.pt,
            kind.encoding_name(),
            kind.rtp_clock_rate()
        )),
    );
    true
}

#[cfg(test)]
mod tests;
