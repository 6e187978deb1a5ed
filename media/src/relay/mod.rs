//! The RTP/RTCP relay on tokio: a [`MediaEngine`] per node, a [`MediaSession`] per call.
//!
//! Each media line of a session runs as one task that owns the line's four
//! sockets (RTP and RTCP of both legs) and its [`LineRelay`](crate::latch::LineRelay)
//! state. The task waits for any socket to become readable, drains it with
//! `try_recv_from` into a reused buffer, asks the sans-IO core where the
//! packet goes and sends it with `try_send_to` (a full send buffer drops the
//! packet and counts it — nothing awaits per packet). Counters are published
//! to atomics once per batch of packets, not per packet.
//!
//! The session talks to its tasks through a `watch` channel (targets, hold);
//! dropping or closing the session ends the tasks, which close the sockets and
//! return the ports to their pools.

mod stats;
mod task;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::MediaError;
use crate::anchor::{LocalMedia, RemoteMedia};
use crate::latch::Side;
use crate::ports::PortPool;
use crate::sdp::MAX_MEDIA;

pub use stats::{LegStats, RegionStats, SessionStats};
use stats::{RegionCounters, SessionShared};

/// Tuning of the relay. (The inactivity timer needs no tick: `inactive()`
/// sleeps until the last activity plus the timeout and checks again.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Most packets handled per socket wake-up before the task looks at the
    /// other sockets (fairness between the two directions).
    pub max_batch: usize,
    /// Send and receive buffer asked for per socket.
    pub socket_buffer: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 64,
            socket_buffer: crate::ports::SOCKET_BUFFER,
        }
    }
}

struct Region {
    name: String,
    pool: Arc<PortPool>,
    counters: Arc<RegionCounters>,
}

/// The node's media plane: one port pool per region.
pub struct MediaEngine {
    regions: Vec<Region>,
    options: EngineOptions,
    /// Where line tasks run; the caller's runtime when `None`.
    runtime: Option<tokio::runtime::Handle>,
}

impl MediaEngine {
    /// An engine for `(name, address, port_min, port_max)` regions (the first
    /// address of each configured region).
    pub fn new(regions: &[(String, IpAddr, u16, u16)], options: EngineOptions) -> MediaEngine {
        let regions = regions
            .iter()
            .map(|(name, addr, min, max)| Region {
                name: name.clone(),
                pool: Arc::new(
                    PortPool::new(*addr, *min, *max).with_socket_buffer(options.socket_buffer),
                ),
                counters: Arc::default(),
            })
            .collect();
        MediaEngine {
            regions,
            options,
            runtime: None,
        }
    }

    /// Runs the relay's tasks (and registers its sockets) on `runtime`, so
    /// that media can have threads of its own, apart from signalling.
    pub fn on_runtime(mut self, runtime: tokio::runtime::Handle) -> MediaEngine {
        self.runtime = Some(runtime);
        self
    }

    /// A relay between two legs for `lines` media lines; leg A's sockets come
    /// from `region_a`, leg B's from `region_b`. Spawns one task per line on
    /// the engine's runtime (see `on_runtime`), else the current one. Ports go back to the pools when the session
    /// is dropped or closed.
    pub fn open(
        &self,
        region_a: &str,
        region_b: &str,
        lines: usize,
    ) -> Result<MediaSession, MediaError> {
        if lines > MAX_MEDIA {
            return Err(MediaError::TooManyLines {
                lines,
                limit: MAX_MEDIA,
            });
        }
        let runtime = match &self.runtime {
            Some(handle) => handle.clone(),
            None => tokio::runtime::Handle::try_current().map_err(|_| MediaError::NoRuntime)?,
        };
        // Sockets register with the reactor of the runtime entered here.
        let _entered = runtime.enter();
        let regions = [self.region(region_a)?, self.region(region_b)?];

        let mut pairs = Vec::with_capacity(lines);
        for _ in 0..lines {
            pairs.push([regions[0].pool.allocate()?, regions[1].pool.allocate()?]);
        }
        let local = [0, 1].map(|s| {
            pairs
                .iter()
                .map(|p| LocalMedia {
                    addr: p[s].addr(),
                    rtp_port: p[s].rtp_port(),
                    rtcp_port: p[s].rtcp_port(),
                })
                .collect::<Vec<_>>()
        });

        let shared = Arc::new(SessionShared::new(Instant::now(), lines));
        let (control, _) = watch::channel(Control::new(lines));
        let region_counters = regions.map(|r| Arc::clone(&r.counters));
        let mut tasks = Vec::with_capacity(lines);
        for (line, pair) in pairs.into_iter().enumerate() {
            tasks.push(task::LineTask::new(
                line,
                pair,
                Arc::clone(&shared),
                control.subscribe(),
                region_counters.clone(),
                self.options.max_batch,
            )?);
        }
        // Spawned only once every socket is registered, so a failure leaks no task.
        for t in tasks {
            runtime.spawn(t.run());
        }
        Ok(MediaSession {
            local,
            shared,
            control,
        })
    }

    /// Per region: ports in use and packets relayed (cheap: a few atomic loads).
    pub fn region_stats(&self) -> Vec<(String, RegionStats)> {
        self.regions
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    RegionStats {
                        ports_in_use: r.pool.in_use(),
                        capacity: r.pool.capacity(),
                        packets_relayed: r.counters.rtp.load(Ordering::Relaxed),
                        rtcp_relayed: r.counters.rtcp.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// The port pool of region `name`.
    pub fn pool(&self, name: &str) -> Option<&Arc<PortPool>> {
        self.regions
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.pool)
    }

    fn region(&self, name: &str) -> Result<&Region, MediaError> {
        self.regions
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| MediaError::UnknownRegion {
                region: name.to_owned(),
            })
    }
}

/// What the session tells its line tasks.
#[derive(Clone, Debug)]
struct Control {
    /// Per side, per line: the peer's signalled targets.
    remote: [Vec<Option<RemoteMedia>>; 2],
    /// Per side: on hold.
    held: [bool; 2],
}

impl Control {
    fn new(lines: usize) -> Control {
        Control {
            remote: [vec![None; lines], vec![None; lines]],
            held: [false; 2],
        }
    }
}

/// A call's media relay between leg A and leg B.
pub struct MediaSession {
    local: [Vec<LocalMedia>; 2],
    shared: Arc<SessionShared>,
    control: watch::Sender<Control>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("a", &self.local[0])
            .field("b", &self.local[1])
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let regions: Vec<_> = self.regions.iter().map(|r| (&r.name, &r.pool)).collect();
        f.debug_struct("MediaEngine")
            .field("regions", &regions)
            .field("options", &self.options)
            .field("own_runtime", &self.runtime.is_some())
            .finish()
    }
}

impl MediaSession {
    /// What to put in SDP sent to `side`'s peer, per media line.
    pub fn local(&self, side: Side) -> Vec<LocalMedia> {
        self.local[side.index()].clone()
    }

    /// The number of media lines.
    pub fn lines(&self) -> usize {
        self.local[0].len()
    }

    /// Sets the targets `side`'s peer signalled, per media line (lines past
    /// `remote` get none). Latching: once a packet arrives from the peer on
    /// `side`'s socket, its source replaces the target; a later SDP with a new
    /// address resets latching for that line.
    pub fn set_remote(&self, side: Side, remote: &[RemoteMedia]) {
        self.control.send_modify(|c| {
            for (i, slot) in c.remote[side.index()].iter_mut().enumerate() {
                *slot = remote.get(i).copied();
            }
        });
    }

    /// Marks `side` as holding (or resuming). While either side holds, the
    /// inactivity timer is paused; a change restarts it.
    pub fn set_hold(&self, side: Side, held: bool) {
        let changed = self.control.send_if_modified(|c| {
            let changed = c.held[side.index()] != held;
            c.held[side.index()] = held;
            changed
        });
        if changed {
            self.shared.touch(Instant::now());
        }
    }

    /// Counters per side and line, and the last activity.
    pub fn stats(&self) -> SessionStats {
        self.shared.snapshot()
    }

    /// Resolves after `timeout` without RTP/RTCP from either side while nobody
    /// holds. Cancel-safe: all state lives in the session; calling it again
    /// (e.g. in a `tokio::select!` loop) continues from the last activity.
    pub async fn inactive(&self, timeout: Duration) {
        let mut control = self.control.subscribe();
        loop {
            let held = {
                let c = control.borrow_and_update();
                c.held[0] || c.held[1]
            };
            if held {
                // The sender lives in `self`, so `changed` cannot fail here.
                let _ = control.changed().await;
                continue;
            }
            let deadline = self.shared.last_activity() + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                _ = control.changed() => {}
            }
        }
    }

    /// Stops relaying and returns the ports (the line tasks end at once and
    /// close their sockets). Dropping the session does the same.
    pub fn close(self) {}
}

/// Last activity as milliseconds since the session opened.
fn millis_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

impl SessionShared {
    fn touch(&self, now: Instant) {
        self.last_activity_ms
            .fetch_max(millis_since(self.epoch, now), Ordering::Relaxed);
    }

    fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }
}
