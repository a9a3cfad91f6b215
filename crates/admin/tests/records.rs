//! Customers, suppliers, streams and users (SPEC §5.2, §5.3).

use serde_json::{Value, json};

use crate::support::{PASSWORD, World};

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_customer_reads_and_changes_its_four_settings() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let data = s.get("/api/customer", t).await.expect_ok(200);
    assert_eq!(
        keys(&data),
        [
            "id",
            "inject_tag",
            "keep_nurl",
            "name",
            "qps",
            "redirect_wins",
            "slug"
        ]
    );
    assert_eq!(data["id"], world.acme.id);
    assert_eq!(data["slug"], "acme");

    let body = json!({"customer": {"qps": 250, "redirect_wins": false, "inject_tag": true, "keep_nurl": false}});
    let data = s.json("PUT", "/api/customer", t, body).await.expect_ok(200);
    assert_eq!(data["qps"], 250);
    assert_eq!(data["inject_tag"], true);
    assert_eq!(data["slug"], "acme");
    // Partial: one field.
    let data = s
        .json(
            "PUT",
            "/api/customer",
            t,
            json!({"customer": {"keep_nurl": true}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(
        (data["qps"].as_i64(), data["keep_nurl"].as_bool()),
        (Some(250), Some(true))
    );
    // The store has it.
    assert_eq!(
        world
            .server
            .store
            .customer(world.acme.id)
            .await
            .unwrap()
            .qps,
        250
    );

    for (body, field) in [
        (json!({"customer": {"name": "Evil"}}), "customer.name"),
        (json!({"customer": {"slug": "evil"}}), "customer.slug"),
        (json!({"customer": {"id": 9}}), "customer.id"),
        (json!({"customer": {"qps": -1}}), "customer.qps"),
        (json!({"customer": {"qps": "fast"}}), "customer.qps"),
        (
            json!({"customer": {"inject_tag": "yes"}}),
            "customer.inject_tag",
        ),
        (json!({"qps": 5}), "qps"),
    ] {
        let resp = s.json("PUT", "/api/customer", t, body.clone()).await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(resp.error_field().as_deref(), Some(field), "{body}");
    }
    assert_eq!(
        world
            .server
            .store
            .customer(world.acme.id)
            .await
            .unwrap()
            .name,
        "ACME"
    );
}

#[tokio::test]
async fn operators_name_the_customer_and_customers_cannot_name_another() {
    let world = World::new().await;
    let s = &world.server;
    // An operator must name one.
    for path in ["/api/customer", "/api/streams", "/api/suppliers"] {
        let resp = s.get(path, &world.op).await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(resp.error_field().as_deref(), Some("customer_id"), "{path}");
        let data = s
            .get(
                &format!("{path}?customer_id={}", world.globex.id),
                &world.op,
            )
            .await
            .expect_ok(200);
        assert!(!data.is_null());
        s.get(&format!("{path}?customer_id=424242"), &world.op)
            .await
            .expect_error(404, "NOT_FOUND");
        s.get(&format!("{path}?customer_id=abc"), &world.op)
            .await
            .expect_error(400, "VALIDATION");
    }
    let data = s
        .get(
            &format!("/api/customer?customer_id={}", world.globex.id),
            &world.op,
        )
        .await
        .expect_ok(200);
    assert_eq!(data["slug"], "globex");
    // A customer user naming another customer: 404, naming itself: fine.
    for path in ["/api/customer", "/api/streams", "/api/suppliers"] {
        let resp = s
            .get(
                &format!("{path}?customer_id={}", world.globex.id),
                &world.acme.token,
            )
            .await;
        resp.expect_error(404, "NOT_FOUND");
        s.get(
            &format!("{path}?customer_id={}", world.acme.id),
            &world.acme.token,
        )
        .await
        .expect_ok(200);
    }
    let resp = s
        .json(
            "PUT",
            &format!("/api/customer?customer_id={}", world.globex.id),
            &world.acme.token,
            json!({"customer": {"qps": 0}}),
        )
        .await;
    resp.expect_error(404, "NOT_FOUND");
    assert_eq!(
        world
            .server
            .store
            .customer(world.globex.id)
            .await
            .unwrap()
            .qps,
        1000
    );
}

#[tokio::test]
async fn customers_see_only_their_streams_and_suppliers() {
    let world = World::new().await;
    let s = &world.server;
    let streams = s
        .get("/api/streams", &world.acme.token)
        .await
        .expect_ok(200);
    let streams = streams.as_array().unwrap();
    assert_eq!(streams.len(), 1);
    let stream = &streams[0];
    for key in [
        "id",
        "client_id",
        "supplier",
        "seat_id",
        "endpoint_path",
        "customer_endpoint",
    ] {
        assert!(stream.get(key).is_some(), "{key}: {stream}");
    }
    assert_eq!(stream["id"], world.acme.stream_id);
    assert_eq!(
        stream["supplier"],
        json!({"name": "OpenX", "id": world.acme.supplier_id})
    );
    assert_eq!(stream["seat_id"], "123");
    assert_eq!(
        stream["endpoint_path"],
        format!("/{}/bids", world.acme.client_id)
    );
    assert_eq!(
        stream["customer_endpoint"],
        "http://bidder.acme.example/bids"
    );

    let suppliers = s
        .get("/api/suppliers", &world.acme.token)
        .await
        .expect_ok(200);
    assert_eq!(
        suppliers,
        json!([{"name": "OpenX", "id": world.acme.supplier_id}])
    );
    let suppliers = s
        .get("/api/suppliers", &world.globex.token)
        .await
        .expect_ok(200);
    assert_eq!(
        suppliers,
        json!([{"name": "Opera", "id": world.globex.supplier_id}])
    );
}

#[tokio::test]
async fn customer_users_cannot_use_operator_endpoints() {
    let world = World::new().await;
    let s = &world.server;
    let t = &world.acme.token;
    let id = world.globex.id;
    let calls: Vec<(&str, String, Value)> = vec![
        ("GET", "/api/customers".into(), Value::Null),
        (
            "POST",
            "/api/customers".into(),
            json!({"customer": {"name": "X", "slug": "x"}}),
        ),
        ("GET", format!("/api/customers/{id}"), Value::Null),
        (
            "PUT",
            format!("/api/customers/{id}"),
            json!({"customer": {"qps": 1}}),
        ),
        ("DELETE", format!("/api/customers/{id}"), Value::Null),
        (
            "POST",
            "/api/suppliers".into(),
            json!({"supplier": {"name": "X"}}),
        ),
        (
            "PUT",
            format!("/api/suppliers/{}", world.acme.supplier_id),
            json!({"supplier": {"name": "X"}}),
        ),
        (
            "DELETE",
            format!("/api/suppliers/{}", world.acme.supplier_id),
            Value::Null,
        ),
        ("POST", "/api/streams".into(), json!({"stream": {}})),
        (
            "PUT",
            format!("/api/streams/{}", world.acme.stream_id),
            json!({"stream": {}}),
        ),
        (
            "DELETE",
            format!("/api/streams/{}", world.acme.stream_id),
            Value::Null,
        ),
        ("GET", "/api/users".into(), Value::Null),
        ("POST", "/api/users".into(), json!({"user": {}})),
        ("DELETE", format!("/api/users/{}", world.op_id), Value::Null),
    ];
    for (method, path, body) in calls {
        let resp = if body.is_null() {
            s.send(method, &path, Some(t), &[], bytes::Bytes::new())
                .await
        } else {
            s.json(method, &path, t, body).await
        };
        resp.expect_error(403, "UNAUTH");
    }
    // Nothing changed.
    assert_eq!(s.store.customers().await.unwrap().len(), 2);
    assert_eq!(s.store.users().await.unwrap().len(), 3);
}

#[tokio::test]
async fn operators_manage_customers() {
    let world = World::new().await;
    let s = &world.server;
    let op = &world.op;
    let created = s
        .json(
            "POST",
            "/api/customers",
            op,
            json!({"customer": {"name": "Initech", "slug": "initech"}}),
        )
        .await
        .expect_ok(201);
    assert_eq!(created["qps"], 1000);
    for flag in ["redirect_wins", "inject_tag", "keep_nurl"] {
        assert_eq!(created[flag], false);
    }
    let id = created["id"].as_i64().unwrap();
    // Its root filter exists: the boolean `and`.
    let filters = s.store.filters_of(id).await.unwrap();
    assert_eq!(filters.len(), 1);
    assert_eq!(
        (
            filters[0].filter_type.as_str(),
            filters[0].field_type.as_str()
        ),
        ("boolean", "and")
    );

    let all = s.get("/api/customers", op).await.expect_ok(200);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let one = s
        .get(&format!("/api/customers/{id}"), op)
        .await
        .expect_ok(200);
    assert_eq!(one, created);
    let updated = s
        .json(
            "PUT",
            &format!("/api/customers/{id}"),
            op,
            json!({"customer": {"name": "Initech Inc", "qps": 5, "keep_nurl": true}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(
        (
            updated["name"].as_str(),
            updated["qps"].as_i64(),
            updated["slug"].as_str()
        ),
        (Some("Initech Inc"), Some(5), Some("initech"))
    );

    // Taken slug: 409 on create and on update.
    let resp = s
        .json(
            "POST",
            "/api/customers",
            op,
            json!({"customer": {"name": "A2", "slug": "acme"}}),
        )
        .await;
    resp.expect_error(409, "CONFLICT");
    assert_eq!(resp.error_field().as_deref(), Some("customer.slug"));
    s.json(
        "PUT",
        &format!("/api/customers/{id}"),
        op,
        json!({"customer": {"slug": "globex"}}),
    )
    .await
    .expect_error(409, "CONFLICT");
    // Missing or bad fields.
    for (body, field) in [
        (json!({"customer": {"slug": "x"}}), "customer.name"),
        (json!({"customer": {"name": "X"}}), "customer.slug"),
        (
            json!({"customer": {"name": "X", "slug": "Bad Slug"}}),
            "customer.slug",
        ),
        (
            json!({"customer": {"name": "X", "slug": "x", "qps": -5}}),
            "customer.qps",
        ),
        (
            json!({"customer": {"name": "X", "slug": "x", "color": "red"}}),
            "customer.color",
        ),
    ] {
        let resp = s.json("POST", "/api/customers", op, body.clone()).await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(resp.error_field().as_deref(), Some(field), "{body}");
    }
    // A customer with streams cannot go; one without can, with its users and filters.
    let resp = s
        .delete(&format!("/api/customers/{}", world.acme.id), op)
        .await;
    resp.expect_error(409, "CONFLICT");
    let user = s
        .json("POST", "/api/users", op, json!({"user": {"email": "u@initech.example", "password": PASSWORD, "role": "customer", "customer_id": id}}))
        .await
        .expect_ok(201);
    let token = s.login("u@initech.example", PASSWORD).await;
    let deleted = s
        .delete(&format!("/api/customers/{id}"), op)
        .await
        .expect_ok(200);
    assert_eq!(deleted, json!({"deleted": [id]}));
    s.get(&format!("/api/customers/{id}"), op)
        .await
        .expect_error(404, "NOT_FOUND");
    s.json(
        "PUT",
        &format!("/api/customers/{id}"),
        op,
        json!({"customer": {"qps": 1}}),
    )
    .await
    .expect_error(404, "NOT_FOUND");
    s.delete(&format!("/api/customers/{id}"), op)
        .await
        .expect_error(404, "NOT_FOUND");
    assert!(s.store.filters_of(id).await.unwrap().is_empty());
    assert!(s.store.user(user["id"].as_i64().unwrap()).await.is_err());
    s.get("/api/customer", &token)
        .await
        .expect_error(401, "NOAUTH");
}

#[tokio::test]
async fn operators_manage_suppliers() {
    let world = World::new().await;
    let s = &world.server;
    let op = &world.op;
    let created = s
        .json(
            "POST",
            "/api/suppliers",
            op,
            json!({"supplier": {"name": "PubMatic"}}),
        )
        .await
        .expect_ok(201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created, json!({"name": "PubMatic", "id": id}));
    let renamed = s
        .json(
            "PUT",
            &format!("/api/suppliers/{id}"),
            op,
            json!({"supplier": {"name": "PubMatic SSP"}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(renamed["name"], "PubMatic SSP");
    s.json(
        "PUT",
        "/api/suppliers/424242",
        op,
        json!({"supplier": {"name": "X"}}),
    )
    .await
    .expect_error(404, "NOT_FOUND");
    let resp = s
        .json(
            "POST",
            "/api/suppliers",
            op,
            json!({"supplier": {"name": "  "}}),
        )
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("supplier.name"));
    // In use by a stream: 409.
    s.delete(&format!("/api/suppliers/{}", world.acme.supplier_id), op)
        .await
        .expect_error(409, "CONFLICT");
    s.delete(&format!("/api/suppliers/{id}"), op)
        .await
        .expect_ok(200);
    s.delete(&format!("/api/suppliers/{id}"), op)
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn operators_manage_streams() {
    let world = World::new().await;
    let s = &world.server;
    let op = &world.op;
    let body = json!({"stream": {"customer_id": world.acme.id, "supplier_id": world.globex.supplier_id,
        "seat_id": "seat-9", "customer_endpoint": "https://rtb.acme.example/bid"}});
    let created = s
        .json("POST", "/api/streams", op, body)
        .await
        .expect_ok(201);
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 32);
    assert!(
        client_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(created["endpoint_path"], format!("/{client_id}/bids"));
    assert_eq!(
        created["supplier"],
        json!({"name": "Opera", "id": world.globex.supplier_id})
    );
    let id = created["id"].as_i64().unwrap();
    // The customer sees it, and the new supplier among its suppliers.
    let streams = s
        .get("/api/streams", &world.acme.token)
        .await
        .expect_ok(200);
    assert_eq!(streams.as_array().unwrap().len(), 2);
    let suppliers = s
        .get("/api/suppliers", &world.acme.token)
        .await
        .expect_ok(200);
    assert_eq!(suppliers.as_array().unwrap().len(), 2);

    // A given client id; then the same again is a conflict.
    let given = "0123456789abcdef0123456789abcdef";
    let body = json!({"stream": {"customer_id": world.globex.id, "supplier_id": world.globex.supplier_id,
        "seat_id": "1", "customer_endpoint": "http://x.example/b", "client_id": given}});
    let created2 = s
        .json("POST", "/api/streams", op, body.clone())
        .await
        .expect_ok(201);
    assert_eq!(created2["client_id"], given);
    let resp = s.json("POST", "/api/streams", op, body).await;
    resp.expect_error(409, "CONFLICT");
    assert_eq!(resp.error_field().as_deref(), Some("stream.client_id"));

    for (stream, field) in [
        (
            json!({"customer_id": world.acme.id, "supplier_id": world.acme.supplier_id, "seat_id": "1", "customer_endpoint": "ftp://x/y"}),
            "stream.customer_endpoint",
        ),
        (
            json!({"customer_id": world.acme.id, "supplier_id": 424242, "seat_id": "1", "customer_endpoint": "http://x/y"}),
            "stream.supplier_id",
        ),
        (
            json!({"customer_id": 424242, "supplier_id": world.acme.supplier_id, "seat_id": "1", "customer_endpoint": "http://x/y"}),
            "stream.customer_id",
        ),
        (
            json!({"supplier_id": world.acme.supplier_id, "seat_id": "1", "customer_endpoint": "http://x/y"}),
            "stream.customer_id",
        ),
        (
            json!({"customer_id": world.acme.id, "supplier_id": world.acme.supplier_id, "seat_id": "1", "customer_endpoint": "http://x/y", "client_id": "XYZ"}),
            "stream.client_id",
        ),
    ] {
        let resp = s
            .json(
                "POST",
                "/api/streams",
                op,
                json!({"stream": stream.clone()}),
            )
            .await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(resp.error_field().as_deref(), Some(field), "{stream}");
    }

    // Partial update keeps the rest.
    let updated = s
        .json(
            "PUT",
            &format!("/api/streams/{id}"),
            op,
            json!({"stream": {"seat_id": "seat-10"}}),
        )
        .await
        .expect_ok(200);
    assert_eq!(updated["seat_id"], "seat-10");
    assert_eq!(updated["client_id"], client_id);
    assert_eq!(updated["customer_endpoint"], "https://rtb.acme.example/bid");
    s.json(
        "PUT",
        "/api/streams/424242",
        op,
        json!({"stream": {"seat_id": "x"}}),
    )
    .await
    .expect_error(404, "NOT_FOUND");
    s.delete(&format!("/api/streams/{id}"), op)
        .await
        .expect_ok(200);
    s.delete(&format!("/api/streams/{id}"), op)
        .await
        .expect_error(404, "NOT_FOUND");
    let streams = s
        .get("/api/streams", &world.acme.token)
        .await
        .expect_ok(200);
    assert_eq!(streams.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn operators_manage_users_and_passwords_never_come_back() {
    let world = World::new().await;
    let s = &world.server;
    let op = &world.op;
    let created = s
        .json("POST", "/api/users", op, json!({"user": {"email": "New@Acme.Example", "password": "s3cret-pass", "role": "customer", "customer_id": world.acme.id}}))
        .await
        .expect_ok(201);
    assert_eq!(keys(&created), ["customer_id", "email", "id", "role"]);
    assert_eq!(created["email"], "new@acme.example");
    let hash = s
        .store
        .user(created["id"].as_i64().unwrap())
        .await
        .unwrap()
        .password_hash;
    assert!(hash.starts_with("$argon2id$"), "stored as argon2id");
    let token = s.login("new@acme.example", "s3cret-pass").await;
    let data = s.get("/api/customer", &token).await.expect_ok(200);
    assert_eq!(data["id"], world.acme.id);

    let all = s.get("/api/users", op).await.expect_ok(200);
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert!(!all.to_string().contains("argon2"));
    assert!(!all.to_string().contains("password"));

    let resp = s
        .json("POST", "/api/users", op, json!({"user": {"email": "new@acme.example", "password": "another-pass", "role": "operator"}}))
        .await;
    resp.expect_error(409, "CONFLICT");
    assert_eq!(resp.error_field().as_deref(), Some("user.email"));
    for (user, field) in [
        (
            json!({"email": "x@y", "password": "short", "role": "operator"}),
            "user.password",
        ),
        (
            json!({"email": "x@y", "password": "long enough", "role": "customer"}),
            "user.customer_id",
        ),
        (
            json!({"email": "x@y", "password": "long enough", "role": "operator", "customer_id": world.acme.id}),
            "user.customer_id",
        ),
        (
            json!({"email": "x@y", "password": "long enough", "role": "root"}),
            "user.role",
        ),
        (
            json!({"email": "not-an-email", "password": "long enough", "role": "operator"}),
            "user.email",
        ),
        (
            json!({"email": "x@y", "password": "long enough", "role": "customer", "customer_id": 424242}),
            "user.customer_id",
        ),
        (json!({"email": "x@y", "role": "operator"}), "user.password"),
    ] {
        let resp = s
            .json("POST", "/api/users", op, json!({"user": user.clone()}))
            .await;
        resp.expect_error(400, "VALIDATION");
        assert_eq!(resp.error_field().as_deref(), Some(field), "{user}");
    }
    // An operator cannot lock itself out.
    let resp = s.delete(&format!("/api/users/{}", world.op_id), op).await;
    resp.expect_error(409, "CONFLICT");
    s.get("/api/users", op).await.expect_ok(200);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        s.delete(&format!("/api/users/{id}"), op)
            .await
            .expect_ok(200),
        json!({"deleted": [id]})
    );
    s.delete(&format!("/api/users/{id}"), op)
        .await
        .expect_error(404, "NOT_FOUND");
    s.login_resp("new@acme.example", "s3cret-pass")
        .await
        .expect_error(401, "NOAUTH");
}
