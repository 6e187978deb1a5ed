//! The core's table of conversations: which conversation owns which dialog
//! and transaction, per-trunk admission limits, and the birth of new
//! conversations. Sans-IO: conversations are reached through channels the
//! table creates; the driver spawns their tasks.

use crate::control_plane::ConversationId as CallRef;
use crate::conversation::task::{
    Birth, Delivery, InputReceiver, InputSender, Operator, input_channel,
};
use crate::conversation::{ConversationContext as CallContext, Input as CallInput, Locals};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tracing::debug;
use voxgate_config::{Config, Trunk, TrunkName};
use voxgate_sip::dialog::DialogKey;
use voxgate_sip::hashing::{HashIndex, IdMap, key_hash};
use voxgate_sip::transaction::{TimerConfig, TxId};

/// A new conversation, for the driver to spawn.
pub struct NewCall {
    /// The conversation's context.
    pub ctx: CallContext,
    /// Its input channel (an inbound one's INVITE is already queued). Boxed
    /// inputs: a channel allocates its slots 32 at a time, and 32 unboxed
    /// inputs are ~6 KiB per conversation.
    pub input: InputReceiver,
    /// The operators' way in.
    pub operator: Operator,
    /// Inbound, or originated (with the reply for the session).
    pub birth: Birth,
}

impl std::fmt::Debug for NewCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCall")
            .field("id", &self.ctx.id)
            .finish_non_exhaustive()
    }
}

/// Why a new call was refused before it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHit {
    /// The trunk's concurrent-call limit.
    MaxCalls,
    /// The trunk's call-rate limit.
    MaxCps,
}

impl LimitHit {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            LimitHit::MaxCalls => "max_calls",
            LimitHit::MaxCps => "max_cps",
        }
    }

    /// Seconds for `Retry-After`.
    pub fn retry_after(self) -> u32 {
        match self {
            LimitHit::MaxCalls => 5,
            LimitHit::MaxCps => 1,
        }
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` saved.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(rate.max(1));
        TokenBucket {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token if one is there.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct TrunkLoad {
    active: u32,
    bucket: Option<TokenBucket>,
}

#[derive(Debug)]
struct CallLink {
    input: InputSender,
    /// The inbound trunk it counts against (none for an originated one).
    trunk: Option<TrunkName>,
    /// The call's dialogs, with their `key_hash`.
    keys: Vec<(u64, DialogKey)>,
    txs: Vec<TxId>,
}

/// Calls by dialog and transaction.
#[derive(Debug, Default)]
pub struct CallTable {
    // Tables of the whole node's calls and transactions: see
    // voxgate_sip::hashing. A dialog key lives in its call's link.
    calls: IdMap<CallRef, CallLink>,
    dialogs: HashIndex<CallRef>,
    txs: IdMap<TxId, CallRef>,
    trunks: HashMap<TrunkName, TrunkLoad>,
    next_id: u64,
    /// Transactions of calls removed since `drain_unbound` last ran: the
    /// core stops counting the client ones as owed (`Core::unsettled_transactions`).
    unbound: Vec<TxId>,
    /// Handed to every conversation (dials skip what it says is down).
    pub(crate) health: std::sync::Arc<crate::health::Health>,
}

impl CallTable {
    /// Admits a new call from `trunk` if its limits allow, counting it.
    pub fn admit(&mut self, trunk: &Trunk, now: Instant) -> Result<(), LimitHit> {
        let load = self
            .trunks
            .entry(trunk.name.clone())
            .or_insert_with(|| TrunkLoad {
                active: 0,
                bucket: None,
            });
        if let Some(max) = trunk.max_calls
            && load.active >= max
        {
            return Err(LimitHit::MaxCalls);
        }
        if let Some(rate) = trunk.max_cps {
            // A reload that changed the rate starts a fresh bucket.
            let bucket = load
                .bucket
                .get_or_insert_with(|| TokenBucket::new(rate, now));
            if bucket.rate != f64::from(rate) {
                *bucket = TokenBucket::new(rate, now);
            }
            if !bucket.take(now) {
                return Err(LimitHit::MaxCps);
            }
        }
        load.active += 1;
        Ok(())
    }

    /// Creates an inbound conversation whose first input is `first`.
    pub fn create(
        &mut self,
        config: Arc<Config>,
        trunk: TrunkName,
        locals: Locals,
        timers: TimerConfig,
        invite_tx: TxId,
        first: CallInput,
    ) -> NewCall {
        let mut new = self.new_conversation(config, Some(trunk), locals, timers, Birth::Inbound);
        if let Some(link) = self.calls.get_mut(&new.ctx.id) {
            // The channel is new and empty: this cannot overflow.
            let _ = link.input.deliver(first);
            link.txs.push(invite_tx);
        }
        self.txs.insert(invite_tx, new.ctx.id);
        new.birth = Birth::Inbound;
        new
    }

    /// Creates a conversation that no INVITE started (`EdgeHandle::originate`).
    pub fn originate(
        &mut self,
        config: Arc<Config>,
        locals: Locals,
        timers: TimerConfig,
        birth: Birth,
    ) -> NewCall {
        self.new_conversation(config, None, locals, timers, birth)
    }

    fn new_conversation(
        &mut self,
        config: Arc<Config>,
        trunk: Option<TrunkName>,
        locals: Locals,
        timers: TimerConfig,
        birth: Birth,
    ) -> NewCall {
        self.next_id += 1;
        let id = CallRef(self.next_id);
        let (tx, rx) = input_channel();
        let operator = tx.operator();
        self.calls.insert(
            id,
            CallLink {
                input: tx,
                trunk,
                keys: Vec::new(),
                txs: Vec::new(),
            },
        );
        NewCall {
            ctx: CallContext {
                id,
                config,
                locals,
                timers,
                started: std::time::SystemTime::now(),
                health: self.health.clone(),
            },
            input: rx,
            operator,
            birth,
        }
    }

    /// Active calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is active.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The call owning a dialog.
    pub fn by_dialog(&self, key: &DialogKey) -> Option<CallRef> {
        self.dialog_owner(key_hash(key), key)
    }

    /// The call owning a transaction.
    pub fn by_tx(&self, tx: TxId) -> Option<CallRef> {
        self.txs.get(&tx).copied()
    }

    /// Routes a dialog to a call.
    pub fn bind_dialog(&mut self, call: CallRef, key: DialogKey) {
        if !self.calls.contains_key(&call) {
            return;
        }
        let hash = key_hash(&key);
        // A key bound again moves to its latest call.
        if let Some(owner) = self.dialog_owner(hash, &key) {
            self.dialogs.remove(hash, owner);
        }
        self.dialogs.insert(hash, call);
        if let Some(link) = self.calls.get_mut(&call) {
            link.keys.push((hash, key));
        }
    }

    fn dialog_owner(&self, hash: u64, key: &DialogKey) -> Option<CallRef> {
        let calls = &self.calls;
        self.dialogs.find(hash, |call| {
            calls
                .get(&call)
                .is_some_and(|l| l.keys.iter().any(|(h, k)| *h == hash && k == key))
        })
    }

    /// Routes a transaction to a call.
    pub fn bind_tx(&mut self, call: CallRef, tx: TxId) {
        if let Some(link) = self.calls.get_mut(&call) {
            link.txs.push(tx);
            self.txs.insert(tx, call);
        }
    }

    /// A transaction ended.
    pub fn tx_ended(&mut self, tx: TxId) {
        if let Some(call) = self.txs.remove(&tx)
            && let Some(link) = self.calls.get_mut(&call)
        {
            link.txs.retain(|t| *t != tx);
        }
    }

    /// The transactions of calls removed since the last drain.
    pub fn drain_unbound(&mut self) -> std::vec::Drain<'_, TxId> {
        self.unbound.drain(..)
    }

    /// Hands `input` to a conversation. Nothing is dropped silently: a
    /// conversation that has [`INPUT_QUEUE`](crate::conversation::task::INPUT_QUEUE)
    /// inputs queued is told to end instead (and counted by the caller);
    /// true then.
    pub fn deliver(&mut self, call: CallRef, input: CallInput) -> bool {
        let Some(link) = self.calls.get_mut(&call) else {
            return false;
        };
        match link.input.deliver(input) {
            Delivery::Queued => false,
            Delivery::Overflowed => {
                debug!(%call, "conversation input queue overflowed; ending it");
                true
            }
            Delivery::Closed => {
                self.remove(call);
                false
            }
        }
    }

    /// Sends `input` to every call (shutdown).
    pub fn broadcast(&mut self, make: impl Fn() -> CallInput) {
        let ids: Vec<CallRef> = self.calls.keys().copied().collect();
        for id in ids {
            self.deliver(id, make());
        }
    }

    /// Forgets an ended call; returns its trunk.
    pub fn remove(&mut self, call: CallRef) -> Option<TrunkName> {
        let link = self.calls.remove(&call)?;
        for (hash, _) in &link.keys {
            self.dialogs.remove(*hash, call);
        }
        for tx in &link.txs {
            self.txs.remove(tx);
        }
        self.unbound.extend_from_slice(&link.txs);
        if let Some(load) = link.trunk.as_ref().and_then(|t| self.trunks.get_mut(t)) {
            load.active = load.active.saturating_sub(1);
        }
        link.trunk
    }
}

/// How long a bucket refill of one token takes at `rate`, for tests.
#[cfg(test)]
fn per_token(rate: u32) -> std::time::Duration {
    std::time::Duration::from_secs_f64(1.0 / f64::from(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5, t0);
        for _ in 0..5 {
            assert!(b.take(t0));
        }
        assert!(!b.take(t0), "burst spent");
        assert!(!b.take(t0 + per_token(5) / 2));
        assert!(b.take(t0 + per_token(5)), "one token after 1/rate");
        assert!(!b.take(t0 + per_token(5)));
        // A long pause refills no more than the burst.
        let later = t0 + std::time::Duration::from_secs(60);
        for _ in 0..5 {
            assert!(b.take(later));
        }
        assert!(!b.take(later));
    }
}
