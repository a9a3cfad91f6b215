//! Process bounds: the cap on open client connections.

use std::time::Duration;

use bidsieve_proxy::ProxySettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Proxy, ProxyOptions};

async fn healthz_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let proxy = Proxy::start_with(ProxyOptions {
        settings: ProxySettings {
            max_connections: 1,
            ..ProxySettings::default()
        },
        ..ProxyOptions::default()
    })
    .await;
    let mut first = TcpStream::connect(proxy.addr).await.unwrap();
    assert!(healthz_on(&mut first).await.starts_with("HTTP/1.1 200"));

    // The second connection is accepted by the kernel but not served while the first is open.
    let mut second = TcpStream::connect(proxy.addr).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(waited.is_err(), "served over the connection cap");

    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(second);
    // And the server goes on serving new connections.
    let mut third = TcpStream::connect(proxy.addr).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), healthz_on(&mut third))
        .await
        .expect("a new connection is served");
    assert!(answer.starts_with("HTTP/1.1 200"));
}
