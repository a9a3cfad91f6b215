//! Filter evaluation (`bidsieve_filter::FilterTree::evaluate`) of a realistic tree that
//! includes a 5,000,000-entry user white list, the raw list lookup (hit and miss), and
//! `CompiledList::build` of that list with its memory.
//!
//! `cargo bench -p bidsieve-benches --bench filter`

#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::print_stdout)] // the bench reports list memory next to criterion's timings

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bidsieve_filter::{
    BoolOp, CompiledList, CompiledListBuilder, Facts, FilterKind, FilterSpec, FilterTree,
    ListField, ListValues, ThresholdOp,
};
use bidsieve_openrtb::extract;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const BIG_LIST: usize = 5_000_000;
const BIG_LIST_FILTER: i64 = 31;

/// A ~1.5 KB OpenRTB 2.5 banner request; its `user.id` is set per benchmark.
fn request_json(user_id: &str) -> String {
    format!(
        concat!(
            r#"{{"id":"8f1c2a7e-5b3d-4e6f-9a0b-1c2d3e4f5a6b","at":1,"tmax":120,"cur":["USD"],"#,
            r#""imp":[{{"id":"1","tagid":"homepage-top","bidfloor":0.45,"bidfloorcur":"USD","secure":1,"#,
            r#""banner":{{"w":300,"h":250,"pos":1,"format":[{{"w":300,"h":250}},{{"w":320,"h":50}}],"#,
            r#""battr":[1,3,5,6,8,9,10,14],"api":[3,5,6,7]}},"ext":{{"gpid":"/1234/homepage/top"}}}}],"#,
            r#""site":{{"id":"s-8812","name":"Example News","domain":"www.example-news.com","#,
            r#""cat":["IAB12","IAB12-2"],"page":"https://www.example-news.com/world/2025/11/story.html","#,
            r#""ref":"https://www.google.com/","publisher":{{"id":"p-9921","name":"Example Media Group"}}}},"#,
            r#""device":{{"ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36","#,
            r#""ip":"203.0.113.57","geo":{{"country":"GBR","region":"ENG","city":"London","type":2}},"#,
            r#""language":"en","devicetype":2,"os":"Windows","js":1,"dnt":0}},"#,
            r#""user":{{"id":"{user}","buyeruid":"bx-771e2c","ext":{{"consent":"CPzHq4APzHq4AAHABBENDXCsAP_AAH_AAAAAAAAA"}}}},"#,
            r#""regs":{{"coppa":0,"ext":{{"gdpr":1,"us_privacy":"1---"}}}},"source":{{"fd":1,"tid":"a6b5c4d3-e2f1"}},"#,
            r#""ext":{{"authenticated":{{"authed":{{"score":0.87}}}}}}}}"#
        ),
        user = user_id
    )
}

/// splitmix64: a deterministic stream of well-mixed values for device ids.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The `i`-th device id, a UUID-shaped string (36 bytes) as device-id lists hold.
fn device_id(i: u64, out: &mut String) {
    out.clear();
    let a = mix(i);
    let b = mix(a);
    let _ = write!(
        out,
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    );
}

/// Builds the 5M list by streaming values through the builder, as the proxy does from the store.
fn build_big_list() -> CompiledList {
    let mut builder = CompiledListBuilder::new(ListField::User, BIG_LIST);
    let mut value = String::new();
    for i in 0..BIG_LIST as u64 {
        device_id(i, &mut value);
        // Values are valid user ids; push only fails on invalid values.
        if builder.push(&value).is_err() {
            break;
        }
    }
    builder.finish()
}

/// A realistic customer tree: the guide's response tree (small black lists, the big white list
/// for stream 3) plus a size white list, a country black list and a quality threshold.
fn tree_specs() -> Vec<FilterSpec> {
    let list = |id, parent, field, white, values: ListValues| FilterSpec {
        id,
        parent_id: Some(parent),
        kind: FilterKind::List {
            field,
            white,
            values,
        },
    };
    let strings = |v: &[&str]| ListValues::Strings(v.iter().map(|s| s.to_string()).collect());
    vec![
        FilterSpec {
            id: 24,
            parent_id: None,
            kind: FilterKind::Boolean(BoolOp::And),
        },
        FilterSpec {
            id: 27,
            parent_id: Some(24),
            kind: FilterKind::Boolean(BoolOp::Or),
        },
        list(29, 27, ListField::User, false, strings(&["4", "5", "6"])),
        list(30, 27, ListField::Size, false, strings(&["5x5"])),
        list(28, 24, ListField::User, false, strings(&["1", "2", "3"])),
        FilterSpec {
            id: 32,
            parent_id: Some(24),
            kind: FilterKind::Boolean(BoolOp::Or),
        },
        FilterSpec {
            id: 33,
            parent_id: Some(32),
            kind: FilterKind::Boolean(BoolOp::And),
        },
        list(
            BIG_LIST_FILTER,
            33,
            ListField::User,
            true,
            ListValues::Stored { len: BIG_LIST },
        ),
        list(35, 33, ListField::Stream, true, ListValues::Ints(vec![3])),
        list(36, 32, ListField::Stream, false, ListValues::Ints(vec![3])),
        list(
            40,
            24,
            ListField::Size,
            true,
            strings(&["300x250", "320x100", "320x50", "728x90"]),
        ),
        list(
            41,
            24,
            ListField::Country,
            false,
            strings(&["RU", "KP", "IR"]),
        ),
        FilterSpec {
            id: 42,
            parent_id: Some(24),
            kind: FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.5,
            },
        },
    ]
}

/// Peak resident set size of this process in KiB (Linux), for context.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Distinct values the list lookups cycle through.
const DISTINCT_PROBES: usize = 1 << 20;

fn bench_filter(c: &mut Criterion) {
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let big = Arc::new(build_big_list());
    let built_in = started.elapsed();
    println!(
        "5M-entry user list: built in {:.2?}, {} distinct, memory_bytes = {} ({:.1} MiB, {:.2} B/entry); \
         peak RSS {:?} KiB before, {:?} KiB after",
        built_in,
        big.len(),
        big.memory_bytes(),
        big.memory_bytes() as f64 / (1024.0 * 1024.0),
        big.memory_bytes() as f64 / BIG_LIST as f64,
        rss_before,
        peak_rss_kib(),
    );

    let lists: HashMap<i64, Arc<CompiledList>> = HashMap::from([(BIG_LIST_FILTER, big.clone())]);
    let specs = tree_specs();
    let tree = match FilterTree::compile(&specs, &lists) {
        Ok(tree) => tree,
        Err(err) => panic!("bench tree does not compile: {err}"),
    };
    let stream3 = tree.specialize(3, 1);

    // 2^20 members and 2^20 non-members, visited in turn so lookups touch cold memory the way
    // distinct users do (their list lines, 2 × 64 MiB of them, cannot stay in cache).
    let mut hits = Vec::with_capacity(DISTINCT_PROBES);
    let mut misses = Vec::with_capacity(DISTINCT_PROBES);
    let mut value = String::new();
    for k in 0..DISTINCT_PROBES as u64 {
        device_id(mix(k) % BIG_LIST as u64, &mut value);
        hits.push(value.clone());
        device_id(BIG_LIST as u64 + k, &mut value);
        misses.push(value.clone());
    }

    let mut group = c.benchmark_group("filter/list_5m");
    let mut i = 0usize;
    group.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + 1) % DISTINCT_PROBES;
            black_box(big.contains_str(black_box(&hits[i])))
        })
    });
    group.bench_function("lookup_miss", |b| {
        b.iter(|| {
            i = (i + 1) % DISTINCT_PROBES;
            black_box(big.contains_str(black_box(&misses[i])))
        })
    });
    group.finish();

    let hit_bodies: Vec<String> = hits.iter().take(256).map(|u| request_json(u)).collect();
    let miss_bodies: Vec<String> = misses.iter().take(256).map(|u| request_json(u)).collect();
    let hit_fields: Vec<_> = hit_bodies
        .iter()
        .map(|b| extract(b.as_bytes()).unwrap_or_default())
        .collect();
    let miss_fields: Vec<_> = miss_bodies
        .iter()
        .map(|b| extract(b.as_bytes()).unwrap_or_default())
        .collect();
    let facts = |fields| Facts {
        request: fields,
        stream_id: 3,
        supplier_id: 1,
        uid2: None,
        uid2_status: "NONE",
    };
    // Sanity: a listed user on stream 3 passes, an unlisted one is dropped (the `or` 32 fails;
    // its first child in evaluation order, the cheap stream black list 36, is reported).
    assert!(tree.evaluate(&facts(&hit_fields[0])).pass);
    assert!(!tree.evaluate(&facts(&miss_fields[0])).pass);
    assert!(!stream3.evaluate(&facts(&miss_fields[0])).pass);

    let mut group = c.benchmark_group("filter/evaluate");
    let mut j = 0usize;
    group.bench_function("tree_user_hit", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            black_box(tree.evaluate(black_box(&facts(&hit_fields[j]))))
        })
    });
    group.bench_function("tree_user_miss", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            black_box(tree.evaluate(black_box(&facts(&miss_fields[j]))))
        })
    });
    group.bench_function("specialized_stream3_user_hit", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            black_box(stream3.evaluate(black_box(&facts(&hit_fields[j]))))
        })
    });
    group.bench_function("other_stream_no_big_list", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            let f = Facts {
                stream_id: 4,
                ..facts(&hit_fields[j])
            };
            black_box(tree.evaluate(black_box(&f)))
        })
    });
    group.bench_function("extract_and_evaluate_1_5kb", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            let fields = extract(black_box(hit_bodies[j].as_bytes())).unwrap_or_default();
            let facts = Facts {
                request: &fields,
                stream_id: 3,
                supplier_id: 1,
                uid2: None,
                uid2_status: "NONE",
            };
            black_box(tree.evaluate(&facts).pass)
        })
    });
    group.bench_function("explain_all_nodes", |b| {
        b.iter(|| {
            j = (j + 1) & 255;
            black_box(tree.explain(black_box(&facts(&miss_fields[j]))))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("filter/build");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("compiled_list_5m_users", |b| {
        b.iter_batched(|| (), |()| build_big_list(), BatchSize::PerIteration)
    });
    group.bench_function("compile_tree_with_shared_list", |b| {
        b.iter(|| FilterTree::compile(black_box(&specs), &lists).map(|t| t.len()))
    });
    group.finish();
}

criterion_group!(benches, bench_filter);
criterion_main!(benches);
