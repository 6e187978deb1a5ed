//! voxgate's own offers on legs it is the user agent of: what the control
//! plane wants of a leg's media (hold, a codec for a bridge) is reconciled
//! with what was last agreed by a re-INVITE, one at a time per leg, retried
//! after 491 (RFC 3261 §14.1); and voxgate's answers to its peers' offers.

use super::inbound::{sdp_of, supported};
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_media::Direction;
use voxgate_media::anchor::remote_targets;
use voxgate_media::negotiate;
use voxgate_sip::message::HeaderName;

impl<M: MediaControl> Conversation<M> {
    /// Sends a re-INVITE on every leg whose wanted media differs from what
    /// was agreed and that has no exchange in progress.
    pub(crate) fn reconcile(&mut self, now: Instant) {
        if self.phase != Phase::Active {
            return;
        }
        // A 491 wait that is over is over, even when the leg cannot offer
        // yet (our 2xx awaits its ACK, say): the input that frees it
        // reconciles again. Left armed, the past deadline would make
        // `poll_timeout` wake the actor at once, again and again.
        for l in &mut self.legs {
            if l.reoffer_at.is_some_and(|t| t <= now) {
                l.reoffer_at = None;
            }
        }
        let due: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| {
                l.is_answered()
                    && l.link.is_none()
                    && !l.sig.offering
                    && l.sig.pending_ok.is_none()
                    && l.sig.dialog.is_some()
                    && l.reoffer_at.is_none()
                    && (l.want.hold != l.held_by_us || l.want.codec.is_some())
            })
            .map(|l| l.id)
            .collect();
        for leg in due {
            self.reoffer(now, leg);
        }
    }

    /// Our re-INVITE on `leg` towards what is wanted of it.
    fn reoffer(&mut self, now: Instant, leg: LegId) {
        let caps = self.capabilities(self.leg(leg).and_then(|l| l.trunk.as_ref()));
        let session_config = self.session_config();
        let timers = self.timers_on();
        let ep = self.leg(leg).and_then(|l| l.endpoint);
        let local = ep.and_then(|ep| self.media.local(ep).first().copied());
        let Some(l) = self.leg_mut(leg) else { return };
        l.reoffer_at = None;
        let peer_holds = l.sig.held;
        let direction = match (l.want.hold, peer_holds) {
            (true, true) => Direction::Inactive,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::SendRecv,
        };
        let last = l
            .sig
            .last_sdp
            .as_ref()
            .and_then(|b| SessionDescription::parse(b).ok());
        let Leg {
            sig, sdes, want, ..
        } = &mut *l;
        // A fresh offer gets our SRTP lines (our key in force kept); our last
        // SDP offered again keeps the ones it has, and is what the answer matches.
        let sdp = match (&want.codec, local, last) {
            (Some(codec), Some(local), _) => {
                let caps = caps.restricted_to(codec);
                let (sdp, keys) =
                    negotiate::offer_then(&caps, &local, direction, &mut sig.origin, |o| {
                        sdes.write_offer(o)
                    });
                keys.is_ok().then_some(sdp)
            }
            (None, _, Some(last)) => {
                let sdp = negotiate::reoffer(&last, direction, &mut sig.origin);
                sdes.note_offer(&sdp);
                Some(sdp)
            }
            (None, Some(local), None) => {
                let (sdp, keys) =
                    negotiate::offer_then(&caps, &local, direction, &mut sig.origin, |o| {
                        sdes.write_offer(o)
                    });
                keys.is_ok().then_some(sdp)
            }
            (Some(_), None, _) | (None, None, None) => None,
        };
        let Some(sdp) = sdp else {
            // Nothing to offer with: give up the wish rather than loop.
            l.want.codec = None;
            l.want.hold = l.held_by_us;
            return;
        };
        let body = Bytes::from(sdp.to_bytes());
        let Some(dialog) = l.sig.dialog.as_mut() else {
            return;
        };
        let mut builder = supported(
            dialog
                .request(Method::Invite)
                .header(HeaderName::Allow, ALLOW),
            false,
            timers,
        );
        if let Some(t) = &l.sig.timer {
            builder = t.refresh_offer(&session_config).add_headers(builder);
        }
        let Ok(request) = builder.body("application/sdp", &body).build_message() else {
            return;
        };
        l.sig.offering = true;
        let to = l.sig.in_dialog_peer();
        let tls_name = l.sig.tls_name.clone();
        let tx = TxId::next();
        self.own.insert(tx, Own::Reoffer(leg, body));
        self.push(Action::Send {
            tx,
            request,
            to,
            tls_name,
        });
        let _ = now;
    }

    /// The answer to our re-INVITE on `leg`.
    pub(crate) fn on_reoffer_answer(
        &mut self,
        now: Instant,
        leg: LegId,
        offered: Bytes,
        response: &Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        if let Some(l) = self.leg_mut(leg) {
            l.sig.offering = false;
        }
        if (200..300).contains(&status) {
            if let Some(d) = self.sig(leg).and_then(|s| s.dialog.as_mut()) {
                d.refresh_target(response);
            }
            let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
            self.ack_leg(leg, seq, None);
            let answer = sdp_of(response);
            let ep = self.leg(leg).and_then(|l| l.endpoint);
            if let (Some(answer), Some(ep)) = (&answer, ep) {
                self.media.set_remote(ep, &remote_targets(answer));
            }
            if let Some(answer) = &answer {
                self.take_sdes_answer(leg, answer);
            }
            let Some(l) = self.leg_mut(leg) else { return };
            l.sig.last_sdp = Some(offered);
            if let Some(t) = l.sig.timer.as_mut() {
                t.refreshed(now);
            }
            if answer.is_some() {
                l.remote_sdp = answer.map(Arc::new);
            }
            let was = l.held_by_us;
            let held = l.want.hold;
            l.held_by_us = held;
            let join = l.want.join.take();
            l.want.codec = None;
            if let Some(ep) = l.endpoint {
                let paused = held || l.sig.held;
                self.media.set_hold(ep, paused);
            }
            if was != held {
                self.event(if held {
                    Event::Held {
                        leg,
                        by: Side::Control,
                    }
                } else {
                    Event::Resumed {
                        leg,
                        by: Side::Control,
                    }
                });
            }
            if let Some(partner) = join
                && self.leg(partner).is_some_and(Leg::is_answered)
            {
                if self.bridgeable(leg, partner) {
                    self.media_bridge(partner, leg);
                } else {
                    self.event(Event::Error {
                        command: "bridge",
                        error: CommandError::NoCommonCodec { a: partner, b: leg },
                    });
                }
            }
            self.reconcile(now);
            return;
        }
        if status == 491 {
            // §14.1: our INVITE crossed theirs; retry after a random wait:
            // 2.1–4 s when we own the Call-ID (outbound legs), else 0–2 s.
            let owner = self.leg(leg).is_some_and(|l| !l.is_inbound());
            let ms = if owner {
                2100 + self.random_below(1900)
            } else {
                self.random_below(2000)
            };
            if let Some(l) = self.leg_mut(leg) {
                l.reoffer_at = Some(now + Duration::from_millis(ms));
            }
            return;
        }
        // Refused: RFC 3264 §8: the session stays as it was. Stop asking.
        let Some(l) = self.leg_mut(leg) else { return };
        l.sdes.abandon_offer();
        let join = l.want.join.take();
        let codec = l.want.codec.take();
        let hold_refused = l.want.hold != l.held_by_us;
        l.want.hold = l.held_by_us;
        if let (Some(partner), Some(_)) = (join, codec) {
            self.event(Event::Error {
                command: "bridge",
                error: CommandError::NoCommonCodec { a: partner, b: leg },
            });
        } else if hold_refused {
            self.event(Event::Error {
                command: "hold",
                error: CommandError::LegState {
                    leg,
                    state: "answered",
                    wanted: "the peer refused the re-INVITE",
                },
            });
        }
        if matches!(status, 481 | 408) {
            // §12.2.1.2: the dialog is gone.
            self.hang_up_leg(now, leg, Side::Edge, EndCause::SessionExpired, None);
        }
    }

    /// The peer of a leg voxgate is the UA of sends an offer (re-INVITE or
    /// UPDATE with SDP): our answer, from the codec in use, with the
    /// direction answering its own and our hold, and the SRTP the leg's
    /// policy takes. `Err` means 488, with the `Warning` that says why
    /// (SRTP, or no codec in common).
    pub(crate) fn local_answer(
        &mut self,
        leg: LegId,
        offer: &SessionDescription,
    ) -> Result<Bytes, Option<String>> {
        let prefer = self.codec(leg);
        let caps = self.capabilities(self.leg(leg).and_then(|l| l.trunk.as_ref()));
        self.leg_mut(leg)
            .ok_or(None)?
            .sdes
            .take_offer(offer)
            .map_err(|e| Some(super::srtp::srtp_warning(&e)))?;
        let ep = self
            .ensure_endpoint(leg, offer.media().len(), offer.connection())
            .ok_or(None)?;
        let local = self.media.local(ep);
        let l = self.leg_mut(leg).ok_or(None)?;
        let hold = l.held_by_us;
        let Leg { sig, sdes, .. } = &mut *l;
        let (answer, keys_changed) = negotiate::answer_then(
            offer,
            &caps,
            &local,
            hold,
            prefer.as_ref(),
            &mut sig.origin,
            |a| sdes.write_answer(a),
        )
        .map_err(|_| Some(super::codecs::NO_CODEC_WARNING.to_owned()))?;
        let bytes = Bytes::from(answer.to_bytes());
        l.sig.last_sdp = Some(bytes.clone());
        l.remote_sdp = Some(Arc::new(offer.clone()));
        self.media.set_remote(ep, &remote_targets(offer));
        if keys_changed {
            self.install_keys(leg);
        }
        Ok(bytes)
    }
}
