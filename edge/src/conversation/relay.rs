//! In-dialog requests between linked legs: re-INVITE and UPDATE (hold,
//! resume, codec change, refreshes) are relayed with their SDP rewritten;
//! INFO, OPTIONS, MESSAGE, NOTIFY and PRACK are relayed; the answers come
//! back the same way. Glare follows RFC 3261 §14.

use super::inbound::{allows, is_sdp, supported};
use super::leg::{AckAnswer, PendingOk};
use super::srtp::Exchange;
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_sip::dialog::prack::RAck;
use voxgate_sip::message::{HeaderName, MessageBuilder, response_to};

/// Whether an offer puts its sender's media on hold (sendonly, inactive or
/// c=0.0.0.0 on every line in use).
pub(crate) fn is_hold(sdp: &SessionDescription) -> bool {
    let media = sdp.media();
    !media.is_empty() && media.iter().filter(|m| m.port() != 0).all(|m| m.is_held())
}

impl<M: MediaControl> Conversation<M> {
    /// Relays a request from `from` to its linked leg `to`.
    pub(crate) fn relay(
        &mut self,
        from: LegId,
        to: LegId,
        tx: TxId,
        request: Message,
        method: Method,
    ) {
        let offer_exchange = matches!(method, Method::Invite | Method::Update);
        let busy = self.leg(from).is_some_and(|l| l.sig.offering)
            || self.leg(to).is_some_and(|l| l.sig.offering);
        if offer_exchange && busy {
            // §14.1/§14.2: an offer crosses one in progress: 491, the peer retries.
            self.respond_to(tx, &request, 491, Some(from));
            return;
        }
        let has_dialog = self.leg(to).is_some_and(|l| l.sig.dialog.is_some());
        if !has_dialog {
            self.respond_to(tx, &request, 481, Some(from));
            return;
        }
        // The SDP offer (if any), anchored and rewritten for the other leg.
        let mut body: Option<(String, Bytes)> = None;
        let mut offered = false;
        let mut hold = None;
        let prior_sdp = self.leg(to).and_then(|l| l.sig.last_sdp.clone());
        if !request.body().is_empty() {
            if is_sdp(&request) {
                let Ok(sdp) = SessionDescription::parse(request.body()) else {
                    self.respond_to(tx, &request, 488, Some(from));
                    return;
                };
                hold = Some(is_hold(&sdp));
                match self.anchor_linked(from, to, Arc::new(sdp), Exchange::Offer) {
                    Ok(out) => {
                        body = Some(("application/sdp".to_string(), out));
                        offered = true;
                    }
                    Err(e) => {
                        self.respond_488(tx, &request, from, e.warning());
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
        if offer_exchange && let Some(state) = self.sig(from) {
            state.allows_update |= allows(&request, "UPDATE");
            if let Some(d) = state.dialog.as_mut() {
                d.refresh_target(&request);
            }
        }
        let prack_rack = if method == Method::Prack {
            self.map_rack(from, to, &request)
        } else {
            None
        };
        if method == Method::Prack && prack_rack.is_none() {
            self.respond_to(tx, &request, 481, Some(from));
            return;
        }
        let session_config = self.session_config();
        let timers = self.timers_on();
        let carried = self.carried_across(&request, from, to);
        let Some(state) = self.sig(to) else {
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
        for (name, value) in &carried {
            builder = builder.header_raw(name, value);
        }
        if let Some((ct, bytes)) = &body {
            builder = builder.body(ct, bytes);
        }
        let Ok(out) = builder.build_message() else {
            self.respond_to(tx, &request, 500, Some(from));
            return;
        };
        let peer = state.in_dialog_peer();
        let tls_name = state.tls_name.clone();
        if offer_exchange {
            state.offering = true;
            if let Some(s) = self.sig(from) {
                s.offering = true;
            }
        }
        let out_tx = TxId::next();
        let invite_out = (method == Method::Invite).then(|| (out.clone(), peer, tls_name.clone()));
        self.relays.insert(
            out_tx,
            Relay {
                from,
                to,
                tx_in: tx,
                request_in: request,
                method,
                offered,
                hold,
                prior_sdp,
                invite_out,
                provisional: false,
                abandoned: false,
            },
        );
        self.push(Action::Send {
            tx: out_tx,
            request: out,
            to: peer,
            tls_name,
        });
    }

    /// RFC 3262 pass-through: the caller's RAck names our RSeq; the callee's names its own.
    fn map_rack(&self, from: LegId, to: LegId, prack: &Message) -> Option<String> {
        let rack = RAck::of(prack).ok()?;
        let inbound = self.leg(from)?.inbound()?;
        let out = self.leg(to)?.outbound()?;
        let (_, _, theirs) = inbound
            .rseq_map
            .iter()
            .find(|(ours, leg, _)| *ours == rack.rseq && *leg == to)?;
        let seq = out.invite.cseq().ok()?.seq;
        Some(format!("{theirs} {seq} INVITE"))
    }

    /// Makes `prior` (an SDP we sent on `leg`) the last one again, under a
    /// new `o=` version: versions only go up, also past a refused offer. It
    /// is ours already (our ports, our keys): only `o=` changes, and the
    /// refused offer's SRTP lines are forgotten.
    fn restore_sdp(&mut self, leg: LegId, prior: &Bytes) {
        let Ok(mut sdp) = SessionDescription::parse(prior) else {
            return;
        };
        let Some(ep) = self.leg(leg).and_then(|l| l.endpoint) else {
            return;
        };
        let Some(addr) = self.media.local(ep).first().map(|l| l.addr) else {
            return;
        };
        if let Some(l) = self.leg_mut(leg) {
            l.sdes.abandon_offer();
            l.sig.origin.stamp(&mut sdp, addr);
            l.sig.last_sdp = Some(Bytes::from(sdp.to_bytes()));
        }
    }

    /// Tracks hold from a leg's accepted offer and tells the control plane.
    pub(crate) fn note_hold(&mut self, leg: LegId, held: bool) {
        let Some(l) = self.leg_mut(leg) else { return };
        if l.sig.held == held {
            return;
        }
        l.sig.held = held;
        let by = l.peer_side();
        let paused = held || l.held_by_us;
        let ep = l.endpoint;
        if let Some(ep) = ep {
            self.media.set_hold(ep, paused);
        }
        self.event(if held {
            Event::Held { leg, by }
        } else {
            Event::Resumed { leg, by }
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
            let mut relay = relay;
            relay.provisional = true;
            // Abandoned before it rang: the CANCEL was waiting for this.
            let cancel = if relay.abandoned {
                relay.invite_out.take()
            } else {
                None
            };
            self.relays.insert(out_tx, relay);
            if let Some(invite_out) = cancel {
                self.cancel_relayed(invite_out);
            }
            return;
        }
        if relay.abandoned {
            // Its requester got 487 already; a 2xx that crossed our CANCEL is
            // ACKed (the BYE that ends the leg follows or went before).
            if status < 300
                && let Ok(cseq) = response.cseq()
                && let Some(dialog) = self.sig(relay.to).and_then(|s| s.dialog.as_mut())
            {
                let bytes = dialog.ack(cseq.seq).build();
                if let Some(state) = self.sig(relay.to) {
                    state.acks.insert(cseq.seq, bytes.clone());
                    let to = state.in_dialog_peer();
                    self.push(Action::Transmit { to, bytes });
                }
            }
            return;
        }
        let to = relay.to;
        let is_invite = relay.method == Method::Invite;
        let offer_exchange = matches!(relay.method, Method::Invite | Method::Update);
        if offer_exchange {
            for leg in [relay.from, to] {
                if let Some(s) = self.sig(leg) {
                    s.offering = false;
                }
            }
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
                if let Some(d) = self.sig(to).and_then(|s| s.dialog.as_mut()) {
                    d.refresh_target(&response);
                }
                // A hold or resume counts once the other side accepted it.
                if let Some(held) = relay.hold {
                    self.note_hold(relay.from, held);
                }
                // Both legs' session timers restart on a successful refresh.
                for leg in [relay.from, to] {
                    if let Some(t) = self.sig(leg).and_then(|s| s.timer.as_mut()) {
                        t.refreshed(now);
                    }
                }
            }
            if !response.body().is_empty() {
                if is_sdp(&response) {
                    // The answer to the offer we relayed (kept keys if `to`'s
                    // policy refuses it: a 2xx is too late to refuse), or,
                    // for a re-INVITE without SDP, `to`'s offer.
                    let exchange = if relay.offered {
                        Exchange::Answer { strict: false }
                    } else {
                        Exchange::Offer
                    };
                    body = SessionDescription::parse(response.body())
                        .ok()
                        .and_then(|sdp| {
                            self.anchor_linked(to, relay.from, Arc::new(sdp), exchange)
                                .inspect_err(|error| {
                                    tracing::warn!(leg = %to, ?error, "SDP not passed on");
                                })
                                .ok()
                        })
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
        let carried = self.carried_across(&response, to, from);
        let Some(state) = self.sig(from) else {
            return;
        };
        let mut builder: MessageBuilder = match state.dialog.as_ref() {
            Some(d) => d.response(&relay.request_in, status, &reason, None),
            // The inbound leg's early dialog (UPDATE, PRACK before the answer):
            // no Dialog yet, but a target refresh's 2xx still carries our Contact.
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
        for (name, value) in &carried {
            builder = builder.header_raw(name, value);
        }
        if let Some((ct, bytes)) = &body {
            builder = builder.body(ct, bytes);
        }
        let Ok(out) = builder.build_message() else {
            return;
        };
        if is_invite && (200..300).contains(&status) {
            let seq = relay.request_in.cseq().map(|c| c.seq).unwrap_or(0);
            let ack_answer = if relay.offered {
                AckAnswer::None
            } else {
                AckAnswer::Forward(to, response.cseq().map(|c| c.seq).unwrap_or(0))
            };
            state.pending_ok = Some(PendingOk {
                bytes: out.raw().clone(),
                cseq: seq,
                retransmit: Retransmit::start(now, timers.t1, timers.t2),
                ack_answer,
            });
        }
        self.push(Action::Respond {
            tx: relay.tx_in,
            response: out,
        });
        // §12.2.1.2: 481 or 408 to a request in a dialog means the dialog is
        // gone; except a 481 to PRACK, which only says that no reliable
        // provisional matched its RAck (RFC 3262 §3).
        let prack_unmatched = relay.method == Method::Prack && status == 481;
        if matches!(status, 481 | 408) && !prack_unmatched {
            let side = self.leg(to).map_or(Side::Edge, Leg::peer_side);
            self.hang_up_leg(now, to, side, EndCause::Normal, None);
        }
    }

    pub(super) fn on_relay_failed(&mut self, now: Instant, relay: Relay, failure: TxFailure) {
        if matches!(relay.method, Method::Invite | Method::Update) {
            for leg in [relay.from, relay.to] {
                if let Some(s) = self.sig(leg) {
                    s.offering = false;
                }
            }
        }
        let status = match failure {
            TxFailure::Timeout => 408,
            TxFailure::Transport => 503,
        };
        let from = relay.from;
        self.respond_to(relay.tx_in, &relay.request_in, status, Some(from));
        let side = self.leg(relay.to).map_or(Side::Edge, Leg::peer_side);
        self.hang_up_leg(now, relay.to, side, EndCause::Normal, None);
    }
}
