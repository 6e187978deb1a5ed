//! Agents, teams and queues built in code, for tests and the routing benchmark
//! (`benches/routing.rs`); configurations are otherwise loaded from TOML.

use std::time::Duration;

use voxgate_config::routing::{Agent, DistributionGroup, Queue, Site, Strategy, Team};
use voxgate_config::{Config, Destination, ListenerTransport};

/// A site.
pub fn site(name: &str) -> Site {
    Site {
        name: name.to_owned(),
    }
}

/// A team in `site`.
pub fn team(name: &str, site: &str) -> Team {
    Team {
        name: name.to_owned(),
        site: site.to_owned(),
    }
}

/// An agent dialled at `sip:<name>@127.0.0.1:5090`, ringing 15 s.
pub fn agent(name: &str, teams: &[&str], skills: &[(&str, u8)], wrap_up: Duration) -> Agent {
    Agent {
        name: name.to_owned(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        skills: skills.iter().map(|(s, l)| ((*s).to_owned(), *l)).collect(),
        dial: Destination {
            uri: format!("sip:{name}@127.0.0.1:5090"),
            transport: ListenerTransport::Udp,
            trunk: None,
            keepalive: None,
        },
        ring_timeout: Duration::from_secs(15),
        wrap_up,
    }
}

/// A queue whose groups are (teams, after seconds).
pub fn queue(
    name: &str,
    strategy: Strategy,
    groups: &[(&[&str], u64)],
    ageing: Option<Duration>,
) -> Queue {
    Queue {
        name: name.to_owned(),
        strategy,
        groups: groups
            .iter()
            .map(|(teams, after)| DistributionGroup {
                teams: teams.iter().map(|t| (*t).to_owned()).collect(),
                after: Duration::from_secs(*after),
            })
            .collect(),
        skills: Default::default(),
        music: None,
        max_wait: Duration::from_secs(900),
        ageing,
    }
}

/// The embedded default with `agents` agents spread over `queues` teams (one team
/// per queue, its first group; every other team after 30 s), each agent with 5 of 20
/// skills at levels 1..=10, strategy best_available.
pub fn large(agents: usize, queues: usize) -> Config {
    let mut config = match voxgate_config::default_config() {
        Ok(c) => c,
        Err(e) => panic!("the embedded default loads: {e}"),
    };
    let teams: Vec<String> = (0..queues).map(|i| format!("t{i}")).collect();
    config.sites = vec![site("s")];
    config.teams = teams.iter().map(|t| team(t, "s")).collect();
    config.agents = (0..agents)
        .map(|i| {
            let skills: Vec<(String, u8)> = (0..5)
                .map(|k| {
                    (
                        format!("s{}", (i + k * 3) % 20),
                        ((i * 7 + k) % 10 + 1) as u8,
                    )
                })
                .collect();
            let skills: Vec<(&str, u8)> = skills.iter().map(|(s, l)| (s.as_str(), *l)).collect();
            agent(
                &format!("a{i}"),
                &[&teams[i % queues]],
                &skills,
                Duration::ZERO,
            )
        })
        .collect();
    config.queues = (0..queues)
        .map(|i| {
            let own = [teams[i].as_str()];
            let others: Vec<&str> = teams
                .iter()
                .map(String::as_str)
                .filter(|t| *t != own[0])
                .collect();
            queue(
                &format!("q{i}"),
                Strategy::BestAvailable,
                &[(&own, 0), (&others, 30)],
                Some(Duration::from_secs(60)),
            )
        })
        .collect();
    config
}
