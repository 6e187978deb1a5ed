//! SDP (RFC 4566): an owned session description that keeps every line.
//!
//! Lines voxgate interprets (`o=`, `c=`, `m=`, `a=`) are typed; every other
//! line is kept byte-exact. Order is preserved, so `parse(to_bytes(x)) == x`
//! and an unknown line reaches the other leg as it came. Printing normalises
//! whitespace inside typed lines (single spaces) and line ends (CRLF).

mod parse;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::net::IpAddr;

/// Text of an SDP field: inline up to 24 bytes (most SDP tokens and
/// attribute values), so parsing and copying a description allocates a few
/// times, not once per token.
pub use compact_str::CompactString as Text;

/// Most bytes an SDP body may have.
pub const MAX_BYTES: usize = 8 * 1024;
/// Most lines an SDP body may have.
pub const MAX_LINES: usize = 256;
/// Most `m=` lines an SDP body may have.
pub const MAX_MEDIA: usize = 16;

/// Hard limits of the parser. The defaults ([`MAX_BYTES`], [`MAX_LINES`],
/// [`MAX_MEDIA`]) are for SDP received from the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpLimits {
    /// Most bytes.
    pub max_bytes: usize,
    /// Most lines (blank lines not counted).
    pub max_lines: usize,
    /// Most `m=` lines.
    pub max_media: usize,
}

impl Default for SdpLimits {
    fn default() -> Self {
        SdpLimits {
            max_bytes: MAX_BYTES,
            max_lines: MAX_LINES,
            max_media: MAX_MEDIA,
        }
    }
}

impl SdpLimits {
    /// What printing (CRLF for LF, dotted IPv4-mapped addresses) and
    /// [`rewrite`](crate::anchor::rewrite) (our `o=`, at most one `c=` per level,
    /// one `a=rtcp` per media line) can make of SDP within the defaults: a
    /// little more than they allow, never more than this.
    pub const PRINTED: SdpLimits = SdpLimits {
        max_bytes: 2 * MAX_BYTES,
        max_lines: MAX_LINES + MAX_MEDIA + 1,
        max_media: MAX_MEDIA,
    };
}

/// Why an SDP body was refused. Line numbers count from 1.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// The body is not UTF-8.
    #[error("SDP is not UTF-8")]
    NotUtf8,
    /// The body is larger than allowed.
    #[error("SDP larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A mandatory line is missing (or `v=` is not first).
    #[error("SDP without its {kind}= line")]
    MissingLine {
        /// The line type (`v`, `o`).
        kind: char,
    },
    /// A line is not `<letter>=<value>`, or a known line has a bad value.
    #[error("SDP line {line} ({kind}=) is malformed")]
    BadLine {
        /// The line number.
        line: usize,
        /// The line type, `?` when there is none.
        kind: char,
    },
    /// More lines than allowed.
    #[error("SDP has more than {limit} lines")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// More `m=` lines than allowed.
    #[error("SDP has more than {limit} m= lines")]
    TooManyMedia {
        /// The limit.
        limit: usize,
    },
    /// A `c=` line that is not `IN IP4|IP6 <address>[/ttl[/n]]`.
    #[error("SDP line {line}: bad c= line")]
    BadConnection {
        /// The line number.
        line: usize,
    },
    /// An `m=` line that is not `<media> <port>[/<n>] <proto> <fmt>...`.
    #[error("SDP line {line}: bad m= line")]
    BadMedia {
        /// The line number.
        line: usize,
    },
}

/// A parsed SDP body (RFC 4566).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    origin: Origin,
    /// Session-level lines after `v=` and `o=`, in order.
    session: Vec<Line>,
    media: Vec<MediaDescription>,
}

/// The `o=` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `<username>` (`-` when none).
    pub username: Text,
    /// `<sess-id>`, kept as text: some agents send more digits than a u64 holds.
    pub sess_id: Text,
    /// `<sess-version>`.
    pub sess_version: u64,
    /// `<nettype>`, normally `IN`.
    pub net_type: Text,
    /// `<addrtype>`, normally `IP4` or `IP6`.
    pub addr_type: Text,
    /// `<unicast-address>`: an address or a host name.
    pub addr: Text,
}

/// A `c=` line (`IN` network type only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The address; its family gives `IP4`/`IP6`.
    pub addr: IpAddr,
    /// A multicast `/ttl[/count]` suffix, as received (without the address).
    pub suffix: Option<Text>,
}

/// Media direction (RFC 3264 §5.1), from the sender of the SDP's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// True for `sendonly` and `inactive`: the sender of this SDP puts the other side on hold.
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }

    /// The attribute name (`sendrecv`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// One line other than `v=`, `o=` and `m=`.
#[derive(Clone, PartialEq, Eq)]
enum Line {
    Connection(Connection),
    /// `a=<name>[:<value>]`.
    Attribute {
        name: Text,
        value: Option<Text>,
    },
    /// Any other line, value byte-exact.
    Other {
        kind: char,
        value: Text,
    },
}

/// Key-bearing lines (`a=crypto`, `a=key-mgmt`, `k=`) show their name only:
/// an SDP in a debug log must not carry an SRTP key.
impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Line::Connection(c) => f.debug_tuple("Connection").field(c).finish(),
            Line::Attribute { name, value } => {
                let secret =
                    name.eq_ignore_ascii_case("crypto") || name.eq_ignore_ascii_case("key-mgmt");
                let value: &dyn std::fmt::Debug = match value {
                    Some(_) if secret => &"<redacted>",
                    v => v,
                };
                f.debug_struct("Attribute")
                    .field("name", name)
                    .field("value", value)
                    .finish()
            }
            Line::Other { kind: 'k', .. } => f
                .debug_struct("Other")
                .field("kind", &'k')
                .field("value", &"<redacted>")
                .finish(),
            Line::Other { kind, value } => f
                .debug_struct("Other")
                .field("kind", kind)
                .field("value", value)
                .finish(),
        }
    }
}

/// One `m=` line and the lines that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    kind: Text,
    port: u16,
    /// `/<number of ports>` when given.
    port_count: Option<u16>,
    proto: Text,
    formats: Vec<Text>,
    lines: Vec<Line>,
    /// Copies of the session-level values this media line inherits, kept in
    /// step by [`SessionDescription`] so the accessors need no back-reference.
    session_connection: Option<IpAddr>,
    session_direction: Option<Direction>,
}

impl SessionDescription {
    /// A description with only `v=` and `o=` (a fallback; real ones are parsed).
    pub fn empty(origin: Origin) -> SessionDescription {
        SessionDescription {
            origin,
            session: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Parses an SDP body; never panics. Limits: [`SdpLimits::default`].
    pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
        parse::parse(body, &SdpLimits::default())
    }

    /// Parses an SDP body within other limits.
    pub fn parse_with_limits(
        body: &[u8],
        limits: &SdpLimits,
    ) -> Result<SessionDescription, SdpError> {
        parse::parse(body, limits)
    }

    /// Prints the description with CRLF line ends; `parse(to_bytes(x)) == x`
    /// (within [`SdpLimits::PRINTED`]: CRLF for LF can add a byte per line).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        out.push_str("v=0\r\n");
        let o = &self.origin;
        let _ = write!(
            out,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.sess_id, o.sess_version, o.net_type, o.addr_type, o.addr
        );
        for line in &self.session {
            line.print(&mut out);
        }
        for m in &self.media {
            m.print(&mut out);
        }
        out.into_bytes()
    }

    /// The media descriptions, in `m=` order.
    pub fn media(&self) -> &[MediaDescription] {
        &self.media
    }

    /// The media descriptions, for rewriting. Session-level values they inherit
    /// change only through the session-level setters.
    pub fn media_mut(&mut self) -> &mut [MediaDescription] {
        &mut self.media
    }

    /// The session-level `c=` address.
    pub fn connection(&self) -> Option<IpAddr> {
        connection_of(&self.session)
    }

    /// The `o=` line.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Replaces the `o=` line.
    pub fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.session)
    }

    /// Session-level attributes as `(name, value)`.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        attributes_of(&self.session)
    }

    /// Sets (or, with `None`, removes) the session-level `c=` line: the first
    /// `c=` gets `addr`, others go. A new line goes before the first `b=`/`t=`/`a=` line.
    pub fn set_connection(&mut self, addr: Option<IpAddr>) {
        set_connection_in(&mut self.session, addr);
        self.sync_inherited();
    }

    /// Removes session-level attributes whose name satisfies `remove`.
    pub fn remove_attributes(&mut self, mut remove: impl FnMut(&str) -> bool) {
        self.session
            .retain(|l| !matches!(l, Line::Attribute { name, .. } if remove(name)));
        self.sync_inherited();
    }

    /// Removes session-level lines of type `kind` other than `c=` and `a=`
    /// (`k=`, `b=`, ...).
    pub fn remove_lines(&mut self, kind: char) {
        self.session
            .retain(|l| !matches!(l, Line::Other { kind: k, .. } if *k == kind));
    }

    /// Refreshes the inherited copies in every media description.
    fn sync_inherited(&mut self) {
        let connection = self.connection();
        let direction = self.direction();
        for m in &mut self.media {
            m.session_connection = connection;
            m.session_direction = direction;
        }
    }
}

impl MediaDescription {
    /// The media type: `audio`, `video`, ...
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The port; 0 is a rejected or disabled stream.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The transport protocol: `RTP/AVP`, `RTP/SAVP`, ...
    pub fn proto(&self) -> &str {
        &self.proto
    }

    /// The formats (payload types for RTP) in offered order.
    pub fn formats(&self) -> &[Text] {
        &self.formats
    }

    /// The media-level `c=` address, else the session's.
    pub fn connection(&self) -> Option<IpAddr> {
        connection_of(&self.lines).or(self.session_connection)
    }

    /// True when this media line has its own `c=` line.
    pub fn has_own_connection(&self) -> bool {
        self.lines.iter().any(|l| matches!(l, Line::Connection(_)))
    }

    /// The direction: media level, else session level, else `sendrecv`.
    pub fn direction(&self) -> Direction {
        direction_of(&self.lines)
            .or(self.session_direction)
            .unwrap_or(Direction::SendRecv)
    }

    /// Held by direction (`sendonly`/`inactive`) or by the RFC 2543 `c=0.0.0.0`.
    pub fn is_held(&self) -> bool {
        self.direction().is_hold() || self.connection().is_some_and(|a| a.is_unspecified())
    }

    /// `a=rtcp-mux` (RFC 5761) present.
    pub fn rtcp_mux(&self) -> bool {
        self.attribute("rtcp-mux").is_some()
    }

    /// `a=rtcp:<port> [IN IP4|IP6 <addr>]` (RFC 3605). `None` if absent or malformed.
    pub fn rtcp(&self) -> Option<(u16, Option<IpAddr>)> {
        let value = self.attribute("rtcp")??;
        let mut parts = value.split_ascii_whitespace();
        let port = parts.next()?.parse().ok()?;
        match (parts.next(), parts.next(), parts.next()) {
            (None, ..) => Some((port, None)),
            (Some("IN"), Some("IP4" | "IP6"), Some(addr)) => Some((port, addr.parse().ok())),
            _ => None,
        }
    }

    /// Media-level attributes as `(name, value)`, in order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        attributes_of(&self.lines)
    }

    /// The first media-level attribute called `name`: `Some(value)` when present.
    pub fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Sets the port (and drops a `/<number of ports>` suffix).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
        self.port_count = None;
    }

    /// Sets (or, with `None`, removes) this media line's own `c=` line: the
    /// first `c=` gets `addr`, others go. A new line goes before the first
    /// `b=`/`k=`/`a=` line (RFC 4566 order).
    pub fn set_connection(&mut self, addr: Option<IpAddr>) {
        set_connection_in(&mut self.lines, addr);
    }

    /// Removes media-level attributes whose name satisfies `remove`.
    pub fn remove_attributes(&mut self, mut remove: impl FnMut(&str) -> bool) {
        self.lines
            .retain(|l| !matches!(l, Line::Attribute { name, .. } if remove(name)));
    }

    /// Replaces the formats (payload types for RTP).
    pub fn set_formats(&mut self, formats: Vec<Text>) {
        self.formats = formats;
    }

    /// Keeps the media-level attributes for which `keep(name, value)` holds.
    pub fn retain_attributes(&mut self, mut keep: impl FnMut(&str, Option<&str>) -> bool) {
        self.lines.retain(|l| match l {
            Line::Attribute { name, value } => keep(name, value.as_deref()),
            _ => true,
        });
    }

    /// Adds an attribute beside its kind: after the last one called `name`,
    /// else after the last `a=rtpmap`/`a=fmtp`, else before the first
    /// attribute (where agents look for `a=rtpmap`).
    pub fn insert_attribute(&mut self, name: &str, value: Option<&str>) {
        let after = |pred: &dyn Fn(&str) -> bool| {
            self.lines
                .iter()
                .rposition(|l| matches!(l, Line::Attribute { name: n, .. } if pred(n)))
        };
        let at = after(&|n| n == name)
            .or_else(|| after(&|n| n == "rtpmap" || n == "fmtp"))
            .map(|i| i + 1)
            .or_else(|| {
                self.lines
                    .iter()
                    .position(|l| matches!(l, Line::Attribute { .. }))
            })
            .unwrap_or(self.lines.len());
        self.lines.insert(
            at,
            Line::Attribute {
                name: Text::from(name),
                value: value.map(Text::from),
            },
        );
    }

    /// Removes media-level lines of type `kind` other than `c=` and `a=`
    /// (`k=`, `b=`, ...).
    pub fn remove_lines(&mut self, kind: char) {
        self.lines
            .retain(|l| !matches!(l, Line::Other { kind: k, .. } if *k == kind));
    }

    /// Sets the transport protocol (`RTP/AVP`, `RTP/SAVP`, ...).
    pub fn set_proto(&mut self, proto: &str) {
        self.proto = Text::from(proto);
    }

    /// Sets the first attribute called `name` to `value` and removes the
    /// others of that name; appends one if there is none.
    pub fn set_attribute(&mut self, name: &str, value: Option<&str>) {
        let mut found = false;
        self.lines.retain_mut(|line| match line {
            Line::Attribute { name: n, value: v } if n == name => {
                if found {
                    return false;
                }
                *v = value.map(Text::from);
                found = true;
                true
            }
            _ => true,
        });
        if !found {
            self.push_attribute(name, value);
        }
    }

    /// Appends an attribute line.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) {
        self.lines.push(Line::Attribute {
            name: Text::from(name),
            value: value.map(Text::from),
        });
    }

    /// Sets the media-level direction attribute (replacing any).
    pub fn set_direction(&mut self, direction: Direction) {
        self.remove_attributes(|n| Direction::from_attribute(n).is_some());
        self.push_attribute(direction.as_str(), None);
    }

    fn print(&self, out: &mut String) {
        let _ = write!(out, "m={} {}", self.kind, self.port);
        if let Some(n) = self.port_count {
            let _ = write!(out, "/{n}");
        }
        let _ = write!(out, " {}", self.proto);
        for f in &self.formats {
            out.push(' ');
            out.push_str(f);
        }
        out.push_str("\r\n");
        for line in &self.lines {
            line.print(out);
        }
    }
}

impl Line {
    fn print(&self, out: &mut String) {
        match self {
            Line::Connection(c) => {
                let family = if c.addr.is_ipv4() { "IP4" } else { "IP6" };
                let _ = write!(out, "c=IN {family} {}", c.addr);
                if let Some(s) = &c.suffix {
                    out.push_str(s);
                }
            }
            Line::Attribute { name, value } => {
                out.push_str("a=");
                out.push_str(name);
                if let Some(v) = value {
                    out.push(':');
                    out.push_str(v);
                }
            }
            Line::Other { kind, value } => {
                out.push(*kind);
                out.push('=');
                out.push_str(value);
            }
        }
        out.push_str("\r\n");
    }
}

fn connection_of(lines: &[Line]) -> Option<IpAddr> {
    lines.iter().find_map(|l| match l {
        Line::Connection(c) => Some(c.addr),
        _ => None,
    })
}

fn direction_of(lines: &[Line]) -> Option<Direction> {
    lines.iter().find_map(|l| match l {
        Line::Attribute { name, value: None } => Direction::from_attribute(name),
        _ => None,
    })
}

fn attributes_of(lines: &[Line]) -> impl Iterator<Item = (&str, Option<&str>)> {
    lines.iter().filter_map(|l| match l {
        Line::Attribute { name, value } => Some((name.as_str(), value.as_deref())),
        _ => None,
    })
}

/// Sets the first `c=` line in `lines` to `addr` (a multicast suffix stays
/// only for a multicast address) and removes the others, inserts one if there
/// is none, or removes them all for `None`.
fn set_connection_in(lines: &mut Vec<Line>, addr: Option<IpAddr>) {
    let Some(addr) = addr else {
        lines.retain(|l| !matches!(l, Line::Connection(_)));
        return;
    };
    let mut found = false;
    lines.retain_mut(|line| match line {
        Line::Connection(c) => {
            if found {
                return false;
            }
            c.addr = addr;
            if !addr.is_multicast() {
                c.suffix = None;
            }
            found = true;
            true
        }
        _ => true,
    });
    if !found {
        // Before timing, bandwidth, key and attribute lines (RFC 4566 §5 order).
        let at = lines
            .iter()
            .position(|l| match l {
                Line::Attribute { .. } => true,
                Line::Other { kind, .. } => matches!(kind, 'b' | 't' | 'r' | 'z' | 'k'),
                Line::Connection(_) => false,
            })
            .unwrap_or(lines.len());
        lines.insert(at, Line::Connection(Connection { addr, suffix: None }));
    }
}
