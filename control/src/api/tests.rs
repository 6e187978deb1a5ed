//! The API's HTTP side without sockets or an edge: requests go through the whole router
//! (auth, body checks, counting) to conversations faked by channels.

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body as HttpBody;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::ServiceExt as _;
use voxgate_config::load_str;
use voxgate_edge::control_plane::{
    Command, ConversationId, ConversationInfo, DialId, EndCause, Event, LegId, Session, Side,
};

use super::{ApiPlane, app, hash_token, hex, openapi};

pub(crate) const TOKEN: &str = "t0ken";

/// A config with an `[api]` whose one token is [`TOKEN`], and `extra` appended.
pub(crate) fn config_text(extra: &str) -> String {
    format!(
        r#"[node]
name = "n1"
region = "r1"
[[listener]]
transport = "udp"
address = "127.0.0.1:5060"
[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = 20000
port_max = 20999
[[trunk]]
name = "pstn"
allow = ["192.0.2.0/24"]
[api]
no_client_status = 486
tokens = [{{ name = "ops", sha256 = "{}" }}]
{extra}"#,
        hex(&hash_token(TOKEN))
    )
}

pub(crate) fn shared(extra: &str) -> voxgate_edge::SharedConfig {
    let config = load_str(&config_text(extra), "t.toml").unwrap_or_else(|e| panic!("{e}"));
    Arc::new(ArcSwap::from_pointee(config))
}

fn plane() -> Arc<ApiPlane> {
    Arc::new(ApiPlane::new(shared("")).unwrap_or_else(|e| panic!("{e}")))
}

/// A conversation the API controls, faked: its commands and its events' sender.
fn controlled(plane: &Arc<ApiPlane>, id: u64) -> (mpsc::Receiver<Command>, mpsc::Sender<Event>) {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (ev_tx, ev_rx) = mpsc::channel(8);
    plane.take(Session {
        info: ConversationInfo::new(ConversationId(id), None),
        events: ev_rx,
        commands: cmd_tx,
    });
    (cmd_rx, ev_tx)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn call(
    plane: &Arc<ApiPlane>,
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        request = request.header(header::AUTHORIZATION, a);
    }
    let request = request
        .body(HttpBody::from(body.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = app(plane.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

const BEARER: &str = "Bearer t0ken";

#[tokio::test]
async fn no_token_a_bad_token_and_a_good_one() {
    let plane = plane();
    let a = call(&plane, Method::GET, "/v1/conversations", None, "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"voxgate\"")
    );
    assert_eq!(a.json["error"], "unauthorized");
    for bad in [
        "Bearer t0ke",
        "Bearer T0KEN",
        "Basic dDBrZW4=",
        "Bearer",
        "t0ken",
    ] {
        let a = call(&plane, Method::GET, "/v1/conversations", Some(bad), "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(
            a.headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"voxgate\", error=\"invalid_token\""),
            "{bad}"
        );
    }
    // Past the check: no edge in this test, so the node is "unavailable".
    let a = call(
        &plane,
        Method::GET,
        "/v1/conversations",
        Some("bearer t0ken"),
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    // Every /v1 path needs it, commands included.
    let a = call(&plane, Method::DELETE, "/v1/conversations/c1", None, "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_query_token_counts_on_the_event_stream_only() {
    let plane = plane();
    let a = call(
        &plane,
        Method::GET,
        "/v1/conversations?token=t0ken",
        None,
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // Not a WebSocket request, and no edge: but past the token check.
    let a = call(&plane, Method::GET, "/v1/events?token=t0ken", None, "").await;
    assert_ne!(a.status, StatusCode::UNAUTHORIZED);
    let a = call(&plane, Method::GET, "/v1/events?token=nope", None, "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_follow_a_reload() {
    let config = shared("");
    let plane = Arc::new(ApiPlane::new(config.clone()).unwrap_or_else(|e| panic!("{e}")));
    let (_cmds, _events) = controlled(&plane, 1);
    let uri = "/v1/conversations/c1/legs/1/hold";
    assert_eq!(
        call(&plane, Method::POST, uri, Some(BEARER), "")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let mut next = (*config.load_full()).clone();
    if let Some(api) = next.api.as_mut() {
        api.tokens[0].sha256 = hash_token("rotated");
    }
    config.store(Arc::new(next));
    assert_eq!(
        call(&plane, Method::POST, uri, Some(BEARER), "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let rotated = call(&plane, Method::POST, uri, Some("Bearer rotated"), "").await;
    assert_eq!(rotated.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn leg_commands_reach_the_conversation_in_order() {
    let plane = plane();
    let (mut cmds, _events) = controlled(&plane, 7);
    let cases: [(Method, &str, &str, Command); 8] = [
        (
            Method::POST,
            "/v1/conversations/c7/legs/1/answer",
            "",
            Command::Answer {
                leg: LegId(1),
                early: false,
            },
        ),
        (
            Method::POST,
            "/v1/conversations/c7/legs/1/answer",
            r#"{"early": true}"#,
            Command::Answer {
                leg: LegId(1),
                early: true,
            },
        ),
        (
            Method::POST,
            "/v1/conversations/c7/legs/2/hold",
            "",
            Command::Hold { leg: LegId(2) },
        ),
        (
            Method::POST,
            "/v1/conversations/c7/legs/2/resume",
            "",
            Command::Resume { leg: LegId(2) },
        ),
        (
            Method::POST,
            "/v1/conversations/c7/legs/2/unbridge",
            "",
            Command::Unbridge { leg: LegId(2) },
        ),
        (
            Method::DELETE,
            "/v1/conversations/c7/legs/3?status=486",
            "",
            Command::Hangup {
                leg: Some(LegId(3)),
                status: Some(486),
            },
        ),
        (
            Method::DELETE,
            "/v1/conversations/c7/legs/3",
            "",
            Command::Hangup {
                leg: Some(LegId(3)),
                status: None,
            },
        ),
        (
            Method::POST,
            "/v1/conversations/c7/legs/2/transfer/refuse",
            "",
            Command::RefuseTransfer { leg: LegId(2) },
        ),
    ];
    for (method, uri, body, expected) in cases {
        let a = call(&plane, method, uri, Some(BEARER), body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{uri}: {}", a.json);
        assert_eq!(a.json["conversation"], "c7");
        assert_eq!(a.json["command"], expected.name());
        assert!(a.json.get("dial").is_none(), "{}", a.json);
        assert_eq!(cmds.try_recv().ok(), Some(expected), "{uri}");
    }
}

#[tokio::test]
async fn conversation_commands_and_dial_ids() {
    let plane = plane();
    let (mut cmds, _events) = controlled(&plane, 3);
    let dial =
        r#"{"destinations": [{"uri": "sip:1000@192.0.2.5", "trunk": "pstn"}], "connect": 1}"#;
    for n in 1..=2 {
        let a = call(
            &plane,
            Method::POST,
            "/v1/conversations/c3/dial",
            Some(BEARER),
            dial,
        )
        .await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.json);
        assert_eq!(
            a.json,
            json!({"conversation": "c3", "command": "dial", "dial": n})
        );
        assert!(matches!(cmds.try_recv(), Ok(Command::Dial(d)) if d.connect == Some(LegId(1))));
    }
    let transfer = r#"{"dial": {"destinations": [{"uri": "sip:2002@192.0.2.7"}]}}"#;
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c3/legs/2/transfer/accept",
        Some(BEARER),
        transfer,
    )
    .await;
    assert_eq!(
        a.json,
        json!({"conversation": "c3", "command": "accept_transfer", "leg": 2, "dial": 3})
    );
    assert!(matches!(
        cmds.try_recv(),
        Ok(Command::AcceptTransfer { leg: LegId(2), .. })
    ));
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c3/bridge",
        Some(BEARER),
        r#"{"a": 1, "b": 2}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(
        cmds.try_recv().ok(),
        Some(Command::Bridge {
            a: LegId(1),
            b: LegId(2)
        })
    );
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c3/reject",
        Some(BEARER),
        r#"{"status": 603}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(
        cmds.try_recv().ok(),
        Some(Command::Reject {
            status: 603,
            reason: None
        })
    );
    // The plane counts the same way without HTTP.
    let next = plane
        .command(
            ConversationId(3),
            Command::Dial(voxgate_edge::control_plane::Dial::new(Vec::new())),
        )
        .await;
    assert_eq!(next.ok().flatten(), Some(DialId(4)));
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    let plane = plane();
    let (mut cmds, _events) = controlled(&plane, 1);
    let cases = [
        (Method::POST, "/v1/conversations/c1/dial", "{", "EOF"),
        (
            Method::POST,
            "/v1/conversations/c1/dial",
            r#"{"destinations": [{"uri": "sip:1@x", "transport": "sctp"}]}"#,
            "destinations[0].transport",
        ),
        (
            Method::POST,
            "/v1/conversations/c1/dial",
            r#"{"destinations": [{"uri": "sip:1@x"}], "ring_timeout_s": 0}"#,
            "ring_timeout_s: 0 is not valid; allowed: seconds 1..=3600",
        ),
        (
            Method::POST,
            "/v1/conversations/c1/dial",
            r#"{"destinations": [{"uri": "sip:1@x", "trunk": "nope"}]}"#,
            "allowed: one of \"pstn\"",
        ),
        (Method::POST, "/v1/conversations/c1/dial", "", "EOF"),
        (
            Method::POST,
            "/v1/conversations/1/legs/1/hold",
            "",
            "such as \"c17\"",
        ),
        (
            Method::POST,
            "/v1/conversations/c1/legs/0/hold",
            "",
            "leg: \"0\" is not valid",
        ),
        (
            Method::POST,
            "/v1/conversations/c1/legs/1/answer",
            r#"{"earl": true}"#,
            "unknown field `earl`",
        ),
        (
            Method::DELETE,
            "/v1/conversations/c1/legs/1?status=200",
            "",
            "status: 200 is not valid; allowed: 400..=699",
        ),
        (
            Method::DELETE,
            "/v1/conversations/c1/legs/1?status=busy",
            "",
            "status",
        ),
        (
            Method::POST,
            "/v1/conversations/c1/reject",
            r#"{"status": 486, "reason": "a\nb"}"#,
            "reason",
        ),
        (
            Method::POST,
            "/v1/conversations",
            r#"{"dial": {"destinations": [{"uri": "sip:1@x"}], "connect": 1}}"#,
            "dial.connect",
        ),
    ];
    for (method, uri, body, needle) in cases {
        let a = call(&plane, method, uri, Some(BEARER), body).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{uri} {body}: {}",
            a.json
        );
        assert_eq!(a.json["error"], "bad_request");
        let message = a.json["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{uri} {body}: {message}");
    }
    assert!(
        cmds.try_recv().is_err(),
        "nothing refused reaches the conversation"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused_and_counted() {
    let plane = plane();
    let edge = voxgate_edge::metrics::Metrics::new("t").unwrap_or_else(|e| panic!("{e}"));
    plane
        .metrics()
        .register(&edge)
        .unwrap_or_else(|e| panic!("{e}"));
    let a = call(&plane, Method::GET, "/v2/anything", None, "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json["error"], "not_found");
    let a = call(&plane, Method::PUT, "/v1/conversations", Some(BEARER), "").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    let _ = call(&plane, Method::GET, "/v1/conversations", None, "").await;
    let _ = call(
        &plane,
        Method::POST,
        "/v1/conversations/c9/legs/1/hold",
        Some(BEARER),
        "",
    )
    .await;
    let huge = format!(
        "{{\"status\": 486, \"reason\": \"{}\"}}",
        "x".repeat(super::http::MAX_BODY)
    );
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c9/reject",
        Some(BEARER),
        &huge,
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.json["error"], "too_large");
    let text = edge.render();
    for needle in [
        r#"voxgate_api_requests_total{route="unmatched",status="404"} 1"#,
        r#"voxgate_api_requests_total{route="/v1/conversations",status="405"} 1"#,
        r#"voxgate_api_requests_total{route="/v1/conversations",status="401"} 1"#,
        r#"voxgate_api_requests_total{route="/v1/conversations/{id}/legs/{leg}/hold",status="404"} 1"#,
        r#"voxgate_api_refusals_total{reason="not_found"} 2"#,
        r#"voxgate_api_refusals_total{reason="method_not_allowed"} 1"#,
        r#"voxgate_api_refusals_total{reason="unauthorized"} 1"#,
        r#"voxgate_api_refusals_total{reason="too_large"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == needle),
            "missing {needle} in\n{text}"
        );
    }
}

#[tokio::test]
async fn a_conversation_is_let_go_at_its_end() {
    let plane = plane();
    let (_cmds, events) = controlled(&plane, 5);
    assert!(plane.controls(ConversationId(5)));
    let ended = Event::Ended {
        side: Side::Caller,
        cause: EndCause::Normal,
    };
    events.send(ended).await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..100 {
        if !plane.controls(ConversationId(5)) {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("c5 is still controlled after its Ended");
}

#[test]
fn the_openapi_document_parses_and_lists_every_path() {
    let text = openapi::openapi()
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let expected: &[(&str, &[&str])] = &[
        ("/v1/conversations", &["get", "post"]),
        ("/v1/conversations/{id}", &["get", "delete"]),
        ("/v1/conversations/{id}/dial", &["post"]),
        ("/v1/conversations/{id}/bridge", &["post"]),
        ("/v1/conversations/{id}/reject", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}", &["delete"]),
        ("/v1/conversations/{id}/legs/{leg}/answer", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/hold", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/resume", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/unbridge", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/play", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/stop", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/digits", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/record", &["post"]),
        ("/v1/conversations/{id}/recordings/{rec}/pause", &["post"]),
        ("/v1/conversations/{id}/recordings/{rec}/resume", &["post"]),
        ("/v1/conversations/{id}/recordings/{rec}/stop", &["post"]),
        ("/v1/conversations/{id}/conference", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/join", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/leave", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/mute", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/unmute", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/listen_only", &["post"]),
        ("/v1/conversations/{id}/legs/{leg}/speak", &["post"]),
        (
            "/v1/conversations/{id}/legs/{leg}/transfer/accept",
            &["post"],
        ),
        (
            "/v1/conversations/{id}/legs/{leg}/transfer/refuse",
            &["post"],
        ),
        ("/v1/events", &["get"]),
        ("/v1/agents", &["get"]),
        ("/v1/agents/{name}/login", &["post"]),
        ("/v1/agents/{name}/logout", &["post"]),
        ("/v1/agents/{name}/state", &["post"]),
        ("/v1/agents/{name}/wrap_up", &["post"]),
        ("/v1/queues", &["get"]),
        ("/v1/queues/{name}", &["get"]),
        ("/openapi.json", &["get"]),
    ];
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    let mut wanted: Vec<&str> = expected.iter().map(|(p, _)| *p).collect();
    wanted.sort_unstable();
    assert_eq!(listed, wanted);
    for (path, methods) in expected {
        for method in *methods {
            let op = &paths[*path][*method];
            assert!(op.is_object(), "{method} {path} is not described");
            if *path != "/openapi.json" {
                assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
        }
    }
    // The types are in it, from the code.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "DialBody",
        "DestinationBody",
        "ConversationView",
        "LegView",
        "Accepted",
        "Problem",
        "EventMessage",
        "EventBody",
        "PlayBody",
        "DigitsBody",
        "RecordBody",
        "ConferenceBody",
        "JoinBody",
    ] {
        assert!(schemas[name].is_object(), "no schema {name}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let plane = plane();
    let a = call(&plane, Method::GET, "/openapi.json", None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert!(a.json["paths"]["/v1/events"].is_object());
}

/// A config whose one prompt, `welcome`, is a real (tiny) WAV file.
fn plane_with_prompt() -> Arc<ApiPlane> {
    let path = std::env::temp_dir().join(format!("voxgate-api-prompt-{}.wav", std::process::id()));
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&38u32.to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    for v in [2u16, 16] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    w.extend_from_slice(b"data");
    w.extend_from_slice(&2u32.to_le_bytes());
    w.extend_from_slice(&[1, 0]);
    std::fs::write(&path, w).unwrap_or_else(|e| panic!("{e}"));
    let extra = format!(
        "[[prompt]]\nname = \"welcome\"\nfile = \"{}\"\n",
        path.display()
    );
    Arc::new(ApiPlane::new(shared(&extra)).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn media_commands_reach_the_leg_and_plays_are_numbered() {
    use std::time::Duration;
    use voxgate_edge::control_plane::{Digit, PlaySource};
    let plane = plane_with_prompt();
    let (mut cmds, _events) = controlled(&plane, 5);
    let cases = [
        (
            "/v1/conversations/c5/legs/1/play",
            r#"{"prompt": "welcome", "barge_in": true}"#,
            Command::Play {
                leg: LegId(1),
                source: PlaySource::Prompt("welcome".into()),
                barge_in: true,
            },
            Some(1u64),
        ),
        (
            "/v1/conversations/c5/legs/1/digits",
            r#"{"digits": "12#", "duration_ms": 80}"#,
            Command::SendDigits {
                leg: LegId(1),
                digits: vec![Digit::D1, Digit::D2, Digit::Pound],
                duration: Some(Duration::from_millis(80)),
            },
            None,
        ),
        (
            "/v1/conversations/c5/legs/2/play",
            r#"{"tone": "ringback"}"#,
            Command::Play {
                leg: LegId(2),
                source: PlaySource::Tone("ringback".into()),
                barge_in: false,
            },
            Some(2u64),
        ),
        (
            "/v1/conversations/c5/legs/2/play",
            r#"{"prompts": ["welcome", "welcome"]}"#,
            Command::Play {
                leg: LegId(2),
                source: PlaySource::Prompts(vec!["welcome".into(), "welcome".into()]),
                barge_in: false,
            },
            Some(3u64),
        ),
        (
            "/v1/conversations/c5/legs/2/play",
            r#"{"music": "welcome"}"#,
            Command::Play {
                leg: LegId(2),
                source: PlaySource::Music("welcome".into()),
                barge_in: false,
            },
            Some(4u64),
        ),
        (
            "/v1/conversations/c5/legs/2/stop",
            "",
            Command::StopMedia { leg: LegId(2) },
            None,
        ),
    ];
    for (uri, body, expected, playback) in cases {
        let a = call(&plane, Method::POST, uri, Some(BEARER), body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{uri}: {}", a.json);
        assert_eq!(a.json["command"], expected.name());
        assert_eq!(a.json.get("playback").and_then(Value::as_u64), playback);
        assert_eq!(cmds.try_recv().ok(), Some(expected), "{uri}");
    }
    let bad = [
        ("play", r#"{"prompt": "nope"}"#, "one of \"welcome\""),
        ("play", r#"{"tone": "dial"}"#, "ringback"),
        (
            "play",
            r#"{"prompt": "welcome", "tone": "busy"}"#,
            "exactly one of",
        ),
        ("play", r#"{}"#, "exactly one of"),
        ("play", r#"{"prompts": []}"#, "1 to 32"),
        (
            "play",
            r#"{"prompt": "welcome", "volume": 3}"#,
            "unknown field",
        ),
        ("digits", r#"{"digits": "12x"}"#, "0-9 * # A-D"),
        ("digits", r#"{"digits": ""}"#, "0-9 * # A-D"),
        (
            "digits",
            r#"{"digits": "1", "duration_ms": 10}"#,
            "40..=5000",
        ),
    ];
    for (path, body, says) in bad {
        let uri = format!("/v1/conversations/c5/legs/1/{path}");
        let a = call(&plane, Method::POST, &uri, Some(BEARER), body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.json);
        let message = a.json["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(
        cmds.try_recv().is_err(),
        "nothing refused reached the conversation"
    );
    // Refused at the door, a play takes no id: the next is the fifth.
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c5/legs/1/play",
        Some(BEARER),
        r#"{"tone": "beep"}"#,
    )
    .await;
    assert_eq!(a.json["playback"], 5);
}

#[tokio::test]
async fn recording_commands_reach_the_conversation_and_records_are_numbered() {
    use voxgate_edge::control_plane::{RecordLayout, RecordingId};
    let plane = plane();
    let (mut cmds, _events) = controlled(&plane, 6);
    let id = RecordingId(2);
    let cases = [
        (
            "/v1/conversations/c6/legs/1/record",
            r#"{"stereo": true}"#,
            Command::Record {
                leg: LegId(1),
                layout: RecordLayout::Stereo,
            },
            Some(1u64),
        ),
        // No body: mono.
        (
            "/v1/conversations/c6/legs/2/record",
            "",
            Command::Record {
                leg: LegId(2),
                layout: RecordLayout::Mono,
            },
            Some(2),
        ),
        (
            "/v1/conversations/c6/recordings/2/pause",
            "",
            Command::PauseRecording { id },
            None,
        ),
        (
            "/v1/conversations/c6/recordings/2/resume",
            "",
            Command::ResumeRecording { id },
            None,
        ),
        (
            "/v1/conversations/c6/recordings/2/stop",
            "",
            Command::StopRecording { id },
            None,
        ),
    ];
    for (uri, body, expected, recording) in cases {
        let a = call(&plane, Method::POST, uri, Some(BEARER), body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{uri}: {}", a.json);
        assert_eq!(a.json["command"], expected.name());
        assert_eq!(a.json.get("recording").and_then(Value::as_u64), recording);
        assert_eq!(a.json.get("playback"), None);
        assert_eq!(cmds.try_recv().ok(), Some(expected), "{uri}");
    }
    let bad = [
        ("legs/1/record", r#"{"stereo": "yes"}"#, "stereo"),
        ("legs/1/record", r#"{"channels": 2}"#, "unknown field"),
        ("legs/0/record", "", "a leg number, 1 or more"),
        ("recordings/0/stop", "", "a recording number, 1 or more"),
        ("recordings/x/pause", "", "a recording number, 1 or more"),
    ];
    for (path, body, says) in bad {
        let uri = format!("/v1/conversations/c6/{path}");
        let a = call(&plane, Method::POST, &uri, Some(BEARER), body).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            a.json
        );
        let message = a.json["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path} {body}: {message}");
    }
    assert!(
        cmds.try_recv().is_err(),
        "nothing refused reached the conversation"
    );
    // Without a token: refused like every command.
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c6/recordings/2/stop",
        None,
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // Refused at the door, a record takes no id: the next is the third.
    let a = call(
        &plane,
        Method::POST,
        "/v1/conversations/c6/legs/1/record",
        Some(BEARER),
        "{}",
    )
    .await;
    assert_eq!(a.json["recording"], 3);
}

#[tokio::test]
async fn conference_commands_reach_the_conversation_and_conferences_are_numbered() {
    use voxgate_edge::control_plane::{ConferenceId, ConferenceRole};
    let plane = plane();
    let (mut cmds, _events) = controlled(&plane, 6);
    let legs = |l: &[u32]| l.iter().map(|&n| LegId(n)).collect::<Vec<_>>();
    let cases = [
        (
            "/v1/conversations/c6/conference",
            r#"{"legs": [1, 2, 3]}"#,
            Command::Conference {
                legs: legs(&[1, 2, 3]),
            },
            Some(1u64),
        ),
        (
            "/v1/conversations/c6/legs/4/join",
            r#"{"conference": 1, "role": "listener"}"#,
            Command::JoinConference {
                conference: ConferenceId(1),
                leg: LegId(4),
                role: ConferenceRole::Listener,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/5/join",
            r#"{"conference": 1}"#,
            Command::JoinConference {
                conference: ConferenceId(1),
                leg: LegId(5),
                role: ConferenceRole::Speaker,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/2/mute",
            "",
            Command::Mute {
                leg: LegId(2),
                muted: true,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/2/unmute",
            "",
            Command::Mute {
                leg: LegId(2),
                muted: false,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/3/listen_only",
            "",
            Command::SetRole {
                leg: LegId(3),
                role: ConferenceRole::Listener,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/3/speak",
            "",
            Command::SetRole {
                leg: LegId(3),
                role: ConferenceRole::Speaker,
            },
            None,
        ),
        (
            "/v1/conversations/c6/legs/1/leave",
            "",
            Command::LeaveConference { leg: LegId(1) },
            None,
        ),
        (
            "/v1/conversations/c6/conference",
            r#"{"legs": [7]}"#,
            Command::Conference { legs: legs(&[7]) },
            Some(2u64),
        ),
    ];
    for (uri, body, expected, conference) in cases {
        let a = call(&plane, Method::POST, uri, Some(BEARER), body).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{uri}: {}", a.json);
        assert_eq!(a.json["command"], expected.name());
        assert_eq!(a.json.get("conference").and_then(Value::as_u64), conference);
        assert_eq!(cmds.try_recv().ok(), Some(expected), "{uri}");
    }
    let seventeen = format!("{:?}", (1..=17).collect::<Vec<u32>>());
    let bad = [
        (
            "conference",
            r#"{"legs": []}"#.to_owned(),
            "1 to 16 leg numbers",
        ),
        (
            "conference",
            format!(r#"{{"legs": {seventeen}}}"#),
            "1 to 16 leg numbers",
        ),
        ("conference", r#"{"legs": [1, 0]}"#.to_owned(), "legs[1]"),
        (
            "conference",
            r#"{"legs": [2, 2]}"#.to_owned(),
            "not named before",
        ),
        (
            "conference",
            r#"{"legs": [1], "muted": true}"#.to_owned(),
            "unknown field",
        ),
        (
            "legs/1/join",
            r#"{"conference": 0}"#.to_owned(),
            "conference number",
        ),
        (
            "legs/1/join",
            r#"{"conference": 1, "role": "boss"}"#.to_owned(),
            "\"listener\"",
        ),
        ("legs/1/join", r#"{}"#.to_owned(), "conference"),
    ];
    for (path, body, says) in bad {
        let uri = format!("/v1/conversations/c6/{path}");
        let a = call(&plane, Method::POST, &uri, Some(BEARER), &body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {}", a.json);
        let message = a.json["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(
        cmds.try_recv().is_err(),
        "nothing refused reached the conversation"
    );
}

const AGENTS: &str = r#"
[[site]]
name = "s"
[[team]]
name = "t1"
site = "s"
[[agent]]
name = "alice"
teams = ["t1"]
dial = { uri = "sip:alice@127.0.0.1:5090" }
[[queue]]
name = "sales"
groups = [{ teams = ["t1"] }]
"#;

#[tokio::test]
async fn agents_log_in_become_available_and_are_listed() {
    let plane = Arc::new(ApiPlane::new(shared(AGENTS)).unwrap_or_else(|e| panic!("{e}")));
    let a = call(&plane, Method::GET, "/v1/agents", None, "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = call(&plane, Method::GET, "/v1/agents", Some(BEARER), "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json,
        json!([{"name": "alice", "teams": ["t1"], "state": "logged_out"}])
    );
    // Not available before logging in.
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/state",
        Some(BEARER),
        r#"{"state": "available"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json);
    assert_eq!(a.json["error"], "conflict");
    let mut stream = plane.announcements();
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/login",
        Some(BEARER),
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["state"], "idle");
    // The event stream carries the agent's state.
    let text = stream.try_recv().unwrap_or_else(|e| panic!("{e}"));
    let event: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event,
        json!({"type": "agent_state", "agent": "alice", "state": "idle"})
    );
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/state",
        Some(BEARER),
        r#"{"state": "idle", "code": "break"}"#,
    )
    .await;
    assert_eq!(a.json["code"], "break");
    let text = stream.try_recv().unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains(r#""code":"break""#), "{text}");
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/state",
        Some(BEARER),
        r#"{"state": "available"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["state"], "available");
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/state",
        Some(BEARER),
        r#"{"state": "engaged"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/zed/login",
        Some(BEARER),
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/wrap_up",
        Some(BEARER),
        r#"{"code": "sale"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "not in wrap-up");
    let a = call(&plane, Method::GET, "/v1/queues/sales", Some(BEARER), "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["available_agents"], 1);
    assert_eq!(a.json["staffed_agents"], 1);
    assert_eq!(a.json["waiting"], 0);
    assert!(a.json.get("estimated_wait_s").is_none(), "no history yet");
    let a = call(&plane, Method::GET, "/v1/queues", Some(BEARER), "").await;
    assert_eq!(a.json.as_array().map(Vec::len), Some(1));
    let a = call(&plane, Method::GET, "/v1/queues/nope", Some(BEARER), "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(
        &plane,
        Method::POST,
        "/v1/agents/alice/logout",
        Some(BEARER),
        "",
    )
    .await;
    assert_eq!(a.json["state"], "logged_out");
}
