//! Protection under attack: what the edge does with traffic it will not serve.
//!
//! - [`limiter`]: per-source token buckets and escalating bans for sources in no trunk's
//!   allow-list, checked before parsing (from the transport tasks, via
//!   [`crate::admission::AllowLists`]).
//! - [`scanner`]: requests whose User-Agent names a scanner get no response at all.
//! - [`refusals`]: refusals are logged once per source and interval, with a count.
//! - [`overload`]: the signalling loop's own load; past a ceiling new calls get 503
//!   (and where TLS handshakes, `/metrics` and `/calls` run: not on that loop).
//!
//! All are sans-IO: the caller passes the time.

pub mod blocks;
pub mod limiter;
pub mod overload;
pub mod refusals;
pub mod scanner;
