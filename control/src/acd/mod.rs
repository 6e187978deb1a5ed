//! Queues and agents: automatic call distribution. [`Acd`] decides (sans-IO) which
//! agent is offered which queued contact; [`ContactCenter`] is its tokio shell, shared
//! by the flows (whose `queue` nodes queue contacts and dial the agents offered) and the
//! API (agents' login and state).

mod distributor;
#[doc(hidden)]
pub mod fixtures;
mod metrics;
mod service;

pub use distributor::{Acd, AcdError, AcdEvent, AgentState, MIN_SAMPLES, QueueInfo};
pub use metrics::AcdMetrics;
pub use service::{ContactCenter, Locked, Notice};

#[cfg(test)]
mod tests;
