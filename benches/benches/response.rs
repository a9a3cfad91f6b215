//! Bid-response rewriting (`bidsieve_openrtb::rewrite_response`, SPEC §6) on realistic bid
//! responses: the relay path's cost per forwarded bid, for each customer setting, beside what a
//! `serde_json` implementation would pay (parse a `Value`; parse, edit and re-serialize it).
//! Also the win token alone: seal (per notice URL) and open (per `/win` request).
//!
//! `cargo bench -p bidsieve-benches --bench response`
//!
//! Nonces here come from a counter; the proxy draws them from `rand`'s thread-local CSPRNG,
//! which adds a few nanoseconds per notice URL.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;
use std::path::PathBuf;

use bidsieve_openrtb::{
    MACROS, Notice, NoticeKind, NoticeSealing, ResponseRewrite, WinKey, rewrite_response,
    substitute_macros,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A display bid as DSPs send it (~1.7 KB compact): one seat, one bid with `nurl`, `burl` and
/// `lurl` using auction macros, an HTML creative with escaped quotes and a click macro, the
/// usual metadata and an `ext`.
const DISPLAY_BID: &str = concat!(
    r#"{"id":"8f1c2a7e-5b3d-4e6f-9a0b-1c2d3e4f5a6b","bidid":"0e5f2c7d-91aa-4c0e-b3d1-5a9e7c2f4b10","cur":"USD","#,
    r#""seatbid":[{"seat":"dsp-seat-4411","bid":[{"id":"b-7f3a19c2","impid":"1","price":1.8734,"#,
    r#""adid":"ad-29917","cid":"cmp-5531","crid":"cr-88412-300x250","adomain":["brand.example"],"#,
    r#""cat":["IAB2","IAB2-3"],"attr":[1,3,4],"w":300,"h":250,"mtype":1,"#,
    r#""nurl":"https://win.dsp.example/v1/win?auc=${AUCTION_ID}&bid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}&p=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&s=eyJjIjoiNTUzMSIsImEiOiIyOTkxNyJ9","#,
    r#""burl":"https://bill.dsp.example/v1/bill?auc=${AUCTION_ID}&p=${AUCTION_PRICE}&m=${AUCTION_MULTIPLIER}&s=eyJjIjoiNTUzMSJ9","#,
    r#""lurl":"https://win.dsp.example/v1/loss?auc=${AUCTION_ID}&r=${AUCTION_LOSS}&mtw=${AUCTION_MIN_TO_WIN}","#,
    r#""adm":"<div id=\"dsp-ad-88412\" style=\"width:300px;height:250px;position:relative\"><a href=\"https://click.dsp.example/c?auc=${AUCTION_ID}&u=https%3A%2F%2Fbrand.example%2Fspring\" target=\"_blank\">"#,
    r#"<img src=\"https://cdn.dsp.example/cr/88412/300x250.jpg\" width=\"300\" height=\"250\" alt=\"Spring collection\" border=\"0\"></a>"#,
    r#"<img src=\"https://px.dsp.example/imp?auc=${AUCTION_ID}&p=${AUCTION_PRICE}\" width=\"1\" height=\"1\" style=\"display:none\">"#,
    r#"<script src=\"https://js.verify.example/v.js?cid=5531&crid=88412\" async></script></div>","#,
    r#""ext":{"dsa":{"behalf":"Brand Example Ltd","paid":"Brand Example Ltd","transparency":[{"domain":"dsp.example","dsaparams":[1,2]}]}}}]}]}"#
);

/// The configured tag of the default configuration.
const TAG: &str = r#"<img src="https://tag.bidsieve.example/i.gif?s={stream_id}&b={bid_id}&i={imp_id}" width="1" height="1" style="display:none">"#;

fn corpus(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = [
        dir.join("../../shared/corpus"),
        dir.join("../testdata/corpus"),
    ]
    .into_iter()
    .map(|d| d.join(name))
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("corpus file {name} in ../shared/corpus or testdata/corpus"));
    std::fs::read(path).expect("read corpus file")
}

/// A counter nonce: unique per call, cheap (see the module doc).
struct Nonces(u64);

impl Nonces {
    fn next(&mut self) -> [u8; 12] {
        self.0 = self.0.wrapping_add(1);
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.0.to_le_bytes());
        n
    }
}

/// One customer setting: (seal notice URLs, inject the tag).
const SETTINGS: [(&str, bool, bool); 4] = [
    ("keep_nurl", false, false),
    ("seal", true, false),
    ("tag", false, true),
    ("seal+tag", true, true),
];

/// Runs the rewrite as the proxy does; returns the output length (0: relayed untouched).
fn rewrite(body: &[u8], key: &WinKey, nonces: &mut Nonces, seal: bool, tag: bool) -> usize {
    let mut next = || nonces.next();
    let mut rw = ResponseRewrite {
        stream_id: 4242,
        seal: seal.then_some(NoticeSealing {
            key,
            public_url: "https://bids.bidsieve.example",
            redirect: false,
            nonce: &mut next,
        }),
        tag_html: tag.then_some(TAG),
    };
    let out = rewrite_response(body, &mut rw).expect("valid bid response");
    out.body.map_or(0, |b| b.len())
}

/// What a `serde_json` rewrite would do: parse a tree, replace `nurl`/`burl`, append the tag to
/// `adm`, serialize (the sealing itself excluded, to isolate the JSON cost).
fn serde_rewrite(body: &[u8]) -> usize {
    let mut doc: serde_json::Value = serde_json::from_slice(body).expect("valid JSON");
    if let Some(seatbids) = doc.get_mut("seatbid").and_then(|s| s.as_array_mut()) {
        for seatbid in seatbids {
            if let Some(bids) = seatbid.get_mut("bid").and_then(|b| b.as_array_mut()) {
                for bid in bids {
                    for k in ["nurl", "burl"] {
                        if let Some(v) = bid.get_mut(k) {
                            *v = serde_json::Value::String(
                                "https://bids.bidsieve.example/win/x".to_owned(),
                            );
                        }
                    }
                    if let Some(serde_json::Value::String(adm)) = bid.get_mut("adm") {
                        adm.push_str(TAG);
                    }
                }
            }
        }
    }
    serde_json::to_vec(&doc).expect("serialize").len()
}

fn bench_rewrite(c: &mut Criterion) {
    let key = WinKey::new(&[7; 32]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("display_html", DISPLAY_BID.as_bytes().to_vec()),
        (
            "iab_2.6_win_notice_pretty",
            corpus("iab-2.6/06-response-6-3-1-example-1-ad-served-on-win-notice.json"),
        ),
        (
            "iab_2.6_vast_pretty",
            corpus("iab-2.6/07-response-6-3-2-example-2-vast-xml-document-returned-inline.json"),
        ),
    ];
    let mut nonces = Nonces(0);

    let mut group = c.benchmark_group("response_rewrite");
    for (name, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        for (setting, seal, tag) in SETTINGS {
            // Fail loudly rather than time an error path.
            rewrite(body, &key, &mut nonces, seal, tag);
            group.bench_function(format!("{name}/{}B/{setting}", body.len()), |b| {
                b.iter(|| rewrite(black_box(body), &key, &mut nonces, seal, tag))
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("response_serde_json_baseline");
    for (name, body) in cases.iter().take(2) {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name}/{}B/value_parse", body.len()), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).is_ok())
        });
        group.bench_function(format!("{name}/{}B/value_rewrite", body.len()), |b| {
            b.iter(|| serde_rewrite(black_box(body)))
        });
    }
    group.finish();
}

fn bench_token(c: &mut Criterion) {
    let key = WinKey::new(&[7; 32]);
    let url = "https://win.dsp.example/v1/win?auc=${AUCTION_ID}&bid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}&p=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&s=eyJjIjoiNTUzMSIsImEiOiIyOTkxNyJ9";
    let notice = Notice {
        kind: NoticeKind::Win,
        redirect: false,
        stream_id: 4242,
        url,
    };
    let mut nonces = Nonces(0);
    let mut token = String::new();
    key.seal(&notice, nonces.next(), &mut token).expect("seal");
    let query = "auction=8f1c2a7e-5b3d&bid=0e5f2c7d&imp=1&price=1.51&cur=USD";
    assert!(MACROS.iter().any(|m| url.contains(m.literal)));

    let mut group = c.benchmark_group("win_token");
    group.bench_function(format!("seal/{}B_url", url.len()), |b| {
        let mut out = String::with_capacity(512);
        b.iter(|| {
            out.clear();
            key.seal(black_box(&notice), nonces.next(), &mut out)
                .map(|()| out.len())
        })
    });
    group.bench_function(format!("open/{}B_token", token.len()), |b| {
        b.iter(|| key.open(black_box(&token)).map(|n| n.url.len()))
    });
    group.bench_function("open+substitute", |b| {
        b.iter(|| {
            key.open(black_box(&token))
                .map(|n| substitute_macros(&n.url, black_box(query)).len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_rewrite, bench_token);
criterion_main!(benches);
