//! The extracted fields of one bid request (SPEC §2.4).

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::Country;

/// A banner size, `w` x `h` in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Size {
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Size {
    /// The size packed in one integer (`w << 32 | h`), the key compiled size sets use.
    #[must_use]
    pub const fn key(self) -> u64 {
        ((self.w as u64) << 32) | self.h as u64
    }
}

/// Every banner size of a request; inline for the common case of a few sizes.
pub type Sizes = SmallVec<[Size; 8]>;

/// The fields of a bid request that filters and the pipeline read, borrowed from the body.
///
/// Strings are `Cow::Borrowed` slices of the request bytes unless the JSON string held an escape
/// sequence (or, for `domain`, needed lower-casing), in which case they are decoded into an
/// owned `String`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BidFields<'a> {
    /// `id`: the bid request id (required, a string).
    pub id: Cow<'a, str>,
    /// Number of entries in `imp` (required, at least one).
    pub imp_count: u32,
    /// `tmax`: the exchange's time limit in milliseconds, when present and a non-negative integer.
    pub tmax: Option<u64>,
    /// `user.id`, when a string.
    pub user_id: Option<Cow<'a, str>>,
    /// `device.geo.country`, else `user.geo.country`, normalized (see
    /// [`normalize_country`](crate::normalize_country)); a device country that does not
    /// normalize (empty, not a string, not 2-3 letters) falls back to the user's.
    pub country: Option<Country>,
    /// Every `imp[].banner.w`x`h` and `imp[].banner.format[].w`x`h`, duplicates kept: imps in
    /// order, and per imp the banner's own `w`x`h` first, then its `format` entries in order. A
    /// size whose `w` or `h` is missing or not a non-negative integer that fits `u32` is skipped.
    pub sizes: Sizes,
    /// `ext.authenticated.authed.score`, when a finite number.
    pub authed: Option<f64>,
    /// `site.domain` lower-cased with a leading `www.` removed (see
    /// [`normalize_domain`](crate::normalize_domain)), unless that is empty or not a string;
    /// else `app.bundle` lower-cased (bundle ids compare case-insensitively; no `www.` is
    /// removed), unless empty or not a string.
    pub domain: Option<Cow<'a, str>>,
    /// True when `domain` came from `app.bundle` rather than `site.domain`.
    pub domain_is_app: bool,
    /// The first `uids[].id` of the `user.eids` (OpenRTB 2.6), else `user.ext.eids` (2.5),
    /// entry whose `source` is `uidapi.com`: entries and uids in order, the first `id` that is a
    /// non-empty string.
    pub uid2_token: Option<Cow<'a, str>>,
}
