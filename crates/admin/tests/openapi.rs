//! `GET /api/openapi.json` (SPEC §5.6).

use bytes::Bytes;

use crate::support::Server;

#[tokio::test]
async fn the_description_is_served_without_login() {
    let server = Server::start().await;
    let resp = server
        .send("GET", "/api/openapi.json", None, &[], Bytes::new())
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc = resp.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/login",
        "/api/filters",
        "/api/filters/{id}/list",
        "/api/filters/explain",
        "/api/customers/{id}",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    // Every operation's error answers use the one error shape.
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
}
