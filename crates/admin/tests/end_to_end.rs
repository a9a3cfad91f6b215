//! End to end: the admin API and the proxy on one store (as `bidsieve serve` runs them), a stub
//! bidder, the seed guide's UK hierarchy built through the API, bid requests decided as SPEC
//! §3.2 says, and a list replaced with PUT deciding within a second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bidsieve_proxy::{Follower, ProxySettings, ProxyState};
use bidsieve_uid2::KeyCache;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use crate::support::World;

/// A bidder that bids on every request.
async fn start_bidder() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let body = r#"{"id":"r","seatbid":[{"seat":"s","bid":[{"id":"b","impid":"1","price":0.5}]}]}"#;
                    let mut resp =
                        hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    resp.headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The proxy on the world's store; returns its address.
async fn start_proxy(world: &World) -> SocketAddr {
    let state = Arc::new(ProxyState::new(
        ProxySettings::default(),
        Arc::new(KeyCache::new()),
    ));
    let mut follower = Follower::new(
        world.server.store.clone(),
        state.clone(),
        Duration::from_millis(200),
    );
    follower.refresh().await.unwrap();
    tokio::spawn(follower.run(std::future::pending()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bidsieve_proxy::serve(
        listener,
        state,
        std::future::pending(),
    ));
    addr
}

struct Bids {
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
}

impl Bids {
    /// The proxy's status for a request: 200 forwarded (the bidder bids), 204 dropped.
    async fn status(&self, country: &str, size: (u32, u32), score: f64, user: &str) -> u16 {
        let body = json!({"id": "r1", "tmax": 200,
            "imp": [{"id": "1", "banner": {"w": size.0, "h": size.1}}],
            "device": {"geo": {"country": country}},
            "user": {"id": user},
            "ext": {"authenticated": {"authed": {"score": score}}}});
        let request = hyper::Request::post(&self.url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        response.into_body().collect().await.unwrap();
        status
    }
}

/// Polls `check` until it holds; returns how long that took (panics after `limit`).
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uk_hierarchy_decides_bids_and_a_list_put_takes_effect_within_a_second() {
    let world = World::new().await;
    let s = &world.server;
    let bidder = start_bidder().await;
    let proxy = start_proxy(&world).await;
    let bids = Bids {
        client: Client::builder(TokioExecutor::new()).build_http(),
        url: format!("http://{proxy}/{}/bids", world.acme.client_id),
    };
    // The operator points acme's stream at the bidder.
    s.json(
        "PUT",
        &format!("/api/streams/{}", world.acme.stream_id),
        &world.op,
        json!({"stream": {"customer_endpoint": format!("http://{bidder}/bids")}}),
    )
    .await
    .expect_ok(200);

    // The customer builds the guide's hierarchy: OR at the top, two AND groups.
    let t = &world.acme.token;
    let root = world.acme.root_filter;
    s.json(
        "PUT",
        &format!("/api/filters/{root}"),
        t,
        json!({"filter": {"field_type": "or"}}),
    )
    .await
    .expect_ok(200);
    s.json("POST", "/api/filters", t, json!({"filters": [
        {"id": 2, "field_type": "size", "operator": "equals", "list": ["300x250","320x100","320x50"], "filter_type": "white", "parent_id": 4},
        {"id": 3, "field_type": "authed", "operator": "greaterthan", "threshold": 0.5, "filter_type": "threshold", "parent_id": 4},
        {"id": 4, "field_type": "and", "filter_type": "boolean", "parent_id": root},
        {"id": 5, "field_type": "country", "operator": "equals", "list": ["UK"], "filter_type": "white", "parent_id": 4}
    ]}))
    .await
    .expect_ok(201);
    s.json("POST", "/api/filters", t, json!({"filters": [
        {"id": 6, "field_type": "authed", "operator": "greaterthan", "threshold": 0.7, "filter_type": "threshold", "parent_id": 8},
        {"id": 7, "field_type": "country", "operator": "equals", "list": ["UK"], "filter_type": "black", "parent_id": 8},
        {"id": 8, "field_type": "and", "filter_type": "boolean", "parent_id": root}
    ]}))
    .await
    .expect_ok(201);

    // (country, size, score) -> forwarded?
    let cases = [
        ("GBR", (300, 250), 0.6, true), // UK, listed size, at least 0.5
        ("GB", (300, 250), 0.5, true),  // "at least": 0.5 passes
        ("GB", (728, 90), 0.6, false),  // size not listed; UK fails the other group
        ("GB", (300, 250), 0.4, false), // score too low for both
        ("US", (728, 90), 0.8, true),   // not UK and at least 0.7
        ("US", (300, 250), 0.6, false), // not UK, below 0.7
    ];
    let took = within(Duration::from_secs(1), || async {
        for (country, size, score, forwarded) in cases {
            let expected = if forwarded { 200 } else { 204 };
            if bids.status(country, size, score, "u").await != expected {
                return false;
            }
        }
        true
    })
    .await;
    assert!(took < Duration::from_secs(1));
    // The explained decision agrees with the proxy's.
    for (country, size, score, forwarded) in cases {
        let body = json!({"id": "r1", "imp": [{"id": "1", "banner": {"w": size.0, "h": size.1}}],
            "device": {"geo": {"country": country}},
            "ext": {"authenticated": {"authed": {"score": score}}}});
        let data = s
            .json(
                "POST",
                &format!("/api/filters/explain?stream_id={}", world.acme.stream_id),
                t,
                body,
            )
            .await
            .expect_ok(200);
        assert_eq!(
            data["decision"],
            if forwarded { "forward" } else { "drop" },
            "{country} {size:?} {score}"
        );
    }

    // A third alternative: a user white list, replaced with PUT.
    let created: Value = s
        .json(
            "POST",
            "/api/filters",
            t,
            json!({"filter": {"field_type": "user", "filter_type": "white", "list": ["vip-1"]}}),
        )
        .await
        .expect_ok(201);
    let list = format!("/api/filters/{}/list", created["id"]);
    within(Duration::from_secs(1), || async {
        bids.status("US", (728, 90), 0.1, "vip-1").await == 200
    })
    .await;
    assert_eq!(bids.status("US", (728, 90), 0.1, "vip-2").await, 204);
    s.send(
        "PUT",
        &list,
        Some(t),
        &[("content-type", "text/plain")],
        "vip-2\nvip-3\n",
    )
    .await
    .expect_ok(200);
    let took = within(Duration::from_secs(1), || async {
        bids.status("US", (728, 90), 0.1, "vip-2").await == 200
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(bids.status("US", (728, 90), 0.1, "vip-1").await, 204);

    // A rejected change reaches nothing.
    s.send(
        "PUT",
        &list,
        Some(t),
        &[("content-type", "text/plain")],
        "vip-4\n\u{0}\n",
    )
    .await
    .expect_error(400, "VALIDATION");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bids.status("US", (728, 90), 0.1, "vip-2").await, 200);
    assert_eq!(bids.status("US", (728, 90), 0.1, "vip-4").await, 204);
}
