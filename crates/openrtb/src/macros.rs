//! The OpenRTB 2.x auction substitution macros (OpenRTB 2.6 §4.4) as they travel through a
//! sealed win URL (SPEC §6).
//!
//! When bidsieve seals a bidder's `nurl`/`burl`, the macros that URL used move into the query
//! string of the win URL, literally, one key per macro (`price=${AUCTION_PRICE}`), so that the
//! supplier's substitution still happens. On `GET /win/{token}` the values the supplier put there
//! go back into the original URL, at the places the macros held.
//!
//! All twelve macros of §4.4 are recognised, each also in its Base64 form (`${AUCTION_PRICE:B64}`,
//! the `:B64` suffix of §4.4): 24 macros, 24 query keys ([`MACROS`]). Macros are matched
//! literally and case-sensitively, as suppliers substitute them; a percent-encoded macro
//! (`%24%7BAUCTION_PRICE%7D`) is not a macro.
//!
//! Values are carried verbatim: bidsieve neither decodes nor re-encodes what the supplier
//! substituted, so the bidder receives the exact bytes it would have received had the supplier
//! called its URL directly. A value therefore ends at the next `&` of the win URL's query string
//! (a supplier that substitutes a raw `&` breaks the bidder's own query string the same way).

/// One macro: its literal form in a URL and the query key that carries it in a win URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Macro {
    /// The literal text, e.g. `${AUCTION_PRICE}`.
    pub literal: &'static str,
    /// The win URL's query key, e.g. `price`.
    pub key: &'static str,
}

const fn m(literal: &'static str, key: &'static str) -> Macro {
    Macro { literal, key }
}

/// Every macro bidsieve carries, in the order their keys appear in a win URL's query string.
pub const MACROS: [Macro; 24] = [
    m("${AUCTION_ID}", "auction"),
    m("${AUCTION_BID_ID}", "bid"),
    m("${AUCTION_IMP_ID}", "imp"),
    m("${AUCTION_SEAT_ID}", "seat"),
    m("${AUCTION_AD_ID}", "ad"),
    m("${AUCTION_PRICE}", "price"),
    m("${AUCTION_CURRENCY}", "cur"),
    m("${AUCTION_MBR}", "mbr"),
    m("${AUCTION_LOSS}", "loss"),
    m("${AUCTION_MIN_TO_WIN}", "mtw"),
    m("${AUCTION_MULTIPLIER}", "mult"),
    m("${AUCTION_IMP_TS}", "ts"),
    m("${AUCTION_ID:B64}", "auction_b64"),
    m("${AUCTION_BID_ID:B64}", "bid_b64"),
    m("${AUCTION_IMP_ID:B64}", "imp_b64"),
    m("${AUCTION_SEAT_ID:B64}", "seat_b64"),
    m("${AUCTION_AD_ID:B64}", "ad_b64"),
    m("${AUCTION_PRICE:B64}", "price_b64"),
    m("${AUCTION_CURRENCY:B64}", "cur_b64"),
    m("${AUCTION_MBR:B64}", "mbr_b64"),
    m("${AUCTION_LOSS:B64}", "loss_b64"),
    m("${AUCTION_MIN_TO_WIN:B64}", "mtw_b64"),
    m("${AUCTION_MULTIPLIER:B64}", "mult_b64"),
    m("${AUCTION_IMP_TS:B64}", "ts_b64"),
];

/// Common start of every macro.
const PREFIX: &str = "${AUCTION_";

/// The macro starting at the beginning of `text`, by its index in [`MACROS`].
fn macro_at(text: &str) -> Option<usize> {
    if !text.starts_with(PREFIX) {
        return None;
    }
    MACROS.iter().position(|m| text.starts_with(m.literal))
}

/// Calls `found(index, start)` for every macro occurrence in `url`, left to right.
fn each_macro(url: &str, mut found: impl FnMut(usize, usize)) {
    let bytes = url.as_bytes();
    let mut from = 0;
    while let Some(k) = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr(b'$', rest))
    {
        let at = from + k;
        match url.get(at..).and_then(macro_at) {
            Some(index) => {
                found(index, at);
                from = at + MACROS.get(index).map_or(1, |m| m.literal.len());
            }
            None => from = at + 1,
        }
    }
}

/// The set of macros `url` uses, one bit per index of [`MACROS`].
pub(crate) fn used_macros(url: &str) -> u32 {
    let mut used = 0u32;
    each_macro(url, |index, _| used |= 1 << index);
    used
}

/// Appends the win URL's query string for the macros in `used` (`?price=${AUCTION_PRICE}&...`),
/// nothing when `used` is empty. The text needs no JSON escaping.
pub(crate) fn push_query(used: u32, out: &mut String) {
    let mut sep = '?';
    for (index, m) in MACROS.iter().enumerate() {
        if used & (1 << index) != 0 {
            out.push(sep);
            out.push_str(m.key);
            out.push('=');
            out.push_str(m.literal);
            sep = '&';
        }
    }
}

/// The win URL's query string as values by macro index: the first occurrence of each key wins;
/// unknown keys are ignored; a key without `=` has the empty value.
fn query_values(query: &str) -> [Option<&str>; 24] {
    let mut values = [None; 24];
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let Some(index) = MACROS.iter().position(|m| m.key == key)
            && let Some(slot) = values.get_mut(index)
            && slot.is_none()
        {
            *slot = Some(value);
        }
    }
    values
}

/// The original notice URL with the values received in a win URL's `query` string put where
/// its macros stand. A macro whose key is absent from the query stays as it is (the supplier did
/// not substitute it). Values are copied verbatim (see the module doc).
pub fn substitute_macros(url: &str, query: &str) -> String {
    let values = query_values(query);
    let mut out = String::with_capacity(url.len() + query.len());
    let mut copied = 0;
    each_macro(url, |index, at| {
        let Some(m) = MACROS.get(index) else {
            return;
        };
        if let Some(Some(value)) = values.get(index) {
            out.push_str(url.get(copied..at).unwrap_or_default());
            out.push_str(value);
            copied = at + m.literal.len();
        }
    });
    out.push_str(url.get(copied..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_url_safe() {
        for (i, a) in MACROS.iter().enumerate() {
            assert!(a.literal.starts_with(PREFIX) && a.literal.ends_with('}'));
            assert!(
                a.key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            );
            for b in MACROS.iter().skip(i + 1) {
                assert_ne!(a.key, b.key);
                assert_ne!(a.literal, b.literal);
            }
        }
    }

    #[test]
    fn finds_the_macros_a_url_uses() {
        let url = "http://b.example/win?p=${AUCTION_PRICE}&i=${AUCTION_IMP_ID}&p2=${AUCTION_PRICE}\
                   &e=${AUCTION_PRICE:B64}&x=${AUCTION_NOPE}&y=$&z=${AUCTION_";
        let used = used_macros(url);
        let mut q = String::new();
        push_query(used, &mut q);
        assert_eq!(
            q,
            "?imp=${AUCTION_IMP_ID}&price=${AUCTION_PRICE}&price_b64=${AUCTION_PRICE:B64}"
        );
        let mut none = String::new();
        push_query(used_macros("http://b.example/win?x=1"), &mut none);
        assert_eq!(none, "");
    }

    #[test]
    fn every_macro_round_trips() {
        for m in MACROS {
            let url = format!("http://b.example/n/{}?a={}", m.literal, m.literal);
            let used = used_macros(&url);
            assert_eq!(used.count_ones(), 1, "{}", m.literal);
            let query = format!("{}=v-{}", m.key, m.key);
            assert_eq!(
                substitute_macros(&url, &query),
                format!("http://b.example/n/v-{k}?a=v-{k}", k = m.key)
            );
        }
    }

    #[test]
    fn substitution_is_verbatim_and_keeps_unsent_macros() {
        let url = "http://b.example/win?price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}&cur=${AUCTION_CURRENCY}";
        assert_eq!(
            substitute_macros(url, "price=1.5%3D&imp=&zzz=9&price=2"),
            "http://b.example/win?price=1.5%3D&imp=&cur=${AUCTION_CURRENCY}"
        );
        assert_eq!(substitute_macros(url, ""), url);
        // A value cannot cross into another key.
        assert_eq!(
            substitute_macros("http://b/?a=${AUCTION_ID}", "auction=x&evil=y"),
            "http://b/?a=x"
        );
        // Macros next to each other and a key given without `=`.
        assert_eq!(
            substitute_macros("http://b/${AUCTION_ID}${AUCTION_BID_ID}", "auction&bid=2"),
            "http://b/2"
        );
    }
}
