//! The `domain` field's normal form (SPEC §2.4): lower-case, without a leading `www.`.

use std::borrow::Cow;

/// Lower-cases `domain` and removes one leading `www.` (after lower-casing, so `WWW.` goes too).
///
/// Borrows whenever it can: an already lower-case domain, with or without `www.`, is returned as a
/// slice of the input. Filter lists are normalized with this same function so that both sides
/// compare equal. Non-ASCII text is lower-cased with Unicode rules.
#[must_use]
pub fn normalize_domain(domain: &str) -> Cow<'_, str> {
    normalize_domain_cow(Cow::Borrowed(domain))
}

/// [`normalize_domain`] for a value that may already be owned (decoded from escapes): an owned
/// string is lower-cased in place.
pub(crate) fn normalize_domain_cow(domain: Cow<'_, str>) -> Cow<'_, str> {
    strip_www(lowercase_cow(domain))
}

/// `text` lower-cased (ASCII in place, other text with Unicode rules), borrowed when nothing
/// changes case: the case folding of [`normalize_domain`], also applied to `app.bundle`.
pub(crate) fn lowercase_cow(domain: Cow<'_, str>) -> Cow<'_, str> {
    if domain.is_ascii() {
        if domain.bytes().any(|b| b.is_ascii_uppercase()) {
            let mut owned = domain.into_owned();
            owned.make_ascii_lowercase();
            Cow::Owned(owned)
        } else {
            domain
        }
    } else {
        let lower = domain.to_lowercase();
        if lower == *domain {
            domain
        } else {
            Cow::Owned(lower)
        }
    }
}

fn strip_www(domain: Cow<'_, str>) -> Cow<'_, str> {
    match domain {
        Cow::Borrowed(s) => Cow::Borrowed(s.strip_prefix("www.").unwrap_or(s)),
        Cow::Owned(mut s) => {
            if s.starts_with("www.") {
                s.drain(..4);
            }
            Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_and_www() {
        assert_eq!(normalize_domain("Example.COM"), "example.com");
        assert_eq!(normalize_domain("www.example.com"), "example.com");
        assert_eq!(normalize_domain("WWW.Example.com"), "example.com");
        assert_eq!(normalize_domain("www.www.example.com"), "www.example.com");
        assert_eq!(normalize_domain("wwwexample.com"), "wwwexample.com");
        assert_eq!(
            normalize_domain("sub.www.example.com"),
            "sub.www.example.com"
        );
        assert_eq!(normalize_domain("www."), "");
        assert_eq!(normalize_domain(""), "");
        assert_eq!(normalize_domain("MÜNCHEN.de"), "münchen.de");
        assert_eq!(normalize_domain("www.ÄÖ.de"), "äö.de");
    }

    #[test]
    fn borrows_when_nothing_changes_case() {
        assert!(matches!(
            normalize_domain("example.com"),
            Cow::Borrowed("example.com")
        ));
        assert!(matches!(
            normalize_domain("www.example.com"),
            Cow::Borrowed("example.com")
        ));
        assert!(matches!(normalize_domain("münchen.de"), Cow::Borrowed(_)));
        assert!(matches!(normalize_domain("Example.com"), Cow::Owned(_)));
    }

    #[test]
    fn lowercase_keeps_www() {
        assert_eq!(
            lowercase_cow(Cow::Borrowed("WWW.Com.Rovio")),
            "www.com.rovio"
        );
        assert!(matches!(
            lowercase_cow(Cow::Borrowed("com.rovio")),
            Cow::Borrowed("com.rovio")
        ));
        assert_eq!(lowercase_cow(Cow::Borrowed("Ünï.App")), "ünï.app");
    }

    #[test]
    fn owned_input_is_lowered_in_place() {
        let got = normalize_domain_cow(Cow::Owned("WWW.A.B".to_owned()));
        assert_eq!(got, "a.b");
    }
}
