//! The listener: accepts connections, routes requests (SPEC §2.1), and drains on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;
use tracing::{debug, info, warn};

use crate::conn;
use crate::state::ProxyState;

/// The body type of every response the proxy writes.
pub type Body = Full<Bytes>;

/// Time a client gets to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the data plane on `listener` until `shutdown` completes, then drains in-flight
/// requests, bounded by the configured grace period.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ProxyState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let (drain, draining) = watch::channel(false);
    let shared = Arc::new(conn::Shared {
        state: state.clone(),
        http,
        draining,
    });
    tokio::pin!(shutdown);
    // Bounds open connections: at the cap, accepting waits (the kernel's backlog queues).
    // Every connection's task holds a slot until it ends: the drain waits for all of them.
    let cap = state.settings().max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(cap));
    let mut open = OpenConnections::default();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn_state = Arc::new(conn::ConnState::default());
        let watched = conn_state.clone();
        let shared = shared.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = conn::serve(shared, stream, watched).await {
                debug!(peer.addr = %peer, %error, "connection ended with an error");
            }
            // Also when the drain aborts the task: the slot goes with it.
            drop(slot);
        });
        open.add(conn_state, task.abort_handle());
    }
    drop(listener);
    // Idle connections close now, busy ones after their answer, hyper's once drained.
    let _ = drain.send(true);
    let open = open.close_all();
    info!(connections = open, "proxy draining");
    let grace = state.settings().grace;
    tokio::select! {
        _ = slots.acquire_many(cap as u32) => info!("proxy drained"),
        () = tokio::time::sleep(grace) => warn!(grace = ?grace, "proxy drain timed out"),
    }
    Ok(())
}

/// The connections of a listener, for the drain. Only the accept loop touches it (no lock);
/// ended ones are dropped from it as it grows.
#[derive(Default)]
struct OpenConnections {
    conns: Vec<(Arc<conn::ConnState>, AbortHandle)>,
    prune_at: usize,
}

impl OpenConnections {
    fn add(&mut self, state: Arc<conn::ConnState>, task: AbortHandle) {
        if self.conns.len() >= self.prune_at {
            self.conns.retain(|(_, task)| !task.is_finished());
            self.prune_at = (self.conns.len() * 2).max(64);
        }
        self.conns.push((state, task));
    }

    /// Asks every connection to close, aborting those waiting for a request; the number that
    /// were still open.
    fn close_all(self) -> usize {
        let mut open = 0;
        for (state, task) in self.conns {
            if task.is_finished() {
                continue;
            }
            open += 1;
            if state.close() {
                task.abort();
            }
        }
        open
    }
}

/// Routes one request.
pub(crate) async fn route(state: &Arc<ProxyState>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if path.starts_with(crate::win::WIN_PREFIX) {
        if req.method() != Method::GET {
            return method_not_allowed("GET");
        }
        return crate::win::handle(state, req).await;
    }
    if bid_path(path).is_some() {
        if req.method() != Method::POST {
            return method_not_allowed("POST");
        }
        return crate::bid::handle(state, req).await;
    }
    match path {
        "/healthz" if req.method() == Method::GET => text(StatusCode::OK, "ok\n"),
        "/readyz" if req.method() == Method::GET => {
            if state.is_ready() {
                text(StatusCode::OK, "ready\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no configuration snapshot yet\n",
                )
            }
        }
        "/healthz" | "/readyz" => method_not_allowed("GET"),
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown path"),
    }
}

/// `/{client_id}/bids` → `client_id`.
pub(crate) fn bid_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let client_id = rest.strip_suffix("/bids")?;
    if client_id.is_empty() || client_id.contains('/') {
        return None;
    }
    Some(client_id)
}

/// A response with no body.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = status;
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// The small JSON error body of SPEC §2.1/§2.2: `{"error":{"id":ID,"message":TEXT}}`.
pub(crate) fn error(status: StatusCode, id: &'static str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": {"id": id, "message": message}}).to_string();
    let mut resp = Response::new(Body::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this path",
    );
    resp.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bid_paths() {
        assert_eq!(bid_path("/abc/bids"), Some("abc"));
        assert_eq!(bid_path("//bids"), None);
        assert_eq!(bid_path("/a/b/bids"), None);
        assert_eq!(bid_path("/abc/bid"), None);
        assert_eq!(bid_path("/bids"), None);
    }
}
