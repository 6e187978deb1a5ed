//! A session's relay task: every endpoint's sockets, one sans-IO core.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use ipnet::IpNet;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::EngineOptions;
use super::events::MediaEventSender;
use super::recording::{self, Handed, RecordRequest, RecordingCounters, TaskRecording};
use super::stats::{Activity, EndpointShared, MixerCounters, RegionCounters};
use crate::MediaError;
use crate::anchor::RemoteMedia;
use crate::endpoint::{EndpointOp, MAX_GENERATED, RecordOutput, Transmit};
use crate::latch::{EndpointId, Membership, MixTotals, Relayed, SessionRelay, SocketKind};
use crate::ports::{PortLease, PortPair};
use crate::quality::rtcp::NtpTime;
use crate::srtp::{MAX_OVERHEAD, SdesKeys};

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

thread_local! {
    /// The receive buffer, one per runtime worker thread: a task uses it only
    /// within a synchronous drain, so tasks on a thread can share it, and a
    /// session costs no 64 KiB buffer of its own. SRTP works in it in place:
    /// the room past the largest datagram takes the tag protecting adds.
    static BUFFER: RefCell<Box<[u8]>> =
        RefCell::new(vec![0; MAX_DATAGRAM + MAX_OVERHEAD].into_boxed_slice());
}

/// What the session tells its task.
pub(super) enum Control {
    Add {
        ep: EndpointId,
        lines: Vec<TaskLine>,
        shared: Arc<EndpointShared>,
        region: Arc<RegionCounters>,
        allowed: Vec<IpNet>,
    },
    Remote(EndpointId, Vec<RemoteMedia>),
    Dtls(EndpointId, bool),
    /// SDES keys per media line: they move here from the conversation.
    Srtp(EndpointId, Vec<Option<SdesKeys>>),
    Bridge(EndpointId, EndpointId),
    Unbridge(EndpointId),
    /// Into a conference, a change of role or mute there, or out of it.
    Conference(EndpointId, Option<Membership>),
    Remove(EndpointId),
    /// A command to the endpoint's own media (format, play, digits).
    Op(EndpointId, EndpointOp),
    /// Start recording the endpoint into a file (a writer thread of its own).
    Record(EndpointId, RecordRequest),
}

type Latched = (Option<SocketAddr>, Option<(SocketKind, SocketAddr)>);

/// One media line of an endpoint: its two sockets. Declared before the
/// lease: fields drop in order, so the sockets close before their ports go
/// back to the pool.
pub(super) struct TaskLine {
    sockets: [UdpSocket; 2],
    _lease: PortLease,
    /// Latched addresses as last published.
    published: Latched,
}

impl TaskLine {
    /// Registers a bound pair with the current runtime's reactor.
    pub(super) fn new(pair: PortPair) -> Result<TaskLine, MediaError> {
        let (rtp, rtcp, lease) = pair.into_parts();
        let addr = lease.addr();
        let register = |socket: std::net::UdpSocket, offset: u16| {
            UdpSocket::from_std(socket).map_err(|e| MediaError::Register {
                addr,
                port: lease.rtp_port() + offset,
                kind: e.kind(),
            })
        };
        Ok(TaskLine {
            sockets: [register(rtp, 0)?, register(rtcp, 1)?],
            _lease: lease,
            published: (None, None),
        })
    }
}

struct TaskEndpoint {
    lines: Vec<TaskLine>,
    shared: Arc<EndpointShared>,
    region: Arc<RegionCounters>,
}

enum Wake {
    Control(Option<Control>),
    Socket(usize),
    Timer,
}

pub(super) struct SessionTask {
    rx: mpsc::UnboundedReceiver<Control>,
    core: SessionRelay,
    endpoints: Vec<Option<TaskEndpoint>>,
    /// Every socket as (endpoint, line, kind), polled in turn from `next`.
    index: Vec<(EndpointId, usize, SocketKind)>,
    next: usize,
    activity: Arc<Activity>,
    max_batch: usize,
    /// The core's next deadline, and the sleep armed for it (one
    /// allocation per session, reset rather than recreated).
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// Where the endpoints' events go (the conversation).
    events: MediaEventSender,
    /// Recordings in progress: each one's writer (a few per session at most).
    recordings: Vec<TaskRecording>,
    record_counters: Arc<RecordingCounters>,
    /// The node's mixing counters, and this session's totals as last added.
    mixers: Arc<MixerCounters>,
    mixed: MixTotals,
}

impl SessionTask {
    pub(super) fn new(
        rx: mpsc::UnboundedReceiver<Control>,
        activity: Arc<Activity>,
        options: &EngineOptions,
        events: MediaEventSender,
        record_counters: Arc<RecordingCounters>,
        mixers: Arc<MixerCounters>,
    ) -> SessionTask {
        let mut core = SessionRelay::new(options.relatch_after);
        // One reading of both clocks: the NTP time of the RTCP sender reports.
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        core.set_wall_clock(Instant::now(), NtpTime::from_unix(since_epoch));
        SessionTask {
            rx,
            core,
            endpoints: Vec::new(),
            index: Vec::new(),
            next: 0,
            activity,
            max_batch: options.max_batch.max(1),
            timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
            events,
            recordings: Vec::new(),
            record_counters,
            mixers,
            mixed: MixTotals::default(),
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            match poll_fn(|cx| self.poll_wake(cx)).await {
                Wake::Control(Some(control)) => {
                    self.apply(control);
                    // The rest of a burst (a conversation's step) before
                    // the engine runs: one drive for all of them.
                    while let Ok(control) = self.rx.try_recv() {
                        self.apply(control);
                    }
                }
                // The session is gone: the last reports, then dropping
                // `self` closes every socket (and lets go of the writers,
                // which complete their files).
                Wake::Control(None) => {
                    let now = Instant::now();
                    self.stop_recordings(now, None);
                    for i in 0..self.endpoints.len() {
                        self.goodbye(now, EndpointId(u32::try_from(i).unwrap_or(u32::MAX)));
                    }
                    break;
                }
                Wake::Socket(i) => {
                    if !self.drain(i) {
                        // A socket error other than WouldBlock leaves the
                        // socket readable; let other tasks run rather than spin.
                        tokio::task::yield_now().await;
                    }
                }
                Wake::Timer => self.armed = None,
            }
            // Whatever woke the task, the engine's timers, generated packets
            // and events are looked at before it sleeps again.
            self.drive(Instant::now());
        }
        tracing::trace!("media session relay stopped");
    }

    /// Control first (new targets apply before the packets that follow
    /// them), then the sockets, starting after the last one served.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        if let Poll::Ready(control) = self.rx.poll_recv(cx) {
            return Poll::Ready(Wake::Control(control));
        }
        let n = self.index.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let (ep, line, kind) = self.index[i];
            let Some(socket) = self.socket(ep, line, kind) else {
                continue;
            };
            if socket.poll_recv_ready(cx).is_ready() {
                self.next = (i + 1) % n;
                return Poll::Ready(Wake::Socket(i));
            }
        }
        if self.armed.is_some() && self.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    }

    /// Runs the engine's due timers, sends what it generated, hands its
    /// events to the conversation and arms the timer for its next deadline.
    fn drive(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
        while let Some(t) = self.core.poll_transmit(now, &mut buf) {
            self.transmit(&t, &buf);
        }
        while let Some(out) = self.core.poll_record(now) {
            self.recorded(now, out);
        }
        while let Some((ep, event)) = self.core.poll_event() {
            self.events.deliver(ep, event);
        }
        let mixed = self.core.mix_totals();
        if mixed != self.mixed {
            self.mixers.publish(&self.mixed, &mixed);
            self.mixed = mixed;
        }
        let next = self.core.poll_timeout();
        if next != self.armed {
            if let Some(at) = next {
                self.timer.as_mut().reset(at.into());
            }
            self.armed = next;
        }
    }

    /// Sends a packet the core generated and counts it.
    fn transmit(&mut self, t: &Transmit, buf: &[u8]) {
        let sent = match self
            .socket(t.ep, t.line, t.socket)
            .map(|s| send_now(s, buf.get(..t.len).unwrap_or_default(), t.addr))
        {
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                tracing::trace!(to = %t.addr, error = %e, rtcp = t.rtcp, "generated media dropped");
                false
            }
            None => false,
        };
        self.core.on_transmitted(t, sent);
        if let Some(e) = self.endpoints.get(t.ep.0 as usize).and_then(Option::as_ref) {
            let counter = match (sent, t.rtcp) {
                (true, false) => Some(&e.region.generated),
                (false, _) => Some(&e.region.unsent),
                (true, true) => None,
            };
            if let Some(c) = counter {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.publish(t.ep, t.line, false);
    }

    /// The last RTCP report (with BYE) of an endpoint voxgate spoke or
    /// reported on, before its sockets close.
    fn goodbye(&mut self, now: Instant, ep: EndpointId) {
        let mut buf = [0u8; MAX_GENERATED + MAX_OVERHEAD];
        if let Some(t) = self.core.poll_bye(now, ep, &mut buf) {
            self.transmit(&t, &buf);
        }
    }

    fn socket(&self, ep: EndpointId, line: usize, kind: SocketKind) -> Option<&UdpSocket> {
        self.endpoints
            .get(ep.0 as usize)?
            .as_ref()?
            .lines
            .get(line)
            .map(|l| &l.sockets[kind.index()])
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, e) in self.endpoints.iter().enumerate() {
            let Some(e) = e else { continue };
            let ep = EndpointId(u32::try_from(i).unwrap_or(u32::MAX));
            for line in 0..e.lines.len() {
                self.index.push((ep, line, SocketKind::Rtp));
                self.index.push((ep, line, SocketKind::Rtcp));
            }
        }
        self.next = 0;
    }

    fn apply(&mut self, control: Control) {
        match control {
            Control::Add {
                ep,
                lines,
                shared,
                region,
                allowed,
            } => {
                self.core.add(ep, lines.len(), allowed);
                let slot = ep.0 as usize;
                if self.endpoints.len() <= slot {
                    self.endpoints.resize_with(slot + 1, || None);
                }
                self.endpoints[slot] = Some(TaskEndpoint {
                    lines,
                    shared,
                    region,
                });
                self.reindex();
            }
            Control::Remote(ep, remote) => {
                self.core.set_remote(ep, &remote);
                let lines = self.line_count(ep);
                for line in 0..lines {
                    self.publish(ep, line, true);
                }
            }
            Control::Dtls(ep, on) => self.core.set_dtls(ep, on),
            Control::Srtp(ep, keys) => self.core.set_srtp(ep, &keys),
            Control::Bridge(a, b) => self.core.bridge(a, b),
            Control::Unbridge(ep) => self.core.unbridge(ep),
            Control::Conference(ep, member) => {
                self.core.set_conference(Instant::now(), ep, member);
            }
            Control::Remove(ep) => {
                let now = Instant::now();
                self.stop_recordings(now, Some(ep));
                self.goodbye(now, ep);
                self.core.remove(ep);
                if let Some(slot) = self.endpoints.get_mut(ep.0 as usize) {
                    *slot = None;
                }
                self.reindex();
            }
            Control::Op(ep, op) => self.core.handle_op(Instant::now(), ep, op),
            Control::Record(ep, request) => self.start_recording(Instant::now(), ep, request),
        }
    }

    /// Starts `request`'s writer and the endpoint's recorder. A recording
    /// the endpoint had is replaced: its writer completes its file.
    fn start_recording(&mut self, now: Instant, ep: EndpointId, request: RecordRequest) {
        let (id, layout) = (request.id, request.layout);
        if self.core.endpoint(ep).is_none() {
            // Removed while the command was on its way.
            self.events.deliver(
                ep,
                crate::MediaEvent::RecordingFailed {
                    id,
                    kind: ErrorKind::NotFound,
                },
            );
            return;
        }
        self.recordings.retain(|r| r.ep != ep);
        if let Some(rec) = recording::start(ep, request, &mut self.events, &self.record_counters) {
            self.recordings.push(rec);
            self.core
                .handle_op(now, ep, EndpointOp::Record { id, layout });
        }
    }

    /// A recorded frame goes to its writer (never waiting); a stopped
    /// recording's end lets go of the writer, which completes the file.
    fn recorded(&mut self, now: Instant, out: RecordOutput) {
        match out {
            RecordOutput::Frame { ep, id, frame } => {
                let Some(i) = self
                    .recordings
                    .iter()
                    .position(|r| r.ep == ep && r.id == id)
                else {
                    return;
                };
                if self.recordings[i].hand(frame) == Handed::Gone {
                    // Its file failed (the writer said so): stop recording.
                    self.recordings.swap_remove(i);
                    self.core.handle_op(now, ep, EndpointOp::StopRecording(id));
                }
            }
            RecordOutput::Ended { ep, id } => {
                self.recordings.retain(|r| !(r.ep == ep && r.id == id));
            }
        }
    }

    /// Stops the recordings of `ep` (or every one) with what is due and
    /// queued written: the endpoint goes, or the session.
    fn stop_recordings(&mut self, now: Instant, ep: Option<EndpointId>) {
        let stopping: Vec<(EndpointId, crate::endpoint::RecordingId)> = self
            .recordings
            .iter()
            .filter(|r| ep.is_none_or(|ep| r.ep == ep))
            .map(|r| (r.ep, r.id))
            .collect();
        if stopping.is_empty() {
            return;
        }
        for (ep, id) in stopping {
            self.core.handle_op(now, ep, EndpointOp::StopRecording(id));
        }
        while let Some(out) = self.core.poll_record(now) {
            self.recorded(now, out);
        }
    }

    fn line_count(&self, ep: EndpointId) -> usize {
        self.endpoints
            .get(ep.0 as usize)
            .and_then(Option::as_ref)
            .map_or(0, |e| e.lines.len())
    }

    /// Relays what socket `i` holds, up to a batch. False after a socket error.
    fn drain(&mut self, i: usize) -> bool {
        let Some(&(ep, line, kind)) = self.index.get(i) else {
            return true;
        };
        let now = Instant::now();
        let before = self.drops(ep, line);
        let mut relayed = [0u64; 2];
        let mut received = false;
        let mut healthy = true;
        let mut out: Option<(EndpointId, usize)> = None;
        // Forwards keep their line: only the endpoint can differ.
        let endpoints = &self.endpoints;
        let core = &mut self.core;
        let max_batch = self.max_batch;
        let socket_of = |ep: EndpointId, line: usize, kind: SocketKind| {
            endpoints
                .get(ep.0 as usize)
                .and_then(Option::as_ref)
                .and_then(|e| e.lines.get(line))
                .map(|l| &l.sockets[kind.index()])
        };
        let Some(socket) = socket_of(ep, line, kind) else {
            return true;
        };
        BUFFER.with_borrow_mut(|buffer| {
            for _ in 0..max_batch {
                let (len, src) = match socket.try_recv_from(&mut buffer[..MAX_DATAGRAM]) {
                    Ok(r) => r,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::trace!(?ep, line, ?kind, error = %e, "media recv failed");
                        healthy = false;
                        break;
                    }
                };
                received = true;
                let Some(forward) = core.on_packet(ep, line, kind, src, buffer, len, now) else {
                    continue;
                };
                let packet = buffer.get(..forward.len).unwrap_or_default();
                let sent = match socket_of(forward.ep, forward.line, forward.socket)
                    .map(|s| s.try_send_to(packet, forward.addr))
                {
                    Some(Ok(_)) => true,
                    Some(Err(e)) => {
                        tracing::trace!(to = %forward.addr, error = %e, "media send dropped");
                        false
                    }
                    None => false,
                };
                core.on_sent(&forward, sent);
                out = Some((forward.ep, forward.line));
                if sent {
                    match forward.what {
                        Relayed::Rtp => relayed[0] += 1,
                        Relayed::Rtcp => relayed[1] += 1,
                        Relayed::Other => {}
                    }
                }
            }
        });
        if received {
            let active = self
                .core
                .endpoint(ep)
                .and_then(|e| e.lines().get(line))
                .and_then(|l| l.last_activity())
                == Some(now);
            if active {
                self.activity.touch(now);
            }
            // What came in changed this line's quality; the partner's counters
            // moved too (sent, or dropped without a target), its quality not.
            self.publish(ep, line, true);
            let partner = self.core.endpoint(ep).and_then(|e| e.bridge());
            if let Some(o) = out.map(|(o, _)| o).or(partner) {
                self.publish(o, line, false);
            }
            if let Some(region) = self
                .endpoints
                .get(ep.0 as usize)
                .and_then(Option::as_ref)
                .map(|e| &e.region)
            {
                if relayed[0] > 0 {
                    region.rtp.fetch_add(relayed[0], Ordering::Relaxed);
                }
                if relayed[1] > 0 {
                    region.rtcp.fetch_add(relayed[1], Ordering::Relaxed);
                }
                let after = self.drops(ep, line);
                let counters = [
                    &region.foreign,
                    &region.invalid,
                    &region.unsent,
                    &region.srtp,
                    &region.transcoded,
                ];
                for (counter, (a, b)) in counters.into_iter().zip(after.into_iter().zip(before)) {
                    if a > b {
                        counter.fetch_add(a - b, Ordering::Relaxed);
                    }
                }
            }
        }
        healthy
    }

    /// Drops so far on `ep`'s `line` (foreign, invalid), and unsent and
    /// SRTP drops there and on its bridge partner's line, where a batch can
    /// count them; and the packets transcoded for the partner (sent now or,
    /// repacketised, a little later).
    fn drops(&self, ep: EndpointId, line: usize) -> [u64; 5] {
        let leg = |ep: EndpointId| self.core.endpoint(ep).and_then(|e| e.lines().get(line));
        let own = leg(ep).map(|l| *l.counters()).unwrap_or_default();
        let partner = self
            .core
            .endpoint(ep)
            .and_then(|e| e.bridge())
            .and_then(leg)
            .map(|l| *l.counters())
            .unwrap_or_default();
        [
            own.foreign,
            own.invalid,
            own.dropped + partner.dropped,
            own.srtp + partner.srtp,
            partner.transcoded,
        ]
    }

    /// Publishes one endpoint line's counters (and latched addresses when
    /// changed); with `quality`, its reception figures too (what arrived
    /// changes them, nothing sent does).
    fn publish(&mut self, ep: EndpointId, line: usize, quality: bool) {
        let Some(leg) = self.core.endpoint(ep).and_then(|e| e.lines().get(line)) else {
            return;
        };
        let voice_line = self.core.format(ep).map_or(0, |f| f.line);
        let Some(e) = self
            .endpoints
            .get_mut(ep.0 as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        let Some(l) = e.lines.get_mut(line) else {
            return;
        };
        let latched = (leg.latched_rtp(), leg.latched_rtcp());
        let changed = latched != l.published;
        l.published = latched;
        e.shared.publish(line, voice_line, leg, changed, quality);
    }
}

impl Drop for SessionTask {
    /// Its conferences end with it (the runtime's shutdown included).
    fn drop(&mut self) {
        self.mixers.publish(&self.mixed, &MixTotals::default());
    }
}

/// Sends a datagram now or not at all. Not `try_send_to`: tokio refuses that
/// until its reactor has seen the socket writable once, which the first
/// packet generated on a fresh endpoint may precede; the socket is
/// non-blocking, so the plain system call never waits either.
fn send_now(socket: &UdpSocket, buf: &[u8], to: SocketAddr) -> std::io::Result<usize> {
    socket2::SockRef::from(socket).send_to(buf, &to.into())
}
