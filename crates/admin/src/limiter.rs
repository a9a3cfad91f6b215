//! Login rate limits (SPEC §5.1): successful logins per user, failed logins per email and per
//! client address, each over a sliding window. Over a limit: 429 with `Retry-After`.

use std::collections::VecDeque;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::settings::LoginLimits;

/// The times of recent events of one key, oldest first (never more than the limit).
#[derive(Debug, Default)]
struct Window {
    events: VecDeque<Instant>,
}

impl Window {
    fn prune(&mut self, now: Instant, window: Duration) {
        while let Some(&first) = self.events.front() {
            if now.saturating_duration_since(first) >= window {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Sliding-window counters per key.
struct Counter<K: Eq + Hash> {
    map: DashMap<K, Window>,
    limit: u32,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            map: DashMap::new(),
            limit,
        }
    }

    /// `Err(wait)` when `limit` events happened within the window.
    fn check(&self, key: &K, now: Instant, window: Duration) -> Result<(), Duration> {
        let Some(mut entry) = self.map.get_mut(key) else {
            return if self.limit == 0 { Err(window) } else { Ok(()) };
        };
        entry.prune(now, window);
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if entry.events.len() >= limit {
            let oldest = entry.events.front().copied().unwrap_or(now);
            Err((oldest + window).saturating_duration_since(now))
        } else {
            Ok(())
        }
    }

    fn record(&self, key: K, now: Instant, window: Duration) {
        let mut entry = self.map.entry(key).or_default();
        entry.prune(now, window);
        entry.events.push_back(now);
        let limit = usize::try_from(self.limit.max(1)).unwrap_or(usize::MAX);
        while entry.events.len() > limit {
            entry.events.pop_front();
        }
    }

    fn clear(&self, key: &K) {
        self.map.remove(key);
    }

    fn sweep(&self, now: Instant, window: Duration) {
        self.map.retain(|_, w| {
            w.prune(now, window);
            !w.events.is_empty()
        });
    }
}

/// The login limits of this process.
pub(crate) struct LoginLimiter {
    successes: Counter<i64>,
    email_failures: Counter<String>,
    client_failures: Counter<IpAddr>,
    window: Duration,
}

/// Seconds to wait, rounded up, at least 1 (the `Retry-After` value).
fn retry_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl LoginLimiter {
    /// A limiter with `limits`.
    pub(crate) fn new(limits: &LoginLimits) -> Self {
        Self {
            successes: Counter::new(limits.successes_per_user),
            email_failures: Counter::new(limits.failures_per_email),
            client_failures: Counter::new(limits.failures_per_client),
            window: limits.window,
        }
    }

    /// Before checking a password: may this email, from this client, try at all?
    ///
    /// # Errors
    /// The seconds to wait when too many recent attempts failed.
    pub(crate) fn check_attempt(&self, email: &str, client: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        if let Err(w) = self
            .email_failures
            .check(&email.to_owned(), now, self.window)
        {
            wait = wait.max(w);
        }
        if let Some(ip) = client
            && let Err(w) = self.client_failures.check(&ip, now, self.window)
        {
            wait = wait.max(w);
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(retry_seconds(wait))
        }
    }

    /// Records a failed attempt.
    pub(crate) fn failed(&self, email: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        self.email_failures
            .record(email.to_owned(), now, self.window);
        if let Some(ip) = client {
            self.client_failures.record(ip, now, self.window);
        }
    }

    /// After a correct password: may this user log in once more? Records the login when so,
    /// and forgets the email's failures.
    ///
    /// # Errors
    /// The seconds to wait when the user logged in too often.
    pub(crate) fn succeeded(&self, user_id: i64, email: &str) -> Result<(), u64> {
        let now = Instant::now();
        self.successes
            .check(&user_id, now, self.window)
            .map_err(retry_seconds)?;
        self.successes.record(user_id, now, self.window);
        self.email_failures.clear(&email.to_owned());
        Ok(())
    }

    /// Forgets windows with no recent event.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        self.successes.sweep(now, self.window);
        self.email_failures.sweep(now, self.window);
        self.client_failures.sweep(now, self.window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(window: Duration) -> LoginLimits {
        LoginLimits {
            successes_per_user: 3,
            failures_per_email: 2,
            failures_per_client: 4,
            window,
        }
    }

    #[test]
    fn the_fourth_success_in_the_window_waits() {
        let limiter = LoginLimiter::new(&limits(Duration::from_secs(300)));
        for _ in 0..3 {
            assert!(limiter.succeeded(1, "a@x").is_ok());
        }
        let wait = limiter.succeeded(1, "a@x").unwrap_err();
        assert!((299..=300).contains(&wait), "{wait}");
        // Another user is not affected.
        assert!(limiter.succeeded(2, "b@x").is_ok());
    }

    #[test]
    fn the_window_slides() {
        let limiter = LoginLimiter::new(&limits(Duration::from_millis(60)));
        for _ in 0..3 {
            assert!(limiter.succeeded(1, "a@x").is_ok());
        }
        assert_eq!(limiter.succeeded(1, "a@x"), Err(1));
        std::thread::sleep(Duration::from_millis(80));
        assert!(limiter.succeeded(1, "a@x").is_ok());
    }

    #[test]
    fn failures_throttle_the_email_and_the_client() {
        let limiter = LoginLimiter::new(&limits(Duration::from_secs(300)));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other_ip: IpAddr = "192.0.2.2".parse().unwrap();
        limiter.failed("a@x", Some(ip));
        assert!(limiter.check_attempt("a@x", Some(ip)).is_ok());
        limiter.failed("a@x", Some(ip));
        // The email is throttled from anywhere.
        assert!(limiter.check_attempt("a@x", Some(other_ip)).is_err());
        assert!(limiter.check_attempt("b@x", Some(ip)).is_ok());
        // Spraying many emails from one client throttles the client.
        limiter.failed("c@x", Some(ip));
        limiter.failed("d@x", Some(ip));
        assert!(limiter.check_attempt("e@x", Some(ip)).is_err());
        assert!(limiter.check_attempt("e@x", Some(other_ip)).is_ok());
        assert!(limiter.check_attempt("e@x", None).is_ok());
    }

    #[test]
    fn a_success_forgets_the_email_failures() {
        let limiter = LoginLimiter::new(&limits(Duration::from_secs(300)));
        limiter.failed("a@x", None);
        assert!(limiter.succeeded(1, "a@x").is_ok());
        limiter.failed("a@x", None);
        assert!(limiter.check_attempt("a@x", None).is_ok());
    }

    #[test]
    fn sweeping_forgets_old_windows() {
        let limiter = LoginLimiter::new(&limits(Duration::from_millis(20)));
        limiter.failed("a@x", None);
        assert!(limiter.succeeded(1, "b@x").is_ok());
        std::thread::sleep(Duration::from_millis(30));
        limiter.sweep();
        assert_eq!(limiter.email_failures.map.len(), 0);
        assert_eq!(limiter.successes.map.len(), 0);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_seconds(Duration::from_secs(5)), 5);
        assert_eq!(retry_seconds(Duration::ZERO), 1);
    }
}
