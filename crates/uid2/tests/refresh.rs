//! The refresh client against the oracle's loopback mock operator (`mock_operator.py serve`),
//! which speaks the real encrypted envelope and injects faults.
//!
//! Needs Python with the pinned `uid2-client` (the mock imports it through `make_vectors.py`).
//! The interpreter is `$BIDSIEVE_UID2_PYTHON`, else the workspace's `.venv/bin/python3`, else
//! `python3`; when it cannot `import uid2_client` the tests print why and skip.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bidsieve_uid2::refresh::{RefreshConfig, RefreshError, refresh_once, run_refresher};
use bidsieve_uid2::{ClientType, IdentityScope, KeyCache, KeySet, Status, decrypt};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use crate::support::{oracle_file, token_vector, vectors};

// --- the mock operator -------------------------------------------------------------------

/// The Python that can run the mock, or why none can.
fn python() -> Result<String, String> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python3");
    let py = std::env::var("BIDSIEVE_UID2_PYTHON").unwrap_or_else(|_| {
        if venv.is_file() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    match Command::new(&py)
        .args(["-c", "import uid2_client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(py),
        Ok(_) => Err(format!(
            "{py} cannot import uid2_client (pip install -r testdata/uid2-oracle/requirements.txt, or set BIDSIEVE_UID2_PYTHON)"
        )),
        Err(e) => Err(format!("cannot run {py}: {e}")),
    }
}

/// The folder holding `mock_operator.py` together with the `make_vectors.py` it imports.
fn mock_dir() -> Option<PathBuf> {
    let vectors = oracle_file("vectors.json");
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        vectors.parent().map(PathBuf::from),
        Some(crate_dir.join("../../testdata/uid2-oracle")),
        Some(crate_dir.join("../../../shared/uid2-oracle")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("mock_operator.py").is_file() && d.join("make_vectors.py").is_file())
}

/// A running `mock_operator.py serve` on loopback; killed on drop.
struct Mock {
    child: Child,
    port: u16,
}

impl Mock {
    fn start(py: &str, dir: &PathBuf, port: u16, key_set: &str) -> Mock {
        let mut child = Command::new(py)
            .arg("-u")
            .arg(dir.join("mock_operator.py"))
            .args(["serve", "--shift-to-now", "--port", &port.to_string()])
            .args(["--bidstream-key-set", key_set])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the mock operator");
        // First line: "mock operator on http://127.0.0.1:PORT (...)".
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout piped");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the mock's banner");
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let mut err = String::new();
            let _ = child.kill();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the mock operator did not start:\n{err}");
        };
        Mock { child, port }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `POST /_mock/mode` with the mode name as body.
    fn set_mode(&self, mode: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the mock");
        write!(
            s,
            "POST /_mock/mode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{mode}",
            mode.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"),
            "mode {mode}: {resp}"
        );
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(base_url: String, interval: Duration) -> RefreshConfig {
    let meta = &vectors()["meta"];
    let mut cfg = RefreshConfig::new(
        base_url,
        meta["client_api_key"].as_str().unwrap(),
        meta["client_secret_b64"].as_str().unwrap(),
    );
    cfg.refresh_interval = interval;
    cfg.timeout = Duration::from_secs(10);
    cfg
}

/// Decrypts the named vector with `keys` at the vector's own `now` (the mock's keys are shifted
/// to the real clock, which only lengthens their validity).
fn decrypt_vector(keys: Option<&KeySet>, name: &str) -> bidsieve_uid2::Decrypted {
    let v = token_vector(name);
    decrypt(
        keys,
        v["token"].as_str().unwrap(),
        v["now_ms"].as_i64().unwrap(),
        v["domain_or_app_name"].as_str(),
        ClientType::Bidstream,
    )
}

const UID2_TOKENS: [&str; 3] = [
    "sdk_v2_uid2_ok",
    "sdk_v3_uid2_email_ok",
    "sdk_v4_uid2_email_ok",
];

fn assert_uid2_keys_work(keys: Option<&KeySet>, when: &str) {
    for name in UID2_TOKENS {
        let d = decrypt_vector(keys, name);
        let want = token_vector(name)["recommended"]["uid"].as_str();
        assert_eq!(d.status, Status::Success, "{when}: {name}");
        assert_eq!(d.uid.as_deref(), want, "{when}: {name}");
    }
}

// --- a metrics recorder that remembers counters and gauges --------------------------------

#[derive(Default)]
struct Recorded {
    counters: Mutex<HashMap<String, u64>>,
    gauges: Mutex<HashMap<String, f64>>,
}

struct Handle {
    name: String,
    store: &'static Recorded,
}

fn key_text(key: &Key) -> String {
    let mut s = key.name().to_owned();
    for l in key.labels() {
        s.push_str(&format!("{{{}={}}}", l.key(), l.value()));
    }
    s
}

impl metrics::CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .store
            .counters
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.store
            .counters
            .lock()
            .unwrap()
            .insert(self.name.clone(), value);
    }
}

impl metrics::GaugeFn for Handle {
    fn increment(&self, value: f64) {
        *self
            .store
            .gauges
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() += value;
    }
    fn decrement(&self, value: f64) {
        *self
            .store
            .gauges
            .lock()
            .unwrap()
            .entry(self.name.clone())
            .or_default() -= value;
    }
    fn set(&self, value: f64) {
        self.store
            .gauges
            .lock()
            .unwrap()
            .insert(self.name.clone(), value);
    }
}

struct TestRecorder(&'static Recorded);

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle {
            name: key_text(key),
            store: self.0,
        }))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Handle {
            name: key_text(key),
            store: self.0,
        }))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn recorded() -> &'static Recorded {
    static R: OnceLock<&'static Recorded> = OnceLock::new();
    R.get_or_init(|| {
        let store: &'static Recorded = Box::leak(Box::default());
        metrics::set_global_recorder(TestRecorder(store)).expect("first recorder");
        store
    })
}

fn counter(name: &str) -> u64 {
    recorded()
        .counters
        .lock()
        .unwrap()
        .get(name)
        .copied()
        .unwrap_or(0)
}

async fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// --- the tests ----------------------------------------------------------------------------

/// One refresh: keys load; every fault is an error with its own reason.
#[tokio::test]
async fn refresh_once_loads_keys_and_reports_each_fault() {
    let py = match python() {
        Ok(p) => p,
        Err(why) => return println!("SKIP refresh_once_loads_keys_and_reports_each_fault: {why}"),
    };
    let dir = mock_dir().expect("mock_operator.py beside make_vectors.py");
    let mock = Mock::start(&py, &dir, 0, "bidstream");
    let cfg = config(mock.base_url(), Duration::from_secs(3600));

    let keys = refresh_once(&cfg).await.expect("refresh against the mock");
    assert_eq!(keys.len(), 6);
    assert_eq!(keys.identity_scope(), IdentityScope::Uid2);
    assert_eq!(keys.max_bidstream_lifetime_seconds(), Some(259_210));
    assert_uid2_keys_work(Some(&keys), "after refresh_once");

    for (mode, label) in [
        ("wrong_nonce", "nonce"),
        ("wrong_secret", "envelope"),
        ("http_500", "http_status"),
        ("http_401", "http_status"),
        ("garbage", "envelope"),
        ("bad_json", "key_set"),
    ] {
        mock.set_mode(mode);
        let err = refresh_once(&cfg).await.expect_err(mode);
        assert_eq!(err.result_label(), label, "{mode}: {err}");
    }
    mock.set_mode("ok");
    assert!(refresh_once(&cfg).await.is_ok());

    // A wrong secret on our side: the operator refuses the request envelope (400).
    let mut wrong = cfg.clone();
    wrong.secret_key = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U=".to_owned();
    assert!(matches!(
        refresh_once(&wrong).await,
        Err(RefreshError::HttpStatus(400))
    ));
    println!("refresh_once: keys loaded; 6 fault modes rejected with their reasons");
}

/// The background refresher: first load, faults keep the old keys, a new key set is picked up
/// without a restart, and every attempt is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresher_keeps_old_keys_on_faults_and_picks_up_new_ones() {
    let py = match python() {
        Ok(p) => p,
        Err(why) => {
            return println!(
                "SKIP refresher_keeps_old_keys_on_faults_and_picks_up_new_ones: {why}"
            );
        }
    };
    let dir = mock_dir().expect("mock_operator.py beside make_vectors.py");
    let rec = recorded();
    let mock = Mock::start(&py, &dir, 0, "bidstream");
    let port = mock.port;
    let cache = Arc::new(KeyCache::new());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_refresher(
        config(mock.base_url(), Duration::from_millis(150)),
        cache.clone(),
        async {
            let _ = stop_rx.await;
        },
    ));

    wait_for("the first key set", Duration::from_secs(10), || {
        cache.is_initialized()
    })
    .await;
    let first = cache.load_full().unwrap();
    assert_uid2_keys_work(cache.load().as_deref(), "first load");

    // Faults: attempts fail (counted by reason), the cache keeps a key set that decrypts.
    for (mode, label) in [
        ("wrong_nonce", "nonce"),
        ("wrong_secret", "envelope"),
        ("http_500", "http_status"),
        ("garbage", "envelope"),
    ] {
        let name = format!("bidsieve_uid2_refresh_total{{result={label}}}");
        let before = counter(&name);
        mock.set_mode(mode);
        wait_for(
            &format!("a failed refresh under {mode}"),
            Duration::from_secs(10),
            || counter(&name) > before,
        )
        .await;
        assert!(cache.is_initialized(), "{mode}");
        assert_uid2_keys_work(cache.load().as_deref(), mode);
        mock.set_mode("ok");
        // Back to ok: the next success stores a fresh (equal) set; wait for it so the next
        // fault starts from a clean state.
        let ok_before = counter("bidsieve_uid2_refresh_total{result=success}");
        wait_for("recovery", Duration::from_secs(10), || {
            counter("bidsieve_uid2_refresh_total{result=success}") > ok_before
        })
        .await;
    }
    assert!(
        !Arc::ptr_eq(&first, &cache.load_full().unwrap()),
        "successes swap in new sets"
    );

    // While failing, the stored set is the very same object: nothing was swapped.
    mock.set_mode("wrong_nonce");
    let nonce_before = counter("bidsieve_uid2_refresh_total{result=nonce}");
    wait_for("a nonce failure", Duration::from_secs(10), || {
        counter("bidsieve_uid2_refresh_total{result=nonce}") > nonce_before
    })
    .await;
    let held = cache.load_full().unwrap();
    wait_for("another nonce failure", Duration::from_secs(10), || {
        counter("bidsieve_uid2_refresh_total{result=nonce}") > nonce_before + 1
    })
    .await;
    assert!(
        Arc::ptr_eq(&held, &cache.load_full().unwrap()),
        "a failed refresh replaced the keys"
    );

    // A new key set at the operator (EUID keys): restart the mock on the same port.
    drop(mock);
    let mock = Mock::start(&py, &dir, port, "bidstream_euid");
    wait_for("the EUID key set", Duration::from_secs(20), || {
        cache.load().as_deref().map(KeySet::identity_scope) == Some(IdentityScope::Euid)
    })
    .await;
    let keys = cache.load_full();
    let d = decrypt_vector(keys.as_deref(), "sdk_v4_euid_email_ok");
    assert_eq!(d.status, Status::Success);
    assert_eq!(
        d.uid.as_deref(),
        token_vector("sdk_v4_euid_email_ok")["recommended"]["uid"].as_str()
    );
    let d = decrypt_vector(keys.as_deref(), "sdk_v4_uid2_email_ok");
    assert_eq!(d.status, Status::InvalidIdentityScope);

    // Gauges were published.
    {
        let g = rec.gauges.lock().unwrap();
        let age = g
            .get("bidsieve_uid2_keys_age_seconds")
            .copied()
            .expect("age gauge");
        let exp = g
            .get("bidsieve_uid2_keys_expiry_seconds")
            .copied()
            .expect("expiry gauge");
        assert!((0.0..60.0).contains(&age), "age {age}");
        assert!(exp > 0.0, "expiry {exp}");
    }

    stop_tx.send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "refresher stops on shutdown"
    );
    drop(mock);
    let c = rec.counters.lock().unwrap();
    let mut seen: Vec<_> = c
        .iter()
        .filter(|(k, _)| k.starts_with("bidsieve_uid2_refresh_total"))
        .collect();
    seen.sort();
    println!(
        "refresher: old keys kept through 4 fault modes, EUID key set picked up; counters {seen:?}"
    );
}
