//! Drives the conference mixer with arbitrary operations and packets (see
//! `mixer_ops.rs` for the script and the properties). Any panic is a bug:
//! the mixer takes payloads, sequence numbers and timestamps from the network.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod mixer_ops;

fuzz_target!(|data: &[u8]| mixer_ops::run(data));
