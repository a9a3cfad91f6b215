//! Login, sessions and login rate limits (SPEC §5.1).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::support::{PASSWORD, SECRET, Server, World};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn login_answers_with_the_header_the_expiry_the_body_and_the_cookie() {
    let server = Server::start().await;
    let id = server.add_user("Ops@Example.com", "operator", None).await;
    let resp = server.login_resp("ops@EXAMPLE.com", PASSWORD).await;
    let data = resp.expect_ok(200);
    let jwt = data["jwt"].as_str().unwrap();
    let exp = data["exp"].as_u64().unwrap();
    assert_eq!(
        resp.headers["authorization"].to_str().unwrap(),
        format!("Bearer {jwt}")
    );
    assert_eq!(resp.headers["x-expires"].to_str().unwrap(), exp.to_string());
    let now = unix_now();
    assert!(
        (now + 24 * 3600 - 5..=now + 24 * 3600 + 5).contains(&exp),
        "{exp}"
    );
    let cookie = resp.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("BIDSIEVE_SESSID={jwt};")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The JWT: HS256 with the claims of SPEC §5.1.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims = claims_of(jwt);
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["role"], "operator");
    assert_eq!(claims["cid"], Value::Null);
    assert_eq!(claims["exp"], exp);
    for claim in ["jti", "iat", "iss", "aud"] {
        assert!(!claims[claim].is_null(), "{claim}: {claims}");
    }
    // The token works.
    server.get("/api/customers", jwt).await.expect_ok(200);
}

#[tokio::test]
async fn customer_tokens_carry_the_customer_id() {
    let world = World::new().await;
    let claims = claims_of(&world.acme.token);
    assert_eq!(claims["role"], "customer");
    assert_eq!(claims["cid"], world.acme.id);
}

#[tokio::test]
async fn wrong_email_and_wrong_password_are_the_same_401() {
    let server = Server::start().await;
    server.add_user("ops@example.com", "operator", None).await;
    let wrong_password = server.login_resp("ops@example.com", "wrong password").await;
    wrong_password.expect_error(401, "NOAUTH");
    let wrong_email = server.login_resp("nobody@example.com", PASSWORD).await;
    wrong_email.expect_error(401, "NOAUTH");
    assert_eq!(
        wrong_password.json()["error"]["message"],
        wrong_email.json()["error"]["message"]
    );
    assert!(wrong_password.headers.get("authorization").is_none());
    assert!(wrong_password.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn login_bodies_are_checked() {
    let server = Server::start().await;
    server
        .send(
            "POST",
            "/api/login",
            None,
            &[("content-type", "application/json")],
            "{",
        )
        .await
        .expect_error(400, "BAD_REQUEST");
    let resp = server
        .send(
            "POST",
            "/api/login",
            None,
            &[("content-type", "application/json")],
            r#"{"email": "a@b"}"#,
        )
        .await;
    resp.expect_error(400, "VALIDATION");
    assert_eq!(resp.error_field().as_deref(), Some("password"));
}

#[tokio::test]
async fn every_call_needs_a_token_or_the_cookie() {
    let world = World::new().await;
    let server = &world.server;
    let none = server
        .send("GET", "/api/streams", None, &[], Bytes::new())
        .await;
    none.expect_error(401, "NOAUTH");
    assert!(none.headers.contains_key("www-authenticate"));
    for bad in ["Basic b3BzOnB3", "Bearer", "Bearer not-a-jwt", "Token abc"] {
        server
            .send(
                "GET",
                "/api/streams",
                None,
                &[("authorization", bad)],
                Bytes::new(),
            )
            .await
            .expect_error(401, "NOAUTH");
    }
    // The cookie alone authenticates.
    let cookie = format!("theme=dark; BIDSIEVE_SESSID={}", world.acme.token);
    let data = server
        .send(
            "GET",
            "/api/streams",
            None,
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await
        .expect_ok(200);
    assert_eq!(data[0]["id"], world.acme.stream_id);
}

#[tokio::test]
async fn expired_tokens_are_noauth() {
    // A correctly signed token whose `exp` has passed.
    let world = World::new().await;
    let mut claims = claims_of(&world.op);
    claims["exp"] = json!(unix_now() - 10);
    let expired = sign(&claims, SECRET, jsonwebtoken::Algorithm::HS256);
    world
        .server
        .get("/api/customers", &expired)
        .await
        .expect_error(401, "NOAUTH");

    // A session that reaches its hard limit while in use.
    let server = Server::start_with(|s| s.session_max = Duration::from_secs(1)).await;
    server.add_user("ops@example.com", "operator", None).await;
    let token = server.login("ops@example.com", PASSWORD).await;
    server.get("/api/customers", &token).await.expect_ok(200);
    let mut ended = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let resp = server.get("/api/customers", &token).await;
        if resp.status == 401 {
            resp.expect_error(401, "NOAUTH");
            ended = true;
            break;
        }
        resp.expect_ok(200);
    }
    assert!(ended, "the session outlived its hard limit");
}

#[tokio::test]
async fn idle_sessions_end_and_calls_keep_them_alive() {
    let server = Server::start_with(|s| s.session_idle = Duration::from_millis(700)).await;
    server.add_user("ops@example.com", "operator", None).await;
    let busy = server.login("ops@example.com", PASSWORD).await;
    let idle = server.login("ops@example.com", PASSWORD).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.get("/api/customers", &busy).await.expect_ok(200);
    }
    // 1.5 s after login: `busy` slid along, `idle` did nothing.
    server
        .get("/api/customers", &idle)
        .await
        .expect_error(401, "NOAUTH");
    server.get("/api/customers", &busy).await.expect_ok(200);
}

#[tokio::test]
async fn logout_revokes_the_session_at_once() {
    let world = World::new().await;
    let server = &world.server;
    let token = server.login(&world.acme.email, PASSWORD).await;
    let resp = server
        .send("POST", "/api/logout", Some(&token), &[], Bytes::new())
        .await;
    assert_eq!(resp.expect_ok(200)["logged_out"], true);
    let cookie = resp.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    server
        .get("/api/streams", &token)
        .await
        .expect_error(401, "NOAUTH");
    server
        .send("POST", "/api/logout", Some(&token), &[], Bytes::new())
        .await
        .expect_error(401, "NOAUTH");
    // Other sessions of the same user live on.
    server
        .get("/api/streams", &world.acme.token)
        .await
        .expect_ok(200);
}

#[tokio::test]
async fn wrongly_signed_tokens_are_noauth() {
    let world = World::new().await;
    let claims = claims_of(&world.op);
    let forged = sign(
        &claims,
        b"another secret of 32 bytes, or more",
        jsonwebtoken::Algorithm::HS256,
    );
    world
        .server
        .get("/api/customers", &forged)
        .await
        .expect_error(401, "NOAUTH");
    // A customer turning its own token into an operator's breaks the signature.
    let mut parts: Vec<String> = world.acme.token.split('.').map(str::to_owned).collect();
    let mut claims = claims_of(&world.acme.token);
    claims["role"] = json!("operator");
    claims["cid"] = Value::Null;
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    world
        .server
        .get("/api/customers", &parts.join("."))
        .await
        .expect_error(401, "NOAUTH");
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_noauth() {
    let world = World::new().await;
    let claims = claims_of(&world.op);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
        let head = URL_SAFE_NO_PAD.encode(header);
        for token in [format!("{head}.{payload}."), format!("{head}.{payload}")] {
            world
                .server
                .get("/api/customers", &token)
                .await
                .expect_error(401, "NOAUTH");
        }
    }
    // The right secret under another HMAC algorithm: still refused, the algorithm is pinned.
    let hs512 = sign(&claims, SECRET, jsonwebtoken::Algorithm::HS512);
    world
        .server
        .get("/api/customers", &hs512)
        .await
        .expect_error(401, "NOAUTH");
    // The genuine token still works.
    world
        .server
        .get("/api/customers", &world.op)
        .await
        .expect_ok(200);
}

#[tokio::test]
async fn the_eleventh_login_in_five_minutes_is_429() {
    let server = Server::start().await;
    server.add_user("ops@example.com", "operator", None).await;
    for _ in 0..10 {
        server.login("ops@example.com", PASSWORD).await;
    }
    let resp = server.login_resp("ops@example.com", PASSWORD).await;
    resp.expect_error(429, "RATE_LIMITED");
    let retry: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // Another user is not limited.
    server.add_user("other@example.com", "operator", None).await;
    server.login("other@example.com", PASSWORD).await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_email() {
    let server = Server::start().await;
    server.add_user("ops@example.com", "operator", None).await;
    for _ in 0..5 {
        server
            .login_resp("ops@example.com", "guess")
            .await
            .expect_error(401, "NOAUTH");
    }
    // Now even the right password waits.
    let resp = server.login_resp("ops@example.com", PASSWORD).await;
    resp.expect_error(429, "RATE_LIMITED");
    assert!(resp.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_address() {
    let server = Server::start_with(|s| s.login_limits.failures_per_client = 4).await;
    for i in 0..4 {
        let email = format!("user{i}@example.com");
        server.add_user(&email, "operator", None).await;
        server
            .login_resp(&email, "guess")
            .await
            .expect_error(401, "NOAUTH");
    }
    server.add_user("fresh@example.com", "operator", None).await;
    server
        .login_resp("fresh@example.com", PASSWORD)
        .await
        .expect_error(429, "RATE_LIMITED");
}

#[tokio::test]
async fn deleting_a_user_ends_its_sessions() {
    let world = World::new().await;
    world
        .server
        .delete(&format!("/api/users/{}", world.acme.user_id), &world.op)
        .await
        .expect_ok(200);
    world
        .server
        .get("/api/streams", &world.acme.token)
        .await
        .expect_error(401, "NOAUTH");
}
