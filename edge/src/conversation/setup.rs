//! Setting a call up on the A-leg: the INVITE that creates the call, its SDP
//! offer and session-timer negotiation, and what the control plane learns.

use super::*;
use voxgate_sip::dialog::prack::{RSeq, supports_100rel};
use voxgate_sip::dialog::{SessionTimerConfig, SessionTimerError};
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
}

/// A response on A to its INVITE (18x or 2xx: it creates A's dialog), with
/// our tag and Contact, and A's own Record-Route echoed (§12.1.1) so that
/// the caller's proxies stay in its route set.
pub(crate) fn a_response(a: &ALeg, status: u16, reason: &str) -> MessageBuilder {
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
