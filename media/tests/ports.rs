//! Port pools over real sockets: pairs, random slots, busy ports skipped, release on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;

use voxgate_media::{MediaError, PortPool};

fn lo() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[test]
fn a_pair_is_even_rtp_and_rtcp_plus_one_both_bound() {
    assert_eq!(PortPool::new(lo(), 27001, 27020).capacity(), 9);
    // One pair only, so the random start cannot matter.
    let pool = Arc::new(PortPool::new(lo(), 27001, 27003));
    assert_eq!(pool.capacity(), 1);
    let pair = pool.allocate().unwrap();
    assert_eq!(pair.rtp_port(), 27002, "odd minimum rounds up to even");
    assert_eq!(pair.rtcp_port(), 27003);
    assert_eq!(pair.rtp().local_addr().unwrap().port(), 27002);
    assert_eq!(pair.rtcp().local_addr().unwrap().port(), 27003);
    assert_eq!(pair.addr(), lo());
    assert_eq!(pool.in_use(), 1);
    // Bound without SO_REUSEADDR: nobody else gets the port meanwhile.
    assert!(UdpSocket::bind((lo(), 27002)).is_err());
    drop(pair);
    assert_eq!(pool.in_use(), 0);
    UdpSocket::bind((lo(), 27002)).unwrap();
}

#[test]
fn a_freed_pair_is_not_handed_out_again_every_time() {
    let pool = Arc::new(PortPool::new(lo(), 27100, 27119)); // 10 pairs
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let pair = pool.allocate().unwrap();
        assert!((27100..=27118).contains(&pair.rtp_port()));
        assert_eq!(pair.rtp_port() % 2, 0);
        seen.insert(pair.rtp_port());
        // dropped at once: a lowest-free policy would hand out 27100 every time
    }
    // 200 draws from 10 pairs miss one with probability 10 * 0.9^200 < 1e-8.
    assert_eq!(seen.len(), 10, "every pair gets used: {seen:?}");
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn held_pairs_are_skipped_and_the_pool_runs_out() {
    let pool = Arc::new(PortPool::new(lo(), 27150, 27155)); // 3 pairs
    let held: Vec<_> = (0..3).map(|_| pool.allocate().unwrap()).collect();
    let mut ports: Vec<u16> = held.iter().map(|p| p.rtp_port()).collect();
    ports.sort_unstable();
    assert_eq!(ports, [27150, 27152, 27154], "no pair handed out twice");
    assert!(matches!(
        pool.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    drop(held);
    let again = pool.allocate().unwrap();
    assert!(ports.contains(&again.rtp_port()));
}

#[test]
fn a_pair_taken_by_another_socket_is_skipped() {
    let pool = Arc::new(PortPool::new(lo(), 27200, 27205)); // 3 pairs
    // Another process holds the RTCP port of one pair and the RTP port of another.
    let squatters = (
        UdpSocket::bind((lo(), 27201)).unwrap(),
        UdpSocket::bind((lo(), 27204)).unwrap(),
    );
    let pair = pool.allocate().unwrap();
    assert_eq!(pair.rtp_port(), 27202, "the only pair that can be bound");
    assert_eq!(pool.in_use(), 1, "the busy pairs are not counted as used");
    assert!(matches!(
        pool.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    assert_eq!(pool.in_use(), 1);
    drop(squatters);
    // Free again: the next searches take them.
    let mut ports = [pool.allocate().unwrap(), pool.allocate().unwrap()].map(|p| p.rtp_port());
    ports.sort_unstable();
    assert_eq!(ports, [27200, 27204]);
}

#[test]
fn ipv6_loopback_pairs() {
    let v6: IpAddr = "::1".parse().unwrap();
    // Skip quietly where the host has no IPv6 loopback (some containers).
    if UdpSocket::bind((v6, 0)).is_err() {
        return;
    }
    let pool = Arc::new(PortPool::new(v6, 27300, 27309));
    let pair = pool.allocate().unwrap();
    assert!(pair.rtp().local_addr().unwrap().is_ipv6());
}

#[test]
fn pools_are_shared_between_threads() {
    let pool = Arc::new(PortPool::new(lo(), 27400, 27499)); // 50 pairs
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| pool.allocate().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let pairs: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut ports: Vec<u16> = pairs.iter().map(|p| p.rtp_port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 40, "no pair handed out twice");
    assert_eq!(pool.in_use(), 40);
    drop(pairs);
    assert_eq!(pool.in_use(), 0);
}
