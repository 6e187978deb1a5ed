//! One turn of the core loop, apart from tokio: the order in which the loop
//! serves timers, call actions and transport events. Sans-IO so that its
//! promise is tested on a virtual clock: **a due timer fires within one
//! batch, whatever the input rate.**
//!
//! The loop used to `select!` (biased) over commands, call actions,
//! transport events and, last, the timer. At saturation the event channel
//! is always ready, so the timer branch never won and timers A–K stopped:
//! no retransmissions, no timeouts, transactions never ending. Here each
//! turn checks the timers before and after each batch, so a flood delays a
//! due timer by at most the batch it fell due in.

use std::time::Instant;

/// Inputs of one kind handled per turn before timers are looked at again:
/// bounds how late a timer can be, while letting a burst share one pass.
pub(crate) const BATCH: usize = 64;

/// What the loop drives: the core (a fake in the tests below).
pub(crate) trait Driven {
    /// A transport event.
    type Event;
    /// An action from a conversation.
    type Action;
    /// One transport event.
    fn handle_event(&mut self, now: Instant, event: Self::Event);
    /// One conversation action.
    fn handle_action(&mut self, now: Instant, action: Self::Action);
    /// Fires what is due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The earliest deadline.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Where a turn reads its inputs, never waiting, and the time.
pub(crate) trait Inputs<D: Driven> {
    /// The next queued conversation action, if any.
    fn try_action(&mut self) -> Option<D::Action>;
    /// The next queued transport event, if any.
    fn try_event(&mut self) -> Option<D::Event>;
    /// The current time.
    fn now(&mut self) -> Instant;
}

/// One turn: due timers; up to `BATCH` call actions; due timers; up to
/// `BATCH` transport events; due timers. Call actions and transport events
/// each get a batch every turn, so neither starves the other. Returns how
/// many inputs were handled: 0 means the loop may sleep until input or the
/// next deadline.
pub(crate) fn turn<D: Driven, I: Inputs<D>>(core: &mut D, inputs: &mut I) -> usize {
    fire_due(core, inputs.now());
    let mut actions = 0;
    for _ in 0..BATCH {
        let Some(action) = inputs.try_action() else {
            break;
        };
        core.handle_action(inputs.now(), action);
        actions += 1;
    }
    // After a batch only: with nothing handled, nothing came due since the
    // last look (a turn takes microseconds), and a lightly loaded node runs
    // a turn per message.
    if actions > 0 {
        fire_due(core, inputs.now());
    }
    let mut events = 0;
    for _ in 0..BATCH {
        let Some(event) = inputs.try_event() else {
            break;
        };
        core.handle_event(inputs.now(), event);
        events += 1;
    }
    if events > 0 {
        fire_due(core, inputs.now());
    }
    actions + events
}

fn fire_due<D: Driven>(core: &mut D, now: Instant) {
    if core.poll_timeout().is_some_and(|at| at <= now) {
        core.handle_timeout(now);
    }
}

#[cfg(test)]
mod tests;
