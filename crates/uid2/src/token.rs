//! Advertising-token decryption: version detection, the two layers of each version, and the
//! checks of `ref/uid2.md` §8.2–§8.4 in the Java/.NET order.
//!
//! Everything happens in one stack buffer: the token is base64-decoded into it and each layer is
//! decrypted in place. The only allocation is the returned UID string.

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, InnerIvInit};

use crate::encoding::{MAX_TOKEN_BYTES, MAX_TOKEN_CHARS, decode_standard, decode_url_or_standard};
use crate::keyset::{Key, KeySet};
use crate::status::{ClientType, Decrypted, IdentityScope, IdentityType, Status, TokenVersion};

/// A v2 token is exactly this long (the .NET SDK rejects any other length).
const V2_LEN: usize = 133;
/// Shortest v3/v4 token (a legacy 32-byte raw UID), as the .NET SDK enforces.
const V3_MIN_LEN: usize = 163;
/// Privacy bit 1: generated client-side, so the domain/app check applies.
const PRIVACY_CSTG: i32 = 0x2;
const GCM_NONCE: usize = 12;
const GCM_TAG: usize = 16;
const CBC_IV: usize = 16;

/// Decrypts an advertising token (v2, v3 or v4) with `keys` as of `now_ms` (Unix milliseconds).
///
/// `domain_or_app` is the name checked for client-side generated tokens when `client` is
/// [`ClientType::Bidstream`]: the registrable domain (lower case) or the app name/bundle.
/// `keys = None` means no key set was ever loaded: `NOT_INITIALIZED`.
///
/// Pure and total: any input yields a [`Decrypted`], never a panic.
pub fn decrypt(
    keys: Option<&KeySet>,
    token: &str,
    now_ms: i64,
    domain_or_app: Option<&str>,
    client: ClientType,
) -> Decrypted {
    let Some(keys) = keys else {
        return Decrypted::with_status(Status::NotInitialized);
    };
    if !keys.is_valid_at(now_ms) {
        return Decrypted::with_status(Status::KeysNotSynced);
    }
    let mut buf = [0u8; MAX_TOKEN_BYTES];
    let (version, len) = match decode(token.as_bytes(), &mut buf) {
        Ok(v) => v,
        Err(status) => return Decrypted::with_status(status),
    };
    let Some(bytes) = buf.get_mut(..len) else {
        return Decrypted::with_status(Status::InvalidPayload);
    };
    let ctx = Ctx {
        keys,
        now_ms,
        domain_or_app,
        client,
    };
    let read = match version {
        TokenVersion::V2 => read_v2(&ctx, bytes),
        TokenVersion::V3 | TokenVersion::V4 => read_v3v4(&ctx, bytes),
    };
    match read {
        Ok(r) => ctx.finish(version, r),
        Err(status) => Decrypted::with_status(status),
    }
}

struct Ctx<'a> {
    keys: &'a KeySet,
    now_ms: i64,
    domain_or_app: Option<&'a str>,
    client: ClientType,
}

/// The fields of a token whose layers opened.
struct Read<'b> {
    expiry_ms: i64,
    generated_ms: Option<i64>,
    site_id: i32,
    privacy_bits: i32,
    established_ms: i64,
    identity_type: Option<IdentityType>,
    uid: Uid<'b>,
}

/// The UID as the token holds it: text (v2) or raw bytes to base64-encode (v3/v4).
enum Uid<'b> {
    Text(&'b str),
    Raw(&'b [u8]),
}

impl Ctx<'_> {
    /// Steps 9–13 of §8.2: expiry, domain/app name, lifetime.
    fn finish(&self, version: TokenVersion, r: Read<'_>) -> Decrypted {
        let cstg = r.privacy_bits & PRIVACY_CSTG != 0;
        let mut out = Decrypted {
            status: Status::Success,
            uid: None,
            established_ms: Some(r.established_ms),
            site_id: Some(r.site_id),
            expiry_ms: Some(r.expiry_ms),
            generated_ms: r.generated_ms,
            version: Some(version),
            identity_type: r.identity_type,
            identity_scope: Some(self.keys.identity_scope()),
            is_client_side_generated: cstg,
        };
        if self.now_ms > r.expiry_ms {
            out.status = Status::ExpiredToken;
        } else if self.client == ClientType::Bidstream
            && cstg
            && !self
                .keys
                .allows_domain_or_app(r.site_id, self.domain_or_app)
        {
            out.status = Status::DomainNameCheckFailed;
        } else if !self.lifetime_ok(r.generated_ms, r.expiry_ms) {
            out.status = Status::InvalidTokenLifetime;
        } else {
            out.uid = Some(match r.uid {
                Uid::Text(t) => t.to_owned(),
                Uid::Raw(b) => STANDARD.encode(b),
            });
        }
        out
    }

    /// §8.4 in milliseconds: `expiry - base <= max` and `base - now <= skew`, where base is the
    /// generation time (v3/v4) or now (v2).
    fn lifetime_ok(&self, generated_ms: Option<i64>, expiry_ms: i64) -> bool {
        let max_s = match self.client {
            ClientType::Bidstream => self.keys.max_bidstream_lifetime_seconds(),
            ClientType::Sharing => self.keys.max_sharing_lifetime_seconds(),
        };
        let base = i128::from(generated_ms.unwrap_or(self.now_ms));
        if let Some(max_s) = max_s
            && i128::from(expiry_ms) - base > i128::from(max_s) * 1000
        {
            return false;
        }
        base - i128::from(self.now_ms) <= i128::from(self.keys.allow_clock_skew_seconds()) * 1000
    }

    fn key(&self, id: u32, missing: Status) -> Result<&Key, Status> {
        self.keys.key(id).ok_or(missing)
    }
}

/// §2: version detection on the decoded header, then the version's own decoding into `out`.
fn decode(text: &[u8], out: &mut [u8; MAX_TOKEN_BYTES]) -> Result<(TokenVersion, usize), Status> {
    if text.len() < 4 || text.len() > MAX_TOKEN_CHARS {
        return Err(Status::InvalidPayload);
    }
    let head = text.get(..4).ok_or(Status::InvalidPayload)?;
    let mut h = [0u8; 3];
    let hn = if head.iter().any(|&c| c == b'-' || c == b'_') {
        decode_url_or_standard(head, &mut h)
    } else {
        decode_standard(head, &mut h)
    };
    if hn != Some(3) {
        return Err(Status::InvalidPayload);
    }
    let (version, n) = if h[0] == 0x02 {
        (TokenVersion::V2, decode_standard(text, out))
    } else if h[1] == 0x70 {
        (TokenVersion::V3, decode_standard(text, out))
    } else if h[1] == 0x80 {
        (TokenVersion::V4, decode_url_or_standard(text, out))
    } else {
        return Err(Status::VersionNotSupported);
    };
    let n = n.ok_or(Status::InvalidPayload)?;
    let size_ok = match version {
        TokenVersion::V2 => n == V2_LEN,
        TokenVersion::V3 | TokenVersion::V4 => n >= V3_MIN_LEN,
    };
    if size_ok {
        Ok((version, n))
    } else {
        Err(Status::InvalidPayload)
    }
}

/// v2 (§3): `0x02 | master key id | iv | CBC(master)` → `expiry | site key id | iv | CBC(site)`
/// → `site id | n | uid text(n) | privacy bits | established`.
fn read_v2<'b>(ctx: &Ctx<'_>, token: &'b mut [u8]) -> Result<Read<'b>, Status> {
    let master_id = be_u32(token, 1)?;
    let master = ctx.key(master_id, Status::NotAuthorizedForMasterKey)?;
    let rest = token.get_mut(5..).ok_or(Status::InvalidPayload)?;
    let master_pt = cbc_open(master, rest)?;

    let expiry_ms = be_i64(master_pt, 0)?;
    let site_key_id = be_u32(master_pt, 8)?;
    let site = ctx.key(site_key_id, Status::NotAuthorizedForKey)?;
    let rest = master_pt.get_mut(12..).ok_or(Status::InvalidPayload)?;
    let identity: &'b [u8] = cbc_open(site, rest)?;

    let site_id = be_i32(identity, 0)?;
    let n = usize::try_from(be_i32(identity, 4)?).map_err(|_| Status::InvalidPayload)?;
    let uid_end = n.checked_add(8).ok_or(Status::InvalidPayload)?;
    let uid = identity.get(8..uid_end).ok_or(Status::InvalidPayload)?;
    let uid = std::str::from_utf8(uid).map_err(|_| Status::InvalidPayload)?;
    let privacy_bits = be_i32(identity, uid_end)?;
    let established_ms = be_i64(identity, uid_end + 4)?;
    Ok(Read {
        expiry_ms,
        generated_ms: None,
        site_id,
        privacy_bits,
        established_ms,
        identity_type: None,
        uid: Uid::Text(uid),
    })
}

/// v3/v4 (§4): `prefix | version | master key id | GCM(master)` → `expiry | generated |
/// operator fields | site key id | GCM(site)` → `site id | publisher | client key | privacy bits
/// | established | refreshed | raw uid`.
fn read_v3v4<'b>(ctx: &Ctx<'_>, token: &'b mut [u8]) -> Result<Read<'b>, Status> {
    let prefix = *token.first().ok_or(Status::InvalidPayload)?;
    let scope = if prefix & 0x10 != 0 {
        IdentityScope::Euid
    } else {
        IdentityScope::Uid2
    };
    if scope != ctx.keys.identity_scope() {
        return Err(Status::InvalidIdentityScope);
    }
    let identity_type = if (prefix & 0x0f) >> 2 == 0 {
        IdentityType::Email
    } else {
        IdentityType::Phone
    };
    let master_id = be_u32(token, 2)?;
    let master = ctx.key(master_id, Status::NotAuthorizedForMasterKey)?;
    let rest = token.get_mut(6..).ok_or(Status::InvalidPayload)?;
    let master_pt = gcm_open(master, rest)?;

    let expiry_ms = be_i64(master_pt, 0)?;
    let generated_ms = be_i64(master_pt, 8)?;
    let site_key_id = be_u32(master_pt, 29)?;
    let site = ctx.key(site_key_id, Status::NotAuthorizedForKey)?;
    let rest = master_pt.get_mut(33..).ok_or(Status::InvalidPayload)?;
    let site_pt: &'b [u8] = gcm_open(site, rest)?;

    let site_id = be_i32(site_pt, 0)?;
    let privacy_bits = be_i32(site_pt, 16)?;
    let established_ms = be_i64(site_pt, 20)?;
    let uid = site_pt.get(36..).ok_or(Status::InvalidPayload)?;
    Ok(Read {
        expiry_ms,
        generated_ms: Some(generated_ms),
        site_id,
        privacy_bits,
        established_ms,
        identity_type: Some(identity_type),
        uid: Uid::Raw(uid),
    })
}

/// Opens `nonce(12) | ciphertext | tag(16)` in place; returns the plaintext (inside `sealed`).
fn gcm_open<'b>(key: &Key, sealed: &'b mut [u8]) -> Result<&'b mut [u8], Status> {
    let ct_len = sealed
        .len()
        .checked_sub(GCM_NONCE + GCM_TAG)
        .ok_or(Status::InvalidPayload)?;
    let (nonce, rest) = sealed.split_at_mut(GCM_NONCE);
    let (ct, tag) = rest.split_at_mut(ct_len);
    let nonce = Nonce::try_from(&*nonce).map_err(|_| Status::InvalidPayload)?;
    let tag = Tag::try_from(&*tag).map_err(|_| Status::InvalidPayload)?;
    key.gcm
        .decrypt_inout_detached(&nonce, &[], InOutBuf::from(&mut *ct), &tag)
        .map_err(|_| Status::InvalidPayload)?;
    Ok(ct)
}

/// Opens `iv(16) | CBC ciphertext` in place with PKCS#7 verified; returns the plaintext.
fn cbc_open<'b>(key: &Key, sealed: &'b mut [u8]) -> Result<&'b mut [u8], Status> {
    if sealed.len() < CBC_IV + 16 {
        return Err(Status::InvalidPayload);
    }
    let (iv, ct) = sealed.split_at_mut(CBC_IV);
    let iv = cbc::cipher::Iv::<cbc::Decryptor<aes::Aes256>>::try_from(&*iv)
        .map_err(|_| Status::InvalidPayload)?;
    let dec = cbc::Decryptor::<&aes::Aes256>::inner_iv_init(&key.aes, &iv);
    let n = dec
        .decrypt_padded::<Pkcs7>(ct)
        .map_err(|_| Status::InvalidPayload)?
        .len();
    ct.get_mut(..n).ok_or(Status::InvalidPayload)
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, Status> {
    let s = b
        .get(at..at.saturating_add(4))
        .ok_or(Status::InvalidPayload)?;
    s.try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| Status::InvalidPayload)
}

fn be_i32(b: &[u8], at: usize) -> Result<i32, Status> {
    be_u32(b, at).map(u32::cast_signed)
}

fn be_i64(b: &[u8], at: usize) -> Result<i64, Status> {
    let s = b
        .get(at..at.saturating_add(8))
        .ok_or(Status::InvalidPayload)?;
    s.try_into()
        .map(i64::from_be_bytes)
        .map_err(|_| Status::InvalidPayload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::from_json(
            br#"{"keys":[{"id":1,"created":0,"activates":0,"expires":4102444800,
                "secret":"SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098="}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn no_keys_then_expired_keys_come_first() {
        let d = decrypt(None, "", 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::NotInitialized);
        let k = keys();
        let d = decrypt(Some(&k), "", 4_102_444_800_000, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::KeysNotSynced);
    }

    #[test]
    fn short_long_and_unknown_versions() {
        let k = keys();
        let at = |t: &str| decrypt(Some(&k), t, 0, None, ClientType::Bidstream).status;
        assert_eq!(at(""), Status::InvalidPayload);
        assert_eq!(at("Ag="), Status::InvalidPayload);
        assert_eq!(at("Ag=="), Status::InvalidPayload);
        assert_eq!(at("AQAAAA=="), Status::VersionNotSupported);
        assert_eq!(at(&"A".repeat(MAX_TOKEN_CHARS + 4)), Status::InvalidPayload);
        // v3 header, wrong size
        assert_eq!(at("A3AAAAAB"), Status::InvalidPayload);
        // non-ASCII never panics
        assert_eq!(at("ÄÖÜß€"), Status::InvalidPayload);
    }

    #[test]
    fn unknown_master_key_is_reported_before_decryption() {
        let k = keys();
        let mut raw = vec![0x03, 0x70, 0, 0, 0, 2];
        raw.resize(164, 0);
        let t = STANDARD.encode(&raw);
        let d = decrypt(Some(&k), &t, 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::NotAuthorizedForMasterKey);
        raw[5] = 1;
        let t = STANDARD.encode(&raw);
        let d = decrypt(Some(&k), &t, 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::InvalidPayload);
        raw[0] = 0x13; // EUID scope bit against a UID2 key set
        let t = STANDARD.encode(&raw);
        let d = decrypt(Some(&k), &t, 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::InvalidIdentityScope);
    }
}
