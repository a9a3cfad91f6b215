//! `AdminSettings`: the process settings of the admin API, read once at start.

use std::time::Duration;

/// Default for [`AdminSettings::list_inline_max`] (SPEC §3.4).
pub const DEFAULT_LIST_INLINE_MAX: usize = 1000;
/// Default for [`AdminSettings::max_body`]: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Default for [`AdminSettings::max_list_body`]: 512 MiB (a 5,000,000-entry list of UUIDs is
/// about 185 MB as text).
pub const DEFAULT_MAX_LIST_BODY: usize = 512 * 1024 * 1024;
/// Default for [`AdminSettings::session_idle`]: 2 hours after the most recent call.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(2 * 3600);
/// Default for [`AdminSettings::session_max`]: 24 hours after login.
pub const DEFAULT_SESSION_MAX: Duration = Duration::from_secs(24 * 3600);

/// Login rate limits (SPEC §5.1), each counted over a sliding [`LoginLimits::window`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Successful logins per user per window (the Impression Bus rule: 10 per 5 minutes).
    pub successes_per_user: u32,
    /// Failed logins per email per window; past it, that email cannot log in until the window
    /// frees up (whatever the password).
    pub failures_per_email: u32,
    /// Failed logins per client address per window.
    pub failures_per_client: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            successes_per_user: 10,
            failures_per_email: 5,
            failures_per_client: 20,
            window: Duration::from_secs(5 * 60),
        }
    }
}

/// What the admin API is configured with (`[admin]` and `[auth]` of the configuration).
#[derive(Clone)]
pub struct AdminSettings {
    /// Lists longer than this are returned as "List too long to return: N".
    pub list_inline_max: usize,
    /// Body limit of every route but the list upload (413 `TOO_LARGE` past it).
    pub max_body: usize,
    /// Body limit of `PUT`/`PATCH /api/filters/{id}/list`, on the wire and decompressed.
    pub max_list_body: usize,
    /// A session ends this long after its most recent call.
    pub session_idle: Duration,
    /// A session ends this long after login, whatever happens (the JWT `exp`).
    pub session_max: Duration,
    /// The HS256 key of the session tokens. Empty: a random key for this process only (every
    /// restart then ends every session, which in-memory sessions do anyway).
    pub jwt_secret: Vec<u8>,
    /// Login rate limits.
    pub login_limits: LoginLimits,
}

impl AdminSettings {
    /// The defaults of SPEC §5 with the given JWT secret.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            list_inline_max: DEFAULT_LIST_INLINE_MAX,
            max_body: DEFAULT_MAX_BODY,
            max_list_body: DEFAULT_MAX_LIST_BODY,
            session_idle: DEFAULT_SESSION_IDLE,
            session_max: DEFAULT_SESSION_MAX,
            jwt_secret,
            login_limits: LoginLimits::default(),
        }
    }
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("list_inline_max", &self.list_inline_max)
            .field("max_body", &self.max_body)
            .field("max_list_body", &self.max_list_body)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .field("jwt_secret", &"<redacted>")
            .field("login_limits", &self.login_limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let settings = AdminSettings::new(b"very-secret-key".to_vec());
        let text = format!("{settings:?}");
        assert!(!text.contains("very-secret-key"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn defaults_follow_the_spec() {
        let settings = AdminSettings::new(Vec::new());
        assert_eq!(settings.list_inline_max, 1000);
        assert_eq!(settings.session_idle, Duration::from_secs(7200));
        assert_eq!(settings.session_max, Duration::from_secs(86400));
        assert_eq!(settings.login_limits.successes_per_user, 10);
        assert_eq!(settings.login_limits.window, Duration::from_secs(300));
    }
}
