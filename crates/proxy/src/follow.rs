//! The [`Follower`]: keeps the proxy's snapshot in step with the store (SPEC §2.3).
//!
//! Changes arrive three ways: the store's in-process notification (`bidsieve serve`, where the
//! admin API shares the process), PostgreSQL `NOTIFY` (any number of proxy processes on one
//! database), and a cheap version poll as the fallback. Every wake-up compares the store's
//! configuration version with the published snapshot's and rebuilds only when they differ. If
//! the store is unreachable, the last snapshot keeps serving.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bidsieve_store::{ChangeListener, Engine, Store};
use tracing::{debug, info, warn};

use crate::snapshot::{BuildError, SnapshotCache};
use crate::state::ProxyState;

/// Rebuilds and publishes snapshots when the store's configuration changes.
pub struct Follower {
    store: Store,
    state: Arc<ProxyState>,
    poll: Duration,
    cache: SnapshotCache,
    /// Set while the store is failing, so that one outage logs once.
    failing: bool,
}

impl Follower {
    /// A follower of `store` publishing into `state`, polling every `poll` as a fallback.
    pub fn new(store: Store, state: Arc<ProxyState>, poll: Duration) -> Self {
        Self {
            store,
            state,
            poll,
            cache: SnapshotCache::default(),
            failing: false,
        }
    }

    /// Rebuilds and publishes a snapshot if the store's version differs from the published one.
    /// Returns whether a new snapshot was published.
    ///
    /// # Errors
    /// The store could not be read; the published snapshot stays.
    pub async fn refresh(&mut self) -> Result<bool, BuildError> {
        let version = self.store.config_version().await?;
        if self
            .state
            .snapshot()
            .is_some_and(|current| current.version == version)
        {
            return Ok(false);
        }
        let started = Instant::now();
        let snapshot = self.cache.build(&self.store).await?;
        let (new_version, streams) = (snapshot.version, snapshot.stream_count());
        self.state.publish(Arc::new(snapshot));
        info!(
            version = new_version,
            streams,
            took_ms = started.elapsed().as_millis() as u64,
            "configuration snapshot published"
        );
        Ok(true)
    }

    /// Follows the store until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut local = self.store.subscribe();
        let mut remote: Option<ChangeListener> = None;
        let mut next_listen_attempt = Instant::now();
        let mut poll = tokio::time::interval(self.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if remote.is_none()
                && self.store.engine() == Engine::Postgres
                && Instant::now() >= next_listen_attempt
            {
                match self.store.listen_changes().await {
                    Ok(listener) => remote = Some(listener),
                    Err(error) => {
                        debug!(%error, "LISTEN failed; polling until it works");
                        next_listen_attempt = Instant::now() + Duration::from_secs(5);
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                changed = local.changed() => {
                    if changed.is_err() {
                        // The store (and its sender) is gone; keep polling.
                        local = self.store.subscribe();
                    }
                }
                notified = recv(&mut remote) => {
                    if notified.is_err() {
                        remote = None;
                    }
                }
                _ = poll.tick() => {}
            }
            self.refresh_logged().await;
        }
    }

    async fn refresh_logged(&mut self) {
        match self.refresh().await {
            Ok(_) => {
                if self.failing {
                    info!("store reachable again");
                    self.failing = false;
                }
            }
            Err(error) => {
                if !self.failing {
                    warn!(%error, "configuration refresh failed; serving the last snapshot");
                    self.failing = true;
                }
            }
        }
    }
}

/// The next notification of `listener`, or never when there is none.
async fn recv(listener: &mut Option<ChangeListener>) -> Result<(), ()> {
    match listener {
        Some(l) => match l.recv().await {
            // `None`: the connection is being re-established and changes may have been
            // missed, which a refresh catches up on.
            Ok(_) => Ok(()),
            Err(_) => Err(()),
        },
        None => std::future::pending().await,
    }
}
