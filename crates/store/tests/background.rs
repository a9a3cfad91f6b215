//! Background jobs: a private connection at the lowest priority, commits heard in-process.

use std::time::{Duration, Instant};

use bidsieve_store::{Engine, ListBuilder, Store, StoreError};

use crate::support::{Db, both_engines, customer_input, leaf};

both_engines!(
    a_background_job_writes_through_a_private_connection_at_nice_19,
    a_background_job_that_fails_or_panics_reports_it,
    a_bulk_write_leaves_its_checkpoint_for_later,
);

/// The nice value (field 19) of a `/proc/.../stat` line.
fn nice_of(stat: &str) -> i64 {
    // The name (field 2) is in parentheses and may hold spaces: count the fields after it.
    let close = stat.rfind(')').unwrap();
    stat[close + 2..]
        .split(' ')
        .nth(16)
        .unwrap()
        .parse()
        .unwrap()
}

/// `(thread name, nice)` of every thread of this process.
fn threads() -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        out.push((stat[open + 1..close].to_owned(), nice_of(&stat)));
    }
    out
}

fn own_nice() -> i64 {
    nice_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap())
}

async fn a_background_job_writes_through_a_private_connection_at_nice_19(db: Db) {
    let store = db.store;
    let mut changes = store.subscribe();
    let engine = store.engine();
    let job = store
        .background("test-bulk-job", move |private: Store| async move {
            let job_nice = own_nice();
            let sqlite_workers: Vec<i64> = threads()
                .into_iter()
                .filter(|(name, _)| name.starts_with("sqlx-sqlite-wor"))
                .map(|(_, nice)| nice)
                .collect();
            let mut tx = private.begin().await?;
            let customer = tx.create_customer(&customer_input("bulk")).await?;
            let version = tx.commit().await?;
            Ok::<_, StoreError>((job_nice, sqlite_workers, customer.id, version))
        })
        .unwrap();
    let (job_nice, sqlite_workers, id, version) = job.await.unwrap().unwrap();
    assert_eq!(job_nice, 19, "the job's thread runs at nice 19");
    assert_ne!(own_nice(), 19, "the caller keeps its priority");
    if engine == Engine::Sqlite {
        // The pool's connections (opened by the caller) and the job's private one.
        assert!(
            sqlite_workers.contains(&19) && sqlite_workers.contains(&0),
            "SQLite workers' nice values: {sqlite_workers:?}"
        );
    }
    // The commit reached this store's subscribers and is visible through its pool.
    changes.changed().await.unwrap();
    assert_eq!(*changes.borrow(), version);
    assert_eq!(store.customer(id).await.unwrap().slug, "bulk");
    assert_eq!(store.config_version().await.unwrap(), version);
}

async fn a_background_job_that_fails_or_panics_reports_it(db: Db) {
    let store = db.store;
    let failed = store
        .background("test-bulk-job", |private: Store| async move {
            private.customer(i64::MAX).await
        })
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(failed, Err(StoreError::NotFound)), "{failed:?}");

    let lost = store
        .background("test-bulk-job", |_: Store| async move {
            if std::hint::black_box(true) {
                panic!("the job panics");
            }
            Ok::<(), StoreError>(())
        })
        .unwrap()
        .await;
    assert!(matches!(lost, Err(StoreError::JobLost)), "{lost:?}");
    // The store still works.
    store
        .create_customer(&customer_input("after"))
        .await
        .unwrap();
}

/// An in-memory database is its one connection: a job shares it, and it survives the job.
#[tokio::test]
async fn a_background_job_on_an_in_memory_store_shares_its_database() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let id = store
        .background("test-bulk-job", |private: Store| async move {
            let customer = private.create_customer(&customer_input("mem")).await?;
            Ok::<_, StoreError>(customer.id)
        })
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.customer(id).await.unwrap().slug, "mem");
    store
        .create_customer(&customer_input("later"))
        .await
        .unwrap();
    assert_eq!(store.customers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_low_priority_job_runs_at_nice_19_and_leaves_the_caller_alone() {
    let nice = bidsieve_store::low_priority("test-job", own_nice)
        .unwrap()
        .await
        .unwrap();
    assert_eq!(nice, 19);
    assert_ne!(own_nice(), 19);
}

/// Bytes in a file, 0 when it does not exist.
fn file_len(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

async fn a_bulk_write_leaves_its_checkpoint_for_later(db: Db) {
    const N: usize = 400_000;
    let store = db.store;
    let id = leaf(&store).await;
    let values: Vec<String> = (0..N).map(|i| format!("uid-{i:08}")).collect();
    let mut builder = ListBuilder::new();
    builder.extend(&values).unwrap();
    let list = builder.build();

    let file = db.url.strip_prefix("sqlite://").map(str::to_owned);
    let before = file.as_deref().map_or(0, file_len);
    let delay = Duration::from_millis(300);
    let job = store
        .background_write("test-bulk-write", delay, move |private: Store| async move {
            let mut tx = private.begin().await?;
            let state = tx.replace_list_bucketed(id, &list).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(state)
        })
        .unwrap();
    let state = job.await.unwrap().unwrap();
    let committed = Instant::now();
    assert_eq!(state.len, N as i64);
    // Readers see the list at once (from the log, on SQLite).
    assert_eq!(store.list_values(id).await.unwrap().len(), N);
    let Some(file) = file else {
        return; // PostgreSQL: nothing to defer.
    };
    // The log holds the list: more than SQLite's 1000-page autocheckpoint threshold, so an
    // ordinary commit would have checkpointed it into the database file.
    let wal = file_len(&format!("{file}-wal"));
    assert!(wal > 4_096_000, "write-ahead log of {wal} bytes");
    let at_commit = file_len(&file);
    assert!(
        at_commit < before + 1_000_000,
        "the commit checkpointed: the database file grew from {before} to {at_commit} bytes"
    );
    // The deferred checkpoint copies it, a little after the delay.
    let deadline = committed + delay + Duration::from_secs(10);
    loop {
        let now = file_len(&file);
        if now > before + 4_000_000 {
            assert!(
                committed.elapsed() >= delay,
                "checkpointed before the delay"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint 10 s after the delay: the database file is {now} bytes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.list_values(id).await.unwrap().len(), N);
}
