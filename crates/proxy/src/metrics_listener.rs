//! The Prometheus listener (`GET /metrics`), separate from the bid port (SPEC §2.1).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::server::{Body, empty};

/// Serves `GET /metrics` until `shutdown`; also runs the exporter's periodic upkeep.
pub async fn serve_metrics(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let handle = crate::outcome::prometheus();
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = upkeep.tick() => {
                handle.run_upkeep();
                continue;
            }
            () = &mut shutdown => return,
        };
        tokio::spawn(async move {
            let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let resp = if req.uri().path() != "/metrics" {
                    empty(StatusCode::NOT_FOUND)
                } else if req.method() != Method::GET {
                    empty(StatusCode::METHOD_NOT_ALLOWED)
                } else {
                    let mut resp = Response::new(Body::new(Bytes::from(handle.render())));
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("text/plain; version=0.0.4"),
                    );
                    resp
                };
                Ok::<_, Infallible>(resp)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
