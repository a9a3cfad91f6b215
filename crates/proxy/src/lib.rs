//! bidsieve's data plane: the server that answers suppliers' bid requests (SPEC §2).
//!
//! - [`serve`]: the bid listener (routes, body limits, the pipeline of SPEC §2.2, drain on
//!   shutdown): bid requests of the common shape through the connection loop of `conn`,
//!   anything else through hyper's server; [`serve_metrics`]: the Prometheus listener.
//! - [`ProxyState`]: what every request shares: the [`Snapshot`] in an `ArcSwapOption` (one
//!   `load` per request), the pooled upstream client, the settings, the UID2 gate.
//! - `GET /win/{token}` (module `win`): the win and billing notices of sealed notice URLs
//!   (SPEC §6): opened with [`ProxySettings::win_key`], macros put back, 302 or called once.
//! - [`Follower`]: rebuilds the snapshot from the store when its configuration version changes
//!   (in-process notification, PostgreSQL NOTIFY, version poll), reusing compiled lists, QPS
//!   buckets and metric handles; publishes with one `store`.
//!
//! The request path takes no lock and makes no store call; a request's outcome is one of
//! [`Outcome`], counted per stream.

mod bid;
mod conn;
mod follow;
mod forward;
mod h1;
mod metrics_listener;
mod outcome;
mod response;
mod server;
pub mod settings;
mod snapshot;
mod state;
mod throttle;
mod uid2;
mod win;

/// Entry points for `fuzz/` (cargo-fuzz builds with `--cfg fuzzing`): the parsers of the bidder
/// client and of the bid loop, which are private otherwise.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Runs the response-head and chunk-size parsers over `data`.
    pub fn response_framing(data: &[u8]) {
        crate::h1::fuzz_parsers(data);
    }

    /// Runs the bid loop's request-head parser over `data`.
    pub fn request_head(data: &[u8]) {
        crate::conn::check_parse(data);
    }
}

pub use follow::Follower;
pub use metrics_listener::serve_metrics;
pub use outcome::{Outcome, prometheus};
pub use server::serve;
pub use settings::ProxySettings;
pub use snapshot::{BuildError, CustomerRoute, Snapshot, SnapshotCache, StreamRoute};
pub use state::ProxyState;
pub use throttle::Throttle;
pub use uid2::{STATUS_NONE, Uid2Facts, Uid2Gate, registrable_domain};
pub use win::{
    MAX_NOTICE_ANSWER, MAX_NOTICE_URL_OUT, MAX_WIN_REQUEST, WIN_NOTICE_TIMEOUT, win_url,
};

/// The win key type of [`ProxySettings::win_key`] (from `bidsieve-openrtb`).
pub use bidsieve_openrtb::WinKey;
