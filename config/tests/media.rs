//! `[media]` and `[[prompt]]`: the tone profile, prompts decoded at load (µ-law and A-law
//! converted to linear once), and every unplayable file reported with its line and key.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::TempDir;

use voxgate_config::{ConfigErrorKind, load_file};
use voxgate_media::play::Country;

const BASE: &str = r#"[node]
name = "n1"
region = "r1"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999

[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
"#;

/// A WAV file: 8 kHz mono, `format` 1 (PCM16), 6 (A-law) or 7 (µ-law).
fn wav(format: u16, bits: u16, data: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&format.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&(8000 * u32::from(bits / 8)).to_le_bytes());
    w.extend_from_slice(&(bits / 8).to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(data);
    w
}

#[test]
fn prompts_are_decoded_once_at_load_and_found_by_name() {
    let dir = TempDir::new();
    dir.write("welcome.wav", &wav(1, 16, &[1, 0, 0xff, 0xff]));
    dir.write("moh/queue-music.wav", &wav(7, 8, &[0x80, 0xff]));
    dir.write("moh/hold.WAV", &wav(6, 8, &[0xd5]));
    dir.write("moh/readme.txt", b"not a prompt");
    let path = dir.write(
        "voxgate.toml",
        format!(
            "{BASE}\n[media]\ntone_profile = \"de\"\nprompts_dir = \"moh\"\n\n\
             [[prompt]]\nname = \"welcome\"\nfile = \"welcome.wav\"\n"
        )
        .as_bytes(),
    );
    let config = load_file(&path).unwrap();
    assert_eq!(config.media.tone_profile, Country::De);
    let names: Vec<&str> = config
        .media
        .prompts
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["welcome", "hold", "queue-music"]);
    assert_eq!(config.prompt("welcome").unwrap().samples(), [1, -1]);
    // µ-law 0x80 is +32124 and 0xff is 0 (G.711 Table 2); A-law 0xd5 is +8.
    assert_eq!(config.prompt("queue-music").unwrap().samples(), [32124, 0]);
    assert_eq!(config.prompt("hold").unwrap().samples(), [8]);
    assert!(config.prompt("readme").is_none());
}

#[test]
fn no_media_section_means_us_tones_and_no_prompts() {
    let dir = TempDir::new();
    let path = dir.write("voxgate.toml", BASE.as_bytes());
    let config = load_file(&path).unwrap();
    assert_eq!(config.media.tone_profile, Country::Us);
    assert!(config.media.prompts.is_empty());
}

#[test]
fn unplayable_prompts_are_named_with_file_line_and_key() {
    let dir = TempDir::new();
    dir.write("stereo.wav", &{
        let mut w = wav(1, 16, &[0; 8]);
        w[22] = 2; // two channels
        w
    });
    dir.write("text.wav", b"hello");
    let path = dir.write(
        "voxgate.toml",
        format!(
            "{BASE}\n[media]\ntone_profile = \"xx\"\nprompts_dir = \"nowhere\"\n\n\
             [[prompt]]\nname = \"a\"\nfile = \"stereo.wav\"\n\n\
             [[prompt]]\nname = \"b\"\nfile = \"text.wav\"\n\n\
             [[prompt]]\nname = \"a\"\nfile = \"missing.wav\"\n"
        )
        .as_bytes(),
    );
    let errors = load_file(&path).unwrap_err();
    let text = errors.to_string();
    let file = path.display().to_string();
    for (line, key) in [
        (16, "media.tone_profile"),
        (17, "media.prompts_dir"),
        (21, "prompt[0].file"),
        (25, "prompt[1].file"),
        (28, "prompt[2].name"),
        (29, "prompt[2].file"),
    ] {
        let at = format!("{file}:{line}:");
        assert!(
            text.lines().any(|l| l.starts_with(&at) && l.contains(key)),
            "{at} {key} in\n{text}"
        );
    }
    assert!(text.contains("\"us\""), "{text}");
    assert!(text.contains("8 kHz mono"), "{text}");
    assert!(errors.0.iter().any(|e| matches!(
        &e.kind,
        ConfigErrorKind::BadPrompt {
            error: voxgate_media::MediaError::WavChannels { channels: 2 },
            ..
        }
    )));
    assert!(
        errors
            .0
            .iter()
            .any(|e| matches!(e.kind, ConfigErrorKind::NoPromptsDir { .. }))
    );
}

#[test]
fn recordings_go_to_an_existing_writable_folder_or_the_load_fails() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.0.join("rec")).unwrap();
    let path = dir.write(
        "voxgate.toml",
        format!("{BASE}\n[media]\nrecordings_dir = \"rec\"\n").as_bytes(),
    );
    let config = load_file(&path).unwrap();
    let rec = config.media.recordings_dir.clone().unwrap();
    assert!(rec.is_absolute(), "{}", rec.display());
    assert_eq!(rec, std::path::absolute(dir.0.join("rec")).unwrap());
    // The probe is gone: the folder holds nothing voxgate did not record.
    assert_eq!(std::fs::read_dir(&rec).unwrap().count(), 0);
    // Off unless configured.
    let path = dir.write("plain.toml", BASE.as_bytes());
    assert_eq!(load_file(&path).unwrap().media.recordings_dir, None);

    // Missing, a file, empty: each named with its line and key.
    dir.write("a-file", b"x");
    for (value, reason) in [
        ("nowhere", Some(std::io::ErrorKind::NotFound)),
        ("a-file", Some(std::io::ErrorKind::NotADirectory)),
        ("", None),
    ] {
        let path = dir.write(
            "bad.toml",
            format!("{BASE}\n[media]\nrecordings_dir = \"{value}\"\n").as_bytes(),
        );
        let errors = load_file(&path).unwrap_err();
        let text = errors.to_string();
        let at = format!("{}:16:", path.display());
        assert!(
            text.lines()
                .any(|l| l.starts_with(&at) && l.contains("media.recordings_dir")),
            "{at} in\n{text}"
        );
        assert!(
            text.contains("an existing folder voxgate may write to"),
            "{text}"
        );
        if let Some(reason) = reason {
            assert!(errors.0.iter().any(|e| matches!(
                &e.kind,
                ConfigErrorKind::RecordingsDir { reason: r, .. } if *r == reason
            )));
        }
    }

    // A folder voxgate may not write to (root writes anyway: then only the above count).
    use std::os::unix::fs::PermissionsExt;
    let ro = dir.0.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let root = std::fs::write(ro.join("probe"), b"").is_ok();
    let path = dir.write(
        "ro.toml",
        format!("{BASE}\n[media]\nrecordings_dir = \"ro\"\n").as_bytes(),
    );
    let result = load_file(&path);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    if !root {
        let errors = result.unwrap_err();
        assert!(errors.0.iter().any(|e| matches!(
            &e.kind,
            ConfigErrorKind::RecordingsDir {
                reason: std::io::ErrorKind::PermissionDenied,
                ..
            }
        )));
    }
}
