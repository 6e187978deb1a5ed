//! Digest challenges to the requests voxgate sends (RFC 3261 §22.2, RFC 8760):
//! a 401 or 407 from a leg whose trunk has `credentials` is answered once by
//! sending the request again with them, in a new transaction with the next
//! CSeq (same Call-ID, From tag and body); the conversation then follows the
//! new transaction as it followed the old one. A second challenge to the
//! answered request (wrong credentials) is a failure like any other final
//! response, except when the carrier says our nonce was `stale`.
//!
//! Requests are kept for this only in conversations of a node where some
//! trunk has credentials, and only those to legs of such a trunk: the plain
//! call path keeps no copies.

use super::*;
use voxgate_sip::auth;

/// A request sent to a peer that may challenge it.
#[derive(Debug)]
pub(crate) struct Challengeable {
    pub tx: TxId,
    pub request: Message,
    pub to: Peer,
    pub tls_name: Option<String>,
    /// Answers sent for this request so far (its earlier transactions'
    /// challenges).
    pub answered: u8,
}

/// Challenges a request may be answered for: the first, and one that says
/// our nonce was stale.
const MAX_ANSWERS: u8 = 2;

impl<M: MediaControl> Conversation<M> {
    /// Keeps a request just sent (not ACK or CANCEL, which are never
    /// challenged, §22.1) while its transaction may be challenged.
    pub(crate) fn keep_challengeable(&mut self, action: &Action) {
        let Action::Send {
            tx,
            request,
            to,
            tls_name,
        } = action
        else {
            return;
        };
        if matches!(request.method(), Some(Method::Ack | Method::Cancel) | None) {
            return;
        }
        // A leg whose trunk has no credentials cannot answer: nothing to keep. (An
        // initial INVITE goes out before its leg exists: `keep_challengeable_of`
        // decides for it once the leg does.)
        if let Some(leg) = self.leg_of_request(request)
            && !self.has_credentials(leg)
        {
            return;
        }
        self.challengeable.push(Challengeable {
            tx: *tx,
            request: request.clone(),
            to: *to,
            tls_name: tls_name.clone(),
            answered: 0,
        });
    }

    /// Drops what was kept for `leg` if its trunk has no credentials.
    pub(crate) fn keep_challengeable_of(&mut self, leg: LegId) {
        if self.has_credentials(leg) {
            return;
        }
        let Some(call_id) = self
            .leg(leg)
            .and_then(|l| l.outbound())
            .and_then(|o| o.invite.call_id().ok())
            .map(str::to_owned)
        else {
            return;
        };
        self.challengeable
            .retain(|c| c.request.call_id().ok() != Some(call_id.as_str()));
    }

    fn has_credentials(&self, leg: LegId) -> bool {
        self.leg(leg)
            .and_then(|l| l.trunk.as_ref())
            .and_then(|t| self.ctx.config.trunk(t))
            .is_some_and(|t| t.credentials.is_some())
    }

    /// The transaction ended (final response or failure): nothing to answer.
    pub(crate) fn forget_challengeable(&mut self, tx: TxId) {
        self.challengeable.retain(|c| c.tx != tx);
    }

    /// A 401/407 to request `tx`: answers it when the leg's trunk has
    /// credentials for one of its challenges and the request was not
    /// answered already. True when the request went again (the response is
    /// then consumed; the old transaction ACKs it by itself).
    pub(crate) fn answer_challenge(&mut self, now: Instant, tx: TxId, response: &Message) -> bool {
        let Some(i) = self.challengeable.iter().position(|c| c.tx == tx) else {
            return false;
        };
        let kept = self.challengeable.swap_remove(i);
        let Some(leg) = self.leg_of_request(&kept.request) else {
            return false;
        };
        let config = self.ctx.config.clone();
        let trunk = self.leg(leg).and_then(|l| l.trunk.as_ref()).cloned();
        let Some(creds) = trunk
            .as_ref()
            .and_then(|t| config.trunk(t))
            .and_then(|t| t.credentials.as_ref())
        else {
            tracing::info!(%leg, status = ?response.status(), "challenged; the trunk has no credentials");
            return false;
        };
        let Some(challenge) = auth::strongest(response, creds.realm.as_deref()) else {
            tracing::info!(%leg, status = ?response.status(), "challenge with no Digest we can answer");
            return false;
        };
        if (kept.answered > 0 && !challenge.stale()) || kept.answered >= MAX_ANSWERS {
            // Our credentials were refused: a loop of answers would get nowhere.
            tracing::info!(%leg, trunk = ?trunk.as_ref().map(TrunkName::as_str), realm = challenge.realm(),
                "digest credentials refused");
            return false;
        }
        let Some(method) = kept.request.method().cloned() else {
            return false;
        };
        let uri = kept.request.request_uri().unwrap_or_default().to_owned();
        let cnonce = format!(
            "{:016x}{:016x}",
            self.random_below(u64::MAX),
            self.random_below(u64::MAX)
        );
        let secrets = auth::Credentials {
            username: &creds.username,
            password: creds.password.expose(),
        };
        let header =
            match challenge.authorize(method.clone(), &uri, kept.request.body(), &secrets, &cnonce)
            {
                Ok(h) => h,
                Err(error) => {
                    tracing::info!(%leg, %error, "challenge not answered");
                    return false;
                }
            };
        let Some(via) = self
            .leg(leg)
            .map(|l| l.sig.local.via(&voxgate_sip::ids::new_branch()))
        else {
            return false;
        };
        let Ok((request, seq)) = auth::resend_with(&kept.request, &via, (header.0, &header.1))
        else {
            return false;
        };
        tracing::debug!(%leg, %method, algorithm = challenge.algorithm().as_str(), realm = challenge.realm(),
            "challenge answered");
        let new_tx = TxId::next();
        self.rekey(now, leg, tx, new_tx, &request, seq);
        self.challengeable.push(Challengeable {
            tx: new_tx,
            request: request.clone(),
            to: kept.to,
            tls_name: kept.tls_name.clone(),
            answered: kept.answered + 1,
        });
        // Straight to the queue: the request is kept above already.
        self.actions.push_back(Action::Send {
            tx: new_tx,
            request,
            to: kept.to,
            tls_name: kept.tls_name,
        });
        true
    }

    /// The leg a request of ours belongs to: the one whose dialog (or
    /// initial INVITE) has its Call-ID.
    fn leg_of_request(&self, request: &Message) -> Option<LegId> {
        let call_id = request.call_id().ok()?;
        self.legs
            .iter()
            .find(|l| {
                let invite = match &l.dir {
                    Dir::In(i) => &i.invite,
                    Dir::Out(o) => &o.invite,
                };
                invite.call_id().ok() == Some(call_id)
            })
            .map(|l| l.id)
    }

    /// What followed transaction `old` follows `new`, whose request is
    /// `request` with CSeq `seq`.
    fn rekey(
        &mut self,
        now: Instant,
        leg: LegId,
        old: TxId,
        new: TxId,
        request: &Message,
        seq: u32,
    ) {
        if let Some(own) = self.own.remove(&old) {
            self.own.insert(new, own);
        }
        if let Some(mut relay) = self.relays.remove(&old) {
            if let Some((invite, _, _)) = &mut relay.invite_out {
                *invite = request.clone();
            }
            self.relays.insert(new, relay);
        }
        if let Some(mut sent) = self.invites.remove(&old) {
            sent.invite = request.clone();
            self.invites.insert(new, sent);
        }
        let trying = self.ctx.config.calls.trying_timeout;
        let Some(l) = self.leg_mut(leg) else { return };
        if let Dir::Out(out) = &mut l.dir
            && out.tx == old
        {
            out.tx = new;
            out.invite = request.clone();
            out.trying_deadline = trying.map(|d| now + d);
            // An early dialog of the challenged INVITE ended with it.
            l.sig.dialog = None;
        }
        // The dialog's next request goes above this CSeq (§12.2.1.1).
        if let Some(d) = l.sig.dialog.as_mut()
            && d.local_seq < seq
        {
            d.local_seq = seq;
        }
    }
}
