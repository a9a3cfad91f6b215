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
        Some(path) => bodies(std::fs::read(path)?)?,
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

/// The requests of a `BSC1` corpus (a `BSC1 <n>` line, then per request a `<flag> <kind> <len>`
/// line, the body and a newline; gzip bodies are refused), or `file` itself as one request.
fn bodies(file: Vec<u8>) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let Some(rest) = file.strip_prefix(b"BSC1 ") else {
        return Ok(vec![file]);
    };
    let mut lines = rest;
    let count: usize = std::str::from_utf8(line(&mut lines)?)?.parse()?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let meta = std::str::from_utf8(line(&mut lines)?)?;
        let mut parts = meta.split(' ');
        if parts.next() == Some("g") {
            return Err("gzip corpus: extract_loop reads plain bodies".into());
        }
        let len: usize = parts
            .nth(1)
            .ok_or("corpus line without a length")?
            .parse()?;
        let body = lines.get(..len).ok_or("truncated corpus")?.to_vec();
        lines = lines.get(len + 1..).ok_or("truncated corpus")?;
        out.push(body);
    }
    Ok(out)
}

/// The bytes up to the next newline of `rest`, which moves past it.
fn line<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], Box<dyn std::error::Error>> {
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("truncated corpus")?;
    let (head, tail) = rest.split_at(end);
    *rest = tail.get(1..).unwrap_or_default();
    Ok(head)
}
