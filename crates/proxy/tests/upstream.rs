//! Forwarding and relaying (SPEC §2.2 steps 6-7): the original bytes and headers reach the
//! bidder; whatever the bidder does, the supplier gets a bid or a 204 within the request's
//! `tmax`, never a 5xx, and the right outcome is counted.

use std::time::{Duration, Instant};

use http::{Method, StatusCode, header};
use serde_json::json;

use crate::support::config::{self, Route};
use crate::support::request::{bid, gzip};
use crate::support::{Bidder, Proxy, Reply, Resp, bidder, metrics};

/// Slack over `tmax` for the supplier's answer: a correctness bound on a busy 2-core machine,
/// not a benchmark.
const SLACK: Duration = Duration::from_millis(150);

/// One request with `tmax` to a new stream whose bidder is at `endpoint`; the answer and how
/// long it took.
async fn one_request(proxy: &Proxy, endpoint: &str, tmax: u64) -> (Route, Resp, Duration) {
    let route = config::route(&proxy.store, 1_000_000, endpoint).await;
    proxy.synced().await;
    let started = Instant::now();
    let resp = proxy.bid(&route, bid("r1").tmax(tmax).body()).await;
    (route, resp, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_down_is_a_204_upstream_error() {
    let proxy = Proxy::start().await;
    let (route, resp, took) = one_request(&proxy, &bidder::closed_port_url().await, 100).await;
    resp.assert_no_content();
    assert!(took < Duration::from_millis(100) + SLACK, "took {took:?}");
    metrics::assert_outcomes(route.stream_id, &[("upstream_error", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_slower_than_tmax_is_a_204_upstream_timeout_within_tmax() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::slow(
        Duration::from_secs(2),
        Reply::Bid(bidder::bid_response("r1")),
    ))
    .await;
    let (route, resp, took) = one_request(&proxy, &bidder.url(), 100).await;
    resp.assert_no_content();
    assert!(
        took < Duration::from_millis(100) + SLACK,
        "took {took:?} for tmax 100"
    );
    // It did wait for the bidder (tmax 100 minus the 10 ms margin), having forwarded.
    assert!(took >= Duration::from_millis(85), "took only {took:?}");
    assert_eq!(bidder.count(), 1);
    metrics::assert_outcomes(route.stream_id, &[("upstream_timeout", 1)]);

    // Without tmax the wait is the configured maximum (300 ms by default).
    let started = Instant::now();
    let resp = proxy.bid(&route, r#"{"id":"r2","imp":[{"id":"1"}]}"#).await;
    let took = started.elapsed();
    resp.assert_no_content();
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(300) + SLACK,
        "took {took:?} without tmax"
    );
    metrics::assert_outcomes(route.stream_id, &[("upstream_timeout", 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_slow_but_within_tmax_is_relayed() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::slow(
        Duration::from_millis(50),
        Reply::Bid(bidder::bid_response("r1")),
    ))
    .await;
    let (route, resp, _) = one_request(&proxy, &bidder.url(), 1000).await;
    assert_eq!(resp.status, StatusCode::OK);
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_garbage_is_a_204_upstream_error() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Garbage).await;
    let (route, resp, took) = one_request(&proxy, &bidder.url(), 100).await;
    resp.assert_no_content();
    assert!(took < Duration::from_millis(100) + SLACK, "took {took:?}");
    assert_eq!(bidder.count(), 1);
    metrics::assert_outcomes(route.stream_id, &[("upstream_error", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_errors_are_a_204_never_a_5xx() {
    let proxy = Proxy::start().await;
    for code in [500, 503, 400, 404, 302] {
        let bidder = Bidder::start(Reply::Status(code)).await;
        let (route, resp, took) = one_request(&proxy, &bidder.url(), 100).await;
        resp.assert_no_content();
        assert!(
            took < Duration::from_millis(100) + SLACK,
            "bidder {code}: took {took:?}"
        );
        assert_eq!(bidder.count(), 1);
        metrics::assert_outcomes(route.stream_id, &[("upstream_error", 1)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidder_no_bid_is_a_204_no_bid() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::NoBid).await;
    let (route, resp, _) = one_request(&proxy, &bidder.url(), 100).await;
    resp.assert_no_content();
    // An empty 200 is a no-bid too.
    bidder.set_reply(Reply::Empty);
    proxy
        .bid(&route, bid("r2").body())
        .await
        .assert_no_content();
    assert_eq!(bidder.count(), 2);
    metrics::assert_outcomes(route.stream_id, &[("no_bid", 2)]);
    // And the same bidder bidding again is relayed (the pooled connection is still good).
    bidder.set_reply(Reply::Bid(bidder::bid_response("r3")));
    assert_eq!(
        proxy.bid(&route, bid("r3").body()).await.status,
        StatusCode::OK
    );
    metrics::assert_outcomes(route.stream_id, &[("no_bid", 2), ("forwarded_bid", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_an_in_flight_forward() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::slow(
        Duration::from_millis(150),
        Reply::Bid(bidder::bid_response("r1")),
    ))
    .await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    proxy.synced().await;
    let (client, url) = (proxy.client.clone(), proxy.bids_url(&route.client_id));
    let in_flight =
        tokio::spawn(async move { client.post_json(&url, bid("r1").tmax(1000).body()).await });
    // Wait until the bidder holds the request, then stop the proxy.
    while bidder.count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let addr = proxy.addr;
    tokio::time::timeout(Duration::from_secs(5), proxy.shutdown())
        .await
        .expect("the drain ends")
        .expect("serve returns Ok");
    let resp = in_flight.await.expect("request task");
    assert_eq!(
        resp.status,
        StatusCode::OK,
        "the in-flight request finished"
    );
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 1)]);
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bid_is_relayed_as_200_json() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("r1"))).await;
    let (route, resp, _) = one_request(&proxy, &bidder.url(), 200).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body = resp.json();
    assert_eq!(body["id"], "r1");
    assert_eq!(body["seatbid"][0]["bid"][0]["price"], 1.25);
    assert_eq!(body["seatbid"][0]["bid"][0]["impid"], "1");
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_bytes_and_headers_are_forwarded() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("r1"))).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{"field_type": "size", "filter_type": "white", "list": ["300x250"]}]),
    )
    .await;
    proxy.synced().await;
    let url = proxy.bids_url(&route.client_id);

    // Plain JSON, with odd spacing and key order: forwarded byte for byte.
    let plain =
        "{ \"imp\" : [ {\"banner\":{\"h\":250,\"w\":300},\"id\":\"1\"} ],\n  \"id\":\"plain\" }";
    let resp = proxy
        .client
        .send(
            Method::POST,
            &url,
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("x-openrtb-version", "2.6"),
            ],
            plain,
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    let got = bidder.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].path, "/openrtb/bid");
    assert_eq!(got[0].body, plain.as_bytes());
    assert_eq!(
        header_of(&got[0].headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(header_of(&got[0].headers, "x-openrtb-version"), Some("2.6"));
    assert_eq!(header_of(&got[0].headers, "content-encoding"), None);

    // gzip: filtered on the inflated JSON, forwarded still compressed with its header.
    let json = bid("zipped").sizes(&[(300, 250)]).body();
    let compressed = gzip(json.as_bytes());
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
        ("x-openrtb-version", "2.5"),
    ];
    let resp = proxy
        .client
        .send(Method::POST, &url, &headers, compressed.clone())
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    let got = bidder.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body, compressed, "the compressed bytes as received");
    assert_eq!(header_of(&got[1].headers, "content-encoding"), Some("gzip"));
    assert_eq!(
        header_of(&got[1].headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(header_of(&got[1].headers, "x-openrtb-version"), Some("2.5"));

    // A gzip request the filter rejects never reaches the bidder.
    let rejected = gzip(bid("zipped-728").sizes(&[(728, 90)]).body().as_bytes());
    let resp = proxy
        .client
        .send(Method::POST, &url, &headers, rejected)
        .await;
    resp.assert_no_content();
    assert_eq!(bidder.count(), 2);
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 2), ("filtered", 1)]);
}

fn header_of<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
