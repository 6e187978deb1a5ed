//! Parses arbitrary bytes as a compound RTCP packet (what arrives on an
//! RTCP port or muxed on the RTP port); every packet that parses is printed
//! and must parse back equal, and print the same again; the item iterators
//! are walked. Any panic is a bug: the parser faces the network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxgate_media::quality::rtcp::{Compound, RtcpPacket};

fuzz_target!(|data: &[u8]| {
    let packets: Vec<RtcpPacket<'_>> = Compound::new(data).map_while(Result::ok).collect();
    let mut printed = vec![0u8; data.len() + 4 * packets.len() + 64];
    let mut n = 0;
    for p in &packets {
        n += p.write(&mut printed[n..]).expect("a parsed packet prints");
        match p {
            RtcpPacket::SenderReport(sr) => assert_eq!(sr.blocks.iter().count(), sr.blocks.len()),
            RtcpPacket::ReceiverReport(rr) => assert_eq!(rr.blocks.iter().count(), rr.blocks.len()),
            RtcpPacket::Sdes(s) => {
                assert_eq!(s.chunks().count(), s.len());
                for c in s.chunks() {
                    let _ = (c.items().count(), c.cname());
                }
            }
            RtcpPacket::Bye(b) => {
                let _ = b.sources().count();
            }
            _ => {}
        }
    }
    let again: Vec<RtcpPacket<'_>> = Compound::new(&printed[..n])
        .map(|p| p.expect("printed packet parses"))
        .collect();
    assert_eq!(again, packets, "parse(print(x)) == x");
    let mut twice = vec![0u8; n + 64];
    let mut m = 0;
    for p in &again {
        m += p.write(&mut twice[m..]).expect("prints again");
    }
    assert_eq!(&twice[..m], &printed[..n], "printing is stable");
});
