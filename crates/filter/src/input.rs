//! [`FilterInput`]: a filter as an API caller typed it, before validation.
//!
//! Every attribute is kept as a raw JSON value so that a wrongly typed one (`"list": "a"`,
//! `"threshold": "high"`) becomes a [`ValidationError`] naming that attribute, not a serde error
//! about the whole body. Keys are read leniently: `parent_id` is an alias of `parent_filter_id`,
//! `null` means absent, a repeated key keeps its last value (as the seed guide's nested example
//! needs), and unknown keys (such as the `result` of an explained tree) are ignored.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::ValidationError;
use crate::list::{ListJsonError, ListValues, json_type_name};
use crate::model::{
    BoolOp, FieldType, FilterKind, FilterType, ListField, Operator, ThresholdOp,
    is_list_too_long_text,
};

/// A filter as sent to the admin API (`{"filter": F}`, `{"filters": [F...]}`, nested trees).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FilterInput {
    /// `id`: an existing filter's id, or a label other filters of the same request refer to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// `field_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_type: Option<Value>,
    /// `filter_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_type: Option<Value>,
    /// `operator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Value>,
    /// `list`: an array of strings and numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Value>,
    /// `threshold`: a finite number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Value>,
    /// `parent_filter_id` (or its alias `parent_id`): an integer or a numeric string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_filter_id: Option<Value>,
    /// `filters`: children of a boolean filter, created with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<FilterInput>>,
}

// === impl Deserialize for FilterInput ===

impl<'de> Deserialize<'de> for FilterInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FilterInputVisitor)
    }
}

struct FilterInputVisitor;

impl<'de> Visitor<'de> for FilterInputVisitor {
    type Value = FilterInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a filter object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FilterInput, A::Error> {
        let mut input = FilterInput::default();
        let mut parent_alias: Option<Value> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "id" => &mut input.id,
                "field_type" => &mut input.field_type,
                "filter_type" => &mut input.filter_type,
                "operator" => &mut input.operator,
                "list" => &mut input.list,
                "threshold" => &mut input.threshold,
                "parent_filter_id" => &mut input.parent_filter_id,
                "parent_id" => &mut parent_alias,
                "filters" => {
                    let children: Option<Vec<FilterInput>> = map.next_value().map_err(|e| {
                        de::Error::custom(format_args!(
                            "filters: expected an array of filter objects ({e})"
                        ))
                    })?;
                    input.filters = children;
                    continue;
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            let value: Value = map.next_value()?;
            *slot = if value.is_null() { None } else { Some(value) };
        }
        match (&input.parent_filter_id, parent_alias) {
            (None, alias) => input.parent_filter_id = alias,
            (Some(given), Some(alias)) if *given != alias => {
                return Err(de::Error::custom(
                    "parent_filter_id and its alias parent_id disagree",
                ));
            }
            (Some(_), _) => {}
        }
        Ok(input)
    }
}

// === impl FilterInput ===

impl FilterInput {
    /// The `id`, when given.
    ///
    /// # Errors
    /// `id` is neither an integer nor a string holding one.
    pub fn id(&self) -> Result<Option<i64>, ValidationError> {
        integer_attribute("id", self.id.as_ref())
    }

    /// The `parent_filter_id`, when given.
    ///
    /// # Errors
    /// It is neither an integer nor a string holding one.
    pub fn parent_id(&self) -> Result<Option<i64>, ValidationError> {
        integer_attribute("parent_filter_id", self.parent_filter_id.as_ref())
    }

    /// What a newly created filter does (every needed attribute must be present).
    ///
    /// A missing `filter_type` is inferred when the field type allows only one (`and`/`or` are
    /// `boolean`, `authed` is `threshold`); a missing `field_type` when the filter type allows
    /// only one (`threshold` is `authed`); a missing operator of a list filter is `equals`.
    ///
    /// # Errors
    /// The first broken rule of SPEC §3.1/§3.3, naming the attribute.
    pub fn to_kind(&self) -> Result<FilterKind, ValidationError> {
        let parsed = Parsed::from_input(self)?;
        if let Some(list) = &self.list
            && is_list_too_long_text(list)
        {
            return Err(ValidationError::new(
                "list",
                "must be an array; the \"List too long to return\" text only stands for a list \
                 the filter already has",
            ));
        }
        let draft = Draft {
            field: parsed.field,
            filter: parsed.filter,
            operator: parsed.operator,
            list: self.list.as_ref().map(DraftList::Json),
            threshold: parsed.threshold,
            explicit: Explicit::all(),
        };
        draft.finish()
    }

    /// What an existing filter does after this partial update (SPEC §5.4 `PUT`): attributes
    /// given here replace the existing ones, the others are kept when they still fit (a list is
    /// kept across a change between `white` and `black`, and re-normalized when `field_type`
    /// changes between list fields). A `list` equal to the "List too long to return: N" text
    /// keeps the existing list. Returns the new kind and whether the list was replaced.
    ///
    /// # Errors
    /// The first broken rule of SPEC §3.1/§3.3, naming the attribute.
    pub fn merge_kind(&self, existing: &FilterKind) -> Result<(FilterKind, bool), ValidationError> {
        let parsed = Parsed::from_input(self)?;
        let new_list = self
            .list
            .as_ref()
            .filter(|list| !is_list_too_long_text(list));
        let (old_list, old_threshold) = match existing {
            FilterKind::List { field, values, .. } => (
                Some(DraftList::Existing {
                    field: *field,
                    values,
                }),
                None,
            ),
            FilterKind::Threshold { threshold, .. } => (None, Some(*threshold)),
            FilterKind::Boolean(_) => (None, None),
        };
        let draft = Draft {
            field: parsed.field.or(Some(existing.field_type())),
            filter: parsed.filter.or(Some(existing.filter_type())),
            operator: parsed.operator.or(existing.operator()),
            list: new_list.map(DraftList::Json).or(old_list),
            threshold: parsed.threshold.or(old_threshold),
            explicit: Explicit {
                operator: parsed.operator.is_some(),
                list: new_list.is_some(),
                threshold: parsed.threshold.is_some(),
            },
        };
        let list_changed = new_list.is_some()
            || matches!(
                (&draft.list, existing),
                (Some(DraftList::Existing { field, .. }), FilterKind::List { .. })
                    if Some(*field) != draft.field.and_then(FieldType::list_field)
            );
        let kind = draft.finish()?;
        let list_changed = list_changed && matches!(kind, FilterKind::List { .. });
        Ok((kind, list_changed))
    }
}

/// An integer attribute: a JSON integer or a string holding one.
fn integer_attribute(
    field: &'static str,
    value: Option<&Value>,
) -> Result<Option<i64>, ValidationError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ValidationError::new(field, format!("{n} is not an integer id"))),
        Some(Value::String(s)) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ValidationError::new(field, format!("{s:?} is not an integer id"))),
        Some(other) => Err(ValidationError::new(
            field,
            format!("must be an integer, found {}", json_type_name(other)),
        )),
    }
}

/// The typed attributes of an input (names resolved, threshold checked).
struct Parsed {
    field: Option<FieldType>,
    filter: Option<FilterType>,
    operator: Option<Operator>,
    threshold: Option<f64>,
}

impl Parsed {
    fn from_input(input: &FilterInput) -> Result<Self, ValidationError> {
        let field = name_attribute(
            "field_type",
            input.field_type.as_ref(),
            FieldType::from_name,
            || FieldType::ALL.iter().map(|t| t.as_str()).collect(),
        )?;
        let filter = name_attribute(
            "filter_type",
            input.filter_type.as_ref(),
            FilterType::from_name,
            || FilterType::ALL.iter().map(|t| t.as_str()).collect(),
        )?;
        let operator = name_attribute(
            "operator",
            input.operator.as_ref(),
            Operator::from_name,
            || Operator::ALL.iter().map(|t| t.as_str()).collect(),
        )?;
        let threshold = match &input.threshold {
            None => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(t) if t.is_finite() => Some(t),
                _ => {
                    return Err(ValidationError::new(
                        "threshold",
                        format!("{n} is not a finite number"),
                    ));
                }
            },
            Some(other) => {
                return Err(ValidationError::new(
                    "threshold",
                    format!("must be a number, found {}", json_type_name(other)),
                ));
            }
        };
        Ok(Self {
            field,
            filter,
            operator,
            threshold,
        })
    }
}

fn name_attribute<T>(
    field: &'static str,
    value: Option<&Value>,
    parse: impl Fn(&str) -> Option<T>,
    names: impl Fn() -> Vec<&'static str>,
) -> Result<Option<T>, ValidationError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => parse(s).map(Some).ok_or_else(|| {
            ValidationError::new(
                field,
                format!(
                    "unknown {field} {s:?}; expected one of {}",
                    names().join(", ")
                ),
            )
        }),
        Some(other) => Err(ValidationError::new(
            field,
            format!("must be a string, found {}", json_type_name(other)),
        )),
    }
}

/// Where a draft's list comes from.
#[derive(Clone, Copy)]
enum DraftList<'a> {
    /// The caller's JSON.
    Json(&'a Value),
    /// The filter's current list, normalized for `field`.
    Existing {
        field: ListField,
        values: &'a ListValues,
    },
}

/// Which attributes the caller gave (the others were inherited and may be dropped when they no
/// longer fit).
#[derive(Clone, Copy)]
struct Explicit {
    operator: bool,
    list: bool,
    threshold: bool,
}

impl Explicit {
    const fn all() -> Self {
        Self {
            operator: true,
            list: true,
            threshold: true,
        }
    }
}

struct Draft<'a> {
    field: Option<FieldType>,
    filter: Option<FilterType>,
    operator: Option<Operator>,
    list: Option<DraftList<'a>>,
    threshold: Option<f64>,
    explicit: Explicit,
}

impl Draft<'_> {
    fn finish(self) -> Result<FilterKind, ValidationError> {
        let (field, filter) = match (self.field, self.filter) {
            (Some(field), Some(filter)) => (field, filter),
            (Some(field @ (FieldType::And | FieldType::Or)), None) => (field, FilterType::Boolean),
            (Some(FieldType::Authed), None) => (FieldType::Authed, FilterType::Threshold),
            (Some(field), None) => {
                return Err(ValidationError::new(
                    "filter_type",
                    format!(
                        "required: field_type {:?} takes filter_type \"white\" or \"black\"",
                        field.as_str()
                    ),
                ));
            }
            (None, Some(FilterType::Threshold)) => (FieldType::Authed, FilterType::Threshold),
            (None, Some(_)) | (None, None) => {
                return Err(ValidationError::new("field_type", "required"));
            }
        };
        let keep_operator = |wanted: fn(Operator) -> bool| match self.operator {
            Some(op) if !self.explicit.operator && !wanted(op) => None,
            other => other,
        };
        match filter {
            FilterType::Boolean => {
                let op = match field {
                    FieldType::And => BoolOp::And,
                    FieldType::Or => BoolOp::Or,
                    other => return Err(incompatible(other, filter)),
                };
                if let Some(operator) = keep_operator(|_| false) {
                    return Err(ValidationError::new(
                        "operator",
                        format!(
                            "boolean filters take no operator, found {:?}",
                            operator.as_str()
                        ),
                    ));
                }
                self.reject_list(filter)?;
                self.reject_threshold(filter)?;
                Ok(FilterKind::Boolean(op))
            }
            FilterType::Threshold => {
                if field != FieldType::Authed {
                    return Err(incompatible(field, filter));
                }
                let op = match keep_operator(|op| op != Operator::Equals) {
                    Some(Operator::GreaterThan) => ThresholdOp::GreaterThan,
                    Some(Operator::LessThan) => ThresholdOp::LessThan,
                    Some(Operator::Equals) => {
                        return Err(ValidationError::new(
                            "operator",
                            "threshold filters take \"greaterthan\" or \"lessthan\", not \"equals\"",
                        ));
                    }
                    None => {
                        return Err(ValidationError::new(
                            "operator",
                            "required: threshold filters take \"greaterthan\" or \"lessthan\"",
                        ));
                    }
                };
                self.reject_list(filter)?;
                let Some(threshold) = self.threshold else {
                    return Err(ValidationError::new(
                        "threshold",
                        "required: threshold filters need a finite number",
                    ));
                };
                Ok(FilterKind::Threshold { op, threshold })
            }
            FilterType::White | FilterType::Black => {
                let Some(list_field) = field.list_field() else {
                    return Err(incompatible(field, filter));
                };
                match keep_operator(|op| op == Operator::Equals) {
                    None | Some(Operator::Equals) => {}
                    Some(other) => {
                        return Err(ValidationError::new(
                            "operator",
                            format!(
                                "{} lists take \"equals\" (or no operator), not {:?}",
                                filter.as_str(),
                                other.as_str()
                            ),
                        ));
                    }
                }
                self.reject_threshold(filter)?;
                let values = match self.list {
                    None => {
                        return Err(ValidationError::new(
                            "list",
                            format!(
                                "required: {} filters need a list (an array)",
                                filter.as_str()
                            ),
                        ));
                    }
                    Some(DraftList::Json(value)) => ListValues::from_json(list_field, value)
                        .map_err(|err| match err {
                            ListJsonError::NotAnArray => ValidationError::new(
                                "list",
                                format!(
                                    "must be an array of strings or numbers, found {}",
                                    json_type_name(value)
                                ),
                            ),
                            ListJsonError::Item(item) => item.into(),
                        })?,
                    Some(DraftList::Existing { field, values }) if field == list_field => {
                        values.clone()
                    }
                    Some(DraftList::Existing {
                        values: ListValues::Stored { .. },
                        ..
                    }) => {
                        return Err(ValidationError::new(
                            "list",
                            "required: changing field_type of a filter whose list is kept in \
                             the store needs the new list",
                        ));
                    }
                    Some(DraftList::Existing { values, .. }) => {
                        let texts: Vec<_> = values.texts().collect();
                        ListValues::from_texts(list_field, texts.iter().map(|t| t.as_ref()))
                            .map_err(|item| {
                                ValidationError::new(
                                    "list",
                                    format!(
                                        "the existing list does not fit field_type {:?}: {item}",
                                        list_field.field_type().as_str()
                                    ),
                                )
                            })?
                    }
                };
                Ok(FilterKind::List {
                    field: list_field,
                    white: filter == FilterType::White,
                    values,
                })
            }
        }
    }

    fn reject_list(&self, filter: FilterType) -> Result<(), ValidationError> {
        if self.explicit.list && self.list.is_some() {
            return Err(ValidationError::new(
                "list",
                format!("{} filters take no list", filter.as_str()),
            ));
        }
        Ok(())
    }

    fn reject_threshold(&self, filter: FilterType) -> Result<(), ValidationError> {
        if self.explicit.threshold && self.threshold.is_some() {
            return Err(ValidationError::new(
                "threshold",
                format!("{} filters take no threshold", filter.as_str()),
            ));
        }
        Ok(())
    }
}

fn incompatible(field: FieldType, filter: FilterType) -> ValidationError {
    let allowed = match field {
        FieldType::And | FieldType::Or => "\"boolean\"",
        FieldType::Authed => "\"threshold\"",
        _ => "\"white\" or \"black\"",
    };
    ValidationError::new(
        "filter_type",
        format!(
            "field_type {:?} takes filter_type {allowed}, not {:?}",
            field.as_str(),
            filter.as_str()
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: Value) -> FilterInput {
        serde_json::from_value(value).unwrap()
    }

    fn kind(value: Value) -> Result<FilterKind, ValidationError> {
        input(value).to_kind()
    }

    #[test]
    fn parses_the_spec_shapes() {
        assert_eq!(
            kind(
                json!({"id": 7, "field_type": "size", "filter_type": "white", "operator": "equals",
                        "list": ["300x250","320x50"], "parent_filter_id": 4})
            )
            .unwrap(),
            FilterKind::List {
                field: ListField::Size,
                white: true,
                values: ListValues::Strings(vec!["300x250".into(), "320x50".into()])
            }
        );
        assert_eq!(
            kind(
                json!({"id": 8, "field_type": "authed", "filter_type": "threshold",
                        "operator": "greaterthan", "threshold": 0.5})
            )
            .unwrap(),
            FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.5
            }
        );
        assert_eq!(
            kind(json!({"id": 4, "field_type": "and", "filter_type": "boolean"})).unwrap(),
            FilterKind::Boolean(BoolOp::And)
        );
    }

    #[test]
    fn parent_id_is_an_alias() {
        let f = input(json!({"parent_id": 4}));
        assert_eq!(f.parent_id().unwrap(), Some(4));
        let f = input(json!({"parent_filter_id": "12"}));
        assert_eq!(f.parent_id().unwrap(), Some(12));
        let f = input(json!({"parent_filter_id": 3, "parent_id": 3}));
        assert_eq!(f.parent_id().unwrap(), Some(3));
        assert!(
            serde_json::from_value::<FilterInput>(json!({"parent_filter_id": 3, "parent_id": 4}))
                .is_err()
        );
        let err = input(json!({"parent_filter_id": "<first_and_filter_id>"}))
            .parent_id()
            .unwrap_err();
        assert_eq!(err.field, "parent_filter_id");
        let err = input(json!({"parent_filter_id": 1.5}))
            .parent_id()
            .unwrap_err();
        assert_eq!(err.field, "parent_filter_id");
        let err = input(json!({"id": true})).id().unwrap_err();
        assert_eq!(err.field, "id");
    }

    #[test]
    fn lenient_reading_of_keys() {
        let f = input(json!({"field_type": null, "unknown": [1], "result": true, "list": null}));
        assert_eq!(f, FilterInput::default());
        // A repeated key keeps the last value (the seed's nested example repeats them).
        let f: FilterInput = serde_json::from_str(
            r#"{"field_type":"and","filter_type":"boolean","field_type":"or"}"#,
        )
        .unwrap();
        assert_eq!(f.to_kind().unwrap(), FilterKind::Boolean(BoolOp::Or));
        let err = serde_json::from_value::<FilterInput>(json!({"filters": "x"})).unwrap_err();
        assert!(err.to_string().contains("filters"), "{err}");
        assert!(serde_json::from_value::<FilterInput>(json!([1])).is_err());
    }

    #[test]
    fn nested_filters_are_read() {
        let f = input(json!({"field_type": "or", "filter_type": "boolean",
                             "filters": [{"field_type": "and", "filter_type": "boolean"}]}));
        assert_eq!(f.filters.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn wrongly_typed_attributes_name_the_attribute() {
        let cases = [
            (
                json!({"field_type": 1, "filter_type": "white", "list": []}),
                "field_type",
            ),
            (
                json!({"field_type": "user", "filter_type": ["white"], "list": []}),
                "filter_type",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "operator": 1, "list": []}),
                "operator",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "list": "a,b"}),
                "list",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "list": {"a": 1}}),
                "list",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "list": [{}]}),
                "list",
            ),
            (
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "lessthan",
                    "threshold": "0.5"}),
                "threshold",
            ),
        ];
        for (value, field) in cases {
            let err = kind(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        let err =
            kind(json!({"field_type": "device", "filter_type": "white", "list": []})).unwrap_err();
        assert_eq!(err.field, "field_type");
        assert!(err.message.contains("\"device\""), "{}", err.message);
        let err =
            kind(json!({"field_type": "user", "filter_type": "grey", "list": []})).unwrap_err();
        assert_eq!(err.field, "filter_type");
        let err = kind(
            json!({"field_type": "user", "filter_type": "white", "operator": "contains",
                              "list": []}),
        )
        .unwrap_err();
        assert_eq!(err.field, "operator");
        // Names are exact.
        let err =
            kind(json!({"field_type": "User", "filter_type": "white", "list": []})).unwrap_err();
        assert_eq!(err.field, "field_type");
    }

    #[test]
    fn incompatible_combinations_are_rejected() {
        let cases = [
            (
                json!({"field_type": "authed", "filter_type": "white", "list": []}),
                "filter_type",
            ),
            (
                json!({"field_type": "user", "filter_type": "threshold", "operator": "lessthan",
                    "threshold": 1}),
                "filter_type",
            ),
            (
                json!({"field_type": "and", "filter_type": "black", "list": []}),
                "filter_type",
            ),
            (
                json!({"field_type": "country", "filter_type": "boolean"}),
                "filter_type",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "operator": "greaterthan",
                    "list": []}),
                "operator",
            ),
            (
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "equals",
                    "threshold": 1}),
                "operator",
            ),
            (
                json!({"field_type": "and", "filter_type": "boolean", "operator": "equals"}),
                "operator",
            ),
            (
                json!({"field_type": "and", "filter_type": "boolean", "list": []}),
                "list",
            ),
            (
                json!({"field_type": "or", "filter_type": "boolean", "threshold": 1}),
                "threshold",
            ),
            (
                json!({"field_type": "user", "filter_type": "white", "list": [], "threshold": 1}),
                "threshold",
            ),
            (
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "lessthan",
                    "threshold": 1, "list": []}),
                "list",
            ),
        ];
        for (value, field) in cases {
            let err = kind(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
    }

    #[test]
    fn missing_attributes_are_rejected() {
        let cases = [
            (json!({"filter_type": "white", "list": []}), "field_type"),
            (json!({}), "field_type"),
            (json!({"filter_type": "boolean"}), "field_type"),
            (json!({"field_type": "user", "list": []}), "filter_type"),
            (
                json!({"field_type": "user", "filter_type": "white"}),
                "list",
            ),
            (
                json!({"field_type": "authed", "filter_type": "threshold", "threshold": 1}),
                "operator",
            ),
            (
                json!({"field_type": "authed", "filter_type": "threshold", "operator": "lessthan"}),
                "threshold",
            ),
            (
                json!({"field_type": "user", "filter_type": "white",
                    "list": "List too long to return: 5"}),
                "list",
            ),
        ];
        for (value, field) in cases {
            let err = kind(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
    }

    #[test]
    fn unambiguous_types_are_inferred() {
        assert_eq!(
            kind(json!({"field_type": "or"})).unwrap(),
            FilterKind::Boolean(BoolOp::Or)
        );
        assert_eq!(
            kind(json!({"filter_type": "threshold", "operator": "lessthan", "threshold": 2}))
                .unwrap(),
            FilterKind::Threshold {
                op: ThresholdOp::LessThan,
                threshold: 2.0
            }
        );
        assert_eq!(
            kind(json!({"field_type": "stream", "filter_type": "black", "list": [3]})).unwrap(),
            FilterKind::List {
                field: ListField::Stream,
                white: false,
                values: ListValues::Ints(vec![3])
            }
        );
    }

    #[test]
    fn list_items_are_validated_for_the_field() {
        let err =
            kind(json!({"field_type": "size", "filter_type": "white", "list": ["300x250", "big"]}))
                .unwrap_err();
        assert_eq!(err.field, "list");
        assert!(err.message.starts_with("item 1:"), "{}", err.message);
        let err =
            kind(json!({"field_type": "uid2_status", "filter_type": "white", "list": ["OK"]}))
                .unwrap_err();
        assert_eq!(err.field, "list");
        let err = kind(json!({"field_type": "stream", "filter_type": "white", "list": ["a"]}))
            .unwrap_err();
        assert_eq!(err.field, "list");
    }

    fn existing_user_list() -> FilterKind {
        FilterKind::List {
            field: ListField::User,
            white: false,
            values: ListValues::Strings(vec!["1".into(), "2".into()]),
        }
    }

    #[test]
    fn merge_replaces_only_the_given_attributes() {
        let (kind, changed) = input(json!({"operator": "equals", "list": [4]}))
            .merge_kind(&existing_user_list())
            .unwrap();
        assert!(changed);
        assert_eq!(
            kind,
            FilterKind::List {
                field: ListField::User,
                white: false,
                values: ListValues::Strings(vec!["4".into()])
            }
        );
        let (kind, changed) = input(json!({"filter_type": "white"}))
            .merge_kind(&existing_user_list())
            .unwrap();
        assert!(!changed);
        assert_eq!(
            kind,
            FilterKind::List {
                field: ListField::User,
                white: true,
                values: ListValues::Strings(vec!["1".into(), "2".into()])
            }
        );
    }

    #[test]
    fn merge_keeps_the_list_for_the_too_long_text() {
        let existing = FilterKind::List {
            field: ListField::User,
            white: true,
            values: ListValues::Stored { len: 5_000_000 },
        };
        let (kind, changed) = input(json!({"list": "List too long to return: 5000000",
                                            "filter_type": "black"}))
        .merge_kind(&existing)
        .unwrap();
        assert!(!changed);
        assert_eq!(
            kind,
            FilterKind::List {
                field: ListField::User,
                white: false,
                values: ListValues::Stored { len: 5_000_000 }
            }
        );
        let err = input(json!({"field_type": "domain"}))
            .merge_kind(&existing)
            .unwrap_err();
        assert_eq!(err.field, "list");
    }

    #[test]
    fn merge_renormalizes_a_kept_list_for_a_new_field() {
        let (kind, changed) = input(json!({"field_type": "stream"}))
            .merge_kind(&existing_user_list())
            .unwrap();
        assert!(changed);
        assert_eq!(
            kind,
            FilterKind::List {
                field: ListField::Stream,
                white: false,
                values: ListValues::Ints(vec![1, 2])
            }
        );
        let err = input(json!({"field_type": "size"}))
            .merge_kind(&existing_user_list())
            .unwrap_err();
        assert_eq!(err.field, "list");
    }

    #[test]
    fn merge_drops_inherited_attributes_that_no_longer_fit() {
        // List -> threshold: the old list and operator go, the new ones are required.
        let err = input(json!({"field_type": "authed", "filter_type": "threshold"}))
            .merge_kind(&existing_user_list())
            .unwrap_err();
        assert_eq!(err.field, "operator");
        let (kind, _) = input(json!({"field_type": "authed", "filter_type": "threshold",
                                     "operator": "lessthan", "threshold": 0.2}))
        .merge_kind(&existing_user_list())
        .unwrap();
        assert_eq!(
            kind,
            FilterKind::Threshold {
                op: ThresholdOp::LessThan,
                threshold: 0.2
            }
        );
        // Threshold -> boolean.
        let (kind, changed) = input(json!({"field_type": "or", "filter_type": "boolean"}))
            .merge_kind(&FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.5,
            })
            .unwrap();
        assert_eq!(kind, FilterKind::Boolean(BoolOp::Or));
        assert!(!changed);
        // Boolean -> list needs a list.
        let err = input(json!({"field_type": "user", "filter_type": "white"}))
            .merge_kind(&FilterKind::Boolean(BoolOp::And))
            .unwrap_err();
        assert_eq!(err.field, "list");
        // An explicit incompatible attribute is still an error.
        let err = input(json!({"threshold": 3}))
            .merge_kind(&existing_user_list())
            .unwrap_err();
        assert_eq!(err.field, "threshold");
        // Only the threshold of a threshold filter.
        let (kind, _) = input(json!({"threshold": 0.9}))
            .merge_kind(&FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.5,
            })
            .unwrap();
        assert_eq!(
            kind,
            FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.9
            }
        );
    }

    #[test]
    fn serializes_back_without_absent_keys() {
        let f = input(json!({"field_type": "or", "parent_id": 3}));
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"field_type": "or", "parent_filter_id": 3})
        );
    }
}
