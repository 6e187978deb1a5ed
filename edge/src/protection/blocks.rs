//! Operator blocks and the list of bans (sans-IO: the caller passes the time in ms).
//!
//! An operator blocks an address or a prefix (`voxgatectl block`, `POST /bans`) for a
//! while or until unblocked: its datagrams and connections are dropped before parsing,
//! whatever its source (a trunk's address included: the operator said so). The check per
//! packet is one atomic load while no block exists, and a scan of the (short) list while
//! one does.
//!
//! The limiter's table keeps only keyed hashes of the sources it bans, so the bans it
//! starts are also written here (once per ban, never per packet) for `GET /bans` to list;
//! at most [`MAX_BAN_RECORDS`], the ended ones dropped first.

use arc_swap::ArcSwap;
use ipnet::IpNet;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::limiter::Scope;

/// Automatic bans remembered for listing; beyond it the oldest is forgotten (it still
/// holds in the limiter, it is only not listed).
pub const MAX_BAN_RECORDS: usize = 1024;

/// Operator blocks at most: the list is scanned per packet while it is not empty.
pub const MAX_BLOCKS: usize = 256;

/// Who put a ban in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An operator (admin API).
    Operator,
    /// The rate limiter, for a source in no allow-list.
    RateLimit,
}

/// One ban or block, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The address (/32, /128) or prefix.
    pub net: IpNet,
    /// When it ends (ms on the caller's clock); `None`: until unblocked or a restart.
    pub until_ms: Option<u64>,
    /// Who put it in place.
    pub origin: Origin,
    /// The rate limiter's escalation level (0 for a first ban); 0 for an operator's.
    pub level: u64,
}

impl Ban {
    fn active(&self, now_ms: u64) -> bool {
        self.until_ms.is_none_or(|until| now_ms < until)
    }
}

/// Why a block was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRefused {
    /// [`MAX_BLOCKS`] blocks are in force.
    Full,
}

/// Operator blocks and the record of automatic bans.
#[derive(Debug, Default)]
pub struct Blocks {
    any: AtomicBool,
    blocks: ArcSwap<Vec<Ban>>,
    bans: Mutex<VecDeque<Ban>>,
}

impl Blocks {
    /// Whether an operator block may be in force (one atomic load): the packet path
    /// reads the clock and calls [`Blocks::blocked`] only then.
    pub fn blocked_fast(&self) -> bool {
        self.any.load(Relaxed)
    }

    /// Whether `ip` is blocked by an operator at `now_ms`. One atomic load while no block
    /// exists.
    pub fn blocked(&self, now_ms: u64, ip: IpAddr) -> bool {
        if !self.blocked_fast() {
            return false;
        }
        let ip = ip.to_canonical();
        self.blocks
            .load()
            .iter()
            .any(|b| b.active(now_ms) && b.net.contains(&ip))
    }

    /// Blocks `net` until `until_ms` (`None`: until unblocked); a block of the same net is
    /// replaced.
    pub fn block(
        &self,
        now_ms: u64,
        net: IpNet,
        until_ms: Option<u64>,
    ) -> Result<(), BlockRefused> {
        let net = net.trunc();
        let mut list: Vec<Ban> = self
            .blocks
            .load()
            .iter()
            .filter(|b| b.active(now_ms) && b.net != net)
            .cloned()
            .collect();
        if list.len() >= MAX_BLOCKS {
            return Err(BlockRefused::Full);
        }
        list.push(Ban {
            net,
            until_ms,
            origin: Origin::Operator,
            level: 0,
        });
        self.blocks.store(Arc::new(list));
        self.any.store(true, Relaxed);
        Ok(())
    }

    /// Removes the operator's block of exactly `net` and the record of an automatic ban
    /// of it; true when a block was in force. (The limiter's own ban is lifted by the
    /// caller.)
    pub fn unblock(&self, now_ms: u64, net: IpNet) -> bool {
        let net = net.trunc();
        let old = self.blocks.load_full();
        let list: Vec<Ban> = old
            .iter()
            .filter(|b| b.active(now_ms) && b.net != net)
            .cloned()
            .collect();
        let removed = old.iter().any(|b| b.active(now_ms) && b.net == net);
        self.any.store(!list.is_empty(), Relaxed);
        self.blocks.store(Arc::new(list));
        if let Ok(mut bans) = self.bans.lock() {
            bans.retain(|b| b.net != net);
        }
        removed
    }

    /// Records a ban the limiter started (once per ban).
    pub fn banned(&self, now_ms: u64, ip: IpAddr, scope: Scope, ms: u64, level: u64) {
        let ip = ip.to_canonical();
        let prefix_len = match (scope, ip) {
            (Scope::Address, IpAddr::V4(_)) => 32,
            (Scope::Address, IpAddr::V6(_)) => 128,
            (Scope::Prefix, IpAddr::V4(_)) => 24,
            (Scope::Prefix, IpAddr::V6(_)) => 64,
        };
        let Ok(net) = IpNet::new(ip, prefix_len) else {
            return;
        };
        let Ok(mut bans) = self.bans.lock() else {
            return;
        };
        let net = net.trunc();
        bans.retain(|b| b.active(now_ms) && b.net != net);
        if bans.len() >= MAX_BAN_RECORDS {
            bans.pop_front();
        }
        bans.push_back(Ban {
            net,
            until_ms: Some(now_ms.saturating_add(ms)),
            origin: Origin::RateLimit,
            level,
        });
    }

    /// Every block and ban in force at `now_ms`: the operator's first.
    pub fn list(&self, now_ms: u64) -> Vec<Ban> {
        let mut out: Vec<Ban> = self
            .blocks
            .load()
            .iter()
            .filter(|b| b.active(now_ms))
            .cloned()
            .collect();
        if let Ok(bans) = self.bans.lock() {
            out.extend(bans.iter().filter(|b| b.active(now_ms)).cloned());
        }
        out
    }
}

/// The limiter scope an unblock of `net` lifts: an address, or a /24 or /64 prefix.
pub fn scope_of(net: &IpNet) -> Option<Scope> {
    match (net, net.prefix_len()) {
        (IpNet::V4(_), 32) | (IpNet::V6(_), 128) => Some(Scope::Address),
        (IpNet::V4(_), 24) | (IpNet::V6(_), 64) => Some(Scope::Prefix),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_block_drops_its_net_until_it_ends_or_is_lifted() {
        let b = Blocks::default();
        assert!(!b.blocked(0, ip("192.0.2.7")));
        b.block(0, net("192.0.2.0/24"), Some(10_000)).unwrap();
        b.block(0, net("2001:db8::1/128"), None).unwrap();
        assert!(b.blocked(5, ip("192.0.2.7")));
        assert!(b.blocked(5, ip("::ffff:192.0.2.9")));
        assert!(!b.blocked(5, ip("192.0.3.7")));
        assert!(b.blocked(5, ip("2001:db8::1")));
        // Timed: over at 10 s; the other one holds until lifted.
        assert!(!b.blocked(10_000, ip("192.0.2.7")));
        assert!(b.blocked(99_999_999, ip("2001:db8::1")));
        assert!(b.unblock(20_000, net("2001:db8::1/128")));
        assert!(!b.blocked(20_000, ip("2001:db8::1")));
        assert!(!b.unblock(20_000, net("2001:db8::1/128")));
        assert!(b.list(20_000).is_empty());
    }

    #[test]
    fn host_bits_are_ignored_and_a_second_block_of_a_net_replaces_the_first() {
        let b = Blocks::default();
        b.block(0, net("192.0.2.77/24"), Some(1000)).unwrap();
        b.block(0, net("192.0.2.0/24"), None).unwrap();
        let list = b.list(5000);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].net, net("192.0.2.0/24"));
        assert_eq!(list[0].until_ms, None);
    }

    #[test]
    fn blocks_are_bounded() {
        let b = Blocks::default();
        for i in 0..MAX_BLOCKS {
            let n =
                IpNet::new(IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]), 32).unwrap();
            b.block(0, n, None).unwrap();
        }
        assert_eq!(
            b.block(0, net("192.0.2.1/32"), None),
            Err(BlockRefused::Full)
        );
        // An ended block frees its place.
        let b = Blocks::default();
        for i in 0..MAX_BLOCKS {
            let n =
                IpNet::new(IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]), 32).unwrap();
            b.block(0, n, Some(10)).unwrap();
        }
        assert_eq!(b.block(10, net("192.0.2.1/32"), None), Ok(()));
    }

    #[test]
    fn automatic_bans_are_listed_while_they_last_and_bounded() {
        let b = Blocks::default();
        b.banned(0, ip("198.51.100.9"), Scope::Address, 60_000, 0);
        b.banned(0, ip("198.51.100.9"), Scope::Prefix, 60_000, 1);
        let list = b.list(1);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].net, net("198.51.100.9/32"));
        assert_eq!(list[1].net, net("198.51.100.0/24"));
        assert_eq!(list[1].level, 1);
        assert_eq!(list[1].origin, Origin::RateLimit);
        assert!(b.list(60_000).is_empty());
        // Not a block: the limiter does the dropping.
        assert!(!b.blocked(1, ip("198.51.100.9")));
        for i in 0..(MAX_BAN_RECORDS + 10) {
            let a = IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
            b.banned(100_000, a, Scope::Address, 60_000, 0);
        }
        let list = b.list(100_001);
        assert_eq!(list.len(), MAX_BAN_RECORDS);
        // The oldest went first.
        assert_eq!(list[0].net, net("10.1.0.10/32"));
        assert!(!b.unblock(100_001, net("10.1.0.10/32")));
        assert_eq!(b.list(100_001).len(), MAX_BAN_RECORDS - 1);
    }

    #[test]
    fn unblock_scopes() {
        assert_eq!(scope_of(&net("192.0.2.1/32")), Some(Scope::Address));
        assert_eq!(scope_of(&net("192.0.2.0/24")), Some(Scope::Prefix));
        assert_eq!(scope_of(&net("2001:db8::/64")), Some(Scope::Prefix));
        assert_eq!(scope_of(&net("10.0.0.0/8")), None);
    }
}
