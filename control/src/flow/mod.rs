//! Entry points and flows: a call whose dialled number (or trunk) names an
//! `[[entry_point]]` runs that entry point's flow, one isolated instance per call
//! ([`FlowRun`], sans-IO), driven by a task that moves its commands and the
//! conversation's events.

mod metrics;
mod run;

use std::sync::Arc;

use minijinja::Environment;
use tracing::{Instrument, info_span, warn};
use voxgate_config::Config;
use voxgate_config::flow::EntryPoint;
use voxgate_edge::control_plane::Session;

pub use metrics::FlowMetrics;
pub use run::{
    CenterRequest, Contact, FlowRun, FlowValue, Outcome, Phase, QueueFigures, environment,
};

use crate::acd::{ContactCenter, Notice};

use crate::router::called_number;

/// Starts flow instances.
pub struct Flows {
    env: Arc<Environment<'static>>,
    metrics: FlowMetrics,
    center: Arc<ContactCenter>,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows").finish_non_exhaustive()
    }
}

impl Flows {
    /// Ready to run flows; their `queue` nodes queue contacts in `center`.
    pub fn new(center: Arc<ContactCenter>) -> Result<Flows, prometheus::Error> {
        Ok(Flows {
            env: Arc::new(environment()),
            metrics: FlowMetrics::new()?,
            center,
        })
    }

    /// The flows' metrics.
    pub fn metrics(&self) -> &FlowMetrics {
        &self.metrics
    }

    /// The entry point an inbound session enters, if any.
    pub fn entry_point<'a>(config: &'a Config, session: &Session) -> Option<&'a EntryPoint> {
        let inbound = session.info.inbound.as_ref()?;
        let number = called_number(config, &inbound.trunk, inbound.request_user.as_deref());
        config.entry_point(&inbound.trunk, number.as_deref())
    }

    /// Runs `entry`'s flow for `session` on a task of its own, on `config` as it is
    /// now (a reload applies to later calls).
    pub fn start(&self, config: Arc<Config>, entry: &EntryPoint, session: Session) {
        let Some(inbound) = session.info.inbound.as_ref() else {
            return;
        };
        let number = called_number(&config, &inbound.trunk, inbound.request_user.as_deref());
        let contact = Contact {
            leg: inbound.leg,
            trunk: inbound.trunk.clone(),
            ani: inbound.from.user.clone().unwrap_or_default(),
            dnis: number.unwrap_or_default(),
            contact_id: session.info.id.to_string(),
            entry_point: entry.name.clone(),
            time_zone: entry.time_zone.clone(),
            conversation: session.info.id,
            queue: entry.queue.clone(),
        };
        let Some(run) = FlowRun::new(config, self.env.clone(), &entry.flow, contact) else {
            // Validation makes this impossible: the entry point's flow exists.
            warn!(entry_point = %entry.name, flow = %entry.flow, "the entry point's flow is missing: 500");
            let _ = session
                .commands
                .try_send(voxgate_edge::control_plane::Command::Reject {
                    status: 500,
                    reason: None,
                });
            return;
        };
        self.metrics.started(&entry.name);
        let span = info_span!("flow", id = %session.info.id);
        let center = self.center.clone();
        tokio::spawn(drive(run, session, self.metrics.clone(), center).instrument(span));
    }
}

/// Moves one instance's commands to the conversation, its requests to the contact
/// center, and the conversation's events, the center's offers and its deadlines to the
/// instance, until the conversation ends.
async fn drive(
    mut run: FlowRun,
    mut session: Session,
    metrics: FlowMetrics,
    center: Arc<ContactCenter>,
) {
    // tokio's clock, so that tests can run it virtually.
    let now = || tokio::time::Instant::now().into_std();
    let id = session.info.id;
    let mut offers: Option<tokio::sync::mpsc::UnboundedReceiver<Notice>> = None;
    run.start(now(), jiff::Timestamp::now());
    let mut errors = 0;
    loop {
        let mut gone = false;
        // A request may fail and make commands (the safe ending), and a command ...
        // loop until both are drained.
        loop {
            while let Some(command) = run.poll_command() {
                if session.commands.send(command).await.is_err() {
                    gone = true;
                    break;
                }
            }
            let Some(request) = run.poll_center() else {
                break;
            };
            match request {
                CenterRequest::Enqueue {
                    queue,
                    priority,
                    skills,
                } => match center.enqueue(id, &queue, priority, &skills) {
                    Ok(rx) => offers = Some(rx),
                    Err(e) => run.handle_center_error(now(), &format!("queue: {e}")),
                },
                CenterRequest::EnqueueForAgent { agent, priority } => {
                    match center.enqueue_for_agent(id, &agent, priority) {
                        Ok(rx) => offers = Some(rx),
                        Err(e) => run.handle_center_error(now(), &format!("queue_to_agent: {e}")),
                    }
                }
                CenterRequest::Ringing => center.ringing(id),
                CenterRequest::Answered => {
                    offers = None;
                    center.answered(id);
                }
                CenterRequest::NotAnswered => center.not_answered(id),
                CenterRequest::Leave(why) => {
                    offers = None;
                    center.leave(id, Some(why));
                }
                CenterRequest::Ended => center.ended(id),
                CenterRequest::Info { queue } => {
                    let figures = center.with(|l| {
                        let now = l.now();
                        let acd = l.acd();
                        let info = acd.queue_info(now, &queue)?;
                        let position = acd.position(now, id).unwrap_or(info.waiting + 1);
                        Some(QueueFigures {
                            position,
                            estimated_wait: acd.estimated_wait(now, &queue, position),
                            available_agents: info.available_agents,
                        })
                    });
                    run.handle_queue_info(now(), figures);
                }
            }
        }
        if run.errors() > errors {
            metrics.errors(run.flow_name(), run.errors() - errors);
            errors = run.errors();
        }
        if gone || run.phase() == Phase::Done {
            break;
        }
        let deadline = run.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let offer = async {
            match offers.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = session.events.recv() => match event {
                Some(event) => run.handle_event(now(), &event),
                None => break,
            },
            notice = offer => match notice {
                Some(Notice::Offer(agent)) => run.handle_offer(now(), &agent),
                // The center dropped the contact (a reload took its queue away).
                None => offers = None,
            },
            () = sleep => run.handle_timeout(now()),
        }
    }
    // However it ended, the contact is in no queue and no agent is held for it.
    if offers.is_some() {
        center.leave(id, Some("abandoned"));
    }
    center.ended(id);
    metrics.ended(run.outcome().unwrap_or(Outcome::Ended));
}

#[cfg(test)]
mod tests;
