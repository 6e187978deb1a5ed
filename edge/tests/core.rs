//! The edge core on a simulated clock: messages in, transmits out, no sockets.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use voxgate_edge::conversation::{Input as CallInput, Locals};
use voxgate_edge::core::Core;
use voxgate_edge::metrics::Metrics;
use voxgate_sip::dialog::LocalAddr;
use voxgate_sip::message::{HeaderName, Limits, Message};
use voxgate_sip::transport::{Incoming, TransportEvent};
use voxgate_sip::{Peer, TransportKind};

const CONF: &str = r#"
[node]
name = "t"
region = "r"
[sip.limits]
max_message_size = 2048
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[trunk]]
name = "a"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20099
"#;

fn locals() -> Locals {
    Locals {
        udp: Some(LocalAddr::new(
            TransportKind::Udp,
            "127.0.0.1:5060".parse().unwrap(),
        )),
        ..Locals::default()
    }
}

struct Harness {
    core: Core,
    metrics: Metrics,
    now: Instant,
    peer: Peer,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_conf(CONF)
    }

    fn with_conf(conf: &str) -> Harness {
        let config = voxgate_config::load_str(conf, "test.toml").unwrap();
        let metrics = Metrics::new("test").unwrap();
        let peer = Peer {
            transport: TransportKind::Udp,
            addr: "127.0.0.1:5080".parse::<SocketAddr>().unwrap(),
            conn: None,
        };
        Harness {
            core: Core::new(std::sync::Arc::new(config), metrics.clone(), locals()),
            metrics,
            now: Instant::now(),
            peer,
        }
    }

    fn feed(&mut self, text: &str) {
        self.feed_bytes(Bytes::from(text.to_string()), false);
    }

    fn feed_bytes(&mut self, bytes: Bytes, oversized: bool) {
        let incoming = Incoming {
            bytes,
            peer: self.peer,
            local: "127.0.0.1:5060".parse().unwrap(),
            oversized,
        };
        self.core
            .handle_transport(self.now, TransportEvent::Message(incoming));
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        while let Some(t) = self.core.poll_timeout() {
            if t > self.now {
                break;
            }
            self.core.handle_timeout(t);
        }
    }

    /// Every message the core wants sent now, parsed.
    fn sent(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(t) = self.core.poll_transmit() {
            assert_eq!(t.to, self.peer, "responses go back to the source");
            out.push(Message::parse(t.bytes, &Limits::default()).unwrap());
        }
        out
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.sent().iter().map(|m| m.status().unwrap()).collect()
    }

    fn metric(&self, needle: &str) -> bool {
        self.metrics.render().lines().any(|l| l == needle)
    }
}

fn request(method: &str, branch: &str, extra: &str) -> String {
    format!(
        "{method} sip:svc@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carrier@127.0.0.1>;tag=f1\r\n\
         To: <sip:svc@127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn options_gets_200_with_capabilities_and_a_to_tag() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKo1", ""));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.status(), Some(200));
    assert!(r.header(HeaderName::Allow).unwrap().contains("OPTIONS"));
    assert_eq!(r.header(HeaderName::Accept), Some("application/sdp"));
    assert!(r.header(HeaderName::Supported).is_some());
    assert!(r.to_header().unwrap().tag().is_some());
    assert_eq!(r.call_id().unwrap(), "z9hG4bKo1@test");
    assert!(h.metric(r#"voxgate_sip_responses_total{direction="out",method="OPTIONS",status_class="2xx",transport="udp"} 1"#));
    assert!(h.metric(
        r#"voxgate_sip_requests_total{direction="in",method="OPTIONS",transport="udp"} 1"#
    ));
}

#[test]
fn a_missing_mandatory_header_gets_400_naming_it() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKm1", "").replace("Max-Forwards: 70\r\n", ""));
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(400));
    assert!(
        sent[0].reason().unwrap().contains("Max-Forwards"),
        "{:?}",
        sent[0].reason()
    );
    assert!(
        h.metric(r#"voxgate_sip_parse_errors_total{reason="invalid_header",transport="udp"} 1"#)
    );
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut h = Harness::new();
    h.feed("HELLO WORLD\r\n\r\n");
    assert!(h.sent().is_empty());
    assert!(
        h.metrics
            .render()
            .contains("voxgate_sip_parse_errors_total")
    );
}

#[test]
fn an_invite_starts_one_call_and_its_retransmission_is_absorbed() {
    let mut h = Harness::new();
    let invite = request("INVITE", "z9hG4bKi1", "");
    h.feed(&invite);
    assert_eq!(h.statuses(), [100]);
    let mut call = h.core.poll_spawn().expect("a call is spawned");
    assert!(
        matches!(
            call.input.try_recv().map(|input| *input),
            Ok(CallInput::Invite { ref trunk, .. }) if trunk.as_str() == "a"
        ),
        "the INVITE is queued for it, with its trunk"
    );
    h.feed(&invite);
    assert_eq!(
        h.statuses(),
        [100],
        "the retransmission gets the last provisional, no new call"
    );
    assert!(h.core.poll_spawn().is_none());
    assert_eq!(h.core.active_calls(), 1);
    // Counted both ways: the INVITE received again, the 100 sent again.
    assert!(h.metric(r#"voxgate_sip_retransmissions_total{direction="in"} 1"#));
    assert!(h.metric(r#"voxgate_sip_retransmissions_total{direction="out"} 1"#));
    assert!(h.metric(r#"voxgate_sip_transactions_total{kind="invite_server"} 1"#));
    assert!(h.metric("voxgate_calls_active 1"));
}

#[test]
fn a_trunk_at_its_call_limit_gets_503_with_retry_after() {
    let mut h = Harness::with_conf(&CONF.replace(
        "allow = [\"127.0.0.1/32\"]",
        "allow = [\"127.0.0.1/32\"]\nmax_calls = 1",
    ));
    h.feed(&request("INVITE", "z9hG4bKl1", ""));
    assert_eq!(h.statuses(), [100]);
    assert!(h.core.poll_spawn().is_some());
    h.feed(&request("INVITE", "z9hG4bKl2", ""));
    let sent = h.sent();
    assert_eq!(
        sent.iter().map(|m| m.status().unwrap()).collect::<Vec<_>>(),
        [100, 503]
    );
    assert!(sent[1].header(HeaderName::RetryAfter).is_some());
    assert!(h.core.poll_spawn().is_none());
    assert!(h.metric(r#"voxgate_trunk_limit_rejections_total{limit="max_calls",trunk="a"} 1"#));
}

#[test]
fn a_trunk_above_its_call_rate_gets_503() {
    let mut h = Harness::with_conf(&CONF.replace(
        "allow = [\"127.0.0.1/32\"]",
        "allow = [\"127.0.0.1/32\"]\nmax_cps = 2",
    ));
    for i in 0..3 {
        h.feed(&request("INVITE", &format!("z9hG4bKr{i}"), ""));
    }
    let statuses = h.statuses();
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        1,
        "{statuses:?}"
    );
    // A second later the bucket has refilled.
    h.now += Duration::from_secs(1);
    h.feed(&request("INVITE", "z9hG4bKr9", ""));
    assert_eq!(h.statuses(), [100]);
}

#[test]
fn an_invite_with_an_unsupported_require_gets_420_and_no_call() {
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKq1", "Require: foo\r\n"));
    assert_eq!(h.statuses(), [100, 420]);
    assert!(h.core.poll_spawn().is_none());
}

#[test]
fn out_of_dialog_bye_is_481_and_register_405() {
    let mut h = Harness::new();
    h.feed(&request("BYE", "z9hG4bKb1", ""));
    assert_eq!(h.statuses(), [481]);
    h.feed(&request("REGISTER", "z9hG4bKr1", ""));
    let sent = h.sent();
    assert_eq!(sent[0].status(), Some(405));
    assert!(sent[0].header(HeaderName::Allow).is_some());
}

#[test]
fn an_oversized_datagram_gets_513() {
    let mut h = Harness::new();
    let padding = format!("X-Pad: {}\r\n", "a".repeat(3000));
    let big = request("OPTIONS", "z9hG4bKbig", &padding);
    h.feed_bytes(Bytes::from(big.clone()), true);
    assert_eq!(h.statuses(), [513]);
    // Above the limit but not flagged by the transport (a stream would be):
    // the parser's own limit catches it too.
    h.feed_bytes(Bytes::from(big), false);
    assert_eq!(h.statuses(), [513]);
}

#[test]
fn a_cancel_goes_to_the_call_and_an_unknown_one_gets_481() {
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKc1", ""));
    assert_eq!(h.statuses(), [100]);
    let mut call = h.core.poll_spawn().unwrap();
    let _invite = call.input.try_recv().map(|input| *input).unwrap();
    h.feed(&request("CANCEL", "z9hG4bKc1", ""));
    assert!(
        h.sent().is_empty(),
        "the call answers the CANCEL, not the core"
    );
    assert!(matches!(
        call.input.try_recv().map(|input| *input),
        Ok(CallInput::Cancel { .. })
    ));
    h.feed(&request("CANCEL", "z9hG4bKnone", ""));
    assert_eq!(h.statuses(), [481]);
}

#[test]
fn draining_refuses_new_requests_with_503() {
    let mut h = Harness::new();
    h.core.start_draining();
    h.feed(&request("OPTIONS", "z9hG4bKd1", ""));
    let sent = h.sent();
    assert_eq!(sent[0].status(), Some(503));
    assert!(sent[0].header(HeaderName::RetryAfter).is_some());
    assert!(h.metric("voxgate_draining 1"));
}

#[test]
fn transactions_end_on_the_simulated_clock() {
    let mut h = Harness::new();
    h.feed(&request("OPTIONS", "z9hG4bKt1", ""));
    h.sent();
    assert_eq!(h.core.active_transactions(), 1);
    // Timer J: 64*T1 on UDP.
    h.advance(Duration::from_millis(64 * 500));
    assert_eq!(h.core.active_transactions(), 0);
    assert!(h.metric(r#"voxgate_sip_transactions_active{kind="non_invite_server"} 0"#));
}

#[test]
fn a_refused_tcp_connection_fails_the_calls_transaction_at_once() {
    use voxgate_edge::conversation::{Action as CallAction, TxFailure};
    use voxgate_sip::transaction::TxId;
    use voxgate_sip::transport::CloseReason;
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKt1", ""));
    h.sent();
    let mut call = h.core.poll_spawn().unwrap();
    let _ = call.input.try_recv().map(|input| *input);
    let to = Peer {
        transport: TransportKind::Tcp,
        addr: "127.0.0.1:9".parse().unwrap(),
        conn: None,
    };
    let b_invite = Message::parse(
        Bytes::from(request("INVITE", "z9hG4bKbleg", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP")),
        &Limits::default(),
    )
    .unwrap();
    let tx = TxId::next();
    h.core.handle_call_action(
        h.now,
        call.ctx.id,
        CallAction::Send {
            tx,
            request: b_invite,
            to,
            tls_name: None,
        },
    );
    let closed = Peer {
        conn: Some(voxgate_sip::ConnId(77)),
        ..to
    };
    h.core.handle_transport(
        h.now,
        TransportEvent::ConnectionClosed {
            peer: closed,
            reason: CloseReason::Io,
        },
    );
    match call.input.try_recv().map(|input| *input) {
        Ok(CallInput::TxFailed {
            tx: failed,
            failure,
        }) => {
            assert_eq!(failed, tx);
            assert_eq!(failure, TxFailure::Transport);
        }
        other => panic!("expected TxFailed, got {other:?}"),
    }
    // The failed connect never opened, so the gauge stays at zero.
    assert!(
        !h.metrics
            .render()
            .contains(r#"voxgate_sip_connections_active{transport="tcp"} -1"#)
    );
}

#[test]
fn a_draining_node_does_not_wait_for_transactions_of_ended_calls() {
    use voxgate_edge::control_plane::{EndCause, Side};
    use voxgate_edge::conversation::{Action as CallAction, ConversationRecord, Outcome, Timeline};
    use voxgate_sip::transaction::TxId;
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKd1", ""));
    h.sent();
    let call = h.core.poll_spawn().unwrap();
    let to = Peer {
        transport: TransportKind::Udp,
        addr: "127.0.0.1:9".parse().unwrap(),
        conn: None,
    };
    let b_invite = Message::parse(
        Bytes::from(request("INVITE", "z9hG4bKdead", "")),
        &Limits::default(),
    )
    .unwrap();
    h.core.handle_call_action(
        h.now,
        call.ctx.id,
        CallAction::Send {
            tx: TxId::next(),
            request: b_invite,
            to,
            tls_name: None,
        },
    );
    assert_eq!(
        h.core.unsettled_transactions(),
        2,
        "A's INVITE and the attempt to a dead peer"
    );
    // The call answers A and ends; the dead attempt keeps retransmitting until timer B.
    let record = ConversationRecord {
        id: call.ctx.id,
        trunk_in: voxgate_config::TrunkName::new("a"),
        trunk_out: None,
        caller: None,
        callee: None,
        timeline: Timeline {
            invite: h.now,
            first_b_invite: None,
            ringing: None,
            answer: None,
            end: Some(h.now),
        },
        attempts: 1,
        outcome: Outcome {
            side: Side::Caller,
            cause: EndCause::Cancelled,
            status: Some(487),
        },
        peer_q850: None,
        media: (None, None),
        legs: Vec::new(),
        recordings: Vec::new(),
    };
    h.core
        .handle_call_action(h.now, call.ctx.id, CallAction::Ended(Box::new(record)));
    assert_eq!(
        h.core.unsettled_transactions(),
        1,
        "the orphaned attempt owes nobody"
    );
}

#[test]
fn scanners_get_silence_and_are_counted() {
    let mut h = Harness::new();
    // svmap's OPTIONS and svwar's REGISTER, from a trunk's own address.
    h.feed(&request(
        "OPTIONS",
        "z9hG4bKs1",
        "User-Agent: friendly-scanner\r\n",
    ));
    h.feed(&request(
        "REGISTER",
        "z9hG4bKs2",
        "User-Agent: SIPVicious\r\n",
    ));
    h.feed(&request(
        "INVITE",
        "z9hG4bKs3",
        "User-Agent: sipcli/v1.8\r\n",
    ));
    assert!(h.sent().is_empty(), "a scanner got an answer");
    assert!(h.metric(r#"voxgate_scanner_requests_total{transport="udp"} 3"#));
    assert_eq!(h.core.active_transactions(), 0);
    // Its refusals are summarised at the end of the log interval (default 60 s).
    assert_eq!(h.core.poll_timeout(), Some(h.now + Duration::from_secs(60)));
    // Another User-Agent is answered as before.
    h.feed(&request(
        "OPTIONS",
        "z9hG4bKs4",
        "User-Agent: Asterisk PBX\r\n",
    ));
    assert_eq!(h.statuses(), vec![200]);
    // Inside a dialog (a To tag) the User-Agent is not looked at.
    h.feed(
        &request("BYE", "z9hG4bKs5", "User-Agent: friendly-scanner\r\n")
            .replace("To: <sip:svc@127.0.0.1>", "To: <sip:svc@127.0.0.1>;tag=t1"),
    );
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn an_empty_scanner_list_turns_the_check_off() {
    let conf = format!("{CONF}[protection]\nscanner_user_agents = []\n");
    let mut h = Harness::with_conf(&conf);
    h.feed(&request(
        "OPTIONS",
        "z9hG4bKe1",
        "User-Agent: friendly-scanner\r\n",
    ));
    assert_eq!(h.statuses(), vec![200]);
}

#[test]
fn refused_sources_are_summarised_per_interval() {
    let conf = format!("{CONF}[protection]\nlog_interval_s = 10\n");
    let mut h = Harness::with_conf(&conf);
    let t0 = h.now;
    for _ in 0..100 {
        h.core.handle_transport(
            h.now,
            TransportEvent::Rejected {
                source: "192.0.2.7:5060".parse().unwrap(),
                transport: TransportKind::Udp,
            },
        );
    }
    // One summary is due at the end of the source's interval, then nothing.
    assert_eq!(h.core.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    h.advance(Duration::from_secs(10));
    assert_eq!(h.core.poll_timeout(), None);
}

/// The config above writing CDRs (the core only queues them; the folder must exist).
fn with_cdr(conf: &str) -> String {
    format!("{conf}[cdr]\npath = \"/tmp/voxgate-core-test-cdr.jsonl\"\nredact_numbers = false\n")
}

fn refused_json(r: &voxgate_edge::conversation::RefusedAttempt, h: &Harness) -> serde_json::Value {
    use std::time::UNIX_EPOCH;
    let clock = voxgate_edge::conversation::record::WallClock::at(
        h.now,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    serde_json::from_str(&r.to_json(&clock, "t", false)).unwrap()
}

#[test]
fn an_attempt_refused_at_a_limit_has_its_own_record() {
    let mut h = Harness::with_conf(&with_cdr(&CONF.replace(
        "allow = [\"127.0.0.1/32\"]",
        "allow = [\"127.0.0.1/32\"]\nmax_calls = 1",
    )));
    h.feed(&request("INVITE", "z9hG4bKl1", ""));
    assert!(h.core.poll_spawn().is_some());
    assert!(h.core.poll_refused().is_none(), "a call, not a refusal");
    h.feed(&request("INVITE", "z9hG4bKl2", ""));
    assert_eq!(h.statuses(), [100, 100, 503]);
    let refused = h.core.poll_refused().expect("a record of the 503");
    let j = refused_json(&refused, &h);
    assert_eq!(j["call"], serde_json::Value::Null);
    assert_eq!(j["call_id_in"], "z9hG4bKl2@test");
    assert_eq!(j["trunk_in"], "a");
    assert_eq!(j["caller"], "carrier");
    assert_eq!(j["callee"], "svc");
    assert_eq!(j["source"], "127.0.0.1:5080");
    assert_eq!(j["status"], 503);
    assert_eq!(j["final_status"], 503);
    assert_eq!(j["q850"], 41);
    assert_eq!(j["reason"], "max_calls");
    assert_eq!(j["disconnect_side"], "edge");
    assert_eq!(j["cause"], "rejected");
    assert_eq!(j["attempts"], 0);
    assert_eq!(j["setup_time"], "2023-11-14T22:13:20.000Z");
    assert_eq!(uuid_version(&j["id"]), 7);
    assert!(h.core.poll_refused().is_none());
}

fn uuid_version(v: &serde_json::Value) -> u32 {
    let s = v.as_str().unwrap();
    assert_eq!(s.len(), 36, "{s}");
    s[14..15].parse().unwrap()
}

#[test]
fn an_attempt_refused_by_a_narrowed_allow_list_or_while_draining_has_a_record() {
    let mut h = Harness::with_conf(&with_cdr(CONF));
    // A reload took 127.0.0.1 out between the transport's check and the core's.
    let narrowed = with_cdr(&CONF.replace("127.0.0.1/32", "10.9.9.9/32"));
    h.core.apply_config(
        h.now,
        std::sync::Arc::new(voxgate_config::load_str(&narrowed, "test.toml").unwrap()),
    );
    h.feed(&request("INVITE", "z9hG4bKf1", ""));
    assert_eq!(h.statuses(), [100, 403]);
    let j = refused_json(&h.core.poll_refused().unwrap(), &h);
    assert_eq!(
        (j["status"].as_u64(), j["q850"].as_u64()),
        (Some(403), Some(21))
    );
    assert_eq!(j["reason"], "not_allowed");
    assert_eq!(j["trunk_in"], serde_json::Value::Null);

    let mut h = Harness::with_conf(&with_cdr(CONF));
    h.core.start_draining();
    h.feed(&request("INVITE", "z9hG4bKd1", ""));
    assert_eq!(h.statuses(), [100, 503]);
    let j = refused_json(&h.core.poll_refused().unwrap(), &h);
    assert_eq!(j["reason"], "draining");
    assert_eq!(j["trunk_in"], "a");
    // An OPTIONS is no call attempt.
    h.feed(&request("OPTIONS", "z9hG4bKd2", ""));
    assert!(h.core.poll_refused().is_none());
}

#[test]
fn a_malformed_invite_has_a_record_and_nothing_is_kept_without_cdrs() {
    let mut h = Harness::with_conf(&with_cdr(CONF));
    h.feed(&request("INVITE", "z9hG4bKq1", "Require: foo\r\n"));
    assert_eq!(h.statuses(), [100, 420]);
    let j = refused_json(&h.core.poll_refused().unwrap(), &h);
    assert_eq!(
        (j["status"].as_u64(), j["reason"].as_str()),
        (Some(420), Some("malformed"))
    );
    let mut h = Harness::new();
    h.feed(&request("INVITE", "z9hG4bKq2", "Require: foo\r\n"));
    assert!(h.core.poll_refused().is_none());
}

#[test]
fn overloaded_new_invites_get_503_while_calls_in_progress_are_served() {
    let mut h = Harness::with_conf(&format!(
        "{CONF}[protection]\noverload_queue = 10\noverload_queue_clear = 2\n\
         overload_retry_after_s = 7\n"
    ));
    // A call in progress, taken before the overload.
    h.core.turn_started(h.now, 0);
    h.feed(&request("INVITE", "z9hG4bKo1", ""));
    assert_eq!(h.statuses(), [100]);
    let mut call = h.core.poll_spawn().unwrap();
    let _invite = call.input.try_recv().unwrap();
    assert!(h.metric("voxgate_overload_state 0"));

    // Ten inputs wait for the loop: overloaded.
    h.core.turn_started(h.now, 10);
    assert!(h.core.is_overloaded());
    assert!(h.metric("voxgate_overload_state 1"));
    h.feed(&request("INVITE", "z9hG4bKo2", ""));
    let sent = h.sent();
    assert_eq!(
        sent.iter().map(|m| m.status().unwrap()).collect::<Vec<_>>(),
        [100, 503]
    );
    assert_eq!(sent[1].header(HeaderName::RetryAfter), Some("7"));
    assert!(h.core.poll_spawn().is_none(), "no conversation for it");
    assert!(h.metric(r#"voxgate_overload_rejections_total{trunk="a"} 1"#));
    // The call in progress still gets its requests (here a CANCEL), and requests
    // that start no call are answered as usual.
    h.feed(&request("CANCEL", "z9hG4bKo1", ""));
    assert!(h.sent().is_empty(), "the call answers its CANCEL");
    assert!(matches!(
        call.input.try_recv().map(|i| *i),
        Ok(CallInput::Cancel { .. })
    ));
    h.feed(&request("OPTIONS", "z9hG4bKo3", ""));
    assert_eq!(h.statuses(), [200]);

    // Between floor and ceiling: still overloaded; at the floor: calls taken again.
    h.core.turn_started(h.now, 5);
    assert!(h.core.is_overloaded());
    h.core.turn_started(h.now, 2);
    assert!(!h.core.is_overloaded());
    assert!(h.metric("voxgate_overload_state 0"));
    h.feed(&request("INVITE", "z9hG4bKo4", ""));
    assert_eq!(h.statuses(), [100]);
    assert!(h.core.poll_spawn().is_some());
}

#[test]
fn a_listed_source_flooding_past_max_cps_is_refused_without_starving_another_trunk() {
    let conf = CONF.replace(
        "allow = [\"127.0.0.1/32\"]",
        "allow = [\"127.0.0.1/32\"]\nmax_cps = 2\n[[trunk]]\nname = \"b\"\n\
         allow = [\"127.0.0.2/32\"]\nmax_cps = 2",
    );
    let mut h = Harness::with_conf(&conf);
    // Trunk a floods: 50 INVITEs in the same instant, 2 taken, the rest 503 + Retry-After.
    for i in 0..50 {
        h.feed(&request("INVITE", &format!("z9hG4bKf{i}"), ""));
    }
    let sent = h.sent();
    let refused: Vec<&Message> = sent.iter().filter(|m| m.status() == Some(503)).collect();
    assert_eq!(refused.len(), 48);
    assert!(
        refused
            .iter()
            .all(|m| m.header(HeaderName::RetryAfter).is_some())
    );
    assert!(h.metric(r#"voxgate_trunk_limit_rejections_total{limit="max_cps",trunk="a"} 48"#));
    // Trunk b, calling at the same instant, has its own bucket: both its calls are taken.
    h.peer.addr = "127.0.0.2:5080".parse().unwrap();
    for i in 0..2 {
        h.feed(&request("INVITE", &format!("z9hG4bKg{i}"), ""));
    }
    assert_eq!(h.statuses(), [100, 100]);
    let mut spawned = 0;
    while h.core.poll_spawn().is_some() {
        spawned += 1;
    }
    assert_eq!(spawned, 4, "2 calls of each trunk");
}

/// Overload sheds by trunk (issue 12 item 3): a listed trunk that floods is refused while
/// overloaded, and a trunk sending a small share of the new calls is still served.
#[test]
fn overload_sheds_the_flooding_trunk_and_serves_a_light_one() {
    let conf = CONF.replace(
        "allow = [\"127.0.0.1/32\"]",
        "allow = [\"127.0.0.1/32\"]\n[[trunk]]\nname = \"b\"\nallow = [\"127.0.0.2/32\"]",
    );
    let mut h = Harness::with_conf(&format!(
        "{conf}[protection]\noverload_queue = 10\noverload_queue_clear = 2\n"
    ));
    let b: std::net::SocketAddr = "127.0.0.2:5080".parse().unwrap();
    // Trunk a floods (40 new calls), trunk b calls twice; then the loop is overloaded.
    h.core.turn_started(h.now, 0);
    for i in 0..40 {
        h.feed(&request("INVITE", &format!("z9hG4bKa{i}"), ""));
    }
    h.sent();
    h.peer.addr = b;
    for i in 0..2 {
        h.feed(&request("INVITE", &format!("z9hG4bKb{i}"), ""));
    }
    h.sent();
    while h.core.poll_spawn().is_some() {}
    h.core.turn_started(h.now, 10);
    assert!(h.core.is_overloaded());
    // Trunk b's next calls are taken, trunk a's refused, while the overload lasts.
    for i in 2..6 {
        h.feed(&request("INVITE", &format!("z9hG4bKb{i}"), ""));
    }
    assert_eq!(h.statuses(), [100, 100, 100, 100]);
    h.peer.addr = "127.0.0.1:5080".parse().unwrap();
    for i in 40..50 {
        h.feed(&request("INVITE", &format!("z9hG4bKa{i}"), ""));
    }
    let statuses = h.statuses();
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        10,
        "{statuses:?}"
    );
    assert!(h.metric(r#"voxgate_overload_rejections_total{trunk="a"} 10"#));
    let mut spawned = 0;
    while h.core.poll_spawn().is_some() {
        spawned += 1;
    }
    assert_eq!(spawned, 4, "trunk b's four calls");
    // A source in no trunk is refused while overloaded, as before.
    h.peer.addr = "127.0.0.3:5080".parse().unwrap();
    h.feed(&request("INVITE", "z9hG4bKc0", ""));
    assert_eq!(h.statuses(), [100, 503]);
    assert!(h.core.poll_spawn().is_none());
}
