//! Country codes: ISO 3166-1 alpha-2, with alpha-3 and `UK` mapped onto it.

/// A normalized country code: upper-case ISO 3166-1 alpha-2 when known; an unknown alpha-3 code
/// is kept as its three upper-case letters so that it still equals itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 3]);

impl Country {
    /// The code's text (`"GB"`, or an unknown alpha-3 such as `"XKX"`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        let len = if self.0[2] == 0 { 2 } else { 3 };
        // The bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0[..len]).unwrap_or("")
    }

    /// The raw bytes (third byte 0 for an alpha-2 code).
    #[must_use]
    pub const fn bytes(&self) -> [u8; 3] {
        self.0
    }
}

/// Normalizes a country code as SPEC §2.4 says. Returns `None` unless `code` is two or three
/// ASCII letters.
#[must_use]
pub fn normalize_country(code: &str) -> Option<Country> {
    todo_placeholder(code)
}

fn todo_placeholder(_code: &str) -> Option<Country> {
    None
}
