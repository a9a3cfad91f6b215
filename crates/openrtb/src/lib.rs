//! Borrowed view of the OpenRTB bid-request fields that bidsieve's filters read, and the
//! rewrites bidsieve applies to bid responses.
//!
//! Everything here is pure: no I/O, no async, no allocation on the common path. The extractor
//! walks the request bytes once, validates the JSON syntax, and keeps only the fields listed in
//! SPEC §2.4 as slices of the input (`Cow::Borrowed`), decoding a string only when it holds an
//! escape sequence.
//!
//! - [`extract`]: body bytes → [`BidFields`] or a [`ParseError`] (the proxy's 400 message). It
//!   accepts exactly the JSON that `serde_json` accepts, and reads duplicate keys as `serde_json`'s
//!   `Value` does (the last one wins).
//! - [`decompress_gzip`]: gzip bodies → bytes, under a size limit ([`GzipError::TooLarge`] is a
//!   413, the other errors a 400).
//! - [`normalize_country`], [`normalize_domain`]: the normal forms of SPEC §2.4, shared with the
//!   filter crate so that list values and request values compare equal.

mod country;
mod cursor;
mod domain;
mod error;
mod extract;
mod fields;
mod gzip;

pub use country::{Country, normalize_country};
pub use domain::normalize_domain;
pub use error::{MAX_DEPTH, ParseError, SyntaxError};
pub use extract::extract;
pub use fields::{BidFields, Size, Sizes};
pub use gzip::{GzipError, decompress_gzip};
