//! voxgatectl: the operator's command line over voxgate's admin API.
//!
//! Shows calls and their legs, trunks, bans, kill switches and the config version; hangs
//! up a call, drains and undrains the node, puts a trunk in or out of service, blocks and
//! unblocks an address, flips kill switches, reloads. Tables by default, `--json` for the
//! API's JSON as it came. Exit status: 0 done, 1 refused or unreachable (the reason on
//! stderr), 2 a usage error.

use anyhow::Context as _;
use clap::Parser as _;
use hyper::Method;
use std::process::ExitCode;

mod cli;
mod client;
mod settings;
mod show;

use cli::{CapabilityArg, Cli, Cmd, OnOff, Service};
use client::{Admin, Answer};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("voxgatectl: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voxgatectl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The admin address and token from flags, the environment and the file.
fn admin(cli: &Cli) -> anyhow::Result<Admin> {
    let file = settings::read(cli.config.as_deref())?;
    let address = cli
        .admin
        .clone()
        .or(file.admin)
        .unwrap_or_else(|| settings::DEFAULT_ADMIN.to_owned());
    Ok(Admin {
        address: settings::address(&address),
        token: cli.token.clone().or(file.token),
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let admin = admin(&cli)?;
    let (method, path, body) = request(&cli.command)?;
    let answer = admin.call(method, &path, body).await?;
    if !(200..300).contains(&answer.status) {
        anyhow::bail!(
            "{} {path}: {} {}",
            answer.status,
            reason(answer.status),
            message(&answer)
        );
    }
    if cli.json {
        print_json(&answer)?;
        return Ok(());
    }
    show::answer(&cli.command, &answer.body)
}

/// The request a command makes.
fn request(cmd: &Cmd) -> anyhow::Result<(Method, String, Option<String>)> {
    Ok(match cmd {
        Cmd::Calls => (Method::GET, "/calls".into(), None),
        Cmd::Hangup { call } => (Method::DELETE, format!("/calls/{}", segment(call)?), None),
        Cmd::Drain => (Method::POST, "/drain".into(), None),
        Cmd::Undrain => (Method::POST, "/undrain".into(), None),
        Cmd::Trunks => (Method::GET, "/trunks".into(), None),
        Cmd::Trunk { state, name } => {
            let to = match state {
                Service::In => "in-service",
                Service::Out => "out-of-service",
            };
            (
                Method::POST,
                format!("/trunks/{}/{to}", segment(name)?),
                None,
            )
        }
        Cmd::Bans => (Method::GET, "/bans".into(), None),
        Cmd::Block { address, seconds } => {
            let body = serde_json::json!({ "address": address, "seconds": seconds });
            (Method::POST, "/bans".into(), Some(body.to_string()))
        }
        Cmd::Unblock { address } => {
            // `/` of a prefix and `:` of IPv6 as the query string wants them.
            let q: String = address
                .chars()
                .map(|c| match c {
                    '/' => "%2F".to_owned(),
                    ':' => "%3A".to_owned(),
                    c if c.is_ascii_alphanumeric() || c == '.' => c.to_string(),
                    _ => String::new(),
                })
                .collect();
            (Method::DELETE, format!("/bans?address={q}"), None)
        }
        Cmd::Switches => (Method::GET, "/switches".into(), None),
        Cmd::Switch {
            state,
            capability,
            name,
        } => {
            let state = match state {
                OnOff::On => "on",
                OnOff::Off => "off",
            };
            let path = match (capability, name) {
                (CapabilityArg::Recording, None) => format!("/switches/recording/{state}"),
                (CapabilityArg::Recording, Some(_)) => {
                    anyhow::bail!("recording has one switch: no name")
                }
                (CapabilityArg::Trunk, Some(n)) => {
                    format!("/switches/trunk/{}/{state}", segment(n)?)
                }
                (CapabilityArg::Route, Some(n)) => {
                    format!("/switches/route/{}/{state}", segment(n)?)
                }
                (_, None) => anyhow::bail!("name the trunk or route"),
            };
            (Method::POST, path, None)
        }
        Cmd::Reload => (Method::POST, "/reload".into(), None),
        Cmd::Config => (Method::GET, "/config".into(), None),
    })
}

/// A name or id as one path segment: names are `[A-Za-z0-9._-]`, ids `c17`.
fn segment(text: &str) -> anyhow::Result<&str> {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(text)
    } else {
        anyhow::bail!("{text:?}: names are letters, digits, '.', '_' and '-'")
    }
}

/// The reason phrase of the statuses the admin API gives.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized (give --token, VOXGATE_TOKEN or the file's token)",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable",
        _ => "",
    }
}

/// The message of a refusal: its JSON `error`, else its text.
fn message(answer: &Answer) -> String {
    serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| answer.body.trim().to_owned())
}

fn print_json(answer: &Answer) -> anyhow::Result<()> {
    match serde_json::from_str::<serde_json::Value>(&answer.body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).context("printing")?),
        // `reload` answers in text: as JSON, a string.
        Err(_) => println!("{}", serde_json::Value::String(answer.body.clone())),
    }
    Ok(())
}
