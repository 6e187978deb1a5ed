//! Responses to our B-leg INVITE mapped onto the A-leg: provisionals (early
//! media, reliable provisionals), the answer (SDP anchored, ACK per leg, our
//! 2xx retransmitted until ACK), failures, and transactions that failed.

use super::setup::{a_response, allows, is_sdp, supported};
use super::*;
use crate::control_plane::LegFailure;
use crate::out_of_dialog::ALLOW;
use voxgate_media::anchor::{remote_targets, remote_targets_answered, rewrite};
use voxgate_sip::dialog::Role;
use voxgate_sip::dialog::prack::{requires_100rel, rseq_of};
use voxgate_sip::message::HeaderName;

impl<M: MediaControl> Call<M> {
    /// A response in one of our client transactions.
    pub(super) fn on_response(&mut self, now: Instant, tx: TxId, response: Message) {
        if let Some(relay) = self.relays.remove(&tx) {
            self.on_relayed_response(now, tx, relay, response);
            return;
        }
        if self.own.contains_key(&tx) {
            self.on_own_response(now, tx, &response);
            return;
        }
        let current = self.b.as_ref().is_some_and(|b| b.tx == tx);
        if current {
            self.on_b_invite_response(now, response);
        } else if let Some(sent) = self.invites.get(&tx) {
            // An attempt we gave up on rings or answers after all: take it down.
            match response.status() {
                Some(100..=199) if !sent.cancelled => self.cancel_stray(tx),
                Some(200..=299) => self.bye_stray_answer(tx, &response),
                _ => {}
            }
        }
    }

    fn on_b_invite_response(&mut self, now: Instant, response: Message) {
        let Some(status) = response.status() else {
            return;
        };
        match status {
            100..=199 => self.on_b_provisional(now, status, &response),
            200..=299 => self.on_b_answer(now, &response),
            _ => self.on_b_failure(now, status, &response),
        }
    }

    fn on_b_provisional(&mut self, now: Instant, status: u16, response: &Message) {
        let Some(b) = self.b.as_mut() else { return };
        b.trying_deadline = None;
        b.provisional = true;
        if let CancelState::Pending(why) = b.cancel {
            self.send_cancel(now, why);
            return;
        }
        if status == 100 || matches!(b.cancel, CancelState::Sent(_)) {
            return;
        }
        if response.to_header().is_ok_and(|t| t.tag().is_some()) && b.state.dialog.is_none() {
            b.state.dialog = Dialog::uac(&b.invite, response, b.state.local.clone()).ok();
        }
        let a_final = self.a.as_ref().is_none_or(|a| a.final_sent);
        if a_final {
            return;
        }
        // Early media: a 183 (or 180) with SDP is anchored like an answer.
        let sdp = self.answer_sdp(Leg::B, response);
        let early_media = sdp.is_some();
        let reliable =
            requires_100rel(response) && self.a.as_ref().is_some_and(|a| a.supports_100rel);
        let b_rseq = rseq_of(response).ok().flatten();
        let Some(a) = self.a.as_mut() else { return };
        let reason = response
            .reason()
            .unwrap_or_else(|| default_reason(status))
            .to_string();
        let mut builder = a_response(a, status, &reason);
        if reliable && let Some(b_rseq) = b_rseq {
            // B retransmits a reliable provisional until its PRACK: relay the
            // retransmission under the RSeq A already has, or A would PRACK it
            // again and B answer that second PRACK with 481.
            let ours = match a.rseq_map.iter().find(|(_, theirs)| *theirs == b_rseq) {
                Some((ours, _)) => *ours,
                None => {
                    let ours = a.rseq.next_value();
                    a.rseq_map.push((ours, b_rseq));
                    ours
                }
            };
            builder = builder
                .header(HeaderName::Require, "100rel")
                .header(HeaderName::RSeq, &ours.to_string());
        }
        if let Some(sdp) = &sdp {
            builder = builder.body("application/sdp", sdp);
            a.state.last_sdp = Some(sdp.clone());
        }
        let leg = self.leg_id(Leg::B);
        if let Ok(msg) = builder.build_message() {
            let tx = self.a.as_ref().map(|a| a.tx);
            if let Some(tx) = tx {
                self.push(CallAction::Respond { tx, response: msg });
            }
        }
        self.event(CallEvent::Ringing { leg, early_media });
    }

    /// The SDP of a response from `from` (answer or late offer), anchored and
    /// rewritten for the other leg; None when the response has none.
    pub(crate) fn answer_sdp(&mut self, from: Leg, response: &Message) -> Option<Bytes> {
        if response.body().is_empty() || !is_sdp(response) {
            return None;
        }
        let sdp = SessionDescription::parse(response.body()).ok()?;
        self.anchor_sdp(from, &sdp)
    }

    /// Records `sdp` as what `from`'s peer receives on and returns it
    /// rewritten for the other leg (opening the relay if needed).
    pub(crate) fn anchor_sdp(&mut self, from: Leg, sdp: &SessionDescription) -> Option<Bytes> {
        if !self.media.is_open() {
            let region_a = self.trunk_region(Some(&self.ctx.trunk));
            let dest_trunk = self.b.as_ref().and_then(|b| b.destination.trunk.clone());
            let region_b = self.trunk_region(dest_trunk.as_ref());
            self.media
                .open(&region_a, &region_b, sdp.media().len())
                .ok()?;
        }
        self.media
            .set_remote(from.media_side(), &remote_targets(sdp));
        // The offerer's rtcp-mux only holds where the answer accepted it (RFC 5761).
        if from == Leg::B
            && let Some(offer) = self.a.as_ref().and_then(|a| a.offer.as_ref())
            && self.b.as_ref().is_some_and(|b| b.offered)
        {
            self.media
                .set_remote(voxgate_media::Side::A, &remote_targets_answered(offer, sdp));
        }
        let to = from.other();
        let local = self.media.local(to.media_side());
        let leg = self.leg_state(to)?;
        let out = Bytes::from(rewrite(sdp, &local, &mut leg.origin).to_bytes());
        leg.last_sdp = Some(out.clone());
        Some(out)
    }

    fn on_b_answer(&mut self, now: Instant, response: &Message) {
        let Some(b) = self.b.as_mut() else { return };
        if b.answered {
            // A retransmitted 2xx: our ACK was lost.
            if let Some((_, ack)) = &b.state.last_ack {
                let to = b.state.peer;
                let bytes = ack.clone();
                self.push(CallAction::Transmit { to, bytes });
            }
            return;
        }
        if b.done {
            return;
        }
        let dialog = Dialog::uac(&b.invite, response, b.state.local.clone());
        let Ok(mut dialog) = dialog else {
            // No Contact or To tag: a 2xx we can neither ACK nor BYE in a
            // dialog. Fail the call rather than leave A ringing for ever.
            b.complete();
            self.fail_call(
                now,
                502,
                "Bad Gateway",
                Side::Callee,
                EndCause::Rejected(502),
            );
            return;
        };
        b.answered = true;
        b.trying_deadline = None;
        b.ring_deadline = None;
        b.cancel_deadline = None;
        let cancelled = matches!(
            b.cancel,
            CancelState::Sent(CancelWhy::CallOver) | CancelState::Pending(CancelWhy::CallOver)
        );
        let invite_seq = b.invite.cseq().map(|c| c.seq).unwrap_or(1);
        b.state.allows_update = allows(response, "UPDATE");
        if let Some(offer) = &b.session
            && let Ok(n) = offer.negotiate(response)
        {
            b.state.timer = Some(n.timer(Role::Uac, now));
        }
        if cancelled {
            // The 2xx crossed our CANCEL: confirm and hang up at once (§9.1, §15).
            let ack = dialog.ack(invite_seq).build();
            let to = b.state.peer;
            let tls_name = b.state.tls_name.clone();
            let bye = dialog.request(Method::Bye).build_message();
            b.state.dialog = Some(dialog);
            b.cancel = CancelState::None;
            self.push(CallAction::Transmit { to, bytes: ack });
            if let Ok(bye) = bye {
                let tx = TxId::next();
                self.own.insert(tx, Own::Bye);
                self.push(CallAction::Send {
                    tx,
                    request: bye,
                    to,
                    tls_name,
                });
            }
            return;
        }
        let offered = b.offered;
        b.state.dialog = Some(dialog);
        let leg = self.leg_id(Leg::B);
        // With an offer in our INVITE the 2xx carries the answer: ACK now.
        // With a late offer, the ACK must carry A's answer: it waits for A's ACK.
        let sdp = self.answer_sdp(Leg::B, response);
        if offered {
            self.ack_leg(Leg::B, invite_seq, None);
        }
        let timers = self.timers_on();
        let Some(a) = self.a.as_mut() else { return };
        let builder = a_response(a, 200, "OK").header(HeaderName::Allow, ALLOW);
        let mut builder = supported(builder, true, timers);
        if let Some(n) = &a.session {
            builder = n.add_headers(builder);
            a.state.timer = Some(n.timer(Role::Uas, now));
        }
        if let Some(sdp) = &sdp {
            builder = builder.body("application/sdp", sdp);
        }
        let Ok(ok) = builder.build_message() else {
            return;
        };
        let a_seq = a.invite.cseq().map(|c| c.seq).unwrap_or(1);
        a.final_sent = true;
        a.state.dialog = Dialog::uas(&a.invite, &a.tag, a.state.local.clone()).ok();
        a.state.pending_ok = Some(PendingOk {
            bytes: ok.raw().clone(),
            cseq: a_seq,
            retransmit: Retransmit::start(now, self.ctx.timers.t1, self.ctx.timers.t2),
            forward_answer: (!offered).then_some(invite_seq),
        });
        let tx = a.tx;
        self.push(CallAction::Respond { tx, response: ok });
        self.phase = Phase::Answered;
        self.timeline.answer = Some(now);
        self.event(CallEvent::Answered { leg });
    }

    fn on_b_failure(&mut self, now: Instant, status: u16, response: &Message) {
        let Some(b) = self.b.as_mut() else { return };
        b.complete();
        let cancel = b.cancel;
        b.cancel = CancelState::None;
        let leg = self.leg_id(Leg::B);
        match cancel {
            CancelState::Sent(CancelWhy::CallOver) | CancelState::Pending(CancelWhy::CallOver) => {
                return;
            }
            CancelState::Sent(CancelWhy::RingTimeout)
            | CancelState::Pending(CancelWhy::RingTimeout) => {
                self.event(CallEvent::LegFailed {
                    leg,
                    failure: LegFailure::Timeout,
                });
                self.last_status = Some(480);
                self.next_attempt(now);
                return;
            }
            CancelState::None => {}
        }
        self.event(CallEvent::LegFailed {
            leg,
            failure: LegFailure::Status(status),
        });
        if (300..400).contains(&status) {
            if self.follow_redirects {
                let transport = self
                    .b
                    .as_ref()
                    .map(|b| b.destination.transport)
                    .unwrap_or(TransportKind::Udp);
                let trunk = self.b.as_ref().and_then(|b| b.destination.trunk.clone());
                let mut targets: Vec<Destination> = response
                    .contacts()
                    .filter_map(Result::ok)
                    .map(|c| Destination {
                        uri: c.uri.to_string(),
                        transport,
                        trunk: trunk.clone(),
                    })
                    .collect();
                targets.reverse();
                for t in targets {
                    self.destinations.push_front(t);
                }
                self.last_status = Some(480);
                self.next_attempt(now);
            } else {
                // Redirections are not followed: their Contact would leak the far side.
                self.fail_call(
                    now,
                    480,
                    "Temporarily Unavailable",
                    Side::Callee,
                    EndCause::Rejected(status),
                );
            }
            return;
        }
        let retry_next = status == 408 || (500..600).contains(&status);
        if retry_next && !self.destinations.is_empty() {
            self.last_status = Some(upstream_status(status));
            self.next_attempt(now);
            return;
        }
        let mapped = upstream_status(status);
        let reason = if mapped != status {
            default_reason(mapped).to_string()
        } else {
            response
                .reason()
                .unwrap_or_else(|| default_reason(status))
                .to_string()
        };
        self.fail_call(
            now,
            mapped,
            &reason,
            Side::Callee,
            EndCause::Rejected(mapped),
        );
    }

    /// One of our client transactions got no final response.
    pub(super) fn on_tx_failed(&mut self, now: Instant, tx: TxId, failure: TxFailure) {
        if let Some(relay) = self.relays.remove(&tx) {
            self.on_relay_failed(now, relay, failure);
            return;
        }
        if let Some(own) = self.own.remove(&tx) {
            if let Own::Refresh(_, method) = own {
                if method == Method::Invite {
                    self.offer_in_progress = false;
                }
                // §12.2.1.2: a timed-out request in a dialog ends it.
                self.hang_up(now, Side::Edge, EndCause::SessionExpired);
            }
            return;
        }
        let current = self
            .b
            .as_ref()
            .is_some_and(|b| b.tx == tx && !b.answered && !b.done);
        if !current {
            return;
        }
        if let Some(b) = self.b.as_mut() {
            b.complete();
        }
        let cancel = self
            .b
            .as_ref()
            .map(|b| b.cancel)
            .unwrap_or(CancelState::None);
        if matches!(
            cancel,
            CancelState::Sent(CancelWhy::CallOver) | CancelState::Pending(CancelWhy::CallOver)
        ) {
            if let Some(b) = self.b.as_mut() {
                b.cancel = CancelState::None;
            }
            return;
        }
        let leg = self.leg_id(Leg::B);
        let failure = match failure {
            TxFailure::Timeout => LegFailure::Timeout,
            TxFailure::Transport => LegFailure::Transport,
        };
        self.event(CallEvent::LegFailed { leg, failure });
        self.last_status = Some(if failure == LegFailure::Timeout {
            408
        } else {
            480
        });
        self.next_attempt(now);
    }
}

/// The status a destination's final failure becomes toward the caller. §16.7
/// spirit: a downstream 503 is not passed upstream as 503, which would make
/// the carrier fail over to our other node for nothing; a 503 to the caller
/// means this node is unavailable.
fn upstream_status(status: u16) -> u16 {
    if status == 503 { 500 } else { status }
}
