//! Parses arbitrary bytes as a WAV prompt (and as a stereo recording read
//! back): never panics, and what it returns lies inside the input and holds
//! whole samples. Prompt files come from operators, recordings from a crash:
//! neither is trusted. The same properties run on seeded inputs in
//! `play::wav`'s tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxgate_media::play::Prompt;
use voxgate_media::play::wav::{parse, parse_channels};

fuzz_target!(|data: &[u8]| {
    for max in [1, 2] {
        if let Ok(w) = parse_channels(data, max) {
            let start = w.data.as_ptr() as usize - data.as_ptr() as usize;
            assert!(start + w.data.len() <= data.len());
            assert!(w.channels >= 1 && w.channels <= max);
            assert_eq!(w.samples() * w.block_align(), w.data.len());
        }
    }
    if let Ok(w) = parse(data) {
        // Decoding what parsed gives one sample per sample.
        let p = Prompt::from_wav(data).expect("parsed, so it decodes");
        assert_eq!(p.samples().len(), w.samples());
    }
});
