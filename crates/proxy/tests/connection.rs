//! One client connection carrying many requests (RFC 9112 §9): pipelined and split requests,
//! shapes the bid loop hands to hyper mid-connection, `Connection: close`, and the drain of
//! idle keep-alive connections on shutdown.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::config::{self, Route};
use crate::support::request::bid;
use crate::support::{Bidder, Proxy, Reply, bidder, metrics};

/// One answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A client connection that reads answers by their framing (Content-Length, or none).
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    async fn open(proxy: &Proxy) -> Wire {
        Wire {
            stream: TcpStream::connect(proxy.addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next answer; panics after 5 s without one.
    async fn answer(&mut self) -> Answer {
        tokio::time::timeout(Duration::from_secs(5), self.read_answer())
            .await
            .expect("an answer within 5 s")
    }

    async fn read_answer(&mut self) -> Answer {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = resp.parse(&self.buf).expect("HTTP answer") {
                let status = resp.code.expect("status");
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let body_len = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse::<usize>().expect("length"));
                if self.buf.len() >= len + body_len {
                    let body = self.buf[len..len + body_len].to_vec();
                    self.buf.drain(..len + body_len);
                    return Answer {
                        status,
                        headers,
                        body,
                    };
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed before a whole answer");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// True when the server closes the connection within 5 s (nothing more to read).
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

fn post(route: &Route, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /{}/bids HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n{extra}\
         content-length: {}\r\n\r\n{body}",
        route.client_id,
        body.len()
    )
    .into_bytes()
}

async fn bidding_proxy() -> (Proxy, Bidder, Route) {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("any"))).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    proxy.synced().await;
    (proxy, bidder, route)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_split_and_unusual_requests_share_one_connection() {
    let (proxy, bidder, route) = bidding_proxy().await;
    let mut wire = Wire::open(&proxy).await;

    // Two requests in one write, then a malformed one: three answers, in order.
    let mut burst = post(&route, "", &bid("p1").body());
    burst.extend(post(&route, "", &bid("p2").body()));
    burst.extend(post(&route, "", "not json"));
    wire.send(&burst).await;
    for expected in [200, 200, 400] {
        let answer = wire.answer().await;
        assert_eq!(answer.status, expected, "{answer:?}");
        assert!(answer.header("date").is_some(), "{answer:?}");
    }

    // A request trickled in pieces: head split mid-line, body in two parts.
    let split = post(&route, "x-openrtb-version: 2.6\r\n", &bid("s1").body());
    for piece in split.chunks(split.len() / 4 + 1) {
        wire.send(piece).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = wire.answer().await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["seatbid"][0]["bid"][0]["price"], 1.25);
    assert_eq!(answer.header("content-type"), Some("application/json"));

    // An unknown stream's request is read and answered, and the connection goes on.
    let mut unknown = b"POST /no-such-stream/bids HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".to_vec();
    unknown.extend(post(&route, "", &bid("after-404").body()));
    wire.send(&unknown).await;
    let answer = wire.answer().await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"]["id"], "NOT_FOUND");
    assert_eq!(wire.answer().await.status, 200);

    // A chunked body: the connection goes on through hyper, bids and all.
    let body = bid("c1").body();
    let chunked = format!(
        "POST /{}/bids HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        route.client_id,
        body.len()
    );
    wire.send(chunked.as_bytes()).await;
    assert_eq!(wire.answer().await.status, 200);
    wire.send(&post(&route, "", &bid("after-hyper").body()))
        .await;
    assert_eq!(wire.answer().await.status, 200);
    wire.send(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
    let answer = wire.answer().await;
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok\n"[..]));

    assert_eq!(bidder.count(), 6);
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 6), ("bad_request", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_is_answered_then_closed() {
    let (proxy, _bidder, route) = bidding_proxy().await;
    let mut wire = Wire::open(&proxy).await;
    wire.send(&post(&route, "connection: close\r\n", &bid("r1").body()))
        .await;
    let answer = wire.answer().await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(wire.closed().await, "the server closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_answered_413_and_the_connection_closed() {
    let (proxy, bidder, route) = bidding_proxy().await;
    let mut wire = Wire::open(&proxy).await;
    let over = proxy.state.settings().max_body + 1;
    // Only the head: the answer must not wait for a body it will not read.
    wire.send(
        format!(
            "POST /{}/bids HTTP/1.1\r\ncontent-length: {over}\r\n\r\n",
            route.client_id
        )
        .as_bytes(),
    )
    .await;
    let answer = wire.answer().await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["error"]["id"], "TOO_LARGE");
    assert!(wire.closed().await);

    // A client still sending the body after the answer: the server reads and drops it for a
    // while instead of closing on unread data (which resets the connection: the client's next
    // write would fail, and a slower client could lose the answer).
    let mut wire = Wire::open(&proxy).await;
    let mut request = format!(
        "POST /{}/bids HTTP/1.1\r\ncontent-length: {over}\r\n\r\n",
        route.client_id
    )
    .into_bytes();
    request.resize(request.len() + 64 * 1024, b' ');
    wire.send(&request).await;
    let answer = wire.answer().await;
    assert_eq!(answer.status, 413);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let more = wire.stream.write_all(&[b' '; 64 * 1024]).await;
    assert!(more.is_ok(), "the rest of the body was refused: {more:?}");
    assert!(wire.closed().await);

    assert_eq!(bidder.count(), 0);
    metrics::assert_outcomes(route.stream_id, &[("too_large", 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let (proxy, _bidder, route) = bidding_proxy().await;
    let mut fast = Wire::open(&proxy).await;
    fast.send(&post(&route, "", &bid("r1").body())).await;
    assert_eq!(fast.answer().await.status, 200);
    // One connection handed to hyper, idle as well.
    let mut slow = Wire::open(&proxy).await;
    slow.send(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await;
    assert_eq!(slow.answer().await.status, 200);

    // The grace period is 10 s: a drain that waited for idle connections would take it all.
    tokio::time::timeout(Duration::from_secs(5), proxy.shutdown())
        .await
        .expect("the drain does not wait for idle connections")
        .expect("serve returns Ok");
    assert!(fast.closed().await);
    assert!(slow.closed().await);
}
