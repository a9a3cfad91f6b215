//! `serve`: stops accepting on shutdown and returns once in-flight requests are done.

use std::time::Duration;

use bidsieve_admin::{AdminSettings, AdminState};
use bidsieve_store::Store;

use crate::support::{SECRET, temp_dir};

#[tokio::test]
async fn shutdown_stops_the_server() {
    let dir = temp_dir();
    let store = Store::connect(&format!("sqlite://{}/s.db", dir.display()))
        .await
        .unwrap();
    let state = AdminState::new(store.clone(), AdminSettings::new(SECRET.to_vec()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bidsieve_admin::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    // It answers...
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    drop(stream);
    stop.send(()).unwrap();
    // ...and returns promptly once told to stop.
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returned")
        .unwrap();
    assert!(result.is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
