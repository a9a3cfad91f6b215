//! Reads series from the process-wide Prometheus registry ([`bidsieve_proxy::prometheus`]).

/// The value of the series `name{labels}` (labels in any order, all of them given), 0 when the
/// series is not registered.
pub fn value(name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = bidsieve_proxy::prometheus().render();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, number)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
            None => (series, Vec::new()),
        };
        if series_name != name || series_labels.len() != labels.len() {
            continue;
        }
        let all = labels
            .iter()
            .all(|(k, v)| series_labels.iter().any(|(sk, sv)| sk == k && sv == v));
        if all {
            return number
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        }
    }
    0.0
}

/// `key="value",...` (values without escapes: ours are ids and outcome names).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim_matches('"').to_owned()))
        })
        .collect()
}

/// `bidsieve_requests_total{stream, outcome}`.
pub fn requests(stream_id: i64, outcome: &str) -> u64 {
    value(
        "bidsieve_requests_total",
        &[("stream", &stream_id.to_string()), ("outcome", outcome)],
    ) as u64
}

/// Every outcome count of one stream, in `bidsieve_proxy::Outcome::ALL` order.
pub fn outcomes(stream_id: i64) -> Vec<(&'static str, u64)> {
    bidsieve_proxy::Outcome::ALL
        .iter()
        .map(|o| (o.as_str(), requests(stream_id, o.as_str())))
        .collect()
}

/// Asserts that a stream's outcome counters are exactly `expected` (outcomes not named: 0).
pub fn assert_outcomes(stream_id: i64, expected: &[(&str, u64)]) {
    let got = outcomes(stream_id);
    let want: Vec<(&str, u64)> = got
        .iter()
        .map(|(name, _)| {
            let n = expected
                .iter()
                .find(|(e, _)| e == name)
                .map_or(0, |(_, n)| *n);
            (*name, n)
        })
        .collect();
    assert_eq!(got, want, "outcome counters of stream {stream_id}");
}

/// `bidsieve_filter_blocks_total{customer, filter_id}`.
pub fn blocks(customer_id: i64, filter_id: i64) -> u64 {
    value(
        "bidsieve_filter_blocks_total",
        &[
            ("customer", &customer_id.to_string()),
            ("filter_id", &filter_id.to_string()),
        ],
    ) as u64
}
