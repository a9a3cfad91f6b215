//! One pass over a bid request's bytes that validates the whole document and keeps the SPEC §2.4
//! fields.
//!
//! Rules the walker applies, matching what a `serde_json::Value` reading of the same body gives:
//! - Duplicate keys: the last occurrence wins, at every level (a second `"device"` replaces
//!   everything the first one gave, a second `"banner"` in an imp replaces its sizes).
//! - A member of the wrong type counts as absent (`"tmax":"100"` gives no `tmax`, `"site":[]` gives
//!   no site domain); only the three requirements of [`ParseError`] refuse a request.
//! - `country`: `device.geo.country` when it is a string that [`normalize_country`] accepts,
//!   otherwise `user.geo.country` under the same condition.
//! - `domain`: the normalized `site.domain` when it is a string and not empty after
//!   normalization; otherwise `app.bundle`, lower-cased, when it is a non-empty string.
//! - `sizes`: per imp, in order, `banner.w`x`banner.h` first (when both are valid), then each
//!   `banner.format[]` entry with a valid `w` and `h`. Valid means a non-negative integer token
//!   that fits `u32` (`300.0`, `-1`, `"300"` are skipped).
//! - `uid2_token`: over the entries of `user.eids` whose `source` is exactly `uidapi.com`, in
//!   order, the first `uids[]` element whose `id` is a non-empty string; when `user.eids` yields
//!   none, the same over `user.ext.eids`.

use crate::country::normalize_country_bytes;
use crate::cursor::{Cursor, Fail, MAX_BODY, RawStr, Result};
use crate::domain::{lowercase_cow, normalize_domain_cow};
use crate::{BidFields, Country, ParseError, Size, Sizes, normalize_country};

/// Validates `body` as JSON and extracts the bid request fields the filters read.
///
/// One pass, no document tree; strings are borrowed from `body` unless they hold escapes (or, for
/// the domain or bundle, need lower-casing). See the module rules above for duplicates and wrong types.
///
/// ```
/// let body = br#"{"id":"r1","imp":[{"banner":{"w":300,"h":250}}],"site":{"domain":"www.Example.com"}}"#;
/// let fields = bidsieve_openrtb::extract(body)?;
/// assert_eq!(fields.id, "r1");
/// assert_eq!(fields.sizes.len(), 1);
/// assert_eq!(fields.domain.as_deref(), Some("example.com"));
/// assert!(bidsieve_openrtb::extract(b"{\"id\":\"r1\",\"imp\":[]}").is_err());
/// # Ok::<(), bidsieve_openrtb::ParseError>(())
/// ```
///
/// # Errors
/// [`ParseError::Syntax`] or [`ParseError::TooDeep`] when `body` is not JSON as `serde_json`
/// defines it; [`ParseError::NotObject`], [`ParseError::MissingId`] or [`ParseError::MissingImp`]
/// when it is JSON but not a bid request; [`ParseError::TooLarge`] for a body of 2 GiB or more.
/// Syntax is checked over the whole body first, so a malformed body is always reported as such.
pub fn extract(body: &[u8]) -> std::result::Result<BidFields<'_>, ParseError> {
    if body.len() > MAX_BODY {
        return Err(ParseError::TooLarge);
    }
    let mut cursor = Cursor::new(body);
    let mut request = Request::default();
    let walked = cursor
        .if_object(|cursor, key| request.member(cursor, key))
        .and_then(|is_object| cursor.finish().map(|()| is_object));
    match walked {
        Ok(true) => request.into_fields(body),
        Ok(false) => Err(ParseError::NotObject),
        Err(Fail) => Err(cursor.error()),
    }
}

/// What the walk has kept so far; every member overwrites its slot (last wins). Strings stay
/// undecoded until the walk is over, so only the ones returned are ever converted.
#[derive(Default)]
struct Request {
    id: Option<RawStr>,
    /// `Some(n)` when `imp` is an array of `n` elements.
    imp_count: Option<u32>,
    sizes: Sizes,
    tmax: Option<u64>,
    site_domain: Option<RawStr>,
    app_bundle: Option<RawStr>,
    device_country: Option<RawStr>,
    user: User,
    authed: Option<f64>,
}

#[derive(Default)]
struct User {
    id: Option<RawStr>,
    country: Option<RawStr>,
    eids_token: Option<RawStr>,
    ext_eids_token: Option<RawStr>,
}

impl Request {
    #[inline(always)]
    fn member(&mut self, cursor: &mut Cursor<'_>, key: &[u8]) -> Result<()> {
        match key {
            b"id" => self.id = cursor.string_value()?,
            b"imp" => {
                self.sizes.clear();
                let mut count = 0u32;
                let sizes = &mut self.sizes;
                let is_array = cursor.if_array(|cursor| {
                    count = count.saturating_add(1);
                    imp(cursor, sizes)
                })?;
                self.imp_count = is_array.then_some(count);
            }
            b"tmax" => self.tmax = cursor.u64_value()?,
            b"site" => self.site_domain = string_member(cursor, b"domain")?,
            b"app" => self.app_bundle = string_member(cursor, b"bundle")?,
            b"device" => {
                self.device_country =
                    object_member(cursor, b"geo", |c| string_member(c, b"country"))?;
            }
            b"user" => self.user = user(cursor)?,
            b"ext" => {
                self.authed = object_member(cursor, b"authenticated", |c| {
                    object_member(c, b"authed", |c| {
                        let mut score = None;
                        c.if_object(|c, key| {
                            if key == b"score" {
                                score = c.f64_value()?;
                                Ok(())
                            } else {
                                c.skip_value()
                            }
                        })?;
                        Ok(score)
                    })
                })?;
            }
            _ => cursor.skip_value()?,
        }
        Ok(())
    }

    fn into_fields(self, buf: &[u8]) -> std::result::Result<BidFields<'_>, ParseError> {
        let id = self.id.ok_or(ParseError::MissingId)?.to_cow(buf)?;
        let imp_count = self
            .imp_count
            .filter(|&n| n > 0)
            .ok_or(ParseError::MissingImp)?;
        let country = match country(self.device_country, buf)? {
            Some(country) => Some(country),
            None => country(self.user.country, buf)?,
        };
        let site = match self.site_domain {
            Some(raw) => Some(normalize_domain_cow(raw.to_cow(buf)?)).filter(|d| !d.is_empty()),
            None => None,
        };
        let (domain, domain_is_app) = match (site, self.app_bundle) {
            (Some(domain), _) => (Some(domain), false),
            (None, Some(bundle)) if !bundle.is_empty() => {
                (Some(lowercase_cow(bundle.to_cow(buf)?)), true)
            }
            (None, _) => (None, false),
        };
        Ok(BidFields {
            id,
            imp_count,
            tmax: self.tmax,
            user_id: self.user.id.map(|raw| raw.to_cow(buf)).transpose()?,
            country,
            sizes: self.sizes,
            authed: self.authed,
            domain,
            domain_is_app,
            uid2_token: self
                .user
                .eids_token
                .or(self.user.ext_eids_token)
                .map(|raw| raw.to_cow(buf))
                .transpose()?,
        })
    }
}

/// The normalized country of a `country` string, if it is one.
fn country(raw: Option<RawStr>, buf: &[u8]) -> std::result::Result<Option<Country>, ParseError> {
    Ok(match raw {
        Some(raw) if raw.is_escaped() => normalize_country(&raw.to_cow(buf)?),
        Some(raw) => normalize_country_bytes(raw.bytes(buf)),
        None => None,
    })
}

/// The string member `name` of the next value when that is an object (last occurrence wins).
fn string_member(cursor: &mut Cursor<'_>, name: &[u8]) -> Result<Option<RawStr>> {
    let mut out = None;
    cursor.if_object(|cursor, key| {
        if key == name {
            out = cursor.string_value()?;
            Ok(())
        } else {
            cursor.skip_value()
        }
    })?;
    Ok(out)
}

/// `inner` applied to member `name` of the next value when that is an object (last occurrence
/// wins); `T::default()` when there is no such member.
fn object_member<'a, T, F>(cursor: &mut Cursor<'a>, name: &[u8], mut inner: F) -> Result<T>
where
    T: Default,
    F: FnMut(&mut Cursor<'a>) -> Result<T>,
{
    let mut out = T::default();
    cursor.if_object(|cursor, key| {
        if key == name {
            out = inner(cursor)?;
            Ok(())
        } else {
            cursor.skip_value()
        }
    })?;
    Ok(out)
}

fn user(cursor: &mut Cursor<'_>) -> Result<User> {
    let mut user = User::default();
    cursor.if_object(|cursor, key| {
        match key {
            b"id" => user.id = cursor.string_value()?,
            b"geo" => user.country = string_member(cursor, b"country")?,
            b"eids" => user.eids_token = eids(cursor)?,
            b"ext" => user.ext_eids_token = object_member(cursor, b"eids", eids)?,
            _ => cursor.skip_value()?,
        }
        Ok(())
    })?;
    Ok(user)
}

/// The UID2 token of an `eids` array: see the module rules.
fn eids(cursor: &mut Cursor<'_>) -> Result<Option<RawStr>> {
    let mut token = None;
    cursor.if_array(|cursor| {
        if token.is_some() {
            return cursor.skip_value();
        }
        let mut source = None;
        let mut first_id = None;
        cursor.if_object(|cursor, key| {
            match key {
                b"source" => source = cursor.string_value()?,
                b"uids" => first_id = first_uid(cursor)?,
                _ => cursor.skip_value()?,
            }
            Ok(())
        })?;
        if source.is_some_and(|s| s.equals(cursor.buf(), "uidapi.com")) {
            token = first_id;
        }
        Ok(())
    })?;
    Ok(token)
}

/// The first non-empty string `id` of a `uids` array.
fn first_uid(cursor: &mut Cursor<'_>) -> Result<Option<RawStr>> {
    let mut first = None;
    cursor.if_array(|cursor| {
        if first.is_some() {
            return cursor.skip_value();
        }
        first = string_member(cursor, b"id")?.filter(|id| !id.is_empty());
        Ok(())
    })?;
    Ok(first)
}

/// One `imp[]` element: its banner's sizes are appended to `sizes`.
fn imp(cursor: &mut Cursor<'_>, sizes: &mut Sizes) -> Result<()> {
    let start = sizes.len();
    cursor.if_object(|cursor, key| {
        if key == b"banner" {
            // A repeated `banner` replaces the sizes the earlier one gave.
            sizes.truncate(start);
            banner(cursor, sizes)
        } else {
            cursor.skip_value()
        }
    })?;
    Ok(())
}

fn banner(cursor: &mut Cursor<'_>, sizes: &mut Sizes) -> Result<()> {
    let start = sizes.len();
    let mut w = None;
    let mut h = None;
    cursor.if_object(|cursor, key| {
        match key {
            b"w" => w = dimension(cursor)?,
            b"h" => h = dimension(cursor)?,
            b"format" => {
                sizes.truncate(start);
                cursor.if_array(|cursor| {
                    if let Some(size) = format(cursor)? {
                        sizes.push(size);
                    }
                    Ok(())
                })?;
            }
            _ => cursor.skip_value()?,
        }
        Ok(())
    })?;
    // Only `format` pushes above `start`, and it never truncates below it.
    if let (Some(w), Some(h)) = (w, h)
        && start <= sizes.len()
    {
        sizes.insert(start, Size { w, h });
    }
    Ok(())
}

fn format(cursor: &mut Cursor<'_>) -> Result<Option<Size>> {
    let mut w = None;
    let mut h = None;
    cursor.if_object(|cursor, key| {
        match key {
            b"w" => w = dimension(cursor)?,
            b"h" => h = dimension(cursor)?,
            _ => cursor.skip_value()?,
        }
        Ok(())
    })?;
    Ok(w.zip(h).map(|(w, h)| Size { w, h }))
}

/// A width or height: a non-negative integer that fits `u32`.
#[inline]
fn dimension(cursor: &mut Cursor<'_>) -> Result<Option<u32>> {
    Ok(cursor.u64_value()?.and_then(|n| u32::try_from(n).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyntaxError;
    use std::borrow::Cow;

    fn ok(body: &str) -> BidFields<'_> {
        extract(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// A minimal valid request with `extra` members appended at the top level.
    fn req(extra: &str) -> String {
        if extra.is_empty() {
            r#"{"id":"r1","imp":[{"id":"1"}]}"#.to_owned()
        } else {
            format!(r#"{{"id":"r1","imp":[{{"id":"1"}}],{extra}}}"#)
        }
    }

    fn sizes(body: &str) -> Vec<(u32, u32)> {
        ok(body).sizes.iter().map(|s| (s.w, s.h)).collect()
    }

    #[test]
    fn minimal_request() {
        let body = req("");
        let f = ok(&body);
        assert_eq!(f.id, "r1");
        assert!(matches!(f.id, Cow::Borrowed(_)));
        assert_eq!(f.imp_count, 1);
        assert_eq!(f.tmax, None);
        assert_eq!(f.user_id, None);
        assert_eq!(f.country, None);
        assert!(f.sizes.is_empty());
        assert_eq!(f.authed, None);
        assert_eq!(f.domain, None);
        assert!(!f.domain_is_app);
        assert_eq!(f.uid2_token, None);
    }

    #[test]
    fn required_members() {
        let err = |body: &str| extract(body.as_bytes()).unwrap_err();
        assert_eq!(err("[]"), ParseError::NotObject);
        assert_eq!(err("\"id\""), ParseError::NotObject);
        assert_eq!(err("null"), ParseError::NotObject);
        assert_eq!(err("{}"), ParseError::MissingId);
        assert_eq!(err(r#"{"imp":[{}]}"#), ParseError::MissingId);
        assert_eq!(err(r#"{"id":1,"imp":[{}]}"#), ParseError::MissingId);
        assert_eq!(err(r#"{"id":null,"imp":[{}]}"#), ParseError::MissingId);
        assert_eq!(err(r#"{"id":"a"}"#), ParseError::MissingImp);
        assert_eq!(err(r#"{"id":"a","imp":[]}"#), ParseError::MissingImp);
        assert_eq!(err(r#"{"id":"a","imp":{}}"#), ParseError::MissingImp);
        assert_eq!(err(r#"{"id":"a","imp":"x"}"#), ParseError::MissingImp);
        // Last wins: a later empty imp undoes an earlier good one, and the reverse.
        assert_eq!(
            err(r#"{"id":"a","imp":[{}],"imp":[]}"#),
            ParseError::MissingImp
        );
        assert_eq!(ok(r#"{"id":"a","imp":[],"imp":[1,2]}"#).imp_count, 2);
        assert_eq!(
            err(r#"{"id":"a","id":5,"imp":[{}]}"#),
            ParseError::MissingId
        );
        // Any element type counts.
        assert_eq!(ok(r#"{"id":"","imp":[null,{},3]}"#).imp_count, 3);
    }

    #[test]
    fn syntax_errors_win_over_missing_members() {
        for body in [
            r#"{"imp":[],"x":tru}"#,
            r#"{"id":"a","imp":[{}]} x"#,
            r#"{"id":"a","imp":[{}],}"#,
            r#"{"id":"a","imp":[{}]"#,
            "[1,2",
            r#"{"id":"a\q","imp":[{}]}"#,
            r#"{"id":"a","imp":[{}],"site":{"domain":"x.com","page":"a\u00"}}"#,
            "",
        ] {
            let e = extract(body.as_bytes()).unwrap_err();
            assert!(matches!(e, ParseError::Syntax { .. }), "{body}: {e:?}");
        }
        let deep = format!(
            r#"{{"id":"a","imp":[{{}}],"x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(extract(deep.as_bytes()).unwrap_err(), ParseError::TooDeep);
        // The depth counts the known objects the walker enters too.
        let nested = format!(
            r#"{{"id":"a","imp":[{{"banner":{{"format":[{{"ext":{}{}}}]}}}}]}}"#,
            "[".repeat(122),
            "]".repeat(122)
        );
        assert_eq!(extract(nested.as_bytes()).unwrap_err(), ParseError::TooDeep);
        let fits = format!(
            r#"{{"id":"a","imp":[{{"banner":{{"format":[{{"ext":{}{}}}]}}}}]}}"#,
            "[".repeat(121),
            "]".repeat(121)
        );
        assert!(extract(fits.as_bytes()).is_ok());
    }

    #[test]
    fn error_offsets_point_at_the_problem() {
        let body = br#"{"id":"a","imp":[{}],"x":[1,,2]}"#;
        assert_eq!(
            extract(body).unwrap_err(),
            ParseError::Syntax {
                kind: SyntaxError::UnexpectedCharacter,
                at: 28
            }
        );
    }

    #[test]
    fn id_and_user_id() {
        let f = ok(r#"{"id":"a\u0062c","imp":[{}],"user":{"id":"u-1"}}"#);
        assert_eq!(f.id, "abc");
        assert!(matches!(f.id, Cow::Owned(_)));
        assert_eq!(f.user_id.as_deref(), Some("u-1"));
        assert!(matches!(f.user_id, Some(Cow::Borrowed(_))));
        assert_eq!(ok(&req(r#""user":{"id":7}"#)).user_id, None);
        assert_eq!(ok(&req(r#""user":{"id":"a"},"user":{}"#)).user_id, None);
        assert_eq!(
            ok(&req(r#""user":{"id":"a","id":"b"}"#)).user_id.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn keys_off_the_compact_fast_path_still_match() {
        // Escaped keys, whitespace before the colon and keys within 16 bytes of the end of the
        // body each leave the borrowed-key fast path for the general one.
        let f = ok(r#"{"i\u0064":"r1", "imp" :[{"banner" :{"w":300,"h":250}}],"t\u006dax" : 90}"#);
        assert_eq!(f.id, "r1");
        assert_eq!(f.tmax, Some(90));
        assert_eq!(f.sizes.len(), 1);
        let f = ok("{\"imp\":[{}],\n  \"id\"\t:\r\"r2\"}");
        assert_eq!(f.id, "r2");
        let err = extract(br#"{"id":"r1","imp":[{}],"x" "#).unwrap_err();
        assert_eq!(
            err,
            ParseError::Syntax {
                kind: SyntaxError::UnexpectedEnd,
                at: 26
            }
        );
        let err = extract(br#"{"id":"r1","imp":[{}],"x" 1}"#).unwrap_err();
        assert_eq!(
            err,
            ParseError::Syntax {
                kind: SyntaxError::ExpectedColon,
                at: 26
            }
        );
    }

    #[test]
    fn tmax() {
        assert_eq!(ok(&req(r#""tmax":120"#)).tmax, Some(120));
        assert_eq!(ok(&req(r#""tmax":0"#)).tmax, Some(0));
        assert_eq!(ok(&req(r#""tmax":-5"#)).tmax, None);
        assert_eq!(ok(&req(r#""tmax":1.5"#)).tmax, None);
        assert_eq!(ok(&req(r#""tmax":"100""#)).tmax, None);
        assert_eq!(ok(&req(r#""tmax":99999999999999999999"#)).tmax, None);
        assert_eq!(ok(&req(r#""tmax":100,"tmax":null"#)).tmax, None);
    }

    #[test]
    fn country_from_device_then_user() {
        let c = |extra: &str| ok(&req(extra)).country.map(|c| c.as_str().to_owned());
        assert_eq!(
            c(r#""device":{"geo":{"country":"USA"}}"#).as_deref(),
            Some("US")
        );
        assert_eq!(
            c(r#""user":{"geo":{"country":"gbr"}}"#).as_deref(),
            Some("GB")
        );
        assert_eq!(
            c(r#""device":{"geo":{"country":"DEU"}},"user":{"geo":{"country":"FRA"}}"#).as_deref(),
            Some("DE")
        );
        // An unusable device country falls back to the user's.
        assert_eq!(
            c(r#""device":{"geo":{"country":""}},"user":{"geo":{"country":"UK"}}"#).as_deref(),
            Some("GB")
        );
        assert_eq!(
            c(r#""device":{"geo":{"country":1}},"user":{"geo":{"country":"fr"}}"#).as_deref(),
            Some("FR")
        );
        assert_eq!(
            c(r#""device":{"geo":{"country":"XKX"}}"#).as_deref(),
            Some("XKX")
        );
        assert_eq!(c(r#""device":{"geo":{"country":"United States"}}"#), None);
        assert_eq!(c(r#""device":{"geo":"US"}"#), None);
        assert_eq!(
            c(r#""device":{"geo":{"country":"\u0055\u0053"}}"#).as_deref(),
            Some("US")
        );
        // Last wins at each level.
        assert_eq!(
            c(r#""device":{"geo":{"country":"US"}},"device":{"ip":"1"}"#),
            None
        );
        assert_eq!(c(r#""device":{"geo":{"country":"US"},"geo":{}}"#), None);
        assert_eq!(
            c(r#""device":{"geo":{"country":"US","country":"CAN"}}"#).as_deref(),
            Some("CA")
        );
    }

    #[test]
    fn sizes_from_banner_and_format() {
        let body = r#"{"id":"a","imp":[
            {"banner":{"format":[{"w":300,"h":250},{"w":728,"h":90}],"w":320,"h":50}},
            {"video":{"w":640,"h":480}},
            {"banner":{"w":160,"h":600}},
            {"banner":{"format":[{"w":1,"h":2,"ext":{"w":9}},{"w":3},{"h":4},"x",{"w":-1,"h":5},
                {"w":300.0,"h":250},{"w":"300","h":250},{"w":4294967296,"h":1},{"w":4294967295,"h":0}]}}
        ]}"#;
        assert_eq!(
            sizes(body),
            [
                (320, 50),
                (300, 250),
                (728, 90),
                (160, 600),
                (1, 2),
                (u32::MAX, 0)
            ]
        );
        assert_eq!(ok(body).imp_count, 4);
    }

    #[test]
    fn sizes_last_wins() {
        // A repeated banner replaces its imp's sizes; other imps keep theirs.
        let body = r#"{"id":"a","imp":[{"banner":{"w":1,"h":1}},
            {"banner":{"w":2,"h":2,"format":[{"w":3,"h":3}]},"banner":{"w":4,"h":4}}]}"#;
        assert_eq!(sizes(body), [(1, 1), (4, 4)]);
        // A repeated format replaces the earlier format entries but not w x h.
        let body = r#"{"id":"a","imp":[{"banner":{"format":[{"w":5,"h":5}],"w":6,"h":6,
            "format":[{"w":7,"h":7}]}}]}"#;
        assert_eq!(sizes(body), [(6, 6), (7, 7)]);
        let body = r#"{"id":"a","imp":[{"banner":{"w":6,"h":6,"w":"x"}}]}"#;
        assert!(sizes(body).is_empty());
        let body =
            r#"{"id":"a","imp":[{"banner":{"w":1,"h":1}}],"imp":[{"banner":{"w":2,"h":2}}]}"#;
        assert_eq!(sizes(body), [(2, 2)]);
        let body = r#"{"id":"a","imp":[{"banner":{"w":1,"h":1},"banner":null}]}"#;
        assert!(sizes(body).is_empty());
    }

    #[test]
    fn many_sizes_spill_to_the_heap() {
        let formats: Vec<String> = (1..=20)
            .map(|i| format!(r#"{{"w":{i},"h":{i}}}"#))
            .collect();
        let body = format!(
            r#"{{"id":"a","imp":[{{"banner":{{"format":[{}]}}}}]}}"#,
            formats.join(",")
        );
        let got = sizes(&body);
        assert_eq!(got.len(), 20);
        assert_eq!(got[19], (20, 20));
    }

    #[test]
    fn authed_score() {
        let a = |extra: &str| ok(&req(extra)).authed;
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":0.87}}}"#),
            Some(0.87)
        );
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":3}}}"#),
            Some(3.0)
        );
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":-1e-3}}}"#),
            Some(-0.001)
        );
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":"0.5"}}}"#),
            None
        );
        assert_eq!(a(r#""ext":{"authenticated":{"authed":0.5}}"#), None);
        assert_eq!(a(r#""ext":{"authed":{"score":0.5}}"#), None);
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":0.5}}},"ext":{}"#),
            None
        );
        assert_eq!(
            a(r#""ext":{"authenticated":{"authed":{"score":0.5,"score":0.25}}}"#),
            Some(0.25)
        );
    }

    #[test]
    fn domain_from_site_then_app() {
        let d = |extra: &str| {
            let body = req(extra);
            let f = extract(body.as_bytes()).unwrap();
            (f.domain.map(Cow::into_owned), f.domain_is_app)
        };
        assert_eq!(
            d(r#""site":{"domain":"WWW.Example.COM"}"#),
            (Some("example.com".into()), false)
        );
        assert_eq!(
            d(r#""site":{"domain":"news.example.com"},"app":{"bundle":"com.x"}"#),
            (Some("news.example.com".into()), false)
        );
        assert_eq!(
            d(r#""app":{"bundle":"com.Rovio.angry"}"#),
            (Some("com.rovio.angry".into()), true)
        );
        // A bundle is only lower-cased: no `www.` is removed.
        assert_eq!(
            d(r#""app":{"bundle":"WWW.App"}"#),
            (Some("www.app".into()), true)
        );
        assert_eq!(
            d(r#""app":{"bundle":"COM.\u00C9T\u00C9"}"#),
            (Some("com.été".into()), true)
        );
        assert_eq!(
            d(r#""site":{"domain":""},"app":{"bundle":"com.x"}"#),
            (Some("com.x".into()), true)
        );
        assert_eq!(
            d(r#""site":{"domain":"www."},"app":{"bundle":""}"#),
            (None, false)
        );
        assert_eq!(d(r#""site":{"page":"http://x.com"}"#), (None, false));
        assert_eq!(
            d(r#""site":{"domain":"a.com"},"site":{"id":"1"}"#),
            (None, false)
        );
        assert_eq!(
            d(r#""site":{"domain":"ex\u0041mple.com"}"#),
            (Some("example.com".into()), false)
        );
    }

    #[test]
    fn domain_borrows_when_it_can() {
        let body = req(r#""site":{"domain":"www.example.com"}"#);
        let f = ok(&body);
        assert!(matches!(f.domain, Some(Cow::Borrowed("example.com"))));
        let body = req(r#""site":{"domain":"Example.com"}"#);
        assert!(matches!(ok(&body).domain, Some(Cow::Owned(_))));
        let body = req(r#""app":{"bundle":"com.example"}"#);
        assert!(matches!(
            ok(&body).domain,
            Some(Cow::Borrowed("com.example"))
        ));
        let body = req(r#""app":{"bundle":"com.Example"}"#);
        assert!(matches!(ok(&body).domain, Some(Cow::Owned(_))));
    }

    #[test]
    fn uid2_token_from_eids_then_ext_eids() {
        let t = |extra: &str| ok(&req(extra)).uid2_token.map(Cow::into_owned);
        let v26 = r#""user":{"eids":[{"source":"id5-sync.com","uids":[{"id":"id5"}]},
            {"source":"uidapi.com","uids":[{"id":"TOKEN26","atype":3},{"id":"second"}]}]}"#;
        assert_eq!(t(v26).as_deref(), Some("TOKEN26"));
        let v25 = r#""user":{"ext":{"eids":[{"uids":[{"id":"TOKEN25"}],"source":"uidapi.com"}]}}"#;
        assert_eq!(t(v25).as_deref(), Some("TOKEN25"));
        let both = r#""user":{"ext":{"eids":[{"source":"uidapi.com","uids":[{"id":"OLD"}]}]},
            "eids":[{"source":"uidapi.com","uids":[{"id":"NEW"}]}]}"#;
        assert_eq!(t(both).as_deref(), Some("NEW"));
        let fallback = r#""user":{"eids":[{"source":"uidapi.com","uids":[]}],
            "ext":{"eids":[{"source":"uidapi.com","uids":[{"id":"EXT"}]}]}}"#;
        assert_eq!(t(fallback).as_deref(), Some("EXT"));
        let skip_empty = r#""user":{"eids":[{"source":"uidapi.com","uids":[{"id":""},{"x":1},
            {"id":"THIRD"}]}]}"#;
        assert_eq!(t(skip_empty).as_deref(), Some("THIRD"));
        let second_entry = r#""user":{"eids":[{"source":"uidapi.com","uids":[{"id":5}]},
            {"source":"uidapi.com","uids":[{"id":"B"}]},{"source":"uidapi.com","uids":[{"id":"C"}]}]}"#;
        assert_eq!(t(second_entry).as_deref(), Some("B"));
        assert_eq!(
            t(r#""user":{"eids":[{"source":"UIDAPI.com","uids":[{"id":"x"}]}]}"#),
            None
        );
        assert_eq!(
            t(r#""user":{"eids":[{"source":"uidapi.com","uids":[{"id":"x"}],"source":"y"}]}"#),
            None
        );
        assert_eq!(t(r#""user":{"eids":{"source":"uidapi.com"}}"#), None);
        assert_eq!(
            t(r#""user":{"eids":[{"source":"uidapi.com","uids":[{"id":"A+/="}]}]},"user":{}"#),
            None
        );
        let escaped = r#""user":{"eids":[{"source":"uid\u0061pi.com","uids":[{"id":"A\/B"}]}]}"#;
        assert_eq!(t(escaped).as_deref(), Some("A/B"));
    }

    #[test]
    fn unknown_members_are_validated_and_skipped() {
        let body = r#"{"id":"a","imp":[{"pmp":{"deals":[{"id":"d","bidfloor":1.5e-2}]}}],
            "regs":{"coppa":0,"ext":{"gdpr":1}},"source":{"fd":1},"bcat":["IAB1",null,true,false],
            "wseat":[],"x":{},"y":[[[]]],"z":"\u00e9\n"}"#;
        assert_eq!(ok(body).imp_count, 1);
    }
}
