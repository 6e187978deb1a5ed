//! Responses to our outbound INVITEs: provisionals (passed to a linked
//! inbound leg with its early media and reliable provisionals), the answer
//! (the dial's winner: linked, bridged or left alone; the other legs of a
//! parallel dial cancelled; a forked or late 2xx ACKed and BYEd), failures
//! (the dial goes on), and transactions that failed.

use super::inbound::{allows, invite_response, sdp_of};
use super::leg::{AckAnswer, CancelState, CancelWhy};
use super::srtp::{AnchorError, Exchange};
use super::*;
use crate::conversation::leg::SharedSdp;
use voxgate_media::anchor::{remote_targets, remote_targets_answered, rewrite_owned_then};
use voxgate_media::negotiate;
use voxgate_sip::dialog::Role;
use voxgate_sip::dialog::prack::{requires_100rel, rseq_of};
use voxgate_sip::message::HeaderName;

/// The status a destination's final failure becomes toward the caller. §16.7
/// spirit: a downstream 503 is not passed upstream as 503, which would make
/// the carrier fail over to our other node for nothing; a 503 to the caller
/// means this node is unavailable.
///
/// A 401 or 407 is a challenge to voxgate, which the caller cannot answer
/// (and whose realm and nonce are the carrier's): the caller gets 403.
pub(crate) fn upstream_status(status: u16) -> u16 {
    match status {
        503 => 500,
        401 | 407 => 403,
        _ => status,
    }
}

impl<M: MediaControl> Conversation<M> {
    /// A response in one of our client transactions.
    pub(super) fn on_response(&mut self, now: Instant, tx: TxId, response: Message) {
        if self.answers_challenges && response.status().is_some_and(|s| s >= 200) {
            if matches!(response.status(), Some(401 | 407))
                && self.answer_challenge(now, tx, &response)
            {
                return;
            }
            self.forget_challengeable(tx);
        }
        if let Some(relay) = self.relays.remove(&tx) {
            self.on_relayed_response(now, tx, relay, response);
            return;
        }
        if self.own.contains_key(&tx) {
            self.on_own_response(now, tx, &response);
            return;
        }
        let Some(leg) = self.invites.get(&tx).map(|s| s.leg) else {
            // A 2xx repeated on a re-INVITE we are done with (relayed, or
            // our own): its transaction passes repeats up while Accepted
            // (RFC 6026), and our ACK may have been lost. Answer it as a
            // stray: the dialog's last ACK again (§13.2.2.4).
            self.on_stray_response(&response);
            return;
        };
        let Some(l) = self.leg(leg) else { return };
        let live = l.is_live();
        let Some(out) = l.outbound() else { return };
        let (pending, answered, cancelling) = (
            out.pending(),
            out.answered,
            !matches!(out.cancel, CancelState::None),
        );
        match response.status() {
            Some(100..=199) if pending && (live || cancelling) => {
                self.on_out_provisional(now, leg, &response)
            }
            // An attempt we gave up on rings after all: cancel it.
            Some(100..=199) if !answered && self.invites.get(&tx).is_some_and(|s| !s.cancelled) => {
                self.cancel_stray(tx);
            }
            Some(200..=299) if answered || pending => self.on_out_answer(now, leg, tx, &response),
            // ... or answers after all: ACK and BYE it.
            Some(200..=299) => self.bye_stray_answer(tx, &response),
            Some(300..=699) if pending && live => self.on_out_failure(now, leg, &response),
            Some(300..=699) if pending => {
                // The leg is over already (hung up, cancelled): its INVITE is complete.
                if let Some(out) = self.leg_mut(leg).and_then(Leg::outbound_mut) {
                    out.complete();
                    out.cancel = CancelState::None;
                }
            }
            _ => {}
        }
    }

    fn on_out_provisional(&mut self, now: Instant, leg: LegId, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        let Some(l) = self.leg_mut(leg) else { return };
        let Leg { dir, sig, .. } = l;
        let Dir::Out(out) = dir else { return };
        out.trying_deadline = None;
        out.provisional = true;
        if let CancelState::Pending(why) = out.cancel {
            self.send_cancel(now, leg, why);
            return;
        }
        if status == 100 || matches!(out.cancel, CancelState::Sent(_)) {
            return;
        }
        let dial = out.dial;
        if response.to_header().is_ok_and(|t| t.tag().is_some()) && sig.dialog.is_none() {
            sig.dialog = Dialog::uac(&out.invite, response, sig.local.clone()).ok();
        }
        let (link, connect, early_owner) = match self.dial(dial) {
            Some(d) => (d.link, d.connect, d.early),
            None => (false, None, None),
        };
        let inbound = connect.filter(|_| link);
        let waiting = inbound
            .and_then(|i| self.leg(i))
            .and_then(Leg::inbound)
            .is_some_and(|i| !i.final_sent);
        let Some(inbound) = inbound.filter(|_| waiting) else {
            // Nobody to pass progress to: the control plane hears of it.
            let early_media = sdp_of(response).is_some();
            if early_media {
                self.take_early_sdp(leg, response);
            }
            self.timeline.ringing.get_or_insert(now);
            self.event(Event::LegRinging { leg, early_media });
            return;
        };
        // Early media: a 183 (or 180) with SDP is anchored like an answer;
        // only one leg of a dial can be heard before the answer.
        let may_early = early_owner.is_none_or(|o| o == leg);
        let sdp = if may_early && sdp_of(response).is_some() {
            // An early answer the callee's SRTP policy refuses: no early media.
            self.linked_answer_sdp(leg, inbound, response)
                .inspect_err(|error| {
                    tracing::warn!(%leg, ?error, "early media refused");
                })
                .ok()
        } else {
            None
        };
        if sdp.is_some() {
            if let Some(d) = self.dial_mut(dial) {
                d.early = Some(leg);
            }
            self.media_bridge(inbound, leg);
        }
        let early_media = sdp.is_some();
        let reliable = requires_100rel(response)
            && self
                .leg(inbound)
                .and_then(Leg::inbound)
                .is_some_and(|i| i.supports_100rel);
        let their_rseq = rseq_of(response).ok().flatten();
        let reason = response
            .reason()
            .unwrap_or_else(|| default_reason(status))
            .to_string();
        let carried = self.carried_across(response, leg, inbound);
        let Some(il) = self.leg_mut(inbound) else {
            return;
        };
        let Some(mut builder) = invite_response(il, status, &reason) else {
            return;
        };
        for (name, value) in &carried {
            builder = builder.header_raw(name, value);
        }
        let Some(i) = il.inbound_mut() else { return };
        if reliable && let Some(theirs) = their_rseq {
            // The callee retransmits a reliable provisional until its PRACK:
            // relay the retransmission under the RSeq the caller already has,
            // or it would PRACK it again and the callee answer that with 481.
            let ours = match i
                .rseq_map
                .iter()
                .find(|(_, l, t)| *l == leg && *t == theirs)
            {
                Some((ours, _, _)) => *ours,
                None => {
                    let ours = i.rseq.next_value();
                    i.rseq_map.push((ours, leg, theirs));
                    ours
                }
            };
            builder = builder
                .header(HeaderName::Require, "100rel")
                .header(HeaderName::RSeq, &ours.to_string());
        }
        let tx = i.tx;
        if let Some(sdp) = &sdp {
            builder = builder.body("application/sdp", sdp);
            il.sig.last_sdp = Some(sdp.clone());
        }
        if let Ok(msg) = builder.build_message() {
            self.push(Action::Respond { tx, response: msg });
        }
        self.timeline.ringing.get_or_insert(now);
        self.event(Event::LegRinging { leg, early_media });
    }

    /// Early SDP on a leg nobody waits for: its media is anchored (counted,
    /// not relayed) so it is ready for a bridge.
    fn take_early_sdp(&mut self, leg: LegId, response: &Message) {
        let Some(sdp) = sdp_of(response) else { return };
        if let Some(ep) = self.leg(leg).and_then(|l| l.endpoint) {
            self.media.set_remote(ep, &remote_targets(&sdp));
        }
        let offered = self
            .leg(leg)
            .and_then(Leg::outbound)
            .is_some_and(|o| o.offered);
        if offered {
            self.take_sdes_answer(leg, &sdp);
        }
        if let Some(l) = self.leg_mut(leg) {
            l.remote_sdp = Some(Arc::new(sdp));
        }
    }

    /// The SDP of a response on outbound `from` (answer, or late offer),
    /// anchored and rewritten for the linked inbound leg `to`.
    fn linked_answer_sdp(
        &mut self,
        from: LegId,
        to: LegId,
        response: &Message,
    ) -> Result<Bytes, AnchorError> {
        let sdp = sdp_of(response).ok_or(AnchorError::NoPorts)?;
        // Our INVITE to `from` had an offer: this is its answer; else a late offer.
        let offered = self
            .leg(from)
            .and_then(Leg::outbound)
            .is_none_or(|o| o.offered);
        let exchange = if offered {
            Exchange::Answer { strict: true }
        } else {
            Exchange::Offer
        };
        self.anchor_linked(from, to, Arc::new(sdp), exchange)
    }

    /// Records `sdp` as what `from`'s peer receives on and returns it
    /// rewritten for the linked leg `to` (creating endpoints if needed).
    /// Keys go no further than `from`: `from`'s SRTP policy takes its offer
    /// or answer, and `to` gets our offer or answer under its own policy
    /// (see [`Exchange`]).
    pub(crate) fn anchor_linked(
        &mut self,
        from: LegId,
        to: LegId,
        sdp: SharedSdp,
        exchange: Exchange,
    ) -> Result<Bytes, AnchorError> {
        // The trunks' codecs first, then SRTP on `from`: nothing is
        // anchored for an SDP either refuses.
        let policed = self.police_linked(from, to, &sdp, exchange)?;
        let sender = self.leg_mut(from).ok_or(AnchorError::NoPorts)?;
        let from_keys_changed = match exchange {
            Exchange::Offer => {
                sender.sdes.take_offer(&sdp).map_err(AnchorError::Srtp)?;
                false
            }
            Exchange::Answer { strict } => match sender.sdes.take_answer(&sdp) {
                Ok(changed) => changed,
                Err(e) if strict => return Err(AnchorError::Srtp(e)),
                Err(error) => {
                    tracing::warn!(leg = %from, %error, "SRTP answer refused; the keys in force stay");
                    false
                }
            },
        };
        let lines = sdp.media().len();
        let to_ep = self
            .ensure_endpoint(to, lines, None)
            .ok_or(AnchorError::NoPorts)?;
        let from_ep = self
            .ensure_endpoint(from, lines, sdp.connection())
            .ok_or(AnchorError::NoPorts)?;
        self.media.set_remote(from_ep, &remote_targets(&sdp));
        self.media
            .set_dtls_passthrough(from_ep, negotiate::has_fingerprint(&sdp));
        if from_keys_changed {
            self.install_keys(from);
        }
        // The offerer's rtcp-mux only holds where the answer accepted it (RFC 5761).
        let offered_to_from = self
            .leg(from)
            .and_then(Leg::outbound)
            .is_some_and(|o| o.offered && !o.own_offer);
        if offered_to_from
            && let Some(offer) = self
                .leg(to)
                .and_then(Leg::inbound)
                .and_then(|i| i.offer.clone())
        {
            self.media
                .set_remote(to_ep, &remote_targets_answered(&offer, &sdp));
        }
        if let Some(l) = self.leg_mut(from) {
            l.remote_sdp = Some(Arc::clone(&sdp));
        }
        let local = self.media.local(to_ep);
        let l = self.leg_mut(to).ok_or(AnchorError::NoPorts)?;
        let Leg { sig, sdes, .. } = &mut *l;
        // `rewrite` removed `from`'s keys; `to` gets its own, per its policy.
        let (out, written) =
            rewrite_owned_then(policed, &local, &mut sig.origin, |out| match exchange {
                Exchange::Offer => sdes.write_offer(out).map(|()| false),
                Exchange::Answer { .. } => Ok(sdes.write_answer(out)),
            });
        let to_keys_changed = written.map_err(AnchorError::Srtp)?;
        let out = Bytes::from(out.to_bytes());
        sig.last_sdp = Some(out.clone());
        if to_keys_changed {
            self.install_keys(to);
        }
        Ok(out)
    }

    fn on_out_answer(&mut self, now: Instant, leg: LegId, tx: TxId, response: &Message) {
        let Some(l) = self.leg_mut(leg) else { return };
        let Leg { dir, sig, .. } = l;
        let Dir::Out(out) = dir else { return };
        if out.answered {
            let to_tag = response
                .to_header()
                .ok()
                .and_then(|t| t.tag().map(str::to_string));
            let same = sig
                .dialog
                .as_ref()
                .is_some_and(|d| Some(d.remote_tag.as_str()) == to_tag.as_deref());
            if same {
                // A retransmitted 2xx: our ACK was lost.
                let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
                if let Some(ack) = sig.acks.get(seq) {
                    let to = sig.in_dialog_peer();
                    let bytes = ack.clone();
                    self.push(Action::Transmit { to, bytes });
                }
            } else {
                // Another fork answered too (§13.2.2.4): ACK it and BYE it.
                self.bye_stray_answer(tx, response);
            }
            return;
        }
        let Ok(mut dialog) = Dialog::uac(&out.invite, response, sig.local.clone()) else {
            // No Contact or To tag: a 2xx we can neither ACK nor BYE in a
            // dialog. The attempt fails (502) rather than ringing for ever.
            out.complete();
            self.attempt_failed(now, leg, LegFailure::Status(502), 502);
            return;
        };
        out.answered = true;
        out.trying_deadline = None;
        out.ring_deadline = None;
        out.cancel_deadline = None;
        let over = matches!(
            out.cancel,
            CancelState::Sent(CancelWhy::Over) | CancelState::Pending(CancelWhy::Over)
        );
        let invite_seq = out.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let (dial, offered, own_offer) = (out.dial, out.offered, out.own_offer);
        sig.allows_update = allows(response, "UPDATE");
        if let Some(offer) = &out.session
            && let Ok(n) = offer.negotiate(response)
        {
            sig.timer = Some(n.timer(Role::Uac, now));
        }
        let won = self
            .dial(dial)
            .is_some_and(|d| d.winner.is_none() && !d.done);
        // The callee's SRTP policy must take its answer (or late offer): a
        // required trunk answered in plain RTP fails the attempt like a 488.
        // An answer to our offer on a leg with SRTP off has nothing to check:
        // it is not parsed twice.
        let srtp_off = self
            .leg(leg)
            .is_some_and(|l| l.sdes.policy().mode == voxgate_media::srtp::SrtpMode::Off);
        // A late offer passed on to a linked caller must also leave its
        // trunk a codec: else the same.
        let linked = self.dial(dial).and_then(|d| d.connect.filter(|_| d.link));
        let refused = (!offered || !srtp_off)
            .then(|| sdp_of(response))
            .flatten()
            .and_then(|sdp| {
                let sdes = &self.leg(leg)?.sdes;
                let taken = if offered {
                    sdes.check_answer(&sdp)
                } else {
                    sdes.check_offer(&sdp)
                };
                if let Err(e) = taken {
                    return Some(AnchorError::Srtp(e));
                }
                let to = linked.filter(|_| !offered)?;
                self.police_linked(leg, to, &sdp, Exchange::Offer).err()
            });
        if over || !won || refused.is_some() {
            // The 2xx crossed our CANCEL, or another leg already won, or its
            // SDP cannot be taken: confirm and hang up at once (§9.1, §15).
            let ack = dialog.ack(invite_seq).build();
            let l = self.leg_mut(leg);
            let Some(l) = l else { return };
            let to = l.sig.peer;
            let tls_name = l.sig.tls_name.clone();
            let bye = dialog.request(Method::Bye).build_message();
            l.sig.dialog = Some(dialog);
            if let Some(out) = l.outbound_mut() {
                out.cancel = CancelState::None;
            }
            let was_live = l.is_live();
            self.push(Action::Transmit { to, bytes: ack });
            if let Ok(bye) = bye {
                let tx = TxId::next();
                self.own.insert(tx, Own::Bye);
                self.push(Action::Send {
                    tx,
                    request: bye,
                    to,
                    tls_name,
                });
            }
            match refused {
                Some(error) if was_live && won && !over => {
                    tracing::warn!(%leg, ?error, "answer refused by the trunk's SRTP or codec policy");
                    let warning =
                        (error == AnchorError::NoCodec).then_some(super::codecs::NO_CODEC_WARNING);
                    self.attempt_refused(now, leg, LegFailure::Status(488), 488, warning);
                }
                _ if was_live => {
                    self.end_leg_quietly(now, leg, LegFailure::Cancelled);
                    self.event(Event::LegFailed {
                        leg,
                        failure: LegFailure::Cancelled,
                    });
                }
                _ => {}
            }
            return;
        }
        if let Some(l) = self.leg_mut(leg) {
            l.sig.dialog = Some(dialog);
            l.answered_at = Some(now);
        }
        if let Some(d) = self.dial_mut(dial) {
            d.winner = Some(leg);
            d.done = true;
        }
        // The other legs of the dial are not wanted any more.
        let losers: Vec<LegId> = self
            .dial(dial)
            .map(|d| d.legs.iter().copied().filter(|l| *l != leg).collect())
            .unwrap_or_default();
        for other in losers {
            if self.leg(other).is_some_and(|l| l.is_live()) {
                self.cancel_out(now, other, CancelWhy::Over);
            }
        }
        let (link, connect, notify) = self
            .dial(dial)
            .map_or((false, None, None), |d| (d.link, d.connect, d.notify));
        if self.timeline.answer.is_none() && connect.is_none() {
            // An originated conversation: its first answer.
            self.timeline.answer = Some(now);
        }
        self.event(Event::LegAnswered { leg, early: false });
        match connect {
            Some(inbound) if link => {
                self.answer_linked(now, leg, inbound, response, invite_seq, offered);
            }
            Some(other) => {
                self.take_answer(leg, response, invite_seq, offered, own_offer);
                self.join(now, other, leg);
            }
            None => self.take_answer(leg, response, invite_seq, offered, own_offer),
        }
        if let Some(referrer) = notify {
            self.notify_transfer(referrer, 200, true);
        }
        self.arm_media_check(now);
    }

    /// A 2xx to our own offer (or with a late offer we must answer) on a leg
    /// voxgate is the UA of: remote targets set, ACK sent (with our answer
    /// for a late offer).
    fn take_answer(
        &mut self,
        leg: LegId,
        response: &Message,
        invite_seq: u32,
        offered: bool,
        own_offer: bool,
    ) {
        let sdp = sdp_of(response);
        let ep = self.leg(leg).and_then(|l| l.endpoint);
        let mut ack_sdp = None;
        if let (Some(sdp), Some(ep)) = (&sdp, ep) {
            self.media.set_remote(ep, &remote_targets(sdp));
            if offered {
                self.take_sdes_answer(leg, sdp);
            } else {
                // Late offer: answer it ourselves in the ACK (the leg's SRTP
                // policy took it in `on_out_answer`).
                let caps = self.capabilities(self.leg(leg).and_then(|l| l.trunk.as_ref()));
                let local = self.media.local(ep);
                let mut keys_changed = false;
                if let Some(l) = self.leg_mut(leg)
                    && l.sdes.take_offer(sdp).is_ok()
                {
                    let Leg { sig, sdes, .. } = &mut *l;
                    if let Ok((ans, changed)) = negotiate::answer_then(
                        sdp,
                        &caps,
                        &local,
                        false,
                        None,
                        &mut sig.origin,
                        |a| sdes.write_answer(a),
                    ) {
                        let bytes = Bytes::from(ans.to_bytes());
                        sig.last_sdp = Some(bytes.clone());
                        ack_sdp = Some(bytes);
                        keys_changed = changed;
                    }
                }
                if keys_changed {
                    self.install_keys(leg);
                }
            }
        }
        let _ = own_offer;
        if let Some(l) = self.leg_mut(leg) {
            l.remote_sdp = sdp.map(Arc::new);
        }
        self.ack_leg(leg, invite_seq, ack_sdp.as_ref());
    }

    /// The winner of a linked dial answers the inbound leg: its SDP
    /// rewritten, the two linked and bridged.
    fn answer_linked(
        &mut self,
        now: Instant,
        leg: LegId,
        inbound: LegId,
        response: &Message,
        invite_seq: u32,
        offered: bool,
    ) {
        if let Some(i) = self.leg_mut(inbound).and_then(Leg::inbound_mut) {
            i.connecting = None;
        }
        // With an offer in our INVITE the 2xx carries the answer: ACK now.
        // With a late offer, the ACK must carry the caller's answer: it waits
        // for the caller's ACK.
        // `on_out_answer` checked the callee's SRTP: this does not fail on it.
        let sdp = self.linked_answer_sdp(leg, inbound, response).ok();
        if offered {
            self.ack_leg(leg, invite_seq, None);
        }
        if let Some(a) = self.leg_mut(inbound) {
            a.link = Some(leg);
        }
        if let Some(b) = self.leg_mut(leg) {
            b.link = Some(inbound);
        }
        self.media_bridge(inbound, leg);
        let ack_answer = if offered {
            AckAnswer::None
        } else {
            AckAnswer::Forward(leg, invite_seq)
        };
        let carried = self.carried_across(response, leg, inbound);
        self.send_inbound_ok(now, inbound, sdp, ack_answer, &carried);
    }

    fn on_out_failure(&mut self, now: Instant, leg: LegId, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        let Some(out) = self.leg_mut(leg).and_then(Leg::outbound_mut) else {
            return;
        };
        out.complete();
        let cancel = std::mem::replace(&mut out.cancel, CancelState::None);
        let dial = out.dial;
        match cancel {
            CancelState::Sent(CancelWhy::Over) | CancelState::Pending(CancelWhy::Over) => {
                self.event(Event::LegFailed {
                    leg,
                    failure: LegFailure::Cancelled,
                });
                self.end_leg_quietly(now, leg, LegFailure::Cancelled);
                self.advance_dial(now, dial);
                return;
            }
            CancelState::Sent(CancelWhy::RingTimeout)
            | CancelState::Pending(CancelWhy::RingTimeout) => {
                self.attempt_failed(now, leg, LegFailure::Timeout, 480);
                return;
            }
            CancelState::None => {}
        }
        let parallel = self.dial(dial).is_some_and(|d| d.parallel);
        if (300..400).contains(&status) {
            // Redirections are followed only within configured trunks;
            // otherwise the dial ends with 480 (passing the 3xx on would
            // leak the far side's Contact).
            if !self.follow_redirect(dial, leg, response)
                && let Some(d) = self.dial_mut(dial)
            {
                d.pending.clear();
            }
            self.attempt_failed(now, leg, LegFailure::Status(status), 480);
            return;
        }
        let retry_next = status == 408 || (500..600).contains(&status);
        if !retry_next
            && !parallel
            && let Some(d) = self.dial_mut(dial)
        {
            // Busy, not found, declined...: the dial ends with that answer.
            d.pending.clear();
        }
        if parallel && (600..700).contains(&status) {
            // A global failure ends every branch (RFC 3261 §16.7 spirit).
            let others: Vec<LegId> = self
                .dial(dial)
                .map(|d| d.legs.iter().copied().filter(|l| *l != leg).collect())
                .unwrap_or_default();
            for other in others {
                self.cancel_out(now, other, CancelWhy::Over);
            }
        }
        let mapped = upstream_status(status);
        // The callee's own cause, and what its refusal carries to a linked
        // caller, should this refusal end the call.
        self.pending_q850 = super::q850::of_reason(response);
        if let Some(caller) = self.dial(dial).filter(|d| d.link).and_then(|d| d.connect) {
            self.pending_headers = self.carried_across(response, leg, caller);
        }
        self.attempt_failed(now, leg, LegFailure::Status(status), mapped);
        self.pending_q850 = None;
        self.pending_headers.clear();
        // The caller hears the reason phrase of a status we pass unchanged.
        let _ = response.reason();
    }

    /// One of our client transactions got no final response.
    pub(super) fn on_tx_failed(&mut self, now: Instant, tx: TxId, failure: TxFailure) {
        if self.answers_challenges {
            self.forget_challengeable(tx);
        }
        if let Some(relay) = self.relays.remove(&tx) {
            self.on_relay_failed(now, relay, failure);
            return;
        }
        if let Some(own) = self.own.remove(&tx) {
            self.on_own_failed(now, own);
            return;
        }
        let Some(leg) = self.invites.get(&tx).map(|s| s.leg) else {
            return;
        };
        let Some(out) = self.leg_mut(leg).and_then(Leg::outbound_mut) else {
            return;
        };
        if out.tx != tx || !out.pending() {
            return;
        }
        out.complete();
        let cancel = std::mem::replace(&mut out.cancel, CancelState::None);
        let dial = out.dial;
        if matches!(
            cancel,
            CancelState::Sent(CancelWhy::Over) | CancelState::Pending(CancelWhy::Over)
        ) {
            self.event(Event::LegFailed {
                leg,
                failure: LegFailure::Cancelled,
            });
            self.end_leg_quietly(now, leg, LegFailure::Cancelled);
            self.advance_dial(now, dial);
            return;
        }
        let (failure, status) = match failure {
            TxFailure::Timeout => (LegFailure::Timeout, 408),
            TxFailure::Transport => (LegFailure::Transport, 480),
        };
        self.attempt_failed(now, leg, failure, status);
    }
}
