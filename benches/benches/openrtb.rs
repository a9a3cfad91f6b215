//! Field extraction (`bidsieve_openrtb::extract`) on realistic bid requests, beside a
//! `serde_json::Value` parse of the same bytes as the baseline.
//!
//! `cargo bench -p bidsieve-benches --bench openrtb`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::path::PathBuf;

use bidsieve_openrtb::extract;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A compact OpenRTB 2.5 banner request as exchanges send it (~1.6 KB), with a UID2 token in
/// `user.ext.eids`, two banner formats, device geo and an `ext.authenticated` score.
const BANNER_25: &str = include_str!("../data/banner-2.5-uid2.json");

fn corpus(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = [
        dir.join("../../shared/corpus"),
        dir.join("../testdata/corpus"),
    ]
    .into_iter()
    .map(|d| d.join(name))
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("corpus file {name} in ../shared/corpus or testdata/corpus"));
    std::fs::read(path).expect("read corpus file")
}

fn bench_extract(c: &mut Criterion) {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("banner_2.5_compact_uid2", BANNER_25.as_bytes().to_vec()),
        ("rtb4free_nexage_pretty", corpus("rtb4free/nexage.txt")),
        (
            "iab_2.6_pmp",
            corpus("iab-2.6/05-request-6-2-5-example-5-pmp-with-direct-deal.json"),
        ),
        (
            "iab_2.6_mobile_app",
            corpus("iab-2.6/03-request-6-2-3-example-3-mobile.json"),
        ),
        (
            "bidswitch_app_pretty",
            corpus("rtb4free/Bidswitch_AppNoDomain.txt"),
        ),
    ];
    let mut group = c.benchmark_group("openrtb_extract");
    for (name, body) in &cases {
        // Fail loudly rather than time an error path.
        let fields = extract(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(fields.imp_count >= 1);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name}/{}B", body.len()), |b| {
            b.iter(|| extract(black_box(body)).map(|f| f.imp_count))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("serde_json_value_baseline");
    for (name, body) in cases.iter().take(2) {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name}/{}B", body.len()), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_extract);
criterion_main!(benches);
