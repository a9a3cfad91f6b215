//! The error shape of SPEC §5 for every failure, axum's own included.

use bytes::Bytes;
use serde_json::json;

use crate::support::{Server, World};

#[tokio::test]
async fn unknown_routes_are_404_not_found() {
    let world = World::new().await;
    for path in [
        "/",
        "/api",
        "/api/nothing",
        "/api/filters/1/list/extra",
        "/metrics",
    ] {
        world
            .server
            .get(path, &world.op)
            .await
            .expect_error(404, "NOT_FOUND");
    }
    // Without a token too.
    world
        .server
        .send("GET", "/nothing", None, &[], Bytes::new())
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let world = World::new().await;
    let resp = world.server.delete("/api/customer", &world.op).await;
    resp.expect_error(405, "METHOD_NOT_ALLOWED");
    let allow = resp.headers["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
    world
        .server
        .send("PATCH", "/api/login", None, &[], Bytes::new())
        .await
        .expect_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn unparsable_bodies_are_400_bad_request() {
    let world = World::new().await;
    for body in ["{", "not json", "{\"customer\": {}} trailing", ""] {
        world
            .server
            .send(
                "POST",
                "/api/customers",
                Some(&world.op),
                &[("content-type", "application/json")],
                body,
            )
            .await
            .expect_error(400, "BAD_REQUEST");
    }
}

#[tokio::test]
async fn wrong_shapes_are_400_validation_naming_the_field() {
    let world = World::new().await;
    let resp = world
        .server
        .json(
            "POST",
            "/api/customers",
            &world.op,
            json!({"customer": {"name": 5}}),
        )
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("customer.name"));
    let resp = world
        .server
        .json("POST", "/api/customers", &world.op, json!([1, 2]))
        .await;
    resp.expect_error(400, "VALIDATION");
}

#[tokio::test]
async fn a_wrong_content_type_is_415_bad_request() {
    let world = World::new().await;
    let resp = world
        .server
        .send(
            "POST",
            "/api/suppliers",
            Some(&world.op),
            &[("content-type", "text/xml")],
            r#"{"supplier": {"name": "X"}}"#,
        )
        .await;
    resp.expect_error(415, "BAD_REQUEST");
    // curl's default form type is read as JSON (curl -d without -H).
    world
        .server
        .send(
            "POST",
            "/api/suppliers",
            Some(&world.op),
            &[("content-type", "application/x-www-form-urlencoded")],
            r#"{"supplier": {"name": "X"}}"#,
        )
        .await
        .expect_ok(201);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_too_large() {
    let server = Server::start_with(|s| s.max_body = 1024).await;
    let world = World::on(server).await;
    let name = "x".repeat(2000);
    let resp = world
        .server
        .json(
            "POST",
            "/api/suppliers",
            &world.op,
            json!({"supplier": {"name": name}}),
        )
        .await;
    resp.expect_error(413, "TOO_LARGE");
    // The login route has the same limit.
    let resp = world
        .server
        .send(
            "POST",
            "/api/login",
            None,
            &[("content-type", "application/json")],
            format!(r#"{{"email": "a@b", "password": "{name}"}}"#),
        )
        .await;
    resp.expect_error(413, "TOO_LARGE");
}

#[tokio::test]
async fn non_integer_ids_are_404() {
    let world = World::new().await;
    world
        .server
        .get("/api/customers/abc", &world.op)
        .await
        .expect_error(404, "NOT_FOUND");
    world
        .server
        .get("/api/customers/99999999999999999999", &world.op)
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn store_failures_are_500_internal_without_details() {
    let world = World::new().await;
    world.server.store.close().await;
    let resp = world.server.get("/api/customers", &world.op).await;
    resp.expect_error(500, "INTERNAL");
    assert_eq!(resp.json()["error"]["message"], "internal error");
}
