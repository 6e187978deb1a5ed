//! Micro-benchmark of the contact center's routing decision (issue 11 item 10):
//! one contact queued among 1,000 agents in 100 teams with 100 queues (each queue
//! its own team first, every other team after 30 s; `best_available`, ageing), all
//! agents available: the time from `enqueue` to the agent chosen and reserved, then
//! the contact leaving (the agent available again, in its old place) so that every
//! iteration decides among the same 1,000.
//!
//! Variants: a contact needing no skill (the whole first group qualifies), one
//! needing a skill that only a quarter of the teams have (the search runs through
//! every agent of the group and finds none: the contact waits), and one decided
//! with 200 contacts already waiting in other queues (the order is rebuilt).
//!
//! Run: `cargo bench --bench routing` (add `-- --quick` for a smoke run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voxgate_config::routing::Skills;
use voxgate_control::acd::fixtures::large;
use voxgate_control::acd::{Acd, AcdEvent};
use voxgate_edge::control_plane::ConversationId;

fn staffed(t0: Instant) -> Acd {
    let config = large(1000, 100);
    let mut acd = Acd::new(&config);
    for (i, a) in config.agents.iter().enumerate() {
        let at = t0 + Duration::from_millis(i as u64);
        let _ = acd.login(at, &a.name);
        let _ = acd.set_available(at, &a.name);
    }
    while acd.poll_event().is_some() {}
    acd
}

fn decide(acd: &mut Acd, now: Instant, queue: &str, skills: &Skills) -> bool {
    let contact = ConversationId(1_000_000);
    let _ = acd.enqueue(now, contact, queue, 5, skills);
    let mut offered = false;
    while let Some(e) = acd.poll_event() {
        offered |= matches!(e, AcdEvent::Offer { .. });
    }
    acd.leave(now, contact);
    while acd.poll_event().is_some() {}
    offered
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(5);
    let mut g = c.benchmark_group("routing");
    g.throughput(Throughput::Elements(1));

    let mut acd = staffed(t0);
    let none = Skills::new();
    assert!(decide(&mut acd, now, "q7", &none), "an agent is chosen");
    g.bench_function("1000_agents_100_queues_offered", |b| {
        b.iter(|| black_box(decide(&mut acd, now, black_box("q7"), &none)))
    });

    let rare: Skills = [("s0".to_owned(), 1)].into_iter().collect();
    assert!(
        !decide(&mut acd, now, "q1", &rare),
        "nobody in q1's team has s0"
    );
    g.bench_function("1000_agents_100_queues_none_qualifies", |b| {
        b.iter(|| black_box(decide(&mut acd, now, black_box("q1"), &rare)))
    });

    // 200 contacts waiting for a skill nobody in their first group has.
    for i in 0..200u64 {
        let _ = acd.enqueue(
            now,
            ConversationId(i),
            &format!("q{}", 1 + (i % 4) * 20),
            5,
            &rare,
        );
    }
    while acd.poll_event().is_some() {}
    assert!(decide(&mut acd, now, "q7", &none));
    g.bench_function("1000_agents_100_queues_200_waiting", |b| {
        b.iter(|| black_box(decide(&mut acd, now, black_box("q7"), &none)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
