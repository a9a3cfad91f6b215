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
//! - [`rewrite_response`]: the bid-response rewrites of SPEC §6 (notice URLs sealed into win
//!   URLs, a tag appended to HTML `adm`), spliced into the original bytes; [`WinKey`] seals and
//!   opens win tokens; [`substitute_macros`] puts a win URL's macro values back into the bidder's
//!   URL.

mod country;
mod cursor;
mod domain;
mod error;
mod extract;
mod fields;
mod gzip;
mod macros;
mod response;
mod win_token;

pub use country::{Country, normalize_country};
pub use domain::normalize_domain;
pub use error::{MAX_DEPTH, ParseError, SyntaxError};
pub use extract::extract;
pub use fields::{BidFields, Size, Sizes};
pub use gzip::{GzipError, decompress_gzip};
pub use macros::{MACROS, Macro, substitute_macros};
pub use response::{NoticeSealing, ResponseRewrite, Rewritten, rewrite_response, win_url};
pub use win_token::{
    MAX_NOTICE_URL, MAX_TOKEN_LEN, Notice, NoticeKind, OpenError, OpenedNotice, SealError,
    TOKEN_VERSION, WinKey,
};
