//! Bid responses and win notices (SPEC §6) over real HTTP: a bidder whose bid carries notice
//! URLs pointing at a recording notice server, the proxy in between, and the win URLs called
//! as a supplier would after substituting the auction macros.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bidsieve_proxy::{ProxySettings, WinKey};
use bidsieve_store::CustomerInput;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::support::config::{self, Route};
use crate::support::metrics;
use crate::support::request::{bid, gzip};
use crate::support::{Bidder, Proxy, ProxyOptions, Reply};

/// What the proxy writes in front of `/win/` (not its listen address: the tests map it back,
/// which shows the configured base is the one used).
const PUBLIC_URL: &str = "https://bids.bidsieve.test";
/// The configured tag.
const TAG: &str = r#"<img src="https://t.bidsieve.test/i.gif?s={stream_id}&b={bid_id}&i={imp_id}" width="1" height="1">"#;

/// A server standing for the bidder's notice endpoint: records the target of every request
/// (path and query, as received) and answers with the status (after the delay) it is given.
struct NoticeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(Method, String)>>>,
}

impl NoticeServer {
    async fn start(status: StatusCode, delay: Duration) -> NoticeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let target = req
                                .uri()
                                .path_and_query()
                                .map_or_else(String::new, |pq| pq.as_str().to_owned());
                            log.lock().unwrap().push((req.method().clone(), target));
                            tokio::time::sleep(delay).await;
                            let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
                            *resp.status_mut() = status;
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        NoticeServer { addr, seen }
    }

    async fn ok() -> NoticeServer {
        Self::start(StatusCode::OK, Duration::ZERO).await
    }

    fn seen(&self) -> Vec<(Method, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// The original nurl of the tests' bids: macros in the path and the query, a parameter
    /// that is not a macro, and one macro the supplier will not substitute.
    fn nurl(&self) -> String {
        format!(
            "http://{}/w/${{AUCTION_ID}}?price=${{AUCTION_PRICE}}&imp=${{AUCTION_IMP_ID}}&c=x%20y&e=${{AUCTION_PRICE:B64}}&l=${{AUCTION_LOSS}}",
            self.addr
        )
    }

    fn burl(&self) -> String {
        format!(
            "http://{}/bill?p=${{AUCTION_PRICE}}&cur=${{AUCTION_CURRENCY}}",
            self.addr
        )
    }
}

/// The customer's three settings.
#[derive(Clone, Copy, Default)]
struct Flags {
    keep_nurl: bool,
    redirect_wins: bool,
    inject_tag: bool,
}

/// A proxy (public URL and tag configured), a stream whose customer has `flags`, and a bidder
/// answering `response` to every request.
async fn setup(flags: Flags, response: String) -> (Proxy, Route, Bidder) {
    let proxy = Proxy::start_with(ProxyOptions {
        settings: ProxySettings {
            public_url: PUBLIC_URL.to_owned(),
            tag_html: TAG.to_owned(),
            ..ProxySettings::default()
        },
        ..ProxyOptions::default()
    })
    .await;
    let bidder = Bidder::start(Reply::Bid(response)).await;
    let route = config::route(&proxy.store, 1_000_000, &bidder.url()).await;
    let current = proxy.store.customer(route.customer_id).await.unwrap();
    proxy
        .store
        .update_customer(
            route.customer_id,
            &CustomerInput {
                name: current.name,
                slug: current.slug,
                qps: current.qps,
                keep_nurl: flags.keep_nurl,
                redirect_wins: flags.redirect_wins,
                inject_tag: flags.inject_tag,
            },
        )
        .await
        .unwrap();
    proxy.synced().await;
    (proxy, route, bidder)
}

/// A bid response with one bid carrying `nurl` and `burl`, and an HTML `adm`.
fn response_with_notices(notice: &NoticeServer) -> String {
    json!({
        "id": "req-1",
        "bidid": "resp-1",
        "cur": "USD",
        "seatbid": [{"seat": "seat-9", "bid": [{
            "id": "bid-1", "impid": "imp-1", "price": 1.5, "adid": "ad-1", "crid": "cr-1",
            "nurl": notice.nurl(),
            "burl": notice.burl(),
            "adm": "<div>creative</div>"
        }]}]
    })
    .to_string()
}

/// The proxy's URL for a win URL the proxy wrote (`{PUBLIC_URL}/win/...`).
fn local(proxy: &Proxy, win_url: &str) -> String {
    let rest = win_url
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("a win URL does not start with {PUBLIC_URL}"));
    proxy.url(rest)
}

/// What a supplier does: substitutes the macros of the auction it ran into the win URL.
fn substitute(url: &str) -> String {
    url.replace("${AUCTION_ID}", "req-1")
        .replace("${AUCTION_PRICE}", "1.23")
        .replace("${AUCTION_IMP_ID}", "imp-1")
        .replace("${AUCTION_PRICE:B64}", "MS4yMw==")
        .replace("${AUCTION_CURRENCY}", "USD")
}

fn first_bid(body: &Value) -> &Value {
    &body["seatbid"][0]["bid"][0]
}

fn wins(route: &Route) -> u64 {
    metrics::value(
        "bidsieve_wins_total",
        &[("stream", &route.stream_id.to_string())],
    ) as u64
}

fn notices(result: &str) -> f64 {
    metrics::value("bidsieve_win_notices_total", &[("result", result)])
}

/// Waits until the notice server saw `n` requests (the proxy answers 204 after its call, so
/// this is immediate; the loop only guards against a slow machine).
async fn wait_seen(server: &NoticeServer, n: usize) -> Vec<(Method, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = server.seen();
        if seen.len() >= n || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nurl_is_sealed_and_the_win_reaches_the_bidder_url_exactly() {
    let notice = NoticeServer::ok().await;
    let (proxy, route, _bidder) = setup(Flags::default(), response_with_notices(&notice)).await;
    let resp = proxy.bid(&route, bid("req-1").body()).await;
    assert_eq!(resp.status, StatusCode::OK);
    let text = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(
        !text.contains(&notice.addr.to_string()),
        "the bidder's notice URLs leak into the relayed response"
    );
    let body = resp.json();
    let nurl = first_bid(&body)["nurl"].as_str().unwrap().to_owned();
    let (_, query) = nurl.split_once('?').unwrap();
    // (Win URLs carry tokens: assertion messages do not show them.)
    assert!(nurl.starts_with(&format!("{PUBLIC_URL}/win/")));
    // Exactly the macros the original used, literally.
    assert_eq!(
        query,
        "auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&price=${AUCTION_PRICE}&loss=${AUCTION_LOSS}&price_b64=${AUCTION_PRICE:B64}"
    );
    // Everything else is as the bidder sent it.
    let mut expected: Value = serde_json::from_str(&response_with_notices(&notice)).unwrap();
    expected["seatbid"][0]["bid"][0]["nurl"] = first_bid(&body)["nurl"].clone();
    expected["seatbid"][0]["bid"][0]["burl"] = first_bid(&body)["burl"].clone();
    assert_eq!(body, expected);

    let called_before = notices("called");
    // The supplier substitutes what it knows; AUCTION_LOSS stays (not part of a win).
    let win = proxy.client.get(&local(&proxy, &substitute(&nurl))).await;
    win.assert_no_content();
    let seen = wait_seen(&notice, 1).await;
    assert_eq!(
        seen,
        vec![(
            Method::GET,
            "/w/req-1?price=1.23&imp=imp-1&c=x%20y&e=MS4yMw==&l=${AUCTION_LOSS}".to_owned()
        )]
    );
    assert_eq!(wins(&route), 1);
    assert!(notices("called") > called_before);

    // The billing notice goes the same way and is not a win.
    let burl = first_bid(&body)["burl"].as_str().unwrap().to_owned();
    assert!(burl.ends_with("?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}"));
    proxy
        .client
        .get(&local(&proxy, &substitute(&burl)))
        .await
        .assert_no_content();
    let seen = wait_seen(&notice, 2).await;
    assert_eq!(seen[1], (Method::GET, "/bill?p=1.23&cur=USD".to_owned()));
    assert_eq!(wins(&route), 1);
    assert!(
        bidsieve_proxy::prometheus()
            .render()
            .contains("bidsieve_win_notice_duration_seconds_count")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_nurl_relays_the_response_byte_identical() {
    let notice = NoticeServer::ok().await;
    // Spacing and key order a re-serialization would not keep.
    let original = format!(
        "{{ \"id\" : \"req-1\",\n  \"seatbid\" : [ {{ \"bid\": [ {{\"price\":1.50, \"nurl\" : \"{}\", \"burl\":\"{}\", \"impid\":\"1\",\"id\":\"b\"}} ] }} ] }}\n",
        notice.nurl(),
        notice.burl()
    );
    let flags = Flags {
        keep_nurl: true,
        ..Flags::default()
    };
    let (proxy, route, _bidder) = setup(flags, original.clone()).await;
    let resp = proxy.bid(&route, bid("req-1").body()).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, Bytes::from(original));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_without_nurl_is_relayed_byte_identical() {
    let original = "{\"id\":\"req-1\", \"seatbid\":[{\"seat\":\"s\",\"bid\":[{\"id\":\"b1\",\"impid\":\"1\",\"price\":2.0e0,\"adm\":\"<?xml version=\\\"1.0\\\"?><VAST version=\\\"4.0\\\"></VAST>\",\"lurl\":\"http://b/l?r=${AUCTION_LOSS}\"}]}],\"cur\":\"EUR\"}";
    // Sealing and tagging on: nothing in this response is for them.
    let flags = Flags {
        inject_tag: true,
        ..Flags::default()
    };
    let (proxy, route, _bidder) = setup(flags, original.to_owned()).await;
    let resp = proxy.bid(&route, bid("req-1").body()).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, Bytes::from_static(original.as_bytes()));
    metrics::assert_outcomes(route.stream_id, &[("forwarded_bid", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_wins_answers_302_to_the_substituted_url() {
    let notice = NoticeServer::ok().await;
    let flags = Flags {
        redirect_wins: true,
        ..Flags::default()
    };
    let (proxy, route, _bidder) = setup(flags, response_with_notices(&notice)).await;
    let body = proxy.bid(&route, bid("req-1").body()).await.json();
    let nurl = first_bid(&body)["nurl"].as_str().unwrap().to_owned();
    let resp = proxy.client.get(&local(&proxy, &substitute(&nurl))).await;
    assert_eq!(resp.status, StatusCode::FOUND);
    assert_eq!(
        resp.headers[header::LOCATION],
        format!(
            "http://{}/w/req-1?price=1.23&imp=imp-1&c=x%20y&e=MS4yMw==&l=${{AUCTION_LOSS}}",
            notice.addr
        )
        .as_str()
    );
    assert_eq!(wins(&route), 1);
    // The proxy itself called nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(notice.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_truncated_and_foreign_tokens_are_400_and_call_nothing() {
    let notice = NoticeServer::ok().await;
    let (proxy, route, _bidder) = setup(Flags::default(), response_with_notices(&notice)).await;
    let body = proxy.bid(&route, bid("req-1").body()).await.json();
    let nurl = substitute(first_bid(&body)["nurl"].as_str().unwrap());
    let (path, query) = nurl.split_once('?').unwrap();
    let token = path.rsplit('/').next().unwrap().to_owned();

    // A token sealed with another key, for the same URL.
    let mut foreign = String::new();
    WinKey::new(&[7; 32])
        .seal(
            &bidsieve_openrtb::Notice {
                kind: bidsieve_openrtb::NoticeKind::Win,
                redirect: false,
                stream_id: route.stream_id,
                url: &notice.nurl(),
            },
            [1; 12],
            &mut foreign,
        )
        .unwrap();
    // One character changed in the middle (where a byte of ciphertext lies).
    let mut tampered = token.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        format!("/win/{tampered}?{query}"),
        format!("/win/{}?{query}", &token[..token.len() - 3]),
        format!("/win/{}?{query}", &token[..token.len() / 2]),
        format!("/win/{foreign}?{query}"),
        format!("/win/?{query}"),
        format!("/win/{token}x?{query}"),
        format!("/win/{token}?{query}&pad={}", "a".repeat(9000)),
        format!("/win/{}", "A".repeat(9000)),
    ];
    let rejected_before = notices("rejected");
    for case in &cases {
        let resp = proxy.client.get(&proxy.url(case)).await;
        resp.assert_error(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    assert!(notices("rejected") >= rejected_before + cases.len() as f64);
    // Wrong method on a win path.
    let resp = proxy
        .client
        .send(Method::POST, &proxy.url(&format!("/win/{token}")), &[], "")
        .await;
    resp.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(resp.headers[header::ALLOW], "GET");

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        notice.seen().is_empty(),
        "a refused token called {:?}",
        notice.seen()
    );
    assert_eq!(wins(&route), 0);
    // The genuine token still works.
    proxy
        .client
        .get(&proxy.url(&format!("/win/{token}?{query}")))
        .await
        .assert_no_content();
    assert_eq!(wait_seen(&notice, 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_tag_goes_into_html_and_not_into_vast() {
    let vast =
        r#"<?xml version="1.0" encoding="UTF-8"?><VAST version="4.0"><Ad id="1"></Ad></VAST>"#;
    let response = json!({
        "id": "req-1",
        "seatbid": [{"seat": "s", "bid": [
            {"adm": "<div class=\"ad\">buy</div>", "id": "bid<1>", "impid": "imp&1", "price": 1.0},
            {"id": "bid-2", "impid": "2", "price": 1.0, "adm": vast},
            {"id": "bid-3", "impid": "3", "price": 1.0, "adm": "{\"native\":{\"ver\":\"1.2\"}}"}
        ]}]
    })
    .to_string();
    let flags = Flags {
        inject_tag: true,
        keep_nurl: true,
        ..Flags::default()
    };
    let (proxy, route, _bidder) = setup(flags, response.clone()).await;
    let body = proxy.bid(&route, bid("req-1").body()).await.json();
    let bids = &body["seatbid"][0]["bid"];
    assert_eq!(
        bids[0]["adm"],
        format!(
            "<div class=\"ad\">buy</div><img src=\"https://t.bidsieve.test/i.gif?s={}&b=bid&lt;1&gt;&i=imp&amp;1\" width=\"1\" height=\"1\">",
            route.stream_id
        )
        .as_str()
    );
    let original: Value = serde_json::from_str(&response).unwrap();
    assert_eq!(bids[1], original["seatbid"][0]["bid"][1]);
    assert_eq!(bids[2], original["seatbid"][0]["bid"][2]);

    // inject_tag off: the same response goes out untouched.
    let current = proxy.store.customer(route.customer_id).await.unwrap();
    proxy
        .store
        .update_customer(
            route.customer_id,
            &CustomerInput {
                name: current.name,
                slug: current.slug,
                qps: current.qps,
                keep_nurl: true,
                redirect_wins: false,
                inject_tag: false,
            },
        )
        .await
        .unwrap();
    proxy.synced().await;
    let resp = proxy.bid(&route, bid("req-2").body()).await;
    assert_eq!(resp.body, Bytes::from(response));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_notice_url_is_counted_and_the_supplier_still_gets_204() {
    let failing = NoticeServer::start(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let (proxy, route, _bidder) = setup(Flags::default(), response_with_notices(&failing)).await;
    let body = proxy.bid(&route, bid("req-1").body()).await.json();
    let nurl = substitute(first_bid(&body)["nurl"].as_str().unwrap());
    let before = notices("bad_status");
    proxy
        .client
        .get(&local(&proxy, &nurl))
        .await
        .assert_no_content();
    assert!(notices("bad_status") > before);
    // Called once, not retried.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(failing.seen().len(), 1);
    // A win is a win even when the bidder's endpoint fails.
    assert_eq!(wins(&route), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_notice_url_is_abandoned_after_the_bound() {
    let slow = NoticeServer::start(StatusCode::OK, Duration::from_secs(10)).await;
    let (proxy, route, _bidder) = setup(Flags::default(), response_with_notices(&slow)).await;
    let body = proxy.bid(&route, bid("req-1").body()).await.json();
    let nurl = substitute(first_bid(&body)["nurl"].as_str().unwrap());
    let before = notices("timeout");
    let started = Instant::now();
    proxy
        .client
        .get(&local(&proxy, &nurl))
        .await
        .assert_no_content();
    let took = started.elapsed();
    assert!(
        took >= bidsieve_proxy::WIN_NOTICE_TIMEOUT
            && took < bidsieve_proxy::WIN_NOTICE_TIMEOUT + Duration::from_secs(1),
        "took {took:?}"
    );
    assert!(notices("timeout") > before);
    assert_eq!(slow.seen().len(), 1);
}

/// A bidder answering every request with `body`, gzip-compressed, `Content-Encoding: gzip`.
async fn gzip_bidder(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let zipped = Bytes::from(gzip(body.as_bytes()));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let zipped = zipped.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<Incoming>| {
                    let mut resp = Response::new(Full::new(zipped.clone()));
                    resp.headers_mut()
                        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
                    resp.headers_mut()
                        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/bid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_response_is_rewritten_and_relayed_uncompressed_or_relayed_as_is() {
    let notice = NoticeServer::ok().await;
    let proxy = Proxy::start_with(ProxyOptions {
        settings: ProxySettings {
            public_url: PUBLIC_URL.to_owned(),
            ..ProxySettings::default()
        },
        ..ProxyOptions::default()
    })
    .await;
    // With a nurl: rewritten, so sent as plain JSON without Content-Encoding.
    let with_nurl = config::route(
        &proxy.store,
        1_000_000,
        &gzip_bidder(response_with_notices(&notice)).await,
    )
    .await;
    // Without: the bidder's compressed bytes and their Content-Encoding, untouched.
    let plain = r#"{"id":"req-1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}"#;
    let without = config::route(
        &proxy.store,
        1_000_000,
        &gzip_bidder(plain.to_owned()).await,
    )
    .await;
    proxy.synced().await;

    let resp = proxy.bid(&with_nurl, bid("req-1").body()).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.headers.get(header::CONTENT_ENCODING).is_none());
    let body = resp.json();
    let nurl = first_bid(&body)["nurl"].as_str().unwrap().to_owned();
    assert!(nurl.starts_with(&format!("{PUBLIC_URL}/win/")));
    proxy
        .client
        .get(&local(&proxy, &substitute(&nurl)))
        .await
        .assert_no_content();
    assert_eq!(wait_seen(&notice, 1).await.len(), 1);

    let resp = proxy.bid(&without, bid("req-2").body()).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(resp.body, Bytes::from(gzip(plain.as_bytes())));
}
