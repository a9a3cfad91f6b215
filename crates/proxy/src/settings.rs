//! Process settings of the data plane, read once at start (the binary maps its configuration
//! onto this).

use std::time::Duration;

use bidsieve_openrtb::WinKey;

/// Default cap on a bid request body: 256 KiB.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;
/// Default cap on a decompressed (gzip) bid request body: 1 MiB.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 1024 * 1024;
/// Default margin taken off the request's `tmax` for our own work and the network.
pub const DEFAULT_TMAX_MARGIN: Duration = Duration::from_millis(10);
/// Default upper bound on the wait for the bidder.
pub const DEFAULT_MAX_UPSTREAM_WAIT: Duration = Duration::from_millis(300);
/// Default cap on a bidder's response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 1024 * 1024;
/// Default cap on open client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// Default bound on the drain at shutdown.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Settings of the data plane.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// Largest accepted request body (bytes, as received).
    pub max_body: usize,
    /// Largest accepted decompressed body (bytes).
    pub max_decompressed: usize,
    /// Taken off `tmax` to get the wait for the bidder.
    pub tmax_margin: Duration,
    /// Longest wait for the bidder whatever `tmax` says.
    pub max_upstream_wait: Duration,
    /// Largest bidder response body relayed.
    pub max_response_body: usize,
    /// Idle keep-alive connections kept per bidder URL and worker thread (`http://`), per
    /// bidder host (`https://`).
    pub upstream_pool_max_idle: usize,
    /// Bound on the drain of in-flight requests at shutdown.
    pub grace: Duration,
    /// Cap on open client connections; at the cap, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Base of rewritten win URLs, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub public_url: String,
    /// HTML appended to `adm` for customers with `inject_tag`.
    pub tag_html: String,
    /// The key that seals and opens win tokens (SPEC §6); every proxy sharing a store must
    /// hold the same one. `Debug` does not show it.
    pub win_key: WinKey,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
            tmax_margin: DEFAULT_TMAX_MARGIN,
            max_upstream_wait: DEFAULT_MAX_UPSTREAM_WAIT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            upstream_pool_max_idle: 256,
            grace: DEFAULT_GRACE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            public_url: "http://127.0.0.1:8080".to_owned(),
            tag_html: String::new(),
            // A fresh random key: tokens then open only in this process. The binary sets the
            // configured or stored key.
            win_key: WinKey::new(&rand::random()),
        }
    }
}

impl ProxySettings {
    /// The wait granted to the bidder for a request with this `tmax` (None: no tmax).
    pub fn upstream_budget(&self, tmax_ms: Option<u64>) -> Duration {
        match tmax_ms {
            Some(ms) => Duration::from_millis(ms)
                .saturating_sub(self.tmax_margin)
                .min(self.max_upstream_wait),
            None => self.max_upstream_wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_tmax_minus_margin_capped() {
        let s = ProxySettings::default();
        assert_eq!(s.upstream_budget(Some(120)), Duration::from_millis(110));
        assert_eq!(s.upstream_budget(Some(5)), Duration::ZERO);
        assert_eq!(s.upstream_budget(Some(10_000)), Duration::from_millis(300));
        assert_eq!(s.upstream_budget(None), Duration::from_millis(300));
    }

    #[test]
    fn debug_does_not_show_the_win_key() {
        let text = format!("{:?}", ProxySettings::default());
        assert!(text.contains("win_key: WinKey(<redacted>)"), "{text}");
    }
}
