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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::{Engine, Inner, SqliteTarget, Store, StoreError, pool_options, sqlite_target};

/// The result of a job started by [`low_priority`] or [`Store::background`]: awaiting it
/// waits for the job. Dropping it does not stop the job.
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
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::JobThread(std::io::Error::other(e)))?;
        let store = self.clone();
        low_priority(name, move || {
            runtime.block_on(async move {
                match store.private().await? {
                    Some(private) => {
                        let out = job(private.clone()).await;
                        private.close().await;
                        out
                    }
                    None => job(store).await,
                }
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
