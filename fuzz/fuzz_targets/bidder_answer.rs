//! A bidder's answer: the HTTP/1.1 response head and chunk framing read by the proxy's bidder
//! client, then the bid response rewrite (notice URLs sealed, tag appended). Untrusted bytes
//! from a customer's server: errors, never panics.
#![no_main]

use bidsieve_openrtb::{NoticeSealing, ResponseRewrite, WinKey, rewrite_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bidsieve_proxy::fuzzing::response_framing(data);
    let key = WinKey::new(&[7u8; 32]);
    let mut counter = 0u64;
    let mut nonce = || {
        counter += 1;
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&counter.to_le_bytes());
        n
    };
    let mut rewrite = ResponseRewrite {
        stream_id: 1,
        seal: Some(NoticeSealing {
            key: &key,
            public_url: "https://bids.example",
            redirect: false,
            nonce: &mut nonce,
        }),
        tag_html: Some("<img src=\"https://t.example/p\">"),
    };
    if let Ok(out) = rewrite_response(data, &mut rewrite) {
        // A rewritten body is still a JSON bid response the rewrite accepts again.
        if let Some(body) = out.body {
            let mut again = ResponseRewrite {
                stream_id: 1,
                seal: None,
                tag_html: None,
            };
            assert!(rewrite_response(&body, &mut again).is_ok());
        }
    }
});
