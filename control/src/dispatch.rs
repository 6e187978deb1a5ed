//! The control plane the binary plugs in: it hands each inbound conversation either to
//! the static router or to the API, by the `control` of its trunk and route.

use std::sync::Arc;

use tracing::{debug, info_span, warn};
use voxgate_config::Control;
use voxgate_edge::SharedConfig;
use voxgate_edge::control_plane::{Command, ControlPlane, EdgeHandle, Session};

use crate::ControlError;
use crate::acd::ContactCenter;
use crate::api::{ApiPlane, Controller};
use crate::flow::Flows;
use crate::router::{StaticRouter, called_number, route};

/// Hands each inbound conversation to the [`StaticRouter`] or to the API.
///
/// A conversation goes to the API when its trunk says `control = "api"`, or the route it
/// takes (the first that matches, as for the static router) does. While no API client
/// follows the events (`GET /v1/events`), such a call gets the fallback instead: the
/// route's destinations if it has any, dialled as the static router would, else a
/// reject with `[api] no_client_status`. Every other call goes to the static router.
#[derive(Debug)]
pub struct Dispatcher {
    router: StaticRouter,
    api: Arc<ApiPlane>,
    flows: Flows,
    center: Arc<ContactCenter>,
}

impl Dispatcher {
    /// A dispatcher over the running configuration (the edge's shared snapshot, so a
    /// reload applies to the next call).
    pub fn new(config: SharedConfig) -> Result<Dispatcher, ControlError> {
        let center = Arc::new(ContactCenter::new(config.clone())?);
        Ok(Dispatcher {
            router: StaticRouter::new(config.clone()),
            api: Arc::new(ApiPlane::with_center(config, center.clone())?),
            flows: Flows::new(center.clone())?,
            center,
        })
    }

    /// Registers the flows' metrics in the edge's registry (one `/metrics`).
    pub fn register_metrics(
        &self,
        metrics: &voxgate_edge::metrics::Metrics,
    ) -> Result<(), ControlError> {
        self.center.metrics().register(metrics)?;
        Ok(self.flows.metrics().register(metrics)?)
    }

    /// The API's state, for [`crate::api::ApiServer::start`].
    pub fn api(&self) -> Arc<ApiPlane> {
        self.api.clone()
    }

    /// Who decides a new conversation, now.
    fn controller(&self, session: &Session) -> Controller {
        let Some(inbound) = session.info.inbound.as_ref() else {
            return Controller::Static;
        };
        let config = self.api.config();
        // An entry point's number (or trunk) takes the call before any route.
        if Flows::entry_point(&config, session).is_some() {
            return Controller::Flow;
        }
        let number = called_number(&config, &inbound.trunk, inbound.request_user.as_deref());
        let by_trunk = config
            .trunk(&inbound.trunk)
            .is_some_and(|t| t.control == Control::Api);
        let by_route = route(&config, &inbound.trunk, number.as_deref())
            .is_some_and(|r| r.control == Control::Api);
        match (by_trunk || by_route, self.api.followers() > 0) {
            (false, _) => Controller::Static,
            (true, true) => Controller::Api,
            (true, false) => Controller::Fallback,
        }
    }

    /// The fallback of an API-controlled call with no client connected.
    fn fallback(&self, session: Session) {
        let Some(inbound) = session.info.inbound.as_ref() else {
            return;
        };
        let config = self.api.config();
        let number = called_number(&config, &inbound.trunk, inbound.request_user.as_deref());
        let has_destinations = route(&config, &inbound.trunk, number.as_deref())
            .is_some_and(|r| !r.destinations.is_empty());
        let command = if has_destinations {
            self.api.metrics().fallback("dial");
            self.router.decide(
                &config,
                &inbound.trunk,
                inbound.leg,
                inbound.request_user.as_deref(),
            )
        } else {
            self.api.metrics().fallback("reject");
            let status = config.api.as_ref().map_or(480, |a| a.no_client_status);
            debug!(status, "API-controlled call, no API client: rejected");
            Command::Reject {
                status,
                reason: None,
            }
        };
        // A new session's command queue is empty: this cannot be full.
        if session.commands.try_send(command).is_err() {
            warn!("the call is gone before it was routed");
        }
    }
}

impl ControlPlane for Dispatcher {
    fn incoming(&self, session: Session) {
        let _span = info_span!("call", id = %session.info.id).entered();
        let controller = self.controller(&session);
        self.api.announce_started(&session.info, controller);
        match controller {
            Controller::Static => self.router.incoming(session),
            Controller::Api => self.api.take(session),
            Controller::Fallback => self.fallback(session),
            Controller::Flow => {
                // One snapshot per call: a reload applies to later calls.
                let config = self.api.config();
                match Flows::entry_point(&config, &session) {
                    Some(entry) => self.flows.start(config.clone(), entry, session),
                    // A reload in between took the entry point away: route it.
                    None => self.router.incoming(session),
                }
            }
        }
    }

    fn started(&self, edge: EdgeHandle) {
        self.center.spawn_timer();
        self.router.set_health(edge.health());
        self.api.set_edge(edge);
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
