//! `POST /api/filters/explain` (SPEC §5.4).

use std::io::Write;

use serde_json::{Value, json};

use crate::support::World;

fn request(country: &str, score: f64) -> Value {
    json!({"id": "r1", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
           "device": {"geo": {"country": country}},
           "ext": {"authenticated": {"authed": {"score": score}}}})
}

/// Every node of `tree` with its result, by id.
fn results(tree: &Value, out: &mut Vec<(i64, bool)>) {
    out.push((
        tree["id"].as_i64().unwrap(),
        tree["result"]
            .as_bool()
            .unwrap_or_else(|| panic!("no result: {tree}")),
    ));
    for child in tree["filters"].as_array().into_iter().flatten() {
        results(child, out);
    }
}

async fn explain(world: &World, token: &str, query: &str, body: &Value) -> Value {
    world
        .server
        .json(
            "POST",
            &format!("/api/filters/explain{query}"),
            token,
            body.clone(),
        )
        .await
        .expect_ok(200)
}

#[tokio::test]
async fn every_node_carries_its_result_and_the_root_decides() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    // UK and at least 0.5, or anything at 0.7.
    s.json(
        "PUT",
        "/api/filters",
        t,
        json!({"filter": {"field_type": "or", "filters": [
            {"field_type": "and", "filters": [
                {"field_type": "country", "filter_type": "white", "list": ["UK"]},
                {"field_type": "authed", "operator": "greaterthan", "threshold": 0.5}
            ]},
            {"field_type": "authed", "operator": "greaterthan", "threshold": 0.7}
        ]}}),
    )
    .await
    .expect_ok(200);
    let cases = [
        (
            request("GBR", 0.6),
            "forward",
            [true, true, true, true, false],
        ),
        (
            request("US", 0.6),
            "drop",
            [false, false, false, true, false],
        ),
        (
            request("US", 0.9),
            "forward",
            [true, false, false, true, true],
        ),
    ];
    for (body, decision, expected) in cases {
        let data = explain(&world, t, "", &body).await;
        assert_eq!(data["decision"], decision, "{body}");
        let mut got = Vec::new();
        results(&data["tree"], &mut got);
        // Root, and-group, country, authed 0.5, authed 0.7: in tree (id) order.
        let got: Vec<bool> = got.iter().map(|(_, r)| *r).collect();
        assert_eq!(got, expected, "{body}");
        assert_eq!(
            data["tree"]["filters"][0]["filters"][0]["list"],
            json!(["GB"])
        );
    }
}

#[tokio::test]
async fn streams_are_the_callers_own_and_set_the_stream_facts() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    s.json("POST", "/api/filters", t, json!({"filter": {"field_type": "stream", "filter_type": "white", "list": [world.acme.stream_id]}}))
        .await
        .expect_ok(201);
    let body = request("US", 0.1);
    let data = explain(&world, t, "", &body).await;
    assert_eq!(data["decision"], "drop", "no stream named: stream id 0");
    let data = explain(
        &world,
        t,
        &format!("?stream_id={}", world.acme.stream_id),
        &body,
    )
    .await;
    assert_eq!(data["decision"], "forward");
    for query in [
        format!("?stream_id={}", world.globex.stream_id),
        "?stream_id=424242".into(),
    ] {
        s.json(
            "POST",
            &format!("/api/filters/explain{query}"),
            t,
            body.clone(),
        )
        .await
        .expect_error(404, "NOT_FOUND");
    }
    // The operator names the customer.
    let data = explain(
        &world,
        &world.op,
        &format!(
            "?customer_id={}&stream_id={}",
            world.acme.id, world.acme.stream_id
        ),
        &body,
    )
    .await;
    assert_eq!(data["decision"], "forward");
}

#[tokio::test]
async fn uid2_status_is_none_without_a_token_and_not_initialized_without_keys() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    s.json(
        "POST",
        "/api/filters",
        t,
        json!({"filter": {"field_type": "uid2_status", "filter_type": "white", "list": ["NONE"]}}),
    )
    .await
    .expect_ok(201);
    let plain = request("US", 0.1);
    assert_eq!(explain(&world, t, "", &plain).await["decision"], "forward");
    let mut with_token = plain.clone();
    with_token["user"] =
        json!({"eids": [{"source": "uidapi.com", "uids": [{"id": "A4AAAAPpAAAAAAAA"}]}]});
    assert_eq!(
        explain(&world, t, "", &with_token).await["decision"],
        "drop"
    );
    let id = s.get("/api/filters", t).await.expect_ok(200)["filters"][0]["id"].clone();
    s.json(
        "PUT",
        &format!("/api/filters/{id}"),
        t,
        json!({"filter": {"list": ["NOT_INITIALIZED"]}}),
    )
    .await
    .expect_ok(200);
    assert_eq!(
        explain(&world, t, "", &with_token).await["decision"],
        "forward"
    );
}

#[tokio::test]
async fn not_a_bid_request_is_400_and_gzip_is_read() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    for body in [
        json!({"id": "x"}),
        json!([1]),
        json!({"id": "x", "imp": []}),
    ] {
        s.json("POST", "/api/filters/explain", t, body)
            .await
            .expect_error(400, "BAD_REQUEST");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&request("US", 0.1)).unwrap())
        .unwrap();
    let data = s
        .send(
            "POST",
            "/api/filters/explain",
            Some(t),
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gz.finish().unwrap(),
        )
        .await
        .expect_ok(200);
    assert_eq!(data["decision"], "forward");
    s.send(
        "POST",
        "/api/filters/explain",
        Some(t),
        &[("content-encoding", "gzip")],
        &b"not gzip"[..],
    )
    .await
    .expect_error(400, "BAD_REQUEST");
}
