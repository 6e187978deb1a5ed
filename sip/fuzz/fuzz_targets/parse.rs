//! Parses arbitrary bytes; on success exercises validate, every accessor and
//! response_to. Every input also goes through `Salvage` (the tolerant reading
//! that answers what parse or validate refused): what it answers must parse,
//! and a request that parses and validates must be salvageable. Any panic is
//! a bug: the parser faces the network. `sip/tests/message_salvage.rs` runs
//! the same properties over seeded mutations of the torture corpus.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voxgate_sip::message::{
    HeaderName, Limits, Message, Method, ParseError, Salvage, ack_for_non_2xx, cancel_for,
    response_to,
};

fuzz_target!(|data: &[u8]| {
    let parsed = Message::parse(Bytes::copy_from_slice(data), &Limits::default());
    let salvaged = Salvage::read(data);
    if let Some(s) = &salvaged {
        let _ = s.method();
        let wire = s
            .response(400, "Bad Request", Some("fz1"), "192.0.2.99:5071".parse().ok())
            .build();
        match Message::parse(wire, &Limits::default()) {
            Ok(r) => assert_eq!(r.status(), Some(400)),
            // Echoing hundreds of Via lines may exceed our own limits.
            Err(ParseError::TooLarge { .. } | ParseError::TooManyHeaders { .. }) => {}
            Err(e) => panic!("a salvaged answer does not parse: {e}"),
        }
    }
    let msg = match parsed {
        Ok(msg) => msg,
        Err(e) => {
            let _ = (e.status_code(), e.reason_phrase());
            return;
        }
    };
    if msg.validate().is_ok() && msg.is_request() && msg.method() != Some(&Method::Ack) {
        assert!(salvaged.is_some(), "a valid request is not salvageable");
    }
    let _ = msg.validate();
    let _ = (msg.raw(), msg.start_line(), msg.is_request(), msg.method());
    let _ = (msg.request_uri(), msg.status(), msg.reason(), msg.body());
    for h in msg.headers() {
        let _ = msg.header_by_name(h.name);
        let _ = (h.value, h.value_bytes);
    }
    for &name in HeaderName::ALL {
        let _ = msg.header(name);
        let _ = msg.header_bytes(name);
        let _ = msg.header_lines(name).count();
        let _ = msg.header_lines_bytes(name).count();
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
        let _ = (na.display_bytes(), na.display_lossy());
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
