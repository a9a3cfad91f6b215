//! Server-side session state by `jti` (SPEC §5.1): a session ends `idle` after its most recent
//! call (sliding) and `max` after login (hard); logout ends it at once. Recording a call is one
//! atomic store in memory, never a store write.
//!
//! Sessions live in this process only: a restart ends them all, and several admin processes
//! behind one address need sticky routing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::caller::Role;

/// One live session.
#[derive(Debug)]
struct Session {
    user_id: i64,
    role: Role,
    customer_id: Option<i64>,
    /// The hard end.
    deadline: Instant,
    /// The most recent call, in milliseconds since [`Sessions::epoch`].
    last_seen_ms: AtomicU64,
}

/// What a live session says about its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionInfo {
    /// The user.
    pub(crate) user_id: i64,
    /// The user's role.
    pub(crate) role: Role,
    /// The customer of a customer user.
    pub(crate) customer_id: Option<i64>,
}

/// Why a session is not usable (each is a 401 `NOAUTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionEnd {
    /// Logged out, revoked, or never known to this process.
    Unknown,
    /// No call for longer than the idle limit.
    Idle,
    /// Past the hard limit.
    Expired,
}

impl SessionEnd {
    /// The 401 message.
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Self::Unknown => "the session has ended (logged out or revoked); log in again",
            Self::Idle => "the session was idle too long; log in again",
            Self::Expired => "the session has expired; log in again",
        }
    }
}

/// The live sessions of this process.
pub(crate) struct Sessions {
    map: DashMap<Arc<str>, Session>,
    idle: Duration,
    max: Duration,
    epoch: Instant,
}

impl Sessions {
    /// An empty table with the two lifetimes.
    pub(crate) fn new(idle: Duration, max: Duration) -> Self {
        Self {
            map: DashMap::new(),
            idle,
            max,
            epoch: Instant::now(),
        }
    }

    /// The hard lifetime of a new session.
    pub(crate) fn max(&self) -> Duration {
        self.max
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Starts a session.
    pub(crate) fn start(&self, jti: &str, info: SessionInfo) {
        let now = Instant::now();
        self.map.insert(
            Arc::from(jti),
            Session {
                user_id: info.user_id,
                role: info.role,
                customer_id: info.customer_id,
                deadline: now + self.max,
                last_seen_ms: AtomicU64::new(self.millis(now)),
            },
        );
    }

    /// Checks the session and records this call as its most recent one.
    ///
    /// # Errors
    /// Why the session is not usable; an idle or expired session is removed.
    pub(crate) fn touch(&self, jti: &str) -> Result<SessionInfo, SessionEnd> {
        let now = Instant::now();
        let now_ms = self.millis(now);
        let idle_ms = u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX);
        let outcome = {
            let Some(session) = self.map.get(jti) else {
                return Err(SessionEnd::Unknown);
            };
            if now >= session.deadline {
                Err(SessionEnd::Expired)
            } else {
                let last = session.last_seen_ms.load(Ordering::Relaxed);
                if now_ms.saturating_sub(last) > idle_ms {
                    Err(SessionEnd::Idle)
                } else {
                    session.last_seen_ms.fetch_max(now_ms, Ordering::Relaxed);
                    Ok(SessionInfo {
                        user_id: session.user_id,
                        role: session.role,
                        customer_id: session.customer_id,
                    })
                }
            }
            // The map guard is dropped here, before any removal.
        };
        if outcome.is_err() {
            self.map.remove(jti);
        }
        outcome
    }

    /// Ends one session (logout). Returns whether it existed.
    pub(crate) fn end(&self, jti: &str) -> bool {
        self.map.remove(jti).is_some()
    }

    /// Ends every session of a user (the user was deleted).
    pub(crate) fn end_user(&self, user_id: i64) {
        self.map.retain(|_, s| s.user_id != user_id);
    }

    /// Ends every session of a customer's users (the customer was deleted).
    pub(crate) fn end_customer(&self, customer_id: i64) {
        self.map.retain(|_, s| s.customer_id != Some(customer_id));
    }

    /// Forgets ended sessions (called now and then, so the table stays bounded).
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let now_ms = self.millis(now);
        let idle_ms = u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX);
        self.map.retain(|_, s| {
            now < s.deadline
                && now_ms.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) <= idle_ms
        });
    }

    /// Number of sessions held (live or not yet swept).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(user_id: i64, customer_id: Option<i64>) -> SessionInfo {
        SessionInfo {
            user_id,
            role: if customer_id.is_some() {
                Role::Customer
            } else {
                Role::Operator
            },
            customer_id,
        }
    }

    #[test]
    fn live_sessions_answer_and_unknown_ones_do_not() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        sessions.start("a", info(1, None));
        assert_eq!(sessions.touch("a"), Ok(info(1, None)));
        assert_eq!(sessions.touch("b"), Err(SessionEnd::Unknown));
        assert!(sessions.end("a"));
        assert_eq!(sessions.touch("a"), Err(SessionEnd::Unknown));
        assert!(!sessions.end("a"));
    }

    #[test]
    fn idle_sessions_end_and_calls_slide_the_idle_limit() {
        let sessions = Sessions::new(Duration::from_millis(80), Duration::from_secs(600));
        sessions.start("a", info(1, None));
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(40));
            assert!(
                sessions.touch("a").is_ok(),
                "each call slides the idle limit"
            );
        }
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(sessions.touch("a"), Err(SessionEnd::Idle));
        assert_eq!(sessions.touch("a"), Err(SessionEnd::Unknown));
    }

    #[test]
    fn the_hard_limit_ends_even_a_busy_session() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_millis(100));
        sessions.start("a", info(1, None));
        let mut ended = None;
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(20));
            if let Err(e) = sessions.touch("a") {
                ended = Some(e);
                break;
            }
        }
        assert_eq!(ended, Some(SessionEnd::Expired));
    }

    #[test]
    fn users_and_customers_can_be_revoked_and_sweeping_forgets_ended_ones() {
        let sessions = Sessions::new(Duration::from_millis(50), Duration::from_secs(600));
        sessions.start("op", info(1, None));
        sessions.start("c1", info(2, Some(7)));
        sessions.start("c2", info(3, Some(7)));
        sessions.start("c3", info(4, Some(8)));
        sessions.end_user(1);
        assert_eq!(sessions.touch("op"), Err(SessionEnd::Unknown));
        sessions.end_customer(7);
        assert_eq!(sessions.touch("c1"), Err(SessionEnd::Unknown));
        assert_eq!(sessions.touch("c2"), Err(SessionEnd::Unknown));
        assert!(sessions.touch("c3").is_ok());
        assert_eq!(sessions.len(), 1);
        std::thread::sleep(Duration::from_millis(80));
        sessions.sweep();
        assert_eq!(sessions.len(), 0);
    }
}
