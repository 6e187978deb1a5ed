//! Parses arbitrary bytes; on success exercises validate, every accessor and
//! response_to. Any panic is a bug: the parser faces the network.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voxgate_sip::message::{HeaderName, Limits, Message, ack_for_non_2xx, cancel_for, response_to};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data), &Limits::default()) else {
        return;
    };
    let _ = msg.validate();
    let _ = (msg.raw(), msg.start_line(), msg.is_request(), msg.method());
    let _ = (msg.request_uri(), msg.status(), msg.reason(), msg.body());
    for h in msg.headers() {
        let _ = msg.header_by_name(h.name);
    }
    for &name in HeaderName::ALL {
        let _ = msg.header(name);
        let _ = msg.header_lines(name).count();
        let _ = msg.header_values(name).count();
    }
    let _ = msg.header_count();
    if let Ok(via) = msg.top_via() {
        let _ = (
            via.branch(),
            via.received(),
            via.rport(),
            via.is_rfc3261_branch(),
        );
        let _ = via.params.iter().count();
    }
    let _ = msg.vias().count();
    for na in [msg.from_header(), msg.to_header()].into_iter().flatten() {
        let _ = (na.tag(), na.params.iter().count(), na.params.get("x"));
    }
    let _ = (msg.call_id(), msg.cseq(), msg.max_forwards());
    let _ = msg.contacts().count();
    let _ = msg.routes().count();
    let _ = msg.record_routes().count();
    let _ = (
        msg.content_length(),
        msg.content_type(),
        msg.session_expires(),
    );
    let _ = (
        msg.require().count(),
        msg.proxy_require().count(),
        msg.supported().count(),
    );
    let source = "192.0.2.99:5071".parse().ok();
    let built = response_to(&msg, 200, "OK", Some("fz1"), source).build();
    // What we build from what we accepted must parse again.
    if msg.validate().is_ok() {
        assert!(Message::parse(built, &Limits::default()).is_ok());
        if msg.is_request() {
            let _ = ack_for_non_2xx(&msg, &msg);
            let _ = cancel_for(&msg);
        }
    }
});
