//! Hashing for the big tables on the signalling thread (transactions, dialogs).
//!
//! A `HashMap` that outgrows its table rehashes every entry at once. With
//! SipHash over keys whose bytes live behind pointers, a table of a few
//! hundred thousand transactions (64·T1 = 32 s of them at a few thousand
//! calls/s) took 30–120 ms to double, and every message waited. Here a
//! peer-chosen key is hashed once, with the process's random SipHash keys
//! (peers choose the bytes, so the hash must stay unpredictable), and a
//! [`HashIndex`] keeps only that hash and the id of what owns the key: growing
//! it moves 16-byte slots without hashing again, and the key itself lives
//! once, with its owner. Our own sequential ids (transaction, call) need no
//! SipHash at all: a multiply spreads them ([`IdMap`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

use hashbrown::HashTable;
use std::sync::OnceLock;

/// 2^64 / φ: the multiplier of Fibonacci hashing, which spreads sequential
/// integers over the high bits the table's tags use.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// Mixes integers written to it; for keys that are our own ids. Byte strings
/// get a simple fold: do not use it for keys a peer chooses (see [`HashIndex`]).
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

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by our own ids (`TxId`, call refs).
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<SpreadHasher>>;

fn sip_keys() -> &'static RandomState {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    KEYS.get_or_init(RandomState::new)
}

/// SipHash of `key` with the process's random keys.
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    sip_keys().hash_one(key)
}

/// Ids by the `key_hash` of a key their owner keeps: (hash, id) slots. A
/// lookup hashes the key it is given and asks the caller whether a candidate
/// id really owns that key.
#[derive(Debug)]
pub struct HashIndex<I>(HashTable<(u64, I)>);

impl<I> Default for HashIndex<I> {
    fn default() -> Self {
        HashIndex(HashTable::new())
    }
}

impl<I: Copy + PartialEq> HashIndex<I> {
    /// The id filed under `hash` for which `owns` holds.
    pub fn find(&self, hash: u64, mut owns: impl FnMut(I) -> bool) -> Option<I> {
        self.0
            .find(hash, |&(h, id)| h == hash && owns(id))
            .map(|&(_, id)| id)
    }

    /// Files `id` under `hash` (the caller has checked the key is not filed).
    pub fn insert(&mut self, hash: u64, id: I) {
        self.0.insert_unique(hash, (hash, id), |&(h, _)| h);
    }

    /// Unfiles `id` from `hash`.
    pub fn remove(&mut self, hash: u64, id: I) {
        if let Ok(entry) = self.0.find_entry(hash, |&(h, i)| h == hash && i == id) {
            entry.remove();
        }
    }

    /// How many ids are filed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_different_keys_apart() {
        let a = key_hash(&("z9hG4bK1", 5060u16));
        assert_eq!(a, key_hash(&("z9hG4bK1", 5060u16)));
        assert_ne!(a, key_hash(&("z9hG4bK2", 5060u16)));
    }

    #[test]
    fn an_index_finds_the_owner_of_a_key() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("branch-{i}")).collect();
        let mut index = HashIndex::default();
        for (id, key) in keys.iter().enumerate() {
            index.insert(key_hash(key), id);
        }
        let find =
            |index: &HashIndex<usize>, key: &str| index.find(key_hash(key), |id| keys[id] == key);
        assert_eq!(find(&index, "branch-4242"), Some(4242));
        assert_eq!(find(&index, "branch-x"), None);
        index.remove(key_hash("branch-7"), 7);
        assert_eq!(find(&index, "branch-7"), None);
        assert_eq!(index.len(), 9_999);
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
