//! Micro-benchmark of one conversation carrying a whole plain call end to
//! end, with no sockets and a simulated clock: the caller's INVITE with SDP →
//! the static router's dial connected to it → the callee's 100, 180 and 200
//! with SDP → the caller's ACK → the caller's BYE → the callee's 200 to our
//! BYE, until `Ended`. Everything a conversation does per call is in it:
//! dialogs, SDP anchoring and rewriting, both legs' messages built, the
//! record. The transaction layer is not (see `sip_transaction`).
//!
//! Run: `cargo bench --bench conversation` (add `-- --quick` for a smoke run).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "support/plain_call.rs"]
mod plain_call;

fn bench(c: &mut Criterion) {
    let config = plain_call::config();
    let invite = plain_call::invite();
    let mut g = c.benchmark_group("conversation");
    g.throughput(Throughput::Elements(1));
    g.bench_function("plain_call_end_to_end", |b| {
        b.iter(|| {
            black_box(plain_call::call(
                &config,
                black_box(&invite),
                &mut |_, step| step(),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
