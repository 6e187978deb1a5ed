//! Offer/answer (RFC 3264) where voxgate is the endpoint, sans-IO: our offers
//! from a codec capability set, our answers to a peer's offer, our re-offers
//! (hold, resume, codec change), and the codec a description selected.
//!
//! voxgate answers with one voice codec per audio line (plus
//! telephone-event when both sides have it), the one its trunk prefers, so
//! that the codec in use on a leg is known; two legs bridged with different
//! G.711 laws are transcoded by the relay.
//!
//! Between linked legs (a plain routed call), where the peers negotiate end
//! to end, [`policy`] applies each trunk's codec list to the offers and
//! answers that pass through voxgate.
//!
//! ```
//! use voxgate_media::anchor::{LocalMedia, OriginState};
//! use voxgate_media::negotiate::{Capabilities, answer, selected};
//! use voxgate_media::sdp::SessionDescription;
//!
//! let offer = SessionDescription::parse(
//!     b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
//!       m=audio 4000 RTP/AVP 18 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
//! )
//! .unwrap();
//! let ours = [LocalMedia { addr: "203.0.113.1".parse().unwrap(), rtp_port: 20000, rtcp_port: 20001 }];
//! let mut origin = OriginState::new();
//! let ans = answer(&offer, &Capabilities::voice_default(), &ours, false, None, &mut origin).unwrap();
//! // G.729 (18) is not ours; of the others, PCMU comes first in the trunk's
//! // order (the default: PCMU, PCMA), and telephone-event is kept.
//! assert_eq!(ans.media()[0].formats(), ["0", "101"]);
//! assert_eq!(selected(&ans).unwrap().name, "PCMU");
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::anchor::{LocalMedia, OriginState};
use crate::codec::{CodecKind, Ptime};
use crate::endpoint::{EventFormat, MediaFormat, VoiceFormat};
use crate::rtp::PayloadType;
use crate::sdp::{Direction, MediaDescription, SessionDescription, Text};

/// A codec a trunk's `codecs` may name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec {
    /// The encoding name as in `a=rtpmap` (`PCMU`, `telephone-event`).
    pub name: &'static str,
    /// The RTP clock rate.
    pub clock: u32,
    /// The static payload type (RFC 3551), if it has one.
    pub static_pt: Option<u8>,
    /// The payload type we offer it with.
    pub offer_pt: u8,
    /// The `a=fmtp` parameters we offer.
    pub fmtp: Option<&'static str>,
    /// voxgate offers and answers it where it is a leg's user agent; the
    /// others only pass between linked legs whose trunks both allow them
    /// (voxgate neither offers nor decodes them).
    pub own: bool,
}

impl Codec {
    /// Whether an `a=rtpmap` of `name`/`clock` is this codec: by name and
    /// clock for ours, by name alone for one that only passes through
    /// (Opus is `opus/48000/2`, Speex comes at three clocks).
    pub fn is(&self, name: &str, clock: u32) -> bool {
        self.name.eq_ignore_ascii_case(name) && (!self.own || self.clock == clock)
    }

    /// telephone-event, comfort noise and redundancy: formats beside the voice.
    fn is_voice(&self) -> bool {
        !is_auxiliary(self.name)
    }
}

/// Whether an encoding name is not a voice codec: RFC 4733 events, RFC 3389
/// comfort noise, RFC 2198 redundancy.
fn is_auxiliary(name: &str) -> bool {
    ["telephone-event", "CN", "red"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
}

/// Every codec a trunk may name (names as configured, case-insensitive):
/// first those voxgate offers and answers with itself, then those that only
/// pass between linked legs whose trunks both allow them (voxgate can
/// neither decode nor transcode them, nor offer them itself).
pub const CODECS: [Codec; 16] = [
    own("PCMU", 8000, Some(0), None),
    own("PCMA", 8000, Some(8), None),
    // RFC 3551: G.722 is signalled with an 8000 Hz clock although it samples at 16 kHz.
    own("G722", 8000, Some(9), None),
    Codec {
        name: "telephone-event",
        clock: 8000,
        static_pt: None,
        offer_pt: 101,
        fmtp: Some("0-16"),
        own: true,
    },
    passed("G729", 8000, Some(18)),
    passed("G723", 8000, Some(4)),
    passed("G728", 8000, Some(15)),
    passed("GSM", 8000, Some(3)),
    passed("G726-32", 8000, None),
    passed("iLBC", 8000, None),
    passed("AMR", 8000, None),
    passed("AMR-WB", 16000, None),
    passed("opus", 48000, None),
    passed("speex", 8000, None),
    passed("L16", 44100, None),
    passed("CN", 8000, Some(13)),
];

const fn own(name: &'static str, clock: u32, pt: Option<u8>, fmtp: Option<&'static str>) -> Codec {
    Codec {
        name,
        clock,
        static_pt: pt,
        offer_pt: match pt {
            Some(pt) => pt,
            None => 96,
        },
        fmtp,
        own: true,
    }
}

const fn passed(name: &'static str, clock: u32, pt: Option<u8>) -> Codec {
    Codec {
        name,
        clock,
        static_pt: pt,
        offer_pt: 0,
        fmtp: None,
        own: false,
    }
}

/// Every codec name a trunk may list, ours first.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    CODECS.iter().map(|c| c.name)
}

/// The static payload types of RFC 3551 §6 (audio): a format without an
/// `a=rtpmap` is read from here.
const STATIC: &[(u8, &str, u32)] = &[
    (0, "PCMU", 8000),
    (3, "GSM", 8000),
    (4, "G723", 8000),
    (5, "DVI4", 8000),
    (6, "DVI4", 16000),
    (7, "LPC", 8000),
    (8, "PCMA", 8000),
    (9, "G722", 8000),
    (10, "L16", 44100),
    (11, "L16", 44100),
    (12, "QCELP", 8000),
    (13, "CN", 8000),
    (14, "MPA", 90000),
    (15, "G728", 8000),
    (16, "DVI4", 11025),
    (17, "DVI4", 22050),
    (18, "G729", 8000),
];

fn static_format(pt: u8) -> Option<(&'static str, u32)> {
    STATIC
        .iter()
        .find(|(n, _, _)| *n == pt)
        .map(|&(_, name, clock)| (name, clock))
}

/// The name of the RFC 4733 event codec.
pub const TELEPHONE_EVENT: &str = "telephone-event";

/// An unknown codec name (config validation).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {name:?}")]
pub struct UnknownCodec {
    /// The name given.
    pub name: String,
}

/// The codecs a trunk allows, in order of preference: what voxgate offers
/// and accepts where it is a leg's user agent (the [`own`](Codec::own)
/// ones), and what may pass to and from the trunk's legs on a linked call
/// ([`policy`]). Indices into [`CODECS`]: made per call and per offer, so
/// it allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    order: [u8; CODECS.len()],
    len: u8,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::voice_default()
    }
}

impl Capabilities {
    /// PCMU, PCMA and telephone-event: what every carrier and phone speaks.
    pub fn voice_default() -> Capabilities {
        let mut caps = Capabilities {
            order: [0; CODECS.len()],
            len: 0,
        };
        for name in ["PCMU", "PCMA", TELEPHONE_EVENT] {
            caps.push(name);
        }
        caps
    }

    /// The codecs named, in that order.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Capabilities, UnknownCodec> {
        let mut caps = Capabilities {
            order: [0; CODECS.len()],
            len: 0,
        };
        for n in names {
            let n = n.as_ref();
            if !caps.push(n) {
                return Err(UnknownCodec { name: n.to_owned() });
            }
        }
        Ok(caps)
    }

    /// Appends the codec called `name` (once); false if there is none.
    fn push(&mut self, name: &str) -> bool {
        let Some(i) = CODECS
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        else {
            return false;
        };
        let i = i as u8; // CODECS has 16 entries
        if !self.indices().contains(&i) {
            self.order[usize::from(self.len)] = i;
            self.len += 1;
        }
        true
    }

    fn indices(&self) -> &[u8] {
        &self.order[..usize::from(self.len)]
    }

    /// The codecs, in order.
    pub fn codecs(&self) -> impl Iterator<Item = &'static Codec> + '_ {
        self.indices().iter().map(|&i| &CODECS[usize::from(i)])
    }

    /// Only `codec` (and telephone-event, if we have it).
    pub fn restricted_to(&self, codec: &Selected) -> Capabilities {
        let mut out = Capabilities {
            order: [0; CODECS.len()],
            len: 0,
        };
        for (&i, c) in self.indices().iter().zip(self.codecs()) {
            if codec.is(c.name, c.clock) || c.name == TELEPHONE_EVENT {
                out.order[usize::from(out.len)] = i;
                out.len += 1;
            }
        }
        out
    }

    /// Where `name`/`clock` stands in the order of preference, if allowed.
    pub fn position(&self, name: &str, clock: u32) -> Option<usize> {
        self.codecs().position(|c| c.is(name, clock))
    }

    fn find(&self, name: &str, clock: u32) -> Option<&'static Codec> {
        self.codecs()
            .find(|c| c.own && c.name.eq_ignore_ascii_case(name) && c.clock == clock)
    }

    /// The codecs voxgate offers and answers with itself, in order.
    fn own(&self) -> impl Iterator<Item = &'static Codec> + '_ {
        self.codecs().filter(|c| c.own)
    }

    /// Our voice codecs, in order.
    fn voice(&self) -> impl Iterator<Item = &'static Codec> + '_ {
        self.own().filter(|c| c.is_voice())
    }
}

/// The voice codec a description uses on its first accepted audio line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// The encoding name as signalled.
    pub name: String,
    /// The clock rate.
    pub clock: u32,
    /// The payload type in that description.
    pub pt: u8,
}

impl Selected {
    /// Same codec (payload types may differ).
    pub fn same_codec(&self, other: &Selected) -> bool {
        self.is(&other.name, other.clock)
    }

    fn is(&self, name: &str, clock: u32) -> bool {
        self.name.eq_ignore_ascii_case(name) && self.clock == clock
    }
}

/// No voice codec in common (answer 488).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no codec in common")]
pub struct NoCommonCodec;

/// The encoding name and clock of payload type `pt` on `m`: its `a=rtpmap`,
/// else the static table of RFC 3551.
pub fn format_of(m: &MediaDescription, pt: &str) -> Option<(String, u32)> {
    rtpmap_of(m, pt).map(|(name, clock)| (name.to_owned(), clock))
}

/// Whether an audio line is RTP we can terminate: plain, or SDES-SRTP
/// (the leg's [`SdesLeg`](crate::srtp::SdesLeg) decides whether the
/// profile is acceptable and writes the `a=crypto`); not DTLS-SRTP.
fn terminable(session_fingerprint: bool, m: &MediaDescription) -> bool {
    m.kind() == "audio"
        && matches!(m.proto(), "RTP/AVP" | "RTP/AVPF" | "RTP/SAVP" | "RTP/SAVPF")
        && !session_fingerprint
        && !m.attributes().any(|(n, _)| n == "fingerprint")
}

/// Our offer: one audio line at `local` with every codec of `caps`.
pub fn offer(
    caps: &Capabilities,
    local: &LocalMedia,
    direction: Direction,
    origin: &mut OriginState,
) -> SessionDescription {
    offer_then(caps, local, direction, origin, |_| ()).0
}

/// [`offer`], with `edit` applied before our `o=` is stamped (a leg's
/// [`SdesLeg::write_offer`](crate::srtp::SdesLeg::write_offer)).
pub fn offer_then<R>(
    caps: &Capabilities,
    local: &LocalMedia,
    direction: Direction,
    origin: &mut OriginState,
    edit: impl FnOnce(&mut SessionDescription) -> R,
) -> (SessionDescription, R) {
    let mut text = head(local.addr);
    let pts: Vec<String> = caps.own().map(|c| c.offer_pt.to_string()).collect();
    let _ = write!(
        text,
        "m=audio {} RTP/AVP {}\r\n",
        local.rtp_port,
        pts.join(" ")
    );
    for c in caps.own() {
        let _ = write!(text, "a=rtpmap:{} {}/{}\r\n", c.offer_pt, c.name, c.clock);
        if let Some(f) = c.fmtp {
            let _ = write!(text, "a=fmtp:{} {f}\r\n", c.offer_pt);
        }
    }
    let _ = write!(text, "a=ptime:20\r\na={}\r\n", direction.as_str());
    finish(&text, local.addr, origin, edit)
}

/// Our answer to `offer` (RFC 3264 §6): per audio line of RTP (plain or
/// SDES-SRTP, in the offer's profile: the leg's
/// [`SdesLeg::write_answer`](crate::srtp::SdesLeg::write_answer) adds the
/// `a=crypto`; DTLS-SRTP lines are rejected), the offered voice codec that
/// comes first in `caps`' order of preference (`prefer` first, if offered),
/// plus telephone-event when both have it, on `local[i]`; every other line
/// rejected with port 0. The direction answers the offer's, and `hold` (we
/// hold the peer) makes it sendonly or inactive.
pub fn answer(
    offer: &SessionDescription,
    caps: &Capabilities,
    local: &[LocalMedia],
    hold: bool,
    prefer: Option<&Selected>,
    origin: &mut OriginState,
) -> Result<SessionDescription, NoCommonCodec> {
    answer_then(offer, caps, local, hold, prefer, origin, |_| ()).map(|(sdp, ())| sdp)
}

/// [`answer`], with `edit` applied before our `o=` is stamped (a leg's
/// [`SdesLeg::write_answer`](crate::srtp::SdesLeg::write_answer)).
pub fn answer_then<R>(
    offer: &SessionDescription,
    caps: &Capabilities,
    local: &[LocalMedia],
    hold: bool,
    prefer: Option<&Selected>,
    origin: &mut OriginState,
    edit: impl FnOnce(&mut SessionDescription) -> R,
) -> Result<(SessionDescription, R), NoCommonCodec> {
    let addr = local.first().map(|l| l.addr).ok_or(NoCommonCodec)?;
    let session_fingerprint = offer.attributes().any(|(n, _)| n == "fingerprint");
    let mut text = head(addr);
    let mut accepted = 0;
    for (i, m) in offer.media().iter().enumerate() {
        let line = local
            .get(i)
            .filter(|_| m.port() != 0 && terminable(session_fingerprint, m));
        let choice = line.and_then(|l| choose(m, caps, prefer).map(|c| (l, c)));
        let Some((l, (voice, events))) = choice else {
            // Rejected: port 0 with the offer's first format (RFC 3264 §6).
            let first = m.formats().first().map_or("0", Text::as_str);
            let _ = write!(text, "m={} 0 {} {first}\r\n", m.kind(), m.proto());
            continue;
        };
        accepted += 1;
        let mut pts = voice.0.clone();
        if let Some((pt, _)) = &events {
            pts.push(' ');
            pts.push_str(pt);
        }
        let _ = write!(text, "m=audio {} {} {pts}\r\n", l.rtp_port, m.proto());
        let _ = write!(text, "a=rtpmap:{} {}/{}\r\n", voice.0, voice.1, voice.2);
        if let Some((pt, fmtp)) = &events {
            let _ = write!(text, "a=rtpmap:{pt} {TELEPHONE_EVENT}/8000\r\n");
            let _ = write!(
                text,
                "a=fmtp:{pt} {}\r\n",
                fmtp.as_deref().unwrap_or("0-16")
            );
        }
        if let Some(Some(ptime)) = m.attribute("ptime") {
            let _ = write!(text, "a=ptime:{ptime}\r\n");
        }
        if m.rtcp_mux() {
            text.push_str("a=rtcp-mux\r\n");
        }
        let _ = write!(
            text,
            "a={}\r\n",
            answer_direction(m.direction(), hold).as_str()
        );
    }
    if accepted == 0 {
        return Err(NoCommonCodec);
    }
    Ok(finish(&text, addr, origin, edit))
}

/// `voice` = (pt, name, clock); `events` = (pt, fmtp).
type Choice = ((Text, String, u32), Option<(Text, Option<String>)>);

fn choose(m: &MediaDescription, caps: &Capabilities, prefer: Option<&Selected>) -> Option<Choice> {
    let mut events = None;
    // (rank in the trunk's order, pt, name, clock); `prefer` ranks first.
    let mut voice: Option<(usize, Text, &'static str, u32)> = None;
    for pt in m.formats() {
        let Some((name, clock)) = format_of(m, pt) else {
            continue;
        };
        if name.eq_ignore_ascii_case(TELEPHONE_EVENT) {
            if events.is_none() && caps.find(TELEPHONE_EVENT, clock).is_some() && clock == 8000 {
                let fmtp = fmtp_of(m, pt);
                events = Some((pt.clone(), fmtp));
            }
            continue;
        }
        let Some((rank, ours)) = caps
            .voice()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(&name) && c.clock == clock)
        else {
            continue;
        };
        let rank = if prefer.is_some_and(|p| p.is(ours.name, ours.clock)) {
            0
        } else {
            rank + 1
        };
        if voice.as_ref().is_none_or(|v| rank < v.0) {
            voice = Some((rank, pt.clone(), ours.name, clock));
        }
    }
    voice.map(|(_, pt, name, clock)| ((pt, name.to_owned(), clock), events))
}

fn fmtp_of(m: &MediaDescription, pt: &str) -> Option<String> {
    m.attributes().find_map(|(name, value)| {
        let (num, params) = value?.split_once(' ')?;
        (name == "fmtp" && num == pt).then(|| params.trim().to_owned())
    })
}

/// The direction of an answer to an offer of `offered` (RFC 3264 §6.1),
/// with `hold`: we do not send.
pub fn answer_direction(offered: Direction, hold: bool) -> Direction {
    match (offered, hold) {
        (Direction::SendRecv, false) => Direction::SendRecv,
        (Direction::SendRecv, true) => Direction::SendOnly,
        (Direction::SendOnly, false) => Direction::RecvOnly,
        (Direction::SendOnly, true) => Direction::Inactive,
        (Direction::RecvOnly, false) => Direction::SendOnly,
        (Direction::RecvOnly, true) => Direction::Inactive,
        (Direction::Inactive, _) => Direction::Inactive,
    }
}

/// Our re-offer on a leg (RFC 3264 §8): the SDP we last sent on it with the
/// audio lines' direction set to `direction` and a new `o=` version.
pub fn reoffer(
    last: &SessionDescription,
    direction: Direction,
    origin: &mut OriginState,
) -> SessionDescription {
    let mut out = last.clone();
    for m in out.media_mut() {
        if m.port() != 0 {
            m.set_direction(direction);
        }
    }
    // Session-level direction would override nothing the lines now say, but
    // a stale one confuses agents: drop it.
    out.remove_attributes(|n| matches!(n, "sendrecv" | "sendonly" | "recvonly" | "inactive"));
    let addr = last
        .connection()
        .or_else(|| last.media().first().and_then(MediaDescription::connection))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    origin.stamp(&mut out, addr);
    out
}

/// The voice codec `sdp` uses: the first format of its first audio line with
/// a port that is not telephone-event, comfort noise or redundancy.
pub fn selected(sdp: &SessionDescription) -> Option<Selected> {
    let m = sdp
        .media()
        .iter()
        .find(|m| m.kind() == "audio" && m.port() != 0)?;
    m.formats().iter().find_map(|pt| {
        let (name, clock) = format_of(m, pt)?;
        let skip = ["telephone-event", "CN", "red"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s));
        let pt = pt.parse().ok()?;
        (!skip).then_some(Selected { name, clock, pt })
    })
}

/// What a leg negotiated, for its endpoint ([`MediaFormat`]): from the
/// peer's SDP (`remote`, its last offer or answer) and the body voxgate last
/// sent on the leg (`ours`, as bytes: this runs on every change of either,
/// and scanning bytes allocates nothing where parsing would).
///
/// - the line: the first audio line with a port;
/// - the voice codec voxgate sends: the first of the peer's formats on that
///   line that voxgate can encode (PCMU, PCMA) and that our SDP lists too
///   (when ours is known); none on a DTLS-SRTP line (voxgate does not
///   terminate it; SDES-SRTP it does, so those count as plain);
/// - telephone-event: when both list it; voxgate sends with the peer's
///   payload type and hears the peer's events with ours (RFC 3264 §5.1: a
///   payload type number is the receiver's);
/// - ptime: the peer's `a=ptime`, if any (10 to 120 ms).
pub fn media_format(remote: &SessionDescription, ours: Option<&[u8]>) -> Option<MediaFormat> {
    let (line, m) = remote
        .media()
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind() == "audio" && m.port() != 0)?;
    // SDES-SRTP is terminated in the relay: the endpoint hears plain RTP.
    let plain = terminable(has_fingerprint(remote), m);
    let ours = ours.map(OurAudio::scan);
    // One pass over the payload types: each one's rtpmap is looked up once.
    let mut voice = None;
    let mut event = None;
    let mut first_clock = None;
    for pt in m.formats() {
        let Some((name, clock)) = rtpmap_of(m, pt) else {
            continue;
        };
        let Ok(number) = pt.parse::<u8>() else {
            continue;
        };
        if name.eq_ignore_ascii_case(TELEPHONE_EVENT) {
            event = event.or(Some((number, clock)));
            continue;
        }
        // The first payload type that is not telephone-event: what the peer sends.
        first_clock = first_clock.or(Some(clock));
        if voice.is_some() || !plain {
            continue;
        }
        let Some(codec) = CodecKind::from_rtpmap(name, clock) else {
            continue;
        };
        let listed = ours.as_ref().is_none_or(|o| match codec {
            CodecKind::Pcmu => o.pcmu,
            CodecKind::Pcma => o.pcma,
            #[allow(unreachable_patterns)]
            _ => false,
        });
        if listed {
            voice = Some(VoiceFormat {
                payload_type: PayloadType(number),
                codec,
            });
        }
    }
    let telephone_event = match (event, ours.map(|o| o.event)) {
        (Some((send, clock)), None) => Some((send, send, clock)),
        (Some((send, clock)), Some(Some(receive))) => Some((send, receive, clock)),
        _ => None,
    }
    .filter(|_| plain)
    .map(|(send, receive, clock_rate)| EventFormat {
        receive: PayloadType(receive),
        send: PayloadType(send),
        clock_rate,
    });
    let ptime = m
        .attribute("ptime")
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&ms: &u16| (10..=120).contains(&ms))
        .map(Ptime);
    let clock_rate = first_clock.unwrap_or(8000);
    Some(MediaFormat {
        line,
        voice,
        telephone_event,
        ptime,
        clock_rate,
    })
}

/// The encoding name and clock of payload type `pt` on `m` without
/// allocating: its `a=rtpmap`, else RFC 3551's static table.
fn rtpmap_of<'a>(m: &'a MediaDescription, pt: &str) -> Option<(&'a str, u32)> {
    for (name, value) in m.attributes() {
        if name != "rtpmap" {
            continue;
        }
        let Some((num, enc)) = value.and_then(|v| v.split_once(' ')) else {
            continue;
        };
        if num.trim() != pt {
            continue;
        }
        let mut parts = enc.trim().split('/');
        let name = parts.next()?;
        let clock = parts.next()?.trim().parse().ok()?;
        return Some((name, clock));
    }
    static_format(pt.parse().ok()?)
}

/// What our own SDP's first audio line lists, read from its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct OurAudio {
    pcmu: bool,
    pcma: bool,
    event: Option<u8>,
}

impl OurAudio {
    fn scan(sdp: &[u8]) -> OurAudio {
        let mut out = OurAudio::default();
        let mut in_audio = false;
        let mut seen_audio = false;
        // By bytes: only `m=` and `a=rtpmap:` lines are looked at closer.
        for line in sdp.split(|&b| b == b'\n') {
            if !(line.starts_with(b"m=") || (in_audio && line.starts_with(b"a=rtpmap:"))) {
                continue;
            }
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let line = line.trim_end();
            if let Some(m) = line.strip_prefix("m=") {
                if seen_audio {
                    break; // only the first audio line
                }
                let mut parts = m.split_ascii_whitespace();
                in_audio = parts.next() == Some("audio") && parts.next() != Some("0");
                if in_audio {
                    seen_audio = true;
                    for pt in parts.skip(1) {
                        match pt {
                            "0" => out.pcmu = true,
                            "8" => out.pcma = true,
                            _ => {}
                        }
                    }
                }
                continue;
            }
            let Some(map) = line.strip_prefix("a=rtpmap:").filter(|_| in_audio) else {
                continue;
            };
            let Some((pt, enc)) = map.split_once(' ') else {
                continue;
            };
            let name = enc.split('/').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("PCMU") {
                out.pcmu = true;
            } else if name.eq_ignore_ascii_case("PCMA") {
                out.pcma = true;
            } else if name.eq_ignore_ascii_case(TELEPHONE_EVENT) {
                out.event = out.event.or(pt.trim().parse().ok());
            }
        }
        out
    }
}

/// Whether an SDP asks for DTLS-SRTP (`a=fingerprint` at any level).
pub fn has_fingerprint(sdp: &SessionDescription) -> bool {
    sdp.attributes().any(|(n, _)| n == "fingerprint")
        || sdp
            .media()
            .iter()
            .any(|m| m.attributes().any(|(n, _)| n == "fingerprint"))
}

fn head(addr: IpAddr) -> String {
    let family = if addr.is_ipv4() { "IP4" } else { "IP6" };
    // o= is replaced by `finish`.
    format!(
        "v=0\r\no=voxgate 0 0 IN {family} {addr}\r\ns=voxgate\r\nc=IN {family} {addr}\r\nt=0 0\r\n"
    )
}

fn finish<R>(
    text: &str,
    addr: IpAddr,
    origin: &mut OriginState,
    edit: impl FnOnce(&mut SessionDescription) -> R,
) -> (SessionDescription, R) {
    // Built from our own text above, so it parses; an empty description is
    // the harmless fallback should it ever not.
    let mut sdp = SessionDescription::parse(text.as_bytes())
        .unwrap_or_else(|_| SessionDescription::empty(origin.origin_for(addr)));
    let r = edit(&mut sdp);
    origin.stamp(&mut sdp, addr);
    (sdp, r)
}

pub mod policy;

pub use policy::transcodable;

#[cfg(test)]
mod tests;
