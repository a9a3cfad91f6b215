//! UID2 token decryption per token version, with the oracle's keys and tokens.
//!
//! `cargo bench -p bidsieve-benches --bench uid2`. Compare with `benches/uid2_python_sdk.py`,
//! which times the official Python SDK on the same tokens.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::path::PathBuf;

use bidsieve_uid2::{ClientType, KeyCache, KeySet, Status, decrypt};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

/// The same tokens `uid2_python_sdk.py` times.
const TOKENS: [(&str, &str); 3] = [
    ("v2", "sdk_v2_uid2_ok"),
    ("v3", "sdk_v3_uid2_email_ok"),
    ("v4", "sdk_v4_uid2_email_ok"),
];

fn vectors() -> Value {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = [
        dir.join("../testdata/uid2-oracle/vectors.json"),
        dir.join("../../shared/uid2-oracle/vectors.json"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .expect("uid2-oracle/vectors.json in testdata/ or ../shared/");
    serde_json::from_slice(&std::fs::read(path).expect("read vectors.json")).expect("JSON")
}

fn bench_decrypt(c: &mut Criterion) {
    let v = vectors();
    let body = v["key_sets"]["bidstream"]["response"].to_string();
    let keys = KeySet::from_json(body.as_bytes()).expect("key set");
    let now = v["meta"]["reference_now_ms"].as_i64().expect("now");
    let find = |name: &str| {
        v["token_vectors"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["name"] == name))
            .and_then(|t| t["token"].as_str())
            .expect("token vector")
            .to_owned()
    };

    let mut g = c.benchmark_group("uid2_decrypt");
    g.throughput(Throughput::Elements(1));
    for (version, name) in TOKENS {
        let token = find(name);
        let d = decrypt(Some(&keys), &token, now, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::Success, "{name}");
        g.bench_function(version, |b| {
            b.iter(|| {
                decrypt(
                    Some(black_box(&keys)),
                    black_box(&token),
                    now,
                    None,
                    ClientType::Bidstream,
                )
            })
        });
    }
    // Through the cache, as the proxy calls it: one ArcSwap load plus decryption.
    let cache = KeyCache::with_keys(KeySet::from_json(body.as_bytes()).expect("key set"));
    let v4 = find("sdk_v4_uid2_email_ok");
    g.bench_function("v4_via_cache", |b| {
        b.iter(|| cache.decrypt(black_box(&v4), now, None, ClientType::Bidstream))
    });
    // A client-side generated token: adds the domain check.
    let cstg = find("v4_cstg_site101_domain_example_com");
    g.bench_function("v4_cstg_domain_check", |b| {
        b.iter(|| {
            decrypt(
                Some(&keys),
                black_box(&cstg),
                now,
                Some("example.com"),
                ClientType::Bidstream,
            )
        })
    });
    // Rejections that never reach a cipher.
    g.bench_function("garbage_rejected", |b| {
        b.iter(|| {
            decrypt(
                Some(&keys),
                black_box("not a token at all!"),
                now,
                None,
                ClientType::Bidstream,
            )
        })
    });
    g.finish();

    c.bench_function("uid2_keyset_from_json", |b| {
        b.iter(|| KeySet::from_json(black_box(body.as_bytes())))
    });
}

criterion_group!(benches, bench_decrypt);
criterion_main!(benches);
