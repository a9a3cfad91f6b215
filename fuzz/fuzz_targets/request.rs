//! A supplier's body: extraction (JSON validation and the filter fields) and gzip inflation
//! answer every input with a value or an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = bidsieve_openrtb::extract(data) {
        // A request that passed names its id and at least one imp; its text is usable.
        assert!(fields.id.len() <= data.len());
    }
    if let Ok(inflated) = bidsieve_openrtb::decompress_gzip(data, 1 << 16) {
        assert!(inflated.len() <= 1 << 16);
        let _ = bidsieve_openrtb::extract(&inflated);
    }
});
