//! Who answers a queued contact (`[[site]]`, `[[team]]`, `[[agent]]`, `[[queue]]`): the
//! contact-center side of routing, as opposed to `[[route]]`'s static SBC routes.
//!
//! Agents belong to teams, teams to sites. A queue searches the teams of its
//! distribution groups, each group joining once the contact has waited its `after`
//! (group 1 at 0 s, group 2 at 30 s …), and picks an agent by its strategy among those
//! available with the skills asked for. Everything here has been validated as a whole:
//! every name referred to exists, names are unique, skill levels are 1..=10.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::Destination;

/// A site: where teams sit (a building, a country); for reports and supervisors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Unique name.
    pub name: String,
}

/// A team of agents, in a site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// Unique name.
    pub name: String,
    /// The site's name.
    pub site: String,
}

/// A skill's name and the proficiency (1..=10) an agent has or a contact needs.
pub type Skills = BTreeMap<String, u8>;

/// An agent: who can be offered contacts, one at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// Unique name, also the agent's id in the API.
    pub name: String,
    /// The teams it is in (at least one).
    pub teams: Vec<String>,
    /// Its skills with their proficiency.
    pub skills: Skills,
    /// Where its phone is dialled when a contact is offered.
    pub dial: Destination,
    /// How long its phone rings before the offer counts as not answered (RONA: the
    /// contact goes back to the head of its queue, the agent to idle).
    pub ring_timeout: Duration,
    /// Time in wrap-up after a contact, before it is available again.
    pub wrap_up: Duration,
}

/// How a queue chooses among the agents that could take a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The agent available the longest.
    LongestAvailable,
    /// The best skill match (the sum of the agent's proficiency in the skills asked
    /// for), then the longest available among the best.
    BestAvailable,
}

impl Strategy {
    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestAvailable => "longest_available",
            Strategy::BestAvailable => "best_available",
        }
    }
}

/// Teams that join a queue's search once a contact has waited `after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionGroup {
    /// The teams' names.
    pub teams: Vec<String>,
    /// The wait after which they join (the first group's is 0).
    pub after: Duration,
}

/// A queue of contacts waiting for an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    /// Unique name.
    pub name: String,
    /// How an agent is chosen.
    pub strategy: Strategy,
    /// The distribution groups, in order of `after` (at least one).
    pub groups: Vec<DistributionGroup>,
    /// Skills every contact of the queue needs (a queue node may ask for more).
    pub skills: Skills,
    /// The prompt looped to a waiting caller (music on hold); `None`: silence.
    pub music: Option<String>,
    /// The longest a contact waits before its queue node's `timeout` output.
    pub max_wait: Duration,
    /// Priority ageing: every `ageing` waited counts as one priority level more, so
    /// that low-priority contacts are not starved; `None`: priority, then arrival.
    pub ageing: Option<Duration>,
}

impl Queue {
    /// The teams searched after `waited`.
    pub fn teams_after(&self, waited: Duration) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter(move |g| g.after <= waited)
            .flat_map(|g| g.teams.iter().map(String::as_str))
    }
}
