//! Bulk work at background priority: parsing, reading or writing a multi-million-entry list.
//!
//! Such a job takes a second of CPU or more, and it shares the machine with bid requests that
//! are answered in microseconds. It runs on a thread of its own at the lowest normal scheduling
//! priority (nice 19 on Linux), so that wherever it shares a core with a bid worker, the bids
//! go first and the job still progresses on a busy machine. A job that talks to the store gets
//! a private connection opened from that thread: a SQLite connection does its work on a worker
//! thread of its own, which inherits the priority of the thread that opens it, so the pooled
//! connections (opened at normal priority) would not do.
//!
//! The cost of the priority: where the job's core is saturated, the job is slow, and a write
//! job holds SQLite's write lock while it waits for CPU (other writers wait up to
//! [`crate::WRITE_LOCK_TIMEOUT`]). Bid requests never wait for it.
//!
//! A bulk write to SQLite ([`Store::background_write`]) also leaves its checkpoint for later.
//! In WAL mode the commit that ends a transaction of a 5M-entry list (165 MB of WAL) copies it
//! into the database file there and then, which is exactly when every proxy following the store
//! reads the new list from that file. On the 2-vCPU VMs of BENCHMARKS.md (session 12) the two
//! together were the worst moment of every list swap: 14–58 ms stalls on both cores, with steal
//! time on both; with the checkpoint run 8 s later, on its own, no request took over 10 ms
//! while the proxy read and compiled the list (7.1–8.0 ms worst in four swaps).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::{Engine, Inner, SqliteTarget, Store, StoreError, pool_options, sqlite_target};

/// The result of a job started by [`low_priority`], [`Store::background`] or
/// [`Store::background_write`]: awaiting it waits for the job. Dropping it does not stop the
/// job.
#[must_use = "a job's result is only seen by awaiting it"]
pub struct Job<T> {
    done: oneshot::Receiver<T>,
}

impl<T> Future for Job<T> {
    type Output = Result<T, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.done)
            .poll(cx)
            .map(|done| done.map_err(|_| StoreError::JobLost))
    }
}

/// Starts `work` on a new thread named `name` at the lowest normal scheduling priority.
///
/// # Errors
/// `JobThread` when the thread cannot be started.
pub fn low_priority<T, W>(name: &str, work: W) -> Result<Job<T>, StoreError>
where
    T: Send + 'static,
    W: FnOnce() -> T + Send + 'static,
{
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority();
            let _ = done.send(work());
        })
        .map_err(StoreError::JobThread)?;
    Ok(Job { done: result })
}

impl Store {
    /// Starts `job` on a new thread named `name` at the lowest normal scheduling priority,
    /// with a private handle on this store: one connection, opened from that thread and closed
    /// when the job ends. Commits through it reach this store's subscribers
    /// ([`Store::subscribe`]). The job's future is polled on that thread inside the calling
    /// runtime's context (its I/O, timers and spawned tasks belong to that runtime). An
    /// in-memory SQLite store has only one connection, the database itself: the job shares it.
    ///
    /// # Errors
    /// `JobThread` when the thread cannot be started or no runtime is running. The job's own
    /// errors are in its result, as is a private connection that cannot be opened
    /// (`Database`); awaiting the job fails with `JobLost` if it panicked.
    pub fn background<F, Fut, T, E>(
        &self,
        name: &str,
        job: F,
    ) -> Result<Job<Result<T, E>>, StoreError>
    where
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>>,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run_background(name, None, job)
    }

    /// [`Store::background`] for a job that writes much: on SQLite its commit does not copy the
    /// write-ahead log into the database file (a checkpoint); a passive checkpoint on the same
    /// low-priority connection does, `checkpoint_after` the job ended, when the store's readers
    /// (the proxies rebuilding their snapshots) are done with what it wrote. Until then readers
    /// find the new pages in the log, and another connection's commit may checkpoint first.
    /// A process that exits before the checkpoint leaves it to the next commit or the last
    /// connection's close; nothing is lost. PostgreSQL: the same as [`Store::background`].
    ///
    /// # Errors
    /// As [`Store::background`].
    pub fn background_write<F, Fut, T, E>(
        &self,
        name: &str,
        checkpoint_after: Duration,
        job: F,
    ) -> Result<Job<Result<T, E>>, StoreError>
    where
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>>,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.run_background(name, Some(checkpoint_after), job)
    }

    fn run_background<F, Fut, T, E>(
        &self,
        name: &str,
        checkpoint_after: Option<Duration>,
        job: F,
    ) -> Result<Job<Result<T, E>>, StoreError>
    where
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>>,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::JobThread(std::io::Error::other(e)))?;
        let store = self.clone();
        low_priority(name, move || {
            runtime.block_on(async {
                let Some(private) = store.private().await? else {
                    return job(store).await;
                };
                let deferred = checkpoint_after.filter(|_| private.inner.engine == Engine::Sqlite);
                if deferred.is_some() {
                    // Set before the job: its commit must not checkpoint. Best effort: if the
                    // setting fails, the commit checkpoints as it always did.
                    if let Err(error) = sqlx::query("PRAGMA wal_autocheckpoint = 0")
                        .execute(&private.inner.pool)
                        .await
                    {
                        tracing::debug!(%error, "could not defer a bulk write's checkpoint");
                    }
                }
                let out = job(private.clone()).await;
                match deferred {
                    // On the caller's runtime: the job's result is not held back. The
                    // connection's SQLite worker thread keeps the job thread's priority.
                    Some(delay) => drop(runtime.spawn(deferred_checkpoint(private, delay))),
                    None => private.close().await,
                }
                out
            })
        })
    }

    /// A handle on the same database with a pool of one connection, opened now by the calling
    /// thread, sharing this store's change notifications; `None` for an in-memory SQLite
    /// database, whose one connection is the database (the job shares this store's).
    async fn private(&self) -> Result<Option<Store>, StoreError> {
        if self.inner.engine == Engine::Sqlite
            && sqlite_target(&self.inner.url) == SqliteTarget::Memory
        {
            return Ok(None);
        }
        let pool = pool_options(self.inner.engine, false)
            .max_connections(1)
            .connect(&self.inner.url)
            .await?;
        Ok(Some(Store {
            inner: Arc::new(Inner {
                pool,
                engine: self.inner.engine,
                url: self.inner.url.clone(),
                changes: self.inner.changes.clone(),
            }),
        }))
    }
}

/// Waits `delay`, checkpoints `private`'s database without waiting for any reader or writer
/// (`PASSIVE`: what readers still use stays in the log for a later checkpoint), and closes it.
async fn deferred_checkpoint(private: Store, delay: Duration) {
    tokio::time::sleep(delay).await;
    let started = std::time::Instant::now();
    match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(&private.inner.pool)
        .await
    {
        Ok(_) => tracing::debug!(
            took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "deferred checkpoint done"
        ),
        Err(error) => tracing::warn!(%error, "deferred checkpoint failed"),
    }
    private.close().await;
}

/// Gives the calling thread the lowest normal scheduling priority (Linux: nice 19). Best
/// effort: a refusal changes nothing.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let normal = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
        // The crate's portable scale: 0 is the lowest priority, mapped to nice 19 on Linux.
        let Ok(lowest) = ThreadPriorityValue::try_from(0u8) else {
            return;
        };
        let lowest = ThreadPriority::Crossplatform(lowest);
        if let Err(error) = set_thread_priority_and_policy(thread_native_id(), lowest, normal) {
            tracing::debug!(?error, "could not lower a background job's priority");
        }
    }
}
