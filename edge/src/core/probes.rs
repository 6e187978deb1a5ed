//! The core's OPTIONS keep-alive: it sends the probes the [`KeepAlive`]
//! state machine asks for through the transaction layer, feeds their
//! outcomes back, and publishes the verdicts to [`Health`](crate::health::Health).

use super::*;

impl Core {
    /// OPTIONS to every destination whose keep-alive probe is due. One that
    /// cannot be sent (no listener for its transport, a name with no
    /// address) counts as unanswered.
    pub(super) fn send_probes(&mut self, now: Instant) {
        while let Some((id, key)) = self.keepalive.poll_probe(now) {
            let sent = self.probe(now, &key);
            match sent {
                Some(tx) => {
                    self.probes.insert(tx, id);
                }
                None => {
                    self.metrics.keepalive_probe(false);
                    self.keepalive.on_outcome(id, false);
                }
            }
        }
    }

    fn probe(&mut self, now: Instant, key: &keepalive::DestinationKey) -> Option<TxId> {
        let addr = match crate::conversation::Target::parse(&key.uri, key.transport) {
            Some(t) => t.addr,
            None => {
                let query = crate::dns::name_query(&key.uri, key.transport)?;
                *self.dns.as_ref()?.cached(&query).first()?
            }
        };
        let trunk = key.trunk.as_ref().and_then(|t| self.config.trunk(t));
        let (local, socket) = self.locals.for_trunk(trunk, key.transport, addr.ip())?;
        let local = local.for_uac(&key.uri);
        let from = format!("<{}>", local.uri(None));
        let (builder, _) = voxgate_sip::dialog::NewRequest {
            method: Method::Options,
            request_uri: &key.uri,
            from: &from,
            to: &key.uri,
            local: &local,
            max_forwards: 70,
        }
        .build();
        let request = builder.build_message().ok()?;
        if key.transport == TransportKind::Tls {
            let trunk_name = key
                .trunk
                .as_ref()
                .and_then(|t| self.config.trunk(t))
                .and_then(|t| t.tls_peer_name.clone());
            let host = crate::conversation::uri_host_port(&key.uri).map(|(h, _)| h.to_owned());
            if let Some(name) = trunk_name.or(host) {
                self.tls_names.insert(addr, name);
            }
        }
        let peer = Peer {
            transport: key.transport,
            addr,
            conn: socket,
        };
        let tx = TxId::next();
        self.layer.send_request_as(now, tx, request, peer).ok()?;
        // Nobody waits for a probe: a draining node does not either.
        self.layer.set_awaited(tx, false);
        if peer.transport.is_reliable() {
            self.stream_txs.insert(tx, (peer.transport, peer.addr));
        }
        if let Some(kind) = self.layer.kind(tx) {
            self.kinds.insert(tx, kind);
            self.metrics.transaction_created(kind);
        }
        Some(tx)
    }

    /// A probe's transaction ended: answered (any final status but 408 and
    /// 503) or not.
    pub(super) fn probe_outcome(&mut self, tx: TxId, answered: bool) {
        if let Some(id) = self.probes.remove(&tx) {
            self.metrics.keepalive_probe(answered);
            self.keepalive.on_outcome(id, answered);
        }
    }

    /// Publishes the keep-alive's verdicts when one changed.
    pub(super) fn keepalive_changes(&mut self) {
        let mut changed = false;
        while let Some((key, state)) = self.keepalive.poll_change() {
            changed = true;
            let trunk = key.trunk.as_ref().map_or("", |t| t.as_str());
            info!(destination = %key.uri, transport = %key.transport, trunk, state = state.as_str(), "destination keep-alive");
            self.metrics.destination_state(trunk, &key.uri, state);
        }
        if changed {
            self.health.publish(self.keepalive.states());
        }
    }
}
