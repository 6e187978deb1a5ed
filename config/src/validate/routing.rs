//! `[[site]]`, `[[team]]`, `[[agent]]` and `[[queue]]`: names unique, every name
//! referred to defined, skill levels 1..=10, distribution groups in order of wait.

use std::ops::Range;
use std::time::Duration;

use super::Validator;
use crate::error::{ConfigErrorKind, Relation};
use crate::raw::{List, RawAgent, RawQueue, RawSite, RawSkills, RawTeam};
use crate::routing::{Agent, DistributionGroup, Queue, Site, Skills, Strategy, Team};
use crate::schema;

/// What a queue's contacts wait at most when neither the queue nor the node says.
const DEFAULT_MAX_WAIT_S: i64 = 900;

/// The routing tables, typed.
pub(crate) struct Routing {
    pub sites: Vec<Site>,
    pub teams: Vec<Team>,
    pub agents: Vec<Agent>,
    pub queues: Vec<Queue>,
}

type Seen = Vec<(String, String, Range<usize>)>;

impl Validator<'_> {
    pub(super) fn routing(
        &mut self,
        sites: &Option<List<RawSite>>,
        teams: &Option<List<RawTeam>>,
        agents: &Option<List<RawAgent>>,
        queues: &Option<List<RawQueue>>,
        trunks: &[String],
        prompts: &[String],
    ) -> Routing {
        let mut seen: Seen = Vec::new();
        let sites: Vec<Site> = elements(sites)
            .enumerate()
            .map(|(i, raw)| {
                let key = format!("site[{i}].name");
                let name = self.named(&raw.get_ref().name, &raw.span(), &key, &mut seen);
                Site { name }
            })
            .collect();
        self.unique(&seen, "a site name no other [[site]] uses");
        let site_names: Vec<String> = sites.iter().map(|s| s.name.clone()).collect();

        let mut seen: Seen = Vec::new();
        let mut out_teams = Vec::new();
        for (i, raw) in elements(teams).enumerate() {
            let (span, r) = (raw.span(), raw.get_ref());
            let name = self.named(&r.name, &span, &format!("team[{i}].name"), &mut seen);
            let key = format!("team[{i}].site");
            let site = match self.require(&r.site, &span, &key) {
                Some(s) => {
                    self.reference(s, &key, "site", &site_names);
                    s.get_ref().clone()
                }
                None => String::new(),
            };
            out_teams.push(Team { name, site });
        }
        self.unique(&seen, "a team name no other [[team]] uses");
        let team_names: Vec<String> = out_teams.iter().map(|t| t.name.clone()).collect();

        let mut seen: Seen = Vec::new();
        let mut out_agents = Vec::new();
        for (i, raw) in elements(agents).enumerate() {
            let key = |k: &str| format!("agent[{i}].{k}");
            let (span, r) = (raw.span(), raw.get_ref());
            let name = self.named(&r.name, &span, &key("name"), &mut seen);
            let agent_teams = self.team_list(r.teams.as_ref(), &span, &key("teams"), &team_names);
            let skills = self.skills(r.skills.as_ref(), &key("skills"));
            let dial = self
                .require(&r.dial, &span, &key("dial"))
                .and_then(|d| self.destination(d, &key("dial"), trunks));
            let ring_timeout = self.int_or(
                r.ring_timeout_s.as_ref(),
                &key("ring_timeout_s"),
                (1, 300),
                15,
            );
            let wrap_up = self.int_or(r.wrap_up_s.as_ref(), &key("wrap_up_s"), (0, 3600), 0);
            if let Some(dial) = dial {
                out_agents.push(Agent {
                    name,
                    teams: agent_teams,
                    skills,
                    dial,
                    ring_timeout: seconds(ring_timeout),
                    wrap_up: seconds(wrap_up),
                });
            }
        }
        self.unique(&seen, "an agent name no other [[agent]] uses");

        let mut seen: Seen = Vec::new();
        let mut out_queues = Vec::new();
        for (i, raw) in elements(queues).enumerate() {
            let key = |k: &str| format!("queue[{i}].{k}");
            let (span, r) = (raw.span(), raw.get_ref());
            let name = self.named(&r.name, &span, &key("name"), &mut seen);
            let strategy = match &r.strategy {
                None => Strategy::LongestAvailable,
                Some(s) => match s.get_ref().as_str() {
                    "longest_available" => Strategy::LongestAvailable,
                    "best_available" => Strategy::BestAvailable,
                    _ => {
                        self.bad_value(
                            s.span(),
                            &key("strategy"),
                            schema::describe(&key("strategy")),
                        );
                        Strategy::LongestAvailable
                    }
                },
            };
            let mut groups = Vec::new();
            if let Some(list) = self.require(&r.groups, &span, &key("groups")) {
                let mut previous: Option<i64> = None;
                for (j, g) in self.non_empty(list, &key("groups")).iter().enumerate() {
                    let gkey = |k: &str| format!("queue[{i}].groups[{j}].{k}");
                    let (gspan, gr) = (g.span(), g.get_ref());
                    let teams =
                        self.team_list(gr.teams.as_ref(), &gspan, &gkey("teams"), &team_names);
                    let after = self.int_or(gr.after_s.as_ref(), &gkey("after_s"), (0, 86_400), 0);
                    match (previous, gr.after_s.as_ref()) {
                        // The first group searches from the start: a wait of its own
                        // would leave every contact unoffered that long.
                        (None, Some(a)) if *a.get_ref() != 0 => {
                            let kind = ConfigErrorKind::OutOfRange {
                                found: *a.get_ref(),
                                min: 0,
                                max: 0,
                            };
                            self.push(a.span(), gkey("after_s"), kind);
                        }
                        (Some(p), Some(a)) if *a.get_ref() <= p => {
                            let kind = ConfigErrorKind::Order {
                                found: *a.get_ref(),
                                relation: Relation::GreaterThan,
                                other_key: format!("queue[{i}].groups[{}].after_s", j - 1),
                                other_value: p,
                            };
                            self.push(a.span(), gkey("after_s"), kind);
                        }
                        (Some(_), None) => {
                            let expected = schema::describe(&gkey("after_s")).to_owned();
                            self.push(
                                gspan.clone(),
                                gkey("after_s"),
                                ConfigErrorKind::Missing { expected },
                            );
                        }
                        _ => {}
                    }
                    previous = Some(after);
                    groups.push(DistributionGroup {
                        teams,
                        after: seconds(after),
                    });
                }
            }
            let skills = self.skills(r.skills.as_ref(), &key("skills"));
            if let Some(m) = &r.music {
                self.reference(m, &key("music"), "prompt", prompts);
            }
            let max_wait = self.int_or(
                r.max_wait_s.as_ref(),
                &key("max_wait_s"),
                (1, 86_400),
                DEFAULT_MAX_WAIT_S,
            );
            let ageing = r
                .ageing_s
                .as_ref()
                .and_then(|a| self.int(a, &key("ageing_s"), 1, 86_400))
                .map(seconds);
            out_queues.push(Queue {
                name,
                strategy,
                groups,
                skills,
                music: r.music.as_ref().map(|m| m.get_ref().clone()),
                max_wait: seconds(max_wait),
                ageing,
            });
        }
        self.unique(&seen, "a queue name no other [[queue]] uses");
        Routing {
            sites,
            teams: out_teams,
            agents: out_agents,
            queues: out_queues,
        }
    }

    /// A required name, recorded in `seen` for the uniqueness check.
    fn named(
        &mut self,
        value: &Option<crate::raw::S<String>>,
        parent: &Range<usize>,
        key: &str,
        seen: &mut Seen,
    ) -> String {
        let Some(n) = self.require(value, parent, key) else {
            return String::new();
        };
        seen.push((n.get_ref().clone(), key.to_owned(), n.span()));
        self.name(n, key).unwrap_or_default()
    }

    /// A required, non-empty list of team names.
    fn team_list(
        &mut self,
        list: Option<&List<String>>,
        parent: &Range<usize>,
        key: &str,
        teams: &[String],
    ) -> Vec<String> {
        let Some(list) = list else {
            let expected = schema::describe(key).to_owned();
            self.push(parent.clone(), key, ConfigErrorKind::Missing { expected });
            return Vec::new();
        };
        let mut out = Vec::new();
        for (j, t) in self.non_empty(list, key).iter().enumerate() {
            self.reference(t, &format!("{key}[{j}]"), "team", teams);
            out.push(t.get_ref().clone());
        }
        out
    }

    /// A skills table: names as variable-like names, levels 1..=10.
    pub(super) fn skills(&mut self, raw: Option<&RawSkills>, key: &str) -> Skills {
        let mut out = Skills::new();
        for (name, level) in raw.iter().flat_map(|s| s.get_ref()) {
            let k = format!("{key}.{name}");
            if !crate::model::is_valid_name(name) {
                self.bad_value(level.span(), &k, schema::SKILLS);
                continue;
            }
            if let Some(level) = self.int(level, &k, 1, 10) {
                out.insert(name.clone(), level as u8);
            }
        }
        out
    }
}

fn elements<T>(list: &Option<List<T>>) -> impl Iterator<Item = &crate::raw::S<T>> {
    list.iter().flat_map(|l| l.get_ref().iter())
}

fn seconds(s: i64) -> Duration {
    Duration::from_secs(s.unsigned_abs())
}
