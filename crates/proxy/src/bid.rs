//! The bid request pipeline (SPEC §2.2): find the stream, read the body, extract, filter,
//! throttle, forward, relay.
//!
//! Bid requests of the common shape are read by the connection loop of `conn`; the rest
//! (chunked bodies, `Expect`, HTTP/1.0…) come through hyper to [`handle`]. Both end in
//! [`run`] and [`record`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bidsieve_filter::Facts;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::forward::{self, Forwarded, Relay};
use crate::outcome::Outcome;
use crate::server::{Body, bid_path, empty, error};
use crate::snapshot::StreamRoute;
use crate::state::ProxyState;

/// Time a client gets to send a request's body once its headers arrived (hyper bounds only
/// the headers): a stalled or trickled upload must not hold a connection and its buffer forever.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles `POST /{client_id}/bids` that came through hyper.
pub(crate) async fn handle(state: &Arc<ProxyState>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let client_id = bid_path(req.uri().path()).unwrap_or_default();
    let route = match lookup(state, client_id) {
        Ok(route) => route,
        Err(missing) => return missing.response(),
    };
    let (outcome, response) = read_and_run(state, &route, req).await;
    record(state, &route, started, outcome);
    response
}

/// Why a bid request has no stream to go to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NoRoute {
    /// No snapshot loaded yet: 503.
    NotReady,
    /// No stream with that client id: 404.
    Unknown,
}

impl NoRoute {
    /// The answer of SPEC §2.2 step 1.
    pub(crate) fn response(self) -> Response<Body> {
        match self {
            NoRoute::NotReady => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "NOT_READY",
                "no configuration loaded yet",
            ),
            NoRoute::Unknown => error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown stream"),
        }
    }
}

/// The stream of `client_id` in the current snapshot.
pub(crate) fn lookup(state: &ProxyState, client_id: &str) -> Result<Arc<StreamRoute>, NoRoute> {
    let guard = state.snapshot_slot().load();
    let snapshot = guard.as_ref().ok_or(NoRoute::NotReady)?;
    snapshot.stream(client_id).cloned().ok_or(NoRoute::Unknown)
}

/// Counts a request's outcome and records its duration.
pub(crate) fn record(state: &ProxyState, route: &StreamRoute, started: Instant, outcome: Outcome) {
    route.metrics.count(outcome);
    state
        .latency()
        .record(outcome, started.elapsed().as_secs_f64());
}

async fn read_and_run(
    state: &ProxyState,
    route: &StreamRoute,
    req: Request<Incoming>,
) -> (Outcome, Response<Body>) {
    let settings = state.settings();
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > settings.max_body as u64) {
        return too_large("body over the limit");
    }
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(body, settings.max_body).collect(),
    );
    let raw: Bytes = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            return too_large("body over the limit");
        }
        Ok(Err(_)) => return bad_request("could not read the body"),
        Err(_elapsed) => return timed_out(),
    };
    run(state, route, Forwarded::of(&parts.headers), raw).await
}

/// Steps 2–7 on a request whose body has been read: inflate, extract, evaluate, throttle,
/// forward, relay.
pub(crate) async fn run(
    state: &ProxyState,
    route: &StreamRoute,
    headers: Forwarded<'_>,
    raw: Bytes,
) -> (Outcome, Response<Body>) {
    let settings = state.settings();
    let inflated;
    let json: &[u8] = if headers.is_gzip() {
        match bidsieve_openrtb::decompress_gzip(&raw, settings.max_decompressed) {
            Ok(bytes) => {
                inflated = bytes;
                &inflated
            }
            Err(bidsieve_openrtb::GzipError::TooLarge { .. }) => {
                return too_large("decompressed body over the limit");
            }
            Err(_) => return bad_request("body is not valid gzip"),
        }
    } else {
        &raw
    };

    let fields = match bidsieve_openrtb::extract(json) {
        Ok(fields) => fields,
        Err(err) => return bad_request(&err.to_string()),
    };

    let uid2 = state.uid2().decrypt(&fields);
    let facts = Facts {
        request: &fields,
        stream_id: route.id,
        supplier_id: route.supplier_id,
        uid2: uid2.uid.as_deref(),
        uid2_status: uid2.status,
    };
    let verdict = route.tree.evaluate(&facts);
    if !verdict.pass {
        if let Some(filter_id) = verdict.blocked_by {
            route.customer.count_block(filter_id);
        }
        return (Outcome::Filtered, empty(StatusCode::NO_CONTENT));
    }
    if !route.customer.throttle.try_acquire() {
        return (Outcome::Throttled, empty(StatusCode::NO_CONTENT));
    }

    let budget = settings.upstream_budget(fields.tmax);
    let relay = forward::forward(state, route, headers, raw, budget).await;
    match relay {
        Relay::Bid(response) => (Outcome::ForwardedBid, response),
        Relay::NoBid => (Outcome::NoBid, empty(StatusCode::NO_CONTENT)),
        Relay::Error(cause) => {
            tracing::debug!(stream.id = route.id, %cause, "bidder failed");
            (Outcome::UpstreamError, empty(StatusCode::NO_CONTENT))
        }
        Relay::Timeout => (Outcome::UpstreamTimeout, empty(StatusCode::NO_CONTENT)),
    }
}

/// 413: the body, or what it inflates to, is over the limit.
pub(crate) fn too_large(message: &str) -> (Outcome, Response<Body>) {
    (
        Outcome::TooLarge,
        error(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", message),
    )
}

/// 400 with `message`.
pub(crate) fn bad_request(message: &str) -> (Outcome, Response<Body>) {
    (
        Outcome::BadRequest,
        error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message),
    )
}

/// 408: the body did not arrive within [`BODY_READ_TIMEOUT`].
pub(crate) fn timed_out() -> (Outcome, Response<Body>) {
    (
        Outcome::BadRequest,
        error(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "body not received in time",
        ),
    )
}
