//! Requests inside a conversation's dialogs: BYE ends its leg; between
//! linked legs the rest is relayed (`relay.rs`); on a leg voxgate is the
//! user agent of, voxgate answers offers itself, answers INFO, OPTIONS and
//! MESSAGE, and hands REFER to the control plane (`transfer.rs`). ACKs stop
//! our 2xx retransmissions; responses to our own requests land here.

use super::inbound::{allows, is_sdp, sdp_of, supported};
use super::leg::{AckAnswer, PendingOk};
use super::relay::is_hold;
use super::srtp::Exchange;
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_media::anchor::remote_targets;
use voxgate_sip::message::{HeaderName, response_to};

/// Methods relayed to the linked leg when they arrive inside a dialog.
fn relayed(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite
            | Method::Update
            | Method::Info
            | Method::Options
            | Method::Prack
            | Method::Message
            | Method::Notify
    )
}

impl<M: MediaControl> Conversation<M> {
    pub(super) fn on_request(&mut self, now: Instant, tx: TxId, request: Message, from: Peer) {
        let Some(leg) = self.leg_of(&request) else {
            self.respond_to(tx, &request, 481, None);
            return;
        };
        let Some(method) = request.method().cloned() else {
            return;
        };
        // §12.2.2: requests must arrive in CSeq order.
        let in_order = self
            .sig(leg)
            .and_then(|s| s.dialog.as_mut())
            .map(|d| d.check_request(&request).is_ok());
        match in_order {
            None if method != Method::Prack && method != Method::Update => {
                self.respond_to(tx, &request, 481, Some(leg));
                return;
            }
            Some(false) => {
                self.respond_to(tx, &request, 500, Some(leg));
                return;
            }
            _ => {}
        }
        if let Some(state) = self.sig(leg)
            && state.peer.conn.is_some()
            && state.peer.addr == from.addr
        {
            // Streams: the peer's newest connection carries its dialog. UDP: the
            // listener it last reached us on (same address, maybe another socket).
            state.peer = from;
        }
        let live = self.leg(leg).is_some_and(Leg::is_live);
        let link = self.relay_partner(leg, &request);
        match method {
            Method::Bye => {
                self.respond_to(tx, &request, 200, Some(leg));
                if let Some(l) = self.leg_mut(leg) {
                    l.sig.pending_ok = None;
                    l.sig.timer = None;
                    // It hung up itself: a BYE we held back for it is moot.
                    l.sig.bye_deferred = false;
                }
                // A BYE crossing ours: the leg already ended; one is enough.
                if live {
                    let side = self.leg(leg).map_or(Side::Edge, Leg::peer_side);
                    // A referrer hanging up after its transfer succeeded.
                    let transferred = self
                        .leg(leg)
                        .and_then(|l| l.notify_dial)
                        .and_then(|d| self.dial(d))
                        .is_some_and(|d| d.winner.is_some());
                    let cause = if transferred {
                        EndCause::Transferred
                    } else {
                        EndCause::Normal
                    };
                    self.ack_late_offers(leg);
                    self.pending_q850 = super::q850::of_reason(&request);
                    // The linked leg's BYE (voxgate's own) carries what this one may.
                    self.bye_headers = self
                        .leg(leg)
                        .and_then(|l| l.link)
                        .map(|other| (other, self.carried_across(&request, leg, other)))
                        .filter(|(_, carried)| !carried.is_empty());
                    self.end_leg(now, leg, side, cause, None);
                    self.pending_q850 = None;
                    self.bye_headers = None;
                }
            }
            _ if !live || self.phase != Phase::Active => {
                self.respond_to(tx, &request, 481, Some(leg));
            }
            Method::Refer => self.on_refer(now, leg, tx, request),
            Method::Info if self.is_dtmf_info(&request) => {
                self.on_dtmf_info(leg, tx, request, link);
            }
            m if relayed(&m) && link.is_some() => {
                if let Some(to) = link {
                    self.relay(leg, to, tx, request, m);
                }
            }
            Method::Invite | Method::Update => self.local_offer_request(now, leg, tx, &request),
            Method::Info | Method::Options | Method::Message => {
                self.respond_to(tx, &request, 200, Some(leg));
            }
            Method::Notify | Method::Prack => self.respond_to(tx, &request, 481, Some(leg)),
            // Not offered in our Allow.
            _ => {
                let tag = self.leg(leg).and_then(Leg::local_tag);
                let r = response_to(&request, 405, "Method Not Allowed", tag.as_deref(), None)
                    .header(HeaderName::Allow, ALLOW)
                    .build_message();
                if let Ok(response) = r {
                    self.push(Action::Respond { tx, response });
                }
            }
        }
    }

    /// Where requests on `leg` are relayed: its link, or before the answer
    /// of a linked dial, the leg on the other side of the early dialog
    /// (PRACK: the leg whose reliable provisional it acknowledges).
    fn relay_partner(&self, leg: LegId, request: &Message) -> Option<LegId> {
        let l = self.leg(leg)?;
        if l.link.is_some() {
            return l.link;
        }
        match &l.dir {
            Dir::In(i) => {
                if request.method() == Some(&Method::Prack) {
                    let rack = voxgate_sip::dialog::prack::RAck::of(request).ok()?;
                    return i
                        .rseq_map
                        .iter()
                        .find(|(ours, _, _)| *ours == rack.rseq)
                        .map(|(_, l, _)| *l);
                }
                let d = self.dial(i.connecting?)?;
                d.early.or_else(|| {
                    let mut live = d.legs.iter().filter(|l| {
                        self.leg(**l)
                            .is_some_and(|l| l.is_live() && l.sig.dialog.is_some())
                    });
                    let first = live.next().copied();
                    live.next().is_none().then_some(first).flatten()
                })
            }
            Dir::Out(o) => {
                let d = self.dial(o.dial)?;
                if d.link && o.pending() {
                    d.connect
                } else {
                    None
                }
            }
        }
    }

    /// 488 to a request on `leg` with an offer it cannot take, saying why
    /// in a `Warning` when SRTP is the reason.
    pub(crate) fn respond_488(
        &mut self,
        tx: TxId,
        request: &Message,
        leg: LegId,
        warning: Option<String>,
    ) {
        let tag = self.leg(leg).and_then(Leg::local_tag);
        let mut b = response_to(request, 488, default_reason(488), tag.as_deref(), None);
        if let Some(w) = &warning {
            b = b.header(HeaderName::Warning, w);
        }
        if let Ok(response) = b.build_message() {
            self.push(Action::Respond { tx, response });
        }
    }

    /// A response without body to a request on `leg`.
    pub(crate) fn respond_to(
        &mut self,
        tx: TxId,
        request: &Message,
        status: u16,
        leg: Option<LegId>,
    ) {
        let tag = leg.and_then(|l| self.leg(l)).and_then(Leg::local_tag);
        let r = response_to(
            request,
            status,
            default_reason(status),
            tag.as_deref(),
            None,
        )
        .build_message();
        if let Ok(response) = r {
            self.push(Action::Respond { tx, response });
        }
    }

    /// A re-INVITE or UPDATE on a leg voxgate is the UA of.
    fn local_offer_request(&mut self, now: Instant, leg: LegId, tx: TxId, request: &Message) {
        let is_invite = request.method() == Some(&Method::Invite);
        if self
            .leg(leg)
            .is_some_and(|l| l.sig.offering || (is_invite && l.sig.pending_ok.is_some()))
        {
            self.respond_to(tx, request, 491, Some(leg));
            return;
        }
        let offer = if request.body().is_empty() {
            None
        } else if !is_sdp(request) {
            self.respond_to(tx, request, 415, Some(leg));
            return;
        } else {
            match SessionDescription::parse(request.body()) {
                Ok(sdp) => Some(sdp),
                Err(_) => {
                    self.respond_to(tx, request, 488, Some(leg));
                    return;
                }
            }
        };
        let body = match &offer {
            Some(offer) => match self.local_answer(leg, offer) {
                Ok(answer) => Some(answer),
                Err(warning) => {
                    self.respond_488(tx, request, leg, warning);
                    return;
                }
            },
            // A re-INVITE without SDP asks for our offer (answer in the ACK);
            // an UPDATE without one is a session refresh.
            None if is_invite => {
                let last = self.leg(leg).and_then(|l| l.sig.last_sdp.clone());
                if let Some(last) = &last {
                    self.note_sdes_offer(leg, last);
                }
                last
            }
            None => None,
        };
        if let Some(offer) = &offer {
            self.note_hold(leg, is_hold(offer));
        }
        let session_config = self.session_config();
        let timers_on = self.timers_on();
        let t = self.ctx.timers;
        let Some(l) = self.leg_mut(leg) else { return };
        l.sig.allows_update |= allows(request, "UPDATE");
        if let Some(d) = l.sig.dialog.as_mut() {
            d.refresh_target(request);
        }
        if let Some(timer) = l.sig.timer.as_mut() {
            timer.refreshed(now);
        }
        let Some(dialog) = l.sig.dialog.as_ref() else {
            return;
        };
        let mut builder = dialog.response(request, 200, "OK", None);
        builder = supported(builder.header(HeaderName::Allow, ALLOW), true, timers_on);
        if let Some(timer) = &l.sig.timer {
            let refresher = if timer.we_refresh { "uas" } else { "uac" };
            builder = builder
                .header(
                    HeaderName::SessionExpires,
                    &format!("{};refresher={refresher}", timer.interval.as_secs()),
                )
                .header(HeaderName::Require, "timer");
        }
        let _ = session_config;
        if let Some(body) = &body {
            builder = builder.body("application/sdp", body);
        }
        let Ok(ok) = builder.build_message() else {
            return;
        };
        if is_invite {
            let seq = request.cseq().map(|c| c.seq).unwrap_or(0);
            l.sig.pending_ok = Some(PendingOk {
                bytes: ok.raw().clone(),
                cseq: seq,
                retransmit: Retransmit::start(now, t.t1, t.t2),
                ack_answer: if offer.is_some() {
                    AckAnswer::None
                } else {
                    AckAnswer::Ours
                },
            });
        }
        self.push(Action::Respond { tx, response: ok });
    }

    /// An ACK from a leg for our 2xx.
    pub(super) fn on_ack(&mut self, now: Instant, ack: &Message) {
        let Some(leg) = self.leg_of(ack) else { return };
        let Ok(cseq) = ack.cseq() else { return };
        let Some(state) = self.sig(leg) else {
            return;
        };
        let Some(pending) = state.pending_ok.take_if(|p| p.cseq == cseq.seq) else {
            return;
        };
        match pending.ack_answer {
            // Late offer: the ACK carries the answer for the linked leg's ACK.
            AckAnswer::Forward(other, seq) => {
                // An ACK's answer cannot be refused: keys in force stay if it must.
                let answer = sdp_of(ack).and_then(|sdp| {
                    let lenient = Exchange::Answer { strict: false };
                    self.anchor_linked(leg, other, Arc::new(sdp), lenient).ok()
                });
                self.ack_leg(other, seq, answer.as_ref());
            }
            AckAnswer::Ours => {
                if let Some(sdp) = sdp_of(ack) {
                    if let Some(ep) = self.leg(leg).and_then(|l| l.endpoint) {
                        self.media.set_remote(ep, &remote_targets(&sdp));
                    }
                    self.take_sdes_answer(leg, &sdp);
                    if let Some(l) = self.leg_mut(leg) {
                        l.remote_sdp = Some(Arc::new(sdp));
                    }
                }
            }
            AckAnswer::None => {}
        }
        if self.sig(leg).is_some_and(|s| s.bye_deferred) {
            self.send_bye(leg);
        }
        self.reconcile(now);
    }

    /// Responses to requests we originated.
    pub(super) fn on_own_response(&mut self, now: Instant, tx: TxId, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        if status < 200 {
            return;
        }
        let Some(own) = self.own.remove(&tx) else {
            return;
        };
        match own {
            Own::Refresh(leg, method) => {
                if method == Method::Invite
                    && let Some(s) = self.sig(leg)
                {
                    s.offering = false;
                }
                if (200..300).contains(&status) {
                    if let Some(d) = self.sig(leg).and_then(|s| s.dialog.as_mut()) {
                        // §12.2.1.2: the 2xx to a refresh is a target refresh;
                        // the ACK goes to the new target.
                        d.refresh_target(response);
                    }
                    // Our last SDP offered again: the peer may answer with a new key.
                    if method == Method::Invite
                        && let Some(answer) = sdp_of(response)
                    {
                        self.take_sdes_answer(leg, &answer);
                    }
                    if method == Method::Invite {
                        let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
                        self.ack_leg(leg, seq, None);
                    }
                    if let Some(t) = self.sig(leg).and_then(|s| s.timer.as_mut()) {
                        t.refreshed(now);
                    }
                } else {
                    if let Some(l) = self.leg_mut(leg) {
                        l.sdes.abandon_offer();
                    }
                    if matches!(status, 481 | 408) {
                        self.hang_up_leg(now, leg, Side::Edge, EndCause::SessionExpired, None);
                    }
                }
                self.reconcile(now);
            }
            Own::Reoffer(leg, sdp) => self.on_reoffer_answer(now, leg, sdp, response),
            // The referrer's subscription is gone: no more NOTIFYs (RFC 6665 §4.1.2.2).
            Own::Notify(leg) if matches!(status, 481 | 408) => {
                if let Some(l) = self.leg_mut(leg) {
                    l.notify_dial = None;
                }
            }
            Own::InfoDigit(leg) => self.info_digit_answered(leg),
            Own::Notify(_) | Own::Bye | Own::Cancel | Own::Stray => {}
        }
    }

    /// One of our own requests got no final response.
    pub(super) fn on_own_failed(&mut self, now: Instant, own: Own) {
        match own {
            Own::Refresh(leg, method) => {
                if method == Method::Invite
                    && let Some(s) = self.sig(leg)
                {
                    s.offering = false;
                }
                // §12.2.1.2: a timed-out request in a dialog ends it.
                self.hang_up_leg(now, leg, Side::Edge, EndCause::SessionExpired, None);
            }
            Own::Reoffer(leg, _) => {
                if let Some(s) = self.sig(leg) {
                    s.offering = false;
                }
                self.hang_up_leg(now, leg, Side::Edge, EndCause::SessionExpired, None);
            }
            Own::InfoDigit(leg) => self.info_digit_answered(leg),
            Own::Notify(_) | Own::Bye | Own::Cancel | Own::Stray => {}
        }
    }

    /// A 2xx whose INVITE transaction is gone: our ACK was lost, or another
    /// fork answered.
    pub(super) fn on_stray_response(&mut self, response: &Message) {
        if !response.status().is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        let Ok(cseq) = response.cseq() else { return };
        let to_tag = response
            .to_header()
            .ok()
            .and_then(|t| t.tag().map(str::to_string));
        if let Some(leg) = self.leg_of(response)
            && let Some(l) = self.leg(leg)
            && l.sig
                .dialog
                .as_ref()
                .is_some_and(|d| Some(d.remote_tag.as_str()) == to_tag.as_deref())
        {
            if let Some(ack) = l.sig.acks.get(cseq.seq) {
                let to = l.sig.in_dialog_peer();
                let bytes = ack.clone();
                self.push(Action::Transmit { to, bytes });
            }
            return;
        }
        // A fork we did not take (§13.2.2.4): ACK and BYE it.
        let Ok(call_id) = response.call_id() else {
            return;
        };
        if let Some((tx, sent)) = self.invites.by_call_id(call_id)
            && sent.invite.cseq().is_ok_and(|c| c.seq == cseq.seq)
        {
            self.bye_stray_answer(tx, response);
        }
    }

    /// Sends a session refresh on `leg` (RFC 4028 §10): UPDATE without a
    /// body when the peer allows it, else a re-INVITE with our last SDP.
    pub(crate) fn send_refresh(&mut self, leg: LegId) {
        let link = self.leg(leg).and_then(|l| l.link);
        let busy = self.leg(leg).is_some_and(|l| l.sig.offering)
            || link
                .and_then(|o| self.leg(o))
                .is_some_and(|o| o.sig.offering);
        if busy {
            // The exchange in progress refreshes the session when it succeeds.
            return;
        }
        let session_config = self.session_config();
        let Some(state) = self.sig(leg) else {
            return;
        };
        let Some(timer) = state.timer else { return };
        let method = if state.allows_update {
            Method::Update
        } else {
            Method::Invite
        };
        let sdp = state.last_sdp.clone();
        let Some(dialog) = state.dialog.as_mut() else {
            return;
        };
        let mut builder = timer
            .refresh_offer(&session_config)
            .add_headers(dialog.request(method.clone()))
            .header(HeaderName::Supported, "100rel, timer")
            .header(HeaderName::Allow, ALLOW);
        if method == Method::Invite
            && let Some(sdp) = &sdp
        {
            builder = builder.body("application/sdp", sdp);
        }
        let Ok(request) = builder.build_message() else {
            return;
        };
        if method == Method::Invite
            && let Some(sdp) = &sdp
        {
            self.note_sdes_offer(leg, sdp);
        }
        let Some(state) = self.sig(leg) else {
            return;
        };
        let to = state.in_dialog_peer();
        let tls_name = state.tls_name.clone();
        let tx = TxId::next();
        if method == Method::Invite {
            // §14.1: no other INVITE on the leg until this one completes;
            // requests that would cross it get 491.
            state.offering = true;
        }
        self.own.insert(tx, Own::Refresh(leg, method));
        self.push(Action::Send {
            tx,
            request,
            to,
            tls_name,
        });
    }
}
