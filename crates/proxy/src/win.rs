//! `GET /win/{token}?...`: the win and billing notices of bids whose notice URL the proxy sealed
//! (SPEC §6).
//!
//! 1. The request target (path and query) is at most [`MAX_WIN_REQUEST`] bytes and the token
//!    opens with the server's win key; otherwise 400 and nothing is called.
//! 2. The macro values the supplier substituted into the query string go back into the bidder's
//!    URL ([`bidsieve_openrtb::substitute_macros`]); the result must be an absolute `http(s)`
//!    URL of at most [`MAX_NOTICE_URL_OUT`] bytes, else 400.
//! 3. A win notice (`nurl`) counts `bidsieve_wins_total{stream}`; a billing notice (`burl`) does
//!    not.
//! 4. When the customer had `redirect_wins` at bid time (the flag travels sealed in the token):
//!    302 with `Location` = the URL. Otherwise the proxy calls the URL itself with the pooled
//!    client, once, bounded by [`WIN_NOTICE_TIMEOUT`] (the bidder's answer is read up to
//!    [`MAX_NOTICE_ANSWER`] bytes and dropped), and answers 204 whatever the bidder did: the
//!    notice was received; a failing bidder is counted, not retried.
//!
//! Metrics: `bidsieve_win_notices_total{result}` with result `called` (the bidder answered
//! 2xx/3xx), `bad_status`, `error` (connect or read failure), `timeout`, `redirected`,
//! `rejected` (400); `bidsieve_win_notice_duration_seconds`, the time of the proxy's own calls;
//! `bidsieve_notice_urls_unsealed_total`, notice URLs relayed unsealed for being over
//! [`bidsieve_openrtb::MAX_NOTICE_URL`] bytes.
//!
//! A token can be presented more than once (a supplier retrying); each presentation is a call
//! and a count, as it would be had the supplier called the bidder directly.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use metrics::{Counter, Histogram};
use tracing::debug;

use bidsieve_openrtb::{Notice, NoticeKind, WinKey, substitute_macros};

use crate::server::{Body, empty, error};
use crate::state::ProxyState;

/// Longest `/win/...` request target (path and query) accepted, in bytes.
pub const MAX_WIN_REQUEST: usize = 8 * 1024;
/// Longest notice URL called or redirected to, after substitution, in bytes.
pub const MAX_NOTICE_URL_OUT: usize = 8 * 1024;
/// Bound on the proxy's call of a notice URL (connect, answer and body).
pub const WIN_NOTICE_TIMEOUT: Duration = Duration::from_secs(2);
/// The part of a bidder's answer to a notice that is read (then dropped) so the connection
/// can go back to the pool.
pub const MAX_NOTICE_ANSWER: usize = 64 * 1024;

/// The path prefix of win URLs.
pub(crate) const WIN_PREFIX: &str = "/win/";

/// How a win request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoticeResult {
    Called,
    BadStatus,
    Error,
    Timeout,
    Redirected,
    Rejected,
}

impl NoticeResult {
    const ALL: [NoticeResult; 6] = [
        NoticeResult::Called,
        NoticeResult::BadStatus,
        NoticeResult::Error,
        NoticeResult::Timeout,
        NoticeResult::Redirected,
        NoticeResult::Rejected,
    ];

    const fn as_str(self) -> &'static str {
        match self {
            NoticeResult::Called => "called",
            NoticeResult::BadStatus => "bad_status",
            NoticeResult::Error => "error",
            NoticeResult::Timeout => "timeout",
            NoticeResult::Redirected => "redirected",
            NoticeResult::Rejected => "rejected",
        }
    }
}

/// The win path's series, registered once per process.
pub(crate) struct WinMetrics {
    results: [Counter; 6],
    duration: Histogram,
    unsealed: Counter,
}

impl WinMetrics {
    pub(crate) fn get() -> &'static WinMetrics {
        static METRICS: OnceLock<WinMetrics> = OnceLock::new();
        METRICS.get_or_init(|| {
            crate::outcome::prometheus();
            WinMetrics {
                results: NoticeResult::ALL.map(
                    |r| metrics::counter!("bidsieve_win_notices_total", "result" => r.as_str()),
                ),
                duration: metrics::histogram!("bidsieve_win_notice_duration_seconds"),
                unsealed: metrics::counter!("bidsieve_notice_urls_unsealed_total"),
            }
        })
    }

    fn count(&self, result: NoticeResult) {
        if let Some(counter) = self.results.get(result as usize) {
            counter.increment(1);
        }
    }

    /// Counts notice URLs left unsealed for their length.
    pub(crate) fn unsealed(&self, n: u32) {
        self.unsealed.increment(u64::from(n));
    }
}

/// The win URL this proxy writes in place of a `nurl` of stream `stream_id` (a fresh token each
/// call), e.g. for a tour or a test; `None` when `nurl` is over
/// [`bidsieve_openrtb::MAX_NOTICE_URL`] bytes.
pub fn win_url(
    key: &WinKey,
    public_url: &str,
    stream_id: i64,
    redirect: bool,
    nurl: &str,
) -> Option<String> {
    let notice = Notice {
        kind: NoticeKind::Win,
        redirect,
        stream_id,
        url: nurl,
    };
    bidsieve_openrtb::win_url(public_url, key, &notice, rand::random()).ok()
}

/// Handles `GET /win/{token}?...`.
pub(crate) async fn handle(state: &ProxyState, req: Request<Incoming>) -> Response<Body> {
    let metrics = WinMetrics::get();
    let (result, response) = answer(state, req.uri()).await;
    metrics.count(result);
    response
}

async fn answer(state: &ProxyState, uri: &Uri) -> (NoticeResult, Response<Body>) {
    let target = uri.path_and_query().map_or("", |pq| pq.as_str());
    if target.len() > MAX_WIN_REQUEST {
        return rejected("win URL over the size limit");
    }
    let token = uri.path().strip_prefix(WIN_PREFIX).unwrap_or_default();
    let notice = match state.settings().win_key.open(token) {
        Ok(notice) => notice,
        Err(err) => {
            debug!(error = %err, "win token refused");
            return rejected("win token does not open");
        }
    };
    let url = substitute_macros(&notice.url, uri.query().unwrap_or_default());
    if url.len() > MAX_NOTICE_URL_OUT {
        return rejected("win notice URL over the size limit");
    }
    let Some(location) = absolute_http(&url) else {
        debug!(
            stream.id = notice.stream_id,
            "notice URL is not an absolute http(s) URL"
        );
        return rejected("win notice URL is not an absolute http(s) URL");
    };
    if notice.kind == NoticeKind::Win {
        // Not pre-registered per stream: a token names a stream id the current snapshot may
        // no longer serve, and a win is counted all the same.
        metrics::counter!("bidsieve_wins_total", "stream" => notice.stream_id.to_string())
            .increment(1);
    }
    if notice.redirect {
        let mut resp = empty(StatusCode::FOUND);
        if let Ok(value) = HeaderValue::from_str(&url) {
            resp.headers_mut().insert(header::LOCATION, value);
        }
        return (NoticeResult::Redirected, resp);
    }
    let result = call(state, location).await;
    if result != NoticeResult::Called {
        debug!(
            stream.id = notice.stream_id,
            kind = notice.kind.as_str(),
            result = result.as_str(),
            "notice call failed"
        );
    }
    (result, empty(StatusCode::NO_CONTENT))
}

/// `url` as a request target when it is an absolute `http`/`https` URL that is also a valid
/// header value (for `Location`).
fn absolute_http(url: &str) -> Option<Uri> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    uri.authority()?;
    HeaderValue::from_str(url).ok()?;
    Some(uri)
}

/// Calls a notice URL once, bounded by [`WIN_NOTICE_TIMEOUT`].
async fn call(state: &ProxyState, url: Uri) -> NoticeResult {
    let started = Instant::now();
    let result = match tokio::time::timeout(WIN_NOTICE_TIMEOUT, exchange(state, url)).await {
        Ok(result) => result,
        Err(_elapsed) => NoticeResult::Timeout,
    };
    WinMetrics::get()
        .duration
        .record(started.elapsed().as_secs_f64());
    result
}

async fn exchange(state: &ProxyState, url: Uri) -> NoticeResult {
    let Ok(request) = Request::get(url).body(Full::new(Bytes::new())) else {
        return NoticeResult::Error;
    };
    let response = match state.client().request(request).await {
        Ok(response) => response,
        Err(_) => return NoticeResult::Error,
    };
    let (parts, body) = response.into_parts();
    // Read what the bidder says (bounded) so its connection can be reused; a body over the
    // bound just closes that connection.
    let _ = Limited::new(body, MAX_NOTICE_ANSWER).collect().await;
    if parts.status.is_success() || parts.status.is_redirection() {
        NoticeResult::Called
    } else {
        NoticeResult::BadStatus
    }
}

fn rejected(message: &str) -> (NoticeResult, Response<Body>) {
    (
        NoticeResult::Rejected,
        error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_are_called() {
        assert!(absolute_http("http://b.example/win?p=1.5").is_some());
        assert!(absolute_http("HTTPS://b.example:8443/w").is_some());
        assert!(absolute_http("/win?p=1").is_none());
        assert!(absolute_http("ftp://b.example/x").is_none());
        assert!(absolute_http("javascript:alert(1)").is_none());
        assert!(absolute_http("http://b.example/a b").is_none());
        // A macro the supplier did not substitute is sent as it stands, as a direct call would.
        assert!(absolute_http("http://b.example/w?l=${AUCTION_LOSS}").is_some());
        assert!(absolute_http("").is_none());
    }

    #[test]
    fn result_labels_are_distinct() {
        for (i, a) in NoticeResult::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
            for b in &NoticeResult::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }
}
