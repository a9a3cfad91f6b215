//! Starting the configured planes on one runtime, and stopping them on a signal.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use bidsieve_admin::{AdminSettings, AdminState};
use bidsieve_proxy::{ProxySettings, ProxyState, WinKey};
use bidsieve_store::Store;
use bidsieve_uid2::KeyCache;
use bidsieve_uid2::refresh::RefreshConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;

/// What the process runs.
pub(crate) enum Mode {
    /// Admin API and proxy; with `demo`, also the demo data and bidder.
    Serve { demo: bool },
    /// Proxy only.
    Proxy,
    /// Admin API only.
    Admin,
    /// Migrations only.
    Migrate,
    /// `user add`.
    UserAdd(crate::user_cmd::AddArgs),
}

/// Builds the runtime and runs `mode` to completion.
pub(crate) fn run(config: Config, mode: Mode) -> anyhow::Result<()> {
    // One worker: tokio's current-thread scheduler, which does the same work without the
    // multi-thread scheduler's cross-thread bookkeeping (about 9% more requests a second on
    // one core in `ref/measuring.md`). Otherwise the work-stealing scheduler.
    let mut runtime = if config.proxy.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all();
    if config.proxy.workers > 1 {
        runtime.worker_threads(usize::try_from(config.proxy.workers).unwrap_or(1));
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Store::connect(&config.store.url)
            .await
            .with_context(|| format!("cannot open the store {}", redact_url(&config.store.url)))?;
        match mode {
            Mode::Migrate => {
                info!(store = %redact_url(&config.store.url), "migrations applied");
                Ok(())
            }
            Mode::UserAdd(args) => {
                let id = crate::user_cmd::add(&store, args).await?;
                info!(user.id = id, "user created");
                Ok(())
            }
            Mode::Serve { demo } => serve(config, store, true, true, demo).await,
            Mode::Proxy => serve(config, store, true, false, false).await,
            Mode::Admin => serve(config, store, false, true, false).await,
        }
    })
}

async fn serve(
    config: Config,
    store: Store,
    with_proxy: bool,
    with_admin: bool,
    demo: bool,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let demo_bidder = if demo {
        Some(crate::demo::start_bidder(stop_signal(&stop_rx)).await?)
    } else {
        None
    };
    if let Some(bidder) = &demo_bidder {
        crate::demo::seed(&store, bidder).await?;
    }

    // The metrics recorder before any task counts anything (the UID2 refresher starts now).
    bidsieve_proxy::prometheus();
    // One UID2 key cache for the process: the proxy decrypts with it, the admin API's
    // explain too.
    let keys = Arc::new(KeyCache::new());
    if config.uid2_enabled() {
        let refresh = RefreshConfig {
            base_url: config.uid2.base_url.clone(),
            api_key: config.uid2.api_key.clone(),
            secret_key: config.uid2.secret_key.clone(),
            refresh_interval: config.uid2.refresh_interval,
            timeout: config.uid2.timeout,
        };
        let keys = keys.clone();
        let shutdown = stop_signal(&stop_rx);
        tasks.spawn(async move {
            if let Err(error) =
                bidsieve_uid2::refresh::run_refresher(refresh, keys, shutdown).await
            {
                tracing::error!(%error, "UID2 key refresh cannot start; UID2 tokens answer NOT_INITIALIZED");
            }
        });
    } else {
        info!("UID2 is not configured: requests with a token see NOT_INITIALIZED");
    }

    if with_proxy {
        let settings = proxy_settings(&config, &store).await?;
        let state = Arc::new(ProxyState::new(settings, keys.clone()));
        let mut follower =
            bidsieve_proxy::Follower::new(store.clone(), state.clone(), config.proxy.poll_interval);
        // The first snapshot before the listener opens, so `/readyz` is 200 from the start when
        // the store is reachable; a failure here is retried by the follower.
        if let Err(error) = follower.refresh().await {
            warn!(%error, "first configuration snapshot failed; retrying in the background");
        }
        tasks.spawn(follower.run(stop_signal(&stop_rx)));

        let listener = bind(&config.proxy.listen, "proxy.listen").await?;
        info!(addr = %config.proxy.listen, "proxy listening");
        let shutdown = stop_signal(&stop_rx);
        tasks.spawn(async move {
            if let Err(error) = bidsieve_proxy::serve(listener, state, shutdown).await {
                warn!(%error, "proxy listener failed");
            }
        });

        let metrics = bind(&config.metrics.listen, "metrics.listen").await?;
        info!(addr = %config.metrics.listen, "metrics listening");
        tasks.spawn(bidsieve_proxy::serve_metrics(
            metrics,
            stop_signal(&stop_rx),
        ));
    }
    if with_admin {
        let settings = admin_settings(&config, &store).await?;
        let state = AdminState::with_uid2_keys(store.clone(), settings, keys);
        let listener = bind(&config.admin.listen, "admin.listen").await?;
        info!(addr = %config.admin.listen, "admin API listening");
        let shutdown = stop_signal(&stop_rx);
        tasks.spawn(async move {
            if let Err(error) = bidsieve_admin::serve(listener, state, shutdown).await {
                warn!(%error, "admin listener failed");
            }
        });
    }
    if let Some(bidder) = &demo_bidder {
        crate::demo::print_tour(&config, &store, bidder).await?;
    }

    shutdown_signal().await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    info!("stopped");
    Ok(())
}

/// The admin API's settings from the configuration (and the store, for the JWT secret).
async fn admin_settings(config: &Config, store: &Store) -> anyhow::Result<AdminSettings> {
    let secret = if config.auth.jwt_secret.is_empty() {
        warn!("auth.jwt_secret is not set: using a secret generated once and kept in the store");
        bidsieve_admin::jwt_secret_from_store(store)
            .await
            .context("cannot read or create the JWT secret in the store")?
    } else {
        config.auth.jwt_secret.as_bytes().to_vec()
    };
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let mut settings = AdminSettings::new(secret);
    settings.list_inline_max = size(config.admin.list_inline_max);
    settings.max_body = size(config.admin.max_body);
    settings.max_list_body = size(config.admin.max_list_body);
    settings.session_idle = config.auth.session_idle;
    settings.session_max = config.auth.session_max;
    Ok(settings)
}

/// The proxy's settings from the configuration (and the store, for the win key).
async fn proxy_settings(config: &Config, store: &Store) -> anyhow::Result<ProxySettings> {
    let p = &config.proxy;
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(ProxySettings {
        max_body: size(p.max_body),
        max_decompressed: size(p.max_decompressed_body),
        tmax_margin: p.tmax_margin,
        max_upstream_wait: p.max_upstream_wait,
        max_response_body: size(p.max_response_body),
        upstream_pool_max_idle: size(p.upstream_max_idle),
        grace: p.shutdown_grace,
        max_connections: size(p.max_connections),
        public_url: p.public_url.clone(),
        tag_html: p.tag_html.clone(),
        win_key: win_key(config, store).await?,
    })
}

/// The key of win tokens: `proxy.win_key` when configured, else the one kept in the store
/// (generated on first use), so that every proxy sharing the store opens every token.
pub(crate) async fn win_key(config: &Config, store: &Store) -> anyhow::Result<WinKey> {
    if !config.proxy.win_key.is_empty() {
        let key = crate::config::decode_key(&config.proxy.win_key)
            .context("proxy.win_key must be the base64 of 32 bytes")?;
        return Ok(WinKey::new(&key));
    }
    let stored = store
        .secret("win_key", || rand::random::<[u8; 32]>().to_vec())
        .await
        .context("cannot read or create the win key in the store")?;
    let key: [u8; 32] = stored
        .as_slice()
        .try_into()
        .context("the win key kept in the store is not 32 bytes")?;
    Ok(WinKey::new(&key))
}

async fn bind(addr: &str, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({key})"))
}

/// Resolves when the stop flag is raised.
fn stop_signal(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A store URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_cut_from_store_urls() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/x"),
            "postgres://bob@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://data/b.db"), "sqlite://data/b.db");
    }
}
