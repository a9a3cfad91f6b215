//! The errors of this crate: [`ValidationError`] (an API input or a tree breaks a rule of
//! SPEC §3.3), [`ListItemError`] (one list value cannot be normalized) and [`CompileError`].

use std::fmt;

/// Which filter a [`ValidationError`] is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FilterRef {
    /// A stored filter, by id.
    Id(i64),
    /// A filter of the request body that has no stored id yet: its position, outermost first
    /// (`[2]` is the third filter of a bulk create, `[0, 1]` the second child of the first).
    Input(Vec<usize>),
}

impl fmt::Display for FilterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterRef::Id(id) => write!(f, "filter {id}"),
            FilterRef::Input(path) => {
                f.write_str("input filter ")?;
                if path.is_empty() {
                    return f.write_str("(top)");
                }
                for (depth, index) in path.iter().enumerate() {
                    if depth == 0 {
                        write!(f, "filters[{index}]")?;
                    } else {
                        write!(f, ".filters[{index}]")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// An API input or a tree that breaks a rule of SPEC §3.3; the admin API answers it with 400
/// `VALIDATION`, naming `field` and `filter`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ValidationError {
    /// The offending attribute: `"field_type"`, `"filter_type"`, `"operator"`, `"list"`,
    /// `"threshold"`, `"parent_filter_id"`, `"id"` or `"filters"`.
    pub field: &'static str,
    /// The offending filter, when one can be named.
    pub filter: Option<FilterRef>,
    /// What is wrong, for a human.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.filter {
            Some(filter) => write!(f, "{filter}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl ValidationError {
    /// An error about `field`, not yet attached to a filter.
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            filter: None,
            message: message.into(),
        }
    }

    /// An error about `field` of the stored filter `id`.
    pub(crate) fn at_id(field: &'static str, id: i64, message: impl Into<String>) -> Self {
        Self {
            field,
            filter: Some(FilterRef::Id(id)),
            message: message.into(),
        }
    }

    /// Names the filter unless one is named already.
    #[must_use]
    pub fn or_filter(mut self, filter: FilterRef) -> Self {
        if self.filter.is_none() {
            self.filter = Some(filter);
        }
        self
    }
}

/// One list value that cannot be normalized for its field (SPEC §3.1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("item {index}: {message}")]
pub struct ListItemError {
    /// Position of the value in the list (0-based).
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

impl From<ListItemError> for ValidationError {
    fn from(err: ListItemError) -> Self {
        ValidationError::new("list", err.to_string())
    }
}

/// Why a set of [`crate::FilterSpec`]s could not be compiled into a [`crate::FilterTree`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CompileError {
    /// The nodes do not form one valid tree (see [`crate::validate_tree`]).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A list value of filter `filter` cannot be normalized for its field.
    #[error("filter {filter}: list {source}")]
    ListItem {
        /// The filter holding the list.
        filter: i64,
        /// The bad value.
        source: ListItemError,
    },
    /// The [`crate::ListSource`] gave filter `filter` a list compiled for another kind of field.
    #[error("filter {filter}: the shared list holds {found}, the filter needs {expected}")]
    ListKind {
        /// The filter holding the list.
        filter: i64,
        /// The kind the filter's field needs.
        expected: &'static str,
        /// The kind the list source gave.
        found: &'static str,
    },
    /// The spec's list is [`crate::ListValues::Stored`] and the list source had no compiled list.
    #[error(
        "filter {filter}: its list is kept in the store and the list source did not provide it"
    )]
    MissingList {
        /// The filter holding the list.
        filter: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_filter_and_field() {
        let err = ValidationError::at_id("list", 7, "must be an array");
        assert_eq!(err.to_string(), "filter 7: list: must be an array");
        let err =
            ValidationError::new("operator", "unknown").or_filter(FilterRef::Input(vec![1, 0]));
        assert_eq!(
            err.to_string(),
            "input filter filters[1].filters[0]: operator: unknown"
        );
        let err = ValidationError::new("field_type", "required");
        assert_eq!(err.to_string(), "field_type: required");
    }

    #[test]
    fn or_filter_keeps_the_first_name() {
        let err = ValidationError::at_id("list", 3, "x").or_filter(FilterRef::Id(9));
        assert_eq!(err.filter, Some(FilterRef::Id(3)));
    }

    #[test]
    fn list_item_error_becomes_a_list_validation_error() {
        let err: ValidationError = ListItemError {
            index: 2,
            message: "not a size".into(),
        }
        .into();
        assert_eq!(err.field, "list");
        assert_eq!(err.message, "item 2: not a size");
    }
}
