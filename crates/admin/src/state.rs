//! `AdminState`: what every admin request shares (the store, the settings, the token keys, the
//! session table, the login limiter, the explain list cache, the UID2 keys).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bidsieve_store::{Store, StoreError};
use bidsieve_uid2::KeyCache;
use tokio::sync::Semaphore;

use crate::limiter::LoginLimiter;
use crate::list_cache::ListCache;
use crate::session::Sessions;
use crate::settings::AdminSettings;
use crate::token::TokenKeys;

/// Length of a generated JWT secret (HS256 wants at least 32 bytes).
pub const JWT_SECRET_LEN: usize = 32;
/// The store secret name of the generated JWT secret.
pub const JWT_SECRET_NAME: &str = "jwt_secret";
/// Large list uploads parsed at once; more wait their turn (each holds its list in memory).
const CONCURRENT_LIST_UPLOADS: usize = 2;
/// Ended sessions and idle limiter windows are swept every this many logins.
const SWEEP_EVERY_LOGINS: u64 = 64;

/// The admin API's shared state. Cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) settings: AdminSettings,
    pub(crate) tokens: TokenKeys,
    pub(crate) sessions: Sessions,
    pub(crate) limiter: LoginLimiter,
    pub(crate) lists: ListCache,
    pub(crate) uid2: Arc<KeyCache>,
    pub(crate) uploads: Semaphore,
    logins: AtomicU64,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("settings", &self.inner.settings)
            .field("sessions", &self.inner.sessions.len())
            .finish_non_exhaustive()
    }
}

impl AdminState {
    /// State over `store` with `settings`; `POST /api/filters/explain` sees UID2 tokens as
    /// `NOT_INITIALIZED` (no key set). An empty `settings.jwt_secret` is replaced by a random one
    /// for this process (with a warning).
    pub fn new(store: Store, settings: AdminSettings) -> AdminState {
        Self::with_uid2_keys(store, settings, Arc::new(KeyCache::new()))
    }

    /// As [`AdminState::new`], with the UID2 key cache the proxy uses, so that explained
    /// requests decrypt their UID2 tokens as the proxy does.
    pub fn with_uid2_keys(
        store: Store,
        mut settings: AdminSettings,
        uid2: Arc<KeyCache>,
    ) -> AdminState {
        if settings.jwt_secret.is_empty() {
            tracing::warn!(
                "no JWT secret given: using a random one for this process (sessions end on restart)"
            );
            settings.jwt_secret = random_secret();
        } else if settings.jwt_secret.len() < JWT_SECRET_LEN {
            tracing::warn!(
                bytes = settings.jwt_secret.len(),
                "the JWT secret is shorter than 32 bytes"
            );
        }
        let inner = Inner {
            tokens: TokenKeys::new(&settings.jwt_secret),
            sessions: crate::session::Sessions::new(settings.session_idle, settings.session_max),
            limiter: LoginLimiter::new(&settings.login_limits),
            lists: ListCache::default(),
            uploads: Semaphore::new(CONCURRENT_LIST_UPLOADS),
            logins: AtomicU64::new(0),
            store,
            settings,
            uid2,
        };
        AdminState {
            inner: Arc::new(inner),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn settings(&self) -> &AdminSettings {
        &self.inner.settings
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Counts a login attempt and sweeps ended sessions and old limiter windows now and then.
    pub(crate) fn note_login(&self) {
        let n = self.inner.logins.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY_LOGINS == SWEEP_EVERY_LOGINS - 1 {
            self.inner.sessions.sweep();
            self.inner.limiter.sweep();
        }
    }
}

/// 32 random bytes.
fn random_secret() -> Vec<u8> {
    let bytes: [u8; JWT_SECRET_LEN] = rand::random();
    bytes.to_vec()
}

/// The JWT secret kept in the store (generated once, 32 random bytes, and shared by every
/// process on the store): what the binary uses when `auth.jwt_secret` is not configured.
///
/// # Errors
/// The store cannot be read or written.
pub async fn jwt_secret_from_store(store: &Store) -> Result<Vec<u8>, StoreError> {
    store.secret(JWT_SECRET_NAME, random_secret).await
}
