//! The key-refresh client (cargo feature `refresh`): fetches the bidstream key set from the UID2
//! operator and swaps it into a [`KeyCache`].
//!
//! `POST {base_url}/v2/key/bidstream` with the encrypted request envelope, the response envelope
//! opened and its nonce checked (`ref/uid2.md` §7.2–§7.3), the body parsed into a [`KeySet`].
//! [`run_refresher`] does this at start and every `refresh_interval`, retrying failures with
//! jittered exponential backoff, and replaces the cache only after a fully successful refresh.
//!
//! Metrics (the `metrics` facade; the binary installs the exporter):
//! - `bidsieve_uid2_refresh_total{result}` (counter): one per attempt; `result` is `success` or
//!   the failure reason of [`RefreshError::result_label`] (`transport`, `timeout`, `http_status`,
//!   `body`, `envelope`, `nonce`, `key_set`).
//! - `bidsieve_uid2_keys_age_seconds` (gauge): seconds since the keys in the cache were fetched.
//! - `bidsieve_uid2_keys_expiry_seconds` (gauge): seconds until the last key of the cached set
//!   expires (negative once expired: decryption then answers `KEYS_NOT_SYNCED`).
//!
//! Both gauges are refreshed after each attempt and every [`GAUGE_TICK`]. The API key and the
//! client secret never reach a log line or a `Debug` output.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::Rng;

use crate::cache::KeyCache;
use crate::envelope::{ClientSecret, EnvelopeError, open_response, seal_request};
use crate::keyset::{KeySet, KeySetError};

/// How often keys are fetched when nothing fails (the UID2 docs recommend hourly).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);
/// Bound on one refresh: connect, request and the whole response body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay after a failure; doubles with each consecutive failure.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay (never longer than the refresh interval either).
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// How often the age/expiry gauges are brought up to date between refreshes.
pub const GAUGE_TICK: Duration = Duration::from_secs(15);
/// Largest key response accepted (a bidstream key set with every site's keys is a few MB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Path of the bidstream key endpoint.
pub const BIDSTREAM_KEYS_PATH: &str = "/v2/key/bidstream";

const CLIENT_VERSION: &str = concat!("bidsieve-", env!("CARGO_PKG_VERSION"));

/// Where and how to fetch keys. `Debug` redacts the API key and the secret.
#[derive(Clone)]
pub struct RefreshConfig {
    /// The operator's base URL, e.g. `https://prod.uidapi.com` (http is accepted for tests).
    pub base_url: String,
    /// The API key (sent as `Authorization: Bearer ...`).
    pub api_key: String,
    /// The client secret, standard base64 of 32 bytes, as the UID2 portal shows it.
    pub secret_key: String,
    /// Time between successful refreshes.
    pub refresh_interval: Duration,
    /// Bound on one refresh attempt.
    pub timeout: Duration,
}

/// Why a refresh failed. The previous keys stay in use whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The configuration cannot work (bad URL, secret, interval); nothing was sent.
    #[error("invalid uid2 refresh configuration: {0}")]
    Config(&'static str),
    /// Connecting or talking HTTP to the operator failed.
    #[error("request to the UID2 operator failed: {0}")]
    Transport(String),
    /// No complete answer within the configured timeout.
    #[error("UID2 operator did not answer within {0:?}")]
    Timeout(Duration),
    /// The operator answered with another status than 200.
    #[error("UID2 operator answered HTTP {0}")]
    HttpStatus(u16),
    /// The response body could not be read or was over [`MAX_RESPONSE_BYTES`].
    #[error("UID2 operator response body unreadable or too large")]
    Body,
    /// The response envelope did not open (not base64, wrong secret, wrong nonce...).
    #[error("UID2 operator response rejected: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The decrypted response is not a usable key set.
    #[error("UID2 key response rejected: {0}")]
    KeySet(#[from] KeySetError),
}

/// A ready client for one operator: HTTP(S) connection pool, request headers, secret.
pub struct Refresher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    authorization: HeaderValue,
    secret: ClientSecret,
    timeout: Duration,
    interval: Duration,
}

// === impl RefreshConfig ===

impl RefreshConfig {
    /// A configuration with the default interval and timeout.
    pub fn new(
        base_url: impl Into<String>,
        api_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> RefreshConfig {
        RefreshConfig {
            base_url: base_url.into(),
            api_key: api_key.into(),
            secret_key: secret_key.into(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Checks every field; see [`Refresher::new`].
    ///
    /// # Errors
    /// [`RefreshError::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<(), RefreshError> {
        Refresher::new(self).map(|_| ())
    }
}

impl std::fmt::Debug for RefreshConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("refresh_interval", &self.refresh_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

// === impl RefreshError ===

impl RefreshError {
    /// The `result` label of `bidsieve_uid2_refresh_total` for this failure.
    pub fn result_label(&self) -> &'static str {
        match self {
            RefreshError::Config(_) => "config",
            RefreshError::Transport(_) => "transport",
            RefreshError::Timeout(_) => "timeout",
            RefreshError::HttpStatus(_) => "http_status",
            RefreshError::Body => "body",
            RefreshError::Envelope(EnvelopeError::NonceMismatch) => "nonce",
            RefreshError::Envelope(_) => "envelope",
            RefreshError::KeySet(_) => "key_set",
        }
    }
}

// === impl Refresher ===

impl Refresher {
    /// Validates `cfg` and builds the HTTP(S) client (rustls with the webpki roots; `http://`
    /// URLs are allowed for loopback tests).
    ///
    /// # Errors
    /// [`RefreshError::Config`] for a base URL that is not `http(s)://host[:port][/path]`, an API
    /// key that cannot be a header value, a secret that is not base64 of 32 bytes, or a zero
    /// interval or timeout.
    pub fn new(cfg: &RefreshConfig) -> Result<Refresher, RefreshError> {
        let base = cfg.base_url.trim_end_matches('/');
        let uri: Uri = format!("{base}{BIDSTREAM_KEYS_PATH}")
            .parse()
            .map_err(|_| RefreshError::Config("uid2.base_url is not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => return Err(RefreshError::Config("uid2.base_url must be http(s)://host")),
        }
        if cfg.api_key.is_empty() {
            return Err(RefreshError::Config("uid2.api_key is empty"));
        }
        let mut authorization =
            HeaderValue::try_from(format!("Bearer {}", cfg.api_key)).map_err(|_| {
                RefreshError::Config("uid2.api_key has characters a header cannot carry")
            })?;
        authorization.set_sensitive(true);
        let secret = ClientSecret::from_base64(&cfg.secret_key)
            .map_err(|_| RefreshError::Config("uid2.secret_key is not the base64 of 32 bytes"))?;
        if cfg.refresh_interval.is_zero() {
            return Err(RefreshError::Config(
                "uid2.refresh_interval must be positive",
            ));
        }
        if cfg.timeout.is_zero() {
            return Err(RefreshError::Config(
                "uid2 refresh timeout must be positive",
            ));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|_| RefreshError::Config("TLS setup failed"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Refresher {
            client,
            uri,
            authorization,
            secret,
            timeout: cfg.timeout,
            interval: cfg.refresh_interval,
        })
    }

    /// Fetches and parses the key set once, bounded by the configured timeout.
    ///
    /// # Errors
    /// [`RefreshError`] for any failure from connecting to parsing the keys.
    pub async fn refresh_once(&self) -> Result<KeySet, RefreshError> {
        match tokio::time::timeout(self.timeout, self.fetch()).await {
            Ok(r) => r,
            Err(_) => Err(RefreshError::Timeout(self.timeout)),
        }
    }

    async fn fetch(&self) -> Result<KeySet, RefreshError> {
        let (nonce, iv) = {
            let mut rng = rand::rng();
            (rng.random::<[u8; 8]>(), rng.random::<[u8; 12]>())
        };
        let body = seal_request(&self.secret, unix_ms(), nonce, iv, &[]);
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header("x-uid2-client-version", CLIENT_VERSION)
            .header(CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RefreshError::Transport(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| RefreshError::Transport(error_chain(&e)))?;
        if resp.status() != StatusCode::OK {
            return Err(RefreshError::HttpStatus(resp.status().as_u16()));
        }
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|_| RefreshError::Body)?
            .to_bytes();
        let opened = open_response(&self.secret, &body, &nonce)?;
        Ok(KeySet::from_json(&opened.json)?)
    }

    /// Delay before the next attempt after `failures` consecutive failures: exponential from
    /// [`RETRY_BASE`], capped by [`RETRY_MAX`] and the interval, with jitter in `[d/2, d]`.
    fn retry_delay(&self, failures: u32) -> Duration {
        let cap = RETRY_MAX.min(self.interval);
        let exp = RETRY_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let d = exp.min(cap);
        let half = d / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("uri", &self.uri)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Fetches the key set once with `cfg` (builds a one-off client).
///
/// # Errors
/// As [`Refresher::new`] and [`Refresher::refresh_once`].
pub async fn refresh_once(cfg: &RefreshConfig) -> Result<KeySet, RefreshError> {
    Refresher::new(cfg)?.refresh_once().await
}

/// Keeps `cache` filled until `shutdown` completes: refreshes at once, then every
/// `refresh_interval`; after a failure retries with jittered exponential backoff and keeps the
/// previous keys. Counts every attempt and keeps the gauges current (see the module docs).
///
/// # Errors
/// Only [`RefreshError::Config`], before anything is sent; refresh failures are logged,
/// counted and retried, never returned.
pub async fn run_refresher(
    cfg: RefreshConfig,
    cache: Arc<KeyCache>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RefreshError> {
    let refresher = Refresher::new(&cfg)?;
    tracing::info!(
        uid2.url = %refresher.uri,
        uid2.refresh_interval_s = cfg.refresh_interval.as_secs(),
        "uid2 key refresher started"
    );
    let mut shutdown = std::pin::pin!(shutdown);
    let mut failures: u32 = 0;
    let mut fetched_at: Option<Instant> = None;
    loop {
        let attempt = tokio::select! {
            r = refresher.refresh_once() => r,
            () = &mut shutdown => break,
        };
        let wait = match attempt {
            Ok(keys) => {
                let n = keys.len();
                cache.store(keys);
                fetched_at = Some(Instant::now());
                if failures > 0 {
                    tracing::info!(
                        uid2.keys = n,
                        uid2.failures = failures,
                        "uid2 keys refreshed after failures"
                    );
                } else {
                    tracing::debug!(uid2.keys = n, "uid2 keys refreshed");
                }
                failures = 0;
                metrics::counter!("bidsieve_uid2_refresh_total", "result" => "success")
                    .increment(1);
                refresher.interval
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = refresher.retry_delay(failures);
                tracing::warn!(
                    error = %e,
                    uid2.result = e.result_label(),
                    uid2.failures = failures,
                    uid2.retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    uid2.have_keys = cache.is_initialized(),
                    "uid2 key refresh failed; keeping the previous keys"
                );
                metrics::counter!("bidsieve_uid2_refresh_total", "result" => e.result_label())
                    .increment(1);
                delay
            }
        };
        let next = Instant::now() + wait;
        loop {
            update_gauges(&cache, fetched_at);
            let now = Instant::now();
            if now >= next {
                break;
            }
            let nap = (next - now).min(GAUGE_TICK);
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                () = &mut shutdown => {
                    tracing::info!("uid2 key refresher stopped");
                    return Ok(());
                }
            }
        }
    }
    tracing::info!("uid2 key refresher stopped");
    Ok(())
}

fn update_gauges(cache: &KeyCache, fetched_at: Option<Instant>) {
    if let Some(t) = fetched_at {
        metrics::gauge!("bidsieve_uid2_keys_age_seconds").set(t.elapsed().as_secs_f64());
    }
    if let Some(exp) = cache.load().as_deref().and_then(KeySet::max_expires_ms) {
        #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit f64's 53 bits
        let secs = (exp.saturating_sub(unix_ms())) as f64 / 1000.0;
        metrics::gauge!("bidsieve_uid2_keys_expiry_seconds").set(secs);
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The error and its sources on one line (hyper's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "KQXOZIGhsuAh6JhXFmXw9EKtuo3icqv3rh1IRDlGxS0=";

    #[test]
    fn config_is_validated_and_redacted() {
        let ok = RefreshConfig::new("https://prod.uidapi.com/", "key-123", SECRET);
        ok.validate().unwrap();
        let shown = format!("{ok:?}");
        assert!(
            !shown.contains("key-123") && !shown.contains(SECRET),
            "{shown}"
        );
        for (bad, why) in [
            (RefreshConfig::new("ftp://x", "k", SECRET), "base_url"),
            (RefreshConfig::new("not a url", "k", SECRET), "base_url"),
            (RefreshConfig::new("http://x", "", SECRET), "api_key"),
            (RefreshConfig::new("http://x", "k\n", SECRET), "api_key"),
            (
                RefreshConfig::new("http://x", "k", "c2hvcnQ="),
                "secret_key",
            ),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            assert_eq!(e.result_label(), "config");
        }
        let mut zero = ok.clone();
        zero.refresh_interval = Duration::ZERO;
        assert!(zero.validate().is_err());
    }

    #[test]
    fn retry_delay_grows_with_jitter_and_caps() {
        let mut cfg = RefreshConfig::new("http://127.0.0.1:1", "k", SECRET);
        cfg.refresh_interval = Duration::from_secs(3600);
        let r = Refresher::new(&cfg).unwrap();
        for failures in 1..40 {
            let d = r.retry_delay(failures);
            let full = RETRY_BASE
                .saturating_mul(1 << (failures - 1).min(20))
                .min(RETRY_MAX);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
        cfg.refresh_interval = Duration::from_millis(200);
        let r = Refresher::new(&cfg).unwrap();
        assert!(r.retry_delay(30) <= Duration::from_millis(200));
    }

    #[test]
    fn labels_name_the_reason() {
        assert_eq!(
            RefreshError::Envelope(EnvelopeError::NonceMismatch).result_label(),
            "nonce"
        );
        assert_eq!(
            RefreshError::Envelope(EnvelopeError::Decrypt).result_label(),
            "envelope"
        );
        assert_eq!(RefreshError::HttpStatus(500).result_label(), "http_status");
    }

    #[tokio::test]
    async fn unreachable_operator_is_a_transport_error() {
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let mut cfg = RefreshConfig::new("http://127.0.0.1:9", "k", SECRET);
        cfg.timeout = Duration::from_secs(5);
        let e = refresh_once(&cfg).await.unwrap_err();
        assert!(
            matches!(e, RefreshError::Transport(_) | RefreshError::Timeout(_)),
            "{e}"
        );
    }
}
