//! The harness: the real admin server on 127.0.0.1:0 over a fresh SQLite file, a small hyper
//! client, and a fixture of two customers with users, suppliers and streams.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use bidsieve_admin::{AdminSettings, AdminState};
use bidsieve_store::{CustomerInput, NewUser, Store, StreamInput};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The JWT secret of test servers.
pub const SECRET: &[u8] = b"test secret, 32 bytes or more....";
/// The password of every fixture user.
pub const PASSWORD: &str = "correct horse battery";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "bidsieve-admin-test-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A running admin server.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Store,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `data` of a success body.
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }

    /// The error id, checking the whole error shape.
    pub fn error_id(&self) -> String {
        let body = self.json();
        let error = body["error"]
            .as_object()
            .unwrap_or_else(|| panic!("not an error body: {body}"));
        assert!(error["message"].is_string(), "{body}");
        assert!(
            error
                .keys()
                .all(|k| k == "id" || k == "message" || k == "field"),
            "{body}"
        );
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {body}"
        );
        error["id"].as_str().unwrap_or_default().to_owned()
    }

    /// The `field` of an error body.
    pub fn error_field(&self) -> Option<String> {
        self.json()["error"]["field"].as_str().map(str::to_owned)
    }

    /// Asserts the status and the error id.
    #[track_caller]
    pub fn expect_error(&self, status: u16, id: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.error_id(), id);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
    }

    /// Asserts a success status and returns `data`.
    #[track_caller]
    pub fn expect_ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.data()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Server {
    /// A server with the default settings.
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    /// A server whose settings `tweak` adjusts.
    pub async fn start_with(tweak: impl FnOnce(&mut AdminSettings)) -> Server {
        let dir = temp_dir();
        let url = format!("sqlite://{}/admin.db", dir.display());
        let store = Store::connect(&url).await.unwrap();
        let mut settings = AdminSettings::new(SECRET.to_vec());
        tweak(&mut settings);
        let state = AdminState::new(store.clone(), settings);
        Self::start_on(store, dir, state).await
    }

    /// A server over `store` (kept in `dir`, removed on drop) with `state`.
    pub async fn start_on(store: Store, dir: PathBuf, state: AdminState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            bidsieve_admin::serve(listener, state, shutdown)
                .await
                .unwrap();
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Server {
            addr,
            store,
            dir,
            stop: Some(stop),
            client,
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with raw bytes and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(self.url(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let request = request.body(Full::new(body.into())).unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send("GET", path, Some(token), &[], Bytes::new()).await
    }

    /// DELETE with a token.
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send("DELETE", path, Some(token), &[], Bytes::new())
            .await
    }

    /// A JSON request with a token.
    pub async fn json(&self, method: &str, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            method,
            path,
            Some(token),
            &[("content-type", "application/json")],
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    /// `POST /api/login`.
    pub async fn login_resp(&self, email: &str, password: &str) -> Resp {
        self.send(
            "POST",
            "/api/login",
            None,
            &[("content-type", "application/json")],
            serde_json::to_vec(&json!({"email": email, "password": password})).unwrap(),
        )
        .await
    }

    /// Logs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let resp = self.login_resp(email, password).await;
        let data = resp.expect_ok(200);
        data["jwt"].as_str().unwrap().to_owned()
    }

    /// Creates a user directly in the store (argon2id with small parameters, to keep debug
    /// builds quick; the server checks whatever parameters the hash names).
    pub async fn add_user(&self, email: &str, role: &str, customer_id: Option<i64>) -> i64 {
        let hash = quick_hash(PASSWORD);
        let user = NewUser {
            email: email.into(),
            password_hash: hash,
            role: role.into(),
            customer_id,
        };
        self.store.create_user(&user).await.unwrap().id
    }

    /// Stops the server (in-flight requests finish).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An argon2id hash with small parameters.
pub fn quick_hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// One fixture customer.
pub struct Tenant {
    pub id: i64,
    pub token: String,
    pub email: String,
    pub user_id: i64,
    pub stream_id: i64,
    pub client_id: String,
    pub supplier_id: i64,
    pub root_filter: i64,
}

/// An operator and two customers, each with a user, a supplier and a stream.
pub struct World {
    pub server: Server,
    pub op: String,
    pub op_id: i64,
    pub acme: Tenant,
    pub globex: Tenant,
}

impl World {
    /// Builds the world on a default server.
    pub async fn new() -> World {
        Self::on(Server::start().await).await
    }

    /// Builds the world on `server`.
    pub async fn on(server: Server) -> World {
        let op_id = server.add_user("ops@example.com", "operator", None).await;
        let op = server.login("ops@example.com", PASSWORD).await;
        let acme = tenant(&server, "acme", "OpenX").await;
        let globex = tenant(&server, "globex", "Opera").await;
        World {
            server,
            op,
            op_id,
            acme,
            globex,
        }
    }
}

async fn tenant(server: &Server, slug: &str, supplier: &str) -> Tenant {
    let store = &server.store;
    let customer = store
        .create_customer(&CustomerInput {
            name: slug.to_uppercase(),
            slug: slug.into(),
            qps: 1000,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await
        .unwrap();
    let supplier = store.create_supplier(supplier).await.unwrap();
    let stream = store
        .create_stream(&StreamInput {
            client_id: None,
            supplier_id: supplier.id,
            customer_id: customer.id,
            seat_id: "123".into(),
            customer_endpoint: format!("http://bidder.{slug}.example/bids"),
        })
        .await
        .unwrap();
    let email = format!("user@{slug}.example");
    let user_id = server.add_user(&email, "customer", Some(customer.id)).await;
    let token = server.login(&email, PASSWORD).await;
    let root_filter = store
        .filters_of(customer.id)
        .await
        .unwrap()
        .iter()
        .find(|f| f.parent_id.is_none())
        .unwrap()
        .id;
    Tenant {
        id: customer.id,
        token,
        email,
        user_id,
        stream_id: stream.id,
        client_id: stream.client_id,
        supplier_id: supplier.id,
        root_filter,
    }
}
