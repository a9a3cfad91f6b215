//! Large lists (SPEC §3.4, §5.5).

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use crate::support::{Server, World};

/// Request headers of a case.
type Headers = Vec<(&'static str, &'static str)>;

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_owned).collect()
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

async fn new_filter(world: &World, token: &str, filter: Value) -> i64 {
    world
        .server
        .json("POST", "/api/filters", token, json!({"filter": filter}))
        .await
        .expect_ok(201)["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_list_streams_as_text_one_value_a_line() {
    let world = World::new().await;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "country", "filter_type": "white", "list": ["UK", "us", "FRA"]}),
    )
    .await;
    let resp = world
        .server
        .get(&format!("/api/filters/{id}/list"), t)
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(resp.headers["x-list-length"], "3");
    assert_eq!(lines(&resp.text()), set(&["FR", "GB", "US"]));
    assert!(resp.text().ends_with('\n'));
}

#[tokio::test]
async fn filters_without_lists_and_other_customers_lists_are_404() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let threshold = new_filter(
        &world,
        t,
        json!({"field_type": "authed", "operator": "lessthan", "threshold": 0.3}),
    )
    .await;
    let theirs = new_filter(
        &world,
        &world.globex.token,
        json!({"field_type": "user", "filter_type": "white", "list": ["g1"]}),
    )
    .await;
    for path in [
        format!("/api/filters/{threshold}/list"),
        format!("/api/filters/{}/list", world.acme.root_filter),
        format!("/api/filters/{theirs}/list"),
        "/api/filters/424242/list".to_owned(),
    ] {
        s.get(&path, t).await.expect_error(404, "NOT_FOUND");
        s.send(
            "PUT",
            &path,
            Some(t),
            &[("content-type", "text/plain")],
            "x\n",
        )
        .await
        .expect_error(404, "NOT_FOUND");
        s.json("PATCH", &path, t, json!({"add": ["x"]}))
            .await
            .expect_error(404, "NOT_FOUND");
    }
    assert_eq!(s.store.list_values(theirs).await.unwrap(), ["g1"]);
    // The operator names the customer.
    let resp = s
        .get(
            &format!("/api/filters/{theirs}/list?customer_id={}", world.globex.id),
            &world.op,
        )
        .await;
    assert_eq!(resp.text(), "g1\n");
}

#[tokio::test]
async fn put_replaces_the_list_from_text_json_or_gzip() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "user", "filter_type": "white", "list": ["old"]}),
    )
    .await;
    let path = format!("/api/filters/{id}/list");

    let data = s
        .send(
            "PUT",
            &path,
            Some(t),
            &[("content-type", "text/plain")],
            "u2\r\nu1\n\n  u3  \nu1",
        )
        .await
        .expect_ok(200);
    assert_eq!(data["id"], id);
    assert_eq!(data["list"], json!(["u1", "u2", "u3"]));
    assert_eq!(
        lines(&s.get(&path, t).await.text()),
        set(&["u1", "u2", "u3"])
    );

    let data = s
        .json("PUT", &path, t, json!(["j1", 2, "j1"]))
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!(["2", "j1"]));

    let body = gzip(b"g1\ng2\n");
    let data = s
        .send(
            "PUT",
            &path,
            Some(t),
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            body,
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!(["g1", "g2"]));
    let body = gzip(br#"["z1","z2"]"#);
    let data = s
        .send(
            "PUT",
            &path,
            Some(t),
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            body,
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!(["z1", "z2"]));
    // No content type: text. An empty body: an empty list.
    let data = s
        .send("PUT", &path, Some(t), &[], "n1\n")
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!(["n1"]));
    let data = s
        .send("PUT", &path, Some(t), &[("content-type", "text/plain")], "")
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!([]));
}

#[tokio::test]
async fn a_rejected_upload_changes_nothing() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "size", "filter_type": "white", "list": ["300x250"]}),
    )
    .await;
    let path = format!("/api/filters/{id}/list");
    let before_tree = s.get("/api/filters", t).await.body;
    let version = s.store.config_version().await.unwrap();
    let cases: Vec<(Headers, Vec<u8>, u16, &str)> = vec![
        (
            vec![("content-type", "text/plain")],
            b"320x50\nhuge\n".to_vec(),
            400,
            "VALIDATION",
        ),
        (
            vec![("content-type", "application/json")],
            b"[\"320x50\", \"huge\"]".to_vec(),
            400,
            "VALIDATION",
        ),
        (
            vec![("content-type", "application/json")],
            b"[\"320x50\"".to_vec(),
            400,
            "VALIDATION",
        ),
        (
            vec![("content-type", "application/json")],
            b"{\"list\": []}".to_vec(),
            400,
            "VALIDATION",
        ),
        (
            vec![("content-type", "text/plain"), ("content-encoding", "gzip")],
            b"not gzip".to_vec(),
            400,
            "BAD_REQUEST",
        ),
        (
            vec![("content-type", "text/plain"), ("content-encoding", "br")],
            b"x".to_vec(),
            415,
            "BAD_REQUEST",
        ),
        (
            vec![("content-type", "image/png")],
            b"x".to_vec(),
            415,
            "BAD_REQUEST",
        ),
    ];
    for (headers, body, status, error) in cases {
        let resp = s.send("PUT", &path, Some(t), &headers, body.clone()).await;
        resp.expect_error(status, error);
        if error == "VALIDATION" {
            assert_eq!(resp.error_field().as_deref(), Some("list"));
        }
        assert_eq!(
            s.get("/api/filters", t).await.body,
            before_tree,
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(s.get(&path, t).await.text(), "300x250\n");
    assert_eq!(s.store.config_version().await.unwrap(), version);
}

#[tokio::test]
async fn uploads_over_the_list_limit_are_413() {
    let server = Server::start_with(|s| s.max_list_body = 1000).await;
    let world = World::on(server).await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "user", "filter_type": "white", "list": ["keep"]}),
    )
    .await;
    let path = format!("/api/filters/{id}/list");
    let big: String = (0..200).map(|i| format!("user-{i}\n")).collect();
    s.send(
        "PUT",
        &path,
        Some(t),
        &[("content-type", "text/plain")],
        big.clone(),
    )
    .await
    .expect_error(413, "TOO_LARGE");
    // A small gzip body that inflates past the limit.
    let bomb = gzip(big.as_bytes());
    assert!(bomb.len() < 1000);
    s.send(
        "PUT",
        &path,
        Some(t),
        &[("content-type", "text/plain"), ("content-encoding", "gzip")],
        bomb,
    )
    .await
    .expect_error(413, "TOO_LARGE");
    let patch = json!({"add": (0..200).map(|i| format!("user-{i}")).collect::<Vec<_>>()});
    s.json("PATCH", &path, t, patch)
        .await
        .expect_error(413, "TOO_LARGE");
    assert_eq!(s.get(&path, t).await.text(), "keep\n");
    // The list limit is for the list routes only: other routes keep max_body.
    let small = (0..100)
        .map(|i| format!("u{i}"))
        .collect::<Vec<_>>()
        .join("\n");
    s.send(
        "PUT",
        &path,
        Some(t),
        &[("content-type", "text/plain")],
        small,
    )
    .await
    .expect_ok(200);
}

#[tokio::test]
async fn patch_adds_and_removes_atomically() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "stream", "filter_type": "black", "list": [1, 2, 3]}),
    )
    .await;
    let path = format!("/api/filters/{id}/list");
    let data = s
        .json(
            "PATCH",
            &path,
            t,
            json!({"add": [4, "5"], "remove": [1, 99]}),
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!([2, 3, 4, 5]));
    let data = s
        .json("PATCH", &path, t, json!({"remove": [2]}))
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!([3, 4, 5]));
    // An invalid value anywhere: nothing applied.
    let resp = s
        .json("PATCH", &path, t, json!({"add": [6], "remove": ["x"]}))
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("remove"));
    let resp = s.json("PATCH", &path, t, json!({"add": "7"})).await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("add"));
    s.json("PATCH", &path, t, json!({"append": [1]}))
        .await
        .expect_error(400, "VALIDATION");
    s.send(
        "PATCH",
        &path,
        Some(t),
        &[("content-type", "application/json")],
        "{",
    )
    .await
    .expect_error(400, "BAD_REQUEST");
    assert_eq!(lines(&s.get(&path, t).await.text()), set(&["3", "4", "5"]));
}

#[tokio::test]
async fn long_lists_show_as_the_too_long_text_and_stream_whole() {
    let server = Server::start_with(|s| s.list_inline_max = 10).await;
    let world = World::on(server).await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = new_filter(
        &world,
        t,
        json!({"field_type": "user", "filter_type": "white", "list": []}),
    )
    .await;
    let path = format!("/api/filters/{id}/list");
    let n = 200_000;
    let body: String = (0..n).map(|i| format!("device-{i:08}\n")).collect();
    let data = s
        .send(
            "PUT",
            &path,
            Some(t),
            &[("content-type", "text/plain")],
            body,
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], format!("List too long to return: {n}"));
    let tree = s.get("/api/filters", t).await.expect_ok(200);
    assert_eq!(
        tree["filters"][0]["list"],
        format!("List too long to return: {n}")
    );
    let resp = s.get(&path, t).await;
    assert_eq!(resp.headers["x-list-length"], n.to_string().as_str());
    let got = lines(&resp.text());
    assert_eq!(got.len(), n);
    assert!(got.contains("device-00000000") && got.contains(&format!("device-{:08}", n - 1)));
    // A patch on the big list touches a few buckets.
    let data = s
        .json(
            "PATCH",
            &path,
            t,
            json!({"add": ["new-device"], "remove": ["device-00000000"]}),
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], format!("List too long to return: {n}"));
    let values = s.store.list_values(id).await.unwrap();
    assert_eq!(values.len(), n);
    assert!(values.iter().any(|v| v == "new-device"));
    assert!(!values.iter().any(|v| v == "device-00000000"));
}
