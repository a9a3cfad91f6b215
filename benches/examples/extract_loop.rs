//! `openrtb::extract` in a plain loop, for instruction counts under callgrind (reproducible on
//! these noisy VMs, where wall-clock figures swing) and quick same-machine timings.
//!
//! ```sh
//! cargo build --release -p bidsieve-benches --example extract_loop
//! target/release/examples/extract_loop 2000000                  # ns per extract
//! valgrind --tool=callgrind target/release/examples/extract_loop 10000   # instructions
//! target/release/examples/extract_loop 2000000 testdata/corpus/rtb4free/nexage.txt
//! ```
//!
//! The body is the criterion bench's 1.5 KB banner request (`benches/data/`) unless a file is
//! given.

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
    let body = match args.next() {
        Some(path) => std::fs::read(path)?,
        None => BANNER_25.as_bytes().to_vec(),
    };
    let started = Instant::now();
    let mut sizes = 0usize;
    for _ in 0..runs {
        let fields = bidsieve_openrtb::extract(black_box(&body))?;
        sizes += fields.sizes.len();
    }
    let ns = started.elapsed().as_nanos() as f64 / runs.max(1) as f64;
    eprintln!(
        "{} bytes, {runs} extracts, {ns:.1} ns per extract ({sizes} sizes seen)",
        body.len()
    );
    Ok(())
}
