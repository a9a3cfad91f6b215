//! A small HTTP/1.1 client for the tests: the pooled hyper-util client for ordinary requests,
//! and a raw socket writer for what that client will not send (chunked bodies of a chosen
//! size, early answers to huge uploads).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct Resp {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Checks the small JSON error body of SPEC §2.1/§2.2: `{"error":{"id":ID,"message":TEXT}}`
    /// with `Content-Type: application/json`.
    pub fn assert_error(&self, status: StatusCode, id: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "error content type"
        );
        let json = self.json();
        assert_eq!(json["error"]["id"], id, "error id in {json}");
        let message = json["error"]["message"]
            .as_str()
            .expect("error.message is a string");
        assert!(!message.is_empty(), "error message is empty");
    }

    /// Checks a 204 with no body.
    pub fn assert_no_content(&self) {
        assert_eq!(
            self.status,
            StatusCode::NO_CONTENT,
            "body: {:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(self.body.is_empty());
    }
}

/// The pooled keep-alive client.
#[derive(Clone)]
pub struct Client {
    inner: Pooled<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A new client with its own connection pool.
    pub fn new() -> Client {
        Client {
            inner: Pooled::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request and reads the whole response.
    ///
    /// # Errors
    /// The connection failed or the response could not be read.
    pub async fn try_send(&self, req: Request<Full<Bytes>>) -> Result<Resp, String> {
        let resp = self
            .inner
            .request(req)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{e:?}"))?
            .to_bytes();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `method url` with these headers and body; panics on a transport error.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder.body(Full::new(body.into())).expect("request");
        self.try_send(req)
            .await
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"))
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Resp {
        self.send(Method::GET, url, &[], Bytes::new()).await
    }

    /// `POST url` with a JSON body.
    pub async fn post_json(&self, url: &str, body: impl Into<Bytes>) -> Resp {
        self.send(
            Method::POST,
            url,
            &[("content-type", "application/json")],
            body,
        )
        .await
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// What a raw exchange got back: the status line's code and the body (as far as it came).
#[derive(Debug)]
pub struct RawResp {
    /// The status code, when a status line arrived.
    pub status: Option<u16>,
    /// Everything after the header block.
    pub body: Vec<u8>,
}

/// Writes `head` then `body` on a fresh connection while reading the answer concurrently (as
/// a client must, to see a server that answers before the upload ends), with `Connection:
/// close` semantics: reads until the server closes or `timeout`.
pub async fn raw_exchange(
    addr: SocketAddr,
    head: String,
    body: Bytes,
    timeout: Duration,
) -> RawResp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may close before the upload ends: that is what some tests look at.
        if write.write_all(head.as_bytes()).await.is_ok() {
            let _ = write.write_all(&body).await;
        }
        let _ = write.flush().await;
        write
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(timeout, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    parse_raw(&got)
}

fn parse_raw(bytes: &[u8]) -> RawResp {
    // "HTTP/1.1 413 ..." : the code is bytes 9..12.
    let status = bytes
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok());
    let body = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|end| bytes[end + 4..].to_vec())
        .unwrap_or_default();
    RawResp { status, body }
}
