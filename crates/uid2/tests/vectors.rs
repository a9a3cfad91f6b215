//! Every vector of `uid2-oracle/vectors.json` against the `recommended` answers.
//!
//! Tokens are never printed: failures name the vector only.

use base64::Engine;
use bidsieve_uid2::encoding::{decode_standard, decode_url_or_standard};
use bidsieve_uid2::envelope::{ClientSecret, EnvelopeError, open_response, seal_request};
use bidsieve_uid2::{
    ClientType, IdentityScope, IdentityType, KeySet, Status, TokenVersion, decrypt,
};
use serde_json::Value;

use crate::support::{client, key_set, vectors};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr(key: &str) -> &'static Vec<Value> {
    vectors()[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
}

/// Compares the non-status fields with what the Python SDK reported, where they are comparable.
fn check_details(v: &Value, d: &bidsieve_uid2::Decrypted, fails: &mut Vec<String>) {
    let name = v["name"].as_str().unwrap();
    let py = &v["python_sdk"];
    let mut diff = |what: &str| fails.push(format!("{name}: {what} differs from the SDK"));
    if d.established_ms != py["established_ms"].as_i64() {
        diff("established_ms");
    }
    if d.site_id.map(i64::from) != py["site_id"].as_i64() {
        diff("site_id");
    }
    if d.expiry_ms != py["expiry_ms"].as_i64() {
        diff("expiry_ms");
    }
    let scope = d.identity_scope.map(IdentityScope::as_str);
    if scope != py["identity_scope"].as_str() {
        diff("identity_scope");
    }
    let ty = d.identity_type.map(|t| match t {
        IdentityType::Email => "Email",
        IdentityType::Phone => "Phone",
    });
    let py_ty = py["identity_type"].as_str().map(|s| {
        // the SDK prints enum names (e.g. "IdentityType.Email" or "Email")
        s.rsplit('.').next().unwrap_or(s)
    });
    if ty != py_ty {
        diff("identity_type");
    }
    // Python reports 2 / 112 / 128 for v2 / v3 / v4.
    let py_version = match py["advertising_token_version"].as_i64() {
        Some(2) => Some(TokenVersion::V2),
        Some(112) => Some(TokenVersion::V3),
        Some(128) => Some(TokenVersion::V4),
        _ => None,
    };
    if d.version != py_version {
        diff("version");
    }
}

#[test]
fn token_vectors_match_recommended() {
    let all = arr("token_vectors");
    let mut fails = Vec::new();
    let mut by_status = std::collections::BTreeMap::<&str, usize>::new();
    let mut details_checked = 0;
    for v in all {
        let name = v["name"].as_str().unwrap();
        let keys: Option<KeySet> = v["key_set"].as_str().map(key_set);
        let token = v["token"].as_str().unwrap();
        let now = v["now_ms"].as_i64().unwrap();
        let domain = v["domain_or_app_name"].as_str();
        let d = decrypt(keys.as_ref(), token, now, domain, client(v));
        let rec = &v["recommended"];
        let want = rec["status"].as_str().unwrap();
        let want_status =
            Status::from_name(want).unwrap_or_else(|| panic!("{name}: unknown status {want}"));
        if d.status != want_status {
            fails.push(format!("{name}: got {}, want {want}", d.status));
            continue;
        }
        if d.uid.as_deref() != rec["uid"].as_str() {
            fails.push(format!("{name}: uid differs"));
        }
        if let Some(cstg) = rec["is_client_side_generated"].as_bool()
            && d.is_client_side_generated != cstg
        {
            fails.push(format!("{name}: is_client_side_generated differs"));
        }
        // Where the SDK succeeded too, every reported field must agree with it.
        if d.status == Status::Success && v["python_sdk"]["status"] == "SUCCESS" {
            check_details(v, &d, &mut fails);
            details_checked += 1;
        }
        *by_status.entry(want).or_default() += 1;
    }
    println!(
        "token_vectors: {} of {} match recommended ({} with all fields compared to the SDK); by status: {by_status:?}",
        all.len() - fails.len(),
        all.len(),
        details_checked
    );
    assert!(
        fails.is_empty(),
        "{} mismatches:\n{}",
        fails.len(),
        fails.join("\n")
    );
    assert_eq!(all.len(), 122, "vectors.json should hold 122 token vectors");
}

#[test]
fn sharing_encrypt_vectors_decrypt_back() {
    let all = arr("sharing_encrypt_vectors");
    let mut checked = 0;
    for v in all {
        let name = v["name"].as_str().unwrap();
        let Some(token) = v["python_sdk"]["token"].as_str() else {
            continue; // encryption refused: nothing to decrypt
        };
        let keys = match v["key_set"].as_str() {
            Some(k) => key_set(k),
            None => KeySet::from_json(v["key_set_inline"].to_string().as_bytes()).unwrap(),
        };
        let now = v["now_ms"].as_i64().unwrap();
        let d = decrypt(Some(&keys), token, now, None, ClientType::Sharing);
        let back = &v["python_sdk_decrypt_back"];
        assert_eq!(
            d.status.as_str(),
            back["status"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(d.uid.as_deref(), back["uid"].as_str(), "{name}");
        assert_eq!(d.uid.as_deref(), v["raw_uid"].as_str(), "{name}");
        checked += 1;
    }
    println!("sharing_encrypt_vectors: {checked} tokens decrypt back to their raw UID");
    assert!(checked >= 3);
}

#[test]
fn envelope_vectors() {
    let e = &vectors()["envelope_vectors"];
    let mut n = 0;
    for name in [
        "request_empty_payload_by_sdk",
        "request_known_answer_from_java_tests",
    ] {
        let r = &e[name];
        let secret = ClientSecret::from_base64(r["client_secret_b64"].as_str().unwrap()).unwrap();
        let nonce: [u8; 8] = hex(r["nonce_hex"].as_str().unwrap()).try_into().unwrap();
        let iv: [u8; 12] = hex(r["iv_hex"].as_str().unwrap()).try_into().unwrap();
        let payload = r["payload"].as_str().unwrap_or("").as_bytes();
        let body = seal_request(
            &secret,
            r["timestamp_ms"].as_i64().unwrap(),
            nonce,
            iv,
            payload,
        );
        assert_eq!(body, r["http_body"].as_str().unwrap(), "{name}");
        n += 1;
    }
    let secret = ClientSecret::from_base64(
        e["request_empty_payload_by_sdk"]["client_secret_b64"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    for (name, want) in [
        ("response_ok", Ok(())),
        ("response_wrong_nonce", Err(EnvelopeError::NonceMismatch)),
        ("response_wrong_secret", Err(EnvelopeError::Decrypt)),
    ] {
        let r = &e[name];
        let nonce: [u8; 8] = hex(r["request_nonce_hex"].as_str().unwrap())
            .try_into()
            .unwrap();
        let got = open_response(&secret, r["http_body"].as_str().unwrap().as_bytes(), &nonce);
        assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), want, "{name}");
        assert_eq!(
            got.is_ok(),
            r["python_sdk_parse"]["ok"].as_bool().unwrap(),
            "{name}"
        );
        if let Ok(opened) = got {
            assert_eq!(
                opened.json,
                r["json"].as_str().unwrap().as_bytes(),
                "{name}"
            );
            assert_eq!(
                opened.timestamp_ms,
                r["timestamp_ms"].as_i64().unwrap(),
                "{name}"
            );
            // The response's JSON is a loadable key set (empty here).
            let ks = KeySet::from_json(&opened.json).unwrap();
            assert!(ks.is_empty());
        }
        n += 1;
    }
    println!("envelope_vectors: {n} of 5 match");
    assert_eq!(n, 5);
}

#[test]
fn key_response_parse_vectors() {
    let all = arr("key_response_parse_vectors");
    for v in all {
        let name = v["name"].as_str().unwrap();
        let got = KeySet::from_json(v["response"].to_string().as_bytes());
        let want = v["python_sdk_refresh"]["success"].as_bool().unwrap();
        assert_eq!(got.is_ok(), want, "{name}: {:?}", got.err());
    }
    // The named key sets load too, with their documented limits.
    let b = key_set("bidstream");
    assert_eq!(b.max_bidstream_lifetime_seconds(), Some(259_210));
    assert_eq!(b.domain_names(101).len(), 4);
    let s = key_set("sharing");
    assert_eq!(s.token_expiry_seconds(), 2_592_000);
    assert_eq!(s.caller_site_id(), Some(201));
    let d = key_set("bidstream_defaults_and_unknown_fields");
    assert_eq!(d.allow_clock_skew_seconds(), 1800);
    assert_eq!(d.max_bidstream_lifetime_seconds(), None);
    println!(
        "key_response_parse_vectors: {} of {} match",
        all.len(),
        all.len()
    );
}

#[test]
fn base64url_vectors() {
    let all = arr("base64url_vectors");
    for v in all {
        let want = hex(v["bytes_hex"].as_str().unwrap());
        let mut out = [0u8; 32];
        let url = v["base64url"].as_str().unwrap();
        let n = decode_url_or_standard(url.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..n], &want[..], "{url}");
        let std_text = v["standard_base64"].as_str().unwrap();
        let n = decode_url_or_standard(std_text.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..n], &want[..], "{std_text}");
        let n = decode_standard(std_text.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..n], &want[..], "{std_text}");
        // base64url is never accepted where standard base64 is required
        assert_eq!(decode_standard(url.as_bytes(), &mut out), None, "{url}");
        let sdk = v["python_sdk_encode"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&want),
            sdk
        );
    }
    println!("base64url_vectors: {} of {} match", all.len(), all.len());
}
