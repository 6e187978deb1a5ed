//! Loads arbitrary text as a configuration (every section, flows and their minijinja
//! templates included): it may be refused with errors, never panic. Each error must
//! render, and a configuration that loads must load again from the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match voxgate_config::load_str(text, "fuzz.toml") {
        Ok(_) => assert!(voxgate_config::load_str(text, "fuzz.toml").is_ok()),
        Err(errors) => {
            for e in errors.iter() {
                assert!(!e.to_string().is_empty());
            }
        }
    }
});
