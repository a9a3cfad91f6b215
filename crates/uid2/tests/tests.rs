//! Black-box tests of bidsieve-uid2 (one test binary, ripgrep style).

// The tests print the vector counts they checked; that is their report.
#![allow(clippy::print_stdout)]

mod support;

mod props;
mod refresh;
mod vectors;
