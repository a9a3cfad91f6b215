//! Black-box tests of the proxy data plane (SPEC §2, §3.2): a real server on 127.0.0.1:0 over a
//! SQLite store written through the store API, a scriptable bidder, and a small HTTP client.
//! One integration binary (ripgrep style); helpers live in `support/`.

mod support;

mod bad_input;
mod connection;
mod filters;
mod limits;
mod snapshot;
mod throttle;
mod upstream;
mod win;
