//! Win tokens across processes (SPEC §6, §7.2): two `bidsieve proxy` processes started on one
//! SQLite store, neither with `proxy.win_key` configured, take the key the store keeps, so a
//! nurl sealed by one opens on the other; a process configured with another key refuses it.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bidsieve_store::{CustomerInput, Store, StreamInput};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A `bidsieve proxy` child process, killed when dropped.
struct ProxyProcess {
    child: Child,
    port: u16,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "bidsieve-win-shared-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `bidsieve proxy` on the store at `url`, with `win_key` configured or not.
fn start_proxy(dir: &Path, url: &str, name: &str, win_key: Option<&str>) -> ProxyProcess {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidsieve"));
    // The test's own environment must not leak configuration into the child.
    for (key, _) in std::env::vars() {
        if key.starts_with("BIDSIEVE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.arg("proxy")
        .env("BIDSIEVE_STORE_URL", url)
        .env("BIDSIEVE_PROXY_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "BIDSIEVE_METRICS_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("BIDSIEVE_PROXY_POLL_INTERVAL", "200ms")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap());
    if let Some(key) = win_key {
        cmd.env("BIDSIEVE_PROXY_WIN_KEY", key);
    }
    ProxyProcess {
        child: cmd.spawn().unwrap(),
        port,
    }
}

/// What the test's HTTP calls return.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

async fn call(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Option<Answer> {
    let resp = client.request(req).await.ok()?;
    let status = resp.status();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some(Answer { status, body })
}

/// Waits until the proxy answers `/readyz` with 200 (its snapshot is loaded).
async fn ready(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    proxy: &mut ProxyProcess,
    dir: &Path,
    name: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
            panic!("bidsieve proxy {name} exited early ({status}):\n{log}");
        }
        let req = Request::get(format!("http://127.0.0.1:{}/readyz", proxy.port))
            .body(Full::new(Bytes::new()))
            .unwrap();
        if call(client, req)
            .await
            .is_some_and(|a| a.status == StatusCode::OK)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "bidsieve proxy {name} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A bidder bidding on every request with a nurl back to itself, recording the targets (path
/// and query) of the win notices it receives.
async fn start_bidder() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let wins = Arc::new(Mutex::new(Vec::new()));
    let seen = wins.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let target = req
                            .uri()
                            .path_and_query()
                            .map_or_else(String::new, |pq| pq.as_str().to_owned());
                        let body = if req.uri().path() == "/win" {
                            seen.lock().unwrap().push(target);
                            String::new()
                        } else {
                            serde_json::json!({
                                "id": "req-1",
                                "seatbid": [{"bid": [{
                                    "id": "b1", "impid": "1", "price": 0.9,
                                    "nurl": format!("http://{addr}/win?price=${{AUCTION_PRICE}}&imp=${{AUCTION_IMP_ID}}"),
                                    "adm": "<div>ad</div>"
                                }]}]
                            })
                            .to_string()
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, wins)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sealed_by_one_process_opens_in_another_sharing_the_store() {
    let dir = scratch();
    let url = format!("sqlite://{}/store.db", dir.display());
    let (bidder, wins) = start_bidder().await;

    // The configuration, written through the store API before any proxy starts.
    let store = Store::connect(&url).await.unwrap();
    let customer = store
        .create_customer(&CustomerInput {
            name: "Win Test".to_owned(),
            slug: "win-test".to_owned(),
            qps: 1000,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await
        .unwrap();
    let supplier = store.create_supplier("Supplier").await.unwrap();
    let stream = store
        .create_stream(&StreamInput {
            client_id: None,
            supplier_id: supplier.id,
            customer_id: customer.id,
            seat_id: "seat".to_owned(),
            customer_endpoint: format!("http://{bidder}/bids"),
        })
        .await
        .unwrap();
    store.close().await;

    // Both start at once: whichever creates the stored key first, both end up with it.
    let mut a = start_proxy(&dir, &url, "a", None);
    let mut b = start_proxy(&dir, &url, "b", None);
    let client = Client::builder(TokioExecutor::new()).build_http();
    ready(&client, &mut a, &dir, "a").await;
    ready(&client, &mut b, &dir, "b").await;

    let bid = Request::post(format!(
        "http://127.0.0.1:{}/{}/bids",
        a.port, stream.client_id
    ))
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from_static(
        br#"{"id":"req-1","imp":[{"id":"1","banner":{"w":300,"h":250}}],"tmax":500}"#,
    )))
    .unwrap();
    let answer = call(&client, bid).await.expect("proxy a answers");
    assert_eq!(answer.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let nurl = body["seatbid"][0]["bid"][0]["nurl"].as_str().unwrap();
    // (Win URLs carry tokens: assertion messages do not show them.)
    let prefix = format!("http://127.0.0.1:{}/win/", a.port);
    assert!(
        nurl.starts_with(&prefix),
        "proxy a did not seal the nurl with its public URL"
    );
    let win_path = nurl
        .strip_prefix(&format!("http://127.0.0.1:{}", a.port))
        .unwrap()
        .replace("${AUCTION_PRICE}", "0.61")
        .replace("${AUCTION_IMP_ID}", "1");

    // Presented to proxy b, which never saw the bid.
    let win = Request::get(format!("http://127.0.0.1:{}{win_path}", b.port))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = call(&client, win).await.expect("proxy b answers");
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        *wins.lock().unwrap(),
        vec!["/win?price=0.61&imp=1".to_owned()]
    );

    // A process configured with another key refuses it, and calls nothing.
    let other_key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="; // bytes 1..=32
    let mut c = start_proxy(&dir, &url, "c", Some(other_key));
    ready(&client, &mut c, &dir, "c").await;
    let win = Request::get(format!("http://127.0.0.1:{}{win_path}", c.port))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = call(&client, win).await.expect("proxy c answers");
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(wins.lock().unwrap().len(), 1);

    drop((a, b, c));
    let _ = std::fs::remove_dir_all(&dir);
}
