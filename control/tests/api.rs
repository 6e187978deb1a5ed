//! The call-control API against a real edge on loopback: originate, dial, answer, the
//! event stream, list and inspect, the operator's hang-up, 401 and 409; fake SIP user
//! agents at the other ends.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::sip::{self, Ua, answer_invite, take_bye};
use support::{Node, TOKEN, http, types};

/// The conversation id of a `conversation_started`.
fn started(e: &Value) -> String {
    assert_eq!(e["type"], "conversation_started", "{e}");
    e["conversation"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn originate_dial_events_list_inspect_and_operator_hangup() {
    let callee = Ua::bind().await;
    let node = Node::start(callee.addr).await;
    let mut events = node.follow().await;

    let dial = json!({"dial": {"destinations": [{"uri": format!("sip:1000@{}", callee.addr), "trunk": "loopback"}]}});
    let r = node.call("POST", "/v1/conversations", Some(dial)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["conversation"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["dial"], 1);
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/conversations/{id}").as_str())
    );

    // The callee gets voxgate's own offer (no inbound leg to take one from).
    let dialog = answer_invite(&callee).await;
    assert_eq!(
        dialog.invite.request_uri(),
        Some(format!("sip:1000@{}", callee.addr).as_str())
    );
    assert!(String::from_utf8_lossy(dialog.invite.body()).contains("m=audio 47"));

    let first = events.next().await;
    assert_eq!(
        first,
        json!({"conversation": id, "type": "conversation_started", "control": "api"})
    );
    let got = events.until(&id, "leg_answered").await;
    assert_eq!(types(&got), ["leg_created", "leg_ringing", "leg_answered"]);
    assert_eq!(got[0]["leg"], 1);
    assert_eq!(got[0]["dial"], 1);
    assert_eq!(got[0]["uri"], format!("sip:1000@{}", callee.addr));

    // Listed and inspected, with its leg.
    let list = node.call("GET", "/v1/conversations", None).await.json();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(listed["control"], "api");
    assert_eq!(listed["state"], "answered");
    let one = node
        .call("GET", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(one.status, 200);
    let legs = one.json()["legs"].clone();
    assert_eq!(legs[0]["id"], 1);
    assert_eq!(legs[0]["direction"], "outbound");
    assert_eq!(legs[0]["state"], "answered");
    assert_eq!(legs[0]["trunk"], "loopback");

    // The operator hangs it up: BYE to the callee, then its end on the stream.
    let r = node
        .call("DELETE", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json(), json!({"conversation": id, "command": "hangup"}));
    take_bye(&callee, &dialog.call_id).await;
    let end = events.until(&id, "ended").await;
    assert_eq!(types(&end), ["leg_ended", "ended"]);
    assert_eq!(end[0]["side"], "control");
    assert_eq!(end[1]["side"], "control");

    // Gone: 404 for it, and for commands to it.
    let mut gone = 0;
    for _ in 0..50 {
        gone = node
            .call("GET", &format!("/v1/conversations/{id}"), None)
            .await
            .status;
        if gone == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(gone, 404);
    let r = node
        .call("POST", &format!("/v1/conversations/{id}/legs/1/hold"), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        node.call("DELETE", &format!("/v1/conversations/{id}"), None)
            .await
            .status,
        404
    );
    node.stop().await;
}

#[tokio::test]
async fn an_inbound_call_through_an_api_route_answered_dialled_bridged_and_ended() {
    let caller = Ua::bind().await;
    let agent = Ua::bind().await;
    let node = Node::start(agent.addr).await;
    let mut events = node.follow().await;

    let mut call = sip::invite(&caller, node.sip, "7001").await;
    let start = events.next().await;
    let id = started(&start);
    assert_eq!(start["control"], "api");
    assert_eq!(start["inbound"]["leg"], 1);
    assert_eq!(start["inbound"]["trunk"], "loopback");
    assert_eq!(start["inbound"]["request_user"], "7001");
    assert_eq!(start["inbound"]["from"]["display"], "Alice");

    // voxgate answers the caller itself.
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/legs/1/answer"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"conversation": id, "command": "answer", "leg": 1})
    );
    let ok = caller.final_response().await;
    assert_eq!(ok.status(), Some(200));
    assert!(String::from_utf8_lossy(ok.body()).contains("m=audio 47"));
    call.ack(&caller, &ok).await;
    assert_eq!(
        types(&events.until(&id, "leg_answered").await),
        ["leg_answered"]
    );

    // An agent is dialled and connected to the answered caller.
    let dial = json!({"destinations": [{"uri": format!("sip:2000@{}", agent.addr)}], "connect": 1, "ring_timeout_s": 30});
    let r = node
        .call("POST", &format!("/v1/conversations/{id}/dial"), Some(dial))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["dial"], 1);
    let agent_dialog = answer_invite(&agent).await;
    let got = events.until(&id, "bridged").await;
    assert_eq!(
        types(&got),
        ["leg_created", "leg_ringing", "leg_answered", "bridged"]
    );
    assert_eq!(got[0]["leg"], 2);
    assert_eq!(got[0]["dial"], 1);
    assert_eq!(
        got[3],
        json!({"conversation": id, "type": "bridged", "a": 1, "b": 2})
    );

    // Hold and resume the agent: a re-INVITE each way, and the bridge follows.
    let r = node
        .call("POST", &format!("/v1/conversations/{id}/legs/2/hold"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let offer = sip::answer_reinvite(&agent).await;
    assert!(offer.contains("a=sendonly"), "{offer}");
    let held = events.until(&id, "held").await;
    assert_eq!(types(&held), ["unbridged", "held"]);
    assert_eq!(
        held[1],
        json!({"conversation": id, "type": "held", "leg": 2, "by": "control"})
    );
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/legs/2/resume"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let offer = sip::answer_reinvite(&agent).await;
    assert!(offer.contains("a=sendrecv"), "{offer}");
    let resumed = events.until(&id, "resumed").await;
    assert_eq!(types(&resumed), ["bridged", "resumed"]);
    assert_eq!(
        resumed[1],
        json!({"conversation": id, "type": "resumed", "leg": 2, "by": "control"})
    );

    // The agent's leg hung up by the API; then the caller hangs up.
    let r = node
        .call("DELETE", &format!("/v1/conversations/{id}/legs/2"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    take_bye(&agent, &agent_dialog.call_id).await;
    let got = events.until(&id, "leg_ended").await;
    assert!(types(&got).ends_with(&["leg_ended".to_owned()]), "{got:?}");
    assert_eq!(got.last().unwrap()["leg"], 2);
    // The bridge is split once the leg is gone.
    assert_eq!(
        events.next().await,
        json!({"conversation": id, "type": "unbridged", "a": 2, "b": 1})
    );
    call.bye(&caller).await;
    let end = events.until(&id, "ended").await;
    assert_eq!(types(&end), ["leg_ended", "ended"]);
    assert_eq!(end[0]["leg"], 1);
    assert_eq!(end[0]["side"], "caller");
    node.stop().await;
}

#[tokio::test]
async fn refusals_come_back_as_error_events_and_a_reject_rejects() {
    let caller = Ua::bind().await;
    let node = Node::start(caller.addr).await;
    let mut events = node.follow().await;
    let _call = sip::invite(&caller, node.sip, "7003").await;
    let id = started(&events.next().await);
    // Accepted by the API (a well-formed command), refused by the conversation.
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/legs/9/answer"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let error = events.next().await;
    assert_eq!(
        error,
        json!({"conversation": id, "type": "error", "command": "answer",
               "error": {"kind": "unknown_leg", "leg": 9, "message": "no leg 9 in this conversation"}})
    );
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/reject"),
            Some(json!({"status": 486})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let refused = caller.final_response().await;
    assert_eq!(refused.status(), Some(486));
    let end = events.until(&id, "ended").await;
    assert_eq!(types(&end), ["leg_ended", "ended"]);
    assert_eq!(end[0]["cause"], "rejected");
    assert_eq!(end[0]["status"], 486);
    node.stop().await;
}

#[tokio::test]
async fn a_transfer_request_is_refused_through_the_api() {
    let caller = Ua::bind().await;
    let node = Node::start(caller.addr).await;
    let mut events = node.follow().await;
    let mut call = sip::invite(&caller, node.sip, "7004").await;
    let id = started(&events.next().await);
    node.call(
        "POST",
        &format!("/v1/conversations/{id}/legs/1/answer"),
        None,
    )
    .await;
    let ok = caller.final_response().await;
    call.ack(&caller, &ok).await;
    events.until(&id, "leg_answered").await;
    let target = "sip:2002@127.0.0.1:9";
    // The REFER waits for its answer while the API client decides.
    let refer = call.refer(&caller, target);
    let refuse = async {
        let requested = events.until(&id, "transfer_requested").await;
        assert_eq!(requested.last().unwrap()["target"], target);
        assert_eq!(requested.last().unwrap()["leg"], 1);
        let path = format!("/v1/conversations/{id}/legs/1/transfer/refuse");
        node.call("POST", &path, None).await
    };
    let (response, r) = tokio::join!(refer, refuse);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"conversation": id, "command": "refuse_transfer", "leg": 1})
    );
    assert_eq!(response.status(), Some(603));
    call.bye(&caller).await;
    node.stop().await;
}

#[tokio::test]
async fn an_accepted_transfer_is_a_dial_with_the_next_id() {
    let caller = Ua::bind().await;
    let agent = Ua::bind().await;
    let other = Ua::bind().await;
    let node = Node::start(agent.addr).await;
    let target = format!("sip:3000@{}", other.addr);
    let mut events = node.follow().await;
    let mut call = sip::invite(&caller, node.sip, "7005").await;
    let id = started(&events.next().await);
    // The caller connected to the agent, the classic way (dial 1, linked to leg 1).
    let dial = json!({"destinations": [{"uri": format!("sip:2000@{}", agent.addr)}], "connect": 1});
    let r = node
        .call("POST", &format!("/v1/conversations/{id}/dial"), Some(dial))
        .await;
    assert_eq!(r.json()["dial"], 1);
    let agent_dialog = answer_invite(&agent).await;
    let ok = caller.final_response().await;
    assert_eq!(ok.status(), Some(200));
    call.ack(&caller, &ok).await;
    events.until(&id, "leg_answered").await;

    // The agent transfers the caller to `other`; the API client accepts.
    let refer = agent_dialog.refer(&agent, &target);
    let accept = async {
        let requested = events.until(&id, "transfer_requested").await;
        assert_eq!(requested.last().unwrap()["leg"], 2);
        let body =
            json!({"dial": {"destinations": [{"uri": requested.last().unwrap()["target"]}]}});
        let path = format!("/v1/conversations/{id}/legs/2/transfer/accept");
        node.call("POST", &path, Some(body)).await
    };
    let (response, r) = tokio::join!(refer, accept);
    assert_eq!(response.status(), Some(202));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"conversation": id, "command": "accept_transfer", "leg": 2, "dial": 2})
    );
    // The first event naming the transfer's dial names it 2, as the API said. (Whether
    // the target then rings is the conversation's business, tested with the call flows.)
    let dial_event = loop {
        let e = events.next().await;
        if e["conversation"] == id.as_str() && e.get("dial").is_some() {
            break e;
        }
    };
    assert_eq!(dial_event["dial"], 2, "{dial_event}");
    let notifies = agent_dialog.notifies(&agent).await;
    assert!(notifies[0].starts_with("SIP/2.0 100"), "{notifies:?}");
    node.call("DELETE", &format!("/v1/conversations/{id}"), None)
        .await;
    node.stop().await;
}

/// The contract: "`DialId` = the count of Dial commands (and accepted transfers) a
/// conversation received: the n-th is DialId(n)", refused ones included, so the API's
/// count and the conversation's agree.
#[tokio::test]
async fn a_refused_dial_still_takes_its_id() {
    let caller = Ua::bind().await;
    let agent = Ua::bind().await;
    let node = Node::start(agent.addr).await;
    let mut events = node.follow().await;
    let _call = sip::invite(&caller, node.sip, "7006").await;
    let id = started(&events.next().await);
    let to_agent = json!([{"uri": format!("sip:2000@{}", agent.addr)}]);
    // Refused by the conversation: there is no leg 9 to connect to.
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/dial"),
            Some(json!({"destinations": to_agent, "connect": 9})),
        )
        .await;
    assert_eq!(r.json()["dial"], 1);
    assert_eq!(events.next().await["type"], "error");
    let r = node
        .call(
            "POST",
            &format!("/v1/conversations/{id}/dial"),
            Some(json!({"destinations": to_agent, "connect": 1})),
        )
        .await;
    assert_eq!(r.json()["dial"], 2);
    let created = events.until(&id, "leg_created").await;
    assert_eq!(created.last().unwrap()["dial"], 2, "{created:?}");
    node.call("DELETE", &format!("/v1/conversations/{id}"), None)
        .await;
    node.stop().await;
}

#[tokio::test]
async fn with_no_client_an_api_route_gets_no_client_status() {
    let caller = Ua::bind().await;
    let node = Node::start(caller.addr).await;
    let _call = sip::invite(&caller, node.sip, "7002").await;
    let refused = caller.final_response().await;
    assert_eq!(refused.status(), Some(480));
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("voxgate_api_fallbacks_total{action=\"reject\"} 1"),
        "{metrics}"
    );
    node.stop().await;
}

#[tokio::test]
async fn unauthorized_requests_are_refused_and_counted() {
    let callee = Ua::bind().await;
    let node = Node::start(callee.addr).await;
    let r = http(node.http, "GET", "/v1/conversations", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"voxgate\"")
    );
    let r = http(
        node.http,
        "GET",
        "/v1/conversations",
        Some("not-the-token"),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"voxgate\", error=\"invalid_token\"")
    );
    let r = http(
        node.http,
        "POST",
        "/v1/conversations",
        Some(&TOKEN[1..]),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 401);
    // The WebSocket too, by header or by query.
    let r = http(node.http, "GET", "/v1/events?token=nope", None, None).await;
    assert_eq!(r.status, 401);
    let r = http(node.http, "GET", "/v1/conversations", Some(TOKEN), None).await;
    assert_eq!(r.status, 200);
    // One /metrics: the admin listener's shows the API's counters.
    let metrics = node.metrics().await;
    for line in [
        "voxgate_api_refusals_total{reason=\"unauthorized\"} 4",
        "voxgate_api_requests_total{route=\"/v1/conversations\",status=\"401\"} 3",
        "voxgate_api_requests_total{route=\"/v1/events\",status=\"401\"} 1",
        "voxgate_api_requests_total{route=\"/v1/conversations\",status=\"200\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn a_statically_routed_call_is_409_to_commands_but_the_operator_hangs_it_up() {
    let caller = Ua::bind().await;
    let callee = Ua::bind().await;
    let node = Node::start(callee.addr).await;
    let mut events = node.follow().await;
    let mut call = sip::invite(&caller, node.sip, "1234").await;
    let start = events.next().await;
    let id = started(&start);
    assert_eq!(start["control"], "static");
    let callee_dialog = answer_invite(&callee).await;
    let ok = caller.final_response().await;
    assert_eq!(ok.status(), Some(200));
    call.ack(&caller, &ok).await;

    let r = node
        .call("POST", &format!("/v1/conversations/{id}/legs/1/hold"), None)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"], "conflict");
    let dial = json!({"destinations": [{"uri": "sip:1@127.0.0.1:9"}]});
    assert_eq!(
        node.call("POST", &format!("/v1/conversations/{id}/dial"), Some(dial))
            .await
            .status,
        409
    );
    let listed = node
        .call("GET", &format!("/v1/conversations/{id}"), None)
        .await
        .json();
    assert_eq!(listed["control"], "other");

    // The operator's DELETE works on any conversation: both legs get a BYE.
    let r = node
        .call("DELETE", &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    take_bye(&callee, &callee_dialog.call_id).await;
    take_bye(&caller, &call.call_id).await;
    let end = events.until(&id, "ended").await;
    assert_eq!(end.last().unwrap()["type"], "ended");
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("voxgate_api_refusals_total{reason=\"conflict\"} 2"),
        "{metrics}"
    );
    node.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let callee = Ua::bind().await;
    let node = Node::start(callee.addr).await;
    let r = http(node.http, "GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["paths"]["/v1/conversations/{id}/legs/{leg}/answer"]["post"].is_object());
    node.stop().await;
}
