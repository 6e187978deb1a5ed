//! voxgate-sip: the SIP stack of voxgate.
//!
//! What it is: a message model of our own (the received bytes plus an index
//! of header ranges), RFC 3261 §17 transactions as a sans-IO state machine,
//! and UDP/TCP/TLS transports on tokio.
//!
//! What it is not: a dialog layer or a proxy core; those live in `voxgate-edge`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod message;
pub mod transaction;
pub mod transport;

pub mod ids;
mod peer;
pub use peer::{ConnId, Peer, TransportKind};
