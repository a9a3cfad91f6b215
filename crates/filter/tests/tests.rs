//! Black-box tests of bidsieve-filter, one binary (ripgrep style).

mod agreement;
mod plans;
mod seed_examples;
mod support;
