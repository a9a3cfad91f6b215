//! UID2 on the request path: the token of a request decrypted once with the current key set,
//! feeding the `uid2` and `uid2_status` filter fields (SPEC §2.4, §4).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bidsieve_openrtb::BidFields;
use bidsieve_uid2::{ClientType, KeyCache, Status};
use metrics::Counter;

/// The `uid2_status` of a request without a UID2 token.
pub const STATUS_NONE: &str = "NONE";

/// What the filters learn from a request's UID2 token.
#[derive(Debug)]
pub struct Uid2Facts {
    /// The raw UID, only when decryption succeeded.
    pub uid: Option<String>,
    /// The status name (SPEC §4.3), or `NONE`.
    pub status: &'static str,
}

/// Decrypts request tokens with a hot-swapped key cache and counts the statuses.
pub struct Uid2Gate {
    cache: Arc<KeyCache>,
    /// `bidsieve_uid2_decrypt_total{status}`, indexed like `Status::ALL`, then `NONE`.
    counters: Vec<Counter>,
}

impl Uid2Gate {
    /// A gate reading `cache` (an empty cache answers `NOT_INITIALIZED` to every token).
    pub fn new(cache: Arc<KeyCache>) -> Self {
        crate::outcome::prometheus();
        let counters = Status::ALL
            .iter()
            .map(|s| s.as_str())
            .chain([STATUS_NONE])
            .map(|name| metrics::counter!("bidsieve_uid2_decrypt_total", "status" => name))
            .collect();
        Self { cache, counters }
    }

    /// The key cache the gate reads (the refresher writes it).
    pub fn cache(&self) -> &Arc<KeyCache> {
        &self.cache
    }

    /// Decrypts the request's token, if any.
    pub fn decrypt(&self, fields: &BidFields<'_>) -> Uid2Facts {
        let Some(token) = fields.uid2_token.as_deref() else {
            self.count(Status::ALL.len());
            return Uid2Facts {
                uid: None,
                status: STATUS_NONE,
            };
        };
        let name = fields.domain.as_deref().map(|domain| {
            if fields.domain_is_app {
                domain
            } else {
                registrable_domain(domain)
            }
        });
        let decrypted = self
            .cache
            .decrypt(token, now_ms(), name, ClientType::Bidstream);
        if let Some(index) = Status::ALL.iter().position(|s| *s == decrypted.status) {
            self.count(index);
        }
        Uid2Facts {
            uid: decrypted.uid,
            status: decrypted.status.as_str(),
        }
    }

    fn count(&self, index: usize) {
        if let Some(counter) = self.counters.get(index) {
            counter.increment(1);
        }
    }
}

/// The registrable domain (public suffix + one label) of a lower-case host name; the name itself
/// when the public suffix list does not know it.
pub fn registrable_domain(host: &str) -> &str {
    psl::domain_str(host).unwrap_or(host)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(registrable_domain("news.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("a.b.example.com"), "example.com");
        assert_eq!(registrable_domain("example.com"), "example.com");
    }

    #[test]
    fn no_token_is_none_and_no_keys_is_not_initialized() {
        let gate = Uid2Gate::new(Arc::new(KeyCache::new()));
        let mut fields = BidFields::default();
        let facts = gate.decrypt(&fields);
        assert_eq!(facts.status, "NONE");
        assert!(facts.uid.is_none());
        fields.uid2_token = Some("A4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
        let facts = gate.decrypt(&fields);
        assert_eq!(facts.status, "NOT_INITIALIZED");
    }
}
