//! Customers, suppliers, streams, users and secrets.

use bidsieve_store::{CustomerInput, StoreError, StreamInput};

use crate::support::{Db, both_engines, count_rows, customer_input, stream_input, user_input};

both_engines!(
    customer_crud,
    customer_creation_creates_the_root_filter,
    customer_delete_conflicts_while_streams_then_cascades,
    supplier_crud,
    stream_crud,
    user_crud,
    secrets_are_generated_once,
);

async fn customer_crud(db: Db) {
    let store = db.store;
    let a = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    assert!(a.id > 0);
    assert_eq!(a.slug, "acme");
    assert_eq!(a.qps, 1000);
    assert!(!a.redirect_wins && a.inject_tag && !a.keep_nurl);
    assert_eq!(store.customer(a.id).await.unwrap(), a);

    let b = store
        .create_customer(&customer_input("beta"))
        .await
        .unwrap();
    assert_eq!(store.customers().await.unwrap(), vec![a.clone(), b.clone()]);

    // Unique slug, on create and on update.
    assert!(matches!(
        store.create_customer(&customer_input("acme")).await,
        Err(StoreError::Conflict { field: "slug" })
    ));
    assert!(matches!(
        store.update_customer(b.id, &customer_input("acme")).await,
        Err(StoreError::Conflict { field: "slug" })
    ));

    let changed = CustomerInput {
        name: "Acme Inc".into(),
        slug: "acme-inc".into(),
        qps: 0,
        redirect_wins: true,
        inject_tag: false,
        keep_nurl: true,
    };
    let updated = store.update_customer(a.id, &changed).await.unwrap();
    assert_eq!(updated.id, a.id);
    assert_eq!(updated.name, "Acme Inc");
    assert_eq!(updated.slug, "acme-inc");
    assert_eq!(updated.qps, 0);
    assert!(updated.redirect_wins && !updated.inject_tag && updated.keep_nurl);
    assert_eq!(store.customer(a.id).await.unwrap(), updated);

    let negative = CustomerInput {
        qps: -1,
        ..changed.clone()
    };
    assert!(matches!(
        store.update_customer(a.id, &negative).await,
        Err(StoreError::Invalid { field: "qps", .. })
    ));
    assert!(matches!(
        store
            .create_customer(&CustomerInput {
                slug: "neg".into(),
                ..negative
            })
            .await,
        Err(StoreError::Invalid { field: "qps", .. })
    ));

    assert!(matches!(
        store.customer(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_customer(999_999, &changed).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_customer(999_999).await,
        Err(StoreError::NotFound)
    ));

    store.delete_customer(b.id).await.unwrap();
    assert!(matches!(
        store.customer(b.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.customers().await.unwrap(), vec![updated]);
}

async fn customer_creation_creates_the_root_filter(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let filters = store.filters_of(c.id).await.unwrap();
    assert_eq!(filters.len(), 1);
    let root = &filters[0];
    assert_eq!(root.customer_id, c.id);
    assert_eq!(root.parent_id, None);
    assert_eq!(root.filter_type, "boolean");
    assert_eq!(root.field_type, "and");
    assert_eq!(root.operator, None);
    assert_eq!(root.threshold, None);
    assert_eq!((root.list_len, root.list_version), (0, 0));
    assert_eq!(store.filter(root.id).await.unwrap().as_ref(), Some(root));

    // A failed creation (slug taken) leaves no orphan root behind.
    assert!(
        store
            .create_customer(&customer_input("acme"))
            .await
            .is_err()
    );
    assert_eq!(count_rows(&db.url, "filters").await, 1);
}

async fn customer_delete_conflicts_while_streams_then_cascades(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let other = store
        .create_customer(&customer_input("other"))
        .await
        .unwrap();
    let s = store.create_supplier("ssp").await.unwrap();
    let stream = store
        .create_stream(&stream_input(c.id, s.id))
        .await
        .unwrap();
    let user = store
        .create_user(&user_input("u@acme.test", Some(c.id)))
        .await
        .unwrap();
    let other_user = store
        .create_user(&user_input("u@other.test", Some(other.id)))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let mut tx = store.begin().await.unwrap();
    let leaf = tx
        .insert_filter(c.id, Some(root), "white", "size", Some("equals"), None)
        .await
        .unwrap();
    tx.replace_list(leaf, ["300x250", "320x50"]).await.unwrap();
    tx.commit().await.unwrap();

    let version = store.config_version().await.unwrap();
    assert!(matches!(
        store.delete_customer(c.id).await,
        Err(StoreError::Conflict { field: "streams" })
    ));
    assert_eq!(
        store.config_version().await.unwrap(),
        version,
        "a refused delete publishes nothing"
    );
    assert!(store.customer(c.id).await.is_ok());

    store.delete_stream(stream.id).await.unwrap();
    store.delete_customer(c.id).await.unwrap();
    assert!(matches!(
        store.customer(c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.user(user.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.filters_of(c.id).await.unwrap().is_empty());
    assert_eq!(store.filter(leaf).await.unwrap(), None);
    assert!(matches!(
        store.list_chunks(leaf).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(count_rows(&db.url, "filter_list_chunks").await, 0);
    // The other customer is untouched.
    assert_eq!(store.user(other_user.id).await.unwrap(), other_user);
    assert_eq!(store.filters_of(other.id).await.unwrap().len(), 1);
    // The supplier outlives the customer.
    assert_eq!(store.supplier(s.id).await.unwrap(), s);
}

async fn supplier_crud(db: Db) {
    let store = db.store;
    let a = store.create_supplier("Exchange A").await.unwrap();
    let b = store.create_supplier("Exchange B").await.unwrap();
    assert_eq!(store.supplier(a.id).await.unwrap(), a);
    assert_eq!(store.suppliers().await.unwrap(), vec![a.clone(), b.clone()]);

    let renamed = store.update_supplier(a.id, "Exchange A2").await.unwrap();
    assert_eq!(renamed.name, "Exchange A2");
    assert_eq!(store.supplier(a.id).await.unwrap(), renamed);
    assert!(matches!(
        store.update_supplier(999_999, "x").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.supplier(999_999).await,
        Err(StoreError::NotFound)
    ));

    // The suppliers of a customer's streams, each once.
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let d = store.create_customer(&customer_input("dyn")).await.unwrap();
    let s1 = store
        .create_stream(&stream_input(c.id, a.id))
        .await
        .unwrap();
    store
        .create_stream(&stream_input(c.id, a.id))
        .await
        .unwrap();
    store
        .create_stream(&stream_input(d.id, b.id))
        .await
        .unwrap();
    assert_eq!(
        store.suppliers_of_customer(c.id).await.unwrap(),
        vec![renamed.clone()]
    );
    assert_eq!(
        store.suppliers_of_customer(d.id).await.unwrap(),
        vec![b.clone()]
    );
    assert!(
        store
            .suppliers_of_customer(999_999)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(matches!(
        store.delete_supplier(a.id).await,
        Err(StoreError::Conflict { field: "streams" })
    ));
    let c_streams = store.streams_of(c.id).await.unwrap();
    assert_eq!(c_streams.len(), 2);
    assert_eq!(c_streams[0], s1);
    for s in c_streams {
        store.delete_stream(s.id).await.unwrap();
    }
    store.delete_supplier(a.id).await.unwrap();
    assert!(matches!(
        store.supplier(a.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_supplier(a.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.suppliers().await.unwrap(), vec![b]);
}

async fn stream_crud(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let d = store.create_customer(&customer_input("dyn")).await.unwrap();
    let s = store.create_supplier("ssp").await.unwrap();

    let generated = store
        .create_stream(&stream_input(c.id, s.id))
        .await
        .unwrap();
    assert_eq!(generated.client_id.len(), 32);
    assert!(
        generated
            .client_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(generated.customer_id, c.id);
    assert_eq!(generated.supplier_id, s.id);
    assert_eq!(generated.seat_id, "seat-1");
    assert_eq!(store.stream(generated.id).await.unwrap(), generated);

    let given_id = "00112233445566778899aabbccddeeff";
    let given = store
        .create_stream(&StreamInput {
            client_id: Some(given_id.into()),
            ..stream_input(d.id, s.id)
        })
        .await
        .unwrap();
    assert_eq!(given.client_id, given_id);
    assert_eq!(
        store.stream_by_client_id(given_id).await.unwrap(),
        Some(given.clone())
    );
    assert_eq!(
        store
            .stream_by_client_id("ffffffffffffffffffffffffffffffff")
            .await
            .unwrap(),
        None
    );

    // Client ids: unique, 32 lowercase hex.
    assert!(matches!(
        store
            .create_stream(&StreamInput {
                client_id: Some(given_id.into()),
                ..stream_input(c.id, s.id)
            })
            .await,
        Err(StoreError::Conflict { field: "client_id" })
    ));
    assert!(matches!(
        store
            .create_stream(&StreamInput {
                client_id: Some("ABC".into()),
                ..stream_input(c.id, s.id)
            })
            .await,
        Err(StoreError::Invalid {
            field: "client_id",
            ..
        })
    ));
    // References must exist.
    assert!(matches!(
        store.create_stream(&stream_input(999_999, s.id)).await,
        Err(StoreError::MissingReference {
            field: "customer_id"
        })
    ));
    assert!(matches!(
        store.create_stream(&stream_input(c.id, 999_999)).await,
        Err(StoreError::MissingReference {
            field: "supplier_id"
        })
    ));

    assert_eq!(
        store.streams().await.unwrap(),
        vec![generated.clone(), given.clone()]
    );
    assert_eq!(
        store.streams_of(c.id).await.unwrap(),
        vec![generated.clone()]
    );
    assert_eq!(store.streams_of(d.id).await.unwrap(), vec![given.clone()]);

    // Update: `client_id: None` keeps it; everything else is replaced.
    let moved = store
        .update_stream(
            generated.id,
            &StreamInput {
                client_id: None,
                supplier_id: s.id,
                customer_id: d.id,
                seat_id: "seat-2".into(),
                customer_endpoint: "https://bidder.example/rtb".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.client_id, generated.client_id);
    assert_eq!(
        (moved.customer_id, moved.seat_id.as_str()),
        (d.id, "seat-2")
    );
    assert_eq!(store.stream(generated.id).await.unwrap(), moved);
    let new_id = "ffffffffffffffffffffffffffffffff";
    let renamed = store
        .update_stream(
            generated.id,
            &StreamInput {
                client_id: Some(new_id.into()),
                ..stream_input(c.id, s.id)
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.client_id, new_id);
    assert_eq!(
        store
            .stream_by_client_id(&generated.client_id)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .update_stream(
                generated.id,
                &StreamInput {
                    client_id: Some(given_id.into()),
                    ..stream_input(c.id, s.id)
                }
            )
            .await,
        Err(StoreError::Conflict { field: "client_id" })
    ));
    assert!(matches!(
        store
            .update_stream(999_999, &stream_input(c.id, s.id))
            .await,
        Err(StoreError::NotFound)
    ));

    store.delete_stream(given.id).await.unwrap();
    assert!(matches!(
        store.stream(given.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_stream(given.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.streams().await.unwrap(), vec![renamed]);
}

async fn user_crud(db: Db) {
    let store = db.store;
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let op = store
        .create_user(&user_input("Admin@Example.COM", None))
        .await
        .unwrap();
    assert_eq!(op.email, "admin@example.com");
    assert_eq!(op.role, "operator");
    assert_eq!(op.customer_id, None);
    let cu = store
        .create_user(&user_input("buyer@acme.test", Some(c.id)))
        .await
        .unwrap();
    assert_eq!((cu.role.as_str(), cu.customer_id), ("customer", Some(c.id)));

    assert!(matches!(
        store
            .create_user(&user_input("ADMIN@example.com", None))
            .await,
        Err(StoreError::Conflict { field: "email" })
    ));
    assert!(matches!(
        store
            .create_user(&user_input("x@y.test", Some(999_999)))
            .await,
        Err(StoreError::MissingReference {
            field: "customer_id"
        })
    ));
    let mut bad_role = user_input("r@y.test", None);
    bad_role.role = "root".into();
    assert!(matches!(
        store.create_user(&bad_role).await,
        Err(StoreError::Invalid { field: "role", .. })
    ));

    assert_eq!(store.user(op.id).await.unwrap(), op);
    assert_eq!(
        store.user_by_email("ADMIN@EXAMPLE.com").await.unwrap(),
        Some(op.clone())
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.users().await.unwrap(), vec![op.clone(), cu.clone()]);

    // The hash never leaves through serde or Debug.
    let json = serde_json::to_string(&op).unwrap();
    assert!(
        !json.contains("argon2") && !json.contains("password"),
        "{json}"
    );
    assert!(!format!("{op:?}").contains("argon2"));

    store.delete_user(cu.id).await.unwrap();
    assert!(matches!(store.user(cu.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.delete_user(cu.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.users().await.unwrap(), vec![op]);
}

async fn secrets_are_generated_once(db: Db) {
    let store = db.store;
    let version = store.config_version().await.unwrap();
    let first = store.secret("jwt", || vec![1, 2, 3, 0, 255]).await.unwrap();
    assert_eq!(first, vec![1, 2, 3, 0, 255]);
    let again = store
        .secret("jwt", || panic!("must not generate a stored secret again"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = store.secret("win_key", || vec![9; 32]).await.unwrap();
    assert_eq!(other, vec![9; 32]);

    // Two processes racing: both end with the same stored value.
    let second = bidsieve_store::Store::connect(&db.url).await.unwrap();
    let (x, y) = tokio::join!(
        store.secret("race", || vec![1; 16]),
        second.secret("race", || vec![2; 16]),
    );
    assert_eq!(x.unwrap(), y.unwrap());
    second.close().await;
    assert_eq!(
        store.config_version().await.unwrap(),
        version,
        "secrets are not configuration"
    );
}
