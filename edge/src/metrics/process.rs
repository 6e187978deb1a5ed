//! The standard `process_*` metrics (CPU seconds, resident memory, open and
//! maximum file descriptors, start time), read from `/proc/self` when `/metrics`
//! is scraped: no dependency, nothing on the signalling path.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge};
use std::sync::Mutex;

/// The kernel's USER_HZ, the unit of `/proc/<pid>/stat` times: 100 on every
/// Linux architecture (a fixed ABI value, unlike the scheduler's HZ).
const USER_HZ: f64 = 100.0;

/// Reads `/proc/self` at each scrape.
pub(crate) struct ProcessCollector {
    cpu: Counter,
    /// The CPU seconds already counted.
    cpu_seen: Mutex<f64>,
    rss: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    pub(crate) fn new() -> prometheus::Result<ProcessCollector> {
        let cpu = Counter::new(
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
        )?;
        let rss = IntGauge::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )?;
        let open_fds = IntGauge::new("process_open_fds", "Open file descriptors.")?;
        let max_fds = IntGauge::new(
            "process_max_fds",
            "The limit of open file descriptors (RLIMIT_NOFILE).",
        )?;
        let start_time = Gauge::new(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
        )?;
        // Fixed for the process's life: read once (a restart shows as a jump).
        if let Some(t) = start_time_seconds() {
            start_time.set(t);
        }
        let descs = [
            cpu.desc(),
            rss.desc(),
            open_fds.desc(),
            max_fds.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(ProcessCollector {
            cpu,
            cpu_seen: Mutex::new(0.0),
            rss,
            open_fds,
            max_fds,
            start_time,
            descs,
        })
    }

    fn update(&self) {
        if let Some(total) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(cpu_seconds)
        {
            let mut seen = self
                .cpu_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if total > *seen {
                self.cpu.inc_by(total - *seen);
                *seen = total;
            }
        }
        if let Some(kb) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .as_deref()
            .and_then(|s| status_kb(s, "VmRSS:"))
        {
            self.rss.set(i64::try_from(kb * 1024).unwrap_or(i64::MAX));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // The directory handle itself is one of them.
            let n = dir.count().saturating_sub(1);
            self.open_fds.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(max) = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .as_deref()
            .and_then(max_open_files)
        {
            self.max_fds.set(i64::try_from(max).unwrap_or(i64::MAX));
        }
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.update();
        let mut out = self.cpu.collect();
        out.extend(self.rss.collect());
        out.extend(self.open_fds.collect());
        out.extend(self.max_fds.collect());
        out.extend(self.start_time.collect());
        out
    }
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds. The command name
/// (field 2) may hold spaces and parentheses: fields are counted after its
/// last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state is field 3, utime 14 and stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// When this process started, in seconds since the Unix epoch: its start in
/// clock ticks after boot (`/proc/self/stat` field 22) plus the boot time
/// (`btime` of `/proc/stat`), as Prometheus' own process collectors do.
fn start_time_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    Some(boot_time(&boot)? + start_ticks(&stat)? as f64 / USER_HZ)
}

/// Field 22 (starttime) of a `/proc/<pid>/stat` line, fields counted after the
/// command name's last `)`.
fn start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so starttime is the 20th from there.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// The `btime` line of `/proc/stat`: boot time in seconds since the epoch.
fn boot_time(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line["btime ".len()..].trim().parse().ok()
}

/// A `Key:   123 kB` line of `/proc/<pid>/status`.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/<pid>/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        let stat = "4242 (vox gate) (x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 1000 300";
        assert_eq!(cpu_seconds(stat), Some(3.25));
        assert_eq!(cpu_seconds("garbage"), None);
        assert_eq!(start_ticks(stat), Some(100));
        assert_eq!(start_ticks("garbage"), None);
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1.7e9)
        );
        let status = "Name:\tvoxgate\nVmRSS:\t   20480 kB\nThreads:\t9\n";
        assert_eq!(status_kb(status, "VmRSS:"), Some(20480));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let c = ProcessCollector::new().unwrap();
        let _file = std::fs::File::open("/proc/self/stat").unwrap();
        let families = c.collect();
        let value = |name: &str| {
            let f = families.iter().find(|f| f.name() == name).unwrap();
            let m = &f.get_metric()[0];
            m.get_gauge().get_value() + m.get_counter().get_value()
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_open_fds") >= 1.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
        // This test process started a moment ago (a minute's leeway for a loaded machine).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 600.0,
            "{started} vs {now}"
        );
    }
}
