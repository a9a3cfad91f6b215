//! bidsieve's control plane: the admin REST API of SPEC §5, on axum, over the store.
//!
//! - [`router`] / [`serve`]: every `/api/*` route, errors in one shape
//!   (`{"error": {"id", "message", "field"?}}`, [`ApiError`]) including axum's own rejections,
//!   404 for unknown routes, 405 for known paths with another method.
//! - Login and sessions: `POST /api/login` issues an HS256 JWT (algorithm fixed server-side)
//!   carried in `Authorization: Bearer` or the `BIDSIEVE_SESSID` cookie; the session table
//!   (in memory, by `jti`) enforces the sliding idle limit and the hard limit without a store
//!   write per call; `POST /api/logout` ends it. Login attempts are rate limited per user,
//!   email and client address.
//! - Scope: customer users act on their own customer; operators name one with `?customer_id=N`
//!   on customer-scoped routes, and alone manage customers, suppliers, streams and users.
//!   Another customer's record is a 404.
//! - Records: `/api/customer`, `/api/customers`, `/api/streams`, `/api/suppliers`, `/api/users`.
//! - Filters: the tree, one filter, single/bulk/nested creation, partial update, whole-tree
//!   replace, subtree delete, all planned and validated by `bidsieve-filter` before one store
//!   transaction; `POST /api/filters/explain` runs a bid request through the tree compiled as
//!   the proxy compiles it.
//! - Large lists: `GET /api/filters/{id}/list` streams the stored buckets as text; `PUT` parses
//!   the body as it arrives (text lines or a JSON array, gzip or not) on a blocking thread
//!   straight into the store's `ListBuilder`, so a 5,000,000-entry list is held once, then
//!   replaces it in one transaction; `PATCH` adds and removes values.
//! - [`openapi()`]: the OpenAPI 3 description generated from the handlers (utoipa), served at
//!   `GET /api/openapi.json`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use bidsieve_admin::{AdminSettings, AdminState, jwt_secret_from_store};
//!
//! let store = bidsieve_store::Store::connect("sqlite://data/bidsieve.db").await?;
//! let settings = AdminSettings::new(jwt_secret_from_store(&store).await?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! let shutdown = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! bidsieve_admin::serve(listener, AdminState::new(store, settings), shutdown).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The API writes only the store, in one transaction per call; the proxy follows the store's
//! change feed (a committed change reaches its snapshot within a second). A rejected change is
//! never written. The API never touches the proxy's memory.

mod caller;
mod customers;
mod envelope;
mod error;
mod explain;
mod extract;
mod filters;
mod limiter;
mod list_cache;
mod list_upload;
mod lists;
mod login;
mod openapi;
mod password;
mod session;
mod settings;
mod state;
mod streams;
mod suppliers;
mod token;
mod users;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;

pub use caller::SESSION_COOKIE;
pub use envelope::{Data, Deleted};
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use openapi::openapi;
pub use settings::{
    AdminSettings, DEFAULT_LIST_INLINE_MAX, DEFAULT_MAX_BODY, DEFAULT_MAX_LIST_BODY,
    DEFAULT_SESSION_IDLE, DEFAULT_SESSION_MAX, LoginLimits,
};
pub use state::{AdminState, JWT_SECRET_LEN, JWT_SECRET_NAME, jwt_secret_from_store};

/// The admin API's routes over `state`.
///
/// Client addresses (for login throttling per client) come from axum's `ConnectInfo`: serve
/// the router with `into_make_service_with_connect_info::<SocketAddr>()`, as [`serve`] does;
/// without it, only the per-user and per-email limits apply.
pub fn router(state: AdminState) -> Router {
    let max_body = state.settings().max_body;
    Router::new()
        .route("/api/login", post(login::login))
        .route("/api/logout", post(login::logout))
        .route(
            "/api/customer",
            get(customers::get_customer).put(customers::put_customer),
        )
        .route(
            "/api/customers",
            get(customers::list_customers).post(customers::create_customer),
        )
        .route(
            "/api/customers/{id}",
            get(customers::get_customer_by_id)
                .put(customers::put_customer_by_id)
                .delete(customers::delete_customer),
        )
        .route(
            "/api/streams",
            get(streams::list_streams).post(streams::create_stream),
        )
        .route(
            "/api/streams/{id}",
            put(streams::update_stream).delete(streams::delete_stream),
        )
        .route(
            "/api/suppliers",
            get(suppliers::list_suppliers).post(suppliers::create_supplier),
        )
        .route(
            "/api/suppliers/{id}",
            put(suppliers::update_supplier).delete(suppliers::delete_supplier),
        )
        .route(
            "/api/users",
            get(users::list_users).post(users::create_user),
        )
        .route("/api/users/{id}", axum::routing::delete(users::delete_user))
        .route(
            "/api/filters",
            get(filters::get_tree)
                .post(filters::create_filters)
                .put(filters::replace_tree),
        )
        .route("/api/filters/explain", post(explain::explain))
        .route(
            "/api/filters/{id}",
            get(filters::get_filter)
                .put(filters::update_filter)
                .delete(filters::delete_filter),
        )
        .route(
            "/api/filters/{id}/list",
            get(lists::get_list)
                .put(lists::put_list)
                .patch(lists::patch_list),
        )
        .route("/api/openapi.json", get(openapi::openapi_json))
        .layer(DefaultBodyLimit::max(max_body))
        .fallback(error::not_found)
        .layer(axum::middleware::map_response(error::normalize_errors))
        .with_state(state)
}

/// How long in-flight requests (a list download, say) may take to finish after shutdown.
pub const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the admin API on `listener` until `shutdown` resolves, then stops accepting and lets
/// in-flight requests finish for up to [`DRAIN_GRACE`].
///
/// # Errors
/// Accepting connections failed.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(when_stopped(stopped.clone()))
    .into_future();
    let signal = async move {
        shutdown.await;
        tracing::info!("admin API draining");
        let _ = stop.send(true);
    };
    let deadline = async {
        when_stopped(stopped.clone()).await;
        tokio::time::sleep(DRAIN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        ((), ()) = async { tokio::join!(signal, deadline) } => {
            tracing::warn!(grace = ?DRAIN_GRACE, "admin API requests still running after the grace period; stopping");
            Ok(())
        }
    }
}
