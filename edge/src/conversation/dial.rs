//! Dials: outbound legs to destinations, one after another (failover on
//! 408, 5xx, timeouts and transport failures) or all at once (parallel
//! ringing: the first 2xx wins); 3xx redirections within configured trunks;
//! the trying and ring timeouts; and the end of a dial.

use super::codecs::NO_CODEC_WARNING;
use super::crossing;
use super::header_rules;
use super::identity::{self, ANONYMOUS_DISPLAY, ANONYMOUS_USER, Disclosure};
use super::inbound::supported;
use super::leg::{CancelState, CancelWhy, OutLeg, SentInvite};
use super::*;
use crate::out_of_dialog::ALLOW;
use voxgate_config::TemplateVars;
use voxgate_media::anchor::{remote_targets, rewrite_owned_then};
use voxgate_media::negotiate::{self, policy};
use voxgate_sip::dialog::NewRequest;
use voxgate_sip::message::HeaderName;

/// Redirections one dial follows at most.
pub const MAX_REDIRECTS: u8 = 5;

impl<M: MediaControl> Conversation<M> {
    /// `Dial` (and the dial of an accepted transfer): checks it, then starts it.
    pub(crate) fn dial_command(
        &mut self,
        now: Instant,
        id: DialId,
        dial: crate::control_plane::Dial,
        notify: Option<LegId>,
    ) -> Result<DialId, CommandError> {
        self.check_dial(&dial)?;
        let mut link = false;
        if let Some(leg) = dial.connect {
            let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
            if !l.is_live() {
                return Err(CommandError::UnknownLeg { leg });
            }
            match l.inbound() {
                Some(i) if i.connecting.is_some() => {
                    return Err(CommandError::LegState {
                        leg,
                        state: "connecting",
                        wanted: "one dial at a time connects to an unanswered leg",
                    });
                }
                Some(i) if !i.final_sent && !i.answered_locally => link = true,
                _ if l.is_answered() => {}
                _ => {
                    return Err(CommandError::LegState {
                        leg,
                        state: l.state_name(),
                        wanted: "connect needs an answered leg or an inbound one not yet answered",
                    });
                }
            }
        }
        if link
            && let Some(i) = dial
                .connect
                .and_then(|l| self.leg_mut(l))
                .and_then(|l| l.inbound_mut())
        {
            i.connecting = Some(id);
        }
        self.idle_deadline = None;
        let tried = dial.destinations.iter().map(|d| d.uri.clone()).collect();
        self.dials.push(DialState {
            id,
            pending: dial.destinations.into_iter().map(Pending::from).collect(),
            resolving: None,
            parallel: dial.parallel,
            ring_timeout: dial
                .ring_timeout
                .unwrap_or(self.ctx.config.calls.ring_timeout),
            caller_id: dial.caller_id,
            follow_redirects: dial.follow_redirects,
            connect: dial.connect,
            link,
            legs: Vec::new(),
            winner: None,
            early: None,
            last_status: None,
            no_media: false,
            edge_fault: false,
            last_warning: None,
            last_headers: Vec::new(),
            redirects: 0,
            tried,
            notify,
            done: false,
        });
        self.advance_dial(now, id);
        Ok(id)
    }

    /// Starts what the dial should ring now: every pending destination when
    /// parallel, else the next one when none rings; ends the dial when
    /// nothing is left.
    pub(crate) fn advance_dial(&mut self, now: Instant, id: DialId) {
        loop {
            let Some(d) = self.dial(id) else { return };
            if d.done || d.winner.is_some() || d.resolving.is_some() {
                return;
            }
            let ringing = d.legs.iter().any(|l| {
                self.leg(*l)
                    .is_some_and(|l| l.outbound().is_some_and(OutLeg::pending))
            });
            if ringing && !d.parallel {
                return;
            }
            let Some(next) = self.dial_mut(id).and_then(|d| d.pending.pop_front()) else {
                if !ringing {
                    self.dial_failed(now, id);
                }
                return;
            };
            if let Some(skip) = self.ctx.health.skip(&next.dest) {
                // Known unreachable, or put out of service: the next one at once.
                tracing::info!(dial = %id, uri = %next.dest.uri, ?skip, "destination skipped");
                if let Some(d) = self.dial_mut(id) {
                    d.last_status.get_or_insert(480);
                }
                continue;
            }
            if next.hop.is_none()
                && let Some(query) = crate::dns::name_query(&next.dest.uri, next.dest.transport)
            {
                // A name: the dial waits for its next hops (RFC 3263), which
                // the task asks of DNS, off the signalling loop.
                if let Some(d) = self.dial_mut(id) {
                    d.resolving = Some(next.dest);
                }
                self.push(Action::Resolve { dial: id, query });
                return;
            }
            if let Err(failure) = self.start_attempt(now, id, next) {
                tracing::debug!(dial = %id, ?failure, "destination not dialled");
                if let Some(d) = self.dial_mut(id) {
                    match failure {
                        // A node or caller problem: no other destination fares better.
                        LegFailure::NoMedia | LegFailure::Status(483) => {
                            d.no_media = failure == LegFailure::NoMedia;
                            d.last_status = Some(if d.no_media { 503 } else { 483 });
                            d.last_warning = None;
                            d.last_headers.clear();
                            d.pending.clear();
                        }
                        // No codec of the caller's for this destination's
                        // trunk: another destination may take them.
                        LegFailure::Status(488) => {
                            if d.last_status.is_none() {
                                d.last_status = Some(488);
                                d.last_warning = Some(NO_CODEC_WARNING);
                                d.edge_fault = true;
                            }
                        }
                        // An unusable destination: what the others said stands.
                        _ => {
                            if d.last_status.is_none() {
                                d.last_status = Some(480);
                                d.edge_fault = true;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The next hops of the name the dial waits for: each becomes an attempt
    /// to the same URI, tried in order (failover on 408, 5xx, timeouts and
    /// transport failures, as between destinations). None at all: the
    /// destination fails as a transport failure does (480 unless another
    /// destination said more).
    pub(crate) fn on_resolved(
        &mut self,
        now: Instant,
        id: DialId,
        targets: Vec<std::net::SocketAddr>,
    ) {
        let Some(d) = self.dial_mut(id) else { return };
        let Some(dest) = d.resolving.take() else {
            return;
        };
        if targets.is_empty() {
            tracing::info!(dial = %id, uri = %dest.uri, "destination name resolved to no address");
            d.last_status.get_or_insert(480);
        }
        for hop in targets.into_iter().rev() {
            d.pending.push_front(Pending {
                dest: dest.clone(),
                hop: Some(hop),
            });
        }
        self.advance_dial(now, id);
    }

    /// Every destination failed: tell the control plane, and refuse a
    /// linked inbound leg (the classic B2BUA outcome) with the status.
    fn dial_failed(&mut self, now: Instant, id: DialId) {
        let Some(d) = self.dial_mut(id) else { return };
        d.done = true;
        let status = d.last_status.unwrap_or(480);
        // A node failure is never the callee's.
        let side = if d.no_media || d.edge_fault {
            Side::Edge
        } else {
            Side::Callee
        };
        let warning = d.last_warning;
        let carried = std::mem::take(&mut d.last_headers);
        let (link, connect, notify) = (d.link, d.connect, d.notify);
        self.event(Event::DialFailed { dial: id, status });
        if let Some(referrer) = notify {
            self.notify_transfer(referrer, status, true);
        }
        if let Some(leg) = connect {
            if let Some(i) = self.leg_mut(leg).and_then(|l| l.inbound_mut()) {
                i.connecting = None;
            }
            if link {
                let warning = warning.map(|w| (HeaderName::Warning, w));
                self.reject_inbound_with(leg, status, default_reason(status), warning, &carried);
                self.end_leg(now, leg, side, EndCause::Rejected(status), Some(status));
            }
        }
        if self.legs.iter().all(|l| !l.is_live()) {
            self.note_end(side, EndCause::Rejected(status), Some(status));
        }
        let _ = now;
    }

    /// The dial's status after a failed attempt.
    pub(crate) fn attempt_failed(
        &mut self,
        now: Instant,
        leg: LegId,
        failure: LegFailure,
        status: u16,
    ) {
        self.attempt_refused(now, leg, failure, status, None);
    }

    /// [`attempt_failed`](Self::attempt_failed), with the `Warning` a
    /// linked caller gets should it be the last word (voxgate's own 488).
    pub(crate) fn attempt_refused(
        &mut self,
        now: Instant,
        leg: LegId,
        failure: LegFailure,
        status: u16,
        warning: Option<&'static str>,
    ) {
        self.event(Event::LegFailed { leg, failure });
        self.end_leg_quietly(now, leg, failure);
        let Some(dial) = self.leg(leg).and_then(|l| l.outbound()).map(|o| o.dial) else {
            return;
        };
        let carried = std::mem::take(&mut self.pending_headers);
        if let Some(d) = self.dial_mut(dial) {
            d.last_status = Some(status);
            d.last_warning = warning;
            d.last_headers = carried;
            d.edge_fault = matches!(failure, LegFailure::NoMedia | LegFailure::BadDestination);
        }
        self.advance_dial(now, dial);
    }

    /// Starts one outbound leg of dial `id` to `dest`.
    fn start_attempt(
        &mut self,
        now: Instant,
        id: DialId,
        next: Pending,
    ) -> Result<LegId, LegFailure> {
        let Pending { dest, hop } = next;
        let target = match hop {
            Some(addr) => {
                let (host, _) = uri_host_port(&dest.uri).ok_or(LegFailure::BadDestination)?;
                Target {
                    host: host.to_owned(),
                    addr,
                }
            }
            None => Target::parse(&dest.uri, dest.transport).ok_or(LegFailure::BadDestination)?,
        };
        let trunk = dest.trunk.as_ref().and_then(|t| self.ctx.config.trunk(t));
        if dest.trunk.is_some() && trunk.is_none() {
            return Err(LegFailure::BadDestination);
        }
        let to_trusted = trunk.is_some_and(|t| t.trusted);
        // Our From and Contact are `sips:` for a `sips:` destination (§8.1.1.8).
        let (local, socket) = self
            .ctx
            .locals
            .for_trunk(trunk, dest.transport, target.addr.ip())
            .map(|(l, socket)| (l.for_uac(&dest.uri), socket))
            .ok_or(LegFailure::BadDestination)?;
        let tls_name = (dest.transport == TransportKind::Tls).then(|| {
            trunk
                .and_then(|t| t.tls_peer_name.clone())
                .unwrap_or_else(|| target.host.clone())
        });
        let peer = Peer {
            transport: dest.transport,
            addr: target.addr,
            // UDP: leave from the listener Via names; streams connect anew.
            conn: socket,
        };
        let Some(d) = self.dial(id) else {
            return Err(LegFailure::BadDestination);
        };
        let (link, connect, caller_id) = (d.link, d.connect, d.caller_id.clone());
        let linked = if link { connect } else { None };
        // The caller presented, Max-Forwards and 100rel: from the linked
        // inbound leg, if any.
        let (mut display, mut user, max_forwards, supports_100rel, linked_offer) =
            match linked.and_then(|l| self.leg(l)).and_then(Leg::inbound) {
                Some(i) => {
                    let caller = i.invite.from_header().ok();
                    let display = caller
                        .as_ref()
                        .and_then(|c| c.display_lossy())
                        .map(|d| d.trim_matches('"').to_string());
                    let user = caller
                        .as_ref()
                        .and_then(|c| uri_user(c.uri))
                        .map(str::to_string);
                    let mf = i
                        .invite
                        .max_forwards()
                        .ok()
                        .flatten()
                        .map_or(self.ctx.config.calls.max_forwards, |mf| {
                            mf.saturating_sub(1)
                        })
                        .min(self.ctx.config.calls.max_forwards);
                    (display, user, mf, i.supports_100rel, Some(i.offer.clone()))
                }
                None => (None, None, self.ctx.config.calls.max_forwards, false, None),
            };
        if linked.is_none()
            && let Some(other) = connect.and_then(|c| self.leg(c))
        {
            // Connected to a leg: present that leg's party (the caller of an
            // inbound leg, the called party of an outbound one).
            let party = match &other.dir {
                Dir::In(i) => i.invite.from_header().ok(),
                Dir::Out(o) => o.invite.to_header().ok(),
            };
            display = party
                .as_ref()
                .and_then(|p| p.display_lossy())
                .map(|d| d.trim_matches('"').to_string());
            user = party
                .as_ref()
                .and_then(|p| uri_user(p.uri))
                .map(str::to_string);
        }
        if let Some(c) = caller_id {
            display = c.display.or(display);
            user = c.user.or(user);
        }
        // RFC 3325: what the linked caller's trunk asserts, as far as trust allows.
        let disclosure = linked
            .and_then(|l| self.leg(l))
            .and_then(|leg| {
                let from_trusted = leg
                    .trunk
                    .as_ref()
                    .and_then(|t| self.ctx.config.trunk(t))
                    .is_some_and(|t| t.trusted);
                leg.inbound()
                    .map(|i| Disclosure::new(&i.invite, from_trusted, to_trusted))
            })
            .unwrap_or(Disclosure::NONE);
        if disclosure.anonymous_caller() {
            display = Some(ANONYMOUS_DISPLAY.to_owned());
            user = Some(ANONYMOUS_USER.to_owned());
        }
        // Header rules of the caller's trunk (inbound) and the callee's
        // (outbound); a call between trunks without rules skips all of it.
        let from_trunk = linked
            .and_then(|l| self.leg(l))
            .and_then(|l| l.trunk.as_ref())
            .and_then(|t| self.ctx.config.trunk(t));
        let in_rules = from_trunk.map(|t| &t.inbound).filter(|r| !r.is_empty());
        let out_rules = trunk.map(|t| &t.outbound).filter(|r| !r.is_empty());
        let ruled = if in_rules.is_some() || out_rules.is_some() {
            let mut carried: Vec<header_rules::Carried> = linked
                .and_then(|l| self.leg(l))
                .and_then(Leg::inbound)
                .map(|i| {
                    disclosure
                        .carried(&i.invite)
                        .map(|(n, v)| (n.as_str().to_owned(), v.to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(i) = linked.and_then(|l| self.leg(l)).and_then(Leg::inbound) {
                carried.extend(crossing::passed(&i.invite, [in_rules, out_rules]));
            }
            let callee = uri_user(&dest.uri).unwrap_or("");
            let from_name = from_trunk.map_or("", |t| t.name.as_str());
            let to_name = trunk.map_or("", |t| t.name.as_str());
            for (rules, name) in [(in_rules, from_name), (out_rules, to_name)] {
                let Some(rules) = rules else { continue };
                header_rules::normalise_identity(rules.caller_id.as_ref(), &mut user, &mut carried);
                let vars = TemplateVars {
                    caller: user.as_deref().unwrap_or(""),
                    callee,
                    trunk: name,
                    from_trunk: from_name,
                    to_trunk: to_name,
                    value: "",
                };
                header_rules::apply(rules, &mut carried, &vars);
            }
            // RFC 3325 §5 and RFC 3323 on the result: a Privacy the rules left
            // asking for it hides the identity from an untrusted trunk.
            if !to_trusted
                && carried.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case(header_rules::PRIVACY) && identity::hides_identity(v)
                })
            {
                carried.retain(|(n, _)| !n.eq_ignore_ascii_case(header_rules::PAI));
                display = Some(ANONYMOUS_DISPLAY.to_owned());
                user = Some(ANONYMOUS_USER.to_owned());
            }
            Some(carried)
        } else {
            None
        };
        if max_forwards == 0 {
            // The caller's hop limit, not the destination's fault.
            return Err(LegFailure::Status(483));
        }
        let leg = self.next_leg_id();
        let region = self.trunk_region(dest.trunk.as_ref());
        let from_uri = local.uri(user.as_deref());
        let from = match &display {
            Some(d) => format!(
                "\"{}\" <{}>",
                d.replace('"', ""),
                strip_transport(&from_uri)
            ),
            None => format!("<{}>", strip_transport(&from_uri)),
        };
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
        if let Some(carried) = &ruled {
            for (name, value) in carried {
                builder = builder.header_raw(name, value);
            }
        } else if let Some(i) = linked.and_then(|l| self.leg(l)).and_then(Leg::inbound) {
            for (name, value) in disclosure.carried(&i.invite) {
                builder = builder.header(name, value);
            }
        }
        let session = self
            .ctx
            .config
            .calls
            .session_expires
            .map(|_| self.session_config().uac_offer());
        if let Some(s) = &session {
            builder = s.add_headers(builder);
        }
        let mut sig = Signalling::new(peer, tls_name.clone(), local);
        // This leg's SRTP: its trunk's policy, keys of its own.
        let mut sdes = self.new_sdes(dest.trunk.as_ref());

        // The offer: the linked leg's, anchored; our own; or none (late offer).
        let mut endpoint = None;
        let sdp = match linked_offer {
            Some(None) => None,
            Some(Some(offer)) => {
                let lines = offer.media().len();
                let inbound = linked.unwrap_or(LegId(0));
                // The caller's codecs as the callee's trunk allows them
                // (or voxgate can transcode them into): none, not dialled.
                let mut policed = (*offer).clone();
                let in_trunk = self.leg(inbound).and_then(|l| l.trunk.clone());
                if let Some((f, t)) = self.linked_policy(in_trunk.as_ref(), dest.trunk.as_ref()) {
                    policy::restrict_offer(&mut policed, &f, &t)
                        .map_err(|_| LegFailure::Status(488))?;
                }
                let Some(in_ep) = self.ensure_endpoint(inbound, lines, offer.connection()) else {
                    return Err(LegFailure::NoMedia);
                };
                self.media.set_remote(in_ep, &remote_targets(&offer));
                // DTLS-SRTP negotiated end to end passes the relay untouched.
                self.media
                    .set_dtls_passthrough(in_ep, negotiate::has_fingerprint(&offer));
                let spec = self.endpoint_spec(dest.trunk.as_ref(), &region, lines, peer);
                let ep = self
                    .media
                    .add_endpoint(&spec)
                    .map_err(|_| LegFailure::NoMedia)?;
                endpoint = Some(ep);
                // The caller's keys were taken at its INVITE; `rewrite`
                // removes them and the callee gets ours.
                let (out, keys) =
                    rewrite_owned_then(policed, &self.media.local(ep), &mut sig.origin, |o| {
                        sdes.write_offer(o)
                    });
                if keys.is_err() {
                    self.media.remove_endpoint(ep);
                    return Err(LegFailure::NoMedia);
                }
                Some(Bytes::from(out.to_bytes()))
            }
            None => {
                let spec = self.endpoint_spec(dest.trunk.as_ref(), &region, 1, peer);
                let ep = self
                    .media
                    .add_endpoint(&spec)
                    .map_err(|_| LegFailure::NoMedia)?;
                endpoint = Some(ep);
                let local_media = self
                    .media
                    .local(ep)
                    .first()
                    .copied()
                    .ok_or(LegFailure::NoMedia)?;
                let caps = self.capabilities(dest.trunk.as_ref());
                let (ours, keys) = negotiate::offer_then(
                    &caps,
                    &local_media,
                    voxgate_media::Direction::SendRecv,
                    &mut sig.origin,
                    |o| sdes.write_offer(o),
                );
                if keys.is_err() {
                    self.media.remove_endpoint(ep);
                    return Err(LegFailure::NoMedia);
                }
                Some(Bytes::from(ours.to_bytes()))
            }
        };
        let offered = sdp.is_some();
        if let Some(sdp) = &sdp {
            builder = builder.body("application/sdp", sdp);
            sig.last_sdp = Some(sdp.clone());
        }
        let Ok(invite) = builder.build_message() else {
            if let Some(ep) = endpoint {
                self.media.remove_endpoint(ep);
            }
            return Err(LegFailure::BadDestination);
        };
        let tx = TxId::next();
        self.push(Action::BindDialog(DialogKey {
            call_id: request_ids.call_id.as_str().into(),
            local_tag: request_ids.from_tag.as_str().into(),
        }));
        self.push(Action::Send {
            tx,
            request: invite.clone(),
            to: peer,
            tls_name: tls_name.clone(),
        });
        self.invites.insert(
            tx,
            SentInvite {
                leg,
                invite: invite.clone(),
                to: peer,
                tls_name,
                cancelled: false,
                acks: Vec::new(),
            },
        );
        if self.timeline.first_b_invite.is_none() {
            self.timeline.first_b_invite = Some(now);
        }
        let ring_timeout = self
            .dial(id)
            .map_or(self.ctx.config.calls.ring_timeout, |d| d.ring_timeout);
        let trying_deadline = self.ctx.config.calls.trying_timeout.map(|d| now + d);
        let uri = dest.uri.clone();
        let out = OutLeg {
            dial: id,
            tx,
            invite,
            destination: dest.clone(),
            offered,
            own_offer: offered && linked.is_none(),
            provisional: false,
            answered: false,
            done: false,
            cancel: CancelState::None,
            trying_deadline,
            ring_deadline: Some(now + ring_timeout),
            cancel_deadline: None,
            session,
        };
        let mut l = Leg::new(
            leg,
            Dir::Out(Box::new(out)),
            sig,
            (dest.trunk, region),
            sdes,
        );
        l.endpoint = endpoint;
        self.legs.push(l);
        if self.answers_challenges {
            // Its INVITE was kept before the leg existed: only a trunk with credentials needs it.
            self.keep_challengeable_of(leg);
        }
        if let Some(d) = self.dial_mut(id) {
            d.legs.push(leg);
        }
        self.event(Event::LegCreated {
            leg,
            dial: Some(id),
            uri,
        });
        Ok(leg)
    }

    /// The endpoint spec of an outbound leg.
    fn endpoint_spec(
        &self,
        trunk: Option<&TrunkName>,
        region: &str,
        lines: usize,
        peer: Peer,
    ) -> EndpointSpec {
        let mut allowed = Vec::new();
        if let Some(t) = trunk.and_then(|t| self.ctx.config.trunk(t)) {
            allowed.extend(t.allow.iter().copied());
        }
        allowed.push(ipnet::IpNet::from(peer.addr.ip()));
        EndpointSpec {
            region: region.to_owned(),
            lines: lines.max(1),
            peer: Some(peer.addr.ip()),
            allowed_sources: allowed,
        }
    }

    /// A 3xx on an outbound leg: its Contacts become the dial's next
    /// destinations when it follows redirections, within limits: at most
    /// [`MAX_REDIRECTS`], never a URI tried before (a loop), and only to an
    /// address of a configured trunk (a redirect must not make voxgate call
    /// anywhere on the internet). False when nothing was added.
    pub(crate) fn follow_redirect(&mut self, dial: DialId, leg: LegId, response: &Message) -> bool {
        let Some(out) = self.leg(leg).and_then(Leg::outbound) else {
            return false;
        };
        let transport = out.destination.transport;
        let config = self.ctx.config.clone();
        let Some(d) = self.dial(dial) else {
            return false;
        };
        if !d.follow_redirects || d.redirects >= MAX_REDIRECTS {
            return false;
        }
        let mut targets: Vec<Destination> = Vec::new();
        for contact in response.contacts().filter_map(Result::ok) {
            let uri = contact.uri.to_string();
            let Some(target) = Target::parse(&uri, transport) else {
                continue;
            };
            let Some(trunk) = config.trunk_for(target.addr.ip()) else {
                tracing::debug!(%uri, "redirection to an address of no trunk refused");
                continue;
            };
            if !trunk
                .transports
                .contains(&crate::admission::listener_transport(transport))
            {
                continue;
            }
            let seen = d.tried.iter().any(|t| t.eq_ignore_ascii_case(&uri))
                || targets.iter().any(|t| t.uri.eq_ignore_ascii_case(&uri));
            if seen {
                tracing::debug!(%uri, "redirection loop refused");
                continue;
            }
            targets.push(Destination {
                uri,
                transport,
                trunk: Some(trunk.name.clone()),
            });
        }
        if targets.is_empty() {
            return false;
        }
        let Some(d) = self.dial_mut(dial) else {
            return false;
        };
        d.redirects += 1;
        for t in targets.into_iter().rev() {
            d.tried.push(t.uri.clone());
            d.pending.push_front(t.into());
        }
        true
    }

    /// Timers of outbound legs still ringing.
    pub(crate) fn setup_timeouts(&mut self, now: Instant) {
        let ids: Vec<LegId> = self
            .legs
            .iter()
            .filter(|l| l.is_live() && l.outbound().is_some_and(OutLeg::pending))
            .map(|l| l.id)
            .collect();
        for leg in ids {
            let Some(out) = self.leg_mut(leg).and_then(Leg::outbound_mut) else {
                continue;
            };
            if out.cancel_deadline.is_some_and(|d| d <= now) {
                // §9.1: no final response 64*T1 after our CANCEL: the INVITE
                // counts as cancelled (its transaction absorbs a late answer).
                out.complete();
                let cancel = std::mem::replace(&mut out.cancel, CancelState::None);
                let failure = if cancel == CancelState::Sent(CancelWhy::RingTimeout) {
                    LegFailure::Timeout
                } else {
                    LegFailure::Cancelled
                };
                self.attempt_failed(now, leg, failure, 480);
                continue;
            }
            if out.trying_deadline.is_some_and(|d| d <= now) {
                // Not even a 100 Trying: the destination is gone. The
                // transaction stays to absorb a late answer, which
                // `on_response` takes down (its INVITE stays in `invites`).
                out.complete();
                self.attempt_failed(now, leg, LegFailure::Timeout, 408);
                continue;
            }
            if out.ring_deadline.is_some_and(|d| d <= now) {
                out.ring_deadline = None;
                self.cancel_out(now, leg, CancelWhy::RingTimeout);
            }
        }
    }
}

/// A `sip:`/`sips:` URI cut at its host: (`scheme:user@`, `host[:port]`,
/// `;params?headers`). The user part may hold `;` (RFC 3261 §25.1
/// user-unreserved: `sip:+4420;npdi@host`), so parameters are looked for
/// only after the user part's `@`.
fn split_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let scheme = if uri.starts_with("sips:") {
        5
    } else if uri.starts_with("sip:") {
        4
    } else {
        return None;
    };
    let rest = &uri[scheme..];
    // Headers (after `?`) may hold an unescaped `@`: only an `@` before them ends a user part.
    let host_start = match rest.find('@') {
        Some(at) if rest.find('?').is_none_or(|q| at < q) => scheme + at + 1,
        _ => scheme,
    };
    let after = &uri[host_start..];
    let end = host_start + after.find([';', '?']).unwrap_or(after.len());
    Some((&uri[..host_start], &uri[host_start..end], &uri[end..]))
}

/// `;transport=tcp` belongs in Contact, not in From: the URI without its
/// parameters and headers (the user part kept whole).
fn strip_transport(uri: &str) -> &str {
    match split_uri(uri) {
        Some((user, host, _)) => &uri[..user.len() + host.len()],
        None => uri.split(';').next().unwrap_or(uri),
    }
}

/// Where a destination URI points.
pub(crate) struct Target {
    pub host: String,
    pub addr: std::net::SocketAddr,
}

/// The host of a `sip:`/`sips:` URI (an IPv6 address without its
/// brackets) and its port, if it names one.
pub fn uri_host_port(uri: &str) -> Option<(&str, Option<u16>)> {
    let (_, hostport, _) = split_uri(uri)?;
    if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        return Some((h, port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((hostport, None)),
    }
}

impl Target {
    /// `sip:user@host:port;params` with an IP host (a name is resolved
    /// before, [`crate::dns`], and its next hop given with the attempt).
    pub(crate) fn parse(uri: &str, transport: TransportKind) -> Option<Target> {
        let (host, port) = uri_host_port(uri)?;
        let port = port.unwrap_or(crate::dns::select::default_port(transport));
        let ip: std::net::IpAddr = if host.eq_ignore_ascii_case("localhost") {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            host.parse().ok()?
        };
        Some(Target {
            host: host.to_owned(),
            addr: std::net::SocketAddr::new(ip, port),
        })
    }
}

#[cfg(test)]
mod uri_tests {
    use super::*;

    #[test]
    fn a_user_part_with_parameters_is_kept_whole() {
        let uri = "sip:+442071234567;npdi;rn=+4420@192.0.2.1:5070;transport=tcp";
        assert_eq!(
            split_uri(uri),
            Some((
                "sip:+442071234567;npdi;rn=+4420@",
                "192.0.2.1:5070",
                ";transport=tcp"
            ))
        );
        assert_eq!(
            strip_transport(uri),
            "sip:+442071234567;npdi;rn=+4420@192.0.2.1:5070"
        );
        let t = Target::parse(uri, TransportKind::Tcp).map(|t| t.addr.to_string());
        assert_eq!(t.as_deref(), Some("192.0.2.1:5070"));
    }

    #[test]
    fn hosts_ports_and_headers() {
        assert_eq!(
            split_uri("sips:[2001:db8::1]:5061;lr"),
            Some(("sips:", "[2001:db8::1]:5061", ";lr"))
        );
        // An @ in the headers is not a user part's end.
        assert_eq!(
            split_uri("sip:192.0.2.1?Replaces=a%3Bto-tag%3Db@x"),
            Some(("sip:", "192.0.2.1", "?Replaces=a%3Bto-tag%3Db@x"))
        );
        assert_eq!(split_uri("tel:+4420"), None);
        let addr = |u: &str, t| Target::parse(u, t).map(|t| t.addr.to_string());
        assert_eq!(
            addr("sip:bob@192.0.2.1", TransportKind::Udp).as_deref(),
            Some("192.0.2.1:5060")
        );
        assert_eq!(
            addr("sips:bob@192.0.2.1", TransportKind::Tls).as_deref(),
            Some("192.0.2.1:5061")
        );
        assert_eq!(
            addr("sip:[::1]:5080;transport=tcp", TransportKind::Tcp).as_deref(),
            Some("[::1]:5080")
        );
        assert_eq!(
            addr("sip:carrier.example", TransportKind::Udp),
            None,
            "names are not resolved yet"
        );
        assert_eq!(addr("sip:bob@192.0.2.1:x", TransportKind::Udp), None);
    }
}
