#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use voxgate_config::Config;
use voxgate_config::routing::{Skills, Strategy};
use voxgate_edge::control_plane::ConversationId;

use super::fixtures::*;
use super::*;

const C1: ConversationId = ConversationId(1);
const C2: ConversationId = ConversationId(2);
const C3: ConversationId = ConversationId(3);

/// Two teams; alice (t1, english 5), bob (t1, english 9), carol (t2, english 7);
/// queue `q` searches t1 at once and t2 after 30 s.
fn config(strategy: Strategy, ageing: Option<Duration>) -> Config {
    let mut config = voxgate_config::default_config().unwrap();
    config.sites = vec![site("s")];
    config.teams = vec![team("t1", "s"), team("t2", "s")];
    config.agents = vec![
        agent("alice", &["t1"], &[("english", 5)], Duration::ZERO),
        agent("bob", &["t1"], &[("english", 9)], Duration::from_secs(10)),
        agent(
            "carol",
            &["t2"],
            &[("english", 7), ("french", 8)],
            Duration::ZERO,
        ),
    ];
    config.queues = vec![queue("q", strategy, &[(&["t1"], 0), (&["t2"], 30)], ageing)];
    config
}

fn skills(list: &[(&str, u8)]) -> Skills {
    list.iter().map(|(s, l)| ((*s).to_owned(), *l)).collect()
}

fn offers(acd: &mut Acd) -> Vec<(ConversationId, String)> {
    let mut out = Vec::new();
    while let Some(e) = acd.poll_event() {
        if let AcdEvent::Offer { contact, agent } = e {
            out.push((contact, agent));
        }
    }
    out
}

fn offer(c: ConversationId, a: &str) -> (ConversationId, String) {
    (c, a.to_owned())
}

/// alice, bob and carol logged in; `available` made available in that order, a second
/// apart from `t0`.
fn staffed(config: &Config, t0: Instant, available: &[&str]) -> Acd {
    let mut acd = Acd::new(config);
    for a in ["alice", "bob", "carol"] {
        acd.login(t0, a).unwrap();
    }
    for (i, a) in available.iter().enumerate() {
        acd.set_available(t0 + Duration::from_secs(i as u64), a)
            .unwrap();
    }
    offers(&mut acd);
    acd
}

#[test]
fn longest_available_gets_the_contact() {
    let t0 = Instant::now();
    let mut acd = staffed(
        &config(Strategy::LongestAvailable, None),
        t0,
        &["bob", "alice"],
    );
    let now = t0 + Duration::from_secs(5);
    acd.enqueue(now, C1, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
    assert_eq!(
        acd.agent_state("bob"),
        Some(&AgentState::Reserved { contact: C1 })
    );
    acd.enqueue(now, C2, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C2, "alice")]);
    // Nobody left: the third waits.
    acd.enqueue(now, C3, "q", 5, &Skills::new()).unwrap();
    assert!(offers(&mut acd).is_empty());
    assert_eq!(acd.position(now, C3), Some(1));
}

#[test]
fn best_available_picks_the_most_skilled() {
    let t0 = Instant::now();
    // alice has been available longest, bob is better at english.
    let mut acd = staffed(
        &config(Strategy::BestAvailable, None),
        t0,
        &["alice", "bob"],
    );
    let now = t0 + Duration::from_secs(5);
    acd.enqueue(now, C1, "q", 5, &skills(&[("english", 1)]))
        .unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
    // Equal skill: the longest available.
    let mut acd = staffed(
        &config(Strategy::BestAvailable, None),
        t0,
        &["alice", "bob"],
    );
    acd.enqueue(now, C1, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "alice")]);
}

#[test]
fn skills_below_the_level_asked_do_not_qualify() {
    let t0 = Instant::now();
    let mut acd = staffed(
        &config(Strategy::LongestAvailable, None),
        t0,
        &["alice", "bob"],
    );
    acd.enqueue(t0, C1, "q", 5, &skills(&[("english", 6)]))
        .unwrap();
    // alice (5) is longer available but below 6.
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
    acd.enqueue(t0, C2, "q", 5, &skills(&[("french", 1)]))
        .unwrap();
    assert!(offers(&mut acd).is_empty(), "nobody in t1 speaks french");
}

#[test]
fn the_second_group_joins_after_its_wait() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &["carol"]);
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    assert!(offers(&mut acd).is_empty(), "carol's team joins after 30 s");
    assert_eq!(acd.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    acd.handle_timeout(t0 + Duration::from_secs(29));
    assert!(offers(&mut acd).is_empty());
    acd.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(offers(&mut acd), [offer(C1, "carol")]);
    // Every group joined and the contact offered: no deadline left.
    assert_eq!(acd.poll_timeout(), None);
}

#[test]
fn priority_first_then_arrival_and_ageing_lifts_the_old() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &[]);
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    acd.enqueue(t0 + Duration::from_secs(1), C2, "q", 8, &Skills::new())
        .unwrap();
    acd.enqueue(t0 + Duration::from_secs(2), C3, "q", 5, &Skills::new())
        .unwrap();
    let now = t0 + Duration::from_secs(3);
    assert_eq!(acd.position(now, C2), Some(1));
    assert_eq!(acd.position(now, C1), Some(2));
    assert_eq!(acd.position(now, C3), Some(3));
    acd.set_available(now, "alice").unwrap();
    assert_eq!(offers(&mut acd), [offer(C2, "alice")]);

    // With ageing every 10 s, C1 (priority 5, waited 40 s) outranks a fresh 8.
    let mut acd = staffed(
        &config(Strategy::LongestAvailable, Some(Duration::from_secs(10))),
        t0,
        &[],
    );
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    let now = t0 + Duration::from_secs(40);
    acd.enqueue(now, C2, "q", 8, &Skills::new()).unwrap();
    acd.set_available(now, "alice").unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "alice")]);
}

#[test]
fn rona_idles_the_agent_and_puts_the_contact_back_at_the_head() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &["alice"]);
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    acd.enqueue(t0, C2, "q", 9, &Skills::new()).unwrap();
    // C1 went to alice before C2 arrived.
    assert_eq!(offers(&mut acd), [offer(C1, "alice")]);
    acd.ringing(C1);
    assert_eq!(
        acd.agent_state("alice"),
        Some(&AgentState::Offered { contact: C1 })
    );
    let now = t0 + Duration::from_secs(15);
    acd.not_answered(now, C1);
    assert_eq!(
        acd.agent_state("alice"),
        Some(&AgentState::Idle {
            code: Some("rona".to_owned())
        })
    );
    // Back at the head, ahead of a higher priority.
    assert_eq!(acd.position(now, C1), Some(1));
    assert_eq!(acd.position(now, C2), Some(2));
    acd.set_available(now, "bob").unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
}

#[test]
fn answer_engages_and_the_end_wraps_up_for_the_agents_time() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &["bob"]);
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
    acd.answered(t0 + Duration::from_secs(2), C1);
    assert_eq!(
        acd.agent_state("bob"),
        Some(&AgentState::Engaged { contact: C1 })
    );
    assert!(acd.logout(t0, "bob").is_err(), "not with a contact");
    acd.ended(t0 + Duration::from_secs(62), C1);
    assert_eq!(
        acd.agent_state("bob"),
        Some(&AgentState::WrapUp { code: None })
    );
    acd.wrap_up(t0, "bob", "sale".to_owned()).unwrap();
    assert_eq!(acd.poll_timeout(), Some(t0 + Duration::from_secs(72)));
    // A contact arriving in wrap-up waits for its end.
    acd.enqueue(t0 + Duration::from_secs(63), C2, "q", 5, &Skills::new())
        .unwrap();
    assert!(offers(&mut acd).is_empty());
    acd.handle_timeout(t0 + Duration::from_secs(72));
    assert_eq!(offers(&mut acd), [offer(C2, "bob")]);
    let info = acd.queue_info(t0 + Duration::from_secs(72), "q").unwrap();
    assert_eq!(info.samples, 1);
    assert_eq!(info.mean_handle_time, Some(Duration::from_secs(60)));
}

#[test]
fn a_caller_leaving_frees_its_agent_in_its_old_place() {
    let t0 = Instant::now();
    let mut acd = staffed(
        &config(Strategy::LongestAvailable, None),
        t0,
        &["alice", "bob"],
    );
    acd.enqueue(t0 + Duration::from_secs(5), C1, "q", 5, &Skills::new())
        .unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "alice")]);
    assert_eq!(
        acd.leave(t0 + Duration::from_secs(6), C1).as_deref(),
        Some("alice")
    );
    assert_eq!(acd.agent_state("alice"), Some(&AgentState::Available));
    // alice is still the longest available.
    acd.enqueue(t0 + Duration::from_secs(7), C2, "q", 5, &Skills::new())
        .unwrap();
    assert_eq!(offers(&mut acd), [offer(C2, "alice")]);
}

#[test]
fn estimated_wait_needs_history_and_scales_with_position() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &["alice"]);
    assert_eq!(acd.estimated_wait(t0, "q", 1), None, "no history yet");
    let mut now = t0;
    for (i, secs) in [60u64, 120, 90].into_iter().enumerate() {
        let c = ConversationId(100 + i as u64);
        acd.enqueue(now, c, "q", 5, &Skills::new()).unwrap();
        acd.answered(now, c);
        now += Duration::from_secs(secs);
        acd.ended(now, c);
    }
    // Mean 90 s; alice, bob and carol are staffed, but only alice and bob are in the
    // queue's teams from the start: carol's t2 counts too (a later group).
    let info = acd.queue_info(now, "q").unwrap();
    assert_eq!(info.staffed_agents, 3);
    assert_eq!(info.mean_handle_time, Some(Duration::from_secs(90)));
    assert_eq!(
        acd.estimated_wait(now, "q", 1),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        acd.estimated_wait(now, "q", 6),
        Some(Duration::from_secs(180))
    );
}

#[test]
fn state_changes_are_checked() {
    let t0 = Instant::now();
    let mut acd = Acd::new(&config(Strategy::LongestAvailable, None));
    assert!(matches!(
        acd.set_available(t0, "alice"),
        Err(AcdError::State {
            what: "available",
            ..
        })
    ));
    assert!(matches!(
        acd.login(t0, "zed"),
        Err(AcdError::UnknownAgent(_))
    ));
    assert!(matches!(
        acd.enqueue(t0, C1, "nope", 5, &Skills::new()),
        Err(AcdError::UnknownQueue(_))
    ));
    acd.login(t0, "alice").unwrap();
    acd.set_idle(t0, "alice", Some("break".to_owned())).unwrap();
    acd.set_available(t0, "alice").unwrap();
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    assert!(matches!(
        acd.enqueue(t0, C1, "q", 5, &Skills::new()),
        Err(AcdError::Queued(_))
    ));
    assert!(acd.set_idle(t0, "alice", None).is_err(), "reserved");
}

#[test]
fn a_reload_keeps_the_states_of_agents_still_there() {
    let t0 = Instant::now();
    let mut config = config(Strategy::LongestAvailable, None);
    let mut acd = staffed(&config, t0, &["alice", "bob"]);
    acd.enqueue(t0, C1, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "alice")]);
    config.agents.remove(1);
    config
        .agents
        .push(agent("dave", &["t1"], &[("english", 3)], Duration::ZERO));
    acd.reconfigure(&config);
    assert_eq!(
        acd.agent_state("alice"),
        Some(&AgentState::Reserved { contact: C1 })
    );
    assert_eq!(acd.agent_state("bob"), None);
    assert_eq!(acd.agent_state("dave"), Some(&AgentState::LoggedOut));
    acd.answered(t0, C1);
    assert_eq!(
        acd.agent_state("alice"),
        Some(&AgentState::Engaged { contact: C1 })
    );
}

/// The routing decision is one pass over the agents per waiting contact: 1,000 agents
/// in 100 teams with 100 queues decide a contact (the criterion bench measures it).
#[test]
fn a_thousand_agents_and_a_hundred_queues() {
    let t0 = Instant::now();
    let config = large(1000, 100);
    let mut acd = Acd::new(&config);
    for a in &config.agents {
        acd.login(t0, &a.name).unwrap();
        acd.set_available(t0, &a.name).unwrap();
    }
    offers(&mut acd);
    for i in 0..100u64 {
        let queue = format!("q{}", i % 100);
        acd.enqueue(t0, ConversationId(i), &queue, 5, &Skills::new())
            .unwrap();
    }
    let got = offers(&mut acd);
    assert_eq!(got.len(), 100);
    // Skill s0 is had by agents of a quarter of the teams only: a contact needing it in
    // another team's queue waits for the second group.
    acd.enqueue(t0, ConversationId(1000), "q1", 5, &skills(&[("s0", 1)]))
        .unwrap();
    assert!(offers(&mut acd).is_empty());
    acd.handle_timeout(t0 + Duration::from_secs(30));
    let (_, agent) = offers(&mut acd).pop().unwrap();
    let skills = &config.agent(&agent).unwrap().skills;
    assert!(skills.contains_key("s0"), "{agent}: {skills:?}");
    let mut agents: Vec<&String> = got.iter().map(|(_, a)| a).collect();
    agents.sort();
    agents.dedup();
    assert_eq!(agents.len(), 100, "never one agent twice");
}

#[test]
fn a_contact_for_one_agent_waits_for_that_agent_only() {
    let t0 = Instant::now();
    let mut acd = staffed(&config(Strategy::LongestAvailable, None), t0, &["alice"]);
    // bob is logged in but idle: parked, even with alice available.
    acd.enqueue_for_agent(t0, C1, "bob", 5).unwrap();
    assert!(offers(&mut acd).is_empty());
    assert_eq!(acd.position(t0, C1), Some(1));
    // A queue contact is not held up by it.
    acd.enqueue(t0, C2, "q", 5, &Skills::new()).unwrap();
    assert_eq!(offers(&mut acd), [offer(C2, "alice")]);
    acd.set_available(t0, "bob").unwrap();
    assert_eq!(offers(&mut acd), [offer(C1, "bob")]);
    assert!(matches!(
        acd.enqueue_for_agent(t0, C3, "zed", 5),
        Err(AcdError::UnknownAgent(_))
    ));
    // It leaves (its flow's timeout) while parked: nothing else changes.
    acd.enqueue_for_agent(t0, C3, "carol", 5).unwrap();
    assert_eq!(acd.leave(t0, C3), None);
    assert_eq!(acd.queue_info(t0, "q").unwrap().waiting, 0);
}
