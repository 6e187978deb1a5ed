//! Scanner detection by User-Agent: SIPVicious (`svmap`, `svwar`, `svcrack` send
//! "friendly-scanner" unless told otherwise), sipsak, sipcli and the like. A request
//! that names one gets silence: no response tells the scanner that anything listens.

/// True if `user_agent` contains one of `patterns` (lowercase), ignoring ASCII case.
/// No allocation: run for every request outside a dialog.
pub fn is_scanner(user_agent: &[u8], patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|p| contains_ignore_case(user_agent, p.as_bytes()))
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        voxgate_config::Protection::default().scanner_user_agents
    }

    #[test]
    fn the_usual_scanners_are_recognised() {
        let p = defaults();
        for ua in [
            "friendly-scanner",
            "Friendly-Scanner",
            "sipvicious",
            "SIPVicious 0.3.4",
            "sipsak 0.9.8.1",
            "sipcli/v1.8",
            "sundayddr",
            "iWar",
            "sip-scan",
        ] {
            assert!(is_scanner(ua.as_bytes(), &p), "{ua}");
        }
    }

    #[test]
    fn real_user_agents_pass() {
        let p = defaults();
        for ua in [
            "",
            "Asterisk PBX 20.5.0",
            "FPBX-16.0.40(18.19.0)",
            "baresip v3.10.1 (x86_64/linux)",
            "sipp",
            "Cisco-SIPGateway/IOS-15.x",
            "voxgate/0.1",
            "Kamailio (5.7.4 (x86_64/linux))",
        ] {
            assert!(!is_scanner(ua.as_bytes(), &p), "{ua}");
        }
        // An empty pattern list turns the check off; non-UTF-8 bytes are fine.
        assert!(!is_scanner(b"friendly-scanner", &[]));
        assert!(is_scanner(b"\xff\xfefriendly-scanner", &p));
    }
}
