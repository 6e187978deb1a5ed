//! The SDP parser: one pass over the lines, typed where voxgate needs it.
//!
//! Lenient where real agents are sloppy (LF-only line ends, blank lines, extra
//! spaces, missing `s=`/`t=`), strict where a wrong guess would misroute media
//! (`c=`, `m=`, `o=`).

use std::net::IpAddr;

use super::{
    Connection, Line, MediaDescription, Origin, SdpError, SdpLimits, SessionDescription, Text,
};

pub(super) fn parse(body: &[u8], limits: &SdpLimits) -> Result<SessionDescription, SdpError> {
    if body.len() > limits.max_bytes {
        return Err(SdpError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;

    let mut origin = None;
    let mut session = Vec::new();
    let mut media: Vec<MediaDescription> = Vec::new();
    let mut count = 0usize;
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        count += 1;
        if count > limits.max_lines {
            return Err(SdpError::TooManyLines {
                limit: limits.max_lines,
            });
        }
        let bytes = raw.as_bytes();
        let kind = match bytes.first() {
            Some(b) if b.is_ascii_lowercase() => char::from(*b),
            Some(b) if b.is_ascii_graphic() => {
                return Err(SdpError::BadLine {
                    line: number,
                    kind: char::from(*b),
                });
            }
            _ => '?',
        };
        if kind == '?' || bytes.get(1) != Some(&b'=') {
            return Err(SdpError::BadLine { line: number, kind });
        }
        // Index 2 is a char boundary: bytes 0 and 1 are ASCII.
        let value = raw.get(2..).unwrap_or("");
        let bad = SdpError::BadLine { line: number, kind };

        if count == 1 {
            if kind != 'v' {
                return Err(SdpError::MissingLine { kind: 'v' });
            }
            if value.trim() != "0" {
                return Err(bad);
            }
            continue;
        }
        let line = match kind {
            'v' => return Err(bad),
            'o' => {
                if origin.is_some() || !media.is_empty() {
                    return Err(bad);
                }
                origin = Some(parse_origin(value).ok_or(bad)?);
                continue;
            }
            'm' => {
                if media.len() >= limits.max_media {
                    return Err(SdpError::TooManyMedia {
                        limit: limits.max_media,
                    });
                }
                let m = parse_media(value).ok_or(SdpError::BadMedia { line: number })?;
                media.push(m);
                continue;
            }
            'c' => Line::Connection(
                parse_connection(value).ok_or(SdpError::BadConnection { line: number })?,
            ),
            'a' => parse_attribute(value).ok_or(bad)?,
            _ => Line::Other {
                kind,
                value: Text::from(value),
            },
        };
        match media.last_mut() {
            Some(m) => m.lines.push(line),
            None => session.push(line),
        }
    }
    if count == 0 {
        return Err(SdpError::MissingLine { kind: 'v' });
    }
    let origin = origin.ok_or(SdpError::MissingLine { kind: 'o' })?;
    let mut sdp = SessionDescription {
        origin,
        session,
        media,
    };
    sdp.sync_inherited();
    Ok(sdp)
}

/// `<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
fn parse_origin(value: &str) -> Option<Origin> {
    let mut t = value.split_ascii_whitespace();
    let origin = Origin {
        username: Text::from(t.next()?),
        sess_id: Text::from(t.next()?),
        sess_version: t.next()?.parse().ok()?,
        net_type: Text::from(t.next()?),
        addr_type: Text::from(t.next()?),
        addr: Text::from(t.next()?),
    };
    t.next().is_none().then_some(origin)
}

/// `IN IP4|IP6 <address>[/<ttl>[/<count>]]`; host names are refused (we must
/// know where media goes without a DNS lookup).
fn parse_connection(value: &str) -> Option<Connection> {
    let mut t = value.split_ascii_whitespace();
    let (net, family, address) = (t.next()?, t.next()?, t.next()?);
    if net != "IN" || t.next().is_some() {
        return None;
    }
    let (addr, suffix) = match address.find('/') {
        Some(i) => address.split_at(i),
        None => (address, ""),
    };
    let addr: IpAddr = addr.parse().ok()?;
    match (family, addr) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => {}
        _ => return None,
    }
    let suffix = if suffix.is_empty() {
        None
    } else {
        // "/ttl" or "/ttl/count" (IP4), "/count" (IP6): digits only.
        let parts = suffix[1..].split('/');
        let mut n = 0;
        for p in parts {
            n += 1;
            if n > 2 || p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
        Some(Text::from(suffix))
    };
    Some(Connection { addr, suffix })
}

/// `<media> <port>[/<number of ports>] <proto> <fmt> ...`.
fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut t = value.split_ascii_whitespace();
    let kind = Text::from(t.next()?);
    let port_field = t.next()?;
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (p.parse().ok()?, Some(n.parse().ok()?)),
        None => (port_field.parse().ok()?, None),
    };
    let proto = Text::from(t.next()?);
    let formats = t.map(Text::from).collect();
    Some(MediaDescription {
        kind,
        port,
        port_count,
        proto,
        formats,
        lines: Vec::new(),
        session_connection: None,
        session_direction: None,
    })
}

/// `<name>[:<value>]`; trailing blanks after a value-less name are dropped.
fn parse_attribute(value: &str) -> Option<Line> {
    let (name, value) = match value.split_once(':') {
        Some((n, v)) => (n.trim_end(), Some(Text::from(v))),
        None => (value.trim_end(), None),
    };
    if name.is_empty() {
        return None;
    }
    Some(Line::Attribute {
        name: Text::from(name),
        value,
    })
}
