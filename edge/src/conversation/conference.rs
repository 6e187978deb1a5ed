//! Conferences: `Conference`, `JoinConference`, `LeaveConference`, `Mute` and
//! `SetRole`, checked at the boundary. A leg's place in a conference is plain
//! data on the leg (the conference's id, its role, muted or not), told to its
//! endpoint; a conference is the set of live legs that name it, and is over
//! when the last one left. The media plane mixes it (`voxgate_media`'s
//! session conferences): no re-INVITE is needed, whatever G.711 law each
//! leg negotiated.

use super::leg::Member;
use super::*;
use crate::control_plane::{ConferenceId, ConferenceRole, MAX_CONFERENCE};
use voxgate_media::Membership;
use voxgate_media::mixer::Role;

impl<M: MediaControl> Conversation<M> {
    /// Live legs in conference `id`.
    pub(crate) fn conference_size(&self, id: ConferenceId) -> usize {
        self.legs
            .iter()
            .filter(|l| l.is_live() && l.conference.is_some_and(|m| m.id == id))
            .count()
    }

    /// The endpoint of a leg that may be mixed: answered, with media in a
    /// codec voxgate decodes (PCMU or PCMA, not encrypted end to end).
    fn mixable(&self, leg: LegId) -> Result<EndpointId, CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_answered() {
            return Err(CommandError::LegState {
                leg,
                state: l.state_name(),
                wanted: "a conference needs answered legs",
            });
        }
        let ep = l.endpoint.ok_or(CommandError::NoMedia { leg })?;
        if l.format.and_then(|f| f.voice).is_none() {
            return Err(CommandError::NoCodec { leg });
        }
        Ok(ep)
    }

    /// A member's conference, or `NotInConference`.
    fn member(&self, leg: LegId) -> Result<Member, CommandError> {
        let l = self.leg(leg).ok_or(CommandError::UnknownLeg { leg })?;
        if !l.is_live() {
            return Err(CommandError::UnknownLeg { leg });
        }
        l.conference.ok_or(CommandError::NotInConference { leg })
    }

    /// `Conference`: every leg is checked before any moves.
    pub(crate) fn conference_command(
        &mut self,
        now: Instant,
        id: ConferenceId,
        legs: Vec<LegId>,
    ) -> Result<(), CommandError> {
        if legs.is_empty() || legs.len() > MAX_CONFERENCE {
            return Err(CommandError::ConferenceSize {
                count: legs.len(),
                limit: MAX_CONFERENCE,
            });
        }
        for (i, &leg) in legs.iter().enumerate() {
            if legs[..i].contains(&leg) {
                return Err(CommandError::SameLeg { leg });
            }
            self.mixable(leg)?;
        }
        for leg in legs {
            let member = Member {
                id,
                role: ConferenceRole::Speaker,
                muted: false,
            };
            self.enter_conference(leg, member);
        }
        self.reconcile(now);
        Ok(())
    }

    /// `JoinConference`: into a conference that lasts and has room; a member
    /// of it only changes role.
    pub(crate) fn join_conference_command(
        &mut self,
        now: Instant,
        conference: ConferenceId,
        leg: LegId,
        role: ConferenceRole,
    ) -> Result<(), CommandError> {
        let size = self.conference_size(conference);
        if size == 0 {
            return Err(CommandError::UnknownConference { conference });
        }
        self.mixable(leg)?;
        match self.leg(leg).and_then(|l| l.conference) {
            Some(m) if m.id == conference => {
                if m.role != role {
                    self.update_member(leg, Member { role, ..m });
                }
                return Ok(());
            }
            _ if size >= MAX_CONFERENCE => {
                return Err(CommandError::ConferenceSize {
                    count: size + 1,
                    limit: MAX_CONFERENCE,
                });
            }
            _ => {}
        }
        let member = Member {
            id: conference,
            role,
            muted: false,
        };
        self.enter_conference(leg, member);
        self.reconcile(now);
        Ok(())
    }

    /// `LeaveConference`.
    pub(crate) fn leave_conference_command(&mut self, leg: LegId) -> Result<(), CommandError> {
        self.member(leg)?;
        self.leave_conference(leg);
        Ok(())
    }

    /// `Mute`.
    pub(crate) fn mute_command(&mut self, leg: LegId, muted: bool) -> Result<(), CommandError> {
        let m = self.member(leg)?;
        if m.muted != muted {
            self.update_member(leg, Member { muted, ..m });
        }
        Ok(())
    }

    /// `SetRole`.
    pub(crate) fn set_role_command(
        &mut self,
        leg: LegId,
        role: ConferenceRole,
    ) -> Result<(), CommandError> {
        let m = self.member(leg)?;
        if m.role != role {
            self.update_member(leg, Member { role, ..m });
        }
        Ok(())
    }

    /// Puts `leg` in a conference: out of its link, bridge or other
    /// conference, resumed if voxgate held it (the caller reconciles), its
    /// endpoint told.
    pub(crate) fn enter_conference(&mut self, leg: LegId, member: Member) {
        self.unlink(leg);
        self.split(leg);
        let Some(l) = self.leg_mut(leg) else { return };
        l.want.hold = false;
        l.want.join = None;
        l.resume_to = None;
        l.rejoin = None;
        l.conference = Some(member);
        if let Some(ep) = l.endpoint {
            self.media.set_conference(ep, Some(membership(member)));
        }
        self.event(Event::ConferenceJoined {
            conference: member.id,
            leg,
            role: member.role,
            muted: member.muted,
        });
    }

    /// Takes `leg` out of its conference, if it is in one: its endpoint is
    /// told, `ConferenceLeft` said.
    pub(crate) fn leave_conference(&mut self, leg: LegId) -> Option<Member> {
        let l = self.leg_mut(leg)?;
        let member = l.conference.take()?;
        if let Some(ep) = l.endpoint {
            self.media.set_conference(ep, None);
        }
        self.event(Event::ConferenceLeft {
            conference: member.id,
            leg,
        });
        Some(member)
    }

    /// A member's role or mute changes.
    fn update_member(&mut self, leg: LegId, member: Member) {
        let Some(l) = self.leg_mut(leg) else { return };
        l.conference = Some(member);
        if let Some(ep) = l.endpoint {
            self.media.set_conference(ep, Some(membership(member)));
        }
        self.event(Event::ConferenceUpdated {
            conference: member.id,
            leg,
            role: member.role,
            muted: member.muted,
        });
    }

    /// Whether `leg` is in a conference that someone else is in too (a
    /// member alone has nobody to talk to).
    pub(crate) fn in_shared_conference(&self, leg: &Leg) -> bool {
        leg.conference
            .is_some_and(|m| self.conference_size(m.id) >= 2)
    }
}

/// What the media plane is told of a member.
fn membership(m: Member) -> Membership {
    Membership {
        conference: voxgate_media::ConferenceId(m.id.0),
        role: match m.role {
            ConferenceRole::Speaker => Role::Speaker,
            ConferenceRole::Listener => Role::Monitor,
        },
        muted: m.muted,
    }
}
