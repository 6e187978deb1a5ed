//! Ending a call or an attempt: CANCEL (ours and the caller's), final
//! responses to the caller, BYE, and the stray answers of abandoned attempts.

use super::*;
use voxgate_sip::message::{HeaderName, cancel_for, response_to};

impl<M: MediaControl> Call<M> {
    /// The caller's CANCEL.
    pub(super) fn on_cancel(&mut self, now: Instant, tx: TxId, request: &Message) {
        let ok = response_to(
            request,
            200,
            "OK",
            self.a.as_ref().map(|a| a.tag.as_str()),
            None,
        )
        .build_message();
        if let Ok(ok) = ok {
            self.push(CallAction::Respond { tx, response: ok });
        }
        if self.a.as_ref().is_none_or(|a| a.final_sent) {
            return;
        }
        self.reject_a(now, 487, "Request Terminated", None);
        self.decide(now, Side::Caller, EndCause::Cancelled, Some(487));
        self.cancel_b(now, CancelWhy::CallOver);
    }

    /// Cancels the current B attempt if it is still pending.
    pub(crate) fn cancel_b(&mut self, now: Instant, why: CancelWhy) {
        let Some(b) = self.b.as_mut() else { return };
        if b.answered || b.done {
            // Its INVITE is complete: there is nothing to cancel.
            return;
        }
        match b.cancel {
            CancelState::Sent(_) => {
                // One CANCEL is enough; but the call being over outranks the
                // ring timeout, so that the attempt's end starts no other.
                if why == CancelWhy::CallOver {
                    b.cancel = CancelState::Sent(why);
                }
                return;
            }
            CancelState::Pending(CancelWhy::CallOver) => return,
            CancelState::Pending(CancelWhy::RingTimeout) | CancelState::None => {}
        }
        if b.provisional {
            self.send_cancel(now, why);
        } else {
            // §9.1: no CANCEL before a provisional; send it when one comes.
            b.cancel = CancelState::Pending(why);
            b.trying_deadline = None;
            b.ring_deadline = None;
        }
    }

    pub(super) fn send_cancel(&mut self, now: Instant, why: CancelWhy) {
        let Some(b) = self.b.as_mut() else { return };
        b.cancel = CancelState::Sent(why);
        b.ring_deadline = None;
        b.cancel_deadline = Some(now + self.ctx.timers.t1 * 64);
        let Ok(bytes) = cancel_for(&b.invite) else {
            return;
        };
        let Ok(cancel) = Message::parse(bytes, &voxgate_sip::message::Limits::default()) else {
            return;
        };
        let tx = TxId::next();
        let to = b.state.peer;
        let tls_name = b.state.tls_name.clone();
        self.own.insert(tx, Own::Cancel);
        self.push(CallAction::Send {
            tx,
            request: cancel,
            to,
            tls_name,
        });
    }

    /// Answers the INVITE on A with a final non-2xx.
    pub(crate) fn reject_a(
        &mut self,
        _now: Instant,
        status: u16,
        reason: &str,
        extra: Option<(HeaderName, &str)>,
    ) {
        let Some(a) = self.a.as_mut() else { return };
        if a.final_sent {
            return;
        }
        a.final_sent = true;
        let mut builder = response_to(
            &a.invite,
            status,
            reason,
            Some(&a.tag),
            Some(a.state.peer.addr),
        );
        // A 503 here is always our own (no media ports, shutting down: a
        // downstream one is mapped, see `upstream_status`): say when to come
        // back, so a carrier retries later rather than at once (§21.5.4).
        let extra = extra.or((status == 503).then_some((HeaderName::RetryAfter, "5")));
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        if let Ok(response) = builder.build_message() {
            let tx = a.tx;
            self.push(CallAction::Respond { tx, response });
        }
    }

    /// Ends a call that was not answered: final status to A, B cancelled.
    pub(crate) fn fail_call(
        &mut self,
        now: Instant,
        status: u16,
        reason: &str,
        side: Side,
        cause: EndCause,
    ) {
        self.reject_a(now, status, reason, None);
        self.decide(now, side, cause, Some(status));
        self.cancel_b(now, CancelWhy::CallOver);
    }

    /// Ends the call from any state.
    pub(crate) fn hang_up(&mut self, now: Instant, side: Side, cause: EndCause) {
        match self.phase {
            Phase::Routing | Phase::Connecting => {
                let status = if cause == EndCause::Shutdown {
                    503
                } else {
                    480
                };
                self.fail_call(now, status, default_reason(status), side, cause);
            }
            Phase::Answered | Phase::Confirmed => {
                self.decide(now, side, cause, None);
                self.ack_late_offers();
                self.send_bye(Leg::A);
                self.send_bye(Leg::B);
            }
            Phase::Ending | Phase::Ended => {}
        }
    }

    /// BYE on a leg that has a confirmed dialog.
    pub(crate) fn send_bye(&mut self, leg: Leg) {
        let initial_unacked = leg == Leg::A
            && self.a.as_ref().is_some_and(|a| {
                let seq = a.invite.cseq().map(|c| c.seq).ok();
                a.state
                    .pending_ok
                    .as_ref()
                    .is_some_and(|p| Some(p.cseq) == seq)
            });
        let Some(state) = self.leg_state(leg) else {
            return;
        };
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
        let Ok(bye) = dialog.request(Method::Bye).build_message() else {
            return;
        };
        let to = state.peer;
        let tls_name = state.tls_name.clone();
        state.pending_ok = None;
        state.timer = None;
        let tx = TxId::next();
        self.own.insert(tx, Own::Bye);
        self.push(CallAction::Send {
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
        let Ok(cancel) = Message::parse(bytes, &voxgate_sip::message::Limits::default()) else {
            return;
        };
        let cancel_tx = TxId::next();
        self.own.insert(cancel_tx, Own::Stray);
        self.push(CallAction::Send {
            tx: cancel_tx,
            request: cancel,
            to,
            tls_name,
        });
    }

    /// ACK and BYE for a late 2xx of an attempt we gave up on; only the ACK
    /// again for its retransmissions.
    pub(super) fn bye_stray_answer(&mut self, tx: TxId, response: &Message) {
        let Some(sent) = self.invites.get(&tx) else {
            return;
        };
        let to = sent.to;
        if let Some(ack) = sent.ack.clone() {
            self.push(CallAction::Transmit { to, bytes: ack });
            return;
        }
        let tls_name = sent.tls_name.clone();
        let Some(local) = self.ctx.locals.get(to.transport).cloned() else {
            return;
        };
        let Ok(mut dialog) = Dialog::uac(&sent.invite, response, local) else {
            return;
        };
        let seq = sent.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let ack = dialog.ack(seq).build();
        if let Some(sent) = self.invites.get_mut(&tx) {
            sent.ack = Some(ack.clone());
        }
        self.push(CallAction::Transmit { to, bytes: ack });
        if let Ok(bye) = dialog.request(Method::Bye).build_message() {
            let bye_tx = TxId::next();
            self.own.insert(bye_tx, Own::Stray);
            self.push(CallAction::Send {
                tx: bye_tx,
                request: bye,
                to,
                tls_name,
            });
        }
    }

    /// Before a BYE: a 2xx whose ACK waits for the other leg's answer (late
    /// offer) gets its ACK now, without one; every 2xx is ACKed (§13.2.2.4).
    pub(crate) fn ack_late_offers(&mut self) {
        for leg in [Leg::A, Leg::B] {
            let seq = self
                .leg_state(leg)
                .and_then(|s| s.pending_ok.as_mut())
                .and_then(|p| p.forward_answer.take());
            if let Some(seq) = seq {
                self.ack_leg(leg.other(), seq, None);
            }
        }
    }

    /// ACK for the 2xx to our INVITE with CSeq `seq` on `leg`, optionally with the answer.
    pub(crate) fn ack_leg(&mut self, leg: Leg, seq: u32, sdp: Option<&Bytes>) {
        let Some(state) = self.leg_state(leg) else {
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
        state.last_ack = Some((seq, bytes.clone()));
        let to = state.peer;
        self.push(CallAction::Transmit { to, bytes });
    }
}
