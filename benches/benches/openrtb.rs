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
const BANNER_25: &str = concat!(
    r#"{"id":"8f1c2a7e-5b3d-4e6f-9a0b-1c2d3e4f5a6b","at":1,"tmax":120,"cur":["USD"],"#,
    r#""imp":[{"id":"1","tagid":"homepage-top","bidfloor":0.45,"bidfloorcur":"USD","secure":1,"#,
    r#""banner":{"w":300,"h":250,"pos":1,"format":[{"w":300,"h":250},{"w":320,"h":50}],"#,
    r#""battr":[1,3,5,6,8,9,10,14],"api":[3,5,6,7]},"ext":{"gpid":"/1234/homepage/top"}}],"#,
    r#""site":{"id":"s-8812","name":"Example News","domain":"www.example-news.com","#,
    r#""cat":["IAB12","IAB12-2"],"page":"https://www.example-news.com/world/2025/11/story-of-the-day.html","#,
    r#""ref":"https://www.google.com/","publisher":{"id":"p-9921","name":"Example Media Group"}},"#,
    r#""device":{"ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36","#,
    r#""ip":"203.0.113.57","geo":{"country":"GBR","region":"ENG","city":"London","zip":"EC1A","type":2,"lat":51.52,"lon":-0.1},"#,
    r#""language":"en","devicetype":2,"os":"Windows","js":1,"dnt":0},"#,
    r#""user":{"id":"u-5f3e2d1c0b9a","buyeruid":"bx-771e2c","ext":{"consent":"CPzHq4APzHq4AAHABBENDXCsAP_AAH_AAAAAAAAA","#,
    r#""eids":[{"source":"id5-sync.com","uids":[{"id":"ID5*AbCdEfGhIjKlMnOpQrStUvWxYz0123456789","atype":1}]},"#,
    r#"{"source":"uidapi.com","uids":[{"id":"AgAAAAPFR0zA5ogv/yaAPiUsAdZPbXkOYqGKy+a2fYbm4yG1LgM2Hk6wWY3JcjZgFpl8iZOWQQcWRQpqfhTfsuFZOI3ZV9d5mPnpIOglsmPbHgTMEXH9+3uS2vAX+7B+gOwpZwkGFRpOxJ3u02KsgpJ9sjmA5Cmno0ebWoJh4zsmTPrLjjPnvCr55w0GA3bclx8H2nSvWg6B/C0="#,
    r#"","atype":3}]}]}},"#,
    r#""regs":{"coppa":0,"ext":{"gdpr":1,"us_privacy":"1---"}},"source":{"fd":1,"tid":"a6b5c4d3-e2f1"},"#,
    r#""ext":{"authenticated":{"authed":{"score":0.87}}}}"#
);

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
