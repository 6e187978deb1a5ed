//! The core's outbound registration: it sends the REGISTERs the
//! [`Registrations`] state machine asks for through the transaction layer,
//! answers the registrar's digest challenge once with the trunk's
//! credentials, feeds the outcomes back, and publishes the states (metrics,
//! `GET /trunks`).

use super::*;
use crate::registration::RegId;
use std::time::Duration;
use voxgate_sip::auth;
use voxgate_sip::message::{HeaderName, MessageBuilder};

/// A REGISTER in flight.
#[derive(Debug)]
pub(super) struct RegTx {
    id: RegId,
    trunk: voxgate_config::TrunkName,
    request: Message,
    peer: Peer,
    /// Challenges answered for this registration attempt so far.
    answered: u8,
    /// A removal (`Expires: 0`): its outcome is only logged.
    unregister: bool,
    /// The config it was built from, whose trunk answers a challenge: a removal's
    /// trunk may be gone from the running one.
    config: Arc<Config>,
}

/// The registrations `config` asks for, each with a fresh Call-ID (kept for a
/// trunk whose registration does not change).
pub(super) fn registering(
    config: &Config,
) -> Vec<(voxgate_config::TrunkName, voxgate_config::Register, String)> {
    config
        .trunks
        .iter()
        .filter_map(|t| {
            let r = t.register.clone()?;
            Some((t.name.clone(), r, ids::new_call_id(None)))
        })
        .collect()
}

impl Core {
    /// Every REGISTER that is due. One that cannot be sent (no listener for
    /// its transport, a registrar name with no address) counts as failed.
    pub(super) fn send_registers(&mut self, now: Instant) {
        self.send_registers_after(now, None);
    }

    /// As [`Core::send_registers`]; a removal whose trunk `previous` (the config a
    /// reload replaced) has is built from the trunk as it was there: the binding was
    /// made with its advertise address, listener and credentials, which the reload may
    /// have taken away with the trunk.
    pub(super) fn send_registers_after(&mut self, now: Instant, previous: Option<&Arc<Config>>) {
        while let Some(attempt) = self.regs.poll_register(now) {
            let id = attempt.id;
            let config = previous
                .filter(|p| attempt.unregister && p.trunk(&attempt.trunk).is_some())
                .unwrap_or(&self.config)
                .clone();
            if !self.send_register(now, attempt, config) {
                self.regs.on_failed(now, id);
            }
        }
    }

    fn send_register(
        &mut self,
        now: Instant,
        a: crate::registration::Attempt,
        config: Arc<Config>,
    ) -> bool {
        let transport = crate::admission::transport_kind(a.params.transport);
        let addr = match crate::conversation::Target::parse(&a.params.registrar, transport) {
            Some(t) => t.addr,
            None => {
                let Some(query) = crate::dns::name_query(&a.params.registrar, transport) else {
                    return false;
                };
                match self
                    .dns
                    .as_ref()
                    .and_then(|d| d.cached(&query).first().copied())
                {
                    Some(addr) => addr,
                    None => return false,
                }
            }
        };
        let trunk = config.trunk(&a.trunk);
        let Some((local, socket)) = self.locals.for_trunk(trunk, transport, addr.ip()) else {
            return false;
        };
        let local = local.for_uac(&a.params.registrar);
        let Some((host, port)) = crate::conversation::uri_host_port(&a.params.registrar) else {
            return false;
        };
        let scheme = if a.params.registrar.starts_with("sips:") {
            "sips"
        } else {
            "sip"
        };
        // The address of record: the user at the registrar's domain (§10.2).
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let aor = match port {
            Some(p) => format!("{scheme}:{}@{host}:{p}", a.params.user),
            None => format!("{scheme}:{}@{host}", a.params.user),
        };
        let request = MessageBuilder::request(&Method::Register, &a.params.registrar)
            .header(HeaderName::Via, &local.via(&ids::new_branch()))
            .header(HeaderName::MaxForwards, "70")
            .header(HeaderName::From, &format!("<{aor}>;tag={}", ids::new_tag()))
            .header(HeaderName::To, &format!("<{aor}>"))
            .header(HeaderName::CallId, &a.call_id)
            .header(HeaderName::CSeq, &format!("{} REGISTER", a.cseq))
            .header(HeaderName::Contact, &local.contact(Some(&a.params.user)))
            .header(HeaderName::Expires, &a.params.expires.as_secs().to_string())
            .build_message();
        let Ok(request) = request else { return false };
        if transport == TransportKind::Tls {
            let name = trunk
                .and_then(|t| t.tls_peer_name.clone())
                .unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned());
            self.tls_names.insert(addr, name);
        }
        let peer = Peer {
            transport,
            addr,
            conn: socket,
        };
        debug!(trunk = %a.trunk, registrar = %a.params.registrar, cseq = a.cseq, unregister = a.unregister, "REGISTER");
        let reg = RegTx {
            id: a.id,
            trunk: a.trunk,
            request,
            peer,
            answered: 0,
            unregister: a.unregister,
            config,
        };
        self.send_reg_request(now, reg)
    }

    fn send_reg_request(&mut self, now: Instant, reg: RegTx) -> bool {
        let tx = TxId::next();
        let peer = reg.peer;
        if self
            .layer
            .send_request_as(now, tx, reg.request.clone(), peer)
            .is_err()
        {
            return false;
        }
        // Nobody waits for a REGISTER: a draining node does not either.
        self.layer.set_awaited(tx, false);
        if peer.transport.is_reliable() {
            self.stream_txs.insert(tx, (peer.transport, peer.addr));
        }
        if let Some(kind) = self.layer.kind(tx) {
            self.kinds.insert(tx, kind);
            self.metrics.transaction_created(kind);
        }
        self.reg_txs.insert(tx, reg);
        true
    }

    /// A final response to one of our REGISTERs.
    pub(super) fn register_response(&mut self, now: Instant, tx: TxId, response: &Message) {
        let Some(status) = response.status().filter(|s| *s >= 200) else {
            return;
        };
        let Some(reg) = self.reg_txs.remove(&tx) else {
            return;
        };
        if reg.unregister {
            if matches!(status, 401 | 407) && self.answer_register_challenge(now, &reg, response) {
                return;
            }
            info!(trunk = %reg.trunk, status, "unregistered");
            return;
        }
        match status {
            200..=299 => {
                let granted = granted(response, &reg.request);
                info!(trunk = %reg.trunk, expires_s = granted.as_secs(), "registered");
                self.regs.on_registered(now, reg.id, granted);
            }
            401 | 407 => {
                if !self.answer_register_challenge(now, &reg, response) {
                    info!(trunk = %reg.trunk, status, "registration refused");
                    self.regs.on_failed(now, reg.id);
                }
            }
            423 => {
                // §10.2.8: ask again for at least the registrar's Min-Expires.
                let min = response
                    .header(HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                info!(trunk = %reg.trunk, min_expires_s = min.map(|m| m.as_secs()), "registration interval too brief");
                self.regs.on_too_brief(now, reg.id, min);
                self.send_registers(now);
            }
            _ => {
                info!(trunk = %reg.trunk, status, "registration failed");
                self.regs.on_failed(now, reg.id);
            }
        }
    }

    /// The REGISTER sent again with the trunk's credentials (once; once more
    /// for a `stale` nonce). False when it cannot or should not be.
    fn answer_register_challenge(&mut self, now: Instant, reg: &RegTx, response: &Message) -> bool {
        let config = reg.config.clone();
        let Some(creds) = config
            .trunk(&reg.trunk)
            .and_then(|t| t.credentials.as_ref())
        else {
            return false;
        };
        let Some(challenge) = auth::strongest(response, creds.realm.as_deref()) else {
            return false;
        };
        if (reg.answered > 0 && !challenge.stale()) || reg.answered >= 2 {
            return false;
        }
        let Some(uri) = reg.request.request_uri() else {
            return false;
        };
        let secrets = auth::Credentials {
            username: &creds.username,
            password: creds.password.expose(),
        };
        let cnonce = format!("{:032x}", rand::random::<u128>());
        let Ok(header) = challenge.authorize(Method::Register, uri, b"", &secrets, &cnonce) else {
            return false;
        };
        let trunk = config.trunk(&reg.trunk);
        let Some((local, _)) = self
            .locals
            .for_trunk(trunk, reg.peer.transport, reg.peer.addr.ip())
        else {
            return false;
        };
        let via = local.via(&ids::new_branch());
        let Ok((request, seq)) = auth::resend_with(&reg.request, &via, (header.0, &header.1))
        else {
            return false;
        };
        self.regs.note_cseq(reg.id, seq);
        self.send_reg_request(
            now,
            RegTx {
                id: reg.id,
                trunk: reg.trunk.clone(),
                request,
                peer: reg.peer,
                answered: reg.answered + 1,
                unregister: reg.unregister,
                config,
            },
        )
    }

    /// A REGISTER's transaction ended without a final response (timeout,
    /// transport error), or ended at all: it failed if still in flight.
    pub(super) fn register_failed(&mut self, now: Instant, tx: TxId) {
        if self.reg_txs.is_empty() {
            return;
        }
        if let Some(reg) = self.reg_txs.remove(&tx) {
            info!(trunk = %reg.trunk, unregister = reg.unregister, "registration got no answer");
            self.regs.on_failed(now, reg.id);
        }
    }

    /// The node stops: every binding is removed (its REGISTERs go out with
    /// this turn's transmits), and nothing registers again.
    pub fn unregister_all(&mut self, now: Instant) {
        self.regs.unregister_all(now);
        self.send_registers(now);
    }

    /// Publishes registration states when one changed.
    pub(super) fn registration_changes(&mut self) {
        let mut changed = false;
        while let Some((trunk, state)) = self.regs.poll_change() {
            changed = true;
            info!(trunk = %trunk, state = state.as_str(), "registration");
            self.metrics.registration_state(trunk.as_str(), state);
        }
        if changed {
            self.health.publish_registrations(self.regs.states());
        }
    }

    /// Registers the trunks of the current config (at start and on reload).
    pub(super) fn configure_registrations(&mut self, now: Instant) {
        let before = self.regs.states();
        let targets = registering(&self.config);
        self.regs.configure(now, targets);
        let after = self.regs.states();
        for (trunk, _) in before {
            if !after.iter().any(|(t, _)| *t == trunk) {
                // No longer registering: its series goes (a stale 1 would say registered).
                self.metrics.registration_gone(trunk.as_str());
            }
        }
        self.registration_changes();
        self.health.publish_registrations(after);
    }
}

/// The binding's lifetime the registrar granted: our Contact's `expires`
/// in its answer, else its Expires header, else what we asked for (§10.2.4).
fn granted(response: &Message, request: &Message) -> Duration {
    let ours = request
        .contacts()
        .filter_map(Result::ok)
        .next()
        .map(|c| c.uri.to_owned());
    let from_contact = response
        .contacts()
        .filter_map(Result::ok)
        .find(|c| ours.as_deref().is_none_or(|o| o == c.uri))
        .and_then(|c| {
            c.params
                .get("expires")
                .flatten()
                .and_then(|v| v.parse().ok())
        });
    let from_header = response
        .header(HeaderName::Expires)
        .and_then(|v| v.trim().parse().ok());
    let asked = request
        .header(HeaderName::Expires)
        .and_then(|v| v.trim().parse().ok());
    Duration::from_secs(from_contact.or(from_header).or(asked).unwrap_or(3600))
}
