//! The per-customer QPS cap: a lock-free token bucket (SPEC §2.2 step 5).
//!
//! Implemented as GCRA ("generic cell rate algorithm"): one atomic holds the theoretical arrival
//! time (TAT) of the next request in nanoseconds since the throttle's epoch. A request is let
//! through when, after adding one emission interval (1 s / qps), the TAT is no more than one
//! second (the burst) ahead of now. That is a token bucket of capacity `qps` refilled at `qps`
//! per second, in one compare-and-swap, with no lock and no background refill task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A customer's QPS cap. Shared (in an `Arc`) across snapshots so that a configuration change
/// does not reset the bucket.
#[derive(Debug)]
pub struct Throttle {
    epoch: Instant,
    /// Nanoseconds between two requests at the cap; `u64::MAX` pauses forwarding (qps 0).
    interval_ns: AtomicU64,
    /// Theoretical arrival time, nanoseconds since `epoch`.
    tat_ns: AtomicU64,
}

impl Throttle {
    /// A bucket for `qps` requests per second, starting full.
    pub fn new(qps: u64) -> Self {
        Self {
            epoch: Instant::now(),
            interval_ns: AtomicU64::new(interval_for(qps)),
            tat_ns: AtomicU64::new(0),
        }
    }

    /// Changes the cap in place (the bucket's fill level carries over).
    pub fn set_qps(&self, qps: u64) {
        self.interval_ns.store(interval_for(qps), Ordering::Relaxed);
    }

    /// The configured cap, requests per second.
    pub fn qps(&self) -> u64 {
        match self.interval_ns.load(Ordering::Relaxed) {
            u64::MAX => 0,
            interval => NANOS_PER_SEC / interval.max(1),
        }
    }

    /// Takes one token if there is one.
    pub fn try_acquire(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.try_acquire_at(now)
    }

    fn try_acquire_at(&self, now: u64) -> bool {
        let interval = self.interval_ns.load(Ordering::Relaxed);
        if interval == u64::MAX {
            return false;
        }
        let mut tat = self.tat_ns.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(interval);
            // Burst tolerance: one second's worth of requests.
            if next - now > NANOS_PER_SEC {
                return false;
            }
            match self
                .tat_ns
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
}

fn interval_for(qps: u64) -> u64 {
    NANOS_PER_SEC
        .checked_div(qps)
        .map_or(u64::MAX, |i| i.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_one_second_of_requests_then_refills_at_the_rate() {
        let t = Throttle::new(100);
        let start = 5 * NANOS_PER_SEC;
        let granted = (0..1000).filter(|_| t.try_acquire_at(start)).count();
        assert_eq!(granted, 100);
        // 100 ms later: 10 more tokens.
        let later = start + NANOS_PER_SEC / 10;
        let granted = (0..1000).filter(|_| t.try_acquire_at(later)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn zero_qps_pauses_forwarding() {
        let t = Throttle::new(0);
        assert!(!t.try_acquire_at(10 * NANOS_PER_SEC));
        assert_eq!(t.qps(), 0);
        t.set_qps(1);
        assert!(t.try_acquire_at(10 * NANOS_PER_SEC));
        assert!(!t.try_acquire_at(10 * NANOS_PER_SEC));
    }

    #[test]
    fn concurrent_acquires_never_exceed_the_burst() {
        let t = std::sync::Arc::new(Throttle::new(1000));
        let now = 3 * NANOS_PER_SEC;
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || (0..1000).filter(|_| t.try_acquire_at(now)).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 1000);
    }
}
