//! voxgate's command line. Apart from main.rs so that build.rs can include it and
//! write the man page from the same definitions (clap_mangen): it uses clap and std only.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// SIP/RTP session border controller and voice-ingress B2BUA.
///
/// Without arguments voxgate runs on its embedded default config: a loopback
/// demo on 127.0.0.1 (SIP 5060 UDP/TCP, 5061 TLS; admin HTTP 9060; API 9070).
#[derive(Parser, Debug)]
#[command(name = "voxgate", version, about)]
pub struct Cli {
    /// Run on this config file instead of the embedded default.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Validate a config file: prints OK, or every error with file:line:key, and exits non-zero.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the embedded default config (the documented sample).
    DefaultConfig,
    /// Print the SHA-256 of a bearer token, for `[admin] tokens` and `[api] tokens`
    /// (`[{ name, sha256 }]`).
    HashToken {
        /// The token (the config holds only its hash).
        token: String,
    },
}
