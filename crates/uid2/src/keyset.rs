//! The key set: the parsed, immutable answer of a key refresh (`ref/uid2.md` §7.4).
//!
//! Ciphers are keyed once here (AES key schedules, GHASH keys) so that decrypting a token only
//! looks keys up and runs them. A `KeySet` never changes after it is built; a refresh builds a new
//! one and swaps it in ([`crate::KeyCache`]).

use aes::Aes256;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::status::IdentityScope;

/// Clock skew allowed when the response does not say (`allow_clock_skew_seconds`).
pub const DEFAULT_ALLOW_CLOCK_SKEW_SECONDS: i64 = 1800;
/// Lifetime of tokens a sharing participant encrypts when the response does not say.
pub const DEFAULT_TOKEN_EXPIRY_SECONDS: i64 = 30 * 24 * 3600;

/// Why a key-refresh response could not be turned into a [`KeySet`].
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// Not JSON, or a required field (`keys`, a key's `id`/`created`/`activates`/`expires`/
    /// `secret`) is missing or has the wrong type.
    #[error("key response is not a valid key set: {0}")]
    Json(#[from] serde_json::Error),
    /// The body (or the whole document when it has no `body`) is not a JSON object.
    #[error("key response body is not a JSON object")]
    BodyNotObject,
    /// A key's secret is not the standard base64 of 32 bytes (the secret itself is not shown).
    #[error("key {id}: secret is not the base64 of 32 bytes")]
    BadSecret {
        /// The key's id.
        id: i64,
    },
    /// A key id does not fit the 32 bits tokens carry.
    #[error("key id {0} does not fit in 32 bits")]
    KeyIdOutOfRange(i64),
    /// A `site_data` id does not fit the 32 bits tokens carry.
    #[error("site id {0} does not fit in 32 bits")]
    SiteIdOutOfRange(i64),
    /// `identity_scope` is neither `"UID2"` nor `"EUID"`.
    #[error("unknown identity_scope {0:?}")]
    UnknownScope(String),
}

/// One decryption key, keyed for both token layers.
pub(crate) struct Key {
    /// AES-256-GCM keyed with the secret (v3/v4 tokens).
    pub(crate) gcm: Aes256Gcm,
    /// AES-256 keyed with the secret (CBC for v2 tokens).
    pub(crate) aes: Aes256,
    /// The keyset the key belongs to (sharing endpoint only).
    keyset_id: Option<i64>,
    /// Unix seconds.
    activates: i64,
    /// Unix seconds.
    expires: i64,
}

/// An immutable, ready-to-use set of UID2 decryption keys and the limits that came with them.
pub struct KeySet {
    /// Key ids, sorted ascending; `keys[i]` belongs to `ids[i]`.
    ids: Vec<u32>,
    keys: Vec<Key>,
    /// Latest `expires` of any key, in Unix milliseconds; `None` for an empty key list.
    max_expires_ms: Option<i64>,
    identity_scope: IdentityScope,
    allow_clock_skew_seconds: i64,
    max_bidstream_lifetime_seconds: Option<i64>,
    max_sharing_lifetime_seconds: Option<i64>,
    /// `site_data`, sorted by site id; names lower-cased (ASCII).
    sites: Vec<(i32, Box<[Box<str>]>)>,
    caller_site_id: Option<i64>,
    master_keyset_id: Option<i64>,
    default_keyset_id: Option<i64>,
    token_expiry_seconds: i64,
}

// === impl KeySet ===

impl KeySet {
    /// Parses a key-refresh response: the whole decrypted document `{"status":..,"body":{..}}`
    /// or its `body` alone. Unknown fields are ignored; absent optional fields take the defaults
    /// of `ref/uid2.md` §7.4.
    ///
    /// # Errors
    /// [`KeySetError`] when the document is not JSON, has no `keys`, a key lacks a required field,
    /// a secret is not 32 bytes of base64, an id does not fit 32 bits or the scope is unknown.
    pub fn from_json(body: &[u8]) -> Result<KeySet, KeySetError> {
        let doc: serde_json::Value = serde_json::from_slice(body)?;
        let serde_json::Value::Object(mut top) = doc else {
            return Err(KeySetError::BodyNotObject);
        };
        let body = match top.remove("body") {
            Some(serde_json::Value::Object(b)) => b,
            Some(_) => return Err(KeySetError::BodyNotObject),
            None => top,
        };
        let raw: RawBody = serde_json::from_value(serde_json::Value::Object(body))?;
        KeySet::from_raw(raw)
    }

    fn from_raw(raw: RawBody) -> Result<KeySet, KeySetError> {
        let identity_scope = match raw.identity_scope.as_deref() {
            None | Some("UID2") => IdentityScope::Uid2,
            Some("EUID") => IdentityScope::Euid,
            Some(other) => return Err(KeySetError::UnknownScope(other.to_owned())),
        };
        let mut entries: Vec<(u32, Key)> = Vec::with_capacity(raw.keys.len());
        let mut max_expires: Option<i64> = None;
        for k in raw.keys {
            let id = key_id(k.id)?;
            let secret = decode_secret(&k.secret).ok_or(KeySetError::BadSecret { id: k.id })?;
            let gcm = Aes256Gcm::new(&secret.into());
            let aes = Aes256::new(&secret.into());
            max_expires = Some(max_expires.map_or(k.expires, |m| m.max(k.expires)));
            entries.push((
                id,
                Key {
                    gcm,
                    aes,
                    keyset_id: k.keyset_id,
                    activates: k.activates,
                    expires: k.expires,
                },
            ));
        }
        // A repeated id keeps its last occurrence (as a map built in order would).
        entries.reverse();
        entries.sort_by_key(|(id, _)| *id);
        entries.dedup_by_key(|(id, _)| *id);
        let (ids, keys) = entries.into_iter().unzip();

        let mut sites = Vec::new();
        for s in raw.site_data.unwrap_or_default() {
            let id = i32::try_from(s.id).map_err(|_| KeySetError::SiteIdOutOfRange(s.id))?;
            let names: Box<[Box<str>]> = s
                .domain_names
                .into_iter()
                .map(|n| n.to_ascii_lowercase().into_boxed_str())
                .collect();
            sites.push((id, names));
        }
        sites.sort_by_key(|(id, _)| *id);

        Ok(KeySet {
            ids,
            keys,
            max_expires_ms: max_expires.map(|s| s.saturating_mul(1000)),
            identity_scope,
            allow_clock_skew_seconds: raw
                .allow_clock_skew_seconds
                .unwrap_or(DEFAULT_ALLOW_CLOCK_SKEW_SECONDS),
            max_bidstream_lifetime_seconds: raw.max_bidstream_lifetime_seconds,
            max_sharing_lifetime_seconds: raw.max_sharing_lifetime_seconds,
            sites,
            caller_site_id: raw.caller_site_id,
            master_keyset_id: raw.master_keyset_id,
            default_keyset_id: raw.default_keyset_id,
            token_expiry_seconds: raw
                .token_expiry_seconds
                .map_or(DEFAULT_TOKEN_EXPIRY_SECONDS, |v| v.0),
        })
    }

    /// Looks a key up by id only: neither activation nor expiry of the key matters (§8.1).
    pub(crate) fn key(&self, id: u32) -> Option<&Key> {
        let i = self.ids.binary_search(&id).ok()?;
        self.keys.get(i)
    }

    /// True while at least one key has not expired (`now < max(expires)`); an empty key list is
    /// never valid. Decryption answers `KEYS_NOT_SYNCED` otherwise.
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.max_expires_ms.is_some_and(|m| now_ms < m)
    }

    /// The latest expiry of any key (Unix milliseconds), `None` when there are no keys.
    pub fn max_expires_ms(&self) -> Option<i64> {
        self.max_expires_ms
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the key list is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The key ids, ascending.
    pub fn key_ids(&self) -> &[u32] {
        &self.ids
    }

    /// How many keys are active at `now_ms` (`activates <= now < expires`).
    pub fn active_key_count(&self, now_ms: i64) -> usize {
        self.keys
            .iter()
            .filter(|k| {
                k.activates.saturating_mul(1000) <= now_ms
                    && now_ms < k.expires.saturating_mul(1000)
            })
            .count()
    }

    /// The keyset a key belongs to, when the response said (sharing endpoint).
    pub fn keyset_id_of(&self, key_id: u32) -> Option<i64> {
        self.key(key_id).and_then(|k| k.keyset_id)
    }

    /// The scope every token decrypted with this set must carry.
    pub fn identity_scope(&self) -> IdentityScope {
        self.identity_scope
    }

    /// How far in the future a token's generation time may be (seconds).
    pub fn allow_clock_skew_seconds(&self) -> i64 {
        self.allow_clock_skew_seconds
    }

    /// Longest lifetime of a bidstream token (seconds); `None` = unlimited.
    pub fn max_bidstream_lifetime_seconds(&self) -> Option<i64> {
        self.max_bidstream_lifetime_seconds
    }

    /// Longest lifetime of a sharing token (seconds); `None` = unlimited.
    pub fn max_sharing_lifetime_seconds(&self) -> Option<i64> {
        self.max_sharing_lifetime_seconds
    }

    /// The caller's site id (sharing endpoint).
    pub fn caller_site_id(&self) -> Option<i64> {
        self.caller_site_id
    }

    /// The keyset of master keys (sharing endpoint).
    pub fn master_keyset_id(&self) -> Option<i64> {
        self.master_keyset_id
    }

    /// The caller's default keyset (sharing endpoint).
    pub fn default_keyset_id(&self) -> Option<i64> {
        self.default_keyset_id
    }

    /// Lifetime of tokens encrypted for sharing (seconds; default 30 days).
    pub fn token_expiry_seconds(&self) -> i64 {
        self.token_expiry_seconds
    }

    /// The domain and app names registered for `site_id` (lower-cased), empty when unknown.
    pub fn domain_names(&self, site_id: i32) -> &[Box<str>] {
        match self.sites.binary_search_by_key(&site_id, |(id, _)| *id) {
            Ok(i) => self.sites.get(i).map_or(&[], |(_, names)| names),
            Err(_) => &[],
        }
    }

    /// The domain/app check of §8.3: `name` equals, ignoring ASCII case, one of the names
    /// registered for `site_id`. No name or an empty one never matches.
    pub fn allows_domain_or_app(&self, site_id: i32, name: Option<&str>) -> bool {
        match name {
            Some(n) if !n.is_empty() => self
                .domain_names(site_id)
                .iter()
                .any(|d| d.eq_ignore_ascii_case(n)),
            _ => false,
        }
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out: only ids and limits.
        f.debug_struct("KeySet")
            .field("key_ids", &self.ids)
            .field("max_expires_ms", &self.max_expires_ms)
            .field("identity_scope", &self.identity_scope)
            .field("allow_clock_skew_seconds", &self.allow_clock_skew_seconds)
            .field(
                "max_bidstream_lifetime_seconds",
                &self.max_bidstream_lifetime_seconds,
            )
            .field(
                "max_sharing_lifetime_seconds",
                &self.max_sharing_lifetime_seconds,
            )
            .field("sites", &self.sites.len())
            .finish_non_exhaustive()
    }
}

/// Token key ids are 32-bit; the SDKs read them as signed ints, so accept both readings.
fn key_id(id: i64) -> Result<u32, KeySetError> {
    if let Ok(v) = u32::try_from(id) {
        return Ok(v);
    }
    match i32::try_from(id) {
        Ok(v) => Ok(v.cast_unsigned()),
        Err(_) => Err(KeySetError::KeyIdOutOfRange(id)),
    }
}

fn decode_secret(text: &str) -> Option<[u8; 32]> {
    let mut buf = [0u8; 48];
    if text.len() > 64 {
        return None;
    }
    let n = STANDARD.decode_slice(text.as_bytes(), &mut buf).ok()?;
    buf.get(..n)?.try_into().ok()
}

#[derive(Deserialize)]
struct RawBody {
    keys: Vec<RawKey>,
    #[serde(default)]
    site_data: Option<Vec<RawSite>>,
    #[serde(default)]
    identity_scope: Option<String>,
    #[serde(default)]
    allow_clock_skew_seconds: Option<i64>,
    #[serde(default)]
    max_bidstream_lifetime_seconds: Option<i64>,
    #[serde(default)]
    max_sharing_lifetime_seconds: Option<i64>,
    #[serde(default)]
    caller_site_id: Option<i64>,
    #[serde(default)]
    master_keyset_id: Option<i64>,
    #[serde(default)]
    default_keyset_id: Option<i64>,
    #[serde(default)]
    token_expiry_seconds: Option<IntOrString>,
}

#[derive(Deserialize)]
struct RawKey {
    id: i64,
    #[allow(dead_code)] // required like the SDKs require it, but never used for decryption
    created: i64,
    activates: i64,
    expires: i64,
    secret: String,
    #[serde(default)]
    keyset_id: Option<i64>,
}

#[derive(Deserialize)]
struct RawSite {
    id: i64,
    #[serde(default)]
    domain_names: Vec<String>,
}

/// `token_expiry_seconds` arrives as a string from the operator; accept a number too.
struct IntOrString(i64);

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Int(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Int(v) => Ok(IntOrString(v)),
            Either::Text(s) => s
                .trim()
                .parse()
                .map(IntOrString)
                .map_err(|_| serde::de::Error::custom("token_expiry_seconds is not an integer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098=";

    fn body(extra: &str) -> String {
        format!(
            r#"{{"keys":[{{"id":7,"created":1,"activates":2,"expires":3000,"secret":"{SECRET}"}}]{extra}}}"#
        )
    }

    #[test]
    fn defaults_when_optional_fields_absent() {
        let ks = KeySet::from_json(body("").as_bytes()).unwrap();
        assert_eq!(ks.identity_scope(), IdentityScope::Uid2);
        assert_eq!(ks.allow_clock_skew_seconds(), 1800);
        assert_eq!(ks.max_bidstream_lifetime_seconds(), None);
        assert_eq!(ks.max_sharing_lifetime_seconds(), None);
        assert_eq!(ks.token_expiry_seconds(), DEFAULT_TOKEN_EXPIRY_SECONDS);
        assert_eq!(ks.key_ids(), &[7]);
        assert!(ks.is_valid_at(2_999_999));
        assert!(!ks.is_valid_at(3_000_000));
        assert!(ks.domain_names(1).is_empty());
    }

    #[test]
    fn whole_document_or_body_alone() {
        let whole = format!(r#"{{"status":"success","body":{}}}"#, body(""));
        assert_eq!(KeySet::from_json(whole.as_bytes()).unwrap().len(), 1);
        assert!(matches!(
            KeySet::from_json(br#"{"status":"success","body":[1]}"#),
            Err(KeySetError::BodyNotObject)
        ));
        assert!(matches!(
            KeySet::from_json(b"[]"),
            Err(KeySetError::BodyNotObject)
        ));
    }

    #[test]
    fn rejects_bad_secret_scope_and_ids_without_showing_secret() {
        let short = r#"{"keys":[{"id":1,"created":1,"activates":2,"expires":3,"secret":"AAAA"}]}"#;
        let err = KeySet::from_json(short.as_bytes()).unwrap_err();
        assert!(matches!(err, KeySetError::BadSecret { id: 1 }));
        assert!(!err.to_string().contains("AAAA"));
        assert!(matches!(
            KeySet::from_json(body(r#","identity_scope":"XYZ""#).as_bytes()),
            Err(KeySetError::UnknownScope(_))
        ));
        let big = body("").replace(r#""id":7"#, r#""id":4294967296"#);
        assert!(matches!(
            KeySet::from_json(big.as_bytes()),
            Err(KeySetError::KeyIdOutOfRange(_))
        ));
        let neg = body("").replace(r#""id":7"#, r#""id":-1"#);
        assert_eq!(
            KeySet::from_json(neg.as_bytes()).unwrap().key_ids(),
            &[u32::MAX]
        );
    }

    #[test]
    fn site_names_are_case_insensitive_and_exact() {
        let ks = KeySet::from_json(
            body(r#","site_data":[{"id":5,"domain_names":["Example.com","app.id"]}]"#).as_bytes(),
        )
        .unwrap();
        assert!(ks.allows_domain_or_app(5, Some("example.COM")));
        assert!(ks.allows_domain_or_app(5, Some("app.id")));
        assert!(!ks.allows_domain_or_app(5, Some("www.example.com")));
        assert!(!ks.allows_domain_or_app(5, Some("")));
        assert!(!ks.allows_domain_or_app(5, None));
        assert!(!ks.allows_domain_or_app(6, Some("example.com")));
    }

    #[test]
    fn token_expiry_as_string_or_number() {
        let s = KeySet::from_json(body(r#","token_expiry_seconds":"60""#).as_bytes()).unwrap();
        assert_eq!(s.token_expiry_seconds(), 60);
        let n = KeySet::from_json(body(r#","token_expiry_seconds":61"#).as_bytes()).unwrap();
        assert_eq!(n.token_expiry_seconds(), 61);
    }

    #[test]
    fn empty_keys_is_never_valid() {
        let ks = KeySet::from_json(br#"{"keys":[]}"#).unwrap();
        assert!(ks.is_empty());
        assert!(!ks.is_valid_at(i64::MIN));
    }

    #[test]
    fn duplicate_ids_keep_the_last() {
        let two = r#"{"keys":[
            {"id":9,"created":1,"activates":2,"expires":3,"secret":"SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098=","keyset_id":1},
            {"id":9,"created":1,"activates":2,"expires":3,"secret":"SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098=","keyset_id":2}]}"#;
        let ks = KeySet::from_json(two.as_bytes()).unwrap();
        assert_eq!(ks.len(), 1);
        assert_eq!(ks.keyset_id_of(9), Some(2));
    }
}
