//! What the config tests share: a scratch directory and a minimal valid configuration.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
#[allow(dead_code)] // not every test file writes files
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Unique per process, per call and per start time (a directory an
    /// earlier run left behind under a recycled pid is not reused).
    #[allow(dead_code)]
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "voxgate-config-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `contents` to `rel` under the directory (folders made as needed).
    #[allow(dead_code)] // not every test file writes files
    pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A valid configuration of 13 lines; tests replace parts of it or append at line 14.
#[allow(dead_code)] // not every test file starts from it
pub const MINIMAL: &str = r#"[node]
name = "n1"
region = "r1"

[[listener]]
transport = "udp"
address = "127.0.0.1:5060"

[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999
"#;
