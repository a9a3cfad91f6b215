//! The one outcome every bid request ends in (SPEC §2.2), and the metrics counted for it.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How a bid request ended. Every request that reached a known stream ends in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The filter tree said no: 204.
    Filtered,
    /// Over the customer's QPS cap: 204.
    Throttled,
    /// The bidder answered with a bid, relayed with 200.
    ForwardedBid,
    /// The bidder answered 204 or an empty body: 204.
    NoBid,
    /// The bidder failed (connect error, error status, invalid body): 204.
    UpstreamError,
    /// The bidder did not answer within the request's budget: 204.
    UpstreamTimeout,
    /// The request was not a usable bid request: 400.
    BadRequest,
    /// The body, or its decompressed form, was over the limit: 413.
    TooLarge,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Filtered,
        Outcome::Throttled,
        Outcome::ForwardedBid,
        Outcome::NoBid,
        Outcome::UpstreamError,
        Outcome::UpstreamTimeout,
        Outcome::BadRequest,
        Outcome::TooLarge,
    ];

    /// The `outcome` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Filtered => "filtered",
            Outcome::Throttled => "throttled",
            Outcome::ForwardedBid => "forwarded_bid",
            Outcome::NoBid => "no_bid",
            Outcome::UpstreamError => "upstream_error",
            Outcome::UpstreamTimeout => "upstream_timeout",
            Outcome::BadRequest => "bad_request",
            Outcome::TooLarge => "too_large",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Bucket bounds (seconds) of the latency histograms: 50 µs to 1 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// The process-wide Prometheus recorder, installed on first use. Every proxy in the process
/// (tests start several) shares it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if something else installed a global recorder first; the `metrics!` macros
        // then record there, and this handle renders an empty page. Nothing in bidsieve does.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Pre-registered counters of one stream, so the request path does an atomic add and no map
/// lookup.
#[derive(Clone)]
pub struct StreamMetrics {
    outcomes: [Counter; 8],
    upstream: Histogram,
    wins: Counter,
}

impl StreamMetrics {
    /// Registers (or finds) the series of stream `stream_id`.
    pub fn new(stream_id: i64) -> Self {
        prometheus();
        let stream = stream_id.to_string();
        let outcomes = Outcome::ALL.map(|o| {
            metrics::counter!("bidsieve_requests_total", "stream" => stream.clone(), "outcome" => o.as_str())
        });
        Self {
            outcomes,
            upstream: metrics::histogram!("bidsieve_upstream_duration_seconds", "stream" => stream.clone()),
            wins: metrics::counter!("bidsieve_wins_total", "stream" => stream),
        }
    }

    /// Counts one request's outcome.
    pub fn count(&self, outcome: Outcome) {
        self.outcomes[outcome.index()].increment(1);
    }

    /// Records the time the bidder took.
    pub fn upstream_seconds(&self, seconds: f64) {
        self.upstream.record(seconds);
    }

    /// Counts a win notice.
    pub fn win(&self) {
        self.wins.increment(1);
    }
}

/// Process-wide latency histograms by outcome.
pub struct OutcomeLatency {
    by_outcome: [Histogram; 8],
}

impl OutcomeLatency {
    /// Registers the histograms.
    pub fn new() -> Self {
        prometheus();
        Self {
            by_outcome: Outcome::ALL.map(|o| {
                metrics::histogram!("bidsieve_request_duration_seconds", "outcome" => o.as_str())
            }),
        }
    }

    /// Records one request's duration.
    pub fn record(&self, outcome: Outcome, seconds: f64) {
        self.by_outcome[outcome.index()].record(seconds);
    }
}

impl Default for OutcomeLatency {
    fn default() -> Self {
        Self::new()
    }
}
