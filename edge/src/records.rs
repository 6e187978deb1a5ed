//! The CDR file: one JSON line per call, appended by one writer task so
//! call tasks never touch the file.

use std::path::Path;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tracing::warn;

/// Lines waiting to be written; beyond it records are dropped (and logged)
/// rather than slowing calls down.
const QUEUE: usize = 4096;

/// Opens `path` for appending and starts the writer.
pub async fn start(path: &Path) -> std::io::Result<mpsc::Sender<String>> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    let shown = path.display().to_string();
    tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            // Write whatever else is queued in the same go.
            while let Ok(more) = rx.try_recv() {
                line.push_str(&more);
                line.push('\n');
            }
            if let Err(e) = file.write_all(line.as_bytes()).await {
                warn!(path = %shown, error = %e, "CDR write failed");
                continue;
            }
            if let Err(e) = file.flush().await {
                warn!(path = %shown, error = %e, "CDR flush failed");
            }
        }
    });
    Ok(tx)
}
