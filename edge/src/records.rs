//! The CDR file: one JSON line per call attempt, appended by one writer task
//! so call tasks never touch the file.
//!
//! Calls hand their lines to a bounded queue and never wait: when the queue
//! is full (a disk far slower than the call rate) the line is dropped,
//! counted (`voxgate_cdr_records_total{result="dropped"}`) and logged, never
//! lost in silence. The file is reopened on [`CdrSink::reopen`] (SIGHUP or
//! reload) so that logrotate can move it away.

use crate::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// Lines waiting to be written; beyond it records are dropped (counted and
/// logged) rather than slowing calls down.
const QUEUE: usize = 4096;

/// What the writer is told.
#[derive(Debug)]
enum Work {
    /// A record (without its newline).
    Line(String),
    /// Close the file and open `path` again (it was rotated away).
    Reopen,
    /// Answer once everything queued before is written.
    Sync(oneshot::Sender<()>),
}

/// Where calls send their records.
#[derive(Clone)]
pub struct CdrSink {
    tx: mpsc::Sender<Work>,
    metrics: Metrics,
    /// Drops since the writer last reported them.
    unreported: Arc<AtomicU64>,
}

impl std::fmt::Debug for CdrSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrSink").finish_non_exhaustive()
    }
}

impl CdrSink {
    /// Opens `path` for appending and starts the writer.
    pub async fn start(path: &Path, metrics: Metrics) -> std::io::Result<CdrSink> {
        CdrSink::with_queue(path, metrics, QUEUE).await
    }

    async fn with_queue(path: &Path, metrics: Metrics, queue: usize) -> std::io::Result<CdrSink> {
        let file = open(path).await?;
        let (tx, rx) = mpsc::channel(queue);
        let unreported = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            path: path.to_path_buf(),
            file: Some(file),
            metrics: metrics.clone(),
            unreported: unreported.clone(),
        };
        tokio::spawn(writer.run(rx));
        Ok(CdrSink {
            tx,
            metrics,
            unreported,
        })
    }

    /// Queues a record without waiting. A full queue drops it: counted, and
    /// logged once per burst (the writer logs the burst's count when it
    /// catches up).
    pub fn submit(&self, line: String) {
        match self.tx.try_send(Work::Line(line)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.cdr_records("dropped", 1);
                if self.unreported.fetch_add(1, Ordering::Relaxed) == 0 {
                    warn!(
                        "CDR queue full: records are being dropped (the disk is slower than the calls)"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.metrics.cdr_records("dropped", 1);
                warn!("CDR writer gone: record dropped");
            }
        }
    }

    /// Has the writer reopen its file (after logrotate moved it).
    pub async fn reopen(&self) {
        let _ = self.tx.send(Work::Reopen).await;
    }

    /// Waits until every record queued before is written (tests, shutdown).
    pub async fn sync(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Work::Sync(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn open(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

struct Writer {
    path: PathBuf,
    /// `None` after a reopen failed; retried with the next batch.
    file: Option<tokio::fs::File>,
    metrics: Metrics,
    unreported: Arc<AtomicU64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Work>) {
        let mut batch = String::new();
        while let Some(first) = rx.recv().await {
            let mut lines = 0;
            let mut next = Some(first);
            // Write whatever else is queued in the same go; a reopen or a
            // sync ends the batch so that it applies in order.
            while let Some(work) = next.take() {
                match work {
                    Work::Line(line) => {
                        batch.push_str(&line);
                        batch.push('\n');
                        lines += 1;
                        next = rx.try_recv().ok();
                    }
                    Work::Reopen => {
                        self.write(&mut batch, lines).await;
                        lines = 0;
                        self.reopen().await;
                    }
                    Work::Sync(done) => {
                        self.write(&mut batch, lines).await;
                        lines = 0;
                        let _ = done.send(());
                    }
                }
            }
            self.write(&mut batch, lines).await;
            let dropped = self.unreported.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                warn!(
                    dropped,
                    path = %self.path.display(),
                    "CDR queue was full: records dropped"
                );
            }
        }
    }

    async fn reopen(&mut self) {
        if let Some(mut f) = self.file.take() {
            let _ = f.flush().await;
        }
        match open(&self.path).await {
            Ok(f) => {
                info!(path = %self.path.display(), "CDR file reopened");
                self.file = Some(f);
            }
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "CDR file could not be reopened")
            }
        }
    }

    /// Writes the batch of `lines` records; on failure the file is opened
    /// again and the batch tried once more before it counts as failed.
    async fn write(&mut self, batch: &mut String, lines: u64) {
        if lines == 0 {
            return;
        }
        for attempt in 0..2 {
            if self.file.is_none() || attempt > 0 {
                self.reopen().await;
            }
            let Some(file) = self.file.as_mut() else {
                continue;
            };
            match file.write_all(batch.as_bytes()).await {
                Ok(()) => {
                    if let Err(e) = file.flush().await {
                        warn!(path = %self.path.display(), error = %e, "CDR flush failed");
                    }
                    self.metrics.cdr_records("written", lines);
                    batch.clear();
                    return;
                }
                Err(e) => {
                    warn!(path = %self.path.display(), error = %e, lines, "CDR write failed");
                }
            }
        }
        self.metrics.cdr_records("failed", lines);
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("voxgate-cdr-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn writes_lines_and_reopens_after_rotation() {
        let dir = temp("rotate");
        let path = dir.join("cdr.jsonl");
        let metrics = Metrics::new("t").unwrap();
        let sink = CdrSink::start(&path, metrics.clone()).await.unwrap();
        sink.submit("{\"n\":1}".into());
        sink.sync().await;
        // logrotate renames the file, then signals.
        let rotated = dir.join("cdr.jsonl.1");
        std::fs::rename(&path, &rotated).unwrap();
        sink.submit("{\"n\":2}".into());
        sink.reopen().await;
        sink.submit("{\"n\":3}".into());
        sink.sync().await;
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":3}\n");
        assert_eq!(metrics.cdr_records_value("written"), 3);
        assert_eq!(metrics.cdr_records_value("dropped"), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_never_blocks() {
        let dir = temp("full");
        let path = dir.join("cdr.jsonl");
        let metrics = Metrics::new("t").unwrap();
        let sink = CdrSink::with_queue(&path, metrics.clone(), 4)
            .await
            .unwrap();
        // The writer cannot run before this task yields (current-thread
        // runtime): the fifth and sixth find the queue full.
        for n in 0..6 {
            sink.submit(format!("{{\"n\":{n}}}"));
        }
        assert_eq!(metrics.cdr_records_value("dropped"), 2);
        sink.sync().await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(metrics.cdr_records_value("written"), 4);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
