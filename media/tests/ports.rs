//! Port pools over real sockets: pairs, rotation, busy ports skipped, release on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;

use voxgate_media::{MediaError, PortPool};

fn lo() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[test]
fn a_pair_is_even_rtp_and_rtcp_plus_one_both_bound() {
    let pool = Arc::new(PortPool::new(lo(), 27001, 27020));
    let pair = pool.allocate().unwrap();
    assert_eq!(pair.rtp_port(), 27002, "odd minimum rounds up to even");
    assert_eq!(pair.rtcp_port(), 27003);
    assert_eq!(pair.rtp().local_addr().unwrap().port(), 27002);
    assert_eq!(pair.rtcp().local_addr().unwrap().port(), 27003);
    assert_eq!(pair.addr(), lo());
    assert_eq!((pool.capacity(), pool.in_use()), (9, 1));
    // Bound without SO_REUSEADDR: nobody else gets the port meanwhile.
    assert!(UdpSocket::bind((lo(), 27002)).is_err());
    drop(pair);
    assert_eq!(pool.in_use(), 0);
    UdpSocket::bind((lo(), 27002)).unwrap();
}

#[test]
fn allocation_rotates_instead_of_reusing_the_pair_just_freed() {
    let pool = Arc::new(PortPool::new(lo(), 27100, 27105)); // 3 pairs
    let mut seen = Vec::new();
    for _ in 0..4 {
        let pair = pool.allocate().unwrap();
        seen.push(pair.rtp_port());
        // dropped at once: a lowest-free policy would hand out 27100 every time
    }
    assert_eq!(seen, [27100, 27102, 27104, 27100]);
    assert_eq!(pool.in_use(), 0);

    // Held pairs are skipped on the way round.
    let held = pool.allocate().unwrap(); // 27102
    let a = pool.allocate().unwrap(); // 27104
    let b = pool.allocate().unwrap(); // 27100
    assert_eq!(
        (held.rtp_port(), a.rtp_port(), b.rtp_port()),
        (27102, 27104, 27100)
    );
    assert!(matches!(
        pool.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    drop(a);
    assert_eq!(pool.allocate().unwrap().rtp_port(), 27104);
}

#[test]
fn a_pair_taken_by_another_socket_is_skipped() {
    let pool = Arc::new(PortPool::new(lo(), 27200, 27205));
    // Another process holds the RTCP port of the first pair.
    let squatter = UdpSocket::bind((lo(), 27201)).unwrap();
    let pair = pool.allocate().unwrap();
    assert_eq!(pair.rtp_port(), 27202);
    assert_eq!(pool.in_use(), 1, "the busy pair is not counted as used");
    // And the RTP port of the next one.
    let squatter2 = UdpSocket::bind((lo(), 27204)).unwrap();
    assert!(matches!(
        pool.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    assert_eq!(pool.in_use(), 1);
    drop((squatter, squatter2));
    // Free again: the next search (rotating from where it stopped) takes them.
    let ports = [pool.allocate().unwrap(), pool.allocate().unwrap()].map(|p| p.rtp_port());
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
