//! What clients send: the JSON bodies and path ids of the API, and their checks at the
//! boundary into the contract's commands. A value the API lets through is one the
//! conversation can act on or refuse on the merits of its state (an `error` event), never
//! one that would put a CR/LF into a SIP header or ring for a day.

use std::time::Duration;

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use voxgate_config::{Config, ListenerTransport, TrunkName};
use voxgate_edge::admission::transport_kind;
use voxgate_edge::control_plane::{
    CallerId, Command, ConferenceId, ConferenceRole, ConversationId, DIGIT_DURATION, Destination,
    Dial, Digit, LegId, MAX_CONFERENCE, MAX_DESTINATIONS, MAX_DIGITS, MAX_RING_TIMEOUT,
    MAX_SEQUENCE, PlaySource, RecordLayout, RecordingId,
};

use crate::ControlError;

/// The longest URI a destination may have.
pub const MAX_URI: usize = 512;

/// The longest display name or reason phrase.
pub const MAX_TEXT: usize = 128;

/// The longest caller-id user part.
pub const MAX_USER: usize = 64;

/// A SIP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl From<TransportName> for ListenerTransport {
    fn from(t: TransportName) -> ListenerTransport {
        match t {
            TransportName::Udp => ListenerTransport::Udp,
            TransportName::Tcp => ListenerTransport::Tcp,
            TransportName::Tls => ListenerTransport::Tls,
        }
    }
}

/// Where a dial rings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationBody {
    /// A `sip:` or `sips:` URI, at most 512 characters, e.g. `sip:1000@192.0.2.5:5060`.
    pub uri: String,
    /// Default `udp` for `sip:` and `tls` for `sips:` (which allows only `tls`).
    #[serde(default)]
    pub transport: Option<TransportName>,
    /// A configured trunk whose policy (TLS name, media region) applies to the leg.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// The identity an outbound leg presents (its From).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerIdBody {
    /// The display name: at most 128 characters, no control characters, `"` or `\`.
    #[serde(default)]
    pub display: Option<String>,
    /// The user part (a number): 1 to 64 of `A-Z a-z 0-9 + - _ . ! ~ * ' ( ) & = $ , ; ? / #`.
    #[serde(default)]
    pub user: Option<String>,
}

/// A dial: outbound legs to `destinations`, one after another (or all at once).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialBody {
    /// 1 to 16 destinations, tried in order (the next on 408, 5xx, timeout or a
    /// transport failure).
    pub destinations: Vec<DestinationBody>,
    /// Ring them all at once: the first answer wins.
    #[serde(default)]
    pub parallel: bool,
    /// How long each leg may ring, 1..=3600 s; default `[calls] ring_timeout_s`.
    #[serde(default)]
    pub ring_timeout_s: Option<u64>,
    /// The From presented; default the connected inbound leg's caller, else none.
    #[serde(default)]
    pub caller_id: Option<CallerIdBody>,
    /// Follow 3xx to destinations of configured trunks.
    #[serde(default)]
    pub follow_redirects: bool,
    /// Connect the answering leg to this leg (an inbound leg not yet answered: the
    /// classic B2BUA connection; an answered leg: bridged on answer).
    #[serde(default)]
    pub connect: Option<u32>,
}

/// `POST /v1/conversations`: a new conversation and its first dial.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginateBody {
    /// The dial (its `connect` must be absent: the conversation has no leg yet).
    pub dial: DialBody,
}

/// `POST .../legs/{leg}/answer`; the body may be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// Answer with 183 and SDP (announcements before the answer) instead of 200.
    #[serde(default)]
    pub early: bool,
}

/// `POST .../bridge`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeBody {
    /// One leg.
    pub a: u32,
    /// The other.
    pub b: u32,
}

/// `POST .../conference`: mix these legs in a new conference.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConferenceBody {
    /// 1 to 16 different legs, answered, with PCMU or PCMA.
    pub legs: Vec<u32>,
}

/// `POST .../legs/{leg}/join`: into a conference.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// The conference (the `conference` of its 202).
    pub conference: u32,
    /// `speaker` (default) or `listener` (listen-only: hears everyone, heard by nobody).
    #[serde(default)]
    pub role: Option<String>,
}

/// `POST .../reject`: refuse the inbound leg before answer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// A final status, 400..=699.
    pub status: u16,
    /// The reason phrase (at most 128 characters, no control characters); default the
    /// standard one.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST .../legs/{leg}/transfer/accept`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Where the transferee goes (`connect` defaults to the leg bridged with the
    /// referrer).
    pub dial: DialBody,
}

/// `POST .../legs/{leg}/play`: exactly one of `prompt`, `prompts`, `tone`, `music`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayBody {
    /// A prompt (`[[prompt]]` name), played once.
    #[serde(default)]
    pub prompt: Option<String>,
    /// 1 to 32 prompts played one after the other without a gap.
    #[serde(default)]
    pub prompts: Option<Vec<String>>,
    /// A tone of the `[media] tone_profile` country: `ringback`, `busy` (until stopped),
    /// `beep`, `sit`.
    #[serde(default)]
    pub tone: Option<String>,
    /// A prompt looped until stopped (music on hold).
    #[serde(default)]
    pub music: Option<String>,
    /// A digit from the leg stops it (`playback_done` with `barge_in`).
    #[serde(default)]
    pub barge_in: bool,
}

/// The tones a play may name.
pub const TONES: [&str; 4] = ["ringback", "busy", "beep", "sit"];

/// `POST .../legs/{leg}/digits`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigitsBody {
    /// 1 to 32 of `0`-`9`, `*`, `#`, `A`-`D`, such as `"1234#"`.
    pub digits: String,
    /// How long each digit lasts, 40..=5000 ms (default 100).
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// `POST .../legs/{leg}/record`; the body may be left out (mono).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// Both directions, one channel each: channel 0 what the leg's peer sends, channel 1
    /// what is sent to the leg (its bridge partner, or voxgate's prompts). Default false:
    /// one channel, what the leg's peer sends.
    #[serde(default)]
    pub stereo: bool,
}

impl RecordBody {
    /// The record of `leg`.
    pub fn into_command(self, leg: LegId) -> Command {
        Command::Record {
            leg,
            layout: if self.stereo {
                RecordLayout::Stereo
            } else {
                RecordLayout::Mono
            },
        }
    }
}

/// `DELETE .../legs/{leg}?status=486`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HangupQuery {
    /// For an inbound leg not yet answered: the final status, 400..=699 (default 480).
    pub status: Option<u16>,
}

/// A conversation id of a path: `c17`.
pub fn conversation_id(text: &str) -> Result<ConversationId, ControlError> {
    text.strip_prefix('c')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .map(ConversationId)
        .ok_or_else(|| {
            ControlError::invalid(
                "conversation",
                quoted(text),
                "\"c\" and the conversation's number, such as \"c17\"",
            )
        })
}

/// A recording id of a path: `1` (the `recording` of the record's 202).
pub fn recording_id(text: &str) -> Result<RecordingId, ControlError> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0 && !text.starts_with('+'))
        .map(RecordingId)
        .ok_or_else(|| {
            ControlError::invalid("recording", quoted(text), "a recording number, 1 or more")
        })
}

/// A leg id of a path: `2`.
pub fn leg_id(text: &str) -> Result<LegId, ControlError> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0 && !text.starts_with('+'))
        .map(LegId)
        .ok_or_else(|| ControlError::invalid("leg", quoted(text), "a leg number, 1 or more"))
}

/// A leg id of a body.
fn body_leg(field: &str, n: u32) -> Result<LegId, ControlError> {
    if n == 0 {
        return Err(ControlError::invalid(field, "0", "a leg number, 1 or more"));
    }
    Ok(LegId(n))
}

/// A final status of a reject or a hang-up.
fn status(field: &str, status: u16) -> Result<u16, ControlError> {
    if (400..=699).contains(&status) {
        Ok(status)
    } else {
        Err(ControlError::invalid(
            field,
            status.to_string(),
            "400..=699",
        ))
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

impl DialBody {
    /// The contract's dial, every value checked; `field` prefixes error fields (`dial.`).
    pub fn into_dial(self, config: &Config, field: &str) -> Result<Dial, ControlError> {
        let count = self.destinations.len();
        if count == 0 || count > MAX_DESTINATIONS {
            return Err(ControlError::invalid(
                format!("{field}destinations"),
                format!("a list of {count}"),
                format!("1 to {MAX_DESTINATIONS} destinations"),
            ));
        }
        let mut destinations = Vec::with_capacity(count);
        for (i, d) in self.destinations.into_iter().enumerate() {
            destinations.push(d.into_destination(config, &format!("{field}destinations[{i}]"))?);
        }
        let mut dial = Dial::new(destinations).follow_redirects(self.follow_redirects);
        if self.parallel {
            dial = dial.parallel();
        }
        if let Some(s) = self.ring_timeout_s {
            let max = MAX_RING_TIMEOUT.as_secs();
            if !(1..=max).contains(&s) {
                return Err(ControlError::invalid(
                    format!("{field}ring_timeout_s"),
                    s.to_string(),
                    format!("seconds 1..={max}"),
                ));
            }
            dial = dial.ring_timeout(Duration::from_secs(s));
        }
        if let Some(c) = self.caller_id {
            dial = dial.caller_id(c.into_caller_id(&format!("{field}caller_id"))?);
        }
        if let Some(leg) = self.connect {
            dial = dial.connect(body_leg(&format!("{field}connect"), leg)?);
        }
        Ok(dial)
    }
}

impl DestinationBody {
    fn into_destination(self, config: &Config, field: &str) -> Result<Destination, ControlError> {
        let sips = uri(&format!("{field}.uri"), &self.uri)?;
        let transport = match (self.transport, sips) {
            (None, true) => TransportName::Tls,
            (None, false) => TransportName::Udp,
            (Some(t), true) if t != TransportName::Tls => {
                return Err(ControlError::invalid(
                    format!("{field}.transport"),
                    quoted(ListenerTransport::from(t).as_str()),
                    "\"tls\" (or leave it out) for a sips: URI",
                ));
            }
            (Some(t), _) => t,
        };
        let trunk = match self.trunk {
            None => None,
            Some(name) => Some(
                TrunkName::new(name.as_str())
                    .filter(|t| config.trunk(t).is_some())
                    .ok_or_else(|| {
                        let names: Vec<String> = config
                            .trunks
                            .iter()
                            .map(|t| quoted(t.name.as_str()))
                            .collect();
                        let allowed = if names.is_empty() {
                            "no trunk: none is configured".to_owned()
                        } else {
                            format!("one of {}", names.join(", "))
                        };
                        ControlError::invalid(format!("{field}.trunk"), quoted(&name), allowed)
                    })?,
            ),
        };
        Ok(Destination {
            uri: self.uri,
            transport: transport_kind(transport.into()),
            trunk,
        })
    }
}

/// Checks a destination URI; true for `sips:`.
fn uri(field: &str, text: &str) -> Result<bool, ControlError> {
    let bad = || {
        ControlError::invalid(
            field,
            quoted(text),
            format!(
                "a sip: or sips: URI with a host, such as \"sip:1000@192.0.2.5:5060\", at most \
                 {MAX_URI} characters, without spaces, control characters or <>\"\\{{}}|^`"
            ),
        )
    };
    let (scheme, rest) = text.split_once(':').ok_or_else(bad)?;
    let sips = match scheme.to_ascii_lowercase().as_str() {
        "sip" => false,
        "sips" => true,
        _ => return Err(bad()),
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let clean = text.len() <= MAX_URI
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"\\{}|^`".contains(&b));
    if !clean || host.is_empty() || host.starts_with([';', '?', ':']) {
        return Err(bad());
    }
    Ok(sips)
}

impl CallerIdBody {
    fn into_caller_id(self, field: &str) -> Result<CallerId, ControlError> {
        if let Some(d) = &self.display
            && (d.chars().count() > MAX_TEXT
                || d.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            return Err(ControlError::invalid(
                format!("{field}.display"),
                quoted(d),
                format!("at most {MAX_TEXT} characters, without control characters, '\"' or '\\'"),
            ));
        }
        if let Some(u) = &self.user {
            let ok = (1..=MAX_USER).contains(&u.len())
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-_.!~*'()&=$,;?/#".contains(&b));
            if !ok {
                return Err(ControlError::invalid(
                    format!("{field}.user"),
                    quoted(u),
                    format!(
                        "1 to {MAX_USER} of A-Z a-z 0-9 + - _ . ! ~ * ' ( ) & = $ , ; ? / #, \
                         such as \"+442071234567\""
                    ),
                ));
            }
        }
        Ok(CallerId {
            display: self.display,
            user: self.user,
        })
    }
}

impl RejectBody {
    /// The reject command, checked.
    pub fn into_command(self) -> Result<Command, ControlError> {
        let status = status("status", self.status)?;
        if let Some(r) = &self.reason
            && (r.is_empty() || r.chars().count() > MAX_TEXT || r.chars().any(char::is_control))
        {
            return Err(ControlError::invalid(
                "reason",
                quoted(r),
                format!("1 to {MAX_TEXT} characters without control characters"),
            ));
        }
        Ok(Command::Reject {
            status,
            reason: self.reason,
        })
    }
}

impl BridgeBody {
    /// The bridge command, checked.
    pub fn into_command(self) -> Result<Command, ControlError> {
        Ok(Command::Bridge {
            a: body_leg("a", self.a)?,
            b: body_leg("b", self.b)?,
        })
    }
}

impl ConferenceBody {
    /// The conference command, checked: 1 to 16 different legs.
    pub fn into_command(self) -> Result<Command, ControlError> {
        if self.legs.is_empty() || self.legs.len() > MAX_CONFERENCE {
            return Err(ControlError::invalid(
                "legs",
                format!("a list of {}", self.legs.len()),
                format!("1 to {MAX_CONFERENCE} leg numbers"),
            ));
        }
        let mut legs = Vec::with_capacity(self.legs.len());
        for (i, &n) in self.legs.iter().enumerate() {
            let leg = body_leg(&format!("legs[{i}]"), n)?;
            if legs.contains(&leg) {
                return Err(ControlError::invalid(
                    format!("legs[{i}]"),
                    n.to_string(),
                    "a leg not named before in the list",
                ));
            }
            legs.push(leg);
        }
        Ok(Command::Conference { legs })
    }
}

/// A conference role by name.
pub fn conference_role(field: &str, name: &str) -> Result<ConferenceRole, ControlError> {
    match name {
        "speaker" => Ok(ConferenceRole::Speaker),
        "listener" => Ok(ConferenceRole::Listener),
        _ => Err(ControlError::invalid(
            field,
            quoted(name),
            "\"speaker\" or \"listener\"",
        )),
    }
}

impl JoinBody {
    /// The join of `leg`, checked.
    pub fn into_command(self, leg: LegId) -> Result<Command, ControlError> {
        if self.conference == 0 {
            return Err(ControlError::invalid(
                "conference",
                "0",
                "a conference number, 1 or more",
            ));
        }
        let role = match self.role.as_deref() {
            None => ConferenceRole::Speaker,
            Some(name) => conference_role("role", name)?,
        };
        Ok(Command::JoinConference {
            conference: ConferenceId(self.conference),
            leg,
            role,
        })
    }
}

impl HangupQuery {
    /// The hang-up of `leg`, checked.
    pub fn into_command(self, leg: LegId) -> Result<Command, ControlError> {
        Ok(Command::Hangup {
            leg: Some(leg),
            status: self.status.map(|s| status("status", s)).transpose()?,
        })
    }
}

impl PlayBody {
    /// The play on `leg`, checked: one source, and names the config knows.
    pub fn into_command(self, config: &Config, leg: LegId) -> Result<Command, ControlError> {
        let given = [
            self.prompt.is_some(),
            self.prompts.is_some(),
            self.tone.is_some(),
            self.music.is_some(),
        ]
        .into_iter()
        .filter(|g| *g)
        .count();
        if given != 1 {
            return Err(ControlError::invalid(
                "play",
                format!("{given} sources"),
                "exactly one of prompt, prompts, tone, music",
            ));
        }
        let prompt = |field: &str, name: String| -> Result<String, ControlError> {
            if config.prompt(&name).is_some() {
                return Ok(name);
            }
            let names: Vec<String> = config
                .media
                .prompts
                .iter()
                .map(|p| quoted(&p.name))
                .collect();
            let allowed = if names.is_empty() {
                "a [[prompt]] name, but none is configured".to_owned()
            } else {
                format!("one of {}", names.join(", "))
            };
            Err(ControlError::invalid(field, quoted(&name), allowed))
        };
        let source = if let Some(name) = self.prompt {
            PlaySource::Prompt(prompt("prompt", name)?)
        } else if let Some(name) = self.music {
            PlaySource::Music(prompt("music", name)?)
        } else if let Some(tone) = self.tone {
            if !TONES.contains(&tone.as_str()) {
                return Err(ControlError::invalid(
                    "tone",
                    quoted(&tone),
                    "one of \"ringback\", \"busy\", \"beep\", \"sit\"",
                ));
            }
            PlaySource::Tone(tone)
        } else {
            let names = self.prompts.unwrap_or_default();
            if names.is_empty() || names.len() > MAX_SEQUENCE {
                return Err(ControlError::invalid(
                    "prompts",
                    format!("a list of {}", names.len()),
                    format!("1 to {MAX_SEQUENCE} prompt names"),
                ));
            }
            let mut checked = Vec::with_capacity(names.len());
            for (i, n) in names.into_iter().enumerate() {
                checked.push(prompt(&format!("prompts[{i}]"), n)?);
            }
            PlaySource::Prompts(checked)
        };
        Ok(Command::Play {
            leg,
            source,
            barge_in: self.barge_in,
        })
    }
}

impl DigitsBody {
    /// The digits to send on `leg`, checked.
    pub fn into_command(self, leg: LegId) -> Result<Command, ControlError> {
        let bad = || {
            ControlError::invalid(
                "digits",
                quoted(&self.digits),
                format!("1 to {MAX_DIGITS} of 0-9 * # A-D, such as \"1234#\""),
            )
        };
        if self.digits.is_empty() || self.digits.chars().count() > MAX_DIGITS {
            return Err(bad());
        }
        let digits = self
            .digits
            .chars()
            .map(Digit::from_char)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        let duration = match self.duration_ms {
            None => None,
            Some(ms) => {
                let d = Duration::from_millis(ms);
                if !DIGIT_DURATION.contains(&d) {
                    return Err(ControlError::invalid(
                        "duration_ms",
                        ms.to_string(),
                        "milliseconds 40..=5000",
                    ));
                }
                Some(d)
            }
        };
        Ok(Command::SendDigits {
            leg,
            digits,
            duration,
        })
    }
}

impl TransferBody {
    /// The acceptance of the transfer pending on `leg`, checked.
    pub fn into_command(self, config: &Config, leg: LegId) -> Result<Command, ControlError> {
        Ok(Command::AcceptTransfer {
            leg,
            dial: self.dial.into_dial(config, "dial.")?,
        })
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
