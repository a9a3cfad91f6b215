//! Tree-level validation (SPEC §3.3): one root, parents that exist and are boolean, no cycle, a
//! bounded depth. Used by the admin API before committing any change (through the plans of
//! [`crate::edit`]) and by the compiler.

use std::collections::HashMap;

use crate::error::{FilterRef, ValidationError};
use crate::list::ListValues;
use crate::model::{FilterKind, FilterSpec, FilterType};

/// The deepest a tree may be, counting the root as level 1. Keeps evaluation's recursion
/// shallow whatever a customer sends.
pub const MAX_TREE_DEPTH: usize = 32;

/// The most filters one customer's tree may hold (filters are rules; their lists hold the
/// volume).
pub const MAX_TREE_NODES: usize = 10_000;

/// Checks that `nodes` (one customer's filters) form one valid tree: ids are unique, exactly one
/// node has no parent, every parent exists among `nodes` (so another customer's filter never
/// qualifies) and is boolean, there is no cycle, the depth is at most [`MAX_TREE_DEPTH`],
/// there are at most [`MAX_TREE_NODES`] nodes, thresholds are finite and each list holds the
/// right kind of values for its field.
///
/// # Errors
/// The first broken rule, naming the filter and the attribute.
pub fn validate_tree(nodes: &[FilterSpec]) -> Result<(), ValidationError> {
    for node in nodes {
        check_kind(node)?;
    }
    let shapes: Vec<Shape> = nodes
        .iter()
        .map(|node| Shape {
            id: node.id,
            parent: node.parent_id,
            filter_type: node.kind.filter_type(),
            name: FilterRef::Id(node.id),
        })
        .collect();
    check_shapes(&shapes)
}

/// What the tree checks need of a node; `id` may be a temporary id of a planned node, `name` is
/// how errors refer to it.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub(crate) id: i64,
    pub(crate) parent: Option<i64>,
    pub(crate) filter_type: FilterType,
    pub(crate) name: FilterRef,
}

fn error(field: &'static str, name: &FilterRef, message: String) -> ValidationError {
    ValidationError {
        field,
        filter: Some(name.clone()),
        message,
    }
}

/// The structural checks of [`validate_tree`] over shapes.
pub(crate) fn check_shapes(shapes: &[Shape]) -> Result<(), ValidationError> {
    if shapes.len() > MAX_TREE_NODES {
        return Err(ValidationError::new(
            "filters",
            format!(
                "a tree holds at most {MAX_TREE_NODES} filters; this one would hold {}",
                shapes.len()
            ),
        ));
    }
    let mut by_id: HashMap<i64, &Shape> = HashMap::with_capacity(shapes.len());
    for shape in shapes {
        if by_id.insert(shape.id, shape).is_some() {
            return Err(error(
                "id",
                &shape.name,
                format!("id {} is used twice", shape.id),
            ));
        }
    }
    let mut root: Option<&Shape> = None;
    for shape in shapes.iter().filter(|s| s.parent.is_none()) {
        if let Some(root) = root {
            return Err(error(
                "parent_filter_id",
                &shape.name,
                format!(
                    "a tree has one root and {} is the root already; this filter needs a parent",
                    root.name
                ),
            ));
        }
        root = Some(shape);
    }
    let Some(root) = root else {
        return Err(match shapes.first() {
            None => ValidationError::new("filters", "the tree is empty; it needs a root filter"),
            Some(first) => error(
                "parent_filter_id",
                &first.name,
                "no filter is the root: every filter has a parent, so they form a cycle".into(),
            ),
        });
    };
    let mut children: HashMap<i64, Vec<&Shape>> = HashMap::new();
    for shape in shapes {
        let Some(parent_id) = shape.parent else {
            continue;
        };
        if parent_id == shape.id {
            return Err(error(
                "parent_filter_id",
                &shape.name,
                "a filter cannot be its own parent".into(),
            ));
        }
        let Some(parent) = by_id.get(&parent_id) else {
            return Err(error(
                "parent_filter_id",
                &shape.name,
                format!("filter {parent_id} does not exist"),
            ));
        };
        if parent.filter_type != FilterType::Boolean {
            return Err(error(
                "parent_filter_id",
                &shape.name,
                format!(
                    "{} is a {} filter; only boolean filters have children",
                    parent.name,
                    parent.filter_type.as_str()
                ),
            ));
        }
        children.entry(parent_id).or_default().push(shape);
    }
    // Walk down from the root; whatever is not reached hangs off a cycle.
    let mut reached = 1usize;
    let mut level: Vec<&Shape> = vec![root];
    let mut depth = 1usize;
    while !level.is_empty() {
        let mut next = Vec::new();
        for shape in &level {
            if let Some(kids) = children.get(&shape.id) {
                next.extend(kids.iter().copied());
            }
        }
        if !next.is_empty() {
            depth += 1;
            if depth > MAX_TREE_DEPTH {
                let deep = next.first().map_or(&root.name, |s| &s.name);
                return Err(error(
                    "parent_filter_id",
                    deep,
                    format!("the tree would be deeper than {MAX_TREE_DEPTH} levels"),
                ));
            }
        }
        reached += next.len();
        level = next;
    }
    if reached != shapes.len() {
        return Err(cycle_error(shapes, &by_id, root.id));
    }
    Ok(())
}

/// Names the cycle an unreachable node hangs from.
fn cycle_error(shapes: &[Shape], by_id: &HashMap<i64, &Shape>, root: i64) -> ValidationError {
    // Every node has an existing parent (checked before), so following parents from a node that
    // does not reach the root must come back to a node already seen.
    let reaches_root = |start: &Shape| {
        let mut current = start;
        for _ in 0..=shapes.len() {
            match current.parent.and_then(|p| by_id.get(&p)) {
                None => return current.id == root,
                Some(parent) => current = parent,
            }
        }
        false
    };
    let Some(start) = shapes.iter().find(|s| !reaches_root(s)) else {
        return ValidationError::new("parent_filter_id", "the filters form a cycle");
    };
    let mut seen: Vec<&Shape> = Vec::new();
    let mut current = start;
    while !seen.iter().any(|s| s.id == current.id) {
        seen.push(current);
        match current.parent.and_then(|p| by_id.get(&p)) {
            Some(parent) => current = parent,
            None => break,
        }
    }
    let cycle_start = seen.iter().position(|s| s.id == current.id).unwrap_or(0);
    let members: Vec<String> = seen
        .iter()
        .skip(cycle_start)
        .map(|s| s.name.to_string())
        .collect();
    error(
        "parent_filter_id",
        &current.name,
        format!("the parents form a cycle: {}", members.join(" -> ")),
    )
}

/// Node-level checks of an already built spec (a spec built in code skips [`crate::FilterInput`]).
fn check_kind(node: &FilterSpec) -> Result<(), ValidationError> {
    match &node.kind {
        FilterKind::Threshold { threshold, .. } if !threshold.is_finite() => Err(
            ValidationError::at_id("threshold", node.id, "must be a finite number"),
        ),
        FilterKind::List { field, values, .. } => match values {
            ListValues::Ints(_) if !field.holds_integers() => Err(ValidationError::at_id(
                "list",
                node.id,
                format!(
                    "a {} list holds strings, not integers",
                    field.field_type().as_str()
                ),
            )),
            ListValues::Strings(_) if field.holds_integers() => Err(ValidationError::at_id(
                "list",
                node.id,
                format!(
                    "a {} list holds integers, not strings",
                    field.field_type().as_str()
                ),
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BoolOp, ListField, ThresholdOp};

    fn boolean(id: i64, parent: Option<i64>) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: parent,
            kind: FilterKind::Boolean(BoolOp::And),
        }
    }

    fn leaf(id: i64, parent: Option<i64>) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: parent,
            kind: FilterKind::List {
                field: ListField::User,
                white: true,
                values: ListValues::Strings(vec!["a".into()]),
            },
        }
    }

    fn err(nodes: &[FilterSpec]) -> ValidationError {
        validate_tree(nodes).unwrap_err()
    }

    #[test]
    fn a_valid_tree_passes() {
        validate_tree(&[
            boolean(1, None),
            boolean(2, Some(1)),
            leaf(3, Some(2)),
            leaf(4, Some(1)),
        ])
        .unwrap();
        validate_tree(&[leaf(1, None)]).unwrap();
    }

    #[test]
    fn exactly_one_root() {
        let e = err(&[boolean(1, None), boolean(2, None)]);
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Id(2)));
        let e = err(&[]);
        assert_eq!(e.field, "filters");
    }

    #[test]
    fn parents_must_exist_and_be_boolean() {
        let e = err(&[boolean(1, None), leaf(2, Some(99))]);
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Id(2)));
        assert!(e.message.contains("99"), "{}", e.message);
        let e = err(&[boolean(1, None), leaf(2, Some(1)), leaf(3, Some(2))]);
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Id(3)));
        assert!(e.message.contains("white"), "{}", e.message);
    }

    #[test]
    fn cycles_are_found() {
        let e = err(&[boolean(1, None), boolean(2, Some(3)), boolean(3, Some(2))]);
        assert_eq!(e.field, "parent_filter_id");
        assert!(e.message.contains("cycle"), "{}", e.message);
        let e = err(&[boolean(1, None), boolean(2, Some(2))]);
        assert!(e.message.contains("own parent"), "{}", e.message);
        // A node hanging below a cycle.
        let e = err(&[
            boolean(1, None),
            boolean(2, Some(3)),
            boolean(3, Some(2)),
            leaf(4, Some(2)),
        ]);
        assert!(e.message.contains("cycle"), "{}", e.message);
        // No root at all.
        let e = err(&[boolean(2, Some(3)), boolean(3, Some(2))]);
        assert!(e.message.contains("cycle"), "{}", e.message);
    }

    #[test]
    fn ids_are_unique() {
        let e = err(&[boolean(1, None), leaf(1, Some(1))]);
        assert_eq!(e.field, "id");
    }

    #[test]
    fn depth_is_bounded() {
        let mut nodes = vec![boolean(1, None)];
        for id in 2..=MAX_TREE_DEPTH as i64 {
            nodes.push(boolean(id, Some(id - 1)));
        }
        validate_tree(&nodes).unwrap();
        nodes.push(leaf(1000, Some(MAX_TREE_DEPTH as i64)));
        let e = err(&nodes);
        assert!(e.message.contains("deeper"), "{}", e.message);
    }

    #[test]
    fn size_is_bounded() {
        let mut nodes = vec![boolean(1, None)];
        for id in 2..=MAX_TREE_NODES as i64 {
            nodes.push(leaf(id, Some(1)));
        }
        validate_tree(&nodes).unwrap();
        nodes.push(leaf(0, Some(1)));
        assert_eq!(err(&nodes).field, "filters");
    }

    #[test]
    fn kinds_are_checked() {
        let e = err(&[FilterSpec {
            id: 1,
            parent_id: None,
            kind: FilterKind::Threshold {
                op: ThresholdOp::LessThan,
                threshold: f64::NAN,
            },
        }]);
        assert_eq!(e.field, "threshold");
        let e = err(&[FilterSpec {
            id: 1,
            parent_id: None,
            kind: FilterKind::List {
                field: ListField::Stream,
                white: true,
                values: ListValues::Strings(vec!["1".into()]),
            },
        }]);
        assert_eq!(e.field, "list");
        let e = err(&[FilterSpec {
            id: 1,
            parent_id: None,
            kind: FilterKind::List {
                field: ListField::User,
                white: true,
                values: ListValues::Ints(vec![1]),
            },
        }]);
        assert_eq!(e.field, "list");
    }
}
