//! The RTP/RTCP relay on tokio: a [`MediaEngine`] per node, a [`MediaSession`]
//! per conversation, an endpoint per leg.
//!
//! A session's one task owns every endpoint's sockets (RTP and RTCP per media
//! line) and the sans-IO [`SessionRelay`](crate::latch::SessionRelay) state.
//! It waits for any socket to become readable (taking them in turn, so a
//! flooded socket starves no other), drains it with `try_recv_from` into a
//! reused buffer, asks the core where the packet goes and sends it with
//! `try_send_to` from the bridged endpoint's socket (a full send buffer drops
//! the packet and counts it — nothing awaits per packet). Counters are
//! published to atomics once per batch of packets, not per packet.
//!
//! The session talks to its task over a channel (sockets move in with
//! `add_endpoint`, then targets, bridges, removals, and the endpoints' own
//! media commands: format, play, stop, digits, recordings); ports are bound at once in
//! `add_endpoint`, so the caller can write its SDP. Dropping the session
//! ends the task, which closes every socket and returns the ports.
//!
//! The task is also the engine's clock: it sleeps until the core's
//! `poll_timeout` (or a packet or command), then runs `handle_timeout`,
//! sends what `poll_transmit` generated (from the endpoint's own socket,
//! `try_send_to`, as relayed packets go) and hands `poll_event`'s events to
//! the conversation over the channel [`MediaSession::take_events`] gives
//! (bounded as [`events`] says).

pub mod events;
mod recording;
mod stats;
mod task;

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::sync::mpsc;

use crate::MediaError;
use crate::anchor::{LocalMedia, RemoteMedia};
use crate::endpoint::EndpointOp;
use crate::latch::{EndpointId, Membership};
use crate::ports::PortPool;
use crate::sdp::MAX_MEDIA;
use crate::srtp::SdesKeys;

use events::MediaEventSender;
pub use events::{MEDIA_EVENT_QUEUE, MediaEventReceiver};
use recording::RecordingCounters;
pub use recording::{FRAME_QUEUE, RecordRequest, RecordingStats};
use stats::{Activity, EndpointShared, MixerCounters, RegionCounters};
pub use stats::{EndpointStats, LegMediaStats, LegStats, MixerStats, RegionStats};
use task::{Control, SessionTask};

/// Tuning of the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Most packets handled per socket wake-up before the task looks at the
    /// other sockets (fairness between directions and endpoints).
    pub max_batch: usize,
    /// Send and receive buffer asked for per socket.
    pub socket_buffer: usize,
    /// How long a latched media source must be silent before another
    /// acceptable source may take its place.
    pub relatch_after: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_batch: 64,
            socket_buffer: crate::ports::SOCKET_BUFFER,
            relatch_after: Duration::from_secs(2),
        }
    }
}

/// One address of a region: bound, and put in SDP (the advertised one,
/// for NAT and cloud hosts, or the bound one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionAddress {
    /// The address the sockets bind to.
    pub bind: IpAddr,
    /// The address peers are told, if not `bind`.
    pub advertise: Option<IpAddr>,
}

/// A media region as the engine is built from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSpec {
    /// Its name.
    pub name: String,
    /// At most one address per family.
    pub addresses: Vec<RegionAddress>,
    /// The port range, shared by each address.
    pub port_min: u16,
    /// Last port.
    pub port_max: u16,
}

struct Pool {
    pool: Arc<PortPool>,
    advertise: IpAddr,
}

struct Region {
    name: String,
    pools: Vec<Pool>,
    counters: Arc<RegionCounters>,
}

impl Region {
    /// The pool of the peer's family, else the first.
    fn pool_for(&self, peer: Option<IpAddr>) -> Option<&Pool> {
        let same = |p: &&Pool| {
            peer.is_some_and(|ip| ip.to_canonical().is_ipv4() == p.pool.addr().is_ipv4())
        };
        self.pools.iter().find(same).or(self.pools.first())
    }
}

/// The node's media plane: port pools per region and family.
pub struct MediaEngine {
    regions: Arc<Vec<Region>>,
    mixers: Arc<MixerCounters>,
    options: EngineOptions,
    recordings: Arc<RecordingCounters>,
    /// Where session tasks run; the caller's runtime when `None`.
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let regions: Vec<_> = self.regions.iter().map(|r| &r.name).collect();
        f.debug_struct("MediaEngine")
            .field("regions", &regions)
            .field("options", &self.options)
            .field("own_runtime", &self.runtime.is_some())
            .finish()
    }
}

impl MediaEngine {
    /// An engine for these regions.
    pub fn new(regions: &[RegionSpec], options: EngineOptions) -> MediaEngine {
        let regions = regions
            .iter()
            .map(|r| Region {
                name: r.name.clone(),
                pools: r
                    .addresses
                    .iter()
                    .map(|a| Pool {
                        pool: Arc::new(
                            PortPool::new(a.bind, r.port_min, r.port_max)
                                .with_socket_buffer(options.socket_buffer),
                        ),
                        advertise: a.advertise.unwrap_or(a.bind),
                    })
                    .collect(),
                counters: Arc::default(),
            })
            .collect();
        MediaEngine {
            regions: Arc::new(regions),
            mixers: Arc::default(),
            options,
            recordings: Arc::default(),
            runtime: None,
        }
    }

    /// Runs the sessions' tasks (and registers their sockets) on `runtime`,
    /// so that media can have threads of its own, apart from signalling.
    pub fn on_runtime(mut self, runtime: tokio::runtime::Handle) -> MediaEngine {
        self.runtime = Some(runtime);
        self
    }

    /// A session with no endpoint yet (nothing bound, no task until the first).
    pub fn session(&self) -> Result<MediaSession, MediaError> {
        let runtime = match &self.runtime {
            Some(handle) => handle.clone(),
            None => tokio::runtime::Handle::try_current().map_err(|_| MediaError::NoRuntime)?,
        };
        let (events_tx, events_rx) = events::channel();
        Ok(MediaSession {
            regions: Arc::clone(&self.regions),
            mixers: Arc::clone(&self.mixers),
            options: self.options.clone(),
            recordings: Arc::clone(&self.recordings),
            runtime,
            activity: Arc::new(Activity::new(Instant::now())),
            state: Mutex::new(State {
                tx: None,
                endpoints: Vec::new(),
                events_tx: Some(events_tx),
                events_rx: Some(events_rx),
                deferred: None,
            }),
        })
    }

    /// Per region: ports in use and packets relayed (cheap: a few atomic loads).
    pub fn region_stats(&self) -> Vec<(String, RegionStats)> {
        use std::sync::atomic::Ordering;
        self.regions
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    RegionStats {
                        ports_in_use: r.pools.iter().map(|p| p.pool.in_use()).sum(),
                        capacity: r.pools.iter().map(|p| p.pool.capacity()).sum(),
                        packets_relayed: r.counters.rtp.load(Ordering::Relaxed),
                        rtcp_relayed: r.counters.rtcp.load(Ordering::Relaxed),
                        dropped_foreign: r.counters.foreign.load(Ordering::Relaxed),
                        dropped_invalid: r.counters.invalid.load(Ordering::Relaxed),
                        dropped_unsent: r.counters.unsent.load(Ordering::Relaxed),
                        dropped_srtp: r.counters.srtp.load(Ordering::Relaxed),
                        packets_generated: r.counters.generated.load(Ordering::Relaxed),
                        ports_exhausted: r.counters.exhausted.load(Ordering::Relaxed),
                        packets_transcoded: r.counters.transcoded.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// Recordings being written and frames dropped, node-wide (two atomic loads).
    pub fn recording_stats(&self) -> RecordingStats {
        self.recordings.stats()
    }

    /// The node's conferences: how many now, frames mixed and skipped, late
    /// packets (cheap: a few atomic loads).
    pub fn mixer_stats(&self) -> MixerStats {
        self.mixers.snapshot()
    }

    /// The first port pool of region `name`.
    pub fn pool(&self, name: &str) -> Option<&Arc<PortPool>> {
        self.regions
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.pools.first())
            .map(|p| &p.pool)
    }
}

/// What a new endpoint needs.
#[derive(Clone, Debug)]
pub struct EndpointSpec<'a> {
    /// The media region.
    pub region: &'a str,
    /// Media lines (m-lines of the SDP it anchors).
    pub lines: usize,
    /// The peer's address, to pick the region's address of the same family.
    pub peer: Option<IpAddr>,
    /// Networks whose sources may latch besides the signalled address.
    pub allowed_sources: Vec<IpNet>,
}

struct State {
    /// The task's channel, once spawned (at the first endpoint).
    tx: Option<mpsc::UnboundedSender<Control>>,
    endpoints: Vec<Option<Endpoint>>,
    /// The events' sender until the task takes it, and the receiver until
    /// the conversation does.
    events_tx: Option<MediaEventSender>,
    events_rx: Option<MediaEventReceiver>,
    /// Controls held back until [`MediaSession::flush_controls`], when the
    /// owner asked for it: a conversation step's controls then reach the
    /// task together, one wake-up of the media thread instead of one each.
    deferred: Option<Vec<Control>>,
}

struct Endpoint {
    local: Vec<LocalMedia>,
    shared: Arc<EndpointShared>,
    held: bool,
}

/// One endpoint's counters as its task last published them, readable from
/// any thread while the endpoint lives (and after: the last figures).
#[derive(Clone, Debug)]
pub struct LiveStats(Arc<EndpointShared>);

impl LiveStats {
    /// The counters and quality now.
    pub fn snapshot(&self) -> EndpointStats {
        self.0.snapshot()
    }
}

/// A conversation's media: endpoints and the bridges between them.
pub struct MediaSession {
    regions: Arc<Vec<Region>>,
    mixers: Arc<MixerCounters>,
    options: EngineOptions,
    recordings: Arc<RecordingCounters>,
    runtime: tokio::runtime::Handle,
    activity: Arc<Activity>,
    state: Mutex<State>,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession").finish_non_exhaustive()
    }
}

impl MediaSession {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is one step: the state stays consistent across a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, control: Control) {
        let mut state = self.state();
        if let Some(deferred) = &mut state.deferred {
            deferred.push(control);
        } else if let Some(tx) = &state.tx {
            // The task ends only when the session is dropped.
            let _ = tx.send(control);
        }
    }

    /// From now on, controls wait for [`flush_controls`](Self::flush_controls)
    /// instead of going to the task one by one. For an owner that changes
    /// its media in steps (a conversation handling one input): each control
    /// sent on its own may wake the media thread, which then runs its
    /// session once per control.
    pub fn defer_controls(&self) {
        let mut state = self.state();
        if state.deferred.is_none() {
            state.deferred = Some(Vec::new());
        }
    }

    /// Hands the controls held back since the last flush to the task, in
    /// the order they were made.
    pub fn flush_controls(&self) {
        let mut state = self.state();
        let State { tx, deferred, .. } = &mut *state;
        let (Some(tx), Some(deferred)) = (tx, deferred) else {
            return;
        };
        for control in deferred.drain(..) {
            // The task ends only when the session is dropped.
            let _ = tx.send(control);
        }
    }

    /// Binds a new endpoint's port pairs now (one per line) in `spec.region`.
    pub fn add_endpoint(&self, spec: EndpointSpec<'_>) -> Result<EndpointId, MediaError> {
        if spec.lines > MAX_MEDIA {
            return Err(MediaError::TooManyLines {
                lines: spec.lines,
                limit: MAX_MEDIA,
            });
        }
        let region = self
            .regions
            .iter()
            .find(|r| r.name == spec.region)
            .ok_or_else(|| MediaError::UnknownRegion {
                region: spec.region.to_owned(),
            })?;
        let pool = region
            .pool_for(spec.peer)
            .ok_or_else(|| MediaError::UnknownRegion {
                region: spec.region.to_owned(),
            })?;
        // Sockets register with the reactor of the runtime entered here.
        let _entered = self.runtime.enter();
        let mut lines = Vec::with_capacity(spec.lines);
        let mut local = Vec::with_capacity(spec.lines);
        for _ in 0..spec.lines {
            let pair = pool.pool.allocate().inspect_err(|e| {
                if matches!(e, MediaError::PortsExhausted { .. }) {
                    region
                        .counters
                        .exhausted
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })?;
            local.push(LocalMedia {
                addr: pool.advertise,
                rtp_port: pair.rtp_port(),
                rtcp_port: pair.rtcp_port(),
            });
            lines.push(task::TaskLine::new(pair)?);
        }
        let shared = Arc::new(EndpointShared::new(spec.lines));
        let mut state = self.state();
        let ep = EndpointId(u32::try_from(state.endpoints.len()).unwrap_or(u32::MAX));
        state.endpoints.push(Some(Endpoint {
            local,
            shared: Arc::clone(&shared),
            held: false,
        }));
        if state.tx.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            let events = match state.events_tx.take() {
                Some(events) => events,
                // Only the first spawn takes it; this branch runs once.
                None => events::channel().0,
            };
            let task = SessionTask::new(
                rx,
                Arc::clone(&self.activity),
                &self.options,
                events,
                Arc::clone(&self.recordings),
                Arc::clone(&self.mixers),
            );
            self.runtime.spawn(task.run());
            state.tx = Some(tx);
        }
        drop(state);
        self.send(Control::Add {
            ep,
            lines,
            shared,
            region: Arc::clone(&region.counters),
            allowed: spec.allowed_sources,
        });
        Ok(ep)
    }

    /// `f` of endpoint `ep`, unless it was never added or is removed.
    fn with_endpoint<T>(&self, ep: EndpointId, f: impl FnOnce(&Endpoint) -> T) -> Option<T> {
        self.state()
            .endpoints
            .get(ep.0 as usize)
            .and_then(Option::as_ref)
            .map(f)
    }

    /// What to put in SDP for `ep`'s peer, per media line (none once removed).
    pub fn local(&self, ep: EndpointId) -> Vec<LocalMedia> {
        self.with_endpoint(ep, |e| e.local.clone())
            .unwrap_or_default()
    }

    /// `ep`'s RTP port on its first media line, without copying its lines.
    pub fn rtp_port(&self, ep: EndpointId) -> Option<u16> {
        self.with_endpoint(ep, |e| e.local.first().map(|l| l.rtp_port))
            .flatten()
    }

    /// Sets the targets `ep`'s peer signalled, per media line. Latching: the
    /// first packet from an acceptable source replaces the target; a later
    /// SDP with a new address resets latching for that line.
    pub fn set_remote(&self, ep: EndpointId, remote: &[RemoteMedia]) {
        self.send(Control::Remote(ep, remote.to_vec()));
    }

    /// `ep`'s media is on hold (or not); a change counts as activity, so the
    /// inactivity timer starts over.
    pub fn set_hold(&self, ep: EndpointId, held: bool) {
        let changed = {
            let mut state = self.state();
            match state
                .endpoints
                .get_mut(ep.0 as usize)
                .and_then(Option::as_mut)
            {
                Some(e) if e.held != held => {
                    e.held = held;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.activity.touch(Instant::now());
        }
    }

    /// `ep`'s peer negotiated DTLS-SRTP end to end: DTLS and STUN pass a
    /// bridge whose two endpoints both allow it.
    pub fn set_dtls_passthrough(&self, ep: EndpointId, on: bool) {
        self.send(Control::Dtls(ep, on));
    }

    /// The SDES keys in force on `ep`'s media lines (`None`: plain RTP):
    /// its task unprotects what `ep`'s peer sends and protects what goes to
    /// it. Unchanged keys keep their contexts (see
    /// [`SessionRelay::set_srtp`](crate::latch::SessionRelay::set_srtp)).
    pub fn set_srtp(&self, ep: EndpointId, keys: &[Option<SdesKeys>]) {
        self.send(Control::Srtp(ep, keys.to_vec()));
    }

    /// Joins `a` and `b` (each leaves the bridge it was in).
    pub fn bridge(&self, a: EndpointId, b: EndpointId) {
        self.send(Control::Bridge(a, b));
    }

    /// Takes `ep` out of its bridge: its media is received and counted only.
    pub fn unbridge(&self, ep: EndpointId) {
        self.send(Control::Unbridge(ep));
    }

    /// Puts `ep` in a conference (out of its bridge), changes its role or
    /// mute there, or (`None`) takes it out; see
    /// [`SessionRelay::set_conference`](crate::latch::SessionRelay::set_conference).
    pub fn set_conference(&self, ep: EndpointId, member: Option<Membership>) {
        self.send(Control::Conference(ep, member));
    }

    /// A command to `ep`'s own media: its negotiated format, a playback, a
    /// stop, digits to send. What follows comes as events.
    pub fn media_op(&self, ep: EndpointId, op: EndpointOp) {
        self.send(Control::Op(ep, op));
    }

    /// Records `ep` into `request.path` (a writer thread of its own; see
    /// [`RecordRequest`]): `RecordingStarted` once the file is created, then
    /// `RecordingDone` (after `EndpointOp::StopRecording`, or when the
    /// endpoint or the session goes) or `RecordingFailed`, as events. Pause,
    /// resume and stop are [`media_op`](Self::media_op)s.
    pub fn record(&self, ep: EndpointId, request: RecordRequest) {
        self.send(Control::Record(ep, request));
    }

    /// The session's media events (digits, playback ends), once: the
    /// conversation takes the receiver and reads it with its other inputs.
    pub fn take_events(&self) -> Option<MediaEventReceiver> {
        self.state().events_rx.take()
    }

    /// Closes `ep`'s sockets and returns its ports.
    pub fn remove_endpoint(&self, ep: EndpointId) {
        if let Some(slot) = self.state().endpoints.get_mut(ep.0 as usize) {
            *slot = None;
        }
        self.send(Control::Remove(ep));
    }

    /// `ep`'s counters per line, as last published.
    pub fn stats(&self, ep: EndpointId) -> Option<EndpointStats> {
        self.with_endpoint(ep, |e| e.shared.snapshot())
    }

    /// A live view of `ep`'s counters (for a listing of calls that reads
    /// them when asked, not when they change).
    pub fn live_stats(&self, ep: EndpointId) -> Option<LiveStats> {
        self.with_endpoint(ep, |e| LiveStats(Arc::clone(&e.shared)))
    }

    /// The last valid RTP/RTCP on any endpoint, or the last hold change, or
    /// the session's start.
    pub fn last_activity(&self) -> Instant {
        self.activity.last()
    }
}
