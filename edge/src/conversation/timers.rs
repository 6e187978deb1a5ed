//! The conversation's timers as data: 2xx retransmission and session
//! timers per leg, the trying, ring and CANCEL timeouts of outbound legs,
//! re-offers after 491, REFER decisions, the media inactivity timer, the
//! idle timer of an originated conversation, and the deadlines for the last
//! transactions and the recordings' files of an ending one.

use super::leg::AckAnswer;
use super::*;
use voxgate_sip::dialog::{RetransmitAction, SessionTimerAction};

impl<M: MediaControl> Conversation<M> {
    /// The earliest instant at which `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Ended {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.ending_deadline);
        consider(self.recordings_deadline);
        consider(self.idle_deadline);
        consider(self.media_check);
        let active = self.phase == Phase::Active;
        for l in &self.legs {
            consider(
                l.sig
                    .pending_ok
                    .as_ref()
                    .and_then(|p| p.retransmit.next_deadline()),
            );
            if active && l.is_answered() {
                consider(l.sig.timer.as_ref().map(|t| t.next_deadline()));
                consider(l.reoffer_at);
            }
            consider(l.refer.as_ref().map(|r| r.deadline));
            if let Some(o) = l.outbound().filter(|o| o.pending()) {
                consider(o.trying_deadline);
                consider(o.ring_deadline);
                consider(o.cancel_deadline);
            }
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
        if self.recordings_deadline.is_some_and(|d| d <= now) {
            self.give_up_on_recordings();
        }
        let ids: Vec<LegId> = self.legs.iter().map(|l| l.id).collect();
        for leg in ids {
            self.retransmit_ok(now, leg);
            self.session_timer(now, leg);
        }
        self.setup_timeouts(now);
        self.transfer_timeouts(now);
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            if self.legs.is_empty() && self.phase == Phase::Active {
                self.decide(
                    now,
                    Outcome {
                        side: Side::Edge,
                        cause: EndCause::Idle,
                        status: None,
                    },
                );
            }
        }
        if self.media_check.is_some_and(|d| d <= now) {
            self.check_media(now);
        }
        self.settle(now);
    }

    /// Arms the media inactivity check (once media is expected).
    pub(crate) fn arm_media_check(&mut self, now: Instant) {
        if let Some(t) = self.ctx.config.calls.media_timeout
            && self.media_check.is_none()
            && self.phase == Phase::Active
        {
            self.media_check = Some(now + t);
        }
    }

    /// No RTP or RTCP on any endpoint for the media timeout while no leg is
    /// held ends the conversation; a hold change counts as activity.
    fn check_media(&mut self, now: Instant) {
        let Some(timeout) = self.ctx.config.calls.media_timeout else {
            self.media_check = None;
            return;
        };
        let answered: Vec<&Leg> = self.legs.iter().filter(|l| l.is_answered()).collect();
        let held = answered.iter().any(|l| l.sig.held || l.held_by_us);
        if answered.is_empty() || held || self.phase != Phase::Active {
            // Nothing expected now: look again one timeout later.
            self.media_check = (self.phase == Phase::Active).then_some(now + timeout);
            return;
        }
        // No verdict before a full timeout after the latest answer: ringing
        // without early media is no dead call.
        let answered_at = answered.iter().filter_map(|l| l.answered_at).max();
        let last = [answered_at, self.media.last_activity()]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        if now >= last + timeout {
            self.media_check = None;
            self.hang_up_all(now, Side::Edge, EndCause::MediaTimeout, None);
        } else {
            self.media_check = Some(last + timeout);
        }
    }

    fn retransmit_ok(&mut self, now: Instant, leg: LegId) {
        let Some(state) = self.sig(leg) else {
            return;
        };
        let Some(pending) = state.pending_ok.as_mut() else {
            return;
        };
        match pending.retransmit.on_timeout(now) {
            RetransmitAction::Resend => {
                let to = state.peer;
                let bytes = pending.bytes.clone();
                self.push(Action::Transmit { to, bytes });
            }
            RetransmitAction::GiveUp => {
                let ack_answer = state.pending_ok.take().map(|p| p.ack_answer);
                let deferred = state.bye_deferred;
                if deferred {
                    // The BYE waited for an ACK that will not come.
                    self.send_bye(leg);
                }
                if let Some(AckAnswer::Forward(other, seq)) = ack_answer {
                    // The linked leg's 2xx waited for this ACK's answer: it
                    // still gets its ACK (§13.2.2.4) before the BYE.
                    self.ack_leg(other, seq, None);
                }
                // §13.3.1.4: no ACK for our 2xx: the session is not established.
                let live = self.leg(leg).is_some_and(Leg::is_live);
                if live {
                    self.hang_up_leg(now, leg, Side::Edge, EndCause::NoAck, None);
                }
            }
            RetransmitAction::NotYet => {}
        }
    }

    fn session_timer(&mut self, now: Instant, leg: LegId) {
        if self.phase != Phase::Active || !self.leg(leg).is_some_and(Leg::is_answered) {
            return;
        }
        let Some(timer) = self.sig(leg).and_then(|s| s.timer.as_mut()) else {
            return;
        };
        match timer.on_timeout(now) {
            SessionTimerAction::Refresh => self.send_refresh(leg),
            SessionTimerAction::Expire => {
                // RFC 4028 §10: the session is dead; BYE the leg (and its link).
                self.hang_up_leg(now, leg, Side::Edge, EndCause::SessionExpired, None);
            }
            SessionTimerAction::NotYet => {}
        }
    }
}
