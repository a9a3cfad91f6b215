//! The ceiling: a bare hyper 1.x server that reads each request body and answers 204, on the
//! same stack bidsieve uses (tokio, hyper http1, keep-alive), doing nothing else.
//!
//! ```text
//! hyper204 --listen 127.0.0.1:18101 [--flavor current|multi]
//! ```
//! `current` (default): tokio `current_thread`; `multi`: `multi_thread` with one worker, as
//! bidsieve runs with `proxy.workers = 1`.
#![allow(clippy::print_stdout)] // a command-line tool

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

fn main() -> anyhow::Result<()> {
    let mut listen = None;
    let mut multi = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().context("--listen needs an address")?),
            "--flavor" => {
                multi = match args.next().as_deref() {
                    Some("current") => false,
                    Some("multi") => true,
                    other => bail!("--flavor current|multi, not {other:?}"),
                }
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let addr = bidsieve_loadtest::loopback_addr(&listen.context("--listen ADDR is required")?)?;
    let runtime = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?
    } else {
        bidsieve_loadtest::current_thread_runtime()?
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!("hyper204 on {addr}");
        bidsieve_loadtest::serve_http1(
            listener,
            |req: http::Request<hyper::body::Incoming>| async move {
                let read = req.into_body().collect().await;
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = if read.is_ok() {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::BAD_REQUEST
                };
                resp
            },
        )
        .await;
        Ok(())
    })
}
