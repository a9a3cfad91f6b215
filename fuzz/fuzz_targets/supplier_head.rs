//! A supplier's request head as the bid loop reads it (`crates/proxy/src/conn.rs`): untrusted
//! bytes from the network; a bid head, "more please" or "hyper's", never a panic, and every
//! offset it returns inside the head.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bidsieve_proxy::fuzzing::request_head(data);
});
