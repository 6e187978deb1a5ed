//! voxgate-control: the bundled control plane of voxgate. It implements the control-plane
//! trait of `voxgate-edge` ([`voxgate_edge::control_plane::ControlPlane`]) and is plugged
//! in by the binary.
//!
//! What it is now:
//! - [`Dispatcher`], the control plane the binary plugs in: it hands each inbound call to
//!   the static router or to the API, by the `control` of its trunk and route.
//! - [`StaticRouter`], which routes each call by the `[[route]]` tables of the
//!   configuration — the Request-URI user, normalised to E.164 per the inbound trunk's
//!   `numbering` ([`normalise`]), matched exactly, by prefix or by regex, first match in
//!   file order ([`route`]) — to an ordered list of destinations; no route gives 404.
//! - [`api`], the third-party call-control API: JSON over HTTP and a WebSocket of every
//!   event, on its own listener, for clients in any language.
//!
//! What it is not (yet): entry points, flows, queues and agents arrive in later issues.
//! Its call decisions never touch SIP sockets: the edge executes its commands (the API
//! serves HTTP on its own listener).
//!
//! ```
//! use std::sync::Arc;
//! use voxgate_config::TrunkName;
//!
//! let config = voxgate_config::default_config()?;
//! let loopback = TrunkName::new("loopback").ok_or("bad trunk name")?;
//! // The embedded default sends every call to sip:127.0.0.1:5080.
//! let route = voxgate_control::route(&config, &loopback, Some("+442071234567"));
//! assert_eq!(route.map(|r| r.name.as_str()), Some("default"));
//!
//! // The binary hands the edge's shared configuration to the router.
//! let shared: voxgate_edge::SharedConfig = Arc::new(Arc::new(config).into());
//! let _router = voxgate_control::StaticRouter::new(shared);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod acd;
pub mod api;
mod dispatch;
mod error;
pub mod flow;
mod normalise;
mod router;

pub use dispatch::Dispatcher;
pub use error::ControlError;
pub use normalise::normalise;
pub use router::{StaticRouter, called_number, route};
