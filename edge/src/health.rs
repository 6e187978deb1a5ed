//! What dials and the admin API need to know of trunks and destinations at
//! runtime: which destinations the keep-alive found down (published by the
//! core), and which trunks an operator put out of service. Read on every
//! dial attempt and inbound call: two atomic loads, and nothing more while
//! both lists are empty.

use arc_swap::ArcSwap;
use std::sync::Arc;
use voxgate_config::TrunkName;
use voxgate_sip::TransportKind;

use crate::control_plane::Destination;
use crate::keepalive::{DestinationKey, State};

/// Runtime state of trunks and destinations, shared by the core, the
/// conversations and the admin API.
#[derive(Debug, Default)]
pub struct Health {
    /// Every probed destination and its state.
    states: ArcSwap<Vec<(DestinationKey, State)>>,
    /// Whether one of them is down (so that a dial looks no further when not).
    any_down: std::sync::atomic::AtomicBool,
    /// Trunks out of service.
    out_of_service: ArcSwap<Vec<TrunkName>>,
    /// Routes whose kill switch is off (by name).
    routes_off: ArcSwap<Vec<String>>,
    /// Recording's kill switch is off.
    recording_off: std::sync::atomic::AtomicBool,
    /// Registering trunks and where their registration is.
    registrations: ArcSwap<Vec<(TrunkName, crate::registration::RegState)>>,
}

/// Why a dial skips a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Its keep-alive found it down.
    Down,
    /// Its trunk is out of service.
    OutOfService,
}

impl Health {
    /// Why a dial should not try `dest` now, if it should not.
    pub fn skip(&self, dest: &Destination) -> Option<Skip> {
        if let Some(trunk) = &dest.trunk
            && self.is_out_of_service(trunk)
        {
            return Some(Skip::OutOfService);
        }
        if !self.any_down.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let down = self.states.load().iter().any(|(k, s)| {
            *s == State::Down && k.transport == dest.transport && same_target(&k.uri, &dest.uri)
        });
        down.then_some(Skip::Down)
    }

    /// The state of the destination `uri` over `transport`; `None` when it is not probed.
    pub fn state(&self, uri: &str, transport: TransportKind) -> Option<State> {
        self.states
            .load()
            .iter()
            .find(|(k, _)| k.transport == transport && same_target(&k.uri, uri))
            .map(|(_, s)| *s)
    }

    /// Installs the states of every probed destination (the core, on a change).
    pub fn publish(&self, states: Vec<(DestinationKey, State)>) {
        let down = states.iter().any(|(_, s)| *s == State::Down);
        self.states.store(Arc::new(states));
        self.any_down
            .store(down, std::sync::atomic::Ordering::Relaxed);
    }

    /// Installs the registration states (the core, on a change).
    pub fn publish_registrations(&self, states: Vec<(TrunkName, crate::registration::RegState)>) {
        self.registrations.store(Arc::new(states));
    }

    /// Where `trunk`'s registration is; `None` when it does not register.
    pub fn registration(&self, trunk: &TrunkName) -> Option<crate::registration::RegState> {
        self.registrations
            .load()
            .iter()
            .find(|(t, _)| t == trunk)
            .map(|(_, s)| *s)
    }

    /// Whether an operator put `trunk` out of service.
    pub fn is_out_of_service(&self, trunk: &TrunkName) -> bool {
        let list = self.out_of_service.load();
        !list.is_empty() && list.contains(trunk)
    }

    /// Puts `trunk` in or out of service; true when that changed something.
    pub fn set_in_service(&self, trunk: &TrunkName, in_service: bool) -> bool {
        let mut changed = false;
        self.out_of_service.rcu(|list| {
            let mut list = (**list).clone();
            let was_out = list.contains(trunk);
            changed = was_out == in_service;
            list.retain(|t| t != trunk);
            if !in_service {
                list.push(trunk.clone());
            }
            list
        });
        changed
    }

    /// Whether any route's kill switch is off (one atomic load).
    pub fn any_route_off(&self) -> bool {
        !self.routes_off.load().is_empty()
    }

    /// Whether the kill switch of route `name` is off (its calls get 503).
    pub fn is_route_off(&self, name: &str) -> bool {
        let list = self.routes_off.load();
        !list.is_empty() && list.iter().any(|r| r == name)
    }

    /// Turns route `name`'s kill switch on or off; true when that changed something.
    pub fn set_route(&self, name: &str, on: bool) -> bool {
        let mut changed = false;
        self.routes_off.rcu(|list| {
            let mut list = (**list).clone();
            let was_off = list.iter().any(|r| r == name);
            changed = was_off == on;
            list.retain(|r| r != name);
            if !on {
                list.push(name.to_owned());
            }
            list
        });
        changed
    }

    /// Routes whose kill switch is off.
    pub fn routes_off(&self) -> Vec<String> {
        (**self.routes_off.load()).clone()
    }

    /// Trunks out of service.
    pub fn trunks_out_of_service(&self) -> Vec<TrunkName> {
        (**self.out_of_service.load()).clone()
    }

    /// Whether recording's kill switch is off (new recordings refused, `recording_off`).
    pub fn is_recording_off(&self) -> bool {
        self.recording_off
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns recording's kill switch on or off; true when that changed something.
    pub fn set_recording(&self, on: bool) -> bool {
        self.recording_off
            .swap(!on, std::sync::atomic::Ordering::Relaxed)
            == on
    }
}

/// Whether two URIs reach the same host and port: a route's destination
/// `sip:192.0.2.1:5060` is dialled as `sip:+4420...@192.0.2.1:5060` (the
/// called number put in its user part), and is the same destination.
fn same_target(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Some((ha, pa)), Some((hb, pb))) = (
        crate::conversation::uri_host_port(a),
        crate::conversation::uri_host_port(b),
    ) else {
        return false;
    };
    pa == pb && ha.eq_ignore_ascii_case(hb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(uri: &str, trunk: &str) -> Destination {
        Destination {
            uri: uri.into(),
            transport: TransportKind::Udp,
            trunk: TrunkName::new(trunk),
        }
    }

    #[test]
    fn down_destinations_and_trunks_out_of_service_are_skipped() {
        let h = Health::default();
        let a = dest("sip:192.0.2.1", "carrier");
        assert_eq!(h.skip(&a), None);
        let key = DestinationKey {
            uri: a.uri.clone(),
            transport: TransportKind::Udp,
            trunk: a.trunk.clone(),
        };
        h.publish(vec![(key.clone(), State::Up)]);
        assert_eq!(h.skip(&a), None);
        assert_eq!(h.state(&a.uri, TransportKind::Udp), Some(State::Up));
        h.publish(vec![(key, State::Down)]);
        assert_eq!(h.skip(&a), Some(Skip::Down));
        // Dialled with the called number in its user part: the same destination.
        assert_eq!(
            h.skip(&dest("sip:+4420@192.0.2.1", "carrier")),
            Some(Skip::Down)
        );
        assert_eq!(h.skip(&dest("sip:+4420@192.0.2.1:5070", "carrier")), None);
        // Same URI over another transport: another destination.
        let tcp = Destination {
            transport: TransportKind::Tcp,
            ..a.clone()
        };
        assert_eq!(h.skip(&tcp), None);

        let other = dest("sip:192.0.2.9", "carrier");
        let carrier = TrunkName::new("carrier").unwrap();
        assert!(h.set_in_service(&carrier, false));
        assert!(!h.set_in_service(&carrier, false), "already out");
        assert_eq!(h.skip(&other), Some(Skip::OutOfService));
        assert!(h.is_out_of_service(&carrier));
        assert!(h.set_in_service(&carrier, true));
        assert_eq!(h.skip(&other), None);
    }
}
