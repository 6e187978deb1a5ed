//! A running node for the API's integration tests: a real `Edge` on loopback ports chosen
//! by the OS, the dispatcher plugged in, the API listener up; and small HTTP and
//! WebSocket clients to talk to it.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod sip;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::StreamExt as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use voxgate_control::Dispatcher;
use voxgate_control::api::{ApiServer, hash_token, hex};
use voxgate_edge::{ConfigSource, Edge, EdgeOptions};
use voxgate_sip::TransportKind;

/// The API token of the test node.
pub const TOKEN: &str = "integration-secret";

/// How long a test waits for one event.
pub const WAIT: Duration = Duration::from_secs(5);

/// A node: edge, dispatcher and API.
pub struct Node {
    pub edge: Edge,
    pub api: ApiServer,
    /// voxgate's SIP UDP address.
    pub sip: SocketAddr,
    /// The API's address.
    pub http: SocketAddr,
    /// The admin listener's address (`/metrics`).
    pub admin: SocketAddr,
}

/// The test config: numbers starting with 7 are the API's (no destinations; no client
/// gets `no_client_status`), anything else goes to `callee` (a fake UAS).
pub fn config(callee: SocketAddr) -> String {
    format!(
        r#"[node]
name = "t"
region = "r"
[admin]
listen = "127.0.0.1:0"
[[listener]]
transport = "udp"
address = "127.0.0.1:0"
[[trunk]]
name = "loopback"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r"
addresses = ["127.0.0.1"]
port_min = 47000
port_max = 47599
[calls]
media_timeout_s = 0
session_expires_s = 0
[api]
listen = "127.0.0.1:0"
tokens = [{{ name = "tests", sha256 = "{hash}" }}]
[[route]]
name = "api"
match_user = {{ prefix = "7" }}
control = "api"
[[route]]
name = "callee"
match_user = {{ prefix = "" }}
destinations = [{{ uri = "sip:{callee}", transport = "udp", trunk = "loopback" }}]
"#,
        hash = hex(&hash_token(TOKEN)),
    )
}

impl Node {
    /// A node whose static route goes to `callee`.
    pub async fn start(callee: SocketAddr) -> Node {
        let config = voxgate_config::load_str(&config(callee), "test.toml").unwrap();
        let listen = config.api.as_ref().unwrap().listen;
        let shared: voxgate_edge::SharedConfig = Arc::new(ArcSwap::from_pointee(config));
        let dispatcher = Arc::new(Dispatcher::new(shared.clone()).unwrap());
        let edge = Edge::start(
            shared,
            ConfigSource::Embedded,
            dispatcher.clone(),
            EdgeOptions::default(),
        )
        .await
        .unwrap();
        let api = ApiServer::start(listen, dispatcher.api(), edge.metrics())
            .await
            .unwrap();
        let sip = edge
            .sip_addrs()
            .into_iter()
            .find(|(k, _)| *k == TransportKind::Udp)
            .map(|(_, a)| a)
            .unwrap();
        Node {
            http: api.local_addr(),
            admin: edge.admin_addr(),
            sip,
            edge,
            api,
        }
    }

    /// A request to the API with the test token.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        http(self.http, method, path, Some(TOKEN), body).await
    }

    /// The admin listener's `/metrics`.
    pub async fn metrics(&self) -> String {
        http(self.admin, "GET", "/metrics", None, None).await.body
    }

    /// A WebSocket follower of `GET /v1/events`, connected.
    pub async fn follow(&self) -> Follower {
        let url = format!("ws://{}/v1/events", self.http);
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        // Connected once the API counts it (the upgrade completes on its side).
        for _ in 0..100 {
            if self.metrics().await.contains("voxgate_api_followers 1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Follower { ws }
    }

    /// Stops the edge, then the API.
    pub async fn stop(self) {
        self.edge.stop(Duration::from_secs(1)).await;
        self.api.stop().await;
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The header lines, lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request (Connection: close) with an optional bearer token and JSON body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A connected follower of the event stream.
pub struct Follower {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
}

impl Follower {
    /// The next event; panics after [`WAIT`].
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no event within {WAIT:?}"))
                .unwrap()
                .unwrap();
            if let WsMessage::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// The next events of conversation `id` (others skipped) until one of `type`
    /// `until`, that one included.
    pub async fn until(&mut self, id: &str, until: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = self.next().await;
            if e["conversation"] != id {
                continue;
            }
            let done = e["type"] == until;
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

/// The `type`s of `events`, for order assertions.
pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}
