//! The hot-swapped key slot the proxy reads: one `load` per request, one `store` per refresh.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use arc_swap::Guard;

use crate::keyset::KeySet;
use crate::status::{ClientType, Decrypted};
use crate::token::decrypt;

/// Holds the current [`KeySet`] (none until the first successful refresh).
///
/// Readers never block: [`KeyCache::load`] is a lock-free `ArcSwap` load. The refresher replaces
/// the whole set with [`KeyCache::store`] only after a fully successful refresh, so a failed one
/// leaves the previous keys in place.
#[derive(Debug, Default)]
pub struct KeyCache {
    current: ArcSwapOption<KeySet>,
}

// === impl KeyCache ===

impl KeyCache {
    /// An empty cache: decryption answers `NOT_INITIALIZED` until a key set is stored.
    pub fn new() -> KeyCache {
        KeyCache::default()
    }

    /// A cache holding `keys` from the start (CLI, tests, a key file).
    pub fn with_keys(keys: KeySet) -> KeyCache {
        let cache = KeyCache::new();
        cache.store(keys);
        cache
    }

    /// The current key set, for a short-lived borrow: call once per request and pass
    /// `guard.as_deref()` to [`decrypt`].
    pub fn load(&self) -> Guard<Option<Arc<KeySet>>> {
        self.current.load()
    }

    /// The current key set as an owned `Arc` (for holding across an `.await`).
    pub fn load_full(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// Publishes a new key set; readers see it on their next `load`.
    pub fn store(&self, keys: KeySet) {
        self.current.store(Some(Arc::new(keys)));
    }

    /// True once a key set has been stored.
    pub fn is_initialized(&self) -> bool {
        self.current.load().is_some()
    }

    /// Loads the current set and decrypts `token` with it (see [`decrypt`]).
    pub fn decrypt(
        &self,
        token: &str,
        now_ms: i64,
        domain_or_app: Option<&str>,
        client: ClientType,
    ) -> Decrypted {
        let keys = self.current.load();
        decrypt(keys.as_deref(), token, now_ms, domain_or_app, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    #[test]
    fn empty_until_stored_then_swapped() {
        let cache = KeyCache::new();
        assert!(!cache.is_initialized());
        let d = cache.decrypt("AgAAAA", 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::NotInitialized);
        let ks = KeySet::from_json(br#"{"keys":[]}"#).unwrap();
        cache.store(ks);
        assert!(cache.is_initialized());
        let d = cache.decrypt("AgAAAA", 0, None, ClientType::Bidstream);
        assert_eq!(d.status, Status::KeysNotSynced);
        let held = cache.load_full().unwrap();
        cache.store(
            KeySet::from_json(
                br#"{"keys":[{"id":5,"created":0,"activates":0,"expires":10,
                "secret":"SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098="}]}"#,
            )
            .unwrap(),
        );
        // A reader holding the old set keeps it unchanged.
        assert!(held.is_empty());
        assert_eq!(cache.load().as_deref().map(KeySet::len), Some(1));
    }
}
