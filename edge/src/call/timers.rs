//! The call's timers as data: 2xx retransmission per leg, the trying and
//! ring timeouts of the B attempt, session timers per leg, and the deadline
//! for the last transactions of an ending call.

use super::*;
use voxgate_sip::dialog::{RetransmitAction, SessionTimerAction};

impl<M: MediaControl> Call<M> {
    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if self.phase == Phase::Ended {
            return None;
        }
        consider(self.ending_deadline);
        for state in [
            self.a.as_ref().map(|a| &a.state),
            self.b.as_ref().map(|b| &b.state),
        ]
        .into_iter()
        .flatten()
        {
            consider(
                state
                    .pending_ok
                    .as_ref()
                    .and_then(|p| p.retransmit.next_deadline()),
            );
            if self.phase != Phase::Ending {
                consider(state.timer.as_ref().map(|t| t.next_deadline()));
            }
        }
        if let Some(b) = &self.b {
            consider(b.trying_deadline);
            consider(b.ring_deadline);
            consider(b.cancel_deadline);
        }
        next
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Ended {
            return;
        }
        if self.ending_deadline.is_some_and(|d| d <= now) {
            self.finish();
            return;
        }
        for leg in [Leg::A, Leg::B] {
            self.retransmit_ok(now, leg);
            self.session_timer(now, leg);
        }
        self.setup_timeouts(now);
        self.maybe_finish();
    }

    fn retransmit_ok(&mut self, now: Instant, leg: Leg) {
        let Some(state) = self.leg_state(leg) else {
            return;
        };
        let Some(pending) = state.pending_ok.as_mut() else {
            return;
        };
        match pending.retransmit.on_timeout(now) {
            RetransmitAction::Resend => {
                let to = state.peer;
                let bytes = pending.bytes.clone();
                self.push(CallAction::Transmit { to, bytes });
            }
            RetransmitAction::GiveUp => {
                let forward = state.pending_ok.take().and_then(|p| p.forward_answer);
                if state.bye_deferred {
                    // The BYE waited for an ACK that will not come.
                    self.send_bye(leg);
                }
                if let Some(seq) = forward {
                    // The other leg's 2xx waited for this ACK's answer: it
                    // still gets its ACK (§13.2.2.4) before the BYE.
                    self.ack_leg(leg.other(), seq, None);
                }
                // §13.3.1.4: no ACK for our 2xx: the session is not established.
                self.hang_up(now, Side::Edge, EndCause::NoAck);
            }
            RetransmitAction::NotYet => {}
        }
    }

    fn session_timer(&mut self, now: Instant, leg: Leg) {
        if !matches!(self.phase, Phase::Answered | Phase::Confirmed) {
            return;
        }
        let Some(timer) = self.leg_state(leg).and_then(|s| s.timer.as_mut()) else {
            return;
        };
        match timer.on_timeout(now) {
            SessionTimerAction::Refresh => self.send_refresh(leg),
            SessionTimerAction::Expire => {
                // RFC 4028 §10: the session is dead; BYE both legs.
                self.hang_up(now, Side::Edge, EndCause::SessionExpired);
            }
            SessionTimerAction::NotYet => {}
        }
    }
}
