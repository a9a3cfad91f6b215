//! Mints UID2 advertising tokens (version 4, base64url) that are valid *now* under the key set
//! the oracle's mock operator serves with `--shift-to-now`, for the load tests' UID2 scenario.
//!
//! ```text
//! uid2_tokens --vectors testdata/uid2-oracle/vectors.json --count N --out TOKENS.txt
//! ```
//! Keys: the current master key (`M_CUR`) and site 101's key (`S101`) from the vectors'
//! `key_material`. Layout as `ref/uid2.md` and the oracle's `make_vectors.py` `build_v3v4`
//! describe it: `prefix | version 128 | master key id | GCM(master: expires | generated |
//! operator fields | site key id | GCM(site: site id | publisher | client key | privacy bits |
//! established | refreshed | raw UID))`. Each token carries a distinct 33-byte raw UID (v4
//! layout, UID2 scope, email). Tokens are written one a line to TOKENS.txt, never printed.
#![allow(clippy::print_stdout)] // a command-line tool

use std::io::Write;

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bidsieve_loadtest::splitmix64;
use serde_json::Value;

/// Site id the tokens are issued for (the vectors' site 101 has a key and site data).
const SITE_ID: u32 = 101;

struct Key {
    id: u32,
    cipher: Aes256Gcm,
}

fn key(doc: &Value, name: &str) -> anyhow::Result<Key> {
    let k = &doc["key_material"][name];
    let id = k["id"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .with_context(|| format!("key_material.{name}.id"))?;
    let secret = STANDARD
        .decode(
            k["secret_b64"]
                .as_str()
                .with_context(|| format!("key_material.{name}.secret_b64"))?,
        )
        .context("key secret is not base64")?;
    let cipher = Aes256Gcm::new_from_slice(&secret).context("key secret is not 32 bytes")?;
    Ok(Key { id, cipher })
}

/// `nonce | ciphertext | tag` of `plain` under `key`.
fn gcm_seal(key: &Key, nonce: [u8; 12], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(12 + plain.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let tag = key
        .cipher
        .encrypt_inout_detached(&Nonce::from(nonce), &[], InOutBuf::from(&mut out[12..]))
        .map_err(|_| anyhow::anyhow!("AES-GCM refused the plaintext"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// 12 bytes of a deterministic stream.
fn nonce(seed: u64) -> [u8; 12] {
    let a = splitmix64(seed).to_be_bytes();
    let b = splitmix64(seed ^ 0x5555_5555).to_be_bytes();
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&a);
    n[8..].copy_from_slice(&b[..4]);
    n
}

/// A v4-layout raw UID: metadata byte (v4 flag, UID2 scope, email), key id, IV, body, checksum.
fn raw_uid(i: u64) -> [u8; 33] {
    let mut raw = [0u8; 33];
    raw[0] = 1 << 5;
    for (chunk, n) in raw[1..33].chunks_mut(8).zip(0u64..) {
        let word = splitmix64(i.wrapping_mul(4).wrapping_add(n)).to_be_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    let check = raw[..32].iter().fold(0u8, |acc, b| acc ^ b);
    raw[32] = check;
    raw
}

fn token(master: &Key, site: &Key, i: u64, now_ms: i64) -> anyhow::Result<String> {
    let established = now_ms - 10 * 86_400_000;
    let generated = now_ms - 60_000;
    let expires = now_ms + 2 * 86_400_000;
    let mut site_plain = Vec::with_capacity(36 + 33);
    site_plain.extend_from_slice(&SITE_ID.to_be_bytes());
    site_plain.extend_from_slice(&0u64.to_be_bytes()); // publisher id
    site_plain.extend_from_slice(&0u32.to_be_bytes()); // client key id
    site_plain.extend_from_slice(&0u32.to_be_bytes()); // privacy bits: not client-side generated
    site_plain.extend_from_slice(&established.to_be_bytes());
    site_plain.extend_from_slice(&generated.to_be_bytes()); // refreshed
    site_plain.extend_from_slice(&raw_uid(i));
    let site_sealed = gcm_seal(site, nonce(i.wrapping_mul(2)), &site_plain)?;

    let mut master_plain = Vec::with_capacity(33 + site_sealed.len());
    master_plain.extend_from_slice(&expires.to_be_bytes());
    master_plain.extend_from_slice(&generated.to_be_bytes());
    master_plain.extend_from_slice(&0u32.to_be_bytes()); // operator site id
    master_plain.push(1); // operator type
    master_plain.extend_from_slice(&0u32.to_be_bytes()); // operator version
    master_plain.extend_from_slice(&0u32.to_be_bytes()); // operator key id
    master_plain.extend_from_slice(&site.id.to_be_bytes());
    master_plain.extend_from_slice(&site_sealed);

    // Prefix: identity scope UID2 (0) << 4 | identity type email (0) << 2 | 3.
    let mut bytes = vec![3u8, 128];
    bytes.extend_from_slice(&master.id.to_be_bytes());
    bytes.extend_from_slice(&gcm_seal(
        master,
        nonce(i.wrapping_mul(2).wrapping_add(1)),
        &master_plain,
    )?);
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn main() -> anyhow::Result<()> {
    let mut vectors = None;
    let mut count: u64 = 1000;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--vectors" => vectors = Some(args.next().context("--vectors needs a path")?),
            "--count" => count = args.next().context("--count needs N")?.parse()?,
            "--out" => out = Some(args.next().context("--out needs a path")?),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let vectors = vectors.context("--vectors PATH is required")?;
    let out = out.context("--out PATH is required")?;
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&vectors).with_context(|| format!("cannot read {vectors}"))?,
    )?;
    let master = key(&doc, "M_CUR")?;
    let site = key(&doc, "S101")?;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let file = std::fs::File::create(&out).with_context(|| format!("cannot create {out}"))?;
    let mut w = std::io::BufWriter::new(file);
    for i in 0..count {
        writeln!(w, "{}", token(&master, &site, i, now_ms)?)?;
    }
    w.flush()?;
    println!("{count} UID2 v4 tokens written to {out}");
    Ok(())
}
