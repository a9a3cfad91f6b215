//! Shared helpers of the proxy's black-box tests.
//!
//! - [`Proxy`]: the real server ([`bidsieve_proxy::serve`]) on 127.0.0.1:0 over a SQLite store,
//!   with a [`Follower`] keeping its snapshot current (or none, to test readiness).
//! - [`config`]: customers, suppliers, streams and filters written through the store API, the
//!   filters planned (validated, normalized) by the filter crate as the admin API plans them.
//! - [`bidder`]: a bidder on 127.0.0.1:0 whose answer the test picks, recording what it got.
//! - [`client`]: a small HTTP client; [`request`]: bid request bodies.
//! - [`metrics`]: reads series from the process-wide Prometheus registry.
//! - [`logs`]: captures the tracing events emitted on the test's thread.
//!
//! Every proxy of the test binary shares one SQLite file (each through its own `Store`), so
//! that stream, customer and filter ids are unique across tests: the Prometheus registry is
//! process-wide and labels its series with those ids.

pub mod bidder;
pub mod client;
pub mod config;
pub mod logs;
pub mod metrics;
pub mod request;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bidsieve_proxy::{Follower, ProxySettings, ProxyState, serve};
use bidsieve_store::Store;
use bidsieve_uid2::KeyCache;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bidder::{Bidder, Reply};
pub use client::{Client, Resp};
pub use config::Route;

/// Temp directories of this test binary are named `{DIR_PREFIX}{pid}-{nanos}`.
const DIR_PREFIX: &str = "bidsieve-proxy-tests-";

/// Longest wait for the proxy to catch up with the store in [`Proxy::synced`].
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// How a test proxy is started.
pub struct ProxyOptions {
    /// The data plane's settings.
    pub settings: ProxySettings,
    /// Run a [`Follower`] (first snapshot loaded before `start` returns). Without one the
    /// proxy has no snapshot until the test publishes one ([`Proxy::follower`]).
    pub follow: bool,
    /// The follower's fallback poll.
    pub poll: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            settings: ProxySettings::default(),
            follow: true,
            poll: Duration::from_millis(250),
        }
    }
}

/// A running proxy. Dropping it stops the server and the follower.
pub struct Proxy {
    /// Where the bid listener listens.
    pub addr: SocketAddr,
    /// This proxy's handle on the shared store (write through it: its follower is notified
    /// at once, other proxies within their poll).
    pub store: Store,
    /// The state the server reads.
    pub state: Arc<ProxyState>,
    /// A client for the test's requests.
    pub client: Client,
    stop: watch::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Proxy {
    /// A proxy with default settings and a follower.
    pub async fn start() -> Proxy {
        Self::start_with(ProxyOptions::default()).await
    }

    /// A proxy started as `options` say.
    pub async fn start_with(options: ProxyOptions) -> Proxy {
        logs::install();
        let store = connect_store().await;
        let state = Arc::new(ProxyState::new(options.settings, Arc::new(KeyCache::new())));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, _) = watch::channel(());
        let server = tokio::spawn(serve(listener, state.clone(), stopped(stop.subscribe())));
        if options.follow {
            let mut follower = Follower::new(store.clone(), state.clone(), options.poll);
            follower.refresh().await.expect("first snapshot");
            tokio::spawn(follower.run(stopped(stop.subscribe())));
        }
        Proxy {
            addr,
            store,
            state,
            client: Client::new(),
            stop,
            server,
        }
    }

    /// A follower of this proxy's store publishing into its state (for tests started without
    /// one).
    pub fn follower(&self) -> Follower {
        Follower::new(
            self.store.clone(),
            self.state.clone(),
            Duration::from_millis(250),
        )
    }

    /// `http://{addr}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The bid endpoint of a stream.
    pub fn bids_url(&self, client_id: &str) -> String {
        self.url(&format!("/{client_id}/bids"))
    }

    /// Waits until the published snapshot is at least as new as the store's current
    /// configuration (call after writing through the store API).
    pub async fn synced(&self) {
        let target = self.store.config_version().await.expect("config version");
        let deadline = Instant::now() + SYNC_TIMEOUT;
        loop {
            if self.snapshot_version().is_some_and(|v| v >= target) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not reach configuration version {target} within {SYNC_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The version of the published snapshot, if any.
    pub fn snapshot_version(&self) -> Option<i64> {
        self.state.snapshot().map(|s| s.version)
    }

    /// POSTs a JSON bid request to a stream's endpoint.
    pub async fn bid(&self, route: &Route, body: impl Into<bytes::Bytes>) -> Resp {
        self.client
            .post_json(&self.bids_url(&route.client_id), body)
            .await
    }

    /// Stops accepting, drains, and returns what `serve` returned.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.server.await.expect("server task")
    }
}

/// A new handle on the test binary's shared store (its own pool: it hears only its own
/// writes in-process, like another process would).
pub async fn connect_store() -> Store {
    Store::connect(shared_store_url())
        .await
        .expect("open the test store")
}

/// Resolves when `stop` fires or its sender is dropped.
async fn stopped(mut stop: watch::Receiver<()>) {
    let _ = stop.changed().await;
}

/// The URL of the test binary's SQLite store, created and migrated on first use.
fn shared_store_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        remove_stale_dirs();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{nanos}", std::process::id()));
        let url = format!("sqlite://{}/store.db", dir.display());
        // Migrate once on a runtime of its own before any test connects: tests connecting
        // to a brand-new file at the same moment would race to create the schema.
        let first = url.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let store = Store::connect(&first).await.expect("create the test store");
                store.close().await;
            });
        })
        .join()
        .expect("store creation thread");
        url
    })
}

/// Removes the temp directories of earlier runs whose process is gone (Linux: `/proc`), since
/// the shared store cannot be removed when the test binary exits.
fn remove_stale_dirs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
