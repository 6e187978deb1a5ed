//! The call detail record of a call.

use super::*;
use crate::conversation::record::WallClock;
use std::time::{SystemTime, UNIX_EPOCH};
use voxgate_media::LegMediaStats;
use voxgate_media::counters::LegCounters;
use voxgate_media::quality::{LegQuality, QualityFigures, RemoteFigures, Totals, mos};

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
    // Billing fields: B's 180 came 1 s after the INVITE.
    assert_eq!(j["ringing_time"], "2023-11-14T22:13:21.000Z");
    assert_eq!(j["pdd_ms"], 1000.0);
    assert_eq!(j["final_status"], 200);
    assert_eq!(j["q850"], 16);
    assert_eq!(j["call_id_in"], "a-call-1@10.1.1.9");
    let out_id = j["call_id_out"].as_str().unwrap();
    assert!(!out_id.is_empty() && out_id != "a-call-1@10.1.1.9");
    assert_eq!(j["source"], A_ADDR);
    assert_eq!(j["destination"], "203.0.113.7:5060");
    assert_eq!(j["srtp"], false);
    assert_eq!(j["legs"][0]["call_id"], "a-call-1@10.1.1.9");
    assert_eq!(j["legs"][0]["transport"], "udp");
    assert_eq!(j["legs"][0]["remote"], A_ADDR);
    assert_eq!(j["legs"][1]["call_id"], out_id);
    assert_eq!(j["legs"][1]["remote"], "203.0.113.7:5060");
    assert_eq!(j["legs"][1]["srtp"], false);
}

#[test]
fn record_ids_are_uuid_v7_of_the_setup_time_and_never_repeat() {
    let (h, record) = answered_call();
    let first = json(&record, &h, false);
    let again = json(&record, &h, false);
    let id = first["id"].as_str().unwrap();
    assert_ne!(id, again["id"].as_str().unwrap());
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    let (secs, _) = uuid.get_timestamp().unwrap().to_unix();
    assert_eq!(secs, 1_700_000_000);
    // The conversation id stays, for /calls and the logs.
    assert_eq!(first["call"], "c7");
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
    assert_eq!(j["final_status"], 486);
    assert_eq!(j["q850"], 17);
    // No ringing: the post-dial delay runs to the final refusal.
    assert_eq!(j["ringing_time"], serde_json::Value::Null);
    assert_eq!(j["pdd_ms"], 1000.0);
    assert_eq!(j["legs"].as_array().unwrap().len(), 3);
}

#[test]
fn a_node_failure_is_never_the_callees() {
    // The only destination is unusable (not a SIP URI): voxgate's failure.
    let (mut h, _) = Harness::new(CALLS);
    let out = h.feed(connect(&["tel:+15550100"]));
    let record = out.ended().expect("ended").clone();
    let j = json(&record, &h, false);
    assert_eq!(j["status"], 480);
    assert_eq!(j["q850"], 18);
    assert_eq!(j["disconnect_side"], "edge");
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
    assert_eq!(j["final_status"], 487);
    assert_eq!(j["q850"], 16);
    assert_eq!(j["call_id_out"], serde_json::Value::Null);
    assert_eq!(j["source"], A_ADDR);
}

/// A leg's media as the relay would publish it: `lost` of 3000 lost,
/// `jitter` in 8 kHz units, the peer's report and RTT when given.
fn leg_media(
    lost: u64,
    jitter: u32,
    remote: Option<RemoteFigures>,
    rtt_us: Option<u64>,
) -> LegMediaStats {
    let figures = QualityFigures {
        totals: Totals {
            packets: 3000 - lost + 2,
            bytes: (3000 - lost + 2) * 160,
            expected: 3000,
            lost,
            out_of_order: 4,
            duplicates: 2,
            jitter,
        },
        clock_rate: 8000,
        remote,
        rtt_us,
    };
    LegMediaStats {
        counters: LegCounters {
            rtp_packets: 3000 - lost + 2,
            rtp_bytes: (3000 - lost + 2) * 172,
            rtcp_packets: 12,
            sent: 3010,
            rtcp_sent: 0,
            ..LegCounters::default()
        },
        quality: LegQuality::from_figures(&figures, mos::G711_PLC),
    }
}

/// The answered call above, with the relay's figures for A (10% lost, 4 ms
/// jitter, its peer's report and the RTT) and B (clean).
fn answered_call_with_media() -> (Harness, ConversationRecord) {
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    h.feed(b.response(200, "", Some(SDP_B)));
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let remote = RemoteFigures {
        fraction_lost: 5,
        cumulative_lost: 17,
        jitter: 24,
    };
    h.call.media.stats = vec![
        Some(leg_media(300, 32, Some(remote), Some(41_250))),
        Some(leg_media(0, 2, None, None)),
    ];
    h.advance(Duration::from_secs(60));
    let bye = h.a_request("BYE", "", None);
    let to_b = h.a_sends(bye).1.sent(Method::Bye);
    let out = h.b_answers(&to_b, 200, "", None);
    let record = out.ended().expect("ended").clone();
    (h, record)
}

#[test]
fn record_carries_each_legs_counters_and_call_quality() {
    let (h, record) = answered_call_with_media();
    let j = json(&record, &h, false);
    let a = &j["legs"][0]["media"];
    assert_eq!(j["media_a"], *a, "the classic view is the same object");
    assert_eq!(j["media_b"], j["legs"][1]["media"]);
    assert_eq!(a["rtp_packets"], 2702);
    assert_eq!(a["rtcp_packets"], 12);
    assert_eq!(a["lost"], 300);
    assert_eq!(a["loss"], 0.1);
    assert_eq!(a["jitter_ms"], 4.0);
    assert_eq!(
        (a["out_of_order"].clone(), a["duplicates"].clone()),
        (4.into(), 2.into())
    );
    assert_eq!(a["remote_loss"], 0.0195, "5/256, to 4 places");
    assert_eq!(a["remote_lost"], 17);
    assert_eq!(a["remote_jitter_ms"], 3.0);
    assert_eq!(a["rtt_ms"], 41.3);
    // 10% random loss: R ≈ 66, MOS ≈ 3.4; the clean leg ≈ 4.4.
    let mos_a = a["mos"].as_f64().unwrap();
    assert!((3.3..3.5).contains(&mos_a), "{mos_a}");
    let b = &j["legs"][1]["media"];
    assert_eq!(
        (b["lost"].clone(), b["loss"].clone()),
        (0.into(), 0.0.into())
    );
    assert_eq!(
        b["remote_loss"],
        serde_json::Value::Null,
        "no report from B's peer"
    );
    assert_eq!(b["rtt_ms"], serde_json::Value::Null);
    assert!(b["mos"].as_f64().unwrap() > 4.4);
    assert!(a.get("seq_gaps").is_none(), "replaced by lost");
}

#[test]
fn each_legs_quality_is_observed_in_the_histograms() {
    let (_, record) = answered_call_with_media();
    let m = crate::metrics::Metrics::new("t").unwrap();
    m.call_ended(&record);
    let text = m.render();
    for needle in [
        r#"voxgate_leg_mos_count{trunk="carrier"} 1"#,
        r#"voxgate_leg_mos_count{trunk="pbx"} 1"#,
        // A lost 10%: in the 0.1 bucket, not the 0.05 one.
        r#"voxgate_leg_loss_ratio_bucket{trunk="carrier",le="0.05"} 0"#,
        r#"voxgate_leg_loss_ratio_bucket{trunk="carrier",le="0.1"} 1"#,
        r#"voxgate_leg_loss_ratio_bucket{trunk="pbx",le="0.001"} 1"#,
        r#"voxgate_leg_jitter_ms_bucket{trunk="carrier",le="2"} 0"#,
        r#"voxgate_leg_jitter_ms_bucket{trunk="carrier",le="5"} 1"#,
        r#"voxgate_leg_mos_bucket{trunk="carrier",le="3.5"} 1"#,
        r#"voxgate_leg_mos_bucket{trunk="pbx",le="4.4"} 0"#,
        // Only A's peer answered an SR: one RTT, 41 ms.
        r#"voxgate_leg_rtt_ms_count{trunk="carrier"} 1"#,
        r#"voxgate_leg_rtt_ms_bucket{trunk="carrier",le="50"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains(r#"voxgate_leg_rtt_ms_count{trunk="pbx"}"#));
}

#[test]
fn a_leg_without_rtp_is_no_observation() {
    let (_, record) = answered_call();
    let m = crate::metrics::Metrics::new("t").unwrap();
    m.call_ended(&record);
    assert!(!m.render().contains("voxgate_leg_mos_count"));
}

#[test]
fn legs_final_statuses_and_the_post_dial_delay_are_counted_per_trunk() {
    let m = crate::metrics::Metrics::new("t").unwrap();
    let (_, answered) = answered_call();
    m.call_ended(&answered);
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    let second = h.feed(b.response(503, "", None)).sent(Method::Invite);
    h.advance(Duration::from_millis(500));
    let out = h.feed(BSide::new(second).response(486, "", None));
    m.call_ended(out.ended().expect("ended"));
    let text = m.render();
    for needle in [
        r#"voxgate_trunk_final_status_total{direction="in",status="200",trunk="carrier"} 1"#,
        r#"voxgate_trunk_final_status_total{direction="out",status="200",trunk="pbx"} 1"#,
        r#"voxgate_trunk_final_status_total{direction="in",status="486",trunk="carrier"} 1"#,
        r#"voxgate_trunk_final_status_total{direction="out",status="503",trunk="pbx"} 1"#,
        // Rang after 1 s; the busy call never rang: 0.5 s to its 486.
        r#"voxgate_post_dial_delay_seconds_bucket{trunk="carrier",le="0.5"} 1"#,
        r#"voxgate_post_dial_delay_seconds_bucket{trunk="carrier",le="1"} 2"#,
        r#"voxgate_post_dial_delay_seconds_count{trunk="carrier"} 2"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(text.contains(r#"direction="out",status="486""#), "{text}");
}

#[test]
fn the_peers_own_q850_cause_wins_rfc_3326() {
    // B hangs up with a Reason: its cause, not the mapping's 16.
    let (mut h, mut b) = Harness::established(CALLS);
    let bye = b.request(
        "BYE",
        "Reason: Q.850;cause=31;text=\"Normal, unspecified\"\r\n",
        None,
    );
    let to_a = h.b_sends(bye).1.sent(Method::Bye);
    let out = h.a_answers(&to_a, 200, None);
    let j = json(out.ended().expect("ended"), &h, false);
    assert_eq!(j["disconnect_side"], "callee");
    assert_eq!(j["q850"], 31);

    // A busy callee saying why (the last word of the dial).
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1]);
    let out = h.feed(b.response(486, "Reason: Q.850;cause=17\r\n", None));
    assert_eq!(json(out.ended().expect("ended"), &h, false)["q850"], 17);

    // A refusal with a Reason that the dial moves past is not the call's cause.
    let (mut h, _) = Harness::new(CALLS);
    let (b, _) = h.connected(&[B1, B2]);
    let second = h
        .feed(b.response(503, "Reason: Q.850;cause=34\r\n", None))
        .sent(Method::Invite);
    let out = h.feed(BSide::new(second).response(404, "", None));
    let j = json(out.ended().expect("ended"), &h, false);
    assert_eq!(
        (j["status"].as_u64(), j["q850"].as_u64()),
        (Some(404), Some(1))
    );
}
