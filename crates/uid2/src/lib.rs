//! UID2 advertising-token decryption for bidsieve, byte-compatible with the official SDKs.
//!
//! This crate owns:
//! - [`decrypt`]: pure decryption of advertising tokens v2 (AES-256-CBC), v3 and v4
//!   (AES-256-GCM), with the checks of `ref/uid2.md` §8 in the Java/.NET order, returning a
//!   [`Decrypted`] whose [`Status`] is one of SPEC §4.3.
//! - [`KeySet`]: the immutable, pre-keyed answer of a key refresh (`ref/uid2.md` §7.4).
//! - [`KeyCache`]: the hot-swapped slot the proxy reads (one `load` per request).
//! - [`envelope`]: the encrypted request/response envelope of the key endpoint (pure).
//! - `refresh` (cargo feature `refresh`): the async client that fetches key sets from the UID2
//!   operator and swaps them into a [`KeyCache`].
//!
//! ```
//! use bidsieve_uid2::{ClientType, KeyCache, KeySet, Status};
//!
//! let cache = KeyCache::new();
//! let now_ms = 1_748_736_000_000;
//! // Before the first refresh every token is NOT_INITIALIZED.
//! let d = cache.decrypt("A4AAAAPp...", now_ms, Some("example.com"), ClientType::Bidstream);
//! assert_eq!(d.status, Status::NotInitialized);
//!
//! // A key-refresh response (whole, or its `body`) becomes an immutable key set.
//! let keys = KeySet::from_json(br#"{"status":"success","body":{"keys":[{"id":1001,
//!     "created":1746057600,"activates":1746144000,"expires":1751328000,
//!     "secret":"SkrRcnCekcg0pJoXRkSew5PX/XfiOlEos4odjZXi098="}]}}"#)?;
//! cache.store(keys);
//! let d = cache.decrypt("not a token", now_ms, None, ClientType::Bidstream);
//! assert_eq!((d.status.as_str(), d.uid), ("INVALID_PAYLOAD", None));
//! # Ok::<(), bidsieve_uid2::KeySetError>(())
//! ```
//!
//! What it must not do: decryption and parsing do no I/O, take no lock and never panic on input;
//! only the `refresh` module (behind its feature) touches the network or tokio.

pub mod cache;
pub mod encoding;
pub mod envelope;
pub mod keyset;
#[cfg(feature = "refresh")]
pub mod refresh;
pub mod status;
pub mod token;

pub use cache::KeyCache;
pub use keyset::{KeySet, KeySetError};
pub use status::{ClientType, Decrypted, IdentityScope, IdentityType, Status, TokenVersion};
pub use token::decrypt;
