//! voxgatectl's command line. Apart from main.rs so that build.rs can include it and
//! write the man page from the same definitions (clap_mangen): it uses clap and std only.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// voxgate's operator command line (over the admin API).
#[derive(Parser, Debug)]
#[command(
    name = "voxgatectl",
    version,
    about = "voxgate's operator command line, over the admin API ([admin] listen)"
)]
pub struct Cli {
    /// The admin API, host:port [default: the file's `admin`, else 127.0.0.1:9060].
    #[arg(long, env = "VOXGATE_ADMIN", global = true)]
    pub admin: Option<String>,
    /// The admin token (`[admin] tokens` holds its SHA-256) [default: the file's].
    #[arg(long, env = "VOXGATE_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Settings file with `admin` and `token` or `token_file` [default:
    /// /etc/voxgate/voxgatectl.toml, if it exists].
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Calls in progress and their legs.
    Calls,
    /// Hang up every leg of a call (its id as `calls` shows it, e.g. c17).
    Hangup {
        /// The call.
        call: String,
    },
    /// Refuse new calls with 503 and report not ready; calls in progress go on.
    Drain,
    /// Take new calls again after `drain`.
    Undrain,
    /// Trunks, their destinations and whether they are in service.
    Trunks,
    /// Put a trunk in or out of service (new calls; calls in progress go on).
    Trunk {
        /// in or out.
        #[arg(value_enum)]
        state: Service,
        /// The trunk.
        name: String,
    },
    /// Operator blocks and automatic bans in force.
    Bans,
    /// Drop everything from an address or prefix before parsing (any source, trunks too).
    Block {
        /// 192.0.2.7, 2001:db8::7 or a prefix such as 192.0.2.0/24.
        address: String,
        /// For this many seconds [default: until unblocked or a restart].
        #[arg(long = "for", value_name = "SECONDS")]
        seconds: Option<u64>,
    },
    /// Lift a block, or an automatic ban (an address, or its /24 or /64).
    Unblock {
        /// As `bans` lists it.
        address: String,
    },
    /// Kill switches: every trunk, route and recording, on or off.
    Switches,
    /// Turn a kill switch on or off.
    Switch {
        /// on or off.
        #[arg(value_enum)]
        state: OnOff,
        /// trunk, route or recording.
        #[arg(value_enum)]
        capability: CapabilityArg,
        /// The trunk or route (none for recording).
        name: Option<String>,
    },
    /// Reload the config file (refused as a whole, with the reason, if it cannot apply).
    Reload,
    /// Which config runs: file, SHA-256, generation, when loaded, refused reloads.
    Config,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Service {
    In,
    Out,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CapabilityArg {
    Trunk,
    Route,
    Recording,
}
