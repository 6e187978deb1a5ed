//! How many heap allocations a conversation makes for one whole plain call
//! (the `conversation` bench's call, without sockets), step by step.
//! Allocation is the largest cost of voxgate's own code on the plain-call
//! path (`perf`: `_mi_page_malloc` and `mi_free` lead its symbols, and most
//! of it is under `Conversation::handle`), so this is the number to keep
//! down: the test fails when a change raises it past the budget, and prints
//! the figures (`cargo test --test conversation_allocations -- --nocapture`).

#![allow(clippy::unwrap_used)]

#[path = "../../benches/support/plain_call.rs"]
mod plain_call;

/// Allocations per step of one call, the conversation's own work only.
fn measure() -> Vec<(&'static str, u64)> {
    let config = plain_call::config();
    let invite = plain_call::invite();
    // Once to warm up what is allocated once per process (ids, tables).
    plain_call::call(&config, &invite, &mut |_, step| step());
    let mut steps = Vec::with_capacity(16);
    plain_call::call(&config, &invite, &mut |name, step| {
        let info = allocation_counter::measure(&mut *step);
        steps.push((name, info.count_total));
    });
    steps
}

#[test]
fn a_plain_call_stays_within_its_allocation_budget() {
    let steps = measure();
    let total: u64 = steps.iter().map(|(_, n)| n).sum();
    for (name, n) in &steps {
        println!("{name:>8}: {n}");
    }
    println!("   total: {total}");
    assert_eq!(steps.len(), 8, "{steps:?}");
    // 387 when this test was written; 288 once parsed SDPs were shared
    // rather than copied; 198 once SDP tokens were inline strings rather
    // than one `String` each (invite 21, dial 68, 180 18, 200 60, bye 21,
    // bye_200 10); 204 with each trunk's codec list applied to the offer
    // and the answer (a list of the formats each). A little room; lower it
    // as allocations go.
    const BUDGET: u64 = 215;
    assert!(total <= BUDGET, "{total} allocations per call: {steps:?}");
}
