//! Ending legs: hang-ups on command or from the edge, CANCEL of outbound
//! legs, BYE, the end of a leg (its media released at once, its bridge
//! split, its linked partner ended too), ACKs for 2xx, and the stray answers
//! of attempts we gave up on or forks we did not take.

use super::leg::{AckAnswer, CancelState, CancelWhy};
use super::*;
use voxgate_sip::message::{Limits, cancel_for};

impl<M: MediaControl> Conversation<M> {
    /// Marks `leg` ended: `LegEnded`, its media released, its bridge split,
    /// its linked partner hung up too, dials waiting to connect to it
    /// cancelled.
    pub(crate) fn end_leg(
        &mut self,
        now: Instant,
        leg: LegId,
        side: Side,
        cause: EndCause,
        status: Option<u16>,
    ) {
        let Some(l) = self.leg_mut(leg) else { return };
        if l.ended.is_some() {
            return;
        }
        l.ended = Some((side, cause));
        let answered = l.answered_at.is_some();
        let link = l.link.take();
        let bridged = l.bridge;
        self.event(Event::LegEnded { leg, side, cause });
        self.note_end(side, cause, if answered { None } else { status });
        self.release_leg(leg);
        if let Some(other) = link {
            if let Some(o) = self.leg_mut(other) {
                o.link = None;
            }
            // One end of a linked pair ends the other (the classic B2BUA).
            self.hang_up_leg(now, other, side, cause, status);
        } else if let Some(other) = bridged
            && self.control_gone
        {
            // Nobody will rebridge the partner: it ends as a linked one would,
            // for the same reason (say, the caller hung up), not as an orphan.
            self.hang_up_leg(now, other, side, cause, status);
        }
        self.abandon_dials_for(now, leg);
        self.orphans(now);
    }

    /// Marks an outbound leg that never answered as over (`LegFailed` is
    /// the caller's to emit): media released, early bridge split.
    pub(crate) fn end_leg_quietly(&mut self, _now: Instant, leg: LegId, failure: LegFailure) {
        let Some(l) = self.leg_mut(leg) else { return };
        if l.ended.is_some() {
            return;
        }
        let cause = match failure {
            LegFailure::Status(s) => EndCause::Rejected(s),
            LegFailure::Cancelled => EndCause::Cancelled,
            _ => EndCause::Rejected(480),
        };
        // voxgate's own failures (no ports, an unusable destination) are
        // not the callee's.
        let side = match failure {
            LegFailure::NoMedia | LegFailure::BadDestination => Side::Edge,
            _ => Side::Callee,
        };
        l.ended = Some((side, cause));
        let dial = l.outbound().map(|o| o.dial);
        if let Some(d) = dial.and_then(|d| self.dial_mut(d))
            && d.early == Some(leg)
        {
            d.early = None;
        }
        self.release_leg(leg);
    }

    /// Gives a leg's media back and splits its bridge.
    fn release_leg(&mut self, leg: LegId) {
        self.media_closing(leg);
        let Some(l) = self.leg_mut(leg) else { return };
        let bridge = l.bridge.take();
        let member = l.conference.take();
        let ep = l.endpoint.take();
        l.resume_to = None;
        l.rejoin = None;
        if let Some(ep) = ep {
            let stats = self.media.media_stats(ep);
            if let Some(l) = self.leg_mut(leg) {
                l.media_stats = stats;
            }
            self.media.remove_endpoint(ep);
        }
        for other in self.legs.iter_mut() {
            if other.resume_to == Some(leg) {
                other.resume_to = None;
            }
        }
        if let Some(m) = member {
            // Its endpoint is gone, and with it its place in the mixer.
            self.event(Event::ConferenceLeft {
                conference: m.id,
                leg,
            });
        }
        if let Some(other) = bridge {
            let live = self.leg(other).is_some_and(Leg::is_live);
            if let Some(o) = self.leg_mut(other) {
                o.bridge = None;
            }
            if live && self.leg(other).is_some_and(|o| o.link.is_none()) {
                self.event(Event::Unbridged { a: leg, b: other });
            }
        }
    }

    /// Dials that were to connect to `leg` have nobody to connect to.
    fn abandon_dials_for(&mut self, now: Instant, leg: LegId) {
        let dials: Vec<DialId> = self
            .dials
            .iter()
            .filter(|d| !d.done && d.connect == Some(leg))
            .map(|d| d.id)
            .collect();
        for id in dials {
            self.abandon_dial(now, id);
        }
    }

    /// Stops a dial: its pending destinations dropped, its ringing legs cancelled.
    pub(crate) fn abandon_dial(&mut self, now: Instant, id: DialId) {
        let Some(d) = self.dial_mut(id) else { return };
        d.done = true;
        d.pending.clear();
        let legs = d.legs.clone();
        for leg in legs {
            let ringing = self
                .leg(leg)
                .is_some_and(|l| l.is_live() && l.outbound().is_some_and(|o| o.pending()));
            if ringing {
                self.cancel_out(now, leg, CancelWhy::Over);
                self.end_leg_quietly(now, leg, LegFailure::Cancelled);
                self.event(Event::LegFailed {
                    leg,
                    failure: LegFailure::Cancelled,
                });
            }
        }
    }

    /// Without a control plane, a leg that no bridge (or conference with
    /// another leg) carries has nobody to decide for it: hang it up.
    fn orphans(&mut self, now: Instant) {
        if !self.control_gone || self.phase != Phase::Active {
            return;
        }
        let dialing = |c: &Self, leg: LegId| {
            c.dials
                .iter()
                .any(|d| !d.done && (d.connect == Some(leg) || d.legs.contains(&leg)))
        };
        let orphans: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| {
                l.is_live()
                    && l.bridge.is_none()
                    && l.link.is_none()
                    && !self.in_shared_conference(l)
            })
            .map(|l| l.id)
            .filter(|id| !dialing(self, *id))
            .collect();
        for leg in orphans {
            self.hang_up_leg(now, leg, Side::Edge, EndCause::ControlLost, Some(500));
        }
    }

    /// The control plane dropped its end.
    pub(super) fn on_control_gone(&mut self, now: Instant) {
        if self.control_gone {
            return;
        }
        self.control_gone = true;
        if self.legs.is_empty() && self.phase == Phase::Active {
            self.decide(
                now,
                Outcome {
                    side: Side::Edge,
                    cause: EndCause::ControlLost,
                    status: None,
                },
            );
            return;
        }
        self.orphans(now);
    }

    /// Ends one leg from our side: a final response (inbound, before
    /// answer), CANCEL (outbound, before answer) or BYE.
    pub(crate) fn hang_up_leg(
        &mut self,
        now: Instant,
        leg: LegId,
        side: Side,
        cause: EndCause,
        status: Option<u16>,
    ) {
        let Some(l) = self.leg(leg) else { return };
        if !l.is_live() {
            return;
        }
        let answered = l.answered_at.is_some();
        match &l.dir {
            Dir::In(i) if !i.final_sent => {
                let connecting = i.connecting;
                let status = status.unwrap_or(480);
                self.reject_inbound(leg, status, default_reason(status), None);
                if let Some(d) = connecting {
                    self.abandon_dial(now, d);
                }
                self.end_leg(now, leg, side, cause, Some(status));
            }
            Dir::Out(o) if !answered && o.pending() => {
                self.cancel_out(now, leg, CancelWhy::Over);
                self.end_leg_quietly(now, leg, LegFailure::Cancelled);
                self.event(Event::LegFailed {
                    leg,
                    failure: LegFailure::Cancelled,
                });
            }
            _ => {
                self.ack_late_offers(leg);
                self.send_bye(leg);
                self.end_leg(now, leg, side, cause, None);
            }
        }
    }

    /// Ends every leg and every dial.
    pub(crate) fn hang_up_all(
        &mut self,
        now: Instant,
        side: Side,
        cause: EndCause,
        status: Option<u16>,
    ) {
        let dials: Vec<DialId> = self
            .dials
            .iter()
            .filter(|d| !d.done)
            .map(|d| d.id)
            .collect();
        for d in dials {
            self.abandon_dial(now, d);
        }
        let legs: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.is_live())
            .map(|l| l.id)
            .collect();
        for leg in legs {
            self.hang_up_leg(now, leg, side, cause, status);
        }
        if self.phase == Phase::Active {
            self.decide(
                now,
                Outcome {
                    side,
                    cause,
                    status: self.last_end.and_then(|e| e.status),
                },
            );
        }
    }

    /// Cancels an outbound leg if its INVITE is still pending.
    pub(crate) fn cancel_out(&mut self, now: Instant, leg: LegId, why: CancelWhy) {
        let Some(out) = self.leg_mut(leg).and_then(Leg::outbound_mut) else {
            return;
        };
        if !out.pending() {
            // Its INVITE is complete: there is nothing to cancel.
            return;
        }
        match out.cancel {
            CancelState::Sent(_) => {
                // One CANCEL is enough; but the leg being over outranks the
                // ring timeout, so that its end starts no other attempt.
                if why == CancelWhy::Over {
                    out.cancel = CancelState::Sent(why);
                }
                return;
            }
            CancelState::Pending(CancelWhy::Over) => return,
            CancelState::Pending(CancelWhy::RingTimeout) | CancelState::None => {}
        }
        if out.provisional {
            self.send_cancel(now, leg, why);
        } else {
            // §9.1: no CANCEL before a provisional; send it when one comes.
            out.cancel = CancelState::Pending(why);
            out.trying_deadline = None;
            out.ring_deadline = None;
        }
    }

    pub(super) fn send_cancel(&mut self, now: Instant, leg: LegId, why: CancelWhy) {
        let t1 = self.ctx.timers.t1;
        let Some(l) = self.leg_mut(leg) else { return };
        let to = l.sig.peer;
        let tls_name = l.sig.tls_name.clone();
        let Some(out) = l.outbound_mut() else { return };
        out.cancel = CancelState::Sent(why);
        out.ring_deadline = None;
        out.cancel_deadline = Some(now + t1 * 64);
        let Ok(bytes) = cancel_for(&out.invite) else {
            return;
        };
        let Ok(cancel) = Message::parse(bytes, &Limits::default()) else {
            return;
        };
        let tx = TxId::next();
        self.own.insert(tx, Own::Cancel);
        self.push(Action::Send {
            tx,
            request: cancel,
            to,
            tls_name,
        });
    }

    /// BYE on a leg that has a confirmed dialog.
    pub(crate) fn send_bye(&mut self, leg: LegId) {
        let carried = self
            .bye_headers
            .take_if(|(to, _)| *to == leg)
            .map(|(_, c)| c)
            .unwrap_or_default();
        let Some(l) = self.leg_mut(leg) else { return };
        let initial_unacked = l.inbound().is_some_and(|i| {
            let seq = i.invite.cseq().map(|c| c.seq).ok();
            l.sig
                .pending_ok
                .as_ref()
                .is_some_and(|p| Some(p.cseq) == seq)
        });
        let state = &mut l.sig;
        if initial_unacked {
            // §15: the callee side sends no BYE before the ACK of its 2xx
            // (or until its retransmissions give up); the 2xx goes on.
            state.bye_deferred = true;
            state.timer = None;
            return;
        }
        state.bye_deferred = false;
        let Some(dialog) = state.dialog.as_mut() else {
            return;
        };
        let mut builder = dialog.request(Method::Bye);
        for (name, value) in &carried {
            builder = builder.header_raw(name, value);
        }
        let Ok(bye) = builder.build_message() else {
            return;
        };
        let to = state.in_dialog_peer();
        let tls_name = state.tls_name.clone();
        // A 2xx to a re-INVITE goes on until its ACK (§13.3.1.4): the peer's
        // client transaction has no other way to end.
        state.timer = None;
        let tx = TxId::next();
        self.own.insert(tx, Own::Bye);
        self.push(Action::Send {
            tx,
            request: bye,
            to,
            tls_name,
        });
    }

    /// CANCEL for a late provisional of an attempt we gave up on.
    pub(super) fn cancel_stray(&mut self, tx: TxId) {
        let Some(sent) = self.invites.get_mut(&tx) else {
            return;
        };
        sent.cancelled = true;
        let to = sent.to;
        let tls_name = sent.tls_name.clone();
        let Ok(bytes) = cancel_for(&sent.invite) else {
            return;
        };
        let Ok(cancel) = Message::parse(bytes, &Limits::default()) else {
            return;
        };
        let cancel_tx = TxId::next();
        self.own.insert(cancel_tx, Own::Stray);
        self.push(Action::Send {
            tx: cancel_tx,
            request: cancel,
            to,
            tls_name,
        });
    }

    /// ACK and BYE for a 2xx nobody takes (an attempt we gave up on, a fork
    /// after the winner); only the ACK again for its retransmissions.
    pub(super) fn bye_stray_answer(&mut self, tx: TxId, response: &Message) {
        let Some(sent) = self.invites.get(&tx) else {
            return;
        };
        let to = sent.to;
        let tag = response
            .to_header()
            .ok()
            .and_then(|t| t.tag().map(str::to_string))
            .unwrap_or_default();
        if let Some((_, ack)) = sent.acks.iter().find(|(t, _)| *t == tag) {
            let bytes = ack.clone();
            self.push(Action::Transmit { to, bytes });
            return;
        }
        let tls_name = sent.tls_name.clone();
        let Some(local) = self.ctx.locals.for_peer(&to).cloned() else {
            return;
        };
        let Ok(mut dialog) = Dialog::uac(&sent.invite, response, local) else {
            return;
        };
        let seq = sent.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let ack = dialog.ack(seq).build();
        if let Some(sent) = self.invites.get_mut(&tx) {
            sent.acks.push((tag, ack.clone()));
        }
        self.push(Action::Transmit { to, bytes: ack });
        if let Ok(bye) = dialog.request(Method::Bye).build_message() {
            let bye_tx = TxId::next();
            self.own.insert(bye_tx, Own::Stray);
            self.push(Action::Send {
                tx: bye_tx,
                request: bye,
                to,
                tls_name,
            });
        }
    }

    /// Before a BYE on `leg`: a 2xx whose ACK waits for a linked leg's
    /// answer (late offer) gets its ACK now, without one; every 2xx is
    /// ACKed (§13.2.2.4).
    pub(crate) fn ack_late_offers(&mut self, leg: LegId) {
        let mut owed = Vec::new();
        for l in &mut self.legs {
            let Some(p) = l.sig.pending_ok.as_mut() else {
                continue;
            };
            if let AckAnswer::Forward(other, seq) = p.ack_answer
                && (l.id == leg || other == leg)
            {
                p.ack_answer = AckAnswer::None;
                owed.push((other, seq));
            }
        }
        for (other, seq) in owed {
            self.ack_leg(other, seq, None);
        }
    }

    /// ACK for the 2xx to our INVITE with CSeq `seq` on `leg`, optionally with the answer.
    pub(crate) fn ack_leg(&mut self, leg: LegId, seq: u32, sdp: Option<&Bytes>) {
        let Some(state) = self.sig(leg) else {
            return;
        };
        let Some(dialog) = state.dialog.as_ref() else {
            return;
        };
        let mut builder = dialog.ack(seq);
        if let Some(sdp) = sdp {
            builder = builder.body("application/sdp", sdp);
        }
        let bytes = builder.build();
        state.acks.insert(seq, bytes.clone());
        let to = state.in_dialog_peer();
        self.push(Action::Transmit { to, bytes });
    }
}
