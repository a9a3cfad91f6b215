//! List values and their normalization (SPEC §3.1): what a list of each field may hold, and the
//! one canonical text of each value, shared by validation, compilation and the large-list
//! endpoints.

use std::borrow::Cow;

use bidsieve_openrtb::{Size, normalize_country, normalize_domain};
use serde_json::Value;

use crate::error::ListItemError;
use crate::model::ListField;

/// The UID2 status names a `uid2_status` list may hold (SPEC §4.3), `NONE` included.
pub const UID2_STATUS_NAMES: [&str; 12] = [
    "SUCCESS",
    "NOT_AUTHORIZED_FOR_MASTER_KEY",
    "NOT_AUTHORIZED_FOR_KEY",
    "NOT_INITIALIZED",
    "INVALID_PAYLOAD",
    "EXPIRED_TOKEN",
    "KEYS_NOT_SYNCED",
    "VERSION_NOT_SUPPORTED",
    "DOMAIN_NAME_CHECK_FAILED",
    "INVALID_TOKEN_LIFETIME",
    "INVALID_IDENTITY_SCOPE",
    "NONE",
];

/// The Java/.NET name of `DOMAIN_NAME_CHECK_FAILED`, accepted in lists as an alias.
const UID2_DOMAIN_STATUS_ALIAS: &str = "DOMAIN_OR_APP_NAME_CHECK_FAILED";

/// The normalized values of one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListValues {
    /// `stream` and `supplier` lists.
    Ints(Vec<i64>),
    /// Every other list, each value in its canonical text.
    Strings(Vec<String>),
    /// The values live in the store (a large list not loaded with the filter); compilation takes
    /// them from the [`crate::ListSource`], rendering shows "List too long to return: N".
    Stored {
        /// Number of values.
        len: usize,
    },
}

impl ListValues {
    /// Number of values (duplicates included).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Ints(v) => v.len(),
            Self::Strings(v) => v.len(),
            Self::Stored { len } => *len,
        }
    }

    /// True for an empty list.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty list of the right variant for `field`.
    #[must_use]
    pub fn empty(field: ListField) -> Self {
        if field.holds_integers() {
            Self::Ints(Vec::new())
        } else {
            Self::Strings(Vec::new())
        }
    }

    /// The list as a JSON array (integers for `stream`/`supplier`, strings otherwise); a
    /// [`ListValues::Stored`] list as the "List too long to return: N" text.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::Ints(v) => Value::Array(v.iter().map(|&i| Value::from(i)).collect()),
            Self::Strings(v) => Value::Array(v.iter().map(|s| Value::from(s.as_str())).collect()),
            Self::Stored { len } => Value::from(crate::model::list_too_long_text(*len)),
        }
    }

    /// Normalizes a JSON array for `field`: strings and numbers accepted (SPEC §3.1).
    ///
    /// # Errors
    /// [`ListJsonError::NotAnArray`] when `value` is not an array; [`ListJsonError::Item`] for
    /// the first value that cannot be normalized.
    pub fn from_json(field: ListField, value: &Value) -> Result<Self, ListJsonError> {
        let Value::Array(items) = value else {
            return Err(ListJsonError::NotAnArray);
        };
        let mut out = Self::empty_with_capacity(field, items.len());
        for (index, item) in items.iter().enumerate() {
            let text: Cow<'_, str> = match item {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                Value::Number(n) => {
                    if field.holds_integers() {
                        match n.as_i64() {
                            Some(i) => {
                                out.push_int(i);
                                continue;
                            }
                            None => {
                                return Err(ListJsonError::Item(ListItemError {
                                    index,
                                    message: format!("{n} is not an integer id"),
                                }));
                            }
                        }
                    }
                    Cow::Owned(n.to_string())
                }
                other => {
                    return Err(ListJsonError::Item(ListItemError {
                        index,
                        message: format!(
                            "expected a string or a number, found {}",
                            json_type_name(other)
                        ),
                    }));
                }
            };
            out.push_text(field, index, &text)
                .map_err(ListJsonError::Item)?;
        }
        Ok(out)
    }

    /// Normalizes text values (e.g. the lines of a `text/plain` list upload) for `field`.
    /// Values are taken as given: strip line ends and blank lines before calling.
    ///
    /// # Errors
    /// The first value that cannot be normalized.
    pub fn from_texts<'a>(
        field: ListField,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ListItemError> {
        let values = values.into_iter();
        let mut out = Self::empty_with_capacity(field, values.size_hint().0);
        for (index, text) in values.enumerate() {
            out.push_text(field, index, text)?;
        }
        Ok(out)
    }

    /// The values as text, in order (integers in decimal); nothing for a stored list.
    pub fn texts(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let (ints, strings): (&[i64], &[String]) = match self {
            Self::Ints(v) => (v, &[]),
            Self::Strings(v) => (&[], v),
            Self::Stored { .. } => (&[], &[]),
        };
        ints.iter()
            .map(|i| Cow::Owned(i.to_string()))
            .chain(strings.iter().map(|s| Cow::Borrowed(s.as_str())))
    }

    fn empty_with_capacity(field: ListField, capacity: usize) -> Self {
        if field.holds_integers() {
            Self::Ints(Vec::with_capacity(capacity))
        } else {
            Self::Strings(Vec::with_capacity(capacity))
        }
    }

    fn push_int(&mut self, value: i64) {
        match self {
            Self::Ints(v) => v.push(value),
            Self::Strings(v) => v.push(value.to_string()),
            Self::Stored { len } => *len += 1,
        }
    }

    fn push_text(
        &mut self,
        field: ListField,
        index: usize,
        text: &str,
    ) -> Result<(), ListItemError> {
        match normalize_item(field, text) {
            Ok(ListItem::Int(i)) => self.push_int(i),
            Ok(ListItem::Str(s)) => match self {
                Self::Strings(v) => v.push(s.into_owned()),
                Self::Ints(_) | Self::Stored { .. } => {
                    return Err(ListItemError {
                        index,
                        message: "internal: text value for an integer list".into(),
                    });
                }
            },
            Err(message) => return Err(ListItemError { index, message }),
        }
        Ok(())
    }
}

/// Why a JSON `list` was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListJsonError {
    /// The value is not a JSON array.
    #[error("must be an array of strings or numbers")]
    NotAnArray,
    /// One item cannot be normalized.
    #[error(transparent)]
    Item(#[from] ListItemError),
}

/// One normalized list value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListItem<'a> {
    /// A `stream`/`supplier` id.
    Int(i64),
    /// The canonical text of any other value.
    Str(Cow<'a, str>),
}

/// Normalizes one list value given as text for `field` (SPEC §3.1): integers for
/// `stream`/`supplier`; a normalized alpha-2 (or unknown alpha-3) code for `country` (`UK` is
/// `GB`, `GBR` is `GB`); canonical `WxH` for `size`; lower case without a leading `www.` for
/// `domain` (`bidsieve_openrtb::normalize_domain`, as the request side does); a §4.3 status
/// name or `NONE` for `uid2_status` (`DOMAIN_OR_APP_NAME_CHECK_FAILED` is accepted as
/// `DOMAIN_NAME_CHECK_FAILED`); `user` and `uid2` as given. Borrows `text` when it is already canonical.
///
/// # Errors
/// A message saying why `text` is not a valid value of `field`.
pub fn normalize_item(field: ListField, text: &str) -> Result<ListItem<'_>, String> {
    match field {
        ListField::Stream | ListField::Supplier => text
            .parse::<i64>()
            .map(ListItem::Int)
            .map_err(|_| format!("{text:?} is not an integer id")),
        ListField::Country => match normalize_country(text) {
            Some(country) => {
                let code = country.as_str();
                if code.is_empty() {
                    return Err(format!("{text:?} is not a country code"));
                }
                Ok(ListItem::Str(if code == text {
                    Cow::Borrowed(text)
                } else {
                    Cow::Owned(code.to_owned())
                }))
            }
            None => Err(format!(
                "{text:?} is not a country code (ISO 3166-1 alpha-2 or alpha-3)"
            )),
        },
        ListField::Size => match parse_size(text) {
            Some(size) => {
                let canonical = format!("{}x{}", size.w, size.h);
                Ok(ListItem::Str(if canonical == text {
                    Cow::Borrowed(text)
                } else {
                    Cow::Owned(canonical)
                }))
            }
            None => Err(format!("{text:?} is not a size (WxH, e.g. 300x250)")),
        },
        ListField::Domain => Ok(ListItem::Str(normalize_domain(text))),
        ListField::User | ListField::Uid2 => Ok(ListItem::Str(Cow::Borrowed(text))),
        ListField::Uid2Status => {
            if text == UID2_DOMAIN_STATUS_ALIAS {
                return Ok(ListItem::Str(Cow::Borrowed("DOMAIN_NAME_CHECK_FAILED")));
            }
            match UID2_STATUS_NAMES.iter().find(|name| **name == text) {
                Some(_) => Ok(ListItem::Str(Cow::Borrowed(text))),
                None => Err(format!(
                    "{text:?} is not a UID2 status (one of {}, or {UID2_DOMAIN_STATUS_ALIAS})",
                    UID2_STATUS_NAMES.join(", ")
                )),
            }
        }
    }
}

/// Parses `WxH` (decimal, `x` or `X`), e.g. `300x250`.
#[must_use]
pub fn parse_size(text: &str) -> Option<Size> {
    let (w, h) = text.split_once(['x', 'X'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(w) || !digits(h) {
        return None;
    }
    Some(Size {
        w: w.parse().ok()?,
        h: h.parse().ok()?,
    })
}

/// The JSON type of `value`, for messages.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stream_lists_hold_integers_and_accept_numeric_strings() {
        let v = ListValues::from_json(ListField::Stream, &json!([3, "4", -1])).unwrap();
        assert_eq!(v, ListValues::Ints(vec![3, 4, -1]));
        let err = ListValues::from_json(ListField::Supplier, &json!([1, "x"])).unwrap_err();
        assert_eq!(
            err,
            ListJsonError::Item(ListItemError {
                index: 1,
                message: "\"x\" is not an integer id".into()
            })
        );
        assert!(ListValues::from_json(ListField::Stream, &json!([1.5])).is_err());
    }

    #[test]
    fn string_lists_store_numbers_as_decimal_text() {
        let v = ListValues::from_json(ListField::User, &json!([4, "5", 6.5])).unwrap();
        assert_eq!(
            v,
            ListValues::Strings(vec!["4".into(), "5".into(), "6.5".into()])
        );
    }

    #[test]
    fn a_list_must_be_an_array_of_scalars() {
        assert_eq!(
            ListValues::from_json(ListField::User, &json!("a")),
            Err(ListJsonError::NotAnArray)
        );
        let err = ListValues::from_json(ListField::User, &json!(["a", null])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "item 1: expected a string or a number, found null"
        );
        assert!(ListValues::from_json(ListField::User, &json!([true])).is_err());
        assert!(ListValues::from_json(ListField::User, &json!([["a"]])).is_err());
    }

    #[test]
    fn empty_lists_are_valid() {
        assert_eq!(
            ListValues::from_json(ListField::Stream, &json!([])).unwrap(),
            ListValues::Ints(vec![])
        );
        assert!(
            ListValues::from_json(ListField::User, &json!([]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn sizes_must_be_w_by_h() {
        let v = ListValues::from_json(ListField::Size, &json!(["300x250", "0320X050"])).unwrap();
        assert_eq!(
            v,
            ListValues::Strings(vec!["300x250".into(), "320x50".into()])
        );
        for bad in [
            "300",
            "x250",
            "300x",
            "300x250x1",
            "a x b",
            "300 x 250",
            "-1x2",
            "99999999999x1",
        ] {
            assert!(parse_size(bad).is_none(), "{bad}");
            assert!(normalize_item(ListField::Size, bad).is_err(), "{bad}");
        }
        assert!(ListValues::from_json(ListField::Size, &json!([300])).is_err());
    }

    #[test]
    fn domains_are_lower_cased_without_www() {
        let v = ListValues::from_json(
            ListField::Domain,
            &json!(["WWW.Example.COM", "www.a.org", "b.net", "com.app.Bundle"]),
        )
        .unwrap();
        assert_eq!(
            v,
            ListValues::Strings(vec![
                "example.com".into(),
                "a.org".into(),
                "b.net".into(),
                "com.app.bundle".into()
            ])
        );
        assert!(matches!(normalize_domain("b.net"), Cow::Borrowed("b.net")));
    }

    #[test]
    fn user_and_uid2_values_are_kept_as_given() {
        let v = ListValues::from_texts(ListField::User, [" A b ", "x"]).unwrap();
        assert_eq!(v, ListValues::Strings(vec![" A b ".into(), "x".into()]));
        assert_eq!(
            normalize_item(ListField::Uid2, "AbC="),
            Ok(ListItem::Str(Cow::Borrowed("AbC=")))
        );
    }

    #[test]
    fn uid2_statuses_must_be_known_names() {
        for name in UID2_STATUS_NAMES {
            assert_eq!(
                normalize_item(ListField::Uid2Status, name),
                Ok(ListItem::Str(Cow::Borrowed(name)))
            );
        }
        assert_eq!(
            normalize_item(ListField::Uid2Status, "DOMAIN_OR_APP_NAME_CHECK_FAILED"),
            Ok(ListItem::Str(Cow::Borrowed("DOMAIN_NAME_CHECK_FAILED")))
        );
        assert!(normalize_item(ListField::Uid2Status, "success").is_err());
        assert!(normalize_item(ListField::Uid2Status, "OK").is_err());
    }

    #[test]
    fn countries_are_normalized() {
        let v =
            ListValues::from_json(ListField::Country, &json!(["UK", "gbr", "us", "DE"])).unwrap();
        assert_eq!(
            v,
            ListValues::Strings(vec!["GB".into(), "GB".into(), "US".into(), "DE".into()])
        );
        assert!(ListValues::from_json(ListField::Country, &json!(["U"])).is_err());
        assert!(ListValues::from_json(ListField::Country, &json!(["U1"])).is_err());
        assert!(ListValues::from_json(ListField::Country, &json!([12])).is_err());
    }

    #[test]
    fn texts_round_trip() {
        let ints = ListValues::Ints(vec![1, 22]);
        assert_eq!(ints.texts().collect::<Vec<_>>(), ["1", "22"]);
        let strings = ListValues::Strings(vec!["a".into()]);
        assert_eq!(strings.texts().collect::<Vec<_>>(), ["a"]);
        assert_eq!(ListValues::Stored { len: 3 }.texts().count(), 0);
        assert_eq!(ListValues::Stored { len: 3 }.len(), 3);
    }
}
