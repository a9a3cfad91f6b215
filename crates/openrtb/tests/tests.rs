//! Black-box tests of `bidsieve-openrtb`: the shared corpus and property tests, each compared
//! with a reference extraction over `serde_json::Value` (`support/oracle.rs`).

mod corpus;
mod props;
mod support;
