//! The change feed: versions, in-process notifications, LISTEN/NOTIFY, consistent snapshots.

use std::time::Duration;

use bidsieve_store::{CustomerInput, Engine, Store, StoreError};

use crate::support::{Db, both_engines, customer_input, stream_input, user_input};

both_engines!(
    every_committed_write_bumps_the_version_once,
    subscribers_see_commits_at_once,
    other_processes_hear_commits_through_notify,
    load_config_is_a_consistent_snapshot,
    concurrent_writers_queue_instead_of_failing,
);

async fn every_committed_write_bumps_the_version_once(db: Db) {
    let store = db.store;
    let mut expected = store.config_version().await.unwrap();
    macro_rules! bumps {
        ($e:expr) => {{
            let out = $e.await.unwrap();
            expected += 1;
            assert_eq!(
                store.config_version().await.unwrap(),
                expected,
                "{}",
                stringify!($e)
            );
            out
        }};
    }
    let c = bumps!(store.create_customer(&customer_input("acme")));
    bumps!(store.update_customer(
        c.id,
        &CustomerInput {
            qps: 5,
            ..customer_input("acme")
        }
    ));
    let s = bumps!(store.create_supplier("ssp"));
    bumps!(store.update_supplier(s.id, "ssp2"));
    let st = bumps!(store.create_stream(&stream_input(c.id, s.id)));
    bumps!(store.update_stream(st.id, &stream_input(c.id, s.id)));
    let u = bumps!(store.create_user(&user_input("a@b.test", None)));
    bumps!(store.delete_user(u.id));
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let leaf = {
        // Several steps, one transaction: one bump.
        let mut tx = store.begin().await.unwrap();
        let leaf = tx
            .insert_filter(c.id, Some(root), "white", "user", None, None)
            .await
            .unwrap();
        tx.replace_list(leaf, ["a"]).await.unwrap();
        tx.patch_list(leaf, ["b"], ["a"]).await.unwrap();
        let committed = tx.commit().await.unwrap();
        expected += 1;
        assert_eq!(committed, expected);
        assert_eq!(store.config_version().await.unwrap(), expected);
        leaf
    };
    bumps!(store.replace_list(leaf, ["x", "y"]));
    bumps!(store.patch_list(leaf, ["z"], Vec::<&str>::new()));
    bumps!(store.delete_stream(st.id));
    bumps!(store.delete_supplier(s.id));
    bumps!(store.delete_customer(c.id));

    // Failed writes publish nothing.
    assert!(store.delete_customer(c.id).await.is_err());
    assert!(
        store
            .create_stream(&stream_input(c.id, s.id))
            .await
            .is_err()
    );
    assert_eq!(store.config_version().await.unwrap(), expected);
    // Reads publish nothing either.
    store.load_config().await.unwrap();
    store.customers().await.unwrap();
    assert_eq!(store.config_version().await.unwrap(), expected);
}

async fn subscribers_see_commits_at_once(db: Db) {
    let store = db.store;
    let mut rx = store.subscribe();
    let start = *rx.borrow_and_update();
    assert_eq!(start, store.config_version().await.unwrap());

    // A clone shares the feed; the change is seen without any polling.
    let writer = store.clone();
    let task = tokio::spawn(async move { writer.create_supplier("ssp").await.unwrap() });
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*rx.borrow_and_update(), start + 1);
    task.await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.create_supplier("ssp2").await.unwrap();
    assert!(!rx.has_changed().unwrap(), "nothing before commit");
    let v = tx.commit().await.unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), v);
}

async fn other_processes_hear_commits_through_notify(db: Db) {
    let store = db.store;
    if store.engine() != Engine::Postgres {
        assert!(matches!(
            store.listen_changes().await,
            Err(StoreError::NeedsPostgres(_))
        ));
        return;
    }
    // The "proxy process": its own Store on the same database.
    let follower = Store::connect(&db.url).await.unwrap();
    let mut listener = follower.listen_changes().await.unwrap();
    let mut rx = follower.subscribe();
    rx.mark_unchanged();

    let s = store.create_supplier("ssp").await.unwrap();
    let v1 = store.config_version().await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, Some(v1));

    let mut tx = store.begin().await.unwrap();
    tx.update_supplier(s.id, "renamed").await.unwrap();
    let v2 = tx.commit().await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, Some(v2));
    assert_eq!(follower.config_version().await.unwrap(), v2);
    // The in-process feed is per process: the follower's subscribers did not see these.
    assert!(!rx.has_changed().unwrap());

    // A rolled-back transaction notifies nobody.
    let mut tx = store.begin().await.unwrap();
    tx.create_supplier("never").await.unwrap();
    drop(tx);
    let store2 = store.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        store2.create_supplier("later").await.unwrap();
        store2.config_version().await.unwrap()
    });
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(later.await.unwrap()), heard);
    follower.close().await;
}

async fn load_config_is_a_consistent_snapshot(db: Db) {
    let store = db.store;
    let empty = store.load_config().await.unwrap();
    assert!(empty.customers.is_empty() && empty.streams.is_empty() && empty.filters.is_empty());
    assert_eq!(empty.version, store.config_version().await.unwrap());

    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let s = store.create_supplier("ssp").await.unwrap();
    let st = store
        .create_stream(&stream_input(c.id, s.id))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].clone();
    let mut tx = store.begin().await.unwrap();
    let leaf = tx
        .insert_filter(c.id, Some(root.id), "white", "size", None, None)
        .await
        .unwrap();
    tx.replace_list(leaf, ["300x250", "728x90"]).await.unwrap();
    tx.commit().await.unwrap();

    let config = store.load_config().await.unwrap();
    assert_eq!(config.version, store.config_version().await.unwrap());
    assert_eq!(config.customers, vec![c]);
    assert_eq!(config.suppliers, vec![s]);
    assert_eq!(config.streams, vec![st]);
    assert_eq!(config.filters.len(), 2);
    assert_eq!(config.filters[0], root);
    let l = &config.filters[1];
    assert_eq!(
        (l.id, l.parent_id, l.list_len, l.list_version),
        (leaf, Some(root.id), 2, 1)
    );

    // Snapshots taken while a writer hammers the store always agree with their version:
    // the writer adds one supplier per version, so `suppliers.len()` follows `version`.
    let base_version = config.version;
    let base_suppliers = config.suppliers.len() as i64;
    let writer = store.clone();
    let hammer = tokio::spawn(async move {
        for i in 0..30 {
            writer.create_supplier(&format!("s{i}")).await.unwrap();
        }
    });
    while !hammer.is_finished() {
        let snap = store.load_config().await.unwrap();
        assert_eq!(
            snap.suppliers.len() as i64 - base_suppliers,
            snap.version - base_version
        );
    }
    hammer.await.unwrap();
}

async fn concurrent_writers_queue_instead_of_failing(db: Db) {
    let store = db.store;
    let start = store.config_version().await.unwrap();
    // Two Stores (two "processes") and several tasks each, all writing at once.
    let other = Store::connect(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for j in 0..5 {
                let mut tx = s.begin().await.unwrap();
                tx.create_supplier(&format!("s{i}-{j}")).await.unwrap();
                versions.push(tx.commit().await.unwrap());
            }
            versions
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let expected: Vec<i64> = (start + 1..=start + 80).collect();
    assert_eq!(all, expected, "every commit got its own version");
    assert_eq!(store.suppliers().await.unwrap().len(), 80);
    other.close().await;
}
