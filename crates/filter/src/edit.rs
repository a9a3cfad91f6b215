//! Plans for the admin API's filter changes (SPEC §5.4): each function takes the customer's
//! current filters and the request, checks every rule of SPEC §3.3 on the tree as it would be
//! after the change, and returns what to write. Nothing is written here; a rejected request
//! yields a [`ValidationError`] and the caller changes nothing.
//!
//! `current` is always the whole tree of one customer, so a parent id that is not in it
//! (another customer's filter included) "does not exist".

use std::collections::{HashMap, HashSet};

use crate::error::{FilterRef, ValidationError};
use crate::input::FilterInput;
use crate::model::{FilterKind, FilterSpec};
use crate::validate::{Shape, check_shapes};

/// Where a planned filter hangs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentRef {
    /// Under a stored filter.
    Existing(i64),
    /// Under the planned filter at this index of the same plan (always an earlier one).
    Planned(usize),
}

/// One filter to write: a new one (`id == None`) or an existing one updated in place.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFilter {
    /// The stored id of a filter updated in place; `None` for a filter to insert.
    pub id: Option<i64>,
    /// The parent; `None` only for the root.
    pub parent: Option<ParentRef>,
    /// What the filter does.
    pub kind: FilterKind,
    /// The filter's position in the request body (see [`FilterRef::Input`]).
    pub input: Vec<usize>,
    /// True when the list must be written (new list filters, replaced or re-normalized lists).
    pub list_changed: bool,
}

/// The result of a partial update of one filter.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterUpdate {
    /// The filter after the update.
    pub spec: FilterSpec,
    /// True when its list must be written.
    pub list_changed: bool,
}

/// The result of replacing a customer's whole tree (declarative apply).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplacePlan {
    /// Every filter of the new tree, root first, parents before children. Write them in this
    /// order, then delete.
    pub filters: Vec<PlannedFilter>,
    /// Stored filters absent from the new tree, children before parents.
    pub delete: Vec<i64>,
}

fn root_of(current: &[FilterSpec]) -> Result<&FilterSpec, ValidationError> {
    current
        .iter()
        .find(|f| f.parent_id.is_none())
        .ok_or_else(|| ValidationError::new("parent_filter_id", "the customer has no root filter"))
}

fn shapes_of(current: &[FilterSpec]) -> Vec<Shape> {
    current
        .iter()
        .map(|f| Shape {
            id: f.id,
            parent: f.parent_id,
            filter_type: f.kind.filter_type(),
            name: FilterRef::Id(f.id),
        })
        .collect()
}

/// A temporary id for planned node `index`, above every stored id.
fn temporary_id(current: &[FilterSpec], index: usize) -> i64 {
    let base = current.iter().map(|f| f.id).max().unwrap_or(0).max(0);
    base.saturating_add(1)
        .saturating_add(i64::try_from(index).unwrap_or(i64::MAX))
}

/// One input filter flattened out of a bulk or nested request.
struct Flat {
    path: Vec<usize>,
    nest_parent: Option<usize>,
    kind: FilterKind,
    list_changed: bool,
    /// The `id` attribute (a label in a create; a stored id or nothing in a replace).
    id: Option<i64>,
    parent_attr: Option<i64>,
}

impl Flat {
    fn name(&self) -> FilterRef {
        FilterRef::Input(self.path.clone())
    }
}

/// Turns one input (and its `id` attribute) into its kind and whether its list is new.
type KindOf<'a> =
    dyn FnMut(&FilterInput, Option<i64>) -> Result<(FilterKind, bool), ValidationError> + 'a;

/// Flattens `inputs` depth first; `kind_of` turns one input into its kind.
fn flatten(
    inputs: &[FilterInput],
    prefix: &[usize],
    nest_parent: Option<usize>,
    kind_of: &mut KindOf<'_>,
    out: &mut Vec<Flat>,
) -> Result<(), ValidationError> {
    for (position, input) in inputs.iter().enumerate() {
        let mut path = prefix.to_vec();
        path.push(position);
        flatten_one(input, path, nest_parent, kind_of, out)?;
    }
    Ok(())
}

fn flatten_one(
    input: &FilterInput,
    path: Vec<usize>,
    nest_parent: Option<usize>,
    kind_of: &mut KindOf<'_>,
    out: &mut Vec<Flat>,
) -> Result<(), ValidationError> {
    let name = FilterRef::Input(path.clone());
    let id = input.id().map_err(|e| e.or_filter(name.clone()))?;
    let parent_attr = input.parent_id().map_err(|e| e.or_filter(name.clone()))?;
    let (kind, list_changed) = kind_of(input, id).map_err(|e| e.or_filter(name.clone()))?;
    if let Some(nest) = nest_parent.and_then(|i| out.get(i))
        && let Some(parent) = parent_attr
        && Some(parent) != nest.id
    {
        return Err(ValidationError {
            field: "parent_filter_id",
            filter: Some(name),
            message: format!(
                "a nested filter's parent is the filter it is nested in, not filter {parent}"
            ),
        });
    }
    let index = out.len();
    let children = input.filters.as_deref().unwrap_or(&[]);
    if !children.is_empty() && !kind.is_boolean() {
        return Err(ValidationError {
            field: "filters",
            filter: Some(name),
            message: format!(
                "only boolean filters have children; this is a {} filter",
                kind.filter_type().as_str()
            ),
        });
    }
    out.push(Flat {
        path: path.clone(),
        nest_parent,
        kind,
        list_changed,
        id,
        parent_attr,
    });
    flatten(children, &path, Some(index), kind_of, out)
}

fn new_kind(input: &FilterInput) -> Result<(FilterKind, bool), ValidationError> {
    let kind = input.to_kind()?;
    let is_list = matches!(kind, FilterKind::List { .. });
    Ok((kind, is_list))
}

/// Plans `POST /api/filters`: `inputs` are the filters of `{"filters": [...]}` (or the one of
/// `{"filter": F}`), each possibly a nested tree (`"filters"` inside).
///
/// A filter without a parent goes under the root. Within one request, a filter's `id` is a
/// label: another filter of the request naming it in `parent_filter_id`/`parent_id` hangs under
/// it (the seed guide's "Combining Filters" example), whatever the order; a label shadows a
/// stored id. The stored ids are generated on insert. The plan lists the filters parents
/// first; [`PlannedFilter::input`] gives each one's position in the request.
///
/// # Errors
/// Any invalid filter, an unknown or non-boolean parent, a label used twice, a cycle among
/// labels, or a tree that would be too deep.
pub fn plan_create(
    current: &[FilterSpec],
    inputs: &[FilterInput],
) -> Result<Vec<PlannedFilter>, ValidationError> {
    let root = root_of(current)?;
    let mut flat = Vec::new();
    flatten(
        inputs,
        &[],
        None,
        &mut |input, _| new_kind(input),
        &mut flat,
    )?;
    let mut labels: HashMap<i64, usize> = HashMap::new();
    for (index, node) in flat.iter().enumerate() {
        if let Some(label) = node.id
            && labels.insert(label, index).is_some()
        {
            return Err(ValidationError {
                field: "id",
                filter: Some(node.name()),
                message: format!("id {label} is used by two filters of this request"),
            });
        }
    }
    let stored: HashMap<i64, &FilterSpec> = current.iter().map(|f| (f.id, f)).collect();
    let mut parents: Vec<ParentRef> = Vec::with_capacity(flat.len());
    for (index, node) in flat.iter().enumerate() {
        let parent = match (node.nest_parent, node.parent_attr) {
            (Some(nest), _) => ParentRef::Planned(nest),
            (None, None) => ParentRef::Existing(root.id),
            (None, Some(parent)) => match labels.get(&parent) {
                Some(&label_index) if label_index == index => {
                    return Err(ValidationError {
                        field: "parent_filter_id",
                        filter: Some(node.name()),
                        message: "a filter cannot be its own parent".into(),
                    });
                }
                Some(&label_index) => ParentRef::Planned(label_index),
                None if stored.contains_key(&parent) => ParentRef::Existing(parent),
                None => {
                    return Err(ValidationError {
                        field: "parent_filter_id",
                        filter: Some(node.name()),
                        message: format!("filter {parent} does not exist"),
                    });
                }
            },
        };
        parents.push(parent);
    }
    // Check the tree as it would be, new filters under temporary ids.
    let mut shapes = shapes_of(current);
    for (index, node) in flat.iter().enumerate() {
        let parent = match parents.get(index) {
            Some(ParentRef::Existing(id)) => Some(*id),
            Some(ParentRef::Planned(p)) => Some(temporary_id(current, *p)),
            None => None,
        };
        shapes.push(Shape {
            id: temporary_id(current, index),
            parent,
            filter_type: node.kind.filter_type(),
            name: node.name(),
        });
    }
    check_shapes(&shapes)?;
    // Parents first: a valid tree has no cycle, so repeatedly emitting ready nodes terminates.
    let order = parents_first(&parents);
    let mut position = vec![0usize; flat.len()];
    for (new_index, &old_index) in order.iter().enumerate() {
        if let Some(slot) = position.get_mut(old_index) {
            *slot = new_index;
        }
    }
    let mut flat: Vec<Option<Flat>> = flat.into_iter().map(Some).collect();
    let mut plan = Vec::with_capacity(order.len());
    for old_index in order {
        let Some(node) = flat.get_mut(old_index).and_then(Option::take) else {
            continue;
        };
        let parent = match parents.get(old_index) {
            Some(ParentRef::Planned(p)) => {
                ParentRef::Planned(position.get(*p).copied().unwrap_or_default())
            }
            Some(other) => *other,
            None => ParentRef::Existing(root.id),
        };
        plan.push(PlannedFilter {
            id: None,
            parent: Some(parent),
            kind: node.kind,
            input: node.path,
            list_changed: node.list_changed,
        });
    }
    Ok(plan)
}

/// Orders planned nodes so that each comes right after its not yet emitted planned ancestors,
/// in request order otherwise. `parents` has no cycle (checked before).
fn parents_first(parents: &[ParentRef]) -> Vec<usize> {
    let mut emitted = vec![false; parents.len()];
    let mut order = Vec::with_capacity(parents.len());
    let mut chain = Vec::new();
    for start in 0..parents.len() {
        chain.clear();
        let mut at = start;
        // At most one step per node: a longer walk would mean a cycle.
        for _ in 0..parents.len() {
            if emitted.get(at).copied().unwrap_or(true) {
                break;
            }
            chain.push(at);
            match parents.get(at) {
                Some(ParentRef::Planned(parent)) => at = *parent,
                _ => break,
            }
        }
        for &index in chain.iter().rev() {
            if let Some(flag) = emitted.get_mut(index)
                && !*flag
            {
                *flag = true;
                order.push(index);
            }
        }
    }
    order
}

/// Plans `PUT /api/filters/{id}` (a partial update: see [`FilterInput::merge_kind`]); a given
/// `parent_filter_id` moves the filter.
///
/// # Errors
/// `id` is not a filter of `current` (field `id`; the API answers 404 for that), the body's
/// `id` differs from `id`, any invalid attribute, a boolean filter with children turned into a
/// leaf, a move that gives the root a parent, makes a cycle or targets an unknown or
/// non-boolean parent.
pub fn plan_update(
    current: &[FilterSpec],
    id: i64,
    input: &FilterInput,
) -> Result<FilterUpdate, ValidationError> {
    let name = FilterRef::Id(id);
    let Some(existing) = current.iter().find(|f| f.id == id) else {
        return Err(ValidationError::at_id("id", id, "filter does not exist"));
    };
    if let Some(body_id) = input.id().map_err(|e| e.or_filter(name.clone()))?
        && body_id != id
    {
        return Err(ValidationError::at_id(
            "id",
            id,
            format!("the body's id {body_id} differs from the filter being updated"),
        ));
    }
    let (kind, list_changed) = input
        .merge_kind(&existing.kind)
        .map_err(|e| e.or_filter(name.clone()))?;
    let parent_id = match input.parent_id().map_err(|e| e.or_filter(name.clone()))? {
        None => existing.parent_id,
        Some(parent) if existing.parent_id.is_none() => {
            return Err(ValidationError::at_id(
                "parent_filter_id",
                id,
                format!("the root filter has no parent; it cannot move under filter {parent}"),
            ));
        }
        Some(parent) => Some(parent),
    };
    if !kind.is_boolean() {
        let children = current.iter().filter(|f| f.parent_id == Some(id)).count();
        if children > 0 {
            return Err(ValidationError::at_id(
                "filter_type",
                id,
                format!(
                    "the filter has {children} child filter(s); a boolean filter with children \
                     cannot become a {} filter",
                    kind.filter_type().as_str()
                ),
            ));
        }
    }
    let mut shapes = shapes_of(current);
    for shape in &mut shapes {
        if shape.id == id {
            shape.parent = parent_id;
            shape.filter_type = kind.filter_type();
        }
    }
    check_shapes(&shapes)?;
    Ok(FilterUpdate {
        spec: FilterSpec {
            id,
            parent_id,
            kind,
        },
        list_changed,
    })
}

/// Plans `DELETE /api/filters/{id}`: the ids to delete, `id`'s subtree, children first.
///
/// # Errors
/// `id` is not a filter of `current` (field `id`; the API answers 404), or it is the root.
pub fn plan_delete(current: &[FilterSpec], id: i64) -> Result<Vec<i64>, ValidationError> {
    let Some(existing) = current.iter().find(|f| f.id == id) else {
        return Err(ValidationError::at_id("id", id, "filter does not exist"));
    };
    if existing.parent_id.is_none() {
        return Err(ValidationError::at_id(
            "id",
            id,
            "the root filter cannot be deleted",
        ));
    }
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for f in current {
        if let Some(parent) = f.parent_id {
            children.entry(parent).or_default().push(f.id);
        }
    }
    // Breadth first from `id`, then reversed: every child comes before its parent.
    let mut order = vec![id];
    let mut seen: HashSet<i64> = HashSet::from([id]);
    let mut next = 0;
    while let Some(&node) = order.get(next) {
        next += 1;
        for &child in children.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(child) {
                order.push(child);
            }
        }
    }
    order.reverse();
    Ok(order)
}

/// Plans `PUT /api/filters` with `{"filter": TREE}`: the customer's tree becomes `tree`.
///
/// The top of `tree` is the root (its `id`, if given, must be the root's). A node whose `id` is
/// a stored filter of `current` updates that filter in place (attributes it omits are kept, as
/// in [`plan_update`], so a list sent back as "List too long to return: N" is kept); a node
/// without an id, or with an id that is not one of the customer's, is created. Stored filters
/// the tree does not mention are deleted. Nesting gives the parents; a `parent_filter_id`
/// inside the tree must agree with it.
///
/// # Errors
/// Any invalid filter, a stored id used twice, a root id below the top, children under a leaf,
/// a top with a parent, or a tree that would be too deep.
pub fn plan_replace(
    current: &[FilterSpec],
    tree: &FilterInput,
) -> Result<ReplacePlan, ValidationError> {
    let root = root_of(current)?;
    let stored: HashMap<i64, &FilterSpec> = current.iter().map(|f| (f.id, f)).collect();
    let top = FilterRef::Input(Vec::new());
    match tree.id().map_err(|e| e.or_filter(top.clone()))? {
        Some(id) if id != root.id => {
            return Err(ValidationError {
                field: "id",
                filter: Some(top),
                message: format!(
                    "the top of the tree is the root filter {}, not filter {id}",
                    root.id
                ),
            });
        }
        _ => {}
    }
    if tree.parent_filter_id.is_some() {
        return Err(ValidationError {
            field: "parent_filter_id",
            filter: Some(top),
            message: "the top of the tree is the root; it has no parent".into(),
        });
    }
    let mut kind_of = |input: &FilterInput, id: Option<i64>| {
        // The top is the root whatever id it carries; others update a stored filter by id.
        let existing = if std::ptr::eq(input, tree) {
            Some(root)
        } else {
            id.and_then(|id| stored.get(&id).copied())
        };
        match existing {
            Some(existing) => input.merge_kind(&existing.kind),
            None => new_kind(input),
        }
    };
    let mut flat = Vec::new();
    flatten_one(tree, Vec::new(), None, &mut kind_of, &mut flat)?;
    // The top is the root whatever id it carried.
    let stored_id = |node: &Flat, index: usize| -> Option<i64> {
        if index == 0 {
            Some(root.id)
        } else {
            node.id.filter(|id| stored.contains_key(id))
        }
    };
    let mut seen: HashSet<i64> = HashSet::new();
    for (index, node) in flat.iter().enumerate() {
        if let Some(id) = stored_id(node, index) {
            if index != 0 && id == root.id {
                return Err(ValidationError {
                    field: "id",
                    filter: Some(node.name()),
                    message: format!("filter {id} is the root; it can only be the top of the tree"),
                });
            }
            if !seen.insert(id) {
                return Err(ValidationError {
                    field: "id",
                    filter: Some(node.name()),
                    message: format!("filter {id} appears twice in the tree"),
                });
            }
        }
    }
    // The root (index 0) keeps its kind from the merge above when given as the top.
    let mut shapes = Vec::with_capacity(flat.len());
    let mut filters = Vec::with_capacity(flat.len());
    for (index, node) in flat.iter().enumerate() {
        let id = stored_id(node, index);
        let parent =
            node.nest_parent.map(
                |p| match flat.get(p).and_then(|parent| stored_id(parent, p)) {
                    Some(parent_id) => ParentRef::Existing(parent_id),
                    None => ParentRef::Planned(p),
                },
            );
        let shape_id = id.unwrap_or_else(|| temporary_id(current, index));
        let shape_parent = node.nest_parent.map(|p| {
            flat.get(p)
                .and_then(|parent| stored_id(parent, p))
                .unwrap_or_else(|| temporary_id(current, p))
        });
        shapes.push(Shape {
            id: shape_id,
            parent: shape_parent,
            filter_type: node.kind.filter_type(),
            name: node.name(),
        });
        filters.push(PlannedFilter {
            id,
            parent,
            kind: node.kind.clone(),
            input: node.path.clone(),
            list_changed: node.list_changed,
        });
    }
    check_shapes(&shapes)?;
    // Delete what the tree dropped, deepest first.
    let depth_of = |mut id: i64| {
        let mut depth = 0usize;
        while let Some(parent) = stored.get(&id).and_then(|f| f.parent_id) {
            depth += 1;
            id = parent;
            if depth > current.len() {
                break;
            }
        }
        depth
    };
    let mut delete: Vec<(usize, i64)> = current
        .iter()
        .filter(|f| !seen.contains(&f.id))
        .map(|f| (depth_of(f.id), f.id))
        .collect();
    delete.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ReplacePlan {
        filters,
        delete: delete.into_iter().map(|(_, id)| id).collect(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::list::ListValues;
    use crate::model::{BoolOp, ListField, ThresholdOp};

    fn input(value: Value) -> FilterInput {
        serde_json::from_value(value).unwrap()
    }

    fn inputs(value: Value) -> Vec<FilterInput> {
        serde_json::from_value(value).unwrap()
    }

    fn boolean(id: i64, parent: Option<i64>, op: BoolOp) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: parent,
            kind: FilterKind::Boolean(op),
        }
    }

    fn users(id: i64, parent: i64, values: &[&str]) -> FilterSpec {
        FilterSpec {
            id,
            parent_id: Some(parent),
            kind: FilterKind::List {
                field: ListField::User,
                white: false,
                values: ListValues::Strings(values.iter().map(|s| s.to_string()).collect()),
            },
        }
    }

    /// A customer's fresh tree: the root `and` only.
    fn fresh() -> Vec<FilterSpec> {
        vec![boolean(1, None, BoolOp::And)]
    }

    #[test]
    fn create_defaults_to_the_root() {
        let plan = plan_create(
            &fresh(),
            &[input(
                json!({"field_type": "size", "filter_type": "white", "list": ["300x250"]}),
            )],
        )
        .unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].parent, Some(ParentRef::Existing(1)));
        assert_eq!(plan[0].id, None);
        assert!(plan[0].list_changed);
        assert_eq!(plan[0].input, vec![0]);
    }

    #[test]
    fn create_resolves_labels_in_any_order() {
        // The seed guide's "Filter Hierarchy" second step: 2, 3 and 5 hang under 4 (defined
        // after them), 4 under the stored 1.
        let current = vec![boolean(1, None, BoolOp::Or)];
        let plan = plan_create(
            &current,
            &inputs(json!([
                {"id": 2, "field_type": "size", "operator": "equals",
                 "list": ["300x250","320x100","320x50"], "filter_type": "white", "parent_id": 4},
                {"id": 3, "field_type": "authed", "operator": "greaterthan", "threshold": 0.5,
                 "filter_type": "threshold", "parent_id": 4},
                {"id": 4, "field_type": "and", "filter_type": "boolean", "parent_id": 1},
                {"id": 5, "field_type": "country", "operator": "equals", "list": ["UK"],
                 "filter_type": "white", "parent_id": 4}
            ])),
        )
        .unwrap();
        assert_eq!(plan.len(), 4);
        assert_eq!(plan[0].input, vec![2]);
        assert_eq!(plan[0].parent, Some(ParentRef::Existing(1)));
        for planned in &plan[1..] {
            assert_eq!(planned.parent, Some(ParentRef::Planned(0)));
        }
        let inputs: Vec<_> = plan.iter().map(|p| p.input[0]).collect();
        assert_eq!(inputs, vec![2, 0, 1, 3]);
    }

    #[test]
    fn create_a_nested_tree() {
        let plan = plan_create(
            &fresh(),
            &[input(json!({"field_type": "or", "filters": [
                {"field_type": "and", "filters": [
                    {"filter_type": "white", "field_type": "country", "list": ["US", "CA"]},
                    {"filter_type": "white", "field_type": "user", "list": ["user1"]}
                ]},
                {"field_type": "stream", "filter_type": "black", "list": [3]}
            ]}))],
        )
        .unwrap();
        assert_eq!(plan.len(), 5);
        assert_eq!(plan[0].parent, Some(ParentRef::Existing(1)));
        assert_eq!(plan[1].parent, Some(ParentRef::Planned(0)));
        assert_eq!(plan[2].parent, Some(ParentRef::Planned(1)));
        assert_eq!(plan[3].parent, Some(ParentRef::Planned(1)));
        assert_eq!(plan[4].parent, Some(ParentRef::Planned(0)));
        assert_eq!(plan[4].input, vec![0, 1]);
    }

    #[test]
    fn create_rejects_bad_parents() {
        let current = vec![boolean(1, None, BoolOp::And), users(2, 1, &["a"])];
        let e = plan_create(
            &current,
            &[input(json!({"field_type": "or", "parent_filter_id": 99}))],
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Input(vec![0])));
        let e = plan_create(
            &current,
            &[input(json!({"field_type": "or", "parent_filter_id": 2}))],
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert!(e.message.contains("only boolean"), "{}", e.message);
        // A label of a leaf.
        let e = plan_create(
            &current,
            &inputs(json!([
                {"id": 10, "field_type": "user", "filter_type": "white", "list": []},
                {"field_type": "or", "parent_id": 10}
            ])),
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Input(vec![1])));
        // Children under a leaf.
        let e = plan_create(
            &current,
            &[input(
                json!({"field_type": "user", "filter_type": "white", "list": [],
                           "filters": [{"field_type": "or"}]}),
            )],
        )
        .unwrap_err();
        assert_eq!(e.field, "filters");
        // A nested filter naming another parent.
        let e = plan_create(
            &current,
            &[input(
                json!({"field_type": "or", "filters": [{"field_type": "or", "parent_id": 1}]}),
            )],
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert_eq!(e.filter, Some(FilterRef::Input(vec![0, 0])));
    }

    #[test]
    fn create_rejects_label_cycles_and_duplicates() {
        let e = plan_create(
            &fresh(),
            &inputs(json!([
                {"id": 10, "field_type": "or", "parent_id": 11},
                {"id": 11, "field_type": "or", "parent_id": 10}
            ])),
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert!(e.message.contains("cycle"), "{}", e.message);
        let e = plan_create(
            &fresh(),
            &inputs(json!([{"id": 10, "field_type": "or", "parent_id": 10}])),
        )
        .unwrap_err();
        assert!(e.message.contains("own parent"), "{}", e.message);
        let e = plan_create(
            &fresh(),
            &inputs(json!([{"id": 10, "field_type": "or"}, {"id": 10, "field_type": "and"}])),
        )
        .unwrap_err();
        assert_eq!(e.field, "id");
    }

    #[test]
    fn create_reports_invalid_filters_by_position() {
        let e = plan_create(
            &fresh(),
            &inputs(json!([{"field_type": "or"}, {"field_type": "user", "filter_type": "white"}])),
        )
        .unwrap_err();
        assert_eq!(e.field, "list");
        assert_eq!(e.filter, Some(FilterRef::Input(vec![1])));
    }

    #[test]
    fn create_rejects_a_tree_too_deep() {
        let mut tree = json!({"field_type": "and"});
        for _ in 0..crate::MAX_TREE_DEPTH {
            tree = json!({"field_type": "and", "filters": [tree]});
        }
        let e = plan_create(&fresh(), &[input(tree)]).unwrap_err();
        assert!(e.message.contains("deeper"), "{}", e.message);
    }

    #[test]
    fn update_merges_and_checks_the_tree() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            users(3, 2, &["a"]),
            users(4, 1, &["b"]),
        ];
        let update = plan_update(&current, 4, &input(json!({"list": ["c", "d"]}))).unwrap();
        assert!(update.list_changed);
        assert_eq!(update.spec.parent_id, Some(1));
        // Move 4 under 2.
        let update = plan_update(&current, 4, &input(json!({"parent_filter_id": 2}))).unwrap();
        assert_eq!(update.spec.parent_id, Some(2));
        assert!(!update.list_changed);
        // Root from and to or (the seed's "update the top level filter").
        let update = plan_update(&current, 1, &input(json!({"field_type": "or"}))).unwrap();
        assert_eq!(update.spec.kind, FilterKind::Boolean(BoolOp::Or));
    }

    #[test]
    fn update_rejections() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            users(3, 2, &["a"]),
            boolean(5, Some(2), BoolOp::And),
        ];
        // A boolean with children into a leaf.
        let e = plan_update(
            &current,
            2,
            &input(json!({"field_type": "user", "filter_type": "white", "list": []})),
        )
        .unwrap_err();
        assert_eq!(e.field, "filter_type");
        assert_eq!(e.filter, Some(FilterRef::Id(2)));
        // Without children it may.
        plan_update(
            &current,
            5,
            &input(json!({"field_type": "user", "filter_type": "white", "list": []})),
        )
        .unwrap();
        // Cycle: 2 under its own child 5.
        let e = plan_update(&current, 2, &input(json!({"parent_filter_id": 5}))).unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert!(e.message.contains("cycle"), "{}", e.message);
        // Own parent.
        let e = plan_update(&current, 2, &input(json!({"parent_filter_id": 2}))).unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        // Under a leaf, under a missing or foreign filter.
        let e = plan_update(&current, 5, &input(json!({"parent_filter_id": 3}))).unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        let e = plan_update(&current, 5, &input(json!({"parent_filter_id": 77}))).unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        assert!(e.message.contains("does not exist"), "{}", e.message);
        // The root gets no parent (that would make a second root elsewhere / no root).
        let e = plan_update(&current, 1, &input(json!({"parent_filter_id": 2}))).unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        // Unknown filter, mismatched id, bad attribute.
        assert_eq!(
            plan_update(&current, 9, &input(json!({})))
                .unwrap_err()
                .field,
            "id"
        );
        assert_eq!(
            plan_update(&current, 3, &input(json!({"id": 4})))
                .unwrap_err()
                .field,
            "id"
        );
        let e = plan_update(&current, 3, &input(json!({"operator": "lessthan"}))).unwrap_err();
        assert_eq!(e.field, "operator");
        assert_eq!(e.filter, Some(FilterRef::Id(3)));
    }

    #[test]
    fn delete_takes_the_subtree_children_first() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            boolean(3, Some(2), BoolOp::Or),
            users(4, 3, &["a"]),
            users(5, 1, &["b"]),
        ];
        assert_eq!(plan_delete(&current, 2).unwrap(), vec![4, 3, 2]);
        assert_eq!(plan_delete(&current, 5).unwrap(), vec![5]);
        let e = plan_delete(&current, 1).unwrap_err();
        assert_eq!(e.field, "id");
        assert!(e.message.contains("root"), "{}", e.message);
        assert_eq!(plan_delete(&current, 42).unwrap_err().field, "id");
    }

    #[test]
    fn replace_updates_creates_and_deletes() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            users(3, 2, &["a"]),
            FilterSpec {
                id: 4,
                parent_id: Some(1),
                kind: FilterKind::List {
                    field: ListField::User,
                    white: true,
                    values: ListValues::Stored { len: 5_000_000 },
                },
            },
        ];
        let plan = plan_replace(
            &current,
            &input(
                json!({"id": 1, "field_type": "or", "filter_type": "boolean", "filters": [
                    {"id": 4, "field_type": "user", "filter_type": "white",
                     "list": "List too long to return: 5000000"},
                    {"field_type": "and", "filters": [
                        {"id": 3, "field_type": "user", "filter_type": "black", "list": ["a", "z"]},
                        {"field_type": "authed", "filter_type": "threshold", "operator": "lessthan",
                         "threshold": 0.3}
                    ]}
                ]}),
            ),
        )
        .unwrap();
        assert_eq!(plan.delete, vec![2]);
        assert_eq!(plan.filters.len(), 5);
        assert_eq!(plan.filters[0].id, Some(1));
        assert_eq!(plan.filters[0].parent, None);
        assert_eq!(plan.filters[0].kind, FilterKind::Boolean(BoolOp::Or));
        assert_eq!(plan.filters[1].id, Some(4));
        assert_eq!(plan.filters[1].parent, Some(ParentRef::Existing(1)));
        assert!(!plan.filters[1].list_changed);
        assert_eq!(plan.filters[2].id, None);
        assert_eq!(plan.filters[3].id, Some(3));
        assert_eq!(plan.filters[3].parent, Some(ParentRef::Planned(2)));
        assert!(plan.filters[3].list_changed);
        assert_eq!(
            plan.filters[4].kind,
            FilterKind::Threshold {
                op: ThresholdOp::LessThan,
                threshold: 0.3
            }
        );
    }

    #[test]
    fn replace_with_a_bare_tree_deletes_everything_else() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            users(3, 2, &["a"]),
        ];
        let plan = plan_replace(&current, &input(json!({"field_type": "and"}))).unwrap();
        assert_eq!(plan.filters.len(), 1);
        assert_eq!(plan.filters[0].id, Some(1));
        assert_eq!(plan.delete, vec![3, 2]);
    }

    #[test]
    fn replace_rejections() {
        let current = vec![
            boolean(1, None, BoolOp::And),
            boolean(2, Some(1), BoolOp::Or),
            users(3, 2, &["a"]),
        ];
        let e = plan_replace(&current, &input(json!({"id": 2, "field_type": "and"}))).unwrap_err();
        assert_eq!(e.field, "id");
        let e = plan_replace(
            &current,
            &input(json!({"field_type": "and", "parent_id": 5})),
        )
        .unwrap_err();
        assert_eq!(e.field, "parent_filter_id");
        let e = plan_replace(
            &current,
            &input(json!({"field_type": "and", "filters": [{"id": 1, "field_type": "or"}]})),
        )
        .unwrap_err();
        assert_eq!(e.field, "id");
        let e = plan_replace(
            &current,
            &input(json!({"field_type": "and", "filters": [
                {"id": 2, "field_type": "or"}, {"id": 2, "field_type": "or"}]})),
        )
        .unwrap_err();
        assert_eq!(e.field, "id");
        let e = plan_replace(
            &current,
            &input(json!({"field_type": "and", "filters": [
                {"id": 3, "filters": [{"field_type": "or"}]}]})),
        )
        .unwrap_err();
        assert_eq!(e.field, "filters");
        let e = plan_replace(
            &current,
            &input(json!({"field_type": "and", "filters": [{"field_type": "user"}]})),
        )
        .unwrap_err();
        assert_eq!(e.field, "filter_type");
        assert_eq!(e.filter, Some(FilterRef::Input(vec![0])));
    }

    #[test]
    fn replace_treats_unknown_ids_as_new_filters() {
        let plan = plan_replace(
            &fresh(),
            &input(json!({"field_type": "and", "filters": [{"id": 500, "field_type": "or"}]})),
        )
        .unwrap();
        assert_eq!(plan.filters[1].id, None);
        assert_eq!(plan.filters[1].parent, Some(ParentRef::Existing(1)));
    }
}
