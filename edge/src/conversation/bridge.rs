//! Bridges and links between legs: `Bridge`, `Unbridge` (of a bridge or a
//! conference), `Hold`, `Resume` (back into a bridge or conference), the
//! codec check before two legs' media are joined (the relay transcodes
//! G.711 µ-law ⇄ A-law; other differences take a re-INVITE), and the end of
//! a link when the control plane rearranges a linked leg's media.

use super::*;
use voxgate_media::negotiate::{self, Selected};

impl<M: MediaControl> Conversation<M> {
    /// The voice codec a leg's last offer/answer settled on.
    pub(crate) fn codec(&self, leg: LegId) -> Option<Selected> {
        let l = self.leg(leg)?;
        // The answer decides; when we answered, that is our last SDP.
        let ours = l
            .sig
            .last_sdp
            .as_ref()
            .and_then(|b| SessionDescription::parse(b).ok())
            .and_then(|s| negotiate::selected(&s));
        let theirs = l.remote_sdp.as_deref().and_then(negotiate::selected);
        match (&l.dir, theirs, ours) {
            // An outbound leg whose INVITE offered (our SDP, or a linked
            // caller's): the peer's answer decides.
            (Dir::Out(o), Some(t), _) if o.offered => Some(t),
            (_, _, Some(o)) => Some(o),
            (_, t, None) => t,
        }
    }

    /// Joins two legs' endpoints (each leaves the bridge it was in).
    pub(crate) fn media_bridge(&mut self, a: LegId, b: LegId) {
        let (Some(ea), Some(eb)) = (
            self.leg(a).and_then(|l| l.endpoint),
            self.leg(b).and_then(|l| l.endpoint),
        ) else {
            return;
        };
        if self.leg(a).is_some_and(|l| l.bridge == Some(b)) {
            return;
        }
        self.split(a);
        self.split(b);
        self.media.bridge(ea, eb);
        if let Some(l) = self.leg_mut(a) {
            l.bridge = Some(b);
        }
        if let Some(l) = self.leg_mut(b) {
            l.bridge = Some(a);
        }
        self.event(Event::Bridged { a, b });
    }

    /// Takes a leg out of its bridge (or its conference).
    pub(crate) fn split(&mut self, leg: LegId) {
        self.leave_conference(leg);
        let Some(l) = self.leg_mut(leg) else { return };
        let Some(other) = l.bridge.take() else { return };
        let ep = l.endpoint;
        if let Some(o) = self.leg_mut(other) {
            o.bridge = None;
        }
        if let Some(ep) = ep {
            self.media.unbridge(ep);
        }
        self.event(Event::Unbridged { a: leg, b: other });
    }

    /// Ends a link: from now on voxgate is the user agent of both legs.
    pub(crate) fn unlink(&mut self, leg: LegId) {
        let Some(other) = self.leg_mut(leg).and_then(|l| l.link.take()) else {
            return;
        };
        if let Some(o) = self.leg_mut(other) {
            o.link = None;
        }
    }

    /// Joins `a` and `b` as the control plane asked: both resumed if held;
    /// legs whose codecs differ are bridged as they are when the relay can
    /// transcode between them (G.711 µ-law and A-law), else `b` is
    /// re-INVITEd to `a`'s codec first.
    pub(crate) fn join(&mut self, now: Instant, a: LegId, b: LegId) {
        if self.leg(a).is_some_and(|l| l.bridge == Some(b)) {
            return;
        }
        for leg in [a, b] {
            if let Some(l) = self.leg_mut(leg) {
                l.want.hold = false;
                l.resume_to = None;
            }
        }
        match self.codec(a) {
            Some(ca) if !self.bridgeable(a, b) => {
                // `b` is asked to take `a`'s codec; the bridge forms once it did.
                self.split(a);
                self.split(b);
                if let Some(l) = self.leg_mut(b) {
                    l.want.codec = Some(ca);
                    l.want.join = Some(a);
                }
            }
            _ => self.media_bridge(a, b),
        }
        self.reconcile(now);
    }

    /// `Bridge`.
    pub(crate) fn bridge_command(
        &mut self,
        now: Instant,
        a: LegId,
        b: LegId,
    ) -> Result<(), CommandError> {
        if a == b {
            return Err(CommandError::SameLeg { leg: a });
        }
        for leg in [a, b] {
            let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
            if !l.is_answered() {
                return Err(CommandError::LegState {
                    leg,
                    state: l.state_name(),
                    wanted: "bridge needs answered legs",
                });
            }
            if l.endpoint.is_none() {
                return Err(CommandError::NoMedia { leg });
            }
        }
        if self.leg(a).is_some_and(|l| l.bridge == Some(b)) {
            return Ok(());
        }
        self.unlink(a);
        self.unlink(b);
        self.join(now, a, b);
        Ok(())
    }

    /// `Unbridge`.
    pub(crate) fn unbridge_command(&mut self, leg: LegId) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_live() {
            return Err(CommandError::UnknownLeg { leg });
        }
        self.unlink(leg);
        self.split(leg);
        if let Some(l) = self.leg_mut(leg) {
            l.want.join = None;
        }
        Ok(())
    }

    /// `Hold`: out of its bridge, and a re-INVITE with sendonly (inactive
    /// when its peer holds too).
    pub(crate) fn hold_command(&mut self, now: Instant, leg: LegId) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_answered() {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "hold needs an answered leg",
            });
        }
        let partner = l.bridge;
        let member = l.conference;
        self.unlink(leg);
        self.split(leg);
        if let Some(l) = self.leg_mut(leg) {
            l.want.hold = true;
            l.want.join = None;
            if partner.is_some() {
                l.resume_to = partner;
            }
            if member.is_some() {
                l.rejoin = member;
            }
        }
        self.reconcile(now);
        Ok(())
    }

    /// `Resume`: a re-INVITE with sendrecv, and back into the bridge it left.
    pub(crate) fn resume_command(&mut self, now: Instant, leg: LegId) -> Result<(), CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_answered() {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "resume needs an answered leg",
            });
        }
        let back = l.resume_to.filter(|p| {
            self.leg(*p)
                .is_some_and(|o| o.is_answered() && o.bridge.is_none() && o.conference.is_none())
        });
        let rejoin = l.rejoin.filter(|m| {
            (1..crate::control_plane::MAX_CONFERENCE).contains(&self.conference_size(m.id))
        });
        if let Some(l) = self.leg_mut(leg) {
            l.want.hold = false;
            l.resume_to = None;
            l.rejoin = None;
        }
        match (back, rejoin) {
            (Some(partner), _) => self.join(now, leg, partner),
            (None, Some(member)) => {
                self.enter_conference(leg, member);
                self.reconcile(now);
            }
            (None, None) => self.reconcile(now),
        }
        Ok(())
    }
}
