//! Inbound legs: the INVITE that starts a conversation (its SDP offer and
//! session-timer negotiation, what the control plane learns), voxgate's own
//! answer to it (`Answer`), its refusal (`Reject`), the caller's CANCEL, and
//! an INVITE with Replaces (RFC 3891) that takes over a leg.

use super::codecs::NO_CODEC_WARNING;
use super::leg::{AckAnswer, InLeg, PendingOk};
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_media::negotiate::{self, Capabilities};
use voxgate_sip::dialog::prack::{RSeq, supports_100rel};
use voxgate_sip::dialog::{Role, SessionTimerConfig, SessionTimerError};
use voxgate_sip::ids;
use voxgate_sip::message::{HeaderName, MessageBuilder, response_to};

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

/// The SDP of a message, if it has a parsable one.
pub(crate) fn sdp_of(msg: &Message) -> Option<SessionDescription> {
    if msg.body().is_empty() || !is_sdp(msg) {
        return None;
    }
    SessionDescription::parse(msg.body()).ok()
}

/// A response on an inbound leg to its INVITE (18x or 2xx: it creates the
/// dialog), with our tag and Contact, and the leg's own Record-Route echoed
/// (§12.1.1) so that the caller's proxies stay in its route set.
pub(crate) fn invite_response(leg: &Leg, status: u16, reason: &str) -> Option<MessageBuilder> {
    let inbound = leg.inbound()?;
    let mut b = response_to(
        &inbound.invite,
        status,
        reason,
        Some(&inbound.tag),
        Some(leg.sig.peer.addr),
    );
    for rr in inbound.invite.header_lines(HeaderName::RecordRoute) {
        b = b.header(HeaderName::RecordRoute, rr);
    }
    Some(b.header(HeaderName::Contact, &leg.sig.local.contact(None)))
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

/// Why an INVITE cannot become a leg: the final status to refuse it with.
struct Refusal {
    status: u16,
    reason: &'static str,
    header: Option<(HeaderName, String)>,
}

impl<M: MediaControl> Conversation<M> {
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

    /// The codecs a trunk holds linked calls to: `None` when it names no
    /// `codecs` (its legs pass any codec end to end, as they always did).
    pub(crate) fn codec_policy(&self, trunk: Option<&TrunkName>) -> Option<Capabilities> {
        let t = trunk.and_then(|t| self.ctx.config.trunk(t))?;
        t.codec_policy
            .then(|| Capabilities::from_names(&t.codecs).ok())
            .flatten()
    }

    /// The codecs voxgate offers and accepts on a leg of `trunk`.
    pub(crate) fn capabilities(&self, trunk: Option<&TrunkName>) -> Capabilities {
        trunk
            .and_then(|t| self.ctx.config.trunk(t))
            .and_then(|t| Capabilities::from_names(&t.codecs).ok())
            .unwrap_or_default()
    }

    /// A new inbound leg for `invite` (bound to its dialog), or why it cannot be one.
    fn new_inbound(
        &mut self,
        tx: TxId,
        invite: Message,
        from: Peer,
        trunk: TrunkName,
    ) -> Result<LegId, (LegId, Refusal)> {
        let local = self
            .ctx
            .locals
            .for_peer(&from)
            .cloned()
            // We received it on a transport we listen on, so this is not used.
            .unwrap_or(voxgate_sip::dialog::LocalAddr::new(
                from.transport,
                from.addr,
            ))
            // The calling trunk's own Via/Contact address, if it has one.
            .advertising(self.ctx.config.trunk(&trunk).and_then(|t| t.advertise))
            // `sips:` only when the INVITE asks for it (RFC 3261 §12.1.1).
            .for_uas(&invite);
        let tag = ids::new_tag();
        let mut sig = Signalling::new(from, None, local);
        sig.allows_update = allows(&invite, "UPDATE");
        // Requests on the dialog (ACK, BYE, re-INVITE) find the conversation
        // by its Call-ID and our tag.
        if let Ok(call_id) = invite.call_id() {
            self.push(Action::BindDialog(DialogKey {
                call_id: call_id.into(),
                local_tag: tag.as_str().into(),
            }));
        }
        let body = invite.body();
        let offer = if body.is_empty() {
            Ok(None)
        } else if !is_sdp(&invite) {
            Err(Refusal {
                status: 415,
                reason: "Unsupported Media Type",
                header: Some((HeaderName::Accept, "application/sdp".into())),
            })
        } else {
            SessionDescription::parse(body)
                .map(Some)
                .map_err(|_| Refusal {
                    status: 488,
                    reason: "Not Acceptable Here",
                    header: None,
                })
        };
        // With session timers off we are a UAS without the extension: its
        // headers are ignored (RFC 4028 §9), never answered with 422.
        let session = match self.ctx.config.calls.session_expires {
            None => Ok(None),
            Some(_) => match self.session_config().negotiate_uas(&invite) {
                Ok(n) => Ok(Some(n)),
                Err(SessionTimerError::TooSmall { min_se }) => Err(Refusal {
                    status: 422,
                    reason: "Session Interval Too Small",
                    header: Some((HeaderName::MinSe, min_se.to_string())),
                }),
                Err(_) => Ok(None),
            },
        };
        let id = self.next_leg_id();
        let region = self.trunk_region(Some(&trunk));
        // The caller's keys are taken here and go nowhere else: the trunk's
        // SRTP policy decides our answer, with a key of ours for this leg.
        let mut sdes = self.new_sdes(Some(&trunk));
        let srtp = match &offer {
            Ok(Some(sdp)) => sdes.take_offer(sdp).err(),
            _ => None,
        };
        // An offer with no voice codec the trunk allows: 488 at once.
        let no_codec = match (&offer, self.codec_policy(Some(&trunk))) {
            (Ok(Some(sdp)), Some(caps)) => !negotiate::policy::admits(sdp, &caps),
            _ => false,
        };
        let refusal = match (&offer, &session, srtp) {
            (Err(_), _, _) => offer.as_ref().err().map(|r| Refusal {
                status: r.status,
                reason: r.reason,
                header: r.header.clone(),
            }),
            (_, Err(r), _) => Some(Refusal {
                status: r.status,
                reason: r.reason,
                header: r.header.clone(),
            }),
            (_, _, Some(e)) => Some(Refusal {
                status: 488,
                reason: "Not Acceptable Here",
                header: Some((HeaderName::Warning, super::srtp::srtp_warning(&e))),
            }),
            _ if no_codec => Some(Refusal {
                status: 488,
                reason: "Not Acceptable Here",
                header: Some((HeaderName::Warning, NO_CODEC_WARNING.to_owned())),
            }),
            _ => None,
        };
        let inbound = InLeg {
            tx,
            tag,
            offer: offer.ok().flatten().map(Arc::new),
            final_sent: false,
            answered_locally: false,
            early_sent: false,
            supports_100rel: supports_100rel(&invite),
            session: session.ok().flatten(),
            rseq: RSeq::random(),
            rseq_map: Vec::new(),
            connecting: None,
            invite,
        };
        let mut leg = Leg::new(
            id,
            Dir::In(Box::new(inbound)),
            sig,
            (Some(trunk), region),
            sdes,
        );
        leg.remote_sdp = leg.inbound().and_then(|i| i.offer.clone());
        self.legs.push(leg);
        match refusal {
            Some(r) => Err((id, r)),
            None => Ok(id),
        }
    }

    /// The INVITE that creates the conversation.
    pub(super) fn on_invite(
        &mut self,
        now: Instant,
        tx: TxId,
        invite: Message,
        from: Peer,
        trunk: TrunkName,
    ) {
        if !self.legs.is_empty() {
            return;
        }
        let caller = party(invite.from_header().ok());
        let callee = party(invite.to_header().ok());
        let request_user = invite.request_uri().and_then(uri_user).map(str::to_string);
        let headers = selected_headers(&invite);
        match self.new_inbound(tx, invite, from, trunk.clone()) {
            Err((leg, refusal)) => {
                let header = refusal.header.as_ref().map(|(n, v)| (*n, v.as_str()));
                self.reject_inbound(leg, refusal.status, refusal.reason, header);
                let status = refusal.status;
                self.end_leg(
                    now,
                    leg,
                    Side::Edge,
                    EndCause::Rejected(status),
                    Some(status),
                );
            }
            Ok(leg) => {
                let region = self.trunk_region(Some(&trunk));
                let mut inbound = Inbound::new(leg, trunk, region, caller, callee, request_user);
                inbound.headers = headers;
                self.info = Some(ConversationInfo::new(self.ctx.id, Some(inbound)));
            }
        }
    }

    /// Answers an inbound leg with a final non-2xx (once).
    pub(crate) fn reject_inbound(
        &mut self,
        leg: LegId,
        status: u16,
        reason: &str,
        extra: Option<(HeaderName, &str)>,
    ) {
        self.reject_inbound_with(leg, status, reason, extra, &[]);
    }

    /// [`reject_inbound`](Self::reject_inbound) with the headers a callee's
    /// failure carries across (`crossing.rs`).
    pub(crate) fn reject_inbound_with(
        &mut self,
        leg: LegId,
        status: u16,
        reason: &str,
        extra: Option<(HeaderName, &str)>,
        carried: &[crossing::Carried],
    ) {
        let Some(l) = self.leg_mut(leg) else { return };
        let peer = l.sig.peer.addr;
        let Some(inbound) = l.inbound_mut() else {
            return;
        };
        if inbound.final_sent {
            return;
        }
        inbound.final_sent = true;
        let mut builder = response_to(
            &inbound.invite,
            status,
            reason,
            Some(&inbound.tag),
            Some(peer),
        );
        // A 503 here is always our own (no media ports, shutting down: a
        // downstream one is mapped, see `upstream_status`): say when to come
        // back, so a carrier retries later rather than at once (§21.5.4).
        let extra = extra.or((status == 503).then_some((HeaderName::RetryAfter, "5")));
        if let Some((name, value)) = extra {
            builder = builder.header(name, value);
        }
        for (name, value) in carried {
            builder = builder.header_raw(name, value);
        }
        let tx = inbound.tx;
        if let Ok(response) = builder.build_message() {
            self.push(Action::Respond { tx, response });
        }
    }

    /// The endpoint of `leg`, created for `lines` media lines if it has none.
    pub(crate) fn ensure_endpoint(
        &mut self,
        leg: LegId,
        lines: usize,
        sdp_addr: Option<std::net::IpAddr>,
    ) -> Option<EndpointId> {
        let l = self.leg(leg)?;
        if let Some(ep) = l.endpoint {
            return Some(ep);
        }
        let mut allowed = Vec::new();
        if let Some(t) = l.trunk.as_ref().and_then(|t| self.ctx.config.trunk(t)) {
            allowed.extend(t.allow.iter().copied());
        }
        allowed.push(ipnet::IpNet::from(l.sig.peer.addr.ip()));
        let spec = EndpointSpec {
            region: l.region.clone(),
            lines: lines.max(1),
            peer: sdp_addr.or(Some(l.sig.peer.addr.ip())),
            allowed_sources: allowed,
        };
        let ep = self.media.add_endpoint(&spec).ok()?;
        let secure = match self.leg_mut(leg) {
            Some(l) => {
                l.endpoint = Some(ep);
                l.sdes.is_secure()
            }
            None => false,
        };
        if secure {
            self.install_keys(leg);
        }
        Some(ep)
    }

    /// `Answer`: voxgate answers an inbound leg itself.
    pub(crate) fn answer_inbound(
        &mut self,
        now: Instant,
        leg: LegId,
        early: bool,
    ) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        let state = l.state_name();
        let Some(inbound) = l.inbound().filter(|_| l.is_live()) else {
            return Err(CommandError::LegState {
                leg,
                state: if l.is_live() { "outbound" } else { state },
                wanted: "answer needs an inbound leg not yet answered",
            });
        };
        if inbound.final_sent {
            return Err(CommandError::LegState {
                leg,
                state,
                wanted: "answer needs an inbound leg not yet answered",
            });
        }
        if inbound.connecting.is_some() {
            return Err(CommandError::LegState {
                leg,
                state: "connecting",
                wanted: "a dial connected to it answers it",
            });
        }
        if early && inbound.early_sent {
            return Ok(());
        }
        let offer = inbound.offer.clone();
        if early && offer.is_none() {
            return Err(CommandError::LegState {
                leg,
                state: "late offer",
                wanted: "an early answer needs an offer in the INVITE",
            });
        }
        let early_sdp = inbound.early_sent.then(|| l.sig.last_sdp.clone()).flatten();
        let caps = self.capabilities(l.trunk.as_ref());
        // The SDP: an answer to the offer, or our offer in the 2xx (late offer).
        let sdp = match (early_sdp, &offer) {
            (Some(sdp), _) => sdp,
            (None, Some(offer)) => {
                let lines = offer.media().len();
                let Some(ep) = self.ensure_endpoint(leg, lines, offer.connection()) else {
                    self.refuse_inbound(now, leg, 503);
                    return Err(CommandError::NoPorts { leg });
                };
                let local = self.media.local(ep);
                let Some(l) = self.leg_mut(leg) else {
                    return Ok(());
                };
                let Leg { sig, sdes, .. } = l;
                // The trunk's SRTP policy took the offer at the INVITE.
                let answer = negotiate::answer_then(
                    offer,
                    &caps,
                    &local,
                    false,
                    None,
                    &mut sig.origin,
                    |a| sdes.write_answer(a),
                );
                match answer {
                    Ok((answer, keys_changed)) => {
                        let targets = voxgate_media::anchor::remote_targets(offer);
                        self.media.set_remote(ep, &targets);
                        self.media
                            .set_dtls_passthrough(ep, negotiate::has_fingerprint(offer));
                        if keys_changed {
                            self.install_keys(leg);
                        }
                        Bytes::from(answer.to_bytes())
                    }
                    Err(_) => {
                        self.refuse_inbound(now, leg, 488);
                        return Ok(());
                    }
                }
            }
            (None, None) => {
                let Some(ep) = self.ensure_endpoint(leg, 1, None) else {
                    self.refuse_inbound(now, leg, 503);
                    return Err(CommandError::NoPorts { leg });
                };
                let Some(local) = self.media.local(ep).first().copied() else {
                    return Err(CommandError::NoPorts { leg });
                };
                let Some(l) = self.leg_mut(leg) else {
                    return Ok(());
                };
                let Leg { sig, sdes, .. } = l;
                let (ours, keys) = negotiate::offer_then(
                    &caps,
                    &local,
                    voxgate_media::Direction::SendRecv,
                    &mut sig.origin,
                    |o| sdes.write_offer(o),
                );
                if keys.is_err() {
                    self.refuse_inbound(now, leg, 503);
                    return Err(CommandError::NoPorts { leg });
                }
                Bytes::from(ours.to_bytes())
            }
        };
        if early {
            let Some(l) = self.leg(leg) else {
                return Ok(());
            };
            let Some(builder) = invite_response(l, 183, "Session Progress") else {
                return Ok(());
            };
            let tx = l.inbound().map(|i| i.tx);
            let msg = builder.body("application/sdp", &sdp).build_message();
            if let Some(l) = self.leg_mut(leg) {
                l.sig.last_sdp = Some(sdp);
                if let Some(i) = l.inbound_mut() {
                    i.early_sent = true;
                    i.answered_locally = true;
                }
            }
            self.timeline.ringing.get_or_insert(now);
            if let (Ok(response), Some(tx)) = (msg, tx) {
                self.push(Action::Respond { tx, response });
            }
            self.event(Event::LegAnswered { leg, early: true });
            return Ok(());
        }
        let ack_answer = if offer.is_some() {
            AckAnswer::None
        } else {
            AckAnswer::Ours
        };
        if let Some(i) = self.leg_mut(leg).and_then(|l| l.inbound_mut()) {
            i.answered_locally = true;
        }
        self.send_inbound_ok(now, leg, Some(sdp), ack_answer, &[]);
        Ok(())
    }

    /// Refuses an inbound leg voxgate meant to answer (no ports: 503; no
    /// codec: 488, with its `Warning`) and ends it.
    fn refuse_inbound(&mut self, now: Instant, leg: LegId, status: u16) {
        let warning = (status == 488).then_some((HeaderName::Warning, NO_CODEC_WARNING));
        self.reject_inbound(leg, status, default_reason(status), warning);
        self.end_leg(
            now,
            leg,
            Side::Edge,
            EndCause::Rejected(status),
            Some(status),
        );
    }

    /// Our 2xx to an inbound leg's INVITE: the dialog is created, the 2xx
    /// retransmitted until its ACK, the leg answered.
    pub(crate) fn send_inbound_ok(
        &mut self,
        now: Instant,
        leg: LegId,
        sdp: Option<Bytes>,
        ack_answer: AckAnswer,
        carried: &[crossing::Carried],
    ) {
        let timers = self.timers_on();
        let t = self.ctx.timers;
        let Some(l) = self.leg_mut(leg) else { return };
        let Some(builder) = invite_response(l, 200, "OK") else {
            return;
        };
        let builder = builder.header(HeaderName::Allow, ALLOW);
        let mut builder = supported(builder, true, timers);
        for (name, value) in carried {
            builder = builder.header_raw(name, value);
        }
        let Dir::In(inbound) = &mut l.dir else { return };
        if let Some(n) = &inbound.session {
            builder = n.add_headers(builder);
            l.sig.timer = Some(n.timer(Role::Uas, now));
        }
        if let Some(sdp) = &sdp {
            builder = builder.body("application/sdp", sdp);
            l.sig.last_sdp = Some(sdp.clone());
        }
        let Ok(ok) = builder.build_message() else {
            return;
        };
        let seq = inbound.invite.cseq().map(|c| c.seq).unwrap_or(1);
        inbound.final_sent = true;
        l.sig.dialog = Dialog::uas(&inbound.invite, &inbound.tag, l.sig.local.clone()).ok();
        l.sig.pending_ok = Some(PendingOk {
            bytes: ok.raw().clone(),
            cseq: seq,
            retransmit: Retransmit::start(now, t.t1, t.t2),
            ack_answer,
        });
        l.answered_at = Some(now);
        let tx = inbound.tx;
        self.push(Action::Respond { tx, response: ok });
        if self.timeline.answer.is_none() {
            self.timeline.answer = Some(now);
        }
        self.arm_media_check(now);
        self.event(Event::LegAnswered { leg, early: false });
    }

    /// `Reject`: the inbound leg, before answer.
    pub(crate) fn reject_command(
        &mut self,
        now: Instant,
        status: u16,
        reason: Option<String>,
    ) -> Result<(), CommandError> {
        if !(400..=699).contains(&status) {
            return Err(CommandError::Status {
                status,
                allowed: "400..=699",
            });
        }
        let Some(leg) = self.first_inbound().map(|l| l.id) else {
            return Err(CommandError::LegState {
                leg: LegId(0),
                state: "originated",
                wanted: "reject needs an inbound leg",
            });
        };
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_live() || l.inbound().is_some_and(|i| i.final_sent) {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "reject needs an inbound leg not yet answered",
            });
        }
        let reason = reason.unwrap_or_else(|| default_reason(status).to_string());
        self.reject_inbound(leg, status, &reason, None);
        self.end_leg(
            now,
            leg,
            Side::Control,
            EndCause::Rejected(status),
            Some(status),
        );
        Ok(())
    }

    /// A CANCEL of an inbound leg's INVITE.
    pub(super) fn on_cancel(&mut self, now: Instant, tx: TxId, request: &Message) {
        let leg = self.leg_of(request);
        let tag = leg.and_then(|l| self.leg(l)).and_then(Leg::local_tag);
        let ok = response_to(request, 200, "OK", tag.as_deref(), None).build_message();
        if let Ok(ok) = ok {
            self.push(Action::Respond { tx, response: ok });
        }
        let Some(leg) = leg else { return };
        let answered = self
            .leg(leg)
            .and_then(Leg::inbound)
            .is_none_or(|i| i.final_sent);
        if answered {
            return;
        }
        self.reject_inbound(leg, 487, "Request Terminated", None);
        self.end_leg(now, leg, Side::Caller, EndCause::Cancelled, Some(487));
    }

    /// An INVITE with Replaces that names one of our confirmed dialogs: the
    /// new leg is answered by voxgate, takes the old one's bridge (or place
    /// in its conference), and the
    /// old leg is hung up (RFC 3891 §3).
    pub(super) fn on_replacing(
        &mut self,
        now: Instant,
        tx: TxId,
        invite: Message,
        from: Peer,
        trunk: TrunkName,
        replaces: &DialogKey,
    ) {
        let old = self.legs.iter().find(|l| {
            l.is_answered()
                && l.sig.dialog.as_ref().is_some_and(|d| {
                    d.call_id == replaces.call_id.as_ref()
                        && d.local_tag == replaces.local_tag.as_ref()
                })
        });
        let Some(old) = old.map(|l| l.id) else {
            // §3: no confirmed dialog matches (any more): 481.
            let r = response_to(
                &invite,
                481,
                default_reason(481),
                Some(&ids::new_tag()),
                None,
            )
            .build_message();
            if let Ok(response) = r {
                self.push(Action::Respond { tx, response });
            }
            return;
        };
        let uri = invite.request_uri().unwrap_or("").to_string();
        let new = match self.new_inbound(tx, invite, from, trunk) {
            Ok(new) => new,
            Err((new, refusal)) => {
                let header = refusal.header.as_ref().map(|(n, v)| (*n, v.as_str()));
                self.reject_inbound(new, refusal.status, refusal.reason, header);
                if let Some(l) = self.leg_mut(new) {
                    l.ended = Some((Side::Edge, EndCause::Rejected(refusal.status)));
                }
                return;
            }
        };
        self.event(Event::LegCreated {
            leg: new,
            dial: None,
            uri,
        });
        // Answer with the codec the old leg used, so its bridge needs no change.
        let partner = self.leg(old).and_then(|l| l.bridge.or(l.link));
        let member = self.leg(old).and_then(|l| l.conference);
        if let Err(e) = self.answer_inbound(now, new, false) {
            self.event(Event::Error {
                command: "replaces",
                error: e,
            });
            return;
        }
        if self.leg(new).is_none_or(|l| !l.is_answered()) {
            return;
        }
        self.event(Event::LegReplaced { old, new });
        if let Some(m) = member {
            // Its place in the conference, role and mute as they were.
            self.leave_conference(old);
            self.enter_conference(new, m);
        } else if let Some(partner) = partner {
            self.unlink(old);
            self.join(now, new, partner);
        }
        self.hang_up_leg(now, old, Side::Edge, EndCause::Replaced, None);
    }
}
