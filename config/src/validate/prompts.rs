//! `[media]` and `[[prompt]]`: the tone profile, every prompt read and
//! decoded now, so that a missing or unplayable file fails the load (and
//! `check-config`) with its line, not the first call that plays it, and the
//! recordings folder tried for writing likewise.

use std::ops::Range;
use std::path::{Path, PathBuf};

use voxgate_media::play::{Country, PromptStore};

use super::Validator;
use crate::error::ConfigErrorKind;
use crate::model::{Media, NamedPrompt, is_valid_name};
use crate::raw::{List, RawMedia, RawPrompt, S};
use crate::schema;

impl Validator<'_> {
    pub(super) fn media(
        &mut self,
        raw: Option<&S<RawMedia>>,
        prompts: &Option<List<RawPrompt>>,
    ) -> Media {
        let raw = raw.map(|m| m.get_ref());
        let mut media = Media::default();
        if let Some(p) = raw.and_then(|m| m.tone_profile.as_ref()) {
            match Country::parse(p.get_ref()) {
                Ok(c) => media.tone_profile = c,
                Err(_) => self.bad_value(
                    p.span(),
                    "media.tone_profile",
                    schema::describe("media.tone_profile"),
                ),
            }
        }
        // One store: a file named twice is decoded once.
        let mut store = PromptStore::new();
        let mut names: Vec<(String, String, Range<usize>)> = Vec::new();
        for (i, raw) in prompts.iter().flat_map(|l| l.get_ref()).enumerate() {
            let key = |k: &str| format!("prompt[{i}].{k}");
            let span = raw.span();
            let raw = raw.get_ref();
            let name = self
                .require(&raw.name, &span, &key("name"))
                .and_then(|n| self.name(n, &key("name")).map(|v| (v, n.span())));
            let file = self
                .require(&raw.file, &span, &key("file"))
                .and_then(|f| self.file(f, &key("file")).map(|p| (p, f.span())));
            if let Some((name, span)) = &name {
                names.push((name.clone(), key("name"), span.clone()));
            }
            if let (Some((name, _)), Some((path, span))) = (name, file)
                && let Some(p) = self.decode(&mut store, path, span, &key("file"))
            {
                media.prompts.push(NamedPrompt { name, ..p });
            }
        }
        if let Some(dir) = raw.and_then(|m| m.prompts_dir.as_ref()) {
            for p in self.prompts_dir(&mut store, dir) {
                names.push((p.name.clone(), "media.prompts_dir".to_owned(), dir.span()));
                media.prompts.push(p);
            }
        }
        self.unique(&names, "a prompt name no other prompt uses");
        if let Some(dir) = raw.and_then(|m| m.recordings_dir.as_ref()) {
            media.recordings_dir = self.recordings_dir(dir);
        }
        media
    }

    /// `recordings_dir`: an existing folder that a file can be created in
    /// (tried now, so that an unwritable folder fails the load, not the
    /// first recording), resolved to an absolute path.
    fn recordings_dir(&mut self, dir: &S<String>) -> Option<PathBuf> {
        let key = "media.recordings_dir";
        if dir.get_ref().is_empty() {
            self.bad_value(dir.span(), key, schema::RECORDINGS_DIR);
            return None;
        }
        let joined = self.base_dir.join(dir.get_ref());
        let path = std::path::absolute(&joined).unwrap_or(joined);
        match writable_folder(&path) {
            Ok(()) => Some(path),
            Err(reason) => {
                self.push(
                    dir.span(),
                    key,
                    ConfigErrorKind::RecordingsDir { path, reason },
                );
                None
            }
        }
    }

    /// Reads and decodes one prompt file; an unplayable one is reported at `span`.
    fn decode(
        &mut self,
        store: &mut PromptStore,
        path: PathBuf,
        span: Range<usize>,
        key: &str,
    ) -> Option<NamedPrompt> {
        match store.load(&path) {
            Ok(prompt) => Some(NamedPrompt {
                name: String::new(),
                file: path,
                prompt,
            }),
            Err(error) => {
                self.push(span, key, ConfigErrorKind::BadPrompt { path, error });
                None
            }
        }
    }

    /// Every `*.wav` of the folder, in name order, named by its file stem.
    fn prompts_dir(&mut self, store: &mut PromptStore, dir: &S<String>) -> Vec<NamedPrompt> {
        let key = "media.prompts_dir";
        if dir.get_ref().is_empty() {
            self.bad_value(dir.span(), key, schema::PROMPTS_DIR);
            return Vec::new();
        }
        let joined = self.base_dir.join(dir.get_ref());
        let path = std::path::absolute(&joined).unwrap_or(joined);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) => {
                let kind = ConfigErrorKind::NoPromptsDir {
                    path,
                    reason: e.kind(),
                };
                self.push(dir.span(), key, kind);
                return Vec::new();
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| is_wav(p) && p.is_file())
            .collect();
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for file in files {
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            if !is_valid_name(&name) {
                self.bad_value(
                    dir.span(),
                    key,
                    format!(
                        "a folder whose .wav files are named {} (\"{}\" is not)",
                        schema::NAME,
                        file.display()
                    ),
                );
                continue;
            }
            if let Some(p) = self.decode(store, file, dir.span(), key) {
                out.push(NamedPrompt { name, ..p });
            }
        }
        out
    }
}

/// Whether `path` is a folder a file can be created in: a probe file is
/// created and removed (permission bits alone do not tell: ACLs, read-only
/// mounts, root).
fn writable_folder(path: &Path) -> Result<(), std::io::ErrorKind> {
    let meta = std::fs::metadata(path).map_err(|e| e.kind())?;
    if !meta.is_dir() {
        return Err(std::io::ErrorKind::NotADirectory);
    }
    // A name of its own per load: loads may run at once (a reload and a
    // check-config), and a probe a crash left behind must not fail the next.
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut last = std::io::ErrorKind::AlreadyExists;
    for _ in 0..4 {
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let probe = path.join(format!(".voxgate-probe-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e.kind(),
            Err(e) => return Err(e.kind()),
        }
    }
    Err(last)
}

fn is_wav(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
}
