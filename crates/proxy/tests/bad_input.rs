//! Bad input (SPEC §2.1, §2.2 steps 1-3): the documented status and JSON error body, the
//! server keeps serving, and nothing is logged at warn or error level for it.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use tracing::Level;

use crate::support::client::raw_exchange;
use crate::support::config::{self, Route};
use crate::support::request::{bid, gzip};
use crate::support::{Bidder, Proxy, Reply, bidder, logs, metrics};

/// Ten megabytes.
const TEN_MB: usize = 10 * 1024 * 1024;

/// A valid request: 200 with the bidder's bid.
async fn assert_still_serving(proxy: &Proxy, route: &Route, after: &str) {
    let resp = proxy.bid(route, bid("good").body()).await;
    assert_eq!(resp.status, StatusCode::OK, "good request after {after}");
    assert_eq!(resp.json()["seatbid"][0]["bid"][0]["price"], 1.25);
}

/// Runs on one thread so that the log capture sees this test's events only.
#[tokio::test(flavor = "current_thread")]
async fn bad_requests_get_their_status_and_json_error_and_the_server_keeps_serving() {
    let capture = logs::capture();
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("good"))).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    proxy.synced().await;
    let url = proxy.bids_url(&route.client_id);
    let json_ct = ("content-type", "application/json");
    let gz = ("content-encoding", "gzip");

    // Step 3: not a bid request.
    let not_bid_requests: &[(&str, &[u8])] = &[
        ("not JSON", b"id=1&imp=2"),
        ("truncated JSON", br#"{"id": "r1", "imp": [{"id": "1""#),
        ("empty body", b""),
        ("an array", br#"[{"id": "r1", "imp": [{"id": "1"}]}]"#),
        ("a string", br#""r1""#),
        ("a number", b"42"),
        ("no id", br#"{"imp": [{"id": "1"}]}"#),
        ("numeric id", br#"{"id": 42, "imp": [{"id": "1"}]}"#),
        ("null id", br#"{"id": null, "imp": [{"id": "1"}]}"#),
        ("no imp", br#"{"id": "r1"}"#),
        ("empty imp", br#"{"id": "r1", "imp": []}"#),
        ("imp not an array", br#"{"id": "r1", "imp": {"id": "1"}}"#),
    ];
    for (name, body) in not_bid_requests {
        let resp = proxy
            .client
            .send(Method::POST, &url, &[json_ct], Bytes::from_static(body))
            .await;
        resp.assert_error(StatusCode::BAD_REQUEST, "BAD_REQUEST");
        assert_still_serving(&proxy, &route, name).await;
    }

    // Step 2: gzip that does not inflate.
    let good = bid("gz").body();
    let compressed = gzip(good.as_bytes());
    let truncated = compressed[..compressed.len() / 2].to_vec();
    let not_gzip = good.clone().into_bytes();
    for (name, body) in [
        ("truncated gzip", truncated),
        ("gzip header, plain body", not_gzip),
    ] {
        let resp = proxy
            .client
            .send(Method::POST, &url, &[json_ct, gz], body)
            .await;
        resp.assert_error(StatusCode::BAD_REQUEST, "BAD_REQUEST");
        assert_still_serving(&proxy, &route, name).await;
    }

    // Step 2: limits. A gzip body far under the 256 KiB limit that inflates past 1 MiB.
    let bomb_json = format!(
        r#"{{"id": "r1", "imp": [{{"id": "1"}}], "ext": {{"pad": "{}"}}}}"#,
        "a".repeat(4 * 1024 * 1024)
    );
    let bomb = gzip(bomb_json.as_bytes());
    assert!(
        bomb.len() < 64 * 1024,
        "the bomb compresses well: {}",
        bomb.len()
    );
    let resp = proxy
        .client
        .send(Method::POST, &url, &[json_ct, gz], bomb)
        .await;
    resp.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE");
    assert_still_serving(&proxy, &route, "a gzip bomb").await;

    // A 10 MB body declared with Content-Length: answered before the upload ends.
    let head = format!(
        "POST /{}/bids HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {TEN_MB}\r\n\r\n",
        route.client_id
    );
    let raw = raw_exchange(
        proxy.addr,
        head,
        Bytes::from(vec![b' '; TEN_MB]),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(raw.status, Some(413), "10 MB with content-length");
    assert_error_body(&raw.body, "TOO_LARGE");
    assert_still_serving(&proxy, &route, "10 MB with content-length").await;

    // A 10 MB body sent chunked (no length known up front): cut off at the limit.
    let head = format!(
        "POST /{}/bids HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        route.client_id
    );
    let chunk = vec![b' '; 64 * 1024];
    let mut body = Vec::with_capacity(TEN_MB + 4096);
    for _ in 0..(TEN_MB / chunk.len()) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let raw = raw_exchange(proxy.addr, head, Bytes::from(body), Duration::from_secs(10)).await;
    assert_eq!(raw.status, Some(413), "10 MB chunked");
    assert_error_body(&raw.body, "TOO_LARGE");
    assert_still_serving(&proxy, &route, "10 MB chunked").await;

    // Step 1 and the routes: unknown stream, wrong method, unknown path.
    let unknown = proxy.bids_url("0123456789abcdef0123456789abcdef");
    let resp = proxy.client.post_json(&unknown, bid("u").body()).await;
    resp.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_still_serving(&proxy, &route, "an unknown stream").await;

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let resp = proxy
            .client
            .send(method.clone(), &url, &[], bid("m").body())
            .await;
        resp.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
        assert_eq!(
            resp.headers.get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"POST"[..])
        );
        assert_still_serving(&proxy, &route, &format!("{method} on a stream")).await;
    }
    let resp = proxy
        .client
        .send(Method::POST, &proxy.url("/healthz"), &[], Bytes::new())
        .await;
    resp.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(
        resp.headers.get(header::ALLOW).map(|v| v.as_bytes()),
        Some(&b"GET"[..])
    );

    for path in [
        "/".to_owned(),
        "/nope".to_owned(),
        "/bids".to_owned(),
        format!("/{}/bids/extra", route.client_id),
        format!("/{}/bid", route.client_id),
        "/metrics".to_owned(),
    ] {
        let resp = proxy
            .client
            .post_json(&proxy.url(&path), bid("p").body())
            .await;
        resp.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_still_serving(&proxy, &route, &path).await;
    }

    // One outcome per request that reached the stream: 14 bad requests, 3 too large, and the
    // good ones (one after each bad input: 12 + 2 + 3 + 1 + 3 + 6).
    metrics::assert_outcomes(
        route.stream_id,
        &[("bad_request", 14), ("too_large", 3), ("forwarded_bid", 27)],
    );
    assert_eq!(
        bidder.count(),
        27,
        "only the good requests reached the bidder"
    );

    // The capture works: it saw the snapshot publications (info), the first from `start`, the
    // later ones from the follower's spawned task. And it saw no warning or error.
    let events = capture.events();
    let published = events
        .iter()
        .filter(|e| {
            e.target.starts_with("bidsieve_proxy")
                && e.level == Level::INFO
                && e.text.contains("snapshot published")
        })
        .count();
    assert!(
        published >= 2,
        "the capture saw the proxy's events: {events:?}"
    );
    let loud = capture.at_least(Level::WARN);
    assert!(
        loud.is_empty(),
        "warn/error events for bad input: {loud:#?}"
    );
}

fn assert_error_body(body: &[u8], id: &str) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    assert_eq!(json["error"]["id"], id, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_is_cut_off_with_408() {
    // Regression: the body was read without a deadline (hyper bounds only the headers), so a
    // client that declared 500 bytes and sent 20 held the connection forever.
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("good"))).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    proxy.synced().await;
    let head = format!(
        "POST /{}/bids HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n",
        route.client_id
    );
    let started = std::time::Instant::now();
    let raw = raw_exchange(
        proxy.addr,
        head,
        Bytes::from_static(br#"{"id": "r1", "imp": ["#),
        Duration::from_secs(20),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(raw.status, Some(408), "after {took:?}");
    assert_error_body(&raw.body, "REQUEST_TIMEOUT");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    metrics::assert_outcomes(route.stream_id, &[("bad_request", 1)]);
    assert_eq!(bidder.count(), 0);
    assert_still_serving(&proxy, &route, "a stalled body").await;
}
