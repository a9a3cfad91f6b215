//! `bidsieve uid2 decrypt` (SPEC §4.4): decrypts advertising tokens with a key file, one JSON
//! object a line, for operators debugging tokens and for checking the decryptor against the
//! oracle's vectors.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bidsieve_uid2::{ClientType, KeySet, decrypt};
use clap::Args;
use serde::Serialize;

/// Longest token prefix printed; a token is never printed whole.
const PREFIX_CHARS: usize = 12;

/// Flags of `uid2 decrypt`.
#[derive(Args)]
pub(crate) struct DecryptArgs {
    /// The decrypted key-refresh response: `{"status":..,"body":{..}}` or its `body` alone.
    #[arg(long, value_name = "KEYS.json")]
    keys: PathBuf,
    /// The registrable domain or app name the token came with (checked for client-side
    /// generated tokens).
    #[arg(long, value_name = "D")]
    domain: Option<String>,
    /// Decrypt as of this time, Unix milliseconds (default: now).
    #[arg(long, value_name = "UNIX_MS", allow_negative_numbers = true)]
    now: Option<i64>,
    /// The advertising tokens.
    #[arg(required = true, value_name = "TOKEN")]
    tokens: Vec<String>,
}

impl std::fmt::Debug for DecryptArgs {
    // Tokens stay out of any debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptArgs")
            .field("keys", &self.keys)
            .field("domain", &self.domain)
            .field("now", &self.now)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// One output line, fields in the order of SPEC §4.4.
#[derive(Serialize)]
struct Line<'a> {
    token_prefix: &'a str,
    status: &'static str,
    uid: Option<&'a str>,
    established: Option<i64>,
}

/// Loads the key file and prints one line per token to `out`.
///
/// # Errors
/// When the key file cannot be read or is not a key set, or `out` fails.
pub(crate) fn run(args: DecryptArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let body = std::fs::read(&args.keys)
        .with_context(|| format!("cannot read the key file {}", args.keys.display()))?;
    let keys = KeySet::from_json(&body)
        .with_context(|| format!("{} is not a UID2 key set", args.keys.display()))?;
    let now = args.now.unwrap_or_else(now_ms);
    for token in &args.tokens {
        let d = decrypt(
            Some(&keys),
            token,
            now,
            args.domain.as_deref(),
            ClientType::Bidstream,
        );
        let line = Line {
            token_prefix: prefix(token),
            status: d.status.as_str(),
            uid: d.uid.as_deref(),
            established: d.established_ms,
        };
        serde_json::to_writer(&mut *out, &line).context("cannot write the result")?;
        out.write_all(b"\n").context("cannot write the result")?;
    }
    out.flush().context("cannot write the result")?;
    Ok(())
}

/// The first [`PREFIX_CHARS`] characters, and never more than half of the token.
fn prefix(token: &str) -> &str {
    let n = PREFIX_CHARS.min(token.chars().count() / 2);
    let end = token.char_indices().nth(n).map_or(token.len(), |(i, _)| i);
    token.get(..end).unwrap_or("")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let path = [
            dir.join("../../testdata/uid2-oracle/vectors.json"),
            dir.join("../../../shared/uid2-oracle/vectors.json"),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .expect("uid2-oracle/vectors.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn vector<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
        v["token_vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
    }

    fn run_lines(args: DecryptArgs) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        run(args, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn decrypts_tokens_one_line_each() {
        let v = vectors();
        let keys =
            std::env::temp_dir().join(format!("bidsieve-uid2-cmd-{}.json", std::process::id()));
        // The whole response, as SPEC §4.4 allows.
        std::fs::write(&keys, v["key_sets"]["bidstream"]["response"].to_string()).unwrap();
        let ok = vector(&v, "sdk_v4_uid2_email_ok");
        let cstg = vector(&v, "v4_cstg_site101_domain_example_com");
        let expired = vector(&v, "v3_expires_1ms_ago");
        let tokens: Vec<String> = [ok, cstg, expired]
            .iter()
            .map(|t| t["token"].as_str().unwrap().to_owned())
            .chain(["abc".to_owned()])
            .collect();
        let lines = run_lines(DecryptArgs {
            keys: keys.clone(),
            domain: Some("example.com".to_owned()),
            now: v["meta"]["reference_now_ms"].as_i64(),
            tokens: tokens.clone(),
        });
        std::fs::remove_file(&keys).unwrap();
        assert_eq!(lines.len(), 4);

        assert_eq!(lines[0]["status"], "SUCCESS");
        assert_eq!(lines[0]["uid"], ok["recommended"]["uid"]);
        assert_eq!(lines[0]["established"], ok["python_sdk"]["established_ms"]);
        assert_eq!(lines[0]["token_prefix"], &tokens[0][..12]);
        assert_eq!(lines[1]["status"], "SUCCESS");
        assert_eq!(lines[1]["uid"], cstg["recommended"]["uid"]);
        assert_eq!(lines[2]["status"], "EXPIRED_TOKEN");
        assert!(lines[2]["uid"].is_null());
        assert_eq!(lines[3]["status"], "INVALID_PAYLOAD");
        assert!(lines[3]["uid"].is_null() && lines[3]["established"].is_null());
        for (line, token) in lines.iter().zip(&tokens) {
            let p = line["token_prefix"].as_str().unwrap();
            assert!(token.starts_with(p) && p.len() < token.len() && p.len() <= PREFIX_CHARS);
            let keys_in_order: Vec<_> = line.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys_in_order.len(), 4);
        }
    }

    #[test]
    fn domain_check_and_bad_key_file() {
        let v = vectors();
        let keys =
            std::env::temp_dir().join(format!("bidsieve-uid2-cmd-b-{}.json", std::process::id()));
        std::fs::write(
            &keys,
            v["key_sets"]["bidstream"]["response"]["body"].to_string(),
        )
        .unwrap();
        let cstg = vector(&v, "v4_cstg_site101_domain_example_com");
        let lines = run_lines(DecryptArgs {
            keys: keys.clone(),
            domain: None,
            now: v["meta"]["reference_now_ms"].as_i64(),
            tokens: vec![cstg["token"].as_str().unwrap().to_owned()],
        });
        assert_eq!(lines[0]["status"], "DOMAIN_NAME_CHECK_FAILED");
        std::fs::write(&keys, b"{\"keys\": 1}").unwrap();
        let err = run(
            DecryptArgs {
                keys: keys.clone(),
                domain: None,
                now: None,
                tokens: vec!["x".into()],
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        std::fs::remove_file(&keys).unwrap();
        assert!(
            format!("{err:#}").contains("is not a UID2 key set"),
            "{err:#}"
        );
    }

    #[test]
    fn prefix_is_short_and_char_safe() {
        assert_eq!(prefix("A4AAAAPpwzDrccWopG_VViFdd5E7"), "A4AAAAPpwzDr");
        assert_eq!(prefix("abc"), "a");
        assert_eq!(prefix(""), "");
        assert_eq!(prefix("ÄÖÜßÄÖ"), "ÄÖÜ");
    }

    #[test]
    fn debug_hides_tokens() {
        let a = DecryptArgs {
            keys: PathBuf::from("k.json"),
            domain: None,
            now: None,
            tokens: vec!["SECRETTOKEN".into()],
        };
        assert!(!format!("{a:?}").contains("SECRETTOKEN"));
    }
}
