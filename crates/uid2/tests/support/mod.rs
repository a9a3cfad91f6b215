//! Shared helpers: the oracle's vectors.json, read at test time from the shared folder.

#![allow(dead_code)] // each test module uses a different subset

use std::path::PathBuf;
use std::sync::OnceLock;

use bidsieve_uid2::{ClientType, KeySet};
use serde_json::Value;

/// A file of the UID2 oracle: the repository's copy (`testdata/uid2-oracle/`) when present, else
/// the shared folder beside the repository (`../shared/uid2-oracle/`).
pub fn oracle_file(name: &str) -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        crate_dir.join("../../testdata/uid2-oracle").join(name),
        crate_dir.join("../../../shared/uid2-oracle").join(name),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or(&candidates[1])
        .clone()
}

/// `vectors.json` of the UID2 oracle (see [`oracle_file`]).
pub fn vectors_path() -> PathBuf {
    oracle_file("vectors.json")
}

/// The parsed vectors file (read once per test binary).
pub fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        let path = vectors_path();
        let text =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_slice(&text).expect("vectors.json is JSON")
    })
}

/// The key set named `name` in `key_sets`, loaded from its whole `{"status","body"}` response.
pub fn key_set(name: &str) -> KeySet {
    let resp = &vectors()["key_sets"][name]["response"];
    assert!(!resp.is_null(), "no key set {name}");
    KeySet::from_json(resp.to_string().as_bytes()).expect("key set parses")
}

/// The vector's client type.
pub fn client(v: &Value) -> ClientType {
    match v["client"].as_str() {
        Some("sharing") => ClientType::Sharing,
        _ => ClientType::Bidstream,
    }
}

/// A token vector by name.
pub fn token_vector(name: &str) -> &'static Value {
    vectors()["token_vectors"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no token vector {name}"))
}

/// A token vector whose recommended status is SUCCESS, ready to decrypt.
pub struct Good {
    /// Vector name.
    pub name: String,
    pub keys: KeySet,
    pub token: String,
    pub now_ms: i64,
    pub domain: Option<String>,
    pub client: ClientType,
    pub uid: String,
}

/// Every token vector whose recommended status is SUCCESS (loaded once).
pub fn good_vectors() -> &'static [Good] {
    static G: OnceLock<Vec<Good>> = OnceLock::new();
    G.get_or_init(load_good_vectors)
}

fn load_good_vectors() -> Vec<Good> {
    vectors()["token_vectors"]
        .as_array()
        .expect("token_vectors")
        .iter()
        .filter(|v| v["recommended"]["status"] == "SUCCESS")
        .map(|v| Good {
            name: v["name"].as_str().unwrap().to_owned(),
            keys: key_set(v["key_set"].as_str().unwrap()),
            token: v["token"].as_str().unwrap().to_owned(),
            now_ms: v["now_ms"].as_i64().unwrap(),
            domain: v["domain_or_app_name"].as_str().map(str::to_owned),
            client: client(v),
            uid: v["recommended"]["uid"].as_str().unwrap().to_owned(),
        })
        .collect()
}
