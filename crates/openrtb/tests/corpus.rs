//! Every file of the shared corpus through `extract`, compared with the `serde_json` reference.

use bidsieve_openrtb::{GzipError, decompress_gzip, extract};

use crate::support::oracle::{Refusal, check};
use crate::support::{corpus_dir, files_under};

const GZIP_LIMIT: usize = 1 << 20;

#[test]
fn every_corpus_file_agrees_with_serde_json() {
    let files = files_under(&corpus_dir());
    assert!(
        files.len() >= 80,
        "corpus not found or incomplete: {} files",
        files.len()
    );
    let mut accepted = 0;
    let mut refused_as_json = 0;
    let mut failures = Vec::new();
    for path in &files {
        let body = std::fs::read(path).unwrap();
        match check(&body) {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(Refusal::NotJson)) => refused_as_json += 1,
            Ok(Err(_)) => {}
            Err(diff) => failures.push(format!("{}: {diff}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The README says about 63 rtb4free files and the 5 IAB requests parse; the rest do not.
    assert!(accepted >= 60, "only {accepted} files accepted");
    assert!(
        refused_as_json >= 5,
        "only {refused_as_json} files refused as JSON"
    );
}

#[test]
fn iab_26_examples() {
    let dir = corpus_dir().join("iab-2.6");
    for path in files_under(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&path).unwrap();
        let outcome = check(&body).unwrap_or_else(|diff| panic!("{name}: {diff}"));
        if name.contains("-request-") {
            assert!(outcome.is_ok(), "{name}: {outcome:?}");
        } else {
            // Bid responses have an id but no imp.
            assert_eq!(outcome, Err(Refusal::MissingImp), "{name}");
        }
    }
    let mobile = std::fs::read(dir.join("03-request-6-2-3-example-3-mobile.json")).unwrap();
    let f = extract(&mobile).unwrap();
    assert_eq!(f.id, "IxexyLDIIk");
    assert_eq!(f.domain.as_deref(), Some("12345"));
    assert!(f.domain_is_app);
    assert_eq!(
        f.sizes.as_slice(),
        [bidsieve_openrtb::Size { w: 728, h: 90 }]
    );
    assert_eq!(
        f.user_id.as_deref(),
        Some("ffffffd5135596709273b3a1a07e466ea2bf4fff")
    );
}

#[test]
fn rtb4free_known_files() {
    let dir = corpus_dir().join("rtb4free");
    let nexage = std::fs::read(dir.join("nexage.txt")).unwrap();
    let f = extract(&nexage).unwrap();
    assert_eq!(f.id, "35c22289-06e2-48e9-a0cd-94aeb79fab43");
    assert_eq!(
        f.country.map(|c| c.as_str().to_owned()).as_deref(),
        Some("US")
    );
    assert_eq!(f.domain.as_deref(), Some("junk1.com"));
    assert_eq!(
        f.sizes.iter().map(|s| (s.w, s.h)).collect::<Vec<_>>(),
        [(320, 50)]
    );
    assert_eq!(f.user_id.as_deref(), Some("ASDFJKL"));
    for broken in ["garbage.txt", "badmobi.txt"] {
        let body = std::fs::read(dir.join(broken)).unwrap();
        assert!(extract(&body).unwrap_err().is_json_error(), "{broken}");
    }
}

#[test]
fn nexage_gzip_inflates_to_a_request() {
    let dir = corpus_dir().join("rtb4free");
    let gz = std::fs::read(dir.join("nexage.gz")).unwrap();
    let body = decompress_gzip(&gz, GZIP_LIMIT).unwrap();
    let outcome = check(&body).unwrap_or_else(|diff| panic!("nexage.gz: {diff}"));
    let fields = outcome.unwrap();
    assert!(fields.imp_count >= 1);
    assert_eq!(
        decompress_gzip(&gz, body.len() - 1),
        Err(GzipError::TooLarge {
            limit: body.len() - 1
        })
    );
    assert_eq!(
        decompress_gzip(&gz[..gz.len() - 1], GZIP_LIMIT),
        Err(GzipError::Truncated)
    );
    // The compressed bytes themselves are not JSON.
    assert!(extract(&gz).unwrap_err().is_json_error());
}

/// `adxrequests` is newline-delimited JSON: as one body it is refused (trailing characters); each
/// line on its own is a request.
#[test]
fn adxrequests_line_by_line() {
    let all = std::fs::read(corpus_dir().join("rtb4free/adxrequests")).unwrap();
    assert!(extract(&all).unwrap_err().is_json_error());
    let mut accepted = 0;
    for (n, line) in all.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match check(line) {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(_)) => {}
            Err(diff) => panic!("adxrequests line {}: {diff}", n + 1),
        }
    }
    assert!(accepted >= 100, "only {accepted} lines accepted");
}
