//! The filter model of SPEC §3.1: the names the API uses ([`FilterType`], [`FieldType`],
//! [`Operator`]) and the validated form of one filter ([`FilterSpec`], [`FilterKind`]), with its
//! rendering back to API JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::list::ListValues;

/// `filter_type` of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterType {
    /// Passes iff some value of the field is in the list.
    White,
    /// Passes iff no value of the field is in the list.
    Black,
    /// Compares a score with a threshold.
    Threshold,
    /// Combines child filters with `and` / `or`.
    Boolean,
}

impl FilterType {
    /// Every filter type, in the order the SPEC lists them.
    pub const ALL: [FilterType; 4] = [Self::White, Self::Black, Self::Threshold, Self::Boolean];

    /// The API name (`"white"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Black => "black",
            Self::Threshold => "threshold",
            Self::Boolean => "boolean",
        }
    }

    /// The filter type named exactly `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// `field_type` of a filter: what a leaf reads, or how a boolean node combines its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// `user.id`.
    User,
    /// The request's country (ISO 3166-1 alpha-2).
    Country,
    /// Every banner size of the request.
    Size,
    /// The stream's id.
    Stream,
    /// The stream's supplier id.
    Supplier,
    /// `ext.authenticated.authed.score` (threshold filters).
    Authed,
    /// `site.domain`, else `app.bundle`.
    Domain,
    /// The raw UID2 decrypted from the request's token.
    Uid2,
    /// The UID2 decryption status name, or `NONE`.
    Uid2Status,
    /// Boolean node: every child passes.
    And,
    /// Boolean node: some child passes.
    Or,
}

impl FieldType {
    /// Every field type, in the order the SPEC lists them.
    pub const ALL: [FieldType; 11] = [
        Self::User,
        Self::Country,
        Self::Size,
        Self::Stream,
        Self::Supplier,
        Self::Authed,
        Self::Domain,
        Self::Uid2,
        Self::Uid2Status,
        Self::And,
        Self::Or,
    ];

    /// The API name (`"user"`, `"uid2_status"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Country => "country",
            Self::Size => "size",
            Self::Stream => "stream",
            Self::Supplier => "supplier",
            Self::Authed => "authed",
            Self::Domain => "domain",
            Self::Uid2 => "uid2",
            Self::Uid2Status => "uid2_status",
            Self::And => "and",
            Self::Or => "or",
        }
    }

    /// The field type named exactly `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The list field this field type names, if it is one.
    #[must_use]
    pub const fn list_field(self) -> Option<ListField> {
        Some(match self {
            Self::User => ListField::User,
            Self::Country => ListField::Country,
            Self::Size => ListField::Size,
            Self::Stream => ListField::Stream,
            Self::Supplier => ListField::Supplier,
            Self::Domain => ListField::Domain,
            Self::Uid2 => ListField::Uid2,
            Self::Uid2Status => ListField::Uid2Status,
            Self::Authed | Self::And | Self::Or => return None,
        })
    }
}

/// `operator` of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// A field value equals an item of the list (white and black lists).
    Equals,
    /// The score is at least the threshold.
    GreaterThan,
    /// The score is below the threshold.
    LessThan,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 3] = [Self::Equals, Self::GreaterThan, Self::LessThan];

    /// The API name (`"equals"`, `"greaterthan"`, `"lessthan"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "equals",
            Self::GreaterThan => "greaterthan",
            Self::LessThan => "lessthan",
        }
    }

    /// The operator named exactly `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How a boolean node combines its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoolOp {
    /// Every child passes (no children: passes).
    And,
    /// Some child passes (no children: fails).
    Or,
}

/// The request value a list filter reads (the list-capable [`FieldType`]s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListField {
    /// `user.id`; list items are strings, compared as given.
    User,
    /// The request's country; list items are normalized country codes.
    Country,
    /// Banner sizes; list items are `WxH`.
    Size,
    /// The stream id; list items are integers.
    Stream,
    /// The supplier id; list items are integers.
    Supplier,
    /// The domain or bundle; list items are lower-cased, leading `www.` removed.
    Domain,
    /// The decrypted UID2; list items are strings, compared as given.
    Uid2,
    /// The UID2 status name (SPEC §4.3) or `NONE`.
    Uid2Status,
}

impl ListField {
    /// The [`FieldType`] of this field.
    #[must_use]
    pub const fn field_type(self) -> FieldType {
        match self {
            Self::User => FieldType::User,
            Self::Country => FieldType::Country,
            Self::Size => FieldType::Size,
            Self::Stream => FieldType::Stream,
            Self::Supplier => FieldType::Supplier,
            Self::Domain => FieldType::Domain,
            Self::Uid2 => FieldType::Uid2,
            Self::Uid2Status => FieldType::Uid2Status,
        }
    }

    /// True for fields whose lists hold integers (`stream`, `supplier`).
    #[must_use]
    pub const fn holds_integers(self) -> bool {
        matches!(self, Self::Stream | Self::Supplier)
    }
}

/// The comparison of a threshold filter (its field is always `authed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThresholdOp {
    /// Passes iff score >= threshold.
    GreaterThan,
    /// Passes iff score < threshold.
    LessThan,
}

impl ThresholdOp {
    /// The API operator.
    #[must_use]
    pub const fn operator(self) -> Operator {
        match self {
            Self::GreaterThan => Operator::GreaterThan,
            Self::LessThan => Operator::LessThan,
        }
    }
}

/// What a validated filter does.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterKind {
    /// A boolean node over its children.
    Boolean(BoolOp),
    /// A white (`white == true`) or black list on one field.
    List {
        /// The field read from the request.
        field: ListField,
        /// White list (true) or black list (false).
        white: bool,
        /// The normalized list.
        values: ListValues,
    },
    /// A threshold on the `authed` score.
    Threshold {
        /// The comparison.
        op: ThresholdOp,
        /// The threshold; always finite.
        threshold: f64,
    },
}

impl FilterKind {
    /// The API `field_type`.
    #[must_use]
    pub const fn field_type(&self) -> FieldType {
        match self {
            Self::Boolean(BoolOp::And) => FieldType::And,
            Self::Boolean(BoolOp::Or) => FieldType::Or,
            Self::List { field, .. } => field.field_type(),
            Self::Threshold { .. } => FieldType::Authed,
        }
    }

    /// The API `filter_type`.
    #[must_use]
    pub const fn filter_type(&self) -> FilterType {
        match self {
            Self::Boolean(_) => FilterType::Boolean,
            Self::List { white: true, .. } => FilterType::White,
            Self::List { white: false, .. } => FilterType::Black,
            Self::Threshold { .. } => FilterType::Threshold,
        }
    }

    /// The API `operator` (boolean nodes have none).
    #[must_use]
    pub const fn operator(&self) -> Option<Operator> {
        match self {
            Self::Boolean(_) => None,
            Self::List { .. } => Some(Operator::Equals),
            Self::Threshold { op, .. } => Some(op.operator()),
        }
    }

    /// True for `and`/`or` nodes, the only ones that may have children.
    #[must_use]
    pub const fn is_boolean(&self) -> bool {
        matches!(self, Self::Boolean(_))
    }
}

/// One validated filter of a customer's tree.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterSpec {
    /// The store's id.
    pub id: i64,
    /// The parent's id; `None` for the root only.
    pub parent_id: Option<i64>,
    /// What the filter does.
    pub kind: FilterKind,
}

/// The text the API returns instead of a list longer than the inline maximum (SPEC §3.4).
#[must_use]
pub fn list_too_long_text(len: usize) -> String {
    format!("List too long to return: {len}")
}

/// True when `value` is the "List too long to return: N" text (e.g. a tree fetched with
/// `GET /api/filters` and sent back unchanged).
#[must_use]
pub fn is_list_too_long_text(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|s| s.strip_prefix("List too long to return: "))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl FilterSpec {
    /// The filter as API JSON, flat (`GET /api/filters/{id}`): `id`, `field_type`,
    /// `filter_type`, `operator` (leaves), `list` or `threshold`, and `parent_filter_id` unless
    /// it is the root. A list longer than `list_inline_max` is rendered as the text
    /// "List too long to return: N".
    #[must_use]
    pub fn to_json(&self, list_inline_max: usize) -> Value {
        let mut map = self.json_fields(list_inline_max);
        if let Some(parent) = self.parent_id {
            map.insert("parent_filter_id".into(), Value::from(parent));
        }
        Value::Object(map)
    }

    /// The fields shared by the flat and the tree rendering (everything but the parent).
    pub(crate) fn json_fields(&self, list_inline_max: usize) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("id".into(), Value::from(self.id));
        map.insert(
            "field_type".into(),
            Value::from(self.kind.field_type().as_str()),
        );
        map.insert(
            "filter_type".into(),
            Value::from(self.kind.filter_type().as_str()),
        );
        if let Some(op) = self.kind.operator() {
            map.insert("operator".into(), Value::from(op.as_str()));
        }
        match &self.kind {
            FilterKind::Boolean(_) => {}
            FilterKind::List { values, .. } => {
                let list = if values.len() > list_inline_max {
                    Value::from(list_too_long_text(values.len()))
                } else {
                    values.to_json()
                };
                map.insert("list".into(), list);
            }
            FilterKind::Threshold { threshold, .. } => {
                map.insert("threshold".into(), Value::from(*threshold));
            }
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_serialize_exactly_as_the_spec() {
        assert_eq!(
            serde_json::to_value(FieldType::Uid2Status).unwrap(),
            json!("uid2_status")
        );
        assert_eq!(
            serde_json::to_value(FieldType::Uid2).unwrap(),
            json!("uid2")
        );
        assert_eq!(
            serde_json::to_value(Operator::GreaterThan).unwrap(),
            json!("greaterthan")
        );
        assert_eq!(
            serde_json::to_value(Operator::LessThan).unwrap(),
            json!("lessthan")
        );
        assert_eq!(
            serde_json::to_value(FilterType::White).unwrap(),
            json!("white")
        );
        for t in FieldType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(FieldType::from_name(t.as_str()), Some(t));
        }
        for t in FilterType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(FilterType::from_name(t.as_str()), Some(t));
        }
        for t in Operator::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(Operator::from_name(t.as_str()), Some(t));
        }
        assert_eq!(FieldType::from_name("Country"), None);
        let parsed: FieldType = serde_json::from_value(json!("uid2_status")).unwrap();
        assert_eq!(parsed, FieldType::Uid2Status);
    }

    #[test]
    fn list_fields_round_trip() {
        for t in FieldType::ALL {
            if let Some(field) = t.list_field() {
                assert_eq!(field.field_type(), t);
            }
        }
        assert_eq!(FieldType::Authed.list_field(), None);
    }

    #[test]
    fn to_json_renders_a_list_leaf() {
        let spec = FilterSpec {
            id: 7,
            parent_id: Some(4),
            kind: FilterKind::List {
                field: ListField::Size,
                white: true,
                values: ListValues::Strings(vec!["300x250".into(), "320x50".into()]),
            },
        };
        assert_eq!(
            spec.to_json(1000),
            json!({"id": 7, "field_type": "size", "filter_type": "white", "operator": "equals",
                   "list": ["300x250", "320x50"], "parent_filter_id": 4})
        );
        assert_eq!(spec.to_json(1)["list"], json!("List too long to return: 2"));
        assert!(is_list_too_long_text(&spec.to_json(1)["list"]));
        assert_eq!(spec.to_json(2)["list"], json!(["300x250", "320x50"]));
    }

    #[test]
    fn to_json_renders_threshold_boolean_and_stored_lists() {
        let threshold = FilterSpec {
            id: 8,
            parent_id: Some(1),
            kind: FilterKind::Threshold {
                op: ThresholdOp::GreaterThan,
                threshold: 0.5,
            },
        };
        assert_eq!(
            threshold.to_json(10),
            json!({"id": 8, "field_type": "authed", "filter_type": "threshold",
                   "operator": "greaterthan", "threshold": 0.5, "parent_filter_id": 1})
        );
        let root = FilterSpec {
            id: 1,
            parent_id: None,
            kind: FilterKind::Boolean(BoolOp::And),
        };
        assert_eq!(
            root.to_json(10),
            json!({"id": 1, "field_type": "and", "filter_type": "boolean"})
        );
        let stream = FilterSpec {
            id: 36,
            parent_id: Some(32),
            kind: FilterKind::List {
                field: ListField::Stream,
                white: false,
                values: ListValues::Ints(vec![3]),
            },
        };
        assert_eq!(stream.to_json(10)["list"], json!([3]));
        let stored = FilterSpec {
            id: 31,
            parent_id: Some(33),
            kind: FilterKind::List {
                field: ListField::User,
                white: true,
                values: ListValues::Stored { len: 5_000_000 },
            },
        };
        assert_eq!(
            stored.to_json(1000)["list"],
            json!("List too long to return: 5000000")
        );
    }

    #[test]
    fn too_long_text_detection_is_exact() {
        assert!(is_list_too_long_text(&json!("List too long to return: 12")));
        assert!(!is_list_too_long_text(&json!("List too long to return: ")));
        assert!(!is_list_too_long_text(&json!(
            "List too long to return: 1x"
        )));
        assert!(!is_list_too_long_text(&json!(["a"])));
    }
}
