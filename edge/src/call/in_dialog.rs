//! Requests inside the call's dialogs: BYE ends both legs; re-INVITE and
//! UPDATE (hold, resume, codec change, refreshes) are relayed with their SDP
//! rewritten; INFO, OPTIONS and PRACK are relayed; ACKs stop our 2xx
//! retransmissions. Glare follows RFC 3261 §14.

use super::setup::{allows, is_sdp, supported};
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_media::anchor::rewrite;
use voxgate_sip::dialog::prack::RAck;
use voxgate_sip::message::{HeaderName, MessageBuilder, response_to};

/// Whether an offer puts its sender's media on hold (sendonly, inactive or
/// c=0.0.0.0 on every line in use).
fn is_hold(sdp: &SessionDescription) -> bool {
    let media = sdp.media();
    !media.is_empty() && media.iter().filter(|m| m.port() != 0).all(|m| m.is_held())
}

/// Methods relayed to the other leg when they arrive inside a dialog.
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

impl<M: MediaControl> Call<M> {
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
            .leg_state(leg)
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
        if let Some(state) = self.leg_state(leg)
            && state.peer.conn.is_some()
            && state.peer.addr == from.addr
        {
            // Stream transports: the newest connection of the peer carries its dialog.
            state.peer = from;
        }
        match method {
            Method::Bye => {
                self.respond_to(tx, &request, 200, Some(leg));
                let side = if leg == Leg::A {
                    Side::Caller
                } else {
                    Side::Callee
                };
                // A BYE crossing ours (the end was already decided): the other
                // leg has its BYE, or never had a dialog; one is enough.
                let first = self.outcome.is_none();
                self.decide(now, side, EndCause::Normal, None);
                if let Some(state) = self.leg_state(leg) {
                    state.pending_ok = None;
                    state.timer = None;
                    // It hung up itself: a BYE we held back for it is moot.
                    state.bye_deferred = false;
                }
                if first {
                    self.ack_late_offers();
                    self.send_bye(leg.other());
                }
            }
            m if relayed(&m) => self.relay(now, leg, tx, request, m),
            // REFER and the rest: not offered in our Allow.
            _ => {
                let r = response_to(
                    &request,
                    405,
                    "Method Not Allowed",
                    self.local_tag(leg).as_deref(),
                    None,
                )
                .header(HeaderName::Allow, ALLOW)
                .build_message();
                if let Ok(response) = r {
                    self.push(CallAction::Respond { tx, response });
                }
            }
        }
    }

    /// Our tag on a leg: the To tag of requests we receive on it.
    fn local_tag(&self, leg: Leg) -> Option<String> {
        match leg {
            Leg::A => self.a.as_ref().map(|a| a.tag.clone()),
            Leg::B => self
                .b
                .as_ref()
                .and_then(|b| b.state.dialog.as_ref())
                .map(|d| d.local_tag.clone()),
        }
    }

    /// A response without body to a request on `leg`.
    pub(crate) fn respond_to(
        &mut self,
        tx: TxId,
        request: &Message,
        status: u16,
        leg: Option<Leg>,
    ) {
        let tag = leg.and_then(|l| self.local_tag(l));
        let r = response_to(
            request,
            status,
            default_reason(status),
            tag.as_deref(),
            None,
        )
        .build_message();
        if let Ok(response) = r {
            self.push(CallAction::Respond { tx, response });
        }
    }

    fn relay(&mut self, now: Instant, from: Leg, tx: TxId, request: Message, method: Method) {
        if self.phase == Phase::Ending {
            self.respond_to(tx, &request, 481, Some(from));
            return;
        }
        let offer_exchange = matches!(method, Method::Invite | Method::Update);
        if offer_exchange && self.offer_in_progress {
            // §14.1/§14.2: an offer crosses one in progress: 491, the peer retries.
            self.respond_to(tx, &request, 491, Some(from));
            return;
        }
        let to = from.other();
        let has_dialog = self.leg_state(to).is_some_and(|s| s.dialog.is_some());
        if !has_dialog {
            self.respond_to(tx, &request, 481, Some(from));
            return;
        }
        // The SDP offer (if any), anchored and rewritten for the other leg.
        let mut body: Option<(String, Bytes)> = None;
        let mut offered = false;
        let mut hold = None;
        let prior_sdp = self.leg_state(to).and_then(|s| s.last_sdp.clone());
        if !request.body().is_empty() {
            if is_sdp(&request) {
                let Ok(sdp) = SessionDescription::parse(request.body()) else {
                    self.respond_to(tx, &request, 488, Some(from));
                    return;
                };
                hold = Some(is_hold(&sdp));
                match self.anchor_sdp(from, &sdp) {
                    Some(out) => {
                        body = Some(("application/sdp".to_string(), out));
                        offered = true;
                    }
                    None => {
                        self.respond_to(tx, &request, 488, Some(from));
                        return;
                    }
                }
            } else {
                let ct = request
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                body = Some((ct, Bytes::copy_from_slice(request.body())));
            }
        }
        if matches!(method, Method::Invite | Method::Update)
            && let Some(state) = self.leg_state(from)
        {
            state.allows_update |= allows(&request, "UPDATE");
            if let Some(d) = state.dialog.as_mut() {
                d.refresh_target(&request);
            }
        }
        let prack_rack = if method == Method::Prack {
            self.map_rack(&request)
        } else {
            None
        };
        if method == Method::Prack && prack_rack.is_none() {
            self.respond_to(tx, &request, 481, Some(from));
            return;
        }
        let session_config = self.session_config();
        let timers = self.timers_on();
        let Some(state) = self.leg_state(to) else {
            return;
        };
        let Some(dialog) = state.dialog.as_mut() else {
            return;
        };
        let mut builder = dialog.request(method.clone());
        if offer_exchange {
            builder = supported(builder.header(HeaderName::Allow, ALLOW), true, timers);
            // Keep the other leg's session timer alive: a re-INVITE without
            // Session-Expires would switch it off (RFC 4028 §9).
            if let Some(t) = &state.timer {
                builder = t.refresh_offer(&session_config).add_headers(builder);
            }
        }
        if let Some(rack) = &prack_rack {
            builder = builder.header(HeaderName::RAck, rack);
        }
        for name in ["Info-Package", "Event", "Subscription-State"] {
            if let Some(v) = request.header_by_name(name) {
                builder = builder.header_raw(name, v);
            }
        }
        if let Some((ct, bytes)) = &body {
            builder = builder.body(ct, bytes);
        }
        let Ok(out) = builder.build_message() else {
            self.respond_to(tx, &request, 500, Some(from));
            return;
        };
        let peer = state.peer;
        let tls_name = state.tls_name.clone();
        if offer_exchange {
            self.offer_in_progress = true;
        }
        let out_tx = TxId::next();
        self.relays.insert(
            out_tx,
            Relay {
                from,
                tx_in: tx,
                request_in: request,
                method,
                offered,
                hold,
                prior_sdp,
            },
        );
        self.push(CallAction::Send {
            tx: out_tx,
            request: out,
            to: peer,
            tls_name,
        });
        let _ = now;
    }

    /// RFC 3262 pass-through: A's RAck names our RSeq; B's names its own.
    fn map_rack(&self, prack: &Message) -> Option<String> {
        let rack = RAck::of(prack).ok()?;
        let a = self.a.as_ref()?;
        let b = self.b.as_ref()?;
        let (_, b_rseq) = a.rseq_map.iter().find(|(ours, _)| *ours == rack.rseq)?;
        let b_seq = b.invite.cseq().ok()?.seq;
        Some(format!("{b_rseq} {b_seq} INVITE"))
    }

    /// Makes `prior` (an SDP we sent on `leg`) the last one again, under a
    /// new `o=` version: versions only go up, also past a refused offer.
    fn restore_sdp(&mut self, leg: Leg, prior: &Bytes) {
        let Ok(sdp) = SessionDescription::parse(prior) else {
            return;
        };
        let local = self.media.local(leg.media_side());
        if let Some(state) = self.leg_state(leg) {
            let out = rewrite(&sdp, &local, &mut state.origin).to_bytes();
            state.last_sdp = Some(Bytes::from(out));
        }
    }

    /// Tracks hold from a leg's accepted offer and tells the control plane.
    fn note_hold(&mut self, leg: Leg, held: bool) {
        let leg_id = self.leg_id(leg);
        let Some(state) = self.leg_state(leg) else {
            return;
        };
        if state.held == held {
            return;
        }
        state.held = held;
        self.media.set_hold(leg.media_side(), held);
        self.event(if held {
            CallEvent::Held { leg: leg_id }
        } else {
            CallEvent::Resumed { leg: leg_id }
        });
    }

    pub(super) fn on_relayed_response(
        &mut self,
        now: Instant,
        out_tx: TxId,
        relay: Relay,
        response: Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        if status < 200 {
            // Provisionals of in-dialog requests stay on their leg; the layer
            // already sent 100 Trying on the other.
            self.relays.insert(out_tx, relay);
            return;
        }
        let to = relay.from.other();
        let is_invite = relay.method == Method::Invite;
        let offer_exchange = matches!(relay.method, Method::Invite | Method::Update);
        if offer_exchange {
            self.offer_in_progress = false;
        }
        let mut body: Option<(String, Bytes)> = None;
        if status >= 300
            && relay.offered
            && let Some(prior) = &relay.prior_sdp
        {
            // RFC 3264 §8: a refused offer leaves the session as it was; our
            // refreshes on that leg must offer that session, not the refused one.
            self.restore_sdp(to, prior);
        }
        if (200..300).contains(&status) {
            if offer_exchange {
                if let Some(state) = self.leg_state(to)
                    && let Some(d) = state.dialog.as_mut()
                {
                    d.refresh_target(&response);
                }
                // A hold or resume counts once the other side accepted it.
                if let Some(held) = relay.hold {
                    self.note_hold(relay.from, held);
                }
                // Both legs' session timers restart on a successful refresh.
                for leg in [Leg::A, Leg::B] {
                    if let Some(t) = self.leg_state(leg).and_then(|s| s.timer.as_mut()) {
                        t.refreshed(now);
                    }
                }
            }
            if !response.body().is_empty() {
                if is_sdp(&response) {
                    body = self
                        .answer_sdp(to, &response)
                        .map(|b| ("application/sdp".to_string(), b));
                } else {
                    let ct = response
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_string();
                    body = Some((ct, Bytes::copy_from_slice(response.body())));
                }
            }
            if is_invite {
                let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
                if relay.offered {
                    self.ack_leg(to, seq, None);
                }
            }
        }
        let reason = response
            .reason()
            .unwrap_or_else(|| default_reason(status))
            .to_string();
        let from = relay.from;
        let timers = self.ctx.timers;
        let timers_on = self.timers_on();
        let Some(state) = self.leg_state(from) else {
            return;
        };
        let mut builder: MessageBuilder = match state.dialog.as_ref() {
            Some(d) => d.response(&relay.request_in, status, &reason, None),
            // A's early dialog (UPDATE, PRACK before the answer): no Dialog
            // yet, but a target refresh's 2xx still carries our Contact.
            None if offer_exchange && (200..300).contains(&status) => {
                response_to(&relay.request_in, status, &reason, None, None)
                    .header(HeaderName::Contact, &state.local.contact(None))
            }
            None => response_to(&relay.request_in, status, &reason, None, None),
        };
        if let Some(ra) = response.header(HeaderName::RetryAfter) {
            builder = builder.header(HeaderName::RetryAfter, ra);
        }
        if offer_exchange && (200..300).contains(&status) {
            builder = supported(builder.header(HeaderName::Allow, ALLOW), true, timers_on);
            if let Some(t) = &state.timer {
                // We are the UAS of this transaction.
                let refresher = if t.we_refresh { "uas" } else { "uac" };
                builder = builder
                    .header(
                        HeaderName::SessionExpires,
                        &format!("{};refresher={refresher}", t.interval.as_secs()),
                    )
                    .header(HeaderName::Require, "timer");
            }
        }
        if let Some((ct, bytes)) = &body {
            builder = builder.body(ct, bytes);
        }
        let Ok(out) = builder.build_message() else {
            return;
        };
        if is_invite && (200..300).contains(&status) {
            let seq = relay.request_in.cseq().map(|c| c.seq).unwrap_or(0);
            let forward = (!relay.offered).then(|| response.cseq().map(|c| c.seq).unwrap_or(0));
            state.pending_ok = Some(PendingOk {
                bytes: out.raw().clone(),
                cseq: seq,
                retransmit: Retransmit::start(now, timers.t1, timers.t2),
                forward_answer: forward,
            });
        }
        self.push(CallAction::Respond {
            tx: relay.tx_in,
            response: out,
        });
        // §12.2.1.2: 481 or 408 to a request in a dialog means the dialog is
        // gone; except a 481 to PRACK, which only says that no reliable
        // provisional matched its RAck (RFC 3262 §3).
        let prack_unmatched = relay.method == Method::Prack && status == 481;
        if matches!(status, 481 | 408) && !prack_unmatched {
            self.hang_up(
                now,
                if to == Leg::A {
                    Side::Caller
                } else {
                    Side::Callee
                },
                EndCause::Normal,
            );
        }
    }

    pub(super) fn on_relay_failed(&mut self, now: Instant, relay: Relay, failure: TxFailure) {
        if matches!(relay.method, Method::Invite | Method::Update) {
            self.offer_in_progress = false;
        }
        let status = match failure {
            TxFailure::Timeout => 408,
            TxFailure::Transport => 503,
        };
        let from = relay.from;
        self.respond_to(relay.tx_in, &relay.request_in, status, Some(from));
        let side = if from == Leg::A {
            Side::Callee
        } else {
            Side::Caller
        };
        self.hang_up(now, side, EndCause::Normal);
    }

    /// An ACK from a leg for our 2xx.
    pub(super) fn on_ack(&mut self, now: Instant, ack: &Message) {
        let Some(leg) = self.leg_of(ack) else { return };
        let Ok(cseq) = ack.cseq() else { return };
        let Some(state) = self.leg_state(leg) else {
            return;
        };
        let Some(pending) = state.pending_ok.take_if(|p| p.cseq == cseq.seq) else {
            return;
        };
        if leg == Leg::A && self.phase == Phase::Answered {
            self.phase = Phase::Confirmed;
        }
        // Late offer: the ACK carries the answer for the other leg's ACK.
        if let Some(other_seq) = pending.forward_answer {
            let answer = if is_sdp(ack) && !ack.body().is_empty() {
                SessionDescription::parse(ack.body())
                    .ok()
                    .and_then(|sdp| self.anchor_sdp(leg, &sdp))
            } else {
                None
            };
            self.ack_leg(leg.other(), other_seq, answer.as_ref());
        }
        if self.leg_state(leg).is_some_and(|s| s.bye_deferred) {
            self.send_bye(leg);
        }
        let _ = now;
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
                if method == Method::Invite {
                    self.offer_in_progress = false;
                }
                if (200..300).contains(&status) {
                    if let Some(d) = self.leg_state(leg).and_then(|s| s.dialog.as_mut()) {
                        // §12.2.1.2: the 2xx to a refresh is a target refresh;
                        // the ACK goes to the new target.
                        d.refresh_target(response);
                    }
                    if method == Method::Invite {
                        let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
                        self.ack_leg(leg, seq, None);
                    }
                    if let Some(t) = self.leg_state(leg).and_then(|s| s.timer.as_mut()) {
                        t.refreshed(now);
                    }
                } else if matches!(status, 481 | 408) {
                    self.hang_up(now, Side::Edge, EndCause::SessionExpired);
                }
            }
            Own::Bye | Own::Cancel | Own::Stray => {}
        }
    }

    /// A 2xx whose INVITE transaction is gone: our ACK was lost.
    pub(super) fn on_stray_response(&mut self, response: &Message) {
        if !response.status().is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        let Some(leg) = self.leg_of(response) else {
            return;
        };
        let Ok(cseq) = response.cseq() else { return };
        let Some(state) = self.leg_state(leg) else {
            return;
        };
        if let Some((seq, ack)) = &state.last_ack
            && *seq == cseq.seq
        {
            let to = state.peer;
            let bytes = ack.clone();
            self.push(CallAction::Transmit { to, bytes });
        }
    }

    /// Sends a session refresh on `leg` (RFC 4028 §10): UPDATE without a
    /// body when the peer allows it, else a re-INVITE with our last SDP.
    pub(crate) fn send_refresh(&mut self, leg: Leg) {
        if self.offer_in_progress {
            // The exchange in progress refreshes both legs when it succeeds.
            return;
        }
        let session_config = self.session_config();
        let Some(state) = self.leg_state(leg) else {
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
        let to = state.peer;
        let tls_name = state.tls_name.clone();
        let tx = TxId::next();
        if method == Method::Invite {
            // §14.1: no other INVITE on the leg until this one completes;
            // requests that would cross it get 491 (`relay`).
            self.offer_in_progress = true;
        }
        self.own.insert(tx, Own::Refresh(leg, method));
        self.push(CallAction::Send {
            tx,
            request,
            to,
            tls_name,
        });
    }
}
