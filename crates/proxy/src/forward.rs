//! Forwarding a wanted bid request to the customer's bidder and judging its answer
//! (SPEC §2.2 steps 6–7).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use crate::h1::{H1Error, Limits};
use crate::response::RelayHeaders;
use crate::server::Body;
use crate::snapshot::StreamRoute;
use crate::state::ProxyState;

/// What became of a forwarded request.
pub(crate) enum Relay {
    /// A bid: the response to send to the supplier.
    Bid(Response<Body>),
    /// The bidder answered 204 or an empty 200.
    NoBid,
    /// The bidder failed; the cause is for debug logs only.
    Error(ForwardError),
    /// No complete answer within the budget.
    Timeout,
}

/// Why a forward failed, by where it came from.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// Connecting or talking to the bidder failed (hyper's client, `https://`).
    #[error("upstream request failed: {0}")]
    Upstream(#[from] hyper_util::client::legacy::Error),
    /// Connecting or talking to the bidder failed (the lean client, `http://`).
    #[error("upstream exchange failed: {0}")]
    Plain(#[from] H1Error),
    /// The bidder answered with a status other than 200/204.
    #[error("upstream answered {0}")]
    Status(StatusCode),
    /// The bidder's body could not be read or was over the limit.
    #[error("upstream body unreadable or too large")]
    Body,
    /// The bidder's 200 body is not JSON.
    #[error("upstream body is not valid JSON")]
    NotJson,
    /// The request could not be built (a bug on our side: endpoints are validated).
    #[error("could not build the upstream request: {0}")]
    Build(#[from] http::Error),
}

/// The supplier's headers copied to the bidder's request (SPEC §2.2 step 6), as the supplier
/// sent them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Forwarded<'a> {
    pub content_type: Option<&'a [u8]>,
    pub content_encoding: Option<&'a [u8]>,
    pub openrtb_version: Option<&'a [u8]>,
}

impl<'a> Forwarded<'a> {
    /// The three headers out of a full header map.
    pub(crate) fn of(headers: &'a HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).map(HeaderValue::as_bytes);
        Self {
            content_type: get("content-type"),
            content_encoding: get("content-encoding"),
            openrtb_version: get("x-openrtb-version"),
        }
    }

    /// True when the body is gzip-compressed.
    pub(crate) fn is_gzip(&self) -> bool {
        self.content_encoding
            .is_some_and(|v| v.eq_ignore_ascii_case(b"gzip"))
    }

    /// The headers to send, lower-case names: `content-type` first (`application/json` when
    /// the supplier sent none), then the others the supplier sent.
    pub(crate) fn each(self) -> impl Iterator<Item = (&'static str, &'a [u8])> {
        let content_type = self.content_type.unwrap_or(b"application/json");
        [
            ("content-type", Some(content_type)),
            ("content-encoding", self.content_encoding),
            ("x-openrtb-version", self.openrtb_version),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }
}

/// POSTs the original bytes to the stream's bidder, waiting at most `budget`.
pub(crate) async fn forward(
    state: &ProxyState,
    route: &StreamRoute,
    headers: Forwarded<'_>,
    body: Bytes,
    budget: Duration,
) -> Relay {
    if budget.is_zero() {
        return Relay::Timeout;
    }
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + budget);
    let outcome =
        tokio::time::timeout_at(deadline, exchange(state, route, headers, body, started)).await;
    route
        .metrics
        .upstream_seconds(started.elapsed().as_secs_f64());
    match outcome {
        Err(_elapsed) => Relay::Timeout,
        Ok(Err(err)) => Relay::Error(err),
        Ok(Ok(None)) => Relay::NoBid,
        Ok(Ok(Some(resp))) => Relay::Bid(resp),
    }
}

async fn exchange(
    state: &ProxyState,
    route: &StreamRoute,
    headers: Forwarded<'_>,
    body: Bytes,
    started: Instant,
) -> Result<Option<Response<Body>>, ForwardError> {
    let Some(plain) = &route.plain else {
        return exchange_hyper(state, route, headers, body).await;
    };
    let settings = state.settings();
    let limits = Limits {
        max_body: settings.max_response_body,
        max_idle: settings.upstream_pool_max_idle,
    };
    let answer = plain.post(headers, &body, limits, started).await?;
    if !wants_body(answer.status)? {
        return Ok(None);
    }
    let headers = RelayHeaders {
        content_encoding: answer.content_encoding.as_ref(),
        openrtb_version: answer.openrtb_version.as_ref(),
    };
    relay_body(state, route, headers, answer.body)
}

/// SPEC §2.2 step 7 on the bidder's status: 200 means read the body, 204 a no-bid, anything
/// else an error.
fn wants_body(status: StatusCode) -> Result<bool, ForwardError> {
    match status {
        StatusCode::OK => Ok(true),
        StatusCode::NO_CONTENT => Ok(false),
        other => Err(ForwardError::Status(other)),
    }
}

/// A 200's body: blank is a no-bid, anything else goes to the relay.
fn relay_body(
    state: &ProxyState,
    route: &StreamRoute,
    headers: RelayHeaders<'_>,
    body: Bytes,
) -> Result<Option<Response<Body>>, ForwardError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    crate::response::relay(state, route, headers, body).map(Some)
}

/// The same exchange through hyper's pooled client (`https://` bidders).
async fn exchange_hyper(
    state: &ProxyState,
    route: &StreamRoute,
    headers: Forwarded<'_>,
    body: Bytes,
) -> Result<Option<Response<Body>>, ForwardError> {
    let mut builder = Request::post(route.endpoint.clone());
    for (name, value) in headers.each() {
        builder = builder.header(name, value);
    }
    let request = builder.body(Full::new(body))?;
    let response = state.client().request(request).await?;
    let (parts, body) = response.into_parts();
    if !wants_body(parts.status)? {
        return Ok(None);
    }
    let bytes = Limited::new(body, state.settings().max_response_body)
        .collect()
        .await
        .map_err(|_| ForwardError::Body)?
        .to_bytes();
    relay_body(state, route, RelayHeaders::of(&parts.headers), bytes)
}
