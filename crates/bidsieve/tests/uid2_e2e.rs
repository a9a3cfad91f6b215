//! UID2 end to end (issue 4's "Must show"): the `bidsieve` binary against the oracle's loopback
//! mock operator (`testdata/uid2-oracle/mock_operator.py serve`), which speaks the real encrypted
//! key-endpoint envelope and injects faults.
//!
//! - `uid2_proxy_end_to_end_with_the_mock_operator`: `bidsieve proxy` with `[uid2]` pointing at
//!   the mock and filters `uid2_status white [SUCCESS]` / `uid2 white [UID]`; requests with UID2
//!   v4 tokens minted here (valid now, under the mock's shifted keys) are forwarded or dropped
//!   exactly per the filters; the faults `wrong_nonce`, `wrong_secret`, `http_500`, `garbage`
//!   and an operator that is down keep the old keys working; a new key set at the operator is
//!   picked up without a restart.
//! - `uid2_decrypt_cli_matches_the_vectors`: `bidsieve uid2 decrypt` on every bidstream token
//!   vector that has a key set, against `recommended`, never echoing a whole token.
//!
//! The first test needs Python with the pinned `uid2-client` (the mock imports it): the
//! interpreter is `$BIDSIEVE_UID2_PYTHON`, else the workspace's `.venv/bin/python3`, else
//! `python3`; without it the test prints why and skips. `.ci/run` installs it.
#![allow(clippy::print_stdout)] // the tests report what they saw, and why they skip

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bidsieve_store::{CustomerInput, Store, StreamInput};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

/// Every wait of the test is bounded by this (a loaded 2-core machine is slow, never stuck).
const WAIT: Duration = Duration::from_secs(20);

// === the oracle's files =====================================================================

fn oracle_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        dir.join("../../testdata/uid2-oracle"),
        dir.join("../../../shared/uid2-oracle"),
    ]
    .into_iter()
    .find(|d| d.join("vectors.json").is_file())
    .expect("uid2-oracle/vectors.json")
}

fn vectors() -> Value {
    serde_json::from_slice(&std::fs::read(oracle_dir().join("vectors.json")).unwrap()).unwrap()
}

/// The Python that can run the mock operator (the pinned `uid2-client` importable), or why none
/// can.
fn python() -> Result<String, String> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python3");
    let py = std::env::var("BIDSIEVE_UID2_PYTHON").unwrap_or_else(|_| {
        if venv.is_file() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    let requirements =
        std::fs::read_to_string(oracle_dir().join("requirements.txt")).unwrap_or_default();
    let pinned = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("uid2-client=="))
        .unwrap_or("")
        .trim()
        .to_owned();
    let out = Command::new(&py)
        .args([
            "-c",
            "import importlib.metadata as m, uid2_client, Crypto.Cipher; print(m.version('uid2-client'))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let version = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if pinned.is_empty() || version == pinned {
                Ok(py)
            } else {
                Err(format!(
                    "{py} has uid2-client {version}, the oracle pins {pinned} (pip install -r testdata/uid2-oracle/requirements.txt)"
                ))
            }
        }
        Ok(_) => Err(format!(
            "{py} cannot import uid2_client (python3 -m venv .venv && .venv/bin/pip install -r testdata/uid2-oracle/requirements.txt, or set BIDSIEVE_UID2_PYTHON)"
        )),
        Err(e) => Err(format!("cannot run {py}: {e}")),
    }
}

// === processes and scratch space ============================================================

fn scratch(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "bidsieve-uid2-{name}-{}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidsieve"));
    // The test's own environment must not leak configuration into the child.
    for (key, _) in std::env::vars() {
        if key.starts_with("BIDSIEVE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The last lines of a log file, for failure messages (neither process logs tokens or keys).
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running `mock_operator.py serve --shift-to-now` on loopback; killed on drop.
struct Mock {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Mock {
    /// Starts the mock on `port` (0: any) serving key set `key_set` of `vectors`, in `mode`.
    fn start(py: &str, port: u16, vectors: &Path, key_set: &str, mode: &str, log: &Path) -> Mock {
        let dir = oracle_dir();
        let mut child = Command::new(py)
            .arg("-u")
            .arg(dir.join("mock_operator.py"))
            .args(["serve", "--shift-to-now", "--port", &port.to_string()])
            .arg("--vectors")
            .arg(vectors)
            .args(["--bidstream-key-set", key_set, "--mode", mode])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("spawn the mock operator");
        // First line: "mock operator on http://127.0.0.1:PORT (...)", read with a deadline.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        let bound = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok());
        let Some(bound) = bound else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the mock operator did not start:\n{}", tail(log, 30));
        };
        Mock {
            child,
            port: bound,
            log: log.to_owned(),
        }
    }

    /// `POST /_mock/mode` with the mode name as body.
    fn set_mode(&self, mode: &str) {
        let (status, body) = http(
            self.port,
            &format!(
                "POST /_mock/mode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{mode}",
                mode.len()
            ),
        )
        .expect("the mock answers");
        assert_eq!(status, 200, "mode {mode}: {body}");
    }

    /// Stops the mock and waits until it is gone (its port refuses connections).
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            println!("--- mock operator log\n{}", tail(&self.log, 30));
        }
    }
}

/// A running `bidsieve proxy`; killed on drop, with its log printed when the test failed.
struct Bidsieve {
    child: Child,
    proxy: u16,
    metrics: u16,
    log: PathBuf,
}

impl Drop for Bidsieve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            println!("--- bidsieve log\n{}", tail(&self.log, 60));
        }
    }
}

impl Bidsieve {
    /// GET /metrics on the metrics listener.
    fn metrics(&self) -> String {
        self.try_metrics().expect("GET /metrics answers 200")
    }

    /// GET /metrics; `None` until the listener answers 200.
    fn try_metrics(&self) -> Option<String> {
        match http(
            self.metrics,
            "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        ) {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }

    /// POSTs a bid request to `/{client_id}/bids`; returns the status and the body.
    fn bid(&self, client_id: &str, request: &Value) -> (u16, String) {
        let body = request.to_string();
        http(
            self.proxy,
            &format!(
                "POST /{client_id}/bids HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nx-openrtb-version: 2.6\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .expect("the proxy answers")
    }

    /// Polls /metrics until `ok` holds, for at most [`WAIT`].
    fn wait_metrics(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("bidsieve exited early ({status}) while waiting for {what}");
            }
            let text = self.try_metrics().unwrap_or_default();
            if !text.is_empty() && ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; uid2 metrics:\n{}",
                uid2_lines(&text)
            );
            std::thread::sleep(Duration::from_millis(40));
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`); the status and the body.
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
}

/// The value of one Prometheus series (`name{labels}` exactly as exposed), 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The sum of `bidsieve_uid2_refresh_total` over every result other than `success`.
fn refresh_failures(text: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("bidsieve_uid2_refresh_total{") && !l.contains("result=\"success\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `result=n` for every failure result that grew from `before` to `after`.
fn failure_deltas(before: &str, after: &str) -> String {
    [
        "transport",
        "timeout",
        "http_status",
        "body",
        "envelope",
        "nonce",
        "key_set",
    ]
    .iter()
    .filter_map(|r| {
        let d = refreshes(after, r) - refreshes(before, r);
        (d > 0.0).then(|| format!("{r}+{d}"))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

fn refreshes(text: &str, result: &str) -> f64 {
    metric(
        text,
        &format!("bidsieve_uid2_refresh_total{{result=\"{result}\"}}"),
    )
}

fn decrypts(text: &str, status: &str) -> f64 {
    metric(
        text,
        &format!("bidsieve_uid2_decrypt_total{{status=\"{status}\"}}"),
    )
}

fn uid2_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.starts_with("bidsieve_uid2"))
        .collect::<Vec<_>>()
        .join("\n")
}

// === the test bidder ========================================================================

/// A loopback bidder answering every request with a one-bid 200, remembering what arrived.
struct Bidder {
    url: String,
    /// (path, bid request id) of every request received, in order.
    arrivals: Arc<Mutex<Vec<(String, String)>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bidder {
    fn start() -> Bidder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let seen = arrivals.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let conn = tokio::select! {
                        _ = &mut stopped => break,
                        conn = listener.accept() => conn,
                    };
                    let Ok((stream, _)) = conn else { continue };
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |req| answer(req, seen.clone()));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Bidder {
            url,
            arrivals,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn arrived(&self, path: &str, id: &str) -> bool {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .any(|(p, i)| p == path && i == id)
    }

    fn count(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }
}

impl Drop for Bidder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await?.to_bytes();
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let bid = json!({
        "id": id,
        "cur": "USD",
        "seatbid": [{"seat": "e2e-seat", "bid": [{"id": format!("bid-{id}"), "impid": "1", "price": 1.25}]}]
    });
    seen.lock().unwrap().push((path, id));
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bid.to_string())))
        .unwrap())
}

// === minting UID2 tokens ====================================================================

/// A UID2 key: its id and its AES-256-GCM cipher.
struct Key {
    id: u32,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(id: u32, secret: &[u8]) -> Key {
        Key {
            id,
            cipher: Aes256Gcm::new_from_slice(secret).unwrap(),
        }
    }

    /// A key of the vectors' `key_material` (name as there, e.g. `M_CUR`).
    fn material(vectors: &Value, name: &str) -> Key {
        let k = &vectors["key_material"][name];
        let secret = STANDARD.decode(k["secret_b64"].as_str().unwrap()).unwrap();
        Key::new(u32::try_from(k["id"].as_u64().unwrap()).unwrap(), &secret)
    }

    /// `nonce(12) | ciphertext | tag(16)` of `plain`, with a fresh random nonce.
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        out.extend(self.cipher.encrypt(&Nonce::from(nonce), plain).unwrap());
        out
    }
}

/// What goes into a minted token.
struct TokenSpec {
    /// The publisher's site id (101 has site data: example.com, com.example.game, ...).
    site_id: u32,
    /// Bit 1 (0x2): client-side generated, so the domain/app check applies.
    privacy_bits: u32,
    established_ms: i64,
    generated_ms: i64,
    expires_ms: i64,
    raw_uid: [u8; 33],
}

impl TokenSpec {
    /// A server-side token for `raw_uid`, generated a minute ago, valid two more days.
    fn valid(raw_uid: [u8; 33]) -> TokenSpec {
        let now = now_ms();
        TokenSpec {
            site_id: 101,
            privacy_bits: 0,
            established_ms: now - 10 * 86_400_000,
            generated_ms: now - 60_000,
            expires_ms: now + 2 * 86_400_000,
            raw_uid,
        }
    }
}

/// An advertising token v4 (base64url, no padding), UID2 scope, email, as `ref/uid2.md` §4 lays
/// it out: `prefix | 0x80 | master key id | GCM_master(expires | generated | operator site id |
/// operator type | operator version | operator key id | site key id | GCM_site(site id |
/// publisher id | client key id | privacy bits | established | refreshed | raw UID))`.
fn mint_v4(master: &Key, site: &Key, t: &TokenSpec) -> String {
    let mut inner = Vec::with_capacity(36 + 33);
    inner.extend_from_slice(&t.site_id.to_be_bytes());
    inner.extend_from_slice(&7u64.to_be_bytes()); // publisher id (ignored by decryptors)
    inner.extend_from_slice(&0u32.to_be_bytes()); // client key id
    inner.extend_from_slice(&t.privacy_bits.to_be_bytes());
    inner.extend_from_slice(&t.established_ms.to_be_bytes());
    inner.extend_from_slice(&t.generated_ms.to_be_bytes()); // refreshed
    inner.extend_from_slice(&t.raw_uid);

    let mut outer = Vec::with_capacity(33 + 16 + inner.len() + 28);
    outer.extend_from_slice(&t.expires_ms.to_be_bytes());
    outer.extend_from_slice(&t.generated_ms.to_be_bytes());
    outer.extend_from_slice(&9u32.to_be_bytes()); // operator site id
    outer.push(1); // operator type: service
    outer.extend_from_slice(&5u32.to_be_bytes()); // operator version
    outer.extend_from_slice(&1u32.to_be_bytes()); // operator key id
    outer.extend_from_slice(&site.id.to_be_bytes());
    outer.extend(site.seal(&inner));

    // Prefix: scope UID2 (0) << 4 | type email (0) << 2 | 0b11.
    let mut token = vec![0x03, 0x80];
    token.extend_from_slice(&master.id.to_be_bytes());
    token.extend(master.seal(&outer));
    URL_SAFE_NO_PAD.encode(token)
}

/// A 33-byte raw UID in the v4 layout (version flag, UID2, email; checksum last), distinct per
/// `n`; the decryptor treats it as opaque bytes.
fn raw_uid(n: u8) -> [u8; 33] {
    let mut raw = [0u8; 33];
    raw[0] = 1 << 5;
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(n);
    for b in &mut raw[1..32] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_be_bytes()[0];
    }
    raw[32] = raw[..32].iter().fold(0, |a, b| a ^ b);
    raw
}

/// The UID string a decryptor returns for `raw`: standard base64 with padding.
fn uid_text(raw: &[u8; 33]) -> String {
    STANDARD.encode(raw)
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

// === bid requests ===========================================================================

/// Where a request carries its UID2 token.
#[derive(Clone, Copy)]
enum Carrier {
    /// OpenRTB 2.6 `user.eids`.
    Eids,
    /// OpenRTB 2.5 `user.ext.eids`.
    ExtEids,
    /// `user.eids`, but from another ID provider: not a UID2 token.
    OtherSource,
}

fn bid_request(id: &str, token: Option<(&str, Carrier)>, placement: Value) -> Value {
    let mut req = json!({
        "id": id,
        "tmax": 5000,
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
    });
    for (k, v) in placement.as_object().unwrap() {
        req[k] = v.clone();
    }
    if let Some((token, carrier)) = token {
        let source = match carrier {
            Carrier::OtherSource => "id5-sync.com",
            _ => "uidapi.com",
        };
        let eids = json!([
            {"source": "liveramp.com", "uids": [{"id": "XY1000", "atype": 3}]},
            {"source": source, "uids": [{"id": token, "atype": 3}]}
        ]);
        req["user"] = match carrier {
            Carrier::ExtEids => json!({"id": "u1", "ext": {"eids": eids}}),
            _ => json!({"id": "u1", "eids": eids}),
        };
    }
    req
}

fn site(domain: &str) -> Value {
    json!({"site": {"domain": domain, "page": format!("https://{domain}/")}})
}

// === seeding the store ======================================================================

/// The two streams the test posts to.
struct Seeded {
    /// Customer "status": `uid2_status white [SUCCESS]`, bidder path `/status`.
    status_client: String,
    /// Customer "uid": `uid2 white [UID]`, bidder path `/uid`.
    uid_client: String,
}

fn seed(store_url: &str, bidder: &str, listed_uid: &str) -> Seeded {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::connect(store_url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let supplier = tx.create_supplier("E2E Exchange").await.unwrap();
        let mut clients = Vec::new();
        for (slug, path, field, value) in [
            ("status", "/status", "uid2_status", "SUCCESS"),
            ("uid", "/uid", "uid2", listed_uid),
        ] {
            let customer = tx
                .create_customer(&CustomerInput {
                    name: format!("UID2 {slug}"),
                    slug: format!("uid2-{slug}"),
                    qps: 100_000,
                    redirect_wins: false,
                    inject_tag: false,
                    keep_nurl: false,
                })
                .await
                .unwrap();
            let stream = tx
                .create_stream(&StreamInput {
                    client_id: None,
                    supplier_id: supplier.id,
                    customer_id: customer.id,
                    seat_id: format!("seat-{slug}"),
                    customer_endpoint: format!("{bidder}{path}"),
                })
                .await
                .unwrap();
            let root = tx
                .filters_of(customer.id)
                .await
                .unwrap()
                .into_iter()
                .find(|f| f.parent_id.is_none())
                .expect("a new customer has a root filter");
            let leaf = tx
                .insert_filter(
                    customer.id,
                    Some(root.id),
                    "white",
                    field,
                    Some("equals"),
                    None,
                )
                .await
                .unwrap();
            tx.replace_list(leaf, [value]).await.unwrap();
            clients.push(stream.client_id);
        }
        tx.commit().await.unwrap();
        store.close().await;
        let uid_client = clients.pop().unwrap();
        let status_client = clients.pop().unwrap();
        Seeded {
            status_client,
            uid_client,
        }
    })
}

/// A vectors file holding one new bidstream key set (fresh master key 3001 and site-101 key
/// 3101, nothing of the old set), in the shape `mock_operator.py --vectors` reads.
fn write_new_key_set(path: &Path, vectors: &Value, master: &[u8; 32], site: &[u8; 32]) {
    let reference_s = vectors["meta"]["reference_now_ms"].as_i64().unwrap() / 1000;
    let key = |id: u32, secret: &[u8; 32]| {
        json!({"id": id, "created": reference_s - 86_400, "activates": reference_s - 86_400,
               "expires": reference_s + 30 * 86_400, "secret": STANDARD.encode(secret)})
    };
    let doc = json!({
        "meta": {"reference_now_ms": vectors["meta"]["reference_now_ms"]},
        "key_sets": {
            "rotated": {"response": {"status": "success", "body": {
                "max_bidstream_lifetime_seconds": 259_210,
                "identity_scope": "UID2",
                "allow_clock_skew_seconds": 1800,
                "keys": [key(3001, master), key(3101, site)],
                "site_data": [{"id": 101, "domain_names": ["example.com"]}]
            }}},
            "sharing": vectors["key_sets"]["sharing"],
        }
    });
    std::fs::write(path, doc.to_string()).unwrap();
}

// === the tests ==============================================================================

/// Which stream a request is posted to.
#[derive(Clone, Copy)]
enum To {
    /// Customer "status": `uid2_status white [SUCCESS]`.
    Status,
    /// Customer "uid": `uid2 white [UID of token X]`.
    Uid,
}

/// What must become of a request.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Relayed: 200 with the bidder's bid, and the bidder saw the request.
    Forward,
    /// 204, and the bidder never saw it.
    Drop,
}

/// One request of the test: where it goes, what it carries, what must happen.
struct Case {
    id: &'static str,
    to: To,
    token: Option<(String, Carrier)>,
    placement: Value,
    /// The decryption status the proxy must count for it.
    status: &'static str,
    then: Then,
}

fn case(
    id: &'static str,
    to: To,
    token: Option<(&str, Carrier)>,
    placement: Value,
    status: &'static str,
    then: Then,
) -> Case {
    Case {
        id,
        to,
        token: token.map(|(t, c)| (t.to_owned(), c)),
        placement,
        status,
        then,
    }
}

/// bidsieve, its bidder and the streams, as the test drives them.
struct World {
    bidsieve: Bidsieve,
    bidder: Bidder,
    seeded: Seeded,
}

impl World {
    /// Sends `case` (its id prefixed with `when`, so every request is unique) and asserts its
    /// fate.
    fn check(&self, when: &str, case: &Case) {
        let (client, path) = match case.to {
            To::Status => (&self.seeded.status_client, "/status"),
            To::Uid => (&self.seeded.uid_client, "/uid"),
        };
        let id = format!("{when}-{}", case.id);
        let token = case.token.as_ref().map(|(t, c)| (t.as_str(), *c));
        let request = bid_request(&id, token, case.placement.clone());
        let (status, body) = self.bidsieve.bid(client, &request);
        let want = case.status;
        match case.then {
            Then::Forward => {
                assert_eq!(status, 200, "{id} ({want}): not forwarded");
                assert!(
                    self.bidder.arrived(path, &id),
                    "{id}: the bidder never saw it"
                );
                assert!(
                    body.contains(&format!("bid-{id}")),
                    "{id}: not our bid: {body}"
                );
            }
            Then::Drop => {
                assert_eq!(status, 204, "{id} ({want}): not filtered");
                assert!(!self.bidder.arrived(path, &id), "{id}: reached the bidder");
            }
        }
    }

    /// Sends every case and asserts each decryption status was counted exactly once per case.
    fn check_all(&self, when: &str, cases: &[&Case]) -> BTreeMap<&'static str, f64> {
        let before = self.bidsieve.metrics();
        for case in cases {
            self.check(when, case);
        }
        let after = self.bidsieve.metrics();
        let mut want: BTreeMap<&'static str, f64> = BTreeMap::new();
        for case in cases {
            *want.entry(case.status).or_default() += 1.0;
        }
        for (status, n) in &want {
            let counted = decrypts(&after, status) - decrypts(&before, status);
            assert_eq!(
                counted,
                *n,
                "{when}: bidsieve_uid2_decrypt_total{{status={status}}} grew by {counted}:\n{}",
                uid2_lines(&after)
            );
        }
        want
    }
}

#[test]
fn uid2_proxy_end_to_end_with_the_mock_operator() {
    use Carrier::{Eids, ExtEids, OtherSource};
    use Then::{Drop, Forward};
    use To::{Status, Uid};

    let py = match python() {
        Ok(p) => p,
        Err(why) => {
            return println!("SKIP uid2_proxy_end_to_end_with_the_mock_operator: {why}");
        }
    };
    let started = Instant::now();
    let v = vectors();
    let dir = scratch("e2e");

    // Keys of the mock's default set (the vectors' `bidstream`), and tokens valid now.
    let master = Key::material(&v, "M_CUR");
    let site101 = Key::material(&v, "S101");
    let unknown_site = Key::material(&v, "S_UNKNOWN"); // never sent to clients
    let uid_x = raw_uid(1);
    let token_x = mint_v4(&master, &site101, &TokenSpec::valid(uid_x));
    let token_y = mint_v4(&master, &site101, &TokenSpec::valid(raw_uid(2)));
    // v4 is read as standard base64 too.
    let token_x_base64 = STANDARD.encode(URL_SAFE_NO_PAD.decode(&token_x).unwrap());
    let client_side = TokenSpec {
        privacy_bits: 0x2,
        ..TokenSpec::valid(raw_uid(3))
    };
    let cstg = mint_v4(&master, &site101, &client_side);
    let now = now_ms();
    let stale = TokenSpec {
        generated_ms: now - 3 * 86_400_000,
        expires_ms: now - 3_600_000,
        ..TokenSpec::valid(raw_uid(4))
    };
    let expired = mint_v4(&master, &site101, &stale);
    let foreign = mint_v4(&master, &unknown_site, &TokenSpec::valid(raw_uid(5)));
    let garbage = "A4AAAAPpgarbage-not-a-token_0123456789";

    // The bidder, the store, the mock (failing at first), bidsieve.
    let bidder = Bidder::start();
    let store_url = format!("sqlite://{}/b.db", dir.display());
    let seeded = seed(&store_url, &bidder.url, &uid_text(&uid_x));
    let vectors_path = oracle_dir().join("vectors.json");
    let mock_log = dir.join("mock.log");
    let mock = Mock::start(&py, 0, &vectors_path, "bidstream", "http_500", &mock_log);
    let mock_port = mock.port;
    let (proxy, metrics) = (free_port(), free_port());
    let log = dir.join("bidsieve.log");
    let meta = &v["meta"];
    let child = bin()
        .arg("proxy")
        .args(["--store-url", &store_url])
        .args(["--proxy-listen", &format!("127.0.0.1:{proxy}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .env(
            "BIDSIEVE_UID2_BASE_URL",
            format!("http://127.0.0.1:{mock_port}"),
        )
        .env(
            "BIDSIEVE_UID2_API_KEY",
            meta["client_api_key"].as_str().unwrap(),
        )
        .env(
            "BIDSIEVE_UID2_SECRET_KEY",
            meta["client_secret_b64"].as_str().unwrap(),
        )
        .env("BIDSIEVE_UID2_REFRESH_INTERVAL", "1s")
        .env("BIDSIEVE_UID2_TIMEOUT", "5s")
        .env("BIDSIEVE_PROXY_MAX_UPSTREAM_WAIT", "5s")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut e2e = World {
        bidsieve: Bidsieve {
            child,
            proxy,
            metrics,
            log,
        },
        bidder,
        seeded,
    };

    // --- 0. No key set yet: tokens are NOT_INITIALIZED, so the SUCCESS filter drops them.
    let m = e2e
        .bidsieve
        .wait_metrics("a failed first refresh (the mock answers 500)", |m| {
            refreshes(m, "http_status") >= 1.0
        });
    assert_eq!(refreshes(&m, "success"), 0.0);
    let site_x = site("www.example.com");
    #[rustfmt::skip]
    let uninitialized = case("no-keys", Status, Some((&token_x, Eids)), site_x.clone(), "NOT_INITIALIZED", Drop);
    e2e.check_all("p0", &[&uninitialized]);
    let turned_ok = Instant::now();
    mock.set_mode("ok");
    let m = e2e
        .bidsieve
        .wait_metrics("the first key set", |m| refreshes(m, "success") >= 1.0);
    let keys_loaded_after = turned_ok.elapsed();
    let expiry = metric(&m, "bidsieve_uid2_keys_expiry_seconds");
    assert!(expiry > 86_400.0, "key expiry gauge {expiry}");

    // --- 1. Keys loaded: every request forwarded or dropped exactly per the filters.
    let ex = site("example.com");
    let app = json!({"app": {"bundle": "com.example.game"}});
    #[rustfmt::skip]
    let cases = [
        case("v4-user.eids", Status, Some((&token_x, Eids)), site_x.clone(), "SUCCESS", Forward),
        case("v4-user.ext.eids", Status, Some((&token_y, ExtEids)), site("example.org"), "SUCCESS", Forward),
        case("v4-standard-base64", Status, Some((&token_x_base64, Eids)), json!({}), "SUCCESS", Forward),
        case("cstg-registered-domain", Status, Some((&cstg, Eids)), site_x.clone(), "SUCCESS", Forward),
        case("cstg-registered-app", Status, Some((&cstg, ExtEids)), app, "SUCCESS", Forward),
        case("cstg-other-domain", Status, Some((&cstg, Eids)), site("news.other-example.co.uk"), "DOMAIN_NAME_CHECK_FAILED", Drop),
        case("garbage", Status, Some((garbage, Eids)), ex.clone(), "INVALID_PAYLOAD", Drop),
        case("expired", Status, Some((&expired, Eids)), ex.clone(), "EXPIRED_TOKEN", Drop),
        case("unknown-site-key", Status, Some((&foreign, Eids)), ex.clone(), "NOT_AUTHORIZED_FOR_KEY", Drop),
        case("no-token", Status, None, ex.clone(), "NONE", Drop),
        case("other-id-source", Status, Some((&token_x, OtherSource)), ex.clone(), "NONE", Drop),
        case("listed-uid", Uid, Some((&token_x, Eids)), ex.clone(), "SUCCESS", Forward),
        case("listed-uid-2.5", Uid, Some((&token_x, ExtEids)), ex.clone(), "SUCCESS", Forward),
        case("unlisted-uid", Uid, Some((&token_y, Eids)), ex.clone(), "SUCCESS", Drop),
        case("uid-list-garbage", Uid, Some((garbage, Eids)), ex.clone(), "INVALID_PAYLOAD", Drop),
        case("uid-list-no-token", Uid, None, ex.clone(), "NONE", Drop),
    ];
    let all: Vec<&Case> = cases.iter().collect();
    let statuses = e2e.check_all("p1", &all);
    let forwarded = cases.iter().filter(|c| c.then == Forward).count();
    assert_eq!(
        e2e.bidder.count(),
        forwarded,
        "only the forwarded requests reached the bidder"
    );

    // What a fault must not break: SUCCESS and the listed UID forwarded, the rest still dropped.
    let keep_ids = [
        "v4-user.eids",
        "v4-user.ext.eids",
        "listed-uid",
        "unlisted-uid",
        "garbage",
    ];
    let keep: Vec<&Case> = cases.iter().filter(|c| keep_ids.contains(&c.id)).collect();

    // --- 2. Faults at the operator: refreshes fail, the old keys keep decrypting.
    let mut fault_report = Vec::new();
    for (mode, label) in [
        ("wrong_nonce", "nonce"),
        ("wrong_secret", "envelope"),
        ("http_500", "http_status"),
        ("garbage", "envelope"),
    ] {
        let t0 = Instant::now();
        let base = refreshes(&e2e.bidsieve.metrics(), label);
        mock.set_mode(mode);
        e2e.bidsieve
            .wait_metrics(&format!("a refresh failing under {mode}"), |m| {
                refreshes(m, label) > base
            });
        let failed_after = t0.elapsed();
        // A second failure too: the keys outlive more than one.
        let m = e2e
            .bidsieve
            .wait_metrics(&format!("a second failure under {mode}"), |m| {
                refreshes(m, label) > base + 1.0
            });
        let age = metric(&m, "bidsieve_uid2_keys_age_seconds");
        e2e.check_all(mode, &keep);
        let ok_base = refreshes(&e2e.bidsieve.metrics(), "success");
        mock.set_mode("ok");
        e2e.bidsieve
            .wait_metrics(&format!("recovery after {mode}"), |m| {
                refreshes(m, "success") > ok_base
            });
        fault_report.push(format!(
            "{mode}: first failure ({label}) {:.2}s after the switch, 2 failures, key age then {age:.1}s, old keys decrypted {} requests right, recovered after {:.2}s",
            failed_after.as_secs_f64(),
            keep.len(),
            t0.elapsed().as_secs_f64(),
        ));
    }

    // --- 3. The operator goes down, then comes back on the same port with a NEW key set.
    let (new_master_secret, new_site_secret): ([u8; 32], [u8; 32]) =
        (rand::random(), rand::random());
    let new_master = Key::new(3001, &new_master_secret);
    let new_site = Key::new(3101, &new_site_secret);
    let token_new = mint_v4(&new_master, &new_site, &TokenSpec::valid(uid_x));
    let cstg_new = mint_v4(&new_master, &new_site, &client_side);
    // Under the old keys the new token's master key is unknown.
    #[rustfmt::skip]
    let new_token_early = case("new-token", Status, Some((&token_new, Eids)), ex.clone(), "NOT_AUTHORIZED_FOR_MASTER_KEY", Drop);
    e2e.check_all("old-keys", &[&new_token_early]);

    let before_stop = e2e.bidsieve.metrics();
    let stopped = Instant::now();
    mock.stop();
    let m = e2e
        .bidsieve
        .wait_metrics("a failed refresh with the operator down", |m| {
            refresh_failures(m) > refresh_failures(&before_stop)
        });
    let down_labels = failure_deltas(&before_stop, &m);
    e2e.check_all("operator-down", &keep);
    // Every refresh since the stop failed: a success from here on is the new mock's.
    let ok_base = refreshes(&e2e.bidsieve.metrics(), "success");
    let rotated = dir.join("rotated.json");
    write_new_key_set(&rotated, &v, &new_master_secret, &new_site_secret);
    let restarted = Instant::now();
    let mock = Mock::start(
        &py,
        mock_port,
        &rotated,
        "rotated",
        "ok",
        &dir.join("mock2.log"),
    );
    assert_eq!(mock.port, mock_port);
    e2e.bidsieve
        .wait_metrics("the new key set", |m| refreshes(m, "success") > ok_base);
    let picked_up_after = restarted.elapsed();
    #[rustfmt::skip]
    let rotated_cases = [
        case("new-token", Status, Some((&token_new, Eids)), ex.clone(), "SUCCESS", Forward),
        case("new-token-listed-uid", Uid, Some((&token_new, ExtEids)), ex.clone(), "SUCCESS", Forward),
        // The old set was replaced as a whole: its master key is gone.
        case("old-token", Status, Some((&token_x, Eids)), ex.clone(), "NOT_AUTHORIZED_FOR_MASTER_KEY", Drop),
        // The domain check reads the new set's site data (site 101: example.com only).
        case("new-cstg-registered", Status, Some((&cstg_new, Eids)), site_x.clone(), "SUCCESS", Forward),
        case("new-cstg-unregistered", Status, Some((&cstg_new, Eids)), site("example.org"), "DOMAIN_NAME_CHECK_FAILED", Drop),
    ];
    let all: Vec<&Case> = rotated_cases.iter().collect();
    e2e.check_all("new-keys", &all);
    let down_to_new_keys = stopped.elapsed();
    let final_metrics = e2e.bidsieve.metrics();
    drop(mock);

    println!(
        "uid2 e2e: 1 request before any key set dropped as NOT_INITIALIZED; keys loaded {:.2}s after the mock turned ok",
        keys_loaded_after.as_secs_f64()
    );
    println!(
        "uid2 e2e: {} requests with keys loaded, {forwarded} forwarded, the rest 204, exactly per the filters; decrypt statuses {statuses:?}",
        cases.len()
    );
    for line in &fault_report {
        println!("uid2 e2e: {line}");
    }
    println!(
        "uid2 e2e: operator down (failed refreshes: {down_labels}), old keys kept; new key set picked up {:.2}s after the restart ({:.2}s after the stop), {} requests right under it; bidder saw {} requests in all; whole test {:.1}s",
        picked_up_after.as_secs_f64(),
        down_to_new_keys.as_secs_f64(),
        rotated_cases.len(),
        e2e.bidder.count(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "uid2 e2e: final uid2 metrics:\n{}",
        uid2_lines(&final_metrics)
    );
    drop(e2e);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `bidsieve uid2 decrypt` on every token vector a bidstream client with a key set can replay
/// (the one vector without a key set and the sharing-client ones are not for this command).
#[test]
fn uid2_decrypt_cli_matches_the_vectors() {
    let v = vectors();
    let dir = scratch("cli");
    // Group the vectors by what the command line fixes: key set, --now, --domain.
    let mut groups: BTreeMap<(String, i64, Option<String>), Vec<&Value>> = BTreeMap::new();
    let mut skipped = 0;
    for t in v["token_vectors"].as_array().unwrap() {
        let Some(key_set) = t["key_set"].as_str() else {
            skipped += 1;
            continue;
        };
        if t["client"] != "bidstream" {
            skipped += 1;
            continue;
        }
        let domain = t["domain_or_app_name"].as_str().map(str::to_owned);
        groups
            .entry((key_set.to_owned(), t["now_ms"].as_i64().unwrap(), domain))
            .or_default()
            .push(t);
    }
    let mut checked = 0;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (n, ((key_set, now, domain), tokens)) in groups.iter().enumerate() {
        // The whole response for some files, its `body` alone for others (SPEC §4.4: both).
        let response = &v["key_sets"][key_set]["response"];
        let keys = dir.join(format!("keys-{n}.json"));
        let doc = if n % 2 == 0 {
            response
        } else {
            &response["body"]
        };
        std::fs::write(&keys, doc.to_string()).unwrap();
        let mut cmd = bin();
        cmd.args(["uid2", "decrypt", "--keys"])
            .arg(&keys)
            .args(["--now", &now.to_string()]);
        if let Some(d) = domain {
            cmd.args(["--domain", d]);
        }
        cmd.arg("--");
        for t in tokens {
            cmd.arg(t["token"].as_str().unwrap());
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{key_set}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), tokens.len(), "{key_set}: one line per token");
        for (line, t) in lines.iter().zip(tokens) {
            let name = t["name"].as_str().unwrap();
            let token = t["token"].as_str().unwrap();
            let rec = &t["recommended"];
            assert_eq!(line["status"], rec["status"], "{name}");
            assert_eq!(line["uid"], rec["uid"], "{name}");
            if rec["status"] == "SUCCESS" {
                assert_eq!(
                    line["established"], t["python_sdk"]["established_ms"],
                    "{name}"
                );
            }
            let prefix = line["token_prefix"].as_str().unwrap();
            assert!(token.starts_with(prefix), "{name}: prefix");
            assert!(prefix.chars().count() <= 12, "{name}: prefix too long");
            assert!(
                token.is_empty() || prefix.len() < token.len(),
                "{name}: whole token echoed"
            );
            if token.len() >= 16 {
                assert!(!stdout.contains(token), "{name}: whole token in the output");
            }
            *by_status
                .entry(line["status"].as_str().unwrap().to_owned())
                .or_default() += 1;
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked >= 100, "only {checked} vectors replayed");
    println!(
        "uid2 decrypt CLI: {checked} vectors in {} invocations match `recommended` ({skipped} not replayable: no key set or sharing client); statuses {by_status:?}",
        groups.len()
    );
}
