//! Outbound attempts: the B-leg INVITE for a destination, failover to the
//! next destination, and the trying and ring timeouts.

use super::setup::supported;
use super::*;
use crate::control_plane::LegFailure;
use crate::out_of_dialog::ALLOW;
use voxgate_media::anchor::{remote_targets, rewrite};
use voxgate_sip::dialog::NewRequest;
use voxgate_sip::message::HeaderName;

impl<M: MediaControl> Call<M> {
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
            .and_then(|c| c.display_lossy())
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
