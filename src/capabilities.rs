//! CAP_NET_BIND_SERVICE, the one privilege the systemd unit grants (ambient), is dropped
//! at start when no configured port is below 1024: a node on 5080 and 9060 then runs
//! with no capability at all.
//!
//! Why in the binary and not in the unit: the unit cannot know the ports without parsing
//! the config (a generated drop-in or an ExecStartPre script rewriting the unit would be
//! a second parser and a daemon-reload at every start). Why at the very start: Linux
//! capabilities belong to each thread, and a thread inherits its creator's at creation;
//! so the drop happens in `main` on the only thread there is, before the signalling and
//! media runtimes (and their threads) exist, and every later thread is born without it.
//! Dropping after binding would have to reach threads that already run. What cannot be
//! bound later needs no capability later: listeners and the admin and API addresses
//! change only with a restart.

use voxgate_config::Config;

/// What [`drop_if_unneeded`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A port below 1024 is configured (this one): the capability is kept.
    Needed(u16),
    /// The process did not hold it.
    NotHeld,
    /// Dropped from the effective, permitted, inheritable and ambient sets.
    Dropped,
}

/// The lowest non-zero port voxgate binds (SIP listeners, admin, public admin, API).
pub fn lowest_port(config: &Config) -> Option<u16> {
    let ports = config
        .listeners
        .iter()
        .map(|l| l.address.port())
        .chain([config.admin.listen.port()])
        .chain(config.admin.public_listen.map(|a| a.port()))
        .chain(config.api.as_ref().map(|a| a.listen.port()));
    // Port 0: the OS picks one, never below 1024.
    ports.filter(|p| *p != 0).min()
}

/// Drops CAP_NET_BIND_SERVICE unless `config` binds a port below 1024. Call it before any
/// thread is spawned (see the module doc).
pub fn drop_if_unneeded(config: &Config) -> Result<Outcome, caps::errors::CapsError> {
    use caps::{CapSet, Capability};
    if let Some(port) = lowest_port(config).filter(|p| *p < 1024) {
        return Ok(Outcome::Needed(port));
    }
    let cap = Capability::CAP_NET_BIND_SERVICE;
    if !caps::has_cap(None, CapSet::Permitted, cap)? {
        return Ok(Outcome::NotHeld);
    }
    // Ambient first (it must stay a subset of permitted and inheritable), permitted last.
    for set in [
        CapSet::Ambient,
        CapSet::Effective,
        CapSet::Inheritable,
        CapSet::Permitted,
    ] {
        caps::drop(None, set, cap)?;
    }
    Ok(Outcome::Dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str, sip: &str) -> Config {
        let text = format!(
            "[node]\nname = \"t\"\nregion = \"r\"\n{extra}\n[[listener]]\ntransport = \"udp\"\naddress = \"{sip}\"\n\
             [[trunk]]\nname = \"a\"\nallow = [\"127.0.0.1/32\"]\n\
             [[media_region]]\nname = \"r\"\naddresses = [\"127.0.0.1\"]\nport_min = 20000\nport_max = 20099\n"
        );
        voxgate_config::load_str(&text, "t.toml").unwrap()
    }

    #[test]
    fn the_lowest_port_counts_every_socket_but_port_zero() {
        assert_eq!(lowest_port(&config("", "127.0.0.1:5080")), Some(5080));
        assert_eq!(lowest_port(&config("", "127.0.0.1:5060")), Some(5060));
        assert_eq!(lowest_port(&config("", "127.0.0.1:0")), Some(9060));
        assert_eq!(
            lowest_port(&config("[admin]\nlisten = \"127.0.0.1:0\"", "127.0.0.1:0")),
            None
        );
        assert_eq!(
            lowest_port(&config(
                "[admin]\nlisten = \"127.0.0.1:9060\"\npublic_listen = \"127.0.0.1:80\"",
                "127.0.0.1:5080"
            )),
            Some(80)
        );
        assert_eq!(lowest_port(&config("", "127.0.0.1:1023")), Some(1023));
    }
}
