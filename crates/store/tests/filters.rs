//! Filter nodes and the transaction API.

use bidsieve_store::StoreError;

use crate::support::{Db, both_engines, count_rows, customer_input};

both_engines!(
    filter_tree_edits,
    filter_tree_rules,
    dropped_transaction_changes_nothing,
    failed_step_then_drop_changes_nothing,
);

async fn filter_tree_edits(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;

    let mut tx = store.begin().await.unwrap();
    let or = tx
        .insert_filter(c.id, Some(root), "boolean", "or", None, None)
        .await
        .unwrap();
    let size = tx
        .insert_filter(c.id, Some(or), "white", "size", Some("equals"), None)
        .await
        .unwrap();
    let authed = tx
        .insert_filter(
            c.id,
            Some(or),
            "threshold",
            "authed",
            Some("greaterthan"),
            Some(0.5),
        )
        .await
        .unwrap();
    tx.replace_list(size, ["300x250"]).await.unwrap();
    // Reads inside the transaction see its own writes.
    assert_eq!(tx.filters_of(c.id).await.unwrap().len(), 4);
    tx.commit().await.unwrap();

    let all = store.filters_of(c.id).await.unwrap();
    assert_eq!(
        all.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![root, or, size, authed]
    );
    let t = store.filter(authed).await.unwrap().unwrap();
    assert_eq!(t.parent_id, Some(or));
    assert_eq!(t.filter_type, "threshold");
    assert_eq!(t.field_type, "authed");
    assert_eq!(t.operator.as_deref(), Some("greaterthan"));
    assert_eq!(t.threshold, Some(0.5));
    assert_eq!(store.filter(size).await.unwrap().unwrap().list_len, 1);

    // Update: move the threshold under the root, change its operator and threshold.
    let mut tx = store.begin().await.unwrap();
    let updated = tx
        .update_filter(
            authed,
            Some(root),
            "threshold",
            "authed",
            Some("lessthan"),
            Some(0.25),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(updated.parent_id, Some(root));
    assert_eq!(updated.operator.as_deref(), Some("lessthan"));
    assert_eq!(updated.threshold, Some(0.25));
    assert_eq!(store.filter(authed).await.unwrap().unwrap(), updated);

    // Root type changes are updates too (declarative apply replaces the root in place).
    let mut tx = store.begin().await.unwrap();
    let new_root = tx
        .update_filter(root, None, "boolean", "or", None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (new_root.parent_id, new_root.field_type.as_str()),
        (None, "or")
    );

    // Subtree delete: `or` and its child `size` (with its list) go; `authed` stays.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete_filter_subtree(or).await.unwrap(), 2);
    tx.commit().await.unwrap();
    let left: Vec<i64> = store
        .filters_of(c.id)
        .await
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(left, vec![root, authed]);
    assert_eq!(store.filter(size).await.unwrap(), None);
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 0);
}

async fn filter_tree_rules(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let d = store.create_customer(&customer_input("dyn")).await.unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let other_root = store.filters_of(d.id).await.unwrap()[0].id;
    let mut tx = store.begin().await.unwrap();
    let and = tx
        .insert_filter(c.id, Some(root), "boolean", "and", None, None)
        .await
        .unwrap();
    let leaf = tx
        .insert_filter(c.id, Some(and), "black", "country", None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    // A second root.
    assert!(matches!(
        tx.insert_filter(c.id, None, "boolean", "and", None, None)
            .await,
        Err(StoreError::Conflict { field: "parent_id" })
    ));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    // A parent of another customer, or none at all.
    assert!(matches!(
        tx.insert_filter(c.id, Some(other_root), "white", "size", None, None)
            .await,
        Err(StoreError::MissingReference { field: "parent_id" })
    ));
    assert!(matches!(
        tx.insert_filter(c.id, Some(999_999), "white", "size", None, None)
            .await,
        Err(StoreError::MissingReference { field: "parent_id" })
    ));
    assert!(matches!(
        tx.insert_filter(999_999, None, "boolean", "and", None, None)
            .await,
        Err(StoreError::MissingReference {
            field: "customer_id"
        })
    ));
    // Cycles: under itself, under its own descendant; the root under anything.
    assert!(matches!(
        tx.update_filter(and, Some(and), "boolean", "and", None, None)
            .await,
        Err(StoreError::Invalid {
            field: "parent_id",
            ..
        })
    ));
    assert!(matches!(
        tx.update_filter(and, Some(leaf), "boolean", "and", None, None)
            .await,
        Err(StoreError::Invalid {
            field: "parent_id",
            ..
        })
    ));
    assert!(matches!(
        tx.update_filter(root, Some(leaf), "boolean", "and", None, None)
            .await,
        Err(StoreError::Invalid {
            field: "parent_id",
            ..
        })
    ));
    assert!(matches!(
        tx.update_filter(leaf, Some(other_root), "black", "country", None, None)
            .await,
        Err(StoreError::MissingReference { field: "parent_id" })
    ));
    assert!(matches!(
        tx.update_filter(999_999, Some(root), "black", "country", None, None)
            .await,
        Err(StoreError::NotFound)
    ));
    // The root cannot be deleted; unknown ids are not found.
    assert!(matches!(
        tx.delete_filter_subtree(root).await,
        Err(StoreError::Invalid { field: "id", .. })
    ));
    assert!(matches!(
        tx.delete_filter_subtree(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(tx.filter(999_999).await.unwrap(), None);
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    // Detaching a node would make it a second root.
    assert!(matches!(
        tx.update_filter(leaf, None, "black", "country", None, None)
            .await,
        Err(StoreError::Conflict { field: "parent_id" })
    ));
    drop(tx);
    assert_eq!(store.filters_of(c.id).await.unwrap().len(), 3);
}

async fn dropped_transaction_changes_nothing(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let before = store.load_config().await.unwrap();
    let mut rx = store.subscribe();
    rx.mark_unchanged();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.version(), before.version + 1);
    let leaf = tx
        .insert_filter(c.id, Some(root), "white", "user", None, None)
        .await
        .unwrap();
    tx.replace_list(leaf, ["a", "b"]).await.unwrap();
    tx.update_filter(root, None, "boolean", "or", None, None)
        .await
        .unwrap();
    drop(tx);

    assert_eq!(store.load_config().await.unwrap(), before);
    assert_eq!(store.filter(leaf).await.unwrap(), None);
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 0);
    assert!(!rx.has_changed().unwrap(), "nothing was published");

    // Explicit rollback is the same.
    let mut tx = store.begin().await.unwrap();
    tx.insert_filter(c.id, Some(root), "white", "user", None, None)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.load_config().await.unwrap(), before);
}

async fn failed_step_then_drop_changes_nothing(db: Db) {
    // The admin's bulk create: the second filter is bad, so none is kept.
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let before = store.load_config().await.unwrap();
    let result = async {
        let mut tx = store.begin().await?;
        let first = tx
            .insert_filter(c.id, Some(root), "white", "size", None, None)
            .await?;
        tx.replace_list(first, ["300x250"]).await?;
        tx.replace_list(first, ["bad\nvalue"]).await?;
        tx.commit().await
    }
    .await;
    assert!(matches!(
        result,
        Err(StoreError::Invalid { field: "list", .. })
    ));
    assert_eq!(store.load_config().await.unwrap(), before);
}

both_engines!(threshold_none_then_some_on_one_connection);

/// Regression: sqlx 0.9's Any driver binds `None::<f64>` as a float4 NULL; a cached statement
/// prepared that way rejected the next float8 threshold on PostgreSQL ("incorrect binary data
/// format in bind parameter 6").
async fn threshold_none_then_some_on_one_connection(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let mut tx = store.begin().await.unwrap();
    let a = tx
        .insert_filter(c.id, Some(root), "boolean", "or", None, None)
        .await
        .unwrap();
    let b = tx
        .insert_filter(
            c.id,
            Some(a),
            "threshold",
            "authed",
            Some("greaterthan"),
            Some(0.75),
        )
        .await
        .unwrap();
    tx.update_filter(b, Some(a), "threshold", "authed", Some("lessthan"), None)
        .await
        .unwrap();
    tx.update_filter(
        b,
        Some(a),
        "threshold",
        "authed",
        Some("lessthan"),
        Some(-1.5),
    )
    .await
    .unwrap();
    let c2 = tx
        .insert_filter(c.id, Some(a), "boolean", "and", None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.filter(b).await.unwrap().unwrap().threshold,
        Some(-1.5)
    );
    assert_eq!(store.filter(c2).await.unwrap().unwrap().threshold, None);
}
