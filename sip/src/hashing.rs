//! Hashing for the big tables on the signalling thread (transactions, dialogs).
//!
//! A `HashMap` that outgrows its table rehashes every entry at once. With
//! SipHash over keys whose bytes live behind pointers, a table of a few
//! hundred thousand transactions (64·T1 = 32 s of them at a few thousand
//! calls/s) took 30–120 ms to double, and every message waited. Here a key
//! is hashed once, with the process's random SipHash keys (peers choose the
//! bytes, so the hash must stay unpredictable), and the table keeps that hash
//! next to the key: growing the table moves entries without hashing again.
//! Our own sequential ids (transaction, call) need no SipHash at all: a
//! multiply spreads them.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::sync::OnceLock;

/// 2^64 / φ: the multiplier of Fibonacci hashing, which spreads sequential
/// integers over the high bits the table's tags use.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// Mixes integers written to it; for keys that are our own ids or that carry
/// a hash already (`Prehashed`). Byte strings get a simple fold: do not use
/// it for keys a peer chooses, wrap those in `Prehashed`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpreadHasher(u64);

impl Hasher for SpreadHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(SPREAD);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`SpreadHasher`]s.
pub type Spread = BuildHasherDefault<SpreadHasher>;

/// A map keyed by our own ids (`TxId`, call refs).
pub type IdMap<K, V> = HashMap<K, V, Spread>;

/// A map keyed by peer-chosen keys, each hashed once (see [`Prehashed`]).
pub type PrehashedMap<K, V> = HashMap<Prehashed<K>, V, Spread>;

fn sip_keys() -> &'static RandomState {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    KEYS.get_or_init(RandomState::new)
}

/// A key and its SipHash (random keys per process), computed once.
#[derive(Clone, Debug)]
pub struct Prehashed<K> {
    hash: u64,
    key: K,
}

/// SipHash of `key` with the process's random keys: for tables that store
/// the hash next to what they index.
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    sip_keys().hash_one(key)
}

impl<K: Hash> Prehashed<K> {
    /// Hashes `key`.
    pub fn new(key: K) -> Prehashed<K> {
        Prehashed {
            hash: key_hash(&key),
            key,
        }
    }
}

impl<K> Prehashed<K> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: PartialEq> PartialEq for Prehashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<K: Eq> Eq for Prehashed<K> {}

// No `Borrow<K>`: a map would hash a bare `K` with its own hasher, which is
// not the stored SipHash, and find nothing. Look up with `Prehashed::new`.
impl<K> Hash for Prehashed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_different_keys_apart() {
        let a = Prehashed::new(("z9hG4bK1".to_owned(), 5060u16));
        let b = Prehashed::new(("z9hG4bK1".to_owned(), 5060u16));
        let c = Prehashed::new(("z9hG4bK2".to_owned(), 5060u16));
        assert_eq!(a, b);
        assert_eq!(a.hash, b.hash);
        assert_ne!(a, c);
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn a_prehashed_map_finds_by_the_wrapped_key() {
        let mut map: PrehashedMap<String, u32> = PrehashedMap::default();
        for i in 0..10_000u32 {
            map.insert(Prehashed::new(format!("branch-{i}")), i);
        }
        assert_eq!(
            map.get(&Prehashed::new("branch-4242".to_owned())),
            Some(&4242)
        );
        assert_eq!(map.get(&Prehashed::new("branch-x".to_owned())), None);
        assert_eq!(map.remove(&Prehashed::new("branch-7".to_owned())), Some(7));
        assert_eq!(map.len(), 9_999);
    }

    #[test]
    fn sequential_ids_spread_over_the_tag_bits() {
        // hashbrown tags slots with the top 7 bits: sequential ids must not
        // all share one tag, or every probe compares a whole group.
        let tags: std::collections::HashSet<u64> = (0..1_000u64)
            .map(|id| {
                let mut h = SpreadHasher::default();
                h.write_u64(id);
                h.finish() >> 57
            })
            .collect();
        assert!(tags.len() > 100, "only {} distinct tags", tags.len());
        let mut ids: IdMap<u64, u64> = IdMap::default();
        for id in 0..100_000u64 {
            ids.insert(id, id * 2);
        }
        assert_eq!(ids.get(&77_777), Some(&155_554));
    }
}
