//! The customer's QPS cap (SPEC §2.2 step 5): a token bucket with a burst of one second's
//! worth over all the customer's streams; qps 0 pauses forwarding; filtered requests take no
//! token.

use std::time::Instant;

use http::StatusCode;
use serde_json::json;

use crate::support::config::{self, Route};
use crate::support::request::bid;
use crate::support::{Bidder, Proxy, Reply, bidder, metrics};

/// Sends `n` requests as fast as one client can, alternating over `routes`; returns how many
/// were answered with a bid and how long sending took (seconds).
async fn burst(proxy: &Proxy, routes: &[&Route], n: usize) -> (usize, f64) {
    let started = Instant::now();
    let mut bids = 0;
    for i in 0..n {
        let route = routes[i % routes.len()];
        let resp = proxy.bid(route, bid(&format!("q{i}")).body()).await;
        match resp.status {
            StatusCode::OK => bids += 1,
            StatusCode::NO_CONTENT => {}
            other => panic!("request {i}: {other}"),
        }
    }
    (bids, started.elapsed().as_secs_f64())
}

/// At most the burst plus what the rate refilled while sending.
fn assert_capped(forwarded: usize, qps: f64, burst: f64, seconds: f64) {
    let most = (burst + qps * seconds).floor() as usize;
    assert!(
        forwarded >= burst as usize && forwarded <= most,
        "forwarded {forwarded}: expected {burst} to {most} ({qps} qps over {seconds:.3} s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qps_5_forwards_the_burst_then_throttles_across_streams() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("q"))).await;
    let a = config::route(&proxy.store, 5, &bidder.url()).await;
    let other_supplier = config::supplier(&proxy.store).await;
    let b = config::sibling(&proxy.store, &a, other_supplier, &bidder.url()).await;
    proxy.synced().await;

    let (bids, seconds) = burst(&proxy, &[&a, &b], 40).await;
    assert_eq!(bids, bidder.count(), "every bid came from a forward");
    assert_capped(bids, 5.0, 5.0, seconds);
    let throttled =
        metrics::requests(a.stream_id, "throttled") + metrics::requests(b.stream_id, "throttled");
    let forwarded = metrics::requests(a.stream_id, "forwarded_bid")
        + metrics::requests(b.stream_id, "forwarded_bid");
    assert_eq!(forwarded as usize, bids);
    assert_eq!(throttled as usize, 40 - bids);

    // The bucket refills at 5 per second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = bidder.count();
    let (bids, seconds) = burst(&proxy, &[&a], 20).await;
    assert_eq!(bidder.count() - before, bids);
    assert_capped(bids, 5.0, 5.0, seconds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_requests_take_no_token() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("q"))).await;
    let route = config::route(&proxy.store, 5, &bidder.url()).await;
    config::create_filters(
        &proxy.store,
        route.customer_id,
        json!([{"field_type": "size", "filter_type": "white", "list": ["300x250"]}]),
    )
    .await;
    proxy.synced().await;
    for i in 0..20 {
        let resp = proxy
            .bid(&route, bid(&format!("f{i}")).sizes(&[(728, 90)]).body())
            .await;
        resp.assert_no_content();
    }
    let (bids, seconds) = burst(&proxy, &[&route], 10).await;
    assert_capped(bids, 5.0, 5.0, seconds);
    metrics::assert_outcomes(
        route.stream_id,
        &[
            ("filtered", 20),
            ("forwarded_bid", bids as u64),
            ("throttled", 10 - bids as u64),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qps_0_forwards_nothing_until_raised() {
    let proxy = Proxy::start().await;
    let bidder = Bidder::start(Reply::Bid(bidder::bid_response("q"))).await;
    let route = config::route(&proxy.store, 0, &bidder.url()).await;
    proxy.synced().await;
    let (bids, _) = burst(&proxy, &[&route], 10).await;
    assert_eq!(bids, 0);
    assert_eq!(bidder.count(), 0);
    metrics::assert_outcomes(route.stream_id, &[("throttled", 10)]);

    // Raised to 3 through the store: the new cap applies without a restart.
    config::set_qps(&proxy.store, route.customer_id, 3).await;
    proxy.synced().await;
    let (bids, seconds) = burst(&proxy, &[&route], 10).await;
    assert_eq!(bidder.count(), bids);
    assert_capped(bids, 3.0, 3.0, seconds);
}
