//! Unprotects (and protects) arbitrary bytes as SRTP and SRTCP with fixed contexts of every
//! suite, and parses them as an `a=crypto` value. Any panic is a bug: both
//! face the network. When a value parses, printing it and parsing again
//! must give the same attribute.
#![no_main]

use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use voxgate_media::srtp::{CryptoAttribute, CryptoSuite, MAX_OVERHEAD, MasterKey, SrtpContext};

fn fixed_key(suite: CryptoSuite) -> MasterKey {
    let material = [0x5a; 30];
    MasterKey::from_bytes(suite, &material[..16 + suite.salt_len()]).unwrap()
}

/// A receiving context per suite, kept across inputs so that replay
/// windows and rollover counters hold state the fuzzer can steer.
static CONTEXTS: LazyLock<Mutex<Vec<SrtpContext>>> = LazyLock::new(|| {
    Mutex::new(
        CryptoSuite::ALL
            .iter()
            .map(|&suite| {
                let key = fixed_key(suite);
                SrtpContext::new(&key, None)
            })
            .collect(),
    )
});

fuzz_target!(|data: &[u8]| {
    let mut contexts = CONTEXTS.lock().unwrap();
    for ctx in contexts.iter_mut() {
        let mut buf = data.to_vec();
        let len = buf.len();
        if let Ok(n) = ctx.unprotect_rtp(&mut buf, len) {
            assert!(n <= len);
        }
        let mut buf = data.to_vec();
        if let Ok(n) = ctx.unprotect_rtcp(&mut buf, len) {
            assert!(n <= len);
        }
        // A length past the buffer is refused, not a panic.
        assert!(ctx.unprotect_rtp(&mut buf, len + 1).is_err());
        // Protecting what a plain RTP leg sent never panics, and what it
        // protects unprotects (fresh contexts: both start at ROC 0).
        let key = fixed_key(ctx.suite());
        let mut tx = SrtpContext::new(&key, None);
        let mut buf = data.to_vec();
        buf.resize(len + MAX_OVERHEAD, 0);
        if let Ok(n) = tx.protect_rtp(&mut buf, len) {
            let mut rx = SrtpContext::new(&key, None);
            assert_eq!(rx.unprotect_rtp(&mut buf, n), Ok(len));
            assert_eq!(&buf[..len], data);
        }
        let mut buf = data.to_vec();
        buf.resize(len + MAX_OVERHEAD, 0);
        if let Ok(n) = tx.protect_rtcp(&mut buf, len) {
            let mut rx = SrtpContext::new(&key, None);
            assert_eq!(rx.unprotect_rtcp(&mut buf, n), Ok(len));
            assert_eq!(&buf[..len], data);
        }
    }

    if let Ok(value) = std::str::from_utf8(data) {
        if let Ok(attr) = CryptoAttribute::parse(value) {
            let printed = attr.to_sdp_value();
            let again = CryptoAttribute::parse(&printed).expect("printed a=crypto parses");
            assert_eq!(again, attr, "parse(print(x)) == x");
        }
    }
});
