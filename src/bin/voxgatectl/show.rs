//! Tables of the admin API's answers, for people (`--json` skips this).

use anyhow::Context as _;
use comfy_table::{Table, presets};
use serde_json::Value;

use super::Cmd;

/// Prints `body`, the answer to `cmd`.
pub fn answer(cmd: &Cmd, body: &str) -> anyhow::Result<()> {
    if matches!(cmd, Cmd::Reload) {
        // Text: "OK: configuration reloaded" and the notes.
        print!("{body}");
        return Ok(());
    }
    let v: Value = serde_json::from_str(body).context("the admin API's answer is not JSON")?;
    match cmd {
        Cmd::Calls => calls(&v),
        Cmd::Trunks => trunks(&v),
        Cmd::Trunk { .. } => trunks(&Value::Array(vec![v])),
        Cmd::Bans => bans(&v),
        Cmd::Block { .. } => bans(&Value::Array(vec![v])),
        Cmd::Switches => switches(&v),
        Cmd::Switch { .. } => switches(&Value::Array(vec![v])),
        Cmd::Config => fields(
            &v,
            &[
                "source",
                "sha256",
                "generation",
                "loaded_at",
                "refused_since",
                "last_refusal",
            ],
        ),
        Cmd::Drain | Cmd::Undrain => fields(&v, &["draining", "calls"]),
        Cmd::Hangup { .. } | Cmd::Unblock { .. } => fields(&v, &[]),
        Cmd::Reload => {}
    }
    Ok(())
}

/// A JSON value as a cell: strings bare, null empty.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.to_vec());
    t
}

fn rows(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn calls(v: &Value) {
    let list = rows(v);
    if list.is_empty() {
        println!("no calls");
        return;
    }
    let mut t = table(&[
        "CALL",
        "STATE",
        "TRUNK",
        "FROM",
        "TO",
        "STARTED",
        "LEG",
        "DIRECTION",
        "LEG STATE",
        "LEG TRUNK",
        "BRIDGED",
        "RTP PORT",
    ]);
    for call in list {
        let legs = rows(call.get("legs").unwrap_or(&Value::Null));
        let head = |first: bool, key: &str| {
            if first {
                cell(call.get(key))
            } else {
                String::new()
            }
        };
        if legs.is_empty() {
            t.add_row(vec![
                head(true, "id"),
                head(true, "state"),
                head(true, "trunk"),
                head(true, "from"),
                head(true, "to"),
                head(true, "started"),
            ]);
        }
        for (i, leg) in legs.iter().enumerate() {
            let first = i == 0;
            t.add_row(vec![
                head(first, "id"),
                head(first, "state"),
                head(first, "trunk"),
                head(first, "from"),
                head(first, "to"),
                head(first, "started"),
                cell(leg.get("id")),
                cell(leg.get("direction")),
                cell(leg.get("state")),
                cell(leg.get("trunk")),
                cell(leg.get("bridged_with")),
                cell(leg.get("rtp_port")),
            ]);
        }
    }
    println!("{t}");
}

fn trunks(v: &Value) {
    let mut t = table(&[
        "TRUNK",
        "SERVICE",
        "OOS STATUS",
        "REGISTRATION",
        "DESTINATION",
        "TRANSPORT",
        "STATE",
    ]);
    for trunk in rows(v) {
        let service = match trunk.get("in_service").and_then(Value::as_bool) {
            Some(true) => "in",
            Some(false) => "out",
            None => "",
        };
        let dests = rows(trunk.get("destinations").unwrap_or(&Value::Null));
        let name = cell(trunk.get("name"));
        let status = cell(trunk.get("out_of_service_status"));
        let registration = cell(trunk.get("registration"));
        if dests.is_empty() {
            t.add_row(vec![
                name.clone(),
                service.to_owned(),
                status.clone(),
                registration.clone(),
            ]);
        }
        for (i, d) in dests.iter().enumerate() {
            let first = i == 0;
            t.add_row(vec![
                if first { name.clone() } else { String::new() },
                if first {
                    service.to_owned()
                } else {
                    String::new()
                },
                if first { status.clone() } else { String::new() },
                if first {
                    registration.clone()
                } else {
                    String::new()
                },
                cell(d.get("uri")),
                cell(d.get("transport")),
                cell(d.get("state")),
            ]);
        }
    }
    println!("{t}");
}

fn bans(v: &Value) {
    let list = rows(v);
    if list.is_empty() {
        println!("no bans or blocks");
        return;
    }
    let mut t = table(&["ADDRESS", "ORIGIN", "REMAINING", "LEVEL"]);
    for b in list {
        let remaining = match b.get("remaining_s").and_then(Value::as_u64) {
            Some(s) => format!("{s}s"),
            None => "until unblocked".to_owned(),
        };
        t.add_row(vec![
            cell(b.get("address")),
            cell(b.get("origin")),
            remaining,
            cell(b.get("level")),
        ]);
    }
    println!("{t}");
}

fn switches(v: &Value) {
    let mut t = table(&["CAPABILITY", "NAME", "SWITCH"]);
    for s in rows(v) {
        let state = match s.get("on").and_then(Value::as_bool) {
            Some(true) => "on",
            Some(false) => "off",
            None => "",
        };
        t.add_row(vec![
            cell(s.get("capability")),
            cell(s.get("name")),
            state.to_owned(),
        ]);
    }
    println!("{t}");
}

/// `key: value` lines, in `order` first, then any other key.
fn fields(v: &Value, order: &[&str]) {
    let Some(map) = v.as_object() else {
        println!("{}", cell(Some(v)));
        return;
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for key in order {
        if let Some(value) = map.get(*key) {
            println!("{key:width$}  {}", cell(Some(value)));
        }
    }
    for (key, value) in map.iter().filter(|(k, _)| !order.contains(&k.as_str())) {
        println!("{key:width$}  {}", cell(Some(value)));
    }
}
