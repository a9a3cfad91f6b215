//! Lists: replace, patch, read (whole and bucket by bucket).

use std::collections::BTreeSet;

use bidsieve_store::{ListBuilder, ListState, StoreError, list_bucket};
use futures_util::StreamExt;

use crate::support::{Db, both_engines, count_rows, leaf};

both_engines!(
    replace_and_read_round_trip_with_duplicates,
    patch_adds_and_removes,
    bad_values_change_nothing,
    unknown_filter_is_not_found,
    large_list_replace_patch_and_stream,
);

/// A customer with one `white`/`user` leaf under its root; returns the leaf id.
fn set(values: &[String]) -> BTreeSet<String> {
    values.iter().cloned().collect()
}

fn strings(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

async fn replace_and_read_round_trip_with_duplicates(db: Db) {
    let store = db.store;
    let id = leaf(&store).await;
    assert!(store.list_values(id).await.unwrap().is_empty());

    let state = store
        .replace_list(id, ["u2", "u1", "u2", "", "u3", "u1"])
        .await
        .unwrap();
    assert_eq!(state, ListState { len: 4, version: 1 });
    let values = store.list_values(id).await.unwrap();
    assert_eq!(values.len(), 4, "duplicates stored once: {values:?}");
    assert_eq!(set(&values), strings(&["", "u1", "u2", "u3"]));
    let record = store.filter(id).await.unwrap().unwrap();
    assert_eq!((record.list_len, record.list_version), (4, 1));

    // Bucket by bucket: each chunk holds its own bucket's values, sorted.
    let mut reader = store.list_chunks(id).await.unwrap();
    assert_eq!((reader.len(), reader.version()), (4, 1));
    let mut seen = Vec::new();
    let mut last_bucket = None;
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        assert!(last_bucket < Some(chunk.bucket), "buckets in order");
        last_bucket = Some(chunk.bucket);
        let vals: Vec<&str> = chunk.values().collect();
        assert!(vals.windows(2).all(|w| w[0] < w[1]));
        assert!(vals.iter().all(|v| list_bucket(v) == chunk.bucket));
        assert!(chunk.text.ends_with('\n'));
        seen.extend(vals.iter().map(|v| (*v).to_owned()));
    }
    assert!(
        reader.next_chunk().await.unwrap().is_none(),
        "stays finished"
    );
    assert_eq!(set(&seen), strings(&["", "u1", "u2", "u3"]));

    // Replace again: old values are gone, the version moves on.
    let state = store.replace_list(id, ["x"]).await.unwrap();
    assert_eq!(state, ListState { len: 1, version: 2 });
    assert_eq!(store.list_values(id).await.unwrap(), vec!["x".to_owned()]);
    let state = store.replace_list(id, Vec::<String>::new()).await.unwrap();
    assert_eq!(state, ListState { len: 0, version: 3 });
    assert!(store.list_values(id).await.unwrap().is_empty());
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 0);
}

async fn patch_adds_and_removes(db: Db) {
    let store = db.store;
    let id = leaf(&store).await;
    store.replace_list(id, ["a", "b", "c"]).await.unwrap();

    // Add a new and a present value; remove a present and an absent one.
    let state = store
        .patch_list(id, ["d", "a"], ["b", "zzz"])
        .await
        .unwrap();
    assert_eq!(state, ListState { len: 3, version: 2 });
    assert_eq!(
        set(&store.list_values(id).await.unwrap()),
        strings(&["a", "c", "d"])
    );
    let record = store.filter(id).await.unwrap().unwrap();
    assert_eq!((record.list_len, record.list_version), (3, 2));

    // A value both added and removed ends up absent.
    let state = store.patch_list(id, ["e"], ["e"]).await.unwrap();
    assert_eq!(state.len, 3);
    assert!(
        !store
            .list_values(id)
            .await
            .unwrap()
            .contains(&"e".to_owned())
    );

    // A patch that changes nothing keeps the list version.
    let before = store.filter(id).await.unwrap().unwrap().list_version;
    let state = store.patch_list(id, ["a"], ["nope"]).await.unwrap();
    assert_eq!(
        state,
        ListState {
            len: 3,
            version: before
        }
    );
    let state = store
        .patch_list(id, Vec::<&str>::new(), Vec::<&str>::new())
        .await
        .unwrap();
    assert_eq!(
        state,
        ListState {
            len: 3,
            version: before
        }
    );

    // Removing everything empties the list and its rows.
    let state = store
        .patch_list(id, Vec::<&str>::new(), ["a", "c", "d"])
        .await
        .unwrap();
    assert_eq!(
        state,
        ListState {
            len: 0,
            version: before + 1
        }
    );
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 0);

    // Patching an empty list works too.
    let state = store
        .patch_list(id, ["only"], Vec::<&str>::new())
        .await
        .unwrap();
    assert_eq!(state.len, 1);
    assert_eq!(
        store.list_values(id).await.unwrap(),
        vec!["only".to_owned()]
    );
}

async fn bad_values_change_nothing(db: Db) {
    let store = db.store;
    let id = leaf(&store).await;
    store.replace_list(id, ["a", "b"]).await.unwrap();
    let version = store.config_version().await.unwrap();
    for bad in ["line\nbreak", "carriage\r", "nul\0"] {
        assert!(matches!(
            store.replace_list(id, ["ok", bad]).await,
            Err(StoreError::Invalid { field: "list", .. })
        ));
        assert!(matches!(
            store.patch_list(id, ["ok", bad], Vec::<&str>::new()).await,
            Err(StoreError::Invalid { field: "list", .. })
        ));
        assert!(matches!(
            store.patch_list(id, Vec::<&str>::new(), [bad]).await,
            Err(StoreError::Invalid { field: "list", .. })
        ));
    }
    assert_eq!(
        set(&store.list_values(id).await.unwrap()),
        strings(&["a", "b"])
    );
    let record = store.filter(id).await.unwrap().unwrap();
    assert_eq!((record.list_len, record.list_version), (2, 1));
    assert_eq!(store.config_version().await.unwrap(), version);
}

async fn unknown_filter_is_not_found(db: Db) {
    let store = db.store;
    assert!(matches!(
        store.replace_list(999_999, ["a"]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.patch_list(999_999, ["a"], Vec::<&str>::new()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.list_values(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.list_chunks(999_999).await,
        Err(StoreError::NotFound)
    ));
}

async fn large_list_replace_patch_and_stream(db: Db) {
    const N: usize = 200_000;
    let store = db.store;
    let id = leaf(&store).await;
    // Every value twice, as a careless upload would send it.
    let values: Vec<String> = (0..N).map(|i| format!("uid-{i:08}")).collect();
    let mut builder = ListBuilder::new();
    builder.extend(&values).unwrap();
    builder.extend(values.iter().rev()).unwrap();
    let list = tokio::task::spawn_blocking(move || builder.build())
        .await
        .unwrap();
    assert_eq!(list.len() as usize, N);

    let mut tx = store.begin().await.unwrap();
    let state = tx.replace_list_bucketed(id, &list).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state,
        ListState {
            len: N as i64,
            version: 1
        }
    );
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 256);

    // Streamed read: 256 buckets, every value exactly once.
    let reader = store.list_chunks(id).await.unwrap();
    let chunks: Vec<_> = reader.into_stream().collect().await;
    assert_eq!(chunks.len(), 256);
    let mut read: Vec<String> = Vec::with_capacity(N);
    for chunk in chunks {
        read.extend(chunk.unwrap().values().map(str::to_owned));
    }
    read.sort();
    assert_eq!(read, values);

    // A small patch rewrites only its buckets and keeps the count right.
    let state = store
        .patch_list(
            id,
            ["new-1", "new-2", "uid-00000001"],
            ["uid-00000000", "uid-00199999"],
        )
        .await
        .unwrap();
    assert_eq!(
        state,
        ListState {
            len: N as i64,
            version: 2
        }
    );
    let now = store.list_values(id).await.unwrap();
    assert_eq!(now.len(), N);
    let now = set(&now);
    assert!(now.contains("new-1") && now.contains("new-2") && now.contains("uid-00000001"));
    assert!(!now.contains("uid-00000000") && !now.contains("uid-00199999"));
}
