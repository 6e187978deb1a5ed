//! Parses arbitrary bytes as SDP; on success checks the round trip, every
//! accessor, and that the anchoring rewrite prints SDP that parses again.
//! Any panic is a bug: the parser faces the network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxgate_media::anchor::{
    LocalMedia, OriginState, remote_targets, remote_targets_answered, rewrite,
};
use voxgate_media::sdp::{SdpLimits, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse(data) else {
        return;
    };
    let printed = sdp.to_bytes();
    // Printing and rewriting may grow SDP a little (CRLF for LF, our o=, one
    // c= per media line): within SdpLimits::PRINTED, never beyond.
    let reparse = |b: &[u8]| SessionDescription::parse_with_limits(b, &SdpLimits::PRINTED);
    let again = reparse(&printed).expect("printed SDP parses");
    assert_eq!(again, sdp, "parse(to_bytes(x)) == x");

    let _ = (sdp.origin(), sdp.connection(), sdp.direction());
    let _ = sdp.attributes().count();
    for m in sdp.media() {
        let _ = (m.kind(), m.port(), m.proto(), m.formats(), m.connection());
        let _ = (m.direction(), m.is_held(), m.rtcp_mux(), m.rtcp());
        let _ = m.attributes().count();
    }
    let _ = remote_targets(&sdp);
    let _ = remote_targets_answered(&sdp, &sdp);

    // Anchor some lines (not always all) on v4 or v6, depending on the input.
    let lines = usize::from(data[0] % 4);
    let addr = if data.len() % 2 == 0 {
        "203.0.113.7"
    } else {
        "2001:db8::7"
    };
    let local: Vec<LocalMedia> = (0..lines)
        .map(|i| LocalMedia {
            addr: addr.parse().unwrap(),
            rtp_port: 20000 + 2 * i as u16,
            rtcp_port: 20001 + 2 * i as u16,
        })
        .collect();
    let mut origin = OriginState::new();
    let out = rewrite(&sdp, &local, &mut origin);
    let bytes = out.to_bytes();
    assert_eq!(reparse(&bytes).expect("rewritten SDP parses"), out);
    assert_eq!(out.media().len(), sdp.media().len());
    let version = origin.version();
    let same = rewrite(&sdp, &local, &mut origin);
    assert_eq!(origin.version(), version, "same content, same version");
    assert_eq!(same, out);
    for (i, m) in out.media().iter().enumerate() {
        let expected = match local.get(i) {
            Some(l) if sdp.media()[i].port() != 0 => l.rtp_port,
            _ => 0,
        };
        assert_eq!(m.port(), expected);
        assert!(m.attributes().all(|(n, _)| n != "candidate"));
    }
});
