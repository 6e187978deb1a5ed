//! Simulated SIP user agents on voxgate's own transaction layer and dialogs:
//! a caller and callees that answer retransmissions like a real UA (the
//! transaction layer absorbs repeated requests and repeats final responses;
//! the UA core here repeats its 2xx until the ACK and repeats its ACK for a
//! repeated 2xx), scripted by a [`Script`]. `steps.rs` holds the scripted
//! actions; this file receives.

mod steps;

pub use steps::{Answer, Call, Script};

use crate::network::Ctx;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_sip::dialog::{Dialog, LocalAddr, Retransmit, RetransmitAction};
use voxgate_sip::message::{HeaderName, Limits, Message, Method, response_to};
use voxgate_sip::transaction::{TimerConfig, TransactionLayer, TxEvent, TxId};
use voxgate_sip::{Peer, TransportKind};

/// Who ended a dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// This UA sent the BYE.
    Us,
    /// The other side did.
    Them,
}

/// One dialog of a UA.
#[derive(Debug)]
pub struct Leg {
    /// The dialog.
    pub dialog: Dialog,
    /// We sent the INVITE that created it.
    pub uac: bool,
    /// When it was confirmed (our ACK sent, or theirs received).
    pub confirmed: Option<Instant>,
    /// How it ended, and when.
    pub ended: Option<(By, Instant)>,
    /// When we sent our BYE.
    pub bye_sent: Option<Instant>,
    /// Our 2xx waiting for their ACK, one per INVITE CSeq.
    oks: Vec<PendingOk>,
    /// Our ACK per INVITE CSeq, repeated for a repeated 2xx.
    acks: Vec<(u32, Bytes)>,
    /// Our re-INVITE in progress.
    reinvite: Option<TxId>,
    /// The `o=` version of our next SDP.
    sdp_version: u32,
}

impl Leg {
    fn new(dialog: Dialog, uac: bool) -> Leg {
        Leg {
            dialog,
            uac,
            confirmed: None,
            ended: None,
            bye_sent: None,
            oks: Vec::new(),
            acks: Vec::new(),
            reinvite: None,
            sdp_version: 2,
        }
    }

    /// Neither side has ended it.
    pub fn is_live(&self) -> bool {
        self.ended.is_none()
    }
}

#[derive(Debug)]
struct PendingOk {
    cseq: u32,
    bytes: Bytes,
    to: SocketAddr,
    retransmit: Retransmit,
}

/// A request we sent, by its client transaction.
#[derive(Debug)]
enum Sent {
    Invite,
    Cancel,
    Bye(usize),
    Reinvite(usize),
    Refer,
}

/// An initial INVITE this UA received (a callee).
#[derive(Debug)]
struct Incoming {
    request: Message,
    from: Peer,
    /// The final status sent, once sent (several 2xx for several tags).
    final_status: Option<u16>,
}

/// What a UA saw, for the scenario's checks.
#[derive(Debug, Default)]
pub struct Log {
    /// Provisional statuses to our INVITE.
    pub provisionals: Vec<u16>,
    /// Final responses to our INVITE, one per To tag (repeats left out).
    pub finals: Vec<(u16, Option<String>)>,
    /// New requests received, by method.
    pub requests: Vec<Method>,
    /// CANCELs received for a pending INVITE (that we then answered 487).
    pub cancelled: u32,
    /// CANCELs received after we had answered.
    pub cancel_too_late: u32,
    /// Tags we answered an initial INVITE with (200).
    pub answered: Vec<&'static str>,
    /// Our CANCEL went out.
    pub cancel_sent: bool,
    /// Statuses to our BYEs, REFERs and re-INVITEs.
    pub bye_statuses: Vec<u16>,
    /// REFERs we sent.
    pub refers_sent: u32,
    /// Final statuses to our REFERs.
    pub refer_statuses: Vec<u16>,
    /// Final statuses to our re-INVITEs.
    pub reinvite_statuses: Vec<u16>,
    /// 491s we answered to a re-INVITE crossing ours.
    pub glare_491_sent: u32,
    /// The sipfrag status lines of the NOTIFYs received, with Subscription-State.
    pub notifies: Vec<(String, String)>,
    /// Requests for no dialog or transaction of ours (answered 481), by method.
    pub stray: Vec<Method>,
    /// In-dialog requests that came after the dialog ended (answered 481).
    pub after_end: Vec<Method>,
    /// Things a real UA would report: a transaction that timed out, a 2xx
    /// never ACKed, a second 2xx from a B2BUA that must not fork.
    pub anomalies: Vec<String>,
}

/// A simulated user agent.
pub struct Ua {
    /// Its name in the trace.
    pub name: &'static str,
    /// Its address.
    pub addr: SocketAddr,
    local: LocalAddr,
    timers: TimerConfig,
    layer: TransactionLayer,
    script: Script,
    /// Its dialogs, in order of creation.
    pub legs: Vec<Leg>,
    sent: BTreeMap<TxId, Sent>,
    incoming: BTreeMap<TxId, Incoming>,
    /// The caller's INVITE and its transaction.
    invite: Option<(TxId, Message, SocketAddr)>,
    provisional: bool,
    cancel_wanted: bool,
    /// Scripted steps, by (instant, sequence).
    steps: BTreeMap<(Instant, u64), steps::Step>,
    step_seq: u64,
    out: VecDeque<(SocketAddr, Bytes)>,
    /// What it saw.
    pub log: Log,
}

impl Ua {
    /// A UA at `addr` playing `script`.
    pub fn new(name: &'static str, addr: SocketAddr, script: Script, timers: TimerConfig) -> Ua {
        let mut ua = Ua {
            name,
            addr,
            local: LocalAddr::new(TransportKind::Udp, addr),
            timers,
            layer: TransactionLayer::new(timers),
            script,
            legs: Vec::new(),
            sent: BTreeMap::new(),
            incoming: BTreeMap::new(),
            invite: None,
            provisional: false,
            cancel_wanted: false,
            steps: BTreeMap::new(),
            step_seq: 0,
            out: VecDeque::new(),
            log: Log::default(),
        };
        if let Some(call) = &ua.script.call {
            let at = Ctx::at(call.at);
            ua.schedule(at, steps::Step::Invite);
        }
        ua
    }

    /// Live transactions of its layer.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let oks = self
            .legs
            .iter()
            .flat_map(|l| l.oks.iter().filter_map(|o| o.retransmit.next_deadline()));
        let steps = self.steps.keys().next().map(|(at, _)| *at);
        oks.chain(steps).chain(self.layer.poll_timeout()).min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.pull();
        self.out.pop_front()
    }

    /// A datagram arrives.
    pub fn receive(&mut self, ctx: &mut Ctx, from: SocketAddr, bytes: Bytes) {
        let msg = match Message::parse(bytes, &Limits::default()) {
            Ok(m) => m,
            Err(e) => {
                self.log
                    .anomalies
                    .push(format!("unparsable message from {from}: {e}"));
                return;
            }
        };
        let peer = udp(from);
        self.layer.handle_message(ctx.now, msg, peer);
        self.events(ctx);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, ctx: &mut Ctx) {
        let now = ctx.now;
        if self.layer.poll_timeout().is_some_and(|t| t <= now) {
            self.layer.handle_timeout(now);
            self.events(ctx);
        }
        for i in 0..self.legs.len() {
            let mut gave_up = Vec::new();
            for ok in &mut self.legs[i].oks {
                match ok.retransmit.on_timeout(now) {
                    RetransmitAction::Resend => self.out.push_back((ok.to, ok.bytes.clone())),
                    RetransmitAction::GiveUp => gave_up.push(ok.cseq),
                    RetransmitAction::NotYet => {}
                }
            }
            for cseq in gave_up {
                self.legs[i].oks.retain(|o| o.cseq != cseq);
                self.log.anomalies.push(format!(
                    "our 2xx (CSeq {cseq}) on dialog {} was never ACKed",
                    self.legs[i].dialog.local_tag
                ));
                ctx.note(
                    self.name,
                    "gives up its 2xx without ACK: BYE (RFC 3261 §13.3.1.4)",
                );
                self.hang_up(ctx, i);
            }
        }
        while let Some(entry) = self.steps.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let step = entry.remove();
            self.run(ctx, step);
        }
    }

    fn schedule(&mut self, at: Instant, step: steps::Step) {
        self.step_seq += 1;
        self.steps.insert((at, self.step_seq), step);
    }

    /// Moves the layer's transmits behind ours, in order.
    fn pull(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            self.out.push_back((t.to.addr, t.bytes));
        }
    }

    fn events(&mut self, ctx: &mut Ctx) {
        self.pull();
        while let Some(event) = self.layer.poll_event() {
            match event {
                TxEvent::Request { tx, request, from } => self.on_request(ctx, tx, request, from),
                TxEvent::Cancel {
                    tx,
                    invite,
                    request,
                    from,
                } => self.on_cancel(ctx, tx, invite, &request, from),
                TxEvent::Ack { request, .. } => self.on_ack(ctx, &request),
                TxEvent::Response { tx, response } => self.on_response(ctx, Some(tx), &response),
                TxEvent::StrayResponse { response, .. } => self.on_response(ctx, None, &response),
                TxEvent::Timeout { tx } => {
                    let what = self.sent.get(&tx).map(|s| format!("{s:?}"));
                    self.log.anomalies.push(format!(
                        "transaction {tx} timed out ({})",
                        what.as_deref().unwrap_or("a server transaction")
                    ));
                    if let Some(Sent::Bye(leg)) = self.sent.get(&tx) {
                        let leg = *leg;
                        self.end(ctx, leg, By::Us);
                    }
                }
                TxEvent::TransportError { tx } => {
                    self.log.anomalies.push(format!("transport error on {tx}"));
                }
                _ => {}
            }
            self.pull();
        }
    }

    /// The dialog a request received belongs to: (Call-ID, To tag = ours,
    /// From tag = theirs).
    fn leg_of_request(&self, request: &Message) -> Option<usize> {
        let call_id = request.call_id().ok()?;
        let ours = request.to_header().ok()?.tag()?;
        let theirs = request.from_header().ok()?.tag()?;
        self.legs.iter().position(|l| {
            l.dialog.call_id == call_id
                && l.dialog.local_tag == ours
                && l.dialog.remote_tag == theirs
        })
    }

    /// The dialog a response belongs to: (Call-ID, From tag = ours, To tag = theirs).
    fn leg_of_response(&self, response: &Message) -> Option<usize> {
        let call_id = response.call_id().ok()?;
        let ours = response.from_header().ok()?.tag()?;
        let theirs = response.to_header().ok()?.tag()?;
        self.legs.iter().position(|l| {
            l.dialog.call_id == call_id
                && l.dialog.local_tag == ours
                && l.dialog.remote_tag == theirs
        })
    }

    fn respond(&mut self, ctx: &mut Ctx, tx: TxId, response: Option<Message>) {
        let Some(response) = response else {
            self.log
                .anomalies
                .push("built an unparsable response".into());
            return;
        };
        if let Err(e) = self.layer.respond(ctx.now, tx, response) {
            self.log.anomalies.push(format!("could not respond: {e}"));
        }
        self.pull();
    }

    fn on_request(&mut self, ctx: &mut Ctx, tx: TxId, request: Message, from: Peer) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        self.log.requests.push(method.clone());
        let in_dialog = request.to_header().is_ok_and(|t| t.tag().is_some());
        if !in_dialog {
            if method == Method::Invite {
                self.on_invite(ctx, tx, request, from);
            } else {
                let r = response_to(&request, 481, "Call/Transaction Does Not Exist", None, None);
                self.respond(ctx, tx, r.build_message().ok());
            }
            return;
        }
        let Some(leg) = self.leg_of_request(&request) else {
            self.log.stray.push(method);
            let r = response_to(&request, 481, "Call/Transaction Does Not Exist", None, None);
            self.respond(ctx, tx, r.build_message().ok());
            return;
        };
        if self.legs[leg].dialog.check_request(&request).is_err() {
            let r = self.legs[leg]
                .dialog
                .response(&request, 500, "Out of Order", None);
            self.respond(ctx, tx, r.build_message().ok());
            return;
        }
        if !self.legs[leg].is_live() {
            self.log.after_end.push(method);
            let r = self.legs[leg].dialog.response(&request, 481, "Gone", None);
            self.respond(ctx, tx, r.build_message().ok());
            return;
        }
        match method {
            Method::Bye => {
                let r = self.legs[leg].dialog.response(&request, 200, "OK", None);
                self.respond(ctx, tx, r.build_message().ok());
                self.end(ctx, leg, By::Them);
            }
            Method::Invite => self.on_reinvite(ctx, leg, tx, &request, from),
            Method::Notify => {
                let r = self.legs[leg].dialog.response(&request, 200, "OK", None);
                self.respond(ctx, tx, r.build_message().ok());
                self.on_notify(ctx, leg, &request);
            }
            Method::Update => {
                let sdp = steps::answer_sdp(
                    self.name,
                    self.addr.ip(),
                    &mut self.legs[leg],
                    request.body(),
                );
                let r = self.legs[leg]
                    .dialog
                    .response(&request, 200, "OK", None)
                    .body("application/sdp", sdp.as_bytes());
                self.respond(ctx, tx, r.build_message().ok());
            }
            Method::Options | Method::Info | Method::Message => {
                let r = self.legs[leg].dialog.response(&request, 200, "OK", None);
                self.respond(ctx, tx, r.build_message().ok());
            }
            _ => {
                let r = self.legs[leg]
                    .dialog
                    .response(&request, 405, "Method Not Allowed", None)
                    .header(
                        HeaderName::Allow,
                        "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, UPDATE",
                    );
                self.respond(ctx, tx, r.build_message().ok());
            }
        }
    }

    /// A re-INVITE: 491 while ours is in progress (RFC 3261 §14.2), else 200
    /// with our answer, repeated until the ACK.
    fn on_reinvite(&mut self, ctx: &mut Ctx, leg: usize, tx: TxId, request: &Message, from: Peer) {
        if self.legs[leg].reinvite.is_some() {
            self.log.glare_491_sent += 1;
            let r = self.legs[leg]
                .dialog
                .response(request, 491, "Request Pending", None);
            self.respond(ctx, tx, r.build_message().ok());
            return;
        }
        let sdp = steps::answer_sdp(
            self.name,
            self.addr.ip(),
            &mut self.legs[leg],
            request.body(),
        );
        let r = self.legs[leg]
            .dialog
            .response(request, 200, "OK", None)
            .body("application/sdp", sdp.as_bytes())
            .build_message()
            .ok();
        self.legs[leg].dialog.refresh_target(request);
        if let Some(ok) = &r {
            let cseq = request.cseq().map(|c| c.seq).unwrap_or(0);
            self.legs[leg].oks.push(PendingOk {
                cseq,
                bytes: ok.raw().clone(),
                to: from.addr,
                retransmit: Retransmit::start(ctx.now, self.timers.t1, self.timers.t2),
            });
        }
        self.respond(ctx, tx, r);
    }

    fn on_notify(&mut self, ctx: &mut Ctx, leg: usize, request: &Message) {
        let frag = String::from_utf8_lossy(request.body());
        let status_line = frag.lines().next().unwrap_or("").to_string();
        let state = request
            .header(HeaderName::SubscriptionState)
            .unwrap_or("")
            .to_string();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let last = state.starts_with("terminated");
        self.log.notifies.push((status_line, state));
        // The transferor hangs up once the transfer succeeded (RFC 5589 §6).
        if last && (200..300).contains(&status) && self.script.refer.is_some() {
            self.hang_up(ctx, leg);
        }
    }

    fn on_cancel(
        &mut self,
        ctx: &mut Ctx,
        tx: TxId,
        invite: Option<TxId>,
        request: &Message,
        from: Peer,
    ) {
        let tag = self.script.answer.first_tag();
        let Some(inc) = invite.and_then(|i| self.incoming.get_mut(&i).map(|inc| (i, inc))) else {
            // A CANCEL of a re-INVITE in one of our dialogs that we answered
            // already crossed our final response (§9.1): legitimate.
            if self.leg_of_request(request).is_none() {
                self.log.stray.push(Method::Cancel);
            }
            let r = response_to(request, 481, "Call/Transaction Does Not Exist", None, None);
            self.respond(ctx, tx, r.build_message().ok());
            return;
        };
        let (invite_tx, inc) = inc;
        let pending = inc.final_status.is_none();
        let terminated = pending.then(|| {
            inc.final_status = Some(487);
            response_to(
                &inc.request,
                487,
                "Request Terminated",
                Some(tag),
                Some(from.addr),
            )
            .build_message()
            .ok()
        });
        let ok = response_to(request, 200, "OK", Some(tag), Some(from.addr));
        self.respond(ctx, tx, ok.build_message().ok());
        match terminated {
            Some(r) => {
                self.log.cancelled += 1;
                self.respond(ctx, invite_tx, r);
            }
            None => self.log.cancel_too_late += 1,
        }
    }

    /// The ACK for one of our 2xx.
    fn on_ack(&mut self, ctx: &mut Ctx, ack: &Message) {
        let Some(leg) = self.leg_of_request(ack) else {
            return;
        };
        let seq = ack.cseq().map(|c| c.seq).unwrap_or(0);
        let l = &mut self.legs[leg];
        l.oks.retain(|o| o.cseq != seq);
        if l.confirmed.is_none() && !l.uac {
            l.confirmed = Some(ctx.now);
            self.confirmed(ctx, leg);
        }
    }

    fn on_response(&mut self, ctx: &mut Ctx, tx: Option<TxId>, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        let sent = tx.and_then(|tx| self.sent.get(&tx));
        let method = response.cseq().map(|c| c.method).ok();
        match (sent, method) {
            (Some(Sent::Invite), _) => self.on_invite_response(ctx, response),
            // A 2xx repeated after its transaction ended: ours, or another fork's.
            (None, Some(Method::Invite)) if (200..300).contains(&status) => {
                let ours = self.invite.as_ref().and_then(|(_, i, _)| i.call_id().ok())
                    == response.call_id().ok();
                match self.leg_of_response(response) {
                    Some(leg) => self.reack(leg, response),
                    None if ours => self.on_invite_response(ctx, response),
                    None => {}
                }
            }
            (Some(Sent::Reinvite(leg)), _) => {
                let leg = *leg;
                self.on_reinvite_response(ctx, leg, response);
            }
            (Some(Sent::Bye(leg)), _) if status >= 200 => {
                let leg = *leg;
                self.log.bye_statuses.push(status);
                self.end(ctx, leg, By::Us);
            }
            (Some(Sent::Refer), _) if status >= 200 => self.log.refer_statuses.push(status),
            _ => {}
        }
    }

    /// Repeats our ACK for a repeated 2xx.
    fn reack(&mut self, leg: usize, response: &Message) {
        let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
        let to = next_hop(&self.legs[leg].dialog);
        if let Some((_, ack)) = self.legs[leg].acks.iter().find(|(s, _)| *s == seq)
            && let Some(to) = to
        {
            self.out.push_back((to, ack.clone()));
        }
    }

    /// Ends `leg` (BYE answered, BYE received, or a BYE that timed out).
    fn end(&mut self, ctx: &mut Ctx, leg: usize, by: By) {
        let l = &mut self.legs[leg];
        if l.ended.is_none() {
            l.ended = Some((by, ctx.now));
        }
        l.oks.clear();
    }
}

/// A UDP peer at `addr`.
pub fn udp(addr: SocketAddr) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr,
        conn: None,
    }
}

/// Where an in-dialog request goes: the first route, or the remote target.
pub fn next_hop(dialog: &Dialog) -> Option<SocketAddr> {
    let uri = match dialog.route_set.first() {
        Some(route) => route.trim().trim_start_matches('<').split('>').next()?,
        None => dialog.remote_target.as_str(),
    };
    uri_addr(uri)
}

/// The ip:port of a `sip:` URI with a numeric host (5060 by default).
pub fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri.strip_prefix("sip:")?;
    let rest = rest.split(';').next()?;
    let host = rest.rsplit('@').next()?;
    if host.contains(':') {
        host.parse().ok()
    } else {
        format!("{host}:5060").parse().ok()
    }
}

/// Milliseconds as a `Duration`, for scripts.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
