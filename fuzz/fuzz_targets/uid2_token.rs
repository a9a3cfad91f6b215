//! A UID2 token from a bid request, decrypted with a real key set (the oracle's bidstream keys,
//! at the oracle's reference time): every input gives a status, never a panic. The first byte
//! chooses the client type and whether a domain is checked.
#![no_main]

use std::sync::OnceLock;

use bidsieve_uid2::{ClientType, KeySet, decrypt};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static (KeySet, i64) {
    static KEYS: OnceLock<(KeySet, i64)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../testdata/uid2-oracle/vectors.json"))
                .expect("vectors.json");
        let body = vectors["key_sets"]["bidstream"]["response"].to_string();
        let keys = KeySet::from_json(body.as_bytes()).expect("the oracle's key set");
        let now = vectors["meta"]["reference_now_ms"]
            .as_i64()
            .expect("reference time");
        (keys, now)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(rest) else {
        return;
    };
    let (keys, now) = keys();
    let client = if flags & 1 == 0 {
        ClientType::Bidstream
    } else {
        ClientType::Sharing
    };
    let domain = (flags & 2 != 0).then_some("example.com");
    let _ = decrypt(Some(keys), token, *now, domain, client);
});
