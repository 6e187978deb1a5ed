//! The call detail record of a call.

use super::*;
use crate::conversation::record::WallClock;
use std::time::{SystemTime, UNIX_EPOCH};

/// 2023-11-14T22:13:20Z.
fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn json(record: &ConversationRecord, h: &Harness, redact: bool) -> serde_json::Value {
    let clock = WallClock::at(h.start, epoch());
    serde_json::from_str(&record.to_json(&clock, "n1", redact)).unwrap()
}

/// INVITE at 0, B INVITE at 0.1 s, answer at 3 s, A hangs up at 63 s.
fn answered_call() -> (Harness, ConversationRecord) {
    let (mut h, _) = Harness::new(CALLS);
    h.advance(Duration::from_millis(100));
    let (b, _) = h.connected(&[B1]);
    h.advance(Duration::from_millis(900));
    h.feed(b.response(180, "", None));
    h.advance(Duration::from_secs(2));
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    h.advance(Duration::from_secs(60));
    let bye = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye).1.sent(Method::Bye);
    h.advance(Duration::from_millis(20));
    let out = h.b_answers(&to_b, 200, "", None);
    let record = out.ended().expect("ended").clone();
    (h, record)
}

#[test]
fn record_of_an_answered_call() {
    let (h, record) = answered_call();
    assert_eq!(record.outcome_label(), "answered");
    let j = json(&record, &h, false);
    assert_eq!(j["call"], "c7");
    assert_eq!(j["node"], "n1");
    assert_eq!(j["trunk_in"], "carrier");
    assert_eq!(j["trunk_out"], "pbx");
    assert_eq!(j["caller"], "+15551234");
    assert_eq!(j["callee"], "+15550100");
    assert_eq!(j["setup_time"], "2023-11-14T22:13:20.000Z");
    assert_eq!(j["answer_time"], "2023-11-14T22:13:23.000Z");
    // The end is when the BYE came, not when B answered it.
    assert_eq!(j["end_time"], "2023-11-14T22:14:23.000Z");
    assert_eq!(j["duration_s"], 60.0);
    assert_eq!(j["invite_out_ms"], 100.0);
    assert_eq!(j["answer_ms"], 3000.0);
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["disconnect_side"], "caller");
    assert_eq!(j["cause"], "normal");
    assert_eq!(j["status"], serde_json::Value::Null);
    // NoMedia keeps no counters.
    assert_eq!(j["media_a"], serde_json::Value::Null);
    assert_eq!(j["media_b"], serde_json::Value::Null);
}

#[test]
fn record_redacts_numbers_when_asked() {
    let (h, record) = answered_call();
    let j = json(&record, &h, true);
    assert_eq!(j["caller"], "+155****4");
    assert_eq!(j["callee"], "+155****0");
}

#[test]
fn record_of_a_call_that_failed_over_and_was_busy() {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    h.advance(Duration::from_millis(500));
    let second = h.feed(b.response(503, "", None)).sent(Method::Invite);
    h.advance(Duration::from_millis(500));
    let out = h.feed(BSide::new(second).response(486, "", None));
    let record = out.ended().expect("ended").clone();
    assert_eq!(record.outcome_label(), "rejected");
    let j = json(&record, &h, false);
    assert_eq!(j["attempts"], 2);
    assert_eq!(j["status"], 486);
    assert_eq!(j["cause"], "rejected");
    assert_eq!(j["disconnect_side"], "callee");
    assert_eq!(j["answer_time"], serde_json::Value::Null);
    assert_eq!(j["answer_ms"], serde_json::Value::Null);
    assert_eq!(j["duration_s"], 0.0);
    assert_eq!(j["invite_out_ms"], 0.0);
    assert_eq!(j["end_time"], "2023-11-14T22:13:21.000Z");
}

#[test]
fn record_of_a_cancelled_call() {
    let (mut h, _) = Harness::new(CALLS);
    let (_, cancel) = h.a_cancel();
    let out = h.feed(cancel);
    let record = out.ended().expect("ended");
    assert_eq!(record.outcome_label(), "cancelled");
    assert_eq!(record.attempts, 0);
    assert_eq!(record.trunk_out, None);
    let j = json(record, &h, false);
    assert_eq!(j["trunk_out"], serde_json::Value::Null);
    assert_eq!(j["invite_out_ms"], serde_json::Value::Null);
    assert_eq!(j["status"], 487);
}
