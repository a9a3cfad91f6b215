//! The bid request pipeline (SPEC §2.2): find the stream, read the body, extract, filter,
//! throttle, forward, relay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bidsieve_filter::Facts;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::forward::{self, Relay};
use crate::outcome::Outcome;
use crate::server::{Body, bid_path, empty, error};
use crate::snapshot::StreamRoute;
use crate::state::ProxyState;

/// Time a client gets to send a request's body once its headers arrived (hyper bounds only
/// the headers): a stalled or trickled upload must not hold a connection and its buffer forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Handles `POST /{client_id}/bids`.
pub(crate) async fn handle(state: &Arc<ProxyState>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let route = {
        let guard = state.snapshot_slot().load();
        let Some(snapshot) = guard.as_ref() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "NOT_READY",
                "no configuration loaded yet",
            );
        };
        let client_id = bid_path(req.uri().path()).unwrap_or_default();
        match snapshot.stream(client_id) {
            Some(route) => route.clone(),
            None => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown stream"),
        }
    };
    let (outcome, response) = pipeline(state, &route, req).await;
    route.metrics.count(outcome);
    state
        .latency()
        .record(outcome, started.elapsed().as_secs_f64());
    response
}

async fn pipeline(
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
        Err(_elapsed) => {
            return (
                Outcome::BadRequest,
                error(
                    StatusCode::REQUEST_TIMEOUT,
                    "REQUEST_TIMEOUT",
                    "body not received in time",
                ),
            );
        }
    };

    let gzipped = is_gzip(&parts.headers);
    let inflated;
    let json: &[u8] = if gzipped {
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
    let relay = forward::forward(state, route, &parts.headers, raw, budget).await;
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

fn is_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

fn too_large(message: &str) -> (Outcome, Response<Body>) {
    (
        Outcome::TooLarge,
        error(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", message),
    )
}

fn bad_request(message: &str) -> (Outcome, Response<Body>) {
    (
        Outcome::BadRequest,
        error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message),
    )
}
