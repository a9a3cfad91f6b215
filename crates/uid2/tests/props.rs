//! Property tests: no input panics; tampering never turns a token into another UID.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use bidsieve_uid2::encoding::decode_url_or_standard;
use bidsieve_uid2::envelope::{ClientSecret, open_response};
use bidsieve_uid2::{ClientType, KeySet, Status, decrypt};
use proptest::prelude::*;

use crate::support::{Good, good_vectors, key_set, vectors};

/// Re-encodes `bytes` the way `original` was written (alphabet and padding).
fn reencode(original: &str, bytes: &[u8]) -> String {
    let url = original.contains(['-', '_']);
    let padded = original.ends_with('=');
    match (url, padded) {
        (true, true) => URL_SAFE.encode(bytes),
        (true, false) => URL_SAFE_NO_PAD.encode(bytes),
        (false, true) => STANDARD.encode(bytes),
        (false, false) => STANDARD_NO_PAD.encode(bytes),
    }
}

fn raw(token: &str) -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let n = decode_url_or_standard(token.as_bytes(), &mut out).expect("good token decodes");
    out.truncate(n);
    out
}

/// The outcome the property forbids: SUCCESS with a UID other than the token's own.
fn other_uid(g: &Good, token: &str) -> Option<String> {
    let d = decrypt(
        Some(&g.keys),
        token,
        g.now_ms,
        g.domain.as_deref(),
        g.client,
    );
    match (d.status, d.uid) {
        (Status::Success, Some(uid)) if uid != g.uid => Some(uid),
        (Status::Success, None) => Some("<none>".to_owned()),
        _ => None,
    }
}

/// Exhaustive: every bit of every decoded byte of every token that should decrypt.
#[test]
fn flipping_any_bit_never_yields_another_uid() {
    let goods = good_vectors();
    let mut flips = 0usize;
    let mut still_success = 0usize;
    for g in goods {
        let bytes = raw(&g.token);
        assert_eq!(
            reencode(&g.token, &bytes),
            g.token,
            "{}: re-encoding",
            g.name
        );
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let t = reencode(&g.token, &b);
                assert_eq!(other_uid(g, &t), None, "{}: byte {i} bit {bit}", g.name);
                flips += 1;
                let d = decrypt(Some(&g.keys), &t, g.now_ms, g.domain.as_deref(), g.client);
                if d.status == Status::Success {
                    still_success += 1;
                }
            }
        }
    }
    println!(
        "bit flips: {flips} over {} tokens, none gave another UID ({still_success} still decrypt to the same UID: unauthenticated header bits such as identity type)",
        goods.len()
    );
    assert!(goods.len() >= 50);
}

fn key_sets() -> &'static [KeySet] {
    static S: std::sync::OnceLock<Vec<KeySet>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        ["bidstream", "bidstream_euid", "sharing", "empty_keys"]
            .into_iter()
            .map(key_set)
            .collect()
    })
}

fn any_client() -> impl Strategy<Value = ClientType> {
    prop_oneof![Just(ClientType::Bidstream), Just(ClientType::Sharing)]
}

/// Headers that reach the key lookups and the ciphers: versions 2/3/4, known key ids.
fn token_like() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just(vec![0x02u8, 0, 0, 0x03, 0xe9]),       // v2, master 1001
        Just(vec![0x03u8, 0x70, 0, 0, 0x03, 0xe9]), // v3, master 1001
        Just(vec![0x03u8, 0x80, 0, 0, 0x03, 0xe9]), // v4, master 1001
        Just(vec![0x13u8, 0x80, 0, 0, 0x08, 0x35]), // v4 EUID, site key 2101 as master
    ];
    (
        header,
        prop::collection::vec(any::<u8>(), 0..400),
        0..4usize,
    )
        .prop_map(|(h, body, enc)| {
            let mut b = h;
            b.extend(body);
            match enc {
                0 => STANDARD.encode(&b),
                1 => STANDARD_NO_PAD.encode(&b),
                2 => URL_SAFE.encode(&b),
                _ => URL_SAFE_NO_PAD.encode(&b),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(
        s in ".{0,1200}",
        now in any::<i64>(),
        domain in proptest::option::of(".{0,20}"),
        client in any_client(),
        k in 0..5usize,
    ) {
        let sets = key_sets();
        let d = decrypt(sets.get(k), &s, now, domain.as_deref(), client);
        // A random string is never a valid token.
        prop_assert_ne!(d.status, Status::Success);
        prop_assert!(d.uid.is_none());
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        t in token_like(),
        client in any_client(),
        k in 0..4usize,
    ) {
        let sets = key_sets();
        let now = vectors()["meta"]["reference_now_ms"].as_i64().unwrap();
        let d = decrypt(sets.get(k), &t, now, Some("example.com"), client);
        prop_assert!(d.status != Status::Success || d.uid.is_some());
    }

    #[test]
    fn text_tampering_never_yields_another_uid(
        idx in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(),
        bit in 0..7u8,
    ) {
        let goods = good_vectors();
        let g = idx.get(goods);
        let mut bytes = g.token.clone().into_bytes();
        let p = pos.index(bytes.len());
        bytes[p] ^= 1 << bit; // stays ASCII
        let t = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(other_uid(g, &t), None, "{} pos {} bit {}", g.name, p, bit);
    }

    #[test]
    fn key_json_and_envelopes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..600),
        text in ".{0,300}",
    ) {
        let _ = KeySet::from_json(&body);
        let _ = KeySet::from_json(text.as_bytes());
        let secret = ClientSecret::from_bytes([7; 32]);
        prop_assert!(open_response(&secret, &body, &[0; 8]).is_err());
        prop_assert!(open_response(&secret, text.as_bytes(), &[0; 8]).is_err());
        let _ = ClientSecret::from_base64(&text);
    }
}
