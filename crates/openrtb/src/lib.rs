//! Borrowed view of the OpenRTB bid-request fields that bidsieve's filters read, and the
//! rewrites bidsieve applies to bid responses.
//!
//! Everything here is pure: no I/O, no async, no allocation on the common path. The extractor
//! walks the request bytes once, validates the JSON syntax, and keeps only the fields listed in
//! SPEC §2.4 as slices of the input (`Cow::Borrowed`), decoding a string only when it holds an
//! escape sequence.

mod country;
mod fields;

pub use country::{Country, normalize_country};
pub use fields::{BidFields, Size, Sizes};
