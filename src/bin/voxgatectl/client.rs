//! One HTTP/1.1 request to the admin API (hyper's client over a tokio TCP stream).

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// How long a request may take, connection included (a reload reads the file).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Where and as whom.
pub struct Admin {
    /// `host:port`.
    pub address: String,
    /// The bearer token, if any.
    pub token: Option<String>,
}

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Admin {
    /// `method path` with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> anyhow::Result<Answer> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, path, json))
            .await
            .with_context(|| {
                format!(
                    "no answer from {} within {}s",
                    self.address,
                    TIMEOUT.as_secs()
                )
            })?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> anyhow::Result<Answer> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to the admin API at {}", self.address))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        let driver = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.address);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match json {
            Some(text) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(text))
            }
            None => Full::new(Bytes::new()),
        };
        let response = sender
            .send_request(request.body(body).context("building the request")?)
            .await
            .context("sending the request")?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        driver.abort();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}
