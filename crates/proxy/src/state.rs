//! What every request handler shares: the snapshot, the upstream client, the settings.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use bidsieve_uid2::KeyCache;

use crate::outcome::OutcomeLatency;
use crate::settings::ProxySettings;
use crate::snapshot::Snapshot;
use crate::uid2::Uid2Gate;

/// The pooled keep-alive client to the bidders (`http://` plain, `https://` over rustls).
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// State shared by every connection of a proxy.
pub struct ProxyState {
    /// The configuration snapshot; `None` until the first one is loaded.
    snapshot: ArcSwapOption<Snapshot>,
    settings: ProxySettings,
    client: UpstreamClient,
    latency: OutcomeLatency,
    uid2: Uid2Gate,
}

impl ProxyState {
    /// State with no snapshot yet (`/readyz` answers 503 until [`ProxyState::publish`]),
    /// decrypting UID2 tokens with the keys in `uid2_keys` (an empty cache when UID2 is off).
    pub fn new(settings: ProxySettings, uid2_keys: Arc<KeyCache>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(std::time::Duration::from_secs(60)));
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            // ring's default provider supports the default protocol versions: cannot fail.
            .expect("ring provider supports TLS 1.2 and 1.3")
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(settings.upstream_pool_max_idle)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .build(connector);
        Self {
            snapshot: ArcSwapOption::empty(),
            settings,
            client,
            latency: OutcomeLatency::new(),
            uid2: Uid2Gate::new(uid2_keys),
        }
    }

    /// Publishes a new snapshot: requests that start after this see it; requests in flight
    /// finish on the one they loaded.
    pub fn publish(&self, snapshot: Arc<Snapshot>) {
        self.snapshot.store(Some(snapshot));
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// The snapshot slot itself, for a short-lived `load()` on the request path.
    pub(crate) fn snapshot_slot(&self) -> &ArcSwapOption<Snapshot> {
        &self.snapshot
    }

    /// True once a snapshot is loaded.
    pub fn is_ready(&self) -> bool {
        self.snapshot.load().is_some()
    }

    /// The process settings.
    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    pub(crate) fn client(&self) -> &UpstreamClient {
        &self.client
    }

    pub(crate) fn latency(&self) -> &OutcomeLatency {
        &self.latency
    }

    /// The UID2 decryption of the request path.
    pub fn uid2(&self) -> &Uid2Gate {
        &self.uid2
    }
}
