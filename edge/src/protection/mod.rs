//! Protection under attack: what the edge does with traffic it will not serve.
//!
//! - [`limiter`]: per-source token buckets and escalating bans for sources in no trunk's
//!   allow-list, checked before parsing (from the transport tasks, via
//!   [`crate::admission::AllowLists`]).
//! - [`scanner`]: requests whose User-Agent names a scanner get no response at all.
//! - [`refusals`]: refusals are logged once per source and interval, with a count.
//!
//! All three are sans-IO: the caller passes the time.

pub mod blocks;
pub mod limiter;
pub mod refusals;
pub mod scanner;
