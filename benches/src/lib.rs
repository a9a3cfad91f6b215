//! Criterion benchmarks of bidsieve; see `benches/`.
