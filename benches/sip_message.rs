//! Micro-benchmarks of the SIP message model: parsing a carrier INVITE and
//! an OPTIONS ping, typed header access, and building responses.
//!
//! Run: `cargo bench --bench sip_message` (add `-- --quick` for a smoke run).

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::SocketAddr;
use voxgate_sip::message::{HeaderName, Limits, Message, response_to};

/// A carrier-style INVITE with SDP (~900 bytes), as a trunk would send it.
const INVITE: &str = "INVITE sip:+4930901820@voice.example.net:5060;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-524287-1---7d3f9c2a1b5e4f60;rport\r\n\
Max-Forwards: 69\r\n\
Record-Route: <sip:198.51.100.20;lr;ftag=as5e3a1f07>\r\n\
Contact: <sip:+4989123456@198.51.100.20:5060;transport=udp>\r\n\
To: <sip:+4930901820@voice.example.net;user=phone>\r\n\
From: \"+4989123456\" <sip:+4989123456@carrier.example.com;user=phone>;tag=as5e3a1f07\r\n\
Call-ID: 3c26f9a8-5b1d-4e7f-9a0c-2d8e6b4f1a93@198.51.100.20\r\n\
CSeq: 102 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
P-Asserted-Identity: <sip:+4989123456@carrier.example.com;user=phone>\r\n\
Privacy: none\r\n\
User-Agent: CarrierSBC 7.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 284\r\n\
\r\n\
v=0\r\n\
o=- 1712345678 1712345678 IN IP4 198.51.100.21\r\n\
s=-\r\n\
c=IN IP4 198.51.100.21\r\n\
t=0 0\r\n\
m=audio 31000 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const OPTIONS: &str = "OPTIONS sip:voice.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-ping-8841;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:ping@carrier.example.com>;tag=ping8841\r\n\
To: <sip:voice.example.net>\r\n\
Call-ID: ping-8841@198.51.100.20\r\n\
CSeq: 8841 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

fn benches(c: &mut Criterion) {
    let limits = Limits::default();
    let invite = Bytes::from_static(INVITE.as_bytes());
    let options = Bytes::from_static(OPTIONS.as_bytes());
    // Guard: the fixtures must be what they claim.
    let Ok(parsed) = Message::parse(invite.clone(), &limits) else {
        panic!("INVITE fixture does not parse");
    };
    assert!(parsed.validate().is_ok(), "INVITE fixture is not valid");
    assert_eq!(parsed.body().len(), 284);
    let source = SocketAddr::from(([198, 51, 100, 20], 5060));

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(invite.len() as u64));
    g.bench_function("invite_sdp", |b| {
        b.iter(|| Message::parse(black_box(invite.clone()), &limits))
    });
    g.throughput(Throughput::Bytes(options.len() as u64));
    g.bench_function("options", |b| {
        b.iter(|| Message::parse(black_box(options.clone()), &limits))
    });
    g.finish();

    c.bench_function("parse_validate/invite_sdp", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(invite.clone()), &limits)?;
            Ok::<_, Box<dyn std::error::Error>>(m.validate()?)
        })
    });

    c.bench_function("access/via_callid_cseq_fromtag", |b| {
        b.iter(|| {
            let m = black_box(&parsed);
            let branch = m.top_via().ok().and_then(|v| v.branch());
            let call_id = m.call_id().ok();
            let cseq = m.cseq().ok().map(|c| c.seq);
            let tag = m.from_header().ok().and_then(|f| f.tag());
            (branch, call_id, cseq, tag)
        })
    });
    c.bench_function("access/header_by_name_unknown", |b| {
        b.iter(|| black_box(&parsed).header_by_name(black_box("X-Not-There")))
    });
    c.bench_function("access/header_supported", |b| {
        b.iter(|| black_box(&parsed).supported().count())
    });

    c.bench_function("build/response_to_200", |b| {
        b.iter(|| {
            response_to(
                black_box(&parsed),
                200,
                "OK",
                Some("vg-8f3a2c"),
                Some(source),
            )
            .header(HeaderName::Contact, "<sip:edge@203.0.113.10:5060>")
        })
    });
    c.bench_function("build/response_to_200_serialize", |b| {
        b.iter(|| {
            response_to(
                black_box(&parsed),
                200,
                "OK",
                Some("vg-8f3a2c"),
                Some(source),
            )
            .header(HeaderName::Contact, "<sip:edge@203.0.113.10:5060>")
            .body("application/sdp", &INVITE.as_bytes()[INVITE.len() - 284..])
            .build()
        })
    });
}

criterion_group!(sip_message, benches);
criterion_main!(sip_message);
