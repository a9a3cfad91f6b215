//! [`FilterRow`]: a filter as the store keeps it (names as text, the list elsewhere), and its
//! conversion to a [`FilterSpec`] for building snapshots and checking changes.

use crate::error::ValidationError;
use crate::list::ListValues;
use crate::model::{BoolOp, FieldType, FilterKind, FilterSpec, FilterType, Operator, ThresholdOp};

/// One stored filter node, borrowed from the store's record. The list values are not here:
/// only their number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterRow<'a> {
    /// The store's id.
    pub id: i64,
    /// The parent's id; `None` for the root.
    pub parent_id: Option<i64>,
    /// `field_type` as stored.
    pub field_type: &'a str,
    /// `filter_type` as stored.
    pub filter_type: &'a str,
    /// `operator` as stored, if any.
    pub operator: Option<&'a str>,
    /// `threshold` as stored (threshold filters).
    pub threshold: Option<f64>,
    /// Number of values in the list (list filters).
    pub list_len: usize,
}

impl FilterRow<'_> {
    /// The validated spec of this row. A list filter's values become
    /// [`ListValues::Stored`]: the compiler takes them from its [`crate::ListSource`], the
    /// renderer shows "List too long to return: N" unless the caller puts the loaded values in.
    ///
    /// # Errors
    /// The stored names or threshold break SPEC §3.1 (a row written without this crate's
    /// validation, or a damaged store).
    pub fn to_spec(&self) -> Result<FilterSpec, ValidationError> {
        let id = self.id;
        let field = FieldType::from_name(self.field_type).ok_or_else(|| {
            ValidationError::at_id(
                "field_type",
                id,
                format!("unknown field_type {:?}", self.field_type),
            )
        })?;
        let filter = FilterType::from_name(self.filter_type).ok_or_else(|| {
            ValidationError::at_id(
                "filter_type",
                id,
                format!("unknown filter_type {:?}", self.filter_type),
            )
        })?;
        let operator = match self.operator {
            None => None,
            Some(name) => Some(Operator::from_name(name).ok_or_else(|| {
                ValidationError::at_id("operator", id, format!("unknown operator {name:?}"))
            })?),
        };
        let mismatch = || {
            ValidationError::at_id(
                "filter_type",
                id,
                format!(
                    "field_type {:?} cannot have filter_type {:?}",
                    field.as_str(),
                    filter.as_str()
                ),
            )
        };
        let kind = match filter {
            FilterType::Boolean => match field {
                FieldType::And => FilterKind::Boolean(BoolOp::And),
                FieldType::Or => FilterKind::Boolean(BoolOp::Or),
                _ => return Err(mismatch()),
            },
            FilterType::Threshold => {
                if field != FieldType::Authed {
                    return Err(mismatch());
                }
                let op = match operator {
                    Some(Operator::GreaterThan) => ThresholdOp::GreaterThan,
                    Some(Operator::LessThan) => ThresholdOp::LessThan,
                    _ => {
                        return Err(ValidationError::at_id(
                            "operator",
                            id,
                            "threshold filters need \"greaterthan\" or \"lessthan\"",
                        ));
                    }
                };
                let threshold = self.threshold.filter(|t| t.is_finite()).ok_or_else(|| {
                    ValidationError::at_id("threshold", id, "must be a finite number")
                })?;
                FilterKind::Threshold { op, threshold }
            }
            FilterType::White | FilterType::Black => {
                let list_field = field.list_field().ok_or_else(mismatch)?;
                if !matches!(operator, None | Some(Operator::Equals)) {
                    return Err(ValidationError::at_id(
                        "operator",
                        id,
                        "list filters take \"equals\"",
                    ));
                }
                FilterKind::List {
                    field: list_field,
                    white: filter == FilterType::White,
                    values: ListValues::Stored { len: self.list_len },
                }
            }
        };
        Ok(FilterSpec {
            id,
            parent_id: self.parent_id,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ListField;

    fn row<'a>(
        field_type: &'a str,
        filter_type: &'a str,
        operator: Option<&'a str>,
    ) -> FilterRow<'a> {
        FilterRow {
            id: 5,
            parent_id: Some(1),
            field_type,
            filter_type,
            operator,
            threshold: Some(0.5),
            list_len: 12,
        }
    }

    #[test]
    fn converts_each_kind() {
        assert_eq!(
            row("or", "boolean", None).to_spec().unwrap().kind,
            FilterKind::Boolean(BoolOp::Or)
        );
        assert_eq!(
            row("authed", "threshold", Some("lessthan"))
                .to_spec()
                .unwrap()
                .kind,
            FilterKind::Threshold {
                op: ThresholdOp::LessThan,
                threshold: 0.5
            }
        );
        let spec = row("uid2_status", "black", Some("equals"))
            .to_spec()
            .unwrap();
        assert_eq!(spec.parent_id, Some(1));
        assert_eq!(
            spec.kind,
            FilterKind::List {
                field: ListField::Uid2Status,
                white: false,
                values: ListValues::Stored { len: 12 }
            }
        );
        assert!(row("user", "white", None).to_spec().is_ok());
    }

    #[test]
    fn rejects_damaged_rows() {
        assert_eq!(
            row("device", "white", None).to_spec().unwrap_err().field,
            "field_type"
        );
        assert_eq!(
            row("user", "grey", None).to_spec().unwrap_err().field,
            "filter_type"
        );
        assert_eq!(
            row("user", "boolean", None).to_spec().unwrap_err().field,
            "filter_type"
        );
        assert_eq!(
            row("and", "white", None).to_spec().unwrap_err().field,
            "filter_type"
        );
        assert_eq!(
            row("user", "threshold", None).to_spec().unwrap_err().field,
            "filter_type"
        );
        assert_eq!(
            row("authed", "threshold", None)
                .to_spec()
                .unwrap_err()
                .field,
            "operator"
        );
        assert_eq!(
            row("user", "white", Some("lessthan"))
                .to_spec()
                .unwrap_err()
                .field,
            "operator"
        );
        assert_eq!(
            row("user", "white", Some("x")).to_spec().unwrap_err().field,
            "operator"
        );
        let mut nan = row("authed", "threshold", Some("greaterthan"));
        nan.threshold = Some(f64::NAN);
        assert_eq!(nan.to_spec().unwrap_err().field, "threshold");
        nan.threshold = None;
        assert_eq!(nan.to_spec().unwrap_err().field, "threshold");
    }
}
