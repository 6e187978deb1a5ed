//! Reads arbitrary text as a digest challenge (`voxgate_sip::auth`), answers
//! what parses, and sends a request again with the answer. Any panic is a
//! bug: challenges come from carriers, and the `digest_auth` crate underneath
//! slices by character count (the module keeps non-ASCII away from it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxgate_sip::auth::{self, Challenge, Credentials};
use voxgate_sip::message::{Limits, Message, Method};

const INVITE: &str = "INVITE sip:+4420@192.0.2.1 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1;rport\r\n\
    Max-Forwards: 70\r\nFrom: <sip:a@192.0.2.9>;tag=a\r\nTo: <sip:+4420@192.0.2.1>\r\n\
    Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let creds = Credentials {
        username: "u",
        password: "p",
    };
    for proxy in [false, true] {
        let Ok(challenge) = Challenge::parse(text, proxy) else {
            continue;
        };
        let _ = (challenge.realm(), challenge.algorithm(), challenge.stale());
        let Ok((name, value)) =
            challenge.authorize(Method::Invite, "sip:+4420@192.0.2.1", b"v=0", &creds, "c")
        else {
            continue;
        };
        let Ok(invite) = Message::parse(INVITE.as_bytes().to_vec().into(), &Limits::default())
        else {
            return;
        };
        // What we send must be a message we can parse ourselves.
        if let Ok((again, seq)) = auth::resend_with(&invite, "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK2", (name, &value)) {
            assert_eq!(again.cseq().map(|c| c.seq).ok(), Some(seq));
        }
    }
});
