//! RFC 3261 §17 transactions (sans-IO). Filled in by the transaction work.
