//! Opening stores: URLs, directories, reopening, in-memory SQLite.

use bidsieve_store::{Engine, Store, StoreError};

use crate::support::{customer_input, temp_dir};

#[tokio::test]
async fn sqlite_file_and_directory_are_created_and_data_survives_reopening() {
    let dir = temp_dir();
    let url = format!("sqlite://{}/a/b/bidsieve.db", dir.display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.engine(), Engine::Sqlite);
    assert!(dir.join("a/b/bidsieve.db").exists());
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let version = store.config_version().await.unwrap();
    store.close().await;

    // Reopening applies no migration twice and keeps everything.
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.customer(c.id).await.unwrap(), c);
    assert_eq!(again.config_version().await.unwrap(), version);
    assert_eq!(*again.subscribe().borrow(), version);
    again.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    assert_eq!(store.customers().await.unwrap(), vec![c]);
    assert_eq!(store.load_config().await.unwrap().filters.len(), 1);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://localhost/db", "data/bidsieve.db", ""] {
        assert!(
            matches!(Store::connect(url).await, Err(StoreError::UnsupportedUrl)),
            "{url}"
        );
    }
}

#[tokio::test]
async fn unreachable_postgres_is_an_error_not_a_panic() {
    // Port 1 on loopback: nothing listens there.
    let result = Store::connect("postgres://postgres@127.0.0.1:1/none").await;
    assert!(matches!(result, Err(StoreError::Database(_))));
}
