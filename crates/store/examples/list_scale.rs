//! Measures big-list storage: bucketing, replace, re-replace, patch and a full streamed read of
//! an N-entry list (default 5,000,000), on the store URL given (default: a temp SQLite file).
//!
//! ```text
//! cargo run --release -p bidsieve-store --example list_scale -- [STORE_URL] [N]
//! cargo run --release -p bidsieve-store --example list_scale -- postgres://postgres@127.0.0.1:5432/scratch
//! ```
//! It applies the migrations to that database and leaves its tables there (its customer is
//! deleted): point it at a scratch database, not one shared with tests.
#![allow(clippy::print_stdout)] // a measurement tool: its output is the point

use std::fmt::Write as _;
use std::time::Instant;

use bidsieve_store::{CustomerInput, ListBuilder, Store};

/// A 32-hex-char user id, distinct for every `i` (like the seed guide's user lists).
fn user_id(i: u64, buf: &mut String) {
    buf.clear();
    let _ = write!(
        buf,
        "{:016x}{:016x}",
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()),
        i
    );
}

/// Peak resident set size of this process, from /proc (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let temp = std::env::temp_dir().join(format!("bidsieve-list-scale-{}", std::process::id()));
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}/store.db", temp.display()));
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5_000_000);

    let store = Store::connect(&url).await?;
    let slug = format!("list-scale-{}", std::process::id());
    let customer = store
        .create_customer(&CustomerInput {
            name: slug.clone(),
            slug,
            qps: 0,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await?;
    let root = store.filters_of(customer.id).await?[0].id;
    let mut tx = store.begin().await?;
    let leaf = tx
        .insert_filter(customer.id, Some(root), "white", "user", None, None)
        .await?;
    tx.commit().await?;
    println!("engine {:?}, {n} entries of 32 chars", store.engine());

    // 32 chars and a line break per value.
    let capacity = usize::try_from(n)? * 33;
    for round in 1..=2u64 {
        let started = Instant::now();
        let list = tokio::task::spawn_blocking(move || {
            let mut builder = ListBuilder::with_capacity(capacity);
            let mut buf = String::new();
            for i in 0..n {
                // Round 2 replaces 1% of the values, as a daily refresh would.
                let key = if round == 2 && i % 100 == 0 {
                    i + 10 * n
                } else {
                    i
                };
                user_id(key, &mut buf);
                builder.push(&buf)?;
            }
            Ok::<_, bidsieve_store::StoreError>(builder.build())
        })
        .await??;
        let bucketed = started.elapsed();
        let write_started = Instant::now();
        let mut tx = store.begin().await?;
        let state = tx.replace_list_bucketed(leaf, &list).await?;
        tx.commit().await?;
        let written = write_started.elapsed();
        drop(list);
        println!(
            "replace #{round}: bucket+sort {:.2}s, write+commit {:.2}s, total {:.2}s (len {}, version {})",
            bucketed.as_secs_f64(),
            written.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            state.len,
            state.version
        );
    }

    let started = Instant::now();
    let adds: Vec<String> = (0..1000u64)
        .map(|i| {
            let mut b = String::new();
            user_id(20 * n + i, &mut b);
            b
        })
        .collect();
    let removes: Vec<String> = (1..=1000u64)
        .map(|i| {
            let mut b = String::new();
            user_id(i * 7 + 1, &mut b);
            b
        })
        .collect();
    let state = store.patch_list(leaf, &adds, &removes).await?;
    println!(
        "patch +1000/-1000: {:.2}s (len {}, version {})",
        started.elapsed().as_secs_f64(),
        state.len,
        state.version
    );

    let started = Instant::now();
    let mut reader = store.list_chunks(leaf).await?;
    let (mut chunks, mut values, mut bytes) = (0usize, 0usize, 0usize);
    while let Some(chunk) = reader.next_chunk().await? {
        chunks += 1;
        bytes += chunk.text.len();
        values += chunk.values().count();
    }
    println!(
        "streamed read: {chunks} buckets, {values} values, {:.1} MB, {:.2}s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS of this process: {mib:.0} MiB");
    }

    store.delete_customer(customer.id).await?;
    store.close().await;
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}
