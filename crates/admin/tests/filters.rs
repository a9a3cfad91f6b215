//! The filter endpoints (SPEC §5.4) and the validation rules of SPEC §3.3.

use serde_json::{Value, json};

use crate::support::{Server, Tenant, World};

/// `GET /api/filters` raw bytes: rejected changes must leave them identical.
async fn tree_bytes(world: &World, tenant: &Tenant) -> bytes::Bytes {
    let resp = world.server.get("/api/filters", &tenant.token).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.body
}

async fn tree(world: &World, tenant: &Tenant) -> Value {
    world
        .server
        .get("/api/filters", &tenant.token)
        .await
        .expect_ok(200)
}

/// The ids of the children of `node`.
fn child(node: &Value, index: usize) -> &Value {
    &node["filters"][index]
}

#[tokio::test]
async fn a_new_customer_has_the_root_and_only() {
    let world = World::new().await;
    let t = tree(&world, &world.acme).await;
    assert_eq!(
        t,
        json!({"id": world.acme.root_filter, "field_type": "and", "filter_type": "boolean", "filters": []})
    );
}

#[tokio::test]
async fn the_seed_guides_uk_hierarchy_builds_through_the_api() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let root = world.acme.root_filter;
    // "First, update or create the top level filter which will be an OR filter".
    let data = s
        .json(
            "PUT",
            &format!("/api/filters/{root}"),
            t,
            json!({"filter": {"field_type": "or", "filter_type": "boolean"}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(
        data,
        json!({"id": root, "field_type": "or", "filter_type": "boolean"})
    );
    // "Combining Filters" plus the UK filter: ids are labels, `parent_id` an alias.
    let body = json!({"filters": [
        {"id": 2, "field_type": "size", "operator": "equals", "list": ["300x250","320x100","320x50"], "filter_type": "white", "parent_id": 4},
        {"id": 3, "field_type": "authed", "operator": "greaterthan", "threshold": 0.5, "filter_type": "threshold", "parent_id": 4},
        {"id": 4, "field_type": "and", "filter_type": "boolean", "parent_id": root},
        {"id": 5, "field_type": "country", "operator": "equals", "list": ["UK"], "filter_type": "white", "parent_id": 4}
    ]});
    let created = s.json("POST", "/api/filters", t, body).await.expect_ok(201);
    let created = created.as_array().unwrap();
    assert_eq!(created.len(), 4);
    // In request order, with stored ids and real parents.
    let and_id = created[2]["id"].as_i64().unwrap();
    assert_eq!(created[2]["parent_filter_id"], root);
    for i in [0, 1, 3] {
        assert_eq!(created[i]["parent_filter_id"], and_id, "{}", created[i]);
    }
    assert_eq!(created[0]["field_type"], "size");
    assert_eq!(created[3]["list"], json!(["GB"]), "UK is stored as GB");
    // "Finally, create the filter for the other traffic".
    let body = json!({"filters": [
        {"id": 6, "field_type": "authed", "operator": "greaterthan", "threshold": 0.7, "filter_type": "threshold", "parent_id": 8},
        {"id": 7, "field_type": "country", "operator": "equals", "list": ["UK"], "filter_type": "black", "parent_id": 8},
        {"id": 8, "field_type": "and", "filter_type": "boolean", "parent_id": root}
    ]});
    s.json("POST", "/api/filters", t, body).await.expect_ok(201);

    let t = tree(&world, &world.acme).await;
    assert_eq!(t["field_type"], "or");
    let groups = t["filters"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(child(&t, 0)["filters"].as_array().unwrap().len(), 3);
    assert_eq!(child(&t, 1)["filters"].as_array().unwrap().len(), 2);
    assert_eq!(
        child(child(&t, 0), 0),
        &json!({"id": created[0]["id"], "field_type": "size", "filter_type": "white", "operator": "equals", "list": ["300x250", "320x100", "320x50"]})
    );
}

#[tokio::test]
async fn one_filter_goes_under_the_root_unless_a_parent_is_given() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let root = world.acme.root_filter;
    let created = s
        .json(
            "POST",
            "/api/filters",
            t,
            json!({"filter": {"field_type": "user", "filter_type": "white", "list": [4]}}),
        )
        .await
        .expect_ok(201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        created,
        json!({"id": id, "field_type": "user", "filter_type": "white", "operator": "equals", "list": ["4"], "parent_filter_id": root})
    );
    // Flat GET.
    let flat = s.get(&format!("/api/filters/{id}"), t).await.expect_ok(200);
    assert_eq!(flat, created);
    let flat = s
        .get(&format!("/api/filters/{root}"), t)
        .await
        .expect_ok(200);
    assert_eq!(
        flat,
        json!({"id": root, "field_type": "and", "filter_type": "boolean"})
    );
    // The seed's device-id filter example has no field or filter type: named as the error.
    let resp = s
        .json(
            "POST",
            "/api/filters",
            t,
            json!({"filter": {"operator": "equals", "list": [4]}}),
        )
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("field_type"));
}

#[tokio::test]
async fn a_nested_tree_is_created_whole() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    // The seed guide's "Filter Examples" tree.
    let body = json!({"filter": {
    "filter_type": "boolean", "field_type": "or",
    "filters": [
        {"filter_type": "boolean", "field_type": "and", "filters": [
            {"filter_type": "white", "field_type": "country", "operator": "equals", "list": ["US","CA"]},
            {"filter_type": "white", "field_type": "user", "operator": "equals", "list": ["user1","user2"]}
        ]},
        {"filter_type": "boolean", "field_type": "and", "filters": [
            {"filter_type": "white", "field_type": "country", "operator": "equals", "list": ["GB","IE","DE"]},
            {"filter_type": "white", "field_type": "size", "operator": "equals", "list": ["300x250"]},
            {"filter_type": "white", "field_type": "user", "operator": "equals", "list": ["user3","user4"]}
        ]}
    ]}});
    let created = s.json("POST", "/api/filters", t, body).await.expect_ok(201);
    assert_eq!(created["parent_filter_id"], world.acme.root_filter);
    assert_eq!(created["field_type"], "or");
    assert!(created["id"].is_i64());
    assert_eq!(child(&created, 0)["filters"].as_array().unwrap().len(), 2);
    assert_eq!(child(&created, 1)["filters"].as_array().unwrap().len(), 3);
    assert_eq!(
        child(child(&created, 1), 0)["list"],
        json!(["DE", "GB", "IE"])
    );
    let whole = tree(&world, &world.acme).await;
    let mut top = created.clone();
    top.as_object_mut().unwrap().remove("parent_filter_id");
    assert_eq!(whole["filters"], json!([top]));
}

#[tokio::test]
async fn bulk_creation_is_all_or_nothing() {
    let world = World::new().await;
    let before = tree_bytes(&world, &world.acme).await;
    let version = world.server.store.config_version().await.unwrap();
    let resp = world
        .server
        .json(
            "POST",
            "/api/filters",
            &world.acme.token,
            json!({"filters": [
                {"field_type": "and", "filter_type": "boolean"},
                {"field_type": "size", "filter_type": "white", "list": ["300x250", "big"]}
            ]}),
        )
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("list"));
    let message = resp.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("filters[1]"),
        "names the filter: {message}"
    );
    assert_eq!(tree_bytes(&world, &world.acme).await, before);
    assert_eq!(
        world.server.store.config_version().await.unwrap(),
        version,
        "nothing was written"
    );
}

#[tokio::test]
async fn every_rejected_change_leaves_the_tree_byte_identical() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let root = world.acme.root_filter;
    let made = s
        .json("POST", "/api/filters", t, json!({"filter": {"field_type": "or", "filters": [
            {"field_type": "and", "filters": [{"field_type": "size", "filter_type": "white", "list": ["300x250"]}]},
            {"field_type": "authed", "operator": "lessthan", "threshold": 0.2}
        ]}}))
        .await
        .expect_ok(201);
    let or_id = made["id"].as_i64().unwrap();
    let and_id = child(&made, 0)["id"].as_i64().unwrap();
    let size_id = child(child(&made, 0), 0)["id"].as_i64().unwrap();
    let threshold_id = child(&made, 1)["id"].as_i64().unwrap();
    let globex_root = world.globex.root_filter;
    let before = tree_bytes(&world, &world.acme).await;
    let version = s.store.config_version().await.unwrap();

    let post = |f: Value| json!({"filter": f});
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "device", "filter_type": "white", "list": []})),
            "field_type",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "user", "filter_type": "grey", "list": []})),
            "filter_type",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(
                json!({"field_type": "user", "filter_type": "white", "operator": "contains", "list": []}),
            ),
            "operator",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "authed", "filter_type": "white", "list": []})),
            "filter_type",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "user", "filter_type": "white"})),
            "list",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "user", "filter_type": "white", "list": "a,b"})),
            "list",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "lessthan", "threshold": "high"}),
            ),
            "threshold",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "lessthan"}),
            ),
            "threshold",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "or", "parent_filter_id": 424242})),
            "parent_filter_id",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "or", "parent_filter_id": globex_root})),
            "parent_filter_id",
        ),
        (
            "POST",
            "/api/filters".into(),
            post(json!({"field_type": "or", "parent_filter_id": size_id})),
            "parent_filter_id",
        ),
        (
            "POST",
            "/api/filters".into(),
            json!({"filter": {"field_type": "or"}, "filters": []}),
            "filter",
        ),
        ("POST", "/api/filters".into(), json!({}), "filter"),
        // A cycle: the `or` under its own grandchild's parent.
        (
            "PUT",
            format!("/api/filters/{or_id}"),
            post(json!({"parent_filter_id": and_id})),
            "parent_filter_id",
        ),
        // The root cannot get a parent.
        (
            "PUT",
            format!("/api/filters/{root}"),
            post(json!({"parent_filter_id": or_id})),
            "parent_filter_id",
        ),
        // A boolean with children cannot become a leaf.
        (
            "PUT",
            format!("/api/filters/{and_id}"),
            post(json!({"field_type": "user", "filter_type": "white", "list": []})),
            "filter_type",
        ),
        (
            "PUT",
            format!("/api/filters/{threshold_id}"),
            post(json!({"threshold": "x"})),
            "threshold",
        ),
        (
            "PUT",
            format!("/api/filters/{size_id}"),
            post(json!({"list": ["huge"]})),
            "list",
        ),
        (
            "PUT",
            format!("/api/filters/{size_id}"),
            post(json!({"id": 1})),
            "id",
        ),
        // Whole-tree replace: a second root, a leaf with children.
        (
            "PUT",
            "/api/filters".into(),
            post(json!({"field_type": "and", "filters": [{"id": root, "field_type": "or"}]})),
            "id",
        ),
        (
            "PUT",
            "/api/filters".into(),
            post(
                json!({"field_type": "and", "filters": [{"field_type": "user", "filter_type": "white", "list": [], "filters": [{"field_type": "or"}]}]}),
            ),
            "filters",
        ),
        (
            "PUT",
            "/api/filters".into(),
            post(json!({"id": or_id, "field_type": "and"})),
            "id",
        ),
    ];
    for (method, path, body, field) in cases {
        let resp = s.json(method, &path, t, body.clone()).await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(
            resp.error_field().as_deref(),
            Some(field),
            "{method} {path} {body}"
        );
        assert_eq!(
            tree_bytes(&world, &world.acme).await,
            before,
            "{method} {path} {body}"
        );
    }
    // Deleting the root.
    let resp = s.delete(&format!("/api/filters/{root}"), t).await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(tree_bytes(&world, &world.acme).await, before);
    assert_eq!(
        s.store.config_version().await.unwrap(),
        version,
        "nothing reached the store"
    );
}

#[tokio::test]
async fn partial_updates_change_only_what_is_given() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let made = s
        .json(
            "POST",
            "/api/filters",
            t,
            json!({"filter": {"field_type": "stream", "filter_type": "black", "list": [3]}}),
        )
        .await
        .expect_ok(201);
    let id = made["id"].as_i64().unwrap();
    // The seed guide's "Updating Filter".
    let updated = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"operator": "equals", "list": [4]}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(
        updated,
        json!({"id": id, "field_type": "stream", "filter_type": "black", "operator": "equals", "list": [4], "parent_filter_id": world.acme.root_filter})
    );
    let updated = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"filter_type": "white"}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(
        (updated["filter_type"].as_str(), &updated["list"]),
        (Some("white"), &json!([4]))
    );
    // A list leaf turned threshold drops its list.
    let updated = s
        .json("PUT", &format!("/api/filters/{id}"), t, json!({"filter": {"field_type": "authed", "filter_type": "threshold", "operator": "greaterthan", "threshold": 0.5}}))
        .await
        .expect_ok(200);
    assert_eq!(updated["threshold"], 0.5);
    assert!(updated.get("list").is_none());
    assert_eq!(s.store.filter(id).await.unwrap().unwrap().list_len, 0);
    // Moving under another boolean.
    let and = s
        .json(
            "POST",
            "/api/filters",
            t,
            json!({"filter": {"field_type": "and"}}),
        )
        .await
        .expect_ok(201);
    let moved = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"parent_filter_id": and["id"]}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(moved["parent_filter_id"], and["id"]);
}

#[tokio::test]
async fn the_whole_tree_is_replaced_declaratively() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let root = world.acme.root_filter;
    s.json(
        "POST",
        "/api/filters",
        t,
        json!({"filters": [
            {"id": 1, "field_type": "or"},
            {"field_type": "user", "filter_type": "black", "list": ["a", "b"], "parent_id": 1},
            {"field_type": "size", "filter_type": "white", "list": ["300x250"]}
        ]}),
    )
    .await
    .expect_ok(201);
    let current = tree(&world, &world.acme).await;
    // GET -> PUT unchanged -> same tree.
    let same = s
        .json("PUT", "/api/filters", t, json!({"filter": current.clone()}))
        .await
        .expect_ok(200);
    assert_eq!(same, current);
    // Keep the `or` group with its child changed, drop the size filter, add a threshold.
    let or = child(&current, 0).clone();
    let user = child(&or, 0).clone();
    let desired = json!({"id": root, "field_type": "and", "filter_type": "boolean", "filters": [
        {"id": or["id"], "field_type": "or", "filter_type": "boolean", "filters": [
            {"id": user["id"], "field_type": "user", "filter_type": "black", "list": ["c"]}
        ]},
        {"field_type": "authed", "filter_type": "threshold", "operator": "greaterthan", "threshold": 0.7}
    ]});
    let replaced = s
        .json("PUT", "/api/filters", t, json!({"filter": desired}))
        .await
        .expect_ok(200);
    assert_eq!(replaced["filters"].as_array().unwrap().len(), 2);
    assert_eq!(child(&replaced, 0)["id"], or["id"]);
    assert_eq!(
        child(child(&replaced, 0), 0),
        &json!({"id": user["id"], "field_type": "user", "filter_type": "black", "operator": "equals", "list": ["c"]})
    );
    assert_eq!(child(&replaced, 1)["threshold"], 0.7);
    assert_eq!(replaced, tree(&world, &world.acme).await);
    assert_eq!(s.store.filters_of(world.acme.id).await.unwrap().len(), 4);
    // Another customer's tree did not move.
    assert_eq!(tree(&world, &world.globex).await["filters"], json!([]));
}

#[tokio::test]
async fn deleting_takes_the_subtree() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let made = s
        .json("POST", "/api/filters", t, json!({"filter": {"field_type": "or", "filters": [
            {"field_type": "and", "filters": [{"field_type": "user", "filter_type": "white", "list": ["x"]}]}
        ]}}))
        .await
        .expect_ok(201);
    let or_id = made["id"].as_i64().unwrap();
    let and_id = child(&made, 0)["id"].as_i64().unwrap();
    let user_id = child(child(&made, 0), 0)["id"].as_i64().unwrap();
    let deleted = s
        .delete(&format!("/api/filters/{or_id}"), t)
        .await
        .expect_ok(200);
    assert_eq!(deleted, json!({"deleted": [user_id, and_id, or_id]}));
    assert_eq!(tree(&world, &world.acme).await["filters"], json!([]));
    s.delete(&format!("/api/filters/{or_id}"), t)
        .await
        .expect_error(404, "NOT_FOUND");
    s.get(&format!("/api/filters/{user_id}"), t)
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn another_customers_filters_are_404_and_untouched() {
    let world = World::new().await;
    let s = &world.server;
    let made = s
        .json(
            "POST",
            "/api/filters",
            &world.globex.token,
            json!({"filter": {"field_type": "user", "filter_type": "white", "list": ["g"]}}),
        )
        .await
        .expect_ok(201);
    let id = made["id"].as_i64().unwrap();
    let before = tree_bytes(&world, &world.globex).await;
    let t = &world.acme.token;
    for resp in [
        s.get(&format!("/api/filters/{id}"), t).await,
        s.json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"list": ["mine"]}}),
        )
        .await,
        s.delete(&format!("/api/filters/{id}"), t).await,
        s.get(&format!("/api/filters/{}", world.globex.root_filter), t)
            .await,
        s.get(&format!("/api/filters?customer_id={}", world.globex.id), t)
            .await,
    ] {
        resp.expect_error(404, "NOT_FOUND");
    }
    assert_eq!(tree_bytes(&world, &world.globex).await, before);
    // The operator reaches it by naming the customer.
    let data = s
        .get(
            &format!("/api/filters/{id}?customer_id={}", world.globex.id),
            &world.op,
        )
        .await
        .expect_ok(200);
    assert_eq!(data["list"], json!(["g"]));
    s.get(
        &format!("/api/filters/{id}?customer_id={}", world.acme.id),
        &world.op,
    )
    .await
    .expect_error(404, "NOT_FOUND");
    s.get("/api/filters", &world.op)
        .await
        .expect_error(400, "VALIDATION");
}

#[tokio::test]
async fn long_lists_are_returned_as_the_too_long_text_and_kept_when_sent_back() {
    let server = Server::start_with(|s| s.list_inline_max = 3).await;
    let world = World::on(server).await;
    let s = &world.server;
    let t = &world.acme.token;
    let made = s
        .json("POST", "/api/filters", t, json!({"filter": {"field_type": "user", "filter_type": "white", "list": ["a", "b", "c", "d", "e"]}}))
        .await
        .expect_ok(201);
    assert_eq!(made["list"], "List too long to return: 5");
    let id = made["id"].as_i64().unwrap();
    let flat = s.get(&format!("/api/filters/{id}"), t).await.expect_ok(200);
    assert_eq!(flat["list"], "List too long to return: 5");
    let whole = tree(&world, &world.acme).await;
    assert_eq!(child(&whole, 0)["list"], "List too long to return: 5");
    // Sent back unchanged with another attribute changed: the list stays.
    let updated = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"list": "List too long to return: 5", "filter_type": "black"}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(updated["filter_type"], "black");
    assert_eq!(s.store.list_values(id).await.unwrap().len(), 5);
    // And through a whole-tree PUT.
    let again = s
        .json(
            "PUT",
            "/api/filters",
            t,
            json!({"filter": tree(&world, &world.acme).await}),
        )
        .await
        .expect_ok(200);
    assert_eq!(child(&again, 0)["list"], "List too long to return: 5");
    assert_eq!(s.store.list_values(id).await.unwrap().len(), 5);
    // A short list is shown.
    let short = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"list": ["z", "y"]}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(short["list"], json!(["y", "z"]), "shown as stored: sorted");
    let flat = s.get(&format!("/api/filters/{id}"), t).await.expect_ok(200);
    assert_eq!(flat["list"], json!(["y", "z"]));
    let dup = s
        .json(
            "PUT",
            &format!("/api/filters/{id}"),
            t,
            json!({"filter": {"list": ["q", "q", "p"]}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(dup["list"], json!(["p", "q"]), "duplicates are stored once");
}

#[tokio::test]
async fn accepted_changes_bump_the_store_version_the_proxy_follows() {
    let world = World::new().await;
    let s = &world.server;
    let before = s.store.config_version().await.unwrap();
    s.json(
        "POST",
        "/api/filters",
        &world.acme.token,
        json!({"filter": {"field_type": "or"}}),
    )
    .await
    .expect_ok(201);
    assert!(s.store.config_version().await.unwrap() > before);
}
