//! The load tests' bidder: as cheap as possible, so that it shares the load generator's core
//! without becoming the bottleneck. It reads each request body and answers with a fixed
//! no-bid (204) or a fixed, realistic bid response carrying an `nurl` with auction macros.
//!
//! ```text
//! stub_bidder --listen 127.0.0.1:18100 --mode nobid|bid
//! ```
//! `GET /_stats` answers `{"requests":N}`: the bid requests received so far, which the driver
//! reads to check how many requests each target forwarded. `POST /_mode/bid` and
//! `POST /_mode/nobid` switch the answer without closing the targets' pooled connections.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

fn bid_body(addr: &str) -> Bytes {
    let body = serde_json::json!({
        "id": "stub-request",
        "bidid": "stub-bid-response-1",
        "cur": "USD",
        "seatbid": [{
            "seat": "acme-seat-1",
            "bid": [{
                "id": "bid-1",
                "impid": "1",
                "price": 1.42,
                "adid": "ad-7781",
                "crid": "creative-7781",
                "cid": "campaign-311",
                "adomain": ["acme-shoes.example"],
                "cat": ["IAB18-3"],
                "w": 300,
                "h": 250,
                "nurl": format!("http://{addr}/win?bid=bid-1&price=${{AUCTION_PRICE}}&imp=${{AUCTION_IMP_ID}}&auction=${{AUCTION_ID}}"),
                "burl": format!("http://{addr}/bill?bid=bid-1&price=${{AUCTION_PRICE}}"),
                "adm": "<div class=\"ad\"><a href=\"https://acme-shoes.example/click?c=311&amp;cr=7781\"><img src=\"https://cdn.acme-shoes.example/creatives/7781-300x250.jpg\" width=\"300\" height=\"250\" alt=\"Acme running shoes\"></a></div>"
            }]
        }]
    });
    Bytes::from(body.to_string())
}

fn main() -> anyhow::Result<()> {
    let mut listen = None;
    let mut bid = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().context("--listen needs an address")?),
            "--mode" => {
                bid = match args.next().as_deref() {
                    Some("nobid") => false,
                    Some("bid") => true,
                    other => bail!("--mode nobid|bid, not {other:?}"),
                }
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let listen = listen.context("--listen ADDR is required")?;
    let addr = bidsieve_loadtest::loopback_addr(&listen)?;
    let state = Arc::new(State {
        body: bid_body(&listen),
        count: AtomicU64::new(0),
        bidding: AtomicBool::new(bid),
    });
    bidsieve_loadtest::current_thread_runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!("stub bidder on {addr}");
        bidsieve_loadtest::serve_http1(listener, move |req| answer(state.clone(), req)).await;
        Ok(())
    })
}

/// What the connections share.
struct State {
    body: Bytes,
    count: AtomicU64,
    bidding: AtomicBool,
}

async fn answer(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/_stats") => {
            let n = state.count.load(Ordering::Relaxed);
            let bid = state.bidding.load(Ordering::Relaxed);
            let stats = format!("{{\"requests\":{n},\"bid\":{bid}}}");
            return Response::new(Full::new(Bytes::from(stats)));
        }
        (&Method::POST, "/_mode/bid") => {
            state.bidding.store(true, Ordering::Relaxed);
            return Response::new(Full::new(Bytes::new()));
        }
        (&Method::POST, "/_mode/nobid") => {
            state.bidding.store(false, Ordering::Relaxed);
            return Response::new(Full::new(Bytes::new()));
        }
        _ => {}
    }
    let read = req.into_body().collect().await;
    state.count.fetch_add(1, Ordering::Relaxed);
    let mut resp = Response::new(Full::new(Bytes::new()));
    if read.is_err() {
        *resp.status_mut() = StatusCode::BAD_REQUEST;
    } else if state.bidding.load(Ordering::Relaxed) {
        *resp.body_mut() = Full::new(state.body.clone());
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    } else {
        *resp.status_mut() = StatusCode::NO_CONTENT;
    }
    resp
}
