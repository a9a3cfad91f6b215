//! Replaces a 5,000,000-entry user list through `PUT /api/filters/{id}/list`, with the admin
//! API and the proxy in this one process on one SQLite store (as `bidsieve serve` runs them),
//! while bid requests flow through the proxy at a fixed rate.
//!
//! Prints, for each of two uploads (the first fills an empty list, the second replaces it):
//! the time from the first body byte to the 200, the process's peak RSS (`VmHWM`) and current
//! RSS; for the second, the bid requests sent while it was applied (count, failures, median,
//! p99 and worst latency) and how long after the 200 the proxy decided with the new list.
//!
//! ```text
//! cargo run --release -p bidsieve-admin --example list_put_5m [-- ENTRIES [RATE_PER_SECOND]]
//! ```
//!
//! The body is generated while it is sent (36-character UUID-like ids, one a line), so the
//! client side holds none of it.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use bidsieve_admin::{AdminSettings, AdminState};
use bidsieve_proxy::{Follower, ProxySettings, ProxyState};
use bidsieve_store::{CustomerInput, NewUser, Store, StreamInput};
use bidsieve_uid2::KeyCache;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

type Body = BoxBody<Bytes, Infallible>;
type HttpClient = Client<HttpConnector, Body>;

const DEFAULT_ENTRIES: usize = 5_000_000;
const DEFAULT_RATE: u64 = 2000;
/// Concurrent bid request senders (the rate is split between them).
const SENDERS: u64 = 4;
/// Lines per generated body chunk.
const LINES_PER_CHUNK: usize = 8192;
/// Length of one generated id.
const ID_LEN: usize = 36;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bidsieve_admin=info,warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let entries: usize = args.next().map_or(Ok(DEFAULT_ENTRIES), |a| a.parse())?;
    let rate: u64 = args.next().map_or(Ok(DEFAULT_RATE), |a| a.parse())?;

    let dir = std::env::temp_dir().join(format!("bidsieve-list-put-{}", std::process::id()));
    let store = Store::connect(&format!("sqlite://{}/bench.db", dir.display())).await?;
    let bidder = start_bidder().await?;
    let (client_id, customer_id) = seed(&store, bidder).await?;

    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin = admin_listener.local_addr()?;
    let state = AdminState::new(
        store.clone(),
        AdminSettings::new(b"bench secret, at least 32 bytes!".to_vec()),
    );
    tokio::spawn(bidsieve_admin::serve(
        admin_listener,
        state,
        std::future::pending(),
    ));

    let proxy_state = Arc::new(ProxyState::new(
        ProxySettings::default(),
        Arc::new(KeyCache::new()),
    ));
    let mut follower = Follower::new(
        store.clone(),
        proxy_state.clone(),
        Duration::from_millis(500),
    );
    follower.refresh().await?;
    tokio::spawn(follower.run(std::future::pending()));
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy = proxy_listener.local_addr()?;
    tokio::spawn(bidsieve_proxy::serve(
        proxy_listener,
        proxy_state,
        std::future::pending(),
    ));

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let token = login(&client, admin).await?;
    let created = call(
        &client,
        "POST",
        &format!("http://{admin}/api/filters?customer_id={customer_id}"),
        &token,
        json!({"filter": {"field_type": "user", "filter_type": "white", "list": ["probe-old"]}}),
    )
    .await?;
    let filter_id = created["data"]["id"].as_i64().ok_or("no filter id")?;
    let list_url = format!("http://{admin}/api/filters/{filter_id}/list?customer_id={customer_id}");
    let bid_url = format!("http://{proxy}/{client_id}/bids");
    println!(
        "customer {customer_id}, filter {filter_id}, {entries} entries of {ID_LEN} chars, {rate} bid requests/s"
    );
    println!(
        "start: VmHWM {} MB, VmRSS {} MB",
        status_mb("VmHWM"),
        status_mb("VmRSS")
    );

    // 1: an empty-ish list becomes 5M ids plus "probe-old".
    let took = put_list(&client, &list_url, &token, entries, 1, "probe-old").await?;
    println!(
        "upload 1 (fill):    200 after {:.2} s; VmHWM {} MB, VmRSS {} MB",
        took.as_secs_f64(),
        status_mb("VmHWM"),
        status_mb("VmRSS")
    );
    // Let the proxy pick it up before the measured replacement.
    wait_for(&client, &bid_url, "probe-old", 200, Duration::from_secs(60)).await?;
    println!(
        "proxy has list 1: VmHWM {} MB, VmRSS {} MB",
        status_mb("VmHWM"),
        status_mb("VmRSS")
    );

    // 2: replaced by another 5M ids plus "probe-new", under bid traffic for "probe-new".
    let load = Load::start(client.clone(), bid_url.clone(), rate);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let took = put_list(&client, &list_url, &token, entries, 2, "probe-new").await?;
    let answered = Instant::now();
    let flipped = wait_for(&client, &bid_url, "probe-new", 200, Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let samples = load.stop().await;
    println!(
        "upload 2 (replace): 200 after {:.2} s; VmHWM {} MB, VmRSS {} MB",
        took.as_secs_f64(),
        status_mb("VmHWM"),
        status_mb("VmRSS")
    );
    println!(
        "proxy decided with list 2 {} ms after the 200",
        flipped.saturating_duration_since(answered).as_millis()
    );
    report("bid requests during upload 2", &samples, started, flipped);
    report(
        "bid requests before it (baseline)",
        &samples,
        load_start(&samples),
        started,
    );

    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

// === world ===

async fn seed(store: &Store, bidder: SocketAddr) -> Result<(String, i64), Box<dyn Error>> {
    let customer = store
        .create_customer(&CustomerInput {
            name: "Bench".into(),
            slug: "bench".into(),
            qps: 1_000_000,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: true,
        })
        .await?;
    let supplier = store.create_supplier("Bench SSP").await?;
    let stream = store
        .create_stream(&StreamInput {
            client_id: None,
            supplier_id: supplier.id,
            customer_id: customer.id,
            seat_id: "1".into(),
            customer_endpoint: format!("http://{bidder}/bids"),
        })
        .await?;
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(b"bench password", &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    store
        .create_user(&NewUser {
            email: "ops@bench.example".into(),
            password_hash: hash,
            role: "operator".into(),
            customer_id: None,
        })
        .await?;
    Ok((stream.client_id, customer.id))
}

/// A bidder that bids on everything.
async fn start_bidder() -> Result<SocketAddr, Box<dyn Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let body = r#"{"id":"r","seatbid":[{"seat":"s","bid":[{"id":"b","impid":"1","price":0.5}]}]}"#;
                    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    resp.headers_mut().insert(
                        "content-type",
                        "application/json"
                            .parse()
                            .unwrap_or_else(|_| unreachable!()),
                    );
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

// === admin calls ===

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

async fn login(client: &HttpClient, admin: SocketAddr) -> Result<String, Box<dyn Error>> {
    let request = Request::post(format!("http://{admin}/api/login"))
        .header("content-type", "application/json")
        .body(full(
            r#"{"email":"ops@bench.example","password":"bench password"}"#,
        ))?;
    let response = client.request(request).await?;
    let body: Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
    Ok(body["data"]["jwt"]
        .as_str()
        .ok_or("login failed")?
        .to_owned())
}

async fn call(
    client: &HttpClient,
    method: &str,
    url: &str,
    token: &str,
    body: Value,
) -> Result<Value, Box<dyn Error>> {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(full(serde_json::to_vec(&body)?))?;
    let response = client.request(request).await?;
    let status = response.status();
    let body: Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
    if !status.is_success() {
        return Err(format!("{method} {url}: {status} {body}").into());
    }
    Ok(body)
}

/// A 36-char id from (seed, i): hex of two mixed 64-bit words, dashed like a UUID.
fn id(seed: u64, i: u64, out: &mut String) {
    let mix = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    };
    let a = mix(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i);
    let b = mix(a ^ 0x5851_f42d_4c95_7f2d);
    let hex = format!("{a:016x}{b:016x}");
    out.push_str(&hex[0..8]);
    out.push('-');
    out.push_str(&hex[8..12]);
    out.push('-');
    out.push_str(&hex[12..16]);
    out.push('-');
    out.push_str(&hex[16..20]);
    out.push('-');
    out.push_str(&hex[20..32]);
}

/// PUTs `entries` generated ids plus `extra`, streamed; returns the time to the 200.
async fn put_list(
    client: &HttpClient,
    url: &str,
    token: &str,
    entries: usize,
    seed: u64,
    extra: &str,
) -> Result<Duration, Box<dyn Error>> {
    let length = entries * (ID_LEN + 1) + extra.len() + 1;
    let extra = format!("{extra}\n");
    let chunks = futures_util::stream::unfold(0usize, move |start| {
        let extra = extra.clone();
        async move {
            if start > entries {
                return None;
            }
            if start == entries {
                return Some((
                    Ok::<_, Infallible>(Frame::data(Bytes::from(extra))),
                    entries + 1,
                ));
            }
            let end = (start + LINES_PER_CHUNK).min(entries);
            let mut text = String::with_capacity((end - start) * (ID_LEN + 1));
            for i in start..end {
                id(seed, i as u64, &mut text);
                text.push('\n');
            }
            Some((Ok(Frame::data(Bytes::from(text))), end))
        }
    });
    let request = Request::put(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .header("content-length", length)
        .body(BodyExt::boxed(StreamBody::new(chunks)))?;
    let started = Instant::now();
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let took = started.elapsed();
    if status != 200 {
        return Err(format!("PUT list: {status} {}", String::from_utf8_lossy(&body)).into());
    }
    let data: Value = serde_json::from_slice(&body)?;
    println!("  answer: {}", data["data"]["list"]);
    Ok(took)
}

// === bid traffic ===

fn bid_request(user: &str) -> Bytes {
    Bytes::from(
        json!({"id": "bench", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
               "user": {"id": user}, "tmax": 200})
        .to_string(),
    )
}

/// One bid request: its start, latency and status (0 for a failure).
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    latency: Duration,
    status: u16,
}

async fn send_bid(client: &HttpClient, url: &str, body: Bytes) -> u16 {
    let Ok(request) = Request::post(url)
        .header("content-type", "application/json")
        .body(full(body))
    else {
        return 0;
    };
    match client.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.into_body().collect().await {
                Ok(_) => status,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    }
}

/// Waits until a request for `user` gets `status`; returns when it did.
async fn wait_for(
    client: &HttpClient,
    url: &str,
    user: &str,
    status: u16,
    limit: Duration,
) -> Result<Instant, Box<dyn Error>> {
    let started = Instant::now();
    loop {
        if send_bid(client, url, bid_request(user)).await == status {
            return Ok(Instant::now());
        }
        if started.elapsed() > limit {
            return Err(
                format!("the proxy did not answer {status} for {user} within {limit:?}").into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Load {
    fn start(client: HttpClient, url: String, rate: u64) -> Load {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let period = Duration::from_micros(1_000_000 * SENDERS / rate.max(1));
        let tasks = (0..SENDERS)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let body = bid_request("probe-new");
                    let mut samples = Vec::new();
                    let mut ticks = tokio::time::interval(period);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    while !*stopped.borrow() {
                        ticks.tick().await;
                        let at = Instant::now();
                        let status = send_bid(&client, &url, body.clone()).await;
                        samples.push(Sample {
                            at,
                            latency: at.elapsed(),
                            status,
                        });
                    }
                    samples
                })
            })
            .collect();
        Load { stop, tasks }
    }

    async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        let mut all = Vec::new();
        for task in self.tasks {
            if let Ok(samples) = task.await {
                all.extend(samples);
            }
        }
        all
    }
}

fn load_start(samples: &[Sample]) -> Instant {
    samples
        .iter()
        .map(|s| s.at)
        .min()
        .unwrap_or_else(Instant::now)
}

fn report(what: &str, samples: &[Sample], from: Instant, to: Instant) {
    let mut window: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at >= from && s.at < to)
        .collect();
    if window.is_empty() {
        println!("{what}: none");
        return;
    }
    window.sort_by_key(|s| s.latency);
    let n = window.len();
    let failed = window
        .iter()
        .filter(|s| s.status != 200 && s.status != 204)
        .count();
    let pick = |q: f64| window[((n as f64 * q) as usize).min(n - 1)].latency;
    let seconds = to.saturating_duration_since(from).as_secs_f64();
    println!(
        "{what}: {n} in {seconds:.2} s ({:.0}/s), {failed} failed; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        n as f64 / seconds.max(1e-9),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        window[n - 1].latency.as_secs_f64() * 1e3
    );
}

/// A `/proc/self/status` line in MB (0 where it cannot be read).
fn status_mb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
