//! Setting a call up: the INVITE on A, the attempts on B (with failover to
//! the next destination), provisional and final responses mapped onto A,
//! CANCEL, and the tear-down helpers.

use super::*;
use crate::control_plane::LegFailure;
use crate::out_of_dialog::ALLOW;
use voxgate_media::anchor::{remote_targets, remote_targets_answered, rewrite};
use voxgate_sip::dialog::prack::{RSeq, requires_100rel, rseq_of, supports_100rel};
use voxgate_sip::dialog::{NewRequest, Role, SessionTimerConfig, SessionTimerError};
use voxgate_sip::ids;
use voxgate_sip::message::{HeaderName, MessageBuilder, cancel_for, response_to};

/// Adds our Supported option tags: `100rel` (RFC 3262) when asked, and
/// `timer` (RFC 4028) only while session timers are on: a peer told we
/// support it may make us the refresher (§9), and end the call when our
/// refreshes never come.
pub(crate) fn supported(b: MessageBuilder, with_100rel: bool, timers: bool) -> MessageBuilder {
    match (with_100rel, timers) {
        (true, true) => b.header(HeaderName::Supported, "100rel, timer"),
        (true, false) => b.header(HeaderName::Supported, "100rel"),
        (false, true) => b.header(HeaderName::Supported, "timer"),
        (false, false) => b,
    }
}

impl<M: MediaControl> Call<M> {
    /// Session timers are on (`[calls] session_expires_s` not 0).
    pub(crate) fn timers_on(&self) -> bool {
        self.ctx.config.calls.session_expires.is_some()
    }

    pub(crate) fn session_config(&self) -> SessionTimerConfig {
        let calls = &self.ctx.config.calls;
        SessionTimerConfig {
            session_expires: calls.session_expires.unwrap_or(Duration::from_secs(1800)),
            min_se: calls.min_se,
        }
    }

    pub(super) fn on_invite(&mut self, now: Instant, tx: TxId, invite: Message, from: Peer) {
        let Some(local) = self.ctx.locals.get(from.transport).cloned() else {
            // We received it on a transport we listen on, so this cannot happen.
            return;
        };
        let tag = ids::new_tag();
        let mut state = LegState::new(from, None, local);
        state.allows_update = allows(&invite, "UPDATE");
        let a = ALeg {
            state,
            tx,
            tag,
            offer: None,
            final_sent: false,
            supports_100rel: supports_100rel(&invite),
            session: None,
            rseq: RSeq::random(),
            rseq_map: Vec::new(),
            invite,
        };
        // Requests on A's dialog (ACK, BYE, re-INVITE) find the call by its Call-ID and our tag.
        if let Ok(call_id) = a.invite.call_id() {
            self.push(CallAction::BindDialog(DialogKey {
                call_id: call_id.into(),
                local_tag: a.tag.as_str().into(),
            }));
        }
        let body = a.invite.body();
        let offer = if body.is_empty() {
            Ok(None)
        } else if !is_sdp(&a.invite) {
            Err((415, "Unsupported Media Type"))
        } else {
            SessionDescription::parse(body)
                .map(Some)
                .map_err(|_| (488, "Not Acceptable Here"))
        };
        // With session timers off we are a UAS without the extension: its
        // headers are ignored (RFC 4028 §9), never answered with 422.
        let session = match self.ctx.config.calls.session_expires {
            None => Ok(None),
            Some(_) => match self.session_config().negotiate_uas(&a.invite) {
                Ok(n) => Ok(Some(n)),
                Err(SessionTimerError::TooSmall { min_se }) => Err(min_se),
                Err(_) => Ok(None),
            },
        };
        let caller = party(a.invite.from_header().ok());
        let callee = party(a.invite.to_header().ok());
        let request_user = a
            .invite
            .request_uri()
            .and_then(uri_user)
            .map(str::to_string);
        let headers = selected_headers(&a.invite);
        self.a = Some(a);
        match (offer, session) {
            (Err((status, reason)), _) => {
                let accept = (status == 415).then_some("application/sdp");
                self.reject_a(now, status, reason, accept.map(|v| (HeaderName::Accept, v)));
                self.decide(now, Side::Edge, EndCause::Rejected(status), Some(status));
            }
            (_, Err(min_se)) => {
                let value = min_se.to_string();
                self.reject_a(
                    now,
                    422,
                    "Session Interval Too Small",
                    Some((HeaderName::MinSe, &value)),
                );
                self.decide(now, Side::Edge, EndCause::Rejected(422), Some(422));
            }
            (Ok(offer), Ok(session)) => {
                if let Some(a) = self.a.as_mut() {
                    a.offer = offer;
                    a.session = session;
                }
                let region = self.trunk_region(Some(&self.ctx.trunk));
                self.info = Some(CallInfo {
                    id: self.ctx.id,
                    trunk: self.ctx.trunk.clone(),
                    region,
                    from: caller,
                    to: callee,
                    request_user,
                    headers,
                });
            }
        }
    }

    /// The media region of a trunk, or the node's.
    pub(crate) fn trunk_region(&self, trunk: Option<&TrunkName>) -> String {
        trunk
            .and_then(|t| self.ctx.config.trunk(t))
            .map(|t| t.media_region.clone())
            .unwrap_or_else(|| self.ctx.config.node.region.clone())
    }

    /// Tries destinations until one can be started; fails the call when none is left.
    pub(crate) fn next_attempt(&mut self, now: Instant) {
        if self.outcome.is_some() {
            // The call is over (cancelled, hung up): an attempt that fails
            // now must not start another.
            return;
        }
        while let Some(dest) = self.destinations.pop_front() {
            self.attempts += 1;
            match self.start_attempt(now, dest) {
                Ok(()) => return,
                Err(failure) => {
                    let leg = LegId::B(self.attempts);
                    self.event(CallEvent::LegFailed { leg, failure });
                }
            }
        }
        let status = self.last_failure_status();
        self.fail_call(
            now,
            status,
            default_reason(status),
            Side::Callee,
            EndCause::Rejected(status),
        );
    }

    /// The status the caller gets when every destination failed.
    fn last_failure_status(&self) -> u16 {
        self.last_status.unwrap_or(480)
    }

    fn start_attempt(&mut self, now: Instant, dest: Destination) -> Result<(), LegFailure> {
        let target = Target::parse(&dest.uri, dest.transport).ok_or(LegFailure::BadDestination)?;
        let local = self
            .ctx
            .locals
            .get(dest.transport)
            .cloned()
            .ok_or(LegFailure::BadDestination)?;
        let trunk = dest.trunk.as_ref().and_then(|t| self.ctx.config.trunk(t));
        if dest.trunk.is_some() && trunk.is_none() {
            return Err(LegFailure::BadDestination);
        }
        let tls_name = (dest.transport == TransportKind::Tls).then(|| {
            trunk
                .and_then(|t| t.tls_peer_name.clone())
                .unwrap_or_else(|| target.host.clone())
        });
        let peer = Peer {
            transport: dest.transport,
            addr: target.addr,
            conn: None,
        };
        let Some(a) = self.a.as_ref() else {
            return Err(LegFailure::BadDestination);
        };

        // Media: open the relay on the first SDP we need to anchor.
        if let Some(offer) = a.offer.clone()
            && !self.media.is_open()
        {
            let region_a = self.trunk_region(Some(&self.ctx.trunk));
            let region_b = self.trunk_region(dest.trunk.as_ref());
            if self
                .media
                .open(&region_a, &region_b, offer.media().len())
                .is_err()
            {
                // No ports: a node problem, not the destination's.
                self.last_status = Some(503);
                self.destinations.clear();
                return Err(LegFailure::Transport);
            }
            self.media
                .set_remote(voxgate_media::Side::A, &remote_targets(&offer));
        }

        let caller = a.invite.from_header().ok();
        let display = caller
            .as_ref()
            .and_then(|c| c.display)
            .map(|d| d.trim_matches('"').to_string());
        let user = caller
            .as_ref()
            .and_then(|c| uri_user(c.uri))
            .map(str::to_string);
        let from_uri = local.uri(user.as_deref());
        let from = match &display {
            Some(d) => format!(
                "\"{}\" <{}>",
                d.replace('"', ""),
                strip_transport(&from_uri)
            ),
            None => format!("<{}>", strip_transport(&from_uri)),
        };
        let max_forwards = a
            .invite
            .max_forwards()
            .ok()
            .flatten()
            .map_or(self.ctx.config.calls.max_forwards, |mf| {
                mf.saturating_sub(1)
            })
            .min(self.ctx.config.calls.max_forwards);
        if max_forwards == 0 {
            // The caller's hop limit, not the destination's fault: no other
            // destination fares better, and the caller learns why.
            self.last_status = Some(483);
            self.destinations.clear();
            return Err(LegFailure::Status(483));
        }
        let supports_100rel = a.supports_100rel;
        let offer = a.offer.clone();
        let new = NewRequest {
            method: Method::Invite,
            request_uri: &dest.uri,
            from: &from,
            to: &dest.uri,
            local: &local,
            max_forwards,
        };
        let (mut builder, request_ids) = new.build();
        builder = builder.header(HeaderName::Allow, ALLOW);
        builder = supported(builder, supports_100rel, self.timers_on());
        let session = self
            .ctx
            .config
            .calls
            .session_expires
            .map(|_| self.session_config().uac_offer());
        if let Some(s) = &session {
            builder = s.add_headers(builder);
        }
        let mut state = LegState::new(peer, tls_name.clone(), local);
        let offered = offer.is_some();
        if let Some(offer) = &offer {
            let sdp = rewrite(
                offer,
                &self.media.local(voxgate_media::Side::B),
                &mut state.origin,
            )
            .to_bytes();
            let sdp = Bytes::from(sdp);
            builder = builder.body("application/sdp", &sdp);
            state.last_sdp = Some(sdp);
        }
        let invite = builder
            .build_message()
            .map_err(|_| LegFailure::BadDestination)?;
        let tx = TxId::next();
        self.push(CallAction::BindDialog(DialogKey {
            call_id: request_ids.call_id.as_str().into(),
            local_tag: request_ids.from_tag.as_str().into(),
        }));
        self.push(CallAction::Send {
            tx,
            request: invite.clone(),
            to: peer,
            tls_name: tls_name.clone(),
        });
        self.invites.insert(
            tx,
            SentInvite {
                invite: invite.clone(),
                to: peer,
                tls_name,
                cancelled: false,
                ack: None,
            },
        );
        if self.timeline.first_b_invite.is_none() {
            self.timeline.first_b_invite = Some(now);
        }
        let trying_deadline = self.ctx.config.calls.trying_timeout.map(|d| now + d);
        self.b = Some(BLeg {
            state,
            n: self.attempts,
            tx,
            invite,
            destination: dest,
            offered,
            provisional: false,
            answered: false,
            done: false,
            cancel: CancelState::None,
            trying_deadline,
            ring_deadline: Some(now + self.ring_timeout),
            cancel_deadline: None,
            session,
        });
        Ok(())
    }

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
            self.last_status = Some(status);
            self.next_attempt(now);
            return;
        }
        // §16.7 spirit: a 503 from downstream is not passed upstream as 503,
        // which would make the carrier fail over to our other node for nothing.
        let (mapped, reason) = if status == 503 {
            (500, default_reason(500).to_string())
        } else {
            (
                status,
                response
                    .reason()
                    .unwrap_or_else(|| default_reason(status))
                    .to_string(),
            )
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

    fn send_cancel(&mut self, now: Instant, why: CancelWhy) {
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
    fn cancel_stray(&mut self, tx: TxId) {
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
    fn bye_stray_answer(&mut self, tx: TxId, response: &Message) {
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

    /// Timers of the setup phase.
    pub(crate) fn setup_timeouts(&mut self, now: Instant) {
        let Some(b) = self.b.as_mut() else { return };
        if b.answered || b.done {
            return;
        }
        if b.cancel_deadline.is_some_and(|d| d <= now) {
            // §9.1: no final response 64*T1 after our CANCEL: the INVITE
            // counts as cancelled (its transaction absorbs a late answer).
            b.complete();
            let cancel = std::mem::replace(&mut b.cancel, CancelState::None);
            if cancel == CancelState::Sent(CancelWhy::RingTimeout) {
                let leg = self.leg_id(Leg::B);
                self.event(CallEvent::LegFailed {
                    leg,
                    failure: LegFailure::Timeout,
                });
                self.last_status = Some(480);
                self.next_attempt(now);
            }
            return;
        }
        if b.trying_deadline.is_some_and(|d| d <= now) {
            // Not even a 100 Trying: the destination is gone. The transaction
            // stays to absorb a late answer, which `on_response` takes down.
            let leg = self.leg_id(Leg::B);
            self.event(CallEvent::LegFailed {
                leg,
                failure: LegFailure::Timeout,
            });
            // Forget the attempt; its INVITE stays in `invites` for a late answer.
            self.b = None;
            self.last_status = Some(408);
            self.next_attempt(now);
            return;
        }
        if b.ring_deadline.is_some_and(|d| d <= now) {
            b.ring_deadline = None;
            self.cancel_b(now, CancelWhy::RingTimeout);
        }
    }
}

/// A response on A to its INVITE (18x or 2xx: it creates A's dialog), with
/// our tag and Contact, and A's own Record-Route echoed (§12.1.1) so that
/// the caller's proxies stay in its route set.
fn a_response(a: &ALeg, status: u16, reason: &str) -> MessageBuilder {
    let mut b = response_to(
        &a.invite,
        status,
        reason,
        Some(&a.tag),
        Some(a.state.peer.addr),
    );
    for rr in a.invite.header_lines(HeaderName::RecordRoute) {
        b = b.header(HeaderName::RecordRoute, rr);
    }
    b.header(HeaderName::Contact, &a.state.local.contact(None))
}

/// Whether a message's body is SDP.
pub(crate) fn is_sdp(msg: &Message) -> bool {
    msg.content_type().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    })
}

/// Whether `msg`'s Allow lists `method`.
pub(crate) fn allows(msg: &Message, method: &str) -> bool {
    msg.header_values(HeaderName::Allow)
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Headers the control plane may want, passed as received.
fn selected_headers(invite: &Message) -> Vec<(String, String)> {
    invite
        .headers()
        .filter(|h| {
            let n = h.name;
            n.eq_ignore_ascii_case("P-Asserted-Identity")
                || n.eq_ignore_ascii_case("Privacy")
                || n.eq_ignore_ascii_case("Diversion")
                || n.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("X-"))
        })
        .take(32)
        .map(|h| (h.name.to_string(), h.value.to_string()))
        .collect()
}

/// `;transport=tcp` belongs in Contact, not in From.
fn strip_transport(uri: &str) -> &str {
    uri.split(';').next().unwrap_or(uri)
}

/// Where a destination URI points.
pub(crate) struct Target {
    pub host: String,
    pub addr: std::net::SocketAddr,
}

impl Target {
    /// `sip:user@host:port;params` with an IP host (names are not resolved
    /// yet: such a destination fails as BadDestination).
    pub(crate) fn parse(uri: &str, transport: TransportKind) -> Option<Target> {
        let rest = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("sips:"))?;
        let rest = rest.split([';', '?']).next()?;
        let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let default_port = if transport == TransportKind::Tls {
            5061
        } else {
            5060
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None => default_port,
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()?),
                None => (hostport.to_string(), default_port),
            }
        };
        let ip: std::net::IpAddr = if host.eq_ignore_ascii_case("localhost") {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            host.parse().ok()?
        };
        Some(Target {
            host,
            addr: std::net::SocketAddr::new(ip, port),
        })
    }
}
