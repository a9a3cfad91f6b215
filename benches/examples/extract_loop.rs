//! `openrtb::extract` in a plain loop, for instruction counts under callgrind (reproducible on
//! these noisy VMs, where wall-clock figures swing) and quick same-machine timings.
//!
//! ```sh
//! cargo build --release -p bidsieve-benches --example extract_loop
//! target/release/examples/extract_loop 2000000                  # ns per extract
//! valgrind --tool=callgrind target/release/examples/extract_loop 10000   # instructions
//! target/release/examples/extract_loop 2000000 testdata/corpus/rtb4free/nexage.txt
//! target/release/examples/extract_loop 2000000 loadtest/results/work/corpus-drop.bin
//! ```
//!
//! The body is the criterion bench's 1.5 KB banner request (`benches/data/`) unless a file is
//! given: one request, or a `BSC1` corpus written by `loadtest/run`, whose requests are taken in
//! turn (as the load test sends them).

#![allow(clippy::print_stderr)] // the example reports its timing

use std::hint::black_box;
use std::time::Instant;

const BANNER_25: &str = include_str!("../data/banner-2.5-uid2.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let bodies = match args.next() {
        Some(path) => bodies(&path)?,
        None => vec![BANNER_25.as_bytes().to_vec()],
    };
    let started = Instant::now();
    let mut sizes = 0usize;
    for body in bodies.iter().cycle().take(runs) {
        let fields = bidsieve_openrtb::extract(black_box(body))?;
        sizes += fields.sizes.len();
    }
    let ns = started.elapsed().as_nanos() as f64 / runs.max(1) as f64;
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "{} bodies of {} bytes on average, {runs} extracts, {ns:.1} ns per extract ({sizes} sizes seen)",
        bodies.len(),
        bytes / bodies.len().max(1)
    );
    Ok(())
}

/// The requests of `path`: a `BSC1` corpus (plain bodies only), or the file as one request.
fn bodies(path: &str) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let file = std::fs::read(path)?;
    if !file.starts_with(b"BSC1 ") {
        return Ok(vec![file]);
    }
    let mut out = Vec::new();
    for record in bidsieve_loadtest::parse_corpus(&file)? {
        if record.gzip {
            return Err("gzip corpus: extract_loop reads plain bodies".into());
        }
        out.push(record.body.to_vec());
    }
    Ok(out)
}
