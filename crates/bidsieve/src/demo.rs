//! `serve --demo`: demo data, a demo bidder on loopback, and the curl lines of the tour.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use bidsieve_store::{CustomerInput, NewUser, Store, StreamInput};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::Config;

/// Client id of the demo's first stream (fixed so that the printed curl lines stay valid).
pub(crate) const DEMO_STREAM_A: &str = "de00000000000000000000000000000a";
/// Client id of the demo's second stream.
pub(crate) const DEMO_STREAM_B: &str = "de00000000000000000000000000000b";
/// The demo operator's login.
pub(crate) const DEMO_EMAIL: &str = "operator@demo.bidsieve";
/// The demo operator's password (a demo, on loopback: printed on purpose).
pub(crate) const DEMO_PASSWORD: &str = "demo-password";
/// The demo customer's slug.
const DEMO_SLUG: &str = "demo-bidder";

/// The running demo bidder.
pub(crate) struct DemoBidder {
    /// Where it listens (loopback, ephemeral port).
    pub(crate) addr: SocketAddr,
}

/// Starts the demo bidder: it bids 1.25 USD on the first impression of every request, with a
/// win notice URL pointing back at itself.
pub(crate) async fn start_bidder(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<DemoBidder> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the demo bidder")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                () = &mut shutdown => break,
            };
            tokio::spawn(async move {
                let service = service_fn(move |req| async move {
                    Ok::<_, Infallible>(bidder_answer(addr, req).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(DemoBidder { addr })
}

async fn bidder_answer(
    addr: SocketAddr,
    req: http::Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    if path == "/win" {
        tracing::info!(%query, "demo bidder: win notice received");
        return status(StatusCode::OK);
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return status(StatusCode::BAD_REQUEST);
    };
    let id = request["id"].as_str().unwrap_or_default();
    let imp = request["imp"][0]["id"].as_str().unwrap_or("1");
    let answer = serde_json::json!({
        "id": id,
        "cur": "USD",
        "seatbid": [{
            "seat": "demo-seat",
            "bid": [{
                "id": "demo-bid-1",
                "impid": imp,
                "price": 1.25,
                "adid": "demo-ad",
                "crid": "demo-creative",
                "nurl": demo_nurl(addr),
                "adm": "<div>demo creative</div>",
                "w": 300,
                "h": 250
            }]
        }]
    });
    let mut resp = Response::new(Full::new(Bytes::from(answer.to_string())));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The win notice URL of the demo bidder's bids (OpenRTB macros for the price and impression).
fn demo_nurl(addr: SocketAddr) -> String {
    format!("http://{addr}/win?price=${{AUCTION_PRICE}}&imp=${{AUCTION_IMP_ID}}")
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = code;
    resp
}

/// Seeds (or refreshes) the demo data: operator, customer, two suppliers, two streams pointed
/// at the demo bidder, and a small filter tree (size white list, country white list).
pub(crate) async fn seed(store: &Store, bidder: &DemoBidder) -> anyhow::Result<()> {
    let endpoint = format!("http://{}/bids", bidder.addr);
    let existing = store
        .customers()
        .await?
        .into_iter()
        .find(|c| c.slug == DEMO_SLUG);
    if let Some(customer) = existing {
        // Already seeded by an earlier run: the bidder's port changed, nothing else.
        for stream in store.streams_of(customer.id).await? {
            let input = StreamInput {
                client_id: Some(stream.client_id.clone()),
                supplier_id: stream.supplier_id,
                customer_id: stream.customer_id,
                seat_id: stream.seat_id.clone(),
                customer_endpoint: endpoint.clone(),
            };
            store.update_stream(stream.id, &input).await?;
        }
        return Ok(());
    }

    let mut tx = store.begin().await?;
    let customer = tx
        .create_customer(&CustomerInput {
            name: "Demo Bidder Inc.".to_owned(),
            slug: DEMO_SLUG.to_owned(),
            qps: 1000,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await?;
    let openx = tx.create_supplier("OpenX").await?;
    let opera = tx.create_supplier("Opera").await?;
    for (client_id, supplier) in [(DEMO_STREAM_A, &openx), (DEMO_STREAM_B, &opera)] {
        tx.create_stream(&StreamInput {
            client_id: Some(client_id.to_owned()),
            supplier_id: supplier.id,
            customer_id: customer.id,
            seat_id: "demo-seat".to_owned(),
            customer_endpoint: endpoint.clone(),
        })
        .await?;
    }
    let root = tx
        .filters_of(customer.id)
        .await?
        .into_iter()
        .find(|f| f.parent_id.is_none())
        .context("the new demo customer has no root filter")?;
    let size = tx
        .insert_filter(
            customer.id,
            Some(root.id),
            "white",
            "size",
            Some("equals"),
            None,
        )
        .await?;
    tx.replace_list(size, ["300x250", "320x50"]).await?;
    let country = tx
        .insert_filter(
            customer.id,
            Some(root.id),
            "white",
            "country",
            Some("equals"),
            None,
        )
        .await?;
    tx.replace_list(country, ["US", "GB", "CA"]).await?;
    if store.user_by_email(DEMO_EMAIL).await?.is_none() {
        tx.create_user(&NewUser {
            email: DEMO_EMAIL.to_owned(),
            password_hash: crate::user_cmd::hash_password(DEMO_PASSWORD)?,
            role: "operator".to_owned(),
            customer_id: None,
        })
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A demo bid request: one banner impression of `w`x`h` seen in `country`.
fn demo_request(id: &str, w: u32, h: u32, country: &str) -> String {
    format!(
        r#"{{"id":"{id}","tmax":200,"imp":[{{"id":"1","banner":{{"w":{w},"h":{h}}}}}],"site":{{"domain":"www.example.com"}},"device":{{"geo":{{"country":"{country}"}}}},"user":{{"id":"demo-user-1"}}}}"#
    )
}

/// Prints the newcomer's tour: what runs where and curl lines to paste.
pub(crate) async fn print_tour(
    config: &Config,
    store: &Store,
    bidder: &DemoBidder,
) -> anyhow::Result<()> {
    let proxy = &config.proxy.listen;
    let forwarded = demo_request("demo-req-1", 300, 250, "USA");
    let dropped = demo_request("demo-req-2", 728, 90, "USA");
    let streams = store.streams().await?;
    let stream = streams
        .iter()
        .find(|s| s.client_id == DEMO_STREAM_A)
        .context("the demo stream is missing from the store")?;
    let redirect = store.customer(stream.customer_id).await?.redirect_wins;
    // Sealed here with the proxy's key, exactly as the proxy seals the demo bidder's nurl in the
    // bid response; then the macros replaced as a supplier would.
    let key = crate::run::win_key(config, store).await?;
    let win = bidsieve_proxy::win_url(
        &key,
        &config.proxy.public_url,
        stream.id,
        redirect,
        &demo_nurl(bidder.addr),
    )
    .context("the demo nurl cannot be sealed")?
    .replace("${AUCTION_PRICE}", "1.10")
    .replace("${AUCTION_IMP_ID}", "1");
    let streams = streams.len();
    let tour = format!(
        r#"
bidsieve demo is running ({streams} streams; demo bidder on {bidder})
  proxy    http://{proxy}        metrics http://{metrics}/metrics
  admin    http://{admin}        operator login: {email} / {password}

Forwarded to the demo bidder, which answers with a bid (HTTP 200):
  curl -i -X POST http://{proxy}/{stream_a}/bids -H 'Content-Type: application/json' -d '{forwarded}'

Dropped by the size white list (HTTP 204):
  curl -i -X POST http://{proxy}/{stream_a}/bids -H 'Content-Type: application/json' -d '{dropped}'

A win notice. In the bid above, seatbid[0].bid[0].nurl is the demo bidder's nurl sealed into a
bidsieve URL ending in ?imp=${{AUCTION_IMP_ID}}&price=${{AUCTION_PRICE}}. The supplier that wins
the auction puts the impression id and the clearing price in place of the macros and calls it;
bidsieve calls the bidder's own nurl with those values (the demo bidder logs "win notice
received") and answers 204. Here is such a URL, sealed for this tour with the same key:
  curl -i '{win}'

What was counted:
  curl -s http://{metrics}/metrics | grep -E 'bidsieve_(requests|wins)_total'

Stop with Ctrl-C.
"#,
        bidder = bidder.addr,
        metrics = config.metrics.listen,
        admin = config.admin.listen,
        email = DEMO_EMAIL,
        password = DEMO_PASSWORD,
        stream_a = DEMO_STREAM_A,
    );
    #[allow(clippy::print_stdout)] // the demo's purpose is to show these lines
    {
        println!("{tour}");
    }
    Ok(())
}
